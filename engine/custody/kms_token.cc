#include "engine/custody/kms_token.h"

#include "hsm/pin_source.h"

namespace mcx {

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
  if (!module.ok()) return module.status();
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
    return token.status();
  }
  t.token = std::move(token).value();
  return t;
}

}  // namespace mcx
