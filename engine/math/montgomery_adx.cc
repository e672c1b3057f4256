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
  // CPUID leaf 7 directly: clang (the ASan build's compiler) has no "adx" feature string for
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

// Squaring: the product a*a computed whole (32 words in memory), then reduced. The cross products
// a[i]*a[j] (i < j) are summed once, row i = a[i] * a[i+1..15] added into t[2i+1..i+16] with the
// same two interleaved carry chains as Row; the sum is doubled and the diagonal a[i]^2 added in one
// pass (adcx doubles t along CF, adox adds the diagonal along OF). 136 mulx instead of 256.
//
// One column of a cross row: t[k] += lo(a[j] d) + hi of the previous column. A: high half to r9,
// previous in r10; B the other way round. Every row starts with A, r10 = 0 and both flags clear.
#define MCX_SQ_COL(j, k, hi, prev)              \
  "mulx " #j "*8(%[a]), %%r8, " hi "\n\t"       \
  "adcx " #k "*8(%[t]), %%r8\n\t"               \
  "adox " prev ", %%r8\n\t"                     \
  "movq %%r8, " #k "*8(%[t])\n\t"
#define MCX_SQ_X_A(j, k) MCX_SQ_COL(j, k, "%%r9", "%%r10")
#define MCX_SQ_X_B(j, k) MCX_SQ_COL(j, k, "%%r10", "%%r9")
#define MCX_SQ_X(j, k, parity) MCX_SQ_X_##parity(j, k)
#define MCX_SQ_ROW(i)                           \
  "movq " #i "*8(%[a]), %%rdx\n\t"              \
  "xorl %%r10d, %%r10d\n\t"
// Top column of row i, t[i+16], untouched so far: the last high half and both carries (r11 = 0).
// It cannot overflow: the partial sum fits in i+17 words.
#define MCX_SQ_TOP(k, hi)                       \
  "adcx %%r11, " hi "\n\t"                      \
  "adox %%r11, " hi "\n\t"                      \
  "movq " hi ", " #k "*8(%[t])\n\t"
// t[2i..2i+1] = 2 t[2i..2i+1] + a[i]^2 + carries. The doubling's carry rides CF, the addition's OF.
#define MCX_SQ_DIAG(i, lo, hi)                  \
  "movq " #i "*8(%[a]), %%rdx\n\t"              \
  "mulx %%rdx, %%r9, %%r10\n\t"                 \
  "movq " #lo "*8(%[t]), %%r8\n\t"              \
  "adcx %%r8, %%r8\n\t"                         \
  "adox %%r9, %%r8\n\t"                         \
  "movq %%r8, " #lo "*8(%[t])\n\t"              \
  "movq " #hi "*8(%[t]), %%r8\n\t"              \
  "adcx %%r8, %%r8\n\t"                         \
  "adox %%r10, %%r8\n\t"                        \
  "movq %%r8, " #hi "*8(%[t])\n\t"

// t[0..31] = a^2; t must be zero on entry.
__attribute__((target("bmi2,adx"))) void Square(uint64_t* t, const uint64_t* a) {
  __asm__ volatile(
      "xorl %%r11d, %%r11d\n\t"
      MCX_SQ_ROW(0) MCX_SQ_X(1, 1, A) MCX_SQ_X(2, 2, B) MCX_SQ_X(3, 3, A) MCX_SQ_X(4, 4, B) MCX_SQ_X(5, 5, A)
          MCX_SQ_X(6, 6, B) MCX_SQ_X(7, 7, A) MCX_SQ_X(8, 8, B) MCX_SQ_X(9, 9, A) MCX_SQ_X(10, 10, B)
          MCX_SQ_X(11, 11, A) MCX_SQ_X(12, 12, B) MCX_SQ_X(13, 13, A) MCX_SQ_X(14, 14, B) MCX_SQ_X(15, 15, A)
          MCX_SQ_TOP(16, "%%r9")
      MCX_SQ_ROW(1) MCX_SQ_X(2, 3, A) MCX_SQ_X(3, 4, B) MCX_SQ_X(4, 5, A) MCX_SQ_X(5, 6, B) MCX_SQ_X(6, 7, A)
          MCX_SQ_X(7, 8, B) MCX_SQ_X(8, 9, A) MCX_SQ_X(9, 10, B) MCX_SQ_X(10, 11, A) MCX_SQ_X(11, 12, B)
          MCX_SQ_X(12, 13, A) MCX_SQ_X(13, 14, B) MCX_SQ_X(14, 15, A) MCX_SQ_X(15, 16, B)
          MCX_SQ_TOP(17, "%%r10")
      MCX_SQ_ROW(2) MCX_SQ_X(3, 5, A) MCX_SQ_X(4, 6, B) MCX_SQ_X(5, 7, A) MCX_SQ_X(6, 8, B) MCX_SQ_X(7, 9, A)
          MCX_SQ_X(8, 10, B) MCX_SQ_X(9, 11, A) MCX_SQ_X(10, 12, B) MCX_SQ_X(11, 13, A) MCX_SQ_X(12, 14, B)
          MCX_SQ_X(13, 15, A) MCX_SQ_X(14, 16, B) MCX_SQ_X(15, 17, A) MCX_SQ_TOP(18, "%%r9")
      MCX_SQ_ROW(3) MCX_SQ_X(4, 7, A) MCX_SQ_X(5, 8, B) MCX_SQ_X(6, 9, A) MCX_SQ_X(7, 10, B) MCX_SQ_X(8, 11, A)
          MCX_SQ_X(9, 12, B) MCX_SQ_X(10, 13, A) MCX_SQ_X(11, 14, B) MCX_SQ_X(12, 15, A) MCX_SQ_X(13, 16, B)
          MCX_SQ_X(14, 17, A) MCX_SQ_X(15, 18, B) MCX_SQ_TOP(19, "%%r10")
      MCX_SQ_ROW(4) MCX_SQ_X(5, 9, A) MCX_SQ_X(6, 10, B) MCX_SQ_X(7, 11, A) MCX_SQ_X(8, 12, B)
          MCX_SQ_X(9, 13, A) MCX_SQ_X(10, 14, B) MCX_SQ_X(11, 15, A) MCX_SQ_X(12, 16, B) MCX_SQ_X(13, 17, A)
          MCX_SQ_X(14, 18, B) MCX_SQ_X(15, 19, A) MCX_SQ_TOP(20, "%%r9")
      MCX_SQ_ROW(5) MCX_SQ_X(6, 11, A) MCX_SQ_X(7, 12, B) MCX_SQ_X(8, 13, A) MCX_SQ_X(9, 14, B)
          MCX_SQ_X(10, 15, A) MCX_SQ_X(11, 16, B) MCX_SQ_X(12, 17, A) MCX_SQ_X(13, 18, B) MCX_SQ_X(14, 19, A)
          MCX_SQ_X(15, 20, B) MCX_SQ_TOP(21, "%%r10")
      MCX_SQ_ROW(6) MCX_SQ_X(7, 13, A) MCX_SQ_X(8, 14, B) MCX_SQ_X(9, 15, A) MCX_SQ_X(10, 16, B)
          MCX_SQ_X(11, 17, A) MCX_SQ_X(12, 18, B) MCX_SQ_X(13, 19, A) MCX_SQ_X(14, 20, B) MCX_SQ_X(15, 21, A)
          MCX_SQ_TOP(22, "%%r9")
      MCX_SQ_ROW(7) MCX_SQ_X(8, 15, A) MCX_SQ_X(9, 16, B) MCX_SQ_X(10, 17, A) MCX_SQ_X(11, 18, B)
          MCX_SQ_X(12, 19, A) MCX_SQ_X(13, 20, B) MCX_SQ_X(14, 21, A) MCX_SQ_X(15, 22, B)
          MCX_SQ_TOP(23, "%%r10")
      MCX_SQ_ROW(8) MCX_SQ_X(9, 17, A) MCX_SQ_X(10, 18, B) MCX_SQ_X(11, 19, A) MCX_SQ_X(12, 20, B)
          MCX_SQ_X(13, 21, A) MCX_SQ_X(14, 22, B) MCX_SQ_X(15, 23, A) MCX_SQ_TOP(24, "%%r9")
      MCX_SQ_ROW(9) MCX_SQ_X(10, 19, A) MCX_SQ_X(11, 20, B) MCX_SQ_X(12, 21, A) MCX_SQ_X(13, 22, B)
          MCX_SQ_X(14, 23, A) MCX_SQ_X(15, 24, B) MCX_SQ_TOP(25, "%%r10")
      MCX_SQ_ROW(10) MCX_SQ_X(11, 21, A) MCX_SQ_X(12, 22, B) MCX_SQ_X(13, 23, A) MCX_SQ_X(14, 24, B)
          MCX_SQ_X(15, 25, A) MCX_SQ_TOP(26, "%%r9")
      MCX_SQ_ROW(11) MCX_SQ_X(12, 23, A) MCX_SQ_X(13, 24, B) MCX_SQ_X(14, 25, A) MCX_SQ_X(15, 26, B)
          MCX_SQ_TOP(27, "%%r10")
      MCX_SQ_ROW(12) MCX_SQ_X(13, 25, A) MCX_SQ_X(14, 26, B) MCX_SQ_X(15, 27, A) MCX_SQ_TOP(28, "%%r9")
      MCX_SQ_ROW(13) MCX_SQ_X(14, 27, A) MCX_SQ_X(15, 28, B) MCX_SQ_TOP(29, "%%r10")
      MCX_SQ_ROW(14) MCX_SQ_X(15, 29, A) MCX_SQ_TOP(30, "%%r9")
      // 2 (cross products) + diagonal; the result fits in 32 words, so no carry leaves t[31].
      "xorl %%r11d, %%r11d\n\t"
      MCX_SQ_DIAG(0, 0, 1) MCX_SQ_DIAG(1, 2, 3) MCX_SQ_DIAG(2, 4, 5) MCX_SQ_DIAG(3, 6, 7)
      MCX_SQ_DIAG(4, 8, 9) MCX_SQ_DIAG(5, 10, 11) MCX_SQ_DIAG(6, 12, 13) MCX_SQ_DIAG(7, 14, 15)
      MCX_SQ_DIAG(8, 16, 17) MCX_SQ_DIAG(9, 18, 19) MCX_SQ_DIAG(10, 20, 21) MCX_SQ_DIAG(11, 22, 23)
      MCX_SQ_DIAG(12, 24, 25) MCX_SQ_DIAG(13, 26, 27) MCX_SQ_DIAG(14, 28, 29) MCX_SQ_DIAG(15, 30, 31)
      :
      : [t] "r"(t), [a] "r"(a)
      : "rdx", "r8", "r9", "r10", "r11", "cc", "memory");
}

#undef MCX_SQ_COL
#undef MCX_SQ_X_A
#undef MCX_SQ_X_B
#undef MCX_SQ_X
#undef MCX_SQ_ROW
#undef MCX_SQ_TOP
#undef MCX_SQ_DIAG

// One Montgomery reduction step on the 32-word square, t pointing at its word i:
// t[0..16] += q m with q = t[0] (-1/m) mod 2^64 (t[0] becomes zero and is not stored), and the
// carry out of t[16] returned in c; the c that comes in is the previous step's carry, which
// belongs at this step's t[16].
#define MCX_RD(j, hi, prev)                     \
  "mulx " #j "*8(%[m]), %%r8, " hi "\n\t"       \
  "adcx " #j "*8(%[t]), %%r8\n\t"               \
  "adox " prev ", %%r8\n\t"                     \
  "movq %%r8, " #j "*8(%[t])\n\t"
#define MCX_RD_A(j) MCX_RD(j, "%%r9", "%%r10")
#define MCX_RD_B(j) MCX_RD(j, "%%r10", "%%r9")

__attribute__((target("bmi2,adx"))) void ReduceStep(uint64_t* t, const uint64_t* m, uint64_t m_inv, uint64_t& c) {
  __asm__ volatile(
      "movq 0*8(%[t]), %%rdx\n\t"
      "imulq %[minv], %%rdx\n\t"
      "xorl %%r10d, %%r10d\n\t"
      "xorl %%r11d, %%r11d\n\t"
      "mulx 0*8(%[m]), %%r8, %%r9\n\t"
      "adcx 0*8(%[t]), %%r8\n\t"
      "adox %%r10, %%r8\n\t"
      MCX_RD_B(1) MCX_RD_A(2) MCX_RD_B(3) MCX_RD_A(4) MCX_RD_B(5) MCX_RD_A(6) MCX_RD_B(7)
      MCX_RD_A(8) MCX_RD_B(9) MCX_RD_A(10) MCX_RD_B(11) MCX_RD_A(12) MCX_RD_B(13) MCX_RD_A(14) MCX_RD_B(15)
      "movq 16*8(%[t]), %%r8\n\t"
      "adcx %%r10, %%r8\n\t"
      "adox %[c], %%r8\n\t"
      "movq %%r8, 16*8(%[t])\n\t"
      "movl $0, %k[c]\n\t"
      "adcx %%r11, %[c]\n\t"
      "adox %%r11, %[c]\n\t"
      : [c] "+r"(c)
      : [t] "r"(t), [m] "r"(m), [minv] "r"(m_inv)
      : "rdx", "r8", "r9", "r10", "r11", "cc", "memory");
}

#undef MCX_RD
#undef MCX_RD_A
#undef MCX_RD_B

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

void MontSqrAdx(const Modulus1024& mod, Limbs1024& r, const Limbs1024& a) {
  alignas(64) uint64_t t[2 * kN + 1] = {};
  Square(t, a.data());
  uint64_t c = 0;
  for (size_t i = 0; i < kN; ++i) ReduceStep(t + i, mod.m.data(), mod.m_inv, c);
  t[2 * kN] = c;
  Finish(mod.m, r, t + kN);  // (a^2 + Q m) / 2^1024 < 2m for a < m
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
void MontSqrAdx(const Modulus1024& mod, Limbs1024& r, const Limbs1024& a) { MontMul(mod, r, a, a); }

#endif

}  // namespace mcx
