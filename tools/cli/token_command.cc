// `mcx-kms token`: mint an access token with the test IdMS key (test-only), for demos and tests.
// The token is the last line of the output.
#include <cstdio>
#include <ctime>
#include <filesystem>

#include "bench/idms/test_idms.h"
#include "engine/custody/kms_config.h"
#include "engine/keys/community_parameters.h"
#include "tools/cli/command.h"
#include "tools/cli/kms_options.h"

namespace mcx::cli {
namespace {

struct TokenOptions {
  std::string dir;  // empty: the data directory's test key after `init --demo`, else kDefaultDemoDir
  api::TestTokenClaims claims;
};

Status RunToken(TokenOptions opt) {
  MCX_RETURN_IF_ERROR(ValidateUserUri(opt.claims.user_uri, "--user"));
  if (opt.dir.empty()) opt.dir = DefaultTestKeyDir();
  const std::string key_file = opt.dir + "/" + api::kTestIdmsKeyFile;
  if (!std::filesystem::exists(key_file)) {
    std::fprintf(stderr, "no test IdMS key in %s yet: creating one (restart a running `serve --demo` to trust it)\n",
                 opt.dir.c_str());
    MCX_RETURN_IF_ERROR(api::GenerateTestIdmsKey(opt.dir));
  }
  Result<std::string> token = api::MintTestToken(key_file, opt.claims, static_cast<int64_t>(std::time(nullptr)));
  if (!token.ok()) return token.status();
  std::fprintf(stderr, "test-only access token for %s (issuer %s, audience %s, valid %lld s):\n",
               opt.claims.user_uri.c_str(), opt.claims.issuer.c_str(), opt.claims.audience.c_str(),
               static_cast<long long>(opt.claims.lifetime_seconds));
  std::printf("%s\n", token->c_str());
  return Status::Ok();
}

}  // namespace

void RegisterTokenCommand(CLI::App& app, CommandResult& result) {
  auto opt = std::make_shared<TokenOptions>();
  CLI::App* cmd = app.add_subcommand(
      "token", "Print an access token for a user, signed with the test IdMS key (test-only; the token is the last line).");
  cmd->add_option("--user", opt->claims.user_uri, "the MC user identity, e.g. sip:alice@example.org")->required();
  cmd->add_option("--demo-dir", opt->dir,
                  "where the test IdMS key lives (default: the data directory of an `init --demo` KMS, else mcx-kms-demo)");
  cmd->add_option("--issuer", opt->claims.issuer, "the iss claim")->capture_default_str();
  cmd->add_option("--audience", opt->claims.audience, "the aud claim")->capture_default_str();
  cmd->add_option("--scope", opt->claims.scope, "the scope claim")->capture_default_str();
  cmd->add_option("--identity-claim", opt->claims.identity_claim, "the claim that holds the user")
      ->capture_default_str();
  cmd->add_option("--lifetime", opt->claims.lifetime_seconds, "seconds until exp")->capture_default_str();
  cmd->callback([opt, &result] { result.status = RunToken(*opt); });
}

}  // namespace mcx::cli
