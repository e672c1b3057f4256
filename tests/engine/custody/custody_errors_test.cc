// Every way opening or creating a KMS can fail: each gives its own clear error and leaves the data
// directory exactly as it was (hashed before and after).
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "engine/custody/kms_custody.h"
#include "engine/custody/kms_token.h"
#include "hsm/key_encryption_key.h"
#include "tests/support/softhsm_fixture.h"

namespace mcx::testing {
namespace {

namespace fs = std::filesystem;

class CustodyErrorsTest : public SoftHsmTest {
 protected:
  // Opens the KMS, expects failure with `code` and a message containing `text`, and checks the
  // data directory did not change.
  void ExpectOpenFails(const KmsConfig& config, Status::Code code, const std::string& text) {
    const std::string before = HashTree(config.data_dir);
    Result<std::unique_ptr<KmsCustody>> c = KmsCustody::Open(config);
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.status().code(), code) << c.status().ToString();
    EXPECT_NE(c.status().message().find(text), std::string::npos) << c.status().ToString();
    EXPECT_EQ(HashTree(config.data_dir), before);
  }

  void FlipByte(const fs::path& file, size_t at) {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(at));
    char c = 0;
    f.get(c);
    f.seekp(static_cast<std::streamoff>(at));
    f.put(static_cast<char>(c ^ 0x40));
  }
};

TEST_F(CustodyErrorsTest, WrongPin) {
  CreateToken("pin-test", "the-right-pin");
  InitOptions o = KmsOptions("kms");
  o.token_label = "pin-test";
  setenv("MCX_RIGHT_PIN", "the-right-pin", 1);
  o.pin = hsm::PinSource::Environment("MCX_RIGHT_PIN");
  ASSERT_TRUE(InitKms(o).ok());
  Result<KmsConfig> config = LoadKmsConfig(o.data_dir);
  ASSERT_TRUE(config.ok());
  setenv("MCX_WRONG_PIN", "not-the-pin", 1);
  config->pin = hsm::PinSource::Environment("MCX_WRONG_PIN");
  ExpectOpenFails(*config, Status::Code::kPermissionDenied, "CKR_PIN_INCORRECT");
  ExpectOpenFails(*config, Status::Code::kPermissionDenied, "MCX_WRONG_PIN");
}

TEST_F(CustodyErrorsTest, PinVariableNotSet) {
  KmsConfig config = MakeKms("kms");
  config.pin = hsm::PinSource::Environment("MCX_SURELY_UNSET_PIN");
  ExpectOpenFails(config, Status::Code::kInvalidArgument, "MCX_SURELY_UNSET_PIN");
}

TEST_F(CustodyErrorsTest, PinFileReadableByOthers) {
  KmsConfig config = MakeKms("kms");
  const fs::path pin = tmp() / "pin";
  std::ofstream(pin) << kUserPin << "\n";
  fs::permissions(pin, fs::perms::owner_read | fs::perms::owner_write | fs::perms::others_read);
  config.pin = hsm::PinSource::File(pin.string());
  ExpectOpenFails(config, Status::Code::kPermissionDenied, "chmod 600");
  fs::permissions(pin, fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_TRUE(KmsCustody::Open(config).ok());  // the trailing newline is not part of the PIN
}

TEST_F(CustodyErrorsTest, MissingTokenLabelListsTheLabelsThatAreThere) {
  KmsConfig config = MakeKms("kms");
  config.token_label = "no-such-token";
  ExpectOpenFails(config, Status::Code::kNotFound, "no token labelled 'no-such-token'");
  ExpectOpenFails(config, Status::Code::kNotFound, std::string("'") + kTokenLabel + "'");
}

TEST_F(CustodyErrorsTest, MissingModulePath) {
  KmsConfig config = MakeKms("kms");
  config.module_path = tmp() / "no-such-module.so";
  ExpectOpenFails(config, Status::Code::kNotFound, "does not exist");
}

TEST_F(CustodyErrorsTest, ModuleThatIsNotPkcs11) {
  KmsConfig config = MakeKms("kms");
  config.module_path = "/lib/x86_64-linux-gnu/libc.so.6";
  ExpectOpenFails(config, Status::Code::kInvalidArgument, "not a PKCS#11 module");
  const fs::path text = tmp() / "module.txt";
  std::ofstream(text) << "not a library\n";
  config.module_path = text;
  ExpectOpenFails(config, Status::Code::kInvalidArgument, "could not be loaded as a shared library");
}

TEST_F(CustodyErrorsTest, KeyEncryptionKeyDeletedFromTheToken) {
  KmsConfig config = MakeKms("kms");
  {
    Result<KmsToken> t = OpenKmsToken(config);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    Result<hsm::KeyEncryptionKey> kek = hsm::KeyEncryptionKey::Find(*t->token, config.kek_label());
    ASSERT_TRUE(kek.ok()) << kek.status().ToString();
    ASSERT_TRUE(kek->Destroy().ok());
  }
  ExpectOpenFails(config, Status::Code::kNotFound, "key-encryption key '" + config.kek_label() + "' is not on token");
}

TEST_F(CustodyErrorsTest, SealedBlobWithOneByteFlipped) {
  KmsConfig config = MakeKms("kms");
  FlipByte(config.data_dir / "sakke-master-secret.sealed", 40);
  ExpectOpenFails(config, Status::Code::kDataLoss, "failed its integrity check");
}

TEST_F(CustodyErrorsTest, SealedBlobFromAnotherKms) {
  KmsConfig a = MakeKms("a");
  KmsConfig b = MakeKms("b");  // same token, same URI: only the KMS id and key differ
  fs::copy_file(b.data_dir / "eccsi-ksak.sealed", a.data_dir / "eccsi-ksak.sealed",
                fs::copy_options::overwrite_existing);
  ExpectOpenFails(a, Status::Code::kDataLoss, "failed its integrity check");
}

TEST_F(CustodyErrorsTest, SealedBlobsSwappedBetweenPurposes) {
  KmsConfig config = MakeKms("kms");
  const fs::path z = config.data_dir / "sakke-master-secret.sealed";
  const fs::path ksak = config.data_dir / "eccsi-ksak.sealed";
  fs::rename(z, tmp() / "z");
  fs::rename(ksak, z);
  fs::rename(tmp() / "z", ksak);
  ExpectOpenFails(config, Status::Code::kDataLoss, "failed its integrity check");
}

TEST_F(CustodyErrorsTest, CertificateOfAnotherKms) {
  KmsConfig a = MakeKms("a");
  KmsConfig b = MakeKms("b");
  fs::copy_file(b.data_dir / "kms-certificate.toml", a.data_dir / "kms-certificate.toml",
                fs::copy_options::overwrite_existing);
  ExpectOpenFails(a, Status::Code::kDataLoss, "another KMS");
}

TEST_F(CustodyErrorsTest, InitRefusesToReplaceAKmsAndChangesNothing) {
  KmsConfig config = MakeKms("kms");
  const std::string before = HashTree(config.data_dir);
  Result<InitResult> again = InitKms(KmsOptions("kms"));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), Status::Code::kAlreadyExists);
  EXPECT_NE(again.status().message().find("--force"), std::string::npos);
  EXPECT_EQ(HashTree(config.data_dir), before);
}

TEST_F(CustodyErrorsTest, FailedInitLeavesNoTrace) {
  InitOptions o = KmsOptions("kms");
  setenv("MCX_WRONG_PIN", "not-the-pin", 1);
  o.pin = hsm::PinSource::Environment("MCX_WRONG_PIN");
  Result<InitResult> r = InitKms(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kPermissionDenied);
  EXPECT_FALSE(fs::exists(o.data_dir));

  o = KmsOptions("kms", "not a uri");
  r = InitKms(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  EXPECT_FALSE(fs::exists(o.data_dir));
}

TEST_F(CustodyErrorsTest, MalformedConfigurationNamesTheProblem) {
  KmsConfig config = MakeKms("kms");
  std::ofstream(config.data_dir / kKmsConfigFileName) << "[kms]\nuri = \"kms.example.org\"\n";
  Result<KmsConfig> c = LoadKmsConfig(config.data_dir);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("kms.user_key_period"), std::string::npos) << c.status().ToString();
  std::ofstream(config.data_dir / kKmsConfigFileName) << "[kms\n";
  c = LoadKmsConfig(config.data_dir);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("line 1"), std::string::npos) << c.status().ToString();
  EXPECT_EQ(LoadKmsConfig(tmp() / "nothing-here").status().code(), Status::Code::kNotFound);
}

}  // namespace
}  // namespace mcx::testing
