// The store's costs per key set: a batched insert (the bulk writer's serial stage), a presence
// check and a read (a rerun's and the server's per-pair work), and sealing/opening a record.
#include <benchmark/benchmark.h>

#include <filesystem>

#include "base/pooled_random.h"
#include "engine/keys/in_memory_kms.h"
#include "engine/keys/key_set_deriver.h"
#include "engine/store/sqlite_key_store.h"

namespace mcx {
namespace {

struct Fixture {
  std::filesystem::path dir;
  std::unique_ptr<KeySetCipher> cipher;
  std::unique_ptr<KeyStore> store;
  SealedKeySet prototype;

  Fixture() {
    dir = std::filesystem::temp_directory_path() / ("mcx-store-bench-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    OpenSslRandom rng;
    SecretBytes key(kDataKeyBytes);
    (void)rng.Fill(key.span());
    cipher = std::make_unique<KeySetCipher>(std::move(key), "kms.example.org.cert");
    store = std::move(OpenSqliteKeyStore(dir / "store.sqlite", "kms.example.org.cert")).value();
    InMemoryKms kms = std::move(InMemoryKms::Create(rng)).value();
    CommunityParameters params = *CommunityParameters::Make("kms.example.org", 2592000, 0);
    KeySetDeriver deriver(params, kms.secrets, kms.pub, *kms.sakke, *kms.eccsi);
    prototype = *cipher->Seal(*deriver.Derive("sip:proto@example.org", 1545, rng));
  }
  ~Fixture() { std::filesystem::remove_all(dir); }
};

Fixture& Shared() {
  static Fixture f;
  return f;
}

void BM_InsertBatch(benchmark::State& state) {
  Fixture& f = Shared();
  const size_t batch = static_cast<size_t>(state.range(0));
  std::vector<SealedKeySet> records(batch, f.prototype);
  uint64_t next = 0;
  for (auto _ : state) {
    for (auto& r : records) r.user_uri = "sip:user" + std::to_string(next++) + "@example.org";
    benchmark::DoNotOptimize(f.store->InsertBatch(records));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * batch));
}
BENCHMARK(BM_InsertBatch)->Arg(64)->Arg(2048)->Unit(benchmark::kMillisecond);

// A presence check one user at a time, and for a pipeline batch of 64 in one query.
void BM_ContainsMany(benchmark::State& state) {
  Fixture& f = Shared();
  const int n = static_cast<int>(state.range(0));
  std::vector<std::string> uris;
  for (int i = 0; i < n; ++i) uris.push_back("sip:user" + std::to_string(i * 7) + "@example.org");
  for (auto _ : state) benchmark::DoNotOptimize(f.store->ContainsMany(uris, 1545));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK(BM_ContainsMany)->Arg(1)->Arg(64)->Unit(benchmark::kMicrosecond);

void BM_SealOpen(benchmark::State& state) {
  Fixture& f = Shared();
  KeySet ks = *f.cipher->Open(f.prototype);
  for (auto _ : state) {
    Result<SealedKeySet> s = f.cipher->Seal(ks);
    benchmark::DoNotOptimize(f.cipher->Open(*s));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_SealOpen)->Unit(benchmark::kMicrosecond);

// Opening alone: what serving a pre-provisioned keyprov does per key set after the store read.
void BM_Open(benchmark::State& state) {
  Fixture& f = Shared();
  for (auto _ : state) benchmark::DoNotOptimize(f.cipher->Open(f.prototype));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_Open)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace mcx

BENCHMARK_MAIN();
