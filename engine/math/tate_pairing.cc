#include "engine/math/tate_pairing.h"

namespace mcx {
namespace {

// F_p arithmetic in Montgomery form on BIGNUMs, with scratch space kept between calls.
class Fp {
 public:
  Fp() : ctx_(BN_CTX_new()), p_(ossl::BnFromHex(sakke::kP)), mont_(BN_MONT_CTX_new()) {
    BN_MONT_CTX_set(mont_.get(), p_.get(), ctx_.get());
  }
  ossl::Bn New() const { return ossl::NewBn(); }
  void ToMont(BIGNUM* r, const BIGNUM* a) { BN_to_montgomery(r, a, mont_.get(), ctx_.get()); }
  void FromMont(BIGNUM* r, const BIGNUM* a) { BN_from_montgomery(r, a, mont_.get(), ctx_.get()); }
  void Mul(BIGNUM* r, const BIGNUM* a, const BIGNUM* b) { BN_mod_mul_montgomery(r, a, b, mont_.get(), ctx_.get()); }
  void Add(BIGNUM* r, const BIGNUM* a, const BIGNUM* b) { BN_mod_add_quick(r, a, b, p_.get()); }
  void Sub(BIGNUM* r, const BIGNUM* a, const BIGNUM* b) { BN_mod_sub_quick(r, a, b, p_.get()); }
  const BIGNUM* p() const { return p_.get(); }
  BN_CTX* ctx() { return ctx_.get(); }
  bool ok() const { return ctx_ && p_ && mont_; }

 private:
  ossl::BnCtx ctx_;
  ossl::Bn p_;
  ossl::Mont mont_;
};

// An element a + ib of F_p^2, both parts in Montgomery form.
struct Fp2 {
  ossl::Bn a = ossl::NewBn(), b = ossl::NewBn();
};

}  // namespace

Result<SakkeFieldElement> SakkePairing(const EC_POINT* r_point, const EC_POINT* q_point) {
  Fp f;
  if (!f.ok()) return Status::Internal("cannot set up F_p arithmetic in OpenSSL");
  const EC_GROUP* group = SakkeGroup();

  // Affine coordinates of R (the Miller point) and Q (distorted at evaluation).
  ossl::Bn xr = f.New(), yr = f.New(), xq = f.New(), yq = f.New();
  if (EC_POINT_get_affine_coordinates(group, r_point, xr.get(), yr.get(), f.ctx()) != 1 ||
      EC_POINT_get_affine_coordinates(group, q_point, xq.get(), yq.get(), f.ctx()) != 1) {
    return Status::InvalidArgument("pairing input is the point at infinity");
  }
  for (BIGNUM* v : {xr.get(), yr.get(), xq.get(), yq.get()}) f.ToMont(v, v);

  // T = R in Jacobian coordinates (X, Y, Z), x = X/Z^2, y = Y/Z^3; Z = 1 in Montgomery form.
  ossl::Bn X = f.New(), Y = f.New(), Z = f.New();
  BN_copy(X.get(), xr.get());
  BN_copy(Y.get(), yr.get());
  f.ToMont(Z.get(), BN_value_one());

  Fp2 acc;  // the Miller function value, starts at 1
  BN_copy(acc.a.get(), Z.get());
  BN_zero(acc.b.get());

  ossl::Bn t0 = f.New(), t1 = f.New(), t2 = f.New(), t3 = f.New(), t4 = f.New(), t5 = f.New();
  ossl::Bn lre = f.New(), lim = f.New(), u = f.New(), w = f.New();

  // acc = acc * (lre + i lim), Karatsuba: 3 multiplications.
  auto mul_by_line = [&]() {
    f.Mul(t0.get(), acc.a.get(), lre.get());
    f.Mul(t1.get(), acc.b.get(), lim.get());
    f.Add(t2.get(), acc.a.get(), acc.b.get());
    f.Add(t3.get(), lre.get(), lim.get());
    f.Mul(t2.get(), t2.get(), t3.get());
    f.Sub(acc.a.get(), t0.get(), t1.get());
    f.Sub(t2.get(), t2.get(), t0.get());
    f.Sub(acc.b.get(), t2.get(), t1.get());
  };
  // acc = acc^2: (a + ib)^2 = (a + b)(a - b) + i 2ab.
  auto square_acc = [&]() {
    f.Add(t0.get(), acc.a.get(), acc.b.get());
    f.Sub(t1.get(), acc.a.get(), acc.b.get());
    f.Mul(t2.get(), acc.a.get(), acc.b.get());
    f.Mul(acc.a.get(), t0.get(), t1.get());
    f.Add(acc.b.get(), t2.get(), t2.get());
  };

  // Miller loop over the bits of q - 1 below the top one. The loop ends at T = [q-1]R = -R, and
  // the last line would be the vertical x - x_R, which is in F_p and dies in the final power, as
  // do all vertical lines (psi(Q) has its x in F_p).
  ossl::Bn n = ossl::NewBn();
  BN_copy(n.get(), SakkeOrder());
  BN_sub_word(n.get(), 1);
  for (int bit = BN_num_bits(n.get()) - 2; bit >= 0; --bit) {
    // Doubling, a = -3: delta = Z^2, gamma = Y^2, beta = X gamma, alpha = 3 (X - delta)(X + delta).
    // Line (scaled by 2 Y Z^3, an F_p factor): lre = alpha (xq delta + X) - 2 gamma,
    // lim = yq Z3 delta, with Z3 = 2 Y Z.
    f.Mul(t0.get(), Z.get(), Z.get());              // delta
    f.Mul(t1.get(), Y.get(), Y.get());              // gamma
    f.Mul(t2.get(), X.get(), t1.get());             // beta
    f.Sub(t3.get(), X.get(), t0.get());
    f.Add(t4.get(), X.get(), t0.get());
    f.Mul(t3.get(), t3.get(), t4.get());
    f.Add(t4.get(), t3.get(), t3.get());
    f.Add(t3.get(), t4.get(), t3.get());            // alpha
    f.Mul(u.get(), xq.get(), t0.get());
    f.Add(u.get(), u.get(), X.get());
    f.Mul(lre.get(), t3.get(), u.get());
    f.Sub(lre.get(), lre.get(), t1.get());
    f.Sub(lre.get(), lre.get(), t1.get());
    f.Mul(w.get(), Y.get(), Z.get());
    f.Add(w.get(), w.get(), w.get());               // Z3 = 2YZ
    f.Mul(lim.get(), yq.get(), w.get());
    f.Mul(lim.get(), lim.get(), t0.get());
    // X3 = alpha^2 - 8 beta; Y3 = alpha (4 beta - X3) - 8 gamma^2.
    f.Add(t2.get(), t2.get(), t2.get());
    f.Add(t2.get(), t2.get(), t2.get());            // 4 beta
    f.Mul(t4.get(), t3.get(), t3.get());
    f.Sub(t4.get(), t4.get(), t2.get());
    f.Sub(X.get(), t4.get(), t2.get());             // X3
    f.Sub(t2.get(), t2.get(), X.get());
    f.Mul(t2.get(), t3.get(), t2.get());
    f.Mul(t1.get(), t1.get(), t1.get());            // gamma^2
    f.Add(t1.get(), t1.get(), t1.get());
    f.Add(t1.get(), t1.get(), t1.get());
    f.Add(t1.get(), t1.get(), t1.get());            // 8 gamma^2
    f.Sub(Y.get(), t2.get(), t1.get());
    BN_copy(Z.get(), w.get());
    square_acc();
    mul_by_line();

    if (BN_is_bit_set(n.get(), bit)) {
      // Mixed addition T + R: U2 = xr Z^2, S2 = yr Z^3, H = U2 - X, r = S2 - Y, Z3 = Z H.
      // Line through R (scaled by Z3): lre = r (xq + xr) - yr Z3, lim = yq Z3.
      f.Mul(t0.get(), Z.get(), Z.get());
      f.Mul(t1.get(), xr.get(), t0.get());           // U2
      f.Mul(t2.get(), t0.get(), Z.get());
      f.Mul(t2.get(), t2.get(), yr.get());           // S2
      f.Sub(t1.get(), t1.get(), X.get());            // H
      f.Sub(t2.get(), t2.get(), Y.get());            // r
      f.Mul(w.get(), Z.get(), t1.get());             // Z3
      f.Add(u.get(), xq.get(), xr.get());
      f.Mul(lre.get(), t2.get(), u.get());
      f.Mul(u.get(), yr.get(), w.get());
      f.Sub(lre.get(), lre.get(), u.get());
      f.Mul(lim.get(), yq.get(), w.get());
      // HH = H^2, HHH = H HH, V = X HH; X3 = r^2 - HHH - 2V; Y3 = r (V - X3) - Y HHH.
      f.Mul(t3.get(), t1.get(), t1.get());           // HH
      f.Mul(t4.get(), t1.get(), t3.get());           // HHH
      f.Mul(t5.get(), X.get(), t3.get());            // V
      f.Mul(t0.get(), t2.get(), t2.get());
      f.Sub(t0.get(), t0.get(), t4.get());
      f.Sub(t0.get(), t0.get(), t5.get());
      f.Sub(X.get(), t0.get(), t5.get());            // X3
      f.Sub(t5.get(), t5.get(), X.get());
      f.Mul(t5.get(), t2.get(), t5.get());
      f.Mul(t4.get(), Y.get(), t4.get());
      f.Sub(Y.get(), t5.get(), t4.get());
      BN_copy(Z.get(), w.get());
      mul_by_line();
    }
  }

  // Final power. RFC 6508 works in PF_p = F_p^2* / F_p*, where the Miller value is already
  // defined only up to an F_p factor; its pairing is v^c with c = (p+1)/q = 4 there (checked
  // against g = <P,P> of RFC 6509). x^(p-1) = conj(x)^2 in PF_p, so the textbook reduced pairing
  // f^((p^2-1)/q) is the inverse square of this one: same bilinearity, another representative.
  for (int i = 0; i < 2; ++i) square_acc();

  // Represent a + ib by b / a.
  f.FromMont(acc.a.get(), acc.a.get());
  f.FromMont(acc.b.get(), acc.b.get());
  ossl::Bn inv = ossl::NewBn();
  if (BN_is_zero(acc.a.get()) || BN_mod_inverse(inv.get(), acc.a.get(), f.p(), f.ctx()) == nullptr) {
    return Status::InvalidArgument("pairing value has no representation in F_p (degenerate input)");
  }
  ossl::Bn out = ossl::NewBn();
  BN_mod_mul(out.get(), acc.b.get(), inv.get(), f.p(), f.ctx());
  SakkeFieldElement result;
  BN_bn2binpad(out.get(), result.data(), static_cast<int>(result.size()));
  return result;
}

}  // namespace mcx
