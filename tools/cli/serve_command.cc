// `mcx-kms serve`: the KMS interface of TS 33.180 Annex D over HTTP/1.1, for the operator's TLS
// proxy to forward to. Until the store-backed KMS exists, it runs with --demo: a throw-away KMS in
// memory (DerivingKeyService) and a test IdMS key that it trusts.
#include <cstdio>
#include <memory>

#include "api/access_token.h"
#include "api/http_server.h"
#include "api/kms_router.h"
#include "engine/service/deriving_key_service.h"
#include "tools/cli/command.h"

namespace mcx::cli {
namespace {

struct ServeOptions {
  std::string listen = "127.0.0.1:8080";
  int io_threads = 2;
  int worker_threads = 2;
  std::string idms_public_key;
  std::string issuer;
  std::string audience = api::kDefaultAudience;
  std::string scope = api::kKeyManagementScope;
  std::string identity_claim = api::kDefaultIdentityClaim;
  int extra_periods = 0;
  size_t max_body_bytes = 64 * 1024;
  size_t max_header_bytes = 8 * 1024;
  size_t max_connections = 10000;
  int header_timeout_ms = 15000;
  int body_timeout_ms = 15000;
  bool demo = false;
  std::string demo_dir = kDefaultDemoDir;
  std::string kms_uri = "kms.example.org";
  int demo_users = 0;
};

Status SplitListen(const std::string& listen, std::string& host, uint16_t& port) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return Status::InvalidArgument("--listen must be HOST:PORT, e.g. 127.0.0.1:8080");
  }
  host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::string p = listen.substr(colon + 1);
  char* end = nullptr;
  const long v = std::strtol(p.c_str(), &end, 10);
  if (p.empty() || *end != '\0' || v < 0 || v > 65535) {
    return Status::InvalidArgument("--listen: the port must be a number from 0 to 65535");
  }
  port = static_cast<uint16_t>(v);
  return Status::Ok();
}

Status RunServe(ServeOptions opt) {
  if (opt.extra_periods < 0 || opt.extra_periods > 12) return Status::InvalidArgument("--extra-periods must be 0..12");
  if (!opt.demo) {
    return Status::InvalidArgument(
        "serve needs --demo for now: the store-backed KMS (set up by `mcx-kms init`) is not available yet");
  }
  api::HttpServerOptions http;
  MCX_RETURN_IF_ERROR(SplitListen(opt.listen, http.host, http.port));
  http.io_threads = opt.io_threads;
  http.worker_threads = opt.worker_threads;
  http.max_body_bytes = opt.max_body_bytes;
  http.max_header_bytes = opt.max_header_bytes;
  http.max_connections = opt.max_connections;
  http.header_timeout = std::chrono::milliseconds(opt.header_timeout_ms);
  http.body_timeout = std::chrono::milliseconds(opt.body_timeout_ms);

  // The KMS: throw-away, in memory.
  Result<CommunityParameters> params = CommunityParameters::Make(opt.kms_uri, kDefaultUserKeyPeriod, 0);
  if (!params.ok()) return params.status();
  OpenSslRandom rng;
  auto service = DerivingKeyService::CreateThrowAway(*params, rng, {});
  if (!service.ok()) return service.status();
  KeyService& keys = **service;

  // Who may ask: tokens from the test IdMS (and from --idms-public-key, when given).
  MCX_RETURN_IF_ERROR(api::GenerateTestIdmsKey(opt.demo_dir));
  const std::string key_file = opt.idms_public_key.empty() ? opt.demo_dir + "/" + api::kTestIdmsPublicKeyFile
                                                           : opt.idms_public_key;
  Result<std::vector<api::TrustedKey>> trusted = api::LoadTrustedKeys(key_file);
  if (!trusted.ok()) return trusted.status();
  api::AccessTokenPolicy policy;
  policy.issuer = opt.issuer.empty() ? api::kTestIdmsIssuer : opt.issuer;
  policy.audience = opt.audience;
  policy.required_scope = opt.scope;
  policy.identity_claim = opt.identity_claim;
  api::AccessTokenVerifier verifier(std::move(trusted).value(), policy);

  if (opt.demo_users > 0) {
    std::printf("pre-provisioning key sets of %d demo users (sip:userNNNNN@example.org)...\n", opt.demo_users);
    std::fflush(stdout);
    for (int i = 1; i <= opt.demo_users; ++i) {
      char user[64];
      std::snprintf(user, sizeof user, "sip:user%05d@example.org", i);
      Result<KeySet> ks = keys.KeySetAt(user, NtpNow());
      if (!ks.ok()) return ks.status();
    }
  }

  api::ApiMetrics metrics;
  api::HttpServer server(http, metrics);
  api::KmsRouter router(keys, verifier, metrics, server.workers(), {opt.extra_periods});
  server.StopOnSignals();
  MCX_RETURN_IF_ERROR(server.Start(router));
  std::printf("KMS %s (throw-away, in memory); test IdMS key in %s (issuer %s, audience %s)\n",
              params->kms_uri.c_str(), opt.demo_dir.c_str(), policy.issuer.c_str(), policy.audience.c_str());
  std::printf("mcx-kms: listening on %s:%u\n", http.host.c_str(), static_cast<unsigned>(server.port()));
  std::fflush(stdout);
  server.Wait();
  std::printf("mcx-kms: stopped\n");
  return Status::Ok();
}

}  // namespace

void RegisterServeCommand(CLI::App& app, CommandResult& result) {
  auto opt = std::make_shared<ServeOptions>();
  CLI::App* cmd = app.add_subcommand(
      "serve", "Serve the KMS interface of TS 33.180 Annex D over HTTP/1.1 (put a TLS proxy in front of it).");
  cmd->add_option("--listen", opt->listen, "HOST:PORT to listen on (port 0: any free port)")->capture_default_str();
  cmd->add_option("--io-threads", opt->io_threads, "threads for network I/O")->capture_default_str();
  cmd->add_option("--worker-threads", opt->worker_threads, "threads for key derivation and HSM calls")
      ->capture_default_str();
  cmd->add_option("--idms-public-key", opt->idms_public_key,
                  "the IdMS's public keys, a PEM or JWKS file (default with --demo: the test IdMS key)");
  cmd->add_option("--issuer", opt->issuer, "the access tokens' required issuer (default with --demo: the test IdMS)");
  cmd->add_option("--audience", opt->audience, "the access tokens' required audience")->capture_default_str();
  cmd->add_option("--scope", opt->scope, "the scope an access token must include")->capture_default_str();
  cmd->add_option("--identity-claim", opt->identity_claim, "the claim holding the MC user identity")
      ->capture_default_str();
  cmd->add_option("--extra-periods", opt->extra_periods, "key sets of the next N periods in each KmsKeyProv")
      ->capture_default_str();
  cmd->add_option("--max-body", opt->max_body_bytes, "largest request body in octets (413 above)")
      ->capture_default_str();
  cmd->add_option("--max-header", opt->max_header_bytes, "largest request header in octets (431 above)")
      ->capture_default_str();
  cmd->add_option("--max-connections", opt->max_connections, "connections open at once (503 above)")
      ->capture_default_str();
  cmd->add_option("--header-timeout-ms", opt->header_timeout_ms,
                  "time for a whole request header to arrive (also the keep-alive idle time)")
      ->capture_default_str();
  cmd->add_option("--body-timeout-ms", opt->body_timeout_ms, "time for a whole request body to arrive")
      ->capture_default_str();
  cmd->add_flag("--demo", opt->demo,
                "run a throw-away KMS in memory and trust a test IdMS key (created in --demo-dir); test-only");
  cmd->add_option("--demo-dir", opt->demo_dir, "where the test IdMS key lives")->capture_default_str();
  cmd->add_option("--kms-uri", opt->kms_uri, "the demo KMS's URI")->capture_default_str();
  cmd->add_option("--demo-users", opt->demo_users,
                  "pre-provision key sets of sip:user00001@example.org ... for the current period")
      ->capture_default_str();
  cmd->callback([opt, &result] { result.status = RunServe(*opt); });
}

}  // namespace mcx::cli
