// The LifecycleStore of a PostgreSQL store (tables certificates, revoked_users, counters; see
// postgres_database.cc). Each change and its counter moves are one transaction; row locks on the
// counters order concurrent changes from several processes.
#pragma once

#include <memory>

#include "engine/store/lifecycle_store.h"
#include "engine/store/postgres_database.h"

namespace mcx {

std::unique_ptr<LifecycleStore> NewPostgresLifecycleStore(std::shared_ptr<PostgresDatabase> db);

}  // namespace mcx
