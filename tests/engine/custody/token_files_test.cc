// A SoftHSM2 token whose files the KMS's user cannot read is reported as that — the path and
// "permissions" — and not as a token that does not exist (SoftHSM2 silently leaves such a token
// out of its slot list). Root reads any file, so the opening runs in a child as `nobody`.
#include <sys/stat.h>

#include <string>

#include <gtest/gtest.h>

#include "engine/custody/kms_token.h"
#include "tests/support/softhsm_fixture.h"
#include "tests/support/unprivileged.h"

namespace mcx::testing {
namespace {

namespace fs = std::filesystem;

class TokenFilesTest : public SoftHsmTest {
 protected:
  // Opens the KMS's token as an unprivileged user after `path` was made mode 0000; returns the
  // status it got.
  std::string OpenWith(const KmsConfig& config, const fs::path& path) {
    GiveTree(tmp(), *user_);
    EXPECT_EQ(chmod(path.c_str(), 0), 0);
    const std::string seen = RunAs(*user_, [&] {
      Result<KmsToken> token = OpenKmsToken(config);
      return token.ok() ? std::string("OK") : token.status().ToString();
    });
    EXPECT_EQ(chmod(path.c_str(), 0700), 0);
    return seen;
  }

  void SetUp() override {
    SoftHsmTest::SetUp();
    user_ = FindUnprivilegedUser();
    if (!user_) GTEST_SKIP() << "running as root and there is no user 'nobody' to open the token as";
  }

  std::optional<UnprivilegedUser> user_;
};

TEST_F(TokenFilesTest, AnUnreadableTokenDirectoryIsNamedNotCalledMissing) {
  const KmsConfig config = MakeKms("kms");
  fs::path token_dir;
  for (const fs::directory_entry& e : fs::directory_iterator(tmp() / "tokens")) token_dir = e.path();
  ASSERT_FALSE(token_dir.empty());

  // Readable: the user opens the token.
  GiveTree(tmp(), *user_);
  EXPECT_EQ(RunAs(*user_, [&] {
              Result<KmsToken> token = OpenKmsToken(config);
              return token.ok() ? std::string("OK") : token.status().ToString();
            }),
            "OK");

  const std::string seen = OpenWith(config, token_dir);
  EXPECT_EQ(seen.find("no token labelled"), std::string::npos) << seen;
  EXPECT_NE(seen.find("permission denied: cannot read the token's files at " + token_dir.string() + ": permissions"),
            std::string::npos)
      << seen;
  EXPECT_NE(seen.find("'" + std::string(kTokenLabel) + "'"), std::string::npos) << seen;
}

TEST_F(TokenFilesTest, AnUnreadableTokenStoreIsNamed) {
  const KmsConfig config = MakeKms("kms");
  const std::string seen = OpenWith(config, tmp() / "tokens");
  EXPECT_NE(seen.find("cannot read the token's files at " + (tmp() / "tokens").string() + ": permissions"),
            std::string::npos)
      << seen;
}

}  // namespace
}  // namespace mcx::testing
