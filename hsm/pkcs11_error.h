// Pkcs11Error: a CKR_ return value turned into a Status an operator can act on.
//
// The message names the operation (the caller includes the token: "logging in to token
// 'mcx-kms'"), the CKR_ name, and what to do. The Status code says how callers should react:
// PermissionDenied for PIN problems, Unavailable for a device that is away or busy, NotFound for
// a missing object, DataLoss for ciphertext that fails authentication, InvalidArgument for a
// token that lacks a mechanism or refuses a template, Internal for the rest.
#pragma once

#include <string>

#include "base/status.h"
#include "hsm/pkcs11.h"

namespace mcx::hsm {

// "CKR_PIN_INCORRECT", or "CKR_0x000000A0" for a code we do not name.
std::string CkrName(CK_RV rv);

// OK for CKR_OK.
Status Pkcs11Error(CK_RV rv, const std::string& operation);

}  // namespace mcx::hsm
