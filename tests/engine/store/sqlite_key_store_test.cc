// What only the SQLite store has: its files (mode, a directory that is missing, a file
// that is not a database, one it may read but not write). The cases both stores share are in
// key_store_contract_test.cc.
#include <sys/stat.h>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "engine/store/sqlite_key_store.h"
#include "tests/support/test_store.h"
#include "tests/support/unprivileged.h"

namespace mcx {
namespace {

class SqliteKeyStoreTest : public ::testing::Test {
 protected:
  std::filesystem::path db_path() const { return t_.db_path(); }

  testing::TestStore t_;
  const testing::TempDir& dir_ = t_.dir;
  std::unique_ptr<KeyStore>& store_ = t_.store;
};

TEST_F(SqliteKeyStoreTest, MissingDirectoryIsAClearError) {
  Result<std::unique_ptr<KeyStore>> s = OpenSqliteKeyStore(dir_.path() / "no" / "such" / "dir" / "s.sqlite", "c");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("data directory exists and is writable"), std::string::npos);
}

// SQLite's allocation counting takes one process-wide mutex per allocation, which serialized
// the server's readers; the store turns it off before SQLite starts. With it off, SQLite reports
// no memory in use however much a store has read. (Run in a process of its own, as ctest does:
// a test before it in the same process might have started SQLite first.)
TEST_F(SqliteKeyStoreTest, StoresRunWithoutSqlitesAllocationCountingMutex) {
  ASSERT_NE(store_, nullptr);
  ASSERT_TRUE(store_->CountKeySets().ok());
  EXPECT_EQ(sqlite3_memory_used(), 0);
}

TEST_F(SqliteKeyStoreTest, NotADatabaseIsAClearError) {
  std::filesystem::path junk = dir_.path() / "junk.sqlite";
  std::FILE* f = std::fopen(junk.c_str(), "wb");
  std::fputs("this is not a database, just some text that is long enough to have a header......", f);
  std::fclose(f);
  Result<std::unique_ptr<KeyStore>> s = OpenSqliteKeyStore(junk, "c");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Status::Code::kDataLoss);
}

TEST_F(SqliteKeyStoreTest, NewStoreAndItsWalAndShmAreTheOwnersOnlyWhateverTheUmask) {
  const mode_t old = umask(022);
  const std::filesystem::path path = dir_.path() / "fresh.sqlite";
  Result<std::unique_ptr<KeyStore>> s = OpenSqliteKeyStore(path, testing::kTestCertUri);
  umask(old);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_TRUE((*s)->PutBlob("x", AsBytes("y")).ok());  // the -wal and -shm exist while it is open
  for (const char* suffix : {"", "-wal", "-shm"}) {
    struct stat st {};
    ASSERT_EQ(stat((path.string() + suffix).c_str(), &st), 0) << suffix;
    EXPECT_EQ(st.st_mode & 07777, 0600u) << "store.sqlite" << suffix;
  }
}

TEST_F(SqliteKeyStoreTest, PingFailsNamingTheStoreWhenItReadsButRefusesWrites) {
  const std::optional<testing::UnprivilegedUser> user = testing::FindUnprivilegedUser();
  if (!user) GTEST_SKIP() << "running as root and there is no user 'nobody' to run the check as";
  ASSERT_TRUE(store_->PutBlob("certificate", AsBytes("public things")).ok());
  store_.reset();
  // The directory is the user's (SQLite makes its -wal and -shm there); the database file is
  // only readable: SQLite then opens it read-only without a word, and reads go on working.
  testing::GiveTree(dir_.path(), *user);
  ASSERT_EQ(chmod(db_path().c_str(), 0444), 0);
  const std::string seen = testing::RunAs(*user, [&] {
    Result<std::unique_ptr<KeyStore>> s = OpenSqliteKeyStore(db_path(), testing::kTestCertUri);
    if (!s.ok()) return "open: " + s.status().ToString();
    Result<std::optional<Bytes>> blob = (*s)->GetBlob("certificate");
    std::string r = std::string("read: ") + (blob.ok() && blob->has_value() ? "ok" : "failed");
    return r + "\nping: " + (*s)->Ping().ToString();
  });
  ASSERT_NE(seen.find("read: ok"), std::string::npos) << seen;
  EXPECT_EQ(seen.find("ping: OK"), std::string::npos) << seen;
  EXPECT_NE(seen.find("ping: unavailable"), std::string::npos) << seen;
  EXPECT_NE(seen.find("the store " + db_path().string() + " does not take writes"), std::string::npos) << seen;
  EXPECT_NE(seen.find("readonly"), std::string::npos) << seen;

  // Writable again (the -wal and -shm SQLite made meanwhile took the database's mode): ready again.
  for (const char* suffix : {"", "-wal", "-shm"}) (void)chmod((db_path().string() + suffix).c_str(), 0600);
  const std::string again = testing::RunAs(*user, [&] {
    Result<std::unique_ptr<KeyStore>> s = OpenSqliteKeyStore(db_path(), testing::kTestCertUri);
    return s.ok() ? "ping: " + (*s)->Ping().ToString() : "open: " + s.status().ToString();
  });
  EXPECT_EQ(again, "ping: OK");
}

}  // namespace
}  // namespace mcx
