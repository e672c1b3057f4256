// `mcx-kms init`: create a KMS whose master secrets are born in, and sealed by, a PKCS#11 HSM.
#include <cstdio>

#include <fmt/format.h>

#include "api/access_token.h"
#include "bench/idms/test_idms.h"
#include "base/sha256.h"
#include "engine/custody/kms_init.h"
#include "tools/cli/command.h"
#include "tools/cli/kms_options.h"

namespace mcx::cli {
namespace {

struct InitFlags {
  KmsLocation loc;
  std::string kms_uri;
  int64_t user_key_period = kDefaultUserKeyPeriod;
  int64_t user_key_offset = 0;
  bool force = false;
  bool demo = false;
  std::string store_url;
  std::string idms_public_key, idms_issuer, idms_audience = api::kDefaultAudience;
};

// Whose access tokens the KMS accepts. A demo KMS trusts a test IdMS key made for it (and only a
// demo KMS does); any other trusts the IdMS named by --idms-public-key, or nobody yet.
Status ConfigureIdms(const InitFlags& f, KmsConfig& c) {
  if (f.demo) {
    MCX_RETURN_IF_ERROR(api::GenerateTestIdmsKey(c.data_dir.string()));
    c.idms_public_key = c.data_dir / api::kTestIdmsPublicKeyFile;
    c.idms_issuer = api::kTestIdmsIssuer;
  } else if (!f.idms_public_key.empty()) {
    std::error_code ec;
    c.idms_public_key = std::filesystem::absolute(f.idms_public_key, ec);
    if (f.idms_issuer.empty()) return Status::InvalidArgument("--idms-public-key needs --idms-issuer too");
    c.idms_issuer = f.idms_issuer;
  } else {
    return Status::Ok();
  }
  c.idms_audience = f.idms_audience;
  return SaveKmsConfig(c);
}

std::string Fingerprint(ByteView public_key) {
  Sha256Digest d = Sha256({public_key});
  return ToHex(ByteView(d).first(16));
}

Status RunInit(const InitFlags& f) {
  InitOptions o;
  o.data_dir = f.loc.DataDir();
  o.module_path = f.loc.module;
  o.token_label = f.loc.token_label;
  if (!f.loc.pin_env.empty()) o.pin = hsm::PinSource::Environment(f.loc.pin_env);
  if (!f.loc.pin_file.empty()) o.pin = hsm::PinSource::File(f.loc.pin_file);
  o.kms_uri = f.kms_uri;
  o.user_key_period = f.user_key_period;
  o.user_key_offset = f.user_key_offset;
  o.force = f.force;
  o.demo = f.demo;
  o.store_url = f.store_url;
  if (o.demo && o.pin.kind != hsm::PinSource::Kind::kNone) {
    return Status::InvalidArgument("--demo makes its own token and PIN; drop --pin-env/--pin-file");
  }
  if (!f.demo && !f.idms_public_key.empty() && f.idms_issuer.empty()) {
    return Status::InvalidArgument("--idms-public-key needs --idms-issuer too");
  }
  Result<InitResult> r = InitKms(o);
  if (!r.ok()) return r.status().Annotate("mcx-kms init");
  MCX_RETURN_IF_ERROR(ConfigureIdms(f, r->config).Annotate("configuring the IdMS trust"));
  const KmsConfig& c = r->config;
  fmt::print("created KMS {} (id {}) in {}\n", c.params.kms_uri, c.kms_id, c.data_dir.string());
  fmt::print("  UserKeyPeriod {} s, UserKeyOffset {} s, SAKKE parameter set {}, ECCSI P-256\n",
             c.params.user_key_period, c.params.user_key_offset, kSakkeParameterSet);
  fmt::print("  token '{}' through {}{}\n", c.token_label, c.module_path.string(),
             f.demo ? " (a SoftHSM2 demo token in the data directory)" : "");
  fmt::print("  key-encryption key '{}' (AES-256, sensitive, non-extractable) created in the token\n", c.kek_label());
  std::fputs("  master secrets drawn from the token's generator and sealed (AES-256-GCM in the token)\n", stdout);
  fmt::print("  Z fingerprint {}, KPAK fingerprint {} (SHA-256, first 16 octets)\n", Fingerprint(r->public_keys.z_pub),
             Fingerprint(r->public_keys.kpak));
  fmt::print("  PIN source: {}\n", c.pin.Describe());
  fmt::print("  store: {} (created when the KMS first opens)\n", c.store_location().Describe());
  if (c.idms_public_key.empty()) {
    std::fputs("  access tokens: no IdMS trusted yet; add [idms] to mcx-kms.toml or serve --idms-public-key\n", stdout);
  } else {
    fmt::print("  access tokens: issuer {}, audience {}, keys {}{}\n", c.idms_issuer, c.idms_audience,
               c.idms_public_key.string(),
               f.demo ? " (a TEST IdMS key: `mcx-kms token --user URI` mints tokens; never in production)" : "");
  }
  if (!r->replaced_kek_label.empty()) {
    fmt::print("note: the replaced KMS's key-encryption key '{0}' is still on its token; once no backup needs it,\n"
               "      remove it, e.g. pkcs11-tool --module MODULE --login --delete-object --type secrkey --label {0}\n",
               r->replaced_kek_label);
  }
  return Status::Ok();
}

}  // namespace

void RegisterInitCommand(CLI::App& app, CommandResult& result) {
  auto f = std::make_shared<InitFlags>();
  CLI::App* cmd = app.add_subcommand(
      "init",
      "Create a KMS: a key-encryption key in the HSM token, master secrets from the token's generator sealed "
      "under it, the KMS certificate and mcx-kms.toml in the data directory. `init --demo` sets up a "
      "complete KMS on a SoftHSM2 token created in the data directory.");
  AddDataDirOption(cmd, f->loc);
  AddHsmOptions(cmd, f->loc);
  cmd->add_option("--kms-uri", f->kms_uri, "the KMS URI that goes into every UID (demo: kms.example.org)");
  cmd->add_option("--user-key-period", f->user_key_period, "UserKeyPeriod in seconds")->capture_default_str();
  cmd->add_option("--user-key-offset", f->user_key_offset, "UserKeyOffset in seconds")->capture_default_str();
  cmd->add_option("--idms-public-key", f->idms_public_key,
                  "the identity management server's public keys (PEM or JWKS) that sign access tokens");
  cmd->add_option("--idms-issuer", f->idms_issuer, "the access tokens' issuer (iss)");
  cmd->add_option("--idms-audience", f->idms_audience, "the access tokens' audience (aud)")->capture_default_str();
  cmd->add_option("--store-url", f->store_url,
                  "keep key sets and the lifecycle in this PostgreSQL database (postgresql://user@host:port/db; "
                  "the password in ~/.pgpass) instead of the SQLite file store.sqlite");
  cmd->add_flag("--force", f->force, "replace a KMS that already exists in the data directory (its secrets are lost)");
  cmd->add_flag("--demo", f->demo, "create a SoftHSM2 token with a generated PIN in the data directory and use it");
  cmd->callback([f, &result] { result.status = RunInit(*f); });
}

}  // namespace mcx::cli
