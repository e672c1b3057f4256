// The portable LaneField: one lane, the 16-limb Montgomery arithmetic of montgomery.h.
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "base/constant_time.h"
#include "engine/math/inverse.h"
#include "engine/math/lane_field.h"

namespace mcx {
namespace {

const Modulus1024& P() { return SakkeFieldModulus(); }

Limbs1024& AsLimbs(uint64_t* w) { return *reinterpret_cast<Limbs1024*>(w); }
const Limbs1024& AsLimbs(const uint64_t* w) { return *reinterpret_cast<const Limbs1024*>(w); }

void Mul(uint64_t* r, const uint64_t* a, const uint64_t* b) { MontMul(P(), AsLimbs(r), AsLimbs(a), AsLimbs(b)); }
void Sqr(uint64_t* r, const uint64_t* a) { MontMul(P(), AsLimbs(r), AsLimbs(a), AsLimbs(a)); }
void Sub(uint64_t* r, const uint64_t* a, const uint64_t* b) { SubMod(P(), AsLimbs(r), AsLimbs(a), AsLimbs(b)); }

Status Invert(uint64_t* r, const uint64_t* a) {
  // a holds xR; its plain inverse is 1/(xR), and MontMul by R^3 turns that into (1/x)R.
  Limbs1024 inv;
  MCX_RETURN_IF_ERROR(BlindedInverse(P(), AsLimbs(a), inv));
  MontMul(P(), AsLimbs(r), inv, P().r3);
  return Status::Ok();
}

void EncodeEntry(uint64_t* entry, const Limbs1024& x, const Limbs1024& y) {
  MontMul(P(), AsLimbs(entry), x, P().r2);
  MontMul(P(), AsLimbs(entry + kLimbs1024), y, P().r2);
}

void SelectEntry(uint64_t* x, uint64_t* y, int /*lane*/, const uint64_t* entries, size_t count, uint32_t index) {
  uint64_t acc[2 * kLimbs1024];
  ct::Lookup(acc, entries, count, index);
  std::memcpy(x, acc, sizeof(Limbs1024));
  std::memcpy(y, acc + kLimbs1024, sizeof(Limbs1024));
}

void NegateLanes(uint64_t* y, const uint64_t* negate) {
  Limbs1024 neg;
  const Limbs1024 zero{};
  SubMod(P(), neg, zero, AsLimbs(y));
  Select(AsLimbs(y), negate[0], neg, AsLimbs(y));
}

void ToPlain(Limbs1024& out, const uint64_t* a, int /*lane*/) {
  Limbs1024 one{};
  one[0] = 1;
  MontMul(P(), out, AsLimbs(a), one);
}

}  // namespace

const LaneField& PortableLaneField() {
  static const LaneField field = {
      "portable (16 x 64-bit limbs)", 1, kLimbs1024, 2 * kLimbs1024, 6,
      Mul, Sqr, Sub, Invert, EncodeEntry, SelectEntry, NegateLanes, ToPlain,
  };
  return field;
}

MathPath BestMathPath() {
  const char* forced = std::getenv("MCX_MATH_PATH");
  if (forced != nullptr && std::string_view(forced) == "portable") return MathPath::kPortable;
  return IfmaLaneField() != nullptr ? MathPath::kIfma : MathPath::kPortable;
}

const LaneField& LaneFieldFor(MathPath path) {
  if (path == MathPath::kIfma && IfmaLaneField() != nullptr) return *IfmaLaneField();
  return PortableLaneField();
}

}  // namespace mcx
