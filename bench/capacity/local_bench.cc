#include "bench/capacity/local_bench.h"

#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "api/access_token.h"
#include "api/kms_http_service.h"
#include "base/cpu_count.h"
#include "bench/idms/test_idms.h"
#include "engine/bulk/identity_reader.h"
#include "engine/bulk/provisioning_pipeline.h"
#include "engine/service/stored_key_service.h"
#include "engine/store/scratch_key_store.h"

namespace mcx::capacity {
namespace {

using Clock = std::chrono::steady_clock;

// Bench local's scratch KMS serves every period of its certificate (see the on-demand run).
constexpr uint64_t kUnboundedPeriodsAhead = UINT64_MAX;

double SecondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// A temporary directory removed with this object.
class ScratchDir {
 public:
  ScratchDir() {
    char tmpl[] = "/tmp/mcx-kms-bench-XXXXXX";
    if (mkdtemp(tmpl) != nullptr) path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::string BenchUser(uint64_t i) { return fmt::format("sip:bench{:07}@example.org", i); }

}  // namespace

LocalBench::LocalBench(KmsInstance& kms, LocalBenchOptions options) : kms_(kms), options_(std::move(options)) {}

uint64_t LocalBench::progress() const {
  std::lock_guard<std::mutex> lock(progress_mu_);
  return progress_ ? progress_() : 0;
}

void LocalBench::BeginPhase(const PhaseListener& on_phase, const std::string& phase, const std::string& unit,
                            std::function<uint64_t()> count) {
  {
    std::lock_guard<std::mutex> lock(progress_mu_);
    progress_ = std::move(count);
  }
  if (on_phase) on_phase(phase, unit);
}

Status LocalBench::MeasureDerivation(LocalFigures& out) {
  const int max_threads = options_.max_threads > 0 ? options_.max_threads : CoreCount();
  const uint64_t period = KeyPeriod::Containing(kms_.certificate().params, NtpNow())->number;
  // One batch first, untimed: the kernels build their tables on first use.
  std::vector<std::string> warm(64);
  for (size_t i = 0; i < warm.size(); ++i) warm[i] = BenchUser(900000000ull + i);
  for (const auto& ks : kms_.source().DeriveBatch(warm, period)) {
    if (!ks.ok()) return ks.status().Annotate("deriving a key set");
  }
  for (int threads = 1; threads <= max_threads; ++threads) {
    std::atomic<uint64_t> done{0};
    std::atomic<bool> failed{false};
    const auto deadline = Clock::now() + std::chrono::duration<double>(options_.seconds_per_step);
    const Clock::time_point start = Clock::now();
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        std::vector<std::string> batch(BulkDeriveBatch(kms_.source()));
        uint64_t next = 0;
        while (Clock::now() < deadline) {
          for (std::string& u : batch) u = BenchUser(static_cast<uint64_t>(t) * 100000000ull + next++);
          std::vector<Result<KeySet>> sets = kms_.source().DeriveBatch(batch, period);
          uint64_t ok = 0;
          for (const auto& ks : sets) ok += ks.ok() ? 1 : 0;
          if (ok == 0) failed = true;
          done += ok;
          counter_ += ok;
        }
      });
    }
    for (std::thread& w : workers) w.join();
    if (failed) return Status::Internal("key set derivation failed during the benchmark");
    out.derivation.push_back({threads, static_cast<double>(done.load()) / SecondsSince(start)});
  }
  return Status::Ok();
}

Status LocalBench::MeasureHsm(LocalFigures& out) {
  KmsCustody& custody = kms_.custody();
  const auto step = std::chrono::duration<double>(options_.seconds_per_step);
  // Runs `op` for one step; ops per second, or the first error.
  auto measure = [&](const std::string& name, const std::function<Status()>& op) -> Status {
    const Clock::time_point start = Clock::now();
    uint64_t n = 0;
    while (Clock::now() - start < step) {
      MCX_RETURN_IF_ERROR(op().Annotate(name));
      ++n;
      ++counter_;
    }
    out.hsm.push_back({name, static_cast<double>(n) / SecondsSince(start)});
    return Status::Ok();
  };
  std::array<uint8_t, 32> buf{};
  MCX_RETURN_IF_ERROR(measure("random 32 octets (pooled)", [&] { return custody.random().Fill(buf); }));
  constexpr std::string_view kPurpose = "capacity-bench";
  Result<Bytes> blob = custody.Seal(buf, kPurpose);
  if (!blob.ok()) return blob.status().Annotate("seal");
  MCX_RETURN_IF_ERROR(measure("seal 32 octets", [&] { return custody.Seal(buf, kPurpose).status(); }));
  MCX_RETURN_IF_ERROR(measure("unseal 32 octets", [&] { return custody.Unseal(*blob, kPurpose).status(); }));
  MCX_RETURN_IF_ERROR(measure("ping", [&] { return custody.Ping(); }));
  return Status::Ok();
}

Status LocalBench::ProvisionAndServe(CapacityReport& report, const PhaseListener& on_phase) {
  LocalFigures& local = *report.local;
  ScratchDir scratch;
  if (scratch.path().empty()) return Status::Unavailable("cannot create a scratch directory under /tmp");

  // Enough identities for about provision_seconds at the measured rate (at least 1,000).
  const double rate = local.derivation.empty() ? 500 : local.derivation.back().per_second;
  const uint64_t population = std::max<uint64_t>(
      std::max<uint64_t>(1000, options_.serve_users), static_cast<uint64_t>(rate * options_.provision_seconds));
  const std::filesystem::path users_file = scratch.path() / "users.txt";
  {
    std::ofstream f(users_file);
    for (uint64_t i = 1; i <= population; ++i) f << BenchUser(i) << '\n';
    if (!f) return Status::Unavailable("cannot write " + users_file.string());
  }
  // A scratch store of the KMS's own kind (SQLite file, or a schema in its PostgreSQL database).
  Result<std::unique_ptr<ScratchKeyStore>> scratch_store =
      ScratchKeyStore::Open(kms_.config().store_location(), scratch.path(), kms_.certificate().cert_uri);
  if (!scratch_store.ok()) return scratch_store.status().Annotate("the scratch store");
  local.store = (*scratch_store)->description();
  KeyStore& store = (*scratch_store)->store();

  Result<std::unique_ptr<IdentityReader>> reader = IdentityReader::Open(users_file, {}, nullptr);
  if (!reader.ok()) return reader.status();
  ProvisionPlan plan;
  plan.periods = {KeyPeriod::Containing(kms_.certificate().params, NtpNow())->number};
  plan.threads = CoreCount();
  if (options_.audit) {
    const std::string cert_uri = kms_.certificate().cert_uri;
    plan.before_commit = [this, cert_uri](std::span<const SealedKeySet> records) {
      std::vector<KeySetRef> refs;
      refs.reserve(records.size());
      for (const SealedKeySet& r : records) refs.push_back({r.user_uri, r.period.number});
      return kms_.RecordOrRefuse(KeySetsIssued("bench local", cert_uri, refs));
    };
  }
  ProvisionProgress progress;
  BeginPhase(on_phase, "bulk provisioning into a scratch store", "key sets", [&progress] { return progress.issued.load(); });
  ProvisioningPipeline pipeline(kms_.source(), kms_.cipher(), store);
  Result<ProvisionSummary> summary = pipeline.Run(**reader, plan, progress);
  if (!summary.ok()) return summary.status().Annotate("provisioning the scratch store");
  local.provisioned = summary->issued;
  local.provision_seconds = summary->seconds;
  local.provision_threads = summary->threads;

  // The serving runs: an in-process server over the scratch store, trusting a throw-away IdMS key.
  const std::string idms_dir = (scratch.path() / "idms").string();
  MCX_RETURN_IF_ERROR(api::GenerateTestIdmsKey(idms_dir));
  api::IdmsTrust trust;
  trust.trusted_key_file = idms_dir + "/" + api::kTestIdmsPublicKeyFile;
  trust.policy.issuer = api::kTestIdmsIssuer;
  trust.policy.audience = api::kDefaultAudience;
  std::vector<UserCredential> users;
  const auto now = static_cast<int64_t>(std::time(nullptr));
  Result<api::TestTokenMinter> minter = api::TestTokenMinter::Load(idms_dir + "/" + api::kTestIdmsKeyFile);
  if (!minter.ok()) return minter.status();
  for (uint64_t i = 1; i <= std::min<uint64_t>(population, options_.serve_users); ++i) {
    api::TestTokenClaims claims;
    claims.user_uri = BenchUser(i);
    Result<std::string> token = minter->Mint(claims, now);
    if (!token.ok()) return token.status();
    users.push_back({claims.user_uri, std::move(token).value()});
  }
  // Deliveries are marked as a served KMS marks them, and with the audit on, recorded too.
  DeliveryRecorder::Options delivery_options;
  if (options_.audit) {
    AuditLog* audit = &kms_.audit();
    delivery_options.on_first_delivery = [audit](const std::string& cert_uri, std::span<const KeySetRef> first) {
      audit->RecordAsync(KeySetsDelivered("bench local", cert_uri, first));
    };
  }
  DeliveryRecorder deliveries(store, delivery_options);
  StoredKeyService service(ServedCertificates::Single({kms_.certificate(), &kms_.source(), &kms_.cipher(), &store}),
                           store, [this] { return kms_.custody().Ping(); }, &deliveries);
  if (options_.audit) service.SetAuditLog(&kms_.audit(), kms_.config().audit_fail_open);
  api::HttpServerOptions http;
  http.host = "127.0.0.1";
  http.port = 0;
  http.io_threads = options_.server_io_threads;
  http.worker_threads = options_.server_worker_threads > 0 ? options_.server_worker_threads : api::DefaultWorkerThreads();
  // The on-demand run asks for random periods over the whole certificate, so the scratch KMS
  // hands out keys that far ahead (a served KMS stops at serve --max-periods-ahead, default 2).
  api::KmsRouter::Options router;
  router.max_periods_ahead = kUnboundedPeriodsAhead;
  Result<std::unique_ptr<api::KmsHttpService>> server =
      api::KmsHttpService::Create(service, std::move(trust), {http, router});
  if (!server.ok()) return server.status();
  MCX_RETURN_IF_ERROR((*server)->Start());
  HttpEndpoint endpoint;
  endpoint.host = "127.0.0.1";
  endpoint.port = (*server)->port();

  Result<HttpReply> init = FetchOnce(endpoint, "POST", endpoint.base_path + "init", users.front().token, options_.serve.timeout);
  Result<KmsPublicView> view = init.ok() && init->status == 200 ? ParseKmsInitPublicKeys(init->body)
                                                                : Result<KmsPublicView>(Status::Unavailable("init failed"));
  Status outcome;
  for (KeySetOrigin origin : {KeySetOrigin::kPreProvisioned, KeySetOrigin::kOnDemand}) {
    LoadOptions o = options_.serve;
    o.init_weight = 0;
    o.keyprov_weight = 1;
    if (origin == KeySetOrigin::kOnDemand) {
      if (!view.ok()) {
        outcome = view.status().Annotate("the on-demand serving run needs the KMS certificate");
        break;
      }
      Result<std::pair<NtpSeconds, NtpSeconds>> window = OnDemandWindow(*view, NtpNow(), kUnboundedPeriodsAhead);
      if (!window.ok()) {
        outcome = window.status();
        break;
      }
      o.on_demand_from = window->first;
      o.on_demand_to = window->second;
    }
    LoadGenerator load(endpoint, users, o);
    BeginPhase(on_phase, std::string("serving keyprov, ") + KeySetOriginName(origin), "requests",
               [&load] { return load.completed(); });
    Result<LoadResult> result = load.Run();
    BeginPhase(nullptr, "", "", nullptr);
    if (!result.ok()) {
      outcome = result.status();
      break;
    }
    ServingRun run;
    run.label = std::string("local keyprov, ") + KeySetOriginName(origin);
    run.target = endpoint.ToString() + " (in-process, scratch store)";
    run.origin = origin;
    run.options = o;
    run.users = users.size();
    run.result = std::move(result).value();
    if (view.ok()) {
      run.validated = true;
      run.verdict = CheckKeyProvAnswers(*view, run.result.keyprov_samples);
    } else {
      run.validation_note = view.status().ToString();
    }
    run.result.keyprov_samples.clear();
    run.result.init_sample.clear();
    report.serving.push_back(std::move(run));
  }
  (*server)->Shutdown();
  (*server)->Wait();
  return outcome;
}

Status LocalBench::Run(CapacityReport& report, const PhaseListener& on_phase) {
  LocalFigures& local = report.local.emplace();
  local.kms_uri = kms_.certificate().params.kms_uri;
  local.arithmetic = kms_.arithmetic();
  local.store = kms_.store_description();  // until the scratch store (what is measured) names itself
  counter_ = 0;
  BeginPhase(on_phase, "key set derivation, 1.." + std::to_string(options_.max_threads > 0 ? options_.max_threads
                                                                   : CoreCount()) +
                           " threads",
             "key sets", [this] { return counter_.load(); });
  MCX_RETURN_IF_ERROR(MeasureDerivation(local));
  counter_ = 0;
  BeginPhase(on_phase, "HSM operations", "operations", [this] { return counter_.load(); });
  MCX_RETURN_IF_ERROR(MeasureHsm(local));
  return ProvisionAndServe(report, on_phase);
}

}  // namespace mcx::capacity
