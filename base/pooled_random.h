// PooledRandom: a RandomSource that draws from its generator in large blocks and hands them out
// from a per-thread pool, so that one call to the generator serves many small draws.
//
// A generator call has a fixed cost that dwarfs 32 octets: an HSM round trip, or OpenSSL's fork
// check, locks and DRBG set-up. Each thread keeps, per source, a pool of pool_bytes in guarded
// memory (guarded_memory.h: the octets are future secrets, an ECCSI v reveals the KSAK); octets
// are wiped from it as they are handed out, and the whole pool when its thread ends or the slot
// is reused. A thread keeps pools for up to four sources at once (the least recently used gives
// way). Requests larger than half a pool go to the generator directly. A forked child never sees
// its parent's pooled octets (the memory is wiped on fork) and refills on its first draw.
// Thread-safe if Refill is.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>

#include "base/random_source.h"

namespace mcx {

class PooledRandom : public RandomSource {
 public:
  explicit PooledRandom(size_t pool_bytes);
  Status Fill(std::span<uint8_t> out) final;

  // Calls to Refill so far, for benchmarks and tests.
  uint64_t refills() const { return refills_.load(std::memory_order_relaxed); }

 protected:
  // Fills out entirely from the underlying generator.
  virtual Status Refill(std::span<uint8_t> out) = 0;

 private:
  Status Draw(std::span<uint8_t> out);
  const size_t pool_bytes_;
  const uint64_t id_;  // never reused, so a pool never serves another source's octets
  std::atomic<uint64_t> refills_{0};
};

// OpenSSL's DRBG (seeded by the operating system) through a 4 KiB pool per thread.
class OpenSslRandom final : public PooledRandom {
 public:
  OpenSslRandom() : PooledRandom(4096) {}

 protected:
  Status Refill(std::span<uint8_t> out) override;
};

}  // namespace mcx
