#include "hsm/pkcs11_error.h"

#include <cstdio>

namespace mcx::hsm {
namespace {

struct CkrInfo {
  CK_RV rv;
  const char* name;
  Status::Code code;
  const char* advice;  // what the operator can do; empty when there is nothing specific
};

constexpr CkrInfo kCkrTable[] = {
    {CKR_CANCEL, "CKR_CANCEL", Status::Code::kUnavailable, "the operation was cancelled; retry"},
    {CKR_HOST_MEMORY, "CKR_HOST_MEMORY", Status::Code::kUnavailable, "the PKCS#11 library ran out of memory on this host"},
    {CKR_SLOT_ID_INVALID, "CKR_SLOT_ID_INVALID", Status::Code::kNotFound, "the slot went away; check the HSM's connection"},
    {CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR", Status::Code::kInternal, "the module failed without saying why; see the HSM's own logs"},
    {CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED", Status::Code::kInternal, "see the HSM's own logs"},
    {CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD", Status::Code::kInternal, "this is a bug in mcx-kms; please report it"},
    {CKR_CANT_LOCK, "CKR_CANT_LOCK", Status::Code::kUnavailable, "the module cannot use the operating system's locks, which a multi-threaded KMS needs"},
    {CKR_ATTRIBUTE_VALUE_INVALID, "CKR_ATTRIBUTE_VALUE_INVALID", Status::Code::kInvalidArgument, "the token refused a key attribute; check the token's key policy (see docs/hsm.md)"},
    {CKR_DATA_LEN_RANGE, "CKR_DATA_LEN_RANGE", Status::Code::kInvalidArgument, "the data is too long or too short for this mechanism"},
    {CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR", Status::Code::kUnavailable, "the HSM reported a hardware fault; see its logs"},
    {CKR_DEVICE_MEMORY, "CKR_DEVICE_MEMORY", Status::Code::kUnavailable, "the token is out of memory; free space on it"},
    {CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED", Status::Code::kUnavailable, "the HSM was disconnected; reconnect it and restart"},
    {CKR_ENCRYPTED_DATA_INVALID, "CKR_ENCRYPTED_DATA_INVALID", Status::Code::kDataLoss, "the ciphertext failed authentication: it was altered or sealed under another key or context"},
    {CKR_ENCRYPTED_DATA_LEN_RANGE, "CKR_ENCRYPTED_DATA_LEN_RANGE", Status::Code::kDataLoss, "the ciphertext has an impossible length: it was truncated or altered"},
    {CKR_FUNCTION_NOT_SUPPORTED, "CKR_FUNCTION_NOT_SUPPORTED", Status::Code::kInvalidArgument, "this module does not implement a PKCS#11 function mcx-kms needs"},
    {CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID", Status::Code::kNotFound, "the key is gone from the token"},
    {CKR_KEY_TYPE_INCONSISTENT, "CKR_KEY_TYPE_INCONSISTENT", Status::Code::kInvalidArgument, "the key is not an AES key"},
    {CKR_KEY_FUNCTION_NOT_PERMITTED, "CKR_KEY_FUNCTION_NOT_PERMITTED", Status::Code::kPermissionDenied, "the key's attributes forbid this use (CKA_ENCRYPT/CKA_DECRYPT must be true)"},
    {CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID", Status::Code::kInvalidArgument, "this token does not support the mechanism; run `mcx-kms hsm info` to see what it offers"},
    {CKR_MECHANISM_PARAM_INVALID, "CKR_MECHANISM_PARAM_INVALID", Status::Code::kInvalidArgument, "the token refused the mechanism parameters (AES-GCM with a 96-bit IV and 128-bit tag); run `mcx-kms hsm info`"},
    {CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID", Status::Code::kNotFound, "the object is gone from the token"},
    {CKR_OPERATION_ACTIVE, "CKR_OPERATION_ACTIVE", Status::Code::kInternal, "a session was reused while busy; this is a bug in mcx-kms"},
    {CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT", Status::Code::kPermissionDenied, "the PIN is wrong; check the PIN source (repeated failures can lock the user PIN)"},
    {CKR_PIN_INVALID, "CKR_PIN_INVALID", Status::Code::kPermissionDenied, "the PIN has characters the token does not accept"},
    {CKR_PIN_LEN_RANGE, "CKR_PIN_LEN_RANGE", Status::Code::kPermissionDenied, "the PIN is too short or too long for this token"},
    {CKR_PIN_EXPIRED, "CKR_PIN_EXPIRED", Status::Code::kPermissionDenied, "the PIN has expired; set a new one with the token's tools"},
    {CKR_PIN_LOCKED, "CKR_PIN_LOCKED", Status::Code::kPermissionDenied, "the user PIN is locked after too many wrong attempts; the token's security officer must reset it (e.g. pkcs11-tool --init-pin --login --login-type so)"},
    {CKR_SESSION_CLOSED, "CKR_SESSION_CLOSED", Status::Code::kUnavailable, "the session was closed under us; retry"},
    {CKR_SESSION_COUNT, "CKR_SESSION_COUNT", Status::Code::kUnavailable, "the token has no free sessions; use fewer worker threads or raise the HSM's session limit"},
    {CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID", Status::Code::kUnavailable, "the session is no longer valid (HSM restarted?); restart mcx-kms"},
    {CKR_SESSION_READ_ONLY, "CKR_SESSION_READ_ONLY", Status::Code::kInternal, "a read-only session was used to write; this is a bug in mcx-kms"},
    {CKR_TEMPLATE_INCOMPLETE, "CKR_TEMPLATE_INCOMPLETE", Status::Code::kInvalidArgument, "the token wants more key attributes than mcx-kms gives; see docs/hsm.md"},
    {CKR_TEMPLATE_INCONSISTENT, "CKR_TEMPLATE_INCONSISTENT", Status::Code::kInvalidArgument, "the token refused the key attributes; see docs/hsm.md for the ones mcx-kms sets"},
    {CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT", Status::Code::kUnavailable, "no token is in the slot; insert or connect it"},
    {CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED", Status::Code::kUnavailable, "the module does not recognise the token in the slot"},
    {CKR_TOKEN_WRITE_PROTECTED, "CKR_TOKEN_WRITE_PROTECTED", Status::Code::kPermissionDenied, "the token is write-protected; keys cannot be created on it"},
    {CKR_USER_ALREADY_LOGGED_IN, "CKR_USER_ALREADY_LOGGED_IN", Status::Code::kInternal, ""},
    {CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN", Status::Code::kPermissionDenied, "the session is not logged in; check the PIN source"},
    {CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED", Status::Code::kPermissionDenied, "the token has no user PIN yet; the security officer must set one"},
    {CKR_USER_TYPE_INVALID, "CKR_USER_TYPE_INVALID", Status::Code::kInternal, "this is a bug in mcx-kms; please report it"},
    {CKR_USER_ANOTHER_ALREADY_LOGGED_IN, "CKR_USER_ANOTHER_ALREADY_LOGGED_IN", Status::Code::kUnavailable, "another user (the security officer?) is logged in to the token; log them out"},
    {CKR_RANDOM_NO_RNG, "CKR_RANDOM_NO_RNG", Status::Code::kInvalidArgument, "the token has no random number generator; mcx-kms needs one"},
    {CKR_BUFFER_TOO_SMALL, "CKR_BUFFER_TOO_SMALL", Status::Code::kInternal, "this is a bug in mcx-kms; please report it"},
    {CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED", Status::Code::kInternal, "the module was used before C_Initialize; this is a bug in mcx-kms"},
    {CKR_CRYPTOKI_ALREADY_INITIALIZED, "CKR_CRYPTOKI_ALREADY_INITIALIZED", Status::Code::kInternal, "another part of this process initialised the module already"},
};

const CkrInfo* Find(CK_RV rv) {
  for (const CkrInfo& info : kCkrTable) {
    if (info.rv == rv) return &info;
  }
  return nullptr;
}

}  // namespace

std::string CkrName(CK_RV rv) {
  if (const CkrInfo* info = Find(rv)) return info->name;
  char buf[32];
  std::snprintf(buf, sizeof buf, "CKR_0x%08lX", static_cast<unsigned long>(rv));
  return buf;
}

Status Pkcs11Error(CK_RV rv, const std::string& operation) {
  if (rv == CKR_OK) return Status::Ok();
  const CkrInfo* info = Find(rv);
  std::string msg = operation + " failed with " + CkrName(rv);
  if (info != nullptr && info->advice[0] != '\0') msg += ": " + std::string(info->advice);
  switch (info != nullptr ? info->code : Status::Code::kInternal) {
    case Status::Code::kPermissionDenied: return Status::PermissionDenied(msg);
    case Status::Code::kUnavailable: return Status::Unavailable(msg);
    case Status::Code::kNotFound: return Status::NotFound(msg);
    case Status::Code::kDataLoss: return Status::DataLoss(msg);
    case Status::Code::kInvalidArgument: return Status::InvalidArgument(msg);
    default: return Status::Internal(msg);
  }
}

}  // namespace mcx::hsm
