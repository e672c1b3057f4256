// SqliteAuditStore: the AuditStore in SQLite, in table audit_log of the key store's database file.
//
//   audit_log(node, seq, time, kind, actor, user_uri, cert_uri, detail, prev_hash, hash, mac,
//             PRIMARY KEY(node, seq))
//
// It opens its own connections to the file (the key store's schema and connections are not
// touched) and creates the table with CREATE TABLE IF NOT EXISTS inside BEGIN IMMEDIATE, so it
// may open before or after the key store. Append runs in BEGIN IMMEDIATE: every writer of the
// file, in any process on the host (a CLI command beside a running server), waits its turn, so
// two writers of one node can never both continue the same tip. A new file is mode 0600.
#pragma once

#include <filesystem>
#include <memory>

#include "engine/audit/audit_store.h"

namespace mcx {

struct SqliteAuditStoreOptions {
  // synchronous=FULL: a commit is on disk (fsync'd) when Append returns, so a record survives a
  // power cut, not only a crash of the process. The key store runs synchronous=NORMAL.
  bool sync_every_commit = true;
  // How long a writer waits for another (a bulk run's transaction) before the append fails.
  int busy_timeout_ms = 30000;
  // A missing file is NotFound unless set: the KMS creates its store when it first opens, and an
  // empty one made here would hide a store that has gone missing.
  bool create_if_missing = false;
  // The file's WAL is checkpointed by another connection (the KMS opens its key store, whose
  // SqliteDatabase checkpoints in the background, on the same file): commits here then never run
  // a checkpoint themselves, which would put its writes and fsyncs on the audit writer's path.
  bool checkpointed_elsewhere = false;
};

Result<std::unique_ptr<AuditStore>> OpenSqliteAuditStore(const std::filesystem::path& path,
                                                         const SqliteAuditStoreOptions& options = {});

}  // namespace mcx
