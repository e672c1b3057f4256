// SecretBytes: a fixed-capacity buffer for secret material (master secrets, scalars).
//
// It is wiped when destroyed or moved from, never printed, and compared only in constant time.
// Where the memory itself must be guarded (mlock, excluded from core dumps), the HSM layer
// allocates it from its guarded arena; this type only guarantees the wiping.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace mcx {

// Overwrites memory in a way the compiler may not elide.
void SecureWipe(void* p, size_t n);

class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(size_t n) : data_(n, 0) {}
  explicit SecretBytes(std::span<const uint8_t> b) : data_(b.begin(), b.end()) {}
  SecretBytes(const SecretBytes& o) = default;
  SecretBytes& operator=(const SecretBytes& o) {
    if (this != &o) { Wipe(); data_ = o.data_; }
    return *this;
  }
  SecretBytes(SecretBytes&& o) noexcept : data_(std::move(o.data_)) { o.data_.clear(); }
  SecretBytes& operator=(SecretBytes&& o) noexcept {
    if (this != &o) { Wipe(); data_ = std::move(o.data_); o.data_.clear(); }
    return *this;
  }
  ~SecretBytes() { Wipe(); }

  uint8_t* data() { return data_.data(); }
  const uint8_t* data() const { return data_.data(); }
  size_t size() const { return data_.size(); }
  bool empty() const { return data_.empty(); }
  std::span<const uint8_t> view() const { return {data_.data(), data_.size()}; }
  std::span<uint8_t> span() { return {data_.data(), data_.size()}; }

 private:
  void Wipe() { if (!data_.empty()) SecureWipe(data_.data(), data_.size()); }
  std::vector<uint8_t> data_;
};

// Constant-time equality of two equal-length buffers.
bool ConstantTimeEqual(std::span<const uint8_t> a, std::span<const uint8_t> b);

}  // namespace mcx
