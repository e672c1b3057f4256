// AuditLog, the writer: group commit from many threads, two writers ("processes") on one file and
// one node keeping one gapless chain, batches, asynchronous events, and failing closed when the
// store cannot be written, then recovering.
#include <signal.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "tests/engine/audit/audit_test_env.h"

namespace mcx::testing {
namespace {

std::vector<AuditRecord> Chain(AuditStore& store, const std::string& node) {
  std::vector<AuditRecord> chain;
  EXPECT_TRUE(store.ScanChain(node, 1, [&](const AuditRecord& r) {
    chain.push_back(r);
    return true;
  }).ok());
  return chain;
}

TEST_F(AuditTest, ManyThreadsShareCommitsAndKeepOneChain) {
  AuditLogOptions o;
  o.node = "kms-1";
  AuditLog log(*store_, *custody_, o);
  constexpr int kThreads = 8, kEach = 40;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        if (!log.Record(Event(t * 1000 + i)).ok()) failures.fetch_add(1);
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  AuditLog::Counters c = log.counters();
  EXPECT_EQ(c.committed, uint64_t{kThreads * kEach});
  EXPECT_LE(c.transactions, c.committed);
  EXPECT_TRUE(log.Health().ok());
  AuditVerification v = Verify();
  EXPECT_TRUE(v.ok());
  EXPECT_EQ(v.records, uint64_t{kThreads * kEach});
  std::set<std::string> users;
  for (const AuditRecord& r : Chain(*store_, "kms-1")) users.insert(r.user_uri);
  EXPECT_EQ(users.size(), size_t{kThreads * kEach}) << "every event recorded exactly once";
}

TEST_F(AuditTest, TwoWritersOnOneFileAndNodeKeepOneGaplessChain) {
  // Two stores (two connections, as two processes would have) and two logs, same node.
  std::unique_ptr<AuditStore> second = OpenStore();
  ASSERT_NE(second, nullptr);
  AuditLogOptions o;
  o.node = "kms-1";
  AuditLog a(*store_, *custody_, o);
  AuditLog b(*second, *custody_, o);
  constexpr int kEach = 60;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      AuditLog& log = t % 2 == 0 ? a : b;
      for (int i = 0; i < kEach; ++i) {
        if (!log.Record(Event(t * 1000 + i)).ok()) failures.fetch_add(1);
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  AuditVerification v = Verify();
  EXPECT_TRUE(v.ok()) << (v.findings.empty() ? "" : v.findings[0].explanation);
  EXPECT_EQ(v.records, uint64_t{4 * kEach});
  std::vector<AuditRecord> chain = Chain(*second, "kms-1");
  ASSERT_EQ(chain.size(), size_t{4 * kEach});
  for (size_t i = 0; i < chain.size(); ++i) EXPECT_EQ(chain[i].seq, i + 1);
}

TEST_F(AuditTest, WritersInSeparateProcessesKeepOneGaplessChain) {
  // Three processes and this one append to the same node's chain at the same time. The writers
  // start 0.3 s apart: SoftHSM2's file store can miss a token while another process is logging in
  // to it (a test-token limitation); their appends still overlap (each runs for over a second).
  constexpr int kEach = 150;
  const std::string writer = std::string(MCX_AUDIT_WRITER) + " " + config_.data_dir.string() + " kms-1 " +
                             std::to_string(kEach);
  const std::string script = "{ pids=''; for t in p1 p2 p3; do " + writer +
                             " $t & pids=\"$pids $!\"; sleep 0.3; done; rc=0; for p in $pids; do wait $p || "
                             "{ echo \"writer $p: exit $?\"; rc=1; }; done; exit $rc; }";
  std::string out;
  int rc = -1;
  std::thread others([&] { rc = RunCommand(script, out); });
  {
    AuditLogOptions o;
    o.node = "kms-1";
    AuditLog log(*store_, *custody_, o);
    for (int i = 0; i < kEach; ++i) ASSERT_TRUE(log.Record(Event(i)).ok());
  }
  others.join();
  ASSERT_EQ(rc, 0) << out;
  AuditVerification v = Verify();
  EXPECT_TRUE(v.ok()) << (v.findings.empty() ? "" : v.findings[0].explanation);
  EXPECT_EQ(v.records, uint64_t{4 * kEach});
  std::vector<AuditRecord> chain = Chain(*store_, "kms-1");
  ASSERT_EQ(chain.size(), size_t{4 * kEach});
  std::set<std::string> users;
  int switches = 0;  // where the chain passes from one writer's records to another's
  for (size_t i = 0; i < chain.size(); ++i) {
    EXPECT_EQ(chain[i].seq, i + 1);
    users.insert(chain[i].user_uri);
    if (i > 0 && chain[i].user_uri.substr(0, 7) != chain[i - 1].user_uri.substr(0, 7)) ++switches;
  }
  EXPECT_EQ(users.size(), size_t{4 * kEach});
  // Four writers give at least three switches even when a loaded machine runs them one after
  // another; each switch is a process appending after another's tip.
  EXPECT_GE(switches, 3) << "the writers' appends are not all in the chain";
}

TEST_F(AuditTest, ABatchIsRecordedConsecutivelyInOneTransaction) {
  AuditLogOptions o;
  o.node = "kms-1";
  AuditLog log(*store_, *custody_, o);
  ASSERT_TRUE(log.Record(Event(1)).ok());
  std::vector<AuditEvent> batch;
  for (int i = 0; i < 5; ++i) batch.push_back(Event(100 + i));
  ASSERT_TRUE(log.Record(batch).ok());
  std::vector<AuditRecord> chain = Chain(*store_, "kms-1");
  ASSERT_EQ(chain.size(), 6u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(chain[1 + i].user_uri, batch[i].user_uri);
  EXPECT_TRUE(Verify().ok());
}

TEST_F(AuditTest, AsynchronousEventsAreCommittedByFlush) {
  AuditLogOptions o;
  o.node = "kms-1";
  AuditLog log(*store_, *custody_, o);
  for (int i = 0; i < 50; ++i) {
    AuditEvent e = Event(i);
    e.kind = AuditEventKind::kRequestRefused;
    log.RecordAsync(std::move(e));
  }
  log.Flush();
  EXPECT_EQ(log.counters().committed, 50u);
  EXPECT_TRUE(log.Health().ok());
  EXPECT_EQ(Verify().records, 50u);
}

TEST_F(AuditTest, EventsPendingAtDestructionAreCommitted) {
  {
    AuditLogOptions o;
    o.node = "kms-1";
    AuditLog log(*store_, *custody_, o);
    for (int i = 0; i < 20; ++i) log.RecordAsync(Event(i));
  }
  AuditVerification v = Verify();
  EXPECT_TRUE(v.ok());
  EXPECT_EQ(v.records, 20u);
}

TEST_F(AuditTest, BegunRecordsShareACommitAndAWaiterIsNeverHeldBack) {
  AuditLogOptions o;
  o.node = "kms-1";
  o.gather_window = std::chrono::seconds(30);  // the writer would hold these back this long...
  AuditLog log(*store_, *custody_, o);
  std::vector<AuditLog::Receipt> receipts;
  for (int i = 0; i < 3; ++i) receipts.push_back(log.Begin(Event(i)));
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(receipts[1].Wait().ok());  // ...but someone now waits: it commits at once
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_TRUE(receipts[0].Wait().ok());
  EXPECT_TRUE(receipts[2].Wait().ok());
  EXPECT_TRUE(receipts[2].Wait().ok()) << "a receipt answers again";
  AuditLog::Counters c = log.counters();
  EXPECT_EQ(c.committed, 3u);
  EXPECT_EQ(c.transactions, 1u) << "handed in together, committed together";
  EXPECT_TRUE(AuditLog::Receipt().Wait().ok()) << "an empty receipt (no audit log) waits for nothing";
  AuditVerification v = Verify();
  EXPECT_TRUE(v.ok());
  EXPECT_EQ(v.records, 3u);
}

TEST_F(AuditTest, RecordFailsWhileTheStoreIsLockedAndRecoversAfter) {
  SqliteAuditStoreOptions quick;
  quick.busy_timeout_ms = 100;
  std::unique_ptr<AuditStore> store = OpenStore(quick);
  ASSERT_NE(store, nullptr);
  AuditLogOptions o;
  o.node = "kms-1";
  AuditLog log(*store, *custody_, o);
  ASSERT_TRUE(log.Record(Event(1)).ok());

  sqlite3* other = nullptr;  // another process holding the write lock
  ASSERT_EQ(sqlite3_open(config_.store_path.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
  Status refused = log.Record(Event(2));
  EXPECT_FALSE(refused.ok());
  EXPECT_EQ(refused.code(), Status::Code::kUnavailable) << refused.ToString();
  EXPECT_NE(refused.message().find("locked"), std::string::npos) << refused.ToString();
  EXPECT_FALSE(log.Health().ok());
  EXPECT_EQ(log.Health().message(), refused.message());
  EXPECT_EQ(log.counters().failed, 1u);

  ASSERT_EQ(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  EXPECT_FALSE(log.Health().ok()) << "health stays bad until an append succeeds";
  ASSERT_TRUE(log.Record(Event(3)).ok());
  EXPECT_TRUE(log.Health().ok());
  AuditVerification v = Verify();
  EXPECT_TRUE(v.ok());
  EXPECT_EQ(v.records, 2u) << "the refused event left no record and no gap";
}

// The process may not grow a file past RLIMIT_FSIZE: to SQLite that is a disk that refuses writes.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    signal(SIGXFSZ, SIG_IGN);
    getrlimit(RLIMIT_FSIZE, &saved_);
    rlimit r = saved_;
    r.rlim_cur = bytes;
    ok_ = setrlimit(RLIMIT_FSIZE, &r) == 0;
  }
  ~FileSizeLimit() { setrlimit(RLIMIT_FSIZE, &saved_); }
  bool ok() const { return ok_; }

 private:
  rlimit saved_{};
  bool ok_ = false;
};

TEST_F(AuditTest, RecordFailsWhenTheDiskRefusesWritesAndRecoversAfter) {
  AuditLogOptions o;
  o.node = "kms-1";
  AuditLog log(*store_, *custody_, o);
  ASSERT_TRUE(log.Record(Event(1)).ok());
  std::error_code ec;
  const auto wal = config_.store_path.string() + "-wal";
  const auto size = std::filesystem::file_size(wal, ec);
  ASSERT_FALSE(ec) << ec.message();
  Status refused;
  {
    FileSizeLimit limit(size);
    ASSERT_TRUE(limit.ok());
    AuditEvent big = Event(2);
    big.detail.assign(64 * 1024, 'x');  // more than the WAL has room for below the limit
    refused = log.Record(big);
  }
  EXPECT_FALSE(refused.ok());
  EXPECT_EQ(refused.code(), Status::Code::kUnavailable) << refused.ToString();
  EXPECT_FALSE(log.Health().ok());
  ASSERT_TRUE(log.Record(Event(3)).ok());
  EXPECT_TRUE(log.Health().ok());
  AuditVerification v = Verify();
  EXPECT_TRUE(v.ok()) << (v.findings.empty() ? "" : v.findings[0].explanation);
  EXPECT_EQ(v.records, 2u);
}

TEST_F(AuditTest, EveryWaiterOfAFailedCommitGetsTheError) {
  SqliteAuditStoreOptions quick;
  quick.busy_timeout_ms = 300;
  std::unique_ptr<AuditStore> store = OpenStore(quick);
  ASSERT_NE(store, nullptr);
  AuditLogOptions o;
  o.node = "kms-1";
  AuditLog log(*store, *custody_, o);
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(config_.store_path.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      if (!log.Record(Event(t)).ok()) refused.fetch_add(1);
    });
  }
  for (std::thread& th : threads) th.join();
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  EXPECT_EQ(refused.load(), 6);
  EXPECT_EQ(Verify().records, 0u);
}

TEST_F(AuditTest, AsynchronousEventsBeyondTheQueueAreDroppedAndHealthSaysSo) {
  SqliteAuditStoreOptions quick;
  quick.busy_timeout_ms = 300;
  std::unique_ptr<AuditStore> store = OpenStore(quick);
  ASSERT_NE(store, nullptr);
  AuditLogOptions o;
  o.node = "kms-1";
  o.max_pending_async = 2;
  AuditLog log(*store, *custody_, o);
  sqlite3* other = nullptr;  // the writer's first append waits on this lock, the queue fills
  ASSERT_EQ(sqlite3_open(config_.store_path.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
  for (int i = 0; i < 10; ++i) log.RecordAsync(Event(i));
  EXPECT_GE(log.counters().dropped_async, 7u);
  EXPECT_FALSE(log.Health().ok());
  EXPECT_NE(log.Health().message().find("dropped"), std::string::npos) << log.Health().ToString();
  ASSERT_EQ(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  log.Flush();
  ASSERT_TRUE(log.Record(Event(99)).ok());
  EXPECT_TRUE(log.Health().ok());
  EXPECT_TRUE(Verify().ok());
}

TEST_F(AuditTest, OpenKmsAuditAssemblesALogOnTheKmsStoreAndToken) {
  {
    AuditLogOptions o;
    o.node = "kms-9";
    Result<KmsAudit> audit = OpenKmsAudit(config_, nullptr, o);
    ASSERT_TRUE(audit.ok()) << audit.status().ToString();
    AuditEvent e = Event(1);
    e.kind = AuditEventKind::kUnsealed;
    ASSERT_TRUE(audit->log->Record(e).ok());
    audit->log->RecordAsync(Event(2));
  }  // the writer commits the pending event before the key and the store go
  AuditVerification v = Verify();
  EXPECT_TRUE(v.ok());
  EXPECT_EQ(v.records, 2u);
  ASSERT_EQ(v.tips.size(), 1u);
  EXPECT_EQ(v.tips[0].node, "kms-9");
}

}  // namespace
}  // namespace mcx::testing
