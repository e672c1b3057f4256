// `mcx-kms serve`: the KMS interface of TS 33.180 Annex D over HTTP/1.1, for the operator's TLS
// proxy to forward to. It serves the KMS in the data directory (HSM custody, key sets from the
// store, derived and stored on demand otherwise); with --demo, a throw-away KMS in memory
// (DerivingKeyService) that trusts a test IdMS key, for tests and quick looks.
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/ip/address.hpp>

#include <fmt/format.h>

#include "api/access_token.h"
#include "api/kms_http_service.h"
#include "base/pooled_random.h"
#include "bench/idms/test_idms.h"
#include "engine/custody/kms_instance.h"
#include "engine/keys/community_parameters.h"
#include "engine/service/deriving_key_service.h"
#include "tools/cli/command.h"
#include "tools/cli/kms_options.h"

namespace mcx::cli {
namespace {

struct ServeOptions {
  std::string listen = "127.0.0.1:8080";
  int io_threads = 2;
  int worker_threads = 0;  // 0: api::DefaultWorkerThreads()
  std::string idms_public_key;
  std::string issuer;
  std::string audience;  // empty: the configuration's, else api::kDefaultAudience
  std::string scope = api::kKeyManagementScope;
  std::string identity_claim = api::kDefaultIdentityClaim;
  int extra_periods = 0;
  uint64_t max_periods_ahead = 2;
  std::vector<std::string> trusted_proxies;
  std::vector<std::string> server_identities;
  size_t max_body_bytes = 64 * 1024;
  size_t max_header_bytes = 8 * 1024;
  size_t max_connections = 10000;
  int header_timeout_ms = 15000;
  int body_timeout_ms = 15000;
  bool demo = false;
  std::string demo_dir = kDefaultDemoDir;
  std::string kms_uri = "kms.example.org";
  int demo_users = 0;
  KmsLocation loc;
};

// A word for a POSIX shell: single-quoted unless it is made of safe characters only.
std::string ShellWord(const std::string& s) {
  const bool plain = !s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                       "0123456789-_./:@%+=,") == std::string::npos;
  if (plain) return s;
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// The curl command a person can paste to see a key set. It mints its test token when run
// (`mcx-kms token`, which prints the token alone on stdout): a token in the log would be a
// credential for anyone who can read the log, for as long as it is valid.
void PrintTryIt(const std::string& dir_flag, const std::string& key_dir, const std::string& host, unsigned port) {
  const std::string user = "sip:user00001@example.org";
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  const std::string bin = ec ? "mcx-kms" : self.string();
  std::filesystem::path dir = std::filesystem::absolute(key_dir, ec);
  if (ec) dir = key_dir;
  fmt::print("try it (the token is minted by the command, from the test IdMS key, valid 1 h):\n"
             "  curl -s -X POST -H \"Authorization: Bearer $({0} token {1} {2} --user {3})\" "
             "http://{4}:{5}/keymanagement/identity/v1/keyprov/{3}\n",
             ShellWord(bin), dir_flag, ShellWord(dir.lexically_normal().string()), user, host, port);
}

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

// The router's options: extra periods, and the network entities the proxy may assert.
api::KmsRouter::Options RouterOptions(const ServeOptions& opt) {
  api::KmsRouter::Options router;
  router.extra_periods = opt.extra_periods;
  router.max_periods_ahead = opt.max_periods_ahead;
  router.trusted_proxies = opt.trusted_proxies;
  router.server_identities = opt.server_identities;
  return router;
}

Status RunServe(ServeOptions opt) {
  if (opt.extra_periods < 0 || opt.extra_periods > 12) return Status::InvalidArgument("--extra-periods must be 0..12");
  for (const std::string& address : opt.trusted_proxies) {
    boost::system::error_code ec;
    boost::asio::ip::make_address(address, ec);
    if (ec) return Status::InvalidArgument("--trusted-proxy '" + address + "' is not an IP address");
  }
  for (const std::string& identity : opt.server_identities) {
    MCX_RETURN_IF_ERROR(ValidateUserUri(identity, "--server-identity"));
  }
  if (!opt.server_identities.empty() && opt.trusted_proxies.empty()) {
    return Status::InvalidArgument("--server-identity needs --trusted-proxy: the address of the proxy that "
                                   "authenticates the servers (mutual TLS) and sends X-3GPP-Asserted-Identity");
  }
  api::KmsRouter::Options router_options = RouterOptions(opt);
  api::HttpServerOptions http;
  MCX_RETURN_IF_ERROR(SplitListen(opt.listen, http.host, http.port));
  http.io_threads = opt.io_threads;
  if (opt.worker_threads < 0) return Status::InvalidArgument("--worker-threads must be 1 or more (0: the default)");
  http.max_body_bytes = opt.max_body_bytes;
  http.max_header_bytes = opt.max_header_bytes;
  http.max_connections = opt.max_connections;
  http.header_timeout = std::chrono::milliseconds(opt.header_timeout_ms);
  http.body_timeout = std::chrono::milliseconds(opt.body_timeout_ms);

  // The KMS: the one in the data directory, or (--demo) a throw-away one in memory.
  std::unique_ptr<KmsInstance> kms;
  std::unique_ptr<KeyService> throw_away;
  KeyService* keys = nullptr;
  std::string key_file = opt.idms_public_key, issuer = opt.issuer, audience = opt.audience, test_key_dir;
  OpenSslRandom rng;
  if (opt.demo) {
    Result<CommunityParameters> params = CommunityParameters::Make(opt.kms_uri, kDefaultUserKeyPeriod, 0);
    if (!params.ok()) return params.status();
    auto service = DerivingKeyService::CreateThrowAway(*params, rng, {});
    if (!service.ok()) return service.status();
    throw_away = std::move(service).value();
    keys = throw_away.get();
    // Who may ask: tokens from the test IdMS (and from --idms-public-key, when given).
    MCX_RETURN_IF_ERROR(api::GenerateTestIdmsKey(opt.demo_dir));
    if (key_file.empty()) key_file = opt.demo_dir + "/" + api::kTestIdmsPublicKeyFile;
    if (issuer.empty()) issuer = api::kTestIdmsIssuer;
    test_key_dir = opt.demo_dir;
  } else {
    Result<KmsConfig> config = LoadKmsConfig(opt.loc);
    if (!config.ok()) return config.status();
    Result<std::unique_ptr<KmsInstance>> opened = OpenKmsForCommand(*config);
    if (!opened.ok()) return opened.status();
    kms = std::move(opened).value();
    // Rollover, revocation and imports made by other processes on the store are served within
    // half a second (docs/lifecycle.md).
    kms->StartWatching(std::chrono::milliseconds(250));
    AuditLog* audit = &kms->audit();
    router_options.on_refused = [audit](int status, const std::string& who, const std::string& user,
                                        std::string_view why) {
      audit->RecordAsync({AuditEventKind::kRequestRefused, who.empty() ? "unverified token" : who, user, "",
                          std::to_string(status) + " " + std::string(why)});
    };
    keys = &kms->key_service();
    if (key_file.empty()) key_file = config->idms_public_key.string();
    if (issuer.empty()) issuer = config->idms_issuer;
    if (audience.empty()) audience = config->idms_audience;
    if (key_file.empty() || issuer.empty()) {
      return Status::InvalidArgument(
          "no identity management server is trusted, so no access token could be accepted: give "
          "--idms-public-key FILE and --issuer ISS, or add an [idms] section to " +
          (config->data_dir / kKmsConfigFileName).string());
    }
    if (issuer == api::kTestIdmsIssuer) test_key_dir = config->data_dir.string();
  }
  if (audience.empty()) audience = api::kDefaultAudience;
  http.worker_threads = opt.worker_threads > 0 ? opt.worker_threads : api::DefaultWorkerThreads();
  api::IdmsTrust trust;
  trust.trusted_key_file = key_file;
  trust.policy.issuer = issuer;
  trust.policy.audience = audience;
  trust.policy.required_scope = opt.scope;
  trust.policy.identity_claim = opt.identity_claim;
  Result<std::unique_ptr<api::KmsHttpService>> service =
      api::KmsHttpService::Create(*keys, std::move(trust), {http, router_options});
  if (!service.ok()) return service.status();
  api::KmsHttpService& server = **service;
  const api::AccessTokenPolicy& policy = server.policy();

  if (opt.demo && opt.demo_users > 0) {
    fmt::print("pre-provisioning key sets of {} demo users (sip:userNNNNN@example.org)...\n", opt.demo_users);
    std::fflush(stdout);
    for (int i = 1; i <= opt.demo_users; ++i) {
      Result<KeySet> ks = keys->KeySetAt(fmt::format("sip:user{:05}@example.org", i), NtpNow());
      if (!ks.ok()) return ks.status();
    }
  }

  api::ApiMetrics& metrics = server.metrics();
  if (kms) {
    DeliveryRecorder* d = &kms->deliveries();
    metrics.AddExternalCounter("mcx_kms_key_sets_marked_delivered_total",
                               "Key sets marked delivered in the store (first delivery of each).",
                               [d] { return d->marked(); });
    metrics.AddExternalCounter("mcx_kms_delivery_marks_dropped_total",
                               "Deliveries not marked because the store fell behind (the queue was full).",
                               [d] { return d->dropped(); });
    metrics.AddExternalCounter("mcx_kms_delivery_mark_write_errors_total",
                               "Store writes of delivery marks that failed.", [d] { return d->failed_writes(); });
  }
  // The first on-demand request would otherwise build the arithmetic tables (about 0.3 s on the
  // AVX2 path) while every request behind it waited.
  if (kms) kms->PrepareArithmetic();
  server.StopOnSignals();
  MCX_RETURN_IF_ERROR(server.Start());
  if (kms) {
    std::printf("KMS %s (certificate %s), %s, arithmetic %s; access tokens from %s (audience %s)\n",
                kms->certificate().params.kms_uri.c_str(), kms->certificate().cert_uri.c_str(),
                kms->store_description().c_str(), kms->arithmetic(), policy.issuer.c_str(), policy.audience.c_str());
  } else {
    std::printf("KMS %s (throw-away, in memory); test IdMS key in %s (issuer %s, audience %s)\n",
                opt.kms_uri.c_str(), opt.demo_dir.c_str(), policy.issuer.c_str(), policy.audience.c_str());
  }
  if (!test_key_dir.empty()) {
    PrintTryIt(opt.demo ? "--demo-dir" : "--data-dir", test_key_dir, http.host, static_cast<unsigned>(server.port()));
  }
  std::printf("threads: %d for network I/O, %d workers%s\n", http.io_threads, http.worker_threads,
              opt.worker_threads > 0 ? "" : " (default: one per core; with a database on another host, see --worker-threads)");
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
      "serve",
      "Serve the KMS interface of TS 33.180 Annex D over HTTP/1.1 (put a TLS proxy in front of it): the KMS in the "
      "data directory, or with --demo a throw-away KMS in memory.");
  cmd->add_option("--listen", opt->listen, "HOST:PORT to listen on (port 0: any free port)")->capture_default_str();
  cmd->add_option("--io-threads", opt->io_threads, "threads for network I/O")->capture_default_str();
  cmd->add_option("--worker-threads", opt->worker_threads,
                  "threads that answer requests (store reads, HSM calls; new key sets are derived in batches on "
                  "threads of their own). Default: one per core. With PostgreSQL on another host each read "
                  "waits a round trip on its worker: raise it until workers / round trip exceeds the rate you need");
  cmd->add_option("--idms-public-key", opt->idms_public_key,
                  "the IdMS's public keys, a PEM or JWKS file (default with --demo: the test IdMS key)");
  cmd->add_option("--issuer", opt->issuer, "the access tokens' required issuer (default with --demo: the test IdMS)");
  cmd->add_option("--audience", opt->audience, "the access tokens' required audience (default: the configuration's, or mcx-kms)");
  cmd->add_option("--scope", opt->scope, "the scope an access token must include")->capture_default_str();
  cmd->add_option("--identity-claim", opt->identity_claim, "the claim holding the MC user identity")
      ->capture_default_str();
  cmd->add_option("--extra-periods", opt->extra_periods, "key sets of the next N periods in each KmsKeyProv")
      ->capture_default_str();
  cmd->add_option("--max-periods-ahead", opt->max_periods_ahead,
                  "how far ahead a user may fetch keys: the current key period and the next N (a later time is a "
                  "400; --extra-periods stop there too)")
      ->capture_default_str();
  cmd->add_option("--trusted-proxy", opt->trusted_proxies,
                  "IP address of a proxy whose X-3GPP-Asserted-Identity header is believed (repeatable); "
                  "serve on a listener only that proxy reaches (docs/deployment.md)");
  cmd->add_option("--server-identity", opt->server_identities,
                  "identity URI of an MCX or group management server that gets keys through the trusted proxy's "
                  "asserted identity, without an access token (repeatable)");
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
  AddDataDirOption(cmd, opt->loc);
  AddHsmOptions(cmd, opt->loc);
  cmd->add_option("--demo-users", opt->demo_users,
                  "pre-provision key sets of sip:user00001@example.org ... for the current period")
      ->capture_default_str();
  cmd->callback([opt, &result] { result.status = RunServe(*opt); });
}

}  // namespace mcx::cli
