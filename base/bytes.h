// Byte strings and their hex form. Hex is upper or lower case on input, lower case on output.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace mcx {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

std::string ToHex(ByteView bytes);
std::string ToUpperHex(ByteView bytes);
// Fails on odd length or a non-hex character; the message names the position, not the content.
Result<Bytes> FromHex(std::string_view hex);

inline ByteView AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace mcx
