// The LifecycleStore of the embedded SQLite database (tables certificates, revoked_users,
// counters; see sqlite_database.cc).
#pragma once

#include <memory>

#include "engine/store/lifecycle_store.h"
#include "engine/store/sqlite_database.h"

namespace mcx {

std::unique_ptr<LifecycleStore> NewSqliteLifecycleStore(std::shared_ptr<SqliteDatabase> db);

}  // namespace mcx
