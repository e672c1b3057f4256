#include "engine/base/secret.h"

#include <openssl/crypto.h>

namespace mcx {

void SecureWipe(void* p, size_t n) { OPENSSL_cleanse(p, n); }

bool ConstantTimeEqual(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  if (a.size() != b.size()) return false;  // lengths are public
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace mcx
