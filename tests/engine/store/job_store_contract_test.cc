// The ProvisioningJobStore contract, run against both stores: SQLite (always) and PostgreSQL (in
// ctest's store_postgres, beside a server of its own; otherwise those cases skip, saying so).
#include <algorithm>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "tests/support/store_backends.h"

namespace mcx {
namespace {

using namespace std::chrono_literals;
using testing::StoreBackend;
using testing::StoreKind;

class JobStoreContractTest : public ::testing::TestWithParam<StoreKind> {
 protected:
  void SetUp() override {
    if (!backend_.available()) GTEST_SKIP() << testing::kNoPostgresReason;
    jobs_ = Open();
    ASSERT_NE(jobs_, nullptr);
  }
  std::unique_ptr<ProvisioningJobStore> Open() {
    Result<std::unique_ptr<ProvisioningJobStore>> s = backend_.OpenJobs();
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }
  // A job of `chunks` chunks of `per_chunk` users each: sip:uNNNNN@example.org, numbered from 1.
  int64_t Create(size_t chunks, size_t per_chunk) {
    std::vector<std::vector<std::string>> slices(chunks);
    size_t n = 0;
    for (auto& s : slices) {
      for (size_t i = 0; i < per_chunk; ++i) s.push_back("sip:u" + std::to_string(++n) + "@example.org");
    }
    ProvisioningJob job;
    job.cert_uri = "kms.example.org.cert";
    job.first_period = 1500;
    job.period_count = 2;
    job.source = "users.txt";
    job.lease_ms = 30000;
    Result<int64_t> id = jobs_->CreateJob(job, slices);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : 0;
  }
  std::vector<ChunkInfo> Chunks(int64_t job) {
    int64_t now = 0;
    Result<std::vector<ChunkInfo>> c = jobs_->Chunks(job, now);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_GT(now, 1700000000000);  // Unix milliseconds
    return c.ok() ? *c : std::vector<ChunkInfo>{};
  }

  StoreBackend backend_{GetParam()};
  std::unique_ptr<ProvisioningJobStore> jobs_;
};

TEST_P(JobStoreContractTest, AJobKeepsItsPlanAndItsPopulationInChunks) {
  const int64_t id = Create(3, 4);
  ASSERT_GT(id, 0);
  Result<std::optional<ProvisioningJob>> job = jobs_->FindJob(id);
  ASSERT_TRUE(job.ok() && job->has_value());
  EXPECT_EQ((*job)->cert_uri, "kms.example.org.cert");
  EXPECT_EQ((*job)->first_period, 1500u);
  EXPECT_EQ((*job)->period_count, 2u);
  EXPECT_EQ((*job)->source, "users.txt");
  EXPECT_EQ((*job)->identities, 12u);
  EXPECT_EQ((*job)->chunk_count, 3u);
  EXPECT_EQ((*job)->lease_ms, 30000);
  Result<std::vector<std::string>> users = jobs_->ChunkUsers(id, 1);
  ASSERT_TRUE(users.ok());
  EXPECT_EQ(*users, (std::vector<std::string>{"sip:u5@example.org", "sip:u6@example.org", "sip:u7@example.org",
                                              "sip:u8@example.org"}));
  EXPECT_EQ(jobs_->ChunkUsers(id, 3).status().code(), Status::Code::kNotFound);
  std::vector<ChunkInfo> chunks = Chunks(id);
  ASSERT_EQ(chunks.size(), 3u);
  for (const ChunkInfo& c : chunks) {
    EXPECT_EQ(c.state, ChunkState::kPending);
    EXPECT_EQ(c.users, 4u);
  }
  EXPECT_FALSE(jobs_->FindJob(id + 1)->has_value());
  const int64_t second = Create(1, 1);
  EXPECT_GT(second, id);
  Result<std::vector<ProvisioningJob>> all = jobs_->ListJobs();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, id);
  EXPECT_EQ((*all)[1].id, second);
}

TEST_P(JobStoreContractTest, ClaimsTakeChunksInOrderUntilEveryOneIsLeased) {
  const int64_t id = Create(3, 2);
  for (int64_t want = 0; want < 3; ++want) {
    Result<std::optional<ChunkClaim>> c = jobs_->Claim(id, "host-a:1", 30s);
    ASSERT_TRUE(c.ok() && c->has_value()) << c.status().ToString();
    EXPECT_EQ((*c)->chunk_no, want);
    EXPECT_EQ((*c)->attempt, 1);
    EXPECT_FALSE((*c)->took_over);
    EXPECT_EQ((*c)->first_index, static_cast<uint64_t>(want * 2 + 1));
    EXPECT_EQ((*c)->users.size(), 2u);
  }
  Result<std::optional<ChunkClaim>> none = jobs_->Claim(id, "host-b:2", 30s);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());  // all leased, none expired
  for (const ChunkInfo& c : Chunks(id)) {
    EXPECT_EQ(c.state, ChunkState::kLeased);
    EXPECT_EQ(c.lease_owner, "host-a:1");
  }
  Result<std::optional<ChunkClaim>> other_job = jobs_->Claim(id + 1, "host-a:1", 30s);
  ASSERT_TRUE(other_job.ok());
  EXPECT_FALSE(other_job->has_value());
}

TEST_P(JobStoreContractTest, OnlyTheLeaseHolderCompletesAChunkAndOnlyOnce) {
  const int64_t id = Create(2, 3);
  ChunkClaim mine = **jobs_->Claim(id, "host-a:1", 30s);
  ChunkClaim stranger = mine;
  stranger.owner = "host-b:2";
  EXPECT_FALSE(*jobs_->Complete(stranger, {}));
  EXPECT_FALSE(*jobs_->Renew(stranger, 30s));
  ChunkClaim stale = mine;
  stale.attempt = 7;
  EXPECT_FALSE(*jobs_->Complete(stale, {}));

  ASSERT_TRUE(*jobs_->Renew(mine, 30s));
  ASSERT_TRUE(*jobs_->Complete(mine, ChunkCounts{4, 1, 1, 0}));
  EXPECT_FALSE(*jobs_->Complete(mine, ChunkCounts{9, 9, 9, 9}));  // done: nothing changes
  EXPECT_FALSE(*jobs_->Renew(mine, 30s));
  std::vector<ChunkInfo> chunks = Chunks(id);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].state, ChunkState::kDone);
  EXPECT_EQ(chunks[0].lease_owner, "host-a:1");
  EXPECT_EQ(chunks[0].counts.issued, 4u);
  EXPECT_EQ(chunks[0].counts.present, 1u);
  EXPECT_EQ(chunks[0].counts.revoked, 1u);
  EXPECT_EQ(chunks[0].counts.failed, 0u);
  EXPECT_GE(chunks[0].done_at_ms, chunks[0].claimed_at_ms);
  EXPECT_EQ(chunks[1].state, ChunkState::kPending);
  // A done chunk is never claimed again: the next claim gets chunk 1, then there is none.
  EXPECT_EQ((*jobs_->Claim(id, "host-b:2", 30s))->chunk_no, 1);
  EXPECT_FALSE(jobs_->Claim(id, "host-b:2", 30s)->has_value());
}

TEST_P(JobStoreContractTest, AnExpiredLeaseIsTakenOverAndTheOldClaimLosesTheChunk) {
  const int64_t id = Create(1, 5);
  ChunkClaim dead = **jobs_->Claim(id, "host-a:1", 100ms);
  EXPECT_FALSE(jobs_->Claim(id, "host-b:2", 30s)->has_value());  // not expired yet
  std::this_thread::sleep_for(300ms);
  std::unique_ptr<ProvisioningJobStore> other = Open();  // another process, as it were
  Result<std::optional<ChunkClaim>> taken = other->Claim(id, "host-b:2", 30s);
  ASSERT_TRUE(taken.ok() && taken->has_value());
  EXPECT_EQ((*taken)->chunk_no, 0);
  EXPECT_TRUE((*taken)->took_over);
  EXPECT_EQ((*taken)->taken_from, "host-a:1");
  EXPECT_EQ((*taken)->attempt, 2);
  EXPECT_EQ((*taken)->users, dead.users);
  // The worker whose lease expired finds out and cannot complete the chunk.
  EXPECT_FALSE(*jobs_->Renew(dead, 30s));
  EXPECT_FALSE(*jobs_->Complete(dead, ChunkCounts{5, 0, 0, 0}));
  ASSERT_TRUE(*other->Complete(**taken, ChunkCounts{2, 3, 0, 0}));
  std::vector<ChunkInfo> chunks = Chunks(id);
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].state, ChunkState::kDone);
  EXPECT_EQ(chunks[0].lease_owner, "host-b:2");
  EXPECT_EQ(chunks[0].attempts, 2);
  EXPECT_EQ(chunks[0].takeovers, 1);
  EXPECT_EQ(chunks[0].taken_from, "host-a:1");
  EXPECT_EQ(chunks[0].counts.issued, 2u);
}

TEST_P(JobStoreContractTest, RenewingKeepsTheLeaseAndAnExpiredButUntakenLeaseIsStillHeld) {
  const int64_t id = Create(1, 1);
  ChunkClaim mine = **jobs_->Claim(id, "host-a:1", 300ms);
  for (int i = 0; i < 6; ++i) {  // 600 ms, twice the lease, renewed every 100 ms
    std::this_thread::sleep_for(100ms);
    ASSERT_TRUE(*jobs_->Renew(mine, 300ms));
    EXPECT_FALSE(jobs_->Claim(id, "host-b:2", 300ms)->has_value()) << "renewal " << i;
  }
  std::this_thread::sleep_for(450ms);
  // Expired, but nobody has taken it: the claim still holds it and may complete it.
  ASSERT_TRUE(*jobs_->Renew(mine, 30s));
  EXPECT_TRUE(*jobs_->Complete(mine, {}));
}

// Two claimers, each with connections of its own, claim until nothing is left: every chunk goes
// to exactly one of them.
TEST_P(JobStoreContractTest, TwoClaimersNeverGetTheSameChunk) {
  constexpr size_t kChunks = 120;
  const int64_t id = Create(kChunks, 1);
  std::unique_ptr<ProvisioningJobStore> second = Open();
  std::vector<int64_t> got[2];
  std::vector<std::string> errors[2];
  auto claimer = [&](ProvisioningJobStore* store, int who) {
    const std::string owner = "host:" + std::to_string(who);
    for (;;) {
      Result<std::optional<ChunkClaim>> c = store->Claim(id, owner, 30s);
      if (!c.ok()) {
        errors[who].push_back(c.status().ToString());
        return;
      }
      if (!c->has_value()) return;
      got[who].push_back((*c)->chunk_no);
      Result<bool> done = store->Complete(**c, ChunkCounts{1, 0, 0, 0});
      if (!done.ok() || !*done) errors[who].push_back("complete failed for chunk " + std::to_string((*c)->chunk_no));
    }
  };
  std::thread a(claimer, jobs_.get(), 0);
  std::thread b(claimer, second.get(), 1);
  a.join();
  b.join();
  EXPECT_TRUE(errors[0].empty() && errors[1].empty()) << (errors[0].empty() ? errors[1][0] : errors[0][0]);
  std::multiset<int64_t> all(got[0].begin(), got[0].end());
  all.insert(got[1].begin(), got[1].end());
  EXPECT_EQ(all.size(), kChunks);
  for (int64_t c = 0; c < static_cast<int64_t>(kChunks); ++c) EXPECT_EQ(all.count(c), 1u) << "chunk " << c;
  for (const ChunkInfo& c : Chunks(id)) {
    EXPECT_EQ(c.state, ChunkState::kDone);
    EXPECT_EQ(c.attempts, 1);
  }
}

// A store made by the previous version (3) gains the job tables when opened, once.
TEST_P(JobStoreContractTest, AVersion3StoreGainsTheJobTables) {
  jobs_.reset();
  backend_.Tamper("DROP TABLE provisioning_chunks; DROP TABLE provisioning_jobs; PRAGMA user_version = 3",
                  "DROP TABLE provisioning_chunks; DROP TABLE provisioning_jobs; UPDATE store_schema SET version = 3");
  jobs_ = Open();
  ASSERT_NE(jobs_, nullptr);
  const int64_t id = Create(2, 2);
  EXPECT_GT(id, 0);
  EXPECT_EQ(Chunks(id).size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Stores, JobStoreContractTest, ::testing::Values(StoreKind::kSqlite, StoreKind::kPostgres),
                         [](const ::testing::TestParamInfo<StoreKind>& info) { return StoreKindName(info.param); });

}  // namespace
}  // namespace mcx
