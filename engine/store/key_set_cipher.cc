#include "engine/store/key_set_cipher.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "base/openssl_handles.h"

namespace mcx {
namespace {

// AES-256-GCM fetched from the default provider once. EVP_aes_256_gcm() is a legacy handle that
// makes every EVP_*Init_ex fetch the implementation again (a property query under a lock), about a
// quarter of an Open (bench/store_bench BM_Open). The context is still made and keyed per record,
// so the expanded data key lives only for the call: a pool of contexts keyed once measured
// faster still, but would keep the key schedule in unlocked heap memory for the process's life.
const EVP_CIPHER* Aes256Gcm() {
  static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  return cipher;
}

void AppendLengthPrefixed(Bytes& out, ByteView v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v.size() >> shift));
  out.insert(out.end(), v.begin(), v.end());
}

}  // namespace

KeySetCipher::KeySetCipher(SecretBytes data_key, std::string cert_uri)
    : key_(std::move(data_key)), cert_uri_(std::move(cert_uri)) {}

Bytes KeySetCipher::AssociatedData(const std::string& user_uri, const KeyPeriod& period, const Uid& uid,
                                   const P256Point& pvt) const {
  Bytes ad;
  ad.reserve(64 + user_uri.size() + cert_uri_.size());
  AppendLengthPrefixed(ad, AsBytes("mcx-kms key set record v1"));
  AppendLengthPrefixed(ad, AsBytes(cert_uri_));
  AppendLengthPrefixed(ad, AsBytes(user_uri));
  for (uint64_t v : {period.number, period.valid_from, period.valid_to}) {
    for (int shift = 56; shift >= 0; shift -= 8) ad.push_back(static_cast<uint8_t>(v >> shift));
  }
  AppendLengthPrefixed(ad, uid);
  AppendLengthPrefixed(ad, pvt);
  return ad;
}

Result<SealedKeySet> KeySetCipher::Seal(const KeySet& ks) const {
  if (key_.size() != kDataKeyBytes) return Status::Internal("the store's data key is not 32 octets");
  if (ks.rsk.size() != sakke::kPointBytes || ks.ssk.size() != kP256ScalarBytes) {
    return Status::InvalidArgument("key set of " + ks.user_uri + " has an RSK or SSK of the wrong length");
  }
  SealedKeySet out;
  out.user_uri = ks.user_uri;
  out.period = ks.period;
  out.uid = ks.uid;
  out.pvt = ks.pvt;
  if (RAND_bytes(out.nonce.data(), static_cast<int>(out.nonce.size())) != 1) {
    return Status::Unavailable("no random nonce for a store record: the OpenSSL generator failed");
  }
  const Bytes ad = AssociatedData(ks.user_uri, ks.period, ks.uid, ks.pvt);
  ossl::CipherCtx ctx(EVP_CIPHER_CTX_new());
  const EVP_CIPHER* aes = Aes256Gcm();
  int len = 0, total = 0;
  bool ok = ctx && aes && EVP_EncryptInit_ex(ctx.get(), aes, nullptr, key_.data(), out.nonce.data()) == 1 &&
            EVP_EncryptUpdate(ctx.get(), nullptr, &len, ad.data(), static_cast<int>(ad.size())) == 1 &&
            EVP_EncryptUpdate(ctx.get(), out.sealed.data(), &len, ks.rsk.data(), static_cast<int>(ks.rsk.size())) == 1;
  total = len;
  ok = ok && EVP_EncryptUpdate(ctx.get(), out.sealed.data() + total, &len, ks.ssk.data(),
                               static_cast<int>(ks.ssk.size())) == 1;
  total += len;
  ok = ok && EVP_EncryptFinal_ex(ctx.get(), out.sealed.data() + total, &len) == 1;
  total += len;
  ok = ok && total == static_cast<int>(sakke::kPointBytes + kP256ScalarBytes) &&
       EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kRecordTagBytes, out.sealed.data() + total) == 1;
  if (!ok) return Status::Internal("AES-256-GCM encryption of a store record failed in OpenSSL");
  return out;
}

Result<KeySet> KeySetCipher::Open(const SealedKeySet& in) const {
  if (key_.size() != kDataKeyBytes) return Status::Internal("the store's data key is not 32 octets");
  const Bytes ad = AssociatedData(in.user_uri, in.period, in.uid, in.pvt);
  constexpr size_t kPlainBytes = sakke::kPointBytes + kP256ScalarBytes;
  SecretBytes plain(kPlainBytes);
  std::array<uint8_t, kRecordTagBytes> tag;
  std::copy(in.sealed.begin() + kPlainBytes, in.sealed.end(), tag.begin());
  ossl::CipherCtx ctx(EVP_CIPHER_CTX_new());
  const EVP_CIPHER* aes = Aes256Gcm();
  int len = 0;
  bool ok = ctx && aes && EVP_DecryptInit_ex(ctx.get(), aes, nullptr, key_.data(), in.nonce.data()) == 1 &&
            EVP_DecryptUpdate(ctx.get(), nullptr, &len, ad.data(), static_cast<int>(ad.size())) == 1 &&
            EVP_DecryptUpdate(ctx.get(), plain.data(), &len, in.sealed.data(), static_cast<int>(kPlainBytes)) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kRecordTagBytes, tag.data()) == 1;
  if (!ok) return Status::Internal("AES-256-GCM decryption of a store record failed in OpenSSL");
  if (EVP_DecryptFinal_ex(ctx.get(), plain.data() + len, &len) != 1) {
    return Status::DataLoss("the stored key set of " + in.user_uri + " for period " + std::to_string(in.period.number) +
                            " failed its integrity check: the row was altered, or moved from another user or "
                            "period; it will not be served. Re-issue it (delete the row and provision again)");
  }
  KeySet ks;
  ks.user_uri = in.user_uri;
  ks.period = in.period;
  ks.uid = in.uid;
  ks.pvt = in.pvt;
  ks.rsk = SecretBytes(ByteView(plain.data(), sakke::kPointBytes));
  ks.ssk = SecretBytes(ByteView(plain.data() + sakke::kPointBytes, kP256ScalarBytes));
  return ks;
}

}  // namespace mcx
