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

bool HasKmsStateFiles(const KmsConfig& config, Env& env) {
  return env.FileExists(config.data_dir / kSealedZFile) && env.FileExists(config.data_dir / kSealedKsakFile);
}

Status AdoptKmsStateFiles(const KmsConfig& config, KeyStore& store, Env& env) {
  namespace fs = std::filesystem;
  const fs::path dir = config.data_dir;
  const std::string context = "moving the KMS state of '" + dir.string() + "' into the store";
  Result<std::optional<Bytes>> have = store.GetBlob(kCertificateBlob);
  if (!have.ok()) return have.status().Annotate(context);
  if (HasKmsStateFiles(config, env)) {
    Result<Bytes> cert = env.ReadFile(dir / kCertificateFile);
    if (!cert.ok()) return cert.status().Annotate(context);
    Result<SealedMasterSecrets> sealed = KmsStateFiles(dir, env).ReadSealedSecrets();
    if (!sealed.ok()) return sealed.status().Annotate(context);
    if (!have->has_value()) {
      // One transaction: a store holds the whole state or none of it.
      const std::pair<std::string_view, ByteView> blobs[] = {
          {kSealedZBlob, sealed->z}, {kSealedKsakBlob, sealed->ksak}, {kCertificateBlob, *cert}};
      MCX_RETURN_IF_ERROR(store.PutBlobs(blobs).Annotate(context));
    } else {
      // Moved before, and the files' removal was interrupted: they must be what the store holds.
      // Anything else is another KMS (an `init --force` beside an old store), and removing its
      // only copy of the sealed secrets would lose it.
      Result<std::optional<Bytes>> z = store.GetBlob(kSealedZBlob);
      if (!z.ok()) return z.status().Annotate(context);
      Result<std::optional<Bytes>> ksak = store.GetBlob(kSealedKsakBlob);
      if (!ksak.ok()) return ksak.status().Annotate(context);
      if (**have != *cert || *z != std::optional<Bytes>(sealed->z) || *ksak != std::optional<Bytes>(sealed->ksak)) {
        return Status::AlreadyExists("the store " + config.store_location().Describe() +
                                     " already holds the state of another KMS than the one in '" + dir.string() +
                                     "'; move that store away (or set [store] path in " + kKmsConfigFileName +
                                     " to a new file) and run again");
      }
    }
  } else if (!have->has_value()) {
    return Status::Ok();  // nothing to move; reading the state from the store reports what is missing
  }
  // The certificate file stays as a public, human-readable copy; the sealed blobs now live only
  // in the store. A removal cut short is finished by the next open (the store has the state).
  MCX_RETURN_IF_ERROR(env.RemoveFile(dir / kSealedZFile).Annotate(context));
  MCX_RETURN_IF_ERROR(env.RemoveFile(dir / kSealedKsakFile).Annotate(context));
  return Status::Ok();
}

}  // namespace mcx
