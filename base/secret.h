// SecretBytes: a fixed-capacity buffer for secret material (master secrets, scalars).
//
// It is wiped when destroyed or moved from, never printed, and compared only in constant time.
// A SecretBytes allocated while a GuardedSecretScope is active on the thread (see
// guarded_memory.h), or copied from a guarded one, lives in guarded memory: locked in RAM and
// excluded from core dumps. Others live on the ordinary heap, which keeps the hot path (one
// SecretBytes per RSK and SSK) free of system calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace mcx {

// Overwrites memory in a way the compiler may not elide.
void SecureWipe(void* p, size_t n);

class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(size_t n);                      // n zero octets
  explicit SecretBytes(std::span<const uint8_t> b);   // a copy of b
  SecretBytes(const SecretBytes& o);
  SecretBytes& operator=(const SecretBytes& o);
  SecretBytes(SecretBytes&& o) noexcept;
  SecretBytes& operator=(SecretBytes&& o) noexcept;
  ~SecretBytes() { Release(); }

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::span<const uint8_t> view() const { return {data_, size_}; }
  std::span<uint8_t> span() { return {data_, size_}; }
  // Whether the octets live in guarded memory.
  bool guarded() const { return guarded_; }

 private:
  void Allocate(size_t n, bool guarded);
  void Release();
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool guarded_ = false;
};

// Constant-time equality of two equal-length buffers.
bool ConstantTimeEqual(std::span<const uint8_t> a, std::span<const uint8_t> b);

}  // namespace mcx
