// The Tate-Lichtenbaum pairing of SAKKE (RFC 6508 section 3.2), for the client-side RSK check.
//
// <R, Q> = f_{q,R}(psi(Q))^c in PF_p = F_p^2* / F_p*, with c = (p+1)/q = 4, f the Miller function
// and psi(x, y) = (-x, iy) the distortion map of y^2 = x^3 - 3x over F_p (p = 3 mod 4,
// F_p^2 = F_p[i], i^2 = -1). The value is represented in F_p as in RFC 6508: a + ib by b/a.
//
// Inputs are public points, so this code is variable time. It is slow (BIGNUM Montgomery
// arithmetic, a few milliseconds) and exists to check RSKs as a device would.
#pragma once

#include <array>

#include "base/status.h"
#include "engine/math/curves.h"

namespace mcx {

using SakkeFieldElement = std::array<uint8_t, sakke::kFieldBytes>;

// Both points must be points of order q on the SAKKE curve (not checked here).
Result<SakkeFieldElement> SakkePairing(const EC_POINT* r, const EC_POINT* q);

}  // namespace mcx
