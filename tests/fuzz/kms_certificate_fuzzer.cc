// libFuzzer target: another security domain's KmsCertificate as `mcx-kms cert import` reads it
// (api ParseKmsCertificate), then the stored form it becomes (custody's certificate record): a
// certificate that parses has a KMS URI and round-trips through its record unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "api/kms_xml.h"
#include "engine/custody/certificate_record.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view xml(reinterpret_cast<const char*>(data), size);
  mcx::Result<mcx::KmsCertificate> cert = mcx::api::ParseKmsCertificate(xml);
  if (!cert.ok()) return 0;
  if (cert->params.kms_uri.empty()) std::abort();
  const mcx::Bytes record = mcx::EncodeCertificateRecord(*cert);
  mcx::Result<mcx::KmsCertificate> back = mcx::DecodeCertificateRecord(record, "fuzz");
  if (!back.ok() || back->cert_uri != cert->cert_uri || back->params.kms_uri != cert->params.kms_uri ||
      back->keys.z_pub != cert->keys.z_pub || back->keys.kpak != cert->keys.kpak ||
      back->kms_domains != cert->kms_domains || back->valid_from != cert->valid_from) {
    std::abort();
  }
  return 0;
}
