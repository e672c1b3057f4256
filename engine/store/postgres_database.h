// PostgresDatabase: one PostgreSQL database (libpq) behind the shared stores — key sets
// (postgres_key_store.cc) and the KMS's lifecycle (postgres_lifecycle_store.cc), for KMS
// replicas and commands that run on several machines at once.
//
// A small pool of connections: each call borrows one, so many server threads query at once;
// statements a connection runs often are prepared on it once. The schema carries the same
// version as the SQLite store's (kStoreSchemaVersion, table store_schema); migrations run at open
// inside one transaction that first takes a transaction-scoped advisory lock and then re-reads
// the version, so processes opening a fresh store together migrate it once and every one of them
// then starts. The URL is libpq's (postgresql://user@host:port/db?...); its password, if any,
// never appears in a message. Thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <libpq-fe.h>

#include "base/bytes.h"
#include "base/status.h"

namespace mcx {
namespace pg {

struct ResultClear { void operator()(PGresult* r) const { PQclear(r); } };
using ResultPtr = std::unique_ptr<PGresult, ResultClear>;

// A statement's parameters, $1 onwards. Text and bytea go in binary form (their octets as they
// are, no quoting); integers as decimal text. Values are copied: a Params may outlive its inputs.
class Params {
 public:
  Params& Text(std::string_view s) { return Add(s, 1); }
  Params& Blob(ByteView b) { return Add(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()), 1); }
  Params& BlobOrNull(ByteView b) { return b.empty() ? Null() : Blob(b); }
  Params& Int(int64_t v) { return Add(std::to_string(v), 0); }
  // A value in PostgreSQL's text input form (an array literal, say), parsed by the server.
  Params& Literal(std::string_view s) { return Add(s, 0); }
  Params& Null();

  int size() const { return static_cast<int>(values_.size()); }
  const char* const* values() const { return values_.data(); }
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  Params& Add(std::string_view s, int format);
  std::deque<std::string> owned_;  // a deque: growing it moves no string, so values_ stay valid
  std::vector<const char*> values_;
  std::vector<int> lengths_, formats_;
};

// A PostgreSQL text[] or bigint[] literal, for "= ANY($n::text[])" and unnest().
std::string TextArray(std::span<const std::string> items);

// A one-dimensional array in PostgreSQL's binary form (array_recv), for a parameter given with
// Params::Blob: thousands of values in one parameter, nothing to quote or parse. `element_oid`
// is the element type's (25 text, 17 bytea, 20 int8).
class BinaryArray {
 public:
  BinaryArray(uint32_t element_oid, size_t count);
  BinaryArray& Add(ByteView value);
  BinaryArray& Add(std::string_view value) {
    return Add(ByteView(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
  }
  BinaryArray& AddInt8(int64_t value);
  ByteView bytes() const { return buf_; }

 private:
  void Put32(uint32_t v);
  Bytes buf_;
};
inline constexpr uint32_t kTextOid = 25, kByteaOid = 17, kInt8Oid = 20;

// Readers of binary result columns.
std::string GetText(const PGresult* r, int row, int col);
Bytes GetBytes(const PGresult* r, int row, int col);
int64_t GetInt(const PGresult* r, int row, int col);  // int2, int4 or int8
bool IsNull(const PGresult* r, int row, int col);
// The number of rows an INSERT/UPDATE/DELETE changed.
size_t Changed(const PGresult* r);

// A connection and the statements prepared on it.
class Connection {
 public:
  explicit Connection(PGconn* conn) : conn_(conn) {}
  ~Connection() { PQfinish(conn_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  PGconn* get() const { return conn_; }

  // Runs `sql` with `params`, results in binary. Prepared on this connection the first time
  // when `prepare` (for statements run often; the SQL text is the statement's identity).
  Result<ResultPtr> Run(const std::string& sql, const Params& params, const std::string& what, bool prepare = true);
  Result<ResultPtr> Run(const std::string& sql, const std::string& what) { return Run(sql, Params(), what, false); }
  // Runs one or more statements with no parameters (schema changes, BEGIN, COMMIT).
  Status Exec(const char* sql, const std::string& what);
  // The SQLSTATE of the last failure on this connection ("" after a success).
  const std::string& last_sqlstate() const { return last_sqlstate_; }

 private:
  PGconn* conn_;
  // OK when `r` is a successful result; otherwise the error, with its SQLSTATE kept.
  Status Check(PGresult* r, const std::string& what);
  std::string last_sqlstate_;
  std::unordered_map<std::string, std::string> prepared_;  // SQL -> statement name
};

// PostgreSQL's words (its primary message and SQLSTATE) plus what an operator can do about them.
Status Error(PGconn* conn, const PGresult* r, const std::string& what);

}  // namespace pg

class PostgresDatabase {
 public:
  // Connects to `url` and brings the schema to kStoreSchemaVersion.
  static Result<std::shared_ptr<PostgresDatabase>> Open(const std::string& url);
  ~PostgresDatabase();

  // "PostgreSQL database D on H:P as U" — for messages and `mcx-kms bench`; no password.
  const std::string& description() const { return description_; }

  // A connection borrowed from the pool for one call.
  class Borrowed {
   public:
    explicit Borrowed(PostgresDatabase& db);
    ~Borrowed();
    bool ok() const { return status_.ok(); }
    const Status& status() const { return status_; }
    pg::Connection& conn() const { return *conn_; }

   private:
    PostgresDatabase& owner_;
    std::unique_ptr<pg::Connection> conn_;
    Status status_;
  };

  // Runs `body` inside BEGIN ... COMMIT on a borrowed connection, rolling back when it or the
  // commit fails. A transaction PostgreSQL aborts as a deadlock or serialization failure is run
  // again (a few times): `body` must be safe to repeat.
  Status Transaction(const std::string& what, const std::function<Status(pg::Connection&)>& body);

 private:
  explicit PostgresDatabase(std::string url) : url_(std::move(url)) {}
  Result<std::unique_ptr<pg::Connection>> Connect();
  Status Migrate();

  std::string url_;
  std::string description_;
  std::mutex pool_mu_;
  std::vector<std::unique_ptr<pg::Connection>> pool_;
};

// True for the URLs PostgresDatabase::Open takes (postgresql:// or postgres://).
bool IsPostgresUrl(std::string_view setting);

}  // namespace mcx
