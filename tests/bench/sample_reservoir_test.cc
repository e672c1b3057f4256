#include "bench/capacity/sample_reservoir.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace mcx::capacity {
namespace {

SampleReservoir Stream(const std::string& prefix, int n, size_t capacity, std::mt19937_64& rng) {
  SampleReservoir r(capacity);
  for (int i = 0; i < n; ++i) r.Offer(prefix + std::to_string(i), rng);
  return r;
}

TEST(SampleReservoirTest, KeepsEverythingUntilFullThenExactlyItsCapacity) {
  std::mt19937_64 rng(1);
  SampleReservoir r = Stream("a", 5, 8, rng);
  EXPECT_EQ(r.items().size(), 5u);
  for (int i = 5; i < 100; ++i) r.Offer("a" + std::to_string(i), rng);
  EXPECT_EQ(r.items().size(), 8u);
  EXPECT_EQ(r.seen(), 100u);
  EXPECT_EQ(std::set<std::string>(r.items().begin(), r.items().end()).size(), 8u);
}

TEST(SampleReservoirTest, MergingSmallStreamsKeepsAllOfThem) {
  std::mt19937_64 rng(2);
  SampleReservoir a = Stream("a", 3, 10, rng);
  a.Merge(Stream("b", 4, 10, rng), rng);
  a.Merge(SampleReservoir(10), rng);  // a thread that saw nothing
  EXPECT_EQ(a.seen(), 7u);
  EXPECT_EQ(std::set<std::string>(a.items().begin(), a.items().end()),
            (std::set<std::string>{"a0", "a1", "a2", "b0", "b1", "b2", "b3"}));
}

// Streams of 100, 300 and 0 items, sampled 10 at a time and merged: every one of the 400 items
// is kept about 10/400 of the time, as with one reservoir over all of them.
TEST(SampleReservoirTest, AMergedSampleIsUniformOverTheUnion) {
  std::mt19937_64 rng(3);
  constexpr int kTrials = 20000;
  std::map<std::string, int> kept;
  int from_small = 0;
  for (int t = 0; t < kTrials; ++t) {
    SampleReservoir merged = Stream("s", 100, 10, rng);
    merged.Merge(Stream("l", 300, 10, rng), rng);
    merged.Merge(SampleReservoir(10), rng);
    ASSERT_EQ(merged.items().size(), 10u);
    ASSERT_EQ(merged.seen(), 400u);
    for (const std::string& item : merged.items()) {
      ++kept[item];
      from_small += item[0] == 's' ? 1 : 0;
    }
  }
  EXPECT_EQ(kept.size(), 400u);
  const double expected = kTrials * 10.0 / 400.0;  // 500 per item
  for (const auto& [item, n] : kept) EXPECT_NEAR(n, expected, expected * 0.25) << item;
  EXPECT_NEAR(from_small / (kTrials * 10.0), 0.25, 0.01);
}

}  // namespace
}  // namespace mcx::capacity
