#include "engine/custody/store_kms_state.h"

namespace mcx {
namespace {

Result<Bytes> RequiredBlob(KeyStore& store, const char* name) {
  Result<std::optional<Bytes>> blob = store.GetBlob(name);
  if (!blob.ok()) return blob.status();
  if (!blob->has_value()) {
    return Status::NotFound(std::string("the store holds no '") + name +
                            "': this KMS's state is incomplete; restore the store from backup");
  }
  return std::move(**blob);
}

}  // namespace

Result<KmsCertificateRecord> StoreKmsState::ReadCertificate() const {
  Result<Bytes> text = RequiredBlob(store_, kCertificateBlob);
  if (!text.ok()) return text.status();
  return ParseCertificate(std::string(text->begin(), text->end()), std::string("store:") + kCertificateBlob);
}

Result<SealedMasterSecrets> StoreKmsState::ReadSealedSecrets() const {
  SealedMasterSecrets s;
  Result<Bytes> z = RequiredBlob(store_, kSealedZBlob);
  if (!z.ok()) return z.status();
  Result<Bytes> ksak = RequiredBlob(store_, kSealedKsakBlob);
  if (!ksak.ok()) return ksak.status();
  s.z = std::move(z).value();
  s.ksak = std::move(ksak).value();
  return s;
}

Status AdoptKmsStateFiles(const KmsConfig& config, KeyStore& store, Env& env) {
  namespace fs = std::filesystem;
  Result<std::optional<Bytes>> have = store.GetBlob(kCertificateBlob);
  if (!have.ok()) return have.status();
  const fs::path dir = config.data_dir;
  if (!have->has_value()) {
    Result<Bytes> cert = env.ReadFile(dir / kCertificateFile);
    if (!cert.ok()) return cert.status().Annotate("moving the KMS state into the store");
    Result<SealedMasterSecrets> sealed = KmsStateFiles(dir, env).ReadSealedSecrets();
    if (!sealed.ok()) return sealed.status().Annotate("moving the KMS state into the store");
    MCX_RETURN_IF_ERROR(store.PutBlob(kSealedZBlob, sealed->z));
    MCX_RETURN_IF_ERROR(store.PutBlob(kSealedKsakBlob, sealed->ksak));
    MCX_RETURN_IF_ERROR(store.PutBlob(kCertificateBlob, *cert));  // last: marks a complete move
  }
  // The certificate file stays as a public, human-readable copy; the sealed blobs now live only
  // in the store.
  (void)env.RemoveFile(dir / kSealedZFile);
  (void)env.RemoveFile(dir / kSealedKsakFile);
  return Status::Ok();
}

}  // namespace mcx
