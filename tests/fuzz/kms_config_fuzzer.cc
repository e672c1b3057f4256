// libFuzzer target: the KMS configuration file, mcx-kms.toml (engine/custody LoadKmsConfig,
// toml++). The text is served by an Env that holds it in memory, as LoadKmsConfig reads through
// the Env seam. Beyond "no crash" (and no exception escaping: toml++ throws, LoadKmsConfig must
// not): a configuration accepted has a KMS URI, a 32-digit id, a module and a token label.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "base/env.h"
#include "engine/custody/kms_config.h"

namespace {

// The real Env, except that the configuration file exists and holds the fuzzer's input.
class ConfigTextEnv final : public mcx::EnvWrapper {
 public:
  ConfigTextEnv() : EnvWrapper(mcx::Env::Default()) {}
  void Set(const uint8_t* data, size_t size) { text_.assign(data, data + size); }
  mcx::Result<mcx::Bytes> ReadFile(const std::filesystem::path& p) override {
    if (p.filename() == mcx::kKmsConfigFileName) return text_;
    return EnvWrapper::ReadFile(p);
  }
  bool FileExists(const std::filesystem::path& p) override {
    return p.filename() == mcx::kKmsConfigFileName || EnvWrapper::FileExists(p);
  }

 private:
  mcx::Bytes text_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static ConfigTextEnv env;
  env.Set(data, size);
  mcx::Result<mcx::KmsConfig> c = mcx::LoadKmsConfig("/nonexistent/kms", env);
  if (c.ok() && (c->params.kms_uri.empty() || c->kms_id.size() != 32 || c->module_path.empty() ||
                 c->token_label.empty())) {
    std::abort();
  }
  return 0;
}
