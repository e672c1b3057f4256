#include "hsm/token_requirements.h"

#include "hsm/pkcs11_error.h"

namespace mcx::hsm {
namespace {

bool HasMechanism(const Pkcs11Module& module, CK_SLOT_ID slot, CK_MECHANISM_TYPE m, CK_FLAGS flags,
                  CK_ULONG key_bytes) {
  CK_MECHANISM_INFO info{};
  if (module.fn()->C_GetMechanismInfo(slot, m, &info) != CKR_OK) return false;
  if ((info.flags & flags) != flags) return false;
  // AES key sizes are in octets (PKCS#11 v2.40); some modules report bits, so accept either.
  if (key_bytes != 0) {
    bool in_octets = info.ulMinKeySize <= key_bytes && key_bytes <= info.ulMaxKeySize;
    bool in_bits = info.ulMinKeySize <= key_bytes * 8 && key_bytes * 8 <= info.ulMaxKeySize;
    if (!in_octets && !in_bits) return false;
  }
  return true;
}

}  // namespace

Result<std::vector<TokenRequirement>> CheckTokenRequirements(const Pkcs11Module& module, CK_SLOT_ID slot) {
  CK_TOKEN_INFO ti{};
  MCX_RETURN_IF_ERROR(Pkcs11Error(module.fn()->C_GetTokenInfo(slot, &ti),
                                  "reading the token information of slot " + std::to_string(slot)));
  std::vector<TokenRequirement> r;
  r.push_back({"CKM_AES_KEY_GEN", "the AES-256 key-encryption key (CKF_GENERATE, 32-octet keys)",
               HasMechanism(module, slot, CKM_AES_KEY_GEN, CKF_GENERATE, 32)});
  r.push_back({"CKM_AES_GCM", "sealing and unsealing the master secrets (CKF_ENCRYPT, CKF_DECRYPT)",
               HasMechanism(module, slot, CKM_AES_GCM, CKF_ENCRYPT | CKF_DECRYPT, 0)});
  r.push_back({"CKM_GENERIC_SECRET_KEY_GEN", "the audit log's HMAC key (CKF_GENERATE, 32-octet keys)",
               HasMechanism(module, slot, CKM_GENERIC_SECRET_KEY_GEN, CKF_GENERATE, 32)});
  r.push_back({"CKM_SHA256_HMAC", "authenticating audit records (CKF_SIGN, CKF_VERIFY)",
               HasMechanism(module, slot, CKM_SHA256_HMAC, CKF_SIGN | CKF_VERIFY, 0)});
  r.push_back({"random generator", "master secrets, IVs and ECCSI's v (CKF_RNG, C_GenerateRandom)",
               (ti.flags & CKF_RNG) != 0});
  return r;
}

Status RequireTokenRequirements(const Pkcs11Module& module, CK_SLOT_ID slot, const std::string& label) {
  Result<std::vector<TokenRequirement>> reqs = CheckTokenRequirements(module, slot);
  if (!reqs.ok()) return reqs.status();
  std::string missing;
  for (const TokenRequirement& r : *reqs) {
    if (!r.met) missing += (missing.empty() ? "" : "; ") + r.name + " (for " + r.needed + ")";
  }
  if (missing.empty()) return Status::Ok();
  return Status::InvalidArgument("token '" + label + "' lacks what mcx-kms needs: " + missing +
                                 "; enable it in the HSM's policy or use another token (see `mcx-kms hsm info`)");
}

}  // namespace mcx::hsm
