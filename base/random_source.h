// RandomSource: where the engine draws its random bytes (master secrets, ECCSI's v).
//
// The engine never calls a generator directly: the HSM layer supplies one that draws from the
// token, and tests and benchmarks may use the operating system's through OpenSSL (OpenSslRandom,
// pooled_random.h).
// Fill() is safe to call from many threads at once unless an implementation says otherwise.
#pragma once

#include <cstdint>
#include <span>

#include "base/status.h"

namespace mcx {

class RandomSource {
 public:
  virtual ~RandomSource() = default;
  virtual Status Fill(std::span<uint8_t> out) = 0;
};

}  // namespace mcx
