#include "base/cpu_count.h"

#include <thread>

#include <gtest/gtest.h>

namespace mcx {
namespace {

TEST(CoreCount, IsTheHardwareConcurrencyAndAtLeastOne) {
  EXPECT_GE(CoreCount(), 1);
  const unsigned reported = std::thread::hardware_concurrency();
  if (reported > 0) {
    EXPECT_EQ(CoreCount(), static_cast<int>(reported));
  }
}

}  // namespace
}  // namespace mcx
