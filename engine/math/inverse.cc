#include "engine/math/inverse.h"

#include <gmp.h>

#include "base/pooled_random.h"
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

}  // namespace

template <size_t N>
Status BlindedInverse(const Modulus<N>& mod, const Limbs<N>& x, Limbs<N>& out) {
  Limbs<N> r;
  MCX_RETURN_IF_ERROR(DrawBlind(mod, r));
  // b = x*r/R: uniform on [1, m-1] when x != 0, since r is uniform there and R is invertible.
  Limbs<N> b;
  MontMul(mod, b, x, r);
  // Declassified: b is x masked by a fresh uniform r, so the gcd's timing reveals nothing of x.
  Declassify(b.data(), sizeof b);

  mpz_t bz, mz, iz;
  mpz_inits(bz, mz, iz, nullptr);
  mpz_import(bz, N, -1, sizeof(uint64_t), 0, 0, b.data());
  mpz_import(mz, N, -1, sizeof(uint64_t), 0, 0, mod.m.data());
  const int invertible = mpz_invert(iz, bz, mz);
  Limbs<N> bi{};
  if (invertible) mpz_export(bi.data(), nullptr, -1, sizeof(uint64_t), 0, 0, iz);
  mpz_clears(bz, mz, iz, nullptr);
  if (!invertible) return Status::Internal("inverting zero (a bug: callers exclude it)");
  // bi = R/(x*r); bi*r/R = 1/x.
  MontMul(mod, out, bi, r);
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
  Limbs<N> inv;  // inverse of scratch[i], walking down
  MCX_RETURN_IF_ERROR(BlindedInverse(mod, scratch[n - 1], inv));
  for (size_t i = n - 1; i > 0; --i) {
    // scratch[i] = scratch[i-1]*v_i/R, so 1/v_i = scratch[i-1]*(1/scratch[i])/R and
    // 1/scratch[i-1] = v_i*(1/scratch[i])/R.
    Limbs<N> vi_inv;
    MontMul(mod, vi_inv, scratch[i - 1], inv);
    MontMul(mod, inv, values[i], inv);
    values[i] = vi_inv;
  }
  values[0] = inv;
  return Status::Ok();
}

template Status BlindedInverse<4>(const Modulus<4>&, const Limbs<4>&, Limbs<4>&);
template Status BlindedInverse<16>(const Modulus<16>&, const Limbs<16>&, Limbs<16>&);
template Status BatchInverse<4>(const Modulus<4>&, std::span<Limbs<4>>, std::span<Limbs<4>>);
template Status BatchInverse<16>(const Modulus<16>&, std::span<Limbs<16>>, std::span<Limbs<16>>);

}  // namespace mcx
