#include "engine/math/inverse.h"

#include <gmp.h>

#include "base/pooled_random.h"
#include "base/secret.h"
#include "engine/math/ct_audit.h"

namespace mcx {
namespace {

// Blinds come from OpenSSL's generator through a per-thread pool: a blind is drawn for every
// single inversion, and RAND_bytes' fixed cost per call is a tenth of a P-256 [k]G.
OpenSslRandom& BlindSource() {
  static OpenSslRandom source;
  return source;
}

// A uniform value in [1, m-1] by rejection; about 2 draws on average for SAKKE's p and
// q, barely more than 1 for P-256's p. The branch is
// on the random draw, which is not secret and is thrown away when rejected.
template <size_t N>
Status DrawBlind(const Modulus<N>& mod, Limbs<N>& r) {
  int top_bits = 64;
  while (top_bits > 0 && ((mod.m[N - 1] >> (top_bits - 1)) & 1) == 0) --top_bits;
  const uint64_t top_mask = top_bits == 64 ? ~uint64_t{0} : (uint64_t{1} << top_bits) - 1;
  for (int attempt = 0; attempt < 256; ++attempt) {
    Status st = BlindSource().Fill({reinterpret_cast<uint8_t*>(r.data()), sizeof r});
    if (!st.ok()) return st.Annotate("blinding an inversion");
    r[N - 1] &= top_mask;
    if (LessThanMask(r, mod.m) != 0 && IsZeroMask(r) == 0) return Status::Ok();
  }
  return Status::Internal("the random generator keeps returning out-of-range blinds");
}

// Wipes an mpz_t's whole allocation, not only its current size.
void WipeLimbs(mpz_t z) {
  const size_t alloc = static_cast<size_t>(z->_mp_alloc);
  if (alloc > 0) SecureWipe(mpz_limbs_write(z, static_cast<mp_size_t>(alloc)), alloc * sizeof(mp_limb_t));
}

// GMP keeps the temporaries of mpz_invert (the gcd's cofactors) on the stack (alloca) and leaves
// them there. Called from the frame that called GMP, this overwrites the stack below it, where
// they were: 8 KiB, where mpz_invert was measured to reach under 5 KiB for 4 and 16 limbs.
[[gnu::noinline]] void WipeStackBelow() {
  unsigned char area[8192];
  SecureWipe(area, sizeof area);
}

// GMP's limbs, sized once: mpz_import and mpz_invert then never reallocate, so no copy of a value
// is freed unwiped on the way. One set per thread, wiped after every use and freed (wiped) when
// the thread ends: three allocations and frees per inversion were 3 % of a P-256 [k]G.
template <size_t N>
struct GmpTemporaries {
  GmpTemporaries() {
    for (mpz_ptr z : {bz, mz, iz}) mpz_init2(z, 64 * (N + 2));
  }
  ~GmpTemporaries() {
    Wipe();
    for (mpz_ptr z : {bz, mz, iz}) mpz_clear(z);
  }
  void Wipe() {
    for (mpz_ptr z : {bz, mz, iz}) WipeLimbs(z);
  }
  mpz_t bz, mz, iz;
};

template <size_t N>
GmpTemporaries<N>& ThreadGmpTemporaries() {
  thread_local GmpTemporaries<N> g;
  return g;
}

}  // namespace

template <size_t N>
Status BlindedInverse(const Modulus<N>& mod, const Limbs<N>& x, Limbs<N>& out) {
  // r unmasks b and bi, so none of the three outlives the call: they, GMP's limbs and GMP's
  // stack temporaries are wiped on every way out.
  struct Wiped {
    Limbs<N> r, b, bi{};
    ~Wiped() { SecureWipe(this, sizeof *this); }
  } w;
  MCX_RETURN_IF_ERROR(DrawBlind(mod, w.r));
  // b = x*r/R: uniform on [1, m-1] when x != 0, since r is uniform there and R is invertible.
  MontMul(mod, w.b, x, w.r);
  // Declassified: b is x masked by a fresh uniform r, so the gcd's timing reveals nothing of x.
  Declassify(w.b.data(), sizeof w.b);

  int invertible = 0;
  {
    GmpTemporaries<N>& g = ThreadGmpTemporaries<N>();
    mpz_import(g.bz, N, -1, sizeof(uint64_t), 0, 0, w.b.data());
    mpz_import(g.mz, N, -1, sizeof(uint64_t), 0, 0, mod.m.data());
    invertible = mpz_invert(g.iz, g.bz, g.mz);
    WipeStackBelow();
    if (invertible) mpz_export(w.bi.data(), nullptr, -1, sizeof(uint64_t), 0, 0, g.iz);
    g.Wipe();
  }
  if (!invertible) return Status::Internal("inverting zero (a bug: callers exclude it)");
  // bi = R/(x*r); bi*r/R = 1/x.
  MontMul(mod, out, w.bi, w.r);
  return Status::Ok();
}

template <size_t N>
Status BatchInverse(const Modulus<N>& mod, std::type_identity_t<std::span<Limbs<N>>> values,
                    std::type_identity_t<std::span<Limbs<N>>> scratch) {
  const size_t n = values.size();
  if (n == 0) return Status::Ok();
  if (scratch.size() < n) return Status::Internal("BatchInverse: scratch too small");
  // scratch[i] = v0*...*vi / R^i; each MontMul divides by R, which the unwinding undoes exactly.
  scratch[0] = values[0];
  for (size_t i = 1; i < n; ++i) MontMul(mod, scratch[i], scratch[i - 1], values[i]);
  struct Wiped {
    Limbs<N> inv, vi_inv;  // the inverse of scratch[i], walking down; one value's inverse
    ~Wiped() { SecureWipe(this, sizeof *this); }
  } w;
  MCX_RETURN_IF_ERROR(BlindedInverse(mod, scratch[n - 1], w.inv));
  for (size_t i = n - 1; i > 0; --i) {
    // scratch[i] = scratch[i-1]*v_i/R, so 1/v_i = scratch[i-1]*(1/scratch[i])/R and
    // 1/scratch[i-1] = v_i*(1/scratch[i])/R.
    MontMul(mod, w.vi_inv, scratch[i - 1], w.inv);
    MontMul(mod, w.inv, values[i], w.inv);
    values[i] = w.vi_inv;
  }
  values[0] = w.inv;
  return Status::Ok();
}

template Status BlindedInverse<4>(const Modulus<4>&, const Limbs<4>&, Limbs<4>&);
template Status BlindedInverse<16>(const Modulus<16>&, const Limbs<16>&, Limbs<16>&);
template Status BatchInverse<4>(const Modulus<4>&, std::span<Limbs<4>>, std::span<Limbs<4>>);
template Status BatchInverse<16>(const Modulus<16>&, std::span<Limbs<16>>, std::span<Limbs<16>>);

}  // namespace mcx
