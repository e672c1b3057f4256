#include "engine/custody/kms_token.h"

#include <unistd.h>

#include "hsm/pin_source.h"
#include "hsm/softhsm_token_files.h"

namespace mcx {
namespace {

// SoftHSM2 leaves a token it cannot read out of the slot list (and fails C_Initialize on a token
// directory it cannot read): when that is why the lookup failed, say so instead.
Status ExplainUnreadableToken(const KmsConfig& config, const Status& st) {
  if (!hsm::IsSoftHsmModule(config.module_path)) return st;
  const std::optional<std::filesystem::path> path =
      hsm::UnreadableSoftHsmPath(hsm::SoftHsmConfPath(ModuleEnvironmentFor(config)));
  if (!path) return st;
  return Status::PermissionDenied(
      "cannot read the token's files at " + path->string() + ": permissions (this process runs as uid " +
      std::to_string(geteuid()) + "), so SoftHSM2 cannot show token '" + config.token_label +
      "'; run the KMS as the user that owns the token directory, or give that user read and write access to it");
}

}  // namespace

hsm::ModuleEnvironment ModuleEnvironmentFor(const KmsConfig& config) {
  if (config.softhsm2_conf.empty()) return {};
  return {{"SOFTHSM2_CONF", config.softhsm2_conf.string()}};
}

Result<std::shared_ptr<hsm::Pkcs11Module>> LoadKmsModule(const KmsConfig& config) {
  return hsm::Pkcs11Module::Load(config.module_path, ModuleEnvironmentFor(config));
}

Result<KmsToken> OpenKmsToken(const KmsConfig& config, const SecretBytes* pin, Env& env) {
  KmsToken t;
  Result<std::shared_ptr<hsm::Pkcs11Module>> module = LoadKmsModule(config);
  if (!module.ok()) return ExplainUnreadableToken(config, module.status());
  t.module = std::move(module).value();
  SecretBytes read_pin;
  if (pin == nullptr) {
    Result<SecretBytes> p = hsm::ReadPin(config.pin, env);
    if (!p.ok()) return p.status();
    read_pin = std::move(p).value();
    pin = &read_pin;
  }
  Result<std::unique_ptr<hsm::Pkcs11Token>> token = hsm::Pkcs11Token::Open(t.module, config.token_label, pin);
  if (!token.ok()) {
    if (token.status().code() == Status::Code::kPermissionDenied && config.pin.kind != hsm::PinSource::Kind::kNone) {
      return token.status().Annotate("using the PIN from " + config.pin.Describe());
    }
    if (token.status().code() == Status::Code::kNotFound) return ExplainUnreadableToken(config, token.status());
    return token.status();
  }
  t.token = std::move(token).value();
  return t;
}

}  // namespace mcx
