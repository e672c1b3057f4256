#include "base/secret.h"

#include <string.h>  // explicit_bzero

#include <cstring>
#include <new>
#include <utility>

#include <openssl/crypto.h>

#include "base/guarded_memory.h"

namespace mcx {

// glibc's explicit_bzero is its memset behind a compiler barrier. OPENSSL_cleanse, used before,
// clears small buffers a byte or a word at a time, and the point arithmetic wipes many small ones:
// perf put it at 4-5 % of a P-256 [k]G.
// It takes no null pointer, which an empty buffer's data() may be.
void SecureWipe(void* p, size_t n) {
  if (n != 0) explicit_bzero(p, n);
}

bool ConstantTimeEqual(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  if (a.size() != b.size()) return false;  // lengths are public
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

SecretBytes::SecretBytes(size_t n) { Allocate(n, GuardedSecretScope::Active()); }

SecretBytes::SecretBytes(std::span<const uint8_t> b) {
  Allocate(b.size(), GuardedSecretScope::Active());
  if (!b.empty()) std::memcpy(data_, b.data(), b.size());
}

SecretBytes::SecretBytes(const SecretBytes& o) {
  Allocate(o.size_, o.guarded_ || GuardedSecretScope::Active());
  if (o.size_ != 0) std::memcpy(data_, o.data_, o.size_);
}

SecretBytes& SecretBytes::operator=(const SecretBytes& o) {
  if (this != &o) {
    SecretBytes copy(o);
    *this = std::move(copy);
  }
  return *this;
}

SecretBytes::SecretBytes(SecretBytes&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)),
      guarded_(std::exchange(o.guarded_, false)) {}

SecretBytes& SecretBytes::operator=(SecretBytes&& o) noexcept {
  if (this != &o) {
    Release();
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
    guarded_ = std::exchange(o.guarded_, false);
  }
  return *this;
}

void SecretBytes::Allocate(size_t n, bool guarded) {
  if (n == 0) return;
  if (guarded) {
    data_ = static_cast<uint8_t*>(AllocateGuarded(n, nullptr));
    if (data_ == nullptr) throw std::bad_alloc();  // as std::vector did on exhaustion
    guarded_ = true;
  } else {
    data_ = new uint8_t[n]();
  }
  size_ = n;
}

void SecretBytes::Release() {
  if (data_ == nullptr) return;
  if (guarded_) {
    FreeGuarded(data_, size_);
  } else {
    SecureWipe(data_, size_);
    delete[] data_;
  }
  data_ = nullptr;
  size_ = 0;
  guarded_ = false;
}

}  // namespace mcx
