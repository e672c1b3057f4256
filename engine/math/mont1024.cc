#include "engine/math/mont1024.h"

#include <cstring>

#include "engine/math/sakke_params.h"

namespace mcx {
namespace {

// GCC and Clang extension; __extension__ keeps -Wpedantic quiet about it.
__extension__ using u128 = unsigned __int128;

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

// r = t - m over 17 limbs if that does not borrow, else t; t < 2m.
void ReduceOnce(const Limbs1024& m, Limbs1024& r, const uint64_t t[kLimbs1024 + 1]) {
  Limbs1024 d;
  uint64_t borrow = 0;
  for (size_t i = 0; i < kLimbs1024; ++i) {
    u128 x = static_cast<u128>(t[i]) - m[i] - borrow;
    d[i] = static_cast<uint64_t>(x);
    borrow = static_cast<uint64_t>(x >> 64) & 1;
  }
  // t - m < 0 exactly when the top limb cannot absorb the borrow.
  const uint64_t keep_t = 0 - static_cast<uint64_t>(t[kLimbs1024] < borrow);
  for (size_t i = 0; i < kLimbs1024; ++i) r[i] = (t[i] & keep_t) | (d[i] & ~keep_t);
}

}  // namespace

Modulus1024 Modulus1024::FromHex(const char* hex) {
  Modulus1024 mod;
  const size_t len = std::strlen(hex);
  for (size_t i = 0; i < len; ++i) {
    const size_t bit = 4 * (len - 1 - i);
    mod.m[bit / 64] |= static_cast<uint64_t>(HexDigit(hex[i])) << (bit % 64);
  }
  uint64_t inv = 1;  // Newton: each step doubles the correct low bits of m0^-1 mod 2^64
  for (int i = 0; i < 6; ++i) inv *= 2 - mod.m[0] * inv;
  mod.m_inv = 0 - inv;
  Limbs1024 x{};
  x[0] = 1;
  for (int i = 0; i < 2048; ++i) AddMod(mod, x, x, x);  // 2^2048 = R^2 mod m
  mod.r2 = x;
  MontMul(mod, mod.r3, mod.r2, mod.r2);
  return mod;
}

const Modulus1024& SakkeFieldModulus() {
  static const Modulus1024 p = Modulus1024::FromHex(sakke::kP);
  return p;
}

const Modulus1024& SakkeOrderModulus() {
  static const Modulus1024 q = Modulus1024::FromHex(sakke::kQ);
  return q;
}

// CIOS (coarsely integrated operand scanning): for each limb of b, add a*b[i] and a multiple of
// m that clears the lowest limb, then shift down one limb. t stays below 2m.
void MontMul(const Modulus1024& mod, Limbs1024& r, const Limbs1024& a, const Limbs1024& b) {
  const Limbs1024& m = mod.m;
  uint64_t t[kLimbs1024 + 2] = {};
  for (size_t i = 0; i < kLimbs1024; ++i) {
    u128 c = 0;
    const uint64_t bi = b[i];
    for (size_t j = 0; j < kLimbs1024; ++j) {
      c += static_cast<u128>(a[j]) * bi + t[j];
      t[j] = static_cast<uint64_t>(c);
      c >>= 64;
    }
    c += t[kLimbs1024];
    t[kLimbs1024] = static_cast<uint64_t>(c);
    t[kLimbs1024 + 1] = static_cast<uint64_t>(c >> 64);

    const uint64_t q = t[0] * mod.m_inv;
    c = (static_cast<u128>(q) * m[0] + t[0]) >> 64;
    for (size_t j = 1; j < kLimbs1024; ++j) {
      c += static_cast<u128>(q) * m[j] + t[j];
      t[j - 1] = static_cast<uint64_t>(c);
      c >>= 64;
    }
    c += t[kLimbs1024];
    t[kLimbs1024 - 1] = static_cast<uint64_t>(c);
    t[kLimbs1024] = t[kLimbs1024 + 1] + static_cast<uint64_t>(c >> 64);
  }
  ReduceOnce(m, r, t);
}

void AddMod(const Modulus1024& mod, Limbs1024& r, const Limbs1024& a, const Limbs1024& b) {
  uint64_t t[kLimbs1024 + 1];
  uint64_t carry = 0;
  for (size_t i = 0; i < kLimbs1024; ++i) {
    u128 x = static_cast<u128>(a[i]) + b[i] + carry;
    t[i] = static_cast<uint64_t>(x);
    carry = static_cast<uint64_t>(x >> 64);
  }
  t[kLimbs1024] = carry;
  ReduceOnce(mod.m, r, t);
}

void SubMod(const Modulus1024& mod, Limbs1024& r, const Limbs1024& a, const Limbs1024& b) {
  Limbs1024 d;
  uint64_t borrow = 0;
  for (size_t i = 0; i < kLimbs1024; ++i) {
    u128 x = static_cast<u128>(a[i]) - b[i] - borrow;
    d[i] = static_cast<uint64_t>(x);
    borrow = static_cast<uint64_t>(x >> 64) & 1;
  }
  const uint64_t add_back = 0 - borrow;  // a < b: add m once
  uint64_t carry = 0;
  for (size_t i = 0; i < kLimbs1024; ++i) {
    u128 x = static_cast<u128>(d[i]) + (mod.m[i] & add_back) + carry;
    r[i] = static_cast<uint64_t>(x);
    carry = static_cast<uint64_t>(x >> 64);
  }
}

uint64_t LessThanMask(const Limbs1024& a, const Limbs1024& b) {
  uint64_t borrow = 0;
  for (size_t i = 0; i < kLimbs1024; ++i) {
    u128 x = static_cast<u128>(a[i]) - b[i] - borrow;
    borrow = static_cast<uint64_t>(x >> 64) & 1;
  }
  return 0 - borrow;
}

uint64_t IsZeroMask(const Limbs1024& a) {
  uint64_t acc = 0;
  for (uint64_t x : a) acc |= x;
  // acc | -acc has its top bit set exactly when acc != 0.
  return ((acc | (0 - acc)) >> 63) - 1;
}

void Select(Limbs1024& r, uint64_t mask, const Limbs1024& a, const Limbs1024& b) {
  for (size_t i = 0; i < kLimbs1024; ++i) r[i] = (a[i] & mask) | (b[i] & ~mask);
}

Limbs1024 LimbsFromBytes(std::span<const uint8_t> be) {
  Limbs1024 r{};
  const size_t n = be.size() < 128 ? be.size() : 128;
  for (size_t i = 0; i < n; ++i) {
    const size_t pos = n - 1 - i;  // byte index from the least significant end
    r[pos / 8] |= static_cast<uint64_t>(be[i]) << (8 * (pos % 8));
  }
  return r;
}

void LimbsToBytes(const Limbs1024& a, std::span<uint8_t, 128> be) {
  for (size_t pos = 0; pos < 128; ++pos) be[127 - pos] = static_cast<uint8_t>(a[pos / 8] >> (8 * (pos % 8)));
}

}  // namespace mcx
