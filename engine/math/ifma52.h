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

// Carries nonnegative limbs upward (after a multiplication); the top limb takes the rest.
template <int N>
MCX_IFMA_INLINE void Carry(__m512i* t) {
  const __m512i mask = Set1(kMask52);
#pragma GCC unroll 20
  for (int j = 0; j + 1 < N; ++j) {
    t[j + 1] = _mm512_add_epi64(t[j + 1], Shr52(t[j]));
    t[j] = _mm512_and_si512(t[j], mask);
  }
}

// Carries signed limbs upward by arithmetic shifts; the top limb keeps the sign.
template <int N>
MCX_IFMA_INLINE void NormalizeSigned(__m512i* t) {
  const __m512i mask = Set1(kMask52);
#pragma GCC unroll 20
  for (int j = 0; j + 1 < N; ++j) {
    t[j + 1] = _mm512_add_epi64(t[j + 1], Sar52(t[j]));
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
  NormalizeSigned<N>(u);
  const __mmask8 negative = NegativeLanes(u[N - 1]);
#pragma GCC unroll 20
  for (int j = 0; j < N; ++j) r[j] = SelectLanes(negative, u[j], t[j]);
}

}  // namespace mcx::ifma52

#endif  // x86-64 with GCC or Clang
