// LaneField: arithmetic mod SAKKE's p on a vector of independent field elements ("lanes").
//
// The batched fixed-base multiplication (fixed_base.h) is written once against this table of
// operations; each path supplies its own: a portable one (1 lane, 16 x 64-bit limbs, any x86-64
// or other 64-bit CPU) and an AVX-512 IFMA one (8 lanes, 20 x 52-bit limbs, chosen only when the
// CPU has the instructions). A vector is `words` uint64_t in a layout private to the path, in
// Montgomery form with the path's own R. Values are "reduced enough" for the path's operations
// (below 2p for IFMA, canonical for portable); only to_plain() promises canonical output.
//
// Every operation is constant time in the values of its operands, including the table selection
// (it reads every entry). invert() is the one place a variable-time routine runs, on a blinded
// input (inverse.h).
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/status.h"
#include "engine/math/montgomery.h"

namespace mcx {

struct LaneField {
  const char* name;
  int lanes;           // field elements per vector
  size_t words;        // uint64_t per vector
  size_t entry_words;  // uint64_t per table entry (one affine point, x then y)
  int window_bits;     // fixed-base window width tuned for this path

  // r = a*b, r = a^2, r = a - b. r may alias an operand.
  void (*mul)(uint64_t* r, const uint64_t* a, const uint64_t* b);
  void (*sqr)(uint64_t* r, const uint64_t* a);
  void (*sub)(uint64_t* r, const uint64_t* a, const uint64_t* b);
  // r = 1/a lane by lane; every lane must be nonzero (else Internal). Blinded.
  Status (*invert)(uint64_t* r, const uint64_t* a);

  // Writes a table entry for the affine point (x, y), both plain canonical.
  void (*encode_entry)(uint64_t* entry, const Limbs1024& x, const Limbs1024& y);
  // Lane `lane` of (x, y) = entries[index], reading all `count` entries. index is secret.
  void (*select)(uint64_t* x, uint64_t* y, int lane, const uint64_t* entries, size_t count, uint32_t index);
  // y = -y in the lanes whose negate[lane] is all ones (others zero). negate is secret.
  void (*negate_lanes)(uint64_t* y, const uint64_t* negate);
  // Lane `lane` of a as a plain canonical integer (out of Montgomery form).
  void (*to_plain)(Limbs1024& out, const uint64_t* a, int lane);
};

enum class MathPath { kPortable, kIfma };

const LaneField& PortableLaneField();
// nullptr unless the CPU (and the compiler that built us) supports AVX-512 F and IFMA.
const LaneField* IfmaLaneField();

// The fastest path on this CPU, unless the environment variable MCX_MATH_PATH says "portable"
// (tests use this to exercise the portable path on an IFMA machine).
MathPath BestMathPath();
// The field of a path; falls back to portable when the path is not available here.
const LaneField& LaneFieldFor(MathPath path);

}  // namespace mcx
