// DerivingKeyService: the store-less KeyService gives the same key set twice, valid key sets for
// the period asked for, stays within its bound, and agrees with itself across threads.
#include "engine/service/deriving_key_service.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "base/pooled_random.h"
#include "engine/keys/client_check.h"

namespace mcx {
namespace {

std::unique_ptr<DerivingKeyService> NewService(size_t max_sets) {
  OpenSslRandom rng;
  auto params = CommunityParameters::Make("kms.example.org", kDefaultUserKeyPeriod, 0);
  DerivingKeyService::Options options;
  options.max_issued_sets = max_sets;
  auto service = DerivingKeyService::CreateThrowAway(*params, rng, options);
  EXPECT_TRUE(service.ok());
  return std::move(service).value();
}

TEST(DerivingKeyServiceTest, SameSetTwiceAndValidForThePeriod) {
  auto kms = NewService(1024);
  const NtpSeconds t = NtpNow();  // within the throw-away certificate, which starts in the current period
  auto a = kms->KeySetAt("sip:alice@example.org", t);
  auto b = kms->KeySetAt("sip:alice@example.org", t + 60);  // same period
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(ConstantTimeEqual(a->ssk.view(), b->ssk.view()));
  EXPECT_EQ(a->pvt, b->pvt);
  EXPECT_LE(a->period.valid_from, t);
  EXPECT_GE(a->period.valid_to, t);
  EXPECT_TRUE(CheckKeySet(kms->certificate().keys, *a).ok());
  auto next = kms->KeySetAt("sip:alice@example.org", t + kDefaultUserKeyPeriod);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->period.number, a->period.number + 1);
  EXPECT_TRUE(kms->Ready().ok());
  EXPECT_EQ(kms->certificate().params.kms_uri, "kms.example.org");
}

TEST(DerivingKeyServiceTest, RefusesBadUsers) {
  auto kms = NewService(1024);
  EXPECT_EQ(kms->KeySetAt("alice", NtpNow()).status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(kms->KeySetAt("", NtpNow()).status().code(), Status::Code::kInvalidArgument);
}

TEST(DerivingKeyServiceTest, StaysWithinItsBound) {
  auto kms = NewService(16);  // one per shard
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(kms->KeySetAt("sip:u" + std::to_string(i) + "@example.org", NtpNow()).ok());
  }
  EXPECT_LE(kms->issued_count(), 16u);
}

TEST(DerivingKeyServiceTest, ThreadsAskingAtOnceGetOneAnswer) {
  auto kms = NewService(1024);
  std::vector<std::string> pvts(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < pvts.size(); ++i) {
    threads.emplace_back([&, i] {
      auto ks = kms->KeySetAt("sip:race@example.org", NtpNow());
      if (ks.ok()) pvts[i] = ToHex(ks->pvt);
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& p : pvts) EXPECT_EQ(p, pvts[0]);
  EXPECT_FALSE(pvts[0].empty());
}

}  // namespace
}  // namespace mcx
