#include "engine/store/postgres_lifecycle_store.h"

#include <ctime>

namespace mcx {
namespace {

using pg::Params;
using pg::ResultPtr;

int64_t NowUnix() { return static_cast<int64_t>(std::time(nullptr)); }
int64_t AsInt(NtpSeconds v) { return static_cast<int64_t>(v); }

// In the same transaction as the change, so readers never see one without the other.
Status MoveCounters(pg::Connection& c, bool cache_num) {
  const char* sql = cache_num ? "UPDATE counters SET value = value + 1 WHERE name IN ('cache_num', 'generation')"
                              : "UPDATE counters SET value = value + 1 WHERE name = 'generation'";
  return c.Run(sql, Params(), "moving the lifecycle counters").status();
}

std::string NoSuchCertificate(const std::string& cert_uri) {
  return "the store holds no certificate " + cert_uri + ": see `mcx-kms cert list`";
}

class PostgresLifecycleStore final : public LifecycleStore {
 public:
  explicit PostgresLifecycleStore(std::shared_ptr<PostgresDatabase> db) : db_(std::move(db)) {}

  Result<std::vector<StoredCertificate>> ListCertificates() override {
    PostgresDatabase::Borrowed b(*db_);
    if (!b.ok()) return b.status();
    Result<ResultPtr> r = b.conn().Run(
        "SELECT cert_uri, own, record, sealed_z, sealed_ksak, valid_from, valid_to, revoked, expired, added_at "
        "FROM certificates ORDER BY position",
        Params(), "reading the certificates");
    if (!r.ok()) return r.status();
    const PGresult* res = r->get();
    std::vector<StoredCertificate> out;
    for (int row = 0; row < PQntuples(res); ++row) {
      StoredCertificate c;
      c.cert_uri = pg::GetText(res, row, 0);
      c.own = pg::GetInt(res, row, 1) != 0;
      c.record = pg::GetBytes(res, row, 2);
      c.sealed_z = pg::GetBytes(res, row, 3);  // NULL reads as empty
      c.sealed_ksak = pg::GetBytes(res, row, 4);
      c.valid_from = static_cast<NtpSeconds>(pg::GetInt(res, row, 5));
      c.valid_to = static_cast<NtpSeconds>(pg::GetInt(res, row, 6));
      c.revoked = pg::GetInt(res, row, 7) != 0;
      c.expired = pg::GetInt(res, row, 8) != 0;
      c.added_at = pg::GetInt(res, row, 9);
      out.push_back(std::move(c));
    }
    return out;
  }

  Status AddCertificate(const StoredCertificate& c) override {
    return db_->Transaction("adding certificate " + c.cert_uri, [&](pg::Connection& conn) -> Status {
      // ON CONFLICT: two processes adding the same CertUri at once get one row and one AlreadyExists.
      Result<ResultPtr> r = conn.Run(
          "INSERT INTO certificates (cert_uri, own, record, sealed_z, sealed_ksak, valid_from, valid_to, revoked, "
          "expired, added_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9) ON CONFLICT (cert_uri) DO NOTHING",
          Params()
              .Text(c.cert_uri)
              .Int(c.own ? 1 : 0)
              .Blob(c.record)
              .BlobOrNull(c.sealed_z)
              .BlobOrNull(c.sealed_ksak)
              .Int(AsInt(c.valid_from))
              .Int(AsInt(c.valid_to))
              .Int(c.revoked ? 1 : 0)
              .Int(NowUnix()),
          "adding a certificate");
      if (!r.ok()) return r.status();
      if (pg::Changed(r->get()) == 0) {
        return Status::AlreadyExists("the store holds a certificate " + c.cert_uri + " already");
      }
      return MoveCounters(conn, /*cache_num=*/true);
    });
  }

  Status RemoveImportedCertificate(const std::string& cert_uri) override {
    return db_->Transaction("removing certificate " + cert_uri, [&](pg::Connection& c) -> Status {
      Result<ResultPtr> r = c.Run("SELECT own FROM certificates WHERE cert_uri = $1 FOR UPDATE",
                                  Params().Text(cert_uri), "removing a certificate");
      if (!r.ok()) return r.status();
      if (PQntuples(r->get()) == 0) return Status::NotFound(NoSuchCertificate(cert_uri));
      if (pg::GetInt(r->get(), 0, 0) != 0) {
        return Status::InvalidArgument(cert_uri + " is one of this KMS's own certificates: its key sets refer to "
                                                  "it, so it is never removed; revoke it instead (`mcx-kms cert revoke`)");
      }
      MCX_RETURN_IF_ERROR(
          c.Run("DELETE FROM certificates WHERE cert_uri = $1", Params().Text(cert_uri), "removing a certificate")
              .status());
      return MoveCounters(c, /*cache_num=*/true);
    });
  }

  Result<bool> RevokeCertificate(const std::string& cert_uri) override {
    bool changed = false;
    Status s = db_->Transaction("revoking certificate " + cert_uri, [&](pg::Connection& c) -> Status {
      changed = false;
      Result<ResultPtr> r = c.Run("SELECT revoked FROM certificates WHERE cert_uri = $1 FOR UPDATE",
                                  Params().Text(cert_uri), "revoking a certificate");
      if (!r.ok()) return r.status();
      if (PQntuples(r->get()) == 0) return Status::NotFound(NoSuchCertificate(cert_uri));
      if (pg::GetInt(r->get(), 0, 0) != 0) return Status::Ok();
      MCX_RETURN_IF_ERROR(c.Run("UPDATE certificates SET revoked = 1 WHERE cert_uri = $1", Params().Text(cert_uri),
                                "revoking a certificate")
                              .status());
      MCX_RETURN_IF_ERROR(c.Run("UPDATE key_sets SET state = 2 WHERE cert_uri = $1", Params().Text(cert_uri),
                                "revoking a certificate's key sets")
                              .status());
      changed = true;
      return MoveCounters(c, /*cache_num=*/true);
    });
    if (!s.ok()) return s;
    return changed;
  }

  Result<size_t> ExpireCertificates(NtpSeconds now) override {
    size_t changed = 0;
    Status s = db_->Transaction("expiring certificates", [&](pg::Connection& c) -> Status {
      Result<ResultPtr> r = c.Run("UPDATE certificates SET expired = 1 WHERE expired = 0 AND valid_to < $1",
                                  Params().Int(AsInt(now)), "expiring certificates");
      if (!r.ok()) return r.status();
      changed = pg::Changed(r->get());
      return changed == 0 ? Status::Ok() : MoveCounters(c, /*cache_num=*/true);
    });
    if (!s.ok()) return s;
    return changed;
  }

  Result<size_t> RevokeUser(const std::string& user_uri, NtpSeconds from) override {
    size_t marked = 0;
    Status s = db_->Transaction("revoking " + user_uri, [&](pg::Connection& c) -> Status {
      MCX_RETURN_IF_ERROR(
          c.Run("INSERT INTO revoked_users (user_uri, revoked_from, revoked_at) VALUES ($1, $2, $3) "
                "ON CONFLICT (user_uri) DO UPDATE SET revoked_from = least(revoked_users.revoked_from, "
                "excluded.revoked_from)",
                Params().Text(user_uri).Int(AsInt(from)).Int(NowUnix()), "recording a revoked user")
              .status());
      // Certificate by certificate (this KMS's own), so that the key sets' primary key finds the rows.
      Result<ResultPtr> r = c.Run(
          "UPDATE key_sets SET state = 2 WHERE state <> 2 AND user_uri = $1 AND valid_to >= $2 "
          "AND cert_uri IN (SELECT cert_uri FROM certificates WHERE own = 1)",
          Params().Text(user_uri).Int(AsInt(from)), "revoking a user's key sets");
      if (!r.ok()) return r.status();
      marked = pg::Changed(r->get());
      return MoveCounters(c, /*cache_num=*/false);
    });
    if (!s.ok()) return s;
    return marked;
  }

  Result<bool> ReinstateUser(const std::string& user_uri) override {
    bool changed = false;
    Status s = db_->Transaction("reinstating " + user_uri, [&](pg::Connection& c) -> Status {
      Result<ResultPtr> r =
          c.Run("DELETE FROM revoked_users WHERE user_uri = $1", Params().Text(user_uri), "reinstating a user");
      if (!r.ok()) return r.status();
      changed = pg::Changed(r->get()) != 0;
      return changed ? MoveCounters(c, /*cache_num=*/false) : Status::Ok();
    });
    if (!s.ok()) return s;
    return changed;
  }

  Result<std::vector<UserRevocation>> ListRevokedUsers() override {
    PostgresDatabase::Borrowed b(*db_);
    if (!b.ok()) return b.status();
    Result<ResultPtr> r = b.conn().Run("SELECT user_uri, revoked_from, revoked_at FROM revoked_users ORDER BY user_uri",
                                       Params(), "reading the revoked users");
    if (!r.ok()) return r.status();
    std::vector<UserRevocation> out;
    for (int row = 0; row < PQntuples(r->get()); ++row) {
      out.push_back({pg::GetText(r->get(), row, 0), static_cast<NtpSeconds>(pg::GetInt(r->get(), row, 1)),
                     pg::GetInt(r->get(), row, 2)});
    }
    return out;
  }

  Result<uint64_t> CacheNum() override { return Counter("cache_num"); }
  Result<uint64_t> Generation() override { return Counter("generation"); }

 private:
  Result<uint64_t> Counter(const char* name) {
    PostgresDatabase::Borrowed b(*db_);
    if (!b.ok()) return b.status();
    Result<ResultPtr> r = b.conn().Run("SELECT value FROM counters WHERE name = $1", Params().Text(name),
                                       std::string("reading the counter '") + name + "'");
    if (!r.ok()) return r.status();
    if (PQntuples(r->get()) == 0) return Status::DataLoss(std::string("the store has no counter '") + name + "'");
    return static_cast<uint64_t>(pg::GetInt(r->get(), 0, 0));
  }

  std::shared_ptr<PostgresDatabase> db_;
};

}  // namespace

std::unique_ptr<LifecycleStore> NewPostgresLifecycleStore(std::shared_ptr<PostgresDatabase> db) {
  return std::make_unique<PostgresLifecycleStore>(std::move(db));
}

}  // namespace mcx
