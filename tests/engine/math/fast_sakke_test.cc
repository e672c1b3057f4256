// The fast SAKKE arithmetic against independent references: GMP for the field, OpenSSL's
// generic kernel for whole RSKs, the RFC 6508 known answers, and each math path against the
// other. Every test runs on every path this machine has (portable always; IFMA when present).
#include <gmp.h>
#include <gtest/gtest.h>
#include <openssl/rand.h>

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

struct Mpz {
  mpz_t v;
  Mpz() { mpz_init(v); }
  explicit Mpz(const Limbs1024& a) {
    mpz_init(v);
    mpz_import(v, kLimbs1024, -1, sizeof(uint64_t), 0, 0, a.data());
  }
  ~Mpz() { mpz_clear(v); }
  Limbs1024 ToLimbs() const {
    Limbs1024 r{};
    mpz_export(r.data(), nullptr, -1, sizeof(uint64_t), 0, 0, v);
    return r;
  }
};

TEST(Mont1024Test, MatchesGmpOnTenThousandRandomOperations) {
  TestRng rng(1);
  for (const Modulus1024* mod : {&SakkeFieldModulus(), &SakkeOrderModulus()}) {
    Mpz m(mod->m), rinv;
    Mpz r;
    mpz_setbit(r.v, 1024);
    ASSERT_NE(mpz_invert(rinv.v, r.v, m.v), 0);
    for (int i = 0; i < 5000; ++i) {
      const Limbs1024 a = rng.Below(mod->m), b = rng.Below(mod->m);
      Mpz za(a), zb(b), want;
      Limbs1024 got;
      MontMul(*mod, got, a, b);
      mpz_mul(want.v, za.v, zb.v);
      mpz_mul(want.v, want.v, rinv.v);
      mpz_mod(want.v, want.v, m.v);
      ASSERT_EQ(got, want.ToLimbs()) << "MontMul #" << i;
      AddMod(*mod, got, a, b);
      mpz_add(want.v, za.v, zb.v);
      mpz_mod(want.v, want.v, m.v);
      ASSERT_EQ(got, want.ToLimbs()) << "AddMod #" << i;
      SubMod(*mod, got, a, b);
      mpz_sub(want.v, za.v, zb.v);
      mpz_mod(want.v, want.v, m.v);
      ASSERT_EQ(got, want.ToLimbs()) << "SubMod #" << i;
    }
  }
}

TEST(Mont1024Test, EdgeOperands) {
  const Modulus1024& p = SakkeFieldModulus();
  Limbs1024 pm1 = p.m;
  pm1[0] -= 1;  // p - 1 (p is odd)
  Limbs1024 got;
  AddMod(p, got, pm1, Small(1));
  EXPECT_EQ(got, Small(0));
  SubMod(p, got, Small(0), Small(1));
  EXPECT_EQ(got, pm1);
  MontMul(p, got, pm1, pm1);  // (-1)(-1)/R = 1/R; times R^2/R back gives 1
  MontMul(p, got, got, p.r2);
  EXPECT_EQ(got, Small(1));
  EXPECT_NE(IsZeroMask(Small(0)), 0u);
  EXPECT_EQ(IsZeroMask(Small(1)), 0u);
}

TEST(InverseTest, BlindedAndBatchedMatchGmp) {
  TestRng rng(2);
  for (const Modulus1024* mod : {&SakkeFieldModulus(), &SakkeOrderModulus()}) {
    Mpz m(mod->m);
    std::vector<Limbs1024> xs(100), scratch(100);
    for (auto& x : xs) x = rng.Below(mod->m);
    xs[0] = Small(1);
    xs[1] = mod->m;
    xs[1][0] -= 1;
    std::vector<Limbs1024> want(xs.size());
    for (size_t i = 0; i < xs.size(); ++i) {
      Mpz zx(xs[i]), zi;
      ASSERT_NE(mpz_invert(zi.v, zx.v, m.v), 0);
      want[i] = zi.ToLimbs();
      Limbs1024 got;
      ASSERT_TRUE(BlindedInverse(*mod, xs[i], got).ok());
      ASSERT_EQ(got, want[i]);
    }
    ASSERT_TRUE(BatchInverse(*mod, xs, scratch).ok());
    EXPECT_EQ(xs, want);
  }
  Limbs1024 out;
  EXPECT_FALSE(BlindedInverse(SakkeFieldModulus(), Small(0), out).ok());
}

class FastSakkeTest : public ::testing::TestWithParam<MathPath> {
 protected:
  void SetUp() override {
    if (!MathPathAvailable(GetParam())) GTEST_SKIP() << "this CPU lacks the " << MathPathName(GetParam()) << " path";
  }
  std::unique_ptr<SakkeKernel> fast_ = NewFastSakkeKernel(GetParam());
  std::unique_ptr<SakkeKernel> generic_ = NewGenericSakkeKernel();
};

Bytes Hex(const char* h) { return *FromHex(h); }

// RSKs of `ids` under z through the fast batch path, compared byte for byte with the generic kernel.
void ExpectBatchMatchesGeneric(const SakkeKernel& fast, const SakkeKernel& generic, const std::vector<Bytes>& ids,
                               const SecretBytes& z) {
  std::vector<ByteView> views(ids.begin(), ids.end());
  std::vector<SakkePoint> got(ids.size());
  ASSERT_TRUE(fast.ReceiverSecretKeys(views, z, got).ok());
  for (size_t i = 0; i < ids.size(); ++i) {
    SakkePoint want;
    ASSERT_TRUE(generic.ReceiverSecretKey(ids[i], z, want).ok());
    ASSERT_EQ(ToHex(got[i]), ToHex(want)) << "id #" << i;
  }
}

TEST_P(FastSakkeTest, Rfc6508KnownAnswers) {
  SecretBytes z(sakke::kScalarBytes);
  const Bytes zb = Hex("AFF429D35F84B110D094803B3595A6E2998BC99F");
  std::copy(zb.begin(), zb.end(), z.data() + z.size() - zb.size());
  SakkePoint z_pub, rsk;
  ASSERT_TRUE(fast_->MultiplyGenerator(z, z_pub).ok());
  EXPECT_EQ(ToUpperHex(z_pub),
            "045958EF1B1679BF099B3A030DF255AA6A23C1D8F143D4D23F753E69BD27A832F38CB4AD53DDEF4260B0FE8BB45C4C1F"
            "F510EFFE300367A37B61F701D914AEF09724825FA0707D61A6DFF4FBD7273566CDDE352A0B04B7C16A78309BE640697D"
            "E747613A5FC195E8B9F328852A579DB8F99B1D0034479EA9C5595F47C4B2F54FF21508D37514DCF7A8E143A6058C09A6"
            "BF2C9858CA37C258065AE6BF7532BC8B5B63383866E0753C5AC0E72709F8445F2E6178E065857E0EDA10F68206B63505"
            "ED87E534FB2831FF957FB7DC619DAE61301EEACC2FDA3680EA4999258A833CEA8FC67C6D19487FB449059F26CC8AAB65"
            "5AB58B7CC796E24E9A394095754F5F8BAE");
  ASSERT_TRUE(fast_->ReceiverSecretKey(Hex("323031312D30320074656C3A2B34343737303039303031323300"), z, rsk).ok());
  EXPECT_EQ(ToUpperHex(rsk),
            "0493AF67E5007BA6E6A80DA793DA300FA4B52D0A74E25E6E7B2B3D6EE9D18A9B5C5023597BD82D8062D34019563BA1D2"
            "5C0DC56B7B979D74AA50F29FBF11CC2C93F5DFCA615E609279F6175CEADB00B58C6BEE1E7A2A47C4F0C456F05259A6FA"
            "94A634A40DAE1DF593D4FECF688D5FC678BE7EFC6DF3D6835325B83B2C6E69036B155F0A27241094B04BFB0BDFAC6C67"
            "0A65C325D39A069F03659D44CA27D3BE8DF311172B554160181CBE94A2A783320CED590BC42644702CF371271E496BF2"
            "0F588B78A1BC01ECBB6559934BDD2FB65D2884318A33D1A42ADF5E33CC5800280B28356497F87135BAB9612A17260424"
            "409AC15FEE996B744C332151235DECB0F5");
}

// Scalars with structure: the ends of the range, long runs of zero and one bits, single bits.
std::vector<Limbs1024> EdgeScalars() {
  const Limbs1024& q = SakkeOrderModulus().m;
  std::vector<Limbs1024> ks = {Small(1), Small(2), Small(3), Small(255), Small(256), Small(0x7f)};
  for (uint64_t d : {1, 2, 3}) {
    Limbs1024 k = q;
    k[0] -= d;
    ks.push_back(k);
  }
  Limbs1024 half{};  // (q - 1) / 2 and its neighbours
  for (size_t i = 0; i < kLimbs1024; ++i) half[i] = (q[i] >> 1) | (i + 1 < kLimbs1024 ? q[i + 1] << 63 : 0);
  ks.push_back(half);
  half[0] += 1;
  ks.push_back(half);
  for (int bit : {7, 63, 64, 500, 1015, 1016, 1020}) {
    Limbs1024 k{};
    k[bit / 64] = uint64_t{1} << (bit % 64);
    ks.push_back(k);
  }
  Limbs1024 ones{};  // 2^1021 - 1: all ones below the top
  for (size_t i = 0; i < 15; ++i) ones[i] = ~uint64_t{0};
  ones[15] = (uint64_t{1} << (1021 - 960)) - 1;
  ks.push_back(ones);
  Limbs1024 low_ones{};  // a long run of ones then zeros
  low_ones[0] = low_ones[1] = low_ones[2] = ~uint64_t{0};
  ks.push_back(low_ones);
  Limbs1024 alternating{};
  for (size_t i = 0; i < 15; ++i) alternating[i] = 0x5555555555555555ULL;
  ks.push_back(alternating);
  return ks;
}

TEST_P(FastSakkeTest, EdgeScalarsMatchGeneric) {
  const std::vector<Limbs1024> ks = EdgeScalars();
  std::vector<SakkePoint> got(ks.size());
  ASSERT_TRUE(MultiplyBaseBatch(LaneFieldFor(GetParam()), ks, got).ok());
  for (size_t i = 0; i < ks.size(); ++i) {
    SakkePoint want, one;
    ASSERT_TRUE(generic_->MultiplyGenerator(ScalarBytes(ks[i]), want).ok());
    EXPECT_EQ(ToHex(got[i]), ToHex(want)) << "edge scalar #" << i;
    ASSERT_TRUE(fast_->MultiplyGenerator(ScalarBytes(ks[i]), one).ok());
    EXPECT_EQ(ToHex(one), ToHex(want)) << "edge scalar #" << i << " one at a time";
  }
}

// a + z with a small inverse: a = (1/k - z) mod q makes (a + z)^-1 = k for a small k.
TEST_P(FastSakkeTest, IdentifiersGivingSmallInversesMatchGeneric) {
  TestRng rng(3);
  const Modulus1024& q = SakkeOrderModulus();
  const Limbs1024 zl = rng.Below(q.m);
  const SecretBytes z = ScalarBytes(zl);
  std::vector<Bytes> ids;
  for (uint64_t k : {1, 2, 3, 4, 5, 1000}) {
    Limbs1024 inv, a;
    ASSERT_TRUE(BlindedInverse(q, Small(k), inv).ok());
    SubMod(q, a, inv, zl);
    ids.emplace_back(128);
    LimbsToBytes<kLimbs1024>(a, std::span<uint8_t, 128>(ids.back().data(), 128));
  }
  ExpectBatchMatchesGeneric(*fast_, *generic_, ids, z);
}

TEST_P(FastSakkeTest, DegenerateIdentifierIsRejected) {
  TestRng rng(4);
  const Modulus1024& q = SakkeOrderModulus();
  const Limbs1024 zl = rng.Below(q.m);
  Limbs1024 a;
  SubMod(q, a, Small(0), zl);  // a = -z
  Bytes id(128);
  LimbsToBytes<kLimbs1024>(a, std::span<uint8_t, 128>(id.data(), 128));
  SakkePoint out;
  Status st = fast_->ReceiverSecretKey(id, ScalarBytes(zl), out);
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument) << st.ToString();
}

// Random identifiers (UID-sized, and other lengths) and master secrets: identical bytes to the
// generic OpenSSL kernel. The generic side costs ~5 ms per RSK, so this covers 1,000 RSKs per
// path; the 10,000-scalar check is PathsAgreeOnTenThousandScalars below.
TEST_P(FastSakkeTest, ThousandRandomRsksMatchGeneric) {
  TestRng rng(5 + static_cast<int>(GetParam()));
  const int kSecrets = 4, kPerSecret = 250;
  for (int s = 0; s < kSecrets; ++s) {
    const SecretBytes z = ScalarBytes(rng.Below(SakkeOrderModulus().m));
    std::vector<Bytes> ids;
    for (int i = 0; i < kPerSecret; ++i) ids.push_back(rng.Octets(i % 5 == 0 ? 1 + rng.Next() % 200 : 32));
    SCOPED_TRACE("secret #" + std::to_string(s));
    ExpectBatchMatchesGeneric(*fast_, *generic_, ids, z);
  }
}

// 10,000 random scalars through the batch path (plus 5,000 sums k_i + k_j): every result is a
// point of the curve, [k_i]P + [k_j]P = [k_i + k_j]P by OpenSSL's point addition, and with IFMA
// present, the
// other fields this CPU has (ADX, AVX2 lanes, IFMA: independent arithmetic) give the portable bytes.
TEST(FastSakkePathsTest, PathsAgreeOnTenThousandScalars) {
  TestRng rng(7);
  const Modulus1024& q = SakkeOrderModulus();
  const size_t kCount = 10000;
  std::vector<Limbs1024> ks(kCount + kCount / 2);
  for (size_t i = 0; i < kCount; ++i) ks[i] = rng.Below(q.m);
  for (size_t i = 0; i < kCount / 2; ++i) AddMod(q, ks[kCount + i], ks[2 * i], ks[2 * i + 1]);
  for (size_t i = 0; i < ks.size(); ++i) {
    if (IsZeroMask(ks[i]) != 0) ks[i] = Small(1);
  }

  std::vector<SakkePoint> portable(ks.size());
  ASSERT_TRUE(MultiplyBaseBatch(PortableLaneField(), ks, portable).ok());
  for (const LaneField* field : testing::OtherFields()) {
    std::vector<SakkePoint> other(ks.size());
    ASSERT_TRUE(MultiplyBaseBatch(*field, ks, other).ok());
    for (size_t i = 0; i < ks.size(); ++i) {
      ASSERT_EQ(ToHex(other[i]), ToHex(portable[i])) << field->name << ", scalar #" << i;
    }
  }

  const EC_GROUP* group = SakkeGroup();
  ossl::BnCtx ctx(BN_CTX_new());
  ossl::Point sum(EC_POINT_new(group));
  for (size_t i = 0; i < kCount / 2; ++i) {
    Result<ossl::Point> a = DecodePoint(group, portable[2 * i], "a");
    Result<ossl::Point> b = DecodePoint(group, portable[2 * i + 1], "b");
    Result<ossl::Point> ab = DecodePoint(group, portable[kCount + i], "a+b");
    ASSERT_TRUE(a.ok() && b.ok() && ab.ok()) << "pair #" << i << " is not on the curve";
    ASSERT_EQ(EC_POINT_add(group, sum.get(), a->get(), b->get(), ctx.get()), 1);
    ASSERT_EQ(EC_POINT_cmp(group, sum.get(), ab->get(), ctx.get()), 0) << "pair #" << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Paths, FastSakkeTest, ::testing::ValuesIn(AllPaths()),
                         [](const auto& info) { return PathTestName(info.param); });

}  // namespace
}  // namespace mcx
