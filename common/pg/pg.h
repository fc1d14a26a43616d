#pragma once

// What every PostgreSQL-backed store of vouch shares (issue 16): the connection options, the
// connection string built from them (credentials from a file, never the dsn), and versioned
// migrations. The pool and the transaction runner, which need libpqxx, are in
// common/pg/pg_internal.h, included only by the stores' .cc files; this header carries no
// libpqxx type, so that users of a store (daemons, tests) do not compile libpqxx.
//
// Users: vouch-server's PgStore (server/storage/pg_store.h, with the accounts tables in its
// migration list) and vouch-signer's key records (signer/pg_record_store.h). Each component
// keeps its own tables, its own migration list, its own migrations table and its own advisory
// lock key, so that they can share one database and upgrade independently.
//
// Thread-safety: the functions here are pure or open their own connection; see
// pg_internal.h for the pool.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "common/result.h"

namespace vouch {
class ConfigSection;
}

namespace vouch::pg {

// How to reach the database, and how every connection and transaction behaves. The same keys
// configure vouch-server and vouch-signer (storage.postgres.*).
struct ConnectionOptions {
  // libpq connection string, key=value ("host=db port=5432 dbname=vouch user=vouch") or URI
  // ("postgresql://vouch@db/vouch"). Required. Must not hold a password.
  std::string dsn;

  // A file holding the password (the first line; a trailing newline is ignored). Empty (the
  // default): libpq's own sources (PGPASSWORD, PGPASSFILE, ~/.pgpass), or none.
  std::filesystem::path password_file;

  // libpq's sslmode ("disable", "prefer", "require", "verify-ca", "verify-full"); empty (the
  // default) keeps the dsn's or libpq's default ("prefer"). sslrootcert: the CA bundle that
  // verify-ca/verify-full check the server against; empty keeps libpq's default.
  std::string sslmode;
  std::filesystem::path sslrootcert;

  // Most connections open at once. Default 8 (the server's request threads share them).
  std::size_t pool_size = 8;

  // How long a call waits for a free connection before failing with kUnavailable. Default 5 s.
  std::chrono::milliseconds pool_wait{5000};

  // PostgreSQL's statement_timeout for every statement (waiting for locks included). Default
  // 10 s; 0 disables it.
  std::chrono::milliseconds statement_timeout{10000};

  // libpq's connect_timeout, in whole seconds (libpq's minimum is 2). Default 5.
  int connect_timeout_seconds = 5;

  enum class Isolation { kReadCommitted, kSerializable };
  // The isolation level of write transactions. Default READ COMMITTED.
  Isolation isolation = Isolation::kReadCommitted;

  // Attempts per call when a transaction hits a serialization failure, a deadlock or a
  // connection lost before COMMIT, with a random back-off of up to 64 ms between attempts.
  // Default 30.
  int max_attempts = 30;
};

// Reads a config file's "postgres" section (storage.postgres of vouch-server and vouch-signer)
// into `o`: dsn, password_file (a path, relative to the file), sslmode, sslrootcert,
// pool_size (>= 1), statement_timeout_ms (>= 1). Absent keys keep `o`'s values; a key of the
// wrong type is recorded in the file's status, as every ConfigSection getter does.
void read_config(const ConfigSection& section, ConnectionOptions& o);

// The libpq connection string for `o`: the dsn's parameters (a URI is parsed too) plus the TLS
// settings, the connect timeout and the password read from password_file. Refuses
// (kInvalidArgument) an empty or unparsable dsn, a dsn that holds a password, and an
// unreadable or empty password_file. The result holds the password: wipe it after use.
Result<std::string> build_conninfo(const ConnectionOptions& o);

// Overwrites a string's bytes before it is freed (connection strings hold the password).
void wipe(std::string& s);

// One numbered schema change. Append only: a released migration is never edited (a database
// that ran it would never see the edit); a change is a new entry.
struct Migration {
  int version;
  const char* description;
  const char* sql;
};

// A component's migrations: applied in order, each in its own transaction, recorded in
// `table` (version, description, applied_at), under the session advisory lock `lock_key` so
// that processes starting together never race. `program` names the binary in messages
// ("vouch-server"), `migrate_command` the command that migrates ("vouch-server migrate").
struct MigrationSet {
  std::span<const Migration> migrations;
  const char* table;
  std::int64_t lock_key;
  const char* program;
  const char* migrate_command;

  int latest() const { return migrations.empty() ? 0 : migrations.back().version; }
};

// What a migration did: the schema version before and after.
struct MigrationResult {
  int from = 0;
  int to = 0;
};

// Applies every pending migration of `set` over a connection of its own and returns the
// versions before and after (idempotent). kFailedPrecondition if the database's schema is
// newer than `set` knows; kUnavailable / kInvalidArgument as build_conninfo and connecting.
Result<MigrationResult> migrate(const ConnectionOptions& o, const MigrationSet& set);

}  // namespace vouch::pg
