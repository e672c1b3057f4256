// Flags shared by the commands that work on an existing KMS: where its data directory is, and
// single HSM settings that override its configuration file for one run.
#pragma once

#include <filesystem>
#include <string>

#include <CLI/CLI.hpp>

#include "engine/custody/kms_config.h"

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

}  // namespace mcx::cli
