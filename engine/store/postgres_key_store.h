// PostgresKeyStore: the KeyStore shared by KMS replicas and commands on several machines, on one
// PostgreSQL database (postgres_database.h: connections, schema migrations under an advisory
// lock). The same tables and semantics as the SQLite store: key sets keyed by (certificate, user,
// period), written with INSERT ... ON CONFLICT DO NOTHING and read back, so two replicas answering
// the same first request hand out one and the same key set; rows arrive sealed (KeySetCipher).
#pragma once

#include <memory>
#include <string>

#include "engine/store/key_store.h"
#include "engine/store/postgres_database.h"

namespace mcx {

// Connects to the database at `url` (postgresql://...) for the KMS certificate `cert_uri`,
// creating or migrating the schema when needed.
Result<std::unique_ptr<KeyStore>> OpenPostgresKeyStore(const std::string& url, const std::string& cert_uri);

// The same, on a database already open.
std::unique_ptr<KeyStore> NewPostgresKeyStore(std::shared_ptr<PostgresDatabase> db, const std::string& cert_uri);

}  // namespace mcx
