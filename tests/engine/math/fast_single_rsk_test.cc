// The one-scalar fixed-base path (MultiplyBaseSingle, used by ReceiverSecretKey and
// MultiplyGenerator) against OpenSSL's generic kernel, the batch path, and the premises of its
// no-exceptional-addition argument (fixed_base.h). Runs on every path this machine has.
#include <gmp.h>
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "base/bytes.h"
#include "engine/math/fixed_base.h"
#include "engine/math/inverse.h"
#include "engine/math/montgomery.h"
#include "engine/math/sakke_kernel.h"
#include "tests/engine/math/math_test_data.h"

namespace mcx {
namespace {

using testing::AllPaths;
using testing::PathTestName;
using testing::ScalarBytes;
using testing::Small;
using testing::TestRng;

// A scalar whose bits repeat `pattern` (of `period` bits) from bit 0 to bit 1019. A period
// longer than 64 bits has zeros past the pattern's 64 (a shift by 64 or more is undefined).
Limbs1024 Periodic(uint64_t pattern, int period) {
  Limbs1024 k{};
  for (int bit = 0; bit < 1020; ++bit) {
    const int at = bit % period;
    if (at < 64 && ((pattern >> at) & 1)) k[bit / 64] |= uint64_t{1} << (bit % 64);
  }
  return k;
}

class FastSingleRskTest : public ::testing::TestWithParam<MathPath> {
 protected:
  void SetUp() override {
    if (!MathPathAvailable(GetParam())) GTEST_SKIP() << "this CPU lacks the " << MathPathName(GetParam()) << " path";
  }
  const LaneField& field_ = SingleLaneFieldFor(GetParam());
  const LaneField& batch_field_ = LaneFieldFor(GetParam());
  std::unique_ptr<SakkeKernel> fast_ = NewFastSakkeKernel(GetParam());
  std::unique_ptr<SakkeKernel> generic_ = NewGenericSakkeKernel();
};

// The premises of the coset argument: #E = p + 1 = 4q, and 3 is not a square mod p (so T = (0, 0)
// is the only point of order 2 and the 4-torsion is cyclic).
TEST(FastSingleRskPremisesTest, CofactorFourWithCyclicFourTorsion) {
  mpz_t p, q, t, e;
  mpz_inits(p, q, t, e, nullptr);
  mpz_import(p, kLimbs1024, -1, sizeof(uint64_t), 0, 0, SakkeFieldModulus().m.data());
  mpz_import(q, kLimbs1024, -1, sizeof(uint64_t), 0, 0, SakkeOrderModulus().m.data());
  mpz_add_ui(t, p, 1);
  mpz_mul_ui(e, q, 4);
  EXPECT_EQ(mpz_cmp(t, e), 0);
  mpz_set_ui(t, 3);
  EXPECT_EQ(mpz_legendre(t, p), -1);
  mpz_clears(p, q, t, e, nullptr);
}

// 1,000 single RSKs (random identifiers of several lengths, four master secrets): identical
// bytes to the generic OpenSSL kernel.
TEST_P(FastSingleRskTest, ThousandRandomSingleRsksMatchGeneric) {
  TestRng rng(11 + static_cast<int>(GetParam()));
  for (int s = 0; s < 4; ++s) {
    const SecretBytes z = ScalarBytes(rng.NonZeroBelow(SakkeOrderModulus().m));
    for (int i = 0; i < 250; ++i) {
      const Bytes id = rng.Octets(i % 5 == 0 ? 1 + rng.Next() % 200 : 32);
      SakkePoint got, want;
      ASSERT_TRUE(fast_->ReceiverSecretKey(id, z, got).ok());
      ASSERT_TRUE(generic_->ReceiverSecretKey(id, z, want).ok());
      ASSERT_EQ(ToHex(got), ToHex(want)) << "secret #" << s << ", id #" << i;
    }
  }
}

// Structured scalars: the ends of the range, single bits, runs of ones and zeros, and digit
// patterns that repeat with the lane period (every lane then sees the same digit sequence, or
// every window the same digit), so lanes' partial sums are equal up to a power of 2^w.
std::vector<Limbs1024> StructuredScalars() {
  const Limbs1024& q = SakkeOrderModulus().m;
  std::vector<Limbs1024> ks = {Small(1), Small(2), Small(3), Small(63), Small(64), Small(65), Small(255)};
  for (uint64_t d : {1, 2, 3, 4}) {
    Limbs1024 k = q;
    k[0] -= d;
    ks.push_back(k);
  }
  for (int bit : {1, 5, 6, 47, 48, 49, 95, 96, 500, 1014, 1015, 1016, 1020}) {
    Limbs1024 k{};
    k[bit / 64] = uint64_t{1} << (bit % 64);
    ks.push_back(k);
  }
  Limbs1024 ones{};
  for (size_t i = 0; i < 15; ++i) ones[i] = ~uint64_t{0};
  ones[15] = (uint64_t{1} << (1021 - 960)) - 1;  // 2^1021 - 1
  ks.push_back(ones);
  Limbs1024 low_ones{}, high_ones{};
  low_ones[0] = low_ones[1] = low_ones[2] = ~uint64_t{0};
  high_ones[13] = high_ones[14] = ~uint64_t{0};
  ks.push_back(low_ones);
  ks.push_back(high_ones);
  ks.push_back(Periodic(0x21, 6));                 // every window the same digit
  ks.push_back(Periodic(0x3f, 6));
  ks.push_back(Periodic(0x01, 6));
  ks.push_back(Periodic(0x0000C0FFEE123457ULL, 48));  // period of 8 windows: lane by lane alike
  ks.push_back(Periodic(0x0000800000000001ULL, 48));
  ks.push_back(Periodic(0x0000000000000001ULL, 96));
  for (int period : {12, 18, 24, 36}) ks.push_back(Periodic((uint64_t{1} << (period - 1)) | 1, period));
  return ks;
}

TEST_P(FastSingleRskTest, StructuredScalarsMatchGeneric) {
  const std::vector<Limbs1024> ks = StructuredScalars();
  for (size_t i = 0; i < ks.size(); ++i) {
    SakkePoint got, want, through_kernel;
    ASSERT_TRUE(generic_->MultiplyGenerator(ScalarBytes(ks[i]), want).ok());
    ASSERT_TRUE(MultiplyBaseSingle(field_, ks[i], got).ok());
    EXPECT_EQ(ToHex(got), ToHex(want)) << "structured scalar #" << i;
    ASSERT_TRUE(fast_->MultiplyGenerator(ScalarBytes(ks[i]), through_kernel).ok());
    EXPECT_EQ(ToHex(through_kernel), ToHex(want)) << "structured scalar #" << i << " through the kernel";
  }
}

// The same structured scalars as RSKs: identifiers a = 1/k - z, so that (a + z)^-1 = k.
TEST_P(FastSingleRskTest, IdentifiersGivingStructuredInversesMatchGeneric) {
  TestRng rng(13);
  const Modulus1024& q = SakkeOrderModulus();
  const Limbs1024 zl = rng.NonZeroBelow(q.m);
  const SecretBytes z = ScalarBytes(zl);
  for (const Limbs1024& k : StructuredScalars()) {
    Limbs1024 inv, a;
    ASSERT_TRUE(BlindedInverse(q, k, inv).ok());
    SubMod(q, a, inv, zl);
    Bytes id(128);
    LimbsToBytes<kLimbs1024>(a, std::span<uint8_t, 128>(id.data(), 128));
    SakkePoint got, want;
    ASSERT_TRUE(fast_->ReceiverSecretKey(id, z, got).ok());
    ASSERT_TRUE(generic_->ReceiverSecretKey(id, z, want).ok());
    ASSERT_EQ(ToHex(got), ToHex(want));
  }
}

// Single and batch paths agree on 500 random scalars, and single RSKs agree with batched ones.
TEST_P(FastSingleRskTest, SingleAgreesWithBatch) {
  TestRng rng(17);
  std::vector<Limbs1024> ks(500);
  for (auto& k : ks) k = rng.NonZeroBelow(SakkeOrderModulus().m);
  std::vector<SakkePoint> batch(ks.size());
  ASSERT_TRUE(MultiplyBaseBatch(batch_field_, ks, batch).ok());
  for (size_t i = 0; i < ks.size(); ++i) {
    SakkePoint one;
    ASSERT_TRUE(MultiplyBaseSingle(field_, ks[i], one).ok());
    ASSERT_EQ(ToHex(one), ToHex(batch[i])) << "scalar #" << i;
  }

  const SecretBytes z = ScalarBytes(rng.NonZeroBelow(SakkeOrderModulus().m));
  std::vector<Bytes> ids;
  for (int i = 0; i < 70; ++i) ids.push_back(rng.Octets(32));
  std::vector<ByteView> views(ids.begin(), ids.end());
  std::vector<SakkePoint> rsks(ids.size());
  ASSERT_TRUE(fast_->ReceiverSecretKeys(views, z, rsks).ok());
  for (size_t i = 0; i < ids.size(); ++i) {
    SakkePoint one;
    ASSERT_TRUE(fast_->ReceiverSecretKey(ids[i], z, one).ok());
    ASSERT_EQ(ToHex(one), ToHex(rsks[i])) << "id #" << i;
  }
}

// The one-scalar path on every other field this CPU has (ADX, AVX2 lanes, IFMA: different lane
// counts, different arithmetic) agrees with the portable one.
TEST(FastSingleRskPathsTest, PathsAgree) {
  const std::vector<const LaneField*> fields = testing::OtherFields();
  if (fields.empty()) GTEST_SKIP() << "this CPU has only the portable field";
  TestRng rng(19);
  for (int i = 0; i < 300; ++i) {
    const Limbs1024 k = rng.NonZeroBelow(SakkeOrderModulus().m);
    SakkePoint a;
    ASSERT_TRUE(MultiplyBaseSingle(PortableLaneField(), k, a).ok());
    for (const LaneField* field : fields) {
      SakkePoint b;
      ASSERT_TRUE(MultiplyBaseSingle(*field, k, b).ok());
      ASSERT_EQ(ToHex(a), ToHex(b)) << field->name << ", scalar #" << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Paths, FastSingleRskTest, ::testing::ValuesIn(AllPaths()),
                         [](const auto& info) { return PathTestName(info.param); });

}  // namespace
}  // namespace mcx
