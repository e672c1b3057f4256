#include "engine/store/postgres_audit_store.h"

#include <algorithm>
#include <climits>

#include "engine/audit/audit_event.h"

namespace mcx {
namespace {

using pg::Params;
using pg::ResultPtr;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS audit_log (
  node      TEXT COLLATE "C" NOT NULL,
  seq       BIGINT NOT NULL,
  time      BIGINT NOT NULL,   -- Unix seconds
  kind      TEXT   NOT NULL,
  actor     TEXT   NOT NULL,
  user_uri  TEXT COLLATE "C" NOT NULL,
  cert_uri  TEXT   NOT NULL,
  detail    TEXT   NOT NULL,
  prev_hash BYTEA  NOT NULL,
  hash      BYTEA  NOT NULL,
  mac       BYTEA  NOT NULL,
  PRIMARY KEY (node, seq)
);
CREATE INDEX IF NOT EXISTS audit_log_by_time ON audit_log(time);
)sql";

// The schema's migration lock (postgres_database.cc) for creating the table; appends take
// another ("mcxaudit" in ASCII), so they never wait for a migration nor it for them.
constexpr const char* kSchemaLock = "SELECT pg_advisory_xact_lock(30790140270701939)";
constexpr const char* kAppendLock = "SELECT pg_advisory_xact_lock(7882276132805175668)";

constexpr const char* kColumns = "node, seq, time, kind, actor, user_uri, cert_uri, detail, prev_hash, hash, mac";

template <size_t N>
void CopyBlob(const PGresult* r, int row, int col, std::array<uint8_t, N>& out) {
  // A blob of the wrong size (tampering) is copied short or cut; its hash check then fails.
  const auto* p = reinterpret_cast<const uint8_t*>(PQgetvalue(r, row, col));
  const size_t n = std::min<size_t>(N, static_cast<size_t>(PQgetlength(r, row, col)));
  out.fill(0);
  std::copy(p, p + n, out.begin());
}

AuditRecord ReadRow(const PGresult* res, int row) {
  AuditRecord r;
  r.node = pg::GetText(res, row, 0);
  r.seq = static_cast<uint64_t>(pg::GetInt(res, row, 1));
  r.time = pg::GetInt(res, row, 2);
  r.kind = pg::GetText(res, row, 3);
  r.actor = pg::GetText(res, row, 4);
  r.user_uri = pg::GetText(res, row, 5);
  r.cert_uri = pg::GetText(res, row, 6);
  r.detail = pg::GetText(res, row, 7);
  CopyBlob(res, row, 8, r.prev_hash);
  CopyBlob(res, row, 9, r.hash);
  CopyBlob(res, row, 10, r.mac);
  return r;
}

Status AuditError(const Status& s) { return s.Annotate("audit log"); }

class PostgresAuditStore final : public AuditStore {
 public:
  explicit PostgresAuditStore(std::shared_ptr<PostgresDatabase> db) : db_(std::move(db)) {}

  Status Open() {
    return db_->Transaction("creating table audit_log", [](pg::Connection& c) -> Status {
      MCX_RETURN_IF_ERROR(c.Exec(kSchemaLock, "waiting for the migration lock"));
      return c.Exec(kSchema, "creating table audit_log");
    });
  }

  Status Append(const std::string& node, const Sealer& seal) override {
    Status s = db_->Transaction("appending audit records", [&](pg::Connection& c) -> Status {
      MCX_RETURN_IF_ERROR(c.Exec(kAppendLock, "waiting for the audit log's write lock"));
      Result<AuditChainTip> tip = ReadTip(c, node);
      if (!tip.ok()) return tip.status();
      Result<std::vector<AuditRecord>> records = seal(*tip);
      if (!records.ok()) return records.status();
      const std::string sql = std::string("INSERT INTO audit_log (") + kColumns +
                              ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
      for (const AuditRecord& r : *records) {
        if (r.node != node) return Status::Internal("an audit record of node '" + r.node + "' sealed for '" + node + "'");
        Params p;
        p.Text(r.node).Int(static_cast<int64_t>(r.seq)).Int(r.time).Text(r.kind).Text(r.actor).Text(r.user_uri);
        p.Text(r.cert_uri).Text(r.detail).Blob(r.prev_hash).Blob(r.hash).Blob(r.mac);
        MCX_RETURN_IF_ERROR(c.Run(sql, p, "inserting audit record " + std::to_string(r.seq)).status());
      }
      return Status::Ok();
    });
    return s.ok() ? s : AuditError(s);
  }

  Result<std::vector<std::string>> Nodes() override {
    PostgresDatabase::Borrowed b(*db_);
    if (!b.ok()) return b.status();
    Result<ResultPtr> r = b.conn().Run("SELECT DISTINCT node FROM audit_log ORDER BY node", Params(), "listing nodes");
    if (!r.ok()) return AuditError(r.status());
    std::vector<std::string> nodes;
    for (int row = 0; row < PQntuples(r->get()); ++row) nodes.push_back(pg::GetText(r->get(), row, 0));
    return nodes;
  }

  Result<AuditChainTip> Tip(const std::string& node) override {
    PostgresDatabase::Borrowed b(*db_);
    if (!b.ok()) return b.status();
    return ReadTip(b.conn(), node);
  }

  Status ScanChain(const std::string& node, uint64_t from_seq,
                   const std::function<bool(const AuditRecord&)>& visit) override {
    const std::string sql = std::string("SELECT ") + kColumns + " FROM audit_log WHERE node = $1 AND seq >= $2 ORDER BY seq";
    return Visit(sql, Params().Text(node).Int(static_cast<int64_t>(std::min<uint64_t>(from_seq, INT64_MAX))),
                 "reading the chain of node '" + node + "'", visit, nullptr);
  }

  Status Scan(const AuditFilter& filter, const std::function<bool(const AuditRecord&)>& visit) override {
    std::string sql = std::string("SELECT ") + kColumns + " FROM audit_log WHERE true";
    Params p;
    int n = 0;
    if (!filter.node.empty()) {
      sql += " AND node = $" + std::to_string(++n);
      p.Text(filter.node);
    }
    if (filter.since.has_value()) {
      sql += " AND time >= $" + std::to_string(++n);
      p.Int(*filter.since);
    }
    // Coarse in SQL (the user's own records, or a detail that mentions it), exact below.
    if (!filter.user_uri.empty()) {
      const std::string u = "$" + std::to_string(++n);
      sql += " AND (user_uri = " + u + " OR (user_uri = '' AND strpos(detail, " + u + ") > 0))";
      p.Text(filter.user_uri);
    }
    sql += " ORDER BY time, node, seq";
    return Visit(sql, p, "reading the audit log", visit, &filter);
  }

 private:
  static Result<AuditChainTip> ReadTip(pg::Connection& c, const std::string& node) {
    Result<ResultPtr> r = c.Run("SELECT seq, hash FROM audit_log WHERE node = $1 ORDER BY seq DESC LIMIT 1",
                                Params().Text(node), "reading the tip of node '" + node + "'");
    if (!r.ok()) return AuditError(r.status());
    AuditChainTip tip;
    if (PQntuples(r->get()) == 0) return tip;
    tip.seq = static_cast<uint64_t>(pg::GetInt(r->get(), 0, 0));
    CopyBlob(r->get(), 0, 1, tip.hash);
    return tip;
  }

  // In pages of a cursor: a chain of millions of records is never in memory at once. The
  // visitor may call back into the store (it borrows another connection).
  Status Visit(const std::string& sql, const Params& params, const std::string& what,
               const std::function<bool(const AuditRecord&)>& visit, const AuditFilter* filter) {
    PostgresDatabase::Borrowed b(*db_);
    if (!b.ok()) return b.status();
    pg::Connection& c = b.conn();
    MCX_RETURN_IF_ERROR(c.Exec("BEGIN", what));
    Status s = [&]() -> Status {
      MCX_RETURN_IF_ERROR(c.Run("DECLARE mcx_audit NO SCROLL CURSOR FOR " + sql, params, what, false).status());
      for (;;) {
        Result<ResultPtr> page = c.Run("FETCH 1000 FROM mcx_audit", Params(), what, false);
        if (!page.ok()) return page.status();
        const int rows = PQntuples(page->get());
        for (int row = 0; row < rows; ++row) {
          AuditRecord r = ReadRow(page->get(), row);
          const bool wanted =
              filter == nullptr || filter->user_uri.empty() || ConcernsUser(r.user_uri, r.detail, filter->user_uri);
          if (wanted && !visit(r)) return Status::Ok();
        }
        if (rows < 1000) return Status::Ok();
      }
    }();
    (void)c.Exec("ROLLBACK", "ending a scan");
    return s.ok() ? s : AuditError(s);
  }

  std::shared_ptr<PostgresDatabase> db_;
};

}  // namespace

Result<std::unique_ptr<AuditStore>> NewPostgresAuditStore(std::shared_ptr<PostgresDatabase> db) {
  auto store = std::make_unique<PostgresAuditStore>(std::move(db));
  MCX_RETURN_IF_ERROR(store->Open());
  return std::unique_ptr<AuditStore>(std::move(store));
}

Result<std::unique_ptr<AuditStore>> OpenPostgresAuditStore(const std::string& url) {
  Result<std::shared_ptr<PostgresDatabase>> db = PostgresDatabase::Open(url);
  if (!db.ok()) return db.status();
  return NewPostgresAuditStore(std::move(db).value());
}

}  // namespace mcx
