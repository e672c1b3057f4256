#include "engine/math/p256_comb.h"

#include <openssl/bn.h>

#include <vector>

#include "base/openssl_handles.h"
#include "engine/math/curves.h"
#include "engine/math/inverse.h"

namespace mcx::p256 {
namespace {

Fe ToMontgomery(const BIGNUM* v) {
  uint8_t be[32];
  BN_bn2binpad(v, be, sizeof be);
  Fe r = LimbsFromBytes<4>(be);
  FeMul(r, r, P256FieldModulus().r2);
  return r;
}

}  // namespace

// Window by window: the 64 multiples by repeated complete additions of the window's base, their
// Z inverted together; then the next window's base, 128 times this one.
std::unique_ptr<CombTable> BuildCombTable(const EC_POINT* base) {
  auto t = std::make_unique<CombTable>();
  const EC_GROUP* group = P256Group();
  ossl::BnCtx ctx(BN_CTX_new());
  ossl::Bn x = ossl::NewBn(), y = ossl::NewBn(), b = ossl::NewBn(), one = ossl::NewBn();
  if (!ctx || !x || !y || !b || !one || EC_GROUP_get_curve(group, nullptr, nullptr, b.get(), ctx.get()) != 1 ||
      EC_POINT_get_affine_coordinates(group, base, x.get(), y.get(), ctx.get()) != 1 || BN_one(one.get()) != 1) {
    return nullptr;
  }
  t->b = ToMontgomery(b.get());
  t->one = ToMontgomery(one.get());
  Affine window_base{ToMontgomery(x.get()), ToMontgomery(y.get())};

  const Fe& r3 = P256FieldModulus().r3;
  std::vector<Projective> multiples(kCombEntries);
  std::vector<Fe> z(kCombEntries), scratch(kCombEntries);
  for (int i = 0; i < kCombWindows; ++i) {
    multiples[0] = Projective{window_base.x, window_base.y, t->one};
    for (int j = 1; j < kCombEntries; ++j) AddMixed<FeMul>(t->b, multiples[j], multiples[j - 1], window_base);
    for (int j = 0; j < kCombEntries; ++j) z[j] = multiples[j].z;
    if (!BatchInverse(P256FieldModulus(), z, scratch).ok()) return nullptr;
    for (int j = 0; j < kCombEntries; ++j) {
      Fe z_inv;  // Montgomery form of 1/Z: (1/(Z R)) R^3 / R
      FeMul(z_inv, z[j], r3);
      FeMul(t->points[i][j].x, multiples[j].x, z_inv);
      FeMul(t->points[i][j].y, multiples[j].y, z_inv);
    }
    // The next window's base, 128 B = 64 B + 64 B (the complete formula doubles too).
    const Affine& last = t->points[i][kCombEntries - 1];
    Projective next;
    AddMixed<FeMul>(t->b, next, Projective{last.x, last.y, t->one}, last);
    Fe z_inv;
    if (!BlindedInverse(P256FieldModulus(), next.z, z_inv).ok()) return nullptr;
    FeMul(z_inv, z_inv, r3);
    FeMul(window_base.x, next.x, z_inv);
    FeMul(window_base.y, next.y, z_inv);
  }
  return t;
}

const CombTable& GeneratorCombTable() {
  static const std::unique_ptr<CombTable> table = BuildCombTable(EC_GROUP_get0_generator(P256Group()));
  return *table;
}

}  // namespace mcx::p256
