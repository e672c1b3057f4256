// KmsConfig: the KMS configuration file, mcx-kms.toml in the KMS data directory.
//
// `mcx-kms init` writes it; every other command loads it with LoadKmsConfig(data_dir) and lets
// its own flags override single fields. It holds no secret: the PIN is named by its source (an
// environment variable or a file), never stored here. Relative paths in the file are relative to
// the data directory, so a KMS directory can be backed up as one tree. Layout:
//
//   [kms]    uri, id (32 hex digits, random at init), user_key_period, user_key_offset
//   [hsm]    module, token_label, pin_env | pin_file, softhsm2_conf (demo tokens only)
//   [store]  path (default store.sqlite), url (postgresql://...: a PostgreSQL store instead;
//            see engine/store/store_location.h)
//   [idms]   public_key (PEM or JWKS of the identity management server), issuer, audience:
//            whose access tokens `serve` accepts; absent means no IdMS is trusted yet
#pragma once

#include <filesystem>
#include <string>

#include "base/env.h"
#include "base/status.h"
#include "engine/keys/community_parameters.h"
#include "engine/store/store_location.h"
#include "hsm/pin_source.h"

namespace mcx {

inline constexpr char kKmsConfigFileName[] = "mcx-kms.toml";
inline constexpr char kDataDirEnvironment[] = "MCX_KMS_DATA_DIR";
inline constexpr char kDefaultDataDirName[] = "mcx-kms-data";

struct KmsConfig {
  std::filesystem::path data_dir;       // absolute
  CommunityParameters params;
  std::string kms_id;                   // 32 lower-case hex digits
  std::filesystem::path module_path;    // the PKCS#11 library
  std::string token_label;
  hsm::PinSource pin;                   // a pin file's path is absolute here
  std::filesystem::path softhsm2_conf;  // absolute, or empty: set as SOFTHSM2_CONF before loading the module
  std::filesystem::path store_path;     // absolute
  std::string store_url;                // a postgresql:// URL, or empty: the SQLite store at store_path
  std::filesystem::path idms_public_key;  // absolute, or empty: no IdMS configured
  std::string idms_issuer;
  std::string idms_audience = "mcx-kms";
  // [audit] on_failure: "refuse" (the default: no key material, no lifecycle change without its
  // audit record) or "serve" (serve on, saying so loudly, when the audit log cannot be written).
  bool audit_fail_open = false;

  StoreLocation store_location() const { return {store_path, store_url}; }
  // The CKA_LABEL of this KMS's key-encryption key in the token.
  std::string kek_label() const { return "mcx-kms-kek-" + kms_id; }
  // What sealed blobs are bound to (their "owner"): this KMS's id and URI.
  std::string seal_owner() const { return kms_id + " " + params.kms_uri; }
};

// $MCX_KMS_DATA_DIR if set, else ./mcx-kms-data.
std::filesystem::path DefaultDataDir();
bool HasKmsConfig(const std::filesystem::path& data_dir, Env& env = Env::Default());

// NotFound (saying how to create one) when the directory holds no KMS; InvalidArgument naming the
// key and the fix when the file is malformed.
Result<KmsConfig> LoadKmsConfig(const std::filesystem::path& data_dir, Env& env = Env::Default());

// The file's text for `config`; paths inside the data directory are written relative to it.
std::string FormatKmsConfig(const KmsConfig& config);
// Replaces the data directory's configuration file with `config`, atomically (write, fsync, rename).
Status SaveKmsConfig(const KmsConfig& config, Env& env = Env::Default());

}  // namespace mcx
