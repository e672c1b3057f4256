// Custody through the Env seam: a write that fails half way through `init` (a full disk, a
// failing device) leaves the data directory exactly as it was, and the KMS reads its clock from
// the Env it is opened with.
#include <cerrno>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "engine/custody/kms_custody.h"
#include "engine/custody/kms_instance.h"
#include "tests/support/fake_env.h"
#include "tests/support/softhsm_fixture.h"

namespace mcx::testing {
namespace {

// A KMS on an HSM token is four files: two sealed master secrets, the certificate, the configuration.
constexpr int kInitWrites = 4;

class EnvSeamTest : public SoftHsmTest {};

TEST_F(EnvSeamTest, InitWhoseNthWriteFailsLeavesNoDataDirectory) {
  for (int n = 1; n <= kInitWrites; ++n) {
    SCOPED_TRACE("write " + std::to_string(n));
    FakeEnv env;
    const int err = n % 2 == 1 ? ENOSPC : EIO;
    env.FailWrite(n, err);
    const InitOptions o = KmsOptions("fresh");
    Result<InitResult> r = InitKms(o, env);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Status::Code::kUnavailable) << r.status().ToString();
    EXPECT_NE(r.status().message().find(std::strerror(err)), std::string::npos) << r.status().ToString();
    EXPECT_EQ(env.failed_writes(), 1);
    EXPECT_EQ(HashTree(o.data_dir), "absent");
  }
  // Without a fault the same init succeeds in exactly that many writes, so each one failed above.
  FakeEnv env;
  Result<InitResult> r = InitKms(KmsOptions("fresh"), env);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(env.writes(), kInitWrites);
}

TEST_F(EnvSeamTest, ForcedInitWhoseWriteFailsKeepsTheOldKms) {
  const KmsConfig config = MakeKms("kms");
  const std::string before = HashTree(config.data_dir);
  for (int n = 1; n <= kInitWrites; ++n) {
    SCOPED_TRACE("write " + std::to_string(n));
    FakeEnv env;
    env.FailWrite(n, ENOSPC);
    InitOptions o = KmsOptions("kms");
    o.force = true;
    Result<InitResult> r = InitKms(o, env);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(HashTree(config.data_dir), before);
  }
  Result<std::unique_ptr<KmsCustody>> old = KmsCustody::Open(config);
  EXPECT_TRUE(old.ok()) << old.status().ToString();
}

TEST_F(EnvSeamTest, AFailedConfigurationSaveKeepsTheOldFile) {
  KmsConfig config = MakeKms("kms");
  const std::string before = HashTree(config.data_dir);
  FakeEnv env;
  env.FailWritesTo(kKmsConfigFileName, ENOSPC);
  config.idms_issuer = "https://idms.example.org";
  EXPECT_EQ(SaveKmsConfig(config, env).code(), Status::Code::kUnavailable);
  EXPECT_EQ(HashTree(config.data_dir), before);
}

TEST_F(EnvSeamTest, TheCertificateValidityStartsWithThePeriodOfTheFirstOpenByTheEnvClock) {
  const KmsConfig config = MakeKms("kms");
  FakeEnv env;
  env.SetUnixSeconds(1'900'000'000);  // 2030-03-17T17:46:40Z
  // The certificate takes over on a key-period boundary: the start of the period in progress.
  const NtpSeconds first_open =
      KeyPeriod::Containing(config.params, NtpFromUnix(1'900'000'000).value()).value().valid_from;
  ASSERT_LT(first_open, NtpFromUnix(1'900'000'000).value());
  {
    Result<std::unique_ptr<KmsInstance>> kms = KmsInstance::Open(config, env);
    ASSERT_TRUE(kms.ok()) << kms.status().ToString();
    EXPECT_EQ((*kms)->certificate().valid_from, first_open);
  }
  env.Advance(40 * 86400);  // fixed when first opened: a later open does not move it
  Result<std::unique_ptr<KmsInstance>> kms = KmsInstance::Open(config, env);
  ASSERT_TRUE(kms.ok()) << kms.status().ToString();
  EXPECT_EQ((*kms)->certificate().valid_from, first_open);
}

}  // namespace
}  // namespace mcx::testing
