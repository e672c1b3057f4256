// `mcx-kms provision`: pre-provision a population for a range of key periods, in bulk.

#include <cstdio>
#include <fstream>
#include <mutex>

#include <fmt/format.h>

#include "base/cpu_count.h"
#include "engine/bulk/identity_reader.h"
#include "engine/bulk/provisioning_pipeline.h"
#include "engine/custody/kms_instance.h"
#include "tools/cli/command.h"
#include "tools/cli/kms_options.h"
#include "tools/cli/progress_meter.h"
#include "tools/cli/provision_job.h"

namespace mcx::cli {
namespace {

struct ProvisionOptions {
  KmsLocation loc;
  std::string users;
  std::string from;  // empty: now, or the --certificate's ValidFrom when that is later
  std::string certificate;
  std::string to;
  int periods = 0;
  int threads = 0;
  std::string uri_column;
  std::string report;
  size_t commit_every = 2048;
  JobOptions job;
};

Result<NtpSeconds> ParseWhen(const std::string& text) {
  if (text == "now") return NtpNow();
  return ParseUtc(text);
}

// The KeyPeriodNo values that --from/--to/--periods name.
Result<std::vector<uint64_t>> PlanPeriods(const ProvisionOptions& opt, const CommunityParameters& params,
                                          NtpSeconds default_from) {
  if (opt.periods > 0 && !opt.to.empty()) return Status::InvalidArgument("give --periods or --to, not both");
  Result<NtpSeconds> from_t = opt.from.empty() ? Result<NtpSeconds>(default_from) : ParseWhen(opt.from);
  if (!from_t.ok()) return from_t.status().Annotate("--from");
  Result<KeyPeriod> first = KeyPeriod::Containing(params, *from_t);
  if (!first.ok()) return first.status().Annotate("--from");
  uint64_t last = first->number;
  if (!opt.to.empty()) {
    Result<NtpSeconds> to_t = ParseWhen(opt.to);
    if (!to_t.ok()) return to_t.status().Annotate("--to");
    Result<KeyPeriod> end = KeyPeriod::Containing(params, *to_t);
    if (!end.ok()) return end.status().Annotate("--to");
    if (end->number < first->number) return Status::InvalidArgument("--to is before --from");
    last = end->number;
  } else if (opt.periods > 0) {
    last = first->number + static_cast<uint64_t>(opt.periods) - 1;
  } else if (opt.periods < 0) {
    return Status::InvalidArgument("--periods must be at least 1");
  }
  if (last - first->number >= 1000) {
    return Status::InvalidArgument("more than 1000 key periods at once; split the run");
  }
  std::vector<uint64_t> out;
  for (uint64_t n = first->number; n <= last; ++n) out.push_back(n);
  return out;
}

// Which mode the flags ask for, or why they do not fit together.
Status CheckModes(const ProvisionOptions& opt) {
  const JobOptions& j = opt.job;
  if (j.list) {
    if (j.job != 0 || j.create || !opt.users.empty()) return Status::InvalidArgument("--list-jobs takes no other job flag");
    return Status::Ok();
  }
  if (j.job != 0) {
    if (j.worker == j.status) return Status::InvalidArgument("--job ID needs one of --worker or --status");
    if (!opt.users.empty() || j.create) {
      return Status::InvalidArgument("--job works on a job already made: its population and periods are in the "
                                     "store (drop --users, --create-job)");
    }
    return Status::Ok();
  }
  if (j.worker || j.status) return Status::InvalidArgument("--worker and --status need --job ID");
  if (opt.users.empty()) return Status::InvalidArgument("--users FILE is required (or --job ID, or --list-jobs)");
  return Status::Ok();
}

// What a run and a job's worker share: threads, commit size, revoked users skipped.
ProvisionPlan BasePlan(const ProvisionOptions& opt, const KmsInstance& kms) {
  ProvisionPlan plan;
  plan.threads = opt.threads > 0 ? opt.threads : CoreCount();
  plan.records_per_commit = std::max<size_t>(1, opt.commit_every);
  plan.is_revoked = RevokedPairs(kms.certificates(), kms.certificate().params);
  return plan;
}

Status RunProvision(const ProvisionOptions& opt, CommandResult& result) {
  MCX_RETURN_IF_ERROR(CheckModes(opt));
  Result<KmsConfig> config = LoadKmsConfig(opt.loc);
  if (!config.ok()) return config.status();
  // Status and the list read the store alone: no HSM, so any node (or an operator's) can ask.
  if (opt.job.list) return PrintJobList(config->store_location());
  if (opt.job.status) return PrintJobStatus(config->store_location(), opt.job.job);
  Result<std::unique_ptr<KmsInstance>> kms = OpenKmsForCommand(*config);
  if (!kms.ok()) return kms.status();
  if (opt.job.worker) {
    ProvisionPlan plan = BasePlan(opt, **kms);
    const std::string report_path =
        opt.report.empty()
            ? ((*kms)->config().data_dir / ("provision-job-" + std::to_string(opt.job.job) + "-report.txt")).string()
            : opt.report;
    return RunJobWorker(**kms, opt.job, std::move(plan), report_path, result);
  }
  const CommunityParameters& params = (*kms)->certificate().params;
  const std::shared_ptr<const ServedCertificates> served = (*kms)->certificates();
  const IssuingCertificate* chosen = nullptr;
  NtpSeconds default_from = NtpNow();
  if (!opt.certificate.empty()) {
    for (const IssuingCertificate& c : served->issuing) {
      if (c.certificate.cert_uri == opt.certificate) chosen = &c;
    }
    if (chosen == nullptr) {
      return Status::NotFound("--certificate " + opt.certificate + " is not a certificate of this KMS that issues "
                              "keys (revoked, expired or unknown): see `mcx-kms cert list`");
    }
    default_from = std::max(default_from, chosen->certificate.valid_from);
  }
  Result<std::vector<uint64_t>> periods = PlanPeriods(opt, params, default_from);
  if (!periods.ok()) return periods.status();
  // Each period is issued under the certificate in force at its start (or the one asked for).
  std::vector<std::pair<const IssuingCertificate*, std::vector<uint64_t>>> groups;
  for (uint64_t n : *periods) {
    Result<KeyPeriod> p = KeyPeriod::Numbered(params, n);
    if (!p.ok()) return p.status();
    const IssuingCertificate* cert = chosen;
    if (cert == nullptr) {
      cert = served->InForceAt(p->valid_from);
    } else if (p->valid_from < cert->certificate.valid_from || p->valid_to > cert->certificate.valid_to) {
      return Status::InvalidArgument("key period " + std::to_string(n) + " (" + FormatUtc(p->valid_from) +
                                     ") is outside --certificate " + opt.certificate + "'s validity (" +
                                     FormatUtc(cert->certificate.valid_from) + " to " +
                                     FormatUtc(cert->certificate.valid_to) + ")");
    }
    if (cert == nullptr) {
      return Status::InvalidArgument("no certificate of this KMS is in force at the start of key period " +
                                     std::to_string(n) + " (" + FormatUtc(p->valid_from) + "): see `mcx-kms cert list`");
    }
    if (groups.empty() || groups.back().first != cert) groups.push_back({cert, {}});
    groups.back().second.push_back(n);
  }

  if (opt.job.create && groups.size() > 1) {
    return Status::InvalidArgument(fmt::format(
        "key periods {}..{} fall under certificate {} and {}.. under {}: a job issues under one certificate; "
        "create one job per certificate (--certificate with --from/--to)",
        groups[0].second.front(), groups[0].second.back(), groups[0].first->certificate.cert_uri,
        groups[1].second.front(), groups[1].first->certificate.cert_uri));
  }

  // Bad lines go to the report file as they are found, so memory stays flat.
  const std::string report_path =
      opt.report.empty() ? ((*kms)->config().data_dir / "provision-report.txt").string() : opt.report;
  Result<std::unique_ptr<std::ofstream>> opened_report = OpenReportFile(report_path, /*append=*/false);
  if (!opened_report.ok()) return opened_report.status();
  std::ofstream& report = **opened_report;
  report << "# mcx-kms provision report: " << opt.users << "\n# line\treason\n";
  std::mutex report_mu;
  auto bad_line = [&](uint64_t line, const std::string& why) {
    std::lock_guard<std::mutex> lock(report_mu);
    report << line << '\t' << why << '\n';
  };
  auto failed_pair = [&](const Identity& who, uint64_t period, const std::string& why) {
    std::lock_guard<std::mutex> lock(report_mu);
    report << who.line << "\tperiod " << period << ": " << why << '\n';
  };

  IdentityReaderOptions ropt;
  ropt.uri_column = opt.uri_column;
  if (opt.job.create) {
    Result<std::unique_ptr<IdentityReader>> reader = IdentityReader::Open(opt.users, ropt, bad_line);
    if (!reader.ok()) return reader.status();
    Status made = CreateProvisioningJob(**kms, *groups[0].first, groups[0].second, **reader, opt.users, opt.job);
    report.flush();
    if (made.ok() && (*reader)->skipped() > 0) result.exit_code = kExitSkippedInput;
    return made;
  }
  ProvisionPlan plan = BasePlan(opt, **kms);

  Result<ProvisionSummary> summary = ProvisionSummary{};
  ProvisionProgress progress;
  for (size_t g = 0; g < groups.size() && summary.ok(); ++g) {
    // The population is read once per certificate (nearly always once).
    Result<std::unique_ptr<IdentityReader>> reader = IdentityReader::Open(opt.users, ropt, bad_line);
    if (!reader.ok()) return reader.status();
    const IssuingCertificate& cert = *groups[g].first;
    plan.periods = groups[g].second;
    fmt::print("provisioning {} for key periods {}..{} ({} .. {}) under certificate {} on {} threads into {}\n",
               opt.users, plan.periods.front(), plan.periods.back(),
               FormatUtc(KeyPeriod::Numbered(params, plan.periods.front())->valid_from),
               FormatUtc(KeyPeriod::Numbered(params, plan.periods.back())->valid_to), cert.certificate.cert_uri,
               plan.threads, (*kms)->store_description());
    std::fflush(stdout);
    ProvisioningPipeline pipeline(*cert.source, *cert.cipher, *cert.store);
    // Each batch is in the audit chain before it is committed (fail-closed).
    plan.before_commit = AuditBeforeCommit(**kms, cert.certificate.cert_uri);
    ProvisionProgress group_progress;
    Result<ProvisionSummary> part = [&] {
      ProgressMeter meter("key sets", (*reader)->total_lines() * plan.periods.size(), [&] {
        return group_progress.issued.load() + group_progress.present.load() + group_progress.failed.load() +
               group_progress.revoked.load();
      });
      return pipeline.Run(**reader, plan, group_progress, failed_pair);
    }();
    progress.issued.fetch_add(group_progress.issued.load());
    if (!part.ok()) {
      summary = part.status();
      break;
    }
    ProvisionSummary& sum = *summary;
    sum.identities = std::max(sum.identities, part->identities);
    sum.pairs += part->pairs;
    sum.issued += part->issued;
    sum.present += part->present;
    sum.failed += part->failed;
    sum.revoked += part->revoked;
    sum.skipped_lines = std::max(sum.skipped_lines, part->skipped_lines);
    sum.seconds += part->seconds;
    sum.threads = part->threads;
  }
  report.flush();
  if (!summary.ok()) {
    fmt::print("stopped: {} key sets were committed before the error; run the same command again to finish\n",
               progress.issued.load());
    return summary.status();
  }
  const ProvisionSummary& s = *summary;
  const double rate = s.seconds > 0 ? s.issued / s.seconds : 0;
  fmt::print("identities {}, key periods {}, pairs {}\n", s.identities, periods->size(), s.pairs);
  fmt::print("issued {}, already present {}, failed {}, revoked users' pairs skipped {}, skipped lines {}\n",
             s.issued, s.present, s.failed, s.revoked, s.skipped_lines);
  fmt::print("elapsed {:.2f} s: {:.0f} key sets/s, {:.0f} key sets/s per core ({} threads)\n", s.seconds, rate,
             rate / s.threads, s.threads);
  if (s.skipped_lines + s.failed > 0) {
    fmt::print("some input was skipped: see {}\n", report_path);
    result.exit_code = kExitSkippedInput;
  }
  return Status::Ok();
}

}  // namespace

void RegisterProvisionCommand(CLI::App& app, CommandResult& result) {
  auto opt = std::make_shared<ProvisionOptions>();
  CLI::App* cmd = app.add_subcommand(
      "provision",
      "Pre-provision key sets for a population over a range of key periods, in parallel, into the store.\n"
      "Resumable: pairs already in the store are skipped, so rerunning an interrupted run completes it.\n"
      "Exit status: 0 all done, 3 done but some lines or pairs were skipped (see the report), 1 error.\n"
      "\n"
      "Across machines (docs/bulk-provisioning.md): --create-job records the population in the store, in chunks,\n"
      "and prints a job ID; then `provision --job ID --worker` on any number of machines that share the store\n"
      "(PostgreSQL; SQLite for workers on one machine) claims chunk after chunk under an expiring lease, so a\n"
      "killed worker's chunk is taken over once its lease runs out; each worker exits 0 when the whole job is\n"
      "done. `provision --job ID --status` shows progress, rate, ETA and the workers from any node (no HSM).");
  cmd->add_option("--users", opt->users,
                  "population file: one URI per line (# comments), or CSV with a header naming the URI column "
                  "(required, except with --job or --list-jobs)");
  cmd->add_option("--from", opt->from,
                  "first key period: the one containing this UTC date (YYYY-MM-DD[Thh:mm:ssZ] or now; default now, "
                  "or the --certificate's ValidFrom when that is later)");
  cmd->add_option("--certificate", opt->certificate,
                  "issue under this certificate (CertUri, see `cert list`), e.g. a rolled-over one ahead of its "
                  "ValidFrom; default: each period under the certificate in force at its start");
  cmd->add_option("--periods", opt->periods, "how many consecutive key periods (default 1)");
  cmd->add_option("--to", opt->to, "last key period: the one containing this UTC date");
  cmd->add_option("--threads", opt->threads, "derivation threads (default: one per core)");
  cmd->add_option("--uri-column", opt->uri_column, "CSV: the header of the URI column");
  cmd->add_option("--report", opt->report, "where to write skipped lines (default DATA_DIR/provision-report.txt)");
  cmd->add_option("--commit-every", opt->commit_every, "key sets per store transaction")->capture_default_str();
  cmd->add_flag("--create-job", opt->job.create,
                "record a job of --users for the periods asked, in chunks, instead of provisioning here; prints its ID");
  cmd->add_option("--chunk-size", opt->job.chunk_size, "--create-job: identities per chunk")->capture_default_str();
  cmd->add_option("--lease-seconds", opt->job.lease_seconds,
                  "--create-job: how long a worker's claim on a chunk lasts without renewal (workers renew every "
                  "third of it; a killed worker's chunk is taken over after it)")
      ->capture_default_str();
  cmd->add_option("--job", opt->job.job, "a job made by --create-job (its ID)");
  cmd->add_flag("--worker", opt->job.worker,
                "with --job: work on the job until it is done (claim chunks, provision them, renew the lease)");
  cmd->add_flag("--status", opt->job.status,
                "with --job: the job's chunks, key sets in the store, rate, ETA, workers seen, takeovers");
  cmd->add_flag("--list-jobs", opt->job.list, "the provisioning jobs in the store");
  AddDataDirOption(cmd, opt->loc);
  AddHsmOptions(cmd, opt->loc);
  cmd->callback([opt, &result] { result.status = RunProvision(*opt, result); });
}

}  // namespace mcx::cli
