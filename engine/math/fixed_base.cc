#include "engine/math/fixed_base.h"

#include <algorithm>
#include <memory>
#include <mutex>
#include <vector>

#include "engine/base/secret.h"
#include "engine/math/ct_audit.h"

namespace mcx {
namespace {

constexpr int kScalarBits = 1022;  // q < 2^1022

struct FixedBaseTable {
  int w = 0;              // digit width
  int windows = 0;        // digits per scalar
  size_t per_window = 0;  // entries per window, 2^(w-1): [1, 3, ..., 2^w - 1] * 2^(w i) P
  std::vector<uint64_t> entries;

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

std::unique_ptr<FixedBaseTable> BuildTable(const LaneField& field) {
  auto t = std::make_unique<FixedBaseTable>();
  t->w = field.window_bits;
  t->windows = WindowCount(t->w);
  t->per_window = size_t{1} << (t->w - 1);
  t->entries.resize(static_cast<size_t>(t->windows) * t->per_window * field.entry_words);

  const EC_GROUP* group = SakkeGroup();
  ossl::BnCtx ctx(BN_CTX_new());
  ossl::Point base(EC_POINT_dup(EC_GROUP_get0_generator(group), group));  // 2^(w i) P
  ossl::Point twice(EC_POINT_new(group));
  ossl::Point order2(EC_POINT_new(group));  // T = (0, 0)
  ossl::Bn zero = ossl::NewBn();
  BN_zero(zero.get());
  EC_POINT_set_affine_coordinates(group, order2.get(), zero.get(), zero.get(), ctx.get());

  std::vector<ossl::Point> pts(t->per_window);
  for (auto& p : pts) p.reset(EC_POINT_new(group));
  for (int i = 0; i < t->windows; ++i) {
    EC_POINT_dbl(group, twice.get(), base.get(), ctx.get());
    EC_POINT_copy(pts[0].get(), base.get());
    for (size_t j = 1; j < t->per_window; ++j) EC_POINT_add(group, pts[j].get(), pts[j - 1].get(), twice.get(), ctx.get());
    if (i == 0) {
      for (auto& p : pts) EC_POINT_add(group, p.get(), p.get(), order2.get(), ctx.get());
    }
    StoreEntries(field, group, pts, t->entries.data() + static_cast<size_t>(i) * t->per_window * field.entry_words,
                 ctx.get());
    for (int b = 0; b < t->w; ++b) EC_POINT_dbl(group, base.get(), base.get(), ctx.get());
  }
  return t;
}

const FixedBaseTable& TableFor(const LaneField& field) {
  static std::once_flag once[2];
  static std::unique_ptr<FixedBaseTable> tables[2];
  const int slot = &field == &PortableLaneField() ? 0 : 1;
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

// One batch of up to kFixedBaseBatch scalars through one LaneField.
class Batch {
 public:
  Batch(const LaneField& f, const FixedBaseTable& t, size_t count)
      : f_(f), t_(t), count_(count), groups_((count + f.lanes - 1) / f.lanes),
        lanes_(groups_ * f.lanes), mem_((6 * groups_ + 4) * f.words),
        digits_(lanes_ * t.windows), flip_(lanes_) {}
  ~Batch() {
    SecureWipe(mem_.data(), mem_.size() * sizeof(uint64_t));
    SecureWipe(digits_.data(), digits_.size() * sizeof(int16_t));
    SecureWipe(flip_.data(), flip_.size() * sizeof(uint64_t));
  }

  Status Run(std::span<const Limbs1024> scalars, std::span<SakkePoint> out) {
    const Modulus1024& q = SakkeOrderModulus();
    for (size_t l = 0; l < lanes_; ++l) {
      Limbs1024 k{};
      k[0] = 1;  // padding lanes compute [1]P, which is public
      if (l < count_) {
        // [k]P = -[q - k]P; take whichever of k, q - k is odd, so the recoding applies.
        Limbs1024 neg;
        const Limbs1024 zero{};
        SubMod(q, neg, zero, scalars[l]);
        flip_[l] = (scalars[l][0] & 1) - 1;
        Select(k, flip_[l], neg, scalars[l]);
      }
      Recode(k, t_.w, t_.windows, &digits_[l * t_.windows]);
    }
    Lookup(0, X(0), Y(0));
    for (int i = 1; i < t_.windows; ++i) {
      Lookup(i, Tx(0), Ty(0));
      MCX_RETURN_IF_ERROR(Add());
    }
    // + T = (0, 0), whose Montgomery form is all zero in every path.
    std::fill(mem_.begin() + static_cast<std::ptrdiff_t>(2 * groups_ * f_.words),
              mem_.begin() + static_cast<std::ptrdiff_t>(4 * groups_ * f_.words), 0);
    MCX_RETURN_IF_ERROR(Add());

    const Modulus1024& p = SakkeFieldModulus();
    for (size_t l = 0; l < count_; ++l) {
      const size_t g = l / f_.lanes;
      const int lane = static_cast<int>(l % f_.lanes);
      Limbs1024 x, y, neg_y;
      const Limbs1024 zero{};
      f_.to_plain(x, X(g), lane);
      f_.to_plain(y, Y(g), lane);
      SubMod(p, neg_y, zero, y);
      Select(y, flip_[l], neg_y, y);
      out[l][0] = 0x04;
      LimbsToBytes<kLimbs1024>(x, std::span<uint8_t, 128>(out[l].data() + 1, 128));
      LimbsToBytes<kLimbs1024>(y, std::span<uint8_t, 128>(out[l].data() + 129, 128));
    }
    return Status::Ok();
  }

 private:
  uint64_t* Vec(size_t array, size_t g) { return mem_.data() + (array * groups_ + g) * f_.words; }
  uint64_t* X(size_t g) { return Vec(0, g); }   // accumulator
  uint64_t* Y(size_t g) { return Vec(1, g); }
  uint64_t* Tx(size_t g) { return Vec(2, g); }  // the table point added this window
  uint64_t* Ty(size_t g) { return Vec(3, g); }
  uint64_t* D(size_t g) { return Vec(4, g); }   // x differences
  uint64_t* C(size_t g) { return Vec(5, g); }   // running products of D
  uint64_t* Scratch(size_t i) { return mem_.data() + (6 * groups_ + i) * f_.words; }

  // (x, y)[g] = the window-i entry of each lane's digit, negated for negative digits.
  void Lookup(int i, uint64_t* x, uint64_t* y) {
    const uint64_t* window = t_.Window(i, f_.entry_words);
    uint64_t negate[8];
    for (size_t g = 0; g < groups_; ++g) {
      for (int lane = 0; lane < f_.lanes; ++lane) {
        const int32_t d = digits_[(g * f_.lanes + lane) * t_.windows + i];
        const int32_t sign = d >> 31;                  // 0 or -1
        const int32_t magnitude = (d ^ sign) - sign;   // odd, 1 .. 2^w - 1
        negate[lane] = static_cast<uint64_t>(static_cast<int64_t>(sign));
        f_.select(x + g * f_.words, y + g * f_.words, lane, window, t_.per_window,
                  static_cast<uint32_t>(magnitude - 1) >> 1);
      }
      f_.negate_lanes(y + g * f_.words, negate);
    }
  }

  // (X, Y) += (Tx, Ty) in every lane, affine, sharing one inversion: the running products
  // C(g) = D(0)...D(g) are inverted once, then unwound from the top.
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
  const FixedBaseTable& t_;
  size_t count_, groups_, lanes_;
  std::vector<uint64_t> mem_;
  std::vector<int16_t> digits_;
  std::vector<uint64_t> flip_;
};

}  // namespace

Status MultiplyBaseBatch(const LaneField& field, std::span<const Limbs1024> scalars, std::span<SakkePoint> out) {
  if (out.size() != scalars.size()) return Status::Internal("MultiplyBaseBatch: size mismatch");
  const FixedBaseTable& table = TableFor(field);
  for (size_t start = 0; start < scalars.size(); start += kFixedBaseBatch) {
    const size_t n = std::min(kFixedBaseBatch, scalars.size() - start);
    Batch batch(field, table, n);
    MCX_RETURN_IF_ERROR(batch.Run(scalars.subspan(start, n), out.subspan(start, n)));
  }
  return Status::Ok();
}

void PrepareFixedBaseTable(const LaneField& field) { (void)TableFor(field); }

}  // namespace mcx
