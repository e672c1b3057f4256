// KmsCustody: a running KMS's hold on its master secrets, kept by a PKCS#11 HSM.
//
// Open(config) makes the process non-dumpable, loads the module, finds the token by label, logs
// in, finds the key-encryption key, unseals the master secrets into guarded memory (mlock'd,
// out of core dumps, wiped on release) and checks that they reproduce the public keys of the
// KMS certificate. Nothing secret is written anywhere or logged.
//
//   params()       the community parameters (KMS URI, UserKeyPeriod, UserKeyOffset)
//   secrets()      z and KSAK, in guarded memory, for the host-side deriver (key_set_source.h)
//   public_keys()  Z and KPAK, as in the KMS certificate
//   random()       the token's generator through per-thread pools (HsmRandom); thread-safe
//   Seal/Unseal    AES-256-GCM in the token; the blob is bound to `purpose`, this KMS (id and
//                  URI) and the blob format version; the master-secret purposes are reserved
//   Ping()         one cheap round trip to the token (C_GetSessionInfo), for readiness checks
//   GenerateMasterSecrets / UnsealMasterSecrets
//                  the master secrets of a rolled-over certificate: born from the token's
//                  generator and sealed at once; opened again into guarded memory, checked
//                  against the certificate's public keys
//
// All methods are safe to call from many threads at once. The KmsCustody must outlive every
// user of secrets() and random().
#pragma once

#include <memory>
#include <optional>
#include <string_view>

#include "base/bytes.h"
#include "base/random_source.h"
#include "base/secret.h"
#include "engine/custody/kms_config.h"
#include "engine/custody/kms_state_files.h"
#include "engine/keys/master_secrets.h"
#include "hsm/hsm_random.h"
#include "hsm/key_encryption_key.h"
#include "hsm/pkcs11_token.h"

namespace mcx {

class KmsCustody {
 public:
  // The certificate and sealed secrets come from the data directory's files; a PIN file is read
  // through `env`.
  static Result<std::unique_ptr<KmsCustody>> Open(const KmsConfig& config, Env& env = Env::Default());
  // ... or from another store.
  static Result<std::unique_ptr<KmsCustody>> Open(const KmsConfig& config, const KmsStateStore& store,
                                                  Env& env = Env::Default());
  ~KmsCustody();

  const KmsConfig& config() const { return config_; }
  const CommunityParameters& params() const { return config_.params; }
  const MasterSecrets& secrets() const { return secrets_; }
  const KmsPublicKeys& public_keys() const { return pub_; }
  RandomSource& random() { return *random_; }

  // Fresh master secrets, sealed, with their public keys; the plaintext is wiped before return.
  struct SealedKeyPairs {
    SealedMasterSecrets sealed;
    KmsPublicKeys pub;
  };
  Result<SealedKeyPairs> GenerateMasterSecrets();
  // DataLoss when the blobs do not open, or open to secrets other than those of `expected`.
  Result<MasterSecrets> UnsealMasterSecrets(const SealedMasterSecrets& sealed, const KmsPublicKeys& expected);

  Result<Bytes> Seal(ByteView plaintext, std::string_view purpose);
  Result<SecretBytes> Unseal(ByteView blob, std::string_view purpose);
  Status Ping();
  // The token, for other keys of this KMS on it (the audit log's HMAC key).
  hsm::Pkcs11Token& token() { return *token_; }

 private:
  KmsCustody() = default;
  KmsConfig config_;
  std::shared_ptr<hsm::Pkcs11Module> module_;
  std::unique_ptr<hsm::Pkcs11Token> token_;
  std::optional<hsm::KeyEncryptionKey> kek_;
  std::unique_ptr<hsm::HsmRandom> random_;
  MasterSecrets secrets_;
  KmsPublicKeys pub_;
};

}  // namespace mcx
