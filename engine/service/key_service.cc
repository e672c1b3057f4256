#include "engine/service/key_service.h"

namespace mcx {

Result<const IssuingCertificate*> CertificateForRequest(const ServedCertificates& served, const std::string& user_uri,
                                                        NtpSeconds t) {
  const IssuingCertificate* cert = served.InForceAt(t);
  if (cert == nullptr) {
    return Status::InvalidArgument("no certificate of this KMS is in force at " + FormatUtc(t) +
                                   ": ask for a time within a certificate's validity (see certcache)");
  }
  if (std::optional<NtpSeconds> from = served.RevokedFrom(user_uri)) {
    Result<KeyPeriod> period = KeyPeriod::Containing(cert->certificate.params, t);
    if (!period.ok()) return period.status();
    if (period->valid_to >= *from) {
      return Status::PermissionDenied("the user " + user_uri + " is revoked from " + FormatUtc(*from) +
                                      ": this KMS hands it no key material; ask the operator");
    }
  }
  return cert;
}

}  // namespace mcx
