// Reproducible test data for the arithmetic tests (never keys): random limbs below a modulus,
// random octets, small scalars, and the math paths this machine has.
#pragma once

#include <random>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/secret.h"
#include "engine/math/lane_field.h"
#include "engine/math/montgomery.h"
#include "engine/math/sakke_params.h"

namespace mcx::testing {

class TestRng {
 public:
  explicit TestRng(uint64_t seed) : gen_(seed) {}
  uint64_t Next() { return gen_(); }
  // Uniform in [0, m).
  Limbs1024 Below(const Limbs1024& m) {
    for (;;) {
      Limbs1024 r;
      for (auto& w : r) w = gen_();
      int top = 63;
      while (((m[15] >> top) & 1) == 0) --top;
      r[15] &= top == 63 ? ~uint64_t{0} : (uint64_t{1} << (top + 1)) - 1;
      if (LessThanMask(r, m) != 0) return r;
    }
  }
  // Uniform in [1, m).
  Limbs1024 NonZeroBelow(const Limbs1024& m) {
    for (;;) {
      Limbs1024 r = Below(m);
      if (IsZeroMask(r) == 0) return r;
    }
  }
  Bytes Octets(size_t n) {
    Bytes b(n);
    for (auto& x : b) x = static_cast<uint8_t>(gen_());
    return b;
  }

 private:
  std::mt19937_64 gen_;
};

inline SecretBytes ScalarBytes(const Limbs1024& k) {
  SecretBytes out(sakke::kScalarBytes);
  LimbsToBytes<kLimbs1024>(k, std::span<uint8_t, 128>(out.data(), 128));
  return out;
}

inline Limbs1024 Small(uint64_t v) {
  Limbs1024 r{};
  r[0] = v;
  return r;
}

// Every path, available here or not: the path tests skip (GTEST_SKIP) the ones this CPU lacks,
// so a CPU without a path reports its tests as skipped rather than silently not having them.
inline std::vector<MathPath> AllPaths() { return {MathPath::kPortable, MathPath::kAvx2, MathPath::kIfma}; }

// The fields other than the portable one that this CPU can run, each checked against it: the
// BMI2/ADX scalar field (both tunings), the AVX2 lane field's w = 6 tuning (these three kept and
// tested though no path picks them today), its avx2-path tuning and the IFMA lane field.
inline std::vector<const LaneField*> OtherFields() {
  std::vector<const LaneField*> fields;
  for (const LaneField* f : {AdxLaneField(), AdxBatchLaneField(), Avx2LaneField(), Avx2BatchLaneField(), IfmaLaneField()}) {
    if (f != nullptr) fields.push_back(f);
  }
  return fields;
}

inline std::string PathTestName(MathPath path) {
  switch (path) {
    case MathPath::kPortable: return "Portable";
    case MathPath::kAvx2: return "Avx2";
    case MathPath::kIfma: return "Ifma";
  }
  return "Unknown";
}

}  // namespace mcx::testing
