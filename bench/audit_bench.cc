// What the audit log costs: one HMAC in the token, and Record() throughput with group commit from
// 1 and 8 threads, each commit fsync'd (the default: durable against power loss) or not
// (synchronous=NORMAL: durable against a crash of the process), and a bulk batch record of 1,000
// key sets. A KMS is created afresh on a SoftHSM2 token in a temporary directory.
// Run: build/bench/audit_bench [--benchmark_min_time=2s]
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>

#include <benchmark/benchmark.h>

#include "engine/audit/audit_log.h"
#include "engine/custody/audit_custody.h"
#include "engine/custody/kms_init.h"
#include "engine/store/sqlite_audit_store.h"
#include "hsm/pkcs11_token.h"

namespace mcx {
namespace {

namespace fs = std::filesystem;

struct BenchAudit {
  fs::path tmp;
  std::unique_ptr<AuditCustody> custody;
  std::unique_ptr<AuditStore> synced_store, unsynced_store;
  std::unique_ptr<AuditLog> synced, unsynced;
};
BenchAudit* g = nullptr;

Status SetUp(BenchAudit& b) {
  std::string tmpl = (fs::temp_directory_path() / "mcx-audit-bench-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) return Status::Unavailable("mkdtemp failed");
  b.tmp = tmpl;
  fs::create_directories(b.tmp / "tokens");
  std::ofstream(b.tmp / "softhsm2.conf") << "directories.tokendir = " << (b.tmp / "tokens").string()
                                         << "\nobjectstore.backend = file\nlog.level = ERROR\n";
  setenv("SOFTHSM2_CONF", (b.tmp / "softhsm2.conf").c_str(), 1);
  setenv("MCX_BENCH_PIN", "bench-pin", 1);
  {
    Result<std::shared_ptr<hsm::Pkcs11Module>> module = hsm::Pkcs11Module::Load(kSoftHsmModulePath);
    if (!module.ok()) return module.status();
    MCX_RETURN_IF_ERROR(hsm::InitializeToken(*module, "bench", AsBytes("bench-so"), AsBytes("bench-pin")));
  }
  InitOptions o;
  o.data_dir = b.tmp / "kms";
  o.module_path = kSoftHsmModulePath;
  o.token_label = "bench";
  o.pin = hsm::PinSource::Environment("MCX_BENCH_PIN");
  o.kms_uri = "kms.example.org";
  Result<InitResult> init = InitKms(o);
  if (!init.ok()) return init.status();
  Result<std::unique_ptr<AuditCustody>> custody = AuditCustody::Open(init->config);
  if (!custody.ok()) return custody.status();
  b.custody = std::move(custody).value();
  SqliteAuditStoreOptions synced, unsynced;
  synced.create_if_missing = unsynced.create_if_missing = true;
  unsynced.sync_every_commit = false;
  Result<std::unique_ptr<AuditStore>> s1 = OpenSqliteAuditStore(b.tmp / "synced.sqlite", synced);
  Result<std::unique_ptr<AuditStore>> s2 = OpenSqliteAuditStore(b.tmp / "unsynced.sqlite", unsynced);
  if (!s1.ok()) return s1.status();
  if (!s2.ok()) return s2.status();
  b.synced_store = std::move(s1).value();
  b.unsynced_store = std::move(s2).value();
  AuditLogOptions lo;
  lo.node = "bench";
  b.synced = std::make_unique<AuditLog>(*b.synced_store, *b.custody, lo);
  b.unsynced = std::make_unique<AuditLog>(*b.unsynced_store, *b.custody, lo);
  return Status::Ok();
}

AuditEvent Delivery(int64_t i) {
  std::vector<KeySetRef> one = {{"sip:responder" + std::to_string(i) + "@example.org", 3905}};
  return KeySetsDelivered("server", "kms.example.org/cert-1", one);
}

void BM_HmacInToken(benchmark::State& state) {
  const AuditHash h{};
  for (auto _ : state) {
    Result<AuditMac> mac = g->custody->Authenticate(h);
    if (!mac.ok()) state.SkipWithError(mac.status().ToString().c_str());
    benchmark::DoNotOptimize(mac);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HmacInToken)->Threads(1)->Threads(8)->UseRealTime();

// Arg 1: every commit fsync'd; Arg 0: synchronous=NORMAL.
void BM_Record(benchmark::State& state) {
  AuditLog& log = state.range(0) ? *g->synced : *g->unsynced;
  int64_t i = state.thread_index() * 100000000LL;
  const AuditLog::Counters before = log.counters();
  for (auto _ : state) {
    Status s = log.Record(Delivery(i++));
    if (!s.ok()) state.SkipWithError(s.ToString().c_str());
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    const AuditLog::Counters after = log.counters();
    const double commits = static_cast<double>(after.transactions - before.transactions);
    state.counters["records_per_commit"] =
        commits == 0 ? 0.0 : static_cast<double>(after.committed - before.committed) / commits;
  }
}
// 32 threads: the server's 32 connections of the capacity benchmark (docs/capacity.md).
BENCHMARK(BM_Record)->ArgName("fsync")->Arg(1)->Arg(0)->Threads(1)->Threads(8)->Threads(32)->UseRealTime();

// One batch record for 1,000 key sets (250 users x 4 periods), as a bulk run writes per store batch;
// items are key sets.
void BM_BulkBatchRecord(benchmark::State& state) {
  AuditLog& log = *g->synced;
  int64_t batch = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<KeySetRef> sets;
    for (int u = 0; u < 250; ++u) {
      for (uint64_t p = 3905; p < 3909; ++p) {
        sets.push_back({"sip:responder" + std::to_string(batch * 250 + u) + "@example.org", p});
      }
    }
    ++batch;
    state.ResumeTiming();
    Status s = log.Record(KeySetsIssued("operator", "kms.example.org/cert-1", sets));
    if (!s.ok()) state.SkipWithError(s.ToString().c_str());
  }
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_BulkBatchRecord)->UseRealTime();

}  // namespace
}  // namespace mcx

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  mcx::BenchAudit b;
  mcx::Status s = mcx::SetUp(b);
  if (!s.ok()) {
    std::fprintf(stderr, "audit_bench: %s\n", s.ToString().c_str());
    return 1;
  }
  mcx::g = &b;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  b.synced.reset();
  b.unsynced.reset();
  b.synced_store.reset();
  b.unsynced_store.reset();
  b.custody.reset();
  std::error_code ec;
  std::filesystem::remove_all(b.tmp, ec);
  return 0;
}
