#include "engine/service/on_demand_issuer.h"

#include <algorithm>

#include <pthread.h>

#include "base/awaited_answer.h"
#include "base/cpu_count.h"
#include "engine/audit/audit_event.h"

namespace mcx {

OnDemandIssuer::OnDemandIssuer(OnDemandIssuerOptions options) : options_([&] {
  options.max_batch = std::max<size_t>(1, options.max_batch);
  if (options.max_concurrent == 0) options.max_concurrent = static_cast<size_t>(CoreCount());
  return options;
}()) {}

OnDemandIssuer::~OnDemandIssuer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : runners_) t.join();
  for (Request& r : waiting_) {
    r.done(Status::Unavailable("the KMS is shutting down: ask again (another replica, or this one once restarted)"));
  }
}

Result<KeySet> OnDemandIssuer::Issue(const IssuingCertificate& cert, const std::string& user_uri,
                                     uint64_t key_period_no) {
  return AwaitAnswer<Result<KeySet>>([&](auto done) { IssueAsync(cert, user_uri, key_period_no, std::move(done)); });
}

void OnDemandIssuer::IssueAsync(const IssuingCertificate& cert, std::string user_uri, uint64_t key_period_no,
                                IssueCallback done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (runners_.empty()) StartRunners();
    waiting_.push_back(Request{&cert, std::move(user_uri), key_period_no, std::move(done), std::nullopt});
  }
  cv_.notify_one();
}

void OnDemandIssuer::StartRunners() {
  for (size_t i = 0; i < 2 * options_.max_concurrent; ++i) {
    runners_.emplace_back([this] {
      pthread_setname_np(pthread_self(), "mcx-issue");
      RunBatches();
    });
  }
}

OnDemandIssuer::Counters OnDemandIssuer::counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_;
}

void OnDemandIssuer::RunBatches() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || (!waiting_.empty() && deriving_ < options_.max_concurrent); });
    if (stopping_) return;
    // What is waiting now, in arrival order: nothing waits for a batch to fill.
    std::vector<Request> batch;
    while (!waiting_.empty() && batch.size() < options_.max_batch) {
      batch.push_back(std::move(waiting_.front()));
      waiting_.pop_front();
    }
    ++deriving_;
    const bool more = !waiting_.empty() && deriving_ < options_.max_concurrent;
    lock.unlock();
    if (more) cv_.notify_one();  // another slot is free for what this batch left waiting
    RunBatch(batch);
    lock.lock();
    counters_.requests += batch.size();
    lock.unlock();
    for (Request& r : batch) r.done(std::move(*r.result));
    lock.lock();
  }
}

void OnDemandIssuer::RunBatch(std::vector<Request>& batch) {
  // One part per certificate (requests around a rollover ask under two), in arrival order.
  std::vector<Part> parts;
  std::vector<bool> taken(batch.size(), false);
  for (size_t i = 0; i < batch.size(); ++i) {
    if (taken[i]) continue;
    Part& part = parts.emplace_back();
    part.cert = batch[i].cert;
    for (size_t j = i; j < batch.size(); ++j) {
      if (!taken[j] && batch[j].cert == batch[i].cert) {
        taken[j] = true;
        part.requests.push_back(&batch[j]);
      }
    }
  }
  for (Part& part : parts) Derive(part);
  {
    // The cores are free for the next batch while this one waits for its records.
    std::lock_guard<std::mutex> lock(mu_);
    --deriving_;
    counters_.batches += parts.size();
  }
  cv_.notify_one();
  for (Part& part : parts) Store(part);
}

void OnDemandIssuer::Derive(Part& part) {
  const IssuingCertificate& cert = *part.cert;
  // One derivation per distinct (user, period): a client that asked twice at once gets one key set.
  part.key_of.resize(part.requests.size());
  for (size_t i = 0; i < part.requests.size(); ++i) {
    const Request& r = *part.requests[i];
    size_t k = 0;
    while (k < part.users.size() && !(part.users[k] == r.user_uri && part.periods[k] == r.key_period_no)) ++k;
    if (k == part.users.size()) {
      part.users.push_back(r.user_uri);
      part.periods.push_back(r.key_period_no);
    }
    part.key_of[i] = k;
  }

  if (audit_ != nullptr) {
    std::vector<KeySetRef> refs;
    refs.reserve(part.users.size());
    for (size_t k = 0; k < part.users.size(); ++k) refs.push_back({part.users[k], part.periods[k]});
    part.recorded = audit_->Begin(KeySetsIssued("server", cert.certificate.cert_uri, refs));
  }

  if (part.users.size() >= options_.min_kernel_batch) {
    part.sets = cert.source->DeriveBatch(part.users, part.periods);
  } else {
    part.sets.reserve(part.users.size());
    for (size_t k = 0; k < part.users.size(); ++k) part.sets.push_back(cert.source->Derive(part.users[k], part.periods[k]));
  }
  part.sealed_of.assign(part.users.size(), kNotSealed);
  for (size_t k = 0; k < part.users.size(); ++k) {
    if (!part.sets[k].ok()) continue;
    Result<SealedKeySet> s = cert.cipher->Seal(*part.sets[k]);
    if (!s.ok()) {
      part.sets[k] = s.status();
      continue;
    }
    part.sealed_of[k] = part.sealed.size();
    part.sealed.push_back(std::move(s).value());
  }
}

void OnDemandIssuer::Store(Part& part) {
  const IssuingCertificate& cert = *part.cert;
  const auto answer_all = [&](const Status& st) {
    for (Request* r : part.requests) r->result.emplace(st);
  };
  // Nothing is stored or handed out before its record is committed (fail-closed).
  const Status audited = RefuseUnlessRecorded(part.recorded.Wait(), audit_fail_open_, "handing out key material");
  if (!audited.ok()) return answer_all(audited);

  if (!part.sealed.empty()) {
    Result<size_t> inserted = cert.store->InsertBatch(part.sealed);
    if (!inserted.ok()) return answer_all(inserted.status());
    if (*inserted != part.sealed.size()) {
      // Another process (or a request before this batch) stored some first: those are served.
      for (size_t k = 0; k < part.users.size(); ++k) {
        if (part.sealed_of[k] == kNotSealed) continue;
        Result<std::optional<SealedKeySet>> found = cert.store->Find(part.users[k], part.periods[k]);
        if (!found.ok()) {
          part.sets[k] = found.status();
        } else if (!found->has_value()) {
          part.sets[k] = Status::Internal("the key set of " + part.users[k] + " for key period " +
                                          std::to_string(part.periods[k]) + " was neither stored nor found in the store");
        } else if ((*found)->nonce != part.sealed[part.sealed_of[k]].nonce) {
          part.sets[k] = cert.cipher->Open(**found);
        }
      }
    }
  }
  for (size_t i = 0; i < part.requests.size(); ++i) part.requests[i]->result.emplace(part.sets[part.key_of[i]]);
}

}  // namespace mcx
