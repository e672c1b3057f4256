// TokenVerifyCeiling: how many access-token signatures this machine verifies per second on one
// core with OpenSSL, ES256 (P-256) and RS256 (RSA-2048).
//
// In a reconnect storm every device presents a token the KMS has not seen, and each costs one
// signature verification before anything else is done for it (a token seen before is answered
// from the verifier's cache). So this is the ceiling of such a storm on this machine, whatever
// the rest of the KMS costs: the capacity report prints it beside the serving figures, and a run
// with more users than requests (every token new) can be judged against it.
#pragma once

#include "base/status.h"

namespace mcx::capacity {

struct TokenVerifyCeiling {
  double es256_per_core = 0;  // verifications/s, one thread
  double rs256_per_core = 0;
  int cores = 0;              // this machine's (the ceiling of all of them: per core x cores)
};

// Verifies one signature over a token-sized input in a loop for about `seconds_each` per
// algorithm, on the calling thread, with keys made for the purpose.
Result<TokenVerifyCeiling> MeasureTokenVerifyCeiling(double seconds_each = 0.3);

}  // namespace mcx::capacity
