// Path dispatch (MCX_MATH_PATH) and the BMI2/ADX Montgomery multiplication against the portable
// one (itself held to GMP by Mont1024Test).
#include <gtest/gtest.h>

#include <string>

#include "engine/math/lane_field.h"
#include "engine/math/montgomery.h"
#include "engine/math/montgomery_adx.h"
#include "tests/engine/math/math_test_data.h"

namespace mcx {
namespace {

using testing::Small;
using testing::TestRng;

TEST(MathPathTest, UnsetTakesTheFastestAvailablePath) {
  Result<MathPath> p = ParseMathPath(nullptr);
  ASSERT_TRUE(p.ok());
  const MathPath want = MathPathAvailable(MathPath::kIfma)   ? MathPath::kIfma
                        : MathPathAvailable(MathPath::kAvx2) ? MathPath::kAvx2
                                                             : MathPath::kPortable;
  EXPECT_EQ(*p, want);
  Result<MathPath> empty = ParseMathPath("");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, want);
}

TEST(MathPathTest, ForcingAPathTakesItOrSaysTheCpuLacksIt) {
  for (MathPath path : {MathPath::kPortable, MathPath::kAvx2, MathPath::kIfma}) {
    Result<MathPath> p = ParseMathPath(MathPathName(path));
    if (MathPathAvailable(path)) {
      ASSERT_TRUE(p.ok()) << MathPathName(path);
      EXPECT_EQ(*p, path);
    } else {
      ASSERT_FALSE(p.ok()) << MathPathName(path);
      EXPECT_NE(p.status().message().find("this CPU lacks"), std::string::npos) << p.status().message();
    }
  }
  EXPECT_TRUE(MathPathAvailable(MathPath::kPortable));
}

TEST(MathPathTest, UnknownNameIsAnError) {
  Result<MathPath> p = ParseMathPath("avx512");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("ifma, avx2 or portable"), std::string::npos) << p.status().message();
}

TEST(MathPathTest, FieldsNameTheirArithmetic) {
  for (MathPath path : {MathPath::kPortable, MathPath::kAvx2, MathPath::kIfma}) {
    if (!MathPathAvailable(path)) continue;
    EXPECT_NE(LaneFieldFor(path).name, nullptr);
    EXPECT_NE(SingleLaneFieldFor(path).name, nullptr);
  }
  if (MathPathAvailable(MathPath::kAvx2)) {
    EXPECT_NE(std::string(SingleLaneFieldFor(MathPath::kAvx2).name).find("ADX"), std::string::npos);
  }
}

using MulFn = void (*)(const Modulus1024&, Limbs1024&, const Limbs1024&, const Limbs1024&);

class MontMulAdxTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    if (!CpuHasAdx()) GTEST_SKIP() << "this CPU lacks BMI2/ADX";
  }
  MulFn mul_ = GetParam() == 0 ? MontMulAdx : MontMulAdxIntrinsics;
};

TEST_P(MontMulAdxTest, MatchesPortableOnTenThousandRandomProducts) {
  TestRng rng(31);
  for (const Modulus1024* mod : {&SakkeFieldModulus(), &SakkeOrderModulus()}) {
    for (int i = 0; i < 5000; ++i) {
      const Limbs1024 a = rng.Below(mod->m), b = rng.Below(mod->m);
      Limbs1024 want, got;
      MontMul(*mod, want, a, b);
      mul_(*mod, got, a, b);
      ASSERT_EQ(got, want) << "product #" << i;
      mul_(*mod, got, got, got);  // aliasing
      MontMul(*mod, want, want, want);
      ASSERT_EQ(got, want) << "square #" << i;
    }
  }
}

// Operands that drive every carry: 0, 1, m - 1, m - 2, values with all limbs 2^64 - 1 below m,
// and results that land on either side of the final subtraction.
TEST_P(MontMulAdxTest, EdgeOperands) {
  for (const Modulus1024* mod : {&SakkeFieldModulus(), &SakkeOrderModulus()}) {
    Limbs1024 m1 = mod->m, m2 = mod->m, ones{};
    m1[0] -= 1;
    m2[0] -= 2;
    for (size_t j = 0; j + 1 < kLimbs1024; ++j) ones[j] = ~uint64_t{0};
    ones[kLimbs1024 - 1] = mod->m[kLimbs1024 - 1] - 1;
    const Limbs1024 ops[] = {Small(0), Small(1), Small(2), m1, m2, ones, mod->r2, mod->r3};
    for (const Limbs1024& a : ops) {
      for (const Limbs1024& b : ops) {
        Limbs1024 want, got;
        MontMul(*mod, want, a, b);
        mul_(*mod, got, a, b);
        ASSERT_EQ(got, want);
      }
    }
    Limbs1024 got;
    mul_(*mod, got, m1, m1);  // (-1)(-1)/R, times R^2/R: 1
    mul_(*mod, got, got, mod->r2);
    EXPECT_EQ(got, Small(1));
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, MontMulAdxTest, ::testing::Values(0, 1),
                         [](const auto& info) { return info.param == 0 ? "Assembly" : "Intrinsics"; });

}  // namespace
}  // namespace mcx
