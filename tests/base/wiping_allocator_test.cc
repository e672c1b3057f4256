#include "base/wiping_allocator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <vector>

namespace mcx {
namespace {

// Every block released while the observer is installed, and whether it held only zeros.
struct Released {
  size_t bytes = 0;
  bool wiped = false;
};
std::mutex released_mu;
std::vector<Released> released;

void Record(const void* block, size_t bytes) {
  const auto* p = static_cast<const unsigned char*>(block);
  std::lock_guard<std::mutex> lock(released_mu);
  released.push_back({bytes, std::all_of(p, p + bytes, [](unsigned char c) { return c == 0; })});
}

class WipingAllocatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    released.clear();
    SetWipeObserverForTesting(&Record);
  }
  void TearDown() override { SetWipeObserverForTesting(nullptr); }
};

TEST_F(WipingAllocatorTest, GrowthAndReleaseLeaveOnlyZeros) {
  {
    SecretString s;
    s.reserve(64);
    // Grow far past the reserve, writing secret-looking text, so the string reallocates often.
    for (int i = 0; i < 4000; ++i) s += "DEADBEEF";
    EXPECT_EQ(s.size(), 32000u);
  }
  ASSERT_GE(released.size(), 5u) << "the string should have reallocated several times";
  size_t largest = 0;
  for (const Released& r : released) {
    EXPECT_TRUE(r.wiped) << "a released block of " << r.bytes << " octets still held data";
    largest = std::max(largest, r.bytes);
  }
  EXPECT_GE(largest, 32000u);  // the final block, released at destruction, was wiped too
}

TEST_F(WipingAllocatorTest, VectorsRebindAndWipeToo) {
  {
    std::vector<uint32_t, WipingAllocator<uint32_t>> v;
    for (uint32_t i = 1; i <= 1000; ++i) v.push_back(i);
  }
  ASSERT_FALSE(released.empty());
  for (const Released& r : released) EXPECT_TRUE(r.wiped);
}

}  // namespace
}  // namespace mcx
