#include "engine/custody/certificate_lifecycle.h"

#include "engine/custody/certificate_record.h"

namespace mcx {
namespace {

constexpr uint64_t kDefaultLifetime = 20ull * 365 * 86400;  // seconds, as the first certificate's

}  // namespace

Result<RolloverResult> RollOverCertificate(KmsInstance& kms, const RolloverRequest& request) {
  const CommunityParameters& params = kms.config().params;
  RolloverResult out;
  // Up to the next period boundary: a certificate takes over between two periods, never inside one.
  Result<KeyPeriod> containing = KeyPeriod::Containing(params, request.valid_from);
  if (!containing.ok()) return containing.status().Annotate("--valid-from");
  NtpSeconds from = containing->valid_from;
  if (from != request.valid_from) {
    Result<KeyPeriod> next = KeyPeriod::Numbered(params, containing->number + 1);
    if (!next.ok()) return next.status().Annotate("--valid-from");
    from = next->valid_from;
    out.from_rounded = true;
  }
  const NtpSeconds now = NtpNow();
  if (from <= now) {
    return Status::InvalidArgument("the new certificate would take over at " + FormatUtc(from) +
                                   ", which is not in the future: a certificate is published ahead of its ValidFrom so "
                                   "that devices learn it first; give a later --valid-from");
  }
  NtpSeconds to = request.valid_to.value_or(from + kDefaultLifetime - 1);
  Result<KeyPeriod> last = KeyPeriod::Containing(params, to);
  if (!last.ok()) return last.status().Annotate("--valid-to");
  if (last->valid_to != to) {
    // Down to the end of the last whole period.
    if (last->number == 0) return Status::InvalidArgument("--valid-to is before the first key period");
    Result<KeyPeriod> previous = KeyPeriod::Numbered(params, last->number - 1);
    if (!previous.ok()) return previous.status().Annotate("--valid-to");
    to = previous->valid_to;
    out.to_rounded = true;
  }
  if (to <= from) {
    return Status::InvalidArgument("--valid-to (" + FormatUtc(to) + " at the end of a whole key period) is not after "
                                   "--valid-from (" + FormatUtc(from) + ")");
  }

  LifecycleStore& lifecycle = kms.store().lifecycle();
  Result<std::vector<StoredCertificate>> existing = lifecycle.ListCertificates();
  if (!existing.ok()) return existing.status();
  size_t own = 0;
  for (const StoredCertificate& c : *existing) own += c.own ? 1 : 0;

  Result<KmsCustody::SealedKeyPairs> fresh = kms.custody().GenerateMasterSecrets();
  if (!fresh.ok()) return fresh.status().Annotate("generating the new certificate's master secrets");
  KmsCertificate& cert = out.certificate;
  cert.role = kRoleRoot;
  cert.params = params;
  cert.cert_uri = params.kms_uri + ".cert." + kms.config().kms_id.substr(0, 16) + "." + std::to_string(own + 1);
  cert.issuer = params.kms_uri;
  cert.valid_from = from;
  cert.valid_to = to;
  cert.keys = fresh->pub;

  MCX_RETURN_IF_ERROR(lifecycle.AddCertificate(CertificateRow(cert, &fresh->sealed)));
  return out;
}

Status ImportExternalCertificate(KmsInstance& kms, KmsCertificate cert) {
  if (cert.params.kms_uri == kms.config().params.kms_uri) {
    return Status::InvalidArgument("the certificate is for " + cert.params.kms_uri +
                                   ", this KMS's own URI: only other security domains' certificates are imported");
  }
  if (cert.cert_uri.empty()) return Status::InvalidArgument("the certificate has no CertUri (nor Id)");
  if (cert.valid_to != 0 && cert.valid_to < cert.valid_from) {
    return Status::InvalidArgument("the certificate's ValidTo is before its ValidFrom");
  }
  cert.role = kRoleExternal;
  return kms.store().lifecycle().AddCertificate(CertificateRow(cert, nullptr));
}

}  // namespace mcx
