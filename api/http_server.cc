#include "api/http_server.h"

#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/cpu_count.h"
#include "base/wiping_allocator.h"

namespace mcx::api {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

// Descriptors kept back from connections for what the process itself opens (the store, the
// HSM module's files and sockets, logs) and for the overflow connections that still answer
// health checks when the connection limit is reached.
constexpr size_t kReservedDescriptors = 64;
// Connections over max_connections that are still read, so that /healthz, /readyz and /metrics
// answer during a flood; beyond these, connections are closed at once.
constexpr size_t kOverflowConnections = kReservedDescriptors / 2;
constexpr std::chrono::milliseconds kOverflowHeaderTimeout{1000};

// Raises the soft open-file limit to the hard one, and returns the soft limit now in force
// (0 when it cannot be read).
size_t RaiseDescriptorLimit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  return lim.rlim_cur == RLIM_INFINITY ? SIZE_MAX : static_cast<size_t>(lim.rlim_cur);
}

// The status line and header of a response whose body has `content_length` octets. Written here
// and sent with the body in one gather write: Beast's serializer walked its header through
// nested buffer-sequence iterators, about 4 % of a keyprov's CPU time in perf.
std::string ResponseHead(const ApiResponse& r, size_t content_length, bool close) {
  const beast::string_view reason = http::obsolete_reason(static_cast<http::status>(r.status));
  std::string head;
  head.reserve(160);
  head.append("HTTP/1.1 ").append(std::to_string(r.status)).append(" ").append(reason.data(), reason.size());
  head.append("\r\nServer: mcx-kms\r\nContent-Type: ").append(r.content_type);
  head.append("\r\nCache-Control: no-store\r\n");
  for (const auto& [name, value] : r.headers) head.append(name).append(": ").append(value).append("\r\n");
  head.append("Content-Length: ").append(std::to_string(content_length)).append("\r\n");
  if (close) head.append("Connection: close\r\n");
  head.append("\r\n");
  return head;
}

// Operational routes, answered even on an overflow connection.
bool IsOperationalTarget(std::string_view target) {
  const std::string_view path = target.substr(0, target.find('?'));
  return path == "/healthz" || path == "/readyz" || path == "/metrics";
}

}  // namespace

class HttpSession;

struct HttpServer::Impl {
  explicit Impl(HttpServerOptions opts, ApiMetrics& m)
      : options(std::move(opts)),
        metrics(m),
        workers(static_cast<size_t>(std::max(1, options.worker_threads))),
        acceptor(net::make_strand(ioc)),
        accept_backoff(acceptor.get_executor()),
        signals(ioc) {}

  void Accept();
  void OnAcceptError(const boost::system::error_code& ec);
  bool EvictOldestIdle();
  void Register(uint64_t id, const std::shared_ptr<HttpSession>& s);
  void Unregister(uint64_t id);
  void Shutdown();
  void Wait();

  // Declared before the I/O context: sessions still queued in it unregister when it is destroyed.
  std::atomic<bool> stopping{false};
  std::atomic<size_t> open_connections{0};
  std::atomic<uint64_t> next_id{1};
  std::mutex sessions_mu;
  std::unordered_map<uint64_t, std::weak_ptr<HttpSession>> sessions;
  std::once_flag joined;
  uint16_t bound_port = 0;

  HttpServerOptions options;
  ApiMetrics& metrics;
  RequestHandler* handler = nullptr;
  net::io_context ioc;
  net::thread_pool workers;
  tcp::acceptor acceptor;
  // Accept errors (EMFILE above all) back off instead of retrying at once; they are logged at
  // most once per kAcceptLogInterval, with the count of those not logged. Acceptor strand only.
  net::steady_timer accept_backoff;
  std::chrono::milliseconds backoff_delay{0};
  std::chrono::steady_clock::time_point last_accept_log{};
  uint64_t unlogged_accept_errors = 0;
  static constexpr std::chrono::seconds kAcceptLogInterval{10};
  net::signal_set signals;
  std::vector<std::thread> io_threads;
};

// One connection: read a request (header, then body, each against its deadline), hand it to the
// handler, write the reply, and go again while keep-alive holds. Every step runs on the strand.
class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket&& socket, HttpServer::Impl& server, bool overflow)
      : stream_(std::move(socket)), server_(server), id_(server.next_id.fetch_add(1)), overflow_(overflow) {
    server_.open_connections.fetch_add(1);
    server_.metrics.ConnectionOpened();
  }
  ~HttpSession() {
    server_.Unregister(id_);
    server_.open_connections.fetch_sub(1);
    server_.metrics.ConnectionClosed();
  }

  void Start() {
    server_.Register(id_, shared_from_this());
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->ReadHeader(); });
  }

  // Waiting for (the rest of) a request header: an idle keep-alive connection or a slow client.
  // Such a connection is closed to make room when the connection limit is reached.
  bool idle() const { return idle_.load(std::memory_order_relaxed); }
  uint64_t id() const { return id_; }
  void Evict() {
    idle_.store(false, std::memory_order_relaxed);  // chosen once, even before its strand runs
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      if (self->state_ == State::kReading) self->stream_.cancel();
    });
  }

  // Shutdown: close now when waiting for a request; otherwise close after the current response.
  void Drain() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      self->draining_ = true;
      if (self->state_ == State::kReading) self->stream_.cancel();
    });
  }

 private:
  enum class State { kReading, kProcessing, kWriting };

  void ReadHeader() {
    if (draining_ || server_.stopping.load()) return Close();
    state_ = State::kReading;
    idle_.store(true, std::memory_order_relaxed);
    head_request_ = false;
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(server_.options.max_header_bytes));
    parser_->body_limit(server_.options.max_body_bytes);
    // An overflow connection gets one short chance to ask for a health or metrics route.
    stream_.expires_after(overflow_ ? kOverflowHeaderTimeout : server_.options.header_timeout);
    header_scanned_ = 0;
    ScanHeader();
  }

  // Beast's parser joins folded header lines (obs-fold: a line break followed by a space or tab)
  // before we could see them, and RFC 9112 5.2 asks a server to refuse them: a proxy in front may
  // read such a field differently (request smuggling). So the raw header is looked at first:
  // read into buffer_ (where a pipelined request may already wait) until the blank line that
  // ends it, within max_header_bytes and under the header deadline already set, then parsed
  // from the same buffer.
  void ScanHeader() {
    const auto data = buffer_.data();
    const std::string_view bytes(static_cast<const char*>(data.data()), data.size());
    size_t i = header_scanned_;
    for (; i < bytes.size(); ++i) {
      const void* lf = std::memchr(bytes.data() + i, '\n', bytes.size() - i);
      if (lf == nullptr) {
        i = bytes.size();
        break;
      }
      i = static_cast<size_t>(static_cast<const char*>(lf) - bytes.data());
      // A bare LF, or a CR without its LF: the parser refuses these in its own words.
      if (i == 0 || bytes[i - 1] != '\r') return ParseHeader();
      // What follows the line break decides; when it has not arrived, look at this LF again.
      if (i + 1 == bytes.size()) break;
      const char next = bytes[i + 1];
      if (next == ' ' || next == '\t') {
        return Refuse(400, "the request has a folded header line (obs-fold, RFC 9112 5.2): send each field on one line");
      }
      if (next == '\r') {
        if (i + 2 == bytes.size()) break;
        return ParseHeader();  // CRLF CRLF: the end of the header (or a stray CR, which the parser refuses)
      }
    }
    header_scanned_ = i;
    if (bytes.size() >= server_.options.max_header_bytes) {
      return Refuse(431, "the request header is larger than " + std::to_string(server_.options.max_header_bytes) +
                             " octets");
    }
    stream_.async_read_some(buffer_.prepare(kHeaderReadBytes),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              if (ec) return self->OnReadError(ec);
                              self->buffer_.commit(n);
                              self->ScanHeader();
                            });
  }

  void ParseHeader() {
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    idle_.store(false, std::memory_order_relaxed);
    if (ec) return OnReadError(ec);
    const auto& req = parser_->get();
    if (overflow_) {
      if (!IsOperationalTarget(req.target())) {
        server_.metrics.ConnectionRefused();
        return Refuse(503, "the server has too many connections open: try again shortly");
      }
      keep_alive_ = false;
    }
    // RFC 9112 6.1 and 6.3: chunked is the only transfer coding we read, and it must be the
    // only one; a request with any other (or a list) is refused rather than guessed at, since a
    // proxy in front may have framed it differently (request smuggling).
    if (auto te = req[http::field::transfer_encoding]; !te.empty() && !beast::iequals(Trim(te), "chunked")) {
      return Refuse(400, "Transfer-Encoding other than a single 'chunked' is not accepted");
    }
    if (auto len = parser_->content_length(); len && *len > server_.options.max_body_bytes) {
      return Refuse(413, "the body is larger than " + std::to_string(server_.options.max_body_bytes) + " octets");
    }
    if (parser_->is_done()) return Dispatch();
    auto expect = req[http::field::expect];
    if (beast::iequals(expect, "100-continue")) {
      continue_.version(11);
      continue_.result(http::status::continue_);
      stream_.expires_after(server_.options.write_timeout);
      return http::async_write(stream_, continue_, [self = shared_from_this()](beast::error_code wec, size_t) {
        if (wec) return self->Close();
        self->ReadBody();
      });
    }
    ReadBody();
  }

  void ReadBody() {
    stream_.expires_after(server_.options.body_timeout);
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->OnReadError(ec);
      self->Dispatch();
    });
  }

  void OnReadError(beast::error_code ec) {
    if (ec == http::error::header_limit) {
      return Refuse(431, "the request header is larger than " + std::to_string(server_.options.max_header_bytes) +
                             " octets");
    }
    if (ec == http::error::body_limit) {
      return Refuse(413, "the body is larger than " + std::to_string(server_.options.max_body_bytes) + " octets");
    }
    // The peer went away, a deadline passed (the stream is closed already), or we are shutting down.
    if (ec == http::error::end_of_stream || ec == net::error::eof || ec == beast::error::timeout ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset || ec == net::error::broken_pipe ||
        ec == http::error::partial_message) {
      return Close();
    }
    if (ec.category() == http::make_error_code(http::error::bad_target).category()) {
      return Refuse(400, "the request is not valid HTTP/1.1: " + ec.message());
    }
    Close();
  }

  void Dispatch() {
    state_ = State::kProcessing;
    stream_.expires_never();
    auto& req = parser_->get();
    keep_alive_ = req.keep_alive() && !overflow_;
    head_request_ = req.method() == http::verb::head;
    ApiRequest api;
    api.method = std::string(req.method_string());
    api.target = std::string(req.target());
    api.authorization = std::string(req[http::field::authorization]);
    api.host = std::string(req[http::field::host]);
    api.forwarded_proto = std::string(req["X-Forwarded-Proto"]);
    api.asserted_identity = std::string(req["X-3GPP-Asserted-Identity"]);
    api.peer_address = PeerAddress();
    api.body = std::move(req.body());
    // Hold the I/O context open until the reply is back on the strand, even during shutdown.
    auto work = net::prefer(server_.ioc.get_executor(), net::execution::outstanding_work.tracked);
    server_.handler->Handle(std::move(api), [self = shared_from_this(), work](ApiResponse response) {
      net::post(self->stream_.get_executor(), [self, r = std::move(response)]() mutable {
        self->Write(std::move(r), !self->keep_alive_);
      });
    });
  }

  // The connection's peer, asked of the kernel once (a getpeername per request showed in profiles).
  const std::string& PeerAddress() {
    if (!peer_address_known_) {
      peer_address_known_ = true;
      beast::error_code ec;
      const auto peer = stream_.socket().remote_endpoint(ec);
      if (!ec) {
        const auto address = peer.address();
        const bool mapped = address.is_v6() && address.to_v6().is_v4_mapped();
        peer_address_ = mapped ? net::ip::make_address_v4(net::ip::v4_mapped, address.to_v6()).to_string()
                               : address.to_string();
      }
    }
    return peer_address_;
  }

  void Refuse(int status, const std::string& message) {
    linger_ = true;
    std::string target;
    if (parser_ && parser_->is_header_done()) target = std::string(parser_->get().target());
    Write(server_.handler->Refusal(status, message, target), /*close=*/true);
  }

  void Write(ApiResponse r, bool close) {
    state_ = State::kWriting;
    close_after_write_ = close || draining_ || server_.stopping.load();
    body_ = std::move(r.body);
    if (head_request_) body_ = SecretString();  // a response to HEAD has no body
    head_ = ResponseHead(r, body_.size(), close_after_write_);
    const std::array<net::const_buffer, 2> buffers{net::buffer(head_), net::buffer(body_.data(), body_.size())};
    stream_.expires_after(server_.options.write_timeout);
    net::async_write(stream_, buffers, [self = shared_from_this()](beast::error_code ec, size_t) {
      self->OnWrite(ec);
    });
  }

  void OnWrite(beast::error_code ec) {
    body_ = SecretString();  // releases (and so wipes) the body now, not at the next write
    if (!ec && linger_) return LingerThenClose();
    if (ec || close_after_write_) return Close();
    ReadHeader();
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.socket().close(ignored);
  }

  // After refusing a request whose body was not read: stop sending, then read and drop what the
  // client still sends (briefly, and at most kLingerBytes), so that closing does not reset the
  // connection before the client has read the refusal.
  void LingerThenClose() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(std::chrono::seconds(2));
    Drop();
  }
  void Drop() {
    stream_.async_read_some(net::buffer(scratch_), [self = shared_from_this()](beast::error_code ec, size_t n) {
      self->lingered_ += n;
      if (ec || self->lingered_ > kLingerBytes) return self->Close();
      self->Drop();
    });
  }
  static constexpr size_t kLingerBytes = 1 << 20;
  static constexpr size_t kHeaderReadBytes = 4096;

  beast::tcp_stream stream_;
  HttpServer::Impl& server_;
  const uint64_t id_;
  static beast::string_view Trim(beast::string_view v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    return v;
  }

  const bool overflow_;  // opened over max_connections: operational routes only
  std::atomic<bool> idle_{false};
  beast::flat_buffer buffer_;
  size_t header_scanned_ = 0;  // octets of buffer_ looked at for the end of the header
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string head_;   // the response being written: its status line and header,
  SecretString body_;  // and its body
  http::response<http::empty_body> continue_;
  State state_ = State::kReading;
  bool keep_alive_ = true;
  bool head_request_ = false;
  bool draining_ = false;
  bool close_after_write_ = false;
  bool linger_ = false;
  bool peer_address_known_ = false;
  std::string peer_address_;  // empty when the kernel could not say
  size_t lingered_ = 0;
  char scratch_[4096];
};

void HttpServer::Impl::Register(uint64_t id, const std::shared_ptr<HttpSession>& s) {
  std::lock_guard<std::mutex> lock(sessions_mu);
  sessions.emplace(id, s);
}

void HttpServer::Impl::Unregister(uint64_t id) {
  std::lock_guard<std::mutex> lock(sessions_mu);
  sessions.erase(id);
}

void HttpServer::Impl::Accept() {
  acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (stopping.load() || ec == net::error::operation_aborted) return;
    if (ec) return OnAcceptError(ec);
    backoff_delay = std::chrono::milliseconds(0);
    size_t open = open_connections.load();
    // At the limit, an idle connection (keep-alive, or a header still trickling in) makes room
    // for the new one, as nginx reuses its idle connections: a flood of idle connections then
    // cannot lock out clients that have something to ask.
    if (open >= options.max_connections && EvictOldestIdle()) open = options.max_connections - 1;
    if (open >= options.max_connections + kOverflowConnections) {
      // Past even the overflow: close at once, so the descriptor is back before the next accept.
      metrics.ConnectionRefused();
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      std::make_shared<HttpSession>(std::move(socket), *this, open >= options.max_connections)->Start();
    }
    Accept();
  });
}

bool HttpServer::Impl::EvictOldestIdle() {
  std::shared_ptr<HttpSession> oldest;
  {
    std::lock_guard<std::mutex> lock(sessions_mu);
    for (auto& [id, weak] : sessions) {
      auto s = weak.lock();
      if (s && s->idle() && (!oldest || s->id() < oldest->id())) oldest = std::move(s);
    }
  }
  if (!oldest) return false;
  oldest->Evict();
  return true;
}

// Out of descriptors (EMFILE, ENFILE) or kernel memory, accept fails at once for as long as the
// condition lasts: retrying at once pins a core and floods the log. Wait, doubling from 5 ms to
// 1 s while the errors go on, and log once per interval.
void HttpServer::Impl::OnAcceptError(const boost::system::error_code& ec) {
  const auto now = std::chrono::steady_clock::now();
  if (now - last_accept_log >= kAcceptLogInterval) {
    const std::string unlogged = unlogged_accept_errors > 0 ? ", and " + std::to_string(unlogged_accept_errors) +
                                                                   " more since the last message"
                                                             : "";
    std::fprintf(stderr, "mcx-kms: accept failed: %s%s (%s)\n", ec.message().c_str(), unlogged.c_str(),
                 ec == net::error::no_descriptors
                     ? "the open-file limit is reached: raise `ulimit -n` or LimitNOFILE=, or lower --max-connections"
                     : "retrying with a back-off");
    last_accept_log = now;
    unlogged_accept_errors = 0;
  } else {
    ++unlogged_accept_errors;
  }
  backoff_delay = std::clamp(backoff_delay * 2, std::chrono::milliseconds(5), std::chrono::milliseconds(1000));
  accept_backoff.expires_after(backoff_delay);
  accept_backoff.async_wait([this](beast::error_code wec) {
    if (wec || stopping.load()) return;
    Accept();
  });
}

void HttpServer::Impl::Shutdown() {
  if (stopping.exchange(true)) return;
  net::post(acceptor.get_executor(), [this] {
    beast::error_code ignored;
    acceptor.close(ignored);
    accept_backoff.cancel();
    signals.cancel(ignored);
  });
  std::vector<std::shared_ptr<HttpSession>> live;
  {
    std::lock_guard<std::mutex> lock(sessions_mu);
    for (auto& [id, weak] : sessions) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
  }
  for (auto& s : live) s->Drain();
}

void HttpServer::Impl::Wait() {
  std::call_once(joined, [this] {
    for (std::thread& t : io_threads) t.join();
    workers.join();
  });
}

HttpServer::HttpServer(HttpServerOptions options, ApiMetrics& metrics)
    : impl_(std::make_unique<Impl>(std::move(options), metrics)) {}

HttpServer::~HttpServer() {
  impl_->Shutdown();
  impl_->Wait();
}

int DefaultWorkerThreads() { return CoreCount(); }

WorkerExecutor HttpServer::workers() {
  return [impl = impl_.get()](std::function<void()> task) { net::post(impl->workers, std::move(task)); };
}

Status HttpServer::Start(RequestHandler& handler) {
  impl_->handler = &handler;
  // Every connection costs a descriptor: take the hard limit, and keep max_connections (plus the
  // overflow) below it with room for the process's own files, or accept would fail under load.
  const size_t limit = RaiseDescriptorLimit();
  if (limit != 0 && limit != SIZE_MAX) {
    const size_t usable = limit > 2 * kReservedDescriptors ? limit - 2 * kReservedDescriptors : 1;
    if (impl_->options.max_connections > usable) {
      std::fprintf(stderr,
                   "mcx-kms: --max-connections %zu is more than the open-file limit (%zu) allows; serving at most "
                   "%zu connections at once (raise `ulimit -n` or LimitNOFILE= for more)\n",
                   impl_->options.max_connections, limit, usable);
      impl_->options.max_connections = usable;
    }
  }
  beast::error_code ec;
  const auto address = net::ip::make_address(impl_->options.host, ec);
  if (ec) return Status::InvalidArgument("cannot listen on '" + impl_->options.host + "': not an IP address");
  const tcp::endpoint endpoint(address, impl_->options.port);
  tcp::acceptor& a = impl_->acceptor;
  a.open(endpoint.protocol(), ec);
  if (!ec) a.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(endpoint, ec);
  if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::Unavailable("cannot listen on " + impl_->options.host + ":" + std::to_string(impl_->options.port) +
                               ": " + ec.message());
  }
  impl_->bound_port = a.local_endpoint(ec).port();
  impl_->Accept();
  const int n = std::max(1, impl_->options.io_threads);
  for (int i = 0; i < n; ++i) impl_->io_threads.emplace_back([impl = impl_.get()] { impl->ioc.run(); });
  return Status::Ok();
}

uint16_t HttpServer::port() const { return impl_->bound_port; }

void HttpServer::StopOnSignals() {
  impl_->signals.add(SIGTERM);
  impl_->signals.add(SIGINT);
  impl_->signals.async_wait([impl = impl_.get()](beast::error_code ec, int) {
    if (!ec) impl->Shutdown();
  });
}

void HttpServer::Shutdown() { impl_->Shutdown(); }

void HttpServer::Wait() { impl_->Wait(); }

}  // namespace mcx::api
