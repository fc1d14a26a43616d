#pragma once

// PgRecordStore: vouch-signer's key records in PostgreSQL (issue 16 item 3), so that several
// vouch-signer processes serve the same keys (notary-signer did this with MySQL). The records
// are the ones the RocksDB backend holds (signer/key_store.h's layout: encrypted key records,
// alias verifiers, the database's KDF salt), so encryption at rest, passphrase aliases and
// rotation are unchanged: the database never sees a private key or a passphrase.
//
// Schema (migrations in pg_record_store.cc, recorded in signer_schema_migrations, applied at
// open under the advisory lock kMigrationLockKey; a schema newer than this build is refused):
//   signer_records(key bytea PRIMARY KEY, value bytea NOT NULL)
// It lives beside vouch-server's tables in the same database or in one of its own; the names
// do not collide.
//
// Writers: every RecordStore::write is one transaction that first takes the transaction-level
// advisory lock kWriterLockKey, so writers of every process are serialized and each reads what
// the previous one committed (READ COMMITTED); puts and erases are applied at the end, then
// COMMIT. Transactions that fail with a serialization failure, a deadlock or a connection lost
// before COMMIT are run again (pg::transact). Reads are single statements.
//
// Connections, credentials and TLS are common/pg/pg.h's (storage.postgres.* in the signer's
// config, the same keys as vouch-server's). Errors: kUnavailable while the database cannot be
// reached (each call bounded by pool_wait, connect and statement timeouts), kInternal for other
// database errors, kInvalidArgument for bad options, kFailedPrecondition for a schema this
// build cannot use.
//
// Thread-safety: every method may be called concurrently from any thread.

#include <cstdint>
#include <memory>

#include "common/pg/pg.h"
#include "signer/record_store.h"

namespace vouch::signer {

struct PgRecordStoreOptions : pg::ConnectionOptions {
  // Apply pending migrations at open. Default true; false refuses a schema that is not
  // current (for sites that run `vouch-signer migrate` themselves).
  bool migrate = true;
};

class PgRecordStore {
 public:
  // "vouch-sg" in ASCII: the migrations' session lock, and the writers' transaction lock.
  static constexpr std::int64_t kMigrationLockKey = 0x766f7563682d7367;
  static constexpr std::int64_t kWriterLockKey = 0x766f7563682d7377;

  // Connects, migrates (or checks the schema) and returns the store.
  static Result<std::unique_ptr<RecordStore>> open(const PgRecordStoreOptions& options);

  // Applies pending migrations; returns the versions before and after.
  static Result<pg::MigrationResult> migrate(const pg::ConnectionOptions& options);
};

}  // namespace vouch::signer
