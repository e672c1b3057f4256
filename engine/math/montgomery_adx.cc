// CIOS Montgomery multiplication, 16 limbs, in two passes per limb b[i] of b over a 18-word
// accumulator t kept in memory (16 limbs of t do not fit in the 15 usable registers):
//   pass 1: t += a * b[i]                       (17 columns)
//   pass 2: t = (t + q m) / 2^64, q = t[0] (-1/m) mod 2^64
// Each pass is one carry-save row: mulx gives (hi, lo) of a[j] * d without touching the flags,
// adcx adds the low halves along the carry flag and adox the high halves of the previous column
// along the overflow flag, so the two carry chains run interleaved without saving a flag. t stays
// below 2m between rows; one masked subtraction at the end makes r canonical.
#include "engine/math/montgomery_adx.h"

#include "base/constant_time.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define MCX_HAVE_ADX 1
#endif

namespace mcx {

#if defined(MCX_HAVE_ADX)

bool CpuHasAdx() {
  // CPUID leaf 7 directly: clang (the fuzz build's compiler) has no "adx" feature string for
  // __builtin_cpu_supports. BMI2 and ADX work on general registers: no OS support to check.
  static const bool available = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d) == 0) return false;
    return (b & bit_BMI2) != 0 && (b & bit_ADX) != 0;
  }();
  return available;
}

namespace {

constexpr size_t kN = kLimbs1024;

// r = t - m if that does not borrow, else t (t has 17 limbs, t < 2m). Constant time.
void Finish(const Limbs1024& m, Limbs1024& r, const uint64_t* t) {
  uint64_t d[kN];
  unsigned char borrow = 0;
  for (size_t j = 0; j < kN; ++j) {
    unsigned long long x;
    borrow = _subborrow_u64(borrow, t[j], m[j], &x);
    d[j] = x;
  }
  const uint64_t keep_t = ct::Lt(t[kN], borrow);
  ct::SelectWords(r.data(), keep_t, t, d, kN);
}

// One column of pass 1: t[j] += lo(a[j] d) + hi(a[j-1] d) + carries; the high half goes to the
// register of the other parity (r9 for even j, r10 for odd j).
#define MCX_P1(j, hi, prev)                     \
  "mulx " #j "*8(%[a]), %%r8, " hi "\n\t"       \
  "adcx " #j "*8(%[t]), %%r8\n\t"               \
  "adox " prev ", %%r8\n\t"                     \
  "movq %%r8, " #j "*8(%[t])\n\t"
#define MCX_P1_PAIR(j, k) MCX_P1(j, "%%r9", "%%r10") MCX_P1(k, "%%r10", "%%r9")

// One column of pass 2: the same with m and q, written one word lower (the division by 2^64).
#define MCX_P2(j, i, hi, prev)                  \
  "mulx " #j "*8(%[m]), %%r8, " hi "\n\t"       \
  "adcx " #j "*8(%[t]), %%r8\n\t"               \
  "adox " prev ", %%r8\n\t"                     \
  "movq %%r8, " #i "*8(%[t])\n\t"
#define MCX_P2_PAIR(j, i, k) MCX_P2(j, i, "%%r9", "%%r10") MCX_P2(k, j, "%%r10", "%%r9")

__attribute__((target("bmi2,adx"))) void Row(uint64_t* t, const uint64_t* a, const uint64_t* m, uint64_t bi,
                                            uint64_t m_inv) {
  __asm__ volatile(
      // Pass 1. r10 = 0 is the "previous high half" of column 0; the xor clears CF and OF.
      "xorl %%r10d, %%r10d\n\t"
      "xorl %%r11d, %%r11d\n\t"
      "movq %[bi], %%rdx\n\t"
      MCX_P1_PAIR(0, 1) MCX_P1_PAIR(2, 3) MCX_P1_PAIR(4, 5) MCX_P1_PAIR(6, 7)
      MCX_P1_PAIR(8, 9) MCX_P1_PAIR(10, 11) MCX_P1_PAIR(12, 13) MCX_P1_PAIR(14, 15)
      // Column 16: t[16] + hi(a[15] d) + CF + OF; column 17 takes both carries.
      "movq 16*8(%[t]), %%r8\n\t"
      "adcx %%r10, %%r8\n\t"
      "adox %%r11, %%r8\n\t"
      "movq %%r8, 16*8(%[t])\n\t"
      "movq %%r11, %%r8\n\t"
      "adcx %%r11, %%r8\n\t"
      "adox %%r11, %%r8\n\t"
      "movq %%r8, 17*8(%[t])\n\t"
      // Pass 2. q = t[0] * m_inv; column 0 is zero by construction and only its carries count.
      "movq 0*8(%[t]), %%rdx\n\t"
      "imulq %[minv], %%rdx\n\t"
      "xorl %%r10d, %%r10d\n\t"
      "mulx 0*8(%[m]), %%r8, %%r9\n\t"
      "adcx 0*8(%[t]), %%r8\n\t"
      "mulx 1*8(%[m]), %%r8, %%r10\n\t"
      "adcx 1*8(%[t]), %%r8\n\t"
      "adox %%r9, %%r8\n\t"
      "movq %%r8, 0*8(%[t])\n\t"
      MCX_P2_PAIR(2, 1, 3) MCX_P2_PAIR(4, 3, 5) MCX_P2_PAIR(6, 5, 7) MCX_P2_PAIR(8, 7, 9)
      MCX_P2_PAIR(10, 9, 11) MCX_P2_PAIR(12, 11, 13) MCX_P2_PAIR(14, 13, 15)
      "movq 16*8(%[t]), %%r8\n\t"
      "adcx %%r10, %%r8\n\t"
      "adox %%r11, %%r8\n\t"
      "movq %%r8, 15*8(%[t])\n\t"
      "movq 17*8(%[t]), %%r8\n\t"
      "adcx %%r11, %%r8\n\t"
      "adox %%r11, %%r8\n\t"
      "movq %%r8, 16*8(%[t])\n\t"
      :
      : [t] "r"(t), [a] "r"(a), [m] "r"(m), [bi] "r"(bi), [minv] "r"(m_inv)
      : "rdx", "r8", "r9", "r10", "r11", "cc", "memory");
}

#undef MCX_P1
#undef MCX_P1_PAIR
#undef MCX_P2
#undef MCX_P2_PAIR

// The same two passes with intrinsics; GCC turns both chains into adc and keeps the second
// carry in a register, which is what the assembly avoids.
__attribute__((target("bmi2,adx"))) void RowIntrinsics(uint64_t* t, const uint64_t* a, const uint64_t* m,
                                                      uint64_t bi, uint64_t m_inv) {
  unsigned long long hi_prev = 0, lo, hi;
  unsigned char cf = 0, of = 0;
  for (size_t j = 0; j < kN; ++j) {
    lo = _mulx_u64(a[j], bi, &hi);
    unsigned long long x;
    cf = _addcarryx_u64(cf, lo, t[j], &x);
    of = _addcarryx_u64(of, x, hi_prev, &x);
    t[j] = x;
    hi_prev = hi;
  }
  unsigned long long x;
  cf = _addcarryx_u64(cf, t[kN], hi_prev, &x);
  of = _addcarryx_u64(of, x, 0, &x);
  t[kN] = x;
  t[kN + 1] = static_cast<uint64_t>(cf) + of;

  const uint64_t q = t[0] * m_inv;
  cf = of = 0;
  hi_prev = 0;
  for (size_t j = 0; j < kN; ++j) {
    lo = _mulx_u64(m[j], q, &hi);
    cf = _addcarryx_u64(cf, lo, t[j], &x);
    of = _addcarryx_u64(of, x, hi_prev, &x);
    if (j > 0) t[j - 1] = x;
    hi_prev = hi;
  }
  cf = _addcarryx_u64(cf, t[kN], hi_prev, &x);
  of = _addcarryx_u64(of, x, 0, &x);
  t[kN - 1] = x;
  t[kN] = t[kN + 1] + cf + of;
}

template <void (*RowFn)(uint64_t*, const uint64_t*, const uint64_t*, uint64_t, uint64_t)>
void Multiply(const Modulus1024& mod, Limbs1024& r, const Limbs1024& a, const Limbs1024& b) {
  alignas(64) uint64_t t[kN + 2] = {};
  for (size_t i = 0; i < kN; ++i) RowFn(t, a.data(), mod.m.data(), b[i], mod.m_inv);
  Finish(mod.m, r, t);
}

}  // namespace

void MontMulAdx(const Modulus1024& mod, Limbs1024& r, const Limbs1024& a, const Limbs1024& b) {
  Multiply<Row>(mod, r, a, b);
}

void MontMulAdxIntrinsics(const Modulus1024& mod, Limbs1024& r, const Limbs1024& a, const Limbs1024& b) {
  Multiply<RowIntrinsics>(mod, r, a, b);
}

void SubModAdx(const Modulus1024& mod, Limbs1024& r, const Limbs1024& a, const Limbs1024& b) {
  uint64_t d[kN];
  unsigned char borrow = 0;
#pragma GCC unroll 16
  for (size_t j = 0; j < kN; ++j) {
    unsigned long long x;
    borrow = _subborrow_u64(borrow, a[j], b[j], &x);
    d[j] = x;
  }
  const uint64_t add_back = ct::ValueBarrier(ct::MaskFromBit(borrow));  // a < b: add m once
  unsigned char carry = 0;
#pragma GCC unroll 16
  for (size_t j = 0; j < kN; ++j) {
    unsigned long long x;
    carry = __builtin_ia32_addcarryx_u64(carry, d[j], mod.m[j] & add_back, &x);
    r[j] = x;
  }
}

#else  // not x86-64 with GCC or Clang: never called (CpuHasAdx() is false)

void SubModAdx(const Modulus1024& mod, Limbs1024& r, const Limbs1024& a, const Limbs1024& b) { SubMod(mod, r, a, b); }

bool CpuHasAdx() { return false; }
void MontMulAdx(const Modulus1024& mod, Limbs1024& r, const Limbs1024& a, const Limbs1024& b) { MontMul(mod, r, a, b); }
void MontMulAdxIntrinsics(const Modulus1024& mod, Limbs1024& r, const Limbs1024& a, const Limbs1024& b) {
  MontMul(mod, r, a, b);
}

#endif

}  // namespace mcx
