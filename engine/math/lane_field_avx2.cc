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
// A table entry holds x then y, one 28-bit limb per 32-bit word (74 words), padded to whole
// 256-bit vectors: 10 vectors, 40 uint64_t. The scan reads every entry of a window for every lane,
// so the entry's size is its cost (64-bit words would be 19 vectors; the BMI2/ADX field's are 8).
constexpr int kEntryVecs = (2 * kN * 4 + 31) / 32;  // 10
constexpr int kEntryWords = kEntryVecs * 4;

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
  Limbs28 not_p2;     // 2^1036 - 1 - 2p
  Limbs28 p2_lent;    // 2p with 2^28 lent to every limb but the top: limbs >= 2^28 (for a - b + 2p)
  Limbs28 r2, r3;     // R^2, R^3 mod p (R = 2^1036)
  uint64_t k0;        // -p^-1 mod 2^28
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
    c.not_p2[j] = kMask - c.p2[j];
    c.p2_lent[j] = c.p2[j] + (j + 1 < kN ? (uint64_t{1} << kBits) : 0) - (j > 0 ? 1 : 0);
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
// reduction of T. It is bound by vpmuludq throughput, not by loads, stores or additions (a loop
// of independent vpmuludq on this file's reference core runs no faster than the same loop with a
// vpaddq after each), so the work is counted in products: the old fused operand scanning made
// 2 N^2 = 2,738 per 4 lanes; the product now takes 1,046 by one level of Karatsuba (or 703 for a
// square) and the reduction N^2 + N = 1,406.
//
// Column bounds: limbs are below 2^28, so a product is below 2^56. Karatsuba's middle product
// multiplies sums of two limbs (below 2^29): at most 19 products below 2^58 per column. T's
// columns then hold at most 57 products' worth of 2^56 (the low and middle halves overlap) and the
// reduction adds at most N = 37 more plus a carry: below 2^63.

// t[0, NA + NB - 1) += a * b, schoolbook, four rows of b per pass so that each column of t is
// loaded and stored once per four products. a and b are NA and NB limb-vectors.
template <int NA, int NB>
MCX_AVX2_INLINE void AddProduct(__m256i* t, const __m256i* a, const __m256i* b) {
  int i = 0;
  for (; i + 4 <= NB; i += 4) {
    const __m256i b0 = b[i], b1 = b[i + 1], b2 = b[i + 2], b3 = b[i + 3];
    // column i + k gets a_k b0 + a_(k-1) b1 + a_(k-2) b2 + a_(k-3) b3 (terms outside a dropped)
#pragma GCC unroll 40
    for (int k = 0; k < NA + 3; ++k) {
      __m256i x = _mm256_setzero_si256(), y = _mm256_setzero_si256();
      if (k < NA) x = _mm256_mul_epu32(a[k], b0);
      if (k >= 1 && k - 1 < NA) y = _mm256_mul_epu32(a[k - 1], b1);
      if (k >= 2 && k - 2 < NA) x = _mm256_add_epi64(x, _mm256_mul_epu32(a[k - 2], b2));
      if (k >= 3 && k - 3 < NA) y = _mm256_add_epi64(y, _mm256_mul_epu32(a[k - 3], b3));
      t[i + k] = _mm256_add_epi64(t[i + k], _mm256_add_epi64(x, y));
    }
  }
  for (; i < NB; ++i) {
#pragma GCC unroll 40
    for (int k = 0; k < NA; ++k) t[i + k] = _mm256_add_epi64(t[i + k], _mm256_mul_epu32(a[k], b[i]));
  }
}

constexpr int kLo = 19, kHi = kN - kLo;  // Karatsuba split: a = a_lo + 2^(28*19) a_hi

// t[0, 2N) = a * b as unnormalised columns: L = a_lo b_lo, H = a_hi b_hi, M = (a_lo + a_hi)(b_lo +
// b_hi); column by column M - L - H is exactly the cross term's column (all columns are exact
// sums of nonnegative products, never carried), so no borrow arises.
MCX_AVX2_INLINE void Product(__m256i* t, const uint64_t* a, const uint64_t* b) {
  __m256i va[kN], vb[kN], sa[kLo], sb[kLo], l[2 * kLo], h[2 * kLo], m[2 * kLo];
#pragma GCC unroll 40
  for (int j = 0; j < kN; ++j) {
    va[j] = Load(a + j * kLanes);
    vb[j] = Load(b + j * kLanes);
  }
#pragma GCC unroll 40
  for (int j = 0; j < kLo; ++j) {
    sa[j] = j < kHi ? _mm256_add_epi64(va[j], va[kLo + j]) : va[j];
    sb[j] = j < kHi ? _mm256_add_epi64(vb[j], vb[kLo + j]) : vb[j];
  }
#pragma GCC unroll 40
  for (int j = 0; j < 2 * kLo; ++j) l[j] = h[j] = m[j] = _mm256_setzero_si256();
  AddProduct<kLo, kLo>(l, va, vb);
  AddProduct<kHi, kHi>(h, va + kLo, vb + kLo);
  AddProduct<kLo, kLo>(m, sa, sb);
#pragma GCC unroll 80
  for (int k = 0; k < 2 * kN; ++k) {
    __m256i v = k < 2 * kLo - 1 ? l[k] : _mm256_setzero_si256();
    if (k >= 2 * kLo) v = h[k - 2 * kLo];
    if (k >= kLo && k - kLo < 2 * kLo - 1) {
      v = _mm256_add_epi64(v, _mm256_sub_epi64(m[k - kLo], _mm256_add_epi64(l[k - kLo], h[k - kLo])));
    }
    t[k] = v;
  }
}

// t[0, 2N) = a^2: each product a_i a_j (i < j) once, against the doubled limb 2 a_i (below 2^29),
// and the squares a_i^2 on the diagonal. Rows go in pairs (i, i + 1).
MCX_AVX2_INLINE void SquareProduct(__m256i* t, const uint64_t* a) {
  __m256i va[kN], d[kN];
#pragma GCC unroll 40
  for (int j = 0; j < kN; ++j) {
    va[j] = Load(a + j * kLanes);
    d[j] = _mm256_add_epi64(va[j], va[j]);
    t[j] = t[kN + j] = _mm256_setzero_si256();
  }
  int i = 0;
  for (; i + 1 < kN; i += 2) {
    const __m256i d0 = d[i], d1 = d[i + 1];
    t[2 * i] = _mm256_add_epi64(t[2 * i], _mm256_mul_epu32(va[i], va[i]));
    t[2 * i + 1] = _mm256_add_epi64(t[2 * i + 1], _mm256_mul_epu32(d0, va[i + 1]));
    __m256i x = _mm256_mul_epu32(va[i + 1], va[i + 1]);
    if (i + 2 < kN) x = _mm256_add_epi64(x, _mm256_mul_epu32(d0, va[i + 2]));
    t[2 * i + 2] = _mm256_add_epi64(t[2 * i + 2], x);
    for (int j = i + 3; j < kN; ++j) {  // column i + j: d_i a_j + d_(i+1) a_(j-1)
      t[i + j] = _mm256_add_epi64(t[i + j], _mm256_add_epi64(_mm256_mul_epu32(d0, va[j]), _mm256_mul_epu32(d1, va[j - 1])));
    }
    if (i + 2 < kN) t[i + kN] = _mm256_add_epi64(t[i + kN], _mm256_mul_epu32(d1, va[kN - 1]));
  }
  for (; i < kN; ++i) t[2 * i] = _mm256_add_epi64(t[2 * i], _mm256_mul_epu32(va[i], va[i]));
}

// r = t / R mod p, below 2p, for the columns t of a product of two values below 2p: row i adds
// q_i p with q_i = t_i k0 mod 2^28, clearing column i, whose carry moves to column i + 1. Rows go
// in pairs: a pair's two digits are found from its two lowest columns (two extra products), then
// one pass adds p_j q_i + p_(j-1) q_(i+1) into column i + j. The digits are a chain of four
// dependent multiplications; they are found for the next pair in the middle of the current pass,
// as soon as its two lowest columns are final, so that the chain runs under the pass's
// independent products instead of between passes.
// The digits q0, q1 of the reduction rows at columns i, i + 1 (Reduce): column i is then 0 mod 2^28
// and only its carry matters; column i + 1 takes that carry and p_1 q0 + p_0 q1 (the rest of the
// pass skips both).
MCX_AVX2_INLINE void PairDigits(__m256i* acc, int i, __m256i k0, __m256i mask, __m256i p0, __m256i p1, __m256i& q0,
                                __m256i& q1) {
  const __m256i t = acc[i];
  q0 = _mm256_and_si256(_mm256_mul_epu32(t, k0), mask);
  const __m256i c0 = _mm256_srli_epi64(_mm256_add_epi64(t, _mm256_mul_epu32(p0, q0)), kBits);
  const __m256i u = _mm256_add_epi64(_mm256_add_epi64(acc[i + 1], c0), _mm256_mul_epu32(p1, q0));
  q1 = _mm256_and_si256(_mm256_mul_epu32(u, k0), mask);
  acc[i + 1] = _mm256_add_epi64(u, _mm256_mul_epu32(p0, q1));
}

MCX_AVX2_INLINE void Reduce(uint64_t* r, __m256i* acc) {
  const Constants& c = K();
  const __m256i k0 = Set1(c.k0);
  const __m256i mask = Set1(kMask);
  const __m256i p0 = Set1(c.p[0]), p1 = Set1(c.p[1]);
  __m256i q0, q1, n0 = _mm256_setzero_si256(), n1 = _mm256_setzero_si256();
  PairDigits(acc, 0, k0, mask, p0, p1, q0, q1);
  int i = 0;
  for (; i + 1 < kN; i += 2) {
    const __m256i p2 = Set1(c.p[2]), p3 = Set1(c.p[3]);
    acc[i + 2] = _mm256_add_epi64(acc[i + 2], _mm256_add_epi64(_mm256_mul_epu32(p2, q0), _mm256_mul_epu32(p1, q1)));
    acc[i + 3] = _mm256_add_epi64(acc[i + 3], _mm256_add_epi64(_mm256_mul_epu32(p3, q0), _mm256_mul_epu32(p2, q1)));
    acc[i + 2] = _mm256_add_epi64(acc[i + 2], _mm256_srli_epi64(acc[i + 1], kBits));  // acc[i + 1] = 0 mod 2^28
    if (i + 3 < kN) PairDigits(acc, i + 2, k0, mask, p0, p1, n0, n1);  // the next pair's columns are final now
    __m256i prev_p = p3;
#pragma GCC unroll 40
    for (int j = 4; j < kN; ++j) {
      const __m256i pj = Set1(c.p[j]);
      acc[i + j] = _mm256_add_epi64(acc[i + j], _mm256_add_epi64(_mm256_mul_epu32(pj, q0), _mm256_mul_epu32(prev_p, q1)));
      prev_p = pj;
    }
    acc[i + kN] = _mm256_add_epi64(acc[i + kN], _mm256_mul_epu32(prev_p, q1));
    q0 = n0;
    q1 = n1;
  }
  for (; i < kN; ++i) {  // the last row when N is odd
    const __m256i q = _mm256_and_si256(_mm256_mul_epu32(acc[i], k0), mask);
#pragma GCC unroll 40
    for (int j = 0; j < kN; ++j) acc[i + j] = _mm256_add_epi64(acc[i + j], _mm256_mul_epu32(Set1(c.p[j]), q));
    acc[i + 1] = _mm256_add_epi64(acc[i + 1], _mm256_srli_epi64(acc[i], kBits));
  }
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

// r = a - b + 2p, then minus 2p where that stays nonnegative. The 2p added has 2^28 lent to every
// limb below the top, so each limb sum is nonnegative before the carries.
MCX_AVX2 void Sub(uint64_t* r, const uint64_t* a, const uint64_t* b) {
  const Constants& c = K();
  __m256i t[kN];
#pragma GCC unroll 40
  for (int j = 0; j < kN; ++j) {
    t[j] = _mm256_add_epi64(_mm256_sub_epi64(Load(a + j * kLanes), Load(b + j * kLanes)), Set1(c.p2_lent[j]));
  }
  Normalize(t);  // a - b + 2p, in [0, 4p)
  SubtractIfNotBelow(t, t, c.not_p2);
#pragma GCC unroll 40
  for (int j = 0; j < kN; ++j) Store(r + j * kLanes, t[j]);
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

// Table entries: x then y, one lane's 37 limbs each (32-bit words), Montgomery form, fully
// reduced, zero padding.
MCX_AVX2 void EncodeEntry(uint64_t* entry, const Limbs1024& x, const Limbs1024& y) {
  alignas(32) uint64_t v[kN * kLanes];
  alignas(32) uint64_t r2[kN * kLanes];
  Broadcast(r2, K().r2);
  const Limbs1024* coords[2] = {&x, &y};
  uint32_t words[kEntryWords * 2] = {};
  for (int k = 0; k < 2; ++k) {
    uint64_t limbs[kN];
    To28(*coords[k], limbs);
    Broadcast(v, limbs);
    Mul(v, v, r2);
    Limbs1024 canonical;
    ExtractCanonical(canonical, v, 0);
    To28(canonical, limbs);
    for (int j = 0; j < kN; ++j) words[k * kN + j] = static_cast<uint32_t>(limbs[j]);
  }
  std::memcpy(entry, words, sizeof words);
}

// Lane `lane` of (x, y) = entries[index]: every entry is read and kept under an equality mask.
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
  for (int j = 0; j < kN; ++j) {
    x[j * kLanes + lane] = point[j];
    y[j * kLanes + lane] = point[kN + j];
  }
  SecureWipe(point, sizeof point);
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
      Mul, Sqr, Sub, Invert, EncodeEntry, Select, NegateLanes, ToPlain, ToMontgomery16, ScalarMul, ScalarSqr,
  };
  return field;
}

// The same arithmetic tuned for the avx2 path's batches (docs/arithmetic.md): window and batch size
// chosen by BM_Rsk/1/256 and BM_KeySet/1/256 with w = 6 to 9 and batches of 128 and 256 (session
// 11: w = 8 about 9 % faster than w = 7; its table is 5.2 MiB).
const LaneField& UncheckedAvx2BatchLaneField() {
  static const LaneField field = {
      "AVX2 (4 lanes x 37 x 28-bit limbs; w = 8, batches of 128)", kLanes, kN * kLanes, kEntryWords, 8, 16, 5, 128,
      Mul, Sqr, Sub, Invert, EncodeEntry, Select, NegateLanes, ToPlain, ToMontgomery16, ScalarMul, ScalarSqr,
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
