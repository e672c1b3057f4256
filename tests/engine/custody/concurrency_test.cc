// Eight threads drawing HSM randomness and issuing key sets through one KmsCustody at once.
#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "engine/custody/key_set_source.h"
#include "engine/custody/kms_token.h"
#include "engine/keys/client_check.h"
#include "hsm/hsm_random.h"
#include "tests/support/softhsm_fixture.h"

namespace mcx::testing {
namespace {

class ConcurrencyTest : public SoftHsmTest {};

TEST_F(ConcurrencyTest, EightThreadsDrawRandomnessAndIssueValidKeySets) {
  KmsConfig config = MakeKms("kms");
  Result<std::unique_ptr<KmsCustody>> custody = KmsCustody::Open(config);
  ASSERT_TRUE(custody.ok()) << custody.status().ToString();
  auto sakke = NewGenericSakkeKernel();
  auto eccsi = NewGenericEccsiKernel();
  auto source = NewCustodyKeySetSource(**custody, *sakke, *eccsi);

  constexpr int kThreads = 8, kKeySets = 3, kDraws = 200;
  std::atomic<int> valid{0}, errors{0};
  std::vector<std::vector<uint8_t>> draws(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kDraws; ++i) {
        uint8_t buf[48];  // not a divisor of the pool, so draws straddle refills
        if (!(*custody)->random().Fill(buf).ok()) errors.fetch_add(1);
        draws[t].insert(draws[t].end(), buf, buf + sizeof buf);
      }
      for (int i = 0; i < kKeySets; ++i) {
        Result<KeySet> ks = source->Derive("sip:t" + std::to_string(t) + "-" + std::to_string(i) + "@example.org", 7);
        if (!ks.ok()) { errors.fetch_add(1); continue; }
        if (CheckKeySet((*custody)->public_keys(), *ks).ok()) valid.fetch_add(1); else errors.fetch_add(1);
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(valid.load(), kThreads * kKeySets);
  // No two threads were handed the same bytes (a shared, unsynchronised pool would repeat them).
  for (int a = 0; a < kThreads; ++a) {
    for (int b = a + 1; b < kThreads; ++b) EXPECT_NE(draws[a], draws[b]);
    EXPECT_EQ(draws[a].size(), size_t{kDraws} * 48);
  }
}

TEST_F(ConcurrencyTest, OneTokenCallServesManyDraws) {
  KmsConfig config = MakeKms("kms");
  Result<KmsToken> token = OpenKmsToken(config);
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  hsm::HsmRandom rng(*token->token, 4096);
  uint8_t v[32];
  for (int i = 0; i < 128; ++i) ASSERT_TRUE(rng.Fill(v).ok());
  EXPECT_EQ(rng.token_calls(), 1u);  // 128 * 32 octets = one 4 KiB pool
  ASSERT_TRUE(rng.Fill(v).ok());
  EXPECT_EQ(rng.token_calls(), 2u);
  uint8_t big[4096];
  ASSERT_TRUE(rng.Fill(big).ok());  // larger than half a pool: straight from the token
  EXPECT_EQ(rng.token_calls(), 3u);
}

}  // namespace
}  // namespace mcx::testing
