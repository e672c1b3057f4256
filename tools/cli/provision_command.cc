// `mcx-kms provision`: pre-provision a population for a range of key periods, in bulk.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "engine/bulk/provisioning_pipeline.h"
#include "engine/custody/kms_instance.h"
#include "tools/cli/command.h"
#include "tools/cli/kms_options.h"
#include "tools/cli/progress_meter.h"

namespace mcx::cli {
namespace {

struct ProvisionOptions {
  KmsLocation loc;
  std::string users;
  std::string from = "now";
  std::string to;
  int periods = 0;
  int threads = 0;
  std::string uri_column;
  std::string report;
  size_t commit_every = 2048;
};

Result<NtpSeconds> ParseWhen(const std::string& text) {
  if (text == "now") return NtpNow();
  return ParseUtc(text);
}

// The KeyPeriodNo values that --from/--to/--periods name.
Result<std::vector<uint64_t>> PlanPeriods(const ProvisionOptions& opt, const CommunityParameters& params) {
  if (opt.periods > 0 && !opt.to.empty()) return Status::InvalidArgument("give --periods or --to, not both");
  Result<NtpSeconds> from_t = ParseWhen(opt.from);
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

Status RunProvision(const ProvisionOptions& opt, CommandResult& result) {
  Result<KmsConfig> config = LoadKmsConfig(opt.loc);
  if (!config.ok()) return config.status();
  Result<std::unique_ptr<KmsInstance>> kms = KmsInstance::Open(*config);
  if (!kms.ok()) return kms.status();
  const CommunityParameters& params = (*kms)->certificate().params;
  Result<std::vector<uint64_t>> periods = PlanPeriods(opt, params);
  if (!periods.ok()) return periods.status();

  // Bad lines go to the report file as they are found, so memory stays flat.
  const std::string report_path =
      opt.report.empty() ? ((*kms)->config().data_dir / "provision-report.txt").string() : opt.report;
  // The report names users: mode 0600 (whatever the umask) before a line is written.
  const int fd = ::open(report_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || fchmod(fd, 0600) != 0) {
    if (fd >= 0) ::close(fd);
    return Status::Unavailable("cannot write the report file " + report_path);
  }
  ::close(fd);
  std::ofstream report(report_path, std::ios::trunc);
  if (!report) return Status::Unavailable("cannot write the report file " + report_path);
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
  Result<std::unique_ptr<IdentityReader>> reader = IdentityReader::Open(opt.users, ropt, bad_line);
  if (!reader.ok()) return reader.status();

  ProvisionPlan plan;
  plan.periods = *periods;
  plan.threads = opt.threads > 0 ? opt.threads : static_cast<int>(std::thread::hardware_concurrency());
  plan.records_per_commit = std::max<size_t>(1, opt.commit_every);

  fmt::print("provisioning {} for key periods {}..{} ({} .. {}) on {} threads into {}\n", opt.users,
             plan.periods.front(), plan.periods.back(),
             FormatUtc(KeyPeriod::Numbered(params, plan.periods.front())->valid_from),
             FormatUtc(KeyPeriod::Numbered(params, plan.periods.back())->valid_to), plan.threads,
             (*kms)->store_description());
  std::fflush(stdout);

  ProvisioningPipeline pipeline((*kms)->source(), (*kms)->cipher(), (*kms)->store());
  ProvisionProgress progress;
  Result<ProvisionSummary> summary = [&] {
    ProgressMeter meter("key sets", (*reader)->total_lines() * plan.periods.size(),
                        [&] { return progress.issued.load() + progress.present.load() + progress.failed.load(); });
    return pipeline.Run(**reader, plan, progress, failed_pair);
  }();
  report.flush();
  if (!summary.ok()) {
    fmt::print("stopped: {} key sets were committed before the error; run the same command again to finish\n",
               progress.issued.load());
    return summary.status();
  }
  const ProvisionSummary& s = *summary;
  const double rate = s.seconds > 0 ? s.issued / s.seconds : 0;
  fmt::print("identities {}, key periods {}, pairs {}\n", s.identities, plan.periods.size(), s.pairs);
  fmt::print("issued {}, already present {}, failed {}, skipped lines {}\n", s.issued, s.present, s.failed,
             s.skipped_lines);
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
      "Exit status: 0 all done, 3 done but some lines or pairs were skipped (see the report), 1 error.");
  cmd->add_option("--users", opt->users,
                  "population file: one URI per line (# comments), or CSV with a header naming the URI column")
      ->required();
  cmd->add_option("--from", opt->from, "first key period: the one containing this UTC date (YYYY-MM-DD[Thh:mm:ssZ] or now)")
      ->capture_default_str();
  cmd->add_option("--periods", opt->periods, "how many consecutive key periods (default 1)");
  cmd->add_option("--to", opt->to, "last key period: the one containing this UTC date");
  cmd->add_option("--threads", opt->threads, "derivation threads (default: one per core)");
  cmd->add_option("--uri-column", opt->uri_column, "CSV: the header of the URI column");
  cmd->add_option("--report", opt->report, "where to write skipped lines (default DATA_DIR/provision-report.txt)");
  cmd->add_option("--commit-every", opt->commit_every, "key sets per store transaction")->capture_default_str();
  AddDataDirOption(cmd, opt->loc);
  AddHsmOptions(cmd, opt->loc);
  cmd->callback([opt, &result] { result.status = RunProvision(*opt, result); });
}

}  // namespace mcx::cli
