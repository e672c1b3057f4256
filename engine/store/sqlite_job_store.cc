#include "engine/store/sqlite_job_store.h"

#include <chrono>

namespace mcx {
namespace {

using sqlite::Prepare;
using sqlite::BindText;
using sqlite::ColumnText;
using sqlite::Stmt;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string JoinLines(const std::vector<std::string>& users) {
  std::string out;
  for (const std::string& u : users) (out += u) += '\n';
  return out;
}

constexpr const char* kJobColumns =
    "id, cert_uri, first_period, period_count, source, identities, chunk_count, lease_ms, created_at_ms";

ProvisioningJob ReadJob(sqlite3_stmt* st) {
  ProvisioningJob j;
  j.id = sqlite3_column_int64(st, 0);
  j.cert_uri = ColumnText(st, 1);
  j.first_period = static_cast<uint64_t>(sqlite3_column_int64(st, 2));
  j.period_count = static_cast<uint32_t>(sqlite3_column_int64(st, 3));
  j.source = ColumnText(st, 4);
  j.identities = static_cast<uint64_t>(sqlite3_column_int64(st, 5));
  j.chunk_count = static_cast<uint64_t>(sqlite3_column_int64(st, 6));
  j.lease_ms = sqlite3_column_int64(st, 7);
  j.created_at_ms = sqlite3_column_int64(st, 8);
  return j;
}

class SqliteJobStore final : public ProvisioningJobStore {
 public:
  explicit SqliteJobStore(std::shared_ptr<SqliteDatabase> db) : db_(std::move(db)) {}

  Result<int64_t> CreateJob(const ProvisioningJob& job, std::span<const std::vector<std::string>> chunks) override {
    int64_t id = 0;
    Status s = db_->WriteTransaction("recording a provisioning job", [&](sqlite3* db) -> Status {
      uint64_t identities = 0;
      for (const auto& c : chunks) identities += c.size();
      Stmt st;
      MCX_RETURN_IF_ERROR(Prepare(db,
                                  "INSERT INTO provisioning_jobs (cert_uri, first_period, period_count, source, "
                                  "identities, chunk_count, lease_ms, created_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                                  "?7, ?8)",
                                  st));
      BindText(st.get(), 1, job.cert_uri);
      sqlite3_bind_int64(st.get(), 2, static_cast<sqlite3_int64>(job.first_period));
      sqlite3_bind_int64(st.get(), 3, job.period_count);
      BindText(st.get(), 4, job.source);
      sqlite3_bind_int64(st.get(), 5, static_cast<sqlite3_int64>(identities));
      sqlite3_bind_int64(st.get(), 6, static_cast<sqlite3_int64>(chunks.size()));
      sqlite3_bind_int64(st.get(), 7, job.lease_ms);
      sqlite3_bind_int64(st.get(), 8, NowMs());
      int rc = sqlite3_step(st.get());
      if (rc != SQLITE_DONE) return sqlite::Error(db, rc, "recording a provisioning job");
      id = sqlite3_last_insert_rowid(db);
      Stmt ins;
      MCX_RETURN_IF_ERROR(Prepare(db,
                                  "INSERT INTO provisioning_chunks (job_id, chunk_no, first_index, user_count, users) "
                                  "VALUES (?1, ?2, ?3, ?4, ?5)",
                                  ins));
      uint64_t index = 1;
      for (size_t i = 0; i < chunks.size(); ++i) {
        sqlite3_reset(ins.get());
        sqlite3_bind_int64(ins.get(), 1, id);
        sqlite3_bind_int64(ins.get(), 2, static_cast<sqlite3_int64>(i));
        sqlite3_bind_int64(ins.get(), 3, static_cast<sqlite3_int64>(index));
        sqlite3_bind_int64(ins.get(), 4, static_cast<sqlite3_int64>(chunks[i].size()));
        const std::string users = JoinLines(chunks[i]);  // bound without a copy: alive until the step
        BindText(ins.get(), 5, users);
        rc = sqlite3_step(ins.get());
        if (rc != SQLITE_DONE) return sqlite::Error(db, rc, "recording a provisioning job's chunks");
        index += chunks[i].size();
      }
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return id;
  }

  Result<std::optional<ProvisioningJob>> FindJob(int64_t job_id) override {
    Result<std::vector<ProvisioningJob>> jobs = Jobs(std::string("SELECT ") + kJobColumns +
                                                     " FROM provisioning_jobs WHERE id = ?1", job_id);
    if (!jobs.ok()) return jobs.status();
    if (jobs->empty()) return std::optional<ProvisioningJob>();
    return std::optional<ProvisioningJob>(std::move(jobs->front()));
  }

  Result<std::vector<ProvisioningJob>> ListJobs() override {
    return Jobs(std::string("SELECT ") + kJobColumns + " FROM provisioning_jobs ORDER BY id", std::nullopt);
  }

  Result<std::optional<ChunkClaim>> Claim(int64_t job_id, const std::string& owner,
                                          std::chrono::milliseconds lease) override {
    std::optional<ChunkClaim> claim;
    // The pick and the lease in one write transaction: claimers in other processes wait for it.
    Status s = db_->WriteTransaction("claiming a chunk of a provisioning job", [&](sqlite3* db) -> Status {
      claim.reset();
      const int64_t now = NowMs();
      Stmt pick;
      MCX_RETURN_IF_ERROR(Prepare(db,
                                  "SELECT chunk_no, state, lease_owner, first_index, users, attempts FROM "
                                  "provisioning_chunks WHERE job_id = ?1 AND (state = 'pending' OR (state = 'leased' "
                                  "AND lease_expires_ms < ?2)) ORDER BY chunk_no LIMIT 1",
                                  pick));
      sqlite3_bind_int64(pick.get(), 1, job_id);
      sqlite3_bind_int64(pick.get(), 2, now);
      int rc = sqlite3_step(pick.get());
      if (rc == SQLITE_DONE) return Status::Ok();
      if (rc != SQLITE_ROW) return sqlite::Error(db, rc, "claiming a chunk of a provisioning job");
      ChunkClaim c;
      c.job_id = job_id;
      c.chunk_no = sqlite3_column_int64(pick.get(), 0);
      c.took_over = ColumnText(pick.get(), 1) == "leased";
      if (c.took_over) c.taken_from = ColumnText(pick.get(), 2);
      c.first_index = static_cast<uint64_t>(sqlite3_column_int64(pick.get(), 3));
      c.users = SplitChunkUsers(ColumnText(pick.get(), 4));
      c.attempt = sqlite3_column_int64(pick.get(), 5) + 1;
      c.owner = owner;
      Stmt upd;
      MCX_RETURN_IF_ERROR(Prepare(db,
                                  "UPDATE provisioning_chunks SET state = 'leased', lease_owner = ?3, "
                                  "lease_expires_ms = ?4, attempts = ?5, takeovers = takeovers + ?6, took_over = ?6, "
                                  "taken_from = CASE WHEN ?6 = 1 THEN lease_owner ELSE taken_from END, "
                                  "claimed_at_ms = ?7 WHERE job_id = ?1 AND chunk_no = ?2",
                                  upd));
      sqlite3_bind_int64(upd.get(), 1, job_id);
      sqlite3_bind_int64(upd.get(), 2, c.chunk_no);
      BindText(upd.get(), 3, owner);
      sqlite3_bind_int64(upd.get(), 4, now + lease.count());
      sqlite3_bind_int64(upd.get(), 5, c.attempt);
      sqlite3_bind_int(upd.get(), 6, c.took_over ? 1 : 0);
      sqlite3_bind_int64(upd.get(), 7, now);
      rc = sqlite3_step(upd.get());
      if (rc != SQLITE_DONE) return sqlite::Error(db, rc, "claiming a chunk of a provisioning job");
      claim = std::move(c);
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return claim;
  }

  Result<bool> Renew(const ChunkClaim& claim, std::chrono::milliseconds lease) override {
    return UpdateHeld(claim, "UPDATE provisioning_chunks SET lease_expires_ms = ?5 + ?6", lease.count(), {},
                      "renewing a chunk's lease");
  }

  Result<bool> Complete(const ChunkClaim& claim, const ChunkCounts& counts) override {
    return UpdateHeld(claim,
                      "UPDATE provisioning_chunks SET state = 'done', lease_expires_ms = NULL, done_at_ms = ?5 + ?6, "
                      "issued = ?7, present = ?8, revoked = ?9, failed = ?10",
                      0, counts, "completing a chunk");
  }

  Result<std::vector<ChunkInfo>> Chunks(int64_t job_id, int64_t& now_ms) override {
    SqliteDatabase::Reader r(*db_);
    if (!r.ok()) return r.status();
    Stmt st;
    MCX_RETURN_IF_ERROR(Prepare(r.db(),
                                "SELECT chunk_no, state, user_count, lease_owner, lease_expires_ms, attempts, "
                                "takeovers, taken_from, claimed_at_ms, done_at_ms, issued, present, revoked, failed "
                                "FROM provisioning_chunks WHERE job_id = ?1 ORDER BY chunk_no",
                                st));
    sqlite3_bind_int64(st.get(), 1, job_id);
    std::vector<ChunkInfo> out;
    int rc;
    while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
      ChunkInfo c;
      c.chunk_no = sqlite3_column_int64(st.get(), 0);
      c.state = ChunkStateNamed(ColumnText(st.get(), 1));
      c.users = static_cast<uint64_t>(sqlite3_column_int64(st.get(), 2));
      c.lease_owner = ColumnText(st.get(), 3);
      c.lease_expires_ms = sqlite3_column_int64(st.get(), 4);
      c.attempts = sqlite3_column_int64(st.get(), 5);
      c.takeovers = sqlite3_column_int64(st.get(), 6);
      c.taken_from = ColumnText(st.get(), 7);
      c.claimed_at_ms = sqlite3_column_int64(st.get(), 8);
      c.done_at_ms = sqlite3_column_int64(st.get(), 9);
      c.counts.issued = static_cast<uint64_t>(sqlite3_column_int64(st.get(), 10));
      c.counts.present = static_cast<uint64_t>(sqlite3_column_int64(st.get(), 11));
      c.counts.revoked = static_cast<uint64_t>(sqlite3_column_int64(st.get(), 12));
      c.counts.failed = static_cast<uint64_t>(sqlite3_column_int64(st.get(), 13));
      out.push_back(std::move(c));
    }
    if (rc != SQLITE_DONE) return sqlite::Error(r.db(), rc, "reading a provisioning job's chunks");
    now_ms = NowMs();
    return out;
  }

  Result<std::vector<std::string>> ChunkUsers(int64_t job_id, int64_t chunk_no) override {
    SqliteDatabase::Reader r(*db_);
    if (!r.ok()) return r.status();
    Stmt st;
    MCX_RETURN_IF_ERROR(
        Prepare(r.db(), "SELECT users FROM provisioning_chunks WHERE job_id = ?1 AND chunk_no = ?2", st));
    sqlite3_bind_int64(st.get(), 1, job_id);
    sqlite3_bind_int64(st.get(), 2, chunk_no);
    int rc = sqlite3_step(st.get());
    if (rc == SQLITE_DONE) {
      return Status::NotFound("job " + std::to_string(job_id) + " has no chunk " + std::to_string(chunk_no));
    }
    if (rc != SQLITE_ROW) return sqlite::Error(r.db(), rc, "reading a chunk's identities");
    return SplitChunkUsers(ColumnText(st.get(), 0));
  }

 private:
  Result<std::vector<ProvisioningJob>> Jobs(const std::string& sql, std::optional<int64_t> id) {
    SqliteDatabase::Reader r(*db_);
    if (!r.ok()) return r.status();
    Stmt st;
    MCX_RETURN_IF_ERROR(Prepare(r.db(), sql.c_str(), st));
    if (id) sqlite3_bind_int64(st.get(), 1, *id);
    std::vector<ProvisioningJob> out;
    int rc;
    while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) out.push_back(ReadJob(st.get()));
    if (rc != SQLITE_DONE) return sqlite::Error(r.db(), rc, "reading provisioning jobs");
    return out;
  }

  // Runs `set` (an UPDATE ... SET with ?5 now, ?6 `extra`, ?7.. the counts) on the claim's chunk
  // when the claim still holds it: leased, to the same owner, in the same attempt.
  Result<bool> UpdateHeld(const ChunkClaim& claim, const std::string& set, int64_t extra, const ChunkCounts& counts,
                          const std::string& what) {
    size_t changed = 0;
    Status s = db_->WriteTransaction(what, [&](sqlite3* db) -> Status {
      Stmt st;
      const std::string sql =
          set + " WHERE job_id = ?1 AND chunk_no = ?2 AND state = 'leased' AND lease_owner = ?3 AND attempts = ?4";
      MCX_RETURN_IF_ERROR(Prepare(db, sql.c_str(), st));
      sqlite3_bind_int64(st.get(), 1, claim.job_id);
      sqlite3_bind_int64(st.get(), 2, claim.chunk_no);
      BindText(st.get(), 3, claim.owner);
      sqlite3_bind_int64(st.get(), 4, claim.attempt);
      sqlite3_bind_int64(st.get(), 5, NowMs());
      sqlite3_bind_int64(st.get(), 6, extra);
      if (sqlite3_bind_parameter_count(st.get()) >= 10) {
        sqlite3_bind_int64(st.get(), 7, static_cast<sqlite3_int64>(counts.issued));
        sqlite3_bind_int64(st.get(), 8, static_cast<sqlite3_int64>(counts.present));
        sqlite3_bind_int64(st.get(), 9, static_cast<sqlite3_int64>(counts.revoked));
        sqlite3_bind_int64(st.get(), 10, static_cast<sqlite3_int64>(counts.failed));
      }
      const int rc = sqlite3_step(st.get());
      if (rc != SQLITE_DONE) return sqlite::Error(db, rc, what);
      changed = static_cast<size_t>(sqlite3_changes(db));
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return changed == 1;
  }

  std::shared_ptr<SqliteDatabase> db_;
};

}  // namespace

Result<std::unique_ptr<ProvisioningJobStore>> OpenSqliteJobStore(const std::filesystem::path& path) {
  Result<std::shared_ptr<SqliteDatabase>> db = SqliteDatabase::Open(path);
  if (!db.ok()) return db.status();
  return std::unique_ptr<ProvisioningJobStore>(std::make_unique<SqliteJobStore>(std::move(db).value()));
}

}  // namespace mcx
