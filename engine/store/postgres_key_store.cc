#include "engine/store/postgres_key_store.h"

#include <algorithm>
#include <ctime>
#include <unordered_map>
#include <unordered_set>

#include "engine/store/postgres_lifecycle_store.h"

namespace mcx {
namespace {

using pg::Params;
using pg::ResultPtr;

// Rows per INSERT statement: the whole batch of the bulk pipeline's commit in one round trip.
constexpr size_t kInsertChunk = 4096;

// $1 the certificate and $2 the time, shared by every row; then one binary array per column,
// unnested into rows: one prepared statement whatever the batch size, nothing to parse per row.
constexpr const char* kInsertSql =
    "INSERT INTO key_sets (cert_uri, issued_at, user_uri, key_period_no, valid_from, valid_to, uid, pvt, nonce, "
    "sealed) SELECT $1, $2, * FROM unnest($3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bytea[], "
    "$8::bytea[], $9::bytea[], $10::bytea[]) ON CONFLICT DO NOTHING";

template <size_t N>
void CopyColumn(const PGresult* r, int row, int col, std::array<uint8_t, N>& out) {
  const auto* p = reinterpret_cast<const uint8_t*>(PQgetvalue(r, row, col));
  const size_t n = std::min<size_t>(N, static_cast<size_t>(PQgetlength(r, row, col)));
  out.fill(0);
  std::copy(p, p + n, out.begin());
}

// Columns: valid_from, valid_to, uid, pvt, nonce, sealed (then whatever the caller reads).
SealedKeySet ReadRecord(const PGresult* r, int row, std::string user_uri, uint64_t key_period_no) {
  SealedKeySet s;
  s.user_uri = std::move(user_uri);
  s.period.number = key_period_no;
  s.period.valid_from = static_cast<NtpSeconds>(pg::GetInt(r, row, 0));
  s.period.valid_to = static_cast<NtpSeconds>(pg::GetInt(r, row, 1));
  // A column of the wrong size is copied short and then fails to open: the GCM tag covers it.
  CopyColumn(r, row, 2, s.uid);
  CopyColumn(r, row, 3, s.pvt);
  CopyColumn(r, row, 4, s.nonce);
  CopyColumn(r, row, 5, s.sealed);
  return s;
}

int64_t AsInt(uint64_t v) { return static_cast<int64_t>(v); }  // NTP seconds and period numbers: the bits as is

class PostgresKeyStore final : public KeyStore {
 public:
  PostgresKeyStore(std::shared_ptr<PostgresDatabase> db, std::shared_ptr<LifecycleStore> lifecycle,
                   std::string cert_uri)
      : db_(std::move(db)), lifecycle_(std::move(lifecycle)), cert_uri_(std::move(cert_uri)) {}

  const std::string& cert_uri() const override { return cert_uri_; }
  LifecycleStore& lifecycle() override { return *lifecycle_; }
  std::unique_ptr<KeyStore> ForCertificate(const std::string& cert_uri) override {
    return std::make_unique<PostgresKeyStore>(db_, lifecycle_, cert_uri);
  }

  Result<size_t> InsertBatch(std::span<const SealedKeySet> records) override {
    if (records.empty()) return size_t{0};
    size_t inserted = 0;
    Status s = db_->Transaction("inserting key sets", [&](pg::Connection& c) -> Status {
      inserted = 0;
      for (size_t start = 0; start < records.size(); start += kInsertChunk) {
        const size_t n = std::min(kInsertChunk, records.size() - start);
        pg::BinaryArray users(pg::kTextOid, n), periods(pg::kInt8Oid, n), from(pg::kInt8Oid, n), to(pg::kInt8Oid, n),
            uids(pg::kByteaOid, n), pvts(pg::kByteaOid, n), nonces(pg::kByteaOid, n), sealed(pg::kByteaOid, n);
        for (size_t i = start; i < start + n; ++i) {
          const SealedKeySet& r = records[i];
          users.Add(r.user_uri);
          periods.AddInt8(AsInt(r.period.number));
          from.AddInt8(AsInt(r.period.valid_from));
          to.AddInt8(AsInt(r.period.valid_to));
          uids.Add(r.uid);
          pvts.Add(r.pvt);
          nonces.Add(r.nonce);
          sealed.Add(r.sealed);
        }
        Params p;
        p.Text(cert_uri_).Int(static_cast<int64_t>(std::time(nullptr)));
        for (const pg::BinaryArray* a : {&users, &periods, &from, &to, &uids, &pvts, &nonces, &sealed}) p.Blob(a->bytes());
        Result<ResultPtr> res = c.Run(kInsertSql, p, "inserting key sets");
        if (!res.ok()) return res.status();
        inserted += pg::Changed(res->get());
      }
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return inserted;
  }

  bool remote() const override { return true; }

  Result<std::optional<SealedKeySet>> Find(const std::string& user_uri, uint64_t key_period_no) override {
    PostgresDatabase::Borrowed b(*db_);
    if (!b.ok()) return b.status();
    Result<ResultPtr> r = b.conn().Run(
        "SELECT valid_from, valid_to, uid, pvt, nonce, sealed, state FROM key_sets "
        "WHERE cert_uri = $1 AND user_uri = $2 AND key_period_no = $3",
        Params().Text(cert_uri_).Text(user_uri).Int(AsInt(key_period_no)), "reading a key set");
    if (!r.ok()) return r.status();
    if (PQntuples(r->get()) == 0) return std::optional<SealedKeySet>();
    SealedKeySet found = ReadRecord(r->get(), 0, user_uri, key_period_no);
    SetMarksFromState(found, pg::GetInt(r->get(), 0, 6));
    return std::optional<SealedKeySet>(std::move(found));
  }

  // One query whatever the number of keys: each is one probe of the primary key (LATERAL ...
  // LIMIT 1, so the plan stays probes whatever the table's statistics say), numbered so that the
  // rows found are matched to the keys asked.
  Result<std::vector<std::optional<SealedKeySet>>> FindMany(std::span<const KeySetRef> keys) override {
    std::vector<std::optional<SealedKeySet>> found(keys.size());
    if (keys.empty()) return found;
    pg::BinaryArray users(pg::kTextOid, keys.size()), periods(pg::kInt8Oid, keys.size());
    for (const KeySetRef& k : keys) {
      users.Add(k.user_uri);
      periods.AddInt8(AsInt(k.key_period_no));
    }
    PostgresDatabase::Borrowed b(*db_);
    if (!b.ok()) return b.status();
    Result<ResultPtr> r = b.conn().Run(
        "SELECT k.valid_from, k.valid_to, k.uid, k.pvt, k.nonce, k.sealed, k.state, u.n FROM unnest($2::text[], "
        "$3::bigint[]) WITH ORDINALITY AS u(user_uri, key_period_no, n) CROSS JOIN LATERAL (SELECT valid_from, "
        "valid_to, uid, pvt, nonce, sealed, state FROM key_sets p WHERE p.cert_uri = $1 AND p.user_uri = "
        "u.user_uri COLLATE \"C\" AND p.key_period_no = u.key_period_no LIMIT 1) AS k",
        Params().Text(cert_uri_).Blob(users.bytes()).Blob(periods.bytes()),
        keys.size() == 1 ? "reading a key set" : "reading " + std::to_string(keys.size()) + " key sets");
    if (!r.ok()) return r.status();
    for (int row = 0; row < PQntuples(r->get()); ++row) {
      const int64_t n = pg::GetInt(r->get(), row, 7);  // 1-based
      if (n < 1 || static_cast<uint64_t>(n) > keys.size()) return Status::Internal("a key set row for no key asked");
      const KeySetRef& k = keys[static_cast<size_t>(n - 1)];
      SealedKeySet s = ReadRecord(r->get(), row, k.user_uri, k.key_period_no);
      SetMarksFromState(s, pg::GetInt(r->get(), row, 6));
      found[static_cast<size_t>(n - 1)] = std::move(s);
    }
    return found;
  }

  Result<std::vector<bool>> ContainsMany(std::span<const std::string> user_uris, uint64_t key_period_no) override {
    std::vector<bool> present(user_uris.size(), false);
    if (user_uris.empty()) return present;
    PostgresDatabase::Borrowed b(*db_);
    if (!b.ok()) return b.status();
    // One query for all of them: the URIs go as one text[] parameter, and each is one probe of the
    // primary key. (As `user_uri = ANY($3)` the planner, while the table has no statistics yet, as
    // in a fresh store's first bulk run until autovacuum analyzes it, scanned every key set of the
    // period for each call: a bulk run slowed quadratically and a job's count took seconds.
    // LATERAL ... LIMIT 1 cannot be turned into a join, so the probes stay whatever the estimates.)
    Result<ResultPtr> r = b.conn().Run(
        "SELECT u.uri FROM unnest($3::text[]) AS u(uri) CROSS JOIN LATERAL (SELECT 1 FROM key_sets k WHERE "
        "k.cert_uri = $1 AND k.user_uri = u.uri COLLATE \"C\" AND k.key_period_no = $2 LIMIT 1) AS found",
        Params().Text(cert_uri_).Int(AsInt(key_period_no)).Literal(pg::TextArray(user_uris)), "looking up key sets");
    if (!r.ok()) return r.status();
    std::unordered_map<std::string_view, std::vector<size_t>> where;
    for (size_t i = 0; i < user_uris.size(); ++i) where[user_uris[i]].push_back(i);
    for (int row = 0; row < PQntuples(r->get()); ++row) {
      auto it = where.find(std::string_view(PQgetvalue(r->get(), row, 0),
                                            static_cast<size_t>(PQgetlength(r->get(), row, 0))));
      if (it != where.end()) {
        for (size_t idx : it->second) present[idx] = true;
      }
    }
    return present;
  }

  Result<uint64_t> CountKeySets() override {
    PostgresDatabase::Borrowed b(*db_);
    if (!b.ok()) return b.status();
    Result<ResultPtr> r =
        b.conn().Run("SELECT count(*) FROM key_sets WHERE cert_uri = $1", Params().Text(cert_uri_), "counting key sets");
    if (!r.ok()) return r.status();
    return static_cast<uint64_t>(pg::GetInt(r->get(), 0, 0));
  }

  // In pages of a cursor, so a store of millions of key sets is never in memory at once.
  Status ScanKeySets(const std::function<Status(const SealedKeySet&)>& visit) override {
    PostgresDatabase::Borrowed b(*db_);
    if (!b.ok()) return b.status();
    pg::Connection& c = b.conn();
    MCX_RETURN_IF_ERROR(c.Exec("BEGIN", "scanning key sets"));
    Status s = [&]() -> Status {
      Result<ResultPtr> d = c.Run(
          "DECLARE mcx_scan NO SCROLL CURSOR FOR SELECT valid_from, valid_to, uid, pvt, nonce, sealed, user_uri, "
          "key_period_no FROM key_sets WHERE cert_uri = $1 ORDER BY user_uri, key_period_no",
          Params().Text(cert_uri_), "scanning key sets", /*prepare=*/false);
      if (!d.ok()) return d.status();
      for (;;) {
        Result<ResultPtr> page = c.Run("FETCH 1000 FROM mcx_scan", Params(), "scanning key sets", /*prepare=*/false);
        if (!page.ok()) return page.status();
        const int rows = PQntuples(page->get());
        for (int row = 0; row < rows; ++row) {
          MCX_RETURN_IF_ERROR(visit(ReadRecord(page->get(), row, pg::GetText(page->get(), row, 6),
                                               static_cast<uint64_t>(pg::GetInt(page->get(), row, 7)))));
        }
        if (rows < 1000) return Status::Ok();
      }
    }();
    (void)c.Exec("ROLLBACK", "ending a scan");  // it wrote nothing
    return s;
  }

  Result<KeySetCounts> CountByState() override {
    PostgresDatabase::Borrowed b(*db_);
    if (!b.ok()) return b.status();
    Result<ResultPtr> r = b.conn().Run("SELECT state, count(*) FROM key_sets WHERE cert_uri = $1 GROUP BY state",
                                       Params().Text(cert_uri_), "counting key sets by state");
    if (!r.ok()) return r.status();
    KeySetCounts counts;
    for (int row = 0; row < PQntuples(r->get()); ++row) {
      const auto n = static_cast<uint64_t>(pg::GetInt(r->get(), row, 1));
      switch (pg::GetInt(r->get(), row, 0)) {
        case static_cast<int>(KeySetState::kIssued): counts.issued += n; break;
        case static_cast<int>(KeySetState::kDelivered): counts.delivered += n; break;
        case static_cast<int>(KeySetState::kRevoked): counts.revoked += n; break;
        default: return Status::DataLoss("the store holds key sets in an unknown state: upgrade mcx-kms");
      }
    }
    return counts;
  }

  Result<size_t> MarkDelivered(std::span<const KeySetRef> keys, int64_t unix_seconds,
                               std::vector<KeySetRef>* first) override {
    if (keys.empty()) {
      if (first != nullptr) first->clear();
      return size_t{0};
    }
    std::vector<std::string> users;
    std::string periods = "{";
    for (size_t i = 0; i < keys.size(); ++i) {
      users.push_back(keys[i].user_uri);
      periods += (i ? "," : "") + std::to_string(AsInt(keys[i].key_period_no));
    }
    periods += "}";
    PostgresDatabase::Borrowed b(*db_);
    if (!b.ok()) return b.status();
    // One statement, so one transaction; only rows still issued change. Each key is one probe of
    // the primary key (LATERAL ... LIMIT 1, as in ContainsMany), and the row is then updated
    // through the ctid the probe found: joined on the key columns instead, the planner, while the
    // table is young and has no statistics, hashed a scan of every key set of the certificate for
    // each write (10 ms per batch at 20,000 key sets, growing with the store). A row another
    // transaction updates between the probe and the update has a new ctid and is left alone:
    // that writer marked it delivered or revoked it.
    Result<ResultPtr> r = b.conn().Run(
        "UPDATE key_sets k SET state = 1, delivered_at = $4 "
        "FROM unnest($2::text[], $3::bigint[]) AS u(user_uri, key_period_no) CROSS JOIN LATERAL (SELECT p.ctid "
        "FROM key_sets p WHERE p.cert_uri = $1 AND p.user_uri = u.user_uri COLLATE \"C\" AND p.key_period_no = "
        "u.key_period_no LIMIT 1) AS found "
        "WHERE k.ctid = found.ctid AND k.state = 0 "
        "RETURNING k.user_uri, k.key_period_no",
        Params().Text(cert_uri_).Literal(pg::TextArray(users)).Literal(periods).Int(unix_seconds),
        "marking key sets delivered");
    if (!r.ok()) return r.status();
    const int rows = PQntuples(r->get());
    if (first != nullptr) {
      // In the order asked, each once (as the SQLite store reports them).
      std::unordered_set<std::string> changed;
      for (int row = 0; row < rows; ++row) {
        changed.insert(pg::GetText(r->get(), row, 0) + '\n' + std::to_string(pg::GetInt(r->get(), row, 1)));
      }
      first->clear();
      for (const KeySetRef& k : keys) {
        if (changed.erase(k.user_uri + '\n' + std::to_string(AsInt(k.key_period_no))) != 0) first->push_back(k);
      }
    }
    return static_cast<size_t>(rows);
  }

  Status SetState(const std::string& user_uri, uint64_t key_period_no, KeySetState state) override {
    PostgresDatabase::Borrowed b(*db_);
    if (!b.ok()) return b.status();
    Result<ResultPtr> r =
        b.conn().Run("UPDATE key_sets SET state = $4 WHERE cert_uri = $1 AND user_uri = $2 AND key_period_no = $3",
                     Params().Text(cert_uri_).Text(user_uri).Int(AsInt(key_period_no)).Int(static_cast<int>(state)),
                     "updating a key set's state");
    if (!r.ok()) return r.status();
    if (pg::Changed(r->get()) == 0) {
      return Status::NotFound("no key set of " + user_uri + " for period " + std::to_string(key_period_no));
    }
    return Status::Ok();
  }

  Status PutBlob(std::string_view name, ByteView value) override {
    PostgresDatabase::Borrowed b(*db_);
    if (!b.ok()) return b.status();
    return b.conn().Run(kUpsertBlob, Params().Text(name).Blob(value), "saving KMS state '" + std::string(name) + "'")
        .status();
  }

  Status PutBlobs(std::span<const std::pair<std::string_view, ByteView>> blobs) override {
    return db_->Transaction("saving KMS state", [&](pg::Connection& c) -> Status {
      for (const auto& [name, value] : blobs) {
        MCX_RETURN_IF_ERROR(
            c.Run(kUpsertBlob, Params().Text(name).Blob(value), "saving KMS state '" + std::string(name) + "'").status());
      }
      return Status::Ok();
    });
  }

  Result<Bytes> PutBlobIfAbsent(std::string_view name, ByteView value) override {
    {
      PostgresDatabase::Borrowed b(*db_);
      if (!b.ok()) return b.status();
      MCX_RETURN_IF_ERROR(b.conn()
                              .Run("INSERT INTO kms_state(name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                                   Params().Text(name).Blob(value), "saving KMS state '" + std::string(name) + "'")
                              .status());
    }
    Result<std::optional<Bytes>> kept = GetBlob(name);
    if (!kept.ok()) return kept.status();
    if (!kept->has_value()) return Status::Internal("KMS state '" + std::string(name) + "' vanished after it was saved");
    return std::move(**kept);
  }

  Result<std::optional<Bytes>> GetBlob(std::string_view name) override {
    PostgresDatabase::Borrowed b(*db_);
    if (!b.ok()) return b.status();
    Result<ResultPtr> r = b.conn().Run("SELECT value FROM kms_state WHERE name = $1", Params().Text(name),
                                       "reading KMS state '" + std::string(name) + "'");
    if (!r.ok()) return r.status();
    if (PQntuples(r->get()) == 0) return std::optional<Bytes>();
    return std::optional<Bytes>(pg::GetBytes(r->get(), 0, 0));
  }

  // Ready means the store takes writes: a standby (read-only), a full disk or a user without the
  // right all fail here, where a read would pass.
  Status Ping() override {
    const std::string what = "the store (" + db_->description() + ") does not take writes";
    PostgresDatabase::Borrowed b(*db_);
    if (!b.ok()) return b.status().Annotate(what);
    return b.conn().Run(kUpsertBlob, Params().Text("readiness-probe").Blob(AsBytes("\x01")), what).status();
  }

 private:
  static constexpr const char* kUpsertBlob =
      "INSERT INTO kms_state(name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value";

  std::shared_ptr<PostgresDatabase> db_;
  std::shared_ptr<LifecycleStore> lifecycle_;
  std::string cert_uri_;
};

}  // namespace

std::unique_ptr<KeyStore> NewPostgresKeyStore(std::shared_ptr<PostgresDatabase> db, const std::string& cert_uri) {
  std::shared_ptr<LifecycleStore> lifecycle = NewPostgresLifecycleStore(db);
  return std::make_unique<PostgresKeyStore>(std::move(db), std::move(lifecycle), cert_uri);
}

Result<std::unique_ptr<KeyStore>> OpenPostgresKeyStore(const std::string& url, const std::string& cert_uri) {
  Result<std::shared_ptr<PostgresDatabase>> db = PostgresDatabase::Open(url);
  if (!db.ok()) return db.status();
  return NewPostgresKeyStore(std::move(db).value(), cert_uri);
}

}  // namespace mcx
