// LaneField: arithmetic mod SAKKE's p on a vector of independent field elements ("lanes").
//
// The batched fixed-base multiplication (fixed_base.h) is written once against this table of
// operations; each path supplies its own: a portable one (1 lane, 16 x 64-bit limbs, any x86-64
// or other 64-bit CPU), a scalar BMI2/ADX one (1 lane, the same limbs, mulx/adcx/adox), an AVX2
// one (4 lanes, vpmuludq) and an AVX-512 IFMA one (8 lanes, 20 x 52-bit limbs); the last three
// are chosen only when the CPU has the instructions. A vector is `words` uint64_t in a layout private to the path, in
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
  int single_lanes;    // lanes one scalar's windows are spread over (MultiplyBaseSingle), a
                       // multiple of `lanes`, tuned for this path with bench/math_bench BM_Rsk/*/1
  int table_slot;      // fields with the same slot share one fixed-base table (same entry
                       // encoding, window and single_lanes)
  size_t batch;        // scalars per batch in MultiplyBaseBatch: they share one inversion per window

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
  // Every lane l of (x, y) = entries[index[l]] (`lanes` indices), reading all `count` entries: the
  // batch's lookup, where all lanes read one window. The same values as select() lane by lane;
  // the AVX2 field loads each entry once for its four lanes. index is secret.
  void (*select_lanes)(uint64_t* x, uint64_t* y, const uint64_t* entries, size_t count, const uint32_t* index);
  // y = -y in the lanes whose negate[lane] is all ones (others zero). negate is secret.
  void (*negate_lanes)(uint64_t* y, const uint64_t* negate);
  // Lane `lane` of a as a plain canonical integer (out of Montgomery form).
  void (*to_plain)(Limbs1024& out, const uint64_t* a, int lane);
  // Lane `lane` of a in the 16-limb Montgomery form of montgomery.h (R = 2^1024), canonical: a copy
  // on the one-lane fields, whose vectors are that form already; to_plain and a multiplication by
  // R^2 on the others.
  void (*to_montgomery16)(Limbs1024& out, const uint64_t* a, int lane);
  // The path's one-element Montgomery multiplication mod p or q on 16 x 64-bit limbs (montgomery.h
  // contract), for the scalar steps around the lanes (MultiplyBaseSingle's Jacobian combination).
  void (*scalar_mul)(const Modulus1024& mod, Limbs1024& r, const Limbs1024& a, const Limbs1024& b);
  // scalar_mul(mod, r, a, a), byte for byte: MontSqrAdx where the path multiplies with MontMulAdx.
  void (*scalar_sqr)(const Modulus1024& mod, Limbs1024& r, const Limbs1024& a);
};

// select_lanes for a field whose lanes are selected one at a time by kSelect.
template <void (*kSelect)(uint64_t*, uint64_t*, int, const uint64_t*, size_t, uint32_t), int kLanes>
void SelectEachLane(uint64_t* x, uint64_t* y, const uint64_t* entries, size_t count, const uint32_t* index) {
  for (int l = 0; l < kLanes; ++l) kSelect(x, y, l, entries, count, index[l]);
}

// The arithmetic paths, slowest first. kAvx2 needs AVX2, BMI2 and ADX (Intel Haswell/Broadwell
// and later, AMD Zen); kIfma needs AVX-512 F and IFMA (Intel Ice Lake and later, AMD Zen 4).
enum class MathPath { kPortable, kAvx2, kIfma };

// "portable", "avx2", "ifma": the names MCX_MATH_PATH takes.
const char* MathPathName(MathPath path);
// True when this CPU (and the compiler that built us) can run the path.
bool MathPathAvailable(MathPath path);

const LaneField& PortableLaneField();
// nullptr unless the CPU has BMI2 and ADX: one lane, mulx/adcx/adox (montgomery_adx.h). Two
// tunings of the same arithmetic: AdxLaneField() for one scalar (w = 6, 16 lanes) and
// AdxBatchLaneField() for many (w = 7, 128 scalars per shared inversion). No path picks them since
// session 14 (the avx2 path runs on the AVX2 lanes); kept, tested and audited for CPUs where they
// measure faster.
const LaneField* AdxLaneField();
const LaneField* AdxBatchLaneField();
// nullptr unless the CPU has AVX2: 4 lanes of 37 x 28-bit limbs, vpmuludq (lane_field_avx2.cc).
const LaneField* Avx2LaneField();
// The same 4-lane arithmetic tuned for the avx2 path (its own window, batch size and table), which
// uses it for batches and for one scalar alike.
const LaneField* Avx2BatchLaneField();
// nullptr unless the CPU (and the compiler that built us) supports AVX-512 F and IFMA.
const LaneField* IfmaLaneField();
// The ADX and AVX2 fields without the CPU probe, for tests/engine/math/ct_audit.cc only: valgrind
// executes mulx/adcx/adox but its CPUID hides ADX, so the audit checks the host's flags itself.
// Calling them on a CPU without the instructions faults.
const LaneField& UncheckedAdxLaneField();
const LaneField& UncheckedAdxBatchLaneField();
const LaneField& UncheckedAvx2LaneField();
const LaneField& UncheckedAvx2BatchLaneField();

// The path MCX_MATH_PATH names (`value`, may be null: unset), checked against this CPU: null or
// empty gives the fastest available path; "ifma", "avx2", "portable" force one, and forcing a
// path this CPU lacks, or a name that is none of these, is InvalidArgument saying so.
Result<MathPath> ParseMathPath(const char* value);
// ParseMathPath(getenv("MCX_MATH_PATH")), read once. A forced path this CPU lacks is a
// configuration error nothing can recover from (the caller asked for instructions that would
// fault): the message is written to stderr and the process exits with status 2.
MathPath BestMathPath();
// The field a path uses for many scalars at once (MultiplyBaseBatch) and for one scalar
// (MultiplyBaseSingle); both fall back to portable when the path is not available here.
const LaneField& LaneFieldFor(MathPath path);
const LaneField& SingleLaneFieldFor(MathPath path);

}  // namespace mcx
