// SqliteKeyStore: the embedded KeyStore, one SQLite database in WAL mode.
//
// Writes go through one connection under a mutex (SQLite has one writer anyway); reads use a
// small pool of connections so that many server threads can read at once. A background thread
// checkpoints the WAL, so no commit waits for a checkpoint's fsync. The schema carries a
// version and migrations run at open. A run killed at any moment leaves only whole, committed
// transactions (SQLite's journal guarantees it), so a rerun of a bulk job completes it exactly.
#pragma once

#include <filesystem>
#include <memory>

#include "engine/store/key_store.h"

namespace mcx {

// 1: key sets and KMS state; 2: key_sets.delivered_at.
inline constexpr int kStoreSchemaVersion = 2;

// Opens or creates the database at `path` for the KMS certificate `cert_uri`. A new database and
// its -wal and -shm files are mode 0600 whatever the umask.
Result<std::unique_ptr<KeyStore>> OpenSqliteKeyStore(const std::filesystem::path& path, const std::string& cert_uri);

}  // namespace mcx
