// The comb layout of P-256 multiples shared by the constant-time fixed-base [k]G
// (p256_fixed_base.h) and the variable-time ECDSA verification (p256_verify.h).
//
// A scalar k < 2^256 is recoded into 37 signed 7-bit Booth digits d_i in [-64, 64], k = sum of
// d_i 2^(7i); a table of a base point B holds, for every window i, the affine points
// (j + 1) 2^(7i) B for j = 0..63, so [k]B is the sum of one entry (negated for a negative digit)
// per nonzero digit: 37 mixed additions and no doubling. None of the 37 x 64 entries is infinity
// (no (j + 1) 2^(7i) is a multiple of the prime order n).
//
// Field elements are in Montgomery form modulo p (R = 2^256, p256_field.h). The helpers here run in
// time independent of their operands; the callers decide how entries are chosen.
#pragma once

#include <openssl/ec.h>

#include <cstdint>
#include <memory>

#include "base/constant_time.h"
#include "engine/math/montgomery.h"
#include "engine/math/p256_field.h"

namespace mcx::p256 {

inline constexpr int kCombWindowBits = 7;
inline constexpr int kCombWindows = 37;                         // 37 x 7 = 259 >= 256 bits
inline constexpr int kCombEntries = 1 << (kCombWindowBits - 1);  // |digit| = 1..64

struct Affine {
  Fe x, y;
};
struct Projective {  // (X : Y : Z) with x = X/Z, y = Y/Z; infinity is (0 : 1 : 0)
  Fe x, y, z;
};

struct CombTable {
  Fe b;    // the curve's b, Montgomery form
  Fe one;  // 1, Montgomery form
  alignas(64) Affine points[kCombWindows][kCombEntries];  // points[i][j] = (j + 1) 2^(7i) B
};

// The table of `base` (a point of P256Group(), not infinity), computed with OpenSSL's arithmetic
// and one batched inversion (EC_POINTs_make_affine). Public data; a few milliseconds, 148 KiB.
std::unique_ptr<CombTable> BuildCombTable(const EC_POINT* base);

// The table of the generator G, built on first use (thread-safe) and kept for the process.
const CombTable& GeneratorCombTable();

// The Booth digit of window i: bits 7i-1 .. 7i+6 of k (bit -1 is 0) read as
// -64 b6' + 32 b5' + ... + b0' + b_{-1}. Returns |digit| and sets *negative to all-ones when the
// digit is negative. Which limbs are read depends only on i.
inline uint64_t BoothDigit(const Limbs256& k, int i, uint64_t* negative) {
  uint64_t w;
  if (i == 0) {
    w = k[0] << 1;
  } else {
    const int pos = kCombWindowBits * i - 1;
    const int limb = pos / 64, off = pos % 64;
    w = k[limb] >> off;
    if (off > 56 && limb + 1 < 4) w |= k[limb + 1] << (64 - off);
  }
  w &= 0xff;
  const uint64_t sign = ct::MaskFromBit(w >> 7);
  // For a negative digit, |digit| is what the complemented window gives as a positive one.
  const uint64_t u = (w ^ sign) & 0xff;
  *negative = sign;
  return (u >> 1) + (u & 1);
}

using FeMulFn = void (*)(Fe&, const Fe&, const Fe&);

// r = a + q, complete for every a (including infinity and a = +-q) and every affine q: the mixed
// addition of Renes, Costello and Batina (2016, algorithm 5) for a = -3, 11M + 2M(b).
// r may alias a.
template <FeMulFn kMul>
[[gnu::noinline]] void AddMixed(const Fe& b, Projective& r, const Projective& a, const Affine& q) {
  constexpr FeMulFn mul = kMul;
  auto& add = FeAdd;
  auto& sub = FeSub;
  Fe t0, t1, t2, t3, t4, x3, y3, z3;
  mul(t0, a.x, q.x);
  mul(t1, a.y, q.y);
  add(t3, q.x, q.y);
  add(t4, a.x, a.y);
  mul(t3, t3, t4);
  add(t4, t0, t1);
  sub(t3, t3, t4);  // X1 Y2 + X2 Y1
  mul(t4, q.y, a.z);
  add(t4, t4, a.y);  // Y1 + Y2 Z1
  mul(y3, q.x, a.z);
  add(y3, y3, a.x);  // X1 + X2 Z1
  mul(z3, b, a.z);
  sub(x3, y3, z3);
  add(z3, x3, x3);
  add(x3, x3, z3);
  sub(z3, t1, x3);
  add(x3, t1, x3);
  mul(y3, b, y3);
  add(t1, a.z, a.z);
  add(t2, t1, a.z);
  sub(y3, y3, t2);
  sub(y3, y3, t0);
  add(t1, y3, y3);
  add(y3, t1, y3);
  add(t1, t0, t0);
  add(t0, t1, t0);
  sub(t0, t0, t2);
  mul(t1, t4, y3);
  mul(t2, t0, y3);
  mul(y3, x3, z3);
  add(y3, y3, t2);
  mul(x3, x3, t3);
  sub(x3, x3, t1);
  mul(z3, z3, t4);
  mul(t1, t3, t0);
  add(z3, z3, t1);
  r.x = x3;
  r.y = y3;
  r.z = z3;
}

}  // namespace mcx::p256
