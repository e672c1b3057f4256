// Fixed-base scalar multiplication [k]P on the SAKKE curve, many scalars at once.
//
// Method (docs/arithmetic.md has the figures): the odd scalar k (k or q - k, whichever is odd)
// is recoded into n signed odd digits of w bits, k = sum d_i 2^(w i), so every window adds
// exactly one table point [d_i 2^(w i)]P, read in constant time from 2^(w-1) precomputed affine
// points. There are no doublings. The additions are affine; the batch of lanes shares one
// blinded inversion per window (Montgomery's trick), so each addition costs about six field
// multiplications.
//
// Exceptional cases of the affine addition cannot occur: window 0's table is offset by
// T = (0, 0), the point of order 2, and T is added once more at the end. The accumulator is
// T + [s]P, which is never the identity nor +-Q for a point Q of <P> (that would put T in <P>,
// whose order q is odd); the final T + T cancels. Hence no branch on the scalar is needed.
//
// The tables (a few MiB per path) are built on first use, once, thread-safely, from OpenSSL's
// curve arithmetic on public data.
#pragma once

#include <span>

#include "engine/base/status.h"
#include "engine/math/curves.h"
#include "engine/math/lane_field.h"
#include "engine/math/montgomery.h"

namespace mcx {

// Lanes per batch: the cost of the one shared inversion per window is spread over this many.
inline constexpr size_t kFixedBaseBatch = 64;

// out[i] = [k[i]]P for scalars k[i] (plain canonical limbs, secret) in [1, q-1]; any count,
// processed kFixedBaseBatch at a time. Fails only on an internal error.
Status MultiplyBaseBatch(const LaneField& field, std::span<const Limbs1024> scalars, std::span<SakkePoint> out);

// Builds the table of `field` now instead of on first use (server start-up).
void PrepareFixedBaseTable(const LaneField& field);

}  // namespace mcx
