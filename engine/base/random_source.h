// RandomSource: where the engine draws its random bytes (master secrets, ECCSI's v).
//
// The engine never calls a generator directly: the HSM layer supplies one that draws from the
// token, and tests and benchmarks may use the operating system's through OpenSSL.
// Fill() is safe to call from many threads at once unless an implementation says otherwise.
#pragma once

#include <cstdint>
#include <span>

#include "engine/base/status.h"

namespace mcx {

class RandomSource {
 public:
  virtual ~RandomSource() = default;
  virtual Status Fill(std::span<uint8_t> out) = 0;
};

// OpenSSL's DRBG, seeded by the operating system.
class OpenSslRandom final : public RandomSource {
 public:
  Status Fill(std::span<uint8_t> out) override;
};

}  // namespace mcx
