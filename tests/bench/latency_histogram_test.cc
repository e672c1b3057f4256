#include "bench/capacity/latency_histogram.h"

#include <gtest/gtest.h>

#include <random>

namespace mcx::capacity {
namespace {

TEST(LatencyHistogramTest, EveryValueIsWithinOneBucketOfItsUpperBound) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 200000; ++i) {
    const uint64_t v = rng() >> (rng() % 60 + 4);
    if (v >= (uint64_t{1} << 40)) continue;
    const uint64_t upper = LatencyHistogram::BucketUpper(LatencyHistogram::BucketOf(v));
    ASSERT_GE(upper, v);
    ASSERT_LE(static_cast<double>(upper - v), static_cast<double>(v) / 128.0 + 1.0) << v;
  }
}

TEST(LatencyHistogramTest, BucketsAreOrderedAndContiguous) {
  for (size_t b = 1; b < LatencyHistogram::BucketOf(uint64_t{1} << 39); ++b) {
    ASSERT_EQ(LatencyHistogram::BucketOf(LatencyHistogram::BucketUpper(b)), b);
    ASSERT_EQ(LatencyHistogram::BucketOf(LatencyHistogram::BucketUpper(b - 1) + 1), b);
  }
}

TEST(LatencyHistogramTest, PercentilesOfAUniformSpreadAreWithinOnePercent) {
  LatencyHistogram h;
  for (uint64_t v = 1; v <= 100000; ++v) h.Record(v);
  EXPECT_EQ(h.count(), 100000u);
  EXPECT_EQ(h.min(), 1u);
  EXPECT_EQ(h.max(), 100000u);
  EXPECT_NEAR(h.mean(), 50000.5, 1e-6);
  for (double p : {50.0, 90.0, 99.0, 99.9}) {
    const double exact = p * 1000.0;
    EXPECT_NEAR(static_cast<double>(h.ValueAtPercentile(p)), exact, exact * 0.01) << p;
  }
  EXPECT_EQ(h.ValueAtPercentile(100), 100000u);
}

TEST(LatencyHistogramTest, MergeAddsCountsAndKeepsExtremes) {
  LatencyHistogram a, b;
  a.Record(10);
  a.Record(20);
  b.Record(5);
  b.Record(1000000);
  a.Merge(b);
  EXPECT_EQ(a.count(), 4u);
  EXPECT_EQ(a.min(), 5u);
  EXPECT_EQ(a.max(), 1000000u);
  EXPECT_EQ(a.ValueAtPercentile(50), 10u);
  EXPECT_EQ(a.NonEmptyBuckets().size(), 4u);
}

// Per-thread histograms merged are the histogram of all values: same buckets, count, extremes,
// mean and percentiles, whatever the split.
TEST(LatencyHistogramTest, MergeIsExactForTheSameBucketLayout) {
  std::mt19937_64 rng(11);
  LatencyHistogram all, parts[3];
  for (int i = 0; i < 30000; ++i) {
    const uint64_t v = rng() >> (rng() % 40 + 24);
    all.Record(v);
    parts[rng() % 3].Record(v);
  }
  LatencyHistogram merged;
  for (const LatencyHistogram& p : parts) merged.Merge(p);
  EXPECT_EQ(merged.count(), all.count());
  EXPECT_EQ(merged.min(), all.min());
  EXPECT_EQ(merged.max(), all.max());
  EXPECT_DOUBLE_EQ(merged.mean(), all.mean());
  for (double p : {0.0, 50.0, 90.0, 99.0, 99.9, 100.0}) EXPECT_EQ(merged.ValueAtPercentile(p), all.ValueAtPercentile(p)) << p;
  const auto a = all.NonEmptyBuckets(), b = merged.NonEmptyBuckets();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].upper_micros, b[i].upper_micros);
    EXPECT_EQ(a[i].count, b[i].count);
  }
  // An empty histogram merged in changes nothing, nor does merging into an empty one.
  LatencyHistogram empty, copy;
  merged.Merge(empty);
  EXPECT_EQ(merged.min(), all.min());
  copy.Merge(all);
  EXPECT_EQ(copy.ValueAtPercentile(99), all.ValueAtPercentile(99));
  EXPECT_EQ(copy.min(), all.min());
}

TEST(LatencyHistogramTest, EmptyHistogramReportsZeros) {
  LatencyHistogram h;
  EXPECT_EQ(h.ValueAtPercentile(99), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.mean(), 0.0);
}

}  // namespace
}  // namespace mcx::capacity
