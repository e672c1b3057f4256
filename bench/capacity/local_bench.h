// LocalBench: measures the KMS in a data directory on this machine, in this process.
//
// Phases, each bounded in time:
//   derivation    key sets/s from the KMS's KeySetSource (HSM randomness, its arithmetic) with
//                 1, 2, ... max_threads threads, each thread deriving batches of 64 identities;
//   hsm           random bytes, Seal and Unseal through the KMS's custody, one thread each;
//   provisioning  a ProvisioningPipeline run into a scratch SQLite store in a temporary directory,
//                 sealed with the KMS's cipher (the KMS's own store is never written);
//   serving       an in-process HttpServer + KmsRouter on 127.0.0.1 (port 0) over a
//                 StoredKeyService on that scratch store, with a throw-away test IdMS key, driven
//                 by the LoadGenerator: keyprov of the users provisioned just before (served from
//                 the store), then keyprov of random past periods (derived on demand).
// The scratch directory is removed at the end. Nothing secret is reported.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "engine/custody/kms_instance.h"
#include "bench/capacity/capacity_report.h"

namespace mcx::capacity {

struct LocalBenchOptions {
  double seconds_per_step = 1.5;   // each derivation thread count, each HSM operation
  double provision_seconds = 4;    // about how long the provisioning run should take
  int max_threads = 0;             // 0: one per core
  int server_io_threads = 2;
  int server_worker_threads = 0;   // 0: api::DefaultWorkerThreads(), as mcx-kms serve
  size_t serve_users = 1000;
  LoadOptions serve;               // connections, warm-up, duration, timeout of each serving run
  // Record in the KMS's audit chain as a served KMS does (bulk batches before commit, key sets
  // derived on demand, first deliveries). Off only to measure what the audit log costs.
  bool audit = true;
};

class LocalBench {
 public:
  // `kms` must outlive this.
  LocalBench(KmsInstance& kms, LocalBenchOptions options);

  // Called when a phase starts: its name and the unit counted by progress().
  using PhaseListener = std::function<void(const std::string& phase, const std::string& unit)>;

  // Fills report.local and appends the two serving runs.
  Status Run(CapacityReport& report, const PhaseListener& on_phase);

  // What the current phase has done so far.
  uint64_t progress() const;

 private:
  Status MeasureDerivation(LocalFigures& out);
  Status MeasureHsm(LocalFigures& out);
  Status ProvisionAndServe(CapacityReport& report, const PhaseListener& on_phase);
  // Starts a phase: tells the listener and makes progress() read `count`.
  void BeginPhase(const PhaseListener& on_phase, const std::string& phase, const std::string& unit,
                  std::function<uint64_t()> count);

  KmsInstance& kms_;
  LocalBenchOptions options_;
  std::atomic<uint64_t> counter_{0};
  mutable std::mutex progress_mu_;
  std::function<uint64_t()> progress_;
};

}  // namespace mcx::capacity
