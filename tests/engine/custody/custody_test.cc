// KmsCustody end to end on a real SoftHSM2 token: init, restart, unseal, issue, validate.
#include <sys/prctl.h>

#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "engine/custody/key_set_source.h"
#include "engine/custody/kms_custody.h"
#include "engine/keys/client_check.h"
#include "tests/support/softhsm_fixture.h"

namespace mcx::testing {
namespace {

namespace fs = std::filesystem;

class CustodyTest : public SoftHsmTest {};

std::unique_ptr<KmsCustody> OpenOrDie(const KmsConfig& config) {
  Result<std::unique_ptr<KmsCustody>> c = KmsCustody::Open(config);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? std::move(c).value() : nullptr;
}

TEST_F(CustodyTest, InitThenReopenIssuesKeySetsValidAgainstTheFirstCertificate) {
  KmsConfig config = MakeKms("kms");
  KmsPublicKeys first_pub;
  auto sakke = NewGenericSakkeKernel();
  auto eccsi = NewGenericEccsiKernel();
  {
    std::unique_ptr<KmsCustody> first = OpenOrDie(config);
    ASSERT_NE(first, nullptr);
    first_pub = first->public_keys();
    EXPECT_TRUE(first->Ping().ok());
  }
  // A restart: module finalised and loaded again, secrets unsealed afresh.
  std::unique_ptr<KmsCustody> second = OpenOrDie(config);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->public_keys().z_pub, first_pub.z_pub);
  EXPECT_EQ(second->public_keys().kpak, first_pub.kpak);
  auto source = NewCustodyKeySetSource(*second, *sakke, *eccsi);
  for (int i = 0; i < 3; ++i) {
    Result<KeySet> ks = source->Derive("sip:user" + std::to_string(i) + "@example.org", 100 + i);
    ASSERT_TRUE(ks.ok()) << ks.status().ToString();
    Status st = CheckKeySet(first_pub, *ks);
    EXPECT_TRUE(st.ok()) << st.ToString();
  }
}

TEST_F(CustodyTest, ASecondProcessUnsealsAndIssuesValidKeySets) {
  KmsConfig config = MakeKms("kms");
  std::string out;
  int rc = RunCommand(std::string(MCX_KMS_BINARY) + " demo --users 6 --threads 2 --data-dir '" +
                          config.data_dir.string() + "'", out);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("custody: KMS " + config.kms_id), std::string::npos) << out;
  EXPECT_NE(out.find("validated 6/6 key sets"), std::string::npos) << out;
}

TEST_F(CustodyTest, InitDemoInAnEmptyDirectoryThenDemoThere) {
  const fs::path dir = tmp() / "empty";
  fs::create_directories(dir);
  const std::string cd = "cd '" + dir.string() + "' && env -u " + std::string(kDataDirEnvironment) + " ";
  std::string out;
  ASSERT_EQ(RunCommand(cd + MCX_KMS_BINARY + " init --demo", out), 0) << out;
  EXPECT_NE(out.find("created KMS kms.example.org"), std::string::npos) << out;
  const fs::path data = dir / kDefaultDataDirName;
  EXPECT_EQ(fs::status(data / "hsm-pin").permissions() & (fs::perms::group_all | fs::perms::others_all),
            fs::perms::none);
  ASSERT_EQ(RunCommand(cd + MCX_KMS_BINARY + " demo --users 4 --threads 2", out), 0) << out;
  EXPECT_NE(out.find("validated 4/4 key sets"), std::string::npos) << out;
  EXPECT_NE(out.find("token 'mcx-kms-demo'"), std::string::npos) << out;
  // A second `init --demo` refuses, and changes nothing.
  const std::string before = HashTree(data);
  EXPECT_NE(RunCommand(cd + MCX_KMS_BINARY + " init --demo", out), 0);
  EXPECT_NE(out.find("already holds a KMS"), std::string::npos) << out;
  EXPECT_EQ(HashTree(data), before);
  ASSERT_EQ(RunCommand(cd + MCX_KMS_BINARY + " hsm info", out), 0) << out;
  EXPECT_NE(out.find("[ok] CKM_AES_GCM"), std::string::npos) << out;
  EXPECT_NE(out.find("<- this KMS's token"), std::string::npos) << out;
}

TEST_F(CustodyTest, MasterSecretsAreGuardedAndTheProcessIsNotDumpable) {
  std::unique_ptr<KmsCustody> c = OpenOrDie(MakeKms("kms"));
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->secrets().z.guarded());
  EXPECT_TRUE(c->secrets().ksak.guarded());
  EXPECT_EQ(c->secrets().z.size(), 128u);
  EXPECT_EQ(c->secrets().ksak.size(), 32u);
  EXPECT_EQ(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
  std::ifstream status("/proc/self/status");
  std::string line;
  long locked_kb = -1;
  while (std::getline(status, line)) {
    if (line.rfind("VmLck:", 0) == 0) locked_kb = std::stol(line.substr(6));
  }
  EXPECT_GT(locked_kb, 0);
}

TEST_F(CustodyTest, MasterSecretsNeverReachTheDiskInTheClear) {
  KmsConfig config = MakeKms("kms");
  std::unique_ptr<KmsCustody> c = OpenOrDie(config);
  ASSERT_NE(c, nullptr);
  std::vector<std::string> needles;
  for (const SecretBytes* s : {&c->secrets().z, &c->secrets().ksak}) {
    needles.emplace_back(reinterpret_cast<const char*>(s->data()), s->size());
    needles.push_back(ToHex(s->view()));
    needles.push_back(ToUpperHex(s->view()));
  }
  int files = 0;
  // The data directory and the token's own store.
  for (const fs::path& root : {config.data_dir, tmp() / "tokens"}) {
    for (const fs::directory_entry& e : fs::recursive_directory_iterator(root)) {
      if (!e.is_regular_file()) continue;
      ++files;
      std::ifstream in(e.path(), std::ios::binary);
      std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      for (const std::string& n : needles) {
        EXPECT_EQ(content.find(n), std::string::npos) << "a master secret is in the clear in " << e.path();
      }
    }
  }
  EXPECT_GE(files, 5);
}

TEST_F(CustodyTest, SealedBlobsAreBoundToTheirPurposeAndKms) {
  KmsConfig a_config = MakeKms("a");
  KmsConfig b_config = MakeKms("b", "kms.other.example.org");
  std::unique_ptr<KmsCustody> a = OpenOrDie(a_config);
  std::unique_ptr<KmsCustody> b = OpenOrDie(b_config);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  const Bytes secret = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  Result<Bytes> blob = a->Seal(secret, "store-encryption-key");
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  Result<SecretBytes> back = a->Unseal(*blob, "store-encryption-key");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(ConstantTimeEqual(back->view(), secret));
  EXPECT_TRUE(back->guarded());

  EXPECT_EQ(a->Unseal(*blob, "another-purpose").status().code(), Status::Code::kDataLoss);
  EXPECT_EQ(b->Unseal(*blob, "store-encryption-key").status().code(), Status::Code::kDataLoss);
  Bytes flipped = *blob;
  flipped[flipped.size() / 2] ^= 0x01;
  EXPECT_EQ(a->Unseal(flipped, "store-encryption-key").status().code(), Status::Code::kDataLoss);
  EXPECT_EQ(a->Seal(secret, kSakkeMasterSecretPurpose).status().code(), Status::Code::kInvalidArgument);
}

TEST_F(CustodyTest, ConfigurationRoundTrips) {
  KmsConfig c = MakeKms("kms", "kms.example.org");
  EXPECT_EQ(c.params.kms_uri, "kms.example.org");
  EXPECT_EQ(c.module_path, fs::path(kModule));
  EXPECT_EQ(c.token_label, kTokenLabel);
  EXPECT_EQ(c.pin, hsm::PinSource::Environment(kPinVariable));
  EXPECT_EQ(c.store_path, c.data_dir / "store.sqlite");
  EXPECT_EQ(c.kms_id.size(), 32u);
  EXPECT_TRUE(c.softhsm2_conf.empty());
}

}  // namespace
}  // namespace mcx::testing
