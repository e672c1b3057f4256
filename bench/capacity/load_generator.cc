#include "bench/capacity/load_generator.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <memory>
#include <optional>
#include <random>
#include <system_error>
#include <thread>
#include <type_traits>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/grammar/ci_string.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include "bench/capacity/sample_reservoir.h"

namespace mcx::capacity {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;
using Clock = std::chrono::steady_clock;

namespace {
std::string BracketedHost(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;  // an IPv6 literal
}
}  // namespace

std::string HttpEndpoint::ToString() const {
  return (tls ? "https://" : "http://") + BracketedHost(host) + ":" + std::to_string(port) + base_path;
}

std::string HttpEndpoint::HostHeader() const {
  // RFC 9110 7.2: the port when it is not the scheme's default; an IPv6 literal in brackets.
  std::string h = BracketedHost(host);
  if (port != (tls ? 443 : 80)) h += ":" + std::to_string(port);
  return h;
}

Result<HttpEndpoint> ParseHttpUrl(std::string_view url) {
  // RFC 3986 as Boost.URL reads it; on top of that, what a KMS endpoint may be.
  static constexpr char kForm[] = "the KMS URL must start with http:// or https://, e.g. https://kms.example.org";
  const boost::urls::result<boost::urls::url_view> parsed = boost::urls::parse_uri(url);
  if (!parsed) {
    auto starts_with = [url](std::string_view scheme) {
      return url.size() >= scheme.size() && boost::urls::grammar::ci_is_equal(url.substr(0, scheme.size()), scheme);
    };
    if (!starts_with("http://") && !starts_with("https://")) return Status::InvalidArgument(kForm);
    return Status::InvalidArgument("the KMS URL is not a valid URL (" + parsed.error().message() +
                                   "): percent-encode what RFC 3986 does not allow, e.g. a space as %20");
  }
  const boost::urls::url_view& u = *parsed;
  HttpEndpoint ep;
  if (u.scheme_id() == boost::urls::scheme::https) {
    ep.tls = true;
    ep.port = 443;
  } else if (u.scheme_id() != boost::urls::scheme::http || !u.has_authority()) {
    return Status::InvalidArgument(kForm);
  }
  if (u.has_userinfo()) {
    return Status::InvalidArgument(
        "the KMS URL must not carry a user or password (user@host): the load authenticates with access tokens");
  }
  if (u.has_query() || u.has_fragment()) {
    return Status::InvalidArgument(
        "the KMS URL must not have a ?query or #fragment: give http(s)://HOST[:PORT][/PREFIX]");
  }
  if (u.host_type() == boost::urls::host_type::ipvfuture) {
    return Status::InvalidArgument(
        "the KMS URL's host is an IPvFuture literal, which cannot be reached: use a name or an IP address");
  }
  ep.host = u.host_address();  // an IPv6 literal without its brackets; a name percent-decoded
  if (ep.host.empty()) return Status::InvalidArgument("the KMS URL has no host");
  // A DNS name has at most 253 characters; SNI would refuse a longer one at every connect.
  if (ep.host.size() > 253) return Status::InvalidArgument("the KMS URL's host is longer than 253 characters");
  if (u.has_port()) {
    // port_number() wraps values past 65535, so read the digits here.
    const std::string_view digits = u.port();
    unsigned long v = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || v < 1 || v > 65535) {
      return Status::InvalidArgument("the KMS URL's port must be a number from 1 to 65535");
    }
    ep.port = static_cast<uint16_t>(v);
  }
  // The prefix goes on the wire as written (still percent-encoded), and always ends in '/'.
  std::string path(u.encoded_path());
  if (!path.empty() && path != "/") {
    if (path.back() != '/') path += '/';
    ep.base_path = path;
  }
  return ep;
}

namespace {

bool IsIpLiteral(const std::string& host) {
  beast::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// The client context of one endpoint: TLS 1.2 or later, and whom to trust.
Result<std::unique_ptr<ssl::context>> MakeTlsContext(const HttpEndpoint& ep) {
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
  if (SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION) != 1) {
    return Status::Internal("OpenSSL refused TLS 1.2 as the lowest version");
  }
  beast::error_code ec;
  ctx->set_verify_mode(ep.verify_peer ? ssl::verify_peer : ssl::verify_none, ec);
  if (!ec && ep.verify_peer) {
    if (!ep.ca_file.empty()) {
      ctx->load_verify_file(ep.ca_file, ec);
      if (ec) {
        return Status::InvalidArgument("cannot load --ca-file " + ep.ca_file + " (" + ec.message() +
                                       "): give the proxy's certificate, or its CA's, in PEM");
      }
    } else {
      ctx->set_default_verify_paths(ec);
    }
  }
  if (ec) return Status::Unavailable("cannot set up TLS certificate verification: " + ec.message() + "; pass --ca-file");
  return ctx;
}

// ssl::host_name_verification, which also says why: on its own it fails the handshake with the
// chain's verification result still "ok", and the reason would be lost.
class VerifyHostName {
 public:
  explicit VerifyHostName(const std::string& host) : check_(host), ip_(IsIpLiteral(host)) {}
  bool operator()(bool preverified, ssl::verify_context& ctx) const {
    if (check_(preverified, ctx)) return true;
    if (preverified) {
      X509_STORE_CTX_set_error(ctx.native_handle(), ip_ ? X509_V_ERR_IP_ADDRESS_MISMATCH : X509_V_ERR_HOSTNAME_MISMATCH);
    }
    return false;
  }

 private:
  ssl::host_name_verification check_;
  bool ip_;
};

// Before a handshake: SNI (names only; RFC 6066 forbids IP literals) and the host name check.
bool PrepareTlsStream(TlsStream& stream, const HttpEndpoint& ep) {
  if (!IsIpLiteral(ep.host) && SSL_set_tlsext_host_name(stream.native_handle(), ep.host.c_str()) != 1) return false;
  if (ep.verify_peer) {
    beast::error_code ec;
    stream.set_verify_callback(VerifyHostName(ep.host), ec);
    if (ec) return false;
  }
  return true;
}

// Why a handshake failed, and what to do. Holds no secrets: host, port and OpenSSL's reason.
std::string DescribeTlsFailure(const HttpEndpoint& ep, TlsStream& stream, const beast::error_code& ec) {
  const std::string where = "TLS handshake with " + ep.host + ":" + std::to_string(ep.port) + " failed: ";
  const long verify = SSL_get_verify_result(stream.native_handle());
  if (ep.verify_peer && ec.category() == asio::error::get_ssl_category() && verify != X509_V_OK) {
    const std::string reason = std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify);
    if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH) {
      return where + reason + " (the certificate does not name " + ep.host +
             "); use a host name the certificate carries, or --insecure for a lab";
    }
    return where + reason + "; pass --ca-file with the proxy's certificate (or its CA's), or --insecure for a lab";
  }
  return where + ec.message() + "; check that " + ep.host + ":" + std::to_string(ep.port) +
         " speaks TLS (for a plain-HTTP port, use http://)";
}

// The seed of each I/O thread's sampler (thread t: kSamplerSeed + t) and of the samples' merge.
constexpr uint64_t kSamplerSeed = 20240601;

// When the run's phases begin and end, the same for every I/O thread (each keeps a copy, so
// reading it never touches a cache line another thread writes).
struct ClockPlan {
  Clock::time_point start, measure_start, end;
  Clock::duration interval{};  // open loop: time between due requests
};

// The one global sequence of requests, drawn from by every connection of every I/O thread: the
// only state the threads write in common. A free connection takes the next index wherever it
// runs, so the due times and the users and kinds follow the same sequence as on one thread.
struct alignas(64) RequestSequence {
  std::atomic<uint64_t> next_due{0};      // open loop: index of the next due request
  std::atomic<uint64_t> next_request{0};  // k: which user and kind the next request is
};

}  // namespace

const char* KmsRequestKindName(KmsRequestKind kind) { return kind == KmsRequestKind::kInit ? "init" : "keyprov"; }

// One I/O thread's part of a Run(): its own io_context, TLS context, connections and results.
// Touched only on that thread, but for the atomics of `sequence` and `counters`.
struct LoadGenerator::RunState {
  RunState(const ClockPlan& p, RequestSequence& seq, ThreadCounters& c, uint64_t seed, size_t samples)
      : plan(p), sequence(seq), counters(c), sampler(seed), keyprov_samples(samples) {}

  std::unique_ptr<ssl::context> tls;  // https:// only; outlives io and the streams it holds
  asio::io_context io;
  asio::steady_timer backstop{io};
  tcp::resolver::results_type endpoints;
  const ClockPlan plan;
  RequestSequence& sequence;
  ThreadCounters& counters;
  LoadResult result;
  Clock::time_point tls_error_at{};  // when result.tls_error was noted, to keep the run's first
  std::mt19937_64 sampler;
  SampleReservoir keyprov_samples;  // measured successful keyprov answers
  bool stopping = false;
  int active = 0;  // connections that have not retired
  std::vector<std::shared_ptr<Connection>> connections;
};

// What a connection does whatever it runs over: which request is next, and how its outcome counts.
class LoadGenerator::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(LoadGenerator& gen, RunState& run) : gen_(gen), run_(run), timer_(run.io) {}
  virtual ~Connection() = default;

  virtual void Start() = 0;
  virtual void Stop() = 0;  // the backstop: abandon whatever is in flight

 protected:
  // Outcomes that are not an HTTP status.
  static constexpr int kTimeout = -1;
  static constexpr int kConnectionError = -2;
  static constexpr int kTlsError = -3;

  bool Over() const { return run_.stopping || Clock::now() >= run_.plan.end; }

  // This connection sends nothing more; the last one to retire ends the run.
  void Retire() {
    if (retired_) return;
    retired_ = true;
    if (--run_.active == 0) run_.backstop.cancel();
  }

  // The next request of the run, due at `due`, into req_ and kind_.
  void PrepareRequest(Clock::time_point due) {
    due_ = due;
    const uint64_t k = run_.sequence.next_request.fetch_add(1, std::memory_order_relaxed);
    const UserCredential& user = gen_.users_[k % gen_.users_.size()];
    const uint64_t cycle = static_cast<uint64_t>(gen_.options_.init_weight + gen_.options_.keyprov_weight);
    kind_ = (k % cycle) < static_cast<uint64_t>(gen_.options_.init_weight) ? KmsRequestKind::kInit
                                                                          : KmsRequestKind::kKeyProv;
    const std::string& base = gen_.endpoint_.base_path;
    req_ = {};
    req_.method(http::verb::post);
    std::string target = kind_ == KmsRequestKind::kInit ? base + "init" : base + "keyprov/" + user.user_uri;
    if (kind_ == KmsRequestKind::kKeyProv && gen_.options_.on_demand()) target += RandomTimeInWindow();
    req_.target(target);
    req_.version(11);
    req_.set(http::field::host, gen_.endpoint_.HostHeader());
    req_.set(http::field::authorization, "Bearer " + user.token);
    req_.set(http::field::user_agent, "mcx-kms-bench");
    req_.keep_alive(true);
    req_.content_length(0);
  }

  // "/XXXXXXXX00000000": an NTP timestamp in the on-demand window (era 1 written as its low 32 bits).
  std::string RandomTimeInWindow() {
    const uint64_t secs = std::uniform_int_distribution<uint64_t>(gen_.options_.on_demand_from,
                                                                  gen_.options_.on_demand_to)(run_.sampler);
    return fmt::format("/{:08X}00000000", secs & 0xFFFFFFFFull);
  }

  // The first TLS failure's reason goes into the report; the rest are only counted.
  void NoteTlsError(std::string reason) {
    if (!run_.result.tls_error.empty()) return;
    run_.result.tls_error = std::move(reason);
    run_.tls_error_at = Clock::now();
  }

  // One finished request: due at `due`, over at `now`, with an HTTP status or a negative kind.
  void Record(Clock::time_point due, Clock::time_point now, int outcome, int kind, std::string body) {
    LoadResult& r = run_.result;
    const bool ok = outcome == 200;
    run_.counters.completed.fetch_add(1, std::memory_order_relaxed);
    if (!ok) run_.counters.failed.fetch_add(1, std::memory_order_relaxed);
    const auto second =
        static_cast<size_t>(std::chrono::duration_cast<std::chrono::seconds>(now - run_.plan.start).count());
    if (second >= r.timeline.size()) r.timeline.resize(second + 1);
    (ok ? r.timeline[second].ok : r.timeline[second].errors)++;
    if (outcome > 0) ++r.responses_by_status[kind][outcome];
    if (due < run_.plan.measure_start) {
      ++r.warmup_requests;
      return;
    }
    ++r.requests;
    if (outcome == kTimeout) {
      ++r.timeouts;
    } else if (outcome == kConnectionError) {
      ++r.connection_errors;
    } else if (outcome == kTlsError) {
      ++r.tls_errors;
    } else if (!ok) {
      ++r.http_errors[outcome];
    } else {
      ++r.ok;
      ++r.ok_by_kind[kind];
      const auto micros = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(now - due).count());
      r.latency.Record(micros);
      r.latency_by_kind[kind].Record(micros);
      if (kind == 0 && r.init_sample.empty()) r.init_sample = std::move(body);
      if (kind == 1) run_.keyprov_samples.Offer(std::move(body), run_.sampler);
    }
  }

  LoadGenerator& gen_;
  RunState& run_;
  asio::steady_timer timer_;
  http::request<http::empty_body> req_;
  Clock::time_point due_{};
  KmsRequestKind kind_ = KmsRequestKind::kKeyProv;

 private:
  bool retired_ = false;
};

// One keep-alive connection over Stream: beast::tcp_stream for http://, TlsStream for https://
// (one TLS session per TCP connection).
template <class Stream>
class LoadGenerator::Session final : public Connection {
 public:
  using Connection::Connection;

  void Start() override { Connect(); }
  void Stop() override {
    beast::error_code ignored;
    timer_.cancel();
    if (stream_) Tcp().socket().close(ignored);
  }

 private:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  std::shared_ptr<Session> Self() { return std::static_pointer_cast<Session>(shared_from_this()); }
  beast::tcp_stream& Tcp() { return beast::get_lowest_layer(*stream_); }

  void Connect() {
    if (Over()) return Retire();
    buffer_.clear();
    // A new stream for every TCP connection: an SSL object is not reused once its connection closed.
    if constexpr (kTls) {
      stream_.emplace(run_.io, *run_.tls);
      if (!PrepareTlsStream(*stream_, gen_.endpoint_)) {
        NoteTlsError("cannot set up TLS for " + gen_.endpoint_.host + " (SNI or host name check)");
        return ConnectFailed(kTlsError);
      }
    } else {
      stream_.emplace(run_.io);
    }
    Tcp().expires_after(gen_.options_.timeout);  // one deadline for the TCP connect and the handshake
    Tcp().async_connect(run_.endpoints, [self = Self()](beast::error_code ec, const tcp::endpoint&) {
      self->OnConnect(ec);
    });
  }

  void OnConnect(beast::error_code ec) {
    if (ec) return ConnectFailed(ec == beast::error::timeout ? kTimeout : kConnectionError);
    if constexpr (kTls) {
      stream_->async_handshake(ssl::stream_base::client,
                               [self = Self()](beast::error_code ec2) { self->OnHandshake(ec2); });
    } else {
      Next();
    }
  }

  void OnHandshake(beast::error_code ec) {
    if (!ec) return Next();
    if (ec == beast::error::timeout) return ConnectFailed(kTimeout);
    if (!run_.stopping) NoteTlsError(DescribeTlsFailure(gen_.endpoint_, *stream_, ec));
    ConnectFailed(kTlsError);
  }

  // No connection: one error, due now; back off a little so a refusing server is not spun on.
  void ConnectFailed(int outcome) {
    const Clock::time_point now = Clock::now();
    if (!run_.stopping) Record(now, now, outcome, 0, {});
    Reopen(std::chrono::milliseconds(20));
  }

  void Reopen(std::chrono::milliseconds delay) {
    beast::error_code ignored;
    Tcp().socket().close(ignored);
    if (Over()) return Retire();
    timer_.expires_after(delay);
    timer_.async_wait([self = Self()](beast::error_code ec) {
      if (!ec) self->Connect();
    });
  }

  void Next() {
    if (Over()) return Finish();
    const Clock::time_point now = Clock::now();
    if (gen_.options_.rate <= 0) return Send(now);
    const uint64_t index = run_.sequence.next_due.fetch_add(1, std::memory_order_relaxed);
    const Clock::time_point due = run_.plan.start + run_.plan.interval * static_cast<int64_t>(index);
    if (due >= run_.plan.end) return Finish();
    if (due <= now) return Send(due);
    timer_.expires_at(due);
    timer_.async_wait([self = Self(), due](beast::error_code ec) {
      if (!ec) self->Send(due);
    });
  }

  // The run is over. TLS too ends with a bare TCP close: a close_notify would only add a round
  // trip after the measured window.
  void Finish() {
    beast::error_code ignored;
    Tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
    Tcp().socket().close(ignored);
    Retire();
  }

  void Send(Clock::time_point due) {
    if (run_.stopping) return Retire();
    PrepareRequest(due);
    parser_.emplace();
    parser_->body_limit(4 * 1024 * 1024);
    Tcp().expires_after(gen_.options_.timeout);
    http::async_write(*stream_, req_, [self = Self()](beast::error_code ec, size_t) {
      if (ec) return self->OnAnswer(ec);
      http::async_read(*self->stream_, self->buffer_, *self->parser_,
                       [self](beast::error_code ec2, size_t) { self->OnAnswer(ec2); });
    });
  }

  // What a failed exchange counts as. A peer closing without close_notify is a connection closed
  // early, not a TLS failure.
  int Classify(const beast::error_code& ec) {
    if (ec == beast::error::timeout) return kTimeout;
    if (kTls && ec.category() == asio::error::get_ssl_category()) {
      NoteTlsError("TLS error on a connection to " + gen_.endpoint_.host + ":" + std::to_string(gen_.endpoint_.port) +
                   ": " + ec.message());
      return kTlsError;
    }
    return kConnectionError;
  }

  void OnAnswer(beast::error_code ec) {
    const Clock::time_point now = Clock::now();
    if (ec) {
      if (!run_.stopping) Record(due_, now, Classify(ec), 0, {});
      return Reopen(std::chrono::milliseconds(0));
    }
    http::response<http::string_body> res = parser_->release();
    const int status = static_cast<int>(res.result_int());
    Record(due_, now, status, kind_ == KmsRequestKind::kInit ? 0 : 1, std::move(res.body()));
    if (!res.keep_alive()) return Reopen(std::chrono::milliseconds(0));
    Next();
  }

  std::optional<Stream> stream_;  // engaged from the first Connect()
  beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::string_body>> parser_;
};

LoadGenerator::LoadGenerator(HttpEndpoint endpoint, std::vector<UserCredential> users, LoadOptions options)
    : endpoint_(std::move(endpoint)),
      users_(std::move(users)),
      options_(options),
      counters_(static_cast<size_t>(std::clamp(options.threads, 1, kMaxThreads))) {}

LoadGenerator::~LoadGenerator() = default;

uint64_t LoadGenerator::completed() const {
  uint64_t n = 0;
  for (const ThreadCounters& c : counters_) n += c.completed.load(std::memory_order_relaxed);
  return n;
}

uint64_t LoadGenerator::failed() const {
  uint64_t n = 0;
  for (const ThreadCounters& c : counters_) n += c.failed.load(std::memory_order_relaxed);
  return n;
}

namespace {

template <class Key>
void AddCounts(std::map<Key, uint64_t>& into, const std::map<Key, uint64_t>& part) {
  for (const auto& [key, n] : part) into[key] += n;
}

// Adds one I/O thread's counts, latencies and timeline to the run's. The samples and the TLS
// failure's reason are the caller's to merge: they need more than the counts.
void AddThreadResult(LoadResult& into, const LoadResult& part) {
  into.requests += part.requests;
  into.ok += part.ok;
  into.timeouts += part.timeouts;
  into.connection_errors += part.connection_errors;
  into.tls_errors += part.tls_errors;
  into.warmup_requests += part.warmup_requests;
  AddCounts(into.http_errors, part.http_errors);
  into.latency.Merge(part.latency);
  for (int kind = 0; kind < 2; ++kind) {
    into.ok_by_kind[kind] += part.ok_by_kind[kind];
    into.latency_by_kind[kind].Merge(part.latency_by_kind[kind]);
    AddCounts(into.responses_by_status[kind], part.responses_by_status[kind]);
  }
  if (into.timeline.size() < part.timeline.size()) into.timeline.resize(part.timeline.size());
  for (size_t second = 0; second < part.timeline.size(); ++second) {
    into.timeline[second].ok += part.timeline[second].ok;
    into.timeline[second].errors += part.timeline[second].errors;
  }
  if (into.init_sample.empty()) into.init_sample = part.init_sample;
}

}  // namespace

Status ValidateLoadOptions(const LoadOptions& o) {
  if (o.connections < 1 || o.connections > 10000) return Status::InvalidArgument("--connections must be 1..10000");
  if (o.threads < 1 || o.threads > LoadGenerator::kMaxThreads) {
    return Status::InvalidArgument("--threads must be 1.." + std::to_string(LoadGenerator::kMaxThreads));
  }
  if (o.threads > o.connections) {
    return Status::InvalidArgument("--threads " + std::to_string(o.threads) + " is more than --connections " +
                                   std::to_string(o.connections) +
                                   ": every I/O thread needs a connection of its own; lower --threads or raise "
                                   "--connections");
  }
  if (o.duration.count() <= 0) return Status::InvalidArgument("--duration must be positive");
  if (o.warmup.count() < 0) return Status::InvalidArgument("--warmup must not be negative");
  if (o.timeout.count() <= 0) return Status::InvalidArgument("--timeout-ms must be positive");
  if (o.rate < 0) return Status::InvalidArgument("--rate must not be negative");
  if (o.init_weight < 0 || o.keyprov_weight < 0 || o.init_weight + o.keyprov_weight == 0) {
    return Status::InvalidArgument("--mix needs a positive init or keyprov share, e.g. 1:9");
  }
  return Status::Ok();
}

Result<LoadResult> LoadGenerator::Run() {
  const LoadOptions& o = options_;
  if (users_.empty()) return Status::InvalidArgument("no users to send requests for");
  MCX_RETURN_IF_ERROR(ValidateLoadOptions(o));

  // Resolved once, so that every thread connects to the same addresses; the list is only read.
  tcp::resolver::results_type endpoints;
  {
    asio::io_context io;
    beast::error_code ec;
    tcp::resolver resolver(io);
    endpoints = resolver.resolve(endpoint_.host, std::to_string(endpoint_.port), ec);
    if (ec) return Status::Unavailable("cannot resolve " + endpoint_.host + ": " + ec.message());
  }

  ClockPlan plan;
  plan.start = Clock::now();
  plan.measure_start = plan.start + o.warmup;
  plan.end = plan.measure_start + o.duration;
  if (o.rate > 0) {
    plan.interval = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / o.rate));
    if (plan.interval.count() <= 0) plan.interval = Clock::duration(1);
  }
  RequestSequence sequence;
  std::vector<std::unique_ptr<RunState>> threads;
  for (int t = 0; t < o.threads; ++t) {
    auto run = std::make_unique<RunState>(plan, sequence, counters_[static_cast<size_t>(t)],
                                          kSamplerSeed + static_cast<uint64_t>(t), o.keyprov_samples);
    if (endpoint_.tls) {
      Result<std::unique_ptr<ssl::context>> tls = MakeTlsContext(endpoint_);
      if (!tls.ok()) return tls.status();
      run->tls = std::move(tls).value();
    }
    run->endpoints = endpoints;
    threads.push_back(std::move(run));
  }

  for (int t = 0; t < o.threads; ++t) {
    RunState& run = *threads[static_cast<size_t>(t)];
    // The backstop: whatever a server does, the run is over one timeout (and a little) after the
    // end. Set before any connection can retire and cancel it.
    run.backstop.expires_at(plan.end + o.timeout + std::chrono::milliseconds(500));
    run.backstop.async_wait([&run](beast::error_code e) {
      if (e) return;
      run.stopping = true;
      for (auto& c : run.connections) c->Stop();
    });
    // The connections as evenly as they go: the first (connections mod threads) take one more.
    const int share = o.connections / o.threads + (t < o.connections % o.threads ? 1 : 0);
    run.active = share;
    for (int i = 0; i < share; ++i) {
      if (endpoint_.tls) {
        run.connections.push_back(std::make_shared<Session<TlsStream>>(*this, run));
      } else {
        run.connections.push_back(std::make_shared<Session<beast::tcp_stream>>(*this, run));
      }
      run.connections.back()->Start();
    }
  }

  // Thread 0 is the caller's, as with a single thread; each io_context returns when its
  // connections have all retired (which cancels its backstop) or its backstop fired.
  std::vector<std::thread> helpers;
  Status started;
  for (size_t t = 1; t < threads.size() && started.ok(); ++t) {
    try {
      helpers.emplace_back([&io = threads[t]->io] { io.run(); });
    } catch (const std::system_error& e) {
      started = Status::Unavailable(std::string("cannot start an I/O thread: ") + e.what() + "; lower --threads");
      for (auto& run : threads) run->io.stop();
    }
  }
  if (started.ok()) threads.front()->io.run();
  for (std::thread& h : helpers) h.join();
  if (!started.ok()) return started;

  // One result, as if one thread had carried the whole load (with one thread, its own as it is).
  RunState& first = *threads.front();
  LoadResult merged = std::move(first.result);
  merged.warmup_seconds = std::chrono::duration<double>(o.warmup).count();
  merged.measured_seconds = std::chrono::duration<double>(o.duration).count();
  merged.window_start = plan.measure_start;
  merged.window_end = plan.end;
  SampleReservoir samples = std::move(first.keyprov_samples);
  Clock::time_point tls_error_at = first.tls_error_at;
  std::mt19937_64 merge_rng(kSamplerSeed);
  for (size_t t = 1; t < threads.size(); ++t) {
    RunState& run = *threads[t];
    AddThreadResult(merged, run.result);
    samples.Merge(std::move(run.keyprov_samples), merge_rng);
    if (!run.result.tls_error.empty() && (merged.tls_error.empty() || run.tls_error_at < tls_error_at)) {
      merged.tls_error = std::move(run.result.tls_error);
      tls_error_at = run.tls_error_at;
    }
  }
  merged.keyprov_samples = samples.TakeItems();
  for (auto& run : threads) run->connections.clear();
  return merged;
}

namespace {

// FetchOnce over a stream, plain or TLS, already set up: connect (and handshake), one request, one
// answer, all within `timeout`.
template <class Stream>
Result<HttpReply> FetchOver(Stream& stream, asio::io_context& io, const HttpEndpoint& endpoint,
                            const tcp::resolver::results_type& endpoints, const http::request<http::empty_body>& req,
                            std::chrono::milliseconds timeout) {
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  beast::error_code failure;
  bool handshake_failed = false;
  auto exchange = [&] {
    http::async_write(stream, req, [&](beast::error_code e, size_t) {
      if (e) return void(failure = e);
      http::async_read(stream, buffer, res, [&](beast::error_code e2, size_t) { failure = e2; });
    });
  };
  beast::tcp_stream& tcp_layer = beast::get_lowest_layer(stream);
  tcp_layer.expires_after(timeout);  // one deadline for the whole exchange
  tcp_layer.async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) {
    if (e) return void(failure = e);
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      stream.async_handshake(ssl::stream_base::client, [&](beast::error_code e2) {
        if (e2) {
          handshake_failed = true;
          return void(failure = e2);
        }
        exchange();
      });
    } else {
      exchange();
    }
  });
  io.run();
  if (failure) {
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      if (handshake_failed && failure != beast::error::timeout) {
        return Status::Unavailable(DescribeTlsFailure(endpoint, stream, failure));
      }
    }
    return Status::Unavailable(std::string(req.method_string()) + " " + endpoint.host + ":" +
                               std::to_string(endpoint.port) + std::string(req.target()) + ": " +
                               (failure == beast::error::timeout ? std::string("timed out") : failure.message()));
  }
  beast::error_code ignored;
  tcp_layer.socket().shutdown(tcp::socket::shutdown_both, ignored);
  return HttpReply{static_cast<int>(res.result_int()), std::move(res.body())};
}

}  // namespace

Result<HttpReply> FetchOnce(const HttpEndpoint& endpoint, const std::string& verb, const std::string& target,
                            const std::string& bearer_token, std::chrono::milliseconds timeout) {
  asio::io_context io;
  beast::error_code ec;
  tcp::resolver resolver(io);
  auto endpoints = resolver.resolve(endpoint.host, std::to_string(endpoint.port), ec);
  if (ec) return Status::Unavailable("cannot resolve " + endpoint.host + ": " + ec.message());
  http::request<http::empty_body> req{verb == "GET" ? http::verb::get : http::verb::post, target, 11};
  req.set(http::field::host, endpoint.HostHeader());
  if (!bearer_token.empty()) req.set(http::field::authorization, "Bearer " + bearer_token);
  req.set(http::field::user_agent, "mcx-kms-bench");
  req.content_length(0);
  if (!endpoint.tls) {
    beast::tcp_stream stream(io);
    return FetchOver(stream, io, endpoint, endpoints, req, timeout);
  }
  Result<std::unique_ptr<ssl::context>> tls = MakeTlsContext(endpoint);
  if (!tls.ok()) return tls.status();
  TlsStream stream(io, **tls);
  if (!PrepareTlsStream(stream, endpoint)) {
    return Status::Internal("cannot set up TLS for " + endpoint.host + " (SNI or host name check)");
  }
  return FetchOver(stream, io, endpoint, endpoints, req, timeout);
}

}  // namespace mcx::capacity
