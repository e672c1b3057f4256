// The AVX-512 IFMA lanes of p256_lanes.h: 8 lanes x 5 x 52-bit limbs, Montgomery with R' = 2^260.
//
// p's low 52 bits are all ones, so -1/p mod 2^52 is 1 and each Montgomery step's quotient digit
// is the low limb itself. Bounds: operands below 2p give a Montgomery product below
// p (4p/R' + 1) < 2p (4p < 2^258 = R'/4), so multiplication needs no final subtraction; add and
// sub bring their result back below 2p by one masked subtraction of 2p. Limbs are normalized
// (below 2^52) between operations because vpmadd52 reads only the low 52 bits of its inputs.
//
// Only this file and the toolkit it shares with the SAKKE lanes (ifma52.h) are compiled for
// AVX-512, function by function (target attribute); nothing here runs unless IfmaLanesAvailable()
// found the instructions at run time.
#include "engine/math/p256_lanes.h"

#include "base/secret.h"
#include "engine/math/ifma52.h"

namespace mcx::p256 {

static_assert(kLanes == ifma52::kLanes);

void SplitLimbs52(const Limbs256& a, uint64_t out[kLaneLimbs]) { ifma52::Split<4, kLaneLimbs>(a.data(), out); }

bool IfmaLanesAvailable() { return ifma52::CpuHasIfma(); }

}  // namespace mcx::p256

#if defined(MCX_HAVE_IFMA52)
namespace mcx::p256 {
namespace {

using ifma52::kMask52;
using ifma52::Normalize;
using ifma52::SelectLanes;
using ifma52::Set1;
// p = 2^256 - 2^224 + 2^192 + 2^96 - 1 in radix 2^52, and 2p.
constexpr uint64_t kP52[kLaneLimbs] = {kMask52, (uint64_t{1} << 44) - 1, 0, uint64_t{1} << 36,
                                       (uint64_t{1} << 48) - (uint64_t{1} << 16)};
constexpr uint64_t kP2x52[kLaneLimbs] = {kMask52 - 1, (uint64_t{1} << 45) - 1, 0, uint64_t{1} << 37,
                                         (uint64_t{1} << 49) - (uint64_t{1} << 17)};

struct Fe8 {
  __m512i l[kLaneLimbs];
};

MCX_IFMA_INLINE Fe8 Broadcast(const uint64_t limbs[kLaneLimbs]) {
  Fe8 r;
  for (int j = 0; j < kLaneLimbs; ++j) r.l[j] = Set1(limbs[j]);
  return r;
}

// p for ifma52::MontMul: -1/p = 1 mod 2^52, so the digit is the low limb itself, and p's limb 2
// is zero.
struct P256Modulus {
  __m512i mask = Set1(kMask52);
  MCX_IFMA_INLINE __m512i Quotient(__m512i acc0) const { return _mm512_and_si512(acc0, mask); }
  MCX_IFMA_INLINE __m512i Limb(int j) const { return Set1(kP52[j]); }
  static constexpr bool HasLimb(int j) { return kP52[j] != 0; }
};

// a*b/R' mod p, below 2p for a, b below 2p.
MCX_IFMA_INLINE Fe8 Mul(const Fe8& a, const Fe8& b) {
  Fe8 r;
  ifma52::MontMul<kLaneLimbs>(r.l, a.l, b.l, P256Modulus{});
  return r;
}

// t - c in the lanes where that is not negative, else t. t normalised and nonnegative.
MCX_IFMA_INLINE Fe8 SubtractIfNotNegative(const __m512i* t, const uint64_t c[kLaneLimbs]) {
  Fe8 r;
  ifma52::SubtractIfNotNegative<kLaneLimbs>(r.l, t, c);
  return r;
}

MCX_IFMA_INLINE Fe8 Add(const Fe8& a, const Fe8& b) {
  __m512i t[kLaneLimbs];
#pragma GCC unroll 5
  for (int j = 0; j < kLaneLimbs; ++j) t[j] = _mm512_add_epi64(a.l[j], b.l[j]);
  Normalize<kLaneLimbs>(t);  // a + b < 4p
  return SubtractIfNotNegative(t, kP2x52);
}

MCX_IFMA_INLINE Fe8 Sub(const Fe8& a, const Fe8& b) {
  __m512i t[kLaneLimbs];
#pragma GCC unroll 5
  for (int j = 0; j < kLaneLimbs; ++j) t[j] = _mm512_add_epi64(_mm512_sub_epi64(a.l[j], b.l[j]), Set1(kP2x52[j]));
  Normalize<kLaneLimbs>(t);  // a - b + 2p in (0, 4p)
  return SubtractIfNotNegative(t, kP2x52);
}

struct Point8 {
  Fe8 x, y, z;
};

// The part that the complete additions of Renes, Costello and Batina (2016, algorithms 4 and 5,
// a = -3) share, from the products they have formed: t0 = X1 X2, t1 = Y1 Y2, t3 = X1 Y2 + X2 Y1,
// t4 = Y1 Z2 + Y2 Z1, xz = X1 Z2 + X2 Z1 and zz = Z1 Z2 (for the mixed addition Z2 = 1).
MCX_IFMA_INLINE void FinishAddition(const Fe8& b, Point8& r, Fe8 t0, Fe8 t1, const Fe8& t3, const Fe8& t4,
                                    const Fe8& xz, const Fe8& zz) {
  Fe8 z3 = Mul(b, zz);
  Fe8 x3 = Sub(xz, z3);
  z3 = Add(x3, x3);
  x3 = Add(x3, z3);
  z3 = Sub(t1, x3);
  x3 = Add(t1, x3);
  Fe8 y3 = Mul(b, xz);
  t1 = Add(zz, zz);
  Fe8 t2 = Add(t1, zz);
  y3 = Sub(y3, t2);
  y3 = Sub(y3, t0);
  t1 = Add(y3, y3);
  y3 = Add(t1, y3);
  t1 = Add(t0, t0);
  t0 = Add(t1, t0);
  t0 = Sub(t0, t2);
  t1 = Mul(t4, y3);
  t2 = Mul(t0, y3);
  y3 = Mul(x3, z3);
  y3 = Add(y3, t2);
  x3 = Mul(x3, t3);
  x3 = Sub(x3, t1);
  z3 = Mul(z3, t4);
  t1 = Mul(t3, t0);
  z3 = Add(z3, t1);
  r.x = x3;
  r.y = y3;
  r.z = z3;
}

// r = a + (qx, qy): the same complete mixed addition as AddMixed in p256_fixed_base.cc
// (algorithm 5, 11M + 2M(b)). r may alias a.
[[gnu::noinline]] MCX_IFMA void AddMixed(const Fe8& b, Point8& r, const Point8& a, const Fe8& qx, const Fe8& qy) {
  const Fe8 t0 = Mul(a.x, qx);
  const Fe8 t1 = Mul(a.y, qy);
  Fe8 t3 = Mul(Add(qx, qy), Add(a.x, a.y));
  t3 = Sub(t3, Add(t0, t1));                  // X1 Y2 + X2 Y1
  const Fe8 t4 = Add(Mul(qy, a.z), a.y);      // Y1 + Y2 Z1
  const Fe8 xz = Add(Mul(qx, a.z), a.x);      // X1 + X2 Z1
  FinishAddition(b, r, t0, t1, t3, t4, xz, a.z);
}

// A table row as the lanes read it: either one row that every lane shares (a batch of scalars in
// the same window: each word is broadcast) or, in the split layout, each lane's own row (one
// scalar's windows spread over the lanes: each word is a vector load of 8 lanes' words).
struct SharedRow {
  const uint64_t* entries;
  MCX_IFMA_INLINE __m512i Word(int e, int w) const { return Set1(entries[e * kLaneEntryWords + w]); }
};
struct SplitRow {
  const uint64_t* entries;
  MCX_IFMA_INLINE __m512i Word(int e, int w) const {
    return _mm512_load_si512(entries + (static_cast<size_t>(e) * kLaneEntryWords + static_cast<size_t>(w)) * kLanes);
  }
};

// (qx, qy) = entry abs[l] of the row in lane l ((0, 0) for 0), reading every entry; then
// qy = p - qy in the lanes whose negative mask is set.
template <class Row>
MCX_IFMA_INLINE void SelectEntries(const Row& row, int count, const uint64_t* abs, const uint64_t* negative, Fe8& qx,
                                   Fe8& qy) {
  const __m512i digits = _mm512_loadu_si512(abs);
  __m512i acc[kLaneEntryWords];
  for (int w = 0; w < kLaneEntryWords; ++w) acc[w] = _mm512_setzero_si512();
  for (int e = 0; e < count; ++e) {
    const __mmask8 hit = ifma52::EqLanes(digits, Set1(static_cast<uint64_t>(e + 1)));
#pragma GCC unroll 10
    for (int w = 0; w < kLaneEntryWords; ++w) acc[w] = _mm512_mask_mov_epi64(acc[w], hit, row.Word(e, w));
  }
  __m512i neg_y[kLaneLimbs];
  for (int j = 0; j < kLaneLimbs; ++j) neg_y[j] = _mm512_sub_epi64(Set1(kP52[j]), acc[kLaneLimbs + j]);
  Normalize<kLaneLimbs>(neg_y);  // p - y in (0, p] for a table entry y < p
  const __mmask8 flip = ifma52::NonZeroLanes(_mm512_loadu_si512(negative));
  for (int j = 0; j < kLaneLimbs; ++j) {
    qx.l[j] = acc[j];
    qy.l[j] = SelectLanes(flip, acc[kLaneLimbs + j], neg_y[j]);
  }
  SecureWipe(acc, sizeof acc);
}

// a's lanes in the portable representation: a * 2^256 / R' is aR/R' in Montgomery R = 2^256,
// then one masked subtraction of p makes it canonical.
MCX_IFMA void ToPortable(const Fe8& a, const uint64_t r256[kLaneLimbs], Limbs256* out) {
  const Fe8 v = Mul(a, Broadcast(r256));
  const Fe8 c = SubtractIfNotNegative(v.l, kP52);
  alignas(64) uint64_t limbs[kLaneLimbs][kLanes];
  for (int j = 0; j < kLaneLimbs; ++j) _mm512_store_si512(limbs[j], c.l[j]);
  uint64_t lane[kLaneLimbs];
  for (int l = 0; l < kLanes; ++l) {
    for (int j = 0; j < kLaneLimbs; ++j) lane[j] = limbs[j][l];
    ifma52::Join<kLaneLimbs, 4>(lane, out[l].data());
  }
  SecureWipe(limbs, sizeof limbs);
  SecureWipe(lane, sizeof lane);
}

MCX_IFMA_INLINE void SelectPoint(Point8& r, __mmask8 take_b, const Point8& a, const Point8& b) {
  for (int j = 0; j < kLaneLimbs; ++j) {
    r.x.l[j] = SelectLanes(take_b, a.x.l[j], b.x.l[j]);
    r.y.l[j] = SelectLanes(take_b, a.y.l[j], b.y.l[j]);
    r.z.l[j] = SelectLanes(take_b, a.z.l[j], b.z.l[j]);
  }
}

// r = a + c for any two points, infinity included: the complete projective addition (algorithm 4,
// 12M + 2M(b)). P-256 has prime order, so it has no exceptional case; adding a point to itself
// doubles it. r may alias a or c.
[[gnu::noinline]] MCX_IFMA void AddFull(const Fe8& b, Point8& r, const Point8& a, const Point8& c) {
  const Fe8 t0 = Mul(a.x, c.x);
  const Fe8 t1 = Mul(a.y, c.y);
  const Fe8 zz = Mul(a.z, c.z);
  const Fe8 t3 = Sub(Mul(Add(a.x, a.y), Add(c.x, c.y)), Add(t0, t1));  // X1 Y2 + X2 Y1
  const Fe8 t4 = Sub(Mul(Add(a.y, a.z), Add(c.y, c.z)), Add(t1, zz));  // Y1 Z2 + Y2 Z1
  const Fe8 xz = Sub(Mul(Add(a.x, a.z), Add(c.x, c.z)), Add(t0, zz));  // X1 Z2 + X2 Z1
  FinishAddition(b, r, t0, t1, t3, t4, xz, zz);
}

// Lane l of the result = the sum over steps w of the entry |digit| of row w in lane l (negated when
// negative; nothing when the digit is 0), in the lanes' Montgomery form.
template <class Row>
MCX_IFMA_INLINE Point8 SumSteps(const Fe8& b, const Fe8& one, const uint64_t* entries, size_t row_words, int steps,
                                int count, const uint64_t* abs, const uint64_t* negative) {
  const __m512i zero = _mm512_setzero_si512();
  Fe8 qx, qy;
  SelectEntries(Row{entries}, count, abs, negative, qx, qy);
  Point8 acc{qx, qy, one};
  Point8 infinity{};
  for (int j = 0; j < kLaneLimbs; ++j) {
    infinity.x.l[j] = zero;
    infinity.y.l[j] = one.l[j];
    infinity.z.l[j] = zero;
  }
  SelectPoint(acc, ifma52::EqLanes(_mm512_loadu_si512(abs), zero), acc, infinity);
  Point8 sum;
  for (int w = 1; w < steps; ++w) {
    const uint64_t* digits = abs + static_cast<size_t>(w) * kLanes;
    SelectEntries(Row{entries + static_cast<size_t>(w) * row_words}, count, digits,
                  negative + static_cast<size_t>(w) * kLanes, qx, qy);
    AddMixed(b, sum, acc, qx, qy);
    // A zero digit selected (0, 0), which is not a point: keep acc instead of the sum.
    SelectPoint(acc, ifma52::EqLanes(_mm512_loadu_si512(digits), zero), sum, acc);
  }
  SecureWipe(&sum, sizeof sum);
  SecureWipe(&qx, sizeof qx);
  SecureWipe(&qy, sizeof qy);
  return acc;
}

MCX_IFMA void StorePortable(const LaneTable& t, Point8& acc, Limbs256* x, Limbs256* y, Limbs256* z) {
  ToPortable(acc.x, t.r256, x);
  ToPortable(acc.y, t.r256, y);
  ToPortable(acc.z, t.r256, z);
  SecureWipe(&acc, sizeof acc);
}

MCX_IFMA void MultiplyLanesIfma(const LaneTable& t, const uint64_t* abs, const uint64_t* negative, Limbs256* x,
                                Limbs256* y, Limbs256* z) {
  const size_t row_words = static_cast<size_t>(t.count) * kLaneEntryWords;
  Point8 acc = SumSteps<SharedRow>(Broadcast(t.b), Broadcast(t.one), t.entries, row_words, t.windows, t.count, abs,
                                   negative);
  StorePortable(t, acc, x, y, z);
}

MCX_IFMA void MultiplySplitIfma(const LaneTable& t, const uint64_t* abs, const uint64_t* negative, Limbs256& x,
                                Limbs256& y, Limbs256& z) {
  const Fe8 b = Broadcast(t.b);
  const size_t row_words = static_cast<size_t>(t.count) * kLaneEntryWords * kLanes;
  Point8 acc = SumSteps<SplitRow>(b, Broadcast(t.one), t.entries, row_words, t.windows, t.count, abs, negative);
  // Fold the lanes: lane l gains lane l + d for d = 4, 2, 1, so lane 0 ends with all eight.
  for (int d = kLanes / 2; d >= 1; d /= 2) {
    const __m512i from = _mm512_set_epi64((7 + d) & 7, (6 + d) & 7, (5 + d) & 7, (4 + d) & 7, (3 + d) & 7,
                                          (2 + d) & 7, (1 + d) & 7, d);
    Point8 other;
    for (int j = 0; j < kLaneLimbs; ++j) {
      other.x.l[j] = _mm512_maskz_permutexvar_epi64(0xff, from, acc.x.l[j]);
      other.y.l[j] = _mm512_maskz_permutexvar_epi64(0xff, from, acc.y.l[j]);
      other.z.l[j] = _mm512_maskz_permutexvar_epi64(0xff, from, acc.z.l[j]);
    }
    AddFull(b, acc, acc, other);
    SecureWipe(&other, sizeof other);
  }
  Limbs256 lx[kLanes], ly[kLanes], lz[kLanes];
  StorePortable(t, acc, lx, ly, lz);
  x = lx[0];
  y = ly[0];
  z = lz[0];
  SecureWipe(lx, sizeof lx);
  SecureWipe(ly, sizeof ly);
  SecureWipe(lz, sizeof lz);
}

}  // namespace

void MultiplyLanes(const LaneTable& t, const uint64_t* abs, const uint64_t* negative, Limbs256* x, Limbs256* y,
                   Limbs256* z) {
  MultiplyLanesIfma(t, abs, negative, x, y, z);
}

void MultiplySplit(const LaneTable& t, const uint64_t* abs, const uint64_t* negative, Limbs256& x, Limbs256& y,
                   Limbs256& z) {
  MultiplySplitIfma(t, abs, negative, x, y, z);
}

}  // namespace mcx::p256

#else  // not x86-64 with GCC or Clang

namespace mcx::p256 {
void MultiplyLanes(const LaneTable&, const uint64_t*, const uint64_t*, Limbs256*, Limbs256*, Limbs256*) {}
void MultiplySplit(const LaneTable&, const uint64_t*, const uint64_t*, Limbs256&, Limbs256&, Limbs256&) {}
}  // namespace mcx::p256

#endif
