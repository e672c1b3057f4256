// HmacKey: an HMAC-SHA-256 key inside the token, for authenticating records (the audit chain).
//
// Generated in the token (CKM_GENERIC_SECRET_KEY_GEN, CKK_GENERIC_SECRET, 32 octets) as a
// persistent, private, sensitive, non-extractable key usable only to sign and verify (CKA_TOKEN,
// CKA_PRIVATE, CKA_SENSITIVE, CKA_SIGN, CKA_VERIFY true; CKA_EXTRACTABLE, CKA_ENCRYPT, CKA_DECRYPT,
// CKA_WRAP, CKA_UNWRAP, CKA_DERIVE false), so its value never leaves the HSM and whoever can edit
// the records cannot recompute their MACs. Found again by CKA_LABEL; exactly one generic secret
// key may carry the label. Sign() runs CKM_SHA256_HMAC in the token through a pooled session and
// is safe to call from many threads at once.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "base/bytes.h"
#include "base/status.h"
#include "hsm/pkcs11_token.h"

namespace mcx::hsm {

using HmacSha256 = std::array<uint8_t, 32>;

class HmacKey {
 public:
  // Fails with AlreadyExists when a generic secret key with this label is on the token.
  static Result<HmacKey> Generate(Pkcs11Token& token, const std::string& label, ByteView id);
  // NotFound when no generic secret key has this label; DataLoss when more than one has.
  static Result<HmacKey> Find(Pkcs11Token& token, const std::string& label);

  // Removes the key from the token: MACs made with it can no longer be checked.
  Status Destroy();

  // HMAC-SHA-256 of `data` under the key, computed in the token.
  Result<HmacSha256> Sign(ByteView data) const;

  const std::string& label() const { return label_; }
  Pkcs11Token& token() const { return *token_; }
  CK_OBJECT_HANDLE handle() const { return handle_; }

 private:
  HmacKey(Pkcs11Token* token, CK_OBJECT_HANDLE handle, std::string label)
      : token_(token), handle_(handle), label_(std::move(label)) {}
  Pkcs11Token* token_;
  CK_OBJECT_HANDLE handle_;
  std::string label_;
};

}  // namespace mcx::hsm
