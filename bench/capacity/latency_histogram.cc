#include "bench/capacity/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace mcx::capacity {

size_t LatencyHistogram::BucketOf(uint64_t v) {
  constexpr uint64_t kLinear = 1u << kLinearBits;
  if (v < kLinear) return static_cast<size_t>(v);
  const uint64_t cap = (uint64_t{1} << (kMaxExponent + 1)) - 1;
  v = std::min(v, cap);
  const int exponent = std::bit_width(v) - 1;  // >= kLinearBits
  const int shift = exponent - kSubBits;       // keeps the top kSubBits + 1 bits
  const uint64_t sub = (v >> shift) - (uint64_t{1} << kSubBits);
  return static_cast<size_t>(kLinear + static_cast<uint64_t>(exponent - kLinearBits) * (1u << kSubBits) + sub);
}

uint64_t LatencyHistogram::BucketUpper(size_t bucket) {
  constexpr size_t kLinear = 1u << kLinearBits;
  if (bucket < kLinear) return bucket;
  const size_t rel = bucket - kLinear;
  const int exponent = static_cast<int>(rel >> kSubBits) + kLinearBits;
  const uint64_t sub = (rel & ((1u << kSubBits) - 1)) + (uint64_t{1} << kSubBits);
  const int shift = exponent - kSubBits;
  return ((sub + 1) << shift) - 1;
}

void LatencyHistogram::Record(uint64_t micros) {
  ++counts_[BucketOf(micros)];
  ++count_;
  sum_ += micros;
  min_ = std::min(min_, micros);
  max_ = std::max(max_, micros);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

uint64_t LatencyHistogram::ValueAtPercentile(double percent) const {
  if (count_ == 0) return 0;
  percent = std::clamp(percent, 0.0, 100.0);
  const auto rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(percent / 100.0 * static_cast<double>(count_))));
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(BucketUpper(i), max_);
  }
  return max_;
}

std::vector<LatencyHistogram::Bucket> LatencyHistogram::NonEmptyBuckets() const {
  std::vector<Bucket> out;
  for (size_t i = 0; i < kBuckets; ++i) {
    if (counts_[i] != 0) out.push_back({std::min(BucketUpper(i), max_), counts_[i]});
  }
  return out;
}

}  // namespace mcx::capacity
