// store_compare: the SQLite store and the PostgreSQL store side by side, in one run, on the two
// operations that decide a KMS's capacity:
//
//   bulk      InsertBatch of sealed key sets in commits of 2048 (the bulk pipeline's serial stage)
//   keyprov   Find + open of a pre-provisioned key set for a random user (a keyprov answer's store
//             work), on 1 and on 2 threads
//
// Rounds alternate the stores so both see the same machine; medians are reported, with the
// targets PostgreSQL/SQLite >= 0.8 (bulk) and >= 0.7 (keyprov). PostgreSQL is the database named
// by $MCX_TEST_POSTGRES_URL (bench/store-compare.sh starts one on loopback); the key sets go into
// a schema of their own, dropped afterwards. SQLite is a file in a scratch directory.
//
// Usage: store_compare [KEY_SETS [ROUNDS]]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <libpq-fe.h>

#include "base/pooled_random.h"
#include "engine/keys/in_memory_kms.h"
#include "engine/keys/key_set_deriver.h"
#include "engine/store/postgres_key_store.h"
#include "engine/store/sqlite_key_store.h"

namespace mcx {
namespace {

using Clock = std::chrono::steady_clock;
constexpr char kCert[] = "kms.example.org.cert";
constexpr size_t kCommit = 2048;

std::string User(size_t i) { return "sip:bench" + std::to_string(i) + "@example.org"; }

bool Sql(const std::string& url, const std::string& sql) {
  PGconn* c = PQconnectdb(url.c_str());
  PQsetNoticeProcessor(c, [](void*, const char*) {}, nullptr);
  PGresult* r = PQexec(c, sql.c_str());
  const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  if (!ok) std::fprintf(stderr, "%s: %s", sql.c_str(), PQerrorMessage(c));
  PQclear(r);
  PQfinish(c);
  return ok;
}

// A fresh empty store of each kind, per round.
struct Stores {
  std::filesystem::path dir;
  std::string pg_admin, pg_schema;
  int round = 0;

  Result<std::unique_ptr<KeyStore>> Fresh(bool postgres) {
    ++round;
    if (!postgres) {
      std::filesystem::remove_all(dir);
      std::filesystem::create_directories(dir);
      return OpenSqliteKeyStore(dir / "store.sqlite", kCert);
    }
    pg_schema = "store_compare_" + std::to_string(::getpid());
    if (!Sql(pg_admin, "DROP SCHEMA IF EXISTS " + pg_schema + " CASCADE; CREATE SCHEMA " + pg_schema)) {
      return Status::Unavailable("cannot create a scratch schema in " + pg_admin);
    }
    const std::string url =
        pg_admin + (pg_admin.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" + pg_schema;
    return OpenPostgresKeyStore(url, kCert);
  }
  ~Stores() {
    std::filesystem::remove_all(dir);
    if (!pg_schema.empty()) Sql(pg_admin, "DROP SCHEMA IF EXISTS " + pg_schema + " CASCADE");
  }
};

double BulkRate(KeyStore& store, std::vector<SealedKeySet>& records) {
  const auto t0 = Clock::now();
  for (size_t start = 0; start < records.size(); start += kCommit) {
    const size_t n = std::min(kCommit, records.size() - start);
    Result<size_t> done = store.InsertBatch(std::span<const SealedKeySet>(records.data() + start, n));
    if (!done.ok() || *done != n) {
      std::fprintf(stderr, "InsertBatch: %s\n", done.ok() ? "short" : done.status().ToString().c_str());
      std::exit(1);
    }
  }
  return records.size() / std::chrono::duration<double>(Clock::now() - t0).count();
}

double KeyprovRate(KeyStore& store, const KeySetCipher& cipher, size_t population, int threads, double seconds) {
  std::atomic<uint64_t> done{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  const auto t0 = Clock::now();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937_64 pick(static_cast<uint64_t>(t) * 7919 + 1);
      uint64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        Result<std::optional<SealedKeySet>> found = store.Find(User(pick() % population), 1545);
        if (!found.ok() || !found->has_value() || !cipher.Open(**found).ok()) {
          std::fprintf(stderr, "Find/open failed\n");
          std::exit(1);
        }
        ++n;
      }
      done += n;
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (std::thread& w : workers) w.join();
  return done.load() / std::chrono::duration<double>(Clock::now() - t0).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int Run(int argc, char** argv) {
  const size_t n = argc > 1 ? std::stoul(argv[1]) : 20480;
  const int rounds = argc > 2 ? std::stoi(argv[2]) : 3;
  const char* url = std::getenv("MCX_TEST_POSTGRES_URL");
  if (url == nullptr || *url == '\0') {
    std::fprintf(stderr, "store_compare: set MCX_TEST_POSTGRES_URL (bench/store-compare.sh starts a server)\n");
    return 2;
  }
  OpenSslRandom rng;
  SecretBytes key(kDataKeyBytes);
  (void)rng.Fill(key.span());
  KeySetCipher cipher(std::move(key), kCert);
  InMemoryKms kms = std::move(InMemoryKms::Create(rng)).value();
  CommunityParameters params = *CommunityParameters::Make("kms.example.org", 2592000, 0);
  KeySetDeriver deriver(params, kms.secrets, kms.pub, *kms.sakke, *kms.eccsi);
  // One key set's keys under every user, sealed for that user (the store's work does not depend
  // on the keys; the seal binds each record to its user, so each opens only as its own).
  KeySet ks = *deriver.Derive("sip:proto@example.org", 1545, rng);
  std::vector<SealedKeySet> records;
  records.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    ks.user_uri = User(i);
    records.push_back(*cipher.Seal(ks));
  }

  Stores stores;
  stores.dir = std::filesystem::temp_directory_path() / ("mcx-store-compare-" + std::to_string(::getpid()));
  stores.pg_admin = url;
  std::printf("store_compare: %zu key sets in commits of %zu, %d rounds; PostgreSQL at %s\n", n, kCommit, rounds, url);
  std::vector<double> bulk[2], kp1[2], kp2[2];
  for (int r = 0; r < rounds; ++r) {
    for (int pg = 0; pg < 2; ++pg) {
      Result<std::unique_ptr<KeyStore>> store = stores.Fresh(pg == 1);
      if (!store.ok()) return std::fprintf(stderr, "%s\n", store.status().ToString().c_str()), 1;
      bulk[pg].push_back(BulkRate(**store, records));
      (void)KeyprovRate(**store, cipher, n, 2, 0.3);  // warm-up: connections, statements, caches
      kp1[pg].push_back(KeyprovRate(**store, cipher, n, 1, 2.0));
      kp2[pg].push_back(KeyprovRate(**store, cipher, n, 2, 2.0));
      std::printf("round %d %-10s bulk %8.0f key sets/s   keyprov (Find+open) 1 thread %8.0f/s, 2 threads %8.0f/s\n",
                  r + 1, pg ? "PostgreSQL" : "SQLite", bulk[pg].back(), kp1[pg].back(), kp2[pg].back());
      std::fflush(stdout);
    }
  }
  const double b0 = Median(bulk[0]), b1 = Median(bulk[1]);
  const double k10 = Median(kp1[0]), k11 = Median(kp1[1]), k20 = Median(kp2[0]), k21 = Median(kp2[1]);
  std::printf("\nmedians             SQLite   PostgreSQL   PostgreSQL/SQLite   target\n");
  std::printf("bulk InsertBatch  %8.0f   %8.0f     %5.2f               >= 0.80 %s\n", b0, b1, b1 / b0,
              b1 / b0 >= 0.8 ? "met" : "NOT met");
  std::printf("keyprov 1 thread  %8.0f   %8.0f     %5.2f               >= 0.70 %s\n", k10, k11, k11 / k10,
              k11 / k10 >= 0.7 ? "met" : "NOT met");
  std::printf("keyprov 2 threads %8.0f   %8.0f     %5.2f               >= 0.70 %s\n", k20, k21, k21 / k20,
              k21 / k20 >= 0.7 ? "met" : "NOT met");
  return 0;
}

}  // namespace
}  // namespace mcx

int main(int argc, char** argv) { return mcx::Run(argc, argv); }
