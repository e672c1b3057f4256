// HexValue (the one hex-digit decoder of the code base) and FromHex/ToHex around it.
#include <gtest/gtest.h>

#include "base/bytes.h"

namespace mcx {
namespace {

TEST(HexValueTest, EveryCharacter) {
  static_assert(HexValue('7') == 7 && HexValue('b') == 11 && HexValue('F') == 15 && HexValue('g') == -1);
  const std::string_view digits = "0123456789abcdef";
  const std::string_view upper = "0123456789ABCDEF";
  int accepted = 0;
  for (int c = -128; c < 128; ++c) {
    const char ch = static_cast<char>(c);
    const int v = HexValue(ch);
    if (v < 0) {
      EXPECT_EQ(v, -1) << c;
      continue;
    }
    ++accepted;
    ASSERT_LT(v, 16) << c;
    EXPECT_TRUE(digits[v] == ch || upper[v] == ch) << c;
  }
  EXPECT_EQ(accepted, 22);  // 0-9, a-f, A-F
}

TEST(HexTest, RoundTripAndErrors) {
  const Bytes b = {0x00, 0x7f, 0x80, 0xff, 0x5a};
  EXPECT_EQ(ToHex(b), "007f80ff5a");
  EXPECT_EQ(ToUpperHex(b), "007F80FF5A");
  EXPECT_EQ(*FromHex("007F80ff5A"), b);
  EXPECT_EQ(FromHex("abc").status().code(), Status::Code::kInvalidArgument);
  Result<Bytes> bad = FromHex("00g0");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().ToString().find("position 2"), std::string::npos) << bad.status().ToString();
}

}  // namespace
}  // namespace mcx
