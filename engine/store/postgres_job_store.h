// PostgresJobStore: the ProvisioningJobStore in tables provisioning_jobs and provisioning_chunks
// of a PostgreSQL store (schema version 4, postgres_database.cc), for workers on many machines.
// A claim is one statement:
//   UPDATE provisioning_chunks SET state = 'leased', ... WHERE job_id = $1 AND chunk_no =
//     (SELECT chunk_no ... WHERE state = 'pending' OR (state = 'leased' AND lease_expires_ms < now)
//      ORDER BY chunk_no LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING ...
// so concurrent claimers skip each other's chunks instead of waiting or taking the same one.
// Lease times are the server's clock, the one clock every worker shares.
#pragma once

#include <memory>
#include <string>

#include "engine/store/postgres_database.h"
#include "engine/store/provisioning_job_store.h"

namespace mcx {

Result<std::unique_ptr<ProvisioningJobStore>> OpenPostgresJobStore(const std::string& url);
std::unique_ptr<ProvisioningJobStore> NewPostgresJobStore(std::shared_ptr<PostgresDatabase> db);

}  // namespace mcx
