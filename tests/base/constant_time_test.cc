// base/constant_time.h: every helper on the edge values of a 64-bit word (0, 1, 2^63 - 1, 2^63,
// 2^64 - 1 and their neighbours), against the plain comparison it replaces.
#include "base/constant_time.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace mcx {
namespace {

constexpr uint64_t kAll = ~uint64_t{0};
constexpr uint64_t kTop = uint64_t{1} << 63;

const std::vector<uint64_t>& Edges() {
  static const std::vector<uint64_t> v = {0, 1, 2, 3, 0x7f, 0x80, 0xff, 0x100, kTop - 2, kTop - 1, kTop, kTop + 1,
                                          kAll - 2, kAll - 1, kAll, 0x5555555555555555, 0xaaaaaaaaaaaaaaaa};
  return v;
}

uint64_t MaskOf(bool b) { return b ? kAll : 0; }

TEST(ConstantTimeTest, ValueBarrierKeepsTheValue) {
  for (uint64_t a : Edges()) EXPECT_EQ(ct::ValueBarrier(a), a);
}

TEST(ConstantTimeTest, MsbAndMaskFromBit) {
  for (uint64_t a : Edges()) EXPECT_EQ(ct::Msb(a), MaskOf(a >= kTop)) << a;
  EXPECT_EQ(ct::MaskFromBit(0), 0u);
  EXPECT_EQ(ct::MaskFromBit(1), kAll);
}

TEST(ConstantTimeTest, IsZeroEqLtOnEdgeValues) {
  for (uint64_t a : Edges()) {
    EXPECT_EQ(ct::IsZero(a), MaskOf(a == 0)) << a;
    for (uint64_t b : Edges()) {
      EXPECT_EQ(ct::Eq(a, b), MaskOf(a == b)) << a << " " << b;
      EXPECT_EQ(ct::Lt(a, b), MaskOf(a < b)) << a << " " << b;
    }
  }
}

TEST(ConstantTimeTest, SelectTakesTheFirstUnderAFullMask) {
  for (uint64_t a : Edges()) {
    for (uint64_t b : Edges()) {
      EXPECT_EQ(ct::Select(kAll, a, b), a);
      EXPECT_EQ(ct::Select(0, a, b), b);
    }
  }
}

TEST(ConstantTimeTest, SelectWordsAndItsAliases) {
  const uint64_t a[3] = {1, kAll, kTop};
  const uint64_t b[3] = {kAll, 0, 7};
  uint64_t r[3];
  ct::SelectWords(r, kAll, a, b, 3);
  EXPECT_EQ(std::vector<uint64_t>(r, r + 3), std::vector<uint64_t>(a, a + 3));
  ct::SelectWords(r, 0, a, b, 3);
  EXPECT_EQ(std::vector<uint64_t>(r, r + 3), std::vector<uint64_t>(b, b + 3));
  // r may be either operand.
  uint64_t x[3] = {1, 2, 3};
  ct::SelectWords(x, 0, a, x, 3);
  EXPECT_EQ(std::vector<uint64_t>(x, x + 3), (std::vector<uint64_t>{1, 2, 3}));
  ct::SelectWords(x, kAll, a, x, 3);
  EXPECT_EQ(std::vector<uint64_t>(x, x + 3), std::vector<uint64_t>(a, a + 3));
}

TEST(ConstantTimeTest, IsZeroWords) {
  uint64_t w[4] = {};
  EXPECT_EQ(ct::IsZeroWords(w, 4), kAll);
  EXPECT_EQ(ct::IsZeroWords(w, 0), kAll);
  for (int i = 0; i < 4; ++i) {
    for (uint64_t v : {uint64_t{1}, kTop, kAll}) {
      w[i] = v;
      EXPECT_EQ(ct::IsZeroWords(w, 4), 0u) << i << " " << v;
      w[i] = 0;
    }
  }
}

TEST(ConstantTimeTest, LookupReturnsTheIndexedEntryOrZeros) {
  constexpr size_t kCount = 5, kWords = 3;
  uint64_t table[kCount * kWords];
  for (size_t i = 0; i < kCount * kWords; ++i) table[i] = 0x1000 * (i / kWords + 1) + i % kWords;
  for (uint64_t index = 0; index < kCount; ++index) {
    uint64_t out[kWords] = {9, 9, 9};
    ct::Lookup(out, table, kCount, index);
    for (size_t i = 0; i < kWords; ++i) EXPECT_EQ(out[i], table[index * kWords + i]) << index;
  }
  // Out of range (the P-256 scan's "digit 0" is index 2^64 - 1): nothing selected.
  for (uint64_t index : {uint64_t{kCount}, kTop, kAll}) {
    uint64_t out[kWords] = {9, 9, 9};
    ct::Lookup(out, table, kCount, index);
    for (uint64_t w : out) EXPECT_EQ(w, 0u) << index;
  }
}

}  // namespace
}  // namespace mcx
