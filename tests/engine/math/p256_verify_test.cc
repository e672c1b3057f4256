// ECDSA P-256 verification (engine/math/p256_verify.h) against OpenSSL's: the RFC 6979 known
// answer, thousands of OpenSSL signatures and their mutations (same verdict as OpenSSL's verify),
// the range edges of r and s, signatures built to reach the rare branches (x(R) >= n, e = 0,
// doublings and infinity inside the sum), and key validation. Every math path this CPU has.
#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <random>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/openssl_handles.h"
#include "base/sha256.h"
#include "engine/math/curves.h"
#include "engine/math/lane_field.h"
#include "engine/math/p256_verify.h"

namespace mcx {
namespace {

using Digest = std::array<uint8_t, 32>;
using Signature = std::array<uint8_t, 64>;

std::vector<uint8_t> FromHex(const std::string& hex) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
  return out;
}

template <size_t N>
std::array<uint8_t, N> ArrayFromHex(const std::string& hex) {
  std::vector<uint8_t> v = FromHex(hex);
  std::array<uint8_t, N> a{};
  EXPECT_EQ(v.size(), N);
  std::copy(v.begin(), v.end(), a.begin());
  return a;
}

void BnTo32(const BIGNUM* v, uint8_t* out) { ASSERT_EQ(BN_bn2binpad(v, out, 32), 32); }

ossl::Bn BnFrom(const uint8_t* be, size_t len) { return ossl::Bn(BN_bin2bn(be, static_cast<int>(len), nullptr)); }

// An OpenSSL P-256 key pair and its public point 04 || x || y.
struct TestKey {
  ossl::Pkey pkey;
  P256Point point{};
};

TestKey NewKey() {
  TestKey k;
  k.pkey.reset(EVP_EC_gen("P-256"));
  EXPECT_NE(k.pkey, nullptr);
  size_t len = 0;
  EXPECT_EQ(EVP_PKEY_get_octet_string_param(k.pkey.get(), OSSL_PKEY_PARAM_PUB_KEY, k.point.data(), k.point.size(), &len), 1);
  EXPECT_EQ(len, kP256PointBytes);
  return k;
}

// An EVP_PKEY holding only the public point (for keys without a known private key).
ossl::Pkey PublicPkey(const P256Point& point) {
  ossl::PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
  OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY* pkey = nullptr;
  EXPECT_EQ(EVP_PKEY_fromdata_init(ctx.get()), 1);
  EXPECT_EQ(EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params), 1);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  return ossl::Pkey(pkey);
}

// OpenSSL's ECDSA signature of the digest, as raw r || s.
Signature OpenSslSign(EVP_PKEY* pkey, const Digest& digest) {
  ossl::PkeyCtx ctx(EVP_PKEY_CTX_new(pkey, nullptr));
  EXPECT_EQ(EVP_PKEY_sign_init(ctx.get()), 1);
  uint8_t der[80];
  size_t der_len = sizeof der;
  EXPECT_EQ(EVP_PKEY_sign(ctx.get(), der, &der_len, digest.data(), digest.size()), 1);
  const uint8_t* p = der;
  ossl::EcdsaSig sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_len)));
  Signature out{};
  BnTo32(ECDSA_SIG_get0_r(sig.get()), out.data());
  BnTo32(ECDSA_SIG_get0_s(sig.get()), out.data() + 32);
  return out;
}

// OpenSSL's verdict on raw r || s (DER-encoded for it; any r, s below 2^256 encode).
bool OpenSslVerify(EVP_PKEY* pkey, const Digest& digest, const Signature& sig) {
  ossl::EcdsaSig s(ECDSA_SIG_new());
  ECDSA_SIG_set0(s.get(), BnFrom(sig.data(), 32).release(), BnFrom(sig.data() + 32, 32).release());
  uint8_t* der = nullptr;
  const int der_len = i2d_ECDSA_SIG(s.get(), &der);
  ossl::PkeyCtx ctx(EVP_PKEY_CTX_new(pkey, nullptr));
  EXPECT_EQ(EVP_PKEY_verify_init(ctx.get()), 1);
  const int v = EVP_PKEY_verify(ctx.get(), der, static_cast<size_t>(der_len), digest.data(), digest.size());
  OPENSSL_free(der);
  ERR_clear_error();
  return v == 1;
}

std::shared_ptr<const P256VerifyingKey> OurKey(const P256Point& point) {
  Result<std::shared_ptr<const P256VerifyingKey>> k = P256VerifyingKey::FromPoint(point);
  EXPECT_TRUE(k.ok()) << k.status().ToString();
  return k.ok() ? *k : nullptr;
}

const BIGNUM* N() { return P256Order(); }

// A signature (r, s) of digest e that verifies under a key Q with no known private key, for a
// chosen R, s and e: u1 = e/s, u2 = r/s, Q = (R - [u1]G) / u2. Reaches cases random signing
// essentially never does (x(R) >= n, s = n - 1, e = 0 mod n). Returns false when Q would be
// infinity.
bool ForgeKeyFor(const EC_POINT* r_point, const BIGNUM* s, const Digest& digest, P256Point& q_out, Signature& sig) {
  const EC_GROUP* group = P256Group();
  ossl::BnCtx ctx(BN_CTX_new());
  ossl::Bn x = ossl::NewBn(), r = ossl::NewBn(), w = ossl::NewBn(), u1 = ossl::NewBn(), u2 = ossl::NewBn();
  ossl::Bn e = BnFrom(digest.data(), 32);
  EC_POINT_get_affine_coordinates(group, r_point, x.get(), nullptr, ctx.get());
  BN_nnmod(r.get(), x.get(), N(), ctx.get());
  BN_nnmod(e.get(), e.get(), N(), ctx.get());
  BN_mod_inverse(w.get(), s, N(), ctx.get());
  BN_mod_mul(u1.get(), e.get(), w.get(), N(), ctx.get());
  BN_mod_mul(u2.get(), r.get(), w.get(), N(), ctx.get());
  ossl::Point t(EC_POINT_new(group)), q(EC_POINT_new(group));
  EC_POINT_mul(group, t.get(), u1.get(), nullptr, nullptr, ctx.get());  // [u1]G
  EC_POINT_invert(group, t.get(), ctx.get());
  EC_POINT_add(group, t.get(), t.get(), r_point, ctx.get());  // R - [u1]G
  BN_mod_inverse(u2.get(), u2.get(), N(), ctx.get());
  EC_POINT_mul(group, q.get(), nullptr, t.get(), u2.get(), ctx.get());
  if (EC_POINT_is_at_infinity(group, q.get())) return false;
  EC_POINT_point2oct(group, q.get(), POINT_CONVERSION_UNCOMPRESSED, q_out.data(), q_out.size(), ctx.get());
  BnTo32(r.get(), sig.data());
  BnTo32(s, sig.data() + 32);
  return true;
}

class P256VerifyTest : public ::testing::TestWithParam<MathPath> {
 protected:
  void SetUp() override {
    if (!MathPathAvailable(GetParam())) GTEST_SKIP() << "this CPU lacks the " << MathPathName(GetParam()) << " path";
  }
  bool Ours(const P256VerifyingKey& key, const Digest& d, const Signature& s) { return key.VerifyOn(GetParam(), d, s); }

  // Our verdict equals OpenSSL's; returns it.
  bool ExpectSameVerdict(const P256VerifyingKey& key, EVP_PKEY* pkey, const Digest& d, const Signature& s,
                         const std::string& what) {
    const bool want = OpenSslVerify(pkey, d, s);
    EXPECT_EQ(Ours(key, d, s), want) << what << ": r||s = " << ToHex(s) << " digest = " << ToHex(d);
    return want;
  }
};

// RFC 6979 A.2.5: P-256, SHA-256, message "sample".
TEST_P(P256VerifyTest, Rfc6979KnownAnswer) {
  const P256Point q = ArrayFromHex<65>(
      "0460FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6"
      "7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299");
  const Signature sig = ArrayFromHex<64>(
      "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716"
      "F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8");
  const std::string message = "sample";
  const Digest digest = Sha256({AsBytes(message)});
  auto key = OurKey(q);
  ASSERT_NE(key, nullptr);
  EXPECT_TRUE(Ours(*key, digest, sig));
  EXPECT_TRUE(OpenSslVerify(PublicPkey(q).get(), digest, sig));  // the typed-in facts are right
  Digest other = Sha256({AsBytes(std::string("test"))});
  EXPECT_FALSE(Ours(*key, other, sig));
}

// Keys, digests and signatures made by OpenSSL: valid ones accepted, and every mutation judged as
// OpenSSL judges it.
TEST_P(P256VerifyTest, ThousandsOfOpenSslSignaturesAndMutations) {
  std::mt19937_64 gen(0x256e5);
  auto random_digest = [&] {
    Digest d;
    for (auto& b : d) b = static_cast<uint8_t>(gen());
    return d;
  };
  TestKey previous = NewKey();
  auto previous_ours = OurKey(previous.point);
  int accepted_mutations = 0;
  for (int k = 0; k < 1000; ++k) {
    TestKey key = NewKey();
    auto ours = OurKey(key.point);
    ASSERT_NE(ours, nullptr);
    for (int m = 0; m < 3; ++m) {
      const Digest d = random_digest();
      const Signature sig = OpenSslSign(key.pkey.get(), d);
      ASSERT_TRUE(Ours(*ours, d, sig)) << ToHex(sig);
      // A flipped bit of r, of s, of the digest.
      Signature bad = sig;
      const int bit = static_cast<int>(gen() % 512);
      bad[static_cast<size_t>(bit / 8)] ^= static_cast<uint8_t>(1u << (bit % 8));
      accepted_mutations += ExpectSameVerdict(*ours, key.pkey.get(), d, bad, "bit flip in r||s");
      Digest bad_digest = d;
      const int dbit = static_cast<int>(gen() % 256);
      bad_digest[static_cast<size_t>(dbit / 8)] ^= static_cast<uint8_t>(1u << (dbit % 8));
      accepted_mutations += ExpectSameVerdict(*ours, key.pkey.get(), bad_digest, sig, "bit flip in the digest");
      // r and s swapped.
      Signature swapped{};
      std::copy(sig.begin() + 32, sig.end(), swapped.begin());
      std::copy(sig.begin(), sig.begin() + 32, swapped.begin() + 32);
      accepted_mutations += ExpectSameVerdict(*ours, key.pkey.get(), d, swapped, "r and s swapped");
      // Another key.
      accepted_mutations += ExpectSameVerdict(*previous_ours, previous.pkey.get(), d, sig, "wrong key");
      // The high-S twin (n - s) is valid too: JWS does not require low S.
      ossl::Bn s = BnFrom(sig.data() + 32, 32);
      BN_sub(s.get(), N(), s.get());
      Signature high = sig;
      BnTo32(s.get(), high.data() + 32);
      EXPECT_TRUE(ExpectSameVerdict(*ours, key.pkey.get(), d, high, "n - s"));
    }
    previous = std::move(key);
    previous_ours = ours;
  }
  EXPECT_EQ(accepted_mutations, 0);
}

TEST_P(P256VerifyTest, RAndSOutsideOneToNMinusOneAreRefused) {
  TestKey key = NewKey();
  auto ours = OurKey(key.point);
  Digest d{};
  d[5] = 7;
  const Signature valid = OpenSslSign(key.pkey.get(), d);
  ASSERT_TRUE(Ours(*ours, d, valid));
  uint8_t n[32], n_plus_1[32], ones[32], zero[32] = {};
  BnTo32(N(), n);
  ossl::Bn t(BN_dup(N()));
  BN_add_word(t.get(), 1);
  BnTo32(t.get(), n_plus_1);
  std::fill(std::begin(ones), std::end(ones), 0xff);
  for (const uint8_t* bad : std::initializer_list<const uint8_t*>{zero, n, n_plus_1, ones}) {
    for (int half : {0, 1}) {
      Signature sig = valid;
      std::copy(bad, bad + 32, sig.begin() + 32 * half);
      EXPECT_FALSE(Ours(*ours, d, sig)) << ToHex(sig);
      ExpectSameVerdict(*ours, key.pkey.get(), d, sig, "out of range");
    }
  }
  // r + n and s + n (still below 2^256) are not accepted as r and s.
  for (int half : {0, 1}) {
    ossl::Bn v = BnFrom(valid.data() + 32 * half, 32);
    BN_add(v.get(), v.get(), N());
    if (BN_num_bytes(v.get()) > 32) continue;
    Signature sig = valid;
    BnTo32(v.get(), sig.data() + 32 * half);
    EXPECT_FALSE(Ours(*ours, d, sig)) << ToHex(sig);
  }
  Signature all_ones;
  all_ones.fill(0xff);
  EXPECT_FALSE(Ours(*ours, d, all_ones));
  EXPECT_FALSE(Ours(*ours, d, Signature{}));
}

// Signatures built for chosen R, s and digest (ForgeKeyFor), each checked by OpenSSL as well.
TEST_P(P256VerifyTest, ConstructedEdgeSignatures) {
  const EC_GROUP* group = P256Group();
  ossl::BnCtx ctx(BN_CTX_new());
  std::mt19937_64 gen(6979);
  auto random_bn = [&] {
    uint8_t b[32];
    for (auto& x : b) x = static_cast<uint8_t>(gen());
    ossl::Bn v = BnFrom(b, 32);
    BN_nnmod(v.get(), v.get(), N(), ctx.get());
    if (BN_is_zero(v.get())) BN_one(v.get());
    return v;
  };
  auto random_r = [&] {
    ossl::Point r(EC_POINT_new(group));
    EC_POINT_mul(group, r.get(), random_bn().get(), nullptr, nullptr, ctx.get());
    return r;
  };
  auto check = [&](const EC_POINT* r_point, const BIGNUM* s, const Digest& d, const std::string& what) {
    P256Point q{};
    Signature sig{};
    ASSERT_TRUE(ForgeKeyFor(r_point, s, d, q, sig)) << what;
    auto ours = OurKey(q);
    ossl::Pkey pkey = PublicPkey(q);
    ASSERT_TRUE(OpenSslVerify(pkey.get(), d, sig)) << what;
    EXPECT_TRUE(Ours(*ours, d, sig)) << what << ": " << ToHex(sig);
    Signature bad = sig;
    bad[31] ^= 1;
    ExpectSameVerdict(*ours, pkey.get(), d, bad, what + ", r changed");
  };

  // s = n - 1 and s = 1.
  ossl::Bn s(BN_dup(N()));
  BN_sub_word(s.get(), 1);
  Digest d{};
  d[0] = 0x42;
  check(random_r().get(), s.get(), d, "s = n - 1");
  check(random_r().get(), BN_value_one(), d, "s = 1");
  // Digests that reduce to 0 (u1 = 0: only Q's table is summed) and digests >= n.
  uint8_t n_be[32];
  BnTo32(N(), n_be);
  Digest zero{}, n_digest{}, ones{};
  std::copy(n_be, n_be + 32, n_digest.begin());
  ones.fill(0xff);
  for (const Digest* dd : {&zero, &n_digest, &ones}) check(random_r().get(), random_bn().get(), *dd, "digest " + ToHex(*dd));
  // x(R) >= n: r = x(R) - n, accepted only through the r + n comparison.
  ossl::Bn x(BN_dup(N()));
  int found = 0;
  for (int tries = 0; tries < 200 && found < 5; ++tries) {
    BN_add_word(x.get(), 1 + static_cast<unsigned>(gen() % 1000));
    ossl::Point r(EC_POINT_new(group));
    if (EC_POINT_set_compressed_coordinates(group, r.get(), x.get(), static_cast<int>(gen() & 1), ctx.get()) != 1) {
      ERR_clear_error();
      continue;
    }
    ++found;
    check(r.get(), random_bn().get(), d, "x(R) >= n");
    check(r.get(), random_bn().get(), zero, "x(R) >= n, digest 0");
  }
  EXPECT_EQ(found, 5);
}

// Q = G with digest = r makes u1 = u2, so every window adds an entry to the same entry of the
// other table (the complete formula's doubling case); Q = -G makes R infinity (refused).
TEST_P(P256VerifyTest, DoublingAndInfinityInsideTheSum) {
  const EC_GROUP* group = P256Group();
  ossl::BnCtx ctx(BN_CTX_new());
  P256Point g{}, minus_g{};
  ossl::Point point(EC_POINT_dup(EC_GROUP_get0_generator(group), group));
  EC_POINT_point2oct(group, point.get(), POINT_CONVERSION_UNCOMPRESSED, g.data(), g.size(), ctx.get());
  EC_POINT_invert(group, point.get(), ctx.get());
  EC_POINT_point2oct(group, point.get(), POINT_CONVERSION_UNCOMPRESSED, minus_g.data(), minus_g.size(), ctx.get());
  auto key_g = OurKey(g), key_minus_g = OurKey(minus_g);
  ossl::Pkey pkey_g = PublicPkey(g), pkey_minus_g = PublicPkey(minus_g);
  std::mt19937_64 gen(7);
  for (int i = 0; i < 50; ++i) {
    // k random, R = [k]G, r = x(R) mod n; with d = 1 and e = r: s = k^-1 (e + r) = 2r / k.
    uint8_t kb[32];
    for (auto& b : kb) b = static_cast<uint8_t>(gen());
    ossl::Bn k = BnFrom(kb, 32), r = ossl::NewBn(), s = ossl::NewBn(), x = ossl::NewBn();
    BN_nnmod(k.get(), k.get(), N(), ctx.get());
    ossl::Point rp(EC_POINT_new(group));
    EC_POINT_mul(group, rp.get(), k.get(), nullptr, nullptr, ctx.get());
    EC_POINT_get_affine_coordinates(group, rp.get(), x.get(), nullptr, ctx.get());
    BN_nnmod(r.get(), x.get(), N(), ctx.get());
    BN_mod_add(s.get(), r.get(), r.get(), N(), ctx.get());
    BN_mod_inverse(k.get(), k.get(), N(), ctx.get());
    BN_mod_mul(s.get(), s.get(), k.get(), N(), ctx.get());
    Signature sig{};
    Digest d{};
    BnTo32(r.get(), sig.data());
    BnTo32(s.get(), sig.data() + 32);
    BnTo32(r.get(), d.data());
    EXPECT_TRUE(ExpectSameVerdict(*key_g, pkey_g.get(), d, sig, "Q = G, e = r"));
    EXPECT_FALSE(ExpectSameVerdict(*key_minus_g, pkey_minus_g.get(), d, sig, "Q = -G, e = r: R is infinity"));
  }
}

INSTANTIATE_TEST_SUITE_P(Paths, P256VerifyTest,
                         ::testing::Values(MathPath::kPortable, MathPath::kAvx2, MathPath::kIfma),
                         [](const ::testing::TestParamInfo<MathPath>& info) { return std::string(MathPathName(info.param)); });

TEST(P256VerifyingKeyTest, RefusesPointsThatAreNotPublicKeys) {
  const TestKey key = NewKey();
  ASSERT_TRUE(P256VerifyingKey::FromPoint(key.point).ok());
  // Off the curve: y + 1.
  P256Point off = key.point;
  off[64] ^= 1;
  EXPECT_FALSE(P256VerifyingKey::FromPoint(off).ok());
  // A coordinate equal to p, or x + p for a point whose x is small enough that x + p < 2^256.
  uint8_t p_be[32];
  ossl::Bn p = ossl::NewBn();
  ossl::BnCtx ctx(BN_CTX_new());
  EC_GROUP_get_curve(P256Group(), p.get(), nullptr, nullptr, ctx.get());
  BnTo32(p.get(), p_be);
  P256Point with_p = key.point;
  std::copy(p_be, p_be + 32, with_p.begin() + 1);
  EXPECT_FALSE(P256VerifyingKey::FromPoint(with_p).ok());
  with_p = key.point;
  std::copy(p_be, p_be + 32, with_p.begin() + 33);
  EXPECT_FALSE(P256VerifyingKey::FromPoint(with_p).ok());
  ossl::Point small(EC_POINT_new(P256Group()));
  ossl::Bn x = ossl::NewBn(), y = ossl::NewBn();
  for (BN_set_word(x.get(), 1); EC_POINT_set_compressed_coordinates(P256Group(), small.get(), x.get(), 0, ctx.get()) != 1;
       BN_add_word(x.get(), 1)) {
    ERR_clear_error();
  }
  EC_POINT_get_affine_coordinates(P256Group(), small.get(), x.get(), y.get(), ctx.get());
  P256Point small_point{0x04};
  BnTo32(x.get(), small_point.data() + 1);
  BnTo32(y.get(), small_point.data() + 33);
  ASSERT_TRUE(P256VerifyingKey::FromPoint(small_point).ok());  // (x, y) itself is a valid key
  BN_add(x.get(), x.get(), p.get());
  BnTo32(x.get(), small_point.data() + 1);
  EXPECT_FALSE(P256VerifyingKey::FromPoint(small_point).ok());  // (x + p, y) is refused
  // Infinity (the one-octet 00 encoding, or the (0, 0) that is not on the curve), compressed and
  // short encodings.
  const uint8_t infinity[1] = {0x00};
  EXPECT_FALSE(P256VerifyingKey::FromPoint(ByteView(infinity, 1)).ok());
  const std::array<uint8_t, 32> zero{};
  EXPECT_FALSE(P256VerifyingKey::FromAffine(zero, zero).ok());
  P256Point zero_point{0x04};
  EXPECT_FALSE(P256VerifyingKey::FromPoint(zero_point).ok());
  P256Point wrong_prefix = key.point;
  wrong_prefix[0] = 0x02;
  EXPECT_FALSE(P256VerifyingKey::FromPoint(wrong_prefix).ok());
  EXPECT_FALSE(P256VerifyingKey::FromPoint(ByteView(key.point.data(), 33)).ok());
}

}  // namespace
}  // namespace mcx
