// Per-request costs of the KMS interface, without the network: verifying an access token (cold,
// on a worker; and from the cache, both through Verify() and through the strand's Lookup()),
// writing a KmsKeyProv document, and parsing the request path.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>

#include "api/access_token.h"
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

void BM_VerifyTokenCold(benchmark::State& state) {
  AccessTokenPolicy policy = Tokens().policy;
  policy.cache_seconds = -1;  // every lookup misses
  AccessTokenVerifier v(Tokens().keys, policy);
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  for (auto _ : state) benchmark::DoNotOptimize(v.Verify(Tokens().token, now));
}
BENCHMARK(BM_VerifyTokenCold);

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

}  // namespace
}  // namespace mcx::api

BENCHMARK_MAIN();
