// SHA-256 over several pieces, through OpenSSL's EVP interface.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>

#include "engine/base/bytes.h"

namespace mcx {

using Sha256Digest = std::array<uint8_t, 32>;

// The digest of the concatenation of `parts`.
Sha256Digest Sha256(std::initializer_list<ByteView> parts);

}  // namespace mcx
