// KeySetDeriver::DeriveBatch against Derive: same RSKs, valid SSK/PVT pairs, same errors.
#include <gtest/gtest.h>

#include "base/pooled_random.h"
#include "engine/keys/client_check.h"
#include "engine/keys/key_set_deriver.h"

namespace mcx {
namespace {

// On both ECCSI kernels: the generic one computes the PVTs one by one, the fast one in a batch.
class DeriveBatchTest : public ::testing::TestWithParam<bool> {};

TEST_P(DeriveBatchTest, MatchesDeriveOneByOne) {
  OpenSslRandom rng;
  std::unique_ptr<SakkeKernel> sakke = NewBestSakkeKernel();
  std::unique_ptr<EccsiKernel> eccsi = GetParam() ? NewFastEccsiKernel() : NewGenericEccsiKernel();
  Result<MasterSecrets> secrets = GenerateMasterSecrets(rng);
  ASSERT_TRUE(secrets.ok());
  Result<KmsPublicKeys> pub = DerivePublicKeys(*secrets, *sakke, *eccsi);
  ASSERT_TRUE(pub.ok());
  auto params = CommunityParameters::Make("kms.example.org", kDefaultUserKeyPeriod, 0);
  ASSERT_TRUE(params.ok());
  KeySetDeriver deriver(*params, *secrets, *pub, *sakke, *eccsi);

  std::vector<std::string> users;
  for (int i = 0; i < 70; ++i) users.push_back("sip:user" + std::to_string(i) + "@example.org");
  users[5] = "";  // an invalid URI must fail exactly as Derive fails
  std::vector<Result<KeySet>> batch = deriver.DeriveBatch(users, 1234, rng);
  ASSERT_EQ(batch.size(), users.size());
  for (size_t i = 0; i < users.size(); ++i) {
    Result<KeySet> one = deriver.Derive(users[i], 1234, rng);
    ASSERT_EQ(batch[i].ok(), one.ok()) << "user #" << i;
    if (!one.ok()) {
      EXPECT_EQ(batch[i].status().ToString(), one.status().ToString());
      continue;
    }
    EXPECT_EQ(batch[i]->user_uri, one->user_uri);
    EXPECT_EQ(batch[i]->uid, one->uid);
    EXPECT_TRUE(ConstantTimeEqual(batch[i]->rsk.view(), one->rsk.view())) << "user #" << i;
    if (i % 10 == 0) {
      EXPECT_TRUE(CheckKeySet(*pub, *batch[i]).ok()) << "user #" << i;
    }
    EXPECT_TRUE(CheckSigningKey(pub->kpak, batch[i]->uid, batch[i]->ssk.view(), batch[i]->pvt).ok());
  }
}

INSTANTIATE_TEST_SUITE_P(Kernels, DeriveBatchTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "FastEccsi" : "GenericEccsi"; });

}  // namespace
}  // namespace mcx
