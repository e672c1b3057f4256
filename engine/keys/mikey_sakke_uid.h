// The MIKEY-SAKKE UID of TS 33.180 Annex F.2.1 (UserIdFormat 2).
//
// UID = SHA-256(0x00 || P0 || L0 || ... || P5 || L5), Li the 2-octet big-endian length of Pi:
// P0 "MIKEY-SAKKE-UID", P1 the user URI, P2 the KMS URI, P3 UserKeyPeriod, P4 UserKeyOffset,
// P5 KeyPeriodNo; integers big-endian in the fewest octets, zero as one 0x00 octet.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "base/bytes.h"
#include "base/status.h"
#include "engine/keys/community_parameters.h"

namespace mcx {

using Uid = std::array<uint8_t, 32>;

// The exact octets that are hashed; exposed for tests and for diagnosing interoperability.
Result<Bytes> MikeySakkeUidInput(const std::string& user_uri, const CommunityParameters& params,
                                 uint64_t key_period_no);

// Validates the user URI (see ValidateUserUri) and returns the UID.
Result<Uid> MikeySakkeUid(const std::string& user_uri, const CommunityParameters& params,
                          uint64_t key_period_no);

}  // namespace mcx
