// `mcx-kms demo`: issue key sets for a sample population for the current key period, check every
// one as a device would, and report the issue rate. In a directory that holds a KMS (or with
// --data-dir) it uses that KMS's custody: master secrets unsealed by its HSM, randomness from the
// HSM. Elsewhere it creates a throw-away KMS in memory with OpenSSL's generator.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <optional>
#include <vector>

#include <fmt/format.h>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>

#include "base/cpu_count.h"
#include "base/pooled_random.h"
#include "engine/custody/key_set_source.h"
#include "engine/custody/kms_custody.h"
#include "engine/keys/client_check.h"
#include "engine/keys/in_memory_kms.h"
#include "engine/keys/key_set_source.h"
#include "tools/cli/command.h"
#include "tools/cli/kms_options.h"

namespace mcx::cli {
namespace {

struct DemoOptions {
  int users = 1000;
  std::string kms_uri = "kms.example.org";
  std::string domain = "example.org";
  int threads = 0;  // 0: every core
  bool kms_uri_given = false;
  KmsLocation loc;
};

// Where the demo's key sets come from: a KMS's custody, or a throw-away KMS in memory.
struct DemoKms {
  std::unique_ptr<KmsCustody> custody;           // with a KMS
  OpenSslRandom os_rng;                          // throw-away
  std::optional<InMemoryKms> in_memory;          // throw-away
  std::unique_ptr<KeySetSource> source;
  CommunityParameters params;
  KmsPublicKeys pub;
};

std::string SampleUser(const std::string& domain, int i) { return fmt::format("sip:user{:05}@{}", i, domain); }

Status RunDemo(const DemoOptions& opt) {
  if (opt.users < 1) return Status::InvalidArgument("--users must be at least 1");
  const int threads = opt.threads > 0 ? opt.threads : CoreCount();
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));

  auto sakke = NewBestSakkeKernel();
  auto eccsi = NewFastEccsiKernel();
  DemoKms kms;
  if (opt.loc.data_dir_given() || HasKmsConfig(opt.loc.DataDir())) {
    Result<KmsConfig> config = LoadKmsConfig(opt.loc);
    if (!config.ok()) return config.status();
    if (opt.kms_uri_given && opt.kms_uri != config->params.kms_uri) {
      return Status::InvalidArgument("--kms-uri " + opt.kms_uri + " differs from this KMS's URI " +
                                     config->params.kms_uri + "; drop --kms-uri to use the KMS in " +
                                     config->data_dir.string());
    }
    Result<std::unique_ptr<KmsCustody>> custody = KmsCustody::Open(*config);
    if (!custody.ok()) return custody.status();
    kms.custody = std::move(custody).value();
    kms.source = NewCustodyKeySetSource(*kms.custody, *sakke, *eccsi);
    kms.params = kms.custody->params();
    kms.pub = kms.custody->public_keys();
  } else {
    Result<CommunityParameters> params = CommunityParameters::Make(opt.kms_uri, kDefaultUserKeyPeriod, 0);
    if (!params.ok()) return params.status();
    Result<InMemoryKms> in_memory = InMemoryKms::Create(kms.os_rng);
    if (!in_memory.ok()) return in_memory.status();
    kms.in_memory.emplace(std::move(in_memory).value());
    kms.params = *params;
    kms.pub = kms.in_memory->pub;
    kms.source = std::make_unique<HostKeySetSource>(kms.params, kms.in_memory->secrets, kms.pub, *sakke, *eccsi,
                                                    kms.os_rng);
  }
  const CommunityParameters* params = &kms.params;

  Result<KeyPeriod> period = KeyPeriod::Containing(*params, NtpNow());
  if (!period.ok()) return period.status();
  fmt::print("KMS {}: SAKKE parameter set {}, ECCSI P-256, UserKeyPeriod {} s\n", params->kms_uri, kSakkeParameterSet,
             params->user_key_period);
  fmt::print("key period {}: {} .. {}\n", period->number, FormatUtc(period->valid_from), FormatUtc(period->valid_to));
  if (kms.custody) {
    fmt::print("custody: KMS {} in {}, token '{}'; master secrets unsealed by the HSM, randomness from the HSM\n",
               kms.custody->config().kms_id, kms.custody->config().data_dir.string(),
               kms.custody->config().token_label);
  } else {
    std::fputs("custody: none (a throw-away KMS in memory; run `mcx-kms init --demo` for one kept by an HSM)\n",
               stdout);
  }
  fmt::print("issuing key sets for {} users on {} threads (arithmetic: {})\n", opt.users, threads, sakke->Name());
  std::fflush(stdout);

  std::vector<std::optional<KeySet>> sets(static_cast<size_t>(opt.users));
  std::mutex error_mu;
  Status first_error;
  auto t0 = std::chrono::steady_clock::now();
  // Batches as wide as the source shares its work (the fast kernels' inversions: 64, or 256 on
  // the avx2 path), narrower where that would leave a thread without a batch.
  const int kBatch = std::max(1, std::min(static_cast<int>(BulkDeriveBatch(*kms.source)),
                                          (opt.users + threads - 1) / threads));
  tbb::parallel_for(0, (opt.users + kBatch - 1) / kBatch, [&](int b) {
    const int first = b * kBatch, last = std::min(opt.users, first + kBatch);
    std::vector<std::string> uris;
    for (int i = first; i < last; ++i) uris.push_back(SampleUser(opt.domain, i + 1));
    std::vector<Result<KeySet>> batch = kms.source->DeriveBatch(uris, period->number);
    for (int i = first; i < last; ++i) {
      Result<KeySet>& ks = batch[static_cast<size_t>(i - first)];
      if (ks.ok()) {
        sets[static_cast<size_t>(i)] = std::move(ks).value();
      } else {
        std::lock_guard<std::mutex> lock(error_mu);
        if (first_error.ok()) first_error = ks.status();
      }
    }
  });
  double issue_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!first_error.ok()) return first_error;
  fmt::print("issued {} key sets in {:.2f} s: {:.0f} key sets/s ({:.0f} per thread)\n", opt.users, issue_s,
             opt.users / issue_s, opt.users / issue_s / threads);
  std::fflush(stdout);

  std::atomic<int> valid{0};
  t0 = std::chrono::steady_clock::now();
  tbb::parallel_for(0, opt.users, [&](int i) {
    Status st = CheckKeySet(kms.pub, *sets[static_cast<size_t>(i)]);
    if (st.ok()) {
      valid.fetch_add(1);
    } else {
      std::lock_guard<std::mutex> lock(error_mu);
      if (first_error.ok()) first_error = st;
    }
  });
  double check_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fmt::print("validated {}/{} key sets as a device would (RSK pairing check, SSK check) in {:.2f} s\n", valid.load(),
             opt.users, check_s);
  if (!first_error.ok()) return first_error.Annotate("a key set failed its client check");
  return Status::Ok();
}

}  // namespace

void RegisterDemoCommand(CLI::App& app, CommandResult& result) {
  auto opt = std::make_shared<DemoOptions>();
  CLI::App* cmd = app.add_subcommand(
      "demo",
      "Issue key sets for a sample population for the current key period, check each one as a device would, "
      "and print the issue rate. Uses the KMS in the data directory (its HSM custody) when there is one, "
      "otherwise a throw-away KMS in memory.");
  cmd->add_option("--users", opt->users, "how many sample users (sip:userNNNNN@DOMAIN)")->capture_default_str();
  cmd->add_option("--kms-uri", opt->kms_uri, "the KMS URI of the throw-away KMS")
      ->capture_default_str()
      ->each([opt](const std::string&) { opt->kms_uri_given = true; });
  AddDataDirOption(cmd, opt->loc);
  AddHsmOptions(cmd, opt->loc);
  cmd->add_option("--domain", opt->domain, "the domain of the sample users")->capture_default_str();
  cmd->add_option("--threads", opt->threads, "worker threads (0: one per core)")->capture_default_str();
  cmd->callback([opt, &result] { result.status = RunDemo(*opt); });
}

}  // namespace mcx::cli
