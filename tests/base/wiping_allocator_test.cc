#include "base/wiping_allocator.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "tests/support/released_blocks.h"

namespace mcx {
namespace {

using testing::ReleasedBlock;
using testing::ReleasedBlocks;

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
