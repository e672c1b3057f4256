// `mcx-kms check-store`: open every key set in the store and check it as a device would.
//
// Every row must pass its integrity check (AES-GCM under the store's data key, bound to its
// identity), carry the UID of its user and period, and pass the SSK check; the RSK pairing check,
// at some milliseconds each, runs on a sample unless --all-pairings.
#include <atomic>
#include <mutex>

#include <fmt/format.h>
#include <tbb/parallel_for.h>

#include "engine/custody/kms_instance.h"
#include "engine/keys/client_check.h"
#include "tools/cli/command.h"
#include "tools/cli/kms_options.h"
#include "tools/cli/progress_meter.h"

namespace mcx::cli {
namespace {

struct CheckStoreOptions {
  KmsLocation loc;
  uint64_t pairings = 200;
  bool all_pairings = false;
};

Status RunCheckStore(const CheckStoreOptions& opt, CommandResult& result) {
  Result<KmsConfig> config = LoadKmsConfig(opt.loc);
  if (!config.ok()) return config.status();
  Result<std::unique_ptr<KmsInstance>> kms = OpenKmsForCommand(*config);
  if (!kms.ok()) return kms.status();
  Result<uint64_t> total = (*kms)->store().CountKeySets();
  if (!total.ok()) return total.status();
  const uint64_t every = opt.all_pairings || opt.pairings == 0 ? 1 : std::max<uint64_t>(1, *total / opt.pairings);
  const KmsCertificate& cert = (*kms)->certificate();

  std::atomic<uint64_t> seen{0}, good{0}, pairings{0};
  std::mutex report_mu;
  uint64_t reported = 0;
  auto report = [&](const SealedKeySet& r, const Status& st) {
    std::lock_guard<std::mutex> lock(report_mu);
    if (++reported <= 20) fmt::print("BAD {} period {}: {}\n", r.user_uri, r.period.number, st.message());
  };
  auto check = [&](const SealedKeySet& r, bool pairing) {
    Result<KeySet> ks = (*kms)->cipher().Open(r);
    Status st = ks.status();
    if (st.ok()) {
      Result<Uid> uid = MikeySakkeUid(ks->user_uri, cert.params, ks->period.number);
      if (!uid.ok() || *uid != ks->uid) st = Status::DataLoss("the stored UID is not the user's UID for this period");
    }
    if (st.ok()) st = CheckSigningKey(cert.keys.kpak, ks->uid, ks->ssk.view(), ks->pvt);
    if (st.ok() && pairing) {
      st = CheckReceiverSecretKey(cert.keys.z_pub, ks->uid, ks->rsk.view());
      pairings.fetch_add(1);
    }
    if (st.ok()) good.fetch_add(1); else report(r, st);
    seen.fetch_add(1);
  };

  std::vector<std::pair<SealedKeySet, bool>> chunk;
  auto drain = [&] {
    tbb::parallel_for(size_t{0}, chunk.size(), [&](size_t i) { check(chunk[i].first, chunk[i].second); });
    chunk.clear();
  };
  uint64_t index = 0;
  Status scan;
  {
    ProgressMeter meter("key sets checked", *total, [&] { return seen.load(); });
    scan = (*kms)->store().ScanKeySets([&](const SealedKeySet& r) {
      chunk.emplace_back(r, index++ % every == 0);
      if (chunk.size() >= 512) drain();
      return Status::Ok();
    });
    drain();
  }
  if (!scan.ok()) return scan;
  fmt::print("{} of {} key sets open and validate (integrity, UID and SSK check on every one, RSK pairing "
             "check on {})\n",
             good.load(), seen.load(), pairings.load());
  Result<KeySetCounts> states = (*kms)->store().CountByState();
  if (!states.ok()) return states.status();
  fmt::print("states: {} issued, {} delivered to a client, {} revoked\n", states->issued, states->delivered,
             states->revoked);
  if (good.load() != seen.load()) {
    return Status::DataLoss(std::to_string(seen.load() - good.load()) +
                            " stored key sets failed their checks (listed above, first 20); they are not safe to "
                            "serve: delete those rows and provision them again");
  }
  (void)result;
  return Status::Ok();
}

}  // namespace

void RegisterCheckStoreCommand(CLI::App& app, CommandResult& result) {
  auto opt = std::make_shared<CheckStoreOptions>();
  CLI::App* cmd = app.add_subcommand(
      "check-store",
      "Open every key set in the store and check it as a device would: integrity, UID, SSK check on every one, "
      "the RSK pairing check on a sample.");
  cmd->add_option("--pairings", opt->pairings, "how many RSK pairing checks (spread over the store)")
      ->capture_default_str();
  cmd->add_flag("--all-pairings", opt->all_pairings, "run the RSK pairing check on every key set (slow)");
  AddDataDirOption(cmd, opt->loc);
  AddHsmOptions(cmd, opt->loc);
  cmd->callback([opt, &result] { result.status = RunCheckStore(*opt, result); });
}

}  // namespace mcx::cli
