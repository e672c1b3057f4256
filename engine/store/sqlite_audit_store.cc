#include "engine/store/sqlite_audit_store.h"

#include <algorithm>
#include <cstdint>
#include <mutex>

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/audit/audit_event.h"
#include "engine/store/sqlite_database.h"

namespace mcx {
namespace {

using sqlite::Db;
using sqlite::Stmt;
using sqlite::BindText;
using sqlite::ColumnText;

// The store's words for SQLite errors (sqlite_database.h), naming the audit log.
Status SqliteError(sqlite3* db, int rc, const std::string& what) { return sqlite::Error(db, rc, "audit log: " + what); }

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS audit_log (
  node      TEXT    NOT NULL,
  seq       INTEGER NOT NULL,
  time      INTEGER NOT NULL,   -- Unix seconds
  kind      TEXT    NOT NULL,
  actor     TEXT    NOT NULL,
  user_uri  TEXT    NOT NULL,
  cert_uri  TEXT    NOT NULL,
  detail    TEXT    NOT NULL,
  prev_hash BLOB    NOT NULL,
  hash      BLOB    NOT NULL,
  mac       BLOB    NOT NULL,
  PRIMARY KEY (node, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS audit_log_by_time ON audit_log(time);
)sql";

constexpr const char* kColumns = "node, seq, time, kind, actor, user_uri, cert_uri, detail, prev_hash, hash, mac";

template <size_t N>
void CopyBlob(sqlite3_stmt* st, int col, std::array<uint8_t, N>& out) {
  // A blob of the wrong size (tampering) is copied short or cut; its hash check then fails.
  const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(st, col));
  const size_t n = std::min<size_t>(N, static_cast<size_t>(sqlite3_column_bytes(st, col)));
  out.fill(0);
  if (p != nullptr) std::copy(p, p + n, out.begin());
}

AuditRecord ReadRow(sqlite3_stmt* st) {
  AuditRecord r;
  r.node = ColumnText(st, 0);
  r.seq = static_cast<uint64_t>(sqlite3_column_int64(st, 1));
  r.time = sqlite3_column_int64(st, 2);
  r.kind = ColumnText(st, 3);
  r.actor = ColumnText(st, 4);
  r.user_uri = ColumnText(st, 5);
  r.cert_uri = ColumnText(st, 6);
  r.detail = ColumnText(st, 7);
  CopyBlob(st, 8, r.prev_hash);
  CopyBlob(st, 9, r.hash);
  CopyBlob(st, 10, r.mac);
  return r;
}

class SqliteAuditStore final : public AuditStore {
 public:
  SqliteAuditStore(std::filesystem::path path, SqliteAuditStoreOptions options)
      : path_(std::move(path)), options_(options) {}

  Status Open() {
    if (!options_.create_if_missing) {
      std::error_code ec;
      if (!std::filesystem::exists(path_, ec)) {
        return Status::NotFound("audit log: the store " + path_.string() +
                                " does not exist; it is created when the KMS first opens (restore it from backup if "
                                "it was there)");
      }
    }
    CreateOwnerOnly(path_);
    Result<Db> w = Connect(/*create=*/true);
    if (!w.ok()) return w.status();
    writer_ = std::move(w).value();
    // The key store runs the file in WAL mode; a store opened here first starts it so.
    MCX_RETURN_IF_ERROR(sqlite::EnableWal(writer_.get()));
    MCX_RETURN_IF_ERROR(Exec(writer_.get(),
                             options_.sync_every_commit ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
                             "configuring the store"));
    if (options_.checkpointed_elsewhere) {
      MCX_RETURN_IF_ERROR(Exec(writer_.get(), "PRAGMA wal_autocheckpoint=0", "configuring checkpoints"));
    }
    MCX_RETURN_IF_ERROR(Exec(writer_.get(), "BEGIN IMMEDIATE", "starting the schema transaction"));
    Status s = Exec(writer_.get(), kSchema, "creating table audit_log");
    if (s.ok()) s = Exec(writer_.get(), "COMMIT", "committing table audit_log");
    if (!s.ok()) {
      (void)Exec(writer_.get(), "ROLLBACK", "rolling back");
      return s;
    }
    Result<Db> r = Connect(/*create=*/false);
    if (!r.ok()) return r.status();
    reader_ = std::move(r).value();
    return Status::Ok();
  }

  Status Append(const std::string& node, const Sealer& seal) override {
    std::lock_guard<std::mutex> lock(write_mu_);
    sqlite3* db = writer_.get();
    // The writer's statements are prepared once: parsing them anew cost as much as the insert.
    MCX_RETURN_IF_ERROR(StepCached(db, begin_, "BEGIN IMMEDIATE", "starting a write transaction"));
    Status s = AppendInTransaction(db, node, seal);
    if (s.ok()) s = StepCached(db, commit_, "COMMIT", "committing audit records");
    if (!s.ok()) (void)Exec(db, "ROLLBACK", "rolling back");
    return s;
  }

  Result<std::vector<std::string>> Nodes() override {
    std::lock_guard<std::mutex> lock(read_mu_);
    Stmt st;
    MCX_RETURN_IF_ERROR(Prepare(reader_.get(), "SELECT DISTINCT node FROM audit_log ORDER BY node", st));
    std::vector<std::string> nodes;
    int rc;
    while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) nodes.push_back(ColumnText(st.get(), 0));
    if (rc != SQLITE_DONE) return SqliteError(reader_.get(), rc, "listing nodes");
    return nodes;
  }

  Result<AuditChainTip> Tip(const std::string& node) override {
    std::lock_guard<std::mutex> lock(read_mu_);
    return ReadTip(reader_.get(), node);
  }

  Status ScanChain(const std::string& node, uint64_t from_seq,
                   const std::function<bool(const AuditRecord&)>& visit) override {
    std::lock_guard<std::mutex> lock(read_mu_);
    Stmt st;
    const std::string sql =
        std::string("SELECT ") + kColumns + " FROM audit_log WHERE node = ?1 AND seq >= ?2 ORDER BY seq";
    MCX_RETURN_IF_ERROR(Prepare(reader_.get(), sql.c_str(), st));
    BindText(st.get(), 1, node);
    sqlite3_bind_int64(st.get(), 2, static_cast<sqlite3_int64>(std::min<uint64_t>(from_seq, INT64_MAX)));
    return Visit(st.get(), "reading the chain of node '" + node + "'", visit, nullptr);
  }

  Status Scan(const AuditFilter& filter, const std::function<bool(const AuditRecord&)>& visit) override {
    std::lock_guard<std::mutex> lock(read_mu_);
    std::string sql = std::string("SELECT ") + kColumns + " FROM audit_log WHERE 1";
    if (!filter.node.empty()) sql += " AND node = ?1";
    if (filter.since.has_value()) sql += " AND time >= ?2";
    // Coarse in SQL (the user's own records, or a detail that mentions it), exact below.
    if (!filter.user_uri.empty()) sql += " AND (user_uri = ?3 OR (user_uri = '' AND instr(detail, ?3) > 0))";
    sql += " ORDER BY time, node, seq";
    Stmt st;
    MCX_RETURN_IF_ERROR(Prepare(reader_.get(), sql.c_str(), st));
    if (!filter.node.empty()) BindText(st.get(), 1, filter.node);
    if (filter.since.has_value()) sqlite3_bind_int64(st.get(), 2, *filter.since);
    if (!filter.user_uri.empty()) BindText(st.get(), 3, filter.user_uri);
    return Visit(st.get(), "reading the audit log", visit, &filter);
  }

 private:
  Status AppendInTransaction(sqlite3* db, const std::string& node, const Sealer& seal) {
    if (!writer_tip_) MCX_RETURN_IF_ERROR(Prepare(db, kTipSql, writer_tip_));
    Result<AuditChainTip> tip = ReadTip(db, writer_tip_.get(), node);
    sqlite3_reset(writer_tip_.get());
    if (!tip.ok()) return tip.status();
    Result<std::vector<AuditRecord>> records = seal(*tip);
    if (!records.ok()) return records.status();
    if (!insert_) {
      const std::string sql = std::string("INSERT INTO audit_log (") + kColumns +
                              ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
      MCX_RETURN_IF_ERROR(Prepare(db, sql.c_str(), insert_));
    }
    sqlite3_stmt* st = insert_.get();
    for (const AuditRecord& r : *records) {
      if (r.node != node) return Status::Internal("an audit record of node '" + r.node + "' sealed for '" + node + "'");
      BindText(st, 1, r.node);
      sqlite3_bind_int64(st, 2, static_cast<sqlite3_int64>(r.seq));
      sqlite3_bind_int64(st, 3, r.time);
      BindText(st, 4, r.kind);
      BindText(st, 5, r.actor);
      BindText(st, 6, r.user_uri);
      BindText(st, 7, r.cert_uri);
      BindText(st, 8, r.detail);
      sqlite3_bind_blob(st, 9, r.prev_hash.data(), static_cast<int>(r.prev_hash.size()), SQLITE_STATIC);
      sqlite3_bind_blob(st, 10, r.hash.data(), static_cast<int>(r.hash.size()), SQLITE_STATIC);
      sqlite3_bind_blob(st, 11, r.mac.data(), static_cast<int>(r.mac.size()), SQLITE_STATIC);
      const int rc = sqlite3_step(st);
      sqlite3_reset(st);
      sqlite3_clear_bindings(st);
      if (rc != SQLITE_DONE) return SqliteError(db, rc, "inserting audit record " + std::to_string(r.seq));
    }
    return Status::Ok();
  }

  static constexpr const char* kTipSql = "SELECT seq, hash FROM audit_log WHERE node = ?1 ORDER BY seq DESC LIMIT 1";

  Result<AuditChainTip> ReadTip(sqlite3* db, const std::string& node) {
    Stmt st;
    MCX_RETURN_IF_ERROR(Prepare(db, kTipSql, st));
    return ReadTip(db, st.get(), node);
  }

  // `st` is kTipSql prepared on `db`.
  Result<AuditChainTip> ReadTip(sqlite3* db, sqlite3_stmt* st, const std::string& node) {
    BindText(st, 1, node);
    AuditChainTip tip;
    const int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) return tip;
    if (rc != SQLITE_ROW) return SqliteError(db, rc, "reading the tip of node '" + node + "'");
    tip.seq = static_cast<uint64_t>(sqlite3_column_int64(st, 0));
    CopyBlob(st, 1, tip.hash);
    return tip;
  }

  // Runs a statement without results, preparing it into `cached` the first time.
  Status StepCached(sqlite3* db, Stmt& cached, const char* sql, const std::string& what) {
    if (!cached) MCX_RETURN_IF_ERROR(Prepare(db, sql, cached));
    const int rc = sqlite3_step(cached.get());
    sqlite3_reset(cached.get());
    if (rc != SQLITE_DONE) return SqliteError(db, rc, what);
    return Status::Ok();
  }

  Status Visit(sqlite3_stmt* st, const std::string& what, const std::function<bool(const AuditRecord&)>& visit,
               const AuditFilter* filter) {
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      AuditRecord r = ReadRow(st);
      const bool wanted =
          filter == nullptr || filter->user_uri.empty() || ConcernsUser(r.user_uri, r.detail, filter->user_uri);
      if (!wanted) continue;
      if (!visit(r)) return Status::Ok();
    }
    if (rc != SQLITE_DONE) return SqliteError(sqlite3_db_handle(st), rc, what);
    return Status::Ok();
  }

  static void CreateOwnerOnly(const std::filesystem::path& path) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return;  // exists already, or sqlite3_open_v2 reports the failure
    (void)fchmod(fd, 0600);
    ::close(fd);
  }

  Result<Db> Connect(bool create) {
    Db db;
    const int rc = sqlite::Open(path_, create, db);
    if (rc != SQLITE_OK) return SqliteError(db.get(), rc, "opening the store " + path_.string());
    sqlite3_busy_timeout(db.get(), options_.busy_timeout_ms);
    return db;
  }

  static Status Exec(sqlite3* db, const char* sql, const std::string& what) {
    const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
    return rc == SQLITE_OK ? Status::Ok() : SqliteError(db, rc, what);
  }

  static Status Prepare(sqlite3* db, const char* sql, Stmt& out) { return sqlite::Prepare(db, sql, out); }

  std::filesystem::path path_;
  SqliteAuditStoreOptions options_;
  std::mutex write_mu_;
  Db writer_;
  Stmt insert_, begin_, commit_, writer_tip_;  // on writer_, guarded by write_mu_
  std::mutex read_mu_;
  Db reader_;
};

}  // namespace

Result<std::unique_ptr<AuditStore>> OpenSqliteAuditStore(const std::filesystem::path& path,
                                                         const SqliteAuditStoreOptions& options) {
  auto store = std::make_unique<SqliteAuditStore>(path, options);
  MCX_RETURN_IF_ERROR(store->Open());
  return std::unique_ptr<AuditStore>(std::move(store));
}

}  // namespace mcx
