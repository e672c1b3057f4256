// SoftHSM2's token files, for errors that say what is true.
//
// SoftHSM2 keeps each token in a directory under the `directories.tokendir` of its configuration
// file. A token whose directory or files this process cannot read is left out of the slot list
// without a word, so a lookup by label would say there is no such token, and a token directory
// that cannot be read fails C_Initialize with a generic error. UnreadableSoftHsmPath() finds the
// first such path (configuration file, token directory, a token's directory or file), so the
// error can name it and say that permissions are the cause.
#pragma once

#include <filesystem>
#include <optional>

#include "hsm/pkcs11_module.h"

namespace mcx::hsm {

// Whether `module_path` is SoftHSM2's library (by its file name).
bool IsSoftHsmModule(const std::filesystem::path& module_path);

// The configuration file SoftHSM2 reads in this process: SOFTHSM2_CONF from `environment`, or
// from the process, or SoftHSM2's default.
std::filesystem::path SoftHsmConfPath(const ModuleEnvironment& environment);

// The first path SoftHSM2 needs that this process (its effective user) may not read, or nullopt.
// Paths that do not exist are not reported: they are not a matter of permissions.
std::optional<std::filesystem::path> UnreadableSoftHsmPath(const std::filesystem::path& softhsm2_conf);

}  // namespace mcx::hsm
