// OpenKmsToken: the PKCS#11 side of a KMS configuration: load the module (setting SOFTHSM2_CONF
// first when the configuration names one), find the token by label and log in with the PIN
// from the configured source. Errors name the KMS's data directory so operators know which
// configuration to fix; a SoftHSM2 token whose files this process cannot read is reported as
// that (PermissionDenied, naming the path), not as a missing token.
#pragma once

#include <memory>

#include "base/secret.h"
#include "engine/custody/kms_config.h"
#include "hsm/pkcs11_module.h"
#include "hsm/pkcs11_token.h"

namespace mcx {

struct KmsToken {
  std::shared_ptr<hsm::Pkcs11Module> module;
  std::unique_ptr<hsm::Pkcs11Token> token;
};

hsm::ModuleEnvironment ModuleEnvironmentFor(const KmsConfig& config);
Result<std::shared_ptr<hsm::Pkcs11Module>> LoadKmsModule(const KmsConfig& config);

// `pin` overrides the configured source (for `init --demo`, which has just made the PIN); a PIN
// file is read through `env`.
Result<KmsToken> OpenKmsToken(const KmsConfig& config, const SecretBytes* pin = nullptr, Env& env = Env::Default());

}  // namespace mcx
