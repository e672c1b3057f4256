#include "hsm/pkcs11_session.h"

#include <climits>
#include <utility>

#include "hsm/pkcs11_error.h"

namespace mcx::hsm {

Result<Pkcs11Session> Pkcs11Session::Open(std::shared_ptr<Pkcs11Module> module, CK_SLOT_ID slot,
                                          std::string token_label, bool read_write) {
  CK_FLAGS flags = CKF_SERIAL_SESSION | (read_write ? CKF_RW_SESSION : 0);
  CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
  CK_RV rv = module->fn()->C_OpenSession(slot, flags, nullptr, nullptr, &h);
  MCX_RETURN_IF_ERROR(Pkcs11Error(rv, "opening a session on token '" + token_label + "'"));
  return Pkcs11Session(std::move(module), h, std::move(token_label));
}

Pkcs11Session::Pkcs11Session(Pkcs11Session&& o) noexcept
    : module_(std::move(o.module_)), handle_(std::exchange(o.handle_, CK_INVALID_HANDLE)),
      label_(std::move(o.label_)) {}

Pkcs11Session& Pkcs11Session::operator=(Pkcs11Session&& o) noexcept {
  if (this != &o) {
    if (handle_ != CK_INVALID_HANDLE) module_->fn()->C_CloseSession(handle_);
    module_ = std::move(o.module_);
    handle_ = std::exchange(o.handle_, CK_INVALID_HANDLE);
    label_ = std::move(o.label_);
  }
  return *this;
}

Pkcs11Session::~Pkcs11Session() {
  if (handle_ != CK_INVALID_HANDLE) module_->fn()->C_CloseSession(handle_);
}

Status Pkcs11Session::Login(ByteView pin, CK_USER_TYPE user) {
  // The API takes a non-const pointer but does not write through it.
  CK_RV rv = module_->fn()->C_Login(handle_, user, const_cast<CK_UTF8CHAR*>(pin.data()), pin.size());
  if (rv == CKR_USER_ALREADY_LOGGED_IN) return Status::Ok();
  return Pkcs11Error(rv, On(user == CKU_SO ? "logging in as security officer" : "logging in"));
}

Status Pkcs11Session::GenerateRandom(std::span<uint8_t> out) {
  size_t done = 0;
  while (done < out.size()) {
    CK_ULONG chunk = static_cast<CK_ULONG>(std::min<size_t>(out.size() - done, 1u << 20));
    CK_RV rv = module_->fn()->C_GenerateRandom(handle_, out.data() + done, chunk);
    MCX_RETURN_IF_ERROR(Pkcs11Error(rv, On("drawing random bytes (C_GenerateRandom)")));
    done += chunk;
  }
  return Status::Ok();
}

Status Pkcs11Session::CheckLoggedIn() {
  CK_SESSION_INFO info{};
  MCX_RETURN_IF_ERROR(Pkcs11Error(module_->fn()->C_GetSessionInfo(handle_, &info), On("checking the session")));
  if (info.state != CKS_RO_USER_FUNCTIONS && info.state != CKS_RW_USER_FUNCTIONS) {
    return Status::Unavailable("the session on token '" + label_ +
                               "' is no longer logged in (was the token reset?); restart mcx-kms");
  }
  return Status::Ok();
}

Result<std::vector<CK_OBJECT_HANDLE>> Pkcs11Session::FindObjects(std::span<CK_ATTRIBUTE> match) {
  const std::string op = On("searching for objects");
  MCX_RETURN_IF_ERROR(Pkcs11Error(module_->fn()->C_FindObjectsInit(handle_, match.data(), match.size()), op));
  std::vector<CK_OBJECT_HANDLE> found;
  CK_RV rv = CKR_OK;
  for (;;) {
    CK_OBJECT_HANDLE batch[16];
    CK_ULONG n = 0;
    rv = module_->fn()->C_FindObjects(handle_, batch, 16, &n);
    if (rv != CKR_OK || n == 0) break;
    found.insert(found.end(), batch, batch + n);
  }
  CK_RV final_rv = module_->fn()->C_FindObjectsFinal(handle_);
  MCX_RETURN_IF_ERROR(Pkcs11Error(rv, op));
  MCX_RETURN_IF_ERROR(Pkcs11Error(final_rv, op));
  return found;
}

Result<CK_OBJECT_HANDLE> Pkcs11Session::GenerateKey(CK_MECHANISM_TYPE mechanism,
                                                     std::span<CK_ATTRIBUTE> attributes) {
  CK_MECHANISM mech{mechanism, nullptr, 0};
  CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
  CK_RV rv = module_->fn()->C_GenerateKey(handle_, &mech, attributes.data(), attributes.size(), &key);
  MCX_RETURN_IF_ERROR(Pkcs11Error(rv, On("generating a key (" + MechanismName(mechanism) + ")")));
  return key;
}

Status Pkcs11Session::DestroyObject(CK_OBJECT_HANDLE object) {
  return Pkcs11Error(module_->fn()->C_DestroyObject(handle_, object), On("destroying an object"));
}

Result<Bytes> Pkcs11Session::Encrypt(CK_MECHANISM& mechanism, CK_OBJECT_HANDLE key, ByteView plaintext) {
  const std::string op = On("encrypting (" + MechanismName(mechanism.mechanism) + ")");
  MCX_RETURN_IF_ERROR(Pkcs11Error(module_->fn()->C_EncryptInit(handle_, &mechanism, key), op));
  // Room for an AES block of padding or a GCM tag; a module that wants more says so.
  Bytes out(plaintext.size() + 32);
  CK_ULONG len = out.size();
  CK_BYTE_PTR in = const_cast<CK_BYTE_PTR>(plaintext.data());
  CK_RV rv = module_->fn()->C_Encrypt(handle_, in, plaintext.size(), out.data(), &len);
  if (rv == CKR_BUFFER_TOO_SMALL) {  // the operation stays active for a retry
    out.resize(len);
    rv = module_->fn()->C_Encrypt(handle_, in, plaintext.size(), out.data(), &len);
  }
  MCX_RETURN_IF_ERROR(Pkcs11Error(rv, op));
  out.resize(len);
  return out;
}

Result<SecretBytes> Pkcs11Session::Decrypt(CK_MECHANISM& mechanism, CK_OBJECT_HANDLE key, ByteView ciphertext) {
  const std::string op = On("decrypting (" + MechanismName(mechanism.mechanism) + ")");
  MCX_RETURN_IF_ERROR(Pkcs11Error(module_->fn()->C_DecryptInit(handle_, &mechanism, key), op));
  SecretBytes out(ciphertext.size());
  CK_ULONG len = out.size();
  CK_BYTE_PTR in = const_cast<CK_BYTE_PTR>(ciphertext.data());
  CK_RV rv = module_->fn()->C_Decrypt(handle_, in, ciphertext.size(), out.data(), &len);
  if (rv == CKR_BUFFER_TOO_SMALL) {
    out = SecretBytes(len);
    rv = module_->fn()->C_Decrypt(handle_, in, ciphertext.size(), out.data(), &len);
  }
  MCX_RETURN_IF_ERROR(Pkcs11Error(rv, op));
  if (len == out.size()) return out;
  return SecretBytes(out.view().first(len));  // `out` is wiped as it goes
}

Result<size_t> Pkcs11Session::Sign(CK_MECHANISM& mechanism, CK_OBJECT_HANDLE key, ByteView data,
                                   std::span<uint8_t> out) {
  const std::string op = On("signing (" + MechanismName(mechanism.mechanism) + ")");
  MCX_RETURN_IF_ERROR(Pkcs11Error(module_->fn()->C_SignInit(handle_, &mechanism, key), op));
  CK_ULONG len = out.size();
  // An empty span may have a null pointer, which modules refuse (CKR_ARGUMENTS_BAD) even for length 0.
  CK_BYTE nothing = 0;
  CK_BYTE_PTR in = data.empty() ? &nothing : const_cast<CK_BYTE_PTR>(data.data());
  CK_RV rv = module_->fn()->C_Sign(handle_, in, data.size(), out.data(), &len);
  // CKR_BUFFER_TOO_SMALL leaves the operation active; end it so the session stays usable.
  if (rv == CKR_BUFFER_TOO_SMALL) {
    Bytes scratch(len);
    (void)module_->fn()->C_Sign(handle_, in, data.size(), scratch.data(), &len);
    return Status::Internal(op + ": the token's result is " + std::to_string(len) + " octets, more than the " +
                            std::to_string(out.size()) + " expected");
  }
  MCX_RETURN_IF_ERROR(Pkcs11Error(rv, op));
  return static_cast<size_t>(len);
}

}  // namespace mcx::hsm
