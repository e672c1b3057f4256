// WipingAllocator<T>: a standard allocator whose deallocate() wipes the block (explicit_bzero,
// through SecureWipe) before freeing it, and SecretString, a std::basic_string that uses it.
//
// A string that grows copies its text into a new block and frees the old one: with
// std::allocator the old copy of whatever was written (a key in hex) stays in freed heap memory.
// With WipingAllocator every block is wiped when it is released, on growth and at destruction,
// so a document built piece by piece leaves nothing behind. Only heap blocks are covered: a
// SecretString short enough for the small-string buffer lives in the object itself, so hold
// secrets only in strings that are large (documents), or wipe them yourself.
//
// SetWipeObserverForTesting() installs a hook that sees each block after it is wiped and before
// it is freed, so tests can check that released memory holds only zeros.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>

#include "base/secret.h"

namespace mcx {

using WipeObserver = void (*)(const void* block, size_t bytes);

namespace internal {
inline std::atomic<WipeObserver>& WipeObserverSlot() {
  static std::atomic<WipeObserver> observer{nullptr};
  return observer;
}
}  // namespace internal

// Tests only: `observer` (or nullptr to remove it) is called for every block a WipingAllocator
// releases, after the wipe and before the free, on the releasing thread.
inline void SetWipeObserverForTesting(WipeObserver observer) { internal::WipeObserverSlot().store(observer); }

template <typename T>
class WipingAllocator {
 public:
  using value_type = T;
  // Stateless: any instance frees what another allocated.
  using is_always_equal = std::true_type;

  WipingAllocator() noexcept = default;
  template <typename U>
  WipingAllocator(const WipingAllocator<U>&) noexcept {}  // NOLINT: rebinding, as allocators do

  T* allocate(size_t n) { return std::allocator<T>().allocate(n); }

  void deallocate(T* p, size_t n) noexcept {
    if (p == nullptr) return;
    SecureWipe(p, n * sizeof(T));
    if (WipeObserver observer = internal::WipeObserverSlot().load(std::memory_order_relaxed)) {
      observer(p, n * sizeof(T));
    }
    std::allocator<T>().deallocate(p, n);
  }

  template <typename U>
  bool operator==(const WipingAllocator<U>&) const noexcept { return true; }
};

// Text that may hold secret material (a KmsKeyProv document, a response body carrying keys).
using SecretString = std::basic_string<char, std::char_traits<char>, WipingAllocator<char>>;

}  // namespace mcx
