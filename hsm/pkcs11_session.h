// Pkcs11Session: one open PKCS#11 session on a token, closed when destroyed.
//
// A session serves one thread at a time (PKCS#11 runs one operation per session); the
// Pkcs11Token's pool hands sessions out. Every failure names the operation and the token.
// Buffers that receive secrets (C_Decrypt output) are SecretBytes; nothing here logs data.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/secret.h"
#include "base/status.h"
#include "hsm/pkcs11.h"
#include "hsm/pkcs11_module.h"

namespace mcx::hsm {

class Pkcs11Session {
 public:
  static Result<Pkcs11Session> Open(std::shared_ptr<Pkcs11Module> module, CK_SLOT_ID slot,
                                    std::string token_label, bool read_write);
  Pkcs11Session(Pkcs11Session&& o) noexcept;
  Pkcs11Session& operator=(Pkcs11Session&& o) noexcept;
  ~Pkcs11Session();

  CK_SESSION_HANDLE handle() const { return handle_; }
  const std::string& token_label() const { return label_; }

  // Logs the normal user in; an already logged-in application is fine.
  Status Login(ByteView pin, CK_USER_TYPE user = CKU_USER);
  Status GenerateRandom(std::span<uint8_t> out);
  // Whether the session still works and its application is logged in (C_GetSessionInfo).
  Status CheckLoggedIn();

  Result<std::vector<CK_OBJECT_HANDLE>> FindObjects(std::span<CK_ATTRIBUTE> match);
  Result<CK_OBJECT_HANDLE> GenerateKey(CK_MECHANISM_TYPE mechanism, std::span<CK_ATTRIBUTE> attributes);
  Status DestroyObject(CK_OBJECT_HANDLE object);

  // Single-part C_Encrypt / C_Decrypt with `mechanism` under `key`.
  Result<Bytes> Encrypt(CK_MECHANISM& mechanism, CK_OBJECT_HANDLE key, ByteView plaintext);
  Result<SecretBytes> Decrypt(CK_MECHANISM& mechanism, CK_OBJECT_HANDLE key, ByteView ciphertext);
  // Single-part C_Sign (a MAC or a signature) of `data` into `out`; returns its length.
  Result<size_t> Sign(CK_MECHANISM& mechanism, CK_OBJECT_HANDLE key, ByteView data, std::span<uint8_t> out);

 private:
  Pkcs11Session(std::shared_ptr<Pkcs11Module> module, CK_SESSION_HANDLE handle, std::string label)
      : module_(std::move(module)), handle_(handle), label_(std::move(label)) {}
  std::string On(const std::string& what) const { return what + " on token '" + label_ + "'"; }
  std::shared_ptr<Pkcs11Module> module_;
  CK_SESSION_HANDLE handle_ = CK_INVALID_HANDLE;
  std::string label_;
};

}  // namespace mcx::hsm
