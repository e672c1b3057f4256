// The AVX2 LaneField: 4 lanes of 37 x 28-bit limbs, Montgomery with R = 2^1036.
//
// A vector is 37 limb-vectors of 4 lanes (word [j * 4 + lane] is limb j of lane); each lane is a
// separate field element. AVX2 has no 64 x 64-bit multiplication; vpmuludq multiplies the low 32
// bits of each 64-bit lane into a 64-bit product. With 28-bit limbs a product is below 2^56 and a
// 64-bit column can collect all 2 x 37 products of a Montgomery multiplication (below 2^63), so
// the carries are propagated once per multiplication, not per step ("lazy").
//
// Bounds: every function returns limbs below 2^28 (the top limb below 2^18) and values below 2p;
// R = 2^1036 > 4p, so a Montgomery product of values below 2p is below p + 4p^2/R < 2p and needs
// no final subtraction. sub() adds 2p and subtracts 2p back under a lane mask. Subtractions are
// done as additions of complements (AVX2 has no 64-bit arithmetic shift), so limbs never go
// negative.
//
// Only this file's functions are compiled for AVX2 (target attribute); nothing here runs unless
// Avx2LaneField() found the instructions at run time.
#include "engine/math/lane_field.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include <cstring>

#include "base/secret.h"
#include "engine/math/avx2_table_scan.h"
#include "engine/math/inverse.h"
#include "engine/math/montgomery_adx.h"

#define MCX_AVX2 __attribute__((target("avx2")))
#define MCX_AVX2_INLINE __attribute__((target("avx2"), always_inline)) inline

namespace mcx {
namespace {

constexpr int kLanes = 4;
constexpr int kN = 37;  // limbs of 28 bits: 1036 bits
constexpr int kBits = 28;
constexpr uint64_t kMask = (uint64_t{1} << kBits) - 1;
// A table entry holds x then y, limbs 0-35 one per 32-bit word (72 words: 9 vectors, 36 uint64_t).
// The coordinates are canonical (below p < 2^1024), so each top limb has 16 bits; they ride in the
// spare top nibbles of the coordinate's first four words. The scan reads every entry of a window
// for every lane, so the entry's size is its cost: 9 vectors against 10 with a word for the top
// limbs too (64-bit words would be 19 vectors; the BMI2/ADX field's are 8).
constexpr int kEntryCoordWords = kN - 1;                // 36 32-bit words per coordinate
constexpr int kEntryVecs = 2 * kEntryCoordWords / 8;    // 9
constexpr int kEntryWords = kEntryVecs * 4;             // uint64_t
constexpr int kTopNibbles = 4;                          // 16 bits of top limb, 4 in each word
static_assert(2 * kEntryCoordWords == 8 * kEntryVecs, "whole vectors");
static_assert(1024 - (kN - 1) * kBits == 4 * kTopNibbles, "a canonical top limb fits the nibbles");

// Plain integers in radix 2^28 (one lane's worth).
using Limbs28 = uint64_t[kN];

// out = the 28-bit limbs of a (a < 2^1024).
void To28(const Limbs1024& a, uint64_t* out) {
  for (int j = 0; j < kN; ++j) {
    const int bit = kBits * j, limb = bit / 64, shift = bit % 64;
    uint64_t v = limb < 16 ? a[static_cast<size_t>(limb)] >> shift : 0;
    if (shift > 64 - kBits && limb + 1 < 16) v |= a[static_cast<size_t>(limb) + 1] << (64 - shift);
    out[j] = v & kMask;
  }
}

// out = the integer with normalised 28-bit limbs `in`, below 2^1024.
void From28(const uint64_t* in, Limbs1024& out) {
  out.fill(0);
  for (int j = 0; j < kN; ++j) {
    const int bit = kBits * j, limb = bit / 64, shift = bit % 64;
    if (limb < 16) out[static_cast<size_t>(limb)] |= in[j] << shift;
    if (shift > 64 - kBits && limb + 1 < 16) out[static_cast<size_t>(limb) + 1] |= in[j] >> (64 - shift);
  }
}

struct Constants {
  Limbs28 p;          // p
  Limbs28 p2;         // 2p
  Limbs28 not_p;      // 2^1036 - 1 - p, limb by limb 2^28 - 1 - p_j
  Limbs28 p2_lent;    // 2p with 2^28 lent to every limb but the top: limbs >= 2^28 (for a - b + 2p)
  Limbs28 top_lent;   // 2^1036 with 2^28 lent to every limb (for a - b + 2^1036)
  Limbs28 r2, r3;     // R^2, R^3 mod p (R = 2^1036)
  uint64_t k0;        // -p^-1 mod 2^28
  // The same p and k0 in all four lanes, and the limb mask: the reduction reads them as whole
  // vectors (a memory operand of vpmuludq) instead of broadcasting a limb per product.
  alignas(32) uint64_t p_lanes[kN * kLanes];
  alignas(32) uint64_t k0_lanes[kLanes];
  alignas(32) uint64_t mask_lanes[kLanes];
};

Constants MakeConstants() {
  const Modulus1024& mod = SakkeFieldModulus();
  Constants c{};
  To28(mod.m, c.p);
  uint64_t carry = 0;
  for (int j = 0; j < kN; ++j) {
    const uint64_t v = (c.p[j] << 1) + carry;
    c.p2[j] = v & kMask;
    carry = v >> kBits;
  }
  for (int j = 0; j < kN; ++j) {
    c.not_p[j] = kMask - c.p[j];
    c.p2_lent[j] = c.p2[j] + (j + 1 < kN ? (uint64_t{1} << kBits) : 0) - (j > 0 ? 1 : 0);
    c.top_lent[j] = (uint64_t{1} << kBits) - (j > 0 ? 1 : 0);  // the top limb's 2^28 is 2^1036
  }
  Limbs1024 x{};
  x[0] = 1;
  for (int i = 0; i < 2 * 1036; ++i) AddMod(mod, x, x, x);  // R^2 mod p
  To28(x, c.r2);
  for (int i = 0; i < 1036; ++i) AddMod(mod, x, x, x);  // R^3 mod p
  To28(x, c.r3);
  uint64_t inv = 1;
  for (int i = 0; i < 6; ++i) inv *= 2 - c.p[0] * inv;
  c.k0 = (0 - inv) & kMask;
  for (int l = 0; l < kLanes; ++l) {
    for (int j = 0; j < kN; ++j) c.p_lanes[j * kLanes + l] = c.p[j];
    c.k0_lanes[l] = c.k0;
    c.mask_lanes[l] = kMask;
  }
  return c;
}

const Constants& K() {
  static const Constants c = MakeConstants();
  return c;
}

MCX_AVX2_INLINE __m256i Load(const uint64_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
MCX_AVX2_INLINE void Store(uint64_t* p, __m256i v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
MCX_AVX2_INLINE __m256i Set1(uint64_t v) { return _mm256_set1_epi64x(static_cast<long long>(v)); }

// Carries limbs upward (logical shifts: every limb is nonnegative), leaving each below 2^28; the
// top limb keeps the rest.
MCX_AVX2_INLINE void Normalize(__m256i* t) {
  const __m256i mask = Set1(kMask);
#pragma GCC unroll 40
  for (int j = 0; j + 1 < kN; ++j) {
    t[j + 1] = _mm256_add_epi64(t[j + 1], _mm256_srli_epi64(t[j], kBits));
    t[j] = _mm256_and_si256(t[j], mask);
  }
}

// r = t - c in the lanes where t >= c, t elsewhere; t normalised, below 2^1036. Computed as
// u = t + (2^1036 - 1 - c) + 1: u carries out of bit 1036 exactly when t >= c, and then its low
// 1036 bits are t - c. Lane masks come from a comparison only. r may alias t.
MCX_AVX2_INLINE void SubtractIfNotBelow(__m256i* r, const __m256i* t, const uint64_t* not_c) {
  __m256i u[kN];
#pragma GCC unroll 40
  for (int j = 0; j < kN; ++j) u[j] = _mm256_add_epi64(t[j], Set1(not_c[j]));
  u[0] = _mm256_add_epi64(u[0], Set1(1));
  Normalize(u);
  const __m256i top = _mm256_srli_epi64(u[kN - 1], kBits);  // 1 where t >= c, else 0
  const __m256i take_u = _mm256_cmpeq_epi64(top, Set1(1));
  u[kN - 1] = _mm256_and_si256(u[kN - 1], Set1(kMask));
#pragma GCC unroll 40
  for (int j = 0; j < kN; ++j) r[j] = _mm256_blendv_epi8(t[j], u[j], take_u);
}

// The multiplication is a product T = a*b (or a^2) into 2N lazy columns, then a Montgomery
// reduction of T: 1,046 products by one level of Karatsuba (703 for a square) and N^2 + N = 1,406
// for the reduction. On Zen 3 `vpmuludq ymm` issues two a cycle, so the products alone would take
// about 600 cycles; what costs is moving columns through memory. Both halves are therefore built
// from one kernel, a pass of R rows (RowPass): R multipliers stay in registers, the other operand
// enters a window of R registers one limb per column, and each column of T is loaded and stored
// once per R products. A pass is a function of its own (noinline): compiled inside one large body,
// GCC 12 spilled the window and the rows and ran the multiplication 1.3x slower (session 14).
//
// Column bounds: limbs are below 2^28, so a product is below 2^56. Karatsuba's middle product
// multiplies sums of two limbs (below 2^29): at most 19 products below 2^58 per column. T's
// columns then hold at most 57 products' worth of 2^56 (the low and middle halves overlap) and the
// reduction adds at most N = 37 more plus a carry: below 2^63.

// t[k] (+)= sum_r a[k - r] b[r] over the rows r < R, for columns kFirst <= k < NA + R - 1 (terms
// with k - r outside [0, NA) are absent, and with kTriangle those with k - r < r too: a square's
// cross products). Columns k >= kNewFrom are written, not added to: no earlier pass reached them.
// after_column(k) runs once column k is final for this pass. a is read with unaligned loads:
// lane-field operands are uint64_t arrays with no alignment promise.
template <int R, int NA, int kFirst, int kNewFrom, bool kTriangle, class AfterColumn>
MCX_AVX2_INLINE void RowPass(__m256i* t, const __m256i* a, const __m256i* b, AfterColumn after_column) {
  __m256i rows[R], window[R];  // window[r] = a[k - r]
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    rows[r] = b[r];
    const int j = kFirst - 1 - r;
    window[r] = j >= 0 && j < NA ? _mm256_loadu_si256(a + j) : _mm256_setzero_si256();
  }
#pragma GCC unroll 48
  for (int k = kFirst; k < NA + R - 1; ++k) {
#pragma GCC unroll 8
    for (int r = R - 1; r > 0; --r) window[r] = window[r - 1];
    if (k < NA) window[0] = _mm256_loadu_si256(a + k);
    // two partial sums, so that the additions of a column are a tree, not a chain
    __m256i sum[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
    bool used[2] = {false, false};
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      if (k - r >= 0 && k - r < NA && (!kTriangle || k - r >= r)) {
        const __m256i m = _mm256_mul_epu32(window[r], rows[r]);
        sum[r & 1] = used[r & 1] ? _mm256_add_epi64(sum[r & 1], m) : m;
        used[r & 1] = true;
      }
    }
    const __m256i v = used[1] ? _mm256_add_epi64(sum[0], sum[1]) : sum[0];
    t[k] = k >= kNewFrom ? v : _mm256_add_epi64(t[k], v);
    after_column(k);
  }
}

struct NoHook {
  MCX_AVX2_INLINE void operator()(int) const {}
};

template <int R, int NA, int kNewFrom>
MCX_AVX2 __attribute__((noinline)) void ProductPass(__m256i* t, const __m256i* a, const __m256i* b) {
  RowPass<R, NA, 0, kNewFrom, false>(t, a, b, NoHook{});
}

// t[0, NA + NB - 1) = a * b, in passes of four rows of b (the last pass takes what is left).
template <int NA, int NB, int I = 0>
MCX_AVX2_INLINE void ProductRows(__m256i* t, const __m256i* a, const __m256i* b) {
  constexpr int R = NB - I >= 4 ? 4 : NB - I;
  constexpr int kNewFrom = I == 0 ? 0 : NA - 1;  // earlier passes reached column I + NA - 2
  ProductPass<R, NA, kNewFrom>(t + I, a, b + I);
  if constexpr (I + R < NB) ProductRows<NA, NB, I + R>(t, a, b);
}

constexpr int kLo = 19, kHi = kN - kLo;  // Karatsuba split: a = a_lo + 2^(28*19) a_hi

// t[0, 2N) = a * b as unnormalised columns: L = a_lo b_lo, H = a_hi b_hi, M = (a_lo + a_hi)(b_lo +
// b_hi); column by column M - L - H is exactly the cross term's column (all columns are exact
// sums of nonnegative products, never carried), so no borrow arises.
MCX_AVX2_INLINE void Product(__m256i* t, const uint64_t* a, const uint64_t* b) {
  const __m256i* va = reinterpret_cast<const __m256i*>(a);  // read by unaligned loads only
  // b is copied: a pass reads its rows with aligned loads.
  __m256i vb[kN], sa[kLo], sb[kLo], l[2 * kLo - 1], h[2 * kHi - 1], m[2 * kLo - 1];
#pragma GCC unroll 40
  for (int j = 0; j < kN; ++j) vb[j] = Load(b + j * kLanes);
#pragma GCC unroll 40
  for (int j = 0; j < kLo; ++j) {
    const __m256i a_lo = Load(a + j * kLanes);
    sa[j] = j < kHi ? _mm256_add_epi64(a_lo, Load(a + (kLo + j) * kLanes)) : a_lo;
    sb[j] = j < kHi ? _mm256_add_epi64(vb[j], vb[kLo + j]) : vb[j];
  }
  ProductRows<kLo, kLo>(l, va, vb);
  ProductRows<kHi, kHi>(h, va + kLo, vb + kLo);
  ProductRows<kLo, kLo>(m, sa, sb);
#pragma GCC unroll 80
  for (int k = 0; k < 2 * kN; ++k) {
    __m256i v = k < 2 * kLo - 1 ? l[k] : _mm256_setzero_si256();
    if (k >= 2 * kLo && k - 2 * kLo < 2 * kHi - 1) v = h[k - 2 * kLo];
    if (k >= kLo && k - kLo < 2 * kLo - 1) {
      __m256i lh = l[k - kLo];
      if (k - kLo < 2 * kHi - 1) lh = _mm256_add_epi64(lh, h[k - kLo]);
      v = _mm256_add_epi64(v, _mm256_sub_epi64(m[k - kLo], lh));
    }
    t[k] = v;
  }
}

// Rows I .. I + 3 of a square: column i + j gets d_i a_j for i < j, with d_i = 2 a_i (below 2^29).
template <int I>
MCX_AVX2 __attribute__((noinline)) void SquarePass(__m256i* t, const __m256i* a, const __m256i* d) {
  RowPass<4, kN - I - 1, 0, 2 * kN, true>(t + 2 * I + 1, a + I + 1, d + I, NoHook{});
}

template <int I = 0>
MCX_AVX2_INLINE void SquareRows(__m256i* t, const __m256i* a, const __m256i* d) {
  SquarePass<I>(t, a, d);
  if constexpr (I + 4 < kN - 1) SquareRows<I + 4>(t, a, d);
}

// t[0, 2N) = a^2: the squares a_i^2 on the diagonal, then each cross product a_i a_j (i < j) once,
// against the doubled limb, in passes of four rows (703 products against 1,046 for a * a).
MCX_AVX2_INLINE void SquareProduct(__m256i* t, const uint64_t* a) {
  static_assert((kN - 1) % 4 == 0);  // the passes cover rows 0 .. N - 2; row N - 1 has no a_j, j > i
  __m256i d[kN];
#pragma GCC unroll 40
  for (int j = 0; j < kN; ++j) {
    const __m256i v = Load(a + j * kLanes);
    d[j] = _mm256_add_epi64(v, v);
    t[2 * j] = _mm256_mul_epu32(v, v);
    t[2 * j + 1] = _mm256_setzero_si256();
  }
  SquareRows(t, reinterpret_cast<const __m256i*>(a), d);
}

// r = t / R mod p, below 2p, for the columns t of a product of two values below 2p: row i adds
// q_i p with q_i = t_i k0 mod 2^28, clearing column i, whose carry moves to column i + 1. Rows go
// in blocks of four: the block's digits are found from its four lowest columns (Digits), then one
// pass adds q_r p_j into column r + j for the rest. The digits are a chain of dependent
// multiplications; each pass finds the next block's digits as soon as that block's columns are
// final (four columns into the pass), so that the chain runs under the pass's independent products.
// Views of K()'s lane-broadcast constants (__m256i may alias the uint64_t arrays).
struct ReductionVectors {
  const __m256i* p;
  const __m256i* k0;
  const __m256i* mask;
};

const ReductionVectors& RV() {
  static const ReductionVectors v = {reinterpret_cast<const __m256i*>(K().p_lanes),
                                     reinterpret_cast<const __m256i*>(K().k0_lanes),
                                     reinterpret_cast<const __m256i*>(K().mask_lanes)};
  return v;
}

// The R digits q of the reduction rows at columns 0 .. R - 1 of t; column R takes the carry out of
// column R - 1 (columns 0 .. R - 1 are 0 mod 2^28 afterwards and are not read again).
template <int R>
MCX_AVX2_INLINE void Digits(__m256i* t, __m256i* q, const ReductionVectors& c) {
  __m256i carry = _mm256_setzero_si256();
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    __m256i u = t[r];
#pragma GCC unroll 8
    for (int s = 0; s + 1 < r; ++s) u = _mm256_add_epi64(u, _mm256_mul_epu32(q[s], c.p[r - s]));
    if (r > 0) u = _mm256_add_epi64(u, _mm256_add_epi64(carry, _mm256_mul_epu32(q[r - 1], c.p[1])));
    q[r] = _mm256_and_si256(_mm256_mul_epu32(u, *c.k0), *c.mask);
    carry = _mm256_srli_epi64(_mm256_add_epi64(u, _mm256_mul_epu32(q[r], c.p[0])), kBits);
  }
  t[R] = _mm256_add_epi64(t[R], carry);
}

// After column R + RNext - 1 of a reduction pass: the next block's columns are final.
template <int R, int RNext>
struct FindNextDigits {
  __m256i* t;
  __m256i* next;
  const ReductionVectors* c;
  MCX_AVX2_INLINE void operator()(int k) const {
    if constexpr (RNext > 0) {
      if (k == R + RNext - 1) Digits<RNext>(t + R, next, *c);
    }
  }
};

// The pass of the block whose R digits are q, from column R on (the block's own columns were
// settled by Digits); finds the next block's RNext digits on the way. The hook is built here
// rather than passed by value: a small struct copied through the stack costs a store-forwarding
// stall per pass.
template <int R, int RNext>
MCX_AVX2 __attribute__((noinline)) void ReducePass(__m256i* t, const __m256i* q, __m256i* next) {
  const ReductionVectors& c = RV();
  RowPass<R, kN, R, 2 * kN, false>(t, c.p, q, FindNextDigits<R, RNext>{t, next, &c});
}

MCX_AVX2_INLINE void Reduce(uint64_t* r, __m256i* acc) {
  static_assert(kN == 9 * 4 + 1);  // nine blocks of four rows, then one
  __m256i q[4], next[4];
  Digits<4>(acc, q, RV());
  for (int i = 0; i < 32; i += 4) {
    ReducePass<4, 4>(acc + i, q, next);
    for (int s = 0; s < 4; ++s) q[s] = next[s];
  }
  ReducePass<4, 1>(acc + 32, q, next);
  ReducePass<1, 0>(acc + 36, next, nullptr);
  Normalize(acc + kN);
#pragma GCC unroll 40
  for (int j = 0; j < kN; ++j) Store(r + j * kLanes, acc[kN + j]);
}

MCX_AVX2 void Mul(uint64_t* r, const uint64_t* a, const uint64_t* b) {
  __m256i acc[2 * kN];
  Product(acc, a, b);
  Reduce(r, acc);
}

MCX_AVX2 void Sqr(uint64_t* r, const uint64_t* a) {
  __m256i acc[2 * kN];
  SquareProduct(acc, a);
  Reduce(r, acc);
}

// r = a - b where a >= b, else a - b + 2p: below 2p for a and b below 2p. Both candidates come
// from the difference at once, t = a - b + 2p and u = a - b + 2^1036, whose carry out of bit 1036
// says a >= b; their two carry chains are independent and run side by side, where normalising
// a - b + 2p and then subtracting 2p (SubtractIfNotBelow) ran them one after the other. The
// constants have 2^28 lent to every limb (and borrowed back from the next), so that each limb sum
// is nonnegative before the carries.
MCX_AVX2 void Sub(uint64_t* r, const uint64_t* a, const uint64_t* b) {
  const Constants& c = K();
  __m256i t[kN], u[kN];
#pragma GCC unroll 40
  for (int j = 0; j < kN; ++j) {
    const __m256i d = _mm256_sub_epi64(Load(a + j * kLanes), Load(b + j * kLanes));
    t[j] = _mm256_add_epi64(d, Set1(c.p2_lent[j]));
    u[j] = _mm256_add_epi64(d, Set1(c.top_lent[j]));
  }
  // Normalize's carries for both, interleaved limb by limb: Normalize(t) then Normalize(u)
  // measured about 10 % slower (scratch benchmark, session 15).
  const __m256i mask = Set1(kMask);
#pragma GCC unroll 40
  for (int j = 0; j + 1 < kN; ++j) {
    t[j + 1] = _mm256_add_epi64(t[j + 1], _mm256_srli_epi64(t[j], kBits));
    u[j + 1] = _mm256_add_epi64(u[j + 1], _mm256_srli_epi64(u[j], kBits));
    t[j] = _mm256_and_si256(t[j], mask);
    u[j] = _mm256_and_si256(u[j], mask);
  }
  const __m256i take_u = _mm256_cmpeq_epi64(_mm256_srli_epi64(u[kN - 1], kBits), Set1(1));  // a >= b
  u[kN - 1] = _mm256_and_si256(u[kN - 1], mask);
#pragma GCC unroll 40
  for (int j = 0; j < kN; ++j) Store(r + j * kLanes, _mm256_blendv_epi8(t[j], u[j], take_u));
}

// out = lane `lane` of a, fully reduced (below p), as a plain integer of 16 limbs.
MCX_AVX2 void ExtractCanonical(Limbs1024& out, const uint64_t* a, int lane) {
  __m256i t[kN];
  for (int j = 0; j < kN; ++j) t[j] = Load(a + j * kLanes);
  SubtractIfNotBelow(t, t, K().not_p);
  alignas(32) uint64_t reduced[kN * kLanes];
  for (int j = 0; j < kN; ++j) Store(reduced + j * kLanes, t[j]);
  uint64_t limbs[kN];
  for (int j = 0; j < kN; ++j) limbs[j] = reduced[j * kLanes + lane];
  From28(limbs, out);
  SecureWipe(reduced, sizeof reduced);
  SecureWipe(limbs, sizeof limbs);
}

MCX_AVX2 void Broadcast(uint64_t* v, const uint64_t* limbs) {
  for (int j = 0; j < kN; ++j) Store(v + j * kLanes, Set1(limbs[j]));
}

// r = a with lanes exchanged: lane l takes lane l ^ distance (distance 1 or 2).
MCX_AVX2 void Permute(uint64_t* r, const uint64_t* a, int distance) {
  for (int j = 0; j < kN; ++j) {
    const __m256i v = Load(a + j * kLanes);
    Store(r + j * kLanes, distance == 1 ? _mm256_permute4x64_epi64(v, 0xb1) : _mm256_permute4x64_epi64(v, 0x4e));
  }
}

// Lane-wise inverses from one inversion (as the IFMA field): products over lane pairs and all
// four, one blinded inversion of the total, then 1/V_k = 1/V_{k+1} * (the partner group's
// product). Temporaries are secret and wiped on the way out.
MCX_AVX2 Status Invert(uint64_t* r, const uint64_t* a) {
  struct Wiped {
    alignas(32) uint64_t v[3][kN * kLanes];
    alignas(32) uint64_t perm[kN * kLanes];
    alignas(32) uint64_t acc[kN * kLanes];
    Limbs1024 total, inv;
    uint64_t limbs[kN];
    ~Wiped() { SecureWipe(this, sizeof *this); }
  } w;
  std::memcpy(w.v[0], a, sizeof w.v[0]);
  for (int k = 0; k < 2; ++k) {
    Permute(w.perm, w.v[k], 1 << k);
    Mul(w.v[k + 1], w.v[k], w.perm);
  }
  // v[2] holds xR for x the product of all lanes; its plain inverse 1/(xR) times R^3/R is (1/x)R.
  ExtractCanonical(w.total, w.v[2], 0);
  MCX_RETURN_IF_ERROR(BlindedInverse(SakkeFieldModulus(), w.total, w.inv));
  To28(w.inv, w.limbs);
  alignas(32) uint64_t r3[kN * kLanes];  // public: R^3 mod p
  Broadcast(w.acc, w.limbs);
  Broadcast(r3, K().r3);
  Mul(w.acc, w.acc, r3);
  for (int k = 1; k >= 0; --k) {
    Permute(w.perm, w.v[k], 1 << k);
    Mul(w.acc, w.acc, w.perm);
  }
  std::memcpy(r, w.acc, sizeof w.acc);
  return Status::Ok();
}

// Table entries: x then y, Montgomery form, fully reduced, limbs 0-35 in 32-bit words and the top
// limb's 16 bits in the top nibbles of the first four (kEntryVecs).
MCX_AVX2 void EncodeEntry(uint64_t* entry, const Limbs1024& x, const Limbs1024& y) {
  alignas(32) uint64_t v[kN * kLanes];
  alignas(32) uint64_t r2[kN * kLanes];
  Broadcast(r2, K().r2);
  const Limbs1024* coords[2] = {&x, &y};
  uint32_t words[kEntryWords * 2] = {};
  for (int k = 0; k < 2; ++k) {
    uint32_t* coord = words + k * kEntryCoordWords;
    uint64_t limbs[kN];
    To28(*coords[k], limbs);
    Broadcast(v, limbs);
    Mul(v, v, r2);
    Limbs1024 canonical;
    ExtractCanonical(canonical, v, 0);
    To28(canonical, limbs);
    for (int j = 0; j + 1 < kN; ++j) coord[j] = static_cast<uint32_t>(limbs[j]);
    for (int i = 0; i < kTopNibbles; ++i) {
      coord[i] |= static_cast<uint32_t>((limbs[kN - 1] >> (4 * i)) & 0xf) << kBits;
    }
  }
  std::memcpy(entry, words, sizeof words);
}

// Lane `lane` of (x, y) from a selected entry's 72 words (the layout of EncodeEntry).
MCX_AVX2 void UnpackEntry(uint64_t* x, uint64_t* y, int lane, const uint32_t* point) {
  uint64_t* coords[2] = {x, y};
  for (int k = 0; k < 2; ++k) {
    const uint32_t* coord = point + k * kEntryCoordWords;
    uint64_t top = 0;
    for (int i = 0; i < kTopNibbles; ++i) top |= static_cast<uint64_t>(coord[i] >> kBits) << (4 * i);
    for (int j = 0; j + 1 < kN; ++j) coords[k][j * kLanes + lane] = coord[j] & kMask;
    coords[k][(kN - 1) * kLanes + lane] = top;
  }
}

// Lane `lane` of (x, y) = entries[index]: every entry is read and kept under an equality mask.
// (MultiplyBaseSingle's lanes each read a different window, so they come one at a time.)
MCX_AVX2 void Select(uint64_t* x, uint64_t* y, int lane, const uint64_t* entries, size_t count, uint32_t index) {
  __m256i acc[kEntryVecs];
  for (int v = 0; v < kEntryVecs; ++v) acc[v] = _mm256_setzero_si256();
  const __m256i want = Set1(index);
  for (size_t e = 0; e < count; ++e) {
    const __m256i hit = _mm256_cmpeq_epi64(Set1(e), want);
    const uint64_t* entry = entries + e * kEntryWords;
#pragma GCC unroll 20
    for (int v = 0; v < kEntryVecs; ++v) acc[v] = _mm256_or_si256(acc[v], _mm256_and_si256(hit, Load(entry + v * kLanes)));
  }
  alignas(32) uint32_t point[kEntryWords * 2];
  for (int v = 0; v < kEntryVecs; ++v) _mm256_store_si256(reinterpret_cast<__m256i*>(point) + v, acc[v]);
  UnpackEntry(x, y, lane, point);
  SecureWipe(point, sizeof point);
}

// Every lane l of (x, y) = entries[index[l]] in one pass over the window (the batch's lookup, where
// the four lanes read the same window). A quarter of the loads of four one-lane scans: a window is
// 36 KiB, more than L1, so those streamed it from L2 four times. 7.4 -> 4.6 TSC cycles per lane
// and entry in a scratch benchmark (docs/arithmetic.md).
MCX_AVX2 void SelectLanes(uint64_t* x, uint64_t* y, const uint64_t* entries, size_t count, const uint32_t* index) {
  uint64_t want[kLanes] = {index[0], index[1], index[2], index[3]};
  alignas(32) uint32_t points[kLanes][kEntryWords * 2];
  __m256i* const out[kLanes] = {reinterpret_cast<__m256i*>(points[0]), reinterpret_cast<__m256i*>(points[1]),
                                reinterpret_cast<__m256i*>(points[2]), reinterpret_cast<__m256i*>(points[3])};
  static_assert(kEntryVecs % 2 == 1, "pairs of pieces, then one");
  for (int v = 0; v + 1 < kEntryVecs; v += 2) avx2_scan::SelectFourEntries<2>(out, entries, count, kEntryWords, want, v);
  avx2_scan::SelectFourEntries<1>(out, entries, count, kEntryWords, want, kEntryVecs - 1);
  for (int l = 0; l < kLanes; ++l) UnpackEntry(x, y, l, points[l]);
  SecureWipe(points, sizeof points);
  SecureWipe(want, sizeof want);
}

// y = p - y where negate is set; y is a table entry (below p). p - y = p + (2^1036 - 1 - y) + 1
// - 2^1036: the complement keeps every limb nonnegative, and the carry out of bit 1036 is dropped.
MCX_AVX2 void NegateLanes(uint64_t* y, const uint64_t* negate) {
  const Constants& c = K();
  const __m256i flip = Load(negate);  // all ones or zero per lane
  const __m256i mask = Set1(kMask);
  __m256i t[kN];
#pragma GCC unroll 40
  for (int j = 0; j < kN; ++j) {
    t[j] = _mm256_add_epi64(Set1(c.p[j]), _mm256_xor_si256(Load(y + j * kLanes), mask));
  }
  t[0] = _mm256_add_epi64(t[0], Set1(1));
  Normalize(t);
  t[kN - 1] = _mm256_and_si256(t[kN - 1], mask);
#pragma GCC unroll 40
  for (int j = 0; j < kN; ++j) Store(y + j * kLanes, _mm256_blendv_epi8(Load(y + j * kLanes), t[j], flip));
}

MCX_AVX2 void ToPlain(Limbs1024& out, const uint64_t* a, int lane);

// The scalar multiplication beside the lanes: mulx/adcx/adox where the CPU has them (AVX2 came a
// generation before ADX on Intel: Haswell has AVX2 and BMI2 but not ADX).
void ScalarMul(const Modulus1024& mod, Limbs1024& r, const Limbs1024& a, const Limbs1024& b) {
  static const bool adx = CpuHasAdx();
  if (adx) {
    MontMulAdx(mod, r, a, b);
  } else {
    MontMul(mod, r, a, b);
  }
}

void ToMontgomery16(Limbs1024& out, const uint64_t* a, int lane) {
  ToPlain(out, a, lane);
  ScalarMul(SakkeFieldModulus(), out, out, SakkeFieldModulus().r2);
}

void ScalarSqr(const Modulus1024& mod, Limbs1024& r, const Limbs1024& a) {
  static const bool adx = CpuHasAdx();
  if (adx) {
    MontSqrAdx(mod, r, a);
  } else {
    MontMul(mod, r, a, a);
  }
}

MCX_AVX2 void ToPlain(Limbs1024& out, const uint64_t* a, int lane) {
  alignas(32) uint64_t one[kN * kLanes] = {};
  for (int l = 0; l < kLanes; ++l) one[l] = 1;
  alignas(32) uint64_t v[kN * kLanes];
  Mul(v, a, one);
  ExtractCanonical(out, v, lane);
  SecureWipe(v, sizeof v);
}

}  // namespace

const LaneField& UncheckedAvx2LaneField() {
  static const LaneField field = {
      "AVX2 (4 lanes x 37 x 28-bit limbs)", kLanes, kN * kLanes, kEntryWords, 6, 16, 2, 64,
      Mul, Sqr, Sub, Invert, EncodeEntry, Select, SelectLanes, NegateLanes, ToPlain, ToMontgomery16, ScalarMul, ScalarSqr,
  };
  return field;
}

// The same arithmetic tuned for the avx2 path's batches (docs/arithmetic.md): window and batch size
// chosen by BM_Rsk/1/256 and BM_KeySet/1/256 with w = 6 to 9 and batches of 128 and 256 (session
// 11: w = 8 about 9 % faster than w = 7; its table is 4.7 MiB with 9-vector entries, 5.2 MiB
// before session 15). Batches of 256 since session 15:
// the faster multiplication left the window's inversion a larger share (GMP, 5 % of an RSK at 128).
const LaneField& UncheckedAvx2BatchLaneField() {
  static const LaneField field = {
      "AVX2 (4 lanes x 37 x 28-bit limbs; w = 8, batches of 256)", kLanes, kN * kLanes, kEntryWords, 8, 16, 5, 256,
      Mul, Sqr, Sub, Invert, EncodeEntry, Select, SelectLanes, NegateLanes, ToPlain, ToMontgomery16, ScalarMul, ScalarSqr,
  };
  return field;
}

const LaneField* Avx2BatchLaneField() { return Avx2LaneField() != nullptr ? &UncheckedAvx2BatchLaneField() : nullptr; }

const LaneField* Avx2LaneField() {
  static const bool available = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
  }();
  return available ? &UncheckedAvx2LaneField() : nullptr;
}

}  // namespace mcx

#else  // not x86-64 with GCC or Clang

namespace mcx {
const LaneField* Avx2LaneField() { return nullptr; }
const LaneField& UncheckedAvx2LaneField() { return PortableLaneField(); }
const LaneField& UncheckedAvx2BatchLaneField() { return PortableLaneField(); }
const LaneField* Avx2BatchLaneField() { return nullptr; }
}  // namespace mcx

#endif
