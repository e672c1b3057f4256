// ApiMetrics: the counters behind GET /metrics, in the Prometheus text format (0.0.4).
//
// Requests by route and status, a request latency histogram per route, key sets issued, key
// service (HSM/store) errors, open and refused connections. Recording is lock-free (atomics), so
// it is cheap on the I/O threads; RenderPrometheusText() reads a consistent-enough snapshot.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace mcx::api {

enum class ApiRoute { kInit, kKeyProv, kCertCache, kCert, kHealthz, kReadyz, kMetrics, kUnknown, kCount };
const char* RouteName(ApiRoute route);

class ApiMetrics {
 public:
  void RecordRequest(ApiRoute route, int status, double seconds);
  void AddKeySetsIssued(uint64_t n) { key_sets_issued_.fetch_add(n, std::memory_order_relaxed); }
  void AddKeyServiceError() { key_service_errors_.fetch_add(1, std::memory_order_relaxed); }
  void ConnectionOpened() { connections_open_.fetch_add(1, std::memory_order_relaxed); }
  void ConnectionClosed() { connections_open_.fetch_sub(1, std::memory_order_relaxed); }
  void ConnectionRefused() { connections_refused_.fetch_add(1, std::memory_order_relaxed); }

  uint64_t key_sets_issued() const { return key_sets_issued_.load(std::memory_order_relaxed); }
  uint64_t requests(ApiRoute route, int status) const;

  // A counter kept elsewhere (the engine's), read when /metrics is rendered. Add them all before
  // the server starts; `read` must be safe to call from any thread.
  void AddExternalCounter(std::string name, std::string help, std::function<uint64_t()> read);

  std::string RenderPrometheusText() const;

 private:
  // The statuses this server answers with; anything else is counted as "other".
  static constexpr std::array<int, 13> kStatuses = {200, 400, 401, 403, 404, 405, 408, 413, 415, 431, 500, 503, 0};
  static constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,   0.1,   0.25,   0.5,   1.0,  2.5};
  static size_t StatusIndex(int status);
  static constexpr size_t kRoutes = static_cast<size_t>(ApiRoute::kCount);

  std::atomic<uint64_t> requests_[kRoutes][kStatuses.size()] = {};
  std::atomic<uint64_t> latency_buckets_[kRoutes][kBuckets.size() + 1] = {};  // last: +Inf
  std::atomic<uint64_t> latency_sum_micros_[kRoutes] = {};
  std::atomic<uint64_t> key_sets_issued_{0};
  std::atomic<uint64_t> key_service_errors_{0};
  std::atomic<int64_t> connections_open_{0};
  std::atomic<uint64_t> connections_refused_{0};
  struct ExternalCounter {
    std::string name, help;
    std::function<uint64_t()> read;
  };
  std::vector<ExternalCounter> external_;
};

}  // namespace mcx::api
