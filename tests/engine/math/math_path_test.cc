// Path dispatch (MCX_MATH_PATH) and the BMI2/ADX Montgomery multiplication against the portable
// one (itself held to GMP by Mont1024Test).
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "engine/math/lane_field.h"
#include "engine/math/montgomery.h"
#include "engine/math/montgomery_adx.h"
#include "engine/math/p256_field.h"
#include "engine/math/sakke_kernel.h"
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
    EXPECT_NE(std::string(SingleLaneFieldFor(MathPath::kAvx2).name).find("AVX2"), std::string::npos);
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

// MontSqrAdx against the portable MontMul(a, a) and MontMulAdx(a, a), byte for byte.
class MontSqrAdxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!CpuHasAdx()) GTEST_SKIP() << "this CPU lacks BMI2/ADX";
  }
};

TEST_F(MontSqrAdxTest, MatchesPortableOnTenThousandRandomSquares) {
  TestRng rng(41);
  for (const Modulus1024* mod : {&SakkeFieldModulus(), &SakkeOrderModulus()}) {
    for (int i = 0; i < 5000; ++i) {
      const Limbs1024 a = rng.Below(mod->m);
      Limbs1024 want, got;
      MontMul(*mod, want, a, a);
      MontSqrAdx(*mod, got, a);
      ASSERT_EQ(got, want) << "square #" << i;
      MontSqrAdx(*mod, got, got);  // aliasing
      MontMul(*mod, want, want, want);
      ASSERT_EQ(got, want) << "aliased square #" << i;
    }
  }
}

// Canonical edges (0, 1, 2, m - 1, m - 2, all limbs 2^64 - 1 below m, R^2, R^3, single limbs and
// limb pairs of 2^64 - 1 that drive each cross row's carries), then operands in [m, 2^1024),
// outside the contract: the pre-subtraction value (a^2 + Q m) / 2^1024 is the same integer as
// MontMulAdx's, so the two agree there too.
TEST_F(MontSqrAdxTest, EdgeOperands) {
  constexpr uint64_t kAll = ~uint64_t{0};
  for (const Modulus1024* mod : {&SakkeFieldModulus(), &SakkeOrderModulus()}) {
    Limbs1024 m1 = mod->m, m2 = mod->m, ones{};
    m1[0] -= 1;
    m2[0] -= 2;
    for (size_t j = 0; j + 1 < kLimbs1024; ++j) ones[j] = kAll;
    ones[kLimbs1024 - 1] = mod->m[kLimbs1024 - 1] - 1;
    std::vector<Limbs1024> ops = {Small(0), Small(1), Small(2), m1, m2, ones, mod->r2, mod->r3};
    for (size_t j = 0; j + 1 < kLimbs1024; ++j) {
      Limbs1024 single{}, pair{};
      single[j] = kAll;
      pair[j] = kAll;
      pair[j + 1] = kAll;
      ops.push_back(single);
      ops.push_back(pair);
    }
    for (const Limbs1024& a : ops) {
      Limbs1024 want, got;
      MontMul(*mod, want, a, a);
      MontSqrAdx(*mod, got, a);
      ASSERT_EQ(got, want);
    }
    Limbs1024 got;
    MontSqrAdx(*mod, got, m1);  // (-1)^2 / R, times R^2 / R: 1
    MontMulAdx(*mod, got, got, mod->r2);
    EXPECT_EQ(got, Small(1));

    Limbs1024 top{}, m_plus1 = mod->m;
    top.fill(kAll);
    m_plus1[0] += 1;  // m is odd: no carry
    TestRng rng(43);
    std::vector<Limbs1024> unreduced = {mod->m, m_plus1, top};
    for (int i = 0; i < 200; ++i) {
      Limbs1024 a = rng.Below(mod->m);
      a[kLimbs1024 - 1] = i % 2 == 0 ? kAll : a[kLimbs1024 - 1] | uint64_t{1} << 63;  // top limb above m's
      unreduced.push_back(a);
    }
    for (const Limbs1024& a : unreduced) {
      Limbs1024 want, got;
      MontMulAdx(*mod, want, a, a);
      MontSqrAdx(*mod, got, a);
      ASSERT_EQ(got, want);
    }
  }
}

// The P-256 field's squaring (p256::FeSqrAdx, the avx2 path's [k]G) against the portable
// FeMul(a, a), byte for byte: random elements below p, then edges (0, 1, 2, p - 1, p - 2, all
// limbs 2^64 - 1 below p, R mod p, and words of 2^64 - 1 that drive the cross rows' carries).
TEST_F(MontSqrAdxTest, P256SquareMatchesPortable) {
  const Limbs256& p = P256FieldModulus().m;
  TestRng rng(47);
  std::vector<Limbs256> ops;
  for (int i = 0; i < 20000; ++i) {
    Limbs256 a;
    do {
      for (auto& w : a) w = rng.Next();
    } while (LessThanMask(a, p) == 0);
    ops.push_back(a);
  }
  constexpr uint64_t kAll = ~uint64_t{0};
  Limbs256 p1 = p, p2 = p;
  p1[0] -= 1;
  p2[0] -= 2;
  ops.insert(ops.end(), {Limbs256{}, Limbs256{1, 0, 0, 0}, Limbs256{2, 0, 0, 0}, p1, p2,
                         Limbs256{kAll, kAll, kAll, p[3] - 1}, P256FieldModulus().r2});
  for (int j = 0; j < 3; ++j) {
    Limbs256 single{}, pair{};
    single[j] = kAll;
    pair[j] = pair[j + 1] = kAll;
    if (LessThanMask(pair, p) == 0) pair[3] = p[3] - 1;
    ops.push_back(single);
    ops.push_back(pair);
  }
  for (const Limbs256& a : ops) {
    Limbs256 want, got;
    p256::FeMul(want, a, a);
    p256::FeSqrAdx(got, a);
    ASSERT_EQ(got, want);
    p256::FeSqrAdx(got, got);  // aliasing
    p256::FeMul(want, want, want);
    ASSERT_EQ(got, want);
  }
}

TEST(SubModAdxTest, MatchesPortable) {
  TestRng rng(37);
  for (const Modulus1024* mod : {&SakkeFieldModulus(), &SakkeOrderModulus()}) {
    Limbs1024 m1 = mod->m;
    m1[0] -= 1;
    const Limbs1024 edges[] = {Small(0), Small(1), m1};
    for (const Limbs1024& a : edges) {
      for (const Limbs1024& b : edges) {
        Limbs1024 want, got;
        SubMod(*mod, want, a, b);
        SubModAdx(*mod, got, a, b);
        ASSERT_EQ(got, want);
      }
    }
    for (int i = 0; i < 5000; ++i) {
      const Limbs1024 a = rng.Below(mod->m), b = rng.Below(mod->m);
      Limbs1024 want, got;
      SubMod(*mod, want, a, b);
      SubModAdx(*mod, got, a, b);
      ASSERT_EQ(got, want) << "#" << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, MontMulAdxTest, ::testing::Values(0, 1),
                         [](const auto& info) { return info.param == 0 ? "Assembly" : "Intrinsics"; });

// Every operation of a LaneField other than the portable one, lane by lane, against the portable field on random
// values: mul, sqr, sub (both orders, so both sides of its final subtraction), select,
// negate_lanes, invert and to_plain.
// Param: 0 the ADX field, 1 the AVX2 lane field, 2 the IFMA lane field.
const LaneField* FieldOf(int which) {
  return which == 0 ? AdxLaneField() : which == 1 ? Avx2LaneField() : IfmaLaneField();
}

TEST(MathPathTest, AdxTuningsShareTheArithmetic) {
  if (AdxLaneField() == nullptr) GTEST_SKIP() << "this CPU lacks BMI2/ADX";
  EXPECT_EQ(AdxLaneField()->mul, AdxBatchLaneField()->mul);
  EXPECT_NE(AdxLaneField()->table_slot, AdxBatchLaneField()->table_slot);  // different windows
}

// The avx2 path runs on the AVX2 lanes, batches and one scalar alike, with one table (measured
// faster than the BMI2/ADX fields since session 14: docs/arithmetic.md).
TEST(MathPathTest, Avx2PathBatchesOnTheAvx2Lanes) {
  if (!MathPathAvailable(MathPath::kAvx2)) GTEST_SKIP() << "this CPU lacks the avx2 path";
  ASSERT_NE(Avx2BatchLaneField(), nullptr);
  EXPECT_EQ(&LaneFieldFor(MathPath::kAvx2), Avx2BatchLaneField());
  EXPECT_EQ(&SingleLaneFieldFor(MathPath::kAvx2), Avx2BatchLaneField());
  EXPECT_EQ(Avx2LaneField()->mul, Avx2BatchLaneField()->mul);
  EXPECT_NE(Avx2LaneField()->table_slot, Avx2BatchLaneField()->table_slot);  // different windows
}

// The fast kernel tells bulk callers its field's batch (the pipeline batches that wide); the
// generic kernel shares nothing.
TEST(MathPathTest, KernelsAnnounceTheirBatchWidth) {
  for (MathPath path : {MathPath::kPortable, MathPath::kAvx2, MathPath::kIfma}) {
    if (!MathPathAvailable(path)) continue;
    EXPECT_EQ(NewFastSakkeKernel(path)->BatchWidth(), LaneFieldFor(path).batch)
        << MathPathName(path);
  }
  EXPECT_EQ(NewGenericSakkeKernel()->BatchWidth(), 1u);
  if (MathPathAvailable(MathPath::kAvx2)) {
    EXPECT_EQ(NewFastSakkeKernel(MathPath::kAvx2)->BatchWidth(), 256u);
  }
}

class VectorFieldTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    if (FieldOf(GetParam()) == nullptr) GTEST_SKIP() << "this CPU lacks the instructions of this field";
  }
  const LaneField& f_ = FieldOf(GetParam()) != nullptr ? *FieldOf(GetParam()) : PortableLaneField();
  const LaneField& portable_ = PortableLaneField();
};

TEST_P(VectorFieldTest, MatchesPortableLaneByLane) {
  const Modulus1024& p = SakkeFieldModulus();
  TestRng rng(41);
  const int lanes = f_.lanes;
  std::vector<uint64_t> entries(static_cast<size_t>(lanes) * 2 * f_.entry_words), a(f_.words), b(f_.words),
      scratch(f_.words), r(f_.words), negate(8);
  for (int round = 0; round < 300; ++round) {
    std::vector<Limbs1024> xa(static_cast<size_t>(lanes)), xb(static_cast<size_t>(lanes));
    for (int l = 0; l < lanes; ++l) {
      xa[l] = rng.Below(p.m);
      xb[l] = rng.Below(p.m);
      if (round == 0) xa[l] = Small(static_cast<uint64_t>(l));  // 0, 1, 2, ... (0 is T's coordinate)
      if (round == 1) {
        xa[l] = p.m;
        xa[l][0] -= 1 + static_cast<uint64_t>(l);  // p - 1, p - 2, ...
      }
    }
    // Entries 2l (a, b) and 2l + 1 (b, a); lane l selects entry 2l + (round & 1).
    for (int l = 0; l < lanes; ++l) {
      f_.encode_entry(entries.data() + (2 * l) * f_.entry_words, xa[l], xb[l]);
      f_.encode_entry(entries.data() + (2 * l + 1) * f_.entry_words, xb[l], xa[l]);
    }
    const int pick = round & 1;
    for (int l = 0; l < lanes; ++l) {
      f_.select(a.data(), b.data(), l, entries.data(), static_cast<size_t>(2 * lanes), static_cast<uint32_t>(2 * l + pick));
      negate[l] = (round + l) % 3 == 0 ? ~uint64_t{0} : 0;
    }
    for (int l = 0; l < lanes; ++l) {
      if (pick) std::swap(xa[l], xb[l]);
    }
    auto check = [&](const std::vector<uint64_t>& got, const char* what, auto want_of) {
      for (int l = 0; l < lanes; ++l) {
        Limbs1024 g;
        f_.to_plain(g, got.data(), l);
        ASSERT_EQ(g, want_of(l)) << what << ", round " << round << ", lane " << l;
      }
    };
    // Plain reference arithmetic through the portable Montgomery functions.
    auto mont = [&](const Limbs1024& x, const Limbs1024& y) {
      Limbs1024 xm, ym, z;
      MontMul(p, xm, x, p.r2);
      MontMul(p, ym, y, p.r2);
      MontMul(p, z, xm, ym);
      MontMul(p, z, z, Small(1));
      return z;
    };
    check(a, "select", [&](int l) { return xa[l]; });
    f_.mul(r.data(), a.data(), b.data());
    check(r, "mul", [&](int l) { return mont(xa[l], xb[l]); });
    f_.sqr(r.data(), r.data());
    check(r, "sqr", [&](int l) { Limbs1024 m = mont(xa[l], xb[l]); return mont(m, m); });
    f_.sub(scratch.data(), a.data(), b.data());
    check(scratch, "sub", [&](int l) { Limbs1024 d; SubMod(p, d, xa[l], xb[l]); return d; });
    f_.sub(scratch.data(), b.data(), a.data());
    check(scratch, "sub reversed", [&](int l) { Limbs1024 d; SubMod(p, d, xb[l], xa[l]); return d; });
    f_.sub(scratch.data(), a.data(), a.data());  // a - a: the boundary of the final choice
    check(scratch, "sub of itself", [&](int) { return Limbs1024{}; });
    EXPECT_EQ(scratch, std::vector<uint64_t>(scratch.size(), 0)) << "a - a is 0 itself, not 2p, round " << round;
    f_.sub(scratch.data(), b.data(), a.data());
    f_.sub(scratch.data(), r.data(), scratch.data());  // an operand that is a product (below 2p)
    check(scratch, "sub of a product", [&](int l) {
      Limbs1024 m = mont(xa[l], xb[l]), d, e;
      m = mont(m, m);
      SubMod(p, d, xb[l], xa[l]);
      SubMod(p, e, m, d);
      return e;
    });
    f_.negate_lanes(b.data(), negate.data());
    check(b, "negate_lanes", [&](int l) {
      Limbs1024 d;
      const Limbs1024 zero{};
      SubMod(p, d, zero, xb[l]);
      return negate[l] != 0 ? d : xb[l];
    });
    bool all_nonzero = true;
    for (int l = 0; l < lanes; ++l) all_nonzero = all_nonzero && IsZeroMask(xa[l]) == 0;
    if (all_nonzero) {
      ASSERT_TRUE(f_.invert(r.data(), a.data()).ok());
      f_.mul(r.data(), r.data(), a.data());
      check(r, "a * 1/a", [&](int) { return Small(1); });
    }
  }
}

// Long chains of products, squares and differences of the field's own outputs (so operands anywhere
// below the field's bound, not only the fully reduced table values the test above starts from),
// against the portable field lane by lane: x <- x y, y <- y^2 - x, 3,000 steps, checked every 100.
TEST_P(VectorFieldTest, LongChainsOfUnreducedOperandsMatchPortable) {
  const Modulus1024& p = SakkeFieldModulus();
  TestRng rng(43);
  const int lanes = f_.lanes;
  std::vector<uint64_t> entries(static_cast<size_t>(lanes) * f_.entry_words), x(f_.words), y(f_.words);
  std::vector<Limbs1024> px(static_cast<size_t>(lanes)), py(static_cast<size_t>(lanes));
  for (int l = 0; l < lanes; ++l) {
    const Limbs1024 a = rng.Below(p.m), b = rng.Below(p.m);
    f_.encode_entry(entries.data() + l * f_.entry_words, a, b);
    // The portable field's own encoding of the same point: Montgomery form, R = 2^1024.
    std::vector<uint64_t> entry(portable_.entry_words);
    portable_.encode_entry(entry.data(), a, b);
    std::copy(entry.begin(), entry.begin() + kLimbs1024, px[l].begin());
    std::copy(entry.begin() + kLimbs1024, entry.end(), py[l].begin());
  }
  for (int l = 0; l < lanes; ++l) f_.select(x.data(), y.data(), l, entries.data(), static_cast<size_t>(lanes), static_cast<uint32_t>(l));
  for (int step = 1; step <= 3000; ++step) {
    f_.mul(x.data(), x.data(), y.data());
    f_.sqr(y.data(), y.data());
    f_.sub(y.data(), y.data(), x.data());
    for (int l = 0; l < lanes; ++l) {
      MontMul(p, px[l], px[l], py[l]);
      MontMul(p, py[l], py[l], py[l]);
      SubMod(p, py[l], py[l], px[l]);
    }
    if (step % 100 != 0) continue;
    for (int l = 0; l < lanes; ++l) {
      Limbs1024 got, want;
      f_.to_plain(got, x.data(), l);
      MontMul(p, want, px[l], Small(1));
      ASSERT_EQ(got, want) << "x, step " << step << ", lane " << l;
      f_.to_plain(got, y.data(), l);
      MontMul(p, want, py[l], Small(1));
      ASSERT_EQ(got, want) << "y, step " << step << ", lane " << l;
    }
  }
}

// select_lanes (one pass over a window for every lane) against select lane by lane: the same words
// and the entry's own coordinates, for tables of 1, 7 and 128 entries (a w = 8 window), with every
// lane at the first entry, at the last, all at one entry and at random ones.
TEST_P(VectorFieldTest, SelectLanesMatchesSelectLaneByLane) {
  const Modulus1024& p = SakkeFieldModulus();
  TestRng rng(47);
  const int lanes = f_.lanes;
  for (size_t count : {size_t{1}, size_t{7}, size_t{128}}) {
    std::vector<Limbs1024> xs(count), ys(count);
    std::vector<uint64_t> entries(count * f_.entry_words);
    for (size_t e = 0; e < count; ++e) {
      xs[e] = rng.Below(p.m);
      ys[e] = rng.Below(p.m);
      if (e == 0) {  // p - 1, the largest coordinate: its top limb (0x997a) uses every top nibble
        ys[e] = p.m;
        ys[e][0] -= 1;
      }
      f_.encode_entry(entries.data() + e * f_.entry_words, xs[e], ys[e]);
    }
    for (int round = 0; round < 40; ++round) {
      std::vector<uint32_t> index(static_cast<size_t>(lanes));
      const uint32_t shared = static_cast<uint32_t>(rng.Below(p.m)[0] % count);
      for (int l = 0; l < lanes; ++l) {
        const uint32_t random = static_cast<uint32_t>(rng.Below(p.m)[0] % count);
        index[l] = round == 0 ? 0 : round == 1 ? static_cast<uint32_t>(count - 1) : round == 2 ? shared : random;
      }
      std::vector<uint64_t> x1(f_.words, 1), y1(f_.words, 1), x2(f_.words, 2), y2(f_.words, 2);
      f_.select_lanes(x1.data(), y1.data(), entries.data(), count, index.data());
      for (int l = 0; l < lanes; ++l) f_.select(x2.data(), y2.data(), l, entries.data(), count, index[l]);
      ASSERT_EQ(x1, x2) << "count " << count << ", round " << round;
      ASSERT_EQ(y1, y2) << "count " << count << ", round " << round;
      for (int l = 0; l < lanes; ++l) {
        Limbs1024 x, y;
        f_.to_plain(x, x1.data(), l);
        f_.to_plain(y, y1.data(), l);
        ASSERT_EQ(x, xs[index[l]]) << "count " << count << ", round " << round << ", lane " << l;
        ASSERT_EQ(y, ys[index[l]]) << "count " << count << ", round " << round << ", lane " << l;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fields, VectorFieldTest, ::testing::Values(0, 1, 2), [](const auto& info) {
  return std::string(info.param == 0 ? "Adx" : info.param == 1 ? "Avx2Lanes" : "Ifma");
});

}  // namespace
}  // namespace mcx
