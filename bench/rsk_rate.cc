// rsk_rate: mcx-kms's RSK, SSK+PVT and key-set rates on one thread, in the format of
// wolfssl_rate, for bench/compare-wolfssl.sh.
//
//   rsk_rate SECONDS   prints "mcx rsk_per_s=... rsk_single_per_s=... ssk_pvt_per_s=...
//                      ssk_pvt_batch_per_s=... keyset_per_s=... math_path=... path=..."
//
// The arithmetic path is BestMathPath() (MCX_MATH_PATH forces one). RSKs go through the bulk
// entry point (SakkeKernel::ReceiverSecretKeys, 256 identifiers per call), rsk_single_per_s one
// at a time (ReceiverSecretKey, an on-demand request), key sets through KeySetDeriver::DeriveBatch (256 users per call). SSK+PVT pairs are
// measured twice: ssk_pvt_per_s one at a time (KeySetDeriver::SigningKey, as wolfssl_rate does
// them), ssk_pvt_batch_per_s 256 per call through KeySetDeriver::SigningKeyBatch, the path
// DeriveBatch (bulk provisioning) uses.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "base/pooled_random.h"
#include "engine/keys/key_set_deriver.h"
#include "engine/math/fixed_base.h"

namespace mcx {
namespace {

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
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

  long n = 0;
  auto start = std::chrono::steady_clock::now();
  do {
    if (!sakke->ReceiverSecretKeys(views, secrets->z, out).ok()) return 2;
    n += static_cast<long>(kBatch);
  } while (Seconds(start) < seconds);
  const double rsk_rate = static_cast<double>(n) / Seconds(start);

  n = 0;
  start = std::chrono::steady_clock::now();
  do {
    if (!sakke->ReceiverSecretKey(views[static_cast<size_t>(n) % kBatch], secrets->z, out[0]).ok()) return 2;
    ++n;
  } while (Seconds(start) < seconds);
  const double rsk_single_rate = static_cast<double>(n) / Seconds(start);

  n = 0;
  start = std::chrono::steady_clock::now();
  do {
    if (!deriver.SigningKey(ids[static_cast<size_t>(n) % kBatch], rng).ok()) return 3;
    ++n;
  } while (Seconds(start) < seconds);
  const double pair_rate = static_cast<double>(n) / Seconds(start);

  n = 0;
  start = std::chrono::steady_clock::now();
  do {
    for (const Result<SigningKeyPair>& pair : deriver.SigningKeyBatch(views, rng)) {
      if (!pair.ok()) return 5;
    }
    n += static_cast<long>(kBatch);
  } while (Seconds(start) < seconds);
  const double pair_batch_rate = static_cast<double>(n) / Seconds(start);

  n = 0;
  start = std::chrono::steady_clock::now();
  do {
    for (const Result<KeySet>& ks : deriver.DeriveBatch(users, 1000, rng)) {
      if (!ks.ok()) return 4;
    }
    n += static_cast<long>(kBatch);
  } while (Seconds(start) < seconds);
  const double keyset_rate = static_cast<double>(n) / Seconds(start);

  std::printf(
      "mcx rsk_per_s=%.1f rsk_single_per_s=%.1f ssk_pvt_per_s=%.1f ssk_pvt_batch_per_s=%.1f keyset_per_s=%.1f "
      "math_path=%s path=\"%s\"\n",
      rsk_rate, rsk_single_rate, pair_rate, pair_batch_rate, keyset_rate, MathPathName(BestMathPath()), sakke->Name());
  return 0;
}

}  // namespace
}  // namespace mcx

int main(int argc, char** argv) { return mcx::Run(argc > 1 ? std::atof(argv[1]) : 2.0); }
