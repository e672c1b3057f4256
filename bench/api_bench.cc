// Per-request costs of the KMS interface, without the network: verifying an access token (cold,
// on a worker; and from the cache, both through Verify() and through the strand's Lookup()),
// writing a KmsKeyProv document, and parsing the request path. And one with it: init over
// loopback keep-alive against a KmsHttpService, the token from the cache.
#include <benchmark/benchmark.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <cstdlib>
#include <ctime>
#include <filesystem>

#include "api/access_token.h"
#include "api/kms_http_service.h"
#include "api/kms_router.h"
#include "api/kms_xml.h"
#include "base/pooled_random.h"
#include "bench/idms/test_idms.h"
#include "engine/service/deriving_key_service.h"

namespace mcx::api {
namespace {

struct TokenFixture {
  TokenFixture() {
    char tmpl[] = "/tmp/mcx-kms-bench-idms-XXXXXX";
    dir = mkdtemp(tmpl);
    (void)GenerateTestIdmsKey(dir);
    TestTokenClaims claims;
    claims.user_uri = "sip:alice@example.org";
    token = *MintTestToken(dir + "/" + kTestIdmsKeyFile, claims, static_cast<int64_t>(std::time(nullptr)));
    keys = std::move(LoadTrustedKeys(dir + "/" + kTestIdmsPublicKeyFile)).value();
    policy.issuer = kTestIdmsIssuer;
    policy.audience = kDefaultAudience;
    std::filesystem::remove_all(dir);
  }
  std::string dir, token;
  std::vector<TrustedKey> keys;
  AccessTokenPolicy policy;
};

TokenFixture& Tokens() {
  static TokenFixture f;
  return f;
}

// An ES256 token not seen before. range(0): 0 as LoadTrustedKeys prepares the key (our P-256
// verifier, engine/math/p256_verify.h), 1 the key left to cjose (import + OpenSSL's verify, the
// route before it).
void BM_VerifyTokenCold(benchmark::State& state) {
  AccessTokenPolicy policy = Tokens().policy;
  policy.cache_seconds = -1;  // every lookup misses
  std::vector<TrustedKey> keys = Tokens().keys;
  if (state.range(0) == 1) {
    for (TrustedKey& k : keys) k.es256 = nullptr;
  }
  AccessTokenVerifier v(keys, policy);
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  bool ok = true;
  for (auto _ : state) {
    auto r = v.Verify(Tokens().token, now);
    ok = ok && r.ok();
    benchmark::DoNotOptimize(r);
  }
  if (!ok) state.SkipWithError("the token was refused");
  state.SetLabel(state.range(0) == 0 ? "ES256, our verifier" : "ES256, cjose + OpenSSL");
}
BENCHMARK(BM_VerifyTokenCold)->Arg(0)->Arg(1);

void BM_VerifyTokenCached(benchmark::State& state) {
  AccessTokenVerifier v(Tokens().keys, Tokens().policy);
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  for (auto _ : state) benchmark::DoNotOptimize(v.Verify(Tokens().token, now));
}
BENCHMARK(BM_VerifyTokenCached);

void BM_LookupTokenCached(benchmark::State& state) {
  AccessTokenVerifier v(Tokens().keys, Tokens().policy);
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  (void)v.Verify(Tokens().token, now);
  for (auto _ : state) benchmark::DoNotOptimize(v.Lookup(Tokens().token, now));
}
BENCHMARK(BM_LookupTokenCached);

void BM_WriteKeyProv(benchmark::State& state) {
  OpenSslRandom rng;
  auto params = CommunityParameters::Make("kms.example.org", kDefaultUserKeyPeriod, 0);
  auto kms = std::move(DerivingKeyService::CreateThrowAway(*params, rng, {})).value();
  std::vector<KeySet> sets{*kms->KeySetAt("sip:alice@example.org", NtpNow())};
  KmsResponseHeader header{"sip:alice@example.org", "kms.example.org", NtpNow(),
                           "https://kms.example.org/keymanagement/identity/v1/keyprov"};
  for (auto _ : state) benchmark::DoNotOptimize(KmsResponseWriter::KeyProv(header, kms->certificate(), sets));
}
BENCHMARK(BM_WriteKeyProv);

void BM_ParseKeyProvTarget(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(ParseKmsTarget("/keymanagement/identity/v1/keyprov/sip%3Aalice%40example.org/EEAA000000000000"));
  }
}
BENCHMARK(BM_ParseKeyProvTarget);

// init over loopback, one keep-alive connection: the HTTP server, the router on the strand, the
// token cache and the KmsInit writer, as a client sees them (one request at a time).
void BM_InitOverLoopback(benchmark::State& state) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  namespace net = boost::asio;
  OpenSslRandom rng;
  auto params = CommunityParameters::Make("kms.example.org", kDefaultUserKeyPeriod, 0);
  auto kms = std::move(DerivingKeyService::CreateThrowAway(*params, rng, {})).value();
  KmsHttpServiceOptions options;
  options.http.port = 0;
  KmsHttpService service(*kms, Tokens().keys, Tokens().policy, options);
  if (Status st = service.Start(); !st.ok()) return state.SkipWithError(st.ToString().c_str());
  net::io_context io;
  beast::tcp_stream stream(io);
  stream.connect(net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), service.port()));
  http::request<http::string_body> req{http::verb::post, std::string(kKmsPathPrefix) + "init", 11};
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::authorization, "Bearer " + Tokens().token);
  req.keep_alive(true);
  req.prepare_payload();
  beast::flat_buffer buffer;
  for (auto _ : state) {
    http::write(stream, req);
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    if (res.result_int() != 200) return state.SkipWithError("init did not answer 200");
    benchmark::DoNotOptimize(res.body().size());
  }
  beast::error_code ignored;
  stream.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
}
BENCHMARK(BM_InitOverLoopback)->UseRealTime();

}  // namespace
}  // namespace mcx::api

BENCHMARK_MAIN();
