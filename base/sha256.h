// SHA-256 over several pieces, through OpenSSL's EVP interface.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>

#include <openssl/evp.h>

#include "base/bytes.h"

namespace mcx {

using Sha256Digest = std::array<uint8_t, 32>;

// The digest of the concatenation of `parts`.
Sha256Digest Sha256(std::initializer_list<ByteView> parts);

// SHA-256 of `message` and of its first `prefix_size` octets (at most message.size()), in one pass
// over the message: the state after the prefix is copied and finished, the original goes on. For a
// JWS, the digest of its signing input (the text up to the second '.') and of its whole text.
struct Sha256PrefixAndWhole {
  Sha256Digest prefix, whole;
};
Sha256PrefixAndWhole Sha256OfPrefixAndWhole(ByteView message, size_t prefix_size);

// SHA-256 of messages that all begin with the same public prefix: the prefix is absorbed once, and
// each Digest() resumes from that state. ECCSI's HS = SHA-256(G || KPAK || UID || PVT) has a
// 130-octet prefix fixed per KMS, which is two of the hash's four compression blocks.
// Digest() is safe to call from many threads at once (each thread resumes in its own context).
class Sha256WithPrefix {
 public:
  explicit Sha256WithPrefix(std::initializer_list<ByteView> prefix);
  ~Sha256WithPrefix();
  Sha256WithPrefix(const Sha256WithPrefix&) = delete;
  Sha256WithPrefix& operator=(const Sha256WithPrefix&) = delete;

  // SHA-256(prefix || rest...).
  Sha256Digest Digest(std::initializer_list<ByteView> rest) const;

 private:
  EVP_MD_CTX* prefix_state_;  // never updated after construction
};

}  // namespace mcx
