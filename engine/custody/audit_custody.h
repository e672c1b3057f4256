// AuditCustody: the KMS's audit-chain MAC key in its HSM, as a RecordAuthenticator.
//
// The key is an HMAC-SHA-256 key (hsm/hmac_key.h) labelled AuditKeyLabel(config), generated in
// the KMS's token by `mcx-kms init` (CreateAuditKey) and never extractable. Opening finds it,
// or creates it when a KMS made before the audit log has none; do that once, at start, before
// any thread uses the token (PKCS#11 objects are created serially). Authenticate() runs
// CKM_SHA256_HMAC in the token and is safe to call from many threads.
//
// Open(config) opens the token on its own. PKCS#11 login is per process: when the process is
// already logged in (a KmsCustody is open), it shares that login and leaves it in place when
// destroyed; when it logged in itself, destroying it logs the whole process out, so destroy it
// after anything opened later on the same token. OnToken() borrows a token the process holds.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "engine/audit/audit_log.h"
#include "engine/audit/audit_record.h"
#include "engine/custody/kms_config.h"
#include "engine/custody/kms_token.h"
#include "engine/store/sqlite_audit_store.h"
#include "hsm/hmac_key.h"

namespace mcx {

// "mcx-kms-audit-<kms id>".
std::string AuditKeyLabel(const KmsConfig& config);

// Creates the audit key on `token` (for init). AlreadyExists when there is one.
Result<hsm::HmacKey> CreateAuditKey(hsm::Pkcs11Token& token, const KmsConfig& config);

class AuditCustody final : public RecordAuthenticator {
 public:
  // Loads the module, logs in with the configured PIN source, finds or creates the key.
  static Result<std::unique_ptr<AuditCustody>> Open(const KmsConfig& config, Env& env = Env::Default());
  // Finds or creates the key on a token this process has already opened; `token` must outlive it.
  static Result<std::unique_ptr<AuditCustody>> OnToken(hsm::Pkcs11Token& token, const KmsConfig& config);

  Result<AuditMac> Authenticate(ByteView record_hash) override;
  const std::string& key_label() const { return key_->label(); }

 private:
  AuditCustody() = default;
  static Result<hsm::HmacKey> FindOrCreate(hsm::Pkcs11Token& token, const KmsConfig& config);
  std::optional<KmsToken> own_token_;  // Open() only
  std::optional<hsm::HmacKey> key_;
};

// What a KMS process needs to record events: the audit store on the KMS's SQLite file, the HSM
// key and the writer. Destroyed in the right order (the writer first, committing what is pending).
struct KmsAudit {
  std::unique_ptr<AuditStore> store;
  std::unique_ptr<AuditCustody> key;
  std::unique_ptr<AuditLog> log;
};

// `token`: the token this process already holds (borrowed, see OnToken), or null to log in anew
// (see Open). Call once at start, before other threads use the token.
Result<KmsAudit> OpenKmsAudit(const KmsConfig& config, hsm::Pkcs11Token* token, AuditLogOptions options = {},
                              SqliteAuditStoreOptions store_options = {}, Env& env = Env::Default());

}  // namespace mcx
