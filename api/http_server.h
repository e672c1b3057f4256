// HttpServer: the KMS's HTTP/1.1 server (Boost.Beast on Asio), meant to sit behind the operator's
// proxy, which terminates TLS.
//
// One HttpSession per connection, each on its own strand; a few I/O threads run every session's
// reads and writes, and a separate worker pool runs what may block or take milliseconds (key
// derivation, HSM and store calls), handed out through workers(). Requests on a connection are
// answered in order, with keep-alive.
//
// Limits, each with a clear answer: headers larger than max_header_bytes (431), bodies larger
// than max_body_bytes (413), malformed requests (400, including any Transfer-Encoding but a
// single "chunked", RFC 9112 6.1, and folded header lines, RFC 9112 5.2, which are looked for in
// the raw header before Beast's parser would join them), more than max_connections open at once
// (the oldest idle connection — keep-alive, or a header still trickling in — is closed to make
// room; when none is idle, 503 and close, though a few connections over the limit may still ask
// for /healthz, /readyz or /metrics, so that health checks answer during a flood). Start() raises the soft open-file
// limit to the hard one and lowers max_connections below it when it would not fit, saying so;
// accept errors (out of descriptors) back off and are logged at a bounded rate. The whole header must arrive within header_timeout (this is also how long an
// idle keep-alive connection stays open) and the body within body_timeout: a client trickling
// one byte a second is cut off. Shutdown() stops accepting, closes idle connections, lets the
// requests in flight finish (their responses go out with Connection: close) and returns from
// Wait() once they are done. StopOnSignals() makes SIGTERM and SIGINT call Shutdown().
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "api/api_metrics.h"
#include "api/api_request.h"
#include "base/status.h"

namespace mcx::api {

// The default size of the worker pool: one per core. Workers answer requests: they read the store
// and hand requests for new key sets to the on-demand batches (engine/service/on_demand_issuer.h),
// which derive on threads of their own, so the workers need not outnumber the cores for a batch to
// form, and every worker beyond one per core added a sleep and a wake-up per request (wrk,
// pre-provisioned keyprov, 2-core AMD Zen 4 guest, alternating rounds: with SQLite 31-35k/s at
// 38-44 us of server CPU a request against 27-30k/s at 44-49 us with two per core; with
// PostgreSQL on loopback 27-29k/s against 20-23k/s). A database on another host is different:
// each read waits one round trip on its worker, so workers / round trip bounds the rate there,
// and `serve --worker-threads` should be raised to what the round trip needs.
int DefaultWorkerThreads();

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0: any free port (see port())
  int io_threads = 2;
  int worker_threads = DefaultWorkerThreads();
  size_t max_header_bytes = 8 * 1024;
  size_t max_body_bytes = 64 * 1024;
  size_t max_connections = 10000;
  std::chrono::milliseconds header_timeout{15000};
  std::chrono::milliseconds body_timeout{15000};
  std::chrono::milliseconds write_timeout{30000};
};

class HttpServer {
 public:
  // `metrics` must outlive the server.
  HttpServer(HttpServerOptions options, ApiMetrics& metrics);
  ~HttpServer();  // Shutdown() and Wait()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Posts tasks to the worker pool. Valid for the server's lifetime.
  WorkerExecutor workers();

  // Binds, listens and starts the threads. `handler` must outlive the server.
  Status Start(RequestHandler& handler);
  // The bound port (useful with port 0).
  uint16_t port() const;

  void StopOnSignals();
  void Shutdown();
  // Blocks until the server has shut down and every thread has finished.
  void Wait();

 private:
  friend class HttpSession;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mcx::api
