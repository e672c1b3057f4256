// AuditRecord: an AuditEvent sealed into a node's chain.
//
// A record adds to its event the node that wrote it, its sequence number in that node's chain
// (from 1, no gaps), the time (Unix seconds), the hash of the node's previous record (zeros for
// the first), its own hash and its MAC:
//
//   hash = SHA-256( LP("mcx-kms audit record v1") || LP(node) || U64(seq) || I64(time) || LP(kind) ||
//                   LP(actor) || LP(user_uri) || LP(cert_uri) || LP(detail) || prev_hash )
//   mac  = HMAC-SHA-256(audit key, hash), computed in the HSM
//
// where LP(s) is s's length as 8 octets big-endian followed by s, and U64/I64 are 8 octets
// big-endian. Every field is length-prefixed, so no two different records encode alike. The MAC
// key never leaves the HSM, so whoever can rewrite the database can recompute hashes but not MACs.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "base/bytes.h"
#include "base/sha256.h"
#include "base/status.h"

namespace mcx {

using AuditHash = Sha256Digest;
using AuditMac = std::array<uint8_t, 32>;

struct AuditRecord {
  std::string node;
  uint64_t seq = 0;
  int64_t time = 0;  // Unix seconds
  std::string kind;  // AuditEventKindName(); kept as text so that any stored record can be checked
  std::string actor;
  std::string user_uri;
  std::string cert_uri;
  std::string detail;
  AuditHash prev_hash{};
  AuditHash hash{};
  AuditMac mac{};
};

// The hash of `r` from its fields and prev_hash (r.hash and r.mac are not read).
AuditHash ComputeAuditHash(const AuditRecord& r);

// Whatever computes the MAC of a record's hash: the HSM's HMAC key in a KMS (AuditCustody), a
// software key in tests. Implementations are safe to call from many threads at once.
class RecordAuthenticator {
 public:
  virtual ~RecordAuthenticator() = default;
  virtual Result<AuditMac> Authenticate(ByteView record_hash) = 0;
};

}  // namespace mcx
