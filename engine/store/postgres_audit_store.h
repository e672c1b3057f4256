// PostgresAuditStore: the AuditStore in table audit_log of a PostgreSQL store (the key store's
// database), for replicas whose audit chains (one per node) live beside their shared key sets.
//
//   audit_log(node, seq, time, kind, actor, user_uri, cert_uri, detail, prev_hash, hash, mac,
//             PRIMARY KEY(node, seq))   — the SQLite store's table, in PostgreSQL's types
//
// The table is created at open under the store's migration lock. Append runs in one transaction
// that first takes a transaction-scoped advisory lock of its own: every writer of the store, in
// any process on any host, waits its turn, so two writers of one node can never both continue
// the same tip. Durable as the server's commits are (synchronous_commit).
#pragma once

#include <memory>
#include <string>

#include "engine/audit/audit_store.h"
#include "engine/store/postgres_database.h"

namespace mcx {

Result<std::unique_ptr<AuditStore>> OpenPostgresAuditStore(const std::string& url);
Result<std::unique_ptr<AuditStore>> NewPostgresAuditStore(std::shared_ptr<PostgresDatabase> db);

}  // namespace mcx
