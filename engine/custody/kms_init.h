// InitKms: creates a KMS: its key-encryption key in the token, its master secrets (drawn from the
// token's generator, sealed at once), its certificate and its configuration file.
//
// All or nothing: options and the token are checked before anything is created; files are
// staged and moved into the data directory only when everything succeeded, and a key created in
// the token is destroyed again on failure. An existing KMS is never replaced without `force`.
//
// With `demo`, the token is a SoftHSM2 token created under the data directory (its own
// softhsm2.conf and token directory, a random user PIN in the file hsm-pin, mode 0600), and the
// other options default to the embedded demo values: a complete KMS from `mcx-kms init --demo`.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "engine/custody/kms_config.h"
#include "engine/keys/master_secrets.h"
#include "hsm/pin_source.h"

namespace mcx {

inline constexpr char kSoftHsmModulePath[] = "/usr/lib/softhsm/libsofthsm2.so";
inline constexpr char kDemoTokenLabel[] = "mcx-kms-demo";
inline constexpr char kDemoKmsUri[] = "kms.example.org";

struct InitOptions {
  std::filesystem::path data_dir;      // created if missing
  std::filesystem::path module_path;   // demo default: kSoftHsmModulePath
  std::string token_label;             // demo default: kDemoTokenLabel
  hsm::PinSource pin;                  // demo: a generated PIN in <data_dir>/hsm-pin
  std::string kms_uri;                 // demo default: kDemoKmsUri
  int64_t user_key_period = kDefaultUserKeyPeriod;
  int64_t user_key_offset = 0;
  std::filesystem::path store_path;    // default: <data_dir>/store.sqlite
  std::string store_url;               // a postgresql:// URL: the key store is PostgreSQL's
  bool force = false;                  // replace an existing KMS in data_dir
  bool demo = false;
};

struct InitResult {
  KmsConfig config;
  KmsPublicKeys public_keys;
  std::string replaced_kek_label;  // with `force`: the previous KMS's key, left on its token
};

// Files and the clock go through `env`.
Result<InitResult> InitKms(const InitOptions& options, Env& env = Env::Default());

}  // namespace mcx
