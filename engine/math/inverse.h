// Modular inversion of secret values by blinding, and Montgomery's batch trick.
//
// A fast inversion (GMP's extended gcd) runs in time that depends on its input. We never give it
// a secret: the input x is first multiplied by a fresh uniform random r in [1, m-1], so the value
// the gcd sees, x*r, is uniform on [1, m-1] whatever x is, and 1/x = r * 1/(x*r). r comes from
// OpenSSL's generator through a per-thread pool in guarded memory (pooled_random.h); it is a mask,
// not key material, but knowing it would unmask x.
//
// A batch of n inverses costs one blinded inversion and 3(n-1) multiplications (Montgomery's
// trick: invert the product, then peel off one factor at a time).
#pragma once

#include <span>
#include <type_traits>

#include "base/status.h"
#include "engine/math/montgomery.h"

namespace mcx {

// Instantiated for N = 16 (SAKKE's p and q) and N = 4 (P-256's field prime).
//
// out = 1/x mod m for a canonical x (plain, not Montgomery form). Fails with Internal when x is 0
// (callers rule that out beforehand) or the random generator fails. out may alias x.
// For x = yR in Montgomery form the result is 1/(yR); MontMul by r2 turns it into plain 1/y.
template <size_t N>
Status BlindedInverse(const Modulus<N>& mod, const Limbs<N>& x, Limbs<N>& out);

// Replaces each plain canonical value by its inverse mod m; all must be nonzero.
// scratch must hold values.size() elements.
// (The spans are not deduced, so vectors convert.)
template <size_t N>
Status BatchInverse(const Modulus<N>& mod, std::type_identity_t<std::span<Limbs<N>>> values,
                    std::type_identity_t<std::span<Limbs<N>>> scratch);

}  // namespace mcx
