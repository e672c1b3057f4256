#include "engine/store/sqlite_lifecycle_store.h"

#include <ctime>

namespace mcx {
namespace {

using sqlite::Error;
using sqlite::Exec;
using sqlite::Prepare;
using sqlite::BindText;
using sqlite::ColumnText;
using sqlite::Stmt;

void BindBlob(sqlite3_stmt* st, int i, const Bytes& b) {
  if (b.empty()) sqlite3_bind_null(st, i);
  else sqlite3_bind_blob(st, i, b.data(), static_cast<int>(b.size()), SQLITE_STATIC);
}
Bytes ColumnBlob(sqlite3_stmt* st, int i) {
  const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(st, i));
  return p ? Bytes(p, p + sqlite3_column_bytes(st, i)) : Bytes();
}

// Runs one statement with its parameters bound by `bind`; returns how many rows changed.
Result<size_t> Run(sqlite3* db, const char* sql, const std::function<void(sqlite3_stmt*)>& bind,
                   const std::string& what) {
  Stmt st;
  MCX_RETURN_IF_ERROR(Prepare(db, sql, st));
  if (bind) bind(st.get());
  const int rc = sqlite3_step(st.get());
  if (rc != SQLITE_DONE) return Error(db, rc, what);
  return static_cast<size_t>(sqlite3_changes(db));
}

Status MoveCounters(sqlite3* db, bool cache_num) {
  const char* sql = cache_num ? "UPDATE counters SET value = value + 1 WHERE name IN ('cache_num', 'generation')"
                              : "UPDATE counters SET value = value + 1 WHERE name = 'generation'";
  return Exec(db, sql, "moving the lifecycle counters");
}

class SqliteLifecycleStore final : public LifecycleStore {
 public:
  explicit SqliteLifecycleStore(std::shared_ptr<SqliteDatabase> db) : db_(std::move(db)) {}

  Result<std::vector<StoredCertificate>> ListCertificates() override {
    SqliteDatabase::Reader r(*db_);
    if (!r.ok()) return r.status();
    Stmt st;
    MCX_RETURN_IF_ERROR(Prepare(r.db(),
                                "SELECT cert_uri, own, record, sealed_z, sealed_ksak, valid_from, valid_to, revoked, "
                                "expired, added_at FROM certificates ORDER BY rowid",
                                st));
    std::vector<StoredCertificate> out;
    int rc;
    while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
      StoredCertificate c;
      c.cert_uri = ColumnText(st.get(), 0);
      c.own = sqlite3_column_int(st.get(), 1) != 0;
      c.record = ColumnBlob(st.get(), 2);
      c.sealed_z = ColumnBlob(st.get(), 3);
      c.sealed_ksak = ColumnBlob(st.get(), 4);
      c.valid_from = static_cast<NtpSeconds>(sqlite3_column_int64(st.get(), 5));
      c.valid_to = static_cast<NtpSeconds>(sqlite3_column_int64(st.get(), 6));
      c.revoked = sqlite3_column_int(st.get(), 7) != 0;
      c.expired = sqlite3_column_int(st.get(), 8) != 0;
      c.added_at = sqlite3_column_int64(st.get(), 9);
      out.push_back(std::move(c));
    }
    if (rc != SQLITE_DONE) return Error(r.db(), rc, "reading the certificates");
    return out;
  }

  Status AddCertificate(const StoredCertificate& c) override {
    return db_->WriteTransaction("adding certificate " + c.cert_uri, [&](sqlite3* db) -> Status {
      Stmt st;
      MCX_RETURN_IF_ERROR(Prepare(db, "SELECT 1 FROM certificates WHERE cert_uri = ?1", st));
      BindText(st.get(), 1, c.cert_uri);
      if (sqlite3_step(st.get()) == SQLITE_ROW) {
        return Status::AlreadyExists("the store holds a certificate " + c.cert_uri + " already");
      }
      Result<size_t> n = Run(
          db,
          "INSERT INTO certificates (cert_uri, own, record, sealed_z, sealed_ksak, valid_from, valid_to, revoked, "
          "expired, added_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, unixepoch())",
          [&](sqlite3_stmt* s) {
            BindText(s, 1, c.cert_uri);
            sqlite3_bind_int(s, 2, c.own ? 1 : 0);
            BindBlob(s, 3, c.record);
            BindBlob(s, 4, c.sealed_z);
            BindBlob(s, 5, c.sealed_ksak);
            sqlite3_bind_int64(s, 6, static_cast<sqlite3_int64>(c.valid_from));
            sqlite3_bind_int64(s, 7, static_cast<sqlite3_int64>(c.valid_to));
            sqlite3_bind_int(s, 8, c.revoked ? 1 : 0);
          },
          "adding a certificate");
      if (!n.ok()) return n.status();
      return MoveCounters(db, /*cache_num=*/true);
    });
  }

  Status RemoveImportedCertificate(const std::string& cert_uri) override {
    return db_->WriteTransaction("removing certificate " + cert_uri, [&](sqlite3* db) -> Status {
      Stmt st;
      MCX_RETURN_IF_ERROR(Prepare(db, "SELECT own FROM certificates WHERE cert_uri = ?1", st));
      BindText(st.get(), 1, cert_uri);
      if (sqlite3_step(st.get()) != SQLITE_ROW) {
        return Status::NotFound("the store holds no certificate " + cert_uri + ": see `mcx-kms cert list`");
      }
      if (sqlite3_column_int(st.get(), 0) != 0) {
        return Status::InvalidArgument(cert_uri + " is one of this KMS's own certificates: its key sets refer to "
                                          "it, so it is never removed; revoke it instead (`mcx-kms cert revoke`)");
      }
      Result<size_t> n = Run(db, "DELETE FROM certificates WHERE cert_uri = ?1",
                             [&](sqlite3_stmt* s) { BindText(s, 1, cert_uri); }, "removing a certificate");
      if (!n.ok()) return n.status();
      return MoveCounters(db, /*cache_num=*/true);
    });
  }

  Result<bool> RevokeCertificate(const std::string& cert_uri) override {
    bool changed = false;
    Status s = db_->WriteTransaction("revoking certificate " + cert_uri, [&](sqlite3* db) -> Status {
      Stmt st;
      MCX_RETURN_IF_ERROR(Prepare(db, "SELECT revoked FROM certificates WHERE cert_uri = ?1", st));
      BindText(st.get(), 1, cert_uri);
      if (sqlite3_step(st.get()) != SQLITE_ROW) {
        return Status::NotFound("the store holds no certificate " + cert_uri + ": see `mcx-kms cert list`");
      }
      if (sqlite3_column_int(st.get(), 0) != 0) return Status::Ok();
      auto bind = [&](sqlite3_stmt* s) { BindText(s, 1, cert_uri); };
      Result<size_t> n = Run(db, "UPDATE certificates SET revoked = 1 WHERE cert_uri = ?1", bind, "revoking a certificate");
      if (!n.ok()) return n.status();
      n = Run(db, "UPDATE key_sets SET state = 2 WHERE cert_uri = ?1", bind, "revoking a certificate's key sets");
      if (!n.ok()) return n.status();
      changed = true;
      return MoveCounters(db, /*cache_num=*/true);
    });
    if (!s.ok()) return s;
    return changed;
  }

  Result<size_t> ExpireCertificates(NtpSeconds now) override {
    size_t changed = 0;
    Status s = db_->WriteTransaction("expiring certificates", [&](sqlite3* db) -> Status {
      Result<size_t> n = Run(db, "UPDATE certificates SET expired = 1 WHERE expired = 0 AND valid_to < ?1",
                             [&](sqlite3_stmt* st) { sqlite3_bind_int64(st, 1, static_cast<sqlite3_int64>(now)); },
                             "expiring certificates");
      if (!n.ok()) return n.status();
      changed = *n;
      return changed == 0 ? Status::Ok() : MoveCounters(db, /*cache_num=*/true);
    });
    if (!s.ok()) return s;
    return changed;
  }

  Result<size_t> RevokeUser(const std::string& user_uri, NtpSeconds from) override {
    size_t marked = 0;
    Status s = db_->WriteTransaction("revoking " + user_uri, [&](sqlite3* db) -> Status {
      Result<size_t> n = Run(db,
                             "INSERT INTO revoked_users (user_uri, revoked_from, revoked_at) VALUES (?1, ?2, unixepoch()) "
                             "ON CONFLICT(user_uri) DO UPDATE SET revoked_from = min(revoked_from, excluded.revoked_from)",
                             [&](sqlite3_stmt* st) {
                               BindText(st, 1, user_uri);
                               sqlite3_bind_int64(st, 2, static_cast<sqlite3_int64>(from));
                             },
                             "recording a revoked user");
      if (!n.ok()) return n.status();
      // Certificate by certificate, so that the key sets' primary key finds the user's rows.
      n = Run(db,
              "UPDATE key_sets SET state = 2 WHERE state <> 2 AND user_uri = ?1 AND valid_to >= ?2 "
              "AND cert_uri IN (SELECT cert_uri FROM certificates WHERE own = 1)",
              [&](sqlite3_stmt* st) {
                BindText(st, 1, user_uri);
                sqlite3_bind_int64(st, 2, static_cast<sqlite3_int64>(from));
              },
              "revoking a user's key sets");
      if (!n.ok()) return n.status();
      marked = *n;
      return MoveCounters(db, /*cache_num=*/false);
    });
    if (!s.ok()) return s;
    return marked;
  }

  Result<bool> ReinstateUser(const std::string& user_uri) override {
    bool changed = false;
    Status s = db_->WriteTransaction("reinstating " + user_uri, [&](sqlite3* db) -> Status {
      Result<size_t> n = Run(db, "DELETE FROM revoked_users WHERE user_uri = ?1",
                             [&](sqlite3_stmt* st) { BindText(st, 1, user_uri); }, "reinstating a user");
      if (!n.ok()) return n.status();
      changed = *n != 0;
      return changed ? MoveCounters(db, /*cache_num=*/false) : Status::Ok();
    });
    if (!s.ok()) return s;
    return changed;
  }

  Result<std::vector<UserRevocation>> ListRevokedUsers() override {
    SqliteDatabase::Reader r(*db_);
    if (!r.ok()) return r.status();
    Stmt st;
    MCX_RETURN_IF_ERROR(
        Prepare(r.db(), "SELECT user_uri, revoked_from, revoked_at FROM revoked_users ORDER BY user_uri", st));
    std::vector<UserRevocation> out;
    int rc;
    while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
      out.push_back({ColumnText(st.get(), 0), static_cast<NtpSeconds>(sqlite3_column_int64(st.get(), 1)),
                     sqlite3_column_int64(st.get(), 2)});
    }
    if (rc != SQLITE_DONE) return Error(r.db(), rc, "reading the revoked users");
    return out;
  }

  Result<uint64_t> CacheNum() override { return Counter("cache_num"); }
  Result<uint64_t> Generation() override { return Counter("generation"); }

 private:
  Result<uint64_t> Counter(const char* name) {
    SqliteDatabase::Reader r(*db_);
    if (!r.ok()) return r.status();
    Stmt st;
    MCX_RETURN_IF_ERROR(Prepare(r.db(), "SELECT value FROM counters WHERE name = ?1", st));
    sqlite3_bind_text(st.get(), 1, name, -1, SQLITE_STATIC);
    const int rc = sqlite3_step(st.get());
    if (rc == SQLITE_DONE) return Status::DataLoss(std::string("the store has no counter '") + name + "'");
    if (rc != SQLITE_ROW) return Error(r.db(), rc, std::string("reading the counter '") + name + "'");
    return static_cast<uint64_t>(sqlite3_column_int64(st.get(), 0));
  }

  std::shared_ptr<SqliteDatabase> db_;
};

}  // namespace

std::unique_ptr<LifecycleStore> NewSqliteLifecycleStore(std::shared_ptr<SqliteDatabase> db) {
  return std::make_unique<SqliteLifecycleStore>(std::move(db));
}

}  // namespace mcx
