#include <sys/stat.h>

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include <sqlite3.h>

#include "base/pooled_random.h"
#include "engine/keys/client_check.h"
#include "engine/store/sqlite_key_store.h"
#include "tests/support/test_store.h"
#include "tests/support/test_kms.h"
#include "tests/support/unprivileged.h"

namespace mcx {
namespace {

class SqliteKeyStoreTest : public ::testing::Test {
 protected:
  std::filesystem::path db_path() const { return t_.db_path(); }
  KeySet Issue(const std::string& uri, uint64_t period) {
    OpenSslRandom rng;
    Result<KeySet> ks = kms_.deriver->Derive(uri, period, rng);
    EXPECT_TRUE(ks.ok());
    return std::move(ks).value();
  }
  // Runs SQL against the database file directly, as an attacker or a careless admin would.
  void Tamper(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_path().c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    sqlite3_close(db);
  }

  static testing::TestKms kms_;
  testing::TestStore t_;
  const testing::TempDir& dir_ = t_.dir;
  std::unique_ptr<KeySetCipher>& cipher_ = t_.cipher;
  std::unique_ptr<KeyStore>& store_ = t_.store;
};
testing::TestKms SqliteKeyStoreTest::kms_;

TEST_F(SqliteKeyStoreTest, StoredKeySetOpensToTheSameKeysAndValidates) {
  KeySet ks = Issue("sip:alice@example.org", 1500);
  Result<SealedKeySet> sealed = cipher_->Seal(ks);
  ASSERT_TRUE(sealed.ok());
  ASSERT_EQ(*store_->InsertBatch(std::span<const SealedKeySet>(&*sealed, 1)), 1u);

  Result<std::optional<SealedKeySet>> found = store_->Find("sip:alice@example.org", 1500);
  ASSERT_TRUE(found.ok() && found->has_value());
  Result<KeySet> opened = cipher_->Open(**found);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_TRUE(ConstantTimeEqual(opened->rsk.view(), ks.rsk.view()));
  EXPECT_TRUE(ConstantTimeEqual(opened->ssk.view(), ks.ssk.view()));
  EXPECT_EQ(opened->pvt, ks.pvt);
  EXPECT_EQ(opened->period.valid_to, ks.period.valid_to);
  EXPECT_TRUE(CheckKeySet(kms_.pub, *opened).ok());
  EXPECT_FALSE(store_->Find("sip:alice@example.org", 1501)->has_value());
  EXPECT_FALSE(store_->Find("sip:bob@example.org", 1500)->has_value());
}

TEST_F(SqliteKeyStoreTest, SecretsAreNotInTheDatabaseInTheClear) {
  KeySet ks = Issue("sip:alice@example.org", 1500);
  ASSERT_TRUE(store_->InsertOrGet(*cipher_->Seal(ks)).ok());
  store_.reset();  // checkpoint and close
  std::string bytes;
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
    std::FILE* f = std::fopen(entry.path().c_str(), "rb");
    ASSERT_NE(f, nullptr);
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) bytes.append(buf, n);
    std::fclose(f);
  }
  auto contains = [&](ByteView needle) {
    return bytes.find(std::string(needle.begin(), needle.end())) != std::string::npos;
  };
  EXPECT_TRUE(contains(ks.pvt));  // the PVT is public and stored in the clear: the search works
  EXPECT_FALSE(contains(ByteView(ks.rsk.data() + 1, 64)));
  EXPECT_FALSE(contains(ks.ssk.view()));
}

TEST_F(SqliteKeyStoreTest, ExistingKeySetsAreNeverReplaced) {
  KeySet first = Issue("sip:alice@example.org", 1500);
  KeySet second = Issue("sip:alice@example.org", 1500);  // same identity, another v
  ASSERT_NE(first.pvt, second.pvt);
  Result<SealedKeySet> a = store_->InsertOrGet(*cipher_->Seal(first));
  Result<SealedKeySet> b = store_->InsertOrGet(*cipher_->Seal(second));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(b->pvt, first.pvt);  // the first one issued wins
  std::vector<SealedKeySet> batch{*cipher_->Seal(second), *cipher_->Seal(Issue("sip:bob@example.org", 1500))};
  EXPECT_EQ(*store_->InsertBatch(batch), 1u);
  EXPECT_EQ(*store_->CountKeySets(), 2u);
  std::vector<std::string> ask = {"sip:bob@example.org", "sip:carol@example.org", "sip:alice@example.org",
                                  "sip:bob@example.org"};
  Result<std::vector<bool>> present = store_->ContainsMany(ask, 1500);
  ASSERT_TRUE(present.ok());
  EXPECT_EQ(*present, (std::vector<bool>{true, false, true, true}));
  EXPECT_EQ(*store_->ContainsMany(ask, 1501), (std::vector<bool>{false, false, false, false}));
  std::vector<std::string> scanned;
  ASSERT_TRUE(store_->ScanKeySets([&](const SealedKeySet& r) {
    scanned.push_back(r.user_uri);
    return cipher_->Open(r).status();
  }).ok());
  EXPECT_EQ(scanned, (std::vector<std::string>{"sip:alice@example.org", "sip:bob@example.org"}));
}

TEST_F(SqliteKeyStoreTest, RowMovedToAnotherUserIsDetectedOnRead) {
  ASSERT_TRUE(store_->InsertOrGet(*cipher_->Seal(Issue("sip:alice@example.org", 1500))).ok());
  // Give Alice's sealed keys to Bob, keeping Bob's own UID and PVT columns consistent for him.
  KeySet bob = Issue("sip:bob@example.org", 1500);
  ASSERT_TRUE(store_->InsertOrGet(*cipher_->Seal(bob)).ok());
  Tamper("UPDATE key_sets SET sealed = (SELECT sealed FROM key_sets WHERE user_uri = 'sip:alice@example.org'), "
         "nonce = (SELECT nonce FROM key_sets WHERE user_uri = 'sip:alice@example.org') "
         "WHERE user_uri = 'sip:bob@example.org'");
  Result<KeySet> opened = cipher_->Open(**store_->Find("sip:bob@example.org", 1500));
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), Status::Code::kDataLoss);
  EXPECT_NE(opened.status().message().find("moved from another user"), std::string::npos);

  // Renaming the row itself is caught the same way.
  Tamper("UPDATE key_sets SET user_uri = 'sip:mallory@example.org' WHERE user_uri = 'sip:alice@example.org'");
  Result<KeySet> moved = cipher_->Open(**store_->Find("sip:mallory@example.org", 1500));
  EXPECT_EQ(moved.status().code(), Status::Code::kDataLoss);
  Tamper("UPDATE key_sets SET key_period_no = 1501 WHERE user_uri = 'sip:mallory@example.org'");
  EXPECT_EQ(cipher_->Open(**store_->Find("sip:mallory@example.org", 1501)).status().code(), Status::Code::kDataLoss);
}

TEST_F(SqliteKeyStoreTest, FlippedCiphertextByteIsDetected) {
  ASSERT_TRUE(store_->InsertOrGet(*cipher_->Seal(Issue("sip:alice@example.org", 1500))).ok());
  Result<std::optional<SealedKeySet>> before = store_->Find("sip:alice@example.org", 1500);
  ASSERT_TRUE(before.ok() && before->has_value());
  // Flip the low bit of the first ciphertext octet whatever it was. (Overwriting it with a
  // constant left the row unchanged whenever the octet already held that constant: 1 run in 256.)
  Tamper("UPDATE key_sets SET sealed = CAST((CASE WHEN substr(sealed, 1, 1) = X'00' THEN X'01' ELSE X'00' END) "
         "|| substr(sealed, 2) AS BLOB)");
  Result<std::optional<SealedKeySet>> after = store_->Find("sip:alice@example.org", 1500);
  ASSERT_TRUE(after.ok() && after->has_value());
  ASSERT_EQ((*after)->sealed.size(), (*before)->sealed.size());
  ASSERT_NE((*after)->sealed, (*before)->sealed) << "the tamper must change the stored ciphertext";
  EXPECT_EQ(cipher_->Open(**store_->Find("sip:alice@example.org", 1500)).status().code(), Status::Code::kDataLoss);
}

TEST_F(SqliteKeyStoreTest, AnotherDataKeyCannotOpenRecords) {
  ASSERT_TRUE(store_->InsertOrGet(*cipher_->Seal(Issue("sip:alice@example.org", 1500))).ok());
  SecretBytes other(kDataKeyBytes);
  ASSERT_TRUE(OpenSslRandom().Fill(other.span()).ok());
  KeySetCipher wrong(std::move(other), "kms.example.org.cert");
  EXPECT_EQ(wrong.Open(**store_->Find("sip:alice@example.org", 1500)).status().code(), Status::Code::kDataLoss);
}

TEST_F(SqliteKeyStoreTest, StateSurvivesReopenAndBlobsRoundTrip) {
  ASSERT_TRUE(store_->PutBlob("certificate", AsBytes("public things")).ok());
  ASSERT_TRUE(store_->InsertOrGet(*cipher_->Seal(Issue("sip:alice@example.org", 1500))).ok());
  ASSERT_TRUE(store_->SetState("sip:alice@example.org", 1500, KeySetState::kDelivered).ok());
  EXPECT_EQ(store_->SetState("sip:nobody@example.org", 1500, KeySetState::kRevoked).code(), Status::Code::kNotFound);
  store_.reset();
  Result<std::unique_ptr<KeyStore>> again = OpenSqliteKeyStore(db_path(), "kms.example.org.cert");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*(*again)->CountKeySets(), 1u);
  Result<std::optional<Bytes>> blob = (*again)->GetBlob("certificate");
  ASSERT_TRUE(blob.ok() && blob->has_value());
  EXPECT_EQ(std::string((*blob)->begin(), (*blob)->end()), "public things");
  EXPECT_FALSE((*again)->GetBlob("missing")->has_value());
  Result<Bytes> first = (*again)->PutBlobIfAbsent("data-key", AsBytes("first"));
  Result<Bytes> second = (*again)->PutBlobIfAbsent("data-key", AsBytes("second"));
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(std::string(second->begin(), second->end()), "first");
  EXPECT_TRUE((*again)->Ping().ok());
}

TEST_F(SqliteKeyStoreTest, NewerSchemaIsRefusedWithAClearError) {
  store_.reset();
  Tamper("PRAGMA user_version = 99");
  Result<std::unique_ptr<KeyStore>> s = OpenSqliteKeyStore(db_path(), "kms.example.org.cert");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("upgrade mcx-kms"), std::string::npos);
}

TEST_F(SqliteKeyStoreTest, MissingDirectoryIsAClearError) {
  Result<std::unique_ptr<KeyStore>> s = OpenSqliteKeyStore(dir_.path() / "no" / "such" / "dir" / "s.sqlite", "c");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("data directory exists and is writable"), std::string::npos);
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
// Several processes opening a fresh store at once (replicas starting together, a command beside
// a starting server) used to leave all but one dead with "duplicate column name": the schema
// version was read before the exclusive migration transaction. Each opener has its own
// connections, as a process would; all of them must start on one migrated schema.
TEST(SqliteMigrationTest, StoresOpenedTogetherMigrateOnceAndAllStart) {
  for (int round = 0; round < 5; ++round) {
    testing::TestStore fresh;
    const std::filesystem::path path = fresh.db_path().parent_path() / ("race-" + std::to_string(round) + ".sqlite");
    constexpr int kOpeners = 8;
    std::atomic<int> ready{0};
    std::vector<Status> results(kOpeners);
    std::vector<std::thread> threads;
    for (int i = 0; i < kOpeners; ++i) {
      threads.emplace_back([&, i] {
        ready.fetch_add(1);
        while (ready.load() < kOpeners) std::this_thread::yield();
        results[static_cast<size_t>(i)] = OpenSqliteKeyStore(path, testing::kTestCertUri).status();
      });
    }
    for (std::thread& t : threads) t.join();
    for (const Status& st : results) EXPECT_TRUE(st.ok()) << st.ToString();
    Result<std::unique_ptr<KeyStore>> store = OpenSqliteKeyStore(path, testing::kTestCertUri);
    ASSERT_TRUE(store.ok());
    EXPECT_EQ(*(*store)->lifecycle().CacheNum(), 1u);  // the counters were made once
  }
}

// The lifecycle tables: every change moves the generation, a change to the certificates served
// moves CacheNum too, and a revoked user's key sets of the periods from then on are marked.
TEST_F(SqliteKeyStoreTest, LifecycleChangesMoveTheCountersAndMarkKeySets) {
  LifecycleStore& life = store_->lifecycle();
  const uint64_t cache0 = *life.CacheNum(), gen0 = *life.Generation();
  StoredCertificate own;
  own.cert_uri = testing::kTestCertUri;
  own.record = {1, 2, 3};
  own.valid_from = 100;
  own.valid_to = 200;
  ASSERT_TRUE(life.AddCertificate(own).ok());
  EXPECT_EQ(life.AddCertificate(own).code(), Status::Code::kAlreadyExists);
  EXPECT_EQ(*life.CacheNum(), cache0 + 1);
  StoredCertificate other = own;
  other.cert_uri = "other.example.net.cert";
  other.own = false;
  ASSERT_TRUE(life.AddCertificate(other).ok());
  EXPECT_EQ(life.RemoveImportedCertificate(own.cert_uri).code(), Status::Code::kInvalidArgument);
  ASSERT_TRUE(life.RemoveImportedCertificate(other.cert_uri).ok());
  EXPECT_EQ(life.RemoveImportedCertificate(other.cert_uri).code(), Status::Code::kNotFound);
  EXPECT_EQ(*life.CacheNum(), cache0 + 3);

  // A user revoked from the start of period 1501 keeps period 1500 and loses 1501 and 1502.
  OpenSslRandom rng;
  for (uint64_t p : {1500u, 1501u, 1502u}) {
    ASSERT_TRUE(store_->InsertOrGet(*cipher_->Seal(Issue("sip:lost@example.org", p))).ok());
  }
  Result<std::optional<SealedKeySet>> p1501 = store_->Find("sip:lost@example.org", 1501);
  ASSERT_TRUE(p1501.ok() && p1501->has_value());
  Result<size_t> marked = life.RevokeUser("sip:lost@example.org", (*p1501)->period.valid_from);
  ASSERT_TRUE(marked.ok());
  EXPECT_EQ(*marked, 2u);
  EXPECT_FALSE((*store_->Find("sip:lost@example.org", 1500))->revoked);
  EXPECT_TRUE((*store_->Find("sip:lost@example.org", 1501))->revoked);
  EXPECT_TRUE((*store_->Find("sip:lost@example.org", 1502))->revoked);
  EXPECT_EQ(*life.CacheNum(), cache0 + 3);  // users are not certificates
  ASSERT_EQ(life.ListRevokedUsers()->size(), 1u);
  EXPECT_TRUE(*life.ReinstateUser("sip:lost@example.org"));
  EXPECT_FALSE(*life.ReinstateUser("sip:lost@example.org"));
  EXPECT_TRUE((*store_->Find("sip:lost@example.org", 1501))->revoked);  // stays revoked

  EXPECT_TRUE(*life.RevokeCertificate(own.cert_uri));
  EXPECT_FALSE(*life.RevokeCertificate(own.cert_uri));
  EXPECT_TRUE((*store_->Find("sip:lost@example.org", 1500))->revoked);  // every key set under it
  EXPECT_EQ(*life.ExpireCertificates(150), 0u);
  EXPECT_EQ(*life.ExpireCertificates(201), 1u);
  EXPECT_EQ(*life.CacheNum(), cache0 + 5);
  EXPECT_EQ(*life.Generation(), gen0 + 7);  // every change above, the refused ones excepted
}

}  // namespace mcx
