// A KMS open that fails changes nothing on disk: before the first open the sealed master secrets
// stay in their files until the PIN, the KEK and the blobs have proven good, and the move into the
// store is one transaction that never overwrites another KMS's state.
#include <string>

#include <gtest/gtest.h>

#include "engine/custody/kms_instance.h"
#include "engine/custody/store_kms_state.h"
#include "tests/support/softhsm_fixture.h"

namespace mcx::testing {
namespace {

namespace fs = std::filesystem;

class FailedOpenTest : public SoftHsmTest {};

TEST_F(FailedOpenTest, AWrongPinOnAFreshKmsLeavesTheDataDirectoryAsItWas) {
  KmsConfig config = MakeKms("kms");
  const KmsConfig right = config;
  setenv("MCX_WRONG_PIN", "not-the-pin", 1);
  config.pin = hsm::PinSource::Environment("MCX_WRONG_PIN");

  const std::string fresh = HashTree(config.data_dir);
  {
    Result<std::unique_ptr<KmsInstance>> kms = KmsInstance::Open(config);
    ASSERT_FALSE(kms.ok());
    EXPECT_EQ(kms.status().code(), Status::Code::kPermissionDenied) << kms.status().ToString();
    EXPECT_NE(kms.status().message().find("CKR_PIN_INCORRECT"), std::string::npos) << kms.status().ToString();
  }
  EXPECT_EQ(HashTree(config.data_dir), fresh);
  EXPECT_TRUE(fs::exists(config.data_dir / kSealedZFile));
  EXPECT_TRUE(fs::exists(config.data_dir / kSealedKsakFile));
  EXPECT_FALSE(fs::exists(config.store_path));

  // The right PIN opens it and moves the state into the store.
  {
    Result<std::unique_ptr<KmsInstance>> kms = KmsInstance::Open(right);
    ASSERT_TRUE(kms.ok()) << kms.status().ToString();
  }
  EXPECT_FALSE(fs::exists(config.data_dir / kSealedZFile));
  EXPECT_FALSE(fs::exists(config.data_dir / kSealedKsakFile));

  // Once the state is in the store, a wrong PIN changes nothing either.
  const std::string adopted = HashTree(config.data_dir);
  {
    Result<std::unique_ptr<KmsInstance>> kms = KmsInstance::Open(config);
    ASSERT_FALSE(kms.ok());
    EXPECT_EQ(kms.status().code(), Status::Code::kPermissionDenied) << kms.status().ToString();
  }
  EXPECT_EQ(HashTree(config.data_dir), adopted);
  EXPECT_TRUE(KmsInstance::Open(right).ok());
}

TEST_F(FailedOpenTest, AMissingStoreIsReportedNotCreated) {
  const KmsConfig config = MakeKms("kms");
  ASSERT_TRUE(KmsInstance::Open(config).ok());
  fs::remove(config.store_path);
  const std::string before = HashTree(config.data_dir);
  Result<std::unique_ptr<KmsInstance>> kms = KmsInstance::Open(config);
  ASSERT_FALSE(kms.ok());
  EXPECT_EQ(kms.status().code(), Status::Code::kNotFound) << kms.status().ToString();
  EXPECT_NE(kms.status().message().find(config.store_path.string()), std::string::npos) << kms.status().ToString();
  EXPECT_EQ(HashTree(config.data_dir), before);
}

TEST_F(FailedOpenTest, ANewKmsBesideTheOldOnesStoreIsRefusedAndKeepsItsSealedFiles) {
  const KmsConfig old = MakeKms("kms");
  ASSERT_TRUE(KmsInstance::Open(old).ok());  // the old KMS's state is now in store.sqlite
  InitOptions o = KmsOptions("kms");
  o.force = true;
  Result<InitResult> made = InitKms(o);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  const std::string before = HashTree(old.data_dir);
  {
    Result<std::unique_ptr<KmsInstance>> kms = KmsInstance::Open(made->config);
    ASSERT_FALSE(kms.ok());
    EXPECT_EQ(kms.status().code(), Status::Code::kAlreadyExists) << kms.status().ToString();
    EXPECT_NE(kms.status().message().find("another KMS"), std::string::npos) << kms.status().ToString();
  }
  EXPECT_EQ(HashTree(old.data_dir), before);
  // With the old store moved away, the new KMS opens from its files.
  fs::rename(old.store_path, old.data_dir.parent_path() / "old-store.sqlite");
  Result<std::unique_ptr<KmsInstance>> fresh = KmsInstance::Open(made->config);
  ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
  EXPECT_EQ((*fresh)->custody().config().kms_id, made->config.kms_id);
}

}  // namespace
}  // namespace mcx::testing
