// Flags shared by the commands that work on an existing KMS: where its data directory is, and
// single HSM settings that override its configuration file for one run.
#pragma once

#include <filesystem>
#include <string>

#include <CLI/CLI.hpp>

#include <memory>

#include "engine/custody/kms_config.h"
#include "engine/custody/kms_instance.h"

namespace mcx::cli {

struct KmsLocation {
  std::string data_dir;  // empty: $MCX_KMS_DATA_DIR or ./mcx-kms-data
  std::string module, token_label, pin_env, pin_file;

  std::filesystem::path DataDir() const { return data_dir.empty() ? DefaultDataDir() : std::filesystem::path(data_dir); }
  bool data_dir_given() const { return !data_dir.empty(); }
};

void AddDataDirOption(CLI::App* cmd, KmsLocation& loc);
// --module, --token-label, --pin-env, --pin-file.
void AddHsmOptions(CLI::App* cmd, KmsLocation& loc);

// Where the test IdMS key is by default: the data directory of an `init --demo` KMS when it holds
// one, else kDefaultDemoDir (where `serve --demo` keeps it).
std::string DefaultTestKeyDir();

// LoadKmsConfig(loc.DataDir()) with the HSM flags applied.
Result<KmsConfig> LoadKmsConfig(const KmsLocation& loc);

// The command line this process was started with (main sets it), for the audit log.
void SetCommandLine(int argc, char** argv);
const std::string& CommandLine();

// Opens the KMS of `config` and records the administrative command in its audit chain with the
// operator's OS user (refusing to go on when that cannot be recorded, unless the configuration
// says audit.on_failure = "serve").
Result<std::unique_ptr<KmsInstance>> OpenKmsForCommand(const KmsConfig& config);

}  // namespace mcx::cli
