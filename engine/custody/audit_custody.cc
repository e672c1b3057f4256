#include "engine/custody/audit_custody.h"

namespace mcx {

std::string AuditKeyLabel(const KmsConfig& config) { return "mcx-kms-audit-" + config.kms_id; }

Result<hsm::HmacKey> CreateAuditKey(hsm::Pkcs11Token& token, const KmsConfig& config) {
  Result<Bytes> id = FromHex(config.kms_id);
  if (!id.ok()) return id.status().Annotate("the KMS id in the configuration");
  return hsm::HmacKey::Generate(token, AuditKeyLabel(config), *id);
}

Result<hsm::HmacKey> AuditCustody::FindOrCreate(hsm::Pkcs11Token& token, const KmsConfig& config) {
  Result<hsm::HmacKey> key = hsm::HmacKey::Find(token, AuditKeyLabel(config));
  if (key.ok() || key.status().code() != Status::Code::kNotFound) return key;
  // A KMS created before the audit log: its first open makes the key.
  return CreateAuditKey(token, config);
}

Result<std::unique_ptr<AuditCustody>> AuditCustody::Open(const KmsConfig& config, Env& env) {
  Result<KmsToken> token = OpenKmsToken(config, nullptr, env);
  if (!token.ok()) return token.status();
  std::unique_ptr<AuditCustody> c(new AuditCustody());
  c->own_token_.emplace(std::move(token).value());
  Result<hsm::HmacKey> key = FindOrCreate(*c->own_token_->token, config);
  if (!key.ok()) return key.status();
  c->key_.emplace(std::move(key).value());
  return c;
}

Result<std::unique_ptr<AuditCustody>> AuditCustody::OnToken(hsm::Pkcs11Token& token, const KmsConfig& config) {
  std::unique_ptr<AuditCustody> c(new AuditCustody());
  Result<hsm::HmacKey> key = FindOrCreate(token, config);
  if (!key.ok()) return key.status();
  c->key_.emplace(std::move(key).value());
  return c;
}

Result<AuditMac> AuditCustody::Authenticate(ByteView record_hash) {
  Result<hsm::HmacSha256> mac = key_->Sign(record_hash);
  if (!mac.ok()) return mac.status();
  return AuditMac(*mac);
}

Result<KmsAudit> OpenKmsAudit(const KmsConfig& config, hsm::Pkcs11Token* token, AuditLogOptions options,
                              SqliteAuditStoreOptions store_options, Env& env) {
  KmsAudit audit;
  Result<std::unique_ptr<AuditStore>> store = OpenAuditStore(config.store_location(), store_options);
  if (!store.ok()) return store.status();
  audit.store = std::move(store).value();
  Result<std::unique_ptr<AuditCustody>> key =
      token != nullptr ? AuditCustody::OnToken(*token, config) : AuditCustody::Open(config, env);
  if (!key.ok()) return key.status().Annotate("opening the audit key");
  audit.key = std::move(key).value();
  audit.log = std::make_unique<AuditLog>(*audit.store, *audit.key, std::move(options), env);
  return audit;
}

}  // namespace mcx
