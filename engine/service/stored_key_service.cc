#include "engine/service/stored_key_service.h"

#include "base/awaited_answer.h"

namespace mcx {

StoredKeyService::StoredKeyService(std::shared_ptr<const ServedCertificates> served, KeyStore& store,
                                   std::function<Status()> hsm_ping, DeliveryRecorder* deliveries)
    : served_(std::move(served)), store_(store), hsm_ping_(std::move(hsm_ping)), deliveries_(deliveries) {}

Result<KeySet> StoredKeyService::KeySetAt(const ServedCertificates& served, const std::string& user_uri,
                                          NtpSeconds t) {
  return AwaitAnswer<Result<KeySet>>([&](auto done) { KeySetAtAsync(served, user_uri, t, std::move(done)); });
}

void StoredKeyService::KeySetAtAsync(const ServedCertificates& served, const std::string& user_uri, NtpSeconds t,
                                     std::function<void(Result<KeySet>)> done) {
  if (Status valid = ValidateUserUri(user_uri); !valid.ok()) return done(valid);
  Result<const IssuingCertificate*> cert = CertificateForRequest(served, user_uri, t);
  if (!cert.ok()) return done(cert.status());
  Result<KeyPeriod> period = KeyPeriod::Containing((*cert)->certificate.params, t);
  if (!period.ok()) return done(period.status());

  // Every key set handed out is marked delivered (after the fact, in batches).
  auto delivered = [this, cert_uri = &(*cert)->certificate.cert_uri, user_uri, period_no = period->number,
                    done = std::move(done)](Result<KeySet> ks) {
    if (ks.ok() && deliveries_ != nullptr) deliveries_->Record(*cert_uri, user_uri, period_no);
    done(std::move(ks));
  };
  Result<std::optional<KeySet>> stored = Stored(**cert, user_uri, period->number);
  if (!stored.ok()) return delivered(stored.status());
  if (stored->has_value()) return delivered(std::move(**stored));
  // Not issued yet: derived, recorded and stored with the other requests waiting (on_demand_issuer.h).
  issuer_.IssueAsync(**cert, user_uri, period->number, std::move(delivered));
}

Result<std::optional<KeySet>> StoredKeyService::Stored(const IssuingCertificate& cert, const std::string& user_uri,
                                                       uint64_t key_period_no) {
  Result<std::optional<SealedKeySet>> found = cert.store->Find(user_uri, key_period_no);
  if (!found.ok()) return found.status();
  if (!found->has_value()) return std::optional<KeySet>();
  if ((*found)->revoked) {
    return Status::PermissionDenied("the key set of " + user_uri + " for key period " +
                                    std::to_string(key_period_no) + " is revoked: it is never served again");
  }
  // Deliveries are recorded in batches after the fact (DeliveryRecorder). While the audit log
  // is failing, that cannot be trusted, so this one is recorded first, or refused (fail-closed);
  // its success is also what brings the log's health back.
  if (audit_ != nullptr && !audit_->Health().ok()) {
    const KeySetRef ref{user_uri, key_period_no};
    MCX_RETURN_IF_ERROR(
        CheckAudit(audit_->Record(KeySetsDelivered("server", cert.certificate.cert_uri, std::span(&ref, 1)))));
  }
  Result<KeySet> opened = cert.cipher->Open(**found);
  if (!opened.ok()) return opened.status();
  return std::optional<KeySet>(std::move(opened).value());
}

Status StoredKeyService::CheckAudit(const Status& st) const {
  return RefuseUnlessRecorded(st, audit_fail_open_, "handing out key material");
}

Status StoredKeyService::Ready() {
  if (audit_ != nullptr && !audit_fail_open_) MCX_RETURN_IF_ERROR(audit_->Health().Annotate("audit log"));
  MCX_RETURN_IF_ERROR(store_.Ping().Annotate("store"));
  if (hsm_ping_) MCX_RETURN_IF_ERROR(hsm_ping_().Annotate("HSM"));
  return Status::Ok();
}

}  // namespace mcx
