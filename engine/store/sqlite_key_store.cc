#include "engine/store/sqlite_key_store.h"

#include <unordered_map>
#include <vector>

#include "engine/store/sqlite_database.h"
#include "engine/store/sqlite_lifecycle_store.h"

namespace mcx {
namespace {

using sqlite::Db;
using sqlite::Exec;
using sqlite::Prepare;
using sqlite::Stmt;
Status SqliteErrorOf(sqlite3* db, int rc, const std::string& what) { return sqlite::Error(db, rc, what); }

class SqliteKeyStore final : public KeyStore {
 public:
  SqliteKeyStore(std::shared_ptr<SqliteDatabase> db, std::shared_ptr<LifecycleStore> lifecycle, std::string cert_uri)
      : db_(std::move(db)), lifecycle_(std::move(lifecycle)), cert_uri_(std::move(cert_uri)) {}

  const std::string& cert_uri() const override { return cert_uri_; }
  LifecycleStore& lifecycle() override { return *lifecycle_; }
  std::unique_ptr<KeyStore> ForCertificate(const std::string& cert_uri) override {
    return std::make_unique<SqliteKeyStore>(db_, lifecycle_, cert_uri);
  }

  Result<size_t> InsertBatch(std::span<const SealedKeySet> records) override {
    return StepEachInTransaction(kInsertSql, records.size(), "inserting key sets",
                                 [&](sqlite3_stmt* st, size_t i) { return BindRecord(st, records[i]); });
  }

  Result<std::optional<SealedKeySet>> Find(const std::string& user_uri, uint64_t key_period_no) override {
    SqliteDatabase::Reader r(*db_);
    if (!r.ok()) return r.status();
    Result<sqlite3_stmt*> st = r.Cached(kFindSql);
    if (!st.ok()) return st.status();
    BindKey(*st, user_uri, key_period_no);
    int rc = sqlite3_step(*st);
    if (rc == SQLITE_DONE) return std::optional<SealedKeySet>();
    if (rc != SQLITE_ROW) return SqliteErrorOf(r.db(), rc, "reading a key set");
    SealedKeySet found = ReadRecord(*st, user_uri, key_period_no);
    SetMarksFromState(found, sqlite3_column_int(*st, 6));
    return std::optional<SealedKeySet>(std::move(found));
  }

  // In process, a query costs no round trip: one Find after the other.
  Result<std::vector<std::optional<SealedKeySet>>> FindMany(std::span<const KeySetRef> keys) override {
    std::vector<std::optional<SealedKeySet>> found;
    found.reserve(keys.size());
    for (const KeySetRef& k : keys) {
      Result<std::optional<SealedKeySet>> one = Find(k.user_uri, k.key_period_no);
      if (!one.ok()) return one.status();
      found.push_back(std::move(one).value());
    }
    return found;
  }

  Result<std::vector<bool>> ContainsMany(std::span<const std::string> user_uris, uint64_t key_period_no) override {
    std::vector<bool> present(user_uris.size(), false);
    if (user_uris.empty()) return present;
    SqliteDatabase::Reader r(*db_);
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
      if (rc != SQLITE_DONE) return SqliteErrorOf(r.db(), rc, "looking up key sets");
    }
    return present;
  }

  Result<uint64_t> CountKeySets() override {
    SqliteDatabase::Reader r(*db_);
    if (!r.ok()) return r.status();
    Stmt st;
    MCX_RETURN_IF_ERROR(Prepare(r.db(), "SELECT count(*) FROM key_sets WHERE cert_uri = ?1", st));
    sqlite3_bind_text(st.get(), 1, cert_uri_.data(), static_cast<int>(cert_uri_.size()), SQLITE_STATIC);
    int rc = sqlite3_step(st.get());
    if (rc != SQLITE_ROW) return SqliteErrorOf(r.db(), rc, "counting key sets");
    return static_cast<uint64_t>(sqlite3_column_int64(st.get(), 0));
  }

  Status ScanKeySets(const std::function<Status(const SealedKeySet&)>& visit) override {
    SqliteDatabase::Reader r(*db_);
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
    if (rc != SQLITE_DONE) return SqliteErrorOf(r.db(), rc, "scanning key sets");
    return Status::Ok();
  }

  Result<KeySetCounts> CountByState() override {
    SqliteDatabase::Reader r(*db_);
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
    if (rc != SQLITE_DONE) return SqliteErrorOf(r.db(), rc, "counting key sets by state");
    return counts;
  }

  Result<size_t> MarkDelivered(std::span<const KeySetRef> keys, int64_t unix_seconds,
                               std::vector<KeySetRef>* first) override {
    std::vector<KeySetRef> changed;
    Result<size_t> n = StepEachInTransaction(
        "UPDATE key_sets SET state = 1, delivered_at = ?4 "
        "WHERE cert_uri = ?1 AND user_uri = ?2 AND key_period_no = ?3 AND state = 0",
        keys.size(), "marking key sets delivered",
        [&](sqlite3_stmt* st, size_t i) {
          BindKey(st, keys[i].user_uri, keys[i].key_period_no);
          sqlite3_bind_int64(st, 4, unix_seconds);
          return Status::Ok();
        },
        first != nullptr ? [&](size_t i) { changed.push_back(keys[i]); } : std::function<void(size_t)>());
    if (n.ok() && first != nullptr) *first = std::move(changed);
    return n;
  }

  Status SetState(const std::string& user_uri, uint64_t key_period_no, KeySetState state) override {
    return db_->WithWriter([&](sqlite3* db) -> Status {
      Stmt st;
      MCX_RETURN_IF_ERROR(
          Prepare(db, "UPDATE key_sets SET state = ?4 WHERE cert_uri = ?1 AND user_uri = ?2 AND key_period_no = ?3", st));
      BindKey(st.get(), user_uri, key_period_no);
      sqlite3_bind_int(st.get(), 4, static_cast<int>(state));
      int rc = sqlite3_step(st.get());
      if (rc != SQLITE_DONE) return SqliteErrorOf(db, rc, "updating a key set's state");
      if (sqlite3_changes(db) == 0) {
        return Status::NotFound("no key set of " + user_uri + " for period " + std::to_string(key_period_no));
      }
      return Status::Ok();
    });
  }

  Status PutBlob(std::string_view name, ByteView value) override {
    return db_->WithWriter([&](sqlite3* db) -> Status {
      Stmt st;
      MCX_RETURN_IF_ERROR(Prepare(db, "INSERT OR REPLACE INTO kms_state(name, value) VALUES (?1, ?2)", st));
      sqlite3_bind_text(st.get(), 1, name.data(), static_cast<int>(name.size()), SQLITE_STATIC);
      sqlite3_bind_blob(st.get(), 2, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
      int rc = sqlite3_step(st.get());
      if (rc != SQLITE_DONE) return SqliteErrorOf(db, rc, "saving KMS state '" + std::string(name) + "'");
      return Status::Ok();
    });
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
    MCX_RETURN_IF_ERROR(db_->WithWriter([&](sqlite3* db) -> Status {
      Stmt st;
      MCX_RETURN_IF_ERROR(Prepare(db, "INSERT OR IGNORE INTO kms_state(name, value) VALUES (?1, ?2)", st));
      sqlite3_bind_text(st.get(), 1, name.data(), static_cast<int>(name.size()), SQLITE_STATIC);
      sqlite3_bind_blob(st.get(), 2, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
      int rc = sqlite3_step(st.get());
      if (rc != SQLITE_DONE) return SqliteErrorOf(db, rc, "saving KMS state '" + std::string(name) + "'");
      return Status::Ok();
    }));
    Result<std::optional<Bytes>> kept = GetBlob(name);
    if (!kept.ok()) return kept.status();
    if (!kept->has_value()) return Status::Internal("KMS state '" + std::string(name) + "' vanished after it was saved");
    return std::move(**kept);
  }

  Result<std::optional<Bytes>> GetBlob(std::string_view name) override {
    SqliteDatabase::Reader r(*db_);
    if (!r.ok()) return r.status();
    Stmt st;
    MCX_RETURN_IF_ERROR(Prepare(r.db(), "SELECT value FROM kms_state WHERE name = ?1", st));
    sqlite3_bind_text(st.get(), 1, name.data(), static_cast<int>(name.size()), SQLITE_STATIC);
    int rc = sqlite3_step(st.get());
    if (rc == SQLITE_DONE) return std::optional<Bytes>();
    if (rc != SQLITE_ROW) return SqliteErrorOf(r.db(), rc, "reading KMS state '" + std::string(name) + "'");
    const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(st.get(), 0));
    return std::optional<Bytes>(Bytes(p, p + sqlite3_column_bytes(st.get(), 0)));
  }

  // Ready means the store takes writes, not only reads: a database SQLite opened read-only (its
  // file not writable by this user), a full disk or a lock held elsewhere all fail here, where a
  // read would pass. One tiny row rewritten in its own transaction; it waits behind at most one
  // writer's transaction.
  Status Ping() override {
    const std::string what = "the store " + db_->path().string() + " does not take writes";
    return db_->WithWriter([&](sqlite3* db) {
      return Exec(db, "INSERT OR REPLACE INTO kms_state(name, value) VALUES ('readiness-probe', x'01')", what);
    });
  }

 private:
  static constexpr const char* kInsertSql =
      "INSERT OR IGNORE INTO key_sets (cert_uri, user_uri, key_period_no, valid_from, valid_to, uid, pvt, nonce, "
      "sealed, issued_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, unixepoch())";
  static constexpr const char* kFindSql =
      "SELECT valid_from, valid_to, uid, pvt, nonce, sealed, state FROM key_sets "
      "WHERE cert_uri = ?1 AND user_uri = ?2 AND key_period_no = ?3";

  // Runs `sql` once per item (bound by `bind(statement, i)`) in one write transaction, all or
  // nothing, and returns how many rows changed.
  // `changed(i)`, when given, is called for each item that changed a row.
  Result<size_t> StepEachInTransaction(const char* sql, size_t items, const char* what,
                                       const std::function<Status(sqlite3_stmt*, size_t)>& bind,
                                       const std::function<void(size_t)>& changed_item = nullptr) {
    size_t changed = 0;
    Status s = db_->WriteTransaction(what, [&](sqlite3* db) -> Status {
      Stmt st;
      MCX_RETURN_IF_ERROR(Prepare(db, sql, st));
      for (size_t i = 0; i < items; ++i) {
        MCX_RETURN_IF_ERROR(bind(st.get(), i));
        const int rc = sqlite3_step(st.get());
        if (rc != SQLITE_DONE) return SqliteErrorOf(db, rc, what);
        const auto n = static_cast<size_t>(sqlite3_changes(db));
        changed += n;
        if (n != 0 && changed_item) changed_item(i);
        sqlite3_reset(st.get());
      }
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return changed;
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

  std::shared_ptr<SqliteDatabase> db_;
  std::shared_ptr<LifecycleStore> lifecycle_;
  std::string cert_uri_;
};

}  // namespace

Result<std::unique_ptr<KeyStore>> OpenSqliteKeyStore(const std::filesystem::path& path, const std::string& cert_uri) {
  Result<std::shared_ptr<SqliteDatabase>> db = SqliteDatabase::Open(path);
  if (!db.ok()) return db.status();
  std::shared_ptr<LifecycleStore> lifecycle = NewSqliteLifecycleStore(*db);
  return std::unique_ptr<KeyStore>(std::make_unique<SqliteKeyStore>(*db, std::move(lifecycle), cert_uri));
}

}  // namespace mcx
