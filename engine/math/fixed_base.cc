#include "engine/math/fixed_base.h"

#include <gmp.h>
#include <openssl/err.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <vector>

#include "base/constant_time.h"
#include "base/secret.h"
#include "engine/math/ct_audit.h"
#include "engine/math/inverse.h"

namespace mcx {
namespace {

constexpr int kScalarBits = 1022;  // q < 2^1022
constexpr int kMaxLanes = 8;       // the widest field's (IFMA) lanes per vector

struct FixedBaseTable {
  int w = 0;              // digit width
  int windows = 0;        // digits per scalar
  size_t per_window = 0;  // entries per window, 2^(w-1): [1, 3, ..., 2^w - 1] * 2^(w i) P
  std::vector<uint64_t> entries;
  // The one-scalar path (MultiplyBaseSingle): its lane count, each lane's public start point
  // and the public point P that fills a lane's step without a window of its own.
  int single_lanes = 0;
  int single_steps = 0;
  std::vector<uint64_t> single_starts;  // single_lanes entries
  std::vector<uint64_t> single_filler;  // one entry: P

  const uint64_t* Window(int i, size_t entry_words) const {
    return entries.data() + static_cast<size_t>(i) * per_window * entry_words;
  }
};

// The smallest n such that the top digit, floor(k / 2^(w(n-1))) + carry, is at most 2^(w-1).
int WindowCount(int w) { return (kScalarBits + 1 + w - 1) / w; }

void StoreEntries(const LaneField& field, const EC_GROUP* group, std::vector<ossl::Point>& pts,
                  uint64_t* out, BN_CTX* ctx) {
  ossl::Bn x = ossl::NewBn(), y = ossl::NewBn();
  uint8_t bx[128], by[128];
  for (size_t j = 0; j < pts.size(); ++j) {
    EC_POINT_get_affine_coordinates(group, pts[j].get(), x.get(), y.get(), ctx);
    BN_bn2binpad(x.get(), bx, sizeof bx);
    BN_bn2binpad(y.get(), by, sizeof by);
    field.encode_entry(out + j * field.entry_words, LimbsFromBytes<kLimbs1024>(bx), LimbsFromBytes<kLimbs1024>(by));
  }
}

// U, a point of order 4 with [2]U = T = (0, 0). #E = p + 1 = 4q and T is the only point of
// order 2 (x^2 - 3 has no root: 3 is not a square mod p), so the 4-torsion is cyclic and
// x(U)^2 = -3 (the tangent at U passes through T). Public; checked here once.
ossl::Point OrderFourPoint(const EC_GROUP* group, const EC_POINT* order2, BN_CTX* ctx) {
  ossl::Bn p = ossl::NewBn(), x = ossl::NewBn(), three = ossl::NewBn();
  EC_GROUP_get_curve(group, p.get(), nullptr, nullptr, ctx);
  BN_set_word(three.get(), 3);
  BN_sub(x.get(), p.get(), three.get());
  BN_mod_sqrt(x.get(), x.get(), p.get(), ctx);
  ossl::Point u(EC_POINT_new(group));
  ossl::Point twice(EC_POINT_new(group));
  for (int attempt = 0; attempt < 2; ++attempt) {
    ERR_set_mark();
    const bool on_curve = EC_POINT_set_compressed_coordinates(group, u.get(), x.get(), 0, ctx) == 1;
    ERR_pop_to_mark();
    if (on_curve) break;
    BN_sub(x.get(), p.get(), x.get());  // the other root of -3
  }
  EC_POINT_dbl(group, twice.get(), u.get(), ctx);
  if (EC_POINT_cmp(group, twice.get(), order2, ctx) != 0) std::abort();  // public constants: a build bug
  return u;
}

// Lanes of the one-scalar path: lane l accumulates windows l, l + L, l + 2L, ...
int SingleLanes(const LaneField& field) {
  return field.single_lanes;
}

void BuildSingleStarts(const LaneField& field, FixedBaseTable& t, const EC_GROUP* group, const EC_POINT* order2,
                       BN_CTX* ctx) {
  const int lanes = SingleLanes(field);
  t.single_lanes = lanes;
  t.single_steps = (t.windows + lanes - 1) / lanes;
  ossl::Point u = OrderFourPoint(group, order2, ctx);
  ossl::Point minus_u(EC_POINT_dup(u.get(), group));
  EC_POINT_invert(group, minus_u.get(), ctx);
  const EC_POINT* gen = EC_GROUP_get0_generator(group);
  std::vector<ossl::Point> starts(static_cast<size_t>(lanes));
  for (int l = 0; l < lanes; ++l) {
    // Coset of the start (fixed_base.h): lane 0 -U (its window 0 adds T), the middle lanes T,
    // the last lane -U or U so that the cosets of all lanes' sums add up to zero.
    const EC_POINT* coset = l == 0 ? minus_u.get() : l + 1 < lanes ? order2 : (lanes - 2) % 2 == 0 ? minus_u.get() : u.get();
    ossl::Point& s = starts[static_cast<size_t>(l)];
    s.reset(EC_POINT_dup(coset, group));
    const int windows_here = (t.windows - l + lanes - 1) / lanes;
    if (windows_here < t.single_steps) {  // one step adds the filler P: start from coset - P
      ossl::Point minus_p(EC_POINT_dup(gen, group));
      EC_POINT_invert(group, minus_p.get(), ctx);
      EC_POINT_add(group, s.get(), s.get(), minus_p.get(), ctx);
    }
  }
  t.single_starts.resize(static_cast<size_t>(lanes) * field.entry_words);
  StoreEntries(field, group, starts, t.single_starts.data(), ctx);
  std::vector<ossl::Point> filler(1);
  filler[0].reset(EC_POINT_dup(gen, group));
  t.single_filler.resize(field.entry_words);
  StoreEntries(field, group, filler, t.single_filler.data(), ctx);
}

// Affine points of the public table, built with BIGNUM arithmetic and GMP's inversion. The table
// is public, so a variable-time inversion is fine here; OpenSSL's EC_POINT path inverts each
// point's Z by a constant-time exponentiation, which made the table cost a second per start-up.
class AffineTableBuilder {
 public:
  struct Point {
    ossl::Bn x = ossl::NewBn(), y = ossl::NewBn();
  };

  AffineTableBuilder() : ctx_(BN_CTX_new()) {
    EC_GROUP_get_curve(SakkeGroup(), p_.get(), nullptr, nullptr, ctx_.get());
    mpz_inits(gp_, gx_, nullptr);
    uint8_t buf[128];
    BN_bn2binpad(p_.get(), buf, sizeof buf);
    mpz_import(gp_, sizeof buf, 1, 1, 1, 0, buf);
  }
  ~AffineTableBuilder() { mpz_clears(gp_, gx_, nullptr); }
  AffineTableBuilder(const AffineTableBuilder&) = delete;
  AffineTableBuilder& operator=(const AffineTableBuilder&) = delete;

  Point Generator() {
    Point g;
    EC_POINT_get_affine_coordinates(SakkeGroup(), EC_GROUP_get0_generator(SakkeGroup()), g.x.get(), g.y.get(),
                                    ctx_.get());
    return g;
  }

  // r = a + b, for a != +-b (the table's multiples of P are distinct and never opposite).
  void Add(Point& r, const Point& a, const Point& b) {
    BN_mod_sub(num_.get(), b.y.get(), a.y.get(), p_.get(), ctx_.get());
    BN_mod_sub(den_.get(), b.x.get(), a.x.get(), p_.get(), ctx_.get());
    Finish(r, a, b.x.get());
  }

  // r = 2a on y^2 = x^3 - 3x.
  void Double(Point& r, const Point& a) {
    BN_mod_sqr(num_.get(), a.x.get(), p_.get(), ctx_.get());
    BN_sub_word(num_.get(), 1);
    BN_mul_word(num_.get(), 3);
    BN_nnmod(num_.get(), num_.get(), p_.get(), ctx_.get());
    BN_mod_add(den_.get(), a.y.get(), a.y.get(), p_.get(), ctx_.get());
    Finish(r, a, a.x.get());
  }

  void Copy(Point& r, const Point& a) {
    BN_copy(r.x.get(), a.x.get());
    BN_copy(r.y.get(), a.y.get());
  }

 private:
  // lambda = num / den; x3 = lambda^2 - a.x - other_x; y3 = lambda (a.x - x3) - a.y.
  void Finish(Point& r, const Point& a, const BIGNUM* other_x) {
    uint8_t buf[128];
    BN_bn2binpad(den_.get(), buf, sizeof buf);
    mpz_import(gx_, sizeof buf, 1, 1, 1, 0, buf);
    mpz_invert(gx_, gx_, gp_);  // public values: variable time is fine
    std::fill(std::begin(buf), std::end(buf), uint8_t{0});
    size_t n = 0;
    mpz_export(buf, &n, 1, 1, 1, 0, gx_);
    BN_bin2bn(buf, static_cast<int>(n), den_.get());
    BN_mod_mul(lambda_.get(), num_.get(), den_.get(), p_.get(), ctx_.get());
    BN_mod_sqr(t_.get(), lambda_.get(), p_.get(), ctx_.get());
    BN_mod_sub(t_.get(), t_.get(), a.x.get(), p_.get(), ctx_.get());
    BN_mod_sub(t_.get(), t_.get(), other_x, p_.get(), ctx_.get());
    BN_mod_sub(u_.get(), a.x.get(), t_.get(), p_.get(), ctx_.get());
    BN_mod_mul(u_.get(), lambda_.get(), u_.get(), p_.get(), ctx_.get());
    BN_mod_sub(r.y.get(), u_.get(), a.y.get(), p_.get(), ctx_.get());
    BN_copy(r.x.get(), t_.get());
  }

  ossl::BnCtx ctx_;
  mpz_t gp_, gx_;
  ossl::Bn p_ = ossl::NewBn(), num_ = ossl::NewBn(), den_ = ossl::NewBn(), lambda_ = ossl::NewBn(),
           t_ = ossl::NewBn(), u_ = ossl::NewBn();
};

void StoreAffine(const LaneField& field, const std::vector<AffineTableBuilder::Point>& pts, uint64_t* out) {
  uint8_t bx[128], by[128];
  for (size_t j = 0; j < pts.size(); ++j) {
    BN_bn2binpad(pts[j].x.get(), bx, sizeof bx);
    BN_bn2binpad(pts[j].y.get(), by, sizeof by);
    field.encode_entry(out + j * field.entry_words, LimbsFromBytes<kLimbs1024>(bx), LimbsFromBytes<kLimbs1024>(by));
  }
}

std::unique_ptr<FixedBaseTable> BuildTable(const LaneField& field) {
  auto t = std::make_unique<FixedBaseTable>();
  t->w = field.window_bits;
  t->windows = WindowCount(t->w);
  t->per_window = size_t{1} << (t->w - 1);
  t->entries.resize(static_cast<size_t>(t->windows) * t->per_window * field.entry_words);

  const EC_GROUP* group = SakkeGroup();
  ossl::BnCtx ctx(BN_CTX_new());
  ossl::Point order2(EC_POINT_new(group));  // T = (0, 0)
  ossl::Bn zero = ossl::NewBn();
  BN_zero(zero.get());
  EC_POINT_set_affine_coordinates(group, order2.get(), zero.get(), zero.get(), ctx.get());

  AffineTableBuilder b;
  AffineTableBuilder::Point base = b.Generator();  // 2^(w i) P
  AffineTableBuilder::Point twice, order2_affine;
  BN_zero(order2_affine.x.get());
  BN_zero(order2_affine.y.get());
  std::vector<AffineTableBuilder::Point> pts(t->per_window);
  for (int i = 0; i < t->windows; ++i) {
    b.Double(twice, base);
    b.Copy(pts[0], base);
    for (size_t j = 1; j < t->per_window; ++j) b.Add(pts[j], pts[j - 1], twice);
    if (i == 0) {
      // Window 0 carries T (fixed_base.h): odd multiples of P plus a point of order 2.
      for (auto& p : pts) b.Add(p, p, order2_affine);
    }
    StoreAffine(field, pts, t->entries.data() + static_cast<size_t>(i) * t->per_window * field.entry_words);
    for (int d = 0; d < t->w; ++d) b.Double(base, base);
  }
  BuildSingleStarts(field, *t, group, order2.get(), ctx.get());
  return t;
}

const FixedBaseTable& TableFor(const LaneField& field) {
  constexpr int kSlots = 6;  // LaneField::table_slot
  static std::once_flag once[kSlots];
  static std::unique_ptr<FixedBaseTable> tables[kSlots];
  const int slot = field.table_slot;
  if (slot < 0 || slot >= kSlots) std::abort();  // a LaneField definition bug
  std::call_once(once[slot], [&] { tables[slot] = BuildTable(field); });
  return *tables[slot];
}

uint32_t Bits(const Limbs1024& k, int pos, int len) {
  const int limb = pos / 64, shift = pos % 64;
  uint64_t v = limb < 16 ? k[limb] >> shift : 0;
  if (shift != 0 && limb + 1 < 16) v |= k[limb + 1] << (64 - shift);
  return static_cast<uint32_t>(v & ((uint64_t{1} << len) - 1));
}

// Regular signed recoding of an odd k: d_i = b_i + c_i - 2^w c_{i+1}, b_i the i-th w-bit chunk,
// c_0 = 0 and c_{i+1} = 1 - (lowest bit of b_{i+1}), so that b_{i+1} + c_{i+1} is odd. Each d_i
// is odd and |d_i| < 2^w; the sum telescopes to k; the top digit takes the rest. Branch-free:
// bit positions depend on i only.
void Recode(const Limbs1024& k, int w, int windows, int16_t* digits) {
  int32_t carry = 0;
  for (int i = 0; i + 1 < windows; ++i) {
    const int32_t b = static_cast<int32_t>(Bits(k, w * i, w));
    const int32_t next = 1 - static_cast<int32_t>(Bits(k, w * (i + 1), 1));
    digits[i] = static_cast<int16_t>(b + carry - (next << w));
    carry = next;
  }
  const int top_pos = w * (windows - 1);
  digits[windows - 1] = static_cast<int16_t>(static_cast<int32_t>(Bits(k, top_pos, kScalarBits - top_pos)) + carry);
}

// Vectors of affine points, `groups` vectors of f.lanes lanes each: accumulators (X, Y) and the
// points (Tx, Ty) to add, every lane at once, sharing one inversion.
class AffineLanes {
 public:
  AffineLanes(const LaneField& f, size_t groups) : f_(f), groups_(groups), mem_((6 * groups + 4) * f.words) {}
  ~AffineLanes() { SecureWipe(mem_.data(), mem_.size() * sizeof(uint64_t)); }

  size_t groups() const { return groups_; }
  uint64_t* X(size_t g) { return Vec(0, g); }   // accumulator
  uint64_t* Y(size_t g) { return Vec(1, g); }
  uint64_t* Tx(size_t g) { return Vec(2, g); }  // the point added next
  uint64_t* Ty(size_t g) { return Vec(3, g); }

  // (X, Y) += (Tx, Ty) in every lane, affine, sharing one inversion: the running products
  // C(g) = D(0)...D(g) are inverted once, then unwound from the top. No lane may be exceptional
  // (equal or opposite points); the callers' offsets rule that out.
  Status Add() {
    const size_t n = groups_;
    for (size_t g = 0; g < n; ++g) f_.sub(D(g), Tx(g), X(g));
    std::copy(D(0), D(0) + f_.words, C(0));
    for (size_t g = 1; g < n; ++g) f_.mul(C(g), C(g - 1), D(g));
    uint64_t* inv = Scratch(0);   // 1/C(g) as g walks down
    uint64_t* dinv = Scratch(1);  // 1/D(g)
    MCX_RETURN_IF_ERROR(f_.invert(inv, C(n - 1)));
    for (size_t g = n; g-- > 0;) {
      if (g > 0) {
        f_.mul(dinv, inv, C(g - 1));  // 1/D(g) = C(g-1)/C(g)
        f_.mul(inv, inv, D(g));       // 1/C(g-1) = D(g)/C(g)
      } else {
        std::copy(inv, inv + f_.words, dinv);
      }
      AddWithInverse(g, dinv);
    }
    return Status::Ok();
  }

 private:
  uint64_t* Vec(size_t array, size_t g) { return mem_.data() + (array * groups_ + g) * f_.words; }
  uint64_t* D(size_t g) { return Vec(4, g); }   // x differences
  uint64_t* C(size_t g) { return Vec(5, g); }   // running products of D
  uint64_t* Scratch(size_t i) { return mem_.data() + (6 * groups_ + i) * f_.words; }

  // lambda = (y2 - y1)/(x2 - x1), x3 = lambda^2 - x1 - x2, y3 = lambda (x1 - x3) - y1.
  void AddWithInverse(size_t g, const uint64_t* dinv) {
    uint64_t* lambda = Scratch(2);
    uint64_t* t = Scratch(3);
    f_.sub(t, Ty(g), Y(g));
    f_.mul(lambda, t, dinv);
    f_.sqr(t, lambda);
    f_.sub(t, t, X(g));
    f_.sub(t, t, Tx(g));    // x3
    f_.sub(Tx(g), X(g), t);  // x1 - x3; x2 is no longer needed
    std::copy(t, t + f_.words, X(g));
    f_.mul(t, lambda, Tx(g));
    f_.sub(Y(g), t, Y(g));
  }

  const LaneField& f_;
  size_t groups_;
  std::vector<uint64_t> mem_;
};

// Writes the plain affine point (x, y), y negated where flip is all ones, as an SEC1 point.
void StorePoint(Limbs1024 x, Limbs1024 y, uint64_t flip, SakkePoint& out) {
  const Modulus1024& p = SakkeFieldModulus();
  Limbs1024 neg_y;
  const Limbs1024 zero{};
  SubMod(p, neg_y, zero, y);
  Select(y, flip, neg_y, y);
  out[0] = 0x04;
  LimbsToBytes<kLimbs1024>(x, std::span<uint8_t, 128>(out.data() + 1, 128));
  LimbsToBytes<kLimbs1024>(y, std::span<uint8_t, 128>(out.data() + 129, 128));
  SecureWipe(neg_y.data(), sizeof neg_y);
}

// k itself when odd, else q - k (also odd; [k]P = -[q - k]P); flip is all ones in the second case.
Limbs1024 OddScalar(const Limbs1024& k, uint64_t& flip) {
  Limbs1024 neg, r;
  const Limbs1024 zero{};
  SubMod(SakkeOrderModulus(), neg, zero, k);
  flip = ct::IsZero(k[0] & 1);
  Select(r, flip, neg, k);
  SecureWipe(neg.data(), sizeof neg);
  return r;
}

// A signed odd digit d as the table index of |d| (entries hold 1, 3, 5, ... times the window's
// point) and an all-ones negate word when d < 0. d is secret.
uint32_t DigitIndex(int32_t d, uint64_t& negate) {
  const uint64_t word = static_cast<uint64_t>(static_cast<int64_t>(d));
  const uint64_t negative = ct::Msb(word);
  const uint64_t magnitude = (word ^ negative) - negative;  // |d|: odd, 1 .. 2^w - 1
  negate = negative;
  return static_cast<uint32_t>((magnitude - 1) >> 1);
}

// Sets lane `lane` of (x, y) to entries[index] of a window (or a one-entry table), negated when
// the digit is negative. index and sign are secret.
void SelectDigit(const LaneField& f, uint64_t* x, uint64_t* y, int lane, const uint64_t* entries, size_t count,
                 int32_t d, uint64_t* negate) {
  f.select(x, y, lane, entries, count, DigitIndex(d, negate[lane]));
}

// One batch of up to field.batch scalars through one LaneField, one lane per scalar.
class Batch {
 public:
  Batch(const LaneField& f, const FixedBaseTable& t, size_t count)
      : f_(f), t_(t), count_(count), lanes_(((count + f.lanes - 1) / f.lanes) * f.lanes),
        acc_(f, (count + f.lanes - 1) / f.lanes), digits_(lanes_ * t.windows), flip_(lanes_) {}
  ~Batch() {
    SecureWipe(digits_.data(), digits_.size() * sizeof(int16_t));
    SecureWipe(flip_.data(), flip_.size() * sizeof(uint64_t));
  }

  Status Run(std::span<const Limbs1024> scalars, std::span<SakkePoint> out) {
    for (size_t l = 0; l < lanes_; ++l) {
      Limbs1024 k{};
      k[0] = 1;  // padding lanes compute [1]P, which is public
      if (l < count_) k = OddScalar(scalars[l], flip_[l]);
      Recode(k, t_.w, t_.windows, &digits_[l * t_.windows]);
      SecureWipe(k.data(), sizeof k);
    }
    Lookup(0, true);
    for (int i = 1; i < t_.windows; ++i) {
      Lookup(i, false);
      MCX_RETURN_IF_ERROR(acc_.Add());
    }
    // + T = (0, 0), whose Montgomery form is all zero in every path.
    for (size_t g = 0; g < acc_.groups(); ++g) {
      std::fill(acc_.Tx(g), acc_.Tx(g) + f_.words, 0);
      std::fill(acc_.Ty(g), acc_.Ty(g) + f_.words, 0);
    }
    MCX_RETURN_IF_ERROR(acc_.Add());

    for (size_t l = 0; l < count_; ++l) {
      const size_t g = l / f_.lanes;
      const int lane = static_cast<int>(l % f_.lanes);
      Limbs1024 x, y;
      f_.to_plain(x, acc_.X(g), lane);
      f_.to_plain(y, acc_.Y(g), lane);
      StorePoint(x, y, flip_[l], out[l]);
    }
    return Status::Ok();
  }

 private:
  // The window-i entry of each lane's digit, into the accumulator (first) or the addend.
  void Lookup(int i, bool first) {
    const uint64_t* window = t_.Window(i, f_.entry_words);
    uint64_t negate[kMaxLanes];
    uint32_t index[kMaxLanes];
    for (size_t g = 0; g < acc_.groups(); ++g) {
      uint64_t* x = first ? acc_.X(g) : acc_.Tx(g);
      uint64_t* y = first ? acc_.Y(g) : acc_.Ty(g);
      for (int lane = 0; lane < f_.lanes; ++lane) {
        index[lane] = DigitIndex(digits_[(g * f_.lanes + lane) * t_.windows + i], negate[lane]);
      }
      f_.select_lanes(x, y, window, t_.per_window, index);
      f_.negate_lanes(y, negate);
    }
    SecureWipe(negate, sizeof negate);
    SecureWipe(index, sizeof index);
  }

  const LaneField& f_;
  const FixedBaseTable& t_;
  size_t count_, lanes_;
  AffineLanes acc_;
  std::vector<int16_t> digits_;
  std::vector<uint64_t> flip_;
};

// Jacobian point (X, Y, Z), x = X/Z^2, y = Y/Z^3, coordinates in Montgomery form mod p.
struct Jacobian {
  Limbs1024 x, y, z;
};

// acc += (x2, y2) (affine, Montgomery form) with the general mixed addition (7M + 4S). Valid
// only when acc is not the identity and acc != +-(x2, y2) (H = x2 Z^2 - X != 0), which the cosets
// of MultiplyBaseSingle guarantee.
void MixedAdd(const LaneField& f, Jacobian& acc, const Limbs1024& x2, const Limbs1024& y2) {
  const Modulus1024& p = SakkeFieldModulus();
  Limbs1024 zz, u2, s2, h, r, hh, hhh, v, t;
  f.scalar_sqr(p, zz, acc.z);
  f.scalar_mul(p, u2, x2, zz);
  f.scalar_mul(p, s2, y2, acc.z);
  f.scalar_mul(p, s2, s2, zz);
  SubMod(p, h, u2, acc.x);
  SubMod(p, r, s2, acc.y);
  f.scalar_sqr(p, hh, h);
  f.scalar_mul(p, hhh, h, hh);
  f.scalar_mul(p, v, acc.x, hh);
  f.scalar_sqr(p, t, r);
  SubMod(p, t, t, hhh);
  SubMod(p, t, t, v);
  SubMod(p, t, t, v);      // X3 = r^2 - H^3 - 2V
  SubMod(p, v, v, t);      // V - X3
  f.scalar_mul(p, v, r, v);
  f.scalar_mul(p, hhh, acc.y, hhh);
  SubMod(p, acc.y, v, hhh);  // Y3 = r (V - X3) - Y1 H^3
  acc.x = t;
  f.scalar_mul(p, acc.z, acc.z, h);  // Z3 = Z1 H
  for (Limbs1024* w : {&zz, &u2, &s2, &h, &r, &hh, &hhh, &v, &t}) SecureWipe(w->data(), sizeof(Limbs1024));
}

// One scalar, its windows spread over the lanes (fixed_base.h: MultiplyBaseSingle).
class Single {
 public:
  Single(const LaneField& f, const FixedBaseTable& t)
      : f_(f), t_(t), lanes_(static_cast<size_t>(t.single_lanes)), acc_(f, lanes_ / f.lanes), digits_(t.windows) {}
  ~Single() { SecureWipe(digits_.data(), digits_.size() * sizeof(int16_t)); }

  Status Run(const Limbs1024& scalar, SakkePoint& out) {
    uint64_t flip = 0;
    Limbs1024 k = OddScalar(scalar, flip);
    Recode(k, t_.w, t_.windows, digits_.data());
    SecureWipe(k.data(), sizeof k);

    // Each lane starts from its public start point (index 0 of a one-entry table).
    uint64_t negate[kMaxLanes] = {};
    for (size_t l = 0; l < lanes_; ++l) {
      const size_t g = l / f_.lanes;
      f_.select(acc_.X(g), acc_.Y(g), static_cast<int>(l % f_.lanes), t_.single_starts.data() + l * f_.entry_words, 1, 0);
    }
    for (int step = 0; step < t_.single_steps; ++step) {
      for (size_t g = 0; g < acc_.groups(); ++g) {
        for (int lane = 0; lane < f_.lanes; ++lane) {
          const int window = static_cast<int>(g * f_.lanes) + lane + step * static_cast<int>(lanes_);
          if (window < t_.windows) {  // public: which lane takes which window depends on positions only
            SelectDigit(f_, acc_.Tx(g), acc_.Ty(g), lane, t_.Window(window, f_.entry_words), t_.per_window,
                        digits_[static_cast<size_t>(window)], negate);
          } else {
            SelectDigit(f_, acc_.Tx(g), acc_.Ty(g), lane, t_.single_filler.data(), 1, 1, negate);
          }
        }
        f_.negate_lanes(acc_.Ty(g), negate);
      }
      MCX_RETURN_IF_ERROR(acc_.Add());
    }

    // Sum the lanes in Jacobian coordinates, lane 0 first, then one final (blinded) inversion.
    const Modulus1024& p = SakkeFieldModulus();
    Jacobian sum;
    Limbs1024 x, y;
    const Limbs1024 one{1};
    for (size_t l = 0; l < lanes_; ++l) {
      const size_t g = l / f_.lanes;
      const int lane = static_cast<int>(l % f_.lanes);
      f_.to_montgomery16(x, acc_.X(g), lane);
      f_.to_montgomery16(y, acc_.Y(g), lane);
      if (l == 0) {
        sum.x = x;
        sum.y = y;
        f_.scalar_mul(p, sum.z, one, p.r2);
      } else {
        MixedAdd(f_, sum, x, y);
      }
    }
    Limbs1024 zinv, zinv2;
    Status st = BlindedInverse(p, sum.z, zinv);  // 1/(Z R), plain
    if (st.ok()) {
      f_.scalar_mul(p, zinv, zinv, p.r3);  // (1/Z) R
      f_.scalar_sqr(p, zinv2, zinv);
      f_.scalar_mul(p, x, sum.x, zinv2);
      f_.scalar_mul(p, zinv2, zinv2, zinv);
      f_.scalar_mul(p, y, sum.y, zinv2);
      f_.scalar_mul(p, x, x, one);  // out of Montgomery form
      f_.scalar_mul(p, y, y, one);
      StorePoint(x, y, flip, out);
    }
    for (Limbs1024* w : {&sum.x, &sum.y, &sum.z, &x, &y, &zinv, &zinv2}) SecureWipe(w->data(), sizeof(Limbs1024));
    return st;
  }

 private:
  const LaneField& f_;
  const FixedBaseTable& t_;
  size_t lanes_;
  AffineLanes acc_;
  std::vector<int16_t> digits_;
};

}  // namespace

Status MultiplyBaseBatch(const LaneField& field, std::span<const Limbs1024> scalars, std::span<SakkePoint> out) {
  if (out.size() != scalars.size()) return Status::Internal("MultiplyBaseBatch: size mismatch");
  if (field.lanes > kMaxLanes) return Status::Internal("MultiplyBaseBatch: more lanes than kMaxLanes");
  const FixedBaseTable& table = TableFor(field);
  const size_t per_batch = field.batch;
  for (size_t start = 0; start < scalars.size(); start += per_batch) {
    const size_t n = std::min(per_batch, scalars.size() - start);
    Batch batch(field, table, n);
    MCX_RETURN_IF_ERROR(batch.Run(scalars.subspan(start, n), out.subspan(start, n)));
  }
  return Status::Ok();
}

Status MultiplyBaseSingle(const LaneField& field, const Limbs1024& scalar, SakkePoint& out) {
  if (field.lanes > kMaxLanes) return Status::Internal("MultiplyBaseSingle: more lanes than kMaxLanes");
  Single single(field, TableFor(field));
  return single.Run(scalar, out);
}

void PrepareFixedBaseTable(const LaneField& field) { (void)TableFor(field); }

}  // namespace mcx
