// Delivery marks: the store's MarkDelivered and CountByState, the schema migration that added
// delivered_at, and the DeliveryRecorder that writes marks off the request path.
#include <gtest/gtest.h>

#include <sqlite3.h>

#include <chrono>
#include <thread>

#include "base/pooled_random.h"
#include "engine/service/delivery_recorder.h"
#include "engine/service/stored_key_service.h"
#include "engine/store/sqlite_key_store.h"
#include "tests/support/fake_env.h"
#include "tests/support/test_kms.h"
#include "tests/support/test_store.h"

namespace mcx {
namespace {

class DeliveryTest : public ::testing::Test {
 protected:
  void Issue(const std::string& uri, uint64_t period) {
    OpenSslRandom rng;
    Result<KeySet> ks = kms_.deriver->Derive(uri, period, rng);
    ASSERT_TRUE(ks.ok());
    ASSERT_TRUE(store_->InsertOrGet(*cipher_->Seal(*ks)).ok());
  }
  // A single integer from the database file, read directly.
  int64_t QueryInt(const std::string& sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(t_.db_path().c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    int64_t v = -1;
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_type(st, 0) == SQLITE_NULL ? -2 : sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
  }
  void Exec(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(t_.db_path().c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    sqlite3_close(db);
  }
  KeySetCounts Counts() {
    Result<KeySetCounts> c = store_->CountByState();
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? *c : KeySetCounts{};
  }

  static testing::TestKms kms_;
  testing::TestStore t_;
  std::unique_ptr<KeySetCipher>& cipher_ = t_.cipher;
  std::unique_ptr<KeyStore>& store_ = t_.store;
};
testing::TestKms DeliveryTest::kms_;

TEST_F(DeliveryTest, MarkDeliveredChangesOnlyIssuedKeySetsAndKeepsTheFirstTime) {
  Issue("sip:alice@example.org", 1500);
  Issue("sip:bob@example.org", 1500);
  Issue("sip:carol@example.org", 1500);
  ASSERT_TRUE(store_->SetState("sip:carol@example.org", 1500, KeySetState::kRevoked).ok());
  EXPECT_EQ(Counts().issued, 2u);

  std::vector<KeySetRef> keys = {{"sip:alice@example.org", 1500},
                                 {"sip:carol@example.org", 1500},    // revoked: stays revoked
                                 {"sip:nobody@example.org", 1500},   // no such key set: ignored
                                 {"sip:alice@example.org", 1501}};   // another period: ignored
  Result<size_t> changed = store_->MarkDelivered(keys, 1'700'000'000);
  ASSERT_TRUE(changed.ok()) << changed.status().ToString();
  EXPECT_EQ(*changed, 1u);
  KeySetCounts c = Counts();
  EXPECT_EQ(c.issued, 1u);
  EXPECT_EQ(c.delivered, 1u);
  EXPECT_EQ(c.revoked, 1u);
  EXPECT_EQ(c.total(), *store_->CountKeySets());
  EXPECT_EQ(QueryInt("SELECT delivered_at FROM key_sets WHERE user_uri = 'sip:alice@example.org'"), 1'700'000'000);
  EXPECT_EQ(QueryInt("SELECT delivered_at FROM key_sets WHERE user_uri = 'sip:bob@example.org'"), -2);  // NULL

  // Delivered again later: the first time stays.
  EXPECT_EQ(*store_->MarkDelivered(keys, 1'800'000'000), 0u);
  EXPECT_EQ(QueryInt("SELECT delivered_at FROM key_sets WHERE user_uri = 'sip:alice@example.org'"), 1'700'000'000);
}

TEST_F(DeliveryTest, AVersionOneStoreIsMigratedAndKeepsItsKeySets) {
  Issue("sip:alice@example.org", 1500);
  store_.reset();
  // Turn the file into what mcx-kms 1 wrote: no delivered_at, schema version 1.
  Exec("ALTER TABLE key_sets DROP COLUMN delivered_at; PRAGMA user_version = 1;");
  ASSERT_EQ(QueryInt("SELECT count(*) FROM pragma_table_info('key_sets') WHERE name = 'delivered_at'"), 0);

  Result<std::unique_ptr<KeyStore>> reopened = OpenSqliteKeyStore(t_.db_path(), testing::kTestCertUri);
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  store_ = std::move(reopened).value();
  EXPECT_EQ(QueryInt("PRAGMA user_version"), kStoreSchemaVersion);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM pragma_table_info('key_sets') WHERE name = 'delivered_at'"), 1);
  Result<std::optional<SealedKeySet>> found = store_->Find("sip:alice@example.org", 1500);
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_TRUE(cipher_->Open(**found).ok());
  std::vector<KeySetRef> alice = {{"sip:alice@example.org", 1500}};
  EXPECT_EQ(*store_->MarkDelivered(alice, 42), 1u);
}

TEST_F(DeliveryTest, RecorderWritesInTheBackgroundAndDeduplicates) {
  for (int i = 0; i < 50; ++i) Issue("sip:user" + std::to_string(i) + "@example.org", 1500);
  DeliveryRecorder::Options options;
  options.flush_interval = std::chrono::milliseconds(20);
  DeliveryRecorder recorder(*store_, options);
  for (int round = 0; round < 3; ++round) {  // every user asks three times
    for (int i = 0; i < 50; ++i) recorder.Record("sip:user" + std::to_string(i) + "@example.org", 1500);
  }
  recorder.Record("sip:stranger@example.org", 1500);  // no key set: ignored by the store
  // No Flush(): the background thread writes within its interval.
  for (int wait = 0; wait < 200 && Counts().delivered < 50; ++wait) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(Counts().delivered, 50u);
  EXPECT_EQ(Counts().issued, 0u);
  EXPECT_EQ(recorder.recorded(), 151u);
  EXPECT_EQ(recorder.marked(), 50u);
  EXPECT_EQ(recorder.dropped(), 0u);
  EXPECT_EQ(recorder.failed_writes(), 0u);
}

TEST_F(DeliveryTest, AFullQueueDropsMarksAndCountsThem) {
  Issue("sip:alice@example.org", 1500);
  DeliveryRecorder::Options options;
  options.flush_interval = std::chrono::hours(1);  // nothing is written until Flush()
  options.batch = 1000;
  options.max_pending = 10;
  DeliveryRecorder recorder(*store_, options);
  for (int i = 0; i < 15; ++i) recorder.Record("sip:alice@example.org", 1500);
  EXPECT_EQ(recorder.recorded(), 10u);
  EXPECT_EQ(recorder.dropped(), 5u);
  EXPECT_EQ(Counts().delivered, 0u);
  ASSERT_TRUE(recorder.Flush().ok());
  EXPECT_EQ(Counts().delivered, 1u);
  EXPECT_EQ(recorder.marked(), 1u);
}

TEST_F(DeliveryTest, DestroyingTheRecorderWritesWhatIsQueued) {
  Issue("sip:alice@example.org", 1500);
  {
    DeliveryRecorder::Options options;
    options.flush_interval = std::chrono::hours(1);
    DeliveryRecorder recorder(*store_, options);
    recorder.Record("sip:alice@example.org", 1500);
  }
  EXPECT_EQ(Counts().delivered, 1u);
}

TEST_F(DeliveryTest, TheRecorderStampsMarksWithItsEnvsClock) {
  Issue("sip:alice@example.org", 1500);
  testing::FakeEnv env;
  env.SetUnixSeconds(1'812'345'678);
  DeliveryRecorder::Options options;
  options.flush_interval = std::chrono::hours(1);
  options.env = &env;
  DeliveryRecorder recorder(*store_, options);
  recorder.Record("sip:alice@example.org", 1500);
  env.Advance(5);  // the time of the write, not of the request, is what is stored
  ASSERT_TRUE(recorder.Flush().ok());
  EXPECT_EQ(QueryInt("SELECT delivered_at FROM key_sets WHERE user_uri = 'sip:alice@example.org'"), 1'812'345'683);
}

TEST_F(DeliveryTest, TheStoredKeyServiceMarksWhatItHandsOut) {
  KmsCertificate cert;
  cert.params = kms_.params;
  cert.keys = kms_.pub;
  cert.cert_uri = testing::kTestCertUri;
  Issue("sip:alice@example.org", 1545);  // pre-provisioned
  DeliveryRecorder::Options options;
  options.flush_interval = std::chrono::hours(1);
  DeliveryRecorder recorder(*store_, options);
  cert.valid_to = ~NtpSeconds{0} >> 1;
  StoredKeyService service(ServedCertificates::Single({cert, kms_.source.get(), cipher_.get(), store_.get()}), *store_,
                           nullptr, &recorder);
  const NtpSeconds t = 1545ull * 2592000 + 100;
  ASSERT_TRUE(service.KeySetAt("sip:alice@example.org", t).ok());  // from the store
  ASSERT_TRUE(service.KeySetAt("sip:bob@example.org", t).ok());    // derived on demand
  EXPECT_FALSE(service.KeySetAt("not a uri", t).ok());             // a failure is not a delivery
  ASSERT_TRUE(recorder.Flush().ok());
  KeySetCounts c = Counts();
  EXPECT_EQ(c.delivered, 2u);
  EXPECT_EQ(c.issued, 0u);
  EXPECT_EQ(recorder.recorded(), 2u);
}

}  // namespace
}  // namespace mcx
