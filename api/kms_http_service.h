// KmsHttpService: the KMS interface served over HTTP, assembled in one place: the IdMS's trusted
// keys -> AccessTokenVerifier -> ApiMetrics -> HttpServer -> KmsRouter over a KeyService.
//
// Create() loads the trust (a PEM or JWKS key file, or keys already loaded) and builds the
// service; Start() binds and starts serving; Shutdown()/Wait() stop it (the destructor does both,
// so the server's threads are gone before the router they call). Add external counters to
// metrics() before Start(). The KeyService must outlive the service. Errors come back as Status,
// nothing throws.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "api/access_token.h"
#include "api/api_metrics.h"
#include "api/http_server.h"
#include "api/kms_router.h"
#include "base/status.h"
#include "engine/service/key_service.h"

namespace mcx::api {

// Whom the service trusts to vouch for users: the IdMS's public keys and the policy on tokens.
struct IdmsTrust {
  std::string trusted_key_file;   // a PEM or JWKS file; read when `keys` is empty
  std::vector<TrustedKey> keys;   // already loaded keys
  AccessTokenPolicy policy;
};

struct KmsHttpServiceOptions {
  HttpServerOptions http;
  KmsRouter::Options router;
};

class KmsHttpService {
 public:
  // InvalidArgument/NotFound when the trust cannot be loaded or names no key.
  static Result<std::unique_ptr<KmsHttpService>> Create(KeyService& keys, IdmsTrust trust,
                                                        KmsHttpServiceOptions options);

  // With keys already loaded (cannot fail). Prefer Create().
  KmsHttpService(KeyService& keys, std::vector<TrustedKey> trusted, AccessTokenPolicy policy,
                 KmsHttpServiceOptions options);
  ~KmsHttpService();  // Shutdown() and Wait()
  KmsHttpService(const KmsHttpService&) = delete;
  KmsHttpService& operator=(const KmsHttpService&) = delete;

  Status Start();
  uint16_t port() const { return server_.port(); }
  void StopOnSignals() { server_.StopOnSignals(); }
  void Shutdown() { server_.Shutdown(); }
  void Wait() { server_.Wait(); }

  ApiMetrics& metrics() { return metrics_; }
  const AccessTokenPolicy& policy() const { return verifier_.policy(); }

 private:
  // In this order: the server's threads stop (in ~KmsHttpService) before the router goes.
  AccessTokenVerifier verifier_;
  ApiMetrics metrics_;
  HttpServer server_;
  KmsRouter router_;
};

}  // namespace mcx::api
