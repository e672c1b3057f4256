// CommunityParameters: what every user of one KMS shares (TS 33.180 KmsCertificate fields).
//
// The KMS URI takes part in every UID, so it must never change once keys are issued.
// SAKKE parameter set 1 (RFC 6509), ECCSI on P-256 and UserIdFormat 2 are fixed by this KMS.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace mcx {

inline constexpr int64_t kDefaultUserKeyPeriod = 2592000;  // 30 days, in seconds
inline constexpr int kSakkeParameterSet = 1;                // RFC 6509 IANA value
inline constexpr int kUserIdFormat = 2;                      // TS 33.180 F.2.1 UID

struct CommunityParameters {
  std::string kms_uri;
  uint64_t user_key_period = kDefaultUserKeyPeriod;  // seconds, > 0
  uint64_t user_key_offset = 0;                      // seconds

  // Validates operator input: a KMS URI without blanks or control characters and at most 65535
  // octets (it is length-prefixed in the UID), a period of at least one second, an offset of
  // zero or more seconds.
  static Result<CommunityParameters> Make(std::string kms_uri, int64_t user_key_period,
                                          int64_t user_key_offset);
};

// Checks that `uri` is usable as an identity in a UID: non-empty, a URI scheme (RFC 3986:
// ALPHA *(ALPHA / DIGIT / "+" / "-" / ".")) followed by ':' and a non-empty remainder, no blanks
// or control characters, at most 65535 octets. `what` names the field in the error.
Status ValidateUserUri(const std::string& uri, const char* what = "user URI");

}  // namespace mcx
