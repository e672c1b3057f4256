#include "tests/support/softhsm_fixture.h"

#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <vector>

#include "base/bytes.h"
#include "base/sha256.h"
#include "hsm/pkcs11_module.h"
#include "hsm/pkcs11_token.h"

namespace mcx::testing {

namespace fs = std::filesystem;

void SoftHsmTest::SetUp() {
  std::string tmpl = (fs::temp_directory_path() / "mcx-hsm-test-XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  tmp_ = tmpl;
  fs::create_directories(tmp_ / "tokens");
  const fs::path conf = tmp_ / "softhsm2.conf";
  std::ofstream(conf) << "directories.tokendir = " << (tmp_ / "tokens").string()
                      << "\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n";
  setenv("SOFTHSM2_CONF", conf.c_str(), 1);
  setenv(kPinVariable, kUserPin, 1);
  CreateToken(kTokenLabel, kUserPin);
}

void SoftHsmTest::TearDown() {
  std::error_code ec;
  if (!tmp_.empty()) fs::remove_all(tmp_, ec);
}

void SoftHsmTest::CreateToken(const std::string& label, const std::string& user_pin) {
  // A module loaded only for this: C_Finalize afterwards, so later loads see the new token.
  Result<std::shared_ptr<hsm::Pkcs11Module>> module = hsm::Pkcs11Module::Load(kModule);
  ASSERT_TRUE(module.ok()) << module.status().ToString();
  Status st = hsm::InitializeToken(*module, label, AsBytes(kSoPin), AsBytes(user_pin));
  ASSERT_TRUE(st.ok()) << st.ToString();
}

InitOptions SoftHsmTest::KmsOptions(const std::string& name, const std::string& kms_uri) const {
  InitOptions o;
  o.data_dir = tmp_ / name;
  o.module_path = kModule;
  o.token_label = kTokenLabel;
  o.pin = hsm::PinSource::Environment(kPinVariable);
  o.kms_uri = kms_uri;
  return o;
}

KmsConfig SoftHsmTest::MakeKms(const std::string& name, const std::string& kms_uri) {
  Result<InitResult> r = InitKms(KmsOptions(name, kms_uri));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  Result<KmsConfig> c = LoadKmsConfig(tmp_ / name);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? *c : KmsConfig{};
}

std::string HashTree(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return "absent";
  std::vector<fs::path> files;
  for (const fs::directory_entry& e : fs::recursive_directory_iterator(dir, ec)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  Bytes all;
  for (const fs::path& p : files) {
    std::string rel = p.lexically_relative(dir).string();
    unsigned perms = static_cast<unsigned>(fs::status(p, ec).permissions());
    rel += " " + std::to_string(perms) + "\n";
    all.insert(all.end(), rel.begin(), rel.end());
    if (fs::is_regular_file(p, ec)) {
      std::ifstream in(p, std::ios::binary);
      all.insert(all.end(), std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
  }
  Sha256Digest d = Sha256({all});
  return ToHex(d);
}

int RunCommand(const std::string& command, std::string& output) {
  output.clear();
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) output.append(buf, n);
  int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace mcx::testing
