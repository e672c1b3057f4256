#include "engine/store/store_location.h"

#include "engine/store/postgres_audit_store.h"
#include "engine/store/postgres_job_store.h"
#include "engine/store/postgres_key_store.h"
#include "engine/store/sqlite_job_store.h"
#include "engine/store/sqlite_key_store.h"

namespace mcx {

std::string RedactPostgresUrl(const std::string& url) {
  std::string out = url;
  const size_t scheme = out.find("://");
  if (scheme != std::string::npos) {
    const size_t start = scheme + 3;
    const size_t end = out.find_first_of("/?", start);
    const size_t at = out.rfind('@', end == std::string::npos ? out.size() : end);
    if (at != std::string::npos && at > start) {
      const size_t colon = out.find(':', start);
      if (colon != std::string::npos && colon < at) out.erase(colon, at - colon);
    }
  }
  for (size_t p = out.find("password="); p != std::string::npos; p = out.find("password=", p)) {
    const size_t end = out.find('&', p);
    out.replace(p, (end == std::string::npos ? out.size() : end) - p, "password=...");
    p += 12;
  }
  return out;
}

std::string StoreLocation::Describe() const {
  return postgres() ? "PostgreSQL " + RedactPostgresUrl(postgres_url) : "SQLite " + sqlite_path.string();
}

Result<std::unique_ptr<KeyStore>> OpenKeyStore(const StoreLocation& where, const std::string& cert_uri) {
  if (where.postgres()) {
    Result<std::unique_ptr<KeyStore>> s = OpenPostgresKeyStore(where.postgres_url, cert_uri);
    if (!s.ok()) return s.status().Annotate("opening the store " + where.Describe());
    return s;
  }
  return OpenSqliteKeyStore(where.sqlite_path, cert_uri);
}

Result<std::unique_ptr<AuditStore>> OpenAuditStore(const StoreLocation& where, const SqliteAuditStoreOptions& options) {
  if (where.postgres()) {
    Result<std::unique_ptr<AuditStore>> s = OpenPostgresAuditStore(where.postgres_url);
    if (!s.ok()) return s.status().Annotate("opening the audit log in " + where.Describe());
    return s;
  }
  return OpenSqliteAuditStore(where.sqlite_path, options);
}

Result<std::unique_ptr<ProvisioningJobStore>> OpenJobStore(const StoreLocation& where) {
  Result<std::unique_ptr<ProvisioningJobStore>> s =
      where.postgres() ? OpenPostgresJobStore(where.postgres_url) : OpenSqliteJobStore(where.sqlite_path);
  if (!s.ok()) return s.status().Annotate("opening the provisioning jobs in " + where.Describe());
  return s;
}

}  // namespace mcx
