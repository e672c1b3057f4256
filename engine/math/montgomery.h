// Montgomery arithmetic modulo a fixed odd modulus of N 64-bit limbs: SAKKE's p and q (RFC 6509
// set 1, N = 16), the order of P-256 (ECCSI's SSK, N = 4) and its field prime (PVT, N = 4).
//
// An element is N little-endian 64-bit limbs, always fully reduced (canonical, in [0, m)).
// Every function here runs in time independent of the values of its operands: no branch and no
// memory index depends on them, so secrets (the scalar (a+z)^-1, the master secret z, KSAK) may
// pass through. There is no allocation. R = 2^(64N); "Montgomery form" of x is x*R mod m.
// The templates are instantiated for N = 4 and N = 16 in montgomery.cc.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace mcx {

template <size_t N>
using Limbs = std::array<uint64_t, N>;

template <size_t N>
struct Modulus {
  Limbs<N> m{};
  uint64_t m_inv{};  // -m^-1 mod 2^64
  Limbs<N> r2{};     // R^2 mod m: MontMul(x, r2) puts x into Montgomery form
  Limbs<N> r3{};     // R^3 mod m: MontMul(1/(xR), r3) is (1/x)R, the Montgomery form of an inverse

  // Builds the constants for an odd modulus with its top bit in the last limb (hex, big-endian).
  static Modulus FromHex(const char* hex);
};

inline constexpr size_t kLimbs1024 = 16;
using Limbs1024 = Limbs<kLimbs1024>;
using Modulus1024 = Modulus<kLimbs1024>;
using Limbs256 = Limbs<4>;
using Modulus256 = Modulus<4>;

const Modulus1024& SakkeFieldModulus();  // p
const Modulus1024& SakkeOrderModulus();  // q
const Modulus256& P256OrderModulus();    // n of P-256, "q" in RFC 6507
const Modulus256& P256FieldModulus();    // p of P-256, the field of ECCSI's points

// r = a*b/R mod m. a, b canonical; r may alias either.
template <size_t N>
void MontMul(const Modulus<N>& mod, Limbs<N>& r, const Limbs<N>& a, const Limbs<N>& b);
// r = a + b mod m, r = a - b mod m. Canonical in and out; r may alias.
template <size_t N>
void AddMod(const Modulus<N>& mod, Limbs<N>& r, const Limbs<N>& a, const Limbs<N>& b);
template <size_t N>
void SubMod(const Modulus<N>& mod, Limbs<N>& r, const Limbs<N>& a, const Limbs<N>& b);

// All-ones when a < b (as integers), zero otherwise; constant time.
template <size_t N>
uint64_t LessThanMask(const Limbs<N>& a, const Limbs<N>& b);
// All-ones when a is zero.
template <size_t N>
uint64_t IsZeroMask(const Limbs<N>& a);
// r = mask ? a : b, for a mask of all ones or zero.
template <size_t N>
void Select(Limbs<N>& r, uint64_t mask, const Limbs<N>& a, const Limbs<N>& b);

// Big-endian octets (at most 8N) to limbs, and limbs to exactly 8N big-endian octets.
template <size_t N>
Limbs<N> LimbsFromBytes(std::span<const uint8_t> be);
template <size_t N>
void LimbsToBytes(const Limbs<N>& a, std::span<uint8_t, 8 * N> be);

}  // namespace mcx
