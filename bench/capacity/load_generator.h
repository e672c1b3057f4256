// LoadGenerator: drives the KMS interface of TS 33.180 Annex D (init and keyprov) of any KMS over
// HTTP/1.1, plain or over TLS (https://), and measures what it carries.
//
// Contract:
// - `connections` keep-alive connections (Boost.Beast, async) on `threads` I/O threads, each with
//   its own io_context and its own share of the connections (as even as it goes; Run() refuses
//   more threads than connections). Thread 0 is the caller's, lent by Run(); the others are
//   started and joined by it. The threads share one clock plan (start, end of the warm-up, end),
//   one global request sequence (atomic counters) and the read-only users and endpoint; nothing
//   else, and no locks.
// - Closed loop (rate 0): each connection sends its next request as soon as the last is answered.
//   Open loop (rate N): the i-th due time of the run is start + i/N, whichever thread takes it;
//   a free connection, on any thread, takes the next due time, and its request's latency counts
//   from then, so a server that falls behind shows in the latencies (no coordinated omission).
// - Over https://, each TCP connection carries one TLS session (TLS 1.2 or later, full handshake,
//   no resumption), set up before its first request; the TCP connect and the handshake share one
//   `timeout`. A connection reopened (after a timeout, an error, or a server's Connection: close)
//   does a new handshake, and a request waiting for it counts that time in its latency as above.
//   The server's certificate is verified against the system's store, or only `ca_file`, and must
//   name the host (DNS name or IP address); `verify_peer` false skips that (a lab's --insecure).
//   SNI carries the host when it is a name (RFC 6066 forbids IP literals there).
// - Request k of the run (counted over all threads) goes to the user k mod users.size(), with that
//   user's bearer token; it is an init when k mod (init_weight + keyprov_weight) < init_weight,
//   else a keyprov of the current period (or, on demand, of a random one in the given window).
// - Warm-up first, then the measured window; a request belongs to the phase it was due in. No
//   request is sent after the window; one in flight gets at most `timeout` to finish, so Run()
//   returns within warmup + duration + timeout (+ connect time, also bounded by `timeout`); each
//   thread has its own backstop at that time.
// - Every request ends as one of: an HTTP status (200 is success), a timeout (no full answer
//   within `timeout`, or no connection and handshake within it; the connection is closed and
//   reopened), a connection error (refused, reset, closed early), or a TLS error (a failed
//   handshake, e.g. an untrusted certificate, or a TLS-layer failure on the connection; the first
//   one's reason is kept). A connection that fails to open records one error due at that moment
//   and retries after 20 ms. Invalid key material is judged later, by KeyMaterialCheck, on a
//   sample of the keyprov answers kept here (reservoir sampling over the window).
// - The result is one for the whole run, whatever the threads: counts summed, latency histograms
//   merged (exact: same buckets), timelines summed per second, the threads' samples merged into
//   one uniform sample of the same size, the earliest TLS failure's reason. completed() and
//   failed() sum the threads' live counters.
// Loads go where the caller says; the CLI and tests only aim them at 127.0.0.1 or a KMS the
// operator names.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "bench/capacity/latency_histogram.h"

namespace mcx::capacity {

// http://HOST[:PORT][/PREFIX] or https://HOST[:PORT][/PREFIX] (ports 80 and 443 by default). The
// prefix defaults to /keymanagement/identity/v1/ and always ends in '/'.
struct HttpEndpoint {
  std::string host;
  uint16_t port = 80;
  std::string base_path = "/keymanagement/identity/v1/";
  bool tls = false;  // https://
  // With tls, whom to trust: the certificates in ca_file (PEM) if given, else the system's store.
  // verify_peer false accepts any certificate (--insecure: a lab only).
  std::string ca_file;
  bool verify_peer = true;
  std::string ToString() const;
  std::string HostHeader() const;  // the Host header: host, and the port unless the default
};
// Scheme, host, port and prefix of an RFC 3986 URL, as Boost.URL parses it: the scheme in either
// case; the host a name (percent-decoded), an IPv4 address or an [IPv6] literal (stored without
// brackets); no user@, ?query or #fragment; the prefix kept percent-encoded, as it goes on the wire.
Result<HttpEndpoint> ParseHttpUrl(std::string_view url);

struct UserCredential {
  std::string user_uri;
  std::string token;  // the bearer token; never printed
};

struct LoadOptions {
  int connections = 16;
  // I/O threads, 1..min(connections, LoadGenerator::kMaxThreads). One thread tops out at a few
  // tens of thousands of requests/s (docs/capacity.md); more keep up with a faster KMS, given
  // the cores to run on.
  int threads = 1;
  std::chrono::milliseconds warmup{2000};
  std::chrono::milliseconds duration{10000};
  std::chrono::milliseconds timeout{5000};
  double rate = 0;  // requests per second over all connections; 0: closed loop
  int init_weight = 1;
  int keyprov_weight = 9;
  size_t keyprov_samples = 20;  // keyprov answers kept for validation
  // keyprov/<user>/<time> for a random time from on_demand_from to on_demand_to (NTP seconds,
  // within the KMS certificate's window: OnDemandWindow() in key_material_check.h) instead of the
  // current period, so the KMS has (nearly) never issued the key set asked for and derives it on
  // demand. Both 0: the current period.
  uint64_t on_demand_from = 0;
  uint64_t on_demand_to = 0;
  bool on_demand() const { return on_demand_to > on_demand_from; }
};

enum class KmsRequestKind { kInit = 0, kKeyProv = 1 };
const char* KmsRequestKindName(KmsRequestKind kind);

// Successes and errors completed in one second of the run (warm-up included).
struct TimelineSecond {
  uint64_t ok = 0;
  uint64_t errors = 0;
};

struct LoadResult {
  double warmup_seconds = 0;
  double measured_seconds = 0;  // the window's length
  // The measured window on the steady clock (for figures taken beside the run, e.g. the
  // server's CPU time: process_cpu.h).
  std::chrono::steady_clock::time_point window_start, window_end;
  // In the measured window:
  uint64_t requests = 0;  // every request due in the window that ended (ok + all errors)
  uint64_t ok = 0;
  uint64_t ok_by_kind[2] = {0, 0};
  std::map<int, uint64_t> http_errors;  // status other than 200 -> count
  uint64_t timeouts = 0;
  uint64_t connection_errors = 0;
  uint64_t tls_errors = 0;
  std::string tls_error;  // the first TLS failure's reason (warm-up included), with what to do
  LatencyHistogram latency;              // successful requests
  LatencyHistogram latency_by_kind[2];
  // Over the whole run, warm-up included, by kind and status: what the server should have
  // counted (timeouts, connection and TLS errors excluded).
  std::map<int, uint64_t> responses_by_status[2];
  uint64_t warmup_requests = 0;
  std::vector<TimelineSecond> timeline;  // from the start of the warm-up
  // Answers kept for KeyMaterialCheck (they hold secret keys: never print them).
  std::string init_sample;
  std::vector<std::string> keyprov_samples;

  double ok_per_second() const { return measured_seconds > 0 ? static_cast<double>(ok) / measured_seconds : 0; }
  uint64_t errors() const { return requests - ok; }
};

// InvalidArgument, naming the flag, for options Run() would refuse (e.g. more threads than
// connections), so that a caller can refuse them before any setup.
Status ValidateLoadOptions(const LoadOptions& options);

class LoadGenerator {
 public:
  static constexpr int kMaxThreads = 256;

  LoadGenerator(HttpEndpoint endpoint, std::vector<UserCredential> users, LoadOptions options);
  ~LoadGenerator();

  // Runs the whole load on the calling thread and options.threads - 1 more. InvalidArgument for
  // bad options or no users; everything the server does wrong is in the result, not the status.
  Result<LoadResult> Run();

  // Live counters over all threads, for a progress display on another thread.
  uint64_t completed() const;
  uint64_t failed() const;

 private:
  class Connection;  // what every connection shares: requests, outcomes, samples
  template <class Stream>
  class Session;  // one keep-alive connection over plain TCP or TLS
  struct RunState;  // one I/O thread's part of a run

  // Written by one I/O thread, read by anyone; a cache line each, so that the threads do not
  // contend for them.
  struct alignas(64) ThreadCounters {
    std::atomic<uint64_t> completed{0};
    std::atomic<uint64_t> failed{0};
  };

  HttpEndpoint endpoint_;
  std::vector<UserCredential> users_;
  LoadOptions options_;
  std::vector<ThreadCounters> counters_;  // one per thread, sized once, so reading is always safe
};

// One POST (or GET) with a bounded time (connect, handshake and exchange together), for a
// certificate before the load, or /metrics. A failed TLS handshake's status says why, as above.
struct HttpReply {
  int status = 0;
  std::string body;
};
Result<HttpReply> FetchOnce(const HttpEndpoint& endpoint, const std::string& verb, const std::string& target,
                            const std::string& bearer_token, std::chrono::milliseconds timeout);

}  // namespace mcx::capacity
