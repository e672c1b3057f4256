// OnDemandIssuer: derives, records and stores the key sets that requests ask for and the store
// does not hold yet, batching the requests that arrive together.
//
// A request hands in (certificate, user, period) with a callback and is free at once
// (IssueAsync; Issue waits for the answer instead). The issuer's own threads run the batches:
// while fewer than max_concurrent batches derive, an idle one takes up to max_batch waiting
// requests, in arrival order, and for each certificate among them
//   1. begins ONE audit record for the batch (its commit overlaps the work below),
//   2. derives them: in one call to the kernels' batch entry point (shared inversions, vector
//      lanes) when there are at least min_kernel_batch of them, else one at a time,
//   3. seals them; then it gives its derivation slot to the next batch, and
//   4. waits for the record, refusing all of them when it failed (fail-closed),
//   5. stores them in one transaction and answers each request.
// Because callers do not wait on a thread of their own, a batch is whatever arrived from every
// connection while the previous ones derived: batches grow with the load, not with the number
// of request threads. There are twice as many issuer threads as derivation slots, so that a
// batch waiting for its record and commit (step 4, 5) never keeps the cores idle.
// Nothing waits for a batch to fill: a batch is what arrived while the previous one ran, so a
// lone request goes alone and batches grow with the load. The store keeps the first key set
// written for (certificate, user, period), so a race with another process, or the same request
// twice in a batch, still gives every caller one and the same key set.
//
// When a record fails and the operator chose audit.on_failure = "serve", the key sets are stored
// and served anyway, with a warning (RefuseUnlessRecorded). If a derivation fails after its batch
// was recorded, the log accounts for a key set never stored: it may over-account, never under.
// Thread-safe. Callers keep `cert` (their ServedCertificates snapshot) alive until they are
// answered. Destroying the issuer finishes the batches under way and answers what still waits
// with Unavailable.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/audit/audit_log.h"
#include "engine/keys/key_set.h"
#include "engine/service/served_certificates.h"

namespace mcx {

struct OnDemandIssuerOptions {
  size_t max_batch = 64;      // requests per batch; bench/math_bench's BM_Rsk: 64 derive at about
                              // 2.7 times the one-at-a-time rate, in about 10 ms on an IFMA core
  size_t max_concurrent = 0;  // batches deriving at once; 0: one per core. A batch waiting for
                              // its audit record and its store commit holds no such slot.
  // The kernels' batch entry point has a fixed cost of several one-at-a-time RSKs (its shared
  // inversions); below this many key sets a batch derives them one at a time, and still shares
  // its one audit record and one store transaction. bench/math_bench's small-batch BM_Rsk runs
  // put the break-even near 10 on both the IFMA and the AVX2 path.
  size_t min_kernel_batch = 12;
};

using IssueCallback = std::function<void(Result<KeySet>)>;

class OnDemandIssuer {
 public:
  explicit OnDemandIssuer(OnDemandIssuerOptions options = {});
  ~OnDemandIssuer();
  OnDemandIssuer(const OnDemandIssuer&) = delete;
  OnDemandIssuer& operator=(const OnDemandIssuer&) = delete;

  // Records every batch in `audit` (may be null: no records); see the contract above. Call before use.
  void SetAuditLog(AuditLog* audit, bool fail_open) {
    audit_ = audit;
    audit_fail_open_ = fail_open;
  }

  // The key set of `user_uri` for `key_period_no` under `cert`: the one this call derived and
  // stored, or the one another caller stored first.
  Result<KeySet> Issue(const IssuingCertificate& cert, const std::string& user_uri, uint64_t key_period_no);
  // The same answer, given to `done` exactly once, on one of the issuer's threads.
  void IssueAsync(const IssuingCertificate& cert, std::string user_uri, uint64_t key_period_no, IssueCallback done);

  struct Counters {
    uint64_t requests = 0;  // answered
    uint64_t batches = 0;   // per certificate
  };
  Counters counters() const;

 private:
  struct Request {
    const IssuingCertificate* cert;
    std::string user_uri;
    uint64_t key_period_no;
    IssueCallback done;
    std::optional<Result<KeySet>> result;
  };

  // A batch's requests under one certificate, from derivation to answers.
  static constexpr size_t kNotSealed = static_cast<size_t>(-1);
  struct Part {
    const IssuingCertificate* cert = nullptr;
    std::vector<Request*> requests;
    std::vector<std::string> users;  // distinct (user, period) pairs
    std::vector<uint64_t> periods;
    std::vector<size_t> key_of;      // requests[i] is answered by pair key_of[i]
    AuditLog::Receipt recorded;
    std::vector<Result<KeySet>> sets;
    std::vector<SealedKeySet> sealed;
    std::vector<size_t> sealed_of;   // sealed[sealed_of[k]] is pair k's, or kNotSealed
  };

  void StartRunners();  // once, at the first request
  void RunBatches();    // an issuer thread: batch after batch until the issuer is destroyed
  // Derives every part, gives the derivation slot back, then stores each part (results set).
  void RunBatch(std::vector<Request>& batch);
  void Derive(Part& part);  // begins its record, derives, seals
  void Store(Part& part);   // waits for the record, stores, answers

  const OnDemandIssuerOptions options_;
  AuditLog* audit_ = nullptr;
  bool audit_fail_open_ = false;

  mutable std::mutex mu_;
  std::condition_variable cv_;  // a request arrived, a derivation slot came free, or stopping
  std::deque<Request> waiting_;
  size_t deriving_ = 0;  // batches deriving now (at most max_concurrent)
  bool stopping_ = false;
  Counters counters_;
  std::vector<std::thread> runners_;  // started by the first request
};

}  // namespace mcx
