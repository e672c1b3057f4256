#include "hsm/sealed_blob.h"

#include <array>

#include "base/guarded_memory.h"

namespace mcx::hsm {
namespace {

constexpr std::array<uint8_t, 4> kMagic = {'M', 'C', 'X', 'S'};
constexpr size_t kHeaderBytes = kMagic.size() + 1;

void AppendLengthPrefixed(Bytes& out, std::string_view s) {
  out.push_back(static_cast<uint8_t>(s.size() >> 8));
  out.push_back(static_cast<uint8_t>(s.size()));
  out.insert(out.end(), s.begin(), s.end());
}

Result<Bytes> AssociatedData(uint8_t version, std::string_view purpose, std::string_view owner) {
  if (purpose.empty() || purpose.size() > 0xffff || owner.size() > 0xffff) {
    return Status::InvalidArgument("a sealed blob needs a purpose of 1 to 65535 octets and an owner of at most 65535");
  }
  static constexpr std::string_view kDomain = "mcx-kms sealed blob";
  Bytes aad(kDomain.begin(), kDomain.end());
  aad.insert(aad.end(), kMagic.begin(), kMagic.end());
  aad.push_back(version);
  AppendLengthPrefixed(aad, purpose);
  AppendLengthPrefixed(aad, owner);
  return aad;
}

}  // namespace

Result<Bytes> SealBlob(const KeyEncryptionKey& kek, ByteView plaintext, std::string_view purpose,
                       std::string_view owner) {
  Result<Bytes> aad = AssociatedData(kSealedBlobVersion, purpose, owner);
  if (!aad.ok()) return aad.status();
  std::array<uint8_t, kGcmIvBytes> iv{};
  {
    Result<Pkcs11Token::Lease> session = kek.token().Acquire();
    if (!session.ok()) return session.status();
    MCX_RETURN_IF_ERROR((*session)->GenerateRandom(iv));
  }
  Result<Bytes> sealed = kek.Encrypt(iv, *aad, plaintext);
  if (!sealed.ok()) return sealed.status().Annotate("sealing the " + std::string(purpose));
  Bytes blob(kMagic.begin(), kMagic.end());
  blob.push_back(kSealedBlobVersion);
  blob.insert(blob.end(), iv.begin(), iv.end());
  blob.insert(blob.end(), sealed->begin(), sealed->end());
  return blob;
}

Result<SecretBytes> UnsealBlob(const KeyEncryptionKey& kek, ByteView blob, std::string_view purpose,
                               std::string_view owner) {
  const std::string what = "the sealed " + std::string(purpose);
  if (blob.size() < kHeaderBytes + kGcmIvBytes + kGcmTagBytes ||
      !std::equal(kMagic.begin(), kMagic.end(), blob.begin())) {
    return Status::DataLoss(what + " is not a sealed blob (bad magic or truncated); restore it from backup");
  }
  const uint8_t version = blob[kMagic.size()];
  if (version != kSealedBlobVersion) {
    return Status::DataLoss(what + " has format version " + std::to_string(version) +
                            ", this mcx-kms reads version " + std::to_string(kSealedBlobVersion) +
                            "; use a matching mcx-kms release");
  }
  Result<Bytes> aad = AssociatedData(version, purpose, owner);
  if (!aad.ok()) return aad.status();
  ByteView iv = blob.subspan(kHeaderBytes, kGcmIvBytes);
  ByteView body = blob.subspan(kHeaderBytes + kGcmIvBytes);
  GuardedSecretScope guarded;
  Result<SecretBytes> plain = kek.Decrypt(iv, *aad, body);
  if (!plain.ok()) {
    if (plain.status().code() == Status::Code::kDataLoss) {
      return Status::DataLoss(what + " failed its integrity check: it was altered, or belongs to another KMS "
                              "or purpose; restore the data directory from backup (" +
                              plain.status().message() + ")");
    }
    return plain.status().Annotate("unsealing " + what);
  }
  return plain;
}

}  // namespace mcx::hsm
