// KmsStateStore: where a KMS keeps what it needs besides its HSM: the public KMS certificate and
// the master secrets sealed by the token's key-encryption key. KmsStateFiles keeps them as files
// in the data directory; a later store (SQLite) implements the same interface.
//
// Files (none holds a secret in the clear):
//   kms-certificate.toml          KMS URI, KMS id, community parameters, Z (PubEncKey), KPAK (PubAuthKey)
//   sakke-master-secret.sealed    z, sealed for purpose "sakke-master-secret"
//   eccsi-ksak.sealed             KSAK, sealed for purpose "eccsi-ksak"
#pragma once

#include <filesystem>
#include <string>

#include "base/bytes.h"
#include "base/env.h"
#include "base/status.h"
#include "engine/custody/file_staging.h"
#include "engine/keys/community_parameters.h"
#include "engine/keys/master_secrets.h"

namespace mcx {

inline constexpr char kCertificateFile[] = "kms-certificate.toml";
inline constexpr char kSealedZFile[] = "sakke-master-secret.sealed";
inline constexpr char kSealedKsakFile[] = "eccsi-ksak.sealed";
inline constexpr char kSakkeMasterSecretPurpose[] = "sakke-master-secret";
inline constexpr char kEccsiKsakPurpose[] = "eccsi-ksak";

struct KmsCertificateRecord {
  CommunityParameters params;
  std::string kms_id;
  KmsPublicKeys pub;
};

struct SealedMasterSecrets {
  Bytes z;     // sealed blob of the SAKKE master secret
  Bytes ksak;  // sealed blob of the ECCSI KSAK
};

class KmsStateStore {
 public:
  virtual ~KmsStateStore() = default;
  virtual Result<KmsCertificateRecord> ReadCertificate() const = 0;
  virtual Result<SealedMasterSecrets> ReadSealedSecrets() const = 0;
};

// Parses the certificate file's text; `origin` names it in errors.
Result<KmsCertificateRecord> ParseCertificate(const std::string& text, const std::string& origin);

class KmsStateFiles final : public KmsStateStore {
 public:
  explicit KmsStateFiles(std::filesystem::path data_dir, Env& env = Env::Default())
      : dir_(std::move(data_dir)), env_(env) {}

  Result<KmsCertificateRecord> ReadCertificate() const override;
  Result<SealedMasterSecrets> ReadSealedSecrets() const override;

  // Adds the three files to `staging`, for a caller that commits them with its configuration.
  static Status Stage(FileStaging& staging, const KmsCertificateRecord& cert, const SealedMasterSecrets& sealed);

 private:
  std::filesystem::path dir_;
  Env& env_;
};

}  // namespace mcx
