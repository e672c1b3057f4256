// LatencyHistogram: request latencies in log-linear buckets, in the manner of HdrHistogram.
//
// Values are microseconds. Below 256 us every value has its own bucket; above, each power of two
// is split into 128 equal buckets, so a value is known to within 1/128 (< 0.8 %) of itself, from
// 1 us up to about 10^12 us, in a fixed 5 KiB of counters. Percentiles report the highest value
// of the bucket they fall in (never lower than the true value); min, max and the mean are exact.
// Not thread-safe: keep one per thread and Merge() them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace mcx::capacity {

class LatencyHistogram {
 public:
  void Record(uint64_t micros);
  void Merge(const LatencyHistogram& other);

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ == 0 ? 0 : min_; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ == 0 ? 0 : static_cast<double>(sum_) / static_cast<double>(count_); }
  // The value at or below which `percent` (0..100) of the recorded values lie; 0 when empty.
  uint64_t ValueAtPercentile(double percent) const;

  // Non-empty buckets in increasing order: the highest value of the bucket and its count.
  struct Bucket {
    uint64_t upper_micros;
    uint64_t count;
  };
  std::vector<Bucket> NonEmptyBuckets() const;

  // Exposed for tests: the bucket of a value and the highest value in a bucket.
  static size_t BucketOf(uint64_t micros);
  static uint64_t BucketUpper(size_t bucket);

 private:
  static constexpr int kLinearBits = 8;                       // 0..255 exact
  static constexpr int kSubBits = kLinearBits - 1;            // 128 buckets per power of two
  static constexpr int kMaxExponent = 40;                     // 2^40 us, about 12 days
  static constexpr size_t kBuckets = (1u << kLinearBits) + (kMaxExponent - kLinearBits + 1) * (1u << kSubBits);

  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
};

}  // namespace mcx::capacity
