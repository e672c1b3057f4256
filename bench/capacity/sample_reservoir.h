// SampleReservoir: a uniform random sample of fixed size from a stream of unknown length
// (Vitter's Algorithm R), and the merge of two samples of disjoint streams into one sample of
// their union that is exactly as fair as one reservoir over both streams would have been.
//
// The load generator keeps one per I/O thread (keyprov answers for KeyMaterialCheck) and merges
// them after the run. Not thread-safe; the caller brings the random generator.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace mcx::capacity {

class SampleReservoir {
 public:
  explicit SampleReservoir(size_t capacity) : capacity_(capacity) {}

  // Every item offered has the same chance, capacity / seen, of being in the sample.
  void Offer(std::string item, std::mt19937_64& rng);

  // Makes this a sample of both streams, as if one reservoir had been offered all their items.
  // Both must have the same capacity.
  void Merge(SampleReservoir other, std::mt19937_64& rng);

  uint64_t seen() const { return seen_; }
  const std::vector<std::string>& items() const { return items_; }
  std::vector<std::string> TakeItems() { return std::move(items_); }

 private:
  size_t capacity_;
  uint64_t seen_ = 0;
  std::vector<std::string> items_;
};

}  // namespace mcx::capacity
