// Constant-time masks and selections on 64-bit words (after BoringSSL's constant_time_* family).
//
// Contract: a mask is all ones (true) or zero (false). Every function here is branch-free and
// reads memory at addresses that depend only on its public sizes, never on its values, so it may
// take secrets. Select and the table scans pass their mask through ValueBarrier, which hides its
// value from the optimiser so that it cannot turn mask arithmetic back into a branch.
//
// SIMD kernels keep their vector masks in their own toolkits but build them the same way, from
// comparisons, and apply them by blends.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mcx::ct {

// Returns a unchanged, but the compiler can no longer see where it came from.
inline uint64_t ValueBarrier(uint64_t a) {
#if defined(__GNUC__)
  __asm__("" : "+r"(a));
#endif
  return a;
}

// All ones when the top bit of a is set.
inline uint64_t Msb(uint64_t a) { return 0 - (a >> 63); }
// All ones when bit is 1; bit must be 0 or 1 (a carry, a borrow, a low bit).
inline uint64_t MaskFromBit(uint64_t bit) { return 0 - bit; }
// All ones when a == 0: ~a & (a - 1) has its top bit set exactly then.
inline uint64_t IsZero(uint64_t a) { return Msb(~a & (a - 1)); }
inline uint64_t Eq(uint64_t a, uint64_t b) { return IsZero(a ^ b); }
// All ones when a < b as unsigned integers, over the full 64-bit range: the borrow of a - b.
inline uint64_t Lt(uint64_t a, uint64_t b) { return Msb(a ^ ((a ^ b) | ((a - b) ^ a))); }

// mask ? a : b.
inline uint64_t Select(uint64_t mask, uint64_t a, uint64_t b) {
  const uint64_t m = ValueBarrier(mask);
  return (m & a) | (~m & b);
}

// r[i] = mask ? a[i] : b[i] for i < n. r may alias a or b.
inline void SelectWords(uint64_t* r, uint64_t mask, const uint64_t* a, const uint64_t* b, size_t n) {
  const uint64_t m = ValueBarrier(mask);
  for (size_t i = 0; i < n; ++i) r[i] = (m & a[i]) | (~m & b[i]);
}

// All ones when the n words of a are all zero.
inline uint64_t IsZeroWords(const uint64_t* a, size_t n) {
  uint64_t acc = 0;
  for (size_t i = 0; i < n; ++i) acc |= a[i];
  return IsZero(acc);
}

// out = entry `index` of a table of `count` entries of kWords words each (entry e at
// table + e * kWords), reading every entry; all zeros when index >= count. index may be secret.
// kWords is a template argument so that the accumulator stays in registers.
template <size_t kWords>
inline void Lookup(uint64_t (&out)[kWords], const uint64_t* table, size_t count, uint64_t index) {
  uint64_t acc[kWords] = {};
  for (size_t e = 0; e < count; ++e) {
    const uint64_t hit = ValueBarrier(Eq(e, index));
    const uint64_t* entry = table + e * kWords;
#pragma GCC unroll 32
    for (size_t i = 0; i < kWords; ++i) acc[i] |= entry[i] & hit;
  }
  for (size_t i = 0; i < kWords; ++i) out[i] = acc[i];
}

}  // namespace mcx::ct
