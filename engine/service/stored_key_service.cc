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

  // Every key set handed out is marked delivered (after the fact, in batches).
  Answer delivered = [this, cert_uri = &(*cert)->certificate.cert_uri, user_uri, period_no = period->number,
                      done = std::move(done)](Result<KeySet> ks) {
    if (ks.ok() && deliveries_ != nullptr) deliveries_->Record(*cert_uri, user_uri, period_no);
    done(std::move(ks));
  };
  if ((*cert)->store->remote()) return Gather(Lookup{*cert, user_uri, period->number, std::move(delivered)});
  AnswerOrIssue(**cert, user_uri, period->number, Stored(**cert, user_uri, period->number), std::move(delivered));
}

void StoredKeyService::AnswerOrIssue(const IssuingCertificate& cert, const std::string& user_uri,
                                     uint64_t key_period_no, Result<std::optional<KeySet>> stored, Answer delivered) {
  if (!stored.ok()) return delivered(stored.status());
  if (stored->has_value()) return delivered(std::move(**stored));
  // Not issued yet: derived, recorded and stored with the other requests waiting (on_demand_issuer.h).
  issuer_.IssueAsync(cert, user_uri, key_period_no, std::move(delivered));
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
      AnswerOrIssue(*l.cert, l.user_uri, l.key_period_no,
                    Opened(*l.cert, l.user_uri, l.key_period_no, std::move(found[i])), std::move(l.delivered));
    }
    // Unless none came: then the lookups still waiting are sent from here.
    std::lock_guard<std::mutex> lock(lookup_mu_);
    if (lookups_.empty() || looking_up_) return;
    looking_up_ = true;
  }
}

Result<std::optional<KeySet>> StoredKeyService::Stored(const IssuingCertificate& cert, const std::string& user_uri,
                                                       uint64_t key_period_no) {
  return Opened(cert, user_uri, key_period_no, cert.store->Find(user_uri, key_period_no));
}

Result<std::optional<KeySet>> StoredKeyService::Opened(const IssuingCertificate& cert, const std::string& user_uri,
                                                       uint64_t key_period_no,
                                                       Result<std::optional<SealedKeySet>> found) {
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
