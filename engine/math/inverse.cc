#include "engine/math/inverse.h"

#include <gmp.h>
#include <openssl/rand.h>

#include "engine/math/ct_audit.h"

namespace mcx {
namespace {

// A uniform value in [1, m-1] by rejection; about 2 draws on average for p and q. The branch is
// on the random draw, which is not secret and is thrown away when rejected.
Status DrawBlind(const Modulus1024& mod, Limbs1024& r) {
  int top_bits = 64;
  while (top_bits > 0 && ((mod.m[kLimbs1024 - 1] >> (top_bits - 1)) & 1) == 0) --top_bits;
  const uint64_t top_mask = top_bits == 64 ? ~uint64_t{0} : (uint64_t{1} << top_bits) - 1;
  for (int attempt = 0; attempt < 256; ++attempt) {
    if (RAND_bytes(reinterpret_cast<unsigned char*>(r.data()), sizeof r) != 1) {
      return Status::Unavailable("the OpenSSL random generator failed while blinding an inversion");
    }
    r[kLimbs1024 - 1] &= top_mask;
    if (LessThanMask(r, mod.m) != 0 && IsZeroMask(r) == 0) return Status::Ok();
  }
  return Status::Internal("the random generator keeps returning out-of-range blinds");
}

}  // namespace

Status BlindedInverse(const Modulus1024& mod, const Limbs1024& x, Limbs1024& out) {
  Limbs1024 r;
  MCX_RETURN_IF_ERROR(DrawBlind(mod, r));
  // b = x*r/R: uniform on [1, m-1] when x != 0, since r is uniform there and R is invertible.
  Limbs1024 b;
  MontMul(mod, b, x, r);
  // Declassified: b is x masked by a fresh uniform r, so the gcd's timing reveals nothing of x.
  Declassify(b.data(), sizeof b);

  mpz_t bz, mz, iz;
  mpz_inits(bz, mz, iz, nullptr);
  mpz_import(bz, kLimbs1024, -1, sizeof(uint64_t), 0, 0, b.data());
  mpz_import(mz, kLimbs1024, -1, sizeof(uint64_t), 0, 0, mod.m.data());
  const int invertible = mpz_invert(iz, bz, mz);
  Limbs1024 bi{};
  if (invertible) mpz_export(bi.data(), nullptr, -1, sizeof(uint64_t), 0, 0, iz);
  mpz_clears(bz, mz, iz, nullptr);
  if (!invertible) return Status::Internal("inverting zero (a bug: callers exclude it)");
  // bi = R/(x*r); bi*r/R = 1/x.
  MontMul(mod, out, bi, r);
  return Status::Ok();
}

Status BatchInverse(const Modulus1024& mod, std::span<Limbs1024> values, std::span<Limbs1024> scratch) {
  const size_t n = values.size();
  if (n == 0) return Status::Ok();
  if (scratch.size() < n) return Status::Internal("BatchInverse: scratch too small");
  // scratch[i] = v0*...*vi / R^i; each MontMul divides by R, which the unwinding undoes exactly.
  scratch[0] = values[0];
  for (size_t i = 1; i < n; ++i) MontMul(mod, scratch[i], scratch[i - 1], values[i]);
  Limbs1024 inv;  // inverse of scratch[i], walking down
  MCX_RETURN_IF_ERROR(BlindedInverse(mod, scratch[n - 1], inv));
  for (size_t i = n - 1; i > 0; --i) {
    // scratch[i] = scratch[i-1]*v_i/R, so 1/v_i = scratch[i-1]*(1/scratch[i])/R and
    // 1/scratch[i-1] = v_i*(1/scratch[i])/R.
    Limbs1024 vi_inv;
    MontMul(mod, vi_inv, scratch[i - 1], inv);
    MontMul(mod, inv, values[i], inv);
    values[i] = vi_inv;
  }
  values[0] = inv;
  return Status::Ok();
}

}  // namespace mcx
