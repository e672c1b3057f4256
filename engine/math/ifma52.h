// The 52-bit AVX-512 IFMA toolkit shared by the IFMA kernels: lane_field_ifma.cc (SAKKE's p,
// 20 limbs) and p256_lanes_ifma.cc (P-256's p, 5 limbs).
//
// Contract: a vector (__m512i) holds one limb of 8 independent field elements ("lanes"); a number
// is an array of such vectors, least significant limb first, radix 2^52. vpmadd52luq/huq read
// only the low 52 bits of their inputs, so limbs are normalised (below 2^52, the top limb
// excepted) between multiplications. Lane masks (__mmask8) come from vector comparisons only and
// are applied by blends and masked moves, never by branches: like base/constant_time.h, every
// function here is constant time in the lanes' values.
//
// The vector functions carry the target attribute themselves (MCX_IFMA_INLINE) and may only be
// called from functions compiled for the same target (MCX_IFMA), and only when CpuHasIfma().
// Split and Join are plain C++.
#pragma once

#include <cstdint>

namespace mcx::ifma52 {

inline constexpr int kLanes = 8;
inline constexpr uint64_t kMask52 = (uint64_t{1} << 52) - 1;

// out[0 .. Out) = the 52-bit limbs of the integer a[0 .. In) (64-bit limbs), a < 2^(52 Out).
template <int In, int Out>
void Split(const uint64_t* a, uint64_t* out) {
  for (int j = 0; j < Out; ++j) {
    const int bit = 52 * j, limb = bit / 64, shift = bit % 64;
    uint64_t v = limb < In ? a[limb] >> shift : 0;
    if (shift > 12 && limb + 1 < In) v |= a[limb + 1] << (64 - shift);
    out[j] = v & kMask52;
  }
}

// out[0 .. Out) = the integer with normalised 52-bit limbs in[0 .. In), below 2^(64 Out).
template <int In, int Out>
void Join(const uint64_t* in, uint64_t* out) {
  for (int i = 0; i < Out; ++i) out[i] = 0;
  for (int j = 0; j < In; ++j) {
    const int bit = 52 * j, limb = bit / 64, shift = bit % 64;
    out[limb] |= in[j] << shift;
    if (shift > 12 && limb + 1 < Out) out[limb + 1] |= in[j] >> (64 - shift);
  }
}

// True when the CPU (and the compiler that built us) support AVX-512 F and IFMA; the probe also
// checks that the OS saves the AVX-512 state. Computed once.
bool CpuHasIfma();

}  // namespace mcx::ifma52

#if defined(__x86_64__) && defined(__GNUC__)
#define MCX_HAVE_IFMA52 1
#include <immintrin.h>

#define MCX_IFMA __attribute__((target("avx512f,avx512ifma")))
#define MCX_IFMA_INLINE __attribute__((target("avx512f,avx512ifma"), always_inline)) inline

namespace mcx::ifma52 {

MCX_IFMA_INLINE __m512i Set1(uint64_t v) { return _mm512_set1_epi64(static_cast<long long>(v)); }
// acc + the low / high 52 bits of the 104-bit products a*b, lane by lane.
MCX_IFMA_INLINE __m512i Lo(__m512i acc, __m512i a, __m512i b) { return _mm512_madd52lo_epu64(acc, a, b); }
MCX_IFMA_INLINE __m512i Hi(__m512i acc, __m512i a, __m512i b) { return _mm512_madd52hi_epu64(acc, a, b); }
// The zero-masking forms with a full mask: GCC 12's plain forms start from an "undefined" vector
// that trips -Wuninitialized.
MCX_IFMA_INLINE __m512i Shr52(__m512i v) { return _mm512_maskz_srli_epi64(0xff, v, 52); }
MCX_IFMA_INLINE __m512i Sar52(__m512i v) { return _mm512_maskz_srai_epi64(0xff, v, 52); }

// Lane masks, from comparisons: set where a == b, where v != 0, where v < 0 (as signed).
MCX_IFMA_INLINE __mmask8 EqLanes(__m512i a, __m512i b) { return _mm512_cmpeq_epi64_mask(a, b); }
MCX_IFMA_INLINE __mmask8 NonZeroLanes(__m512i v) { return _mm512_cmpneq_epi64_mask(v, _mm512_setzero_si512()); }
MCX_IFMA_INLINE __mmask8 NegativeLanes(__m512i v) { return _mm512_cmplt_epi64_mask(v, _mm512_setzero_si512()); }
// Lane by lane: mask ? b : a.
MCX_IFMA_INLINE __m512i SelectLanes(__mmask8 mask, __m512i a, __m512i b) { return _mm512_mask_blend_epi64(mask, a, b); }

// Carries limbs upward, leaving each below 2^52; the top limb takes the rest. With kSigned the
// limbs may be negative (arithmetic shifts) and the top limb keeps the sign; without, they are
// accumulators of products (logical shifts).
template <int N, bool kSigned = true>
MCX_IFMA_INLINE void Normalize(__m512i* t) {
  const __m512i mask = Set1(kMask52);
#pragma GCC unroll 20
  for (int j = 0; j + 1 < N; ++j) {
    t[j + 1] = _mm512_add_epi64(t[j + 1], kSigned ? Sar52(t[j]) : Shr52(t[j]));
    t[j] = _mm512_and_si512(t[j], mask);
  }
}

// r = t - c in the lanes where that is not negative, t elsewhere. t normalised and nonnegative,
// c a public constant in 52-bit limbs. r may alias t.
template <int N>
MCX_IFMA_INLINE void SubtractIfNotNegative(__m512i* r, const __m512i* t, const uint64_t* c) {
  __m512i u[N];
#pragma GCC unroll 20
  for (int j = 0; j < N; ++j) u[j] = _mm512_sub_epi64(t[j], Set1(c[j]));
  Normalize<N>(u);
  const __mmask8 negative = NegativeLanes(u[N - 1]);
#pragma GCC unroll 20
  for (int j = 0; j < N; ++j) r[j] = SelectLanes(negative, u[j], t[j]);
}

// r = a*b/2^(52N) mod p (Montgomery), by operand scanning: for each limb b_i, acc += a*b_i, then
// acc += q*p with the digit q that clears the lowest limb, then a shift down by one limb. Columns
// collect at most 4N terms below 2^52 in 64-bit accumulators, so carries wait until the end
// (N < 1024). a, b: normalised, a[j] and b[j] give limb j's vector. Modulus supplies
// Quotient(acc0), the digit (acc0 * -1/p mod 2^52), Limb(j), p's limb j as a vector, and
// HasLimb(j), false for a zero limb of p (its products are skipped). r is normalised; its bound is
// the caller's (below 2p for operands below 2p when 4p < 2^(52N)).
template <int N, class A, class B, class Modulus>
MCX_IFMA_INLINE void MontMul(__m512i* r, const A& a, const B& b, const Modulus& p) {
  const __m512i zero = _mm512_setzero_si512();
  __m512i acc[N + 1];
  for (int j = 0; j <= N; ++j) acc[j] = zero;
#pragma GCC unroll 20
  for (int i = 0; i < N; ++i) {
    const __m512i bi = b[i];
#pragma GCC unroll 20
    for (int j = 0; j < N; ++j) {
      const __m512i aj = a[j];
      acc[j] = Lo(acc[j], aj, bi);
      acc[j + 1] = Hi(acc[j + 1], aj, bi);
    }
    const __m512i q = p.Quotient(acc[0]);
#pragma GCC unroll 20
    for (int j = 0; j < N; ++j) {
      if (!p.HasLimb(j)) continue;  // a public constant
      const __m512i pj = p.Limb(j);
      acc[j] = Lo(acc[j], q, pj);
      acc[j + 1] = Hi(acc[j + 1], q, pj);
    }
    acc[1] = _mm512_add_epi64(acc[1], Shr52(acc[0]));  // acc[0] is now 0 mod 2^52
#pragma GCC unroll 20
    for (int j = 0; j < N; ++j) acc[j] = acc[j + 1];
    acc[N] = zero;
  }
  Normalize<N, false>(acc);
#pragma GCC unroll 20
  for (int j = 0; j < N; ++j) r[j] = acc[j];
}

}  // namespace mcx::ifma52

#endif  // x86-64 with GCC or Clang
