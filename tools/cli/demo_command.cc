// `mcx-kms demo`: create a throw-away KMS in memory, issue key sets for a sample population for
// the current key period, check every one as a device would, and report the issue rate.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <tbb/global_control.h>
#include <tbb/parallel_for.h>

#include "engine/keys/client_check.h"
#include "engine/keys/key_set_deriver.h"
#include "tools/cli/command.h"

namespace mcx::cli {
namespace {

struct DemoOptions {
  int users = 1000;
  std::string kms_uri = "kms.example.org";
  std::string domain = "example.org";
  int threads = 0;  // 0: every core
};

std::string SampleUser(const std::string& domain, int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "sip:user%05d@", i);
  return buf + domain;
}

Status RunDemo(const DemoOptions& opt) {
  if (opt.users < 1) return Status::InvalidArgument("--users must be at least 1");
  const int threads = opt.threads > 0 ? opt.threads : static_cast<int>(std::thread::hardware_concurrency());
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(threads));

  Result<CommunityParameters> params = CommunityParameters::Make(opt.kms_uri, kDefaultUserKeyPeriod, 0);
  if (!params.ok()) return params.status();
  OpenSslRandom rng;
  auto sakke = NewBestSakkeKernel();
  auto eccsi = NewFastEccsiKernel();
  Result<MasterSecrets> secrets = GenerateMasterSecrets(rng);
  if (!secrets.ok()) return secrets.status();
  Result<KmsPublicKeys> pub = DerivePublicKeys(*secrets, *sakke, *eccsi);
  if (!pub.ok()) return pub.status();
  KeySetDeriver deriver(*params, *secrets, *pub, *sakke, *eccsi);

  Result<KeyPeriod> period = KeyPeriod::Containing(*params, NtpNow());
  if (!period.ok()) return period.status();
  std::printf("KMS %s: SAKKE parameter set %d, ECCSI P-256, UserKeyPeriod %llu s\n", params->kms_uri.c_str(),
              kSakkeParameterSet, static_cast<unsigned long long>(params->user_key_period));
  std::printf("key period %llu: %s .. %s\n", static_cast<unsigned long long>(period->number),
              FormatUtc(period->valid_from).c_str(), FormatUtc(period->valid_to).c_str());
  std::printf("issuing key sets for %d users on %d threads (arithmetic: %s)\n", opt.users, threads, sakke->Name());
  std::fflush(stdout);

  std::vector<std::optional<KeySet>> sets(static_cast<size_t>(opt.users));
  std::mutex error_mu;
  Status first_error;
  auto t0 = std::chrono::steady_clock::now();
  // Batches of 64: the fast kernels share their inversions across a batch.
  constexpr int kBatch = 64;
  tbb::parallel_for(0, (opt.users + kBatch - 1) / kBatch, [&](int b) {
    const int first = b * kBatch, last = std::min(opt.users, first + kBatch);
    std::vector<std::string> uris;
    for (int i = first; i < last; ++i) uris.push_back(SampleUser(opt.domain, i + 1));
    std::vector<Result<KeySet>> batch = deriver.DeriveBatch(uris, period->number, rng);
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
  std::printf("issued %d key sets in %.2f s: %.0f key sets/s (%.0f per thread)\n", opt.users, issue_s,
              opt.users / issue_s, opt.users / issue_s / threads);
  std::fflush(stdout);

  std::atomic<int> valid{0};
  t0 = std::chrono::steady_clock::now();
  tbb::parallel_for(0, opt.users, [&](int i) {
    Status st = CheckKeySet(*pub, *sets[static_cast<size_t>(i)]);
    if (st.ok()) {
      valid.fetch_add(1);
    } else {
      std::lock_guard<std::mutex> lock(error_mu);
      if (first_error.ok()) first_error = st;
    }
  });
  double check_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("validated %d/%d key sets as a device would (RSK pairing check, SSK check) in %.2f s\n",
              valid.load(), opt.users, check_s);
  if (!first_error.ok()) return first_error.Annotate("a key set failed its client check");
  return Status::Ok();
}

}  // namespace

void RegisterDemoCommand(CLI::App& app, CommandResult& result) {
  auto opt = std::make_shared<DemoOptions>();
  CLI::App* cmd = app.add_subcommand(
      "demo",
      "Create a throw-away KMS in memory, issue key sets for a sample population for the current key "
      "period, check each one as a device would, and print the issue rate.");
  cmd->add_option("--users", opt->users, "how many sample users (sip:userNNNNN@DOMAIN)")->capture_default_str();
  cmd->add_option("--kms-uri", opt->kms_uri, "the KMS URI that goes into every UID")->capture_default_str();
  cmd->add_option("--domain", opt->domain, "the domain of the sample users")->capture_default_str();
  cmd->add_option("--threads", opt->threads, "worker threads (0: one per core)")->capture_default_str();
  cmd->callback([opt, &result] { result.status = RunDemo(*opt); });
}

}  // namespace mcx::cli
