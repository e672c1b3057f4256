// StoreLocation: which store a KMS keeps its state in, and the one place that opens it, so that
// callers never branch on the kind of store themselves.
//
//   [store] path = "store.sqlite"              the embedded SQLite store (the default)
//   [store] url  = "postgresql://user@host/db"  a PostgreSQL store shared by replicas
//
// With a url, the key sets, KMS state, lifecycle and audit chains live in PostgreSQL and path is
// not used. A password belongs in ~/.pgpass or $PGPASSFILE, not in the URL: Describe() drops one anyway.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "base/status.h"
#include "engine/audit/audit_store.h"
#include "engine/store/key_store.h"
#include "engine/store/provisioning_job_store.h"
#include "engine/store/sqlite_audit_store.h"

namespace mcx {

struct StoreLocation {
  std::filesystem::path sqlite_path;  // the SQLite store, when postgres_url is empty
  std::string postgres_url;           // empty: the key store is the SQLite one

  bool postgres() const { return !postgres_url.empty(); }
  // "SQLite /data/store.sqlite" or "PostgreSQL postgresql://kms@db.example.org/kms": for
  // messages and reports, never with a password.
  std::string Describe() const;
};

// `url` without its password (user:password@ and password=... removed).
std::string RedactPostgresUrl(const std::string& url);

// Opens (creating or migrating as needed) the key store for certificate `cert_uri`.
Result<std::unique_ptr<KeyStore>> OpenKeyStore(const StoreLocation& where, const std::string& cert_uri);

// Opens the store of the audit chains (`options` are the SQLite store's).
Result<std::unique_ptr<AuditStore>> OpenAuditStore(const StoreLocation& where,
                                                   const SqliteAuditStoreOptions& options = {});

// Opens the store's bulk provisioning jobs (provisioning_job_store.h).
Result<std::unique_ptr<ProvisioningJobStore>> OpenJobStore(const StoreLocation& where);

}  // namespace mcx
