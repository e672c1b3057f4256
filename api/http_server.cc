#include "api/http_server.h"

#include <atomic>
#include <boost/asio/dispatch.hpp>
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

#include "base/secret.h"

namespace mcx::api {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

}  // namespace

class HttpSession;

struct HttpServer::Impl {
  explicit Impl(HttpServerOptions opts, ApiMetrics& m)
      : options(std::move(opts)),
        metrics(m),
        workers(static_cast<size_t>(std::max(1, options.worker_threads))),
        acceptor(net::make_strand(ioc)),
        signals(ioc) {}

  void Accept();
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
  net::signal_set signals;
  std::vector<std::thread> io_threads;
};

// One connection: read a request (header, then body, each against its deadline), hand it to the
// handler, write the reply, and go again while keep-alive holds. Every step runs on the strand.
class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket&& socket, HttpServer::Impl& server, bool refused)
      : stream_(std::move(socket)), server_(server), id_(server.next_id.fetch_add(1)), refused_(refused) {
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
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      if (self->refused_) {
        self->server_.metrics.ConnectionRefused();
        return self->Refuse(503, "the server has too many connections open: try again shortly");
      }
      self->ReadHeader();
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
    head_request_ = false;
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(server_.options.max_header_bytes));
    parser_->body_limit(server_.options.max_body_bytes);
    stream_.expires_after(server_.options.header_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    const auto& req = parser_->get();
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
    keep_alive_ = req.keep_alive();
    head_request_ = req.method() == http::verb::head;
    ApiRequest api;
    api.method = std::string(req.method_string());
    api.target = std::string(req.target());
    api.authorization = std::string(req[http::field::authorization]);
    api.host = std::string(req[http::field::host]);
    api.forwarded_proto = std::string(req["X-Forwarded-Proto"]);
    api.body = std::move(req.body());
    // Hold the I/O context open until the reply is back on the strand, even during shutdown.
    auto work = net::prefer(server_.ioc.get_executor(), net::execution::outstanding_work.tracked);
    server_.handler->Handle(std::move(api), [self = shared_from_this(), work](ApiResponse response) {
      net::post(self->stream_.get_executor(), [self, r = std::move(response)]() mutable {
        self->Write(std::move(r), !self->keep_alive_);
      });
    });
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
    response_ = {};
    response_.version(11);
    response_.result(static_cast<unsigned>(r.status));
    response_.set(http::field::server, "mcx-kms");
    response_.set(http::field::content_type, r.content_type);
    response_.set(http::field::cache_control, "no-store");
    for (auto& [name, value] : r.headers) response_.set(name, value);
    response_.body() = std::move(r.body);
    if (head_request_) {
      if (r.holds_secrets) SecureWipe(response_.body().data(), response_.body().size());
      response_.body().clear();  // a response to HEAD has no body
    }
    response_.keep_alive(!close_after_write_);
    response_.prepare_payload();
    holds_secrets_ = r.holds_secrets;
    stream_.expires_after(server_.options.write_timeout);
    http::async_write(stream_, response_, [self = shared_from_this()](beast::error_code ec, size_t) {
      self->OnWrite(ec);
    });
  }

  void OnWrite(beast::error_code ec) {
    if (holds_secrets_) {
      std::string& body = response_.body();
      SecureWipe(body.data(), body.size());
      holds_secrets_ = false;
    }
    response_.body().clear();
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

  beast::tcp_stream stream_;
  HttpServer::Impl& server_;
  const uint64_t id_;
  const bool refused_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  http::response<http::empty_body> continue_;
  State state_ = State::kReading;
  bool keep_alive_ = true;
  bool head_request_ = false;
  bool draining_ = false;
  bool close_after_write_ = false;
  bool holds_secrets_ = false;
  bool linger_ = false;
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
    if (ec) {
      std::fprintf(stderr, "mcx-kms: accept failed: %s\n", ec.message().c_str());
    } else {
      const bool refused = open_connections.load() >= options.max_connections;
      std::make_shared<HttpSession>(std::move(socket), *this, refused)->Start();
    }
    Accept();
  });
}

void HttpServer::Impl::Shutdown() {
  if (stopping.exchange(true)) return;
  net::post(acceptor.get_executor(), [this] {
    beast::error_code ignored;
    acceptor.close(ignored);
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

WorkerExecutor HttpServer::workers() {
  return [impl = impl_.get()](std::function<void()> task) { net::post(impl->workers, std::move(task)); };
}

Status HttpServer::Start(RequestHandler& handler) {
  impl_->handler = &handler;
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
