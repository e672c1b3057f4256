#include "engine/store/postgres_database.h"

#include <endian.h>

#include <cstring>

#include "engine/store/sqlite_database.h"  // kStoreSchemaVersion: one schema history for both

namespace mcx {
namespace pg {

Params& Params::Null() {
  values_.push_back(nullptr);
  lengths_.push_back(0);
  formats_.push_back(0);
  return *this;
}

Params& Params::Add(std::string_view s, int format) {
  owned_.emplace_back(s);
  values_.push_back(owned_.back().data());
  lengths_.push_back(static_cast<int>(s.size()));
  formats_.push_back(format);
  return *this;
}

std::string TextArray(std::span<const std::string> items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

BinaryArray::BinaryArray(uint32_t element_oid, size_t count) {
  Put32(1);  // dimensions
  Put32(0);  // no NULLs
  Put32(element_oid);
  Put32(static_cast<uint32_t>(count));
  Put32(1);  // lower bound
}

void BinaryArray::Put32(uint32_t v) {
  const uint32_t be = htobe32(v);
  const auto* p = reinterpret_cast<const uint8_t*>(&be);
  buf_.insert(buf_.end(), p, p + 4);
}

BinaryArray& BinaryArray::Add(ByteView value) {
  Put32(static_cast<uint32_t>(value.size()));
  buf_.insert(buf_.end(), value.begin(), value.end());
  return *this;
}

BinaryArray& BinaryArray::AddInt8(int64_t value) {
  Put32(8);
  const uint64_t be = htobe64(static_cast<uint64_t>(value));
  const auto* p = reinterpret_cast<const uint8_t*>(&be);
  buf_.insert(buf_.end(), p, p + 8);
  return *this;
}

std::string GetText(const PGresult* r, int row, int col) {
  return std::string(PQgetvalue(r, row, col), static_cast<size_t>(PQgetlength(r, row, col)));
}

Bytes GetBytes(const PGresult* r, int row, int col) {
  const auto* p = reinterpret_cast<const uint8_t*>(PQgetvalue(r, row, col));
  return Bytes(p, p + PQgetlength(r, row, col));
}

int64_t GetInt(const PGresult* r, int row, int col) {
  const char* p = PQgetvalue(r, row, col);
  switch (PQgetlength(r, row, col)) {
    case 2: { uint16_t v; std::memcpy(&v, p, 2); return static_cast<int16_t>(be16toh(v)); }
    case 4: { uint32_t v; std::memcpy(&v, p, 4); return static_cast<int32_t>(be32toh(v)); }
    case 8: { uint64_t v; std::memcpy(&v, p, 8); return static_cast<int64_t>(be64toh(v)); }
    default: return 0;  // NULL
  }
}

bool IsNull(const PGresult* r, int row, int col) { return PQgetisnull(r, row, col) != 0; }

size_t Changed(const PGresult* r) {
  const char* n = PQcmdTuples(const_cast<PGresult*>(r));
  return n && *n ? static_cast<size_t>(std::strtoull(n, nullptr, 10)) : 0;
}

Status Error(PGconn* conn, const PGresult* r, const std::string& what) {
  const char* primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  std::string said = primary ? primary : (conn ? PQerrorMessage(conn) : "no connection");
  while (!said.empty() && (said.back() == '\n' || said.back() == ' ')) said.pop_back();
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  const std::string code = state ? state : "";
  std::string msg = what + ": " + said;
  if (!code.empty()) msg += " (SQLSTATE " + code + ")";
  if (conn && PQstatus(conn) != CONNECTION_OK) {
    return Status::Unavailable(msg + " — the connection to the PostgreSQL server is lost: check that the server "
                               "runs and is reachable; the next call reconnects");
  }
  if (code == "53100") return Status::Unavailable(msg + " — the database server's disk is full: free space there");
  if (code == "25006") {
    return Status::Unavailable(msg + " — the server takes no writes (a standby?): point the store URL at the primary");
  }
  if (code == "42501") {
    return Status::Unavailable(msg + " — the database user lacks a right on the store's tables: grant it, or use "
                               "the user that created the store");
  }
  if (code.starts_with("57P") || code.starts_with("08")) return Status::Unavailable(msg + " — retry");
  if (code == "40001" || code == "40P01") return Status::Unavailable(msg + " — a conflict with another writer; retry");
  return Status::Unavailable(msg);
}

Result<ResultPtr> Connection::Run(const std::string& sql, const Params& params, const std::string& what,
                                  bool prepare) {
  PGresult* raw = nullptr;
  bool ran = false;
  if (prepare) {
    auto it = prepared_.find(sql);
    if (it == prepared_.end() && prepared_.size() < 128) {
      std::string name = "mcx" + std::to_string(prepared_.size());
      ResultPtr p(PQprepare(conn_, name.c_str(), sql.c_str(), 0, nullptr));
      if (PQresultStatus(p.get()) != PGRES_COMMAND_OK) {
        const char* state = PQresultErrorField(p.get(), PG_DIAG_SQLSTATE);
        last_sqlstate_ = state ? state : "?";
        return Error(conn_, p.get(), what);
      }
      it = prepared_.emplace(sql, std::move(name)).first;
    }
    if (it != prepared_.end()) {
      raw = PQexecPrepared(conn_, it->second.c_str(), params.size(), params.values(), params.lengths(),
                           params.formats(), 1);
      ran = true;
    }
  }
  if (!ran) {  // not worth preparing, or the connection holds enough prepared statements
    raw = PQexecParams(conn_, sql.c_str(), params.size(), nullptr, params.values(), params.lengths(),
                       params.formats(), 1);
  }
  ResultPtr r(raw);
  MCX_RETURN_IF_ERROR(Check(r.get(), what));
  return r;
}

Status Connection::Check(PGresult* r, const std::string& what) {
  const ExecStatusType st = PQresultStatus(r);
  if (r == nullptr || (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)) {
    const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    last_sqlstate_ = state ? state : "?";
    return Error(conn_, r, what);
  }
  last_sqlstate_.clear();
  return Status::Ok();
}

Status Connection::Exec(const char* sql, const std::string& what) {
  ResultPtr r(PQexec(conn_, sql));
  return Check(r.get(), what);
}

}  // namespace pg

namespace {

// The same tables as the SQLite store's (sqlite_database.cc), in PostgreSQL's types. Text keys
// collate as "C" so that scans come back in the same (byte) order as SQLite's.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE IF NOT EXISTS kms_state (
  name  TEXT COLLATE "C" PRIMARY KEY,
  value BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS key_sets (
  cert_uri      TEXT COLLATE "C" NOT NULL,
  user_uri      TEXT COLLATE "C" NOT NULL,
  key_period_no BIGINT  NOT NULL,
  valid_from    BIGINT  NOT NULL,   -- NTP seconds, their 64 bits as a signed integer
  valid_to      BIGINT  NOT NULL,
  uid           BYTEA   NOT NULL,
  pvt           BYTEA   NOT NULL,
  nonce         BYTEA   NOT NULL,
  sealed        BYTEA   NOT NULL,   -- AES-256-GCM(RSK || SSK) || tag, see KeySetCipher
  issued_at     BIGINT  NOT NULL,   -- Unix seconds
  state         INTEGER NOT NULL DEFAULT 0,  -- 0 issued, 1 delivered, 2 revoked
  PRIMARY KEY (cert_uri, user_uri, key_period_no)
);
)sql";

constexpr const char* kSchemaV2 = "ALTER TABLE key_sets ADD COLUMN IF NOT EXISTS delivered_at BIGINT";

constexpr const char* kSchemaV3 = R"sql(
CREATE TABLE IF NOT EXISTS certificates (
  position    BIGSERIAL,                  -- the order they were added (SQLite's rowid)
  cert_uri    TEXT COLLATE "C" PRIMARY KEY,
  own         INTEGER NOT NULL,
  record      BYTEA   NOT NULL,
  sealed_z    BYTEA,
  sealed_ksak BYTEA,
  valid_from  BIGINT  NOT NULL,
  valid_to    BIGINT  NOT NULL,
  revoked     INTEGER NOT NULL DEFAULT 0,
  expired     INTEGER NOT NULL DEFAULT 0,
  added_at    BIGINT  NOT NULL
);
CREATE TABLE IF NOT EXISTS revoked_users (
  user_uri     TEXT COLLATE "C" PRIMARY KEY,
  revoked_from BIGINT NOT NULL,
  revoked_at   BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
  name  TEXT COLLATE "C" PRIMARY KEY,
  value BIGINT NOT NULL
);
INSERT INTO counters(name, value) VALUES ('cache_num', 1), ('generation', 1) ON CONFLICT DO NOTHING;
)sql";

// Bulk provisioning jobs shared by workers (provisioning_job_store.h), as in the SQLite store;
// the population is a text[] here.
constexpr const char* kSchemaV4 = R"sql(
CREATE TABLE IF NOT EXISTS provisioning_jobs (
  id            BIGSERIAL PRIMARY KEY,
  cert_uri      TEXT COLLATE "C" NOT NULL,
  first_period  BIGINT  NOT NULL,
  period_count  INTEGER NOT NULL,
  source        TEXT    NOT NULL,
  identities    BIGINT  NOT NULL,
  chunk_count   BIGINT  NOT NULL,
  lease_ms      BIGINT  NOT NULL,
  created_at_ms BIGINT  NOT NULL
);
CREATE TABLE IF NOT EXISTS provisioning_chunks (
  job_id           BIGINT  NOT NULL REFERENCES provisioning_jobs(id),
  chunk_no         BIGINT  NOT NULL,
  first_index      BIGINT  NOT NULL,
  user_count       INTEGER NOT NULL,
  users            TEXT[] COLLATE "C" NOT NULL,
  state            TEXT    NOT NULL DEFAULT 'pending',
  lease_owner      TEXT,
  lease_expires_ms BIGINT,
  attempts         INTEGER NOT NULL DEFAULT 0,
  takeovers        INTEGER NOT NULL DEFAULT 0,
  took_over        INTEGER NOT NULL DEFAULT 0,
  taken_from       TEXT,
  claimed_at_ms    BIGINT,
  done_at_ms       BIGINT,
  issued           BIGINT  NOT NULL DEFAULT 0,
  present          BIGINT  NOT NULL DEFAULT 0,
  revoked          BIGINT  NOT NULL DEFAULT 0,
  failed           BIGINT  NOT NULL DEFAULT 0,
  PRIMARY KEY (job_id, chunk_no)
);
)sql";

// Every mcx-kms migration takes this lock (an arbitrary constant: "mcx-kms" in ASCII), held
// until its transaction ends.
constexpr const char* kMigrationLock = "SELECT pg_advisory_xact_lock(30790140270701939)";

// The version, 0 for a database with no store yet.
Result<int> SchemaVersion(pg::Connection& c) {
  Result<pg::ResultPtr> has = c.Run("SELECT to_regclass('store_schema') IS NOT NULL", "reading the schema version");
  if (!has.ok()) return has.status();
  if (PQgetvalue(has->get(), 0, 0)[0] == 0) return 0;  // a binary bool: one octet
  Result<pg::ResultPtr> v = c.Run("SELECT max(version) FROM store_schema", "reading the schema version");
  if (!v.ok()) return v.status();
  return static_cast<int>(pg::GetInt(v->get(), 0, 0));
}

}  // namespace

bool IsPostgresUrl(std::string_view s) { return s.starts_with("postgresql://") || s.starts_with("postgres://"); }

Result<std::shared_ptr<PostgresDatabase>> PostgresDatabase::Open(const std::string& url) {
  std::shared_ptr<PostgresDatabase> db(new PostgresDatabase(url));
  Result<std::unique_ptr<pg::Connection>> first = db->Connect();
  if (!first.ok()) return first.status();
  PGconn* c = (*first)->get();
  db->description_ = std::string("PostgreSQL database ") + PQdb(c) + " on " + PQhost(c) + ":" + PQport(c) + " as " +
                     PQuser(c);
  db->pool_.push_back(std::move(first).value());
  MCX_RETURN_IF_ERROR(db->Migrate());
  return db;
}

PostgresDatabase::~PostgresDatabase() = default;

Result<std::unique_ptr<pg::Connection>> PostgresDatabase::Connect() {
  auto conn = std::make_unique<pg::Connection>(PQconnectdb(url_.c_str()));
  if (conn->get() == nullptr) return Status::Unavailable("connecting to the PostgreSQL store: out of memory");
  if (PQstatus(conn->get()) != CONNECTION_OK) {
    std::string said = PQerrorMessage(conn->get());
    while (!said.empty() && (said.back() == '\n' || said.back() == ' ')) said.pop_back();
    // libpq's message names host and user, never the password.
    return Status::Unavailable("connecting to the PostgreSQL store: " + said +
                               " — check that the server runs, that the store URL names it, its database and "
                               "user, and that the user may log in (pg_hba.conf, password or ~/.pgpass)");
  }
  // Quiet: NOTICEs ("relation already exists, skipping") would go to stderr.
  PQsetNoticeProcessor(conn->get(), [](void*, const char*) {}, nullptr);
  return conn;
}

Status PostgresDatabase::Migrate() {
  {
    Borrowed b(*this);
    if (!b.ok()) return b.status();
    Result<int> seen = SchemaVersion(b.conn());
    if (!seen.ok()) return seen.status();
    if (*seen == kStoreSchemaVersion) return Status::Ok();  // a current store is not written to
  }
  // The version is read again under the lock, inside the transaction: a process that waited for
  // another's migration sees the new version and has nothing left to do.
  return Transaction("migrating the store's schema", [this](pg::Connection& c) -> Status {
    MCX_RETURN_IF_ERROR(c.Exec(kMigrationLock, "waiting for the migration lock"));
    Result<int> current = SchemaVersion(c);
    if (!current.ok()) return current.status();
    const int version = *current;
    if (version > kStoreSchemaVersion) {
      return Status::Unavailable("the store (" + description_ + ") has schema version " + std::to_string(version) +
                                 ", newer than this mcx-kms understands (" + std::to_string(kStoreSchemaVersion) +
                                 "): upgrade mcx-kms");
    }
    if (version == kStoreSchemaVersion) return Status::Ok();
    MCX_RETURN_IF_ERROR(c.Exec("CREATE TABLE IF NOT EXISTS store_schema (version INTEGER NOT NULL)",
                               "creating the schema version table"));
    if (version < 1) MCX_RETURN_IF_ERROR(c.Exec(kSchemaV1, "creating the schema"));
    if (version < 2) MCX_RETURN_IF_ERROR(c.Exec(kSchemaV2, "adding key_sets.delivered_at"));
    if (version < 3) MCX_RETURN_IF_ERROR(c.Exec(kSchemaV3, "adding the certificate lifecycle tables"));
    if (version < 4) MCX_RETURN_IF_ERROR(c.Exec(kSchemaV4, "adding the provisioning job tables"));
    MCX_RETURN_IF_ERROR(c.Exec("DELETE FROM store_schema", "recording the schema version"));
    const std::string bump = "INSERT INTO store_schema(version) VALUES (" + std::to_string(kStoreSchemaVersion) + ")";
    return c.Exec(bump.c_str(), "recording the schema version");
  });
}

Status PostgresDatabase::Transaction(const std::string& what, const std::function<Status(pg::Connection&)>& body) {
  constexpr int kAttempts = 4;
  Status s;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    Borrowed b(*this);
    if (!b.ok()) return b.status();
    pg::Connection& c = b.conn();
    bool committing = false;
    s = c.Exec("BEGIN", "starting a transaction: " + what);
    if (s.ok()) s = body(c);
    if (s.ok()) {
      committing = true;
      s = c.Exec("COMMIT", "committing: " + what);
    }
    if (s.ok()) return s;
    if (PQstatus(c.get()) == CONNECTION_BAD) {
      // The connection was lost (the server restarted, or failed over to a standby). Before
      // COMMIT was sent nothing was committed, so the transaction runs again on a fresh
      // connection; a COMMIT whose answer was lost may or may not have taken: reported as is.
      if (committing) return s;
      continue;
    }
    const std::string state = c.last_sqlstate();
    (void)c.Exec("ROLLBACK", "rolling back");
    if (state != "40001" && state != "40P01") return s;
  }
  return s;
}

PostgresDatabase::Borrowed::Borrowed(PostgresDatabase& owner) : owner_(owner) {
  {
    std::lock_guard<std::mutex> lock(owner_.pool_mu_);
    if (!owner_.pool_.empty()) {
      conn_ = std::move(owner_.pool_.back());
      owner_.pool_.pop_back();
    }
  }
  if (conn_ && PQstatus(conn_->get()) != CONNECTION_OK) conn_.reset();  // lost: connect afresh
  if (!conn_) {
    Result<std::unique_ptr<pg::Connection>> c = owner_.Connect();
    if (c.ok()) conn_ = std::move(c).value(); else status_ = c.status();
  }
}

PostgresDatabase::Borrowed::~Borrowed() {
  if (conn_ && PQstatus(conn_->get()) == CONNECTION_BAD) {
    // The server went away: the idle connections went with it, and each would fail one call
    // before it is found out. They are all dropped; the next calls connect afresh (to whichever
    // host of the URL takes writes now, after a failover).
    std::lock_guard<std::mutex> lock(owner_.pool_mu_);
    owner_.pool_.clear();
    return;
  }
  // A connection left inside a transaction (a failed ROLLBACK) is not reused.
  if (!conn_ || PQtransactionStatus(conn_->get()) != PQTRANS_IDLE) return;
  std::lock_guard<std::mutex> lock(owner_.pool_mu_);
  if (owner_.pool_.size() < 16) owner_.pool_.push_back(std::move(conn_));
}

}  // namespace mcx
