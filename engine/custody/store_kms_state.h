// StoreKmsState: the KMS state (certificate and sealed master secrets) kept in the KeyStore.
//
// `mcx-kms init` writes the state as files in the data directory (all or nothing, see
// FileStaging); the first time a KMS is opened with its store, AdoptKmsStateFiles() moves them
// into the store — the sealed blobs first, the certificate last as the mark of a complete move —
// and only then removes the sealed files. From then on the store is the one place they live, so a
// KMS's state is backed up, and later replicated, with its key sets.
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

// Moves the state files of `config.data_dir` into `store` unless the store holds the state
// already. Idempotent; a move interrupted half way is completed by the next call.
Status AdoptKmsStateFiles(const KmsConfig& config, KeyStore& store, Env& env = Env::Default());

}  // namespace mcx
