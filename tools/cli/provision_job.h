// The job modes of `mcx-kms provision`: a bulk run recorded in the store and carried out by any
// number of workers on any machines that share it (engine/store/provisioning_job_store.h).
//
//   provision --users FILE ... --create-job   records the population in chunks, prints the job id
//   provision --job ID --worker               claims chunk after chunk and provisions each with the
//                                             same pipeline as a plain run, until the job is done
//   provision --job ID --status               progress, rate, ETA, workers, takeovers (any node)
//   provision --list-jobs
//
// What a plain run and a job's worker share (the revoked-users filter, the audit record of each
// batch before it is committed) is here too, so both issue in exactly the same way.
#pragma once

#include <cstdint>
#include <fstream>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/bulk/identity_reader.h"
#include "engine/bulk/provisioning_pipeline.h"
#include "engine/custody/kms_instance.h"
#include "tools/cli/command.h"

namespace mcx::cli {

struct JobOptions {
  bool create = false;
  int64_t job = 0;  // 0: none given
  bool worker = false;
  bool status = false;
  bool list = false;
  size_t chunk_size = 1000;  // identities per chunk
  double lease_seconds = 30;
};

// The report of skipped lines and unkeyable pairs, mode 0600 (it names users): emptied, or
// appended to when `append`.
Result<std::unique_ptr<std::ofstream>> OpenReportFile(const std::string& path, bool append);

// Pairs of users revoked before the pair's period ends (see ProvisionPlan::is_revoked).
std::function<bool(const std::string&, uint64_t)> RevokedPairs(std::shared_ptr<const ServedCertificates> served,
                                                                const CommunityParameters& params);
// Records each batch under `cert_uri` in the KMS's audit chain before it is committed (fail-closed).
std::function<Status(std::span<const SealedKeySet>)> AuditBeforeCommit(KmsInstance& kms, std::string cert_uri);

// Records a job of the identities `reader` yields for `periods` under `cert`, and prints its id.
Status CreateProvisioningJob(KmsInstance& kms, const IssuingCertificate& cert, const std::vector<uint64_t>& periods,
                             IdentityReader& reader, const std::string& source, const JobOptions& options);

// Works on job `options.job` until it is done. `plan` gives threads and commit size.
Status RunJobWorker(KmsInstance& kms, const JobOptions& options, ProvisionPlan plan, const std::string& report_path,
                    CommandResult& result);

// Prints the job's progress from the store alone (no HSM needed).
Status PrintJobStatus(const StoreLocation& where, int64_t job_id);
Status PrintJobList(const StoreLocation& where);

}  // namespace mcx::cli
