// `mcx-kms bench`: measures what a KMS can carry and reports it (terminal, JSON, HTML).
//
//   bench local       the KMS in the data directory, on this machine: derivation on 1..N threads,
//                     HSM operations, bulk provisioning into a scratch store, and the serving rate
//                     of an in-process server (pre-provisioned and on demand).
//   bench http URL    a load of init and keyprov requests against any TS 33.180 KMS over HTTP or
//                     HTTPS, with bearer tokens for a population, checking a sample of the key
//                     material.
#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <memory>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "api/access_token.h"
#include "base/cpu_count.h"
#include "bench/idms/test_idms.h"
#include "engine/keys/community_parameters.h"
#include "bench/capacity/capacity_report.h"
#include "bench/capacity/load_generator.h"
#include "bench/capacity/local_bench.h"
#include "bench/capacity/process_cpu.h"
#include "tools/cli/command.h"
#include "tools/cli/kms_options.h"
#include "tools/cli/progress_meter.h"
#include "tools/cli/user_pattern.h"

namespace mcx::cli {
namespace {

using capacity::CapacityReport;

// Flags that shape the report, shared by both subcommands.
struct ReportOptions {
  std::string json, html;
  uint64_t project_users = 100000;
  int project_periods = 3;
  int reconnect_seconds = 60;
};

void AddReportOptions(CLI::App* cmd, ReportOptions& r) {
  cmd->add_option("--json", r.json, "also write the report as JSON to FILE");
  cmd->add_option("--html", r.html, "also write the report as a self-contained HTML page with charts to FILE");
  cmd->add_option("--project-users", r.project_users, "projection: users to provision")->capture_default_str();
  cmd->add_option("--project-periods", r.project_periods, "projection: key periods per user")->capture_default_str();
  cmd->add_option("--reconnect-seconds", r.reconnect_seconds,
                  "projection: the window in which devices reconnect (T)")->capture_default_str();
}

// Load flags, shared: the local serving runs use them too.
struct LoadFlags {
  double duration = 10, warmup = 2;
  int timeout_ms = 5000;
  int connections = 16;
  double rate = 0;
  int threads = 0;  // 0: DefaultLoadThreads()
};

// bench http: one I/O thread per core, as one thread alone cannot keep up with a fast KMS; never
// more than connections, as every thread needs one of its own.
int DefaultLoadThreads(int connections) {
  return std::max(1, std::min({CoreCount(), connections, capacity::LoadGenerator::kMaxThreads}));
}

void AddLoadFlags(CLI::App* cmd, LoadFlags& f) {
  cmd->add_option("--duration", f.duration, "measured seconds (per serving run)")->capture_default_str();
  cmd->add_option("--warmup", f.warmup, "seconds of load before measuring")->capture_default_str();
  cmd->add_option("--connections", f.connections, "keep-alive connections")->capture_default_str();
  cmd->add_option("--rate", f.rate, "requests/s over all connections (open loop); 0: closed loop")
      ->capture_default_str();
  cmd->add_option("--timeout-ms", f.timeout_ms, "a request not answered within this is a timeout")
      ->capture_default_str();
  const std::string default_threads =
      f.threads > 0 ? std::to_string(f.threads)
                    : "one per core, here " + std::to_string(DefaultLoadThreads(capacity::LoadGenerator::kMaxThreads)) +
                          ", fewer with fewer connections";
  cmd->add_option("--threads", f.threads,
                  "I/O threads of the load generator, each with its own share of the connections; at most "
                  "--connections (default: " +
                      default_threads + "). Against a KMS on this machine they share its cores");
}

Result<capacity::LoadOptions> ToLoadOptions(const LoadFlags& f) {
  if (f.duration <= 0 || f.duration > 24 * 3600) return Status::InvalidArgument("--duration must be in (0, 86400] s");
  if (f.warmup < 0 || f.warmup > 3600) return Status::InvalidArgument("--warmup must be in [0, 3600] s");
  capacity::LoadOptions o;
  o.duration = std::chrono::milliseconds(static_cast<int64_t>(f.duration * 1000));
  o.warmup = std::chrono::milliseconds(static_cast<int64_t>(f.warmup * 1000));
  o.timeout = std::chrono::milliseconds(f.timeout_ms);
  o.connections = f.connections;
  o.rate = f.rate;
  if (f.threads < 0) return Status::InvalidArgument("--threads must be at least 1");
  o.threads = f.threads > 0 ? f.threads : DefaultLoadThreads(f.connections);
  MCX_RETURN_IF_ERROR(capacity::ValidateLoadOptions(o));  // before tokens are minted and the KMS is asked
  return o;
}

Status WriteReport(CapacityReport& report, const ReportOptions& r) {
  report.projection = {r.project_users, r.project_periods, r.reconnect_seconds};
  std::fputs(capacity::RenderText(report).c_str(), stdout);
  std::fflush(stdout);
  auto write = [](const std::string& path, const std::string& text, const char* what) -> Status {
    std::ofstream f(path, std::ios::trunc);
    f << text;
    if (!f) return Status::Unavailable(std::string("cannot write the ") + what + " report to " + path);
    fmt::print("{} report: {}\n", what, path);
    return Status::Ok();
  };
  if (!r.json.empty()) MCX_RETURN_IF_ERROR(write(r.json, capacity::ToJson(report).dump(2) + "\n", "JSON"));
  if (!r.html.empty()) MCX_RETURN_IF_ERROR(write(r.html, capacity::RenderHtml(report), "HTML"));
  return Status::Ok();
}

Status ValidateReportOptions(const ReportOptions& r) {
  if (r.project_periods < 1 || r.reconnect_seconds < 1) {
    return Status::InvalidArgument("--project-periods and --reconnect-seconds must be at least 1");
  }
  return Status::Ok();
}

// --- bench local ---

struct LocalOptions {
  KmsLocation loc;
  ReportOptions report;
  // One load thread: the in-process server needs the cores, and a second thread did not raise its
  // figures on 2 cores (docs/capacity.md).
  LoadFlags load{3, 1, 5000, 32, 0, 1};
  double step_seconds = 1.5;
  double provision_seconds = 4;
  int max_threads = 0;
  bool no_audit = false;
};

Status RunLocal(const LocalOptions& opt) {
  MCX_RETURN_IF_ERROR(ValidateReportOptions(opt.report));
  Result<capacity::LoadOptions> load = ToLoadOptions(opt.load);
  if (!load.ok()) return load.status();
  if (opt.step_seconds <= 0 || opt.step_seconds > 60 || opt.provision_seconds <= 0 || opt.provision_seconds > 600) {
    return Status::InvalidArgument("--step-seconds must be in (0, 60] and --provision-seconds in (0, 600]");
  }
  Result<KmsConfig> config = LoadKmsConfig(opt.loc);
  if (!config.ok()) return config.status();
  Result<std::unique_ptr<KmsInstance>> kms = OpenKmsForCommand(*config);
  if (!kms.ok()) return kms.status();

  CapacityReport report;
  report.machine = capacity::DescribeThisMachine();
  if (Result<capacity::TokenVerifyCeiling> t = capacity::MeasureTokenVerifyCeiling(); t.ok()) report.token_ceiling = *t;
  capacity::LocalBenchOptions lo;
  lo.seconds_per_step = opt.step_seconds;
  lo.provision_seconds = opt.provision_seconds;
  lo.max_threads = opt.max_threads;
  lo.serve = *load;
  lo.audit = !opt.no_audit;
  fmt::print(stderr, "bench local: the audit log is {}\n",
             lo.audit ? "on, as in a served KMS" : "OFF (--no-audit): figures without its cost");
  capacity::LocalBench bench(**kms, lo);
  std::unique_ptr<ProgressMeter> meter;
  Status st = bench.Run(report, [&](const std::string& phase, const std::string& unit) {
    meter.reset();  // finishes the last phase's line
    fmt::print(stderr, "bench local: {}\n", phase);
    meter = std::make_unique<ProgressMeter>(unit, 0, [&bench] { return bench.progress(); });
  });
  meter.reset();
  if (!st.ok()) return st.Annotate("bench local");
  std::fputc('\n', stdout);
  return WriteReport(report, opt.report);
}

// --- bench http ---

struct HttpOptions {
  std::string url = "http://127.0.0.1:8080";
  ReportOptions report;
  LoadFlags load;
  std::string users_file;
  int user_count = 1000;
  std::string user_pattern = "sip:user%05d@example.org";
  std::string idms_key;
  std::string mix = "1:9";
  size_t samples = 20;
  bool on_demand = false;
  uint64_t max_periods_ahead = 2;
  std::string ca_file;
  bool insecure = false;
  bool fail_on_errors = false;
  int server_pid = 0;
  KmsLocation loc;
};

Status ParseMix(const std::string& mix, capacity::LoadOptions& o) {
  // from_chars on views of `mix` itself: no pointer into a temporary outlives its statement.
  const std::string_view text = mix;
  const size_t colon = text.find(':');
  if (colon != std::string_view::npos && colon > 0 && colon + 1 < text.size()) {
    long a = -1, b = -1;
    const auto [a_end, a_err] = std::from_chars(text.data(), text.data() + colon, a);
    const auto [b_end, b_err] = std::from_chars(text.data() + colon + 1, text.data() + text.size(), b);
    if (a_err == std::errc() && a_end == text.data() + colon && b_err == std::errc() &&
        b_end == text.data() + text.size() && a >= 0 && b >= 0 && a + b > 0 && a + b <= 1000) {
      o.init_weight = static_cast<int>(a);
      o.keyprov_weight = static_cast<int>(b);
      return Status::Ok();
    }
  }
  return Status::InvalidArgument("--mix must be INIT:KEYPROV, e.g. 1:9 (or 0:1 for keyprov only)");
}

// The population: from a file (user, or user TAB token), else user_count URIs from the pattern;
// users without a token get one minted with the test IdMS key.
// Mints a test token for every user without one, on every core, with the key read once: a
// population of 200,000 takes seconds (each token is one ES256 signature), with progress shown.
Status MintMissingTokens(std::vector<capacity::UserCredential>& users, const std::string& key_file) {
  std::vector<size_t> missing;
  for (size_t i = 0; i < users.size(); ++i) {
    if (users[i].token.empty()) missing.push_back(i);
  }
  if (missing.empty()) return Status::Ok();
  Result<api::TestTokenMinter> minter = api::TestTokenMinter::Load(key_file);
  if (!minter.ok()) return minter.status();
  const auto now = static_cast<int64_t>(std::time(nullptr));
  std::atomic<uint64_t> done{0};
  std::atomic<bool> failed{false};
  std::mutex error_mu;
  Status error;
  const auto mint_share = [&](size_t first, size_t stride) {
    for (size_t j = first; j < missing.size() && !failed.load(std::memory_order_relaxed); j += stride) {
      capacity::UserCredential& u = users[missing[j]];
      api::TestTokenClaims claims;
      claims.user_uri = u.user_uri;
      Result<std::string> token = minter->Mint(claims, now);
      if (!token.ok()) {
        std::lock_guard<std::mutex> lock(error_mu);
        error = token.status();
        failed = true;
        return;
      }
      u.token = std::move(token).value();
      done.fetch_add(1, std::memory_order_relaxed);
    }
  };
  // A few thousand take well under a second: no progress line for those.
  std::unique_ptr<ProgressMeter> meter;
  if (missing.size() >= 5000) {
    meter = std::make_unique<ProgressMeter>("test tokens minted", missing.size(), [&done] { return done.load(); });
  }
  const size_t threads = std::max<size_t>(1, std::min<size_t>(static_cast<size_t>(CoreCount()), missing.size() / 256 + 1));
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(mint_share, t, threads);
  mint_share(0, threads);
  for (std::thread& th : pool) th.join();
  if (meter) meter->Stop();
  return error;
}

Result<std::vector<capacity::UserCredential>> LoadUsers(const HttpOptions& opt) {
  std::vector<capacity::UserCredential> users;
  if (!opt.users_file.empty()) {
    std::ifstream f(opt.users_file);
    if (!f) return Status::NotFound("cannot read --users " + opt.users_file);
    std::string line;
    while (std::getline(f, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty() || line[0] == '#') continue;
      const size_t tab = line.find('\t');
      users.push_back({line.substr(0, tab), tab == std::string::npos ? "" : line.substr(tab + 1)});
    }
    if (users.empty()) return Status::InvalidArgument("--users " + opt.users_file + " names no user");
  } else {
    if (opt.user_count < 1 || opt.user_count > 10000000) return Status::InvalidArgument("--user-count must be 1..10^7");
    Result<UserPattern> pattern = UserPattern::Parse(opt.user_pattern);
    if (!pattern.ok()) return pattern.status();
    for (int i = 1; i <= opt.user_count; ++i) users.push_back({pattern->Expand(static_cast<unsigned>(i)), ""});
  }
  for (const capacity::UserCredential& u : users) MCX_RETURN_IF_ERROR(ValidateUserUri(u.user_uri, "a user"));
  std::string key = opt.idms_key;
  if (key.empty()) key = (opt.loc.data_dir_given() ? opt.loc.DataDir().string() : DefaultTestKeyDir()) + "/" + api::kTestIdmsKeyFile;
  MCX_RETURN_IF_ERROR(MintMissingTokens(users, key).Annotate("minting test tokens with " + key +
                                                            " (give --users FILE with tokens, or --idms-key PEM)"));
  return users;
}

// Exit status of a run that completed but saw errors, under --fail-on-errors.
constexpr int kExitRunHadErrors = 4;

Status RunHttp(const HttpOptions& opt, CommandResult& command) {
  MCX_RETURN_IF_ERROR(ValidateReportOptions(opt.report));
  Result<capacity::HttpEndpoint> endpoint = capacity::ParseHttpUrl(opt.url);
  if (!endpoint.ok()) return endpoint.status();
  if (!endpoint->tls && (!opt.ca_file.empty() || opt.insecure)) {
    return Status::InvalidArgument("--ca-file and --insecure are for https:// URLs; " + opt.url + " is plain HTTP");
  }
  if (!opt.ca_file.empty() && opt.insecure) {
    return Status::InvalidArgument("--ca-file and --insecure contradict each other: verify with the CA, or not at all");
  }
  endpoint->ca_file = opt.ca_file;
  endpoint->verify_peer = !opt.insecure;
  if (opt.insecure) {
    std::fputs("bench http: WARNING: --insecure: the KMS's TLS certificate is not verified; anyone in between could "
               "answer, and these results say nothing about the certificate\n",
               stderr);
  }
  Result<capacity::LoadOptions> load = ToLoadOptions(opt.load);
  if (!load.ok()) return load.status();
  MCX_RETURN_IF_ERROR(ParseMix(opt.mix, *load));
  load->keyprov_samples = opt.samples;
  Result<std::vector<capacity::UserCredential>> users = LoadUsers(opt);
  if (!users.ok()) return users.status();

  CapacityReport report;
  report.machine = capacity::DescribeThisMachine();
  if (Result<capacity::TokenVerifyCeiling> t = capacity::MeasureTokenVerifyCeiling(); t.ok()) report.token_ceiling = *t;
  capacity::ServingRun run;
  run.label = std::string(endpoint->tls ? "https" : "http") + " init:keyprov " + opt.mix +
              (opt.on_demand ? ", random periods up to " + std::to_string(opt.max_periods_ahead) + " ahead" : "") + (opt.insecure ? ", certificate NOT verified" : "");
  run.target = endpoint->ToString();
  run.origin = opt.on_demand ? capacity::KeySetOrigin::kOnDemand : capacity::KeySetOrigin::kMixed;
  run.options = *load;
  run.users = users->size();

  // The KMS certificate, as a device gets it first: for checking the key material afterwards.
  Result<capacity::HttpReply> init = capacity::FetchOnce(*endpoint, "POST", endpoint->base_path + "init",
                                                         users->front().token, load->timeout);
  // A --ca-file that cannot be loaded stops here: it is the operator's to fix, not the KMS's doing.
  if (!init.ok() && init.status().code() == Status::Code::kInvalidArgument) return init.status();
  Result<capacity::KmsPublicView> view = Status::Unavailable("");
  if (!init.ok()) {
    view = init.status();
  } else if (init->status != 200) {
    view = Status::Unavailable("init answered HTTP " + std::to_string(init->status));
  } else {
    view = capacity::ParseKmsInitPublicKeys(init->body);
  }
  if (opt.on_demand) {
    // Key sets the KMS has not issued: random periods from the next-but-one to the last the
    // server hands out (--max-periods-ahead) or the certificate's end, which only init tells.
    if (!view.ok()) return view.status().Annotate("--on-demand needs the KMS certificate from init");
    Result<std::pair<NtpSeconds, NtpSeconds>> window = capacity::OnDemandWindow(*view, NtpNow(), opt.max_periods_ahead);
    if (!window.ok()) return window.status();
    load->on_demand_from = window->first;
    load->on_demand_to = window->second;
  }

  fmt::print(stderr, "bench http: {}, {} connections on {} thread{}, {}, {:.0f} s warm-up + {:.0f} s, {} users\n",
             run.target, load->connections, load->threads, load->threads == 1 ? "" : "s",
             load->rate > 0 ? "open loop" : "closed loop", opt.load.warmup, opt.load.duration, users->size());
  std::unique_ptr<capacity::ProcessCpuSampler> server_cpu;
  if (opt.server_pid > 0) {
    Result<std::unique_ptr<capacity::ProcessCpuSampler>> sampler = capacity::ProcessCpuSampler::Start(opt.server_pid);
    if (!sampler.ok()) return sampler.status().Annotate("--server-pid");
    server_cpu = std::move(sampler).value();
  }
  capacity::LoadGenerator generator(*endpoint, std::move(users).value(), *load);
  Result<capacity::LoadResult> result = [&] {
    const uint64_t expected = load->rate > 0 ? static_cast<uint64_t>(load->rate * (opt.load.warmup + opt.load.duration)) : 0;
    ProgressMeter meter("requests", expected, [&generator] { return generator.completed(); });
    return generator.Run();
  }();
  if (!result.ok()) return result.status();
  run.result = std::move(result).value();
  if (server_cpu) {
    Result<double> spent = server_cpu->CpuSecondsBetween(run.result.window_start, run.result.window_end);
    if (!spent.ok()) return spent.status().Annotate("--server-pid " + std::to_string(opt.server_pid));
    run.server_pid = opt.server_pid;
    run.server_cpu_seconds = *spent;
    server_cpu.reset();
  }
  if (view.ok()) {
    run.validated = true;
    run.verdict = capacity::CheckKeyProvAnswers(*view, run.result.keyprov_samples);
  } else {
    run.validation_note = "no KMS certificate: " + view.status().ToString();
  }
  run.result.keyprov_samples.clear();
  run.result.init_sample.clear();
  const uint64_t errors = run.result.errors();
  const size_t invalid = run.validated ? run.verdict.invalid : 0;
  const bool unchecked = !run.validated;
  report.serving.push_back(std::move(run));
  std::fputc('\n', stdout);
  MCX_RETURN_IF_ERROR(WriteReport(report, opt.report));
  if (opt.fail_on_errors && (errors > 0 || invalid > 0 || unchecked)) {
    fmt::print(stderr,
               "bench http: --fail-on-errors: {} requests failed, {} answers held invalid key material{} "
               "(exit status {})\n",
               errors, invalid, unchecked ? ", and the key material could not be checked (no KMS certificate)" : "",
               kExitRunHadErrors);
    command.exit_code = kExitRunHadErrors;
  }
  return Status::Ok();
}

}  // namespace

void RegisterBenchCommand(CLI::App& app, CommandResult& result) {
  CLI::App* bench = app.add_subcommand(
      "bench", "Measure what a KMS can carry and report it (terminal text, --json, --html with charts).");
  bench->require_subcommand(1);

  auto lopt = std::make_shared<LocalOptions>();
  CLI::App* local = bench->add_subcommand(
      "local",
      "Measure the KMS in the data directory on this machine: key set derivation on 1..N threads, HSM operations, "
      "bulk provisioning into a scratch store (the KMS's store is not written), and the serving rate of an "
      "in-process server for pre-provisioned and on-demand key sets.");
  AddDataDirOption(local, lopt->loc);
  AddHsmOptions(local, lopt->loc);
  AddReportOptions(local, lopt->report);
  AddLoadFlags(local, lopt->load);
  local->add_option("--step-seconds", lopt->step_seconds, "seconds per derivation thread count and HSM operation")
      ->capture_default_str();
  local->add_option("--provision-seconds", lopt->provision_seconds, "about how long the provisioning run takes")
      ->capture_default_str();
  local->add_option("--max-threads", lopt->max_threads, "derivation threads up to (default: cores)");
  local->add_flag("--no-audit", lopt->no_audit,
                  "do not record the bench's key sets in the audit chain: to measure what the audit log costs "
                  "(compare with a run without it)");
  local->callback([lopt, &result] { result.status = RunLocal(*lopt); });

  auto hopt = std::make_shared<HttpOptions>();
  CLI::App* http = bench->add_subcommand(
      "http",
      "Load any TS 33.180 KMS with init and keyprov requests over HTTP or HTTPS (keep-alive, closed or open loop, "
      "on --threads I/O threads sharing one schedule and one request sequence), "
      "check a sample of the key material as a device would, and report throughput, errors by kind (HTTP status, "
      "timeout, connection, TLS) and latency. Over https:// every connection does its own TLS handshake (again "
      "after a reconnect), and the server's certificate is verified against the system's trusted CAs and must name "
      "HOST; a failed handshake is a TLS error, with the reason in the report.");
  http->add_option("url", hopt->url,
                   "the KMS: http://HOST[:PORT][/PREFIX] or https://HOST[:PORT][/PREFIX] (ports 80 and 443 by "
                   "default, prefix /keymanagement/identity/v1/)")
      ->capture_default_str();
  http->add_option("--ca-file", hopt->ca_file,
                   "https: trust the certificates in this PEM file instead of the system's CAs (a proxy's "
                   "self-signed certificate, or a private CA)");
  http->add_flag("--insecure", hopt->insecure,
                 "https: do not verify the server's certificate (a lab only: the results then say nothing about "
                 "the certificate)");
  AddReportOptions(http, hopt->report);
  AddLoadFlags(http, hopt->load);
  http->add_option("--users", hopt->users_file,
                   "population file: lines `user_uri<TAB>token` (a line without a token gets a minted test token)");
  http->add_option("--user-count", hopt->user_count, "without --users: this many users from --user-pattern")
      ->capture_default_str();
  http->add_option("--user-pattern", hopt->user_pattern,
                   "the users' URIs: one integer placeholder (%d, %u, %5d or %05d; %% for a literal %)")
      ->capture_default_str()
      ->check(CLI::Validator(
          [](const std::string& pattern) {
            Result<UserPattern> parsed = UserPattern::Parse(pattern, "");  // CLI11 names the flag
            return parsed.ok() ? std::string() : parsed.status().message();
          },
          "PATTERN"));
  http->add_option("--idms-key", hopt->idms_key,
                   "mint test tokens with this IdMS private key PEM (default: the data directory's test key, else "
                   "mcx-kms-demo's)");
  http->add_option("--mix", hopt->mix, "init:keyprov request ratio")->capture_default_str();
  http->add_option("--samples", hopt->samples, "keyprov answers whose key material is checked")->capture_default_str();
  http->add_flag("--on-demand", hopt->on_demand,
                 "ask keyprov for random key periods past the next one, up to --max-periods-ahead and within the KMS "
                 "certificate's validity, so the KMS derives key sets it has not issued");
  http->add_option("--max-periods-ahead", hopt->max_periods_ahead,
                   "with --on-demand: the server's serve --max-periods-ahead (the last period it hands out); at the "
                   "default 2 each user has one on-demand period, derived on its first request and stored after")
      ->capture_default_str();
  http->add_option("--server-pid", hopt->server_pid,
                   "a KMS on this machine: sample this process's CPU time over the measured window and report "
                   "keyprov per second of the server's CPU (what a server with the cores to itself would answer; "
                   "here the load generator shares them)");
  AddDataDirOption(http, hopt->loc);
  http->add_flag("--fail-on-errors", hopt->fail_on_errors,
                 "exit with status 4 when any request failed (timeout, connection, TLS, non-200) or any sampled "
                 "answer held invalid key material, so a script or CI job can gate on the run; without it the "
                 "exit status is 0 whenever the run completed and its report was written");
  http->callback([hopt, &result] { result.status = RunHttp(*hopt, result); });
}

}  // namespace mcx::cli
