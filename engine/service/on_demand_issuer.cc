#include "engine/service/on_demand_issuer.h"

#include <algorithm>
#include <thread>

#include "engine/audit/audit_event.h"

namespace mcx {

OnDemandIssuer::OnDemandIssuer(OnDemandIssuerOptions options) : options_([&] {
  options.max_batch = std::max<size_t>(1, options.max_batch);
  if (options.max_concurrent == 0) options.max_concurrent = std::max(1u, std::thread::hardware_concurrency());
  return options;
}()) {}

Result<KeySet> OnDemandIssuer::Issue(const IssuingCertificate& cert, const std::string& user_uri,
                                     uint64_t key_period_no) {
  Request me{&cert, &user_uri, key_period_no, std::nullopt, false};
  std::unique_lock<std::mutex> lock(mu_);
  waiting_.push_back(&me);
  while (!me.done) {
    if (running_ >= options_.max_concurrent || waiting_.empty()) {
      cv_.wait(lock);
      continue;
    }
    // Run the next batch: what is waiting now, ours among it or not (then ours is in a later one).
    std::vector<Request*> batch;
    while (!waiting_.empty() && batch.size() < options_.max_batch) {
      batch.push_back(waiting_.front());
      waiting_.pop_front();
    }
    ++running_;
    lock.unlock();
    RunBatch(batch);
    lock.lock();
    --running_;
    counters_.requests += batch.size();
    for (Request* r : batch) r->done = true;  // their owners may return (and free them) from here on
    cv_.notify_all();
  }
  return std::move(*me.result);
}

OnDemandIssuer::Counters OnDemandIssuer::counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_;
}

void OnDemandIssuer::RunBatch(const std::vector<Request*>& batch) {
  // One pass per certificate (requests around a rollover ask under two), in arrival order.
  std::vector<bool> taken(batch.size(), false);
  size_t groups = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (taken[i]) continue;
    std::vector<Request*> same;
    for (size_t j = i; j < batch.size(); ++j) {
      if (!taken[j] && batch[j]->cert == batch[i]->cert) {
        taken[j] = true;
        same.push_back(batch[j]);
      }
    }
    IssueUnderCertificate(*batch[i]->cert, same);
    ++groups;
  }
  std::lock_guard<std::mutex> lock(mu_);
  counters_.batches += groups;
}

void OnDemandIssuer::IssueUnderCertificate(const IssuingCertificate& cert, const std::vector<Request*>& requests) {
  // One derivation per distinct (user, period): a client that asked twice at once gets one key set.
  std::vector<std::string> users;
  std::vector<uint64_t> periods;
  std::vector<size_t> key_of(requests.size());  // requests[i] is answered by key set key_of[i]
  for (size_t i = 0; i < requests.size(); ++i) {
    size_t k = 0;
    while (k < users.size() && !(users[k] == *requests[i]->user_uri && periods[k] == requests[i]->key_period_no)) ++k;
    if (k == users.size()) {
      users.push_back(*requests[i]->user_uri);
      periods.push_back(requests[i]->key_period_no);
    }
    key_of[i] = k;
  }
  const auto answer_all = [&](const Status& st) {
    for (Request* r : requests) r->result.emplace(st);
  };

  AuditLog::Receipt recorded;  // without a log: OK at once
  if (audit_ != nullptr) {
    std::vector<KeySetRef> refs;
    refs.reserve(users.size());
    for (size_t k = 0; k < users.size(); ++k) refs.push_back({users[k], periods[k]});
    recorded = audit_->Begin(KeySetsIssued("server", cert.certificate.cert_uri, refs));
  }

  std::vector<Result<KeySet>> sets;
  if (users.size() >= options_.min_kernel_batch) {
    sets = cert.source->DeriveBatch(users, periods);
  } else {
    sets.reserve(users.size());
    for (size_t k = 0; k < users.size(); ++k) sets.push_back(cert.source->Derive(users[k], periods[k]));
  }
  constexpr size_t kNone = static_cast<size_t>(-1);
  std::vector<SealedKeySet> sealed;
  std::vector<size_t> sealed_of(users.size(), kNone);
  for (size_t k = 0; k < users.size(); ++k) {
    if (!sets[k].ok()) continue;
    Result<SealedKeySet> s = cert.cipher->Seal(*sets[k]);
    if (!s.ok()) {
      sets[k] = s.status();
      continue;
    }
    sealed_of[k] = sealed.size();
    sealed.push_back(std::move(s).value());
  }

  // Nothing is stored or handed out before its record is committed (fail-closed).
  const Status audited = RefuseUnlessRecorded(recorded.Wait(), audit_fail_open_, "handing out key material");
  if (!audited.ok()) return answer_all(audited);

  if (!sealed.empty()) {
    Result<size_t> inserted = cert.store->InsertBatch(sealed);
    if (!inserted.ok()) return answer_all(inserted.status());
    if (*inserted != sealed.size()) {
      // Another process (or a request before this batch) stored some first: those are served.
      for (size_t k = 0; k < users.size(); ++k) {
        if (sealed_of[k] == kNone) continue;
        Result<std::optional<SealedKeySet>> found = cert.store->Find(users[k], periods[k]);
        if (!found.ok()) {
          sets[k] = found.status();
        } else if (!found->has_value()) {
          sets[k] = Status::Internal("the key set of " + users[k] + " for key period " + std::to_string(periods[k]) +
                                     " was neither stored nor found in the store");
        } else if ((*found)->nonce != sealed[sealed_of[k]].nonce) {
          sets[k] = cert.cipher->Open(**found);
        }
      }
    }
  }
  for (size_t i = 0; i < requests.size(); ++i) requests[i]->result.emplace(sets[key_of[i]]);
}

}  // namespace mcx
