#include "api/kms_http_service.h"

#include <utility>

namespace mcx::api {

Result<std::unique_ptr<KmsHttpService>> KmsHttpService::Create(KeyService& keys, IdmsTrust trust,
                                                               KmsHttpServiceOptions options) {
  if (trust.keys.empty()) {
    if (trust.trusted_key_file.empty()) {
      return Status::InvalidArgument("no IdMS key is trusted, so no access token could be accepted: give its public key file");
    }
    Result<std::vector<TrustedKey>> loaded = LoadTrustedKeys(trust.trusted_key_file);
    if (!loaded.ok()) return loaded.status();
    trust.keys = std::move(loaded).value();
  }
  return std::make_unique<KmsHttpService>(keys, std::move(trust.keys), std::move(trust.policy), std::move(options));
}

KmsHttpService::KmsHttpService(KeyService& keys, std::vector<TrustedKey> trusted, AccessTokenPolicy policy,
                               KmsHttpServiceOptions options)
    : verifier_(std::move(trusted), std::move(policy)),
      server_(std::move(options.http), metrics_),
      router_(keys, verifier_, metrics_, server_.workers(), options.router) {}

KmsHttpService::~KmsHttpService() {
  server_.Shutdown();
  server_.Wait();
}

Status KmsHttpService::Start() { return server_.Start(router_); }

}  // namespace mcx::api
