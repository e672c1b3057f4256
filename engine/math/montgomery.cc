#include "engine/math/montgomery.h"

#include <cstring>

#include "base/bytes.h"
#include "base/constant_time.h"
#include "engine/math/sakke_params.h"

namespace mcx {
namespace {

// GCC and Clang extension; __extension__ keeps -Wpedantic quiet about it.
__extension__ using u128 = unsigned __int128;

// d = a - b over N limbs; returns the final borrow (0 or 1). d may be null (comparison only).
template <size_t N>
uint64_t SubBorrow(uint64_t* d, const uint64_t* a, const uint64_t* b) {
  uint64_t borrow = 0;
  for (size_t i = 0; i < N; ++i) {
    u128 x = static_cast<u128>(a[i]) - b[i] - borrow;
    if (d != nullptr) d[i] = static_cast<uint64_t>(x);  // d is fixed per call site, not secret
    borrow = static_cast<uint64_t>(x >> 64) & 1;
  }
  return borrow;
}

// r = t - m over N+1 limbs if that does not borrow, else t; t < 2m.
template <size_t N>
void ReduceOnce(const Limbs<N>& m, Limbs<N>& r, const uint64_t t[N + 1]) {
  Limbs<N> d;
  const uint64_t borrow = SubBorrow<N>(d.data(), t, m.data());
  // t - m < 0 exactly when the top limb cannot absorb the borrow.
  const uint64_t keep_t = ct::Lt(t[N], borrow);
  ct::SelectWords(r.data(), keep_t, t, d.data(), N);
}

}  // namespace

template <size_t N>
Modulus<N> Modulus<N>::FromHex(const char* hex) {
  Modulus<N> mod;
  const size_t len = std::strlen(hex);
  for (size_t i = 0; i < len; ++i) {
    const size_t bit = 4 * (len - 1 - i);
    mod.m[bit / 64] |= static_cast<uint64_t>(HexValue(hex[i])) << (bit % 64);
  }
  uint64_t inv = 1;  // Newton: each step doubles the correct low bits of m0^-1 mod 2^64
  for (int i = 0; i < 6; ++i) inv *= 2 - mod.m[0] * inv;
  mod.m_inv = 0 - inv;
  Limbs<N> x{};
  x[0] = 1;
  for (size_t i = 0; i < 2 * 64 * N; ++i) AddMod(mod, x, x, x);  // 2^(128N) = R^2 mod m
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

const Modulus256& P256OrderModulus() {
  static const Modulus256 n =
      Modulus256::FromHex("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551");
  return n;
}

const Modulus256& P256FieldModulus() {
  static const Modulus256 p =
      Modulus256::FromHex("FFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF");
  return p;
}

// CIOS (coarsely integrated operand scanning): for each limb of b, add a*b[i] and a multiple of
// m that clears the lowest limb, then shift down one limb. t stays below 2m.
template <size_t N>
void MontMul(const Modulus<N>& mod, Limbs<N>& r, const Limbs<N>& a, const Limbs<N>& b) {
  const Limbs<N>& m = mod.m;
  uint64_t t[N + 2] = {};
  for (size_t i = 0; i < N; ++i) {
    u128 c = 0;
    const uint64_t bi = b[i];
    for (size_t j = 0; j < N; ++j) {
      c += static_cast<u128>(a[j]) * bi + t[j];
      t[j] = static_cast<uint64_t>(c);
      c >>= 64;
    }
    c += t[N];
    t[N] = static_cast<uint64_t>(c);
    t[N + 1] = static_cast<uint64_t>(c >> 64);

    const uint64_t q = t[0] * mod.m_inv;
    c = (static_cast<u128>(q) * m[0] + t[0]) >> 64;
    for (size_t j = 1; j < N; ++j) {
      c += static_cast<u128>(q) * m[j] + t[j];
      t[j - 1] = static_cast<uint64_t>(c);
      c >>= 64;
    }
    c += t[N];
    t[N - 1] = static_cast<uint64_t>(c);
    t[N] = t[N + 1] + static_cast<uint64_t>(c >> 64);
  }
  ReduceOnce(m, r, t);
}

template <size_t N>
void AddMod(const Modulus<N>& mod, Limbs<N>& r, const Limbs<N>& a, const Limbs<N>& b) {
  uint64_t t[N + 1];
  uint64_t carry = 0;
  for (size_t i = 0; i < N; ++i) {
    u128 x = static_cast<u128>(a[i]) + b[i] + carry;
    t[i] = static_cast<uint64_t>(x);
    carry = static_cast<uint64_t>(x >> 64);
  }
  t[N] = carry;
  ReduceOnce(mod.m, r, t);
}

template <size_t N>
void SubMod(const Modulus<N>& mod, Limbs<N>& r, const Limbs<N>& a, const Limbs<N>& b) {
  Limbs<N> d;
  const uint64_t add_back = ct::MaskFromBit(SubBorrow<N>(d.data(), a.data(), b.data()));  // a < b: add m once
  uint64_t carry = 0;
  for (size_t i = 0; i < N; ++i) {
    u128 x = static_cast<u128>(d[i]) + (mod.m[i] & add_back) + carry;
    r[i] = static_cast<uint64_t>(x);
    carry = static_cast<uint64_t>(x >> 64);
  }
}

template <size_t N>
uint64_t LessThanMask(const Limbs<N>& a, const Limbs<N>& b) {
  return ct::MaskFromBit(SubBorrow<N>(nullptr, a.data(), b.data()));
}

template <size_t N>
uint64_t IsZeroMask(const Limbs<N>& a) {
  return ct::IsZeroWords(a.data(), N);
}

template <size_t N>
void Select(Limbs<N>& r, uint64_t mask, const Limbs<N>& a, const Limbs<N>& b) {
  ct::SelectWords(r.data(), mask, a.data(), b.data(), N);
}

// Eight octets big-endian, written out so that the compiler makes one load or store and a bswap.
inline uint64_t LoadBigEndian64(const uint8_t* p) {
  return uint64_t{p[0]} << 56 | uint64_t{p[1]} << 48 | uint64_t{p[2]} << 40 | uint64_t{p[3]} << 32 |
         uint64_t{p[4]} << 24 | uint64_t{p[5]} << 16 | uint64_t{p[6]} << 8 | uint64_t{p[7]};
}
inline void StoreBigEndian64(uint8_t* p, uint64_t w) {
  p[0] = static_cast<uint8_t>(w >> 56);
  p[1] = static_cast<uint8_t>(w >> 48);
  p[2] = static_cast<uint8_t>(w >> 40);
  p[3] = static_cast<uint8_t>(w >> 32);
  p[4] = static_cast<uint8_t>(w >> 24);
  p[5] = static_cast<uint8_t>(w >> 16);
  p[6] = static_cast<uint8_t>(w >> 8);
  p[7] = static_cast<uint8_t>(w);
}

template <size_t N>
Limbs<N> LimbsFromBytes(std::span<const uint8_t> be) {
  Limbs<N> r{};
  if (be.size() == 8 * N) {  // the usual case, a word at a time (the byte loop was 1.6 % of an SSK+PVT)
    for (size_t l = 0; l < N; ++l) r[l] = LoadBigEndian64(be.data() + 8 * (N - 1 - l));
    return r;
  }
  const size_t n = be.size() < 8 * N ? be.size() : 8 * N;
  for (size_t i = 0; i < n; ++i) {
    const size_t pos = n - 1 - i;  // byte index from the least significant end
    r[pos / 8] |= static_cast<uint64_t>(be[i]) << (8 * (pos % 8));
  }
  return r;
}

template <size_t N>
void LimbsToBytes(const Limbs<N>& a, std::span<uint8_t, 8 * N> be) {
  for (size_t l = 0; l < N; ++l) StoreBigEndian64(be.data() + 8 * (N - 1 - l), a[l]);
}

#define MCX_INSTANTIATE(N)                                                                   \
  template struct Modulus<N>;                                                                \
  template void MontMul<N>(const Modulus<N>&, Limbs<N>&, const Limbs<N>&, const Limbs<N>&);  \
  template void AddMod<N>(const Modulus<N>&, Limbs<N>&, const Limbs<N>&, const Limbs<N>&);   \
  template void SubMod<N>(const Modulus<N>&, Limbs<N>&, const Limbs<N>&, const Limbs<N>&);   \
  template uint64_t LessThanMask<N>(const Limbs<N>&, const Limbs<N>&);                       \
  template uint64_t IsZeroMask<N>(const Limbs<N>&);                                          \
  template void Select<N>(Limbs<N>&, uint64_t, const Limbs<N>&, const Limbs<N>&);            \
  template Limbs<N> LimbsFromBytes<N>(std::span<const uint8_t>);                             \
  template void LimbsToBytes<N>(const Limbs<N>&, std::span<uint8_t, 8 * N>);
MCX_INSTANTIATE(4)
MCX_INSTANTIATE(16)
#undef MCX_INSTANTIATE

}  // namespace mcx
