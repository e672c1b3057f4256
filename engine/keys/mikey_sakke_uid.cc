#include "engine/keys/mikey_sakke_uid.h"

#include "base/sha256.h"

namespace mcx {
namespace {

void AppendField(Bytes& out, ByteView value) {
  out.insert(out.end(), value.begin(), value.end());
  out.push_back(static_cast<uint8_t>(value.size() >> 8));
  out.push_back(static_cast<uint8_t>(value.size()));
}

Bytes MinimalBigEndian(uint64_t v) {
  Bytes b;
  do {
    b.insert(b.begin(), static_cast<uint8_t>(v));
    v >>= 8;
  } while (v != 0);
  return b;
}

}  // namespace

Result<Bytes> MikeySakkeUidInput(const std::string& user_uri, const CommunityParameters& params,
                                 uint64_t key_period_no) {
  MCX_RETURN_IF_ERROR(ValidateUserUri(user_uri));
  if (params.kms_uri.empty() || params.kms_uri.size() > 65535) {
    return Status::InvalidArgument("the KMS URI must be 1 to 65535 octets");
  }
  Bytes in;
  in.reserve(64 + user_uri.size() + params.kms_uri.size());
  in.push_back(0x00);
  AppendField(in, AsBytes("MIKEY-SAKKE-UID"));
  AppendField(in, AsBytes(user_uri));
  AppendField(in, AsBytes(params.kms_uri));
  AppendField(in, MinimalBigEndian(params.user_key_period));
  AppendField(in, MinimalBigEndian(params.user_key_offset));
  AppendField(in, MinimalBigEndian(key_period_no));
  return in;
}

Result<Uid> MikeySakkeUid(const std::string& user_uri, const CommunityParameters& params,
                          uint64_t key_period_no) {
  Result<Bytes> in = MikeySakkeUidInput(user_uri, params, key_period_no);
  if (!in.ok()) return in.status();
  return Sha256({*in});
}

}  // namespace mcx
