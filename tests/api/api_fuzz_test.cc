// Ten thousand requests with random bad paths, headers, tokens and bodies against a real server:
// no crash, always an answer, no 5xx but 503 (and that only while the key service is told to be
// unavailable), every XML answer valid against docs/kms-interface.xsd, and no secret key in any
// error body. The seed is fixed (and printed) so a failure can be replayed.
#include <gtest/gtest.h>
#include <libxml/xmlschemas.h>

#include <map>
#include <random>

#include "api/kms_xml.h"
#include "tests/api/api_test_env.h"
#include "tests/api/http_test_client.h"

namespace mcx::api::testing {
namespace {

class SchemaValidator {
 public:
  SchemaValidator() {
    xmlSchemaParserCtxtPtr pctx = xmlSchemaNewParserCtxt(MCX_SOURCE_DIR "/docs/kms-interface.xsd");
    schema_ = xmlSchemaParse(pctx);
    xmlSchemaFreeParserCtxt(pctx);
    vctx_ = xmlSchemaNewValidCtxt(schema_);
    xmlSchemaSetValidErrors(vctx_, nullptr, nullptr, nullptr);
  }
  ~SchemaValidator() {
    xmlSchemaFreeValidCtxt(vctx_);
    xmlSchemaFree(schema_);
  }
  bool loaded() const { return schema_ != nullptr; }
  bool Valid(const std::string& xml) {
    xmlDoc* doc = xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "r.xml", nullptr,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (doc == nullptr) return false;
    const bool ok = xmlSchemaValidateDoc(vctx_, doc) == 0;
    xmlFreeDoc(doc);
    return ok;
  }

 private:
  xmlSchemaPtr schema_ = nullptr;
  xmlSchemaValidCtxtPtr vctx_ = nullptr;
};

class Generator {
 public:
  explicit Generator(uint32_t seed) : rng_(seed) {}

  size_t Below(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  bool Chance(int percent) { return Below(100) < static_cast<size_t>(percent); }
  template <typename T>
  const T& Pick(const std::vector<T>& v) { return v[Below(v.size())]; }

  std::string Junk(size_t max_len, const std::string& alphabet) {
    std::string s;
    const size_t n = Below(max_len + 1);
    for (size_t i = 0; i < n; ++i) s += alphabet[Below(alphabet.size())];
    return s;
  }
  std::string Bytes(size_t max_len) {
    std::string s;
    const size_t n = Below(max_len + 1);
    for (size_t i = 0; i < n; ++i) s += static_cast<char>(Below(256));
    return s;
  }

  std::string Target() {
    static const std::vector<std::string> bases = {
        "/keymanagement/identity/v1/keyprov", "/keymanagement/identity/v1/init", "/keymanagement/identity/v1/certcache",
        "/keymanagement/identity/v1/", "/keymanagement/identity/v2/keyprov", "/healthz", "/readyz", "/metrics", "/",
        "/keymanagement"};
    static const std::vector<std::string> users = {
        "sip:alice@example.org", "sip%3Aalice%40example.org", "sip:bob@example.org", "alice", "sip:", ":x", "%",
        "%zz", "%00", "sip:a%0Ab", "sip:%C3%A9@x", "sip:%ff%fe@x", "urn:a/b/c", "tel:+4412345", "sip:a@b;x=y"};
    static const std::vector<std::string> times = {"EEAA0000DEADBEEF", "eeaa0000deadbeef", "0000000000000000",
                                                   "FFFFFFFFFFFFFFFF", "EEAA", "EEAA0000DEADBEEFA", "ZZZZZZZZZZZZZZZZ",
                                                   ""};
    const std::string url_chars = "abcXYZ019:@%/?#&=+;,.-_~!$'()*[]";
    std::string t = Pick(bases);
    if (t.find("keyprov") != std::string::npos && Chance(70)) {
      t += "/" + (Chance(80) ? Pick(users) : Junk(40, url_chars));
      if (Chance(50)) t += "/" + (Chance(80) ? Pick(times) : Junk(20, url_chars));
    } else if (Chance(20)) {
      t += Junk(30, url_chars);
    }
    return t;
  }

  std::string Body() {
    static const std::string ns = kKmsNamespace;
    static const std::vector<std::string> bodies = {
        "",
        "<KmsRequest xmlns=\"" + ns + "\"><UserUri>sip:alice@example.org</UserUri></KmsRequest>",
        "<KmsRequest xmlns=\"" + ns + "\"><UserUri>sip:bob@example.org</UserUri></KmsRequest>",
        "<KmsRequest xmlns=\"" + ns + "\"><UserUri></UserUri></KmsRequest>",
        "<KmsRequest><UserUri>sip:alice@example.org</UserUri></KmsRequest>",
        "<!DOCTYPE a [<!ENTITY x \"xxxxxxxx\"><!ENTITY y \"&x;&x;&x;&x;&x;\">]><a>&y;</a>",
        "<?xml version=\"1.0\" encoding=\"EBCDIC\"?><a/>",
        "<a><b></a>",
        "{\"json\": true}",
        "   \n ",
    };
    if (Chance(10)) return Bytes(600);
    if (Chance(3)) return std::string(70 * 1024, 'x');  // beyond the body limit
    return Pick(bodies);
  }

 private:
  std::mt19937 rng_;
};

TEST(ApiFuzzTest, TenThousandRandomRequests) {
  HttpServerOptions http;
  http.max_body_bytes = 64 * 1024;
  http.max_header_bytes = 8 * 1024;
  ApiTestEnv env(http);
  ASSERT_TRUE(env.status.ok());
  SchemaValidator schema;
  ASSERT_TRUE(schema.loaded());

  const uint32_t seed = 20261128;
  std::printf("seed %u\n", seed);
  Generator gen(seed);
  TestTokenClaims expired, no_scope, other_audience;
  expired.lifetime_seconds = -3600;
  no_scope.scope = "openid";
  other_audience.audience = "elsewhere";
  const std::string alice = TokenFor("sip:alice@example.org");
  std::string tampered = alice;
  tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'a' ? 'b' : 'a';
  const std::vector<std::string> authorizations = {
      "", "Bearer " + alice, "bearer " + alice, "Bearer " + TokenFor("sip:bob@example.org"),
      "Bearer " + TokenFor("sip:alice@example.org", expired), "Bearer " + TokenFor("sip:alice@example.org", no_scope),
      "Bearer " + TokenFor("sip:alice@example.org", other_audience), "Bearer " + tampered, "Bearer", "Basic YTpi",
      "Bearer a.b.c", "Bearer " + std::string(9000, 'A')};
  const std::vector<std::string> methods = {"POST", "POST", "POST", "GET", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"};
  const std::vector<int> allowed = {200, 400, 401, 403, 404, 405, 413, 431, 503};

  HttpTestClient client(env.server.port());
  std::vector<std::string> error_bodies;
  int answered = 0, attempted = 0;
  std::map<int, int> by_status;
  for (int i = 0; i < 10000; ++i) {
    const bool hsm_gone = i >= 6000 && i < 7000;
    env.keys.unavailable = hsm_gone;
    HttpResult r;
    std::string sent;
    if (gen.Chance(5)) {
      // Not HTTP, or barely: random bytes with the header's end.
      std::string raw = gen.Bytes(200);
      for (char& c : raw) {
        if (c == '\r' || c == '\n') c = ' ';
      }
      if (gen.Chance(50)) raw = gen.Pick(methods) + " " + gen.Target() + " HTTP/1.1" + raw.substr(0, 20);
      sent = raw;
      r = client.SendRaw(raw + "\r\n\r\n");
    } else {
      const std::string method = gen.Pick(methods);
      const std::string target = gen.Target();
      std::vector<std::pair<std::string, std::string>> headers;
      const std::string& auth = gen.Pick(authorizations);
      if (!auth.empty()) headers.push_back({"Authorization", auth});
      if (gen.Chance(10)) headers.push_back({"X-Forwarded-Proto", gen.Chance(50) ? "https" : "gopher"});
      if (gen.Chance(3)) headers.push_back({"X-Big", std::string(9000, 'h')});
      if (gen.Chance(5)) headers.push_back({"Host", gen.Junk(20, "ab<>&\"'%:[] ")});
      sent = method + " " + target;
      r = client.Send(method, target, headers, gen.Body());
      if (method == "HEAD") {
        ASSERT_NE(r.status, 0) << "no answer to HEAD request " << i << ": " << r.error;
        EXPECT_TRUE(r.body.empty());
        ++by_status[r.status];
        ++attempted;
        ++answered;
        continue;  // no body to check
      }
    }
    ++attempted;
    ASSERT_NE(r.status, 0) << "no answer to request " << i << " (" << sent.substr(0, 200) << "): " << r.error;
    ++answered;
    ++by_status[r.status];
    EXPECT_TRUE(std::find(allowed.begin(), allowed.end(), r.status) != allowed.end())
        << "status " << r.status << " for request " << i << ": " << sent.substr(0, 200);
    if (r.status == 503) {
      EXPECT_TRUE(hsm_gone) << "503 while the key service was up, request " << i;
    }
    const std::string content_type = r.headers.count("content-type") ? r.headers["content-type"] : "";
    if (content_type == "application/xml") {
      EXPECT_TRUE(schema.Valid(r.body)) << "request " << i << " (" << sent.substr(0, 200) << ") got invalid XML:\n"
                                        << r.body.substr(0, 2000);
    }
    if (r.status != 200) error_bodies.push_back(std::move(r.body));
    if (::testing::Test::HasFailure()) break;
  }
  env.keys.unavailable = false;
  EXPECT_EQ(answered, attempted);
  EXPECT_GT(attempted, 8000);
  for (const auto& [status, n] : by_status) std::printf("status %d: %d\n", status, n);
  EXPECT_GT(by_status[200], 100);
  EXPECT_GT(by_status[503], 0);
  const auto secrets = env.keys.issued_secrets();
  EXPECT_FALSE(secrets.empty());  // some requests were good ones
  for (const std::string& body : error_bodies) {
    for (const std::string& secret : secrets) {
      ASSERT_EQ(body.find(secret), std::string::npos) << "a secret key leaked into an error body";
    }
  }
}

}  // namespace
}  // namespace mcx::api::testing
