// Eight P-256 fixed-base multiplications at once on AVX-512 IFMA, or one spread over the eight lanes
// (internal to p256_fixed_base.cc).
//
// Contract: the same algorithm as the portable MultiplyProjective in p256_fixed_base.cc, lane by
// lane: each of the 8 lanes is an independent scalar whose Booth digits (|digit| and an all-ones
// mask when negative, per window) the caller has already computed; window i selects its entry by
// a full scan of the table (every entry is read and blended in under a per-lane compare mask),
// negates y under the lane's sign mask, and is added with the same complete mixed addition
// (Renes-Costello-Batina, a = -3); a zero digit keeps the accumulator, by mask. No branch and no
// memory index depends on the digits.
//
// Field elements are 5 x 52-bit limbs, Montgomery with R' = 2^260; a vector holds limb j of all
// 8 lanes. Values stay below 2p with normalized limbs. The result is handed back in the portable
// representation (4 x 64-bit limbs, Montgomery with R = 2^256, canonical), so the caller's batch
// inversion and encoding are shared with the portable path.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/math/montgomery.h"

namespace mcx::p256 {

inline constexpr int kLanes = 8;
inline constexpr int kLaneLimbs = 5;             // 52-bit limbs per field element
inline constexpr int kLaneEntryWords = 2 * kLaneLimbs;  // x then y

// The table and constants in the lane representation. entries holds windows x count entries of
// kLaneEntryWords words (x limbs, then y limbs; Montgomery R', canonical). b and one are in
// Montgomery R' form; r256 is 2^256 mod p as a plain integer (for the conversion back).
struct LaneTable {
  const uint64_t* entries;
  int windows;
  int count;
  uint64_t b[kLaneLimbs];
  uint64_t one[kLaneLimbs];
  uint64_t r256[kLaneLimbs];
};

// The 52-bit limbs of a value below 2^260 given as 4 x 64-bit limbs.
void SplitLimbs52(const Limbs256& a, uint64_t out[kLaneLimbs]);

// True when the CPU (and the compiler) support AVX-512 F and IFMA.
bool IfmaLanesAvailable();

// For lane l: (x[l] : y[l] : z[l]) = sum over windows w of the entry |digit| of window w (negated
// when negative[w][l] is all ones; nothing when abs[w][l] is 0), portable Montgomery form.
// abs[w * kLanes + l] is in [0, count], negative[w * kLanes + l] is 0 or all ones. Only call when
// IfmaLanesAvailable().
void MultiplyLanes(const LaneTable& t, const uint64_t* abs, const uint64_t* negative, Limbs256* x, Limbs256* y,
                   Limbs256* z);

// One scalar on all eight lanes (a single [k]G): its windows are spread over the lanes, lane l
// summing windows l, l + 8, l + 16, ..., and the lanes are then folded into one point with complete
// projective additions. t is in the split layout: t.windows steps, and for step s, entry e and word
// w, the 8 lanes' words at entries[((s * count + e) * kLaneEntryWords + w) * kLanes + l], lane l's
// being entry e of window 8s + l (zeros past the last window; a zero digit never selects them).
// abs and negative are indexed [s * kLanes + l] like MultiplyLanes'. entries is 64-byte aligned.
// The sum comes back in the portable representation. Only call when IfmaLanesAvailable().
void MultiplySplit(const LaneTable& t, const uint64_t* abs, const uint64_t* negative, Limbs256& x, Limbs256& y,
                   Limbs256& z);

}  // namespace mcx::p256
