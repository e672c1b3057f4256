// OnDemandIssuer: requests for new key sets that wait together are derived, stored and answered
// as one batch (the kernel's batch entry point from min_kernel_batch on), each gets the key set
// the store keeps, and duplicates in a batch get one and the same key set.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <latch>
#include <mutex>
#include <thread>

#include "engine/keys/client_check.h"
#include "engine/service/on_demand_issuer.h"
#include "tests/support/test_kms.h"
#include "tests/support/test_store.h"

namespace mcx {
namespace {

// The test KMS's source, whose first derivation waits until the test opens the gate: the other
// requests queue up behind the first batch meanwhile, so the next batch is certain to hold them.
class GatedSource final : public KeySetSource {
 public:
  explicit GatedSource(KeySetSource& inner) : inner_(inner) {}
  const KmsPublicKeys& public_keys() const override { return inner_.public_keys(); }
  Result<KeySet> Derive(const std::string& user_uri, uint64_t period) override {
    WaitAtGate();
    return inner_.Derive(user_uri, period);
  }
  std::vector<Result<KeySet>> DeriveBatch(std::span<const std::string> users,
                                          std::span<const uint64_t> periods) override {
    WaitAtGate();
    ++kernel_batches_;
    return inner_.DeriveBatch(users, periods);
  }
  void Open() { gate_.count_down(); }
  int kernel_batches() const { return kernel_batches_.load(); }

 private:
  void WaitAtGate() { gate_.wait(); }
  KeySetSource& inner_;
  std::latch gate_{1};
  std::atomic<int> kernel_batches_{0};
};

class OnDemandIssuerTest : public ::testing::Test {
 protected:
  IssuingCertificate Certificate(KeySetSource* source) {
    KmsCertificate cert;
    cert.params = kms_.params;
    cert.keys = kms_.pub;
    cert.cert_uri = testing::kTestCertUri;
    cert.valid_to = ~NtpSeconds{0} >> 1;
    return {cert, source, t_.cipher.get(), t_.store.get()};
  }
  static testing::TestKms kms_;
  testing::TestStore t_;
};
testing::TestKms OnDemandIssuerTest::kms_;

TEST_F(OnDemandIssuerTest, RequestsThatWaitTogetherAreOneBatchAndEachGetsItsStoredKeySet) {
  GatedSource gated(*kms_.source);
  const IssuingCertificate cert = Certificate(&gated);
  OnDemandIssuerOptions o;
  o.max_concurrent = 1;  // one batch at a time: the first holds the gate, the rest queue behind it
  o.max_batch = 32;
  o.min_kernel_batch = 12;
  OnDemandIssuer issuer(o);

  // 1 + 15 requests: 13 distinct users over two periods, and the same (user, period) three times.
  struct Ask {
    std::string user;
    uint64_t period;
  };
  std::vector<Ask> asks;
  for (int i = 0; i < 13; ++i) asks.push_back({"sip:u" + std::to_string(i) + "@example.org", 1545u + i % 2});
  for (int i = 0; i < 3; ++i) asks.push_back({"sip:twice@example.org", 1546u});
  std::vector<std::optional<Result<KeySet>>> got(asks.size());
  std::vector<std::thread> threads;
  threads.emplace_back([&] { got[0].emplace(issuer.Issue(cert, asks[0].user, asks[0].period)); });
  // The first request reaches the gated derivation (alone) before the others arrive.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  for (size_t i = 1; i < asks.size(); ++i) {
    threads.emplace_back([&, i] { got[i].emplace(issuer.Issue(cert, asks[i].user, asks[i].period)); });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let them all queue
  gated.Open();
  for (std::thread& t : threads) t.join();

  for (size_t i = 0; i < asks.size(); ++i) {
    ASSERT_TRUE(got[i]->ok()) << got[i]->status().ToString();
    const KeySet& ks = **got[i];
    EXPECT_EQ(ks.user_uri, asks[i].user);
    EXPECT_EQ(ks.period.number, asks[i].period);
    EXPECT_TRUE(CheckKeySet(kms_.pub, ks).ok()) << "request " << i;
    // What was handed out is what the store keeps.
    Result<std::optional<SealedKeySet>> stored = t_.store->Find(asks[i].user, asks[i].period);
    ASSERT_TRUE(stored.ok() && stored->has_value());
    Result<KeySet> opened = t_.cipher->Open(**stored);
    ASSERT_TRUE(opened.ok());
    EXPECT_EQ(opened->pvt, ks.pvt);
    EXPECT_TRUE(ConstantTimeEqual(opened->ssk.view(), ks.ssk.view()));
  }
  // The same (user, period) asked three times at once: one key set.
  EXPECT_EQ((*got[13])->pvt, (*got[14])->pvt);
  EXPECT_EQ((*got[13])->pvt, (*got[15])->pvt);
  EXPECT_EQ(*t_.store->CountKeySets(), 14u);

  const OnDemandIssuer::Counters c = issuer.counters();
  EXPECT_EQ(c.requests, asks.size());
  EXPECT_EQ(c.batches, 2u) << "the first request alone, then the 15 that waited behind it";
  EXPECT_EQ(gated.kernel_batches(), 1) << "13 distinct key sets in the second batch: the kernel's batch path";
}

TEST_F(OnDemandIssuerTest, AKeySetStoredFirstElsewhereIsTheOneHandedOut) {
  const IssuingCertificate cert = Certificate(kms_.source.get());
  // Another process stored this user's key set a moment ago.
  Result<KeySet> theirs = kms_.source->Derive("sip:raced@example.org", 1550);
  ASSERT_TRUE(theirs.ok());
  Result<SealedKeySet> sealed = t_.cipher->Seal(*theirs);
  ASSERT_TRUE(sealed.ok());
  ASSERT_TRUE(t_.store->InsertOrGet(*sealed).ok());

  OnDemandIssuer issuer;
  Result<KeySet> ours = issuer.Issue(cert, "sip:raced@example.org", 1550);
  ASSERT_TRUE(ours.ok()) << ours.status().ToString();
  EXPECT_EQ(ours->pvt, theirs->pvt);
  EXPECT_TRUE(ConstantTimeEqual(ours->ssk.view(), theirs->ssk.view()));
  EXPECT_EQ(*t_.store->CountKeySets(), 1u);
}

// A request thread hands its request in and is free at once: one thread can have many
// derivations in flight, and they share batches however few threads asked.
TEST_F(OnDemandIssuerTest, OneThreadHandsInManyRequestsWithoutWaitingAndTheyShareABatch) {
  GatedSource gated(*kms_.source);
  const IssuingCertificate cert = Certificate(&gated);
  OnDemandIssuerOptions o;
  o.max_concurrent = 1;
  o.max_batch = 32;
  o.min_kernel_batch = 12;
  OnDemandIssuer issuer(o);

  constexpr int kRequests = 17;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::optional<Result<KeySet>>> got(kRequests);
  int answered = 0;
  const auto ask = [&](int i) {
    issuer.IssueAsync(cert, "sip:async" + std::to_string(i) + "@example.org", 1545, [&, i](Result<KeySet> r) {
      std::lock_guard<std::mutex> lock(mu);
      got[i].emplace(std::move(r));
      ++answered;
      cv.notify_all();
    });
  };
  // The first goes alone to the gated derivation; the other 16 queue behind it, all handed in
  // by this one thread while nothing can be derived.
  ask(0);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  for (int i = 1; i < kRequests; ++i) ask(i);
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(answered, 0) << "nothing can be answered before the gate opens";
  }
  gated.Open();
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return answered == kRequests; }));
  for (int i = 0; i < kRequests; ++i) {
    ASSERT_TRUE(got[i]->ok()) << got[i]->status().ToString();
    EXPECT_EQ((*got[i])->user_uri, "sip:async" + std::to_string(i) + "@example.org");
    EXPECT_TRUE(CheckKeySet(kms_.pub, **got[i]).ok());
  }
  EXPECT_EQ(issuer.counters().batches, 2u) << "the first alone, then the 16 handed in behind it";
  EXPECT_EQ(gated.kernel_batches(), 1);
  EXPECT_EQ(*t_.store->CountKeySets(), static_cast<uint64_t>(kRequests));
}

TEST_F(OnDemandIssuerTest, ABatchWithPeriodsPerUserDerivesWhatDeriveWouldGive) {
  const std::vector<std::string> users = {"sip:a@example.org", "sip:b@example.org", "sip:a@example.org"};
  const std::vector<uint64_t> periods = {1545, 1546, 1547};
  std::vector<Result<KeySet>> sets = kms_.source->DeriveBatch(users, periods);
  ASSERT_EQ(sets.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(sets[i].ok());
    EXPECT_EQ(sets[i]->user_uri, users[i]);
    EXPECT_EQ(sets[i]->period.number, periods[i]);
    EXPECT_TRUE(CheckKeySet(kms_.pub, *sets[i]).ok());
    // The RSK is a function of the UID alone: the same as one derived alone.
    Result<KeySet> alone = kms_.source->Derive(users[i], periods[i]);
    ASSERT_TRUE(alone.ok());
    EXPECT_TRUE(ConstantTimeEqual(alone->rsk.view(), sets[i]->rsk.view()));
  }
  const std::vector<uint64_t> short_periods = {1545};
  for (const Result<KeySet>& r : kms_.source->DeriveBatch(users, short_periods)) {
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  }
}

}  // namespace
}  // namespace mcx
