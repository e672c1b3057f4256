#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <mutex>

#include "engine/bulk/identity_reader.h"
#include "engine/bulk/provisioning_pipeline.h"
#include "base/pooled_random.h"
#include "engine/keys/client_check.h"
#include "engine/store/sqlite_key_store.h"
#include "tests/support/test_store.h"
#include "tests/support/test_kms.h"

namespace mcx {
namespace {

class ProvisioningPipelineTest : public ::testing::Test {
 protected:
  std::filesystem::path Users(int n, const std::string& extra = "") {
    std::filesystem::path p = dir_.path() / "users.txt";
    std::ofstream out(p);
    out << "# test population\n";
    for (int i = 0; i < n; ++i) out << "sip:user" << i << "@example.org\n";
    out << extra;
    return p;
  }
  Result<ProvisionSummary> Run(const std::filesystem::path& users, std::vector<uint64_t> periods) {
    auto reader = IdentityReader::Open(users, {}, [this](uint64_t line, const std::string& why) { bad_[line] = why; });
    if (!reader.ok()) return reader.status();
    ProvisioningPipeline pipeline(*kms_.source, *cipher_, *store_);
    ProvisionPlan plan;
    plan.periods = std::move(periods);
    plan.threads = 2;
    plan.records_per_commit = 500;
    ProvisionProgress progress;
    return pipeline.Run(**reader, plan, progress);
  }

  static testing::TestKms kms_;
  OpenSslRandom rng_;
  testing::TestStore t_;
  const testing::TempDir& dir_ = t_.dir;
  std::unique_ptr<KeySetCipher>& cipher_ = t_.cipher;
  std::unique_ptr<KeyStore>& store_ = t_.store;
  std::map<uint64_t, std::string> bad_;
};
testing::TestKms ProvisioningPipelineTest::kms_;

TEST_F(ProvisioningPipelineTest, TwoThousandUsersThreePeriodsExactAndValid) {
  Result<ProvisionSummary> s = Run(Users(2000), {1545, 1546, 1547});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->identities, 2000u);
  EXPECT_EQ(s->issued, 6000u);
  EXPECT_EQ(s->present, 0u);
  EXPECT_EQ(*store_->CountKeySets(), 6000u);

  // A sample of 100, opened from the store, passes both client checks.
  for (int i = 0; i < 100; ++i) {
    const std::string uri = "sip:user" + std::to_string(i * 19) + "@example.org";
    const uint64_t period = 1545 + static_cast<uint64_t>(i % 3);
    Result<std::optional<SealedKeySet>> row = store_->Find(uri, period);
    ASSERT_TRUE(row.ok() && row->has_value()) << uri;
    Result<KeySet> ks = cipher_->Open(**row);
    ASSERT_TRUE(ks.ok()) << ks.status().ToString();
    EXPECT_EQ(ks->uid, *MikeySakkeUid(uri, kms_.params, period));
    Status st = CheckKeySet(kms_.pub, *ks);
    EXPECT_TRUE(st.ok()) << st.ToString();
  }

  // A rerun issues nothing and finds every pair present.
  Result<ProvisionSummary> again = Run(Users(2000), {1545, 1546, 1547});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->issued, 0u);
  EXPECT_EQ(again->present, 6000u);
  EXPECT_EQ(*store_->CountKeySets(), 6000u);
}

TEST_F(ProvisioningPipelineTest, PartialStoreIsCompletedWithoutDuplicates) {
  ASSERT_TRUE(Run(Users(150), {1545}).ok());
  Result<ProvisionSummary> s = Run(Users(300), {1545, 1546});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->present, 150u);
  EXPECT_EQ(s->issued, 450u);
  EXPECT_EQ(*store_->CountKeySets(), 600u);
}

TEST_F(ProvisioningPipelineTest, BadLinesAreSkippedAndReported) {
  Result<ProvisionSummary> s = Run(Users(20, "not-a-uri\nsip:user3@example.org\n\n"), {1545});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->issued, 20u);
  EXPECT_EQ(s->skipped_lines, 2u);
  EXPECT_EQ(bad_.size(), 2u);
  EXPECT_EQ(bad_[23], "duplicate of line 5");
}

TEST_F(ProvisioningPipelineTest, EmptyInputIssuesNothing) {
  Result<ProvisionSummary> s = Run(Users(0), {1545});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->identities, 0u);
  EXPECT_EQ(s->issued, 0u);
  EXPECT_EQ(*store_->CountKeySets(), 0u);
}

TEST_F(ProvisioningPipelineTest, NoPeriodsIsAClearError) {
  Result<ProvisionSummary> s = Run(Users(3), {});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("no key periods"), std::string::npos);
}

// A provisioning job's chunk: identities from a list in memory, numbered from their position in
// the population (failures are reported with that number).
TEST_F(ProvisioningPipelineTest, AListOfIdentitiesIsProvisionedLikeAFile) {
  std::vector<std::string> uris;
  for (int i = 0; i < 130; ++i) uris.push_back("sip:listed" + std::to_string(i) + "@example.org");
  IdentityList list(uris, 1001);
  ProvisioningPipeline pipeline(*kms_.source, *cipher_, *store_);
  ProvisionPlan plan;
  plan.periods = {1545, 1546};
  plan.threads = 2;
  ProvisionProgress progress;
  Result<ProvisionSummary> s = pipeline.Run(list, plan, progress);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->identities, 130u);
  EXPECT_EQ(s->issued, 260u);
  EXPECT_FALSE(s->stopped);
  EXPECT_EQ(*store_->CountKeySets(), 260u);
  EXPECT_TRUE(store_->Find("sip:listed129@example.org", 1546)->has_value());
  IdentityList again(uris, 1001);
  Result<std::optional<Identity>> first = again.Next();
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_EQ((*first)->line, 1001u);
}

// A source that passes derivations through to the test KMS, announces a batch width of its own,
// and records the size of every DeriveBatch call.
class BatchRecordingSource final : public KeySetSource {
 public:
  BatchRecordingSource(KeySetSource& inner, size_t width) : inner_(inner), width_(width) {}
  const KmsPublicKeys& public_keys() const override { return inner_.public_keys(); }
  Result<KeySet> Derive(const std::string& user_uri, uint64_t key_period_no) override {
    return inner_.Derive(user_uri, key_period_no);
  }
  using KeySetSource::DeriveBatch;
  std::vector<Result<KeySet>> DeriveBatch(std::span<const std::string> user_uris,
                                          std::span<const uint64_t> key_period_nos) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      sizes_.push_back(user_uris.size());
    }
    return inner_.DeriveBatch(user_uris, key_period_nos);
  }
  size_t BatchWidth() const override { return width_; }
  std::vector<size_t> SortedSizes() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<size_t> s = sizes_;
    std::sort(s.begin(), s.end());
    return s;
  }

 private:
  KeySetSource& inner_;
  size_t width_;
  std::mutex mu_;
  std::vector<size_t> sizes_;
};

// With identities_per_batch left at 0 the pipeline derives as many users together as the source
// shares its work over (256 on the avx2 path), and never fewer than 64.
TEST_F(ProvisioningPipelineTest, BatchesFollowTheSourcesBatchWidth) {
  struct Case {
    size_t width;
    std::vector<size_t> want;  // DeriveBatch sizes for 300 users, sorted
  };
  const Case cases[] = {{128, {44, 128, 128}}, {1, {44, 64, 64, 64, 64}}, {256, {44, 256}}};
  int run = 0;
  for (const Case& c : cases) {
    std::vector<std::string> uris;
    for (int i = 0; i < 300; ++i) uris.push_back("sip:wide" + std::to_string(run) + "-" + std::to_string(i) + "@example.org");
    ++run;
    IdentityList list(uris, 1);
    BatchRecordingSource source(*kms_.source, c.width);
    ProvisioningPipeline pipeline(source, *cipher_, *store_);
    ProvisionPlan plan;
    plan.periods = {1545};
    plan.threads = 2;
    ProvisionProgress progress;
    Result<ProvisionSummary> s = pipeline.Run(list, plan, progress);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    EXPECT_EQ(s->issued, 300u);
    EXPECT_EQ(source.SortedSizes(), c.want) << "batch width " << c.width;
  }
  EXPECT_GE(kms_.source->BatchWidth(), 1u);
  EXPECT_EQ(kms_.source->BatchWidth(), kms_.sakke->BatchWidth());
}

// plan.stop (a job's worker whose lease was taken over): no more identities are read, what is in
// flight is committed, and the summary says the run stopped early.
TEST_F(ProvisioningPipelineTest, AStopFlagEndsTheRunEarlyWithWhatWasInFlightCommitted) {
  std::vector<std::string> uris;
  for (int i = 0; i < 5000; ++i) uris.push_back("sip:stopped" + std::to_string(i) + "@example.org");
  IdentityList list(uris, 1);
  ProvisioningPipeline pipeline(*kms_.source, *cipher_, *store_);
  std::atomic<bool> stop{false};
  ProvisionPlan plan;
  plan.periods = {1545};
  plan.threads = 2;
  plan.identities_per_batch = 16;
  plan.records_per_commit = 16;
  plan.stop = &stop;
  // Stops once the first batch is committed.
  plan.before_commit = [&stop](std::span<const SealedKeySet>) {
    stop.store(true);
    return Status::Ok();
  };
  ProvisionProgress progress;
  Result<ProvisionSummary> s = pipeline.Run(list, plan, progress);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_TRUE(s->stopped);
  EXPECT_LT(s->identities, 5000u);
  EXPECT_GT(s->issued, 0u);
  EXPECT_EQ(s->issued, s->identities);  // everything read was derived and committed
  EXPECT_EQ(*store_->CountKeySets(), s->issued);
}

}  // namespace
}  // namespace mcx
