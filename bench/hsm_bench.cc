// What HSM custody costs: random bytes per second from a SoftHSM2 token through the per-thread
// pool (and, for contrast, one C_GenerateRandom per draw), and key sets per second with the HSM's
// randomness against OpenSSL's. The KMS is created afresh on a SoftHSM2 token in a temporary
// directory. Run: build/bench/hsm_bench [--benchmark_min_time=2]
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>

#include <benchmark/benchmark.h>

#include "base/pooled_random.h"
#include "engine/custody/key_set_source.h"
#include "engine/custody/kms_custody.h"
#include "engine/custody/kms_init.h"
#include "engine/custody/kms_token.h"
#include "hsm/pkcs11_token.h"

namespace mcx {
namespace {

namespace fs = std::filesystem;

struct BenchKms {
  fs::path tmp;
  std::unique_ptr<KmsCustody> custody;
  KmsToken token;  // a second login, for the unpooled draws
  // The kernels the KMS uses: the fastest this CPU has, where the HSM's share of the cost shows most.
  std::unique_ptr<SakkeKernel> sakke = NewBestSakkeKernel();
  std::unique_ptr<EccsiKernel> eccsi = NewFastEccsiKernel();
};
BenchKms* g_kms = nullptr;

Status SetUpKms(BenchKms& kms) {
  std::string tmpl = (fs::temp_directory_path() / "mcx-hsm-bench-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) return Status::Unavailable("mkdtemp failed");
  kms.tmp = tmpl;
  fs::create_directories(kms.tmp / "tokens");
  std::ofstream(kms.tmp / "softhsm2.conf") << "directories.tokendir = " << (kms.tmp / "tokens").string()
                                           << "\nobjectstore.backend = file\nlog.level = ERROR\n";
  setenv("SOFTHSM2_CONF", (kms.tmp / "softhsm2.conf").c_str(), 1);
  setenv("MCX_BENCH_PIN", "bench-pin", 1);
  {
    Result<std::shared_ptr<hsm::Pkcs11Module>> module = hsm::Pkcs11Module::Load(kSoftHsmModulePath);
    if (!module.ok()) return module.status();
    MCX_RETURN_IF_ERROR(hsm::InitializeToken(*module, "bench", AsBytes("bench-so"), AsBytes("bench-pin")));
  }
  InitOptions o;
  o.data_dir = kms.tmp / "kms";
  o.module_path = kSoftHsmModulePath;
  o.token_label = "bench";
  o.pin = hsm::PinSource::Environment("MCX_BENCH_PIN");
  o.kms_uri = "kms.example.org";
  Result<InitResult> init = InitKms(o);
  if (!init.ok()) return init.status();
  Result<std::unique_ptr<KmsCustody>> custody = KmsCustody::Open(init->config);
  if (!custody.ok()) return custody.status();
  kms.custody = std::move(custody).value();
  Result<KmsToken> token = OpenKmsToken(init->config);
  if (!token.ok()) return token.status();
  kms.token = std::move(token).value();
  return Status::Ok();
}

void BM_HsmRandomPooled(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  std::vector<uint8_t> buf(n);
  for (auto _ : state) {
    if (!g_kms->custody->random().Fill(buf).ok()) state.SkipWithError("Fill failed");
    benchmark::DoNotOptimize(buf.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK(BM_HsmRandomPooled)->Arg(32)->ThreadRange(1, 2)->UseRealTime();

void BM_OpenSslRandom(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  std::vector<uint8_t> buf(n);
  OpenSslRandom rng;
  for (auto _ : state) {
    if (!rng.Fill(buf).ok()) state.SkipWithError("Fill failed");
    benchmark::DoNotOptimize(buf.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK(BM_OpenSslRandom)->Arg(32)->ThreadRange(1, 2)->UseRealTime();

// Bypasses the pool: one C_GenerateRandom per 32-octet draw, what the pool saves.
void BM_HsmRandomUnpooled(benchmark::State& state) {
  // A pool so small every draw goes straight to the token.
  hsm::HsmRandom direct(*g_kms->token.token, 64);
  std::vector<uint8_t> buf(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    if (!direct.Fill(buf).ok()) state.SkipWithError("Fill failed");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * buf.size()));
}
BENCHMARK(BM_HsmRandomUnpooled)->Arg(33)->ThreadRange(1, 2)->UseRealTime();

void KeySets(benchmark::State& state, bool hsm_random) {
  KmsCustody& c = *g_kms->custody;
  KeySetDeriver deriver(c.params(), c.secrets(), c.public_keys(), *g_kms->sakke, *g_kms->eccsi);
  OpenSslRandom os_rng;
  RandomSource& rng = hsm_random ? c.random() : static_cast<RandomSource&>(os_rng);
  // Batches of 64, as bulk provisioning derives them.
  constexpr int kBatch = 64;
  int i = state.thread_index() * 1000000;
  std::vector<std::string> uris(kBatch);
  for (auto _ : state) {
    for (auto& u : uris) u = "sip:user" + std::to_string(i++) + "@example.org";
    for (const Result<KeySet>& ks : deriver.DeriveBatch(uris, 1545, rng)) {
      if (!ks.ok()) state.SkipWithError(ks.status().ToString().c_str());
    }
  }
  state.counters["key_sets/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * kBatch), benchmark::Counter::kIsRate);
}
void BM_KeySetsOpenSslRandom(benchmark::State& state) { KeySets(state, false); }
void BM_KeySetsHsmRandom(benchmark::State& state) { KeySets(state, true); }
BENCHMARK(BM_KeySetsOpenSslRandom)->ThreadRange(1, 2)->UseRealTime()->MinTime(3);
BENCHMARK(BM_KeySetsHsmRandom)->ThreadRange(1, 2)->UseRealTime()->MinTime(3);

}  // namespace
}  // namespace mcx

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  mcx::BenchKms kms;
  mcx::Status st = mcx::SetUpKms(kms);
  if (!st.ok()) {
    std::fprintf(stderr, "hsm_bench: %s\n", st.ToString().c_str());
    return 1;
  }
  mcx::g_kms = &kms;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  kms.custody.reset();
  kms.token = mcx::KmsToken();
  std::error_code ec;
  std::filesystem::remove_all(kms.tmp, ec);
  return 0;
}
