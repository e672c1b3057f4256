// ProvisioningPipeline: issues key sets for a population x key periods into the store.
//
// A oneTBB parallel_pipeline with a bounded number of batches in flight, so memory stays flat
// however long the input is:
//   read (serial, in order)   identities from the IdentitySource, expanded to (identity, period)
//   derive (parallel)         skip pairs already stored, derive and seal the rest
//   write (serial, in order)  gather sealed records and commit them in batched transactions
// Exact and resumable: pairs in the store are skipped, and a run killed at any moment leaves only
// whole committed transactions, so a rerun completes it with no duplicates.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "engine/bulk/identity_source.h"
#include "engine/keys/key_set_source.h"
#include "engine/store/key_store.h"

namespace mcx {

struct ProvisionPlan {
  std::vector<uint64_t> periods;   // KeyPeriodNo values to issue for every identity
  int threads = 0;                 // derivation threads; 0 means one per core
  // Identities derived together; 0: BulkDeriveBatch(source), the source's BatchWidth() and at
  // least 64 (the fast kernels share their inversions this wide: 64 on the portable and IFMA
  // paths, 256 on the avx2 path).
  size_t identities_per_batch = 0;
  size_t records_per_commit = 2048;
  // Pairs for which this answers true are skipped and counted as revoked (revoked users).
  std::function<bool(const std::string& user_uri, uint64_t key_period_no)> is_revoked;
  // Called with each batch of records before it is committed; an error stops the run with
  // nothing of that batch committed (the audit log is written first: fail-closed).
  std::function<Status(std::span<const SealedKeySet>)> before_commit;
  // When it turns true the run reads no more identities; the batches in flight are finished and
  // committed, and Run returns with summary.stopped set (a provisioning job's worker that lost
  // its chunk's lease stops so).
  const std::atomic<bool>* stop = nullptr;
};

// Live counters, readable from another thread for progress display.
struct ProvisionProgress {
  std::atomic<uint64_t> identities{0};  // valid identities read
  std::atomic<uint64_t> issued{0};      // key sets newly committed
  std::atomic<uint64_t> present{0};     // pairs already in the store
  std::atomic<uint64_t> failed{0};      // pairs that could not be keyed (reported)
  std::atomic<uint64_t> revoked{0};     // pairs of revoked users, skipped
};

struct ProvisionSummary {
  uint64_t identities = 0, pairs = 0, issued = 0, present = 0, failed = 0, revoked = 0, skipped_lines = 0;
  double seconds = 0;
  int threads = 0;
  bool stopped = false;  // by plan.stop, before the end of the input
};

// Called for a pair that could not be keyed (e.g. the degenerate a + z = 0 case).
using FailedPairSink = std::function<void(const Identity& who, uint64_t period, const std::string& reason)>;

class ProvisioningPipeline {
 public:
  // All references must outlive Run().
  ProvisioningPipeline(KeySetSource& source, const KeySetCipher& cipher, KeyStore& store);

  Result<ProvisionSummary> Run(IdentitySource& reader, const ProvisionPlan& plan, ProvisionProgress& progress,
                               const FailedPairSink& failed_sink = nullptr);

 private:
  KeySetSource& source_;
  const KeySetCipher& cipher_;
  KeyStore& store_;
};

}  // namespace mcx
