// What mcx-kms needs from a token, checked before `init` creates anything and shown by
// `mcx-kms hsm info`:
//   CKM_AES_KEY_GEN   with CKF_GENERATE and 32-octet keys     (the key-encryption key)
//   CKM_AES_GCM       with CKF_ENCRYPT and CKF_DECRYPT         (sealing the master secrets)
//   a random generator (CKF_RNG in the token flags)            (master secrets, IVs, ECCSI's v)
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "hsm/pkcs11_module.h"

namespace mcx::hsm {

struct TokenRequirement {
  std::string name;    // "CKM_AES_GCM"
  std::string needed;  // what it is for, and which flags
  bool met = false;
};

Result<std::vector<TokenRequirement>> CheckTokenRequirements(const Pkcs11Module& module, CK_SLOT_ID slot);

// OK when all are met; otherwise InvalidArgument naming the token and what it lacks.
Status RequireTokenRequirements(const Pkcs11Module& module, CK_SLOT_ID slot, const std::string& label);

}  // namespace mcx::hsm
