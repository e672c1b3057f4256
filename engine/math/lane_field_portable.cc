// The one-lane LaneFields: the 16-limb Montgomery arithmetic of montgomery.h, multiplied either
// by the portable CIOS (unsigned __int128) or by mulx/adcx/adox (montgomery_adx.h). Both use the
// same limbs and R, so they share one fixed-base table. Also the path dispatch (lane_field.h).
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#endif

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "base/constant_time.h"
#include "engine/math/ifma52.h"
#include "engine/math/inverse.h"
#include "engine/math/lane_field.h"
#include "engine/math/montgomery_adx.h"

namespace mcx {
namespace {

using MulFn = void (*)(const Modulus1024&, Limbs1024&, const Limbs1024&, const Limbs1024&);

const Modulus1024& P() { return SakkeFieldModulus(); }

Limbs1024& AsLimbs(uint64_t* w) { return *reinterpret_cast<Limbs1024*>(w); }
const Limbs1024& AsLimbs(const uint64_t* w) { return *reinterpret_cast<const Limbs1024*>(w); }

template <MulFn M>
void Mul(uint64_t* r, const uint64_t* a, const uint64_t* b) { M(P(), AsLimbs(r), AsLimbs(a), AsLimbs(b)); }
template <MulFn M>
void Sqr(uint64_t* r, const uint64_t* a) { M(P(), AsLimbs(r), AsLimbs(a), AsLimbs(a)); }
void SqrAdx(uint64_t* r, const uint64_t* a) { MontSqrAdx(P(), AsLimbs(r), AsLimbs(a)); }
void Sub(uint64_t* r, const uint64_t* a, const uint64_t* b) { SubMod(P(), AsLimbs(r), AsLimbs(a), AsLimbs(b)); }
void SubAdx(uint64_t* r, const uint64_t* a, const uint64_t* b) { SubModAdx(P(), AsLimbs(r), AsLimbs(a), AsLimbs(b)); }

template <MulFn M>
Status Invert(uint64_t* r, const uint64_t* a) {
  // a holds xR; its plain inverse is 1/(xR), and MontMul by R^3 turns that into (1/x)R.
  Limbs1024 inv;
  MCX_RETURN_IF_ERROR(BlindedInverse(P(), AsLimbs(a), inv));
  M(P(), AsLimbs(r), inv, P().r3);
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

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// SelectEntry with AVX2 (the ADX fields, when the CPU has it): an entry is eight 256-bit loads,
// kept under an equality mask (vpcmpeqq), every entry read.
__attribute__((target("avx2"))) void SelectEntryAvx2(uint64_t* x, uint64_t* y, int /*lane*/, const uint64_t* entries,
                                                    size_t count, uint32_t index) {
  constexpr int kVecs = 2 * kLimbs1024 / 4;
  __m256i acc[kVecs];
  for (int v = 0; v < kVecs; ++v) acc[v] = _mm256_setzero_si256();
  const __m256i want = _mm256_set1_epi64x(index);
  for (size_t e = 0; e < count; ++e) {
    const __m256i hit = _mm256_cmpeq_epi64(_mm256_set1_epi64x(static_cast<long long>(e)), want);
    const __m256i* entry = reinterpret_cast<const __m256i*>(entries + e * 2 * kLimbs1024);
#pragma GCC unroll 8
    for (int v = 0; v < kVecs; ++v) acc[v] = _mm256_or_si256(acc[v], _mm256_and_si256(hit, _mm256_loadu_si256(entry + v)));
  }
  for (int v = 0; v < kVecs / 2; ++v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(x) + v, acc[v]);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y) + v, acc[kVecs / 2 + v]);
  }
}

bool CpuHasAvx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2");
}
#else
void SelectEntryAvx2(uint64_t* x, uint64_t* y, int lane, const uint64_t* entries, size_t count, uint32_t index) {
  SelectEntry(x, y, lane, entries, count, index);
}
bool CpuHasAvx2() { return false; }
#endif

// The ADX fields' table scan: AVX2 where the CPU has it (every ADX CPU of the avx2 path does).
using SelectFn = void (*)(uint64_t*, uint64_t*, int, const uint64_t*, size_t, uint32_t);
SelectFn AdxSelect() { return CpuHasAvx2() ? SelectEntryAvx2 : SelectEntry; }
using SelectLanesFn = void (*)(uint64_t*, uint64_t*, const uint64_t*, size_t, const uint32_t*);
SelectLanesFn AdxSelectLanes() {
  return CpuHasAvx2() ? SelectEachLane<SelectEntryAvx2, 1> : SelectEachLane<SelectEntry, 1>;
}

void NegateLanes(uint64_t* y, const uint64_t* negate) {
  Limbs1024 neg;
  const Limbs1024 zero{};
  SubMod(P(), neg, zero, AsLimbs(y));
  Select(AsLimbs(y), negate[0], neg, AsLimbs(y));
}

template <MulFn M>
void ToPlain(Limbs1024& out, const uint64_t* a, int /*lane*/) {
  Limbs1024 one{};
  one[0] = 1;
  M(P(), out, AsLimbs(a), one);
}

void CopyLane(Limbs1024& out, const uint64_t* a, int /*lane*/) { out = AsLimbs(a); }

void ScalarSqrPortable(const Modulus1024& mod, Limbs1024& r, const Limbs1024& a) { MontMul(mod, r, a, a); }

}  // namespace

const LaneField& PortableLaneField() {
  static const LaneField field = {
      "portable (16 x 64-bit limbs)", 1, kLimbs1024, 2 * kLimbs1024, 6, 8, 0, 64,
      Mul<MontMul<kLimbs1024>>, Sqr<MontMul<kLimbs1024>>, Sub, Invert<MontMul<kLimbs1024>>,
      EncodeEntry, SelectEntry, SelectEachLane<SelectEntry, 1>, NegateLanes, ToPlain<MontMul<kLimbs1024>>, CopyLane, MontMul<kLimbs1024>,
      ScalarSqrPortable,
  };
  return field;
}

const LaneField& UncheckedAdxLaneField() {
  static const LaneField field = {
      "BMI2/ADX (16 x 64-bit limbs, mulx/adcx/adox)", 1, kLimbs1024, 2 * kLimbs1024, 6, 16, 3, 64,
      Mul<MontMulAdx>, SqrAdx, SubAdx, Invert<MontMulAdx>,
      EncodeEntry, AdxSelect(), AdxSelectLanes(), NegateLanes, ToPlain<MontMulAdx>, CopyLane, MontMulAdx, MontSqrAdx,
  };
  return field;
}

// The same arithmetic tuned for batches (docs/arithmetic.md): 7-bit windows (147 additions
// instead of 171, each scanning 64 entries instead of 32) and 128 scalars per shared inversion.
const LaneField& UncheckedAdxBatchLaneField() {
  static const LaneField field = {
      "BMI2/ADX (16 x 64-bit limbs, mulx/adcx/adox; w = 7, batches of 128)", 1, kLimbs1024, 2 * kLimbs1024, 7, 16, 4,
      128,
      Mul<MontMulAdx>, SqrAdx, SubAdx, Invert<MontMulAdx>,
      EncodeEntry, AdxSelect(), AdxSelectLanes(), NegateLanes, ToPlain<MontMulAdx>, CopyLane, MontMulAdx, MontSqrAdx,
  };
  return field;
}

const LaneField* AdxBatchLaneField() { return CpuHasAdx() ? &UncheckedAdxBatchLaneField() : nullptr; }

const LaneField* AdxLaneField() { return CpuHasAdx() ? &UncheckedAdxLaneField() : nullptr; }

const char* MathPathName(MathPath path) {
  switch (path) {
    case MathPath::kPortable: return "portable";
    case MathPath::kAvx2: return "avx2";
    case MathPath::kIfma: return "ifma";
  }
  return "unknown";
}

bool MathPathAvailable(MathPath path) {
  switch (path) {
    case MathPath::kPortable: return true;
    case MathPath::kAvx2: return AdxLaneField() != nullptr && Avx2LaneField() != nullptr;
    case MathPath::kIfma: return IfmaLaneField() != nullptr;
  }
  return false;
}

Result<MathPath> ParseMathPath(const char* value) {
  if (value == nullptr || *value == '\0') {
    for (MathPath p : {MathPath::kIfma, MathPath::kAvx2}) {
      if (MathPathAvailable(p)) return p;
    }
    return MathPath::kPortable;
  }
  for (MathPath p : {MathPath::kIfma, MathPath::kAvx2, MathPath::kPortable}) {
    if (std::string_view(value) != MathPathName(p)) continue;
    if (!MathPathAvailable(p)) {
      return Status::InvalidArgument(std::string("MCX_MATH_PATH=") + value +
                                     " forces an arithmetic path this CPU lacks (" +
                                     (p == MathPath::kIfma ? "AVX-512 F and IFMA" : "AVX2, BMI2 and ADX") +
                                     "): unset MCX_MATH_PATH to take the fastest path this CPU has, or force "
                                     "\"portable\"");
    }
    return p;
  }
  return Status::InvalidArgument(std::string("MCX_MATH_PATH=") + value +
                                 " names no arithmetic path: use ifma, avx2 or portable, or unset it");
}

MathPath BestMathPath() {
  static const MathPath path = [] {
    Result<MathPath> p = ParseMathPath(std::getenv("MCX_MATH_PATH"));
    if (!p.ok()) {
      std::fprintf(stderr, "mcx-kms: %s\n", std::string(p.status().message()).c_str());
      std::exit(2);
    }
    return *p;
  }();
  return path;
}

const LaneField& LaneFieldFor(MathPath path) {
  if (!MathPathAvailable(path)) return PortableLaneField();
  switch (path) {
    case MathPath::kIfma: return *IfmaLaneField();
    case MathPath::kAvx2: return *Avx2BatchLaneField();  // measured faster than AdxBatchLaneField(): docs/arithmetic.md
    case MathPath::kPortable: break;
  }
  return PortableLaneField();
}

const LaneField& SingleLaneFieldFor(MathPath path) {
  if (!MathPathAvailable(path)) return PortableLaneField();
  switch (path) {
    case MathPath::kIfma: return *IfmaLaneField();
    case MathPath::kAvx2: return *Avx2BatchLaneField();  // the batches' table too: docs/arithmetic.md
    case MathPath::kPortable: break;
  }
  return PortableLaneField();
}

}  // namespace mcx
