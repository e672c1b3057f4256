// ScratchKeyStore: a throw-away key store of the same kind as a KMS's own, for measurements that
// must not write the real one (`mcx-kms bench`): a SQLite file in a scratch directory, or a
// schema of its own in the KMS's PostgreSQL database, dropped again when the object goes.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "engine/store/key_store.h"
#include "engine/store/store_location.h"

namespace mcx {

class ScratchKeyStore {
 public:
  static Result<std::unique_ptr<ScratchKeyStore>> Open(const StoreLocation& like, const std::filesystem::path& dir,
                                                       const std::string& cert_uri);
  ~ScratchKeyStore();

  KeyStore& store() { return *store_; }
  // Which store is measured, e.g. "PostgreSQL postgresql://kms@db/mcx (scratch schema mcx_scratch_42)".
  const std::string& description() const { return description_; }

 private:
  ScratchKeyStore() = default;
  std::unique_ptr<KeyStore> store_;
  std::string description_;
  std::string admin_url_, schema_;  // PostgreSQL only
};

}  // namespace mcx
