// The KMS interface end to end over loopback: a real server, a real HTTP client, every route,
// every error, the XML of every response validated with xmllint against docs/kms-interface.xsd,
// and the key material checked as a device would.
#include <gtest/gtest.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "base/openssl_handles.h"
#include "engine/keys/client_check.h"
#include "engine/keys/mikey_sakke_uid.h"
#include "tests/api/api_test_env.h"
#include "tests/api/http_test_client.h"

namespace mcx::api::testing {
namespace {

const std::string kAlice = "sip:alice@example.org";
const std::string kBase = "/keymanagement/identity/v1/";

// Now as an NTP timestamp in 16 hex digits (seconds, then a fraction the KMS ignores), and the
// number of the 30-day key period it falls in. The demo certificate is valid from the start of
// the period in progress, so a fixed date would fall outside it as time moves on.
std::string NtpHex(NtpSeconds seconds, bool upper) {
  char out[17];
  std::snprintf(out, sizeof out, upper ? "%08llX%08X" : "%08llx%08x", static_cast<unsigned long long>(seconds),
                0xDEADBEEFu);
  return out;
}
uint64_t PeriodNumber(NtpSeconds t) { return t / static_cast<NtpSeconds>(kDefaultUserKeyPeriod); }

class KmsServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    HttpServerOptions http;
    http.max_body_bytes = 4096;
    http.max_header_bytes = 2048;
    http.header_timeout = std::chrono::milliseconds(1000);
    http.body_timeout = std::chrono::milliseconds(1000);
    env_ = new ApiTestEnv(http);
    ASSERT_TRUE(env_->status.ok()) << env_->status.ToString();
  }
  static void TearDownTestSuite() {
    delete env_;
    env_ = nullptr;
  }
  void TearDown() override {
    env_->keys.unavailable = false;
  }

  HttpResult Post(const std::string& path, const std::string& token, const std::string& body = "") {
    HttpTestClient client(env_->server.port());
    std::vector<std::pair<std::string, std::string>> headers;
    if (!token.empty()) headers.push_back(BearerHeader(token));
    if (!body.empty()) headers.push_back({"Content-Type", "application/xml"});
    return client.Send("POST", kBase + path, headers, body);
  }

  // An error answer: the status, a KmsError carrying it, valid XML, and no secret in it.
  void ExpectError(const HttpResult& r, int status) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.headers.count("content-type") ? r.headers.at("content-type") : "", "application/xml");
    EXPECT_EQ(XmlText(r.body, "ErrorCode"), std::to_string(status));
    EXPECT_FALSE(XmlText(r.body, "ErrorMsg").empty());
    EXPECT_EQ(XmllintSchemaErrors(r.body), "");
    for (const std::string& secret : env_->keys.issued_secrets()) {
      EXPECT_EQ(r.body.find(secret), std::string::npos) << "a secret key leaked into an error body";
    }
  }

  static ApiTestEnv* env_;
};
ApiTestEnv* KmsServerTest::env_ = nullptr;

// The device's view: the public keys from KmsInit, then the key set checked with them.
void ExpectDeviceAcceptsKeySet(const std::string& init_xml, const std::string& keyprov_xml, const std::string& user) {
  KmsPublicKeys pub;
  auto z = FromHex(XmlText(init_xml, "PubEncKey"));
  auto kpak = FromHex(XmlText(init_xml, "PubAuthKey"));
  ASSERT_TRUE(z.ok() && kpak.ok());
  ASSERT_EQ(z->size(), pub.z_pub.size());
  ASSERT_EQ(kpak->size(), pub.kpak.size());
  std::copy(z->begin(), z->end(), pub.z_pub.begin());
  std::copy(kpak->begin(), kpak->end(), pub.kpak.begin());
  auto params = CommunityParameters::Make(XmlText(init_xml, "KmsUri"), std::stoll(XmlText(init_xml, "UserKeyPeriod")),
                                          std::stoll(XmlText(init_xml, "UserKeyOffset")));
  ASSERT_TRUE(params.ok());
  ASSERT_EQ(XmlText(keyprov_xml, "UserUri"), user);
  auto uid = MikeySakkeUid(user, *params, std::stoull(XmlText(keyprov_xml, "KeyPeriodNo")));
  ASSERT_TRUE(uid.ok());
  EXPECT_EQ(XmlText(keyprov_xml, "UserID"), ToUpperHex(*uid));
  auto rsk = FromHex(XmlText(keyprov_xml, "UserDecryptKey"));
  auto ssk = FromHex(XmlText(keyprov_xml, "UserSigningKeySSK"));
  auto pvt = FromHex(XmlText(keyprov_xml, "UserPubTokenPVT"));
  ASSERT_TRUE(rsk.ok() && ssk.ok() && pvt.ok());
  EXPECT_TRUE(CheckReceiverSecretKey(pub.z_pub, *uid, *rsk).ok());
  EXPECT_TRUE(CheckSigningKey(pub.kpak, *uid, *ssk, *pvt).ok());
}

TEST_F(KmsServerTest, InitReturnsTheKmsCertificate) {
  HttpResult r = Post("init", TokenFor(kAlice));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["content-type"], "application/xml");
  EXPECT_EQ(r.headers["cache-control"], "no-store");
  EXPECT_EQ(XmllintSchemaErrors(r.body), "");
  EXPECT_EQ(XmlText(r.body, "UserUri"), kAlice);
  EXPECT_EQ(XmlText(r.body, "KmsUri"), "kms.example.org");
  EXPECT_EQ(XmlText(r.body, "UserIdFormat"), "2");
  EXPECT_EQ(XmlText(r.body, "ParameterSet"), "1");
  EXPECT_NE(r.body.find("Role=\"Root\""), std::string::npos);
  EXPECT_NE(XmlText(r.body, "ClientReqUrl").find("/keymanagement/identity/v1/init"), std::string::npos);
  EXPECT_EQ(XmlText(r.body, "Time").back(), 'Z');
  EXPECT_EQ(r.body.find("KmsServerName"), std::string::npos);  // optional: omitted, never empty
  // The 3GPP order: the response begins UserUri, KmsUri; the certificate CertUri, KmsUri.
  EXPECT_NE(r.body.find("Version=\"1.0.0\"><UserUri>" + std::string(kAlice) + "</UserUri><KmsUri>"), std::string::npos);
  EXPECT_NE(r.body.find("Role=\"Root\"><CertUri>"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("\n<", 40), std::string::npos);           // keys and elements on one line
}

TEST_F(KmsServerTest, KeyProvForTheTokensUserValidatesAsADeviceWould) {
  const std::string token = TokenFor(kAlice);
  HttpResult init = Post("init", token);
  HttpResult r = Post("keyprov", token);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(XmllintSchemaErrors(r.body), "");
  EXPECT_NE(r.body.find("<UserDecryptKey xsi:type=\"KeyContentType\">"), std::string::npos);
  size_t sets = 0;
  for (size_t p = r.body.find("<KmsKeySet>"); p != std::string::npos; p = r.body.find("<KmsKeySet>", p + 1)) ++sets;
  EXPECT_EQ(sets, 1u);
  ExpectDeviceAcceptsKeySet(init.body, r.body, kAlice);
}

TEST_F(KmsServerTest, KeyProvAcceptsRawAndPercentEncodedUsersAndEitherHexCase) {
  const std::string token = TokenFor(kAlice);
  HttpResult raw = Post("keyprov/" + kAlice, token);
  HttpResult encoded = Post("keyprov/sip%3Aalice%40example.org", token);
  ASSERT_EQ(raw.status, 200) << raw.body;
  ASSERT_EQ(encoded.status, 200) << encoded.body;
  // Asking twice gives the same key set.
  EXPECT_EQ(XmlText(raw.body, "UserSigningKeySSK"), XmlText(encoded.body, "UserSigningKeySSK"));
  EXPECT_EQ(XmlText(raw.body, "UserPubTokenPVT"), XmlText(encoded.body, "UserPubTokenPVT"));

  // A time in the certificate's window, in either hex case: the key set of its period.
  const NtpSeconds now = NtpNow();
  HttpResult upper = Post("keyprov/" + kAlice + "/" + NtpHex(now, true), token);
  HttpResult lower = Post("keyprov/sip%3aalice%40example.org/" + NtpHex(now, false), token);
  ASSERT_EQ(upper.status, 200) << upper.body;
  ASSERT_EQ(lower.status, 200) << lower.body;
  EXPECT_EQ(XmlText(upper.body, "KeyPeriodNo"), std::to_string(PeriodNumber(now)));
  EXPECT_EQ(XmlText(upper.body, "UserDecryptKey"), XmlText(lower.body, "UserDecryptKey"));
  EXPECT_EQ(XmllintSchemaErrors(upper.body), "");
  ExpectDeviceAcceptsKeySet(Post("init", token).body, upper.body, kAlice);
}

TEST_F(KmsServerTest, KeyProvAcceptsAMatchingKmsRequestBody) {
  const std::string body = std::string("<?xml version=\"1.0\"?><KmsRequest xmlns=\"") + kKmsNamespace +
                           "\" Version=\"1.1.0\"><UserUri>" + kAlice + "</UserUri><KmsUri>kms.example.org</KmsUri>"
                           "<Time>2026-11-28T10:00:00Z</Time><ClientReqUrl>https://kms.example.org" + kBase +
                           "keyprov</ClientReqUrl></KmsRequest>";
  EXPECT_EQ(XmllintSchemaErrors(body), "");
  HttpResult r = Post("keyprov", TokenFor(kAlice), body);
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(KmsServerTest, TheSecuredModeRequestOfARealClientIsServed) {
  // An unsigned KmsRequest as one client library sends it: Version 1.0.0, a local time without a
  // zone, and its own base URL as KmsUri. Only the UserUri is checked.
  const std::string body = std::string("<?xml version=\"1.0\" encoding=\"UTF-8\"?><KmsRequest xmlns=\"") +
                           kKmsNamespace + "\" Version=\"1.0.0\"><UserUri>" + kAlice +
                           "</UserUri><KmsUri>https://kms.example.org:8443/</KmsUri><Time>2026-12-01T10:00:00</Time>"
                           "<ClientReqUrl>https://kms.example.org:8443//keymanagement/identity/v1/keyprov</ClientReqUrl>"
                           "</KmsRequest>";
  HttpResult r = Post("keyprov", TokenFor(kAlice), body);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(XmllintSchemaErrors(r.body), "");
  // And the default: no body, Content-Length: 0.
  HttpTestClient client(env_->server.port());
  HttpResult empty = client.SendRaw("POST " + kBase + "keyprov HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                                    TokenFor(kAlice) + "\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(empty.status, 200) << empty.body;
}

TEST_F(KmsServerTest, CertCacheListsTheCertificate) {
  HttpResult r = Post("certcache", TokenFor(kAlice));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(XmllintSchemaErrors(r.body), "");
  EXPECT_NE(r.body.find("<KmsCertCache Version=\"1.0.0\" CacheNum=\"1\">"), std::string::npos);
  EXPECT_EQ(XmlText(r.body, "CertUri"), "kms.example.org.cert");
}

TEST_F(KmsServerTest, CertCacheOfACurrentClientIsEmptyElseWhole) {
  const std::string token = TokenFor(kAlice);
  HttpResult current = Post("certcache/1", token);
  ASSERT_EQ(current.status, 200) << current.body;
  EXPECT_EQ(XmllintSchemaErrors(current.body), "");
  EXPECT_NE(current.body.find("<KmsCertCache Version=\"1.0.0\" CacheNum=\"1\"></KmsCertCache>"), std::string::npos)
      << current.body;
  HttpResult stale = Post("certcache/0", token);
  ASSERT_EQ(stale.status, 200) << stale.body;
  EXPECT_EQ(XmllintSchemaErrors(stale.body), "");
  EXPECT_EQ(XmlText(stale.body, "CertUri"), "kms.example.org.cert");
  ExpectError(Post("certcache/x", token), 400);
}

TEST_F(KmsServerTest, CertOfThisKmsOrAKmsError) {
  const std::string token = TokenFor(kAlice);
  HttpResult own = Post("cert/kms.example.org", token);
  ASSERT_EQ(own.status, 200) << own.body;
  EXPECT_EQ(XmllintSchemaErrors(own.body), "");
  EXPECT_EQ(XmlText(own.body, "CertUri"), "kms.example.org.cert");
  EXPECT_NE(own.body.find("<KmsCertCache Version=\"1.0.0\" CacheNum=\"1\"><KmsCertificate"), std::string::npos);
  HttpResult other = Post("cert/kms.other.example", token);
  ExpectError(other, 404);
  EXPECT_NE(XmlText(other.body, "ErrorMsg").find("holds no certificate of KMS 'kms.other.example'"), std::string::npos);
  ExpectError(Post("cert/kms.example.org", ""), 401);
}

TEST_F(KmsServerTest, DoubledLeadingAndTrailingSlashesServeTheRoute) {
  const std::string token = TokenFor(kAlice);
  HttpTestClient client(env_->server.port());
  HttpResult doubled = client.Send("POST", "/" + kBase + "init", {BearerHeader(token)});
  ASSERT_EQ(doubled.status, 200) << doubled.body;
  EXPECT_EQ(XmllintSchemaErrors(doubled.body), "");
  EXPECT_EQ(Post("init/", token).status, 200);
  HttpResult keyprov = client.Send("POST", "/" + kBase + "keyprov/" + kAlice, {BearerHeader(token)});
  ASSERT_EQ(keyprov.status, 200) << keyprov.body;
  ExpectDeviceAcceptsKeySet(doubled.body, keyprov.body, kAlice);
}

TEST_F(KmsServerTest, AMalformedTimeSegmentIs400NotAnotherUser) {
  const std::string token = TokenFor(kAlice);
  for (const char* when : {"EEAA0000DEADBEE", "EEAA0000DEADBEEF0", "zz"}) {
    HttpResult r = Post("keyprov/" + kAlice + "/" + when, token);
    ExpectError(r, 400);
    EXPECT_NE(XmlText(r.body, "ErrorMsg").find("16 hex digits"), std::string::npos) << when;
  }
}

TEST_F(KmsServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  HttpTestClient client(env_->server.port());
  const auto auth = BearerHeader(TokenFor(kAlice));
  for (int i = 0; i < 5; ++i) {
    HttpResult r = client.Send("POST", kBase + "keyprov", {auth});
    ASSERT_EQ(r.status, 200);
    EXPECT_TRUE(r.keep_alive);
    EXPECT_TRUE(client.connected());
  }
}

TEST_F(KmsServerTest, MalformedPathsAndTimesAre400) {
  const std::string token = TokenFor(kAlice);
  ExpectError(Post("keyprov/alice", token), 400);                        // not a URI
  ExpectError(Post("keyprov/sip%3alice%4", token), 400);                 // broken %-encoding
  ExpectError(Post("keyprov/" + kAlice + "/EEAA0000DEADBEEZ", token), 400);  // not hex
  ExpectError(Post("keyprov/" + kAlice + "/", token), 400);              // empty time
  ExpectError(Post("keyprov/sip%3Aalice%00%40example.org", token), 400);  // a NUL in the URI
}

TEST_F(KmsServerTest, MalformedOrMismatchedKmsRequestIs400) {
  const std::string token = TokenFor(kAlice);
  ExpectError(Post("keyprov", token, "<KmsRequest"), 400);
  ExpectError(Post("keyprov", token, "<Other xmlns=\"urn:x\"/>"), 400);
  ExpectError(Post("keyprov", token, std::string("<KmsRequest xmlns=\"") + kKmsNamespace +
                                         "\"><UserUri>sip:mallory@example.org</UserUri></KmsRequest>"),
              400);
  ExpectError(Post("init", token, "<!DOCTYPE x [<!ENTITY a \"b\">]><KmsRequest/>"), 400);
}

TEST_F(KmsServerTest, MissingOrInvalidTokenIs401WithAChallenge) {
  HttpResult none = Post("keyprov", "");
  ExpectError(none, 401);
  EXPECT_EQ(none.headers["www-authenticate"], "Bearer realm=\"mcx-kms\"");
  // No user known: UserUri is present (the schema requires it) and empty.
  EXPECT_NE(none.body.find("<KmsResponse xmlns=\"urn:3gpp:ns:mcsecKMSInterface:1.0\""), std::string::npos);
  EXPECT_NE(none.body.find("Version=\"1.0.0\"><UserUri></UserUri><KmsUri>"), std::string::npos) << none.body;

  std::string tampered = TokenFor(kAlice);
  tampered[tampered.size() - 5] = tampered[tampered.size() - 5] == 'A' ? 'B' : 'A';
  HttpResult bad = Post("keyprov", tampered);
  ExpectError(bad, 401);
  EXPECT_NE(bad.headers["www-authenticate"].find("error=\"invalid_token\""), std::string::npos);

  TestTokenClaims expired;
  expired.lifetime_seconds = -3600;
  ExpectError(Post("init", TokenFor(kAlice, expired)), 401);
  TestTokenClaims wrong_audience;
  wrong_audience.audience = "another-kms";
  ExpectError(Post("certcache", TokenFor(kAlice, wrong_audience)), 401);
  ExpectError(Post("keyprov", "not.a.token"), 401);
}

TEST_F(KmsServerTest, AnotherUsersKeysOrNoScopeIs403) {
  ExpectError(Post("keyprov/sip:bob@example.org", TokenFor(kAlice)), 403);
  TestTokenClaims no_scope;
  no_scope.scope = "openid";
  HttpResult r = Post("keyprov", TokenFor(kAlice, no_scope));
  ExpectError(r, 403);
  EXPECT_NE(r.headers["www-authenticate"].find("insufficient_scope"), std::string::npos);
}

TEST_F(KmsServerTest, UnknownRouteIs404AndWrongMethodIs405) {
  ExpectError(Post("keys", TokenFor(kAlice)), 404);
  HttpTestClient client(env_->server.port());
  ExpectError(client.Send("GET", "/index.html"), 404);
  HttpResult get_init = client.Send("GET", kBase + "init");
  ExpectError(get_init, 405);
  EXPECT_EQ(get_init.headers["allow"], "POST");
  HttpResult post_health = client.Send("POST", "/healthz");
  ExpectError(post_health, 405);
  EXPECT_EQ(post_health.headers["allow"], "GET");
}

TEST_F(KmsServerTest, OversizedBodyIs413AndOversizedHeaderIs431) {
  ExpectError(Post("keyprov", TokenFor(kAlice), std::string(8192, ' ')), 413);
  HttpTestClient client(env_->server.port());
  HttpResult chunked = client.SendRaw("POST " + kBase + "keyprov HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
                                      "2000\r\n" + std::string(8192, 'a') + "\r\n0\r\n\r\n");
  ExpectError(chunked, 413);
  HttpResult big_header = client.Send("GET", "/healthz", {{"X-Padding", std::string(4096, 'p')}});
  ExpectError(big_header, 431);
}

TEST_F(KmsServerTest, MalformedHttpIs400) {
  HttpTestClient client(env_->server.port());
  ExpectError(client.SendRaw("GARBAGE\r\n\r\n"), 400);
  ExpectError(client.SendRaw("GET /healthz HTTP/9.9\r\n\r\n"), 400);
}

TEST_F(KmsServerTest, KeyServiceUnavailableIs503AndNotReady) {
  HttpTestClient client(env_->server.port());
  EXPECT_EQ(client.Send("GET", "/readyz").status, 200);
  env_->keys.unavailable = true;
  ExpectError(Post("keyprov", TokenFor(kAlice)), 503);
  HttpResult ready = client.Send("GET", "/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_NE(ready.body.find("HSM"), std::string::npos);
  EXPECT_EQ(ready.body.find("does not answer"), std::string::npos) << "the engine's own words reached a client";
  env_->keys.unavailable = false;
  EXPECT_EQ(Post("keyprov", TokenFor(kAlice)).status, 200);
}

TEST_F(KmsServerTest, TheKeyServicesOwnWordsStayInTheLog) {
  for (const Status& failure : {Status::Unavailable("database is locked"),
                                Status::Internal("C_GenerateRandom returned CKR_DEVICE_ERROR")}) {
    env_->keys.FailWith(failure);
    HttpResult r = Post("keyprov", TokenFor(kAlice));
    env_->keys.FailWith(Status::Ok());
    ExpectError(r, 503);
    EXPECT_EQ(r.body.find(failure.message()), std::string::npos) << r.body;
    EXPECT_EQ(XmlText(r.body, "ErrorMsg"), "the key store or HSM is unavailable: try again shortly");
  }
  EXPECT_EQ(Post("keyprov", TokenFor(kAlice)).status, 200);
}

TEST_F(KmsServerTest, HealthAndMetrics) {
  HttpTestClient client(env_->server.port());
  HttpResult h = client.Send("GET", "/healthz");
  EXPECT_EQ(h.status, 200);
  Post("keyprov", TokenFor(kAlice));
  HttpResult m = client.Send("GET", "/metrics");
  ASSERT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("mcx_kms_http_requests_total{route=\"keyprov\",status=\"200\"}"), std::string::npos);
  EXPECT_NE(m.body.find("mcx_kms_http_request_duration_seconds_bucket{route=\"keyprov\",le=\"+Inf\"}"),
            std::string::npos);
  EXPECT_NE(m.body.find("mcx_kms_key_sets_issued_total"), std::string::npos);
  EXPECT_NE(m.body.find("mcx_kms_hsm_errors_total"), std::string::npos);
}

TEST_F(KmsServerTest, ASlowClientIsCutOff) {
  // One byte every 50 ms: the 1 s header deadline passes long before the 200-byte header is done.
  HttpTestClient client(env_->server.port());
  const std::string header = "POST " + kBase + "keyprov HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " +
                             std::string(150, 's') + "\r\n\r\n";
  EXPECT_LT(client.Trickle(header, 50), header.size());
}

TEST(KmsServerLimitsTest, AtTheLimitAnIdleConnectionMakesRoom) {
  HttpServerOptions http;
  http.max_connections = 2;
  ApiTestEnv env(http);
  ASSERT_TRUE(env.status.ok());
  HttpTestClient a(env.server.port()), b(env.server.port());
  ASSERT_EQ(a.Send("GET", "/healthz").status, 200);  // a and b stay open, idle (keep-alive)
  ASSERT_EQ(b.Send("GET", "/healthz").status, 200);
  // a and b go idle once the server has written their answers and waits for their next
  // request; until then (a busy machine) c may still be told 503. Without eviction it always is.
  HttpResult served;
  for (int i = 0; i < 50 && served.status != 200; ++i) {
    HttpTestClient c(env.server.port());
    served = c.Send("POST", kBase + "keyprov", {BearerHeader(TokenFor(kAlice))});
    if (served.status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(served.status, 200);  // the oldest idle connection, a's, was closed to make room
}

TEST(KmsServerLimitsTest, ConnectionsBeyondTheLimitGet503ButHealthChecksAnswer) {
  HttpServerOptions http;
  http.max_connections = 2;
  ApiTestEnv env(http);
  ASSERT_TRUE(env.status.ok());
  // Two requests held in flight: no connection is idle, so none can make room.
  env.keys.CloseGate();
  HttpResult held[2];
  std::thread holders[2];
  for (int i = 0; i < 2; ++i) {
    holders[i] = std::thread([&, i] {
      HttpTestClient c(env.server.port());
      held[i] = c.Send("POST", kBase + "keyprov", {BearerHeader(TokenFor(kAlice))});
    });
  }
  while (env.keys.waiting() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  HttpTestClient c(env.server.port()), h(env.server.port());
  HttpResult refused = c.Send("POST", kBase + "keyprov", {BearerHeader(TokenFor(kAlice))});
  EXPECT_EQ(refused.status, 503);
  EXPECT_NE(XmlText(refused.body, "ErrorMsg").find("too many connections"), std::string::npos);
  // Over the limit, a health check still answers (on a connection that then closes).
  HttpResult health = h.Send("GET", "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_FALSE(health.keep_alive);
  env.keys.OpenGate();
  for (auto& t : holders) t.join();
  EXPECT_EQ(held[0].status, 200);
  EXPECT_EQ(held[1].status, 200);
  // Once a slot frees up, a new connection is served.
  HttpTestClient d(env.server.port());
  EXPECT_EQ(d.Send("POST", kBase + "keyprov", {BearerHeader(TokenFor(kAlice))}).status, 200);
}

TEST(KmsServerExtraPeriodsTest, ExtraPeriodsAddKeySetsOfTheNextPeriods) {
  KmsRouter::Options options;
  options.extra_periods = 1;
  ApiTestEnv env({}, options);
  ASSERT_TRUE(env.status.ok());
  HttpTestClient client(env.server.port());
  const NtpSeconds now = NtpNow();
  HttpResult r = client.Send("POST", kBase + "keyprov/" + kAlice + "/" + NtpHex(now, true), {BearerHeader(TokenFor(kAlice))});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(XmllintSchemaErrors(r.body), "");
  // The requested period's set comes last: some clients keep only the last as the current keys.
  const size_t requested = r.body.find("<KeyPeriodNo>" + std::to_string(PeriodNumber(now)) + "</KeyPeriodNo>");
  const size_t next = r.body.find("<KeyPeriodNo>" + std::to_string(PeriodNumber(now) + 1) + "</KeyPeriodNo>");
  ASSERT_NE(requested, std::string::npos);
  ASSERT_NE(next, std::string::npos);
  EXPECT_LT(next, requested);
}

// A user may fetch the current period and the next max_periods_ahead (default 2), not every
// period of the certificate.
TEST_F(KmsServerTest, KeyPeriodsBeyondTheBoundAre400) {
  const NtpSeconds now = NtpNow();
  const NtpSeconds period = static_cast<NtpSeconds>(kDefaultUserKeyPeriod);
  const std::string token = TokenFor(kAlice);
  HttpResult two = Post("keyprov/" + kAlice + "/" + NtpHex(now + 2 * period, true), token);
  ASSERT_EQ(two.status, 200) << two.body;
  EXPECT_EQ(XmlText(two.body, "KeyPeriodNo"), std::to_string(PeriodNumber(now) + 2));
  HttpResult three = Post("keyprov/" + kAlice + "/" + NtpHex(now + 3 * period, true), token);
  ExpectError(three, 400);
  EXPECT_NE(XmlText(three.body, "ErrorMsg").find("more than 2 key periods ahead"), std::string::npos) << three.body;
}

TEST(KmsServerExtraPeriodsTest, ExtraPeriodsStopAtTheBound) {
  KmsRouter::Options options;
  options.extra_periods = 3;
  options.max_periods_ahead = 1;
  ApiTestEnv env({}, options);
  ASSERT_TRUE(env.status.ok());
  HttpTestClient client(env.server.port());
  const NtpSeconds now = NtpNow();
  HttpResult r = client.Send("POST", kBase + "keyprov", {BearerHeader(TokenFor(kAlice))});
  ASSERT_EQ(r.status, 200) << r.body;
  size_t sets = 0;
  for (size_t at = r.body.find("<KmsKeySet>"); at != std::string::npos; at = r.body.find("<KmsKeySet>", at + 1)) ++sets;
  EXPECT_EQ(sets, 2u);  // the current period and the next one
  EXPECT_EQ(r.body.find("<KeyPeriodNo>" + std::to_string(PeriodNumber(now) + 2) + "</KeyPeriodNo>"), std::string::npos);
}

// The strand only routes: a token that is not in the cache is verified on a worker, so a slow
// verification does not hold up other requests on the same (here: the only) I/O thread.
//
// The slow verification: an RS256 token signed by none of many trusted 16384-bit RSA keys without
// kids, so each key is tried in turn and each try is a full public-key operation (about a
// millisecond). The keys are public only: a random odd modulus with its top bit set and e = 65537
// make a valid public key in seconds, where generating real ones would take hours; the signature
// (random, 2048 octets, below every modulus) is checked against each and matches none. How many
// keys it takes for the verification to be slow depends on the CPU, so their number doubles
// until it is.
std::string FakeRsaPublicKeyPem(int bits) {
  std::vector<uint8_t> n(static_cast<size_t>(bits / 8));
  EXPECT_TRUE(OpenSslRandom().Fill(n).ok());
  n.front() |= 0x80;
  n.back() |= 0x01;
  const ossl::Bn bn_n(BN_bin2bn(n.data(), static_cast<int>(n.size()), nullptr));
  const ossl::Bn bn_e(BN_new());
  BN_set_word(bn_e.get(), 65537);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n.get());
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e.get());
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  OSSL_PARAM_BLD_free(bld);
  const ossl::PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* raw_key = nullptr;
  const bool made = EVP_PKEY_fromdata_init(ctx.get()) == 1 &&
                    EVP_PKEY_fromdata(ctx.get(), &raw_key, EVP_PKEY_PUBLIC_KEY, params) == 1;
  OSSL_PARAM_free(params);
  const ossl::Pkey key(raw_key);
  std::string pem;
  const ossl::Bio bio(BIO_new(BIO_s_mem()));
  if (made && PEM_write_bio_PUBKEY(bio.get(), key.get()) == 1) {
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio.get(), &data);
    pem.assign(data, static_cast<size_t>(len));
  }
  EXPECT_FALSE(pem.empty()) << "OpenSSL refused the fake RSA public key";
  return pem;
}

TEST(KmsServerThreadsTest, ASlowTokenVerificationDoesNotHoldUpTheIoThread) {
  constexpr int kModulusBits = 16384;
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  const std::string claims = R"({"iss":")" + std::string(kTestIdmsIssuer) + R"(","aud":")" +
                             std::string(kDefaultAudience) + R"(","sub":")" + kAlice +
                             R"(","exp":)" + std::to_string(now + 3600) + "}";
  std::string signature(kModulusBits / 8, '\0');
  ASSERT_TRUE(OpenSslRandom().Fill(std::span<uint8_t>(reinterpret_cast<uint8_t*>(signature.data()), signature.size())).ok());
  signature[0] = 0x01;  // below every modulus, so OpenSSL does the whole operation
  const std::string token = Base64UrlEncode(R"({"alg":"RS256"})") + "." + Base64UrlEncode(claims) + "." +
                            Base64UrlEncode(signature);

  using Clock = std::chrono::steady_clock;
  const std::string path = TestIdmsDir() + "/many-keys.pem";
  std::string pem;
  int key_count = 0;
  Result<std::vector<TrustedKey>> keys = Status::NotFound("no keys yet");
  Clock::duration verify_time{};
  for (int target = 32; target <= 4096 && verify_time < std::chrono::milliseconds(200); target *= 2) {
    for (; key_count < target; ++key_count) pem += FakeRsaPublicKeyPem(kModulusBits);
    std::ofstream(path) << pem;
    keys = LoadTrustedKeys(path);
    ASSERT_TRUE(keys.ok()) << keys.status().ToString();
    const auto t0 = Clock::now();
    Result<VerifiedToken> verified = AccessTokenVerifier(*keys, ApiTestEnv::Policy()).Verify(token, now);
    verify_time = Clock::now() - t0;
    ASSERT_FALSE(verified.ok());
    ASSERT_NE(verified.status().ToString().find("does not verify with any trusted IdMS key"), std::string::npos)
        << verified.status().ToString();
  }
  ASSERT_GE(verify_time, std::chrono::milliseconds(200))
      << "the verification must be slow for this test to mean anything (" << key_count << " keys)";

  HttpServerOptions http;
  http.io_threads = 1;
  http.worker_threads = 2;
  ApiTestEnv env(std::move(keys).value(), http);
  ASSERT_TRUE(env.status.ok()) << env.status.ToString();
  HttpTestClient health(env.server.port());
  ASSERT_TRUE(health.Connect());
  std::atomic<int> slow_status{0};
  std::thread slow([&] {
    HttpTestClient client(env.server.port());
    slow_status = client.Send("POST", kBase + "init", {BearerHeader(token)}).status;
  });
  std::this_thread::sleep_for(verify_time / 10);  // the slow request is being verified by now
  const auto t1 = Clock::now();
  EXPECT_EQ(health.Send("GET", "/healthz").status, 200);
  const auto health_time = Clock::now() - t1;
  EXPECT_EQ(slow_status.load(), 0) << "/healthz was answered only after the slow request";
  EXPECT_LT(health_time, verify_time / 3) << "/healthz waited for a token verification on the I/O thread";
  slow.join();
  EXPECT_EQ(slow_status.load(), 401);
}

TEST_F(KmsServerTest, ATimeOutsideTheCertificatesWindowGetsAKmsError) {
  const std::string token = TokenFor(kAlice);
  // 1968, mid-2026 (before the period the demo certificate starts in), 2103 (NTP era 1).
  for (const char* when : {"8000000000000000", "EE00000000000000", "7E00000000000000"}) {
    HttpResult r = Post("keyprov/" + kAlice + "/" + when, token);
    ExpectError(r, 400);
    EXPECT_NE(XmlText(r.body, "ErrorMsg").find("is outside the validity of every certificate of this KMS"), std::string::npos) << when;
    EXPECT_EQ(XmlText(r.body, "UserUri"), kAlice);
    EXPECT_EQ(r.body.find("KmsKeySet"), std::string::npos);
  }
}

TEST(KmsServerShutdownTest, ShutdownFinishesRequestsInFlight) {
  auto env = std::make_unique<ApiTestEnv>();
  ASSERT_TRUE(env->status.ok());
  env->keys.CloseGate();
  HttpResult in_flight;
  std::thread client([&] {
    HttpTestClient c(env->server.port());
    in_flight = c.Send("POST", kBase + "keyprov", {BearerHeader(TokenFor(kAlice))});
  });
  while (env->keys.waiting() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  HttpTestClient idle(env->server.port());
  ASSERT_EQ(idle.Send("GET", "/healthz").status, 200);  // an idle keep-alive connection
  env->server.Shutdown();
  env->keys.OpenGate();
  client.join();
  env->server.Wait();
  EXPECT_EQ(in_flight.status, 200);
  EXPECT_FALSE(in_flight.keep_alive);  // Connection: close while shutting down
  EXPECT_EQ(idle.Send("GET", "/healthz").status, 0);  // closed, and nobody listens any more
}

}  // namespace
}  // namespace mcx::api::testing
