// provision_bench: the bulk pipeline's efficiency and scaling, measured in one run.
//
//   pure     the engine's derivation alone: KeySetSource::DeriveBatch in the pipeline's batches on T
//            threads, randomness from OpenSSL, nothing stored
//   provision the whole pipeline into a scratch SQLite store: HSM randomness, the store check,
//            AES-GCM sealing and batched transactions included
// Rounds alternate pure and provision so that both see the same machine; the medians are
// reported, with provision/pure (target >= 0.90) and provision at 2 threads / 1 thread (>= 1.8).
//
// Usage: provision_bench DATA_DIR [IDENTITIES [ROUNDS]]   (DATA_DIR holds a KMS: `mcx-kms init`)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include "base/pooled_random.h"
#include "engine/bulk/identity_reader.h"
#include "engine/bulk/provisioning_pipeline.h"
#include "engine/custody/kms_instance.h"
#include "engine/store/sqlite_key_store.h"

namespace mcx {
namespace {

using Clock = std::chrono::steady_clock;

std::string User(size_t i) { return "sip:bench" + std::to_string(i) + "@example.org"; }

double PureRate(KeySetSource& source, size_t n, int threads, uint64_t period) {
  const size_t kBatch = BulkDeriveBatch(source);  // as the pipeline batches
  tbb::task_arena arena(threads);
  const auto t0 = Clock::now();
  arena.execute([&] {
    tbb::parallel_for(size_t{0}, (n + kBatch - 1) / kBatch, [&](size_t b) {
      std::vector<std::string> uris;
      for (size_t i = b * kBatch; i < std::min(n, (b + 1) * kBatch); ++i) uris.push_back(User(i));
      std::vector<Result<KeySet>> sets = source.DeriveBatch(uris, period);
      for (const auto& ks : sets) {
        if (!ks.ok()) std::fprintf(stderr, "derivation failed: %s\n", ks.status().ToString().c_str());
      }
    });
  });
  return n / std::chrono::duration<double>(Clock::now() - t0).count();
}

Result<double> ProvisionRate(KmsInstance& kms, const std::filesystem::path& users, size_t n, int threads,
                             uint64_t period, const std::filesystem::path& scratch) {
  std::filesystem::remove_all(scratch);
  std::filesystem::create_directories(scratch);
  Result<std::unique_ptr<KeyStore>> store = OpenSqliteKeyStore(scratch / "store.sqlite", kms.certificate().cert_uri);
  if (!store.ok()) return store.status();
  Result<std::unique_ptr<IdentityReader>> reader = IdentityReader::Open(users, {}, nullptr);
  if (!reader.ok()) return reader.status();
  ProvisioningPipeline pipeline(kms.source(), kms.cipher(), **store);
  ProvisionPlan plan;
  plan.periods = {period};
  plan.threads = threads;
  ProvisionProgress progress;
  Result<ProvisionSummary> s = pipeline.Run(**reader, plan, progress);
  if (!s.ok()) return s.status();
  if (s->issued != n) return Status::Internal("provisioned " + std::to_string(s->issued) + " of " + std::to_string(n));
  return s->issued / s->seconds;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int Run(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: provision_bench DATA_DIR [IDENTITIES [ROUNDS]]\n");
    return 2;
  }
  const size_t n = argc > 2 ? std::stoul(argv[2]) : 20000;
  const int rounds = argc > 3 ? std::stoi(argv[3]) : 3;
  Result<KmsConfig> config = LoadKmsConfig(argv[1]);
  if (!config.ok()) return std::fprintf(stderr, "%s\n", config.status().ToString().c_str()), 1;
  Result<std::unique_ptr<KmsInstance>> kms = KmsInstance::Open(*config);
  if (!kms.ok()) return std::fprintf(stderr, "%s\n", kms.status().ToString().c_str()), 1;

  const std::filesystem::path scratch = config->data_dir / "provision-bench";
  std::filesystem::create_directories(scratch);
  const std::filesystem::path users = scratch.parent_path() / "provision-bench-users.txt";
  {
    std::ofstream out(users);
    for (size_t i = 0; i < n; ++i) out << User(i) << '\n';
  }
  // Pure derivation with OpenSSL's generator over the same unsealed master secrets.
  OpenSslRandom os_rng;
  auto sakke = NewBestSakkeKernel();
  auto eccsi = NewFastEccsiKernel();
  const KmsCustody& custody = (*kms)->custody();
  HostKeySetSource pure_source(custody.params(), custody.secrets(), custody.public_keys(), *sakke, *eccsi, os_rng);
  const uint64_t period = KeyPeriod::Containing(custody.params(), NtpNow())->number;

  std::printf("provision_bench: %zu identities x 1 period, %d rounds, arithmetic %s\n", n, rounds, sakke->Name());
  // Warm-up, not counted: fixed-base tables, store pages, HSM sessions and random pools.
  PureRate(pure_source, std::min<size_t>(n, 2048), 2, period);
  std::vector<double> pure2, prov2, pure1, prov1;
  for (int r = 0; r < rounds; ++r) {
    pure2.push_back(PureRate(pure_source, n, 2, period));
    Result<double> p2 = ProvisionRate(**kms, users, n, 2, period, scratch);
    if (!p2.ok()) return std::fprintf(stderr, "%s\n", p2.status().ToString().c_str()), 1;
    prov2.push_back(*p2);
    pure1.push_back(PureRate(pure_source, n / 2, 1, period));
    Result<double> p1 = ProvisionRate(**kms, users, n, 1, period, scratch);
    if (!p1.ok()) return std::fprintf(stderr, "%s\n", p1.status().ToString().c_str()), 1;
    prov1.push_back(*p1);
    std::printf("round %d: 2 threads: pure %.0f/s, provision %.0f/s;  1 thread: pure %.0f/s, provision %.0f/s\n",
                r + 1, pure2.back(), prov2.back(), pure1.back(), prov1.back());
    std::fflush(stdout);
  }
  std::filesystem::remove_all(scratch);
  std::filesystem::remove(users);
  const double pure = Median(pure2), full = Median(prov2), one = Median(prov1), pure_one = Median(pure1);
  std::printf("median: pure derivation %.0f key sets/s, provision %.0f key sets/s on 2 threads\n", pure, full);
  std::printf("pipeline efficiency (provision / pure, 2 threads): %.3f  (target >= 0.90)\n", full / pure);
  std::printf("pipeline efficiency (provision / pure, 1 thread): %.0f / %.0f = %.3f\n", one, pure_one, one / pure_one);
  std::printf("scaling (provision, 2 threads / 1 thread): %.0f / %.0f = %.2fx  (target >= 1.8)\n", full, one,
              full / one);
  return 0;
}

}  // namespace
}  // namespace mcx

int main(int argc, char** argv) { return mcx::Run(argc, argv); }
