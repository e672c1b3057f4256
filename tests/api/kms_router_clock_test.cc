// The router's "now" comes from its Env: a test clock moves the KMS across a key-period boundary
// and past a token's expiry without waiting.
#include <gtest/gtest.h>

#include "api/kms_router.h"
#include "engine/keys/key_period.h"
#include "tests/api/api_test_env.h"
#include "tests/support/fake_env.h"

namespace mcx::api::testing {
namespace {

constexpr char kUser[] = "sip:clock@example.org";
constexpr char kKeyProv[] = "/keymanagement/identity/v1/keyprov";

class RouterClockTest : public ::testing::Test {
 protected:
  RouterClockTest()
      : verifier_(std::move(LoadTrustedKeys(TestIdmsDir() + "/" + kTestIdmsPublicKeyFile)).value(),
                  ApiTestEnv::Policy()),
        router_(SharedKms(), verifier_, metrics_, [](std::function<void()> task) { task(); }, Options()) {}

  KmsRouter::Options Options() {
    KmsRouter::Options o;
    o.env = &env_;
    return o;
  }
  // A token minted by the test IdMS at the test clock's "now".
  std::string Token(int64_t lifetime_seconds = 3600) {
    TestTokenClaims claims;
    claims.user_uri = kUser;
    claims.lifetime_seconds = lifetime_seconds;
    Result<std::string> t = MintTestToken(TestIdmsDir() + "/" + kTestIdmsKeyFile, claims, env_.NowUnixSeconds());
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    return t.ok() ? *t : "";
  }
  ApiResponse Post(const std::string& target, const std::string& token) {
    ApiRequest req;
    req.method = "POST";
    req.target = target;
    req.host = "kms.example.org";
    req.authorization = "Bearer " + token;
    ApiResponse out;
    bool replied = false;
    router_.Handle(std::move(req), [&](ApiResponse r) {
      out = std::move(r);
      replied = true;
    });
    EXPECT_TRUE(replied);  // the executor runs tasks inline
    return out;
  }

  mcx::testing::FakeEnv env_;
  ApiMetrics metrics_;
  AccessTokenVerifier verifier_;
  KmsRouter router_;
};

TEST_F(RouterClockTest, KeyProvFollowsTheClockAcrossAPeriodBoundary) {
  const CommunityParameters& params = SharedKms().Certificates()->issuing.front().certificate.params;
  const NtpSeconds now = NtpNow(env_);
  const NtpSeconds boundary =
      ((now - params.user_key_offset) / params.user_key_period + 1) * params.user_key_period + params.user_key_offset;
  env_.SetUnixSeconds(UnixFromNtp(boundary) - 2);  // two seconds before the next period
  const std::string token = Token();

  ApiResponse before = Post(kKeyProv, token);
  ASSERT_EQ(before.status, 200) << before.body;
  const uint64_t n = std::stoull(XmlText(before.body, "KeyPeriodNo"));
  EXPECT_EQ(XmlText(before.body, "Time"), FormatUtc(boundary - 2));
  EXPECT_EQ(XmlText(before.body, "ValidTo"), FormatUtc(boundary - 1));

  env_.Advance(3);  // one second into the next period
  ApiResponse after = Post(kKeyProv, token);
  ASSERT_EQ(after.status, 200) << after.body;
  EXPECT_EQ(std::stoull(XmlText(after.body, "KeyPeriodNo")), n + 1);
  EXPECT_EQ(XmlText(after.body, "Time"), FormatUtc(boundary + 1));
  EXPECT_EQ(XmlText(after.body, "ValidFrom"), FormatUtc(boundary));
}

TEST_F(RouterClockTest, ATokenExpiresWhenTheClockPassesItsExpiryAndSkew) {
  const int64_t skew = ApiTestEnv::Policy().clock_skew_seconds;
  const std::string token = Token(600);
  EXPECT_EQ(Post(kKeyProv, token).status, 200);
  env_.Advance(600 + skew);  // exp + skew: still accepted
  EXPECT_EQ(Post(kKeyProv, token).status, 200);
  env_.Advance(1);
  ApiResponse expired = Post(kKeyProv, token);
  EXPECT_EQ(expired.status, 401) << expired.body;
}

}  // namespace
}  // namespace mcx::api::testing
