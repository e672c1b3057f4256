// Constant-time table scans on AVX2 for four readers at once.
//
// SelectFourEntries<kPieces> copies vectors [first, first + kPieces) of entry index[l] of a table
// into out[l], for l = 0..3, reading every entry. Each piece of an entry is loaded once and kept
// for the four readers by their equality masks (vpcmpeqq against a running counter), so four
// lanes that read the same table (a batch's window) pay a quarter of the loads of four separate
// scans, and the scan is bound by the keeps rather than by the loads. Of each 8 keeps, 5 are
// vpblendvb (two of Zen 3's four vector pipes) and 3 and/or pairs (any pipe): the best of 2 to 6
// blends in a scratch benchmark (docs/arithmetic.md). Two pieces at a time fill the 16 registers:
// 8 accumulators, 2 pieces, 4 wanted indices, the counter and a mask.
//
// The indices are secret: no branch or address depends on them; vpblendvb's timing does not
// depend on its mask. Only for functions compiled with target("avx2"), and only on x86-64 with
// GCC or Clang (the includer's guard).
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

namespace mcx::avx2_scan {

// a where mask is zero, b where it is all ones: one vpblendvb. Written out because GCC turns the
// intrinsic into a sign test (vpcmpgtb) plus the blend when it cannot see the mask is a compare's.
__attribute__((target("avx2"), always_inline)) inline __m256i BlendByMask(__m256i a, __m256i b, __m256i mask) {
  __m256i r;
  asm("vpblendvb %3, %2, %1, %0" : "=x"(r) : "x"(a), "x"(b), "x"(mask));
  return r;
}

// entries: `count` entries of `stride` uint64_t (32-byte pieces, 4 uint64_t each); out[l] receives
// pieces first .. first + kPieces - 1 of entry index[l] at the same piece positions (all zero if
// index[l] >= count).
template <int kPieces>
__attribute__((target("avx2"), always_inline)) inline void SelectFourEntries(__m256i* const (&out)[4],
                                                                             const uint64_t* entries, size_t count,
                                                                             size_t stride, const uint64_t (&index)[4],
                                                                             int first) {
  static_assert(kPieces == 1 || kPieces == 2, "two pieces fill the registers");
  __m256i acc[4][kPieces];
#pragma GCC unroll 4
  for (int l = 0; l < 4; ++l) {
#pragma GCC unroll 2
    for (int c = 0; c < kPieces; ++c) acc[l][c] = _mm256_setzero_si256();
  }
  const __m256i w0 = _mm256_set1_epi64x(static_cast<long long>(index[0]));
  const __m256i w1 = _mm256_set1_epi64x(static_cast<long long>(index[1]));
  const __m256i w2 = _mm256_set1_epi64x(static_cast<long long>(index[2]));
  const __m256i w3 = _mm256_set1_epi64x(static_cast<long long>(index[3]));
  __m256i at = _mm256_setzero_si256();  // the entry's number in every word
  for (size_t e = 0; e < count; ++e) {
    const __m256i* entry = reinterpret_cast<const __m256i*>(entries + e * stride) + first;
    __m256i piece[kPieces];
#pragma GCC unroll 2
    for (int c = 0; c < kPieces; ++c) piece[c] = _mm256_loadu_si256(entry + c);
#pragma GCC unroll 4
    for (int l = 0; l < 4; ++l) {
      const __m256i hit = _mm256_cmpeq_epi64(at, l == 0 ? w0 : l == 1 ? w1 : l == 2 ? w2 : w3);
#pragma GCC unroll 2
      for (int c = 0; c < kPieces; ++c) {
        if ((l * kPieces + c) % 8 < 5) {
          acc[l][c] = BlendByMask(acc[l][c], piece[c], hit);
        } else {
          acc[l][c] = _mm256_or_si256(acc[l][c], _mm256_and_si256(hit, piece[c]));
        }
      }
    }
    at = _mm256_add_epi64(at, _mm256_set1_epi64x(1));
  }
#pragma GCC unroll 4
  for (int l = 0; l < 4; ++l) {
#pragma GCC unroll 2
    for (int c = 0; c < kPieces; ++c) _mm256_storeu_si256(out[l] + first + c, acc[l][c]);
  }
}

}  // namespace mcx::avx2_scan
