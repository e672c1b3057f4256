#include "engine/store/postgres_job_store.h"

namespace mcx {
namespace {

using pg::Params;
using pg::ResultPtr;

// The server's clock in Unix milliseconds: the one clock all workers' leases are measured by.
#define MCX_NOW_MS "(extract(epoch from clock_timestamp()) * 1000)::bigint"

constexpr const char* kJobColumns =
    "id, cert_uri, first_period, period_count, source, identities, chunk_count, lease_ms, created_at_ms";

// The pick (pending, or leased with an expired lease; rows other claimers hold locked are
// skipped) and the lease in one statement. SET sees the row as it was, so `state = 'leased'`
// there means an expired lease taken over.
constexpr const char* kClaimSql =
    "UPDATE provisioning_chunks SET state = 'leased', lease_owner = $2, lease_expires_ms = " MCX_NOW_MS
    " + $3, attempts = attempts + 1, takeovers = takeovers + CASE WHEN state = 'leased' THEN 1 ELSE 0 END, "
    "took_over = CASE WHEN state = 'leased' THEN 1 ELSE 0 END, "
    "taken_from = CASE WHEN state = 'leased' THEN lease_owner ELSE taken_from END, claimed_at_ms = " MCX_NOW_MS
    " WHERE job_id = $1 AND chunk_no = (SELECT chunk_no FROM provisioning_chunks WHERE job_id = $1 AND "
    "(state = 'pending' OR (state = 'leased' AND lease_expires_ms < " MCX_NOW_MS
    ")) ORDER BY chunk_no LIMIT 1 FOR UPDATE SKIP LOCKED) "
    "RETURNING chunk_no, attempts, took_over, coalesce(taken_from, ''), first_index, "
    "array_to_string(users, E'\\n')";

// The claim still holds the chunk: leased, to the same owner, in the same attempt.
constexpr const char* kHeld =
    " WHERE job_id = $1 AND chunk_no = $2 AND state = 'leased' AND lease_owner = $3 AND attempts = $4";

class PostgresJobStore final : public ProvisioningJobStore {
 public:
  explicit PostgresJobStore(std::shared_ptr<PostgresDatabase> db) : db_(std::move(db)) {}

  Result<int64_t> CreateJob(const ProvisioningJob& job, std::span<const std::vector<std::string>> chunks) override {
    int64_t id = 0;
    Status s = db_->Transaction("recording a provisioning job", [&](pg::Connection& c) -> Status {
      uint64_t identities = 0;
      for (const auto& ch : chunks) identities += ch.size();
      Result<ResultPtr> r = c.Run(
          "INSERT INTO provisioning_jobs (cert_uri, first_period, period_count, source, identities, chunk_count, "
          "lease_ms, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, " MCX_NOW_MS ") RETURNING id",
          Params()
              .Text(job.cert_uri)
              .Int(static_cast<int64_t>(job.first_period))
              .Int(job.period_count)
              .Text(job.source)
              .Int(static_cast<int64_t>(identities))
              .Int(static_cast<int64_t>(chunks.size()))
              .Int(job.lease_ms),
          "recording a provisioning job", false);
      if (!r.ok()) return r.status();
      id = pg::GetInt(r->get(), 0, 0);
      uint64_t index = 1;
      for (size_t i = 0; i < chunks.size(); ++i) {
        pg::BinaryArray users(pg::kTextOid, chunks[i].size());
        for (const std::string& u : chunks[i]) users.Add(u);
        Result<ResultPtr> ins = c.Run(
            "INSERT INTO provisioning_chunks (job_id, chunk_no, first_index, user_count, users) "
            "VALUES ($1, $2, $3, $4, $5::text[])",
            Params()
                .Int(id)
                .Int(static_cast<int64_t>(i))
                .Int(static_cast<int64_t>(index))
                .Int(static_cast<int64_t>(chunks[i].size()))
                .Blob(users.bytes()),
            "recording a provisioning job's chunks");
        if (!ins.ok()) return ins.status();
        index += chunks[i].size();
      }
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return id;
  }

  Result<std::optional<ProvisioningJob>> FindJob(int64_t job_id) override {
    Result<std::vector<ProvisioningJob>> jobs =
        Jobs(std::string("SELECT ") + kJobColumns + " FROM provisioning_jobs WHERE id = $1", Params().Int(job_id));
    if (!jobs.ok()) return jobs.status();
    if (jobs->empty()) return std::optional<ProvisioningJob>();
    return std::optional<ProvisioningJob>(std::move(jobs->front()));
  }

  Result<std::vector<ProvisioningJob>> ListJobs() override {
    return Jobs(std::string("SELECT ") + kJobColumns + " FROM provisioning_jobs ORDER BY id", Params());
  }

  Result<std::optional<ChunkClaim>> Claim(int64_t job_id, const std::string& owner,
                                          std::chrono::milliseconds lease) override {
    PostgresDatabase::Borrowed b(*db_);
    if (!b.ok()) return b.status();
    Result<ResultPtr> r = b.conn().Run(kClaimSql, Params().Int(job_id).Text(owner).Int(lease.count()),
                                       "claiming a chunk of a provisioning job");
    if (!r.ok()) return r.status();
    const PGresult* res = r->get();
    if (PQntuples(res) == 0) return std::optional<ChunkClaim>();
    ChunkClaim c;
    c.job_id = job_id;
    c.owner = owner;
    c.chunk_no = pg::GetInt(res, 0, 0);
    c.attempt = pg::GetInt(res, 0, 1);
    c.took_over = pg::GetInt(res, 0, 2) != 0;
    if (c.took_over) c.taken_from = pg::GetText(res, 0, 3);
    c.first_index = static_cast<uint64_t>(pg::GetInt(res, 0, 4));
    c.users = SplitChunkUsers(pg::GetText(res, 0, 5));
    return std::optional<ChunkClaim>(std::move(c));
  }

  Result<bool> Renew(const ChunkClaim& claim, std::chrono::milliseconds lease) override {
    return UpdateHeld(std::string("UPDATE provisioning_chunks SET lease_expires_ms = ") + MCX_NOW_MS + " + $5",
                      Held(claim).Int(lease.count()), "renewing a chunk's lease");
  }

  Result<bool> Complete(const ChunkClaim& claim, const ChunkCounts& counts) override {
    return UpdateHeld(std::string("UPDATE provisioning_chunks SET state = 'done', lease_expires_ms = NULL, "
                                  "done_at_ms = ") +
                          MCX_NOW_MS + ", issued = $5, present = $6, revoked = $7, failed = $8",
                      Held(claim)
                          .Int(static_cast<int64_t>(counts.issued))
                          .Int(static_cast<int64_t>(counts.present))
                          .Int(static_cast<int64_t>(counts.revoked))
                          .Int(static_cast<int64_t>(counts.failed)),
                      "completing a chunk");
  }

  Result<std::vector<ChunkInfo>> Chunks(int64_t job_id, int64_t& now_ms) override {
    PostgresDatabase::Borrowed b(*db_);
    if (!b.ok()) return b.status();
    Result<ResultPtr> r = b.conn().Run(
        "SELECT chunk_no, state, user_count, coalesce(lease_owner, ''), coalesce(lease_expires_ms, 0), attempts, "
        "takeovers, coalesce(taken_from, ''), coalesce(claimed_at_ms, 0), coalesce(done_at_ms, 0), issued, present, "
        "revoked, failed, " MCX_NOW_MS " FROM provisioning_chunks WHERE job_id = $1 ORDER BY chunk_no",
        Params().Int(job_id), "reading a provisioning job's chunks");
    if (!r.ok()) return r.status();
    const PGresult* res = r->get();
    std::vector<ChunkInfo> out;
    for (int i = 0; i < PQntuples(res); ++i) {
      ChunkInfo c;
      c.chunk_no = pg::GetInt(res, i, 0);
      c.state = ChunkStateNamed(pg::GetText(res, i, 1));
      c.users = static_cast<uint64_t>(pg::GetInt(res, i, 2));
      c.lease_owner = pg::GetText(res, i, 3);
      c.lease_expires_ms = pg::GetInt(res, i, 4);
      c.attempts = pg::GetInt(res, i, 5);
      c.takeovers = pg::GetInt(res, i, 6);
      c.taken_from = pg::GetText(res, i, 7);
      c.claimed_at_ms = pg::GetInt(res, i, 8);
      c.done_at_ms = pg::GetInt(res, i, 9);
      c.counts.issued = static_cast<uint64_t>(pg::GetInt(res, i, 10));
      c.counts.present = static_cast<uint64_t>(pg::GetInt(res, i, 11));
      c.counts.revoked = static_cast<uint64_t>(pg::GetInt(res, i, 12));
      c.counts.failed = static_cast<uint64_t>(pg::GetInt(res, i, 13));
      out.push_back(std::move(c));
    }
    if (PQntuples(res) > 0) {
      now_ms = pg::GetInt(res, 0, 14);
    } else {
      Result<ResultPtr> now = b.conn().Run("SELECT " MCX_NOW_MS, "reading the server's clock");
      if (!now.ok()) return now.status();
      now_ms = pg::GetInt(now->get(), 0, 0);
    }
    return out;
  }

  Result<std::vector<std::string>> ChunkUsers(int64_t job_id, int64_t chunk_no) override {
    PostgresDatabase::Borrowed b(*db_);
    if (!b.ok()) return b.status();
    Result<ResultPtr> r = b.conn().Run(
        "SELECT array_to_string(users, E'\\n') FROM provisioning_chunks WHERE job_id = $1 AND chunk_no = $2",
        Params().Int(job_id).Int(chunk_no), "reading a chunk's identities");
    if (!r.ok()) return r.status();
    if (PQntuples(r->get()) == 0) {
      return Status::NotFound("job " + std::to_string(job_id) + " has no chunk " + std::to_string(chunk_no));
    }
    return SplitChunkUsers(pg::GetText(r->get(), 0, 0));
  }

 private:
  static Params Held(const ChunkClaim& claim) {
    Params p;
    p.Int(claim.job_id).Int(claim.chunk_no).Text(claim.owner).Int(claim.attempt);
    return p;
  }

  Result<std::vector<ProvisioningJob>> Jobs(const std::string& sql, const Params& params) {
    PostgresDatabase::Borrowed b(*db_);
    if (!b.ok()) return b.status();
    Result<ResultPtr> r = b.conn().Run(sql, params, "reading provisioning jobs");
    if (!r.ok()) return r.status();
    const PGresult* res = r->get();
    std::vector<ProvisioningJob> out;
    for (int i = 0; i < PQntuples(res); ++i) {
      ProvisioningJob j;
      j.id = pg::GetInt(res, i, 0);
      j.cert_uri = pg::GetText(res, i, 1);
      j.first_period = static_cast<uint64_t>(pg::GetInt(res, i, 2));
      j.period_count = static_cast<uint32_t>(pg::GetInt(res, i, 3));
      j.source = pg::GetText(res, i, 4);
      j.identities = static_cast<uint64_t>(pg::GetInt(res, i, 5));
      j.chunk_count = static_cast<uint64_t>(pg::GetInt(res, i, 6));
      j.lease_ms = pg::GetInt(res, i, 7);
      j.created_at_ms = pg::GetInt(res, i, 8);
      out.push_back(std::move(j));
    }
    return out;
  }

  // One UPDATE (in a transaction of its own) of the claim's chunk, if the claim still holds it.
  Result<bool> UpdateHeld(const std::string& set, const Params& params, const std::string& what) {
    size_t changed = 0;
    const std::string sql = set + kHeld;
    Status s = db_->Transaction(what, [&](pg::Connection& c) -> Status {
      Result<ResultPtr> r = c.Run(sql, params, what);
      if (!r.ok()) return r.status();
      changed = pg::Changed(r->get());
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return changed == 1;
  }

  std::shared_ptr<PostgresDatabase> db_;
};

#undef MCX_NOW_MS

}  // namespace

std::unique_ptr<ProvisioningJobStore> NewPostgresJobStore(std::shared_ptr<PostgresDatabase> db) {
  return std::make_unique<PostgresJobStore>(std::move(db));
}

Result<std::unique_ptr<ProvisioningJobStore>> OpenPostgresJobStore(const std::string& url) {
  Result<std::shared_ptr<PostgresDatabase>> db = PostgresDatabase::Open(url);
  if (!db.ok()) return db.status();
  return NewPostgresJobStore(std::move(db).value());
}

}  // namespace mcx
