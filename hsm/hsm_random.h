// HsmRandom: the engine's RandomSource drawing from the token's generator (C_GenerateRandom).
//
// One HSM round trip per key set would bound the KMS by the HSM's latency, so draws go through
// per-thread pools (PooledRandom: pool_bytes, 8 KiB by default, in guarded memory) that one
// C_GenerateRandom through a pooled session refills; ECCSI's v takes 32 octets, so one call serves
// some 250 key sets. Requests larger than half a pool go to the token directly. Thread-safe;
// several HsmRandom may live in one process.
#pragma once

#include <cstdint>

#include "base/pooled_random.h"
#include "hsm/pkcs11_token.h"

namespace mcx::hsm {

class HsmRandom final : public PooledRandom {
 public:
  static constexpr size_t kDefaultPoolBytes = 8192;
  explicit HsmRandom(Pkcs11Token& token, size_t pool_bytes = kDefaultPoolBytes)
      : PooledRandom(pool_bytes), token_(token) {}

  // C_GenerateRandom calls so far, for benchmarks and tests.
  uint64_t token_calls() const { return refills(); }

 protected:
  Status Refill(std::span<uint8_t> out) override;

 private:
  Pkcs11Token& token_;
};

}  // namespace mcx::hsm
