// Byte strings and their hex form. Hex is upper or lower case on input, lower case on output.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace mcx {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

// The value of one hex digit of either case, or -1 for any other character. It branches on the
// character, so it (and FromHex) is for public text: paths, times, certificates, constants.
constexpr int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string ToHex(ByteView bytes);
std::string ToUpperHex(ByteView bytes);
// Fails on odd length or a non-hex character; the message names the position, not the content.
Result<Bytes> FromHex(std::string_view hex);
// Exactly N octets of hex into `out`; false (and `out` untouched) otherwise.
template <size_t N>
bool FromHexInto(std::string_view hex, std::array<uint8_t, N>& out) {
  Result<Bytes> b = FromHex(hex);
  if (!b.ok() || b->size() != N) return false;
  std::copy(b->begin(), b->end(), out.begin());
  return true;
}

inline ByteView AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace mcx
