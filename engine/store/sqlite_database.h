// SqliteDatabase: the one SQLite file (WAL mode) behind the embedded stores — key sets
// (sqlite_key_store.cc) and the KMS's lifecycle (sqlite_lifecycle_store.cc).
//
// Writes go through one connection under a mutex (SQLite has one writer anyway); reads borrow a
// connection from a small pool, so many server threads read at once. A background thread
// checkpoints the WAL, so no commit waits for a checkpoint's fsync. The schema carries a version;
// migrations run at open inside one exclusive write transaction that re-reads the version, so
// processes opening a fresh store together migrate it once and every one of them then starts.
// Thread-safe.
#pragma once

#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <sqlite3.h>

#include "base/status.h"

namespace mcx {

// 1: key sets and KMS state; 2: key_sets.delivered_at; 3: certificates, revoked users, counters;
// 4: provisioning jobs and their chunks.
inline constexpr int kStoreSchemaVersion = 4;

namespace sqlite {

struct DbClose { void operator()(sqlite3* db) const { sqlite3_close_v2(db); } };
struct StmtFinalize { void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); } };
using Db = std::unique_ptr<sqlite3, DbClose>;
using Stmt = std::unique_ptr<sqlite3_stmt, StmtFinalize>;

// Opens a connection (read-write; created when `create`) without SQLite's own mutexes: each
// connection is used by one thread at a time. `out` holds it even on failure, for the message.
int Open(const std::filesystem::path& path, bool create, Db& out);
// Binds `s` without a copy: it must stay alive and unchanged until the statement has stepped.
inline void BindText(sqlite3_stmt* st, int i, const std::string& s) {
  sqlite3_bind_text(st, i, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
}
// A text column, empty for NULL.
inline std::string ColumnText(sqlite3_stmt* st, int col) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st, col));
  return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(st, col))) : std::string();
}
// SQLite's own words plus what an operator can do about the usual causes.
Status Error(sqlite3* db, int rc, const std::string& what);
Status Exec(sqlite3* db, const char* sql, const std::string& what);
Status Prepare(sqlite3* db, const char* sql, Stmt& out);
// PRAGMA journal_mode=WAL, retried while another process opening the same fresh file holds the
// lock (SQLite answers that switch BUSY without calling the busy handler).
Status EnableWal(sqlite3* db);

}  // namespace sqlite

class SqliteDatabase {
 public:
  // Opens or creates the database at `path` (a new one, and its -wal and -shm files, mode 0600
  // whatever the umask) and brings its schema to kStoreSchemaVersion.
  static Result<std::shared_ptr<SqliteDatabase>> Open(const std::filesystem::path& path);
  ~SqliteDatabase();

  const std::filesystem::path& path() const { return path_; }

  // A read connection and the statements prepared on it, kept together in the pool.
  struct ReadConnection {
    sqlite::Db db;
    std::vector<std::pair<const char*, sqlite::Stmt>> statements;  // (destroyed before db)
  };

  // A read connection borrowed from the pool for one call.
  class Reader {
   public:
    explicit Reader(SqliteDatabase& db);
    ~Reader();
    bool ok() const { return status_.ok(); }
    const Status& status() const { return status_; }
    sqlite3* db() const { return conn_.db.get(); }
    // A statement for `sql`, prepared once per pooled connection and kept with it, so the
    // queries of every request are parsed once (SQLite's parser was ~1.5% of serving a
    // pre-provisioned keyprov). `sql` must be a string literal: the cache is keyed by its
    // address. The statement is reset and its bindings cleared when the Reader ends, which also
    // ends its read transaction.
    Result<sqlite3_stmt*> Cached(const char* sql);

   private:
    SqliteDatabase& owner_;
    ReadConnection conn_;
    Status status_;
  };

  // Runs `body` on the write connection inside BEGIN IMMEDIATE ... COMMIT, rolling back when it
  // or the commit fails. Other processes' writers wait (busy timeout) rather than interleave.
  Status WriteTransaction(const std::string& what, const std::function<Status(sqlite3*)>& body);
  // Runs `body` on the write connection with no transaction (single statements).
  Status WithWriter(const std::function<Status(sqlite3*)>& body);

 private:
  explicit SqliteDatabase(std::filesystem::path path) : path_(std::move(path)) {}
  Status OpenConnections();
  Result<sqlite::Db> Connect(bool create);
  Status Migrate();
  void CheckpointLoop(sqlite::Db db);

  std::filesystem::path path_;
  std::mutex write_mu_;
  sqlite::Db writer_;
  std::mutex pool_mu_;
  std::vector<ReadConnection> pool_;

  std::mutex checkpoint_mu_;
  std::condition_variable checkpoint_cv_;
  bool stopping_ = false;
  std::thread checkpointer_;
};

}  // namespace mcx
