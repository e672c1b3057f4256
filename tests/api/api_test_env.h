// ApiTestEnv: a real KMS server on a loopback port for the api tests, with everything real but
// the key store: a throw-away DerivingKeyService behind TestKeyService, which can be told to fail
// as if the HSM were gone, can hold calls at a gate, and remembers every secret it handed out (so
// tests can prove none leaks into an error body).
#pragma once

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdlib.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "api/access_token.h"
#include "api/kms_http_service.h"
#include "api/kms_xml.h"
#include "base/bytes.h"
#include "base/pooled_random.h"
#include "bench/idms/test_idms.h"
#include "engine/service/deriving_key_service.h"

namespace mcx::api::testing {

class TestKeyService final : public KeyService {
 public:
  explicit TestKeyService(KeyService& inner) : inner_(inner) {}

  std::shared_ptr<const ServedCertificates> Certificates() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return served_ ? served_ : inner_.Certificates();
  }
  // Serves `served` instead of the inner service's snapshot (null: the inner one again), as a
  // lifecycle change would.
  void Serve(std::shared_ptr<const ServedCertificates> served) {
    std::lock_guard<std::mutex> lock(mu_);
    served_ = std::move(served);
  }
  using KeyService::KeySetAt;
  Result<KeySet> KeySetAt(const ServedCertificates& served, const std::string& user_uri, NtpSeconds t) override {
    WaitAtGate();
    if (unavailable.load()) return Status::Unavailable("the HSM does not answer (test)");
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!failure_.ok()) return failure_;
    }
    Result<KeySet> ks = inner_.KeySetAt(served, user_uri, t);
    if (ks.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      secrets_.insert(ToUpperHex(ks->rsk.view()));
      secrets_.insert(ToUpperHex(ks->ssk.view()));
    }
    return ks;
  }
  Status Ready() override {
    return unavailable.load() ? Status::Unavailable("the HSM does not answer (test)") : Status::Ok();
  }

  // KeySetAt() fails with `st` (until FailWith(Status::Ok())), as a store or HSM would.
  void FailWith(Status st) {
    std::lock_guard<std::mutex> lock(mu_);
    failure_ = std::move(st);
  }

  std::set<std::string> issued_secrets() {
    std::lock_guard<std::mutex> lock(mu_);
    return secrets_;
  }
  // While closed, KeySetAt() calls wait; `waiting()` counts them.
  void CloseGate() {
    std::lock_guard<std::mutex> lock(mu_);
    gate_open_ = false;
  }
  void OpenGate() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      gate_open_ = true;
    }
    cv_.notify_all();
  }
  int waiting() {
    std::lock_guard<std::mutex> lock(mu_);
    return waiting_;
  }

  std::atomic<bool> unavailable{false};

 private:
  void WaitAtGate() {
    std::unique_lock<std::mutex> lock(mu_);
    ++waiting_;
    cv_.wait(lock, [this] { return gate_open_; });
    --waiting_;
  }
  KeyService& inner_;
  mutable std::mutex mu_;
  std::shared_ptr<const ServedCertificates> served_;
  std::condition_variable cv_;
  bool gate_open_ = true;
  int waiting_ = 0;
  std::set<std::string> secrets_;
  Status failure_;
};

// One throw-away KMS for the whole test binary (its master secrets take a moment to make).
inline DerivingKeyService& SharedKms() {
  static DerivingKeyService* kms = [] {
    OpenSslRandom rng;
    auto params = CommunityParameters::Make("kms.example.org", kDefaultUserKeyPeriod, 0);
    auto service = DerivingKeyService::CreateThrowAway(*params, rng, {});
    return std::move(service).value().release();
  }();
  return *kms;
}

// A test IdMS key pair in a fresh temporary directory, shared by the test binary and removed
// when it exits.
inline const std::string& TestIdmsDir() {
  // Never destroyed, so that the clean-up at exit can still read it.
  static const std::string* dir = [] {
    char tmpl[] = "/tmp/mcx-kms-api-test-XXXXXX";
    auto* d = new std::string(mkdtemp(tmpl));
    (void)GenerateTestIdmsKey(*d);
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(TestIdmsDir(), ignored);
    });
    return d;
  }();
  return *dir;
}

inline std::string TokenFor(const std::string& user, TestTokenClaims claims = {}) {
  claims.user_uri = user;
  auto token = MintTestToken(TestIdmsDir() + "/" + kTestIdmsKeyFile, claims, static_cast<int64_t>(std::time(nullptr)));
  return token.ok() ? *token : "";
}

inline std::pair<std::string, std::string> BearerHeader(const std::string& token) {
  return {"Authorization", "Bearer " + token};
}

struct ApiTestEnv {
  explicit ApiTestEnv(HttpServerOptions http = {}, KmsRouter::Options router_options = {})
      : ApiTestEnv(std::move(LoadTrustedKeys(TestIdmsDir() + "/" + kTestIdmsPublicKeyFile)).value(), std::move(http),
                   router_options) {}
  // Trusting `trusted` instead of the test IdMS key.
  ApiTestEnv(std::vector<TrustedKey> trusted, HttpServerOptions http, KmsRouter::Options router_options = {})
      : keys(SharedKms()), server(keys, std::move(trusted), Policy(), {WithPort0(std::move(http)), router_options}) {
    status = server.Start();
  }

  static AccessTokenPolicy Policy() {
    AccessTokenPolicy p;
    p.issuer = kTestIdmsIssuer;
    p.audience = kDefaultAudience;
    return p;
  }
  static HttpServerOptions WithPort0(HttpServerOptions o) {
    o.port = 0;
    return o;
  }

  TestKeyService keys;
  KmsHttpService server;  // stops its threads before `keys` goes
  Status status;
};

// The text of the first element named `name` (any namespace), or "" when there is none.
inline std::string XmlText(std::string_view xml, const std::string& name) {
  xmlDoc* doc = xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "r.xml", nullptr,
                              XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (doc == nullptr) return "";
  std::string out;
  std::function<bool(xmlNode*)> walk = [&](xmlNode* n) {
    for (; n != nullptr; n = n->next) {
      if (n->type == XML_ELEMENT_NODE && name == reinterpret_cast<const char*>(n->name)) {
        xmlChar* t = xmlNodeGetContent(n);
        out = reinterpret_cast<const char*>(t);
        xmlFree(t);
        return true;
      }
      if (walk(n->children)) return true;
    }
    return false;
  };
  walk(xmlDocGetRootElement(doc));
  xmlFreeDoc(doc);
  return out;
}

}  // namespace mcx::api::testing
