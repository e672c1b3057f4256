#include "engine/custody/kms_custody.h"

#include "base/guarded_memory.h"
#include "engine/custody/kms_token.h"
#include "hsm/sealed_blob.h"

namespace mcx {
namespace {

bool IsReservedPurpose(std::string_view purpose) {
  return purpose == kSakkeMasterSecretPurpose || purpose == kEccsiKsakPurpose;
}

Status CheckCertificateMatches(const KmsConfig& config, const KmsCertificateRecord& cert) {
  if (cert.kms_id != config.kms_id || cert.params.kms_uri != config.params.kms_uri ||
      cert.params.user_key_period != config.params.user_key_period ||
      cert.params.user_key_offset != config.params.user_key_offset) {
    return Status::DataLoss("the KMS certificate in '" + config.data_dir.string() +
                            "' is for another KMS or other community parameters than mcx-kms.toml "
                            "(KMS id, URI, UserKeyPeriod and UserKeyOffset must agree); restore the data "
                            "directory from backup");
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<KmsCustody>> KmsCustody::Open(const KmsConfig& config, Env& env) {
  return Open(config, KmsStateFiles(config.data_dir, env), env);
}

Result<std::unique_ptr<KmsCustody>> KmsCustody::Open(const KmsConfig& config, const KmsStateStore& store, Env& env) {
  const std::string context = "opening the KMS in '" + config.data_dir.string() + "'";
  MCX_RETURN_IF_ERROR(MakeProcessNonDumpable().Annotate(context));

  // Public, local state first: a broken data directory is reported without touching the HSM.
  Result<KmsCertificateRecord> cert = store.ReadCertificate();
  if (!cert.ok()) return cert.status().Annotate(context);
  MCX_RETURN_IF_ERROR(CheckCertificateMatches(config, *cert));
  Result<SealedMasterSecrets> sealed = store.ReadSealedSecrets();
  if (!sealed.ok()) return sealed.status().Annotate(context);

  std::unique_ptr<KmsCustody> c(new KmsCustody());
  c->config_ = config;
  Result<KmsToken> token = OpenKmsToken(config, nullptr, env);
  if (!token.ok()) return token.status().Annotate(context);
  c->module_ = std::move(token->module);
  c->token_ = std::move(token->token);
  Result<hsm::KeyEncryptionKey> kek = hsm::KeyEncryptionKey::Find(*c->token_, config.kek_label());
  if (!kek.ok()) return kek.status().Annotate(context);
  c->kek_.emplace(*kek);
  c->random_ = std::make_unique<hsm::HsmRandom>(*c->token_);

  {
    GuardedSecretScope guarded;
    Result<SecretBytes> z = hsm::UnsealBlob(*c->kek_, sealed->z, kSakkeMasterSecretPurpose, config.seal_owner());
    if (!z.ok()) return z.status().Annotate(context);
    Result<SecretBytes> ksak = hsm::UnsealBlob(*c->kek_, sealed->ksak, kEccsiKsakPurpose, config.seal_owner());
    if (!ksak.ok()) return ksak.status().Annotate(context);
    c->secrets_.z = std::move(z).value();
    c->secrets_.ksak = std::move(ksak).value();
    MCX_RETURN_IF_ERROR(guarded.status().Annotate(context));
  }

  // The unsealed secrets must be the ones the certificate was made from.
  auto sakke = NewGenericSakkeKernel();
  auto eccsi = NewGenericEccsiKernel();
  Result<KmsPublicKeys> pub = DerivePublicKeys(c->secrets_, *sakke, *eccsi);
  if (!pub.ok()) return pub.status().Annotate(context);
  if (pub->z_pub != cert->pub.z_pub || pub->kpak != cert->pub.kpak) {
    return Status::DataLoss(context + ": the unsealed master secrets do not match the public keys in the KMS "
                            "certificate; restore the data directory from backup");
  }
  c->pub_ = *pub;
  return c;
}

KmsCustody::~KmsCustody() {
  // Secrets go first; then the sessions, the login and the module, in that order.
  secrets_ = MasterSecrets();
  random_.reset();
  kek_.reset();
  token_.reset();
  module_.reset();
}

Result<Bytes> KmsCustody::Seal(ByteView plaintext, std::string_view purpose) {
  if (IsReservedPurpose(purpose)) {
    return Status::InvalidArgument("the purpose '" + std::string(purpose) + "' is reserved for the master secrets");
  }
  return hsm::SealBlob(*kek_, plaintext, purpose, config_.seal_owner());
}

Result<SecretBytes> KmsCustody::Unseal(ByteView blob, std::string_view purpose) {
  if (IsReservedPurpose(purpose)) {
    return Status::InvalidArgument("the purpose '" + std::string(purpose) + "' is reserved for the master secrets");
  }
  return hsm::UnsealBlob(*kek_, blob, purpose, config_.seal_owner());
}

Status KmsCustody::Ping() {
  Result<hsm::Pkcs11Token::Lease> session = token_->Acquire();
  if (!session.ok()) return session.status();
  Status st = (*session)->CheckLoggedIn();
  if (!st.ok()) session->Discard();
  return st;
}

}  // namespace mcx
