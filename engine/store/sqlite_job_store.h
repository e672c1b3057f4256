// SqliteJobStore: the ProvisioningJobStore in tables provisioning_jobs and provisioning_chunks of
// the SQLite store (schema version 4, sqlite_database.cc), for workers on one machine. A claim
// picks and leases its chunk inside one BEGIN IMMEDIATE transaction: claimers in any process wait
// their turn, so no two get the same chunk. The clock is this machine's.
#pragma once

#include <filesystem>
#include <memory>

#include "engine/store/provisioning_job_store.h"
#include "engine/store/sqlite_database.h"

namespace mcx {

// Opens (creating or migrating) the SQLite store at `path`.
Result<std::unique_ptr<ProvisioningJobStore>> OpenSqliteJobStore(const std::filesystem::path& path);

}  // namespace mcx
