#include "engine/store/sqlite_database.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>

namespace mcx {
namespace sqlite {

int Open(const std::filesystem::path& path, bool create, Db& out) {
  // SQLite counts every allocation under one process-wide mutex unless told not to; with two
  // threads reading key sets that mutex halved the reads (bench/store_compare, 2 threads: 42k/s
  // with it, 160k/s without). It can only be changed before SQLite initializes, hence first.
  static const int configured = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  (void)configured;  // SQLITE_MISUSE when something opened SQLite before us: counted, still correct
  sqlite3* raw = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  out.reset(raw);
  return rc;
}

Status Error(sqlite3* db, int rc, const std::string& what) {
  std::string msg = what + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_FULL:
      return Status::Unavailable(msg + " — the disk is full: free space, then run again (nothing committed was lost)");
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Unavailable(msg + " — the store is locked by another process; retry");
    case SQLITE_READONLY:
      return Status::Unavailable(msg + " — this user cannot write the store's file or its directory: give both "
                                 "to the user the KMS runs as (the file mode 0600)");
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
      return Status::Unavailable(msg + " — check that the data directory exists and is writable");
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status::DataLoss(msg + " — the store file is damaged or not an mcx-kms store");
    case SQLITE_IOERR:
      return Status::Unavailable(msg + " — the disk refused a write (full, or failing); free space or check it");
    default:
      return Status::Unavailable(msg);
  }
}

Status Exec(sqlite3* db, const char* sql, const std::string& what) {
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  return rc == SQLITE_OK ? Status::Ok() : Error(db, rc, what);
}

Status Prepare(sqlite3* db, const char* sql, Stmt& out) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db, sql, -1, &raw, nullptr);
  out.reset(raw);
  return rc == SQLITE_OK ? Status::Ok() : Error(db, rc, "preparing a store query");
}

}  // namespace sqlite

namespace {

constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE IF NOT EXISTS kms_state (
  name  TEXT PRIMARY KEY,
  value BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS key_sets (
  cert_uri      TEXT    NOT NULL,
  user_uri      TEXT    NOT NULL,
  key_period_no INTEGER NOT NULL,
  valid_from    INTEGER NOT NULL,
  valid_to      INTEGER NOT NULL,
  uid           BLOB    NOT NULL,
  pvt           BLOB    NOT NULL,
  nonce         BLOB    NOT NULL,
  sealed        BLOB    NOT NULL,   -- AES-256-GCM(RSK || SSK) || tag, see KeySetCipher
  issued_at     INTEGER NOT NULL,   -- Unix seconds
  state         INTEGER NOT NULL DEFAULT 0,  -- 0 issued, 1 delivered, 2 revoked
  PRIMARY KEY (cert_uri, user_uri, key_period_no)
) WITHOUT ROWID;
)sql";

// When a key set was first handed to a client (Unix seconds); NULL until then.
constexpr const char* kSchemaV2 = "ALTER TABLE key_sets ADD COLUMN delivered_at INTEGER";

// The lifecycle (lifecycle_store.h): certificates, revoked users, CacheNum and the generation.
constexpr const char* kSchemaV3 = R"sql(
CREATE TABLE IF NOT EXISTS certificates (
  cert_uri    TEXT    PRIMARY KEY,
  own         INTEGER NOT NULL,           -- 1: this KMS's, master secrets sealed below; 0: imported
  record      BLOB    NOT NULL,           -- the certificate's fields (engine/custody/certificate_record.h)
  sealed_z    BLOB,
  sealed_ksak BLOB,
  valid_from  INTEGER NOT NULL,           -- NTP seconds
  valid_to    INTEGER NOT NULL,
  revoked     INTEGER NOT NULL DEFAULT 0,
  expired     INTEGER NOT NULL DEFAULT 0, -- past ValidTo, out of the cache
  added_at    INTEGER NOT NULL            -- Unix seconds
);
CREATE TABLE IF NOT EXISTS revoked_users (
  user_uri     TEXT    PRIMARY KEY,
  revoked_from INTEGER NOT NULL,          -- NTP seconds
  revoked_at   INTEGER NOT NULL           -- Unix seconds
);
CREATE TABLE IF NOT EXISTS counters (
  name  TEXT    PRIMARY KEY,
  value INTEGER NOT NULL
);
INSERT OR IGNORE INTO counters(name, value) VALUES ('cache_num', 1), ('generation', 1);
)sql";

// Bulk provisioning jobs shared by workers (provisioning_job_store.h): a job, and its population
// in chunks that workers lease.
constexpr const char* kSchemaV4 = R"sql(
CREATE TABLE IF NOT EXISTS provisioning_jobs (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused
  cert_uri      TEXT    NOT NULL,
  first_period  INTEGER NOT NULL,
  period_count  INTEGER NOT NULL,
  source        TEXT    NOT NULL,
  identities    INTEGER NOT NULL,
  chunk_count   INTEGER NOT NULL,
  lease_ms      INTEGER NOT NULL,
  created_at_ms INTEGER NOT NULL          -- Unix milliseconds
);
CREATE TABLE IF NOT EXISTS provisioning_chunks (
  job_id           INTEGER NOT NULL REFERENCES provisioning_jobs(id),
  chunk_no         INTEGER NOT NULL,
  first_index      INTEGER NOT NULL,      -- position of its first identity in the population
  user_count       INTEGER NOT NULL,
  users            TEXT    NOT NULL,      -- the identity URIs, one per line
  state            TEXT    NOT NULL DEFAULT 'pending',  -- pending, leased, done
  lease_owner      TEXT,                  -- host:pid of the holder (of the completer, once done)
  lease_expires_ms INTEGER,
  attempts         INTEGER NOT NULL DEFAULT 0,
  takeovers        INTEGER NOT NULL DEFAULT 0,
  took_over        INTEGER NOT NULL DEFAULT 0,  -- the current lease began by taking over an expired one
  taken_from       TEXT,
  claimed_at_ms    INTEGER,
  done_at_ms       INTEGER,
  issued           INTEGER NOT NULL DEFAULT 0,
  present          INTEGER NOT NULL DEFAULT 0,
  revoked          INTEGER NOT NULL DEFAULT 0,
  failed           INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (job_id, chunk_no)
) WITHOUT ROWID;
)sql";

// SQLite creates a database 0644 (less the umask) and its -wal and -shm files with the database's
// permissions, so an empty file made 0600 here keeps all three from other users. An empty file is
// a valid empty database; one that exists is left as it is. A failure is left for sqlite3_open_v2.
void CreateOwnerOnly(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return;
  (void)fchmod(fd, 0600);  // the umask may have narrowed it; it cannot have widened it
  ::close(fd);
}

}  // namespace

// Switching a fresh file to WAL takes an exclusive lock. When several processes open the same
// fresh store at once, SQLite answers BUSY to the ones that lose without calling the busy handler
// (the switch is not retried by it), so the retry is here: up to 10 s, as the busy timeout.
Status sqlite::EnableWal(sqlite3* db) {
  Status st;
  for (int attempt = 0; attempt < 500; ++attempt) {
    st = sqlite::Exec(db, "PRAGMA journal_mode=WAL", "enabling WAL");
    if (st.ok() || (sqlite3_errcode(db) & 0xff) != SQLITE_BUSY) return st;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return st;
}

Result<std::shared_ptr<SqliteDatabase>> SqliteDatabase::Open(const std::filesystem::path& path) {
  std::shared_ptr<SqliteDatabase> db(new SqliteDatabase(path));
  MCX_RETURN_IF_ERROR(db->OpenConnections());
  return db;
}

SqliteDatabase::~SqliteDatabase() {
  {
    std::lock_guard<std::mutex> lock(checkpoint_mu_);
    stopping_ = true;
  }
  checkpoint_cv_.notify_all();
  if (checkpointer_.joinable()) checkpointer_.join();
}

Status SqliteDatabase::OpenConnections() {
  CreateOwnerOnly(path_);
  Result<sqlite::Db> w = Connect(/*create=*/true);
  if (!w.ok()) return w.status();
  writer_ = std::move(w).value();
  MCX_RETURN_IF_ERROR(sqlite::EnableWal(writer_.get()));
  MCX_RETURN_IF_ERROR(Migrate());
  // Checkpoints copy the WAL back into the database and fsync it. SQLite runs them inside the
  // commit that crosses the threshold, which would stall every writer (and the requests waiting
  // on them) for the length of an fsync; a thread of its own runs them instead.
  MCX_RETURN_IF_ERROR(sqlite::Exec(writer_.get(), "PRAGMA wal_autocheckpoint=0", "configuring checkpoints"));
  Result<sqlite::Db> c = Connect(/*create=*/false);
  if (!c.ok()) return c.status();
  checkpointer_ = std::thread([this, db = std::move(c).value()]() mutable { CheckpointLoop(std::move(db)); });
  return Status::Ok();
}

Result<sqlite::Db> SqliteDatabase::Connect(bool create) {
  sqlite::Db db;
  const int rc = sqlite::Open(path_, create, db);
  if (rc != SQLITE_OK) return sqlite::Error(db.get(), rc, "opening the store " + path_.string());
  sqlite3_busy_timeout(db.get(), 10000);
  MCX_RETURN_IF_ERROR(sqlite::Exec(db.get(), "PRAGMA synchronous=NORMAL", "configuring the store"));
  return db;
}

namespace {
Result<int> SchemaVersion(sqlite3* db) {
  sqlite::Stmt st;
  MCX_RETURN_IF_ERROR(sqlite::Prepare(db, "PRAGMA user_version", st));
  if (sqlite3_step(st.get()) != SQLITE_ROW) return sqlite::Error(db, SQLITE_ERROR, "reading the schema version");
  return sqlite3_column_int(st.get(), 0);
}
}  // namespace

Status SqliteDatabase::Migrate() {
  // A current store is not written to (it may be read-only to this user).
  Result<int> seen = SchemaVersion(writer_.get());
  if (!seen.ok()) return seen.status();
  if (*seen == kStoreSchemaVersion) return Status::Ok();
  // The version is read again inside the exclusive transaction: a process that waited for
  // another's migration sees the new version and has nothing left to do.
  return WriteTransaction("migrating the store's schema", [this](sqlite3* db) {
    Result<int> current = SchemaVersion(db);
    if (!current.ok()) return current.status();
    const int version = *current;
    if (version > kStoreSchemaVersion) {
      return Status::Unavailable("the store " + path_.string() + " has schema version " + std::to_string(version) +
                                 ", newer than this mcx-kms understands (" + std::to_string(kStoreSchemaVersion) +
                                 "): upgrade mcx-kms");
    }
    if (version == kStoreSchemaVersion) return Status::Ok();
    if (version < 1) MCX_RETURN_IF_ERROR(sqlite::Exec(db, kSchemaV1, "creating the schema"));
    if (version < 2) MCX_RETURN_IF_ERROR(sqlite::Exec(db, kSchemaV2, "adding key_sets.delivered_at"));
    if (version < 3) MCX_RETURN_IF_ERROR(sqlite::Exec(db, kSchemaV3, "adding the certificate lifecycle tables"));
    if (version < 4) MCX_RETURN_IF_ERROR(sqlite::Exec(db, kSchemaV4, "adding the provisioning job tables"));
    const std::string bump = "PRAGMA user_version = " + std::to_string(kStoreSchemaVersion);
    return sqlite::Exec(db, bump.c_str(), "recording the schema version");
  });
}

Status SqliteDatabase::WriteTransaction(const std::string& what, const std::function<Status(sqlite3*)>& body) {
  std::lock_guard<std::mutex> lock(write_mu_);
  sqlite3* db = writer_.get();
  MCX_RETURN_IF_ERROR(sqlite::Exec(db, "BEGIN IMMEDIATE", "starting a write transaction: " + what));
  Status s = body(db);
  if (s.ok()) s = sqlite::Exec(db, "COMMIT", "committing: " + what);
  if (!s.ok()) (void)sqlite::Exec(db, "ROLLBACK", "rolling back");
  return s;
}

Status SqliteDatabase::WithWriter(const std::function<Status(sqlite3*)>& body) {
  std::lock_guard<std::mutex> lock(write_mu_);
  return body(writer_.get());
}

SqliteDatabase::Reader::Reader(SqliteDatabase& owner) : owner_(owner) {
  {
    std::lock_guard<std::mutex> lock(owner_.pool_mu_);
    if (!owner_.pool_.empty()) {
      conn_ = std::move(owner_.pool_.back());
      owner_.pool_.pop_back();
    }
  }
  if (!conn_.db) {
    Result<sqlite::Db> d = owner_.Connect(/*create=*/false);
    if (d.ok()) conn_.db = std::move(d).value(); else status_ = d.status();
  }
}

SqliteDatabase::Reader::~Reader() {
  if (!conn_.db) return;
  for (auto& [sql, st] : conn_.statements) {
    sqlite3_reset(st.get());
    sqlite3_clear_bindings(st.get());  // bindings may point at the caller's strings
  }
  std::lock_guard<std::mutex> lock(owner_.pool_mu_);
  if (owner_.pool_.size() < 16) owner_.pool_.push_back(std::move(conn_));
}

Result<sqlite3_stmt*> SqliteDatabase::Reader::Cached(const char* sql) {
  for (auto& [cached_sql, st] : conn_.statements) {
    if (cached_sql == sql) return st.get();
  }
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v3(db(), sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
  sqlite::Stmt st(raw);
  if (rc != SQLITE_OK) return sqlite::Error(db(), rc, "preparing a store query");
  conn_.statements.emplace_back(sql, std::move(st));
  return raw;
}

// Passive checkpoints every half second: they never block readers or the writer.
void SqliteDatabase::CheckpointLoop(sqlite::Db db) {
  std::unique_lock<std::mutex> lock(checkpoint_mu_);
  while (!checkpoint_cv_.wait_for(lock, std::chrono::milliseconds(500), [this] { return stopping_; })) {
    lock.unlock();
    sqlite3_wal_checkpoint_v2(db.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    lock.lock();
  }
}

}  // namespace mcx
