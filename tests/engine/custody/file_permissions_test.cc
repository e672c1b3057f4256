// The data directory is the KMS's alone: under the usual umask 022, after `init --demo`,
// `provision` (with a bad line, so the report has content) and `check-store`, every directory in it
// is mode 0700 and every file 0600, the demo token's included. (The store's -wal and -shm files,
// which exist only while it is open, are checked in tests/engine/store.)
#include <sys/stat.h>

#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "tests/support/softhsm_fixture.h"

namespace mcx::testing {
namespace {

namespace fs = std::filesystem;

class FilePermissionsTest : public SoftHsmTest {
 protected:
  void SetUp() override {
    SoftHsmTest::SetUp();
    old_umask_ = umask(022);
  }
  void TearDown() override {
    umask(old_umask_);
    SoftHsmTest::TearDown();
  }

  // Every path under `dir` (and `dir` itself) whose mode is not 0700 (directory) or 0600 (file).
  static std::string WrongModes(const fs::path& dir) {
    std::string wrong;
    auto check = [&](const fs::path& p) {
      struct stat st {};
      if (lstat(p.c_str(), &st) != 0) return;  // gone meanwhile (a -wal removed at close)
      const unsigned mode = st.st_mode & 07777;
      const unsigned want = S_ISDIR(st.st_mode) ? 0700 : 0600;
      if (mode != want || !(S_ISDIR(st.st_mode) || S_ISREG(st.st_mode))) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "%04o", mode);
        wrong += "  " + p.string() + " " + buf + "\n";
      }
    };
    check(dir);
    std::error_code ec;
    for (const fs::directory_entry& e : fs::recursive_directory_iterator(dir, ec)) check(e.path());
    return wrong;
  }

 private:
  mode_t old_umask_ = 0;
};

TEST_F(FilePermissionsTest, EveryPathUnderTheDataDirectoryIsTheOwnersOnly) {
  const fs::path data = tmp() / "kms-data";
  const std::string kms = std::string(MCX_KMS_BINARY) + " ";
  const std::string at = " --data-dir '" + data.string() + "'";
  const fs::path users = tmp() / "users.txt";
  {
    std::ofstream out(users);
    for (int i = 0; i < 20; ++i) out << "sip:user" << i << "@example.org\n";
    out << "not a uri\n";  // goes to the provisioning report
  }
  std::string out;
  ASSERT_EQ(RunCommand(kms + "init --demo" + at, out), 0) << out;
  EXPECT_EQ(WrongModes(data), "") << "after init --demo:\n" << WrongModes(data);
  // Exit status 3: done, with a skipped line (the report's content).
  EXPECT_EQ(RunCommand(kms + "provision --threads 2 --users '" + users.string() + "'" + at, out), 3) << out;
  ASSERT_NE(out.find("issued 20"), std::string::npos) << out;
  ASSERT_TRUE(fs::exists(data / "provision-report.txt")) << out;
  ASSERT_TRUE(fs::exists(data / "store.sqlite")) << out;
  EXPECT_EQ(WrongModes(data), "") << "after provision:\n" << WrongModes(data);
  ASSERT_EQ(RunCommand(kms + "check-store" + at, out), 0) << out;
  EXPECT_EQ(WrongModes(data), "") << "after check-store:\n" << WrongModes(data);
}

}  // namespace
}  // namespace mcx::testing
