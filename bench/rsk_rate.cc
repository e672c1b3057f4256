// rsk_rate: mcx-kms's RSK, SSK+PVT and key-set rates on one thread, in the format of
// wolfssl_rate, for bench/compare-wolfssl.sh.
//
//   rsk_rate SECONDS   prints "mcx rsk_per_s=... rsk_single_per_s=... ssk_pvt_per_s=...
//                      ssk_pvt_batch_per_s=... keyset_per_s=... rsk_per_cpu_s=... (the same
//                      five per second of this thread's CPU time) math_path=... path=..."
//
// The arithmetic path is BestMathPath() (MCX_MATH_PATH forces one). RSKs go through the bulk
// entry point (SakkeKernel::ReceiverSecretKeys, 256 identifiers per call), rsk_single_per_s one
// at a time (ReceiverSecretKey, an on-demand request), key sets through KeySetDeriver::DeriveBatch (256 users per call). SSK+PVT pairs are
// measured twice: ssk_pvt_per_s one at a time (KeySetDeriver::SigningKey, as wolfssl_rate does
// them), ssk_pvt_batch_per_s 256 per call through KeySetDeriver::SigningKeyBatch, the path
// DeriveBatch (bulk provisioning) uses.
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "base/pooled_random.h"
#include "engine/keys/key_set_deriver.h"

namespace mcx {
namespace {

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// CPU time of this thread: on a shared core, other processes' time does not count.
double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

struct Rate {
  double wall = 0, cpu = 0;  // items per second of wall time, of this thread's CPU time
};

// Runs `step` (which returns the items it made, or -1 on failure) for `seconds` of wall time.
template <class Step>
Rate Measure(double seconds, Step step) {
  long n = 0;
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = ThreadCpuSeconds();
  do {
    const long made = step();
    if (made < 0) return {-1, -1};
    n += made;
  } while (Seconds(start) < seconds);
  return {static_cast<double>(n) / Seconds(start), static_cast<double>(n) / (ThreadCpuSeconds() - cpu_start)};
}

int Run(double seconds) {
  OpenSslRandom rng;
  std::unique_ptr<SakkeKernel> sakke = NewBestSakkeKernel();
  std::unique_ptr<EccsiKernel> eccsi = NewFastEccsiKernel();
  Result<MasterSecrets> secrets = GenerateMasterSecrets(rng);
  if (!secrets.ok()) return 1;
  Result<KmsPublicKeys> pub = DerivePublicKeys(*secrets, *sakke, *eccsi);  // builds the table
  if (!pub.ok()) return 1;
  auto params = CommunityParameters::Make("kms.example.org", kDefaultUserKeyPeriod, 0);
  KeySetDeriver deriver(*params, *secrets, *pub, *sakke, *eccsi);

  const size_t kBatch = 256;
  std::vector<std::string> users;
  std::vector<Bytes> ids;
  for (size_t i = 0; i < kBatch; ++i) {
    users.push_back("sip:user" + std::to_string(i) + "@example.org");
    ids.emplace_back(users.back().begin(), users.back().end());
  }
  std::vector<ByteView> views(ids.begin(), ids.end());
  std::vector<SakkePoint> out(kBatch);

  // The tables of the path (one scalar, batches, P-256) before any clock starts.
  sakke->PrepareTables();
  eccsi->PrepareTables();

  const Rate rsk = Measure(seconds, [&]() -> long {
    return sakke->ReceiverSecretKeys(views, secrets->z, out).ok() ? static_cast<long>(kBatch) : -1;
  });
  size_t next = 0;
  const Rate rsk_single = Measure(seconds, [&]() -> long {
    return sakke->ReceiverSecretKey(views[next++ % kBatch], secrets->z, out[0]).ok() ? 1 : -1;
  });
  const Rate pair = Measure(seconds, [&]() -> long {
    return deriver.SigningKey(ids[next++ % kBatch], rng).ok() ? 1 : -1;
  });
  const Rate pair_batch = Measure(seconds, [&]() -> long {
    for (const Result<SigningKeyPair>& p : deriver.SigningKeyBatch(views, rng)) {
      if (!p.ok()) return -1;
    }
    return static_cast<long>(kBatch);
  });
  const Rate keyset = Measure(seconds, [&]() -> long {
    for (const Result<KeySet>& ks : deriver.DeriveBatch(users, 1000, rng)) {
      if (!ks.ok()) return -1;
    }
    return static_cast<long>(kBatch);
  });
  for (const Rate* r : {&rsk, &rsk_single, &pair, &pair_batch, &keyset}) {
    if (r->wall < 0) return 2;
  }

  std::printf(
      "mcx rsk_per_s=%.1f rsk_single_per_s=%.1f ssk_pvt_per_s=%.1f ssk_pvt_batch_per_s=%.1f keyset_per_s=%.1f "
      "rsk_per_cpu_s=%.1f rsk_single_per_cpu_s=%.1f ssk_pvt_per_cpu_s=%.1f ssk_pvt_batch_per_cpu_s=%.1f "
      "keyset_per_cpu_s=%.1f math_path=%s path=\"%s\"\n",
      rsk.wall, rsk_single.wall, pair.wall, pair_batch.wall, keyset.wall, rsk.cpu, rsk_single.cpu, pair.cpu,
      pair_batch.cpu, keyset.cpu, MathPathName(BestMathPath()), sakke->Name());
  return 0;
}

}  // namespace
}  // namespace mcx

int main(int argc, char** argv) { return mcx::Run(argc > 1 ? std::atof(argv[1]) : 2.0); }
