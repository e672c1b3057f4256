// libFuzzer target: KmsRequest bodies as a client sends them (api ParseKmsRequest, libxml2 with
// no network, DTDs or entity expansion). A document that parses always names its user.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "api/kms_xml.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  mcx::Result<mcx::api::KmsRequestDocument> doc = mcx::api::ParseKmsRequest(body);
  if (doc.ok() && doc->user_uri.empty()) std::abort();
  return 0;
}
