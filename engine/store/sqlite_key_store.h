// SqliteKeyStore: the embedded KeyStore, on one SQLite database in WAL mode (sqlite_database.h:
// connections, checkpoints, schema migrations). A run killed at any moment leaves only whole, committed
// transactions (SQLite's journal guarantees it), so a rerun of a bulk job completes it exactly.
#pragma once

#include <filesystem>
#include <memory>

#include "engine/store/key_store.h"
#include "engine/store/sqlite_database.h"

namespace mcx {

// Opens or creates the database at `path` for the KMS certificate `cert_uri`. A new database and
// its -wal and -shm files are mode 0600 whatever the umask.
Result<std::unique_ptr<KeyStore>> OpenSqliteKeyStore(const std::filesystem::path& path, const std::string& cert_uri);

}  // namespace mcx
