// `mcx-kms token`: mint an access token with the test IdMS key (test-only), for demos and tests.
// The token is the last line of the output.
#include <cstdio>
#include <ctime>
#include <filesystem>

#include <fmt/format.h>

#include "api/access_token.h"
#include "bench/idms/test_idms.h"
#include "engine/custody/kms_config.h"
#include "engine/keys/community_parameters.h"
#include "tools/cli/command.h"
#include "tools/cli/kms_options.h"

namespace mcx::cli {
namespace {

struct TokenOptions {
  std::string demo_dir;  // --demo-dir: where `serve --demo` keeps its test IdMS key
  KmsLocation loc;       // --data-dir: a KMS made by `init --demo`, whose test IdMS key it trusts
  api::TestTokenClaims claims;
};

Status RunToken(const TokenOptions& opt) {
  MCX_RETURN_IF_ERROR(ValidateUserUri(opt.claims.user_uri, "--user"));
  // With neither flag: the data directory's ($MCX_KMS_DATA_DIR, ./mcx-kms-data) key, else mcx-kms-demo.
  std::string dir = opt.demo_dir;
  if (dir.empty()) dir = opt.loc.data_dir_given() ? opt.loc.DataDir().string() : DefaultTestKeyDir();
  const std::string key_file = dir + "/" + api::kTestIdmsKeyFile;
  if (!std::filesystem::exists(key_file)) {
    // A KMS's data directory gets no key made up for it: that KMS would not trust it.
    if (opt.loc.data_dir_given()) {
      return Status::NotFound("no test IdMS key in --data-dir " + dir +
                              ": only a KMS made by `mcx-kms init --demo` has one; for `serve --demo` pass --demo-dir");
    }
    fmt::print(stderr, "no test IdMS key in {} yet: creating one (restart a running `serve --demo` to trust it)\n",
               dir);
    MCX_RETURN_IF_ERROR(api::GenerateTestIdmsKey(dir));
  }
  Result<std::string> token = api::MintTestToken(key_file, opt.claims, static_cast<int64_t>(std::time(nullptr)));
  if (!token.ok()) return token.status();
  fmt::print(stderr, "test-only access token for {} (issuer {}, audience {}, valid {} s):\n", opt.claims.user_uri,
             opt.claims.issuer, opt.claims.audience, opt.claims.lifetime_seconds);
  fmt::print("{}\n", *token);
  return Status::Ok();
}

}  // namespace

void RegisterTokenCommand(CLI::App& app, CommandResult& result) {
  auto opt = std::make_shared<TokenOptions>();
  CLI::App* cmd = app.add_subcommand(
      "token", "Print an access token for a user, signed with the test IdMS key (test-only; the token is the last line).");
  cmd->add_option("--user", opt->claims.user_uri, "the MC user identity, e.g. sip:alice@example.org")->required();
  AddDataDirOption(cmd, opt->loc);
  cmd->add_option("--demo-dir", opt->demo_dir,
                  "where `serve --demo` keeps the test IdMS key (default: the data directory's, after `init --demo`, "
                  "else mcx-kms-demo)")
      ->excludes("--data-dir");
  cmd->add_option("--issuer", opt->claims.issuer, "the iss claim")->capture_default_str();
  cmd->add_option("--audience", opt->claims.audience, "the aud claim")->capture_default_str();
  cmd->add_option("--scope", opt->claims.scope, "the scope claim")->capture_default_str();
  cmd->add_option("--identity-claim", opt->claims.identity_claim, "the claim that holds the user")
      ->capture_default_str();
  cmd->add_option("--lifetime", opt->claims.lifetime_seconds, "seconds until exp")->capture_default_str();
  cmd->callback([opt, &result] { result.status = RunToken(*opt); });
}

}  // namespace mcx::cli
