// HsmRandom: the engine's RandomSource drawing from the token's generator (C_GenerateRandom).
//
// One HSM round trip per key set would bound the KMS by the HSM's latency, so each thread keeps
// its own pool (pool_bytes, 8 KiB by default, in guarded memory) that one C_GenerateRandom
// through a pooled session refills; ECCSI's v takes 32 octets, so one call serves some 250 key
// sets. Octets are wiped from the pool as they are handed out, and the pool when its thread ends.
// Requests larger than half a pool go to the token directly. Thread-safe; several HsmRandom may
// live in one process (a thread's pool remembers which one filled it).
#pragma once

#include <atomic>
#include <cstdint>

#include "engine/base/random_source.h"
#include "hsm/pkcs11_token.h"

namespace mcx::hsm {

class HsmRandom final : public RandomSource {
 public:
  static constexpr size_t kDefaultPoolBytes = 8192;
  explicit HsmRandom(Pkcs11Token& token, size_t pool_bytes = kDefaultPoolBytes);

  Status Fill(std::span<uint8_t> out) override;

  // C_GenerateRandom calls so far, for benchmarks and tests.
  uint64_t token_calls() const { return token_calls_.load(std::memory_order_relaxed); }

 private:
  Status Draw(std::span<uint8_t> out);
  Pkcs11Token& token_;
  const size_t pool_bytes_;
  const uint64_t id_;
  std::atomic<uint64_t> token_calls_{0};
};

}  // namespace mcx::hsm
