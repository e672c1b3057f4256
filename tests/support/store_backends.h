// The two kinds of key store, for tests that run the same cases against both.
//
// A StoreBackend is one fresh, empty store of its kind: a SQLite file in a temporary directory,
// or a schema of its own in the PostgreSQL database named by $MCX_TEST_POSTGRES_URL (set by
// tests/support/with_postgres.sh, which starts a server on loopback for the test binary). Open()
// may be called many times: each call is another opener of the same store, with connections of
// its own, as another process would be. Without $MCX_TEST_POSTGRES_URL, PostgreSQL backends are
// unavailable and tests skip them saying why.
#pragma once

#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>

#include <unistd.h>

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "engine/store/postgres_audit_store.h"
#include "engine/store/postgres_job_store.h"
#include "engine/store/postgres_key_store.h"
#include "engine/store/sqlite_audit_store.h"
#include "engine/store/sqlite_job_store.h"
#include "engine/store/sqlite_key_store.h"
#include "tests/support/temp_dir.h"

namespace mcx::testing {

enum class StoreKind { kSqlite, kPostgres };

inline std::string StoreKindName(StoreKind k) { return k == StoreKind::kSqlite ? "Sqlite" : "Postgres"; }

inline const char* kNoPostgresReason =
    "no PostgreSQL server for this run: $MCX_TEST_POSTGRES_URL is unset (ctest runs these cases through "
    "tests/support/with_postgres.sh, test store_postgres)";

class StoreBackend {
 public:
  explicit StoreBackend(StoreKind kind) : kind_(kind) {
    if (kind_ == StoreKind::kSqlite) return;
    const char* url = std::getenv("MCX_TEST_POSTGRES_URL");
    if (url == nullptr || *url == '\0') return;
    admin_url_ = url;
    static std::atomic<int> counter{0};
    schema_ = "t" + std::to_string(::getpid()) + "_" + std::to_string(counter.fetch_add(1));
    Sql("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE; CREATE SCHEMA " + schema_);
    // libpq's options parameter sets search_path for every connection of this store.
    url_ = admin_url_ + (admin_url_.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" + schema_;
  }
  ~StoreBackend() {
    if (!schema_.empty()) Sql("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
  }

  StoreKind kind() const { return kind_; }
  bool available() const { return kind_ == StoreKind::kSqlite || !url_.empty(); }
  // The SQLite file or the PostgreSQL URL (with its schema).
  std::string location() const { return kind_ == StoreKind::kSqlite ? (dir_.path() / "store.sqlite").string() : url_; }

  Result<std::unique_ptr<KeyStore>> Open(const std::string& cert_uri) const {
    if (kind_ == StoreKind::kSqlite) return OpenSqliteKeyStore(location(), cert_uri);
    return OpenPostgresKeyStore(url_, cert_uri);
  }

  // The store's provisioning jobs.
  Result<std::unique_ptr<ProvisioningJobStore>> OpenJobs() const {
    if (kind_ == StoreKind::kSqlite) return OpenSqliteJobStore(location());
    return OpenPostgresJobStore(url_);
  }

  // The store's audit chains (a SQLite store's file is made when missing).
  Result<std::unique_ptr<AuditStore>> OpenAudit() const {
    if (kind_ == StoreKind::kPostgres) return OpenPostgresAuditStore(url_);
    SqliteAuditStoreOptions options;
    options.create_if_missing = true;
    options.sync_every_commit = false;
    return OpenSqliteAuditStore(location(), options);
  }

  // Runs SQL against the database directly, as an attacker or a careless admin would: `sqlite`
  // on a SQLite store, `postgres` on a PostgreSQL one (in the store's schema).
  void Tamper(const std::string& sqlite, const std::string& postgres) const {
    if (kind_ == StoreKind::kSqlite) {
      sqlite3* db = nullptr;
      ASSERT_EQ(sqlite3_open(location().c_str(), &db), SQLITE_OK);
      char* err = nullptr;
      ASSERT_EQ(sqlite3_exec(db, sqlite.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
      sqlite3_close(db);
    } else {
      Sql("SET search_path TO " + schema_ + "; " + postgres);
    }
  }

  // Whether `needle` is anywhere in what the store keeps: every octet of the SQLite files (close
  // the store first), or every row of the PostgreSQL tables (bytea printed as hex digits).
  bool RawContains(ByteView needle) const {
    std::string haystack;
    std::string want(needle.begin(), needle.end());
    if (kind_ == StoreKind::kSqlite) {
      for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
        std::FILE* f = std::fopen(entry.path().c_str(), "rb");
        if (f == nullptr) continue;
        char buf[4096];
        size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) haystack.append(buf, n);
        std::fclose(f);
      }
    } else {
      PGconn* c = PQconnectdb(url_.c_str());
      for (const char* table : {"key_sets", "kms_state", "certificates"}) {
        PGresult* r = PQexec(c, (std::string("SELECT t::text FROM ") + table + " t").c_str());
        for (int i = 0; i < PQntuples(r); ++i) haystack += std::string(PQgetvalue(r, i, 0)) + "\n";
        PQclear(r);
      }
      PQfinish(c);
      static const char* digits = "0123456789abcdef";
      want.clear();
      for (uint8_t v : needle) (want += digits[v >> 4]) += digits[v & 15];
    }
    return haystack.find(want) != std::string::npos;
  }

 private:
  void Sql(const std::string& sql) const {
    PGconn* c = PQconnectdb(admin_url_.c_str());
    ASSERT_EQ(PQstatus(c), CONNECTION_OK) << PQerrorMessage(c);
    PQsetNoticeProcessor(c, [](void*, const char*) {}, nullptr);
    PGresult* r = PQexec(c, sql.c_str());
    const ExecStatusType st = PQresultStatus(r);
    EXPECT_TRUE(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) << sql << ": " << PQresultErrorMessage(r);
    PQclear(r);
    PQfinish(c);
  }

  StoreKind kind_;
  TempDir dir_;
  std::string admin_url_, url_, schema_;
};

}  // namespace mcx::testing
