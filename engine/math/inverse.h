// Modular inversion of secret values by blinding, and Montgomery's batch trick.
//
// A fast inversion (GMP's extended gcd) runs in time that depends on its input. We never give it
// a secret: the input x is first multiplied by a fresh uniform random r in [1, m-1], so the value
// the gcd sees, x*r, is uniform on [1, m-1] whatever x is, and 1/x = r * 1/(x*r). r comes from
// OpenSSL's RAND_bytes (it is a mask, not key material).
//
// A batch of n inverses costs one blinded inversion and 3(n-1) multiplications (Montgomery's
// trick: invert the product, then peel off one factor at a time).
#pragma once

#include <span>

#include "engine/base/status.h"
#include "engine/math/montgomery.h"

namespace mcx {

// out = 1/x mod m for a canonical x (plain, not Montgomery form). Fails with Internal when x is 0
// (callers rule that out beforehand) or the random generator fails. out may alias x.
Status BlindedInverse(const Modulus1024& mod, const Limbs1024& x, Limbs1024& out);

// Replaces each plain canonical value by its inverse mod m; all must be nonzero.
// scratch must hold values.size() elements.
Status BatchInverse(const Modulus1024& mod, std::span<Limbs1024> values, std::span<Limbs1024> scratch);

}  // namespace mcx
