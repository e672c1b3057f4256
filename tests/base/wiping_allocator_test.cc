#include "base/wiping_allocator.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "base/secret.h"
#include "tests/support/released_blocks.h"

namespace mcx {
namespace {

using testing::ReleasedBlock;
using testing::ReleasedBlocks;

// SecureWipe zeroes exactly the span it is given, and takes an empty buffer's null data()
// (explicit_bzero, under it, must not see a null pointer: UBSan checks that in the sanitizer run).
TEST(SecureWipeTest, ZeroesTheSpanAndAcceptsAnEmptyBuffer) {
  uint8_t block[48];
  for (size_t i = 0; i < sizeof block; ++i) block[i] = static_cast<uint8_t>(0xa5 ^ i);
  SecureWipe(block + 8, 32);
  for (size_t i = 0; i < sizeof block; ++i) {
    if (i >= 8 && i < 40) {
      EXPECT_EQ(block[i], 0) << i;
    } else {
      EXPECT_EQ(block[i], static_cast<uint8_t>(0xa5 ^ i)) << i;
    }
  }
  std::vector<uint64_t> empty;
  SecureWipe(empty.data(), empty.size() * sizeof(uint64_t));
  SecureWipe(nullptr, 0);
}

TEST(WipingAllocatorTest, GrowthAndReleaseLeaveOnlyZeros) {
  ReleasedBlocks observer;
  {
    SecretString s;
    s.reserve(64);
    // Grow far past the reserve, writing secret-looking text, so the string reallocates often.
    for (int i = 0; i < 4000; ++i) s += "DEADBEEF";
    EXPECT_EQ(s.size(), 32000u);
  }
  const std::vector<ReleasedBlock> released = observer.blocks();
  ASSERT_GE(released.size(), 5u) << "the string should have reallocated several times";
  size_t largest = 0;
  for (const ReleasedBlock& r : released) {
    EXPECT_TRUE(r.wiped) << "a released block of " << r.bytes << " octets still held data";
    largest = std::max(largest, r.bytes);
  }
  EXPECT_GE(largest, 32000u);  // the final block, released at destruction, was wiped too
}

TEST(WipingAllocatorTest, VectorsRebindAndWipeToo) {
  ReleasedBlocks observer;
  {
    std::vector<uint32_t, WipingAllocator<uint32_t>> v;
    for (uint32_t i = 1; i <= 1000; ++i) v.push_back(i);
  }
  const std::vector<ReleasedBlock> released = observer.blocks();
  ASSERT_FALSE(released.empty());
  for (const ReleasedBlock& r : released) EXPECT_TRUE(r.wiped);
}

}  // namespace
}  // namespace mcx
