// Known answers from RFC 6508 Appendix A (SAKKE) and RFC 6507 Appendix A (ECCSI).
#include <gtest/gtest.h>

#include "base/bytes.h"
#include "base/sha256.h"
#include "engine/keys/client_check.h"
#include "engine/keys/key_set_deriver.h"
#include "engine/math/tate_pairing.h"

namespace mcx {
namespace {

Bytes Hex(const std::string& h) {
  Result<Bytes> b = FromHex(h);
  EXPECT_TRUE(b.ok()) << b.status().ToString();
  return b.ok() ? *b : Bytes{};
}

// A big-endian integer left-padded to `len` octets.
SecretBytes Padded(const std::string& hex, size_t len) {
  Bytes b = Hex(hex);
  SecretBytes out(len);
  std::copy(b.begin(), b.end(), out.data() + (len - b.size()));
  return out;
}

const char kZ[] = "AFF429D35F84B110D094803B3595A6E2998BC99F";
const char kSakkeId[] = "323031312D30320074656C3A2B34343737303039303031323300";
const char kZPub[] =
    "045958EF1B1679BF099B3A030DF255AA6A23C1D8F143D4D23F753E69BD27A832F38CB4AD53DDEF4260B0FE8BB45C4C1F"
    "F510EFFE300367A37B61F701D914AEF09724825FA0707D61A6DFF4FBD7273566CDDE352A0B04B7C16A78309BE640697D"
    "E747613A5FC195E8B9F328852A579DB8F99B1D0034479EA9C5595F47C4B2F54FF21508D37514DCF7A8E143A6058C09A6"
    "BF2C9858CA37C258065AE6BF7532BC8B5B63383866E0753C5AC0E72709F8445F2E6178E065857E0EDA10F68206B63505"
    "ED87E534FB2831FF957FB7DC619DAE61301EEACC2FDA3680EA4999258A833CEA8FC67C6D19487FB449059F26CC8AAB65"
    "5AB58B7CC796E24E9A394095754F5F8BAE";
const char kRsk[] =
    "0493AF67E5007BA6E6A80DA793DA300FA4B52D0A74E25E6E7B2B3D6EE9D18A9B5C5023597BD82D8062D34019563BA1D2"
    "5C0DC56B7B979D74AA50F29FBF11CC2C93F5DFCA615E609279F6175CEADB00B58C6BEE1E7A2A47C4F0C456F05259A6FA"
    "94A634A40DAE1DF593D4FECF688D5FC678BE7EFC6DF3D6835325B83B2C6E69036B155F0A27241094B04BFB0BDFAC6C67"
    "0A65C325D39A069F03659D44CA27D3BE8DF311172B554160181CBE94A2A783320CED590BC42644702CF371271E496BF2"
    "0F588B78A1BC01ECBB6559934BDD2FB65D2884318A33D1A42ADF5E33CC5800280B28356497F87135BAB9612A17260424"
    "409AC15FEE996B744C332151235DECB0F5";

const char kKsak[] = "012345";  // 0x12345
const char kKpak[] =
    "0450D4670BDE75244F28D2838A0D25558A7A72686D4522D4C8273FB6442AEBFA93DBDD37551AFD263B5DFD617F3960C6"
    "5A8C298850FF99F20366DCE7D4367217F4";
const char kEccsiId[] = "323031312D30320074656C3A2B34343737303039303031323300";
const char kV[] = "023456";  // 0x23456
const char kPvt[] =
    "04758A142779BE89E829E71984CB40EF758CC4AD775FC5B9A3E1C8ED52F6FA36D9A79D247692F4EDA3A6BDAB77D6AA64"
    "74A464AE4934663C5265BA7018BA091F79";
const char kHs[] = "490F3FEBBC1C902F6289723D7F8CBF79DB88930849D19F38F0295B5C276C14D1";
const char kSsk[] = "23F374AE1F4033F3E9DBDDAAEF20F4CF0B86BBD5A138A5AE9E7E006B34489A0D";

class KnownAnswerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    secrets_.z = Padded(kZ, sakke::kScalarBytes);
    secrets_.ksak = Padded(kKsak, kP256ScalarBytes);
    Result<KmsPublicKeys> pub = DerivePublicKeys(secrets_, *sakke_, *eccsi_);
    ASSERT_TRUE(pub.ok()) << pub.status().ToString();
    pub_ = *pub;
  }
  std::unique_ptr<SakkeKernel> sakke_ = NewGenericSakkeKernel();
  std::unique_ptr<EccsiKernel> eccsi_ = NewGenericEccsiKernel();
  MasterSecrets secrets_;
  KmsPublicKeys pub_;
};

TEST_F(KnownAnswerTest, SakkePublicKeyMatchesRfc6508) {
  EXPECT_EQ(ToUpperHex(pub_.z_pub), kZPub);
}

TEST_F(KnownAnswerTest, SakkeRskMatchesRfc6508) {
  auto params = CommunityParameters::Make("kms.example.org", kDefaultUserKeyPeriod, 0);
  ASSERT_TRUE(params.ok());
  KeySetDeriver deriver(*params, secrets_, pub_, *sakke_, *eccsi_);
  SecretBytes rsk;
  ASSERT_TRUE(deriver.ReceiverSecretKey(Hex(kSakkeId), rsk).ok());
  EXPECT_EQ(ToUpperHex(rsk.view()), kRsk);
}

TEST_F(KnownAnswerTest, PairingOfGeneratorWithItselfIsG) {
  const EC_GROUP* group = SakkeGroup();
  Result<SakkeFieldElement> g = SakkePairing(EC_GROUP_get0_generator(group), EC_GROUP_get0_generator(group));
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(ToUpperHex(*g), sakke::kG);
}

TEST_F(KnownAnswerTest, RfcRskPassesTheClientCheck) {
  auto pub = FromHex(kZPub);
  SakkePoint z_pub;
  std::copy(pub->begin(), pub->end(), z_pub.begin());
  EXPECT_TRUE(CheckReceiverSecretKey(z_pub, Hex(kSakkeId), Hex(kRsk)).ok());
  // The RFC's well-known typo (DB00F58C for DB00B58C) must not validate.
  std::string typo = kRsk;
  typo.replace(typo.find("DB00B58C"), 8, "DB00F58C");
  EXPECT_FALSE(CheckReceiverSecretKey(z_pub, Hex(kSakkeId), Hex(typo)).ok());
}

TEST_F(KnownAnswerTest, EccsiKpakMatchesRfc6507) {
  EXPECT_EQ(ToUpperHex(pub_.kpak), kKpak);
}

TEST_F(KnownAnswerTest, EccsiSigningKeyMatchesRfc6507) {
  auto params = CommunityParameters::Make("kms.example.org", kDefaultUserKeyPeriod, 0);
  ASSERT_TRUE(params.ok());
  KeySetDeriver deriver(*params, secrets_, pub_, *sakke_, *eccsi_);
  Result<SigningKeyPair> pair = deriver.SigningKeyWith(Hex(kEccsiId), Padded(kV, kP256ScalarBytes));
  ASSERT_TRUE(pair.ok()) << pair.status().ToString();
  EXPECT_EQ(ToUpperHex(pair->pvt), kPvt);
  EXPECT_EQ(ToUpperHex(pair->ssk.view()), kSsk);

  P256Point g_enc;
  ASSERT_TRUE(EncodePoint(P256Group(), EC_GROUP_get0_generator(P256Group()), g_enc).ok());
  EXPECT_EQ(ToUpperHex(Sha256({g_enc, pub_.kpak, Hex(kEccsiId), pair->pvt})), kHs);

  EXPECT_TRUE(CheckSigningKey(pub_.kpak, Hex(kEccsiId), Hex(kSsk), Hex(kPvt)).ok());
}

}  // namespace
}  // namespace mcx
