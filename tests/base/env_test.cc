#include "base/env.h"

#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <fstream>

#include <gtest/gtest.h>

#include "tests/support/fake_env.h"
#include "tests/support/temp_dir.h"

namespace mcx {
namespace {

namespace fs = std::filesystem;

unsigned ModeOf(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(stat(p.c_str(), &st), 0) << p;
  return static_cast<unsigned>(st.st_mode & 07777);
}

std::string Text(const Result<Bytes>& b) { return std::string(b->begin(), b->end()); }

class EnvTest : public ::testing::Test {
 protected:
  Env& env_ = Env::Default();
  testing::TempDir tmp_;
};

TEST_F(EnvTest, WallClockIsTheSystemClock) {
  const int64_t before = static_cast<int64_t>(std::time(nullptr));
  const int64_t now = env_.NowUnixSeconds();
  const int64_t after = static_cast<int64_t>(std::time(nullptr));
  EXPECT_GE(now, before);
  EXPECT_LE(now, after + 1);  // time() reads the coarse clock, which may trail by a tick across a second
}

TEST_F(EnvTest, AtomicWriteReplacesTheFileWithTheGivenModeDespiteTheUmask) {
  const fs::path f = tmp_.path() / "state.toml";
  const mode_t old_umask = umask(0077);
  ASSERT_TRUE(env_.WriteFileAtomically(f, AsBytes("first"), 0644).ok());
  umask(old_umask);
  EXPECT_EQ(ModeOf(f), 0644u);
  ASSERT_TRUE(env_.WriteFileAtomically(f, AsBytes("second, longer"), 0600).ok());
  EXPECT_EQ(ModeOf(f), 0600u);
  EXPECT_EQ(Text(env_.ReadFile(f)), "second, longer");
  Result<std::vector<std::string>> names = env_.GetChildren(tmp_.path());
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, std::vector<std::string>{"state.toml"});  // no temporary file left behind
}

TEST_F(EnvTest, ReadFileReadsLargeAndEmptyFiles) {
  Bytes big(100000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 7);
  ASSERT_TRUE(env_.WriteNewFile(tmp_.path() / "big", big, 0600).ok());
  ASSERT_TRUE(env_.WriteNewFile(tmp_.path() / "empty", {}, 0600).ok());
  EXPECT_EQ(*env_.ReadFile(tmp_.path() / "big"), big);
  EXPECT_TRUE(env_.ReadFile(tmp_.path() / "empty")->empty());
}

TEST_F(EnvTest, ErrorsNameThePathAndTheReason) {
  const fs::path missing = tmp_.path() / "missing.toml";
  Result<Bytes> r = env_.ReadFile(missing);
  EXPECT_EQ(r.status().code(), Status::Code::kNotFound);
  EXPECT_NE(r.status().message().find(missing.string()), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("No such file"), std::string::npos) << r.status().message();

  const fs::path f = tmp_.path() / "once";
  ASSERT_TRUE(env_.WriteNewFile(f, AsBytes("a"), 0600).ok());
  Status again = env_.WriteNewFile(f, AsBytes("b"), 0600);
  EXPECT_FALSE(again.ok());
  EXPECT_NE(again.message().find(f.string()), std::string::npos) << again.message();
  EXPECT_EQ(Text(env_.ReadFile(f)), "a");  // the failed create left the file alone

  Status into_missing_dir = env_.WriteNewFile(tmp_.path() / "no" / "such" / "dir", AsBytes("x"), 0600);
  EXPECT_EQ(into_missing_dir.code(), Status::Code::kNotFound);
}

TEST_F(EnvTest, DirectoriesAndRemoval) {
  const fs::path d = tmp_.path() / "a" / "b";
  Result<bool> created = env_.CreateDir(d, 0700);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_TRUE(*created);
  EXPECT_EQ(ModeOf(d), 0700u);
  EXPECT_FALSE(*env_.CreateDir(d, 0700));  // already there
  EXPECT_TRUE(env_.IsDirectory(d));

  Result<fs::path> t = env_.CreateTempDir(d, ".staging-");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->parent_path(), d);
  EXPECT_EQ(t->filename().string().rfind(".staging-", 0), 0u);
  ASSERT_TRUE(env_.WriteNewFile(*t / "f", AsBytes("x"), 0600).ok());
  ASSERT_TRUE(env_.RenameFile(*t / "f", d / "g").ok());
  EXPECT_TRUE(env_.FileExists(d / "g"));
  EXPECT_FALSE(env_.FileExists(*t / "f"));
  EXPECT_TRUE(env_.SyncDir(d).ok());

  EXPECT_TRUE(env_.RemoveFile(d / "g").ok());
  EXPECT_TRUE(env_.RemoveFile(d / "g").ok());  // already gone
  EXPECT_FALSE(env_.FileExists(d / "g"));
  EXPECT_TRUE(env_.RemoveTree(tmp_.path() / "a").ok());
  EXPECT_FALSE(env_.FileExists(tmp_.path() / "a"));
}

TEST_F(EnvTest, SecretFilesMustBePrivateRegularAndSmall) {
  const fs::path pin = tmp_.path() / "pin";
  ASSERT_TRUE(env_.WriteNewFile(pin, AsBytes("1234\n"), 0640).ok());
  Result<SecretBytes> r = env_.ReadSecretFile(pin, 1024);
  EXPECT_EQ(r.status().code(), Status::Code::kPermissionDenied);
  EXPECT_NE(r.status().message().find("chmod 600"), std::string::npos) << r.status().message();
  EXPECT_EQ(r.status().message().find("1234"), std::string::npos);  // never the contents

  ASSERT_EQ(chmod(pin.c_str(), 0400), 0);
  r = env_.ReadSecretFile(pin, 1024);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(std::string(r->view().begin(), r->view().end()), "1234\n");
  EXPECT_EQ(env_.ReadSecretFile(pin, 4).status().code(), Status::Code::kInvalidArgument);

  const fs::path link = tmp_.path() / "link";
  fs::create_symlink(pin, link);
  EXPECT_FALSE(env_.ReadSecretFile(link, 1024).ok());
  EXPECT_EQ(env_.ReadSecretFile(tmp_.path(), 1024).status().code(), Status::Code::kInvalidArgument);
}

TEST(FakeEnvTest, ClockMovesOnlyWhenTold) {
  testing::FakeEnv env;
  env.SetUnixSeconds(1'800'000'000);
  EXPECT_EQ(env.NowUnixSeconds(), 1'800'000'000);
  env.Advance(86400);
  EXPECT_EQ(env.NowUnixSeconds(), 1'800'086'400);
}

TEST(FakeEnvTest, TheNthWriteFailsAndLeavesNoFile) {
  testing::TempDir tmp;
  testing::FakeEnv env;
  env.FailWrite(2, ENOSPC);
  EXPECT_TRUE(env.WriteNewFile(tmp.path() / "1", AsBytes("x"), 0600).ok());
  Status second = env.WriteNewFile(tmp.path() / "2", AsBytes("x"), 0600);
  EXPECT_EQ(second.code(), Status::Code::kUnavailable);
  EXPECT_NE(second.message().find("No space left on device"), std::string::npos) << second.message();
  EXPECT_FALSE(env.FileExists(tmp.path() / "2"));
  EXPECT_TRUE(env.WriteNewFile(tmp.path() / "3", AsBytes("x"), 0600).ok());  // only the 2nd

  // An atomic replacement whose write fails leaves the old contents and no temporary file.
  const fs::path f = tmp.path() / "config.toml";
  ASSERT_TRUE(env.WriteFileAtomically(f, AsBytes("old"), 0644).ok());
  ASSERT_TRUE(env.WriteFileAtomically(f, AsBytes("new"), 0644).ok());
  env.FailWrite(1, EIO);
  EXPECT_FALSE(env.WriteFileAtomically(f, AsBytes("newer"), 0644).ok());
  EXPECT_EQ(Text(env.ReadFile(f)), "new");
  std::vector<std::string> names = *env.GetChildren(tmp.path());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"1", "3", "config.toml"}));
  EXPECT_EQ(env.failed_writes(), 2);
}

}  // namespace
}  // namespace mcx
