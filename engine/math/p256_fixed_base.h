// Constant-time fixed-base scalar multiplication on NIST P-256: ECCSI's PVT = [v]G (RFC 6507).
//
// Contract: k is a secret scalar in [1, n-1] (little-endian limbs; the caller range-checks it).
// No branch and no memory index depends on k: the scalar is recoded into 37 signed 7-bit digits,
// each digit selects its multiple of 2^(7i) G by a masked scan of a whole 64-entry affine table,
// and the 37 points are summed with no doubling. The one-lane code (portable and avx2 paths) sums
// in Jacobian coordinates with the cheaper incomplete mixed addition: for k in [1, n-1] the comb
// never adds a point to itself or to its negative (the proof is at MultiplyProjective), and an
// accumulator still at infinity is handled by mask. The only variable-time step, the final
// inversion of Z, sees Z multiplied by a fresh random blind (engine/math/inverse.h).
//
// On AVX-512 IFMA a single k runs its windows on the eight vector lanes at once and folds the
// lanes' sums with complete projective additions (p256_lanes.h, MultiplySplit); same scans, same
// masks.
//
// The table (37 x 64 affine points, 148 KiB, p256_comb.h) is public; it is built on first use, or
// eagerly by PrepareP256Table() (the constant-time audit builds it before any secret exists).
// ECDSA verification (p256_verify.h) reads the same table, variable time, as its inputs are public. The IFMA
// layouts of it (another 148 KiB and 200 KiB) are built from it the same way.
// Safe to call from many threads at once.
#pragma once

#include <span>

#include "base/status.h"
#include "engine/math/curves.h"
#include "engine/math/lane_field.h"
#include "engine/math/montgomery.h"

namespace mcx {

void PrepareP256Table();

// out = [k]G as 04 || x || y. Fails with Internal only if the random generator fails (or k is
// outside its contract and the result is the point at infinity).
// On BestMathPath(): with AVX-512 IFMA, k's windows are spread over the eight vector lanes and
// the lanes' sums folded into one point (p256_lanes.h, MultiplySplit); on the avx2 path the
// one-lane code with mulx/adcx/adox multiplications (p256::FeMulAdx) and an AVX2 table scan;
// else the portable one-lane code.
Status P256MultiplyGenerator(const Limbs256& k, P256Point& out);
// The same on a given path (tests compare the paths; a path the CPU lacks falls back to portable).
Status P256MultiplyGeneratorOn(MathPath path, const Limbs256& k, P256Point& out);
// The avx2 path's one-lane code without the CPU probe, for tests/engine/math/ct_audit.cc only
// (valgrind's CPUID hides ADX; the audit checks the host's flags). Faults on a CPU without AVX2,
// BMI2 and ADX.
Status P256MultiplyGeneratorAvx2Unchecked(const Limbs256& k, P256Point& out);

// out[i] = [k[i]]G for every i. The sizes match.
// On BestMathPath(): with AVX-512 IFMA and at least 8 scalars, eight at a time on vector lanes
// (p256_lanes.h; the last group padded with the public scalar 1), a batch of fewer than 8 one at a
// time split over the lanes. On the one-lane paths (avx2, portable), from 32 scalars on, chunks of
// 32 to 256 summed in affine coordinates with one shared inversion per window; fewer, one at a
// time. Either way the results' Z coordinates (if any) share one blinded inversion.
Status P256MultiplyGeneratorBatch(std::span<const Limbs256> k, std::span<P256Point> out);
// The avx2 path's affine batch without the CPU probe, for ct_audit only (as above); k.size() >= 32.
Status P256MultiplyGeneratorBatchAvx2Unchecked(std::span<const Limbs256> k, std::span<P256Point> out);

// The same on a given path (tests compare the paths); a path the CPU lacks falls back to portable,
// and kIfma takes the split code for batches smaller than 8.
Status P256MultiplyGeneratorBatchOn(MathPath path, std::span<const Limbs256> k, std::span<P256Point> out);

}  // namespace mcx
