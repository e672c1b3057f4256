#include "engine/store/sqlite_key_store.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

namespace mcx {
namespace {

struct DbClose { void operator()(sqlite3* db) const { sqlite3_close_v2(db); } };
struct StmtFinalize { void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); } };
using Db = std::unique_ptr<sqlite3, DbClose>;
using Stmt = std::unique_ptr<sqlite3_stmt, StmtFinalize>;

// SQLite's own words plus what an operator can do about the usual causes.
Status SqliteError(sqlite3* db, int rc, const std::string& what) {
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
    default:
      return Status::Unavailable(msg);
  }
}

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

class SqliteKeyStore final : public KeyStore {
 public:
  SqliteKeyStore(std::filesystem::path path, std::string cert_uri)
      : path_(std::move(path)), cert_uri_(std::move(cert_uri)) {}

  ~SqliteKeyStore() override {
    {
      std::lock_guard<std::mutex> lock(checkpoint_mu_);
      stopping_ = true;
    }
    checkpoint_cv_.notify_all();
    if (checkpointer_.joinable()) checkpointer_.join();
  }

  Status Open() {
    CreateOwnerOnly(path_);
    Result<Db> w = Connect(/*create=*/true);
    if (!w.ok()) return w.status();
    writer_ = std::move(w).value();
    MCX_RETURN_IF_ERROR(Exec(writer_.get(), "PRAGMA journal_mode=WAL", "enabling WAL"));
    MCX_RETURN_IF_ERROR(Migrate());
    // Checkpoints copy the WAL back into the database and fsync it. SQLite runs them inside the
    // commit that crosses the threshold, which would stall every writer (and the requests
    // waiting on them) for the length of an fsync; a thread of its own runs them instead.
    MCX_RETURN_IF_ERROR(Exec(writer_.get(), "PRAGMA wal_autocheckpoint=0", "configuring checkpoints"));
    Result<Db> c = Connect(/*create=*/false);
    if (!c.ok()) return c.status();
    checkpointer_ = std::thread([this, db = std::move(c).value()]() mutable { CheckpointLoop(std::move(db)); });
    return Status::Ok();
  }

  Result<size_t> InsertBatch(std::span<const SealedKeySet> records) override {
    return StepEachInTransaction(kInsertSql, records.size(), "inserting key sets",
                                 [&](sqlite3_stmt* st, size_t i) { return BindRecord(st, records[i]); });
  }

  Result<SealedKeySet> InsertOrGet(const SealedKeySet& record) override {
    Result<size_t> n = InsertBatch(std::span<const SealedKeySet>(&record, 1));
    if (!n.ok()) return n.status();
    if (*n == 1) return record;
    Result<std::optional<SealedKeySet>> found = Find(record.user_uri, record.period.number);
    if (!found.ok()) return found.status();
    if (!found->has_value()) return Status::Internal("a key set vanished between insert and read");
    return std::move(**found);
  }

  Result<std::optional<SealedKeySet>> Find(const std::string& user_uri, uint64_t key_period_no) override {
    Reader r(*this);
    if (!r.ok()) return r.status();
    Stmt st;
    MCX_RETURN_IF_ERROR(Prepare(r.db(), kFindSql, st));
    BindKey(st.get(), user_uri, key_period_no);
    int rc = sqlite3_step(st.get());
    if (rc == SQLITE_DONE) return std::optional<SealedKeySet>();
    if (rc != SQLITE_ROW) return SqliteError(r.db(), rc, "reading a key set");
    return std::optional<SealedKeySet>(ReadRecord(st.get(), user_uri, key_period_no));
  }

  Result<std::vector<bool>> ContainsMany(std::span<const std::string> user_uris, uint64_t key_period_no) override {
    std::vector<bool> present(user_uris.size(), false);
    if (user_uris.empty()) return present;
    Reader r(*this);
    if (!r.ok()) return r.status();
    // One query per chunk of URIs (SQLite allows 32766 parameters; chunks keep statements small).
    constexpr size_t kChunk = 256;
    std::unordered_map<std::string_view, std::vector<size_t>> where;
    for (size_t i = 0; i < user_uris.size(); ++i) where[user_uris[i]].push_back(i);
    for (size_t start = 0; start < user_uris.size(); start += kChunk) {
      const size_t n = std::min(kChunk, user_uris.size() - start);
      std::string sql = "SELECT user_uri FROM key_sets WHERE cert_uri = ?1 AND key_period_no = ?2 AND user_uri IN (";
      for (size_t i = 0; i < n; ++i) sql += i == 0 ? "?" : ",?";
      sql += ")";
      Stmt st;
      MCX_RETURN_IF_ERROR(Prepare(r.db(), sql.c_str(), st));
      sqlite3_bind_text(st.get(), 1, cert_uri_.data(), static_cast<int>(cert_uri_.size()), SQLITE_STATIC);
      sqlite3_bind_int64(st.get(), 2, static_cast<sqlite3_int64>(key_period_no));
      for (size_t i = 0; i < n; ++i) {
        const std::string& u = user_uris[start + i];
        sqlite3_bind_text(st.get(), static_cast<int>(3 + i), u.data(), static_cast<int>(u.size()), SQLITE_STATIC);
      }
      int rc;
      while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
        std::string_view found(reinterpret_cast<const char*>(sqlite3_column_text(st.get(), 0)),
                               static_cast<size_t>(sqlite3_column_bytes(st.get(), 0)));
        auto it = where.find(found);
        if (it != where.end()) {
          for (size_t idx : it->second) present[idx] = true;
        }
      }
      if (rc != SQLITE_DONE) return SqliteError(r.db(), rc, "looking up key sets");
    }
    return present;
  }

  Result<uint64_t> CountKeySets() override {
    Reader r(*this);
    if (!r.ok()) return r.status();
    Stmt st;
    MCX_RETURN_IF_ERROR(Prepare(r.db(), "SELECT count(*) FROM key_sets WHERE cert_uri = ?1", st));
    sqlite3_bind_text(st.get(), 1, cert_uri_.data(), static_cast<int>(cert_uri_.size()), SQLITE_STATIC);
    int rc = sqlite3_step(st.get());
    if (rc != SQLITE_ROW) return SqliteError(r.db(), rc, "counting key sets");
    return static_cast<uint64_t>(sqlite3_column_int64(st.get(), 0));
  }

  Status ScanKeySets(const std::function<Status(const SealedKeySet&)>& visit) override {
    Reader r(*this);
    if (!r.ok()) return r.status();
    Stmt st;
    MCX_RETURN_IF_ERROR(Prepare(r.db(),
                                "SELECT valid_from, valid_to, uid, pvt, nonce, sealed, user_uri, key_period_no "
                                "FROM key_sets WHERE cert_uri = ?1 ORDER BY user_uri, key_period_no",
                                st));
    sqlite3_bind_text(st.get(), 1, cert_uri_.data(), static_cast<int>(cert_uri_.size()), SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
      const auto* uri = reinterpret_cast<const char*>(sqlite3_column_text(st.get(), 6));
      std::string user_uri(uri ? uri : "", static_cast<size_t>(sqlite3_column_bytes(st.get(), 6)));
      const auto period = static_cast<uint64_t>(sqlite3_column_int64(st.get(), 7));
      MCX_RETURN_IF_ERROR(visit(ReadRecord(st.get(), user_uri, period)));
    }
    if (rc != SQLITE_DONE) return SqliteError(r.db(), rc, "scanning key sets");
    return Status::Ok();
  }

  Result<KeySetCounts> CountByState() override {
    Reader r(*this);
    if (!r.ok()) return r.status();
    Stmt st;
    MCX_RETURN_IF_ERROR(
        Prepare(r.db(), "SELECT state, count(*) FROM key_sets WHERE cert_uri = ?1 GROUP BY state", st));
    sqlite3_bind_text(st.get(), 1, cert_uri_.data(), static_cast<int>(cert_uri_.size()), SQLITE_STATIC);
    KeySetCounts counts;
    int rc;
    while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
      const auto n = static_cast<uint64_t>(sqlite3_column_int64(st.get(), 1));
      switch (sqlite3_column_int(st.get(), 0)) {
        case static_cast<int>(KeySetState::kIssued): counts.issued += n; break;
        case static_cast<int>(KeySetState::kDelivered): counts.delivered += n; break;
        case static_cast<int>(KeySetState::kRevoked): counts.revoked += n; break;
        default: return Status::DataLoss("the store holds key sets in an unknown state: upgrade mcx-kms");
      }
    }
    if (rc != SQLITE_DONE) return SqliteError(r.db(), rc, "counting key sets by state");
    return counts;
  }

  Result<size_t> MarkDelivered(std::span<const KeySetRef> keys, int64_t unix_seconds) override {
    return StepEachInTransaction(
        "UPDATE key_sets SET state = 1, delivered_at = ?4 "
        "WHERE cert_uri = ?1 AND user_uri = ?2 AND key_period_no = ?3 AND state = 0",
        keys.size(), "marking key sets delivered", [&](sqlite3_stmt* st, size_t i) {
          BindKey(st, keys[i].user_uri, keys[i].key_period_no);
          sqlite3_bind_int64(st, 4, unix_seconds);
          return Status::Ok();
        });
  }

  Status SetState(const std::string& user_uri, uint64_t key_period_no, KeySetState state) override {
    std::lock_guard<std::mutex> lock(write_mu_);
    Stmt st;
    MCX_RETURN_IF_ERROR(Prepare(writer_.get(),
                                "UPDATE key_sets SET state = ?4 WHERE cert_uri = ?1 AND user_uri = ?2 AND key_period_no = ?3",
                                st));
    BindKey(st.get(), user_uri, key_period_no);
    sqlite3_bind_int(st.get(), 4, static_cast<int>(state));
    int rc = sqlite3_step(st.get());
    if (rc != SQLITE_DONE) return SqliteError(writer_.get(), rc, "updating a key set's state");
    if (sqlite3_changes(writer_.get()) == 0) {
      return Status::NotFound("no key set of " + user_uri + " for period " + std::to_string(key_period_no));
    }
    return Status::Ok();
  }

  Status PutBlob(std::string_view name, ByteView value) override {
    std::lock_guard<std::mutex> lock(write_mu_);
    Stmt st;
    MCX_RETURN_IF_ERROR(Prepare(writer_.get(), "INSERT OR REPLACE INTO kms_state(name, value) VALUES (?1, ?2)", st));
    sqlite3_bind_text(st.get(), 1, name.data(), static_cast<int>(name.size()), SQLITE_STATIC);
    sqlite3_bind_blob(st.get(), 2, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
    int rc = sqlite3_step(st.get());
    if (rc != SQLITE_DONE) return SqliteError(writer_.get(), rc, "saving KMS state '" + std::string(name) + "'");
    return Status::Ok();
  }

  Status PutBlobs(std::span<const std::pair<std::string_view, ByteView>> blobs) override {
    Result<size_t> n = StepEachInTransaction("INSERT OR REPLACE INTO kms_state(name, value) VALUES (?1, ?2)",
                                             blobs.size(), "saving KMS state", [&](sqlite3_stmt* st, size_t i) {
                                               const auto& [name, value] = blobs[i];
                                               sqlite3_bind_text(st, 1, name.data(), static_cast<int>(name.size()),
                                                                 SQLITE_STATIC);
                                               sqlite3_bind_blob(st, 2, value.data(), static_cast<int>(value.size()),
                                                                 SQLITE_STATIC);
                                               return Status::Ok();
                                             });
    return n.status();
  }

  Result<Bytes> PutBlobIfAbsent(std::string_view name, ByteView value) override {
    {
      std::lock_guard<std::mutex> lock(write_mu_);
      Stmt st;
      MCX_RETURN_IF_ERROR(Prepare(writer_.get(), "INSERT OR IGNORE INTO kms_state(name, value) VALUES (?1, ?2)", st));
      sqlite3_bind_text(st.get(), 1, name.data(), static_cast<int>(name.size()), SQLITE_STATIC);
      sqlite3_bind_blob(st.get(), 2, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
      int rc = sqlite3_step(st.get());
      if (rc != SQLITE_DONE) return SqliteError(writer_.get(), rc, "saving KMS state '" + std::string(name) + "'");
    }
    Result<std::optional<Bytes>> kept = GetBlob(name);
    if (!kept.ok()) return kept.status();
    if (!kept->has_value()) return Status::Internal("KMS state '" + std::string(name) + "' vanished after it was saved");
    return std::move(**kept);
  }

  Result<std::optional<Bytes>> GetBlob(std::string_view name) override {
    Reader r(*this);
    if (!r.ok()) return r.status();
    Stmt st;
    MCX_RETURN_IF_ERROR(Prepare(r.db(), "SELECT value FROM kms_state WHERE name = ?1", st));
    sqlite3_bind_text(st.get(), 1, name.data(), static_cast<int>(name.size()), SQLITE_STATIC);
    int rc = sqlite3_step(st.get());
    if (rc == SQLITE_DONE) return std::optional<Bytes>();
    if (rc != SQLITE_ROW) return SqliteError(r.db(), rc, "reading KMS state '" + std::string(name) + "'");
    const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(st.get(), 0));
    return std::optional<Bytes>(Bytes(p, p + sqlite3_column_bytes(st.get(), 0)));
  }

  // Ready means the store takes writes, not only reads: a database SQLite opened read-only (its
  // file not writable by this user), a full disk or a lock held elsewhere all fail here, where a
  // read would pass. One tiny row rewritten in its own transaction; it waits behind at most one
  // writer's transaction.
  Status Ping() override {
    std::lock_guard<std::mutex> lock(write_mu_);
    const std::string what = "the store " + path_.string() + " does not take writes";
    MCX_RETURN_IF_ERROR(
        Exec(writer_.get(), "INSERT OR REPLACE INTO kms_state(name, value) VALUES ('readiness-probe', x'01')", what));
    return Status::Ok();
  }

 private:
  static constexpr const char* kInsertSql =
      "INSERT OR IGNORE INTO key_sets (cert_uri, user_uri, key_period_no, valid_from, valid_to, uid, pvt, nonce, "
      "sealed, issued_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, unixepoch())";
  static constexpr const char* kFindSql =
      "SELECT valid_from, valid_to, uid, pvt, nonce, sealed FROM key_sets "
      "WHERE cert_uri = ?1 AND user_uri = ?2 AND key_period_no = ?3";

  // Borrows a read connection from the pool for one call.
  class Reader {
   public:
    explicit Reader(SqliteKeyStore& store) : store_(store) {
      std::lock_guard<std::mutex> lock(store_.pool_mu_);
      if (!store_.pool_.empty()) {
        db_ = std::move(store_.pool_.back());
        store_.pool_.pop_back();
      }
      if (!db_) {
        Result<Db> d = store_.Connect(/*create=*/false);
        if (d.ok()) db_ = std::move(d).value(); else status_ = d.status();
      }
    }
    ~Reader() {
      if (!db_) return;
      std::lock_guard<std::mutex> lock(store_.pool_mu_);
      if (store_.pool_.size() < 16) store_.pool_.push_back(std::move(db_));
    }
    bool ok() const { return status_.ok(); }
    const Status& status() const { return status_; }
    sqlite3* db() const { return db_.get(); }

   private:
    SqliteKeyStore& store_;
    Db db_;
    Status status_;
  };

  // SQLite creates a database 0644 (less the umask) and its -wal and -shm files with the
  // database's permissions, so an empty file made 0600 here keeps all three from other users. An
  // empty file is a valid empty database; one that exists is left as it is. A failure is left for
  // sqlite3_open_v2 to report.
  static void CreateOwnerOnly(const std::filesystem::path& path) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return;
    (void)fchmod(fd, 0600);  // the umask may have narrowed it; it cannot have widened it
    ::close(fd);
  }

  Result<Db> Connect(bool create) {
    sqlite3* raw = nullptr;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    int rc = sqlite3_open_v2(path_.c_str(), &raw, flags, nullptr);
    Db db(raw);
    if (rc != SQLITE_OK) return SqliteError(db.get(), rc, "opening the store " + path_.string());
    sqlite3_busy_timeout(db.get(), 10000);
    MCX_RETURN_IF_ERROR(Exec(db.get(), "PRAGMA synchronous=NORMAL", "configuring the store"));
    return db;
  }

  static Status Exec(sqlite3* db, const char* sql, const std::string& what) {
    int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
    return rc == SQLITE_OK ? Status::Ok() : SqliteError(db, rc, what);
  }

  static Status Prepare(sqlite3* db, const char* sql, Stmt& out) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(db, sql, -1, &raw, nullptr);
    out.reset(raw);
    return rc == SQLITE_OK ? Status::Ok() : SqliteError(db, rc, "preparing a store query");
  }

  // Runs `sql` once per item (bound by `bind(statement, i)`) in one write transaction, all or
  // nothing, and returns how many rows changed.
  Result<size_t> StepEachInTransaction(const char* sql, size_t items, const char* what,
                                       const std::function<Status(sqlite3_stmt*, size_t)>& bind) {
    std::lock_guard<std::mutex> lock(write_mu_);
    sqlite3* db = writer_.get();
    MCX_RETURN_IF_ERROR(Exec(db, "BEGIN IMMEDIATE", "starting a write transaction"));
    size_t changed = 0;
    Stmt st;
    Status s = Prepare(db, sql, st);
    for (size_t i = 0; s.ok() && i < items; ++i) {
      s = bind(st.get(), i);
      const int rc = s.ok() ? sqlite3_step(st.get()) : SQLITE_OK;
      if (s.ok() && rc != SQLITE_DONE) s = SqliteError(db, rc, what);
      if (s.ok()) changed += static_cast<size_t>(sqlite3_changes(db));
      sqlite3_reset(st.get());
    }
    if (s.ok()) s = Exec(db, "COMMIT", std::string("committing: ") + what);
    if (!s.ok()) {
      (void)Exec(db, "ROLLBACK", "rolling back");
      return s;
    }
    return changed;
  }

  Status Migrate() {
    sqlite3* db = writer_.get();
    Stmt st;
    MCX_RETURN_IF_ERROR(Prepare(db, "PRAGMA user_version", st));
    if (sqlite3_step(st.get()) != SQLITE_ROW) return SqliteError(db, SQLITE_ERROR, "reading the schema version");
    const int version = sqlite3_column_int(st.get(), 0);
    st.reset();
    if (version > kStoreSchemaVersion) {
      return Status::Unavailable("the store " + path_.string() + " has schema version " + std::to_string(version) +
                                 ", newer than this mcx-kms understands (" + std::to_string(kStoreSchemaVersion) +
                                 "): upgrade mcx-kms");
    }
    if (version == kStoreSchemaVersion) return Status::Ok();
    // Migrations run in order, each in the same transaction as its version bump.
    MCX_RETURN_IF_ERROR(Exec(db, "BEGIN IMMEDIATE", "starting the schema migration"));
    Status s = Status::Ok();
    if (version < 1) s = Exec(db, kSchemaV1, "creating the schema");
    if (s.ok() && version < 2) s = Exec(db, kSchemaV2, "adding key_sets.delivered_at");
    if (s.ok()) s = Exec(db, "PRAGMA user_version = 2", "recording the schema version");
    if (s.ok()) s = Exec(db, "COMMIT", "committing the schema migration");
    if (!s.ok()) (void)Exec(db, "ROLLBACK", "rolling back");
    return s;
  }

  void BindKey(sqlite3_stmt* st, const std::string& user_uri, uint64_t key_period_no) const {
    sqlite3_bind_text(st, 1, cert_uri_.data(), static_cast<int>(cert_uri_.size()), SQLITE_STATIC);
    sqlite3_bind_text(st, 2, user_uri.data(), static_cast<int>(user_uri.size()), SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, static_cast<sqlite3_int64>(key_period_no));
  }

  Status BindRecord(sqlite3_stmt* st, const SealedKeySet& r) const {
    BindKey(st, r.user_uri, r.period.number);
    // NTP seconds fit in SQLite's signed 64 bits until the year 292 billion; store the bits as is.
    sqlite3_bind_int64(st, 4, static_cast<sqlite3_int64>(r.period.valid_from));
    sqlite3_bind_int64(st, 5, static_cast<sqlite3_int64>(r.period.valid_to));
    sqlite3_bind_blob(st, 6, r.uid.data(), static_cast<int>(r.uid.size()), SQLITE_STATIC);
    sqlite3_bind_blob(st, 7, r.pvt.data(), static_cast<int>(r.pvt.size()), SQLITE_STATIC);
    sqlite3_bind_blob(st, 8, r.nonce.data(), static_cast<int>(r.nonce.size()), SQLITE_STATIC);
    sqlite3_bind_blob(st, 9, r.sealed.data(), static_cast<int>(r.sealed.size()), SQLITE_STATIC);
    return Status::Ok();
  }

  template <size_t N>
  static void CopyColumn(sqlite3_stmt* st, int col, std::array<uint8_t, N>& out) {
    const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(st, col));
    size_t n = std::min<size_t>(N, static_cast<size_t>(sqlite3_column_bytes(st, col)));
    out.fill(0);
    if (p) std::copy(p, p + n, out.begin());
  }

  static SealedKeySet ReadRecord(sqlite3_stmt* st, const std::string& user_uri, uint64_t key_period_no) {
    SealedKeySet r;
    r.user_uri = user_uri;
    r.period.number = key_period_no;
    r.period.valid_from = static_cast<NtpSeconds>(sqlite3_column_int64(st, 0));
    r.period.valid_to = static_cast<NtpSeconds>(sqlite3_column_int64(st, 1));
    // A column of the wrong size is copied short and then fails to open: the GCM tag covers it.
    CopyColumn(st, 2, r.uid);
    CopyColumn(st, 3, r.pvt);
    CopyColumn(st, 4, r.nonce);
    CopyColumn(st, 5, r.sealed);
    return r;
  }

  std::filesystem::path path_;
  std::string cert_uri_;
  std::mutex write_mu_;
  Db writer_;
  std::mutex pool_mu_;
  std::vector<Db> pool_;

  // Passive checkpoints every half second: they never block readers or the writer.
  void CheckpointLoop(Db db) {
    std::unique_lock<std::mutex> lock(checkpoint_mu_);
    while (!checkpoint_cv_.wait_for(lock, std::chrono::milliseconds(500), [this] { return stopping_; })) {
      lock.unlock();
      sqlite3_wal_checkpoint_v2(db.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
      lock.lock();
    }
  }
  std::mutex checkpoint_mu_;
  std::condition_variable checkpoint_cv_;
  bool stopping_ = false;
  std::thread checkpointer_;
};

}  // namespace

Result<std::unique_ptr<KeyStore>> OpenSqliteKeyStore(const std::filesystem::path& path, const std::string& cert_uri) {
  auto store = std::make_unique<SqliteKeyStore>(path, cert_uri);
  MCX_RETURN_IF_ERROR(store->Open());
  return std::unique_ptr<KeyStore>(std::move(store));
}

}  // namespace mcx
