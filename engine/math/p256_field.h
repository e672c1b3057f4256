// Arithmetic modulo the P-256 field prime p = 2^256 - 2^224 + 2^192 + 2^96 - 1, specialised.
//
// Same contract and representation as the 4-limb Montgomery templates (montgomery.h) with
// P256FieldModulus(): elements are canonical little-endian limbs, R = 2^256, FeMul(a, b) =
// a*b/R mod p, and every function runs in time independent of its operands. It is a separate
// inline copy because p's form makes the reduction cheap: -1/p mod 2^64 is 1, so each step's
// quotient digit is the low limb itself, and q*p is q*2^256 - q*2^224 + q*2^192 + q*2^96 - q,
// i.e. shifts plus one 64x64 product by p's top limb. The point arithmetic spends most of its
// time here (bench/math_bench, BM_Pvt).
#pragma once

#include <cstdint>

#include "base/constant_time.h"
#include "engine/math/montgomery.h"

namespace mcx::p256 {

using Fe = Limbs256;

namespace internal {
__extension__ using u128 = unsigned __int128;
inline constexpr uint64_t kP[4] = {0xffffffffffffffffull, 0x00000000ffffffffull, 0, 0xffffffff00000001ull};

// a + b + carry; carry becomes the carry out. On x86-64 this is one adc: GCC's code for the
// equivalent 128-bit additions is about three times longer, and the multiplication lives on it.
inline uint64_t AddCarry(uint64_t a, uint64_t b, unsigned char& carry) {
#if defined(__x86_64__)
  unsigned long long r;
  carry = __builtin_ia32_addcarryx_u64(carry, a, b, &r);
  return r;
#else
  const u128 s = static_cast<u128>(a) + b + carry;
  carry = static_cast<unsigned char>(s >> 64);
  return static_cast<uint64_t>(s);
#endif
}

// a - b - borrow; borrow becomes the borrow out (one sbb on x86-64).
inline uint64_t SubBorrow(uint64_t a, uint64_t b, unsigned char& borrow) {
#if defined(__x86_64__)
  unsigned long long r;
#if defined(__clang__)  // clang names g++'s __builtin_ia32_sbb_u64 so (the ASan build is clang's)
  borrow = __builtin_ia32_subborrow_u64(borrow, a, b, &r);
#else
  borrow = __builtin_ia32_sbb_u64(borrow, a, b, &r);
#endif
  return r;
#else
  const u128 d = static_cast<u128>(a) - b - borrow;
  borrow = static_cast<unsigned char>((d >> 64) & 1);
  return static_cast<uint64_t>(d);
#endif
}

// r = t - p when t = (top, t[3..0]) >= p, else t; requires t < 2p.
inline void ReduceOnce(Fe& r, const uint64_t t[4], uint64_t top) {
  uint64_t d[4];
  unsigned char borrow = 0;
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) d[i] = SubBorrow(t[i], kP[i], borrow);
  (void)SubBorrow(top, 0, borrow);
  const uint64_t keep_t = ct::MaskFromBit(borrow);  // t - p went negative
  // Word by word, unrolled: in SelectWords' loop GCC vectorises through the stack, which is slower.
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) r[i] = ct::Select(keep_t, t[i], d[i]);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// ReduceOnce for the mulx code: the subtraction of p as one sbb chain (p's limbs 0 and 2 are
// immediates) and the choice by cmovc, nine instructions where the masked select took about 20.
// A conditional move is data flow, not a branch: its timing does not depend on the carry.
[[gnu::always_inline]] inline void ReduceOnceCmov(Fe& r, uint64_t t0, uint64_t t1, uint64_t t2, uint64_t t3,
                                                  uint64_t top) {
  uint64_t d0 = t0, d1 = t1, d2 = t2, d3 = t3;
  __asm__(
      "subq $-1, %[d0]\n\t"
      "sbbq %[p1], %[d1]\n\t"
      "sbbq $0, %[d2]\n\t"
      "sbbq %[p3], %[d3]\n\t"
      "sbbq $0, %[top]\n\t"  // borrow out: t < p, keep t
      "cmovcq %[t0], %[d0]\n\t"
      "cmovcq %[t1], %[d1]\n\t"
      "cmovcq %[t2], %[d2]\n\t"
      "cmovcq %[t3], %[d3]\n\t"
      : [d0] "+&r"(d0), [d1] "+&r"(d1), [d2] "+&r"(d2), [d3] "+&r"(d3), [top] "+&r"(top)
      : [t0] "r"(t0), [t1] "r"(t1), [t2] "r"(t2), [t3] "r"(t3), [p1] "m"(kP[1]), [p3] "m"(kP[3])
      : "cc");
  r = Fe{d0, d1, d2, d3};
}
#endif

// r = t / R mod p for the 512-bit t (a product of canonical values): four reduction steps; step
// i adds q*p with q = t[i], clearing limb i: t[i] + q(2^64 - 1) is q*2^64, so limb i+1 gains
// q + q(2^32 - 1) = q*2^32, and limbs i+3, i+4 gain q*kP[3]. The carry runs up to limb 8 (top).
inline void Reduce(Fe& r, uint64_t t[8]) {
  uint64_t top = 0;
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    const uint64_t q = t[i];
    const u128 m = static_cast<u128>(q) * internal::kP[3];
    unsigned char c = 0;
    t[i + 1] = internal::AddCarry(t[i + 1], q << 32, c);
    t[i + 2] = internal::AddCarry(t[i + 2], q >> 32, c);
    t[i + 3] = internal::AddCarry(t[i + 3], static_cast<uint64_t>(m), c);
    t[i + 4] = internal::AddCarry(t[i + 4], static_cast<uint64_t>(m >> 64), c);
#pragma GCC unroll 4
    for (int k = i + 5; k < 8; ++k) t[k] = internal::AddCarry(t[k], 0, c);
    top += c;
  }
  internal::ReduceOnce(r, t + 4, top);  // (ab + Qp)/R < 2p
}

}  // namespace internal

// r = a*b/R mod p. r may alias a or b.
inline void FeMul(Fe& r, const Fe& a, const Fe& b) {
  using internal::u128;
  uint64_t t[8] = {};
  // The full 512-bit product, row by row: row i adds the low halves of a[j]*b[i] at limbs i+j
  // and the high halves at limbs i+j+1 (two carry chains; the second cannot carry out).
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    uint64_t lo[4], hi[4];
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      const u128 m = static_cast<u128>(a[j]) * b[i];
      lo[j] = static_cast<uint64_t>(m);
      hi[j] = static_cast<uint64_t>(m >> 64);
    }
    unsigned char c = 0;
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) t[i + j] = internal::AddCarry(t[i + j], lo[j], c);
    t[i + 4] = c;
    c = 0;
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) t[i + 1 + j] = internal::AddCarry(t[i + 1 + j], hi[j], c);
  }
  internal::Reduce(r, t);
}

// r = a^2/R mod p (the portable code has no separate squaring).
inline void FeSqr(Fe& r, const Fe& a) { FeMul(r, a, a); }

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// FeMul in registers with mulx/adcx/adox: four CIOS steps, each a row t += a b[i] (low halves
// along CF by adcx, high halves along OF by adox) and a reduction by q = t[0] as in Reduce (q<<32
// and q>>32 into limbs 1 and 2, q * kP[3] into limbs 3 and 4), the accumulator's six registers
// renamed by one limb per step instead of shifted. Inline assembly needs no target attribute, so
// this inlines anywhere; call it only when the CPU has BMI2 and ADX (the avx2 path). The final
// subtraction is ReduceOnce's constant-time C++. The assembly reads a and b through their
// addresses and names them as memory inputs, so no "memory" clobber: GCC keeps other values in
// registers across it and schedules around it (three independent chains: 53 -> 44 cycles per
// multiplication on Zen 3, session 14).
[[gnu::always_inline]] inline void FeMulAdx(Fe& r, const Fe& a, const Fe& b) {
  uint64_t r0, r1, r2, r3, r4, r5, lo, hi, zero;
  __asm__(
        "xorl %k[r0], %k[r0]\n\t"
        "xorl %k[r1], %k[r1]\n\t"
        "xorl %k[r2], %k[r2]\n\t"
        "xorl %k[r3], %k[r3]\n\t"
        "xorl %k[r4], %k[r4]\n\t"
        "xorl %k[r5], %k[r5]\n\t"
        "movq 0(%[b]), %%rdx\n\t"
        "xorl %k[zero], %k[zero]\n\t"
        "mulx 0(%[a]), %[lo], %[hi]\n\t"
        "adcx %[lo], %[r0]\n\t"
        "adox %[hi], %[r1]\n\t"
        "mulx 8(%[a]), %[lo], %[hi]\n\t"
        "adcx %[lo], %[r1]\n\t"
        "adox %[hi], %[r2]\n\t"
        "mulx 16(%[a]), %[lo], %[hi]\n\t"
        "adcx %[lo], %[r2]\n\t"
        "adox %[hi], %[r3]\n\t"
        "mulx 24(%[a]), %[lo], %[hi]\n\t"
        "adcx %[lo], %[r3]\n\t"
        "adox %[hi], %[r4]\n\t"
        "adcx %[zero], %[r4]\n\t"
        "adcx %[zero], %[r5]\n\t"
        "adox %[zero], %[r5]\n\t"
        "movq %[r0], %%rdx\n\t"
        "movq %[r0], %[lo]\n\t"
        "shlq $32, %[lo]\n\t"
        "movq %[r0], %[hi]\n\t"
        "shrq $32, %[hi]\n\t"
        "mulx %[p3], %[r0], %[zero]\n\t"
        "addq %[lo], %[r1]\n\t"
        "adcq %[hi], %[r2]\n\t"
        "adcq %[r0], %[r3]\n\t"
        "adcq %[zero], %[r4]\n\t"
        "adcq $0, %[r5]\n\t"
        "movq 8(%[b]), %%rdx\n\t"
        "xorl %k[r0], %k[r0]\n\t"
        "xorl %k[zero], %k[zero]\n\t"
        "mulx 0(%[a]), %[lo], %[hi]\n\t"
        "adcx %[lo], %[r1]\n\t"
        "adox %[hi], %[r2]\n\t"
        "mulx 8(%[a]), %[lo], %[hi]\n\t"
        "adcx %[lo], %[r2]\n\t"
        "adox %[hi], %[r3]\n\t"
        "mulx 16(%[a]), %[lo], %[hi]\n\t"
        "adcx %[lo], %[r3]\n\t"
        "adox %[hi], %[r4]\n\t"
        "mulx 24(%[a]), %[lo], %[hi]\n\t"
        "adcx %[lo], %[r4]\n\t"
        "adox %[hi], %[r5]\n\t"
        "adcx %[zero], %[r5]\n\t"
        "adcx %[zero], %[r0]\n\t"
        "adox %[zero], %[r0]\n\t"
        "movq %[r1], %%rdx\n\t"
        "movq %[r1], %[lo]\n\t"
        "shlq $32, %[lo]\n\t"
        "movq %[r1], %[hi]\n\t"
        "shrq $32, %[hi]\n\t"
        "mulx %[p3], %[r1], %[zero]\n\t"
        "addq %[lo], %[r2]\n\t"
        "adcq %[hi], %[r3]\n\t"
        "adcq %[r1], %[r4]\n\t"
        "adcq %[zero], %[r5]\n\t"
        "adcq $0, %[r0]\n\t"
        "movq 16(%[b]), %%rdx\n\t"
        "xorl %k[r1], %k[r1]\n\t"
        "xorl %k[zero], %k[zero]\n\t"
        "mulx 0(%[a]), %[lo], %[hi]\n\t"
        "adcx %[lo], %[r2]\n\t"
        "adox %[hi], %[r3]\n\t"
        "mulx 8(%[a]), %[lo], %[hi]\n\t"
        "adcx %[lo], %[r3]\n\t"
        "adox %[hi], %[r4]\n\t"
        "mulx 16(%[a]), %[lo], %[hi]\n\t"
        "adcx %[lo], %[r4]\n\t"
        "adox %[hi], %[r5]\n\t"
        "mulx 24(%[a]), %[lo], %[hi]\n\t"
        "adcx %[lo], %[r5]\n\t"
        "adox %[hi], %[r0]\n\t"
        "adcx %[zero], %[r0]\n\t"
        "adcx %[zero], %[r1]\n\t"
        "adox %[zero], %[r1]\n\t"
        "movq %[r2], %%rdx\n\t"
        "movq %[r2], %[lo]\n\t"
        "shlq $32, %[lo]\n\t"
        "movq %[r2], %[hi]\n\t"
        "shrq $32, %[hi]\n\t"
        "mulx %[p3], %[r2], %[zero]\n\t"
        "addq %[lo], %[r3]\n\t"
        "adcq %[hi], %[r4]\n\t"
        "adcq %[r2], %[r5]\n\t"
        "adcq %[zero], %[r0]\n\t"
        "adcq $0, %[r1]\n\t"
        "movq 24(%[b]), %%rdx\n\t"
        "xorl %k[r2], %k[r2]\n\t"
        "xorl %k[zero], %k[zero]\n\t"
        "mulx 0(%[a]), %[lo], %[hi]\n\t"
        "adcx %[lo], %[r3]\n\t"
        "adox %[hi], %[r4]\n\t"
        "mulx 8(%[a]), %[lo], %[hi]\n\t"
        "adcx %[lo], %[r4]\n\t"
        "adox %[hi], %[r5]\n\t"
        "mulx 16(%[a]), %[lo], %[hi]\n\t"
        "adcx %[lo], %[r5]\n\t"
        "adox %[hi], %[r0]\n\t"
        "mulx 24(%[a]), %[lo], %[hi]\n\t"
        "adcx %[lo], %[r0]\n\t"
        "adox %[hi], %[r1]\n\t"
        "adcx %[zero], %[r1]\n\t"
        "adcx %[zero], %[r2]\n\t"
        "adox %[zero], %[r2]\n\t"
        "movq %[r3], %%rdx\n\t"
        "movq %[r3], %[lo]\n\t"
        "shlq $32, %[lo]\n\t"
        "movq %[r3], %[hi]\n\t"
        "shrq $32, %[hi]\n\t"
        "mulx %[p3], %[r3], %[zero]\n\t"
        "addq %[lo], %[r4]\n\t"
        "adcq %[hi], %[r5]\n\t"
        "adcq %[r3], %[r0]\n\t"
        "adcq %[zero], %[r1]\n\t"
        "adcq $0, %[r2]\n\t"
      : [r0] "=&r"(r0), [r1] "=&r"(r1), [r2] "=&r"(r2), [r3] "=&r"(r3), [r4] "=&r"(r4), [r5] "=&r"(r5),
        [lo] "=&r"(lo), [hi] "=&r"(hi), [zero] "=&r"(zero)
      : [a] "r"(a.data()), [b] "r"(b.data()), [p3] "m"(internal::kP[3]), "m"(a), "m"(b)
      : "rdx", "cc");
  internal::ReduceOnceCmov(r, r4, r5, r0, r1, r2);  // below 2p
}

// r = a^2/R mod p, byte for byte FeMulAdx(r, a, a), in fewer multiplications: the six cross
// products a_i a_j (i < j) once, doubled along one carry chain, plus the four squares a_i^2 (10
// mulx against 16); then the Montgomery reduction of the low half t0..t3 on its own, by the steps
// of Reduce (q = t_i; q<<32, q>>32 and q * kP[3] added at limbs i+1 .. i+4), into a four-word
// window that is added to the high half t4..t7 at the end: (t_lo + Q p)/R + t_hi is (a^2 + Q p)/R,
// below 2p. Same CPU requirement as FeMulAdx.
[[gnu::always_inline]] inline void FeSqrAdx(Fe& r, const Fe& a) {
  uint64_t t0, t1, t2, t3, t4, t5, t6, t7, lo, hi, x;
  __asm__(
        // cross products: t1..t6 = sum of a_i a_j (i < j) at limb i + j
        "movq 0(%[a]), %%rdx\n\t"
        "mulx 8(%[a]), %[t1], %[t2]\n\t"
        "mulx 16(%[a]), %[lo], %[t3]\n\t"
        "mulx 24(%[a]), %[hi], %[t4]\n\t"
        "addq %[lo], %[t2]\n\t"
        "adcq %[hi], %[t3]\n\t"
        "adcq $0, %[t4]\n\t"
        "movq 8(%[a]), %%rdx\n\t"
        "mulx 16(%[a]), %[lo], %[hi]\n\t"
        "mulx 24(%[a]), %[x], %[t5]\n\t"
        "addq %[lo], %[t3]\n\t"
        "adcq %[hi], %[t4]\n\t"
        "adcq $0, %[t5]\n\t"
        "addq %[x], %[t4]\n\t"
        "adcq $0, %[t5]\n\t"
        "movq 16(%[a]), %%rdx\n\t"
        "mulx 24(%[a]), %[lo], %[t6]\n\t"
        "addq %[lo], %[t5]\n\t"
        "adcq $0, %[t6]\n\t"
        // doubled: t7 takes the carry out of the top
        "xorl %k[t7], %k[t7]\n\t"
        "addq %[t1], %[t1]\n\t"
        "adcq %[t2], %[t2]\n\t"
        "adcq %[t3], %[t3]\n\t"
        "adcq %[t4], %[t4]\n\t"
        "adcq %[t5], %[t5]\n\t"
        "adcq %[t6], %[t6]\n\t"
        "adcq $0, %[t7]\n\t"
        // plus the squares on the diagonal, one carry chain (mulx and mov leave the flags alone)
        "movq 0(%[a]), %%rdx\n\t"
        "mulx %%rdx, %[t0], %[hi]\n\t"
        "addq %[hi], %[t1]\n\t"
        "movq 8(%[a]), %%rdx\n\t"
        "mulx %%rdx, %[lo], %[hi]\n\t"
        "adcq %[lo], %[t2]\n\t"
        "adcq %[hi], %[t3]\n\t"
        "movq 16(%[a]), %%rdx\n\t"
        "mulx %%rdx, %[lo], %[hi]\n\t"
        "adcq %[lo], %[t4]\n\t"
        "adcq %[hi], %[t5]\n\t"
        "movq 24(%[a]), %%rdx\n\t"
        "mulx %%rdx, %[lo], %[hi]\n\t"
        "adcq %[lo], %[t6]\n\t"
        "adcq %[hi], %[t7]\n\t"
        // reduction step 0: q = t0; the window becomes t1, t2, t3, t0 (t0 reused for the new top)
        "movq %[t0], %%rdx\n\t"
        "movq %[t0], %[lo]\n\t"
        "shlq $32, %[lo]\n\t"
        "movq %[t0], %[hi]\n\t"
        "shrq $32, %[hi]\n\t"
        "mulx %[p3], %[x], %[t0]\n\t"
        "addq %[lo], %[t1]\n\t"
        "adcq %[hi], %[t2]\n\t"
        "adcq %[x], %[t3]\n\t"
        "adcq $0, %[t0]\n\t"
        // step 1: q = t1; window t2, t3, t0, t1
        "movq %[t1], %%rdx\n\t"
        "movq %[t1], %[lo]\n\t"
        "shlq $32, %[lo]\n\t"
        "movq %[t1], %[hi]\n\t"
        "shrq $32, %[hi]\n\t"
        "mulx %[p3], %[x], %[t1]\n\t"
        "addq %[lo], %[t2]\n\t"
        "adcq %[hi], %[t3]\n\t"
        "adcq %[x], %[t0]\n\t"
        "adcq $0, %[t1]\n\t"
        // step 2: q = t2; window t3, t0, t1, t2
        "movq %[t2], %%rdx\n\t"
        "movq %[t2], %[lo]\n\t"
        "shlq $32, %[lo]\n\t"
        "movq %[t2], %[hi]\n\t"
        "shrq $32, %[hi]\n\t"
        "mulx %[p3], %[x], %[t2]\n\t"
        "addq %[lo], %[t3]\n\t"
        "adcq %[hi], %[t0]\n\t"
        "adcq %[x], %[t1]\n\t"
        "adcq $0, %[t2]\n\t"
        // step 3: q = t3; window t0, t1, t2, t3
        "movq %[t3], %%rdx\n\t"
        "movq %[t3], %[lo]\n\t"
        "shlq $32, %[lo]\n\t"
        "movq %[t3], %[hi]\n\t"
        "shrq $32, %[hi]\n\t"
        "mulx %[p3], %[x], %[t3]\n\t"
        "addq %[lo], %[t0]\n\t"
        "adcq %[hi], %[t1]\n\t"
        "adcq %[x], %[t2]\n\t"
        "adcq $0, %[t3]\n\t"
        // plus the high half; the carry out goes to lo
        "xorl %k[lo], %k[lo]\n\t"
        "addq %[t4], %[t0]\n\t"
        "adcq %[t5], %[t1]\n\t"
        "adcq %[t6], %[t2]\n\t"
        "adcq %[t7], %[t3]\n\t"
        "adcq $0, %[lo]\n\t"
      : [t0] "=&r"(t0), [t1] "=&r"(t1), [t2] "=&r"(t2), [t3] "=&r"(t3), [t4] "=&r"(t4), [t5] "=&r"(t5),
        [t6] "=&r"(t6), [t7] "=&r"(t7), [lo] "=&r"(lo), [hi] "=&r"(hi), [x] "=&r"(x)
      : [a] "r"(a.data()), [p3] "m"(internal::kP[3]), "m"(a)
      : "rdx", "cc");
  internal::ReduceOnceCmov(r, t0, t1, t2, t3, lo);  // below 2p
}
#endif

// r = a where mask is all ones, b where it is zero (mask is one or the other); r may alias either.
// On x86-64 by cmovnz (baseline x86-64, no CPU probe): five instructions for the four words where
// the masked form takes twelve or more. A conditional move is data flow, not a branch, and its
// timing does not depend on the condition; valgrind's memcheck treats it so too (ct_audit).
[[gnu::always_inline]] inline void FeSelect(Fe& r, uint64_t mask, const Fe& a, const Fe& b) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  uint64_t r0 = b[0], r1 = b[1], r2 = b[2], r3 = b[3];
  __asm__(
      "testq %[m], %[m]\n\t"
      "cmovnzq 0(%[a]), %[r0]\n\t"
      "cmovnzq 8(%[a]), %[r1]\n\t"
      "cmovnzq 16(%[a]), %[r2]\n\t"
      "cmovnzq 24(%[a]), %[r3]\n\t"
      : [r0] "+r"(r0), [r1] "+r"(r1), [r2] "+r"(r2), [r3] "+r"(r3)
      : [m] "r"(mask), [a] "r"(a.data()), "m"(a)
      : "cc");
  r = Fe{r0, r1, r2, r3};
#else
  ct::SelectWords(r.data(), mask, a.data(), b.data(), 4);
#endif
}

// r = a + b mod p, r = a - b mod p. r may alias.
inline void FeAdd(Fe& r, const Fe& a, const Fe& b) {
  uint64_t t[4];
  unsigned char c = 0;
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) t[i] = internal::AddCarry(a[i], b[i], c);
  internal::ReduceOnce(r, t, c);
}

inline void FeSub(Fe& r, const Fe& a, const Fe& b) {
  uint64_t d[4];
  unsigned char borrow = 0;
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) d[i] = internal::SubBorrow(a[i], b[i], borrow);
  const uint64_t add_back = ct::MaskFromBit(borrow);  // a < b: add p once
  unsigned char c = 0;
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) r[i] = internal::AddCarry(d[i], internal::kP[i] & add_back, c);
}

}  // namespace mcx::p256
