// ProvisioningJobStore: bulk provisioning jobs that any number of workers, on any machines that
// share the store, carry out together.
//
// A job is a population x a range of key periods under one KMS certificate, recorded in the store
// with its population split into chunks (the identity URIs are in the chunk rows, so a worker
// needs no input file). A worker claims one chunk at a time with a lease that expires: Claim picks
// the first chunk that is pending or whose lease has expired (a killed worker's), skipping rows
// another claimer has locked, so two claimers never get the same chunk. While it works it renews
// the lease; Complete records the chunk's counts and marks it done in one transaction, and only
// while the claim still holds the lease (nobody has taken the chunk over since).
//
// A worker whose lease expired and was taken over may still commit key sets for its chunk. That is
// harmless: key sets are unique per (certificate, user, period) and the pipeline skips what is
// stored, so the second worker writes only what is missing. The exact count of a job therefore
// comes from the key store (count its pairs there), never from summing the chunks' counters,
// which count each worker's own view.
//
// Lease times are the database's clock (PostgreSQL's, for workers on several machines) in Unix
// milliseconds. Implementations are thread-safe and safe to use from several processes.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"

namespace mcx {

struct ProvisioningJob {
  int64_t id = 0;                  // given by CreateJob
  std::string cert_uri;            // every key set of the job is issued under this certificate
  uint64_t first_period = 0;       // KeyPeriodNo of the first period
  uint32_t period_count = 0;       // consecutive periods from first_period
  std::string source;              // what the population was read from (for display)
  uint64_t identities = 0;         // in all chunks
  uint64_t chunk_count = 0;
  int64_t lease_ms = 30000;        // how long a claim lasts without renewal
  int64_t created_at_ms = 0;       // set by CreateJob
};

// What a worker did with a chunk (its own view: a key set another worker wrote counts as present).
struct ChunkCounts {
  uint64_t issued = 0, present = 0, revoked = 0, failed = 0;
};

// A chunk as a claimer holds it.
struct ChunkClaim {
  int64_t job_id = 0;
  int64_t chunk_no = 0;            // 0-based
  std::string owner;               // the claimer, e.g. "host:pid"
  int64_t attempt = 0;             // 1 for the first claim of the chunk; identifies this claim
  bool took_over = false;          // the chunk was claimed from an expired lease
  std::string taken_from;          // whose lease expired (when took_over)
  uint64_t first_index = 0;        // position of users[0] in the population, 1-based
  std::vector<std::string> users;
};

enum class ChunkState { kPending, kLeased, kDone };
// A chunk's state as both stores spell it in their chunk table: "pending", "leased", "done".
ChunkState ChunkStateNamed(const std::string& name);
// A chunk's users as both stores keep them: one URI per line (URIs hold no line breaks).
std::vector<std::string> SplitChunkUsers(const std::string& lines);

// A chunk as status sees it (without its users).
struct ChunkInfo {
  int64_t chunk_no = 0;
  ChunkState state = ChunkState::kPending;
  uint64_t users = 0;
  std::string lease_owner;         // the holder, or for a done chunk the worker that completed it
  int64_t lease_expires_ms = 0;
  int64_t attempts = 0;            // claims so far
  int64_t takeovers = 0;           // claims of an expired lease
  std::string taken_from;          // the last owner whose lease was taken over
  int64_t claimed_at_ms = 0, done_at_ms = 0;
  ChunkCounts counts;              // of the completing worker
};

class ProvisioningJobStore {
 public:
  virtual ~ProvisioningJobStore() = default;

  // Records `job` and its chunks (each a slice of the population, in order) in one transaction;
  // returns the job's id. job.identities and job.chunk_count are taken from `chunks`.
  virtual Result<int64_t> CreateJob(const ProvisioningJob& job, std::span<const std::vector<std::string>> chunks) = 0;
  virtual Result<std::optional<ProvisioningJob>> FindJob(int64_t job_id) = 0;
  // Every job, oldest first.
  virtual Result<std::vector<ProvisioningJob>> ListJobs() = 0;

  // Leases the first chunk of the job that is pending or whose lease has expired to `owner` for
  // `lease`; nullopt when there is none to take now (all done, or leased and not yet expired).
  virtual Result<std::optional<ChunkClaim>> Claim(int64_t job_id, const std::string& owner,
                                                  std::chrono::milliseconds lease) = 0;
  // Extends the claim's lease to `lease` from now; false when the claim no longer holds the
  // chunk (taken over after it expired, or done).
  virtual Result<bool> Renew(const ChunkClaim& claim, std::chrono::milliseconds lease) = 0;
  // Marks the chunk done with `counts`, in one transaction, if the claim still holds it; false
  // (nothing written) when it does not.
  virtual Result<bool> Complete(const ChunkClaim& claim, const ChunkCounts& counts) = 0;

  // The job's chunks in order, and the database's clock now (Unix ms) in `now_ms`.
  virtual Result<std::vector<ChunkInfo>> Chunks(int64_t job_id, int64_t& now_ms) = 0;
  // The identities of one chunk, in order.
  virtual Result<std::vector<std::string>> ChunkUsers(int64_t job_id, int64_t chunk_no) = 0;
};

}  // namespace mcx
