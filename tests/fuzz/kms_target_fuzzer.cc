// libFuzzer target: the request target of every HTTP request (api ParseKmsTarget) — route names,
// the user URI (raw or percent-encoded), the 16-hex-digit time, certcache numbers, cert/<KMS URI>.
// Beyond "no crash": a parsed keyprov target always names a user, and a time only with has_time.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "api/kms_router.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view target(reinterpret_cast<const char*>(data), size);
  mcx::Result<mcx::api::KmsTarget> t = mcx::api::ParseKmsTarget(target);
  if (t.ok()) {
    if (t->route == mcx::api::ApiRoute::kKeyProv && t->has_time && t->user_uri.empty()) std::abort();
    if (!t->has_time && t->time != 0) std::abort();
  }
  return 0;
}
