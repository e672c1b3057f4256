// A real SQLite key store in a temporary directory, with a fresh random data key, for tests.
#pragma once

#include <memory>

#include <gtest/gtest.h>

#include "base/pooled_random.h"
#include "engine/store/sqlite_key_store.h"
#include "tests/support/temp_dir.h"

namespace mcx::testing {

inline constexpr char kTestCertUri[] = "kms.example.org.cert";

struct TestStore {
  TempDir dir;
  std::unique_ptr<KeySetCipher> cipher;
  std::unique_ptr<KeyStore> store;

  TestStore() {
    SecretBytes key(kDataKeyBytes);
    EXPECT_TRUE(OpenSslRandom().Fill(key.span()).ok());
    cipher = std::make_unique<KeySetCipher>(std::move(key), kTestCertUri);
    Result<std::unique_ptr<KeyStore>> s = OpenSqliteKeyStore(db_path(), kTestCertUri);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (s.ok()) store = std::move(s).value();
  }
  std::filesystem::path db_path() const { return dir.path() / "store.sqlite"; }
};

}  // namespace mcx::testing
