#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <thread>

#include "base/pooled_random.h"
#include "engine/keys/client_check.h"
#include "engine/service/stored_key_service.h"
#include "engine/store/sqlite_key_store.h"
#include "tests/support/store_backends.h"
#include "tests/support/test_store.h"
#include "tests/support/test_kms.h"

namespace mcx {
namespace {

class StoredKeyServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KmsCertificate cert;
    cert.params = kms_.params;
    cert.keys = kms_.pub;
    cert.cert_uri = testing::kTestCertUri;
    cert.valid_to = ~NtpSeconds{0} >> 1;
    service_ = std::make_unique<StoredKeyService>(
        ServedCertificates::Single({cert, kms_.source.get(), cipher_.get(), store_.get()}), *store_,
        [this] { return hsm_up_ ? Status::Ok() : Status::Unavailable("token gone"); });
  }
  static testing::TestKms kms_;
  OpenSslRandom rng_;
  testing::TestStore t_;
  std::unique_ptr<KeySetCipher>& cipher_ = t_.cipher;
  std::unique_ptr<KeyStore>& store_ = t_.store;
  std::unique_ptr<StoredKeyService> service_;
  bool hsm_up_ = true;
};
testing::TestKms StoredKeyServiceTest::kms_;

TEST_F(StoredKeyServiceTest, AskingTwiceGivesTheSameSigningKey) {
  const NtpSeconds t = 1545ull * 2592000 + 100;
  Result<KeySet> first = service_->KeySetAt("sip:alice@example.org", t);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->period.number, 1545u);
  EXPECT_TRUE(CheckKeySet(kms_.pub, *first).ok());
  Result<KeySet> second = service_->KeySetAt("sip:alice@example.org", t + 86400);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->pvt, first->pvt);
  EXPECT_TRUE(ConstantTimeEqual(second->ssk.view(), first->ssk.view()));
  EXPECT_EQ(*store_->CountKeySets(), 1u);
}

TEST_F(StoredKeyServiceTest, ConcurrentFirstRequestsAgreeOnOneKeySet) {
  const NtpSeconds t = 1546ull * 2592000;
  std::vector<P256Point> seen(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < seen.size(); ++i) {
    threads.emplace_back([&, i] {
      Result<KeySet> ks = service_->KeySetAt("sip:bob@example.org", t);
      ASSERT_TRUE(ks.ok());
      seen[i] = ks->pvt;
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& pvt : seen) EXPECT_EQ(pvt, seen[0]);
  EXPECT_EQ(*store_->CountKeySets(), 1u);
}

TEST_F(StoredKeyServiceTest, BadInputAndReadiness) {
  EXPECT_EQ(service_->KeySetAt("bob", 1ull << 32).status().code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(service_->Ready().ok());
  hsm_up_ = false;
  Status st = service_->Ready();
  EXPECT_EQ(st.code(), Status::Code::kUnavailable);
  EXPECT_NE(st.message().find("HSM"), std::string::npos);
}

// On both stores: on PostgreSQL, lookups that arrive while one is in flight are gathered into one
// FindMany (stored_key_service.h); every request must still get its own key set, a revoked one
// its refusal, and one not issued yet a key set derived and stored once.
class StoredKeyServiceStoresTest : public ::testing::TestWithParam<testing::StoreKind> {
 protected:
  void SetUp() override {
    if (!backend_.available()) GTEST_SKIP() << testing::kNoPostgresReason;
    Result<std::unique_ptr<KeyStore>> store = backend_.Open(testing::kTestCertUri);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    SecretBytes key(kDataKeyBytes);
    ASSERT_TRUE(OpenSslRandom().Fill(key.span()).ok());
    cipher_ = std::make_unique<KeySetCipher>(std::move(key), testing::kTestCertUri);
    cert_.params = kms_.params;
    cert_.keys = kms_.pub;
    cert_.cert_uri = testing::kTestCertUri;
    cert_.valid_to = ~NtpSeconds{0} >> 1;
  }
  // The store's certificate, served by a StoredKeyService over the store.
  std::shared_ptr<const ServedCertificates> Served() {
    return ServedCertificates::Single({cert_, kms_.source.get(), cipher_.get(), store_.get()});
  }
  static testing::TestKms kms_;
  testing::StoreBackend backend_{GetParam()};
  std::unique_ptr<KeyStore> store_;
  std::unique_ptr<KeySetCipher> cipher_;
  KmsCertificate cert_;
};
testing::TestKms StoredKeyServiceStoresTest::kms_;

TEST_P(StoredKeyServiceStoresTest, ConcurrentRequestsGetWhatLoneRequestsGet) {
  StoredKeyService service(Served(), *store_, [] { return Status::Ok(); });
  const NtpSeconds t = 1547ull * 2592000 + 5;
  // Twelve users issued beforehand, one of them revoked; four asked for the first time below.
  std::vector<std::string> users;
  for (int i = 0; i < 16; ++i) users.push_back("sip:u" + std::to_string(i) + "@example.org");
  std::vector<P256Point> issued(12);
  for (size_t i = 0; i < issued.size(); ++i) {
    Result<KeySet> ks = service.KeySetAt(users[i], t);
    ASSERT_TRUE(ks.ok()) << ks.status().ToString();
    issued[i] = ks->pvt;
  }
  ASSERT_TRUE(store_->SetState(users[3], 1547, KeySetState::kRevoked).ok());

  constexpr int kThreads = 8, kRounds = 30;
  // Each thread's first answer for each user, replaced by an error if a later one differs.
  std::vector<std::vector<std::optional<Result<KeySet>>>> got(kThreads, std::vector<std::optional<Result<KeySet>>>(16));
  std::vector<std::thread> threads;
  std::atomic<int> pending{kThreads * kRounds * 16};
  std::mutex mu;
  for (int th = 0; th < kThreads; ++th) {
    threads.emplace_back([&, th] {
      for (int r = 0; r < kRounds; ++r) {
        for (size_t j = 0; j < users.size(); ++j) {
          const size_t u = (j + static_cast<size_t>(th * 3 + r)) % users.size();
          // Asynchronously, as the KMS's workers ask: the answers come from whichever thread looked them up.
          service.KeySetAtAsync(*service.Certificates(), users[u], t, [&, th, u](Result<KeySet> ks) {
            {
              std::lock_guard<std::mutex> lock(mu);
              std::optional<Result<KeySet>>& slot = got[th][u];
              if (!slot.has_value()) {
                slot = std::move(ks);
              } else if (slot->ok() != ks.ok() || (ks.ok() && (*slot)->pvt != ks->pvt)) {
                slot = Result<KeySet>(Status::Internal("answers differ"));
              }
            }
            pending.fetch_sub(1);
          });
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (int i = 0; i < 2000 && pending.load() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(pending.load(), 0);
  for (int th = 0; th < kThreads; ++th) {
    for (size_t u = 0; u < users.size(); ++u) {
      ASSERT_TRUE(got[th][u].has_value());
      const Result<KeySet>& ks = *got[th][u];
      if (u == 3) {
        EXPECT_EQ(ks.status().code(), Status::Code::kPermissionDenied) << ks.status().ToString();
        continue;
      }
      ASSERT_TRUE(ks.ok()) << users[u] << ": " << ks.status().ToString();
      EXPECT_TRUE(CheckKeySet(kms_.pub, *ks).ok());
      if (u < issued.size()) EXPECT_EQ(ks->pvt, issued[u]) << users[u];
      else EXPECT_EQ(ks->pvt, (*got[0][u])->pvt) << users[u];  // derived once, the same for all
    }
  }
  EXPECT_EQ(*store_->CountKeySets(), 16u);
}

// A key set is queued to be marked delivered when it is handed out while the store holds it as
// issued (pre-provisioned, or derived just now); once the store says delivered, handing it out
// again queues nothing (a reconnecting device would otherwise cost a write each time).
TEST_P(StoredKeyServiceStoresTest, OnlyFirstDeliveriesAreQueuedForMarking) {
  DeliveryRecorder::Options options;
  options.flush_interval = std::chrono::hours(1);  // written by Flush() only
  DeliveryRecorder deliveries(*store_, options);
  StoredKeyService service(Served(), *store_, [] { return Status::Ok(); }, &deliveries);
  const NtpSeconds t = 1548ull * 2592000 + 5;
  const std::string alice = "sip:alice@example.org", bob = "sip:bob@example.org";

  // Derived on demand: handed out, so queued.
  Result<KeySet> first = service.KeySetAt(alice, t);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(deliveries.recorded(), 1u);
  // Asked again before the mark is written: the store still says issued, so queued again.
  ASSERT_TRUE(service.KeySetAt(alice, t).ok());
  EXPECT_EQ(deliveries.recorded(), 2u);
  ASSERT_TRUE(deliveries.Flush().ok());
  EXPECT_EQ(deliveries.marked(), 1u);
  // Delivered in the store: served as before, queued no more.
  for (int i = 0; i < 3; ++i) {
    Result<KeySet> again = service.KeySetAt(alice, t);
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    EXPECT_EQ(again->pvt, first->pvt);
  }
  EXPECT_EQ(deliveries.recorded(), 2u);

  // Pre-provisioned (issued in the store, never handed out): the first delivery is queued and marked.
  ASSERT_TRUE(service.KeySetAt(bob, t).ok());
  ASSERT_TRUE(deliveries.Flush().ok());
  ASSERT_TRUE(store_->SetState(bob, 1548, KeySetState::kIssued).ok());
  const uint64_t before = deliveries.recorded();
  ASSERT_TRUE(service.KeySetAt(bob, t).ok());
  EXPECT_EQ(deliveries.recorded(), before + 1);
  ASSERT_TRUE(deliveries.Flush().ok());
  EXPECT_EQ(deliveries.marked(), 3u);
  ASSERT_TRUE(service.KeySetAt(bob, t).ok());
  EXPECT_EQ(deliveries.recorded(), before + 1);
  KeySetCounts counts = *store_->CountByState();
  EXPECT_EQ(counts.delivered, 2u);
  EXPECT_EQ(counts.issued, 0u);
}

INSTANTIATE_TEST_SUITE_P(Stores, StoredKeyServiceStoresTest,
                         ::testing::Values(testing::StoreKind::kSqlite, testing::StoreKind::kPostgres),
                         [](const auto& info) { return testing::StoreKindName(info.param); });

}  // namespace
}  // namespace mcx
