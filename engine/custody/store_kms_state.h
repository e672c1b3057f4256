// StoreKmsState: the KMS state (certificate and sealed master secrets) kept in the KeyStore.
//
// `mcx-kms init` writes the state as files in the data directory (all or nothing, see
// FileStaging); the first time a KMS is opened with its store, AdoptKmsStateFiles() moves them
// into the store in one transaction and only then removes the sealed files. From then on the
// store is the one place they live, so a KMS's state is backed up, and later replicated, with its
// key sets. The caller proves the files good first (KmsCustody opens them: PIN, KEK, unsealing),
// so a failed open leaves the data directory as it was.
#pragma once

#include "engine/custody/kms_config.h"
#include "engine/custody/kms_state_files.h"
#include "engine/store/key_store.h"

namespace mcx {

inline constexpr char kCertificateBlob[] = "kms-certificate";
inline constexpr char kSealedZBlob[] = "sakke-master-secret.sealed";
inline constexpr char kSealedKsakBlob[] = "eccsi-ksak.sealed";

class StoreKmsState final : public KmsStateStore {
 public:
  explicit StoreKmsState(KeyStore& store) : store_(store) {}
  Result<KmsCertificateRecord> ReadCertificate() const override;
  Result<SealedMasterSecrets> ReadSealedSecrets() const override;

 private:
  KeyStore& store_;
};

// Whether the data directory holds both sealed master secrets: a KMS made by `init` and not yet
// opened with its store (or one whose files' removal was cut short).
bool HasKmsStateFiles(const KmsConfig& config, Env& env = Env::Default());

// Moves the state files of `config.data_dir` into `store` (one transaction) unless the store
// holds the state already, then removes the sealed files. Idempotent; a store that holds another
// KMS's state is refused (AlreadyExists) and nothing is removed.
Status AdoptKmsStateFiles(const KmsConfig& config, KeyStore& store, Env& env = Env::Default());

}  // namespace mcx
