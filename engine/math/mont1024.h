// Montgomery arithmetic modulo a fixed odd 1024-bit modulus: SAKKE's p and q (RFC 6509 set 1).
//
// An element is 16 little-endian 64-bit limbs, always fully reduced (canonical, in [0, m)).
// Every function here runs in time independent of the values of its operands: no branch and no
// memory index depends on them, so secrets (the scalar (a+z)^-1, the master secret z) may pass
// through. There is no allocation. R = 2^1024; "Montgomery form" of x is x*R mod m.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace mcx {

inline constexpr size_t kLimbs1024 = 16;
using Limbs1024 = std::array<uint64_t, kLimbs1024>;

struct Modulus1024 {
  Limbs1024 m{};
  uint64_t m_inv{};  // -m^-1 mod 2^64
  Limbs1024 r2{};    // R^2 mod m: MontMul(x, r2) puts x into Montgomery form
  Limbs1024 r3{};    // R^3 mod m: MontMul(1/(xR), r3) is (1/x)R, the Montgomery form of an inverse

  // Builds the constants for an odd modulus with its top bit in the last limb (hex, big-endian).
  static Modulus1024 FromHex(const char* hex);
};

const Modulus1024& SakkeFieldModulus();  // p
const Modulus1024& SakkeOrderModulus();  // q

// r = a*b/R mod m. a, b canonical; r may alias either.
void MontMul(const Modulus1024& mod, Limbs1024& r, const Limbs1024& a, const Limbs1024& b);
// r = a + b mod m, r = a - b mod m. Canonical in and out; r may alias.
void AddMod(const Modulus1024& mod, Limbs1024& r, const Limbs1024& a, const Limbs1024& b);
void SubMod(const Modulus1024& mod, Limbs1024& r, const Limbs1024& a, const Limbs1024& b);

// All-ones when a < b (as integers), zero otherwise; constant time.
uint64_t LessThanMask(const Limbs1024& a, const Limbs1024& b);
// All-ones when a is zero.
uint64_t IsZeroMask(const Limbs1024& a);
// r = mask ? a : b, for a mask of all ones or zero.
void Select(Limbs1024& r, uint64_t mask, const Limbs1024& a, const Limbs1024& b);

// Big-endian octets (at most 128) to limbs, and limbs to exactly 128 big-endian octets.
Limbs1024 LimbsFromBytes(std::span<const uint8_t> be);
void LimbsToBytes(const Limbs1024& a, std::span<uint8_t, 128> be);

}  // namespace mcx
