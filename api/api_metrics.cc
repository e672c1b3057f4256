#include "api/api_metrics.h"

#include <cstdio>

namespace mcx::api {

const char* RouteName(ApiRoute route) {
  switch (route) {
    case ApiRoute::kInit: return "init";
    case ApiRoute::kKeyProv: return "keyprov";
    case ApiRoute::kCertCache: return "certcache";
    case ApiRoute::kCert: return "cert";
    case ApiRoute::kHealthz: return "healthz";
    case ApiRoute::kReadyz: return "readyz";
    case ApiRoute::kMetrics: return "metrics";
    default: return "unknown";
  }
}

size_t ApiMetrics::StatusIndex(int status) {
  for (size_t i = 0; i + 1 < kStatuses.size(); ++i) {
    if (kStatuses[i] == status) return i;
  }
  return kStatuses.size() - 1;
}

void ApiMetrics::RecordRequest(ApiRoute route, int status, double seconds) {
  const size_t r = static_cast<size_t>(route);
  requests_[r][StatusIndex(status)].fetch_add(1, std::memory_order_relaxed);
  size_t b = 0;
  while (b < kBuckets.size() && seconds > kBuckets[b]) ++b;
  latency_buckets_[r][b].fetch_add(1, std::memory_order_relaxed);
  latency_sum_micros_[r].fetch_add(static_cast<uint64_t>(seconds * 1e6), std::memory_order_relaxed);
}

uint64_t ApiMetrics::requests(ApiRoute route, int status) const {
  return requests_[static_cast<size_t>(route)][StatusIndex(status)].load(std::memory_order_relaxed);
}

std::string ApiMetrics::RenderPrometheusText() const {
  std::string out;
  char line[256];
  out += "# HELP mcx_kms_http_requests_total HTTP requests answered, by route and status.\n";
  out += "# TYPE mcx_kms_http_requests_total counter\n";
  for (size_t r = 0; r < kRoutes; ++r) {
    for (size_t s = 0; s < kStatuses.size(); ++s) {
      const uint64_t n = requests_[r][s].load(std::memory_order_relaxed);
      if (n == 0) continue;
      const std::string status = kStatuses[s] == 0 ? "other" : std::to_string(kStatuses[s]);
      std::snprintf(line, sizeof line, "mcx_kms_http_requests_total{route=\"%s\",status=\"%s\"} %llu\n",
                    RouteName(static_cast<ApiRoute>(r)), status.c_str(), static_cast<unsigned long long>(n));
      out += line;
    }
  }
  out += "# HELP mcx_kms_http_request_duration_seconds Time from a request read to its response ready.\n";
  out += "# TYPE mcx_kms_http_request_duration_seconds histogram\n";
  for (size_t r = 0; r < kRoutes; ++r) {
    const char* route = RouteName(static_cast<ApiRoute>(r));
    uint64_t cumulative = 0;
    for (size_t b = 0; b <= kBuckets.size(); ++b) {
      cumulative += latency_buckets_[r][b].load(std::memory_order_relaxed);
      if (b < kBuckets.size()) {
        std::snprintf(line, sizeof line, "mcx_kms_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                      route, kBuckets[b], static_cast<unsigned long long>(cumulative));
      } else {
        std::snprintf(line, sizeof line, "mcx_kms_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
                      route, static_cast<unsigned long long>(cumulative));
      }
      out += line;
    }
    std::snprintf(line, sizeof line, "mcx_kms_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", route,
                  static_cast<double>(latency_sum_micros_[r].load(std::memory_order_relaxed)) / 1e6);
    out += line;
    std::snprintf(line, sizeof line, "mcx_kms_http_request_duration_seconds_count{route=\"%s\"} %llu\n", route,
                  static_cast<unsigned long long>(cumulative));
    out += line;
  }
  auto scalar = [&](const char* name, const char* type, const char* help, long long value) {
    std::snprintf(line, sizeof line, "# HELP %s %s\n# TYPE %s %s\n%s %lld\n", name, help, name, type, name, value);
    out += line;
  };
  scalar("mcx_kms_key_sets_issued_total", "counter", "Key sets sent to users.",
         static_cast<long long>(key_sets_issued_.load(std::memory_order_relaxed)));
  scalar("mcx_kms_hsm_errors_total", "counter", "Key service calls that failed because the HSM or store was unavailable (503).",
         static_cast<long long>(key_service_errors_.load(std::memory_order_relaxed)));
  scalar("mcx_kms_http_connections_open", "gauge", "Connections open now.",
         static_cast<long long>(connections_open_.load(std::memory_order_relaxed)));
  scalar("mcx_kms_http_connections_refused_total", "counter", "Connections refused at the connection limit.",
         static_cast<long long>(connections_refused_.load(std::memory_order_relaxed)));
  for (const ExternalCounter& c : external_) {
    out += "# HELP " + c.name + " " + c.help + "\n# TYPE " + c.name + " counter\n" + c.name + " " +
           std::to_string(c.read()) + "\n";
  }
  return out;
}

void ApiMetrics::AddExternalCounter(std::string name, std::string help, std::function<uint64_t()> read) {
  external_.push_back(ExternalCounter{std::move(name), std::move(help), std::move(read)});
}

}  // namespace mcx::api
