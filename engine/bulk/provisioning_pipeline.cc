#include "engine/bulk/provisioning_pipeline.h"

#include <chrono>
#include <mutex>
#include <optional>

#include <tbb/global_control.h>
#include <tbb/parallel_pipeline.h>
#include <tbb/task_arena.h>

#include "base/cpu_count.h"

namespace mcx {
namespace {

// One unit of work flowing through the pipeline: a few identities times every period.
struct WorkBatch {
  std::vector<Identity> identities;
  std::vector<SealedKeySet> sealed;  // filled by the derive stage
  uint64_t present = 0;
  uint64_t revoked = 0;
  std::vector<std::pair<size_t, std::string>> failures;  // (index into pairs, reason)
};

}  // namespace

ProvisioningPipeline::ProvisioningPipeline(KeySetSource& source, const KeySetCipher& cipher, KeyStore& store)
    : source_(source), cipher_(cipher), store_(store) {}

Result<ProvisionSummary> ProvisioningPipeline::Run(IdentitySource& reader, const ProvisionPlan& plan,
                                                   ProvisionProgress& progress, const FailedPairSink& failed_sink) {
  if (plan.periods.empty()) return Status::InvalidArgument("no key periods to provision");
  const int threads = plan.threads > 0 ? plan.threads : CoreCount();
  const size_t per_batch = plan.identities_per_batch > 0 ? plan.identities_per_batch : BulkDeriveBatch(source_);
  const auto start = std::chrono::steady_clock::now();

  std::mutex error_mu;
  Status first_error;
  std::atomic<bool> stop{false};
  bool stopped_by_plan = false;  // owned by the serial read stage
  auto fail = [&](Status st) {
    std::lock_guard<std::mutex> lock(error_mu);
    if (first_error.ok()) first_error = std::move(st);
    stop.store(true);
  };

  std::vector<SealedKeySet> pending;  // owned by the serial write stage
  pending.reserve(plan.records_per_commit + per_batch * plan.periods.size());
  auto flush = [&]() {
    if (pending.empty()) return;
    if (plan.before_commit) {
      Status recorded = plan.before_commit(pending);
      if (!recorded.ok()) {
        fail(recorded.Annotate("recording key sets before they are committed"));
        return;
      }
    }
    Result<size_t> n = store_.InsertBatch(pending);
    if (!n.ok()) {
      fail(n.status().Annotate("writing key sets to the store"));
      return;
    }
    progress.issued.fetch_add(*n);
    // Records that lost a race with another writer were already present.
    progress.present.fetch_add(pending.size() - *n);
    pending.clear();
  };

  // The arena bounds derivation to `threads` workers; max_live_tokens bounds memory.
  tbb::task_arena arena(threads);
  arena.execute([&] {
    tbb::parallel_pipeline(
        static_cast<size_t>(threads) * 4,
        tbb::make_filter<void, std::shared_ptr<WorkBatch>>(
            tbb::filter_mode::serial_in_order,
            [&](tbb::flow_control& fc) -> std::shared_ptr<WorkBatch> {
              if (stop.load()) {
                fc.stop();
                return nullptr;
              }
              if (plan.stop != nullptr && plan.stop->load()) {
                stopped_by_plan = true;
                fc.stop();
                return nullptr;
              }
              auto batch = std::make_shared<WorkBatch>();
              while (batch->identities.size() < per_batch) {
                Result<std::optional<Identity>> id = reader.Next();
                if (!id.ok()) {
                  fail(id.status());
                  break;
                }
                if (!id->has_value()) break;
                batch->identities.push_back(std::move(**id));
              }
              if (batch->identities.empty()) {
                fc.stop();
                return nullptr;
              }
              progress.identities.fetch_add(batch->identities.size());
              return batch;
            }) &
            tbb::make_filter<std::shared_ptr<WorkBatch>, std::shared_ptr<WorkBatch>>(
                tbb::filter_mode::parallel,
                [&](std::shared_ptr<WorkBatch> batch) {
                  if (!batch || stop.load()) return batch;
                  batch->sealed.reserve(batch->identities.size() * plan.periods.size());
                  std::vector<std::string> missing;
                  std::vector<size_t> missing_pair;  // index into (identity x period) pairs
                  for (size_t p = 0; p < plan.periods.size(); ++p) {
                    const uint64_t period = plan.periods[p];
                    missing.clear();
                    missing_pair.clear();
                    std::vector<std::string> uris;
                    uris.reserve(batch->identities.size());
                    for (const Identity& who : batch->identities) {
                      if (plan.is_revoked && plan.is_revoked(who.uri, period)) {
                        ++batch->revoked;
                        uris.emplace_back();  // keeps indices aligned; never derived
                      } else {
                        uris.push_back(who.uri);
                      }
                    }
                    Result<std::vector<bool>> have = store_.ContainsMany(uris, period);
                    if (!have.ok()) {
                      fail(have.status().Annotate("checking the store"));
                      return batch;
                    }
                    for (size_t i = 0; i < uris.size(); ++i) {
                      if (uris[i].empty()) continue;  // revoked
                      if ((*have)[i]) {
                        ++batch->present;
                      } else {
                        missing.push_back(std::move(uris[i]));
                        missing_pair.push_back(i * plan.periods.size() + p);
                      }
                    }
                    // One batched derivation per period: the fast kernels share their
                    // inversions across the batch.
                    std::vector<Result<KeySet>> sets = source_.DeriveBatch(missing, period);
                    for (size_t k = 0; k < sets.size(); ++k) {
                      if (!sets[k].ok()) {
                        if (sets[k].status().code() == Status::Code::kInvalidArgument) {
                          batch->failures.emplace_back(missing_pair[k], sets[k].status().message());
                          continue;
                        }
                        fail(sets[k].status());
                        return batch;
                      }
                      Result<SealedKeySet> sealed = cipher_.Seal(*sets[k]);
                      if (!sealed.ok()) {
                        fail(sealed.status());
                        return batch;
                      }
                      batch->sealed.push_back(std::move(sealed).value());
                    }
                  }
                  return batch;
                }) &
            tbb::make_filter<std::shared_ptr<WorkBatch>, void>(
                tbb::filter_mode::serial_in_order, [&](std::shared_ptr<WorkBatch> batch) {
                  if (!batch || stop.load()) return;
                  progress.present.fetch_add(batch->present);
                  progress.revoked.fetch_add(batch->revoked);
                  for (const auto& [pair, reason] : batch->failures) {
                    progress.failed.fetch_add(1);
                    if (failed_sink) {
                      failed_sink(batch->identities[pair / plan.periods.size()],
                                  plan.periods[pair % plan.periods.size()], reason);
                    }
                  }
                  for (auto& r : batch->sealed) pending.push_back(std::move(r));
                  if (pending.size() >= plan.records_per_commit) flush();
                }));
  });
  if (!stop.load()) flush();
  if (!first_error.ok()) return first_error;

  ProvisionSummary s;
  s.identities = progress.identities.load();
  s.pairs = s.identities * plan.periods.size();
  s.issued = progress.issued.load();
  s.present = progress.present.load();
  s.failed = progress.failed.load();
  s.revoked = progress.revoked.load();
  s.skipped_lines = reader.skipped();
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  s.threads = threads;
  s.stopped = stopped_by_plan;
  return s;
}

}  // namespace mcx
