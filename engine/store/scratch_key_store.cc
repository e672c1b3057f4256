#include "engine/store/scratch_key_store.h"

#include <unistd.h>

#include <libpq-fe.h>

#include "engine/store/postgres_key_store.h"
#include "engine/store/sqlite_key_store.h"

namespace mcx {
namespace {

Status RunSql(const std::string& url, const std::string& sql, const std::string& what) {
  PGconn* c = PQconnectdb(url.c_str());
  PQsetNoticeProcessor(c, [](void*, const char*) {}, nullptr);
  PGresult* r = PQexec(c, sql.c_str());
  Status s = PQresultStatus(r) == PGRES_COMMAND_OK ? Status::Ok() : pg::Error(c, r, what);
  PQclear(r);
  PQfinish(c);
  return s;
}

}  // namespace

Result<std::unique_ptr<ScratchKeyStore>> ScratchKeyStore::Open(const StoreLocation& like,
                                                               const std::filesystem::path& dir,
                                                               const std::string& cert_uri) {
  std::unique_ptr<ScratchKeyStore> s(new ScratchKeyStore());
  if (!like.postgres()) {
    StoreLocation scratch{dir / "scratch-store.sqlite", ""};
    Result<std::unique_ptr<KeyStore>> store = OpenSqliteKeyStore(scratch.sqlite_path, cert_uri);
    if (!store.ok()) return store.status();
    s->store_ = std::move(store).value();
    s->description_ = scratch.Describe() + " (scratch)";
    return s;
  }
  s->admin_url_ = like.postgres_url;
  s->schema_ = "mcx_scratch_" + std::to_string(::getpid());
  MCX_RETURN_IF_ERROR(RunSql(s->admin_url_, "DROP SCHEMA IF EXISTS " + s->schema_ + " CASCADE; CREATE SCHEMA " + s->schema_,
                             "creating the scratch schema " + s->schema_ + " (the database user needs CREATE on it)"));
  const std::string url = like.postgres_url + (like.postgres_url.find('?') == std::string::npos ? "?" : "&") +
                          "options=-csearch_path%3D" + s->schema_;
  Result<std::unique_ptr<KeyStore>> store = OpenPostgresKeyStore(url, cert_uri);
  if (!store.ok()) return store.status();
  s->store_ = std::move(store).value();
  s->description_ = like.Describe() + " (scratch schema " + s->schema_ + ")";
  return s;
}

ScratchKeyStore::~ScratchKeyStore() {
  store_.reset();  // its connections first
  if (!schema_.empty()) (void)RunSql(admin_url_, "DROP SCHEMA IF EXISTS " + schema_ + " CASCADE", "dropping " + schema_);
}

}  // namespace mcx
