// The AVX-512 IFMA LaneField: 8 lanes of 20 x 52-bit limbs, Montgomery with R = 2^1040.
//
// A vector is 20 limb-vectors of 8 lanes (word [j * 8 + lane] is limb j of lane); each lane is a
// separate field element, so eight independent computations advance together. vpmadd52luq and
// vpmadd52huq add the low and high 52 bits of a 52 x 52-bit product to 64-bit accumulators,
// leaving 12 bits of headroom: a column collects at most 80 terms (< 2^59), so carries are
// propagated once per multiplication, not per step.
//
// Bounds: every function returns limbs below 2^52 (top limb excepted) and values below 2p.
// Montgomery multiplication of values below 2p gives a value below p + 4p^2/R < 2p, so no final
// subtraction is needed; sub() adds 2p and subtracts 2p back under a lane mask.
//
// Only this file and the toolkit it shares with the P-256 lanes (ifma52.h) are compiled for
// AVX-512, function by function (target attribute); nothing here runs unless IfmaLaneField()
// found the instructions at run time.
#include "engine/math/lane_field.h"

#include "engine/math/ifma52.h"

#if defined(MCX_HAVE_IFMA52)
#include <cstring>

#include "base/secret.h"
#include "engine/math/inverse.h"
#include "engine/math/montgomery_adx.h"

namespace mcx {
namespace {

using ifma52::kLanes;
using ifma52::kMask52;
constexpr int kN = 20;  // limbs of 52 bits

// Plain integers in radix 2^52 (one lane's worth).
using Limbs52 = uint64_t[kN];

void To52(const Limbs1024& a, uint64_t* out) { ifma52::Split<kLimbs1024, kN>(a.data(), out); }
// From normalised limbs of a value below 2^1024.
void From52(const uint64_t* in, Limbs1024& out) { ifma52::Join<kN, kLimbs1024>(in, out.data()); }

struct Constants {
  Limbs52 p, p2, r2, r3;  // p, 2p, R^2 mod p, R^3 mod p (R = 2^1040), radix 2^52
  uint64_t k0;            // -p^-1 mod 2^52
};

// Public constants, computed once at first use (a few thousand modular doublings).
Constants MakeConstants() {
  const Modulus1024& mod = SakkeFieldModulus();
  Constants c{};
  To52(mod.m, c.p);
  // 2p exceeds 1024 bits; build it in radix 2^52 directly.
  uint64_t carry = 0;
  for (int j = 0; j < kN; ++j) {
    const uint64_t v = (c.p[j] << 1) + carry;
    c.p2[j] = v & kMask52;
    carry = v >> 52;
  }
  Limbs1024 x{};
  x[0] = 1;
  for (int i = 0; i < 2080; ++i) AddMod(mod, x, x, x);  // 2^2080 = R^2 mod p
  To52(x, c.r2);
  for (int i = 0; i < 1040; ++i) AddMod(mod, x, x, x);  // 2^3120 = R^3 mod p
  To52(x, c.r3);
  uint64_t inv = 1;
  for (int i = 0; i < 6; ++i) inv *= 2 - c.p[0] * inv;
  c.k0 = (0 - inv) & kMask52;
  return c;
}

const Constants& K() {
  static const Constants c = MakeConstants();
  return c;
}

using ifma52::Lo;
MCX_IFMA_INLINE __m512i Load(const uint64_t* p) { return _mm512_loadu_si512(p); }
MCX_IFMA_INLINE void Store(uint64_t* p, __m512i v) { _mm512_storeu_si512(p, v); }

// A vector in memory, limb by limb.
struct MemoryLimbs {
  const uint64_t* words;
  MCX_IFMA_INLINE __m512i operator[](int j) const { return Load(words + j * kLanes); }
};

// p for ifma52::MontMul: a general odd modulus, so the digit is acc0 * k0 and every limb counts.
struct SakkeModulus {
  const Constants& c;
  __m512i k0 = ifma52::Set1(c.k0);
  MCX_IFMA_INLINE __m512i Quotient(__m512i acc0) const { return Lo(_mm512_setzero_si512(), acc0, k0); }
  MCX_IFMA_INLINE __m512i Limb(int j) const { return ifma52::Set1(c.p[j]); }
  static constexpr bool HasLimb(int) { return true; }
};

MCX_IFMA void Mul(uint64_t* r, const uint64_t* a, const uint64_t* b) {
  __m512i t[kN];
  ifma52::MontMul<kN>(t, MemoryLimbs{a}, MemoryLimbs{b}, SakkeModulus{K()});
#pragma GCC unroll 20
  for (int j = 0; j < kN; ++j) Store(r + j * kLanes, t[j]);
}

MCX_IFMA void Sqr(uint64_t* r, const uint64_t* a) { Mul(r, a, a); }

// r = t - c where that is not negative, else t; lane by lane, by mask. t, c normalised.
MCX_IFMA_INLINE void SubtractIfNotNegative(uint64_t* r, const __m512i* t, const uint64_t* c) {
  __m512i u[kN];
  ifma52::SubtractIfNotNegative<kN>(u, t, c);
#pragma GCC unroll 20
  for (int j = 0; j < kN; ++j) Store(r + j * kLanes, u[j]);
}

MCX_IFMA void Sub(uint64_t* r, const uint64_t* a, const uint64_t* b) {
  const Constants& c = K();
  __m512i t[kN];
#pragma GCC unroll 20
  for (int j = 0; j < kN; ++j) {
    t[j] = _mm512_add_epi64(_mm512_sub_epi64(Load(a + j * kLanes), Load(b + j * kLanes)), ifma52::Set1(c.p2[j]));
  }
  ifma52::Normalize<kN>(t);  // a - b + 2p, in [0, 4p)
  SubtractIfNotNegative(r, t, c.p2);
}

// out = lane `lane` of a, fully reduced (below p), as a plain integer of 16 limbs.
MCX_IFMA void ExtractCanonical(Limbs1024& out, const uint64_t* a, int lane) {
  __m512i t[kN];
  for (int j = 0; j < kN; ++j) t[j] = Load(a + j * kLanes);
  alignas(64) uint64_t reduced[kN * kLanes];
  SubtractIfNotNegative(reduced, t, K().p);
  uint64_t limbs[kN];
  for (int j = 0; j < kN; ++j) limbs[j] = reduced[j * kLanes + lane];
  From52(limbs, out);
}

MCX_IFMA void Broadcast(uint64_t* v, const uint64_t* limbs) {
  for (int j = 0; j < kN; ++j) Store(v + j * kLanes, ifma52::Set1(limbs[j]));
}

MCX_IFMA void Permute(uint64_t* r, const uint64_t* a, int distance) {
  const __m512i lanes = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
  const __m512i idx = _mm512_xor_si512(lanes, _mm512_set1_epi64(distance));
  for (int j = 0; j < kN; ++j) Store(r + j * kLanes, _mm512_maskz_permutexvar_epi64(0xff, idx, Load(a + j * kLanes)));
}

// Lane-wise inverses from one inversion: products over lane pairs, quads and all eight (each
// lane ends up holding the product of its group), invert the total, then unwind:
// 1/V_k = 1/V_{k+1} * (the partner group's product).
// The inputs are secret (coordinates of a point whose scalar is secret), so every temporary is
// wiped on the way out, error or not.
MCX_IFMA Status Invert(uint64_t* r, const uint64_t* a) {
  struct Wiped {
    alignas(64) uint64_t v[4][kN * kLanes];
    alignas(64) uint64_t perm[kN * kLanes];
    alignas(64) uint64_t acc[kN * kLanes];
    Limbs1024 total, inv;
    uint64_t limbs[kN];
    ~Wiped() { SecureWipe(this, sizeof *this); }
  } w;
  std::memcpy(w.v[0], a, sizeof w.v[0]);
  for (int k = 0; k < 3; ++k) {
    Permute(w.perm, w.v[k], 1 << k);
    Mul(w.v[k + 1], w.v[k], w.perm);
  }
  // v[3] holds xR for x the product of all lanes; its plain inverse 1/(xR) times R^3/R is (1/x)R.
  ExtractCanonical(w.total, w.v[3], 0);
  MCX_RETURN_IF_ERROR(BlindedInverse(SakkeFieldModulus(), w.total, w.inv));
  To52(w.inv, w.limbs);
  alignas(64) uint64_t r3[kN * kLanes];  // public: R^3 mod p
  Broadcast(w.acc, w.limbs);
  Broadcast(r3, K().r3);
  Mul(w.acc, w.acc, r3);
  for (int k = 2; k >= 0; --k) {
    Permute(w.perm, w.v[k], 1 << k);
    Mul(w.acc, w.acc, w.perm);
  }
  std::memcpy(r, w.acc, sizeof w.acc);
  return Status::Ok();
}

// Table entries: x then y, one lane's 20 limbs each, Montgomery form, fully reduced.
MCX_IFMA void EncodeEntry(uint64_t* entry, const Limbs1024& x, const Limbs1024& y) {
  alignas(64) uint64_t v[kN * kLanes];
  alignas(64) uint64_t r2[kN * kLanes];
  Broadcast(r2, K().r2);
  const Limbs1024* coords[2] = {&x, &y};
  for (int k = 0; k < 2; ++k) {
    uint64_t limbs[kN];
    To52(*coords[k], limbs);
    Broadcast(v, limbs);
    Mul(v, v, r2);
    Limbs1024 canonical;
    ExtractCanonical(canonical, v, 0);
    To52(canonical, entry + k * kN);
  }
}

MCX_IFMA void Select(uint64_t* x, uint64_t* y, int lane, const uint64_t* entries, size_t count, uint32_t index) {
  constexpr int kVecs = 2 * kN / kLanes;  // 5 vectors of 8 words per entry
  __m512i acc[kVecs];
  for (int v = 0; v < kVecs; ++v) acc[v] = _mm512_setzero_si512();
  const __m512i want = ifma52::Set1(index);
  for (size_t e = 0; e < count; ++e) {
    const __mmask8 hit = ifma52::EqLanes(ifma52::Set1(e), want);
    const uint64_t* entry = entries + e * 2 * kN;
    for (int v = 0; v < kVecs; ++v) acc[v] = _mm512_mask_mov_epi64(acc[v], hit, Load(entry + v * kLanes));
  }
  alignas(64) uint64_t point[2 * kN];
  for (int v = 0; v < kVecs; ++v) Store(point + v * kLanes, acc[v]);
  for (int j = 0; j < kN; ++j) {
    x[j * kLanes + lane] = point[j];
    y[j * kLanes + lane] = point[kN + j];
  }
}

// y = p - y where negate is set; y is a table entry (below p), so p - y is in (0, p].
MCX_IFMA void NegateLanes(uint64_t* y, const uint64_t* negate) {
  const Constants& c = K();
  const __mmask8 flip = ifma52::NonZeroLanes(Load(negate));
  __m512i t[kN];
  for (int j = 0; j < kN; ++j) t[j] = _mm512_sub_epi64(ifma52::Set1(c.p[j]), Load(y + j * kLanes));
  ifma52::Normalize<kN>(t);
  for (int j = 0; j < kN; ++j) Store(y + j * kLanes, ifma52::SelectLanes(flip, Load(y + j * kLanes), t[j]));
}

MCX_IFMA void ToPlain(Limbs1024& out, const uint64_t* a, int lane);

void ToMontgomery16(Limbs1024& out, const uint64_t* a, int lane) {
  ToPlain(out, a, lane);
  if (CpuHasAdx()) {
    MontMulAdx(SakkeFieldModulus(), out, out, SakkeFieldModulus().r2);
  } else {
    MontMul(SakkeFieldModulus(), out, out, SakkeFieldModulus().r2);
  }
}

MCX_IFMA void ToPlain(Limbs1024& out, const uint64_t* a, int lane) {
  alignas(64) uint64_t one[kN * kLanes] = {};
  for (int l = 0; l < kLanes; ++l) one[l] = 1;
  alignas(64) uint64_t v[kN * kLanes];
  Mul(v, a, one);
  ExtractCanonical(out, v, lane);
}

void SqrPortable(const Modulus1024& mod, Limbs1024& r, const Limbs1024& a) { MontMul(mod, r, a, a); }

}  // namespace

const LaneField* IfmaLaneField() {
  // Every IFMA CPU has BMI2 and ADX; the check keeps the scalar steps safe anyway.
  static const LaneField field = {
      "AVX-512 IFMA (8 lanes x 20 x 52-bit limbs)", kLanes, kN * kLanes, 2 * kN, 6, 16, 1, 64,
      Mul, Sqr, Sub, Invert, EncodeEntry, Select, SelectEachLane<Select, kLanes>, NegateLanes, ToPlain, ToMontgomery16,
      CpuHasAdx() ? MontMulAdx : MontMul<kLimbs1024>, CpuHasAdx() ? MontSqrAdx : SqrPortable,
  };
  static const bool available = ifma52::CpuHasIfma();
  return available ? &field : nullptr;
}

}  // namespace mcx

#else  // not x86-64 with GCC or Clang

namespace mcx {
const LaneField* IfmaLaneField() { return nullptr; }
}  // namespace mcx

#endif
