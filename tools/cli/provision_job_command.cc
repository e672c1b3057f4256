// `mcx-kms provision --create-job | --job ID --worker | --job ID --status | --list-jobs`.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "engine/audit/audit_event.h"
#include "engine/audit/audit_log.h"
#include "engine/store/provisioning_job_store.h"
#include "engine/store/store_location.h"
#include "tools/cli/progress_meter.h"
#include "tools/cli/provision_job.h"

namespace mcx::cli {
namespace {

using std::chrono::milliseconds;

// "host:pid": who holds a lease, as status shows it.
std::string WorkerName() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "unknown-host");
  return std::string(host) + ":" + std::to_string(::getpid());
}

milliseconds LeaseOf(const ProvisioningJob& job) { return milliseconds(job.lease_ms); }

Status NoSuchJob(int64_t id, const StoreLocation& where) {
  return Status::NotFound("there is no provisioning job " + std::to_string(id) + " in the store (" +
                          where.Describe() + "): `mcx-kms provision --list-jobs` lists the jobs there");
}

Result<ProvisioningJob> FindJob(ProvisioningJobStore& jobs, int64_t id, const StoreLocation& where) {
  Result<std::optional<ProvisioningJob>> job = jobs.FindJob(id);
  if (!job.ok()) return job.status();
  if (!job->has_value()) return NoSuchJob(id, where);
  return std::move(**job);
}

// Renews a claim's lease every third of its length until stopped; sets `lost` when the store says
// the claim no longer holds the chunk (it expired and another worker took it over).
class LeaseKeeper {
 public:
  LeaseKeeper(ProvisioningJobStore& jobs, const ChunkClaim& claim, milliseconds lease)
      : jobs_(jobs), claim_(claim), lease_(lease), thread_([this] { Loop(); }) {}
  ~LeaseKeeper() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  const std::atomic<bool>& lost() const { return lost_; }

 private:
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, lease_ / 3, [this] { return stopping_; })) {
      lock.unlock();
      Result<bool> held = jobs_.Renew(claim_, lease_);
      // A store that does not answer is retried at the next beat; the lease may run out meanwhile,
      // and then the store's answer says so.
      if (held.ok() && !*held) lost_.store(true);
      lock.lock();
      if (lost_.load()) return;
    }
  }

  ProvisioningJobStore& jobs_;
  const ChunkClaim& claim_;
  const milliseconds lease_;
  std::atomic<bool> lost_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

// How many of the job's (identity, period) pairs have a key set in the store: the exact count,
// from the key sets themselves.
Result<uint64_t> CountStoredPairs(ProvisioningJobStore& jobs, KeyStore& keys, const ProvisioningJob& job) {
  uint64_t stored = 0;
  for (uint64_t c = 0; c < job.chunk_count; ++c) {
    Result<std::vector<std::string>> users = jobs.ChunkUsers(job.id, static_cast<int64_t>(c));
    if (!users.ok()) return users.status();
    for (uint32_t p = 0; p < job.period_count; ++p) {
      Result<std::vector<bool>> have = keys.ContainsMany(*users, job.first_period + p);
      if (!have.ok()) return have.status();
      stored += static_cast<uint64_t>(std::count(have->begin(), have->end(), true));
    }
  }
  return stored;
}

struct ChunkTally {
  size_t done = 0, leased = 0, expired = 0, pending = 0;
  uint64_t done_pairs = 0;
  ChunkCounts counts;  // of done chunks
  int64_t takeovers = 0;
  int64_t first_claim_ms = 0, last_done_ms = 0;
};

ChunkTally Tally(const std::vector<ChunkInfo>& chunks, const ProvisioningJob& job, int64_t now_ms) {
  ChunkTally t;
  for (const ChunkInfo& c : chunks) {
    t.takeovers += c.takeovers;
    if (c.claimed_at_ms > 0 && (t.first_claim_ms == 0 || c.claimed_at_ms < t.first_claim_ms)) {
      t.first_claim_ms = c.claimed_at_ms;
    }
    switch (c.state) {
      case ChunkState::kDone:
        ++t.done;
        t.done_pairs += c.users * job.period_count;
        t.counts.issued += c.counts.issued;
        t.counts.present += c.counts.present;
        t.counts.revoked += c.counts.revoked;
        t.counts.failed += c.counts.failed;
        t.last_done_ms = std::max(t.last_done_ms, c.done_at_ms);
        break;
      case ChunkState::kLeased:
        ++t.leased;
        if (c.lease_expires_ms < now_ms) ++t.expired;
        break;
      case ChunkState::kPending:
        ++t.pending;
        break;
    }
  }
  return t;
}

}  // namespace

Result<std::unique_ptr<std::ofstream>> OpenReportFile(const std::string& path, bool append) {
  // It names users: mode 0600 (whatever the umask) before a line is written.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0600);
  if (fd < 0 || fchmod(fd, 0600) != 0) {
    if (fd >= 0) ::close(fd);
    return Status::Unavailable("cannot write the report file " + path);
  }
  ::close(fd);
  auto out = std::make_unique<std::ofstream>(path, append ? std::ios::app : std::ios::trunc);
  if (!*out) return Status::Unavailable("cannot write the report file " + path);
  return out;
}

std::function<bool(const std::string&, uint64_t)> RevokedPairs(std::shared_ptr<const ServedCertificates> served,
                                                                const CommunityParameters& params) {
  return [served = std::move(served), &params](const std::string& user, uint64_t period) {
    std::optional<NtpSeconds> from = served->RevokedFrom(user);
    if (!from) return false;
    Result<KeyPeriod> p = KeyPeriod::Numbered(params, period);
    return p.ok() && p->valid_to >= *from;
  };
}

std::function<Status(std::span<const SealedKeySet>)> AuditBeforeCommit(KmsInstance& kms, std::string cert_uri) {
  return [&kms, cert_uri = std::move(cert_uri), operator_name = LocalOperator()](std::span<const SealedKeySet> records) {
    std::vector<KeySetRef> refs;
    refs.reserve(records.size());
    for (const SealedKeySet& r : records) refs.push_back({r.user_uri, r.period.number});
    return kms.RecordOrRefuse(KeySetsIssued(operator_name, cert_uri, refs));
  };
}

Status CreateProvisioningJob(KmsInstance& kms, const IssuingCertificate& cert, const std::vector<uint64_t>& periods,
                             IdentityReader& reader, const std::string& source, const JobOptions& options) {
  if (options.chunk_size < 1) return Status::InvalidArgument("--chunk-size must be at least 1");
  if (!(options.lease_seconds >= 0.5) || options.lease_seconds > 86400) {
    return Status::InvalidArgument("--lease-seconds must be between 0.5 and 86400");
  }
  const StoreLocation where = kms.config().store_location();
  Result<std::unique_ptr<ProvisioningJobStore>> jobs = OpenJobStore(where);
  if (!jobs.ok()) return jobs.status();
  // The population is checked (URIs, duplicates) as a plain run checks it, then held in memory
  // and recorded in one transaction: a job exists whole or not at all.
  std::vector<std::vector<std::string>> chunks;
  for (;;) {
    Result<std::optional<Identity>> id = reader.Next();
    if (!id.ok()) return id.status();
    if (!id->has_value()) break;
    if (chunks.empty() || chunks.back().size() == options.chunk_size) {
      chunks.emplace_back();
      chunks.back().reserve(options.chunk_size);
    }
    chunks.back().push_back(std::move((*id)->uri));
  }
  if (chunks.empty()) return Status::InvalidArgument(source + " holds no valid identity: no job was made");
  ProvisioningJob job;
  job.cert_uri = cert.certificate.cert_uri;
  job.first_period = periods.front();
  job.period_count = static_cast<uint32_t>(periods.size());
  job.source = source;
  job.lease_ms = static_cast<int64_t>(options.lease_seconds * 1000);
  Result<int64_t> id = (*jobs)->CreateJob(job, chunks);
  if (!id.ok()) return id.status();
  uint64_t identities = 0;
  for (const auto& c : chunks) identities += c.size();
  MCX_RETURN_IF_ERROR(kms.RecordOrRefuse({AuditEventKind::kAdminCommand, LocalOperator(), "", job.cert_uri,
                                          "provisioning job " + std::to_string(*id) + " created: " +
                                              std::to_string(identities) + " identities from " + source}));
  fmt::print("job {}: {} identities in {} chunks x {} key periods ({}..{}) under certificate {}, lease {} s, in {}\n",
             *id, identities, chunks.size(), periods.size(), periods.front(), periods.back(), job.cert_uri,
             options.lease_seconds, where.Describe());
  if (reader.skipped() > 0) fmt::print("{} lines were skipped: see the report\n", reader.skipped());
  fmt::print("start workers on any machine that shares this store: mcx-kms provision --job {} --worker\n", *id);
  // The id alone on the last line, for scripts.
  fmt::print("{}\n", *id);
  return Status::Ok();
}

Status RunJobWorker(KmsInstance& kms, const JobOptions& options, ProvisionPlan plan, const std::string& report_path,
                    CommandResult& result) {
  const StoreLocation where = kms.config().store_location();
  Result<std::unique_ptr<ProvisioningJobStore>> opened = OpenJobStore(where);
  if (!opened.ok()) return opened.status();
  ProvisioningJobStore& jobs = **opened;
  Result<ProvisioningJob> job = FindJob(jobs, options.job, where);
  if (!job.ok()) return job.status();
  const std::shared_ptr<const ServedCertificates> served = kms.certificates();
  const IssuingCertificate* cert = nullptr;
  for (const IssuingCertificate& c : served->issuing) {
    if (c.certificate.cert_uri == job->cert_uri) cert = &c;
  }
  if (cert == nullptr || cert->store == nullptr) {
    return Status::InvalidArgument("job " + std::to_string(job->id) + " issues under certificate " +
                                      job->cert_uri + ", which this KMS does not issue under (revoked, expired, or "
                                      "another KMS's): see `mcx-kms cert list`; a job is worked by the KMS that made it");
  }
  plan.periods.clear();
  for (uint32_t p = 0; p < job->period_count; ++p) plan.periods.push_back(job->first_period + p);
  plan.before_commit = AuditBeforeCommit(kms, job->cert_uri);

  // Appended to by every chunk this worker runs.
  Result<std::unique_ptr<std::ofstream>> report = OpenReportFile(report_path, /*append=*/true);
  if (!report.ok()) return report.status();
  std::mutex report_mu;
  auto failed_pair = [&](const Identity& who, uint64_t period, const std::string& why) {
    std::lock_guard<std::mutex> lock(report_mu);
    **report << "job " << job->id << " identity #" << who.line << " (" << who.uri << ")\tperiod " << period << ": "
             << why << '\n';
  };

  const std::string me = WorkerName();
  const milliseconds lease = LeaseOf(*job);
  const uint64_t total_pairs = job->identities * job->period_count;
  fmt::print("worker {} on job {}: {} identities x {} key periods under certificate {} on {} threads, lease {} ms, "
             "into {}\n",
             me, job->id, job->identities, job->period_count, job->cert_uri, plan.threads, job->lease_ms,
             where.Describe());
  std::fflush(stdout);

  ProvisioningPipeline pipeline(*cert->source, *cert->cipher, *cert->store);
  ProvisionProgress progress;  // this worker's, over all its chunks
  std::atomic<uint64_t> others_done{0};
  auto mine = [&progress] {
    return progress.issued.load() + progress.present.load() + progress.failed.load() + progress.revoked.load();
  };
  uint64_t chunks_done = 0, took_over = 0, lost = 0;
  const auto start = std::chrono::steady_clock::now();
  bool waiting_said = false;
  Status status;
  {
    ProgressMeter meter("job key sets", total_pairs, [&] { return others_done.load() + mine(); });
    for (;;) {
      Result<std::optional<ChunkClaim>> claim = jobs.Claim(job->id, me, lease);
      if (!claim.ok()) {
        status = claim.status();
        break;
      }
      int64_t now_ms = 0;
      if (!claim->has_value()) {
        Result<std::vector<ChunkInfo>> chunks = jobs.Chunks(job->id, now_ms);
        if (!chunks.ok()) {
          status = chunks.status();
          break;
        }
        const ChunkTally t = Tally(*chunks, *job, now_ms);
        if (t.done == chunks->size()) break;  // the job is done
        if (!waiting_said) {
          fmt::print("waiting: {} chunk(s) leased by other workers; one whose lease expires is taken over\n", t.leased);
          std::fflush(stdout);
          waiting_said = true;
        }
        // Often enough that a worker waiting at the end of the job notices it is done soon after.
        std::this_thread::sleep_for(std::clamp(lease / 8, milliseconds(100), milliseconds(500)));
        continue;
      }
      waiting_said = false;
      ChunkClaim& c = **claim;
      if (c.took_over) {
        ++took_over;
        fmt::print("took over chunk {} from {} (its lease expired)\n", c.chunk_no, c.taken_from);
        std::fflush(stdout);
      }
      const uint64_t issued0 = progress.issued.load(), present0 = progress.present.load(),
                     revoked0 = progress.revoked.load(), failed0 = progress.failed.load();
      Result<ProvisionSummary> ran = ProvisionSummary{};
      bool lease_lost = false;
      {
        LeaseKeeper keeper(jobs, c, lease);
        plan.stop = &keeper.lost();
        IdentityList list(std::move(c.users), c.first_index);
        ran = pipeline.Run(list, plan, progress, failed_pair);
        lease_lost = keeper.lost().load();
        plan.stop = nullptr;
      }
      if (!ran.ok()) {
        status = ran.status().Annotate("chunk " + std::to_string(c.chunk_no) + " of job " + std::to_string(job->id));
        break;
      }
      ChunkCounts counts{progress.issued.load() - issued0, progress.present.load() - present0,
                         progress.revoked.load() - revoked0, progress.failed.load() - failed0};
      Result<bool> completed = lease_lost ? Result<bool>(false) : jobs.Complete(c, counts);
      if (!completed.ok()) {
        status = completed.status();
        break;
      }
      if (!*completed) {
        ++lost;
        fmt::print("lost the lease of chunk {} (it expired and another worker took it over); its key sets are "
                   "kept, the other worker skips them\n",
                   c.chunk_no);
        std::fflush(stdout);
        continue;
      }
      ++chunks_done;
      // Progress of the whole job: the others' done chunks, as the store has them now.
      Result<std::vector<ChunkInfo>> chunks = jobs.Chunks(job->id, now_ms);
      if (chunks.ok()) {
        const uint64_t done_pairs = Tally(*chunks, *job, now_ms).done_pairs;
        const uint64_t my_pairs = mine();
        others_done.store(done_pairs > my_pairs ? done_pairs - my_pairs : 0);
      }
    }
  }
  report->get()->flush();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("worker {}: {} chunks done ({} taken over, {} lost), issued {}, already present {}, revoked users' pairs "
             "skipped {}, failed {}, in {:.2f} s: {:.0f} key sets/s\n",
             me, chunks_done, took_over, lost, progress.issued.load(), progress.present.load(),
             progress.revoked.load(), progress.failed.load(), seconds,
             seconds > 0 ? progress.issued.load() / seconds : 0.0);
  std::fflush(stdout);
  if (!status.ok()) {
    fmt::print("stopped: this worker's chunk goes back to the job when its lease expires; run a worker again\n");
    return status;
  }
  // The job is done: the exact count comes from the key sets in the store.
  int64_t now_ms = 0;
  Result<std::vector<ChunkInfo>> chunks = jobs.Chunks(job->id, now_ms);
  if (!chunks.ok()) return chunks.status();
  const ChunkTally t = Tally(*chunks, *job, now_ms);
  Result<uint64_t> stored = CountStoredPairs(jobs, *cert->store, *job);
  if (!stored.ok()) return stored.status();
  fmt::print("job {} done: {} of {} pairs have a key set in the store; revoked users' pairs {}, failed {}\n", job->id,
             *stored, total_pairs, t.counts.revoked, t.counts.failed);
  std::fflush(stdout);
  if (t.counts.failed > 0) {
    fmt::print("some pairs could not be keyed: see {} on the workers that met them\n", report_path);
    result.exit_code = kExitSkippedInput;
  }
  return Status::Ok();
}

Status PrintJobStatus(const StoreLocation& where, int64_t job_id) {
  Result<std::unique_ptr<ProvisioningJobStore>> opened = OpenJobStore(where);
  if (!opened.ok()) return opened.status();
  ProvisioningJobStore& jobs = **opened;
  Result<ProvisioningJob> job = FindJob(jobs, job_id, where);
  if (!job.ok()) return job.status();
  int64_t now_ms = 0;
  Result<std::vector<ChunkInfo>> chunks = jobs.Chunks(job_id, now_ms);
  if (!chunks.ok()) return chunks.status();
  Result<std::unique_ptr<KeyStore>> keys = OpenKeyStore(where, job->cert_uri);
  if (!keys.ok()) return keys.status();
  Result<uint64_t> stored = CountStoredPairs(jobs, **keys, *job);
  if (!stored.ok()) return stored.status();
  const ChunkTally t = Tally(*chunks, *job, now_ms);
  const uint64_t pairs = job->identities * job->period_count;
  const bool done = t.done == chunks->size();

  fmt::print("job {}: {} identities from {} x {} key periods ({}..{}) under certificate {}\n", job->id,
             job->identities, job->source, job->period_count, job->first_period,
             job->first_period + job->period_count - 1, job->cert_uri);
  fmt::print("state: {}\n", done ? "done" : t.first_claim_ms == 0 ? "waiting for workers" : "running");
  fmt::print("chunks: {} total, {} done, {} leased{}, {} pending\n", chunks->size(), t.done, t.leased,
             t.expired > 0 ? fmt::format(" ({} with an expired lease, to be taken over)", t.expired) : "", t.pending);
  fmt::print("key sets in the store for this job: {} of {} pairs ({:.1f}%)\n", *stored, pairs,
             pairs > 0 ? 100.0 * static_cast<double>(*stored) / static_cast<double>(pairs) : 100.0);
  fmt::print("done chunks: issued {}, already present {}, revoked users' pairs skipped {}, failed {}\n",
             t.counts.issued, t.counts.present, t.counts.revoked, t.counts.failed);
  if (t.first_claim_ms > 0) {
    const int64_t end_ms = done ? std::max(t.last_done_ms, t.first_claim_ms) : now_ms;
    const double seconds = static_cast<double>(end_ms - t.first_claim_ms) / 1000.0;
    // Progress counts pairs settled: stored, or skipped as revoked or failed in done chunks.
    const uint64_t settled = std::min(pairs, *stored + t.counts.revoked + t.counts.failed);
    const double rate = seconds > 0 ? static_cast<double>(*stored) / seconds : 0;
    const double pace = seconds > 0 ? static_cast<double>(settled) / seconds : 0;
    std::string eta = done ? "done" : pace > 0 ? FormatDuration(static_cast<double>(pairs - settled) / pace) : "--";
    fmt::print("rate: {:.0f} key sets/s over {} since the first claim; ETA {}\n", rate, FormatDuration(seconds), eta);
  }
  // Workers seen: every lease holder and completer, and every owner whose lease was taken over.
  struct WorkerSeen {
    size_t completed = 0;
    std::vector<std::string> notes;  // chunks held, expired or lost
  };
  std::map<std::string, WorkerSeen> workers;
  for (const ChunkInfo& c : *chunks) {
    if (!c.lease_owner.empty()) {
      WorkerSeen& w = workers[c.lease_owner];
      if (c.state == ChunkState::kDone) {
        ++w.completed;
      } else if (c.lease_expires_ms < now_ms) {
        w.notes.push_back(fmt::format("chunk {}: lease expired {} ago", c.chunk_no,
                                      FormatDuration(static_cast<double>(now_ms - c.lease_expires_ms) / 1000.0)));
      } else {
        w.notes.push_back(fmt::format("holds chunk {}", c.chunk_no));
      }
    }
    if (!c.taken_from.empty()) {
      workers[c.taken_from].notes.push_back(fmt::format("lost chunk {} to a takeover", c.chunk_no));
    }
  }
  fmt::print("workers seen: {}\n", workers.size());
  for (const auto& [name, w] : workers) {
    std::string line = fmt::format("  {}: {} chunk(s) completed", name, w.completed);
    for (const std::string& n : w.notes) line += "; " + n;
    fmt::print("{}\n", line);
  }
  fmt::print("expired leases taken over: {}\n", t.takeovers);
  return Status::Ok();
}

Status PrintJobList(const StoreLocation& where) {
  Result<std::unique_ptr<ProvisioningJobStore>> opened = OpenJobStore(where);
  if (!opened.ok()) return opened.status();
  Result<std::vector<ProvisioningJob>> jobs = (*opened)->ListJobs();
  if (!jobs.ok()) return jobs.status();
  if (jobs->empty()) fmt::print("no provisioning jobs in {}\n", where.Describe());
  for (const ProvisioningJob& j : *jobs) {
    int64_t now_ms = 0;
    Result<std::vector<ChunkInfo>> chunks = (*opened)->Chunks(j.id, now_ms);
    if (!chunks.ok()) return chunks.status();
    const ChunkTally t = Tally(*chunks, j, now_ms);
    fmt::print("job {}: {} identities from {} x {} key periods from {} under {}: {} of {} chunks done\n", j.id,
               j.identities, j.source, j.period_count, j.first_period, j.cert_uri, t.done, chunks->size());
  }
  return Status::Ok();
}

}  // namespace mcx::cli
