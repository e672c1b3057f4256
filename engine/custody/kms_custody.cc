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

  Result<MasterSecrets> secrets = c->UnsealMasterSecrets(*sealed, cert->pub);
  if (!secrets.ok()) return secrets.status().Annotate(context);
  c->secrets_ = std::move(secrets).value();
  c->pub_ = cert->pub;
  return c;
}

Result<MasterSecrets> KmsCustody::UnsealMasterSecrets(const SealedMasterSecrets& sealed, const KmsPublicKeys& expected) {
  MasterSecrets secrets;
  {
    GuardedSecretScope guarded;
    Result<SecretBytes> z = hsm::UnsealBlob(*kek_, sealed.z, kSakkeMasterSecretPurpose, config_.seal_owner());
    if (!z.ok()) return z.status();
    Result<SecretBytes> ksak = hsm::UnsealBlob(*kek_, sealed.ksak, kEccsiKsakPurpose, config_.seal_owner());
    if (!ksak.ok()) return ksak.status();
    secrets.z = std::move(z).value();
    secrets.ksak = std::move(ksak).value();
    MCX_RETURN_IF_ERROR(guarded.status());
  }
  // The unsealed secrets must be the ones the certificate was made from.
  auto sakke = NewGenericSakkeKernel();
  auto eccsi = NewGenericEccsiKernel();
  Result<KmsPublicKeys> pub = DerivePublicKeys(secrets, *sakke, *eccsi);
  if (!pub.ok()) return pub.status();
  if (pub->z_pub != expected.z_pub || pub->kpak != expected.kpak) {
    return Status::DataLoss("the unsealed master secrets do not match the public keys of their KMS certificate; "
                            "restore the data directory and store from backup");
  }
  return secrets;
}

Result<KmsCustody::SealedKeyPairs> KmsCustody::GenerateMasterSecrets() {
  GuardedSecretScope guarded;
  Result<MasterSecrets> secrets = mcx::GenerateMasterSecrets(*random_);
  if (!secrets.ok()) return secrets.status();
  MCX_RETURN_IF_ERROR(guarded.status());
  auto sakke = NewGenericSakkeKernel();
  auto eccsi = NewGenericEccsiKernel();
  Result<KmsPublicKeys> pub = DerivePublicKeys(*secrets, *sakke, *eccsi);
  if (!pub.ok()) return pub.status();
  SealedKeyPairs out;
  out.pub = *pub;
  const std::string owner = config_.seal_owner();
  Result<Bytes> z = hsm::SealBlob(*kek_, secrets->z.view(), kSakkeMasterSecretPurpose, owner);
  if (!z.ok()) return z.status();
  Result<Bytes> ksak = hsm::SealBlob(*kek_, secrets->ksak.view(), kEccsiKsakPurpose, owner);
  if (!ksak.ok()) return ksak.status();
  out.sealed = {std::move(z).value(), std::move(ksak).value()};
  // Prove the blobs open to these secrets before the plaintext is gone for good.
  Result<MasterSecrets> back = UnsealMasterSecrets(out.sealed, out.pub);
  if (!back.ok()) return back.status().Annotate("the token did not give back what it sealed");
  return out;
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
