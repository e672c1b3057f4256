#include "engine/service/served_certificates.h"

namespace mcx {

std::shared_ptr<const ServedCertificates> ServedCertificates::Single(IssuingCertificate cert) {
  auto s = std::make_shared<ServedCertificates>();
  s->kms_uri = cert.certificate.params.kms_uri;
  s->cache.push_back(cert.certificate);
  s->issuing.push_back(std::move(cert));
  return s;
}

const IssuingCertificate* ServedCertificates::InForceAt(NtpSeconds t) const {
  const IssuingCertificate* best = nullptr;
  for (const IssuingCertificate& c : issuing) {
    if (c.certificate.valid_from <= t && t <= c.certificate.valid_to &&
        (best == nullptr || c.certificate.valid_from > best->certificate.valid_from)) {
      best = &c;
    }
  }
  return best;
}

std::pair<NtpSeconds, NtpSeconds> ServedCertificates::IssuingWindow() const {
  if (issuing.empty()) return {0, 0};
  NtpSeconds from = issuing.front().certificate.valid_from, to = issuing.front().certificate.valid_to;
  for (const IssuingCertificate& c : issuing) {
    from = std::min(from, c.certificate.valid_from);
    to = std::max(to, c.certificate.valid_to);
  }
  return {from, to};
}

std::optional<NtpSeconds> ServedCertificates::RevokedFrom(const std::string& user_uri) const {
  auto it = revoked_users.find(user_uri);
  if (it == revoked_users.end()) return std::nullopt;
  return it->second;
}

}  // namespace mcx
