#include "bench/capacity/capacity_report.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <cmath>
#include <ctime>
#include <fstream>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "base/cpu_count.h"

namespace mcx::capacity {
namespace {

// "p50", "p99.9": the name of a percentile in the text and the JSON.
std::string PercentileName(double p) { return fmt::format("p{:.{}f}", p, p == 99.9 ? 1 : 0); }

std::string Rate(double per_second) { return WithThousands(static_cast<uint64_t>(std::llround(per_second))); }

std::string LoopName(const LoadOptions& o) {
  return o.rate > 0 ? "open loop at " + Rate(o.rate) + " req/s" : std::string("closed loop");
}

std::string ProvisionDuration(double seconds) {
  const auto s = static_cast<uint64_t>(std::llround(seconds));
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, s % 3600 / 60);
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{:.1f}s", seconds);
}

constexpr double kReportedPercentiles[] = {50, 90, 99, 99.9};

const ServingRun* FirstOf(const CapacityReport& r, KeySetOrigin origin) {
  for (const ServingRun& s : r.serving) {
    if (s.origin == origin) return &s;
  }
  return nullptr;
}

}  // namespace

std::string WithThousands(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string FormatMicros(uint64_t us) {
  if (us < 1000) return std::to_string(us) + " us";
  const double ms = static_cast<double>(us) / 1000.0;
  if (us < 10000) return fmt::format("{:.2f} ms", ms);
  if (us < 1000000) return fmt::format("{:.1f} ms", ms);
  return fmt::format("{:.2f} s", static_cast<double>(us) / 1e6);
}

const char* KeySetOriginName(KeySetOrigin origin) {
  switch (origin) {
    case KeySetOrigin::kPreProvisioned: return "pre-provisioned";
    case KeySetOrigin::kOnDemand: return "on demand";
    case KeySetOrigin::kMixed: break;
  }
  return "as the KMS has them";
}

MachineInfo DescribeThisMachine() {
  MachineInfo m;
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) == 0) m.hostname = host;
  m.cores = CoreCount();
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) m.cpu_model = line.substr(line.find_first_not_of(' ', colon + 1));
      break;
    }
  }
  struct utsname u {};
  if (uname(&u) == 0) m.kernel = std::string(u.sysname) + " " + u.release + " " + u.machine;
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  m.when_utc = fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", tm);
  return m;
}

std::string RenderText(const CapacityReport& r) {
  std::string out;
  auto line = [&out](const std::string& s) { out += s + "\n"; };
  const MachineInfo& m = r.machine;
  line("mcx-kms capacity report, " + m.when_utc);
  line("machine: " + m.hostname + ", " + m.cpu_model + ", " + std::to_string(m.cores) + " cores, " + m.kernel);
  if (const auto& t = r.token_ceiling) {
    line("token verification on this machine (OpenSSL, one core): ES256 " + Rate(t->es256_per_core) + "/s, RS256 " +
         Rate(t->rs256_per_core) + "/s; all " + std::to_string(t->cores) + " cores: ES256 " +
         Rate(t->es256_per_core * t->cores) + "/s, RS256 " + Rate(t->rs256_per_core * t->cores) + "/s");
  }

  if (r.local) {
    const LocalFigures& l = *r.local;
    line("");
    line("local KMS " + l.kms_uri + " (arithmetic " + l.arithmetic + "; store " + l.store + ")");
    std::string d = "  key set derivation (RSK + SSK/PVT), key sets/s:";
    for (const ThreadRate& t : l.derivation) {
      d += "  " + std::to_string(t.threads) + (t.threads == 1 ? " thread " : " threads ") + Rate(t.per_second);
    }
    line(d);
    if (!l.derivation.empty()) {
      const ThreadRate& best = l.derivation.back();
      line("    per core " + Rate(l.derivation.front().per_second) + "/s; all " + std::to_string(best.threads) +
           " threads " + Rate(best.per_second) + "/s (scaling " +
           fmt::format("{:.2f}x)", l.derivation.front().per_second > 0
                                       ? best.per_second / l.derivation.front().per_second
                                       : 0.0));
    }
    std::string h = "  HSM:";
    for (const OperationRate& o : l.hsm) h += "  " + o.operation + " " + Rate(o.per_second) + "/s;";
    if (!l.hsm.empty()) h.pop_back();
    line(h);
    line("  bulk provisioning into a scratch store: " + WithThousands(l.provisioned) + " key sets in " +
         fmt::format("{:.2f}", l.provision_seconds) + " s = " + Rate(l.provision_rate()) + " key sets/s (" +
         std::to_string(l.provision_threads) + " threads)");
  }

  for (const ServingRun& s : r.serving) {
    const LoadResult& res = s.result;
    const LoadOptions& o = s.options;
    line("");
    line("serving: " + s.label + " -- " + s.target);
    line("  " + std::to_string(o.connections) + " connections on " + std::to_string(o.threads) +
         (o.threads == 1 ? " thread, " : " threads, ") + LoopName(o) + ", mix init:keyprov " +
         std::to_string(o.init_weight) + ":" + std::to_string(o.keyprov_weight) + ", " + WithThousands(s.users) +
         fmt::format(" users, warm-up {:.1f} s, measured {:.1f} s, timeout {} ms", res.warmup_seconds,
                     res.measured_seconds, o.timeout.count()));
    line("  requests " + WithThousands(res.requests) + ": ok " + WithThousands(res.ok) + " (" +
         Rate(res.ok_per_second()) + "/s; init " + Rate(res.ok_by_kind[0] / res.measured_seconds) + "/s, keyprov " +
         Rate(s.keyprov_per_second()) + "/s), errors " + WithThousands(s.errors_total()));
    std::string e = "  errors by kind:";
    for (const auto& [status, n] : res.http_errors) e += " HTTP " + std::to_string(status) + " " + WithThousands(n) + ";";
    e += " timeouts " + WithThousands(res.timeouts) + "; connection errors " + WithThousands(res.connection_errors);
    if (res.tls_errors > 0 || s.target.starts_with("https://")) e += "; TLS errors " + WithThousands(res.tls_errors);
    e += "; invalid key material " + std::to_string(s.verdict.invalid);
    line(e);
    if (!res.tls_error.empty()) line("  TLS: " + res.tls_error);
    if (s.validated) {
      line("  key material: " + std::to_string(s.verdict.answers) + " sampled answers (" +
           std::to_string(s.verdict.key_sets) + " key sets) checked as a device would: " +
           std::to_string(s.verdict.answers - s.verdict.invalid) + " valid, " + std::to_string(s.verdict.invalid) +
           " invalid");
      for (const std::string& p : s.verdict.problems) line("    " + p);
    } else {
      line("  key material: not checked (" + s.validation_note + ")");
    }
    std::string lat = "  latency of successes:";
    for (double p : kReportedPercentiles) {
      lat += " " + PercentileName(p) + " " + FormatMicros(res.latency.ValueAtPercentile(p));
    }
    lat += " max " + FormatMicros(res.latency.max()) + " (mean " +
           FormatMicros(static_cast<uint64_t>(res.latency.mean())) + ")";
    line(lat);
    if (s.server_cpu_seconds > 0) {
      line("  server (pid " + std::to_string(s.server_pid) + ") used " + fmt::format("{:.2f}", s.server_cores()) +
           " cores of CPU in the window: " + Rate(s.keyprov_per_server_core()) +
           " keyprov per second of its CPU time (per core of its own)");
    }
  }

  line("");
  line("projections");
  const ProjectionInputs& p = r.projection;
  const uint64_t pairs = p.users * static_cast<uint64_t>(p.periods);
  if (r.local && r.local->provision_rate() > 0) {
    line("  provisioning " + WithThousands(p.users) + " users x " + std::to_string(p.periods) + " key periods = " +
         WithThousands(pairs) + " key sets: " + ProvisionDuration(static_cast<double>(pairs) / r.local->provision_rate()) +
         " at " + Rate(r.local->provision_rate()) + " key sets/s");
  } else {
    line("  provisioning time: needs `mcx-kms bench local` on the KMS's machine");
  }
  for (const ServingRun& s : r.serving) {
    line("  devices reconnecting within " + std::to_string(p.reconnect_seconds) + " s (" + s.label + "): " + WithThousands(static_cast<uint64_t>(s.keyprov_per_second() * p.reconnect_seconds)) +
         " (" + Rate(s.keyprov_per_second()) + " keyprov/s)");
    // A token is verified once, then answered from the cache: only a run with more users than
    // requests measures a storm in which every device brings a new one.
    const uint64_t asked = s.result.requests;
    line(std::string("    tokens: ") + WithThousands(s.users) + " users for " + WithThousands(asked) + " requests: " +
         (s.users >= asked ? "each request measured could carry a token the KMS had not seen"
                           : "most requests carried a token the KMS had verified before (cached); for a storm of new "
                             "tokens, give --user-count above the run's requests"));
    if (const auto& t = r.token_ceiling; t && s.users >= asked && s.server_cpu_seconds > 0 && t->es256_per_core > 0) {
      line("    per core of the server's: " + Rate(s.keyprov_per_server_core()) + " keyprov/s with new tokens = " +
           fmt::format("{:.2f}", s.keyprov_per_server_core() / t->es256_per_core) +
           "x the ES256 verification ceiling of a core (" + Rate(t->es256_per_core) + "/s)");
    }
  }
  if (const auto& t = r.token_ceiling) {
    line("  a storm of new tokens cannot pass token verification: at most " +
         WithThousands(static_cast<uint64_t>(t->es256_per_core * t->cores * p.reconnect_seconds)) + " devices in " +
         std::to_string(p.reconnect_seconds) + " s with ES256 tokens, " +
         WithThousands(static_cast<uint64_t>(t->rs256_per_core * t->cores * p.reconnect_seconds)) +
         " with RS256, if a KMS on this machine did nothing else");
  }
  return out;
}

nlohmann::json ToJson(const CapacityReport& r) {
  using nlohmann::json;
  json j;
  j["machine"] = {{"hostname", r.machine.hostname}, {"cpu_model", r.machine.cpu_model}, {"cores", r.machine.cores},
                  {"kernel", r.machine.kernel}, {"when_utc", r.machine.when_utc}};
  if (const auto& t = r.token_ceiling) {
    j["token_verify_ceiling"] = {{"es256_per_core", t->es256_per_core}, {"rs256_per_core", t->rs256_per_core},
                                 {"cores", t->cores}};
  }
  if (r.local) {
    const LocalFigures& l = *r.local;
    json d = json::array();
    for (const ThreadRate& t : l.derivation) d.push_back({{"threads", t.threads}, {"key_sets_per_second", t.per_second}});
    json h = json::array();
    for (const OperationRate& o : l.hsm) h.push_back({{"operation", o.operation}, {"per_second", o.per_second}});
    j["local"] = {{"kms_uri", l.kms_uri}, {"arithmetic", l.arithmetic}, {"store", l.store}, {"derivation", d},
                  {"hsm", h},
                  {"provisioning", {{"key_sets", l.provisioned}, {"seconds", l.provision_seconds},
                                    {"threads", l.provision_threads}, {"key_sets_per_second", l.provision_rate()}}}};
  }
  j["serving"] = json::array();
  for (const ServingRun& s : r.serving) {
    const LoadResult& res = s.result;
    json http_errors = json::object();
    for (const auto& [status, n] : res.http_errors) http_errors[std::to_string(status)] = n;
    json latency = {{"min_us", res.latency.min()}, {"mean_us", res.latency.mean()}, {"max_us", res.latency.max()}};
    for (double p : kReportedPercentiles) latency[PercentileName(p) + "_us"] = res.latency.ValueAtPercentile(p);
    json timeline = json::array();
    for (const TimelineSecond& t : res.timeline) timeline.push_back({{"ok", t.ok}, {"errors", t.errors}});
    j["serving"].push_back({
        {"label", s.label}, {"target", s.target}, {"key_sets", KeySetOriginName(s.origin)},
        {"connections", s.options.connections}, {"threads", s.options.threads}, {"rate", s.options.rate},
        {"mix", {{"init", s.options.init_weight}, {"keyprov", s.options.keyprov_weight}}}, {"users", s.users},
        {"warmup_seconds", res.warmup_seconds}, {"measured_seconds", res.measured_seconds},
        {"timeout_ms", s.options.timeout.count()}, {"requests", res.requests}, {"ok", res.ok},
        {"ok_per_second", res.ok_per_second()}, {"ok_init", res.ok_by_kind[0]}, {"ok_keyprov", res.ok_by_kind[1]},
        {"keyprov_per_second", s.keyprov_per_second()},
        {"server_cpu_seconds", s.server_cpu_seconds}, {"keyprov_per_server_core", s.keyprov_per_server_core()},
        {"errors", {{"http", http_errors}, {"timeouts", res.timeouts}, {"connection", res.connection_errors},
                    {"tls", res.tls_errors}, {"tls_reason", res.tls_error},
                    {"invalid_key_material", s.verdict.invalid}}},
        {"validation", {{"checked", s.validated}, {"answers", s.verdict.answers}, {"key_sets", s.verdict.key_sets},
                        {"invalid", s.verdict.invalid}, {"problems", s.verdict.problems}, {"note", s.validation_note}}},
        {"latency", latency}, {"warmup_requests", res.warmup_requests}, {"timeline", timeline}});
  }
  const ProjectionInputs& p = r.projection;
  json proj = {{"users", p.users}, {"periods", p.periods}, {"reconnect_seconds", p.reconnect_seconds}};
  if (r.local && r.local->provision_rate() > 0) {
    proj["provisioning_seconds"] = static_cast<double>(p.users * static_cast<uint64_t>(p.periods)) / r.local->provision_rate();
  }
  for (KeySetOrigin origin : {KeySetOrigin::kPreProvisioned, KeySetOrigin::kOnDemand, KeySetOrigin::kMixed}) {
    if (const ServingRun* s = FirstOf(r, origin)) {
      proj["reconnecting_devices"][KeySetOriginName(origin)] =
          static_cast<uint64_t>(s->keyprov_per_second() * p.reconnect_seconds);
    }
  }
  j["projections"] = proj;
  return j;
}

}  // namespace mcx::capacity
