// KeyEncryptionKey: the AES-256 key inside the token that seals the master secrets.
//
// Generated in the token (CKM_AES_KEY_GEN) as a persistent, private, sensitive, non-extractable
// secret key usable only to encrypt and decrypt (CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE true;
// CKA_EXTRACTABLE, CKA_WRAP, CKA_UNWRAP, CKA_SIGN, CKA_DERIVE false), so its value never leaves the
// HSM. Found again by CKA_LABEL; exactly one AES key may carry the label. Encrypt/Decrypt run
// CKM_AES_GCM with a 96-bit IV and a 128-bit tag in the token, through a pooled session.
#pragma once

#include <string>

#include "base/bytes.h"
#include "base/secret.h"
#include "base/status.h"
#include "hsm/pkcs11_token.h"

namespace mcx::hsm {

inline constexpr size_t kGcmIvBytes = 12;
inline constexpr size_t kGcmTagBytes = 16;

class KeyEncryptionKey {
 public:
  // Fails with AlreadyExists when an AES key with this label is on the token.
  static Result<KeyEncryptionKey> Generate(Pkcs11Token& token, const std::string& label, ByteView id);
  // NotFound when no AES key has this label (deleted, or another token).
  static Result<KeyEncryptionKey> Find(Pkcs11Token& token, const std::string& label);

  // Removes the key from the token: everything sealed under it is lost.
  Status Destroy();

  // ciphertext || tag.
  Result<Bytes> Encrypt(ByteView iv, ByteView aad, ByteView plaintext) const;
  // DataLoss when the tag does not verify (altered blob, other key, other associated data).
  Result<SecretBytes> Decrypt(ByteView iv, ByteView aad, ByteView ciphertext_and_tag) const;

  const std::string& label() const { return label_; }
  Pkcs11Token& token() const { return *token_; }

 private:
  KeyEncryptionKey(Pkcs11Token* token, CK_OBJECT_HANDLE handle, std::string label)
      : token_(token), handle_(handle), label_(std::move(label)) {}
  Pkcs11Token* token_;
  CK_OBJECT_HANDLE handle_;
  std::string label_;
};

}  // namespace mcx::hsm
