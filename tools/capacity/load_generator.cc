#include "tools/capacity/load_generator.h"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <random>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace mcx::capacity {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

std::string HttpEndpoint::ToString() const { return "http://" + host + ":" + std::to_string(port) + base_path; }

Result<HttpEndpoint> ParseHttpUrl(std::string_view url) {
  HttpEndpoint ep;
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return Status::InvalidArgument("the KMS URL must start with http:// (for a TLS proxy, aim at its plain-HTTP side)");
  }
  std::string_view rest = url.substr(kScheme.size());
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string path(rest.substr(slash));
    if (path != "/") {
      if (path.back() != '/') path += '/';
      ep.base_path = path;
    }
  }
  if (authority.empty()) return Status::InvalidArgument("the KMS URL has no host");
  size_t colon = authority.rfind(':');
  if (authority.front() == '[') {  // [IPv6]:port
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return Status::InvalidArgument("the KMS URL has an unclosed [");
    ep.host = std::string(authority.substr(1, close - 1));
    colon = close + 1 < authority.size() && authority[close + 1] == ':' ? close + 1 : std::string_view::npos;
  } else {
    ep.host = std::string(authority.substr(0, colon));
  }
  if (colon != std::string_view::npos) {
    const std::string port(authority.substr(colon + 1));
    char* end = nullptr;
    const long v = std::strtol(port.c_str(), &end, 10);
    if (port.empty() || *end != '\0' || v < 1 || v > 65535) {
      return Status::InvalidArgument("the KMS URL's port must be a number from 1 to 65535");
    }
    ep.port = static_cast<uint16_t>(v);
  }
  if (ep.host.empty()) return Status::InvalidArgument("the KMS URL has no host");
  return ep;
}

const char* KmsRequestKindName(KmsRequestKind kind) { return kind == KmsRequestKind::kInit ? "init" : "keyprov"; }

// Shared by the connections of one Run(); touched only on the I/O thread.
struct LoadGenerator::RunState {
  asio::io_context io;
  tcp::resolver::results_type endpoints;
  Clock::time_point start, measure_start, end;
  Clock::duration interval{};  // open loop: time between due requests
  uint64_t next_due = 0;       // open loop: index of the next due request
  uint64_t next_request = 0;   // which user and kind the next request is
  LoadResult result;
  std::mt19937_64 sampler{20240601};
  uint64_t keyprov_seen = 0;   // measured successful keyprovs, for the reservoir
  bool stopping = false;
  int active = 0;  // connections that have not retired
  asio::steady_timer* backstop = nullptr;
  std::vector<std::shared_ptr<Connection>> connections;
};

class LoadGenerator::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(LoadGenerator& gen, RunState& run) : gen_(gen), run_(run), stream_(run.io), timer_(run.io) {}

  void Start() { Connect(); }
  void Stop() {
    beast::error_code ignored;
    timer_.cancel();
    stream_.socket().close(ignored);
  }

 private:
  bool Over() const { return run_.stopping || Clock::now() >= run_.end; }

  // This connection sends nothing more; the last one to retire ends the run.
  void Retire() {
    if (retired_) return;
    retired_ = true;
    if (--run_.active == 0 && run_.backstop != nullptr) run_.backstop->cancel();
  }

  void Connect() {
    if (Over()) return Retire();
    stream_.expires_after(gen_.options_.timeout);
    stream_.async_connect(run_.endpoints, [self = shared_from_this()](beast::error_code ec, const tcp::endpoint&) {
      self->OnConnect(ec);
    });
  }

  void OnConnect(beast::error_code ec) {
    if (ec) {
      const Clock::time_point now = Clock::now();
      if (!run_.stopping) Record(now, now, ec == beast::error::timeout ? kTimeout : kConnectionError, 0, {});
      // Back off a little so a refusing server is not spun on.
      Reopen(std::chrono::milliseconds(20));
      return;
    }
    Next();
  }

  void Reopen(std::chrono::milliseconds delay) {
    beast::error_code ignored;
    stream_.socket().close(ignored);
    if (Over()) return Retire();
    timer_.expires_after(delay);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->Connect();
    });
  }

  void Next() {
    if (Over()) return Finish();
    const Clock::time_point now = Clock::now();
    if (gen_.options_.rate <= 0) return Send(now);
    const Clock::time_point due = run_.start + run_.interval * static_cast<int64_t>(run_.next_due);
    if (due >= run_.end) return Finish();
    ++run_.next_due;
    if (due <= now) return Send(due);
    timer_.expires_at(due);
    timer_.async_wait([self = shared_from_this(), due](beast::error_code ec) {
      if (!ec) self->Send(due);
    });
  }

  void Finish() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
    Retire();
  }

  void Send(Clock::time_point due) {
    if (run_.stopping) return Retire();
    due_ = due;
    const uint64_t k = run_.next_request++;
    const UserCredential& user = gen_.users_[k % gen_.users_.size()];
    const uint64_t cycle = static_cast<uint64_t>(gen_.options_.init_weight + gen_.options_.keyprov_weight);
    kind_ = (k % cycle) < static_cast<uint64_t>(gen_.options_.init_weight) ? KmsRequestKind::kInit
                                                                          : KmsRequestKind::kKeyProv;
    const std::string& base = gen_.endpoint_.base_path;
    req_ = {};
    req_.method(http::verb::post);
    std::string target = kind_ == KmsRequestKind::kInit ? base + "init" : base + "keyprov/" + user.user_uri;
    if (kind_ == KmsRequestKind::kKeyProv && gen_.options_.random_past_periods) target += RandomPastTime();
    req_.target(target);
    req_.version(11);
    req_.set(http::field::host, gen_.endpoint_.host);
    req_.set(http::field::authorization, "Bearer " + user.token);
    req_.set(http::field::user_agent, "mcx-kms-bench");
    req_.keep_alive(true);
    req_.content_length(0);
    parser_.emplace();
    parser_->body_limit(4 * 1024 * 1024);
    stream_.expires_after(gen_.options_.timeout);
    http::async_write(stream_, req_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->OnAnswer(ec);
      http::async_read(self->stream_, self->buffer_, *self->parser_,
                       [self](beast::error_code ec2, size_t) { self->OnAnswer(ec2); });
    });
  }

  // "/XXXXXXXX00000000": an NTP timestamp from 1968 up to a month ago.
  std::string RandomPastTime() {
    const auto unix_now = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch()).count();
    const uint64_t ntp_last = static_cast<uint64_t>(unix_now) + 2208988800ull - 31ull * 86400;
    const uint64_t secs = std::uniform_int_distribution<uint64_t>(0x80000000ull, ntp_last)(run_.sampler);
    char buf[24];
    std::snprintf(buf, sizeof buf, "/%08llX00000000", static_cast<unsigned long long>(secs & 0xFFFFFFFFull));
    return buf;
  }

  static constexpr int kTimeout = -1;
  static constexpr int kConnectionError = -2;

  void OnAnswer(beast::error_code ec) {
    const Clock::time_point now = Clock::now();
    if (ec) {
      if (!run_.stopping) Record(due_, now, ec == beast::error::timeout ? kTimeout : kConnectionError, 0, {});
      buffer_.clear();
      return Reopen(std::chrono::milliseconds(0));
    }
    http::response<http::string_body> res = parser_->release();
    const int status = static_cast<int>(res.result_int());
    Record(due_, now, status, kind_ == KmsRequestKind::kInit ? 0 : 1, std::move(res.body()));
    if (!res.keep_alive()) return Reopen(std::chrono::milliseconds(0));
    Next();
  }

  // One finished request: due at `due`, over at `now`, with an HTTP status or a negative kind.
  void Record(Clock::time_point due, Clock::time_point now, int outcome, int kind, std::string body) {
    LoadResult& r = run_.result;
    const bool ok = outcome == 200;
    gen_.completed_.fetch_add(1, std::memory_order_relaxed);
    if (!ok) gen_.failed_.fetch_add(1, std::memory_order_relaxed);
    const auto second = static_cast<size_t>(std::chrono::duration_cast<std::chrono::seconds>(now - run_.start).count());
    if (second >= r.timeline.size()) r.timeline.resize(second + 1);
    (ok ? r.timeline[second].ok : r.timeline[second].errors)++;
    if (outcome > 0) ++r.responses_by_status[kind][outcome];
    if (due < run_.measure_start) {
      ++r.warmup_requests;
      return;
    }
    ++r.requests;
    if (outcome == kTimeout) {
      ++r.timeouts;
    } else if (outcome == kConnectionError) {
      ++r.connection_errors;
    } else if (!ok) {
      ++r.http_errors[outcome];
    } else {
      ++r.ok;
      ++r.ok_by_kind[kind];
      const auto micros = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(now - due).count());
      r.latency.Record(micros);
      r.latency_by_kind[kind].Record(micros);
      if (kind == 0 && r.init_sample.empty()) r.init_sample = std::move(body);
      if (kind == 1) KeepSample(std::move(body));
    }
  }

  void KeepSample(std::string body) {
    std::vector<std::string>& kept = run_.result.keyprov_samples;
    const size_t want = gen_.options_.keyprov_samples;
    const uint64_t seen = run_.keyprov_seen++;
    if (kept.size() < want) {
      kept.push_back(std::move(body));
      return;
    }
    const uint64_t slot = std::uniform_int_distribution<uint64_t>(0, seen)(run_.sampler);
    if (slot < want) kept[slot] = std::move(body);
  }

  LoadGenerator& gen_;
  RunState& run_;
  beast::tcp_stream stream_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  http::request<http::empty_body> req_;
  std::optional<http::response_parser<http::string_body>> parser_;
  Clock::time_point due_{};
  KmsRequestKind kind_ = KmsRequestKind::kKeyProv;
  bool retired_ = false;
};

LoadGenerator::LoadGenerator(HttpEndpoint endpoint, std::vector<UserCredential> users, LoadOptions options)
    : endpoint_(std::move(endpoint)), users_(std::move(users)), options_(options) {}

LoadGenerator::~LoadGenerator() = default;

Result<LoadResult> LoadGenerator::Run() {
  const LoadOptions& o = options_;
  if (users_.empty()) return Status::InvalidArgument("no users to send requests for");
  if (o.connections < 1 || o.connections > 10000) return Status::InvalidArgument("--connections must be 1..10000");
  if (o.duration.count() <= 0) return Status::InvalidArgument("--duration must be positive");
  if (o.warmup.count() < 0) return Status::InvalidArgument("--warmup must not be negative");
  if (o.timeout.count() <= 0) return Status::InvalidArgument("--timeout-ms must be positive");
  if (o.rate < 0) return Status::InvalidArgument("--rate must not be negative");
  if (o.init_weight < 0 || o.keyprov_weight < 0 || o.init_weight + o.keyprov_weight == 0) {
    return Status::InvalidArgument("--mix needs a positive init or keyprov share, e.g. 1:9");
  }

  RunState run;
  beast::error_code ec;
  tcp::resolver resolver(run.io);
  run.endpoints = resolver.resolve(endpoint_.host, std::to_string(endpoint_.port), ec);
  if (ec) return Status::Unavailable("cannot resolve " + endpoint_.host + ": " + ec.message());

  run.start = Clock::now();
  run.measure_start = run.start + o.warmup;
  run.end = run.measure_start + o.duration;
  if (o.rate > 0) {
    run.interval = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / o.rate));
    if (run.interval.count() <= 0) run.interval = Clock::duration(1);
  }
  run.result.warmup_seconds = std::chrono::duration<double>(o.warmup).count();
  run.result.measured_seconds = std::chrono::duration<double>(o.duration).count();

  run.active = o.connections;
  for (int i = 0; i < o.connections; ++i) {
    run.connections.push_back(std::make_shared<Connection>(*this, run));
    run.connections.back()->Start();
  }
  // The backstop: whatever a server does, the run is over one timeout (and a little) after the end.
  asio::steady_timer backstop(run.io);
  backstop.expires_at(run.end + o.timeout + std::chrono::milliseconds(500));
  backstop.async_wait([&run](beast::error_code e) {
    if (e) return;
    run.stopping = true;
    for (auto& c : run.connections) c->Stop();
  });
  run.backstop = &backstop;
  // Returns when every connection has retired (which cancels the backstop) or the backstop fired.
  run.io.run();
  run.connections.clear();
  return std::move(run.result);
}

Result<HttpReply> FetchOnce(const HttpEndpoint& endpoint, const std::string& verb, const std::string& target,
                            const std::string& bearer_token, std::chrono::milliseconds timeout) {
  asio::io_context io;
  beast::error_code ec;
  tcp::resolver resolver(io);
  auto endpoints = resolver.resolve(endpoint.host, std::to_string(endpoint.port), ec);
  if (ec) return Status::Unavailable("cannot resolve " + endpoint.host + ": " + ec.message());
  beast::tcp_stream stream(io);
  http::request<http::empty_body> req{verb == "GET" ? http::verb::get : http::verb::post, target, 11};
  req.set(http::field::host, endpoint.host);
  if (!bearer_token.empty()) req.set(http::field::authorization, "Bearer " + bearer_token);
  req.set(http::field::user_agent, "mcx-kms-bench");
  req.content_length(0);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  beast::error_code failure;
  stream.expires_after(timeout);  // one deadline for the whole exchange
  stream.async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) {
    if (e) return void(failure = e);
    http::async_write(stream, req, [&](beast::error_code e2, size_t) {
      if (e2) return void(failure = e2);
      http::async_read(stream, buffer, res, [&](beast::error_code e3, size_t) { failure = e3; });
    });
  });
  io.run();
  if (failure) {
    return Status::Unavailable(verb + " " + endpoint.host + ":" + std::to_string(endpoint.port) + target + ": " +
                               (failure == beast::error::timeout ? std::string("timed out") : failure.message()));
  }
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  return HttpReply{static_cast<int>(res.result_int()), std::move(res.body())};
}

}  // namespace mcx::capacity
