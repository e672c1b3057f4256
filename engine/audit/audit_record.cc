#include "engine/audit/audit_record.h"

namespace mcx {
namespace {

void PutU64(Bytes& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

void PutField(Bytes& out, std::string_view s) {
  PutU64(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

}  // namespace

AuditHash ComputeAuditHash(const AuditRecord& r) {
  Bytes enc;
  enc.reserve(160 + r.node.size() + r.kind.size() + r.actor.size() + r.user_uri.size() + r.cert_uri.size() +
              r.detail.size());
  PutField(enc, "mcx-kms audit record v1");
  PutField(enc, r.node);
  PutU64(enc, r.seq);
  PutU64(enc, static_cast<uint64_t>(r.time));
  PutField(enc, r.kind);
  PutField(enc, r.actor);
  PutField(enc, r.user_uri);
  PutField(enc, r.cert_uri);
  PutField(enc, r.detail);
  enc.insert(enc.end(), r.prev_hash.begin(), r.prev_hash.end());
  return Sha256({enc});
}

}  // namespace mcx
