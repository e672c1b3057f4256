// ReleasedBlocks: while one lives, it sees every block a WipingAllocator releases (through
// SetWipeObserverForTesting) and records its size and whether it held only zeros. One at a time.
#pragma once

#include <algorithm>
#include <cstddef>
#include <mutex>
#include <vector>

#include "base/wiping_allocator.h"

namespace mcx::testing {

struct ReleasedBlock {
  size_t bytes = 0;
  bool wiped = false;  // every octet was zero when the allocator let it go
};

class ReleasedBlocks {
 public:
  ReleasedBlocks() {
    Clear();
    SetWipeObserverForTesting(&Record);
  }
  ~ReleasedBlocks() { SetWipeObserverForTesting(nullptr); }
  ReleasedBlocks(const ReleasedBlocks&) = delete;
  ReleasedBlocks& operator=(const ReleasedBlocks&) = delete;

  std::vector<ReleasedBlock> blocks() const {
    std::lock_guard<std::mutex> lock(mu());
    return log();
  }

 private:
  static std::mutex& mu() {
    static std::mutex m;
    return m;
  }
  static std::vector<ReleasedBlock>& log() {
    static std::vector<ReleasedBlock> l;
    return l;
  }
  static void Clear() {
    std::lock_guard<std::mutex> lock(mu());
    log().clear();
  }
  static void Record(const void* block, size_t bytes) {
    const auto* p = static_cast<const unsigned char*>(block);
    const bool wiped = std::all_of(p, p + bytes, [](unsigned char c) { return c == 0; });
    std::lock_guard<std::mutex> lock(mu());
    log().push_back({bytes, wiped});
  }
};

}  // namespace mcx::testing
