// Properties of issued key sets: every one passes both client checks, and tampering or checking
// against another identity is caught.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "base/pooled_random.h"
#include "engine/keys/client_check.h"
#include "engine/keys/key_set_deriver.h"

namespace mcx {
namespace {

class KeySetPropertyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    kms_ = new Kms;
    OpenSslRandom rng;
    kms_->params = *CommunityParameters::Make("kms.example.org", 2592000, 0);
    kms_->secrets = *GenerateMasterSecrets(rng);
    kms_->pub = *DerivePublicKeys(kms_->secrets, *kms_->sakke, *kms_->eccsi);
    kms_->deriver = std::make_unique<KeySetDeriver>(kms_->params, kms_->secrets, kms_->pub, *kms_->sakke, *kms_->eccsi);
    // 200 random identities, issued on two threads.
    kms_->sets.resize(200);
    std::vector<std::thread> workers;
    for (int t = 0; t < 2; ++t) {
      workers.emplace_back([t] {
        OpenSslRandom local;
        for (size_t i = static_cast<size_t>(t); i < kms_->sets.size(); i += 2) {
          uint8_t r[8];
          ASSERT_TRUE(local.Fill(r).ok());
          std::string uri = "sip:" + ToHex(r) + "@responders.example.org";
          Result<KeySet> ks = kms_->deriver->Derive(uri, 1500 + i % 3, local);
          ASSERT_TRUE(ks.ok()) << ks.status().ToString();
          kms_->sets[i] = std::move(ks).value();
        }
      });
    }
    for (auto& w : workers) w.join();
  }
  static void TearDownTestSuite() { delete kms_; }

  struct Kms {
    std::unique_ptr<SakkeKernel> sakke = NewGenericSakkeKernel();
    std::unique_ptr<EccsiKernel> eccsi = NewGenericEccsiKernel();
    CommunityParameters params;
    MasterSecrets secrets;
    KmsPublicKeys pub;
    std::unique_ptr<KeySetDeriver> deriver;
    std::vector<KeySet> sets;
  };
  static Kms* kms_;
};
KeySetPropertyTest::Kms* KeySetPropertyTest::kms_ = nullptr;

TEST_F(KeySetPropertyTest, EveryIssuedKeySetPassesBothClientChecks) {
  ASSERT_EQ(kms_->sets.size(), 200u);
  for (const KeySet& ks : kms_->sets) {
    EXPECT_EQ(*MikeySakkeUid(ks.user_uri, kms_->params, ks.period.number), ks.uid);
    Status st = CheckKeySet(kms_->pub, ks);
    EXPECT_TRUE(st.ok()) << st.ToString();
  }
}

TEST_F(KeySetPropertyTest, OneFlippedBitInRskSskOrPvtFails) {
  for (size_t i = 0; i < 8; ++i) {
    const KeySet& ks = kms_->sets[i];
    // A bit in the middle of each coordinate / scalar, at varying positions.
    Bytes rsk(ks.rsk.view().begin(), ks.rsk.view().end());
    rsk[1 + (i * 37) % 256] ^= static_cast<uint8_t>(1u << (i % 8));
    EXPECT_FALSE(CheckReceiverSecretKey(kms_->pub.z_pub, ks.uid, rsk).ok());

    Bytes ssk(ks.ssk.view().begin(), ks.ssk.view().end());
    ssk[(i * 5) % 32] ^= static_cast<uint8_t>(1u << (i % 8));
    EXPECT_FALSE(CheckSigningKey(kms_->pub.kpak, ks.uid, ssk, ks.pvt).ok());

    P256Point pvt = ks.pvt;
    pvt[1 + (i * 11) % 64] ^= static_cast<uint8_t>(1u << (i % 8));
    EXPECT_FALSE(CheckSigningKey(kms_->pub.kpak, ks.uid, ks.ssk.view(), pvt).ok());
  }
}

TEST_F(KeySetPropertyTest, KeySetCheckedAgainstAnotherIdentityFails) {
  for (size_t i = 0; i + 1 < 10; ++i) {
    const KeySet& a = kms_->sets[i];
    const KeySet& b = kms_->sets[i + 1];
    EXPECT_FALSE(CheckReceiverSecretKey(kms_->pub.z_pub, b.uid, a.rsk.view()).ok());
    EXPECT_FALSE(CheckSigningKey(kms_->pub.kpak, b.uid, a.ssk.view(), a.pvt).ok());
  }
}

TEST_F(KeySetPropertyTest, KeySetCheckedAgainstAnotherKmsFails) {
  OpenSslRandom rng;
  MasterSecrets other = *GenerateMasterSecrets(rng);
  KmsPublicKeys other_pub = *DerivePublicKeys(other, *kms_->sakke, *kms_->eccsi);
  EXPECT_FALSE(CheckKeySet(other_pub, kms_->sets[0]).ok());
}

TEST_F(KeySetPropertyTest, SigningKeysAreFreshPerIssue) {
  // v is random, so issuing the same identity twice gives another PVT (and both are valid).
  OpenSslRandom rng;
  const KeySet& first = kms_->sets[0];
  Result<KeySet> again = kms_->deriver->Derive(first.user_uri, first.period.number, rng);
  ASSERT_TRUE(again.ok());
  EXPECT_NE(again->pvt, first.pvt);
  EXPECT_TRUE(ConstantTimeEqual(again->rsk.view(), first.rsk.view()));
  EXPECT_TRUE(CheckKeySet(kms_->pub, *again).ok());
}

TEST_F(KeySetPropertyTest, DerivationRefusesBadIdentities) {
  OpenSslRandom rng;
  for (const char* bad : {"", "not a uri", "alice"}) {
    Result<KeySet> ks = kms_->deriver->Derive(bad, 1, rng);
    ASSERT_FALSE(ks.ok()) << bad;
    EXPECT_EQ(ks.status().code(), Status::Code::kInvalidArgument);
  }
}

TEST(MasterSecretsTest, DegenerateIdentifierIsRefusedWithAClearError) {
  // Choose the identifier a = q - z, so that a + z = 0 mod q.
  OpenSslRandom rng;
  MasterSecrets secrets = *GenerateMasterSecrets(rng);
  ossl::Bn z = ossl::NewBn(), a = ossl::NewBn();
  BN_bin2bn(secrets.z.data(), static_cast<int>(secrets.z.size()), z.get());
  BN_sub(a.get(), SakkeOrder(), z.get());
  Bytes a_bytes(128);
  BN_bn2binpad(a.get(), a_bytes.data(), 128);
  auto sakke = NewGenericSakkeKernel();
  SakkePoint out;
  Status st = sakke->ReceiverSecretKey(a_bytes, secrets.z, out);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(st.message().find("rotate the SAKKE master secret"), std::string::npos);
}

TEST(MasterSecretsTest, OutOfRangeSecretsAreRejected) {
  auto sakke = NewGenericSakkeKernel();
  auto eccsi = NewGenericEccsiKernel();
  OpenSslRandom rng;
  MasterSecrets s = *GenerateMasterSecrets(rng);
  MasterSecrets zero_z{SecretBytes(128), s.ksak};
  EXPECT_EQ(DerivePublicKeys(zero_z, *sakke, *eccsi).status().code(), Status::Code::kDataLoss);
  MasterSecrets big_ksak{s.z, SecretBytes(32)};
  std::fill(big_ksak.ksak.data(), big_ksak.ksak.data() + 32, 0xff);
  EXPECT_EQ(DerivePublicKeys(big_ksak, *sakke, *eccsi).status().code(), Status::Code::kDataLoss);
}

// The range checks at their edges: z in [2, q-1] (128 octets), KSAK in [1, n-1] (32 octets).
TEST(MasterSecretsTest, RangeEdgesOfLoadedSecrets) {
  auto sakke = NewGenericSakkeKernel();
  auto eccsi = NewGenericEccsiKernel();
  OpenSslRandom rng;
  const MasterSecrets s = *GenerateMasterSecrets(rng);
  const auto encode = [](const BIGNUM* v, size_t len) {
    SecretBytes out(len);
    EXPECT_GE(BN_bn2binpad(v, out.data(), static_cast<int>(len)), 0);
    return out;
  };
  const auto code_with = [&](SecretBytes z, SecretBytes ksak) {
    return DerivePublicKeys(MasterSecrets{std::move(z), std::move(ksak)}, *sakke, *eccsi).status().code();
  };
  ossl::Bn v = ossl::NewBn();
  BN_copy(v.get(), SakkeOrder());
  EXPECT_EQ(code_with(encode(v.get(), 128), SecretBytes(s.ksak)), Status::Code::kDataLoss);  // z = q
  BN_sub_word(v.get(), 1);
  EXPECT_EQ(code_with(encode(v.get(), 128), SecretBytes(s.ksak)), Status::Code::kOk);  // z = q - 1
  BN_set_word(v.get(), 1);
  EXPECT_EQ(code_with(encode(v.get(), 128), SecretBytes(s.ksak)), Status::Code::kDataLoss);  // z = 1
  BN_set_word(v.get(), 2);
  EXPECT_EQ(code_with(encode(v.get(), 128), SecretBytes(s.ksak)), Status::Code::kOk);  // z = 2
  BN_copy(v.get(), P256Order());
  EXPECT_EQ(code_with(SecretBytes(s.z), encode(v.get(), 32)), Status::Code::kDataLoss);  // KSAK = n
  BN_sub_word(v.get(), 1);
  EXPECT_EQ(code_with(SecretBytes(s.z), encode(v.get(), 32)), Status::Code::kOk);  // KSAK = n - 1
  BN_set_word(v.get(), 1);
  EXPECT_EQ(code_with(SecretBytes(s.z), encode(v.get(), 32)), Status::Code::kOk);  // KSAK = 1
}

}  // namespace
}  // namespace mcx
