// PinSource: where the token's user PIN comes from: an environment variable or a file.
//
// Never the command line, which any local user can read in /proc. A PIN file must not be
// readable or writable by group or others (mode 0600 or 0400), like an ssh key; its trailing
// newline is ignored. The PIN is returned in guarded memory and never appears in an error.
#pragma once

#include <filesystem>
#include <string>

#include "base/env.h"
#include "base/secret.h"
#include "base/status.h"

namespace mcx::hsm {

struct PinSource {
  enum class Kind { kNone, kEnvironment, kFile };
  Kind kind = Kind::kNone;
  std::string name;  // the variable's name, or the file's path

  static PinSource Environment(std::string variable) { return {Kind::kEnvironment, std::move(variable)}; }
  static PinSource File(std::string path) { return {Kind::kFile, std::move(path)}; }
  // "environment variable MCX_KMS_PIN", "file /etc/mcx-kms/pin", for messages.
  std::string Describe() const;
  bool operator==(const PinSource&) const = default;
};

// A PIN file is read through `env` (Env::ReadSecretFile, which enforces the mode).
Result<SecretBytes> ReadPin(const PinSource& source, Env& env = Env::Default());

}  // namespace mcx::hsm
