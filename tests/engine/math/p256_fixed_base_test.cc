// The fast ECCSI kernel's PVT = [v]G (our fixed-base P-256 code) against OpenSSL's EC_POINT_mul,
// byte for byte: the RFC 6507 known answer, random and edge scalars, and batch against single.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "base/bytes.h"
#include "engine/math/eccsi_kernel.h"
#include "engine/math/lane_field.h"
#include "engine/math/montgomery.h"
#include "engine/math/p256_fixed_base.h"
#include "engine/math/p256_lanes.h"
#include "tests/engine/math/math_test_data.h"

namespace mcx {
namespace {

SecretBytes ScalarFromLimbs(const Limbs256& k) {
  SecretBytes s(kP256ScalarBytes);
  LimbsToBytes<4>(k, std::span<uint8_t, 32>(s.data(), 32));
  return s;
}

// Uniform in [1, n-1], reproducibly (test data, not keys).
SecretBytes RandomScalar(std::mt19937_64& gen) {
  for (;;) {
    Limbs256 k;
    for (auto& w : k) w = gen();
    if (LessThanMask(k, P256OrderModulus().m) != 0 && IsZeroMask(k) == 0) return ScalarFromLimbs(k);
  }
}

P256Point Reference(const SecretBytes& k) {
  P256Point want{};
  EXPECT_TRUE(MultiplyGeneratorWithOpenSsl(P256Group(), k.view(), want).ok());
  return want;
}

class P256FixedBaseTest : public ::testing::Test {
 protected:
  std::unique_ptr<EccsiKernel> kernel_ = NewFastEccsiKernel();

  void ExpectMatchesOpenSsl(const SecretBytes& k) {
    P256Point got{};
    ASSERT_TRUE(kernel_->MultiplyGenerator(k, got).ok()) << ToHex(k.view());
    EXPECT_EQ(ToHex(got), ToHex(Reference(k))) << "k = " << ToHex(k.view());
  }
};

TEST_F(P256FixedBaseTest, Rfc6507PvtKnownAnswer) {
  SecretBytes v(kP256ScalarBytes);
  v.data()[29] = 0x02;
  v.data()[30] = 0x34;
  v.data()[31] = 0x56;
  P256Point pvt{};
  ASSERT_TRUE(kernel_->MultiplyGenerator(v, pvt).ok());
  EXPECT_EQ(ToHex(pvt),
            "04758a142779be89e829e71984cb40ef758cc4ad775fc5b9a3e1c8ed52f6fa36d9a79d247692f4eda3a6bdab77d6aa64"
            "74a464ae4934663c5265ba7018ba091f79");
}

TEST_F(P256FixedBaseTest, TenThousandRandomScalarsMatchOpenSsl) {
  std::mt19937_64 gen(6507);
  for (int i = 0; i < 10000; ++i) ExpectMatchesOpenSsl(RandomScalar(gen));
}

// Scalars at the edges of the recoding and of the range, all in [1, n-1].
std::vector<Limbs256> P256EdgeScalars() {
  const Limbs256& n = P256OrderModulus().m;
  std::vector<Limbs256> edges;
  for (uint64_t small = 1; small <= 130; ++small) edges.push_back({small, 0, 0, 0});
  for (uint64_t below = 1; below <= 130; ++below) {  // n - below
    Limbs256 k;
    SubMod(P256OrderModulus(), k, Limbs256{}, Limbs256{below, 0, 0, 0});
    edges.push_back(k);
  }
  for (int bit = 0; bit < 256; ++bit) {  // single bits and runs of ones from bit 0 / up to bit 254
    Limbs256 one_bit{}, low_run{}, high_run{};
    one_bit[bit / 64] = uint64_t{1} << (bit % 64);
    for (int b = 0; b <= bit; ++b) low_run[b / 64] |= uint64_t{1} << (b % 64);
    for (int b = bit; b < 255; ++b) high_run[b / 64] |= uint64_t{1} << (b % 64);
    edges.push_back(one_bit);
    edges.push_back(low_run);
    if (IsZeroMask(high_run) == 0) edges.push_back(high_run);
  }
  // Every Booth digit at its extremes: windows of 1000000 (+64), 0111111 / 1111111 patterns.
  for (uint64_t pattern : {0x0102040810204081ull, 0x8102040810204081ull, 0xfdfbf7efdfbf7effull,
                           0xaaaaaaaaaaaaaaaaull, 0x5555555555555555ull}) {
    edges.push_back({pattern, pattern, pattern, pattern & 0x7fffffffffffffffull});
  }
  std::vector<Limbs256> valid;
  for (const Limbs256& k : edges) {
    if (LessThanMask(k, n) != 0 && IsZeroMask(k) == 0) valid.push_back(k);
  }
  return valid;
}

TEST_F(P256FixedBaseTest, EdgeScalarsMatchOpenSsl) {
  for (const Limbs256& k : P256EdgeScalars()) ExpectMatchesOpenSsl(ScalarFromLimbs(k));
}

TEST_F(P256FixedBaseTest, RejectsZeroAndOutOfRange) {
  P256Point out{};
  EXPECT_FALSE(kernel_->MultiplyGenerator(SecretBytes(kP256ScalarBytes), out).ok());
  EXPECT_FALSE(kernel_->MultiplyGenerator(ScalarFromLimbs(P256OrderModulus().m), out).ok());
  EXPECT_FALSE(kernel_->MultiplyGenerator(SecretBytes(31), out).ok());
}

TEST_F(P256FixedBaseTest, BatchMatchesSingle) {
  std::mt19937_64 gen(6508);
  for (size_t size : {0, 1, 2, 65, 300}) {
    std::vector<SecretBytes> ks;
    for (size_t i = 0; i < size; ++i) ks.push_back(RandomScalar(gen));
    if (size > 1) ks[1] = ScalarFromLimbs({1, 0, 0, 0});
    std::vector<P256Point> batch(size);
    ASSERT_TRUE(kernel_->MultiplyGeneratorBatch(ks, batch).ok());
    for (size_t i = 0; i < size; ++i) {
      P256Point one{};
      ASSERT_TRUE(kernel_->MultiplyGenerator(ks[i], one).ok());
      EXPECT_EQ(ToHex(batch[i]), ToHex(one)) << "size " << size << ", #" << i;
    }
  }
  // One bad scalar fails the whole batch.
  std::vector<SecretBytes> bad = {RandomScalar(gen), SecretBytes(kP256ScalarBytes)};
  std::vector<P256Point> out(bad.size());
  EXPECT_FALSE(kernel_->MultiplyGeneratorBatch(bad, out).ok());
}

// The batch on each path (portable and avx2: one at a time below 32 scalars, affine chunks of 32 to
// 256 from there; IFMA eight lanes at a time, fewer than eight each split over the lanes) and the single multiplication, against OpenSSL and each other. The IFMA cases skip on CPUs without it.
class P256BatchPathTest : public ::testing::TestWithParam<MathPath> {
 protected:
  void SetUp() override {
    if (!MathPathAvailable(GetParam())) GTEST_SKIP() << "this CPU lacks the " << MathPathName(GetParam()) << " path";
  }

  // Batch on the path, each result byte for byte equal to OpenSSL's.
  void ExpectBatchMatchesOpenSsl(const std::vector<Limbs256>& ks) {
    std::vector<P256Point> got(ks.size());
    ASSERT_TRUE(P256MultiplyGeneratorBatchOn(GetParam(), ks, got).ok());
    for (size_t i = 0; i < ks.size(); ++i) {
      const SecretBytes k = ScalarFromLimbs(ks[i]);
      ASSERT_EQ(ToHex(got[i]), ToHex(Reference(k))) << "#" << i << " k = " << ToHex(k.view());
    }
  }
};

Limbs256 RandomLimbs(std::mt19937_64& gen) {
  const SecretBytes s = RandomScalar(gen);
  return LimbsFromBytes<4>(s.view());
}

TEST_P(P256BatchPathTest, TenThousandRandomScalarsMatchOpenSsl) {
  std::mt19937_64 gen(6509);
  for (int round = 0; round < 10000 / 80; ++round) {
    std::vector<Limbs256> ks;
    for (int i = 0; i < 80; ++i) ks.push_back(RandomLimbs(gen));
    ExpectBatchMatchesOpenSsl(ks);
  }
}

TEST_P(P256BatchPathTest, EdgeScalarsMatchOpenSsl) { ExpectBatchMatchesOpenSsl(P256EdgeScalars()); }

TEST_P(P256BatchPathTest, Rfc6507PvtKnownAnswerInABatch) {
  std::mt19937_64 gen(6510);
  std::vector<Limbs256> ks;
  for (int i = 0; i < 9; ++i) ks.push_back(RandomLimbs(gen));
  ks[5] = {0x023456, 0, 0, 0};
  std::vector<P256Point> got(ks.size());
  ASSERT_TRUE(P256MultiplyGeneratorBatchOn(GetParam(), ks, got).ok());
  EXPECT_EQ(ToHex(got[5]),
            "04758a142779be89e829e71984cb40ef758cc4ad775fc5b9a3e1c8ed52f6fa36d9a79d247692f4eda3a6bdab77d6aa64"
            "74a464ae4934663c5265ba7018ba091f79");
}

TEST_P(P256BatchPathTest, BatchSizesMatchSingle) {
  std::mt19937_64 gen(6511);
  // 31 / 32 either side of the affine batch's threshold; 257 and 300 in two chunks, 513 in three.
  for (size_t size : {1, 7, 8, 9, 16, 31, 32, 33, 64, 65, 128, 129, 256, 257, 300, 513}) {
    std::vector<Limbs256> ks;
    for (size_t i = 0; i < size; ++i) ks.push_back(RandomLimbs(gen));
    std::vector<P256Point> batch(size);
    ASSERT_TRUE(P256MultiplyGeneratorBatchOn(GetParam(), ks, batch).ok());
    for (size_t i = 0; i < size; ++i) {
      P256Point one{};
      ASSERT_TRUE(P256MultiplyGenerator(ks[i], one).ok());
      EXPECT_EQ(ToHex(batch[i]), ToHex(one)) << "size " << size << ", #" << i;
    }
  }
}

// k = 0 and k = n are outside the contract: the batch fails rather than return a point (the affine
// batch's product of differences is then zero; elsewhere Z is).
TEST_P(P256BatchPathTest, AScalarOutsideTheContractFailsTheBatch) {
  std::mt19937_64 gen(6513);
  for (size_t size : {9, 40, 43}) {
    // Positions in different chains of the affine batch's Montgomery trick (lane j in chain j % 4).
    for (size_t at : {size / 2, size - 1, size - 2}) {
      for (const Limbs256& bad : {Limbs256{}, P256OrderModulus().m}) {
        std::vector<Limbs256> ks;
        for (size_t i = 0; i < size; ++i) ks.push_back(RandomLimbs(gen));
        ks[at] = bad;
        std::vector<P256Point> out(size);
        EXPECT_FALSE(P256MultiplyGeneratorBatchOn(GetParam(), ks, out).ok()) << "size " << size << ", at " << at;
      }
    }
  }
}

// A single [k]G on each path: portable (one addition per window) and IFMA (the windows spread over
// the eight lanes, then folded with complete additions), byte for byte against OpenSSL.
TEST_P(P256BatchPathTest, SingleMultiplicationMatchesOpenSsl) {
  std::mt19937_64 gen(6512);
  std::vector<Limbs256> ks = P256EdgeScalars();
  for (int i = 0; i < 10000; ++i) ks.push_back(RandomLimbs(gen));
  for (const Limbs256& k : ks) {
    P256Point got{};
    ASSERT_TRUE(P256MultiplyGeneratorOn(GetParam(), k, got).ok());
    const SecretBytes ks_bytes = ScalarFromLimbs(k);
    ASSERT_EQ(ToHex(got), ToHex(Reference(ks_bytes))) << "k = " << ToHex(ks_bytes.view());
  }
}

INSTANTIATE_TEST_SUITE_P(Paths, P256BatchPathTest, ::testing::Values(MathPath::kPortable, MathPath::kAvx2, MathPath::kIfma),
                         [](const ::testing::TestParamInfo<MathPath>& info) { return mcx::testing::PathTestName(info.param); });

}  // namespace
}  // namespace mcx
