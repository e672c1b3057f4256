#include "engine/service/stored_key_service.h"

#include <algorithm>

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

  if ((*cert)->store->remote()) return Gather(Lookup{*cert, user_uri, period->number, std::move(done)});
  AnswerOrIssue(**cert, user_uri, period->number, (*cert)->store->Find(user_uri, period->number), std::move(done));
}

void StoredKeyService::AnswerOrIssue(const IssuingCertificate& cert, const std::string& user_uri,
                                     uint64_t key_period_no, Result<std::optional<SealedKeySet>> found, Answer answer) {
  if (!found.ok()) return answer(found.status());
  if (found->has_value()) {
    Result<KeySet> opened = Opened(cert, **found);
    if (opened.ok() && !(*found)->delivered) RecordDelivery(cert, user_uri, key_period_no);
    return answer(std::move(opened));
  }
  // Not issued yet: derived, recorded and stored with the other requests waiting (on_demand_issuer.h).
  issuer_.IssueAsync(cert, user_uri, key_period_no,
                     [this, &cert, user_uri, key_period_no, answer = std::move(answer)](Result<KeySet> ks) {
                       if (ks.ok()) RecordDelivery(cert, user_uri, key_period_no);
                       answer(std::move(ks));
                     });
}

void StoredKeyService::RecordDelivery(const IssuingCertificate& cert, const std::string& user_uri,
                                      uint64_t key_period_no) {
  if (deliveries_ != nullptr) deliveries_->Record(cert.certificate.cert_uri, user_uri, key_period_no);
}

void StoredKeyService::Gather(Lookup lookup) {
  {
    std::lock_guard<std::mutex> lock(lookup_mu_);
    lookups_.push_back(std::move(lookup));
    if (looking_up_) return;  // the thread of the query in flight, or the next caller, sends it
    looking_up_ = true;
  }
  RunLookups();
}

void StoredKeyService::RunLookups() {
  for (;;) {  // looking_up_ is set, by this thread
    std::vector<Lookup> batch;
    {
      std::lock_guard<std::mutex> lock(lookup_mu_);
      const size_t n = std::min(kLookupBatch, lookups_.size());
      batch.reserve(n);
      for (size_t i = 0; i < n; ++i) batch.push_back(std::move(lookups_[i]));
      lookups_.erase(lookups_.begin(), lookups_.begin() + static_cast<ptrdiff_t>(n));
    }
    // One FindMany per certificate (nearly always one: two only across a rollover).
    std::vector<Result<std::optional<SealedKeySet>>> found(batch.size(), Status::Internal("not looked up"));
    std::vector<bool> done(batch.size(), false);
    for (size_t first = 0; first < batch.size(); ++first) {
      if (done[first]) continue;
      KeyStore* store = batch[first].cert->store;
      std::vector<size_t> which;
      std::vector<KeySetRef> keys;
      for (size_t i = first; i < batch.size(); ++i) {
        if (done[i] || batch[i].cert->store != store) continue;
        which.push_back(i);
        keys.push_back({batch[i].user_uri, batch[i].key_period_no});
        done[i] = true;
      }
      Result<std::vector<std::optional<SealedKeySet>>> rows = store->FindMany(keys);
      for (size_t j = 0; j < which.size(); ++j) {
        found[which[j]] = rows.ok() ? Result<std::optional<SealedKeySet>>(std::move((*rows)[j]))
                                    : Result<std::optional<SealedKeySet>>(rows.status());
      }
    }
    // The query is back: the next request to arrive sends what waits, on its own thread, while
    // this one answers its batch.
    {
      std::lock_guard<std::mutex> lock(lookup_mu_);
      looking_up_ = false;
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      Lookup& l = batch[i];
      AnswerOrIssue(*l.cert, l.user_uri, l.key_period_no, std::move(found[i]), std::move(l.answer));
    }
    // Unless none came: then the lookups still waiting are sent from here.
    std::lock_guard<std::mutex> lock(lookup_mu_);
    if (lookups_.empty() || looking_up_) return;
    looking_up_ = true;
  }
}

Result<KeySet> StoredKeyService::Opened(const IssuingCertificate& cert, const SealedKeySet& found) {
  if (found.revoked) {
    return Status::PermissionDenied("the key set of " + found.user_uri + " for key period " +
                                    std::to_string(found.period.number) + " is revoked: it is never served again");
  }
  // Deliveries are recorded in batches after the fact (DeliveryRecorder). While the audit log
  // is failing, that cannot be trusted, so this one is recorded first, or refused (fail-closed);
  // its success is also what brings the log's health back.
  if (audit_ != nullptr && !audit_->Health().ok()) {
    const KeySetRef ref{found.user_uri, found.period.number};
    MCX_RETURN_IF_ERROR(
        CheckAudit(audit_->Record(KeySetsDelivered("server", cert.certificate.cert_uri, std::span(&ref, 1)))));
  }
  return cert.cipher->Open(found);
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
