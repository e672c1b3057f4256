// KeySetCipher: encryption of key sets at rest.
//
// RSK and SSK are secrets, so a stored key set keeps them only as AES-256-GCM ciphertext under
// the store's data key (itself sealed by the HSM's KEK). Every record has its own random 96-bit
// nonce, and the record's identity (user URI, key period and its bounds, certificate, UID, PVT) is the
// associated data: a row copied onto another user's or period's key fails to open.
// Thread-safe: the key is read-only after construction.
#pragma once

#include <array>
#include <string>

#include "base/bytes.h"
#include "base/secret.h"
#include "base/status.h"
#include "engine/keys/key_set.h"

namespace mcx {

inline constexpr size_t kDataKeyBytes = 32;
inline constexpr size_t kRecordNonceBytes = 12;
inline constexpr size_t kRecordTagBytes = 16;
inline constexpr size_t kSealedSecretsBytes = sakke::kPointBytes + kP256ScalarBytes + kRecordTagBytes;

// A key set as it is stored: public parts in the clear, secrets sealed.
struct SealedKeySet {
  std::string user_uri;
  KeyPeriod period;
  Uid uid{};
  P256Point pvt{};
  std::array<uint8_t, kRecordNonceBytes> nonce{};
  std::array<uint8_t, kSealedSecretsBytes> sealed{};  // ciphertext of RSK || SSK, then the tag
  // The store's marks, read with the record (not sealed, not written by inserts).
  bool revoked = false;
  bool delivered = false;  // handed out before: StoredKeyService does not mark it again
};

class KeySetCipher {
 public:
  // `data_key` is 32 octets; `cert_uri` names the KMS certificate the records belong to.
  KeySetCipher(SecretBytes data_key, std::string cert_uri);

  const std::string& cert_uri() const { return cert_uri_; }
  Result<SealedKeySet> Seal(const KeySet& ks) const;
  // Fails with DataLoss when the record was altered or moved to another identity.
  Result<KeySet> Open(const SealedKeySet& sealed) const;

 private:
  Bytes AssociatedData(const std::string& user_uri, const KeyPeriod& period, const Uid& uid, const P256Point& pvt) const;
  SecretBytes key_;
  std::string cert_uri_;
};

}  // namespace mcx
