#include <gtest/gtest.h>

#include <thread>

#include "base/pooled_random.h"
#include "engine/keys/client_check.h"
#include "engine/service/stored_key_service.h"
#include "engine/store/sqlite_key_store.h"
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

}  // namespace
}  // namespace mcx
