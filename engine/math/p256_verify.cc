#include "engine/math/p256_verify.h"

#include <gmp.h>
#include <openssl/bn.h>
#include <openssl/err.h>

#include <utility>

#include "base/openssl_handles.h"
#include "engine/math/curves.h"
#include "engine/math/montgomery.h"
#include "engine/math/p256_comb.h"
#include "engine/math/p256_field.h"

namespace mcx {
namespace {

using p256::Affine, p256::Fe, p256::FeMulFn;

bool IsZero(const Limbs256& a) { return (a[0] | a[1] | a[2] | a[3]) == 0; }
bool Less(const Limbs256& a, const Limbs256& b) { return LessThanMask(a, b) != 0; }

// y^2 == x^3 - 3x + b for canonical plain x, y.
bool OnCurve(const Fe& x_plain, const Fe& y_plain) {
  const p256::CombTable& g = p256::GeneratorCombTable();  // for b in Montgomery form
  const Fe& r2 = P256FieldModulus().r2;
  Fe x, y, lhs, rhs, t;
  p256::FeMul(x, x_plain, r2);
  p256::FeMul(y, y_plain, r2);
  p256::FeMul(lhs, y, y);
  p256::FeMul(t, x, x);
  p256::FeMul(rhs, t, x);
  p256::FeSub(rhs, rhs, x);
  p256::FeSub(rhs, rhs, x);
  p256::FeSub(rhs, rhs, x);
  p256::FeAdd(rhs, rhs, g.b);
  return lhs == rhs;
}

// 1/s mod n for s in [1, n-1] (GMP's gcd: variable time, s is public).
Limbs256 InverseModOrder(const Limbs256& s) {
  mpz_t a, m, inv;
  mpz_inits(a, m, inv, nullptr);
  mpz_import(a, 4, -1, sizeof(uint64_t), 0, 0, s.data());
  mpz_import(m, 4, -1, sizeof(uint64_t), 0, 0, P256OrderModulus().m.data());
  mpz_invert(inv, a, m);  // n is prime and s is not 0 mod n: the inverse exists
  Limbs256 out{};
  mpz_export(out.data(), nullptr, -1, sizeof(uint64_t), 0, 0, inv);
  mpz_clears(a, m, inv, nullptr);
  return out;
}

// a * b mod n, plain in and out.
Limbs256 MulModOrder(const Limbs256& a, const Limbs256& b) {
  const Modulus256& n = P256OrderModulus();
  Limbs256 t;
  MontMul(n, t, a, b);     // a b / R
  MontMul(n, t, t, n.r2);  // a b
  return t;
}

// The sum is kept in Jacobian coordinates (x = X/Z^2, y = Y/Z^3), whose mixed addition costs
// 8M + 3S and few additions, against 13M for the complete projective formula; the exceptional
// cases (acc = q: doubling; acc = -q: infinity) are branched on, which is fine for public data.
struct Jacobian {
  Fe x, y, z;
  bool infinity = true;
};

// acc = 2 acc (a = -3: dbl-2001-b), acc not infinity; y = 0 cannot occur (P-256 has no point of
// order 2).
template <FeMulFn kMul>
void Double(Jacobian& acc) {
  using p256::FeAdd, p256::FeSub;
  Fe delta, gamma, beta, alpha, t, u;
  kMul(delta, acc.z, acc.z);
  kMul(gamma, acc.y, acc.y);
  kMul(beta, acc.x, gamma);
  FeSub(t, acc.x, delta);
  FeAdd(u, acc.x, delta);
  kMul(alpha, t, u);
  FeAdd(t, alpha, alpha);
  FeAdd(alpha, t, alpha);  // 3 (X - delta)(X + delta)
  FeAdd(t, acc.y, acc.z);
  kMul(t, t, t);
  FeSub(t, t, gamma);
  FeSub(acc.z, t, delta);  // Z3 = (Y + Z)^2 - gamma - delta
  FeAdd(beta, beta, beta);
  FeAdd(beta, beta, beta);  // 4 beta
  kMul(t, alpha, alpha);
  FeSub(t, t, beta);
  FeSub(acc.x, t, beta);  // X3 = alpha^2 - 8 beta
  FeSub(t, beta, acc.x);
  kMul(t, alpha, t);
  kMul(gamma, gamma, gamma);
  FeAdd(gamma, gamma, gamma);
  FeAdd(gamma, gamma, gamma);
  FeAdd(gamma, gamma, gamma);  // 8 gamma^2
  FeSub(acc.y, t, gamma);
}

// acc += q for an affine q (madd-2004-hmv).
template <FeMulFn kMul>
void AddAffine(Jacobian& acc, const Affine& q, const Fe& one) {
  using p256::FeAdd, p256::FeSub;
  if (acc.infinity) {
    acc = Jacobian{q.x, q.y, one, false};
    return;
  }
  Fe t1, t2, t3, t4;
  kMul(t1, acc.z, acc.z);
  kMul(t2, t1, acc.z);
  kMul(t1, t1, q.x);  // U2 = x2 Z1^2
  kMul(t2, t2, q.y);  // S2 = y2 Z1^3
  FeSub(t1, t1, acc.x);  // H
  FeSub(t2, t2, acc.y);  // r
  if (IsZero(t1)) {    // same x: acc = q or acc = -q
    if (IsZero(t2)) {
      Double<kMul>(acc);
    } else {
      acc.infinity = true;
    }
    return;
  }
  kMul(acc.z, acc.z, t1);  // Z3 = Z1 H
  kMul(t3, t1, t1);        // H^2
  kMul(t4, t3, t1);        // H^3
  kMul(t3, t3, acc.x);     // X1 H^2
  FeAdd(t1, t3, t3);
  kMul(acc.x, t2, t2);
  FeSub(acc.x, acc.x, t1);
  FeSub(acc.x, acc.x, t4);  // X3 = r^2 - 2 X1 H^2 - H^3
  FeSub(t3, t3, acc.x);
  kMul(t3, t3, t2);
  kMul(t4, t4, acc.y);
  FeSub(acc.y, t3, t4);  // Y3 = r (X1 H^2 - X3) - Y1 H^3
}

// One table entry the sum takes: which, and whether negated (a negative Booth digit).
struct Pick {
  const Affine* entry;
  bool negative;
};

// How many entries ahead of the addition in progress are prefetched. An entry is one cache line
// (Affine is 64 octets, the table 64-aligned) at an address known as soon as u1 and u2 are; in the
// server the two tables (2 x 148 KiB) do not stay in L1/L2 between verifications, and a load that
// waits on L3 or memory stalls the addition behind it. A mixed addition takes longer than a miss,
// so a few entries of lead hide it.
constexpr int kPrefetchAhead = 4;
template <FeMulFn kMul>
bool VerifyWith(const p256::CombTable& q_table, std::span<const uint8_t, 32> digest,
                std::span<const uint8_t, 64> signature) {
  const Limbs256& n = P256OrderModulus().m;
  const Limbs256 r = LimbsFromBytes<4>(signature.first<32>());
  const Limbs256 s = LimbsFromBytes<4>(signature.last<32>());
  if (IsZero(r) || !Less(r, n) || IsZero(s) || !Less(s, n)) return false;
  Limbs256 e = LimbsFromBytes<4>(digest);
  if (!Less(e, n)) {  // digest < 2^256 < 2n: one subtraction reduces it
    unsigned char borrow = 0;
    for (int i = 0; i < 4; ++i) e[i] = p256::internal::SubBorrow(e[i], n[i], borrow);
  }
  const Limbs256 w = InverseModOrder(s);
  const Limbs256 u1 = MulModOrder(e, w), u2 = MulModOrder(r, w);

  // The entries for u1's digits in G's table and u2's in Q's, window by window (G's first), zero
  // digits skipped; all chosen before the first addition so that each can be prefetched.
  const p256::CombTable& g_table = p256::GeneratorCombTable();
  Pick picks[2 * p256::kCombWindows];
  int count = 0;
  for (int i = 0; i < p256::kCombWindows; ++i) {
    for (const auto& [table, u] : {std::pair{&g_table, &u1}, std::pair{&q_table, &u2}}) {
      uint64_t negative;
      const uint64_t abs = p256::BoothDigit(*u, i, &negative);
      if (abs != 0) picks[count++] = Pick{&table->points[i][abs - 1], negative != 0};
    }
  }
  for (int j = 0; j < count && j < kPrefetchAhead; ++j) __builtin_prefetch(picks[j].entry);
  Jacobian acc;
  for (int j = 0; j < count; ++j) {
    if (j + kPrefetchAhead < count) __builtin_prefetch(picks[j + kPrefetchAhead].entry);
    Affine q = *picks[j].entry;
    if (picks[j].negative) p256::FeSub(q.y, Fe{}, q.y);
    AddAffine<kMul>(acc, q, q_table.one);
  }
  if (acc.infinity) return false;  // R is the point at infinity

  // x(R) = X/Z^2 < p < 2n, so x(R) mod n == r iff X == r Z^2 or (when r + n < p) X == (r + n) Z^2.
  const Modulus256& p = P256FieldModulus();
  Fe z2, candidate = r, t;
  kMul(z2, acc.z, acc.z);
  for (;;) {
    kMul(t, candidate, p.r2);   // Montgomery form of the candidate
    kMul(t, t, z2);             // (candidate Z^2) R
    if (t == acc.x) return true;
    if (candidate != r) return false;
    unsigned char carry = 0;
    for (int i = 0; i < 4; ++i) candidate[i] = p256::internal::AddCarry(r[i], n[i], carry);
    if (carry != 0 || !Less(candidate, p.m)) return false;
  }
}

}  // namespace

P256VerifyingKey::P256VerifyingKey(std::unique_ptr<p256::CombTable> table) : table_(std::move(table)) {}
P256VerifyingKey::~P256VerifyingKey() = default;

Result<std::shared_ptr<const P256VerifyingKey>> P256VerifyingKey::FromAffine(std::span<const uint8_t, 32> x,
                                                                             std::span<const uint8_t, 32> y) {
  const Fe xl = LimbsFromBytes<4>(x), yl = LimbsFromBytes<4>(y);
  const Limbs256& p = P256FieldModulus().m;
  if (!Less(xl, p) || !Less(yl, p)) return Status::InvalidArgument("P-256 public key: a coordinate is not below p");
  if (!OnCurve(xl, yl)) return Status::InvalidArgument("P-256 public key: the point is not on the curve");
  const EC_GROUP* group = P256Group();
  ossl::Bn bx(BN_bin2bn(x.data(), 32, nullptr)), by(BN_bin2bn(y.data(), 32, nullptr));
  ossl::Point point(EC_POINT_new(group));
  if (!bx || !by || !point || EC_POINT_set_affine_coordinates(group, point.get(), bx.get(), by.get(), nullptr) != 1) {
    ERR_clear_error();
    return Status::InvalidArgument("P-256 public key: OpenSSL refuses the point");
  }
  std::unique_ptr<p256::CombTable> table = p256::BuildCombTable(point.get());
  if (!table) return Status::Internal("P-256 public key: the table of multiples could not be built");
  return std::shared_ptr<const P256VerifyingKey>(new P256VerifyingKey(std::move(table)));
}

Result<std::shared_ptr<const P256VerifyingKey>> P256VerifyingKey::FromPoint(ByteView encoded) {
  if (encoded.size() != kP256PointBytes || encoded[0] != 0x04) {
    return Status::InvalidArgument("P-256 public key: expected 65 octets 04 || x || y");
  }
  return FromAffine(encoded.subspan<1, 32>(), encoded.subspan<33, 32>());
}

bool P256VerifyingKey::Verify(std::span<const uint8_t, 32> digest, std::span<const uint8_t, 64> signature) const {
  return VerifyOn(BestMathPath(), digest, signature);
}

bool P256VerifyingKey::VerifyOn(MathPath path, std::span<const uint8_t, 32> digest,
                                std::span<const uint8_t, 64> signature) const {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (path != MathPath::kPortable && MathPathAvailable(MathPath::kAvx2)) {
    return VerifyWith<p256::FeMulAdx>(*table_, digest, signature);
  }
#endif
  (void)path;
  return VerifyWith<p256::FeMul>(*table_, digest, signature);
}

}  // namespace mcx
