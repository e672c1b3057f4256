#include "tools/cli/kms_options.h"

#include "bench/idms/test_idms.h"
#include "tools/cli/command.h"

namespace mcx::cli {

void AddDataDirOption(CLI::App* cmd, KmsLocation& loc) {
  cmd->add_option("--data-dir", loc.data_dir,
                  "the KMS data directory (default: $MCX_KMS_DATA_DIR, else ./mcx-kms-data)");
}

void AddHsmOptions(CLI::App* cmd, KmsLocation& loc) {
  cmd->add_option("--module", loc.module, "path of the HSM's PKCS#11 library (e.g. /usr/lib/softhsm/libsofthsm2.so)");
  cmd->add_option("--token-label", loc.token_label, "label of the token that holds the KMS's key-encryption key");
  auto* env = cmd->add_option("--pin-env", loc.pin_env, "read the token's user PIN from this environment variable");
  auto* file = cmd->add_option("--pin-file", loc.pin_file, "read the token's user PIN from this file (mode 0600)");
  env->excludes(file);
}

std::string DefaultTestKeyDir() {
  const std::filesystem::path data = DefaultDataDir();
  if (std::filesystem::exists(data / api::kTestIdmsKeyFile)) return data.string();
  return kDefaultDemoDir;
}

Result<KmsConfig> LoadKmsConfig(const KmsLocation& loc) {
  Result<KmsConfig> config = mcx::LoadKmsConfig(loc.DataDir());
  if (!config.ok()) return config;
  if (!loc.module.empty()) config->module_path = loc.module;
  if (!loc.token_label.empty()) config->token_label = loc.token_label;
  if (!loc.pin_env.empty()) config->pin = hsm::PinSource::Environment(loc.pin_env);
  if (!loc.pin_file.empty()) config->pin = hsm::PinSource::File(std::filesystem::absolute(loc.pin_file).string());
  return config;
}

}  // namespace mcx::cli

namespace mcx::cli {
namespace {
std::string& StoredCommandLine() {
  static std::string line;
  return line;
}
}  // namespace

void SetCommandLine(int argc, char** argv) {
  std::string line;
  for (int i = 0; i < argc; ++i) {
    if (i > 0) line += ' ';
    line += argv[i];
  }
  StoredCommandLine() = std::move(line);
}

const std::string& CommandLine() { return StoredCommandLine(); }

Result<std::unique_ptr<KmsInstance>> OpenKmsForCommand(const KmsConfig& config) {
  Result<std::unique_ptr<KmsInstance>> kms = KmsInstance::Open(config);
  if (!kms.ok()) return kms;
  MCX_RETURN_IF_ERROR(
      (*kms)->RecordOrRefuse({AuditEventKind::kAdminCommand, LocalOperator(), "", "", CommandLine()}));
  return kms;
}

}  // namespace mcx::cli
