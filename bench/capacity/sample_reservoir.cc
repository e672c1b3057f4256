#include "bench/capacity/sample_reservoir.h"

#include <utility>

namespace mcx::capacity {

void SampleReservoir::Offer(std::string item, std::mt19937_64& rng) {
  const uint64_t index = seen_++;
  if (items_.size() < capacity_) {
    items_.push_back(std::move(item));
    return;
  }
  const uint64_t slot = std::uniform_int_distribution<uint64_t>(0, index)(rng);
  if (slot < capacity_) items_[slot] = std::move(item);
}

void SampleReservoir::Merge(SampleReservoir other, std::mt19937_64& rng) {
  // Draw the merged sample one item at a time, without replacement: from this stream with the
  // chance its unsampled share of the union has, then a random item of that stream's sample (a
  // random subset of a uniform sample is a uniform sample). How many come from each stream then
  // follows the hypergeometric law, as with one reservoir over both.
  uint64_t left[2] = {seen_, other.seen_};
  std::vector<std::string>* pools[2] = {&items_, &other.items_};
  std::vector<std::string> merged;
  while (merged.size() < capacity_ && left[0] + left[1] > 0) {
    const int from = std::uniform_int_distribution<uint64_t>(0, left[0] + left[1] - 1)(rng) < left[0] ? 0 : 1;
    --left[from];
    std::vector<std::string>& pool = *pools[from];
    if (pool.empty()) continue;  // only with unequal capacities, which callers do not use
    const size_t pick = std::uniform_int_distribution<size_t>(0, pool.size() - 1)(rng);
    merged.push_back(std::move(pool[pick]));
    pool[pick] = std::move(pool.back());
    pool.pop_back();
  }
  items_ = std::move(merged);
  seen_ += other.seen_;
}

}  // namespace mcx::capacity
