// The load generator against the real server over loopback (HttpServer + KmsRouter in process,
// real HTTP), and against a listener that never answers.
#include "bench/capacity/load_generator.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <regex>

#include "tests/api/api_test_env.h"
#include "bench/capacity/capacity_report.h"
#include "bench/capacity/key_material_check.h"

namespace mcx::capacity {
namespace {

using api::testing::ApiTestEnv;
using api::testing::TokenFor;

std::vector<UserCredential> Users(int n, int bad_every = 0) {
  std::vector<UserCredential> users;
  for (int i = 1; i <= n; ++i) {
    const std::string uri = "sip:load" + std::to_string(i) + "@example.org";
    const bool bad = bad_every > 0 && i % bad_every == 0;
    users.push_back({uri, bad ? std::string("not-a-valid-token") : TokenFor(uri)});
  }
  return users;
}

HttpEndpoint Loopback(uint16_t port) {
  HttpEndpoint ep;
  ep.host = "127.0.0.1";
  ep.port = port;
  return ep;
}

LoadOptions ShortRun() {
  LoadOptions o;
  o.connections = 4;
  o.warmup = std::chrono::milliseconds(200);
  o.duration = std::chrono::milliseconds(800);
  o.timeout = std::chrono::milliseconds(3000);
  o.init_weight = 1;
  o.keyprov_weight = 3;
  return o;
}

// The count the server's GET /metrics shows for a route and status.
uint64_t MetricsCount(uint16_t port, const std::string& route, int status) {
  Result<HttpReply> reply = FetchOnce(Loopback(port), "GET", "/metrics", "", std::chrono::milliseconds(3000));
  if (!reply.ok() || reply->status != 200) return UINT64_MAX;
  const std::regex line("mcx_kms_http_requests_total\\{route=\"" + route + "\",status=\"" + std::to_string(status) +
                        "\"\\} ([0-9]+)");
  std::smatch m;
  return std::regex_search(reply->body, m, line) ? std::stoull(m[1]) : 0;
}

TEST(LoadGeneratorTest, CountsMatchTheServersMetricsAndKeyMaterialIsValid) {
  ApiTestEnv env;
  ASSERT_TRUE(env.status.ok()) << env.status.ToString();
  LoadGenerator load(Loopback(env.server.port()), Users(12), ShortRun());
  Result<LoadResult> r = load.Run();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_GT(r->ok, 0u);
  EXPECT_EQ(r->errors(), 0u);
  EXPECT_GT(r->ok_by_kind[0], 0u);
  EXPECT_GT(r->ok_by_kind[1], 0u);
  EXPECT_EQ(r->latency.count(), r->ok);
  EXPECT_EQ(r->requests + r->warmup_requests, load.completed());
  EXPECT_EQ(MetricsCount(env.server.port(), "init", 200), r->responses_by_status[0][200]);
  EXPECT_EQ(MetricsCount(env.server.port(), "keyprov", 200), r->responses_by_status[1][200]);

  Result<KmsPublicView> view = ParseKmsInitPublicKeys(r->init_sample);
  ASSERT_TRUE(view.ok()) << view.status().ToString();
  EXPECT_EQ(view->params.kms_uri, "kms.example.org");
  ASSERT_EQ(r->keyprov_samples.size(), ShortRun().keyprov_samples);
  KeyMaterialVerdict verdict = CheckKeyProvAnswers(*view, r->keyprov_samples);
  EXPECT_EQ(verdict.answers, r->keyprov_samples.size());
  EXPECT_EQ(verdict.invalid, 0u) << (verdict.problems.empty() ? "" : verdict.problems.front());

  // A flipped octet in a received RSK is caught as a device would catch it.
  std::string tampered = r->keyprov_samples.front();
  const size_t at = tampered.find("UserDecryptKey");
  ASSERT_NE(at, std::string::npos);
  const size_t digit = tampered.find('>', at) + 10;
  tampered[digit] = tampered[digit] == '0' ? '1' : '0';
  verdict = CheckKeyProvAnswers(*view, {tampered, "<not xml"});
  EXPECT_EQ(verdict.invalid, 2u);
}

uint64_t TimelineTotal(const LoadResult& r) {
  uint64_t n = 0;
  for (const TimelineSecond& s : r.timeline) n += s.ok + s.errors;
  return n;
}

// With 2 and 3 I/O threads (5 connections: an uneven split), the merged result is what the server
// counted, request for request; the k mod (init + keyprov) mix holds over the whole run; the
// merged histograms, timeline and live counters agree with the counts; and the merged sample is
// full and valid.
TEST(LoadGeneratorTest, WithSeveralThreadsCountsMatchTheServersMetricsExactly) {
  for (int threads : {2, 3}) {
    SCOPED_TRACE("threads " + std::to_string(threads));
    ApiTestEnv env;
    ASSERT_TRUE(env.status.ok()) << env.status.ToString();
    LoadOptions o = ShortRun();
    o.connections = 5;
    o.threads = threads;
    LoadGenerator load(Loopback(env.server.port()), Users(12), o);
    Result<LoadResult> r = load.Run();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_GT(r->ok_by_kind[0], 0u);
    EXPECT_GT(r->ok_by_kind[1], 0u);
    EXPECT_EQ(r->errors(), 0u);
    const uint64_t sent = r->requests + r->warmup_requests;
    EXPECT_EQ(sent, load.completed());
    EXPECT_EQ(load.failed(), 0u);
    EXPECT_EQ(TimelineTotal(*r), sent);
    EXPECT_EQ(MetricsCount(env.server.port(), "init", 200), r->responses_by_status[0][200]);
    EXPECT_EQ(MetricsCount(env.server.port(), "keyprov", 200), r->responses_by_status[1][200]);
    // Requests 0..sent-1 of one global sequence: k is an init when k mod 4 < 1.
    EXPECT_EQ(r->responses_by_status[0][200], (sent + 3) / 4);
    EXPECT_EQ(r->responses_by_status[0][200] + r->responses_by_status[1][200], sent);
    EXPECT_EQ(r->latency.count(), r->ok);
    EXPECT_EQ(r->latency_by_kind[0].count(), r->ok_by_kind[0]);
    EXPECT_EQ(r->latency_by_kind[1].count(), r->ok_by_kind[1]);

    Result<KmsPublicView> view = ParseKmsInitPublicKeys(r->init_sample);
    ASSERT_TRUE(view.ok()) << view.status().ToString();
    ASSERT_EQ(r->keyprov_samples.size(), o.keyprov_samples);
    KeyMaterialVerdict verdict = CheckKeyProvAnswers(*view, r->keyprov_samples);
    EXPECT_EQ(verdict.invalid, 0u) << (verdict.problems.empty() ? "" : verdict.problems.front());
  }
}

TEST(LoadGeneratorTest, RefusedTokensAreCountedAsHttpErrors) {
  ApiTestEnv env;
  ASSERT_TRUE(env.status.ok());
  LoadOptions o = ShortRun();
  o.rate = 400;  // open loop
  LoadGenerator load(Loopback(env.server.port()), Users(8, /*bad_every=*/2), o);
  Result<LoadResult> r = load.Run();
  ASSERT_TRUE(r.ok());
  EXPECT_GT(r->http_errors[401], 0u);
  EXPECT_GT(r->ok, 0u);
  EXPECT_EQ(r->timeouts + r->connection_errors, 0u);
  EXPECT_EQ(r->ok + r->http_errors[401], r->requests);
  EXPECT_EQ(MetricsCount(env.server.port(), "keyprov", 401) + MetricsCount(env.server.port(), "init", 401),
            r->responses_by_status[0][401] + r->responses_by_status[1][401]);
  // Open loop at 400/s for 1 s in all: about 400 requests, never more than were due.
  EXPECT_LE(r->requests + r->warmup_requests, 401u);
}

// Open loop on 2 threads: the rate holds over the whole run (the threads draw from one schedule, not
// one each), and refused tokens are counted as on one thread. The lower bound is loose: the
// machine is shared, and speed is not what this tests.
TEST(LoadGeneratorTest, OpenLoopOnTwoThreadsKeepsTheOverallRate) {
  ApiTestEnv env;
  ASSERT_TRUE(env.status.ok());
  LoadOptions o = ShortRun();
  o.rate = 600;
  o.threads = 2;
  LoadGenerator load(Loopback(env.server.port()), Users(8, /*bad_every=*/2), o);
  Result<LoadResult> r = load.Run();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const uint64_t sent = r->requests + r->warmup_requests;
  // 600/s for 1 s in all: never more than were due, and most of them.
  EXPECT_LE(sent, 601u);
  EXPECT_GE(sent, 300u);
  EXPECT_EQ(sent, load.completed());
  EXPECT_GT(r->http_errors[401], 0u);
  EXPECT_GT(r->ok, 0u);
  EXPECT_EQ(r->timeouts + r->connection_errors, 0u);
  EXPECT_EQ(r->ok + r->http_errors[401], r->requests);
  EXPECT_EQ(load.failed(), r->responses_by_status[0][401] + r->responses_by_status[1][401]);
  EXPECT_EQ(MetricsCount(env.server.port(), "keyprov", 401) + MetricsCount(env.server.port(), "init", 401),
            r->responses_by_status[0][401] + r->responses_by_status[1][401]);
  EXPECT_EQ(r->latency.count(), r->ok);
}

// Accepts connections (in the kernel's backlog) and never answers.
class SilentListener {
 public:
  SilentListener() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd_, 64) != 0) return;
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~SilentListener() { close(fd_); }
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

// A server that accepts and never answers: every request times out, and the run still ends within
// duration + timeout (+ generous slack: the machine is shared).
void ExpectStalledServerEndsOnTime(int threads) {
  SilentListener silent;
  ASSERT_NE(silent.port(), 0);
  LoadOptions o;
  o.connections = 4;
  o.threads = threads;
  o.warmup = std::chrono::milliseconds(0);
  o.duration = std::chrono::milliseconds(1000);
  o.timeout = std::chrono::milliseconds(400);
  LoadGenerator load(Loopback(silent.port()), {{"sip:a@example.org", "t"}}, o);
  const auto start = std::chrono::steady_clock::now();
  Result<LoadResult> r = load.Run();
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(r.ok());
  EXPECT_GT(r->timeouts, 0u);
  EXPECT_EQ(r->ok, 0u);
  EXPECT_EQ(r->latency.count(), 0u);
  EXPECT_EQ(load.failed(), load.completed());
  EXPECT_LT(elapsed, 1.0 + 0.4 + 3.0);
}

TEST(LoadGeneratorTest, AStalledServerIsReportedAsTimeoutsAndTheRunEndsOnTime) { ExpectStalledServerEndsOnTime(1); }

TEST(LoadGeneratorTest, AStalledServerOnTwoThreadsStillEndsOnTime) { ExpectStalledServerEndsOnTime(2); }

TEST(LoadGeneratorTest, ARefusingServerIsReportedAsConnectionErrors) {
  uint16_t port = 0;
  {
    SilentListener closed_soon;  // a port that was free a moment ago, now closed
    port = closed_soon.port();
  }
  LoadOptions o;
  o.connections = 2;
  o.warmup = std::chrono::milliseconds(0);
  o.duration = std::chrono::milliseconds(300);
  o.timeout = std::chrono::milliseconds(300);
  Result<LoadResult> r = LoadGenerator(Loopback(port), {{"sip:a@example.org", "t"}}, o).Run();
  ASSERT_TRUE(r.ok());
  EXPECT_GT(r->connection_errors, 0u);
  EXPECT_EQ(r->ok, 0u);
}

TEST(LoadGeneratorTest, RejectsBadOptions) {
  LoadOptions o;
  o.connections = 0;
  EXPECT_FALSE(LoadGenerator(Loopback(1), {{"sip:a@example.org", "t"}}, o).Run().ok());
  EXPECT_FALSE(LoadGenerator(Loopback(1), {}, LoadOptions{}).Run().ok());
  o.connections = 2;
  o.threads = 0;
  EXPECT_FALSE(LoadGenerator(Loopback(1), {{"sip:a@example.org", "t"}}, o).Run().ok());
}

TEST(LoadGeneratorTest, RefusesMoreThreadsThanConnections) {
  LoadOptions o;
  o.connections = 2;
  o.threads = 3;
  LoadGenerator load(Loopback(1), {{"sip:a@example.org", "t"}}, o);
  Result<LoadResult> r = load.Run();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(r.status().ToString().find("--threads 3 is more than --connections 2"), std::string::npos)
      << r.status().ToString();
  EXPECT_EQ(load.completed(), 0u);
}

TEST(HttpEndpointTest, ParsesKmsUrls) {
  Result<HttpEndpoint> a = ParseHttpUrl("http://127.0.0.1:8080");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 8080);
  EXPECT_EQ(a->base_path, "/keymanagement/identity/v1/");
  Result<HttpEndpoint> b = ParseHttpUrl("http://kms.example.org/kms/v1");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->port, 80);
  EXPECT_EQ(b->base_path, "/kms/v1/");
  Result<HttpEndpoint> c = ParseHttpUrl("http://[::1]:9000/");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(c->port, 9000);
  EXPECT_FALSE(a->tls);
  EXPECT_EQ(a->ToString(), "http://127.0.0.1:8080/keymanagement/identity/v1/");
  EXPECT_FALSE(ParseHttpUrl("http://host:99999").ok());
  EXPECT_FALSE(ParseHttpUrl("http://").ok());
}

TEST(HttpEndpointTest, ParsesHttpsUrls) {
  Result<HttpEndpoint> a = ParseHttpUrl("https://kms.example.org");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_TRUE(a->tls);
  EXPECT_EQ(a->host, "kms.example.org");
  EXPECT_EQ(a->port, 443);
  EXPECT_EQ(a->base_path, "/keymanagement/identity/v1/");
  EXPECT_TRUE(a->verify_peer);
  EXPECT_EQ(a->ToString(), "https://kms.example.org:443/keymanagement/identity/v1/");
  Result<HttpEndpoint> b = ParseHttpUrl("https://127.0.0.1:8443/kms/v1");
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->tls);
  EXPECT_EQ(b->host, "127.0.0.1");
  EXPECT_EQ(b->port, 8443);
  EXPECT_EQ(b->base_path, "/kms/v1/");
  EXPECT_EQ(b->ToString(), "https://127.0.0.1:8443/kms/v1/");
  Result<HttpEndpoint> c = ParseHttpUrl("https://[::1]/");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(c->port, 443);
  EXPECT_EQ(c->base_path, "/keymanagement/identity/v1/");
  EXPECT_EQ(c->ToString(), "https://[::1]:443/keymanagement/identity/v1/");
  // The Host header names the port only when it is not the scheme's default.
  EXPECT_EQ(a->HostHeader(), "kms.example.org");
  EXPECT_EQ(b->HostHeader(), "127.0.0.1:8443");
  EXPECT_EQ(c->HostHeader(), "[::1]");
  EXPECT_EQ(ParseHttpUrl("http://kms.example.org:8080")->HostHeader(), "kms.example.org:8080");
  EXPECT_EQ(ParseHttpUrl("http://kms.example.org")->HostHeader(), "kms.example.org");
  EXPECT_FALSE(ParseHttpUrl("https://").ok());
  EXPECT_FALSE(ParseHttpUrl("https://host:0").ok());
  EXPECT_FALSE(ParseHttpUrl("https://" + std::string(254, 'a')).ok());
  for (const char* url : {"ftp://kms.example.org", "wss://kms.example.org", "kms.example.org:443", "https:/kms",
                          "httpss://kms", ""}) {
    Result<HttpEndpoint> r = ParseHttpUrl(url);
    EXPECT_FALSE(r.ok()) << url;
  }
  EXPECT_NE(ParseHttpUrl("ftp://kms").status().ToString().find("http:// or https://"), std::string::npos);
}

// What RFC 3986 (through Boost.URL) decides that the hand-written parser before it decided
// otherwise: schemes in either case, checked IPv6 literals, percent-decoded names, a prefix kept
// encoded, ports past 65535 and parts a KMS URL has no use for.
TEST(HttpEndpointTest, FollowsRfc3986) {
  Result<HttpEndpoint> upper = ParseHttpUrl("HTTPS://kms.example.org:8443");
  ASSERT_TRUE(upper.ok()) << upper.status().ToString();  // was refused
  EXPECT_TRUE(upper->tls);
  EXPECT_EQ(upper->port, 8443);
  Result<HttpEndpoint> name = ParseHttpUrl("http://k%6Ds.example.org/a%20b");
  ASSERT_TRUE(name.ok()) << name.status().ToString();
  EXPECT_EQ(name->host, "kms.example.org");  // was "k%6Ds.example.org"
  EXPECT_EQ(name->base_path, "/a%20b/");
  Result<HttpEndpoint> v6 = ParseHttpUrl("http://[2001:db8::7]:8080/kms");
  ASSERT_TRUE(v6.ok()) << v6.status().ToString();
  EXPECT_EQ(v6->host, "2001:db8::7");
  EXPECT_EQ(v6->HostHeader(), "[2001:db8::7]:8080");
  EXPECT_EQ(v6->ToString(), "http://[2001:db8::7]:8080/kms/");
  // Each of these was accepted (a host "zz", "a b" or "u@h", a prefix "/p?x=1/") or wrapped.
  const std::pair<const char*, const char*> refused[] = {
      {"http://[zz]/", "not a valid URL"},
      {"HTTP://[zz]/", "not a valid URL"},
      {"http://[v1.x]/", "IPvFuture"},
      {"http://a b/", "not a valid URL"},
      {"http://u:pw@kms.example.org/", "user or password"},
      {"http://kms.example.org/p?x=1", "?query or #fragment"},
      {"http://kms.example.org#top", "?query or #fragment"},
      {"http://kms.example.org:65536", "port must be a number from 1 to 65535"},
      {"http://kms.example.org:", "port must be a number from 1 to 65535"},
      {"http://:8080", "has no host"},
  };
  for (const auto& [url, why] : refused) {
    Result<HttpEndpoint> r = ParseHttpUrl(url);
    ASSERT_FALSE(r.ok()) << url;
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument) << url;
    EXPECT_NE(r.status().ToString().find(why), std::string::npos) << url << ": " << r.status().ToString();
  }
}

// https:// aimed at a plain-HTTP port: every handshake fails, as TLS errors with the reason (on 2
// threads too, each with its own TLS context; the report keeps one reason).
TEST(LoadGeneratorTest, HttpsToAPlainHttpServerIsReportedAsTlsErrors) {
  ApiTestEnv env;
  ASSERT_TRUE(env.status.ok());
  HttpEndpoint ep = Loopback(env.server.port());
  ep.tls = true;
  for (int threads : {1, 2}) {
    SCOPED_TRACE("threads " + std::to_string(threads));
    LoadOptions o;
    o.connections = 2;
    o.threads = threads;
    o.warmup = std::chrono::milliseconds(0);
    o.duration = std::chrono::milliseconds(300);
    o.timeout = std::chrono::milliseconds(1000);
    Result<LoadResult> r = LoadGenerator(ep, Users(2), o).Run();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_GT(r->tls_errors, 0u);
    EXPECT_EQ(r->ok, 0u);
    EXPECT_EQ(r->tls_errors, r->requests);
    EXPECT_NE(r->tls_error.find("TLS handshake with 127.0.0.1:"), std::string::npos) << r->tls_error;
    EXPECT_NE(r->tls_error.find("use http://"), std::string::npos) << r->tls_error;
  }
  Result<HttpReply> once = FetchOnce(ep, "GET", "/metrics", "", std::chrono::milliseconds(2000));
  ASSERT_FALSE(once.ok());
  EXPECT_NE(once.status().ToString().find("TLS handshake with"), std::string::npos) << once.status().ToString();
}

// A server that accepts TCP but never answers the ClientHello: the handshake shares the connect
// timeout, so these are timeouts, and the run still ends on time.
TEST(LoadGeneratorTest, AStalledTlsHandshakeIsATimeoutAndTheRunEndsOnTime) {
  SilentListener silent;
  ASSERT_NE(silent.port(), 0);
  HttpEndpoint ep = Loopback(silent.port());
  ep.tls = true;
  LoadOptions o;
  o.connections = 2;
  o.warmup = std::chrono::milliseconds(0);
  o.duration = std::chrono::milliseconds(800);
  o.timeout = std::chrono::milliseconds(300);
  const auto start = std::chrono::steady_clock::now();
  Result<LoadResult> r = LoadGenerator(ep, {{"sip:a@example.org", "t"}}, o).Run();
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(r.ok());
  EXPECT_GT(r->timeouts, 0u);
  EXPECT_EQ(r->tls_errors, 0u);
  EXPECT_EQ(r->ok, 0u);
  EXPECT_LT(elapsed, 0.8 + 0.3 + 3.0);
}

TEST(LoadGeneratorTest, AnUnreadableCaFileStopsTheRunBeforeItStarts) {
  HttpEndpoint ep = Loopback(1);
  ep.tls = true;
  ep.ca_file = "/nonexistent/kms-ca.pem";
  Result<LoadResult> r = LoadGenerator(ep, {{"sip:a@example.org", "t"}}, LoadOptions{}).Run();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().ToString().find("--ca-file /nonexistent/kms-ca.pem"), std::string::npos)
      << r.status().ToString();
}

TEST(CapacityReportTest, RendersAllThreeFormsWithoutSecrets) {
  ApiTestEnv env;
  ASSERT_TRUE(env.status.ok());
  std::vector<UserCredential> users = Users(4);
  Result<LoadResult> r = LoadGenerator(Loopback(env.server.port()), users, ShortRun()).Run();
  ASSERT_TRUE(r.ok());
  CapacityReport report;
  report.machine = DescribeThisMachine();
  LocalFigures local;
  local.derivation = {{1, 1000}, {2, 1900}};
  local.hsm = {{"random 32 octets", 10000}};
  local.provisioned = 3000;
  local.provision_seconds = 1.5;
  report.local = local;
  ServingRun run;
  run.label = "test";
  run.origin = KeySetOrigin::kPreProvisioned;
  run.result = *r;
  run.users = users.size();
  report.serving.push_back(run);
  const std::string text = RenderText(report);
  EXPECT_NE(text.find("provisioning 100,000 users x 3 key periods = 300,000 key sets: 2m30s at 2,000 key sets/s"),
            std::string::npos) << text;
  EXPECT_NE(text.find("devices reconnecting within 60 s"), std::string::npos);
  const nlohmann::json j = ToJson(report);
  EXPECT_EQ(j["serving"][0]["ok"].get<uint64_t>(), r->ok);
  EXPECT_DOUBLE_EQ(j["projections"]["provisioning_seconds"].get<double>(), 150.0);
  const std::string html = RenderHtml(report);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  size_t charts = 0;
  for (size_t at = html.find("<svg class=\"chart\""); at != std::string::npos; at = html.find("<svg class=\"chart\"", at + 1)) ++charts;
  EXPECT_EQ(charts, 3u);
  // Neither tokens nor key material appear in any form.
  for (const std::string& out : {text, j.dump(), html}) {
    EXPECT_EQ(out.find(users.front().token), std::string::npos);
    EXPECT_EQ(out.find("UserDecryptKey"), std::string::npos);
  }
}

TEST(CapacityReportTest, TheTokenVerificationCeilingIsMeasuredAndBoundsAStormOfNewTokens) {
  Result<TokenVerifyCeiling> measured = MeasureTokenVerifyCeiling(0.05);
  ASSERT_TRUE(measured.ok()) << measured.status().ToString();
  EXPECT_GT(measured->es256_per_core, 100.0);  // OpenSSL does thousands; a broken loop does none
  EXPECT_GT(measured->rs256_per_core, 100.0);
  EXPECT_GE(measured->cores, 1);

  CapacityReport report;
  report.machine = DescribeThisMachine();
  report.token_ceiling = TokenVerifyCeiling{10000, 40000, 2};
  ServingRun fresh;
  fresh.label = "fresh";
  fresh.users = 200000;
  fresh.result.requests = 15000;
  ServingRun cached = fresh;
  cached.label = "cached";
  cached.users = 1000;
  report.serving = {fresh, cached};
  const std::string text = RenderText(report);
  EXPECT_NE(text.find("ES256 10,000/s, RS256 40,000/s; all 2 cores: ES256 20,000/s, RS256 80,000/s"),
            std::string::npos) << text;
  EXPECT_NE(text.find("200,000 users for 15,000 requests: each request measured could carry a token the KMS had not seen"),
            std::string::npos) << text;
  EXPECT_NE(text.find("1,000 users for 15,000 requests: most requests carried a token the KMS had verified before"),
            std::string::npos) << text;
  EXPECT_NE(text.find("at most 1,200,000 devices in 60 s with ES256 tokens, 4,800,000 with RS256"), std::string::npos)
      << text;
  const nlohmann::json j = ToJson(report);
  EXPECT_DOUBLE_EQ(j["token_verify_ceiling"]["es256_per_core"].get<double>(), 10000.0);
  EXPECT_EQ(j["token_verify_ceiling"]["cores"].get<int>(), 2);
}

}  // namespace
}  // namespace mcx::capacity
