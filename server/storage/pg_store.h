#pragma once

// PgStore: the MetaStore on PostgreSQL (15; through libpqxx 6.4), so that several vouch-server
// processes can share one database (issue 16). Implements meta_store.h exactly and passes the
// same conformance suite as MemoryStore and RocksDbStore (tests/unit/server/
// meta_store_conformance_test.cc runs it against a real server that the tests start).
//
// Schema. Created and migrated by the server itself: numbered migrations (pg_store.cc,
// kMigrations), recorded in the table schema_migrations(version, description, applied_at).
// PgStore::migrate applies the missing ones, each in its own transaction, holding a
// session-level advisory lock (kMigrationLockKey) so that replicas starting together never
// race; open() does the same unless PgStoreOptions::migrate is false. A database whose schema
// is newer than this build knows is refused (kFailedPrecondition), as is, with migrate false,
// one that is behind.
//   meta_guns(gun)                          one row per GUN ever written; its row lock
//                                           serializes the writers of one GUN (never deleted)
//   meta_files(gun, role, version, sha256, created_us, data)
//                                           every stored version; PRIMARY KEY (gun, role,
//                                           version) is the version rule's unique constraint
//   meta_roles(gun, role, version, sha256, created_us)
//                                           the current version of each role (list_roles)
//   meta_changes(id, created_us, gun, version, sha256, category)
//                                           the changefeed, with an index on (gun, id)
//   meta_change_counter(last_id)            one row: the highest change id handed out
//   server_pending_keys(gun, role, key_id, key_type, public_key, created_us)
//                                           pending server keys (pending_keys()); PRIMARY
//                                           KEY (gun, role): one per role for every replica
// Names and bytes are bytea (GUNs and roles are opaque bytes, NUL included, and compare
// bytewise as the contract's list_roles order requires); checksums are lowercase hex text;
// times are microseconds since the Unix epoch from the store's Clock.
//
// Writes. update_many and delete_gun are one transaction each: lock the GUN's meta_guns row
// (SELECT ... FOR UPDATE), check versions against meta_roles, insert the files, upsert
// meta_roles, and - only for batches that add change records - take the next ids from
// meta_change_counter (UPDATE ... RETURNING) as the last statement before COMMIT. Two
// writers racing for one version therefore get exactly one winner: the loser waits on the
// GUN's row and then fails the version check with kConflict; and if the row lock is ever
// bypassed (another engine, a manual insert) the primary key rejects the second file, which
// is reported as the same kConflict (SQLSTATE 23505).
//
// Changefeed order. PostgreSQL sequences are not commit-ordered (a transaction can take id 6
// and commit before the one holding id 5), so ids do not come from a sequence: the counter
// row's lock is held from the UPDATE until COMMIT, so the transaction that takes id n+1 can
// only do so after the one holding n committed (and became visible) or rolled back (then it
// reuses n: ids are dense). Every snapshot thus holds a prefix of the ids, and a reader that
// pages forward from the last id it saw never misses one. The price: transactions that add
// change records (timestamp publishes, deletions) commit one at a time, ~one commit (WAL
// flush) each; batches without a timestamp do not touch the counter.
//
// Isolation. PgStoreOptions::isolation: READ COMMITTED (the default; correct because of the
// row locks above) or SERIALIZABLE (for engines that offer only that, e.g. CockroachDB; the
// conformance suite runs both). Every transaction is retried on SQLSTATE 40001
// (serialization_failure) and 40P01 (deadlock_detected), and on a connection lost before
// COMMIT was sent, up to max_attempts times. The data path's SQL is plain apart from
// INSERT ... ON CONFLICT; migrations also use an advisory lock. Reads are single statements
// (autocommit), each consistent on its own, so a reader sees all or none of a batch.
//
// Connections. A pool of at most pool_size connections, opened on demand (open() opens one to
// check the database); a caller waits up to pool_wait for a free one, then gets kUnavailable.
// A connection that broke is dropped and a new one opened on next use, so the store recovers
// when the database comes back, without a restart. Every connection runs with the session's
// statement_timeout, so no call blocks on the database forever.
//
// Credentials never come from the DSN: a dsn holding a password is refused. The password is
// read from password_file (its first line, without the line end), or libpq finds
// it itself (PGPASSWORD, PGPASSFILE or ~/.pgpass). TLS: sslmode and sslrootcert are libpq's
// (sslmode "verify-full" checks the chain against sslrootcert and the host name).
//
// Errors (besides the contract's): open/migrate return kInvalidArgument for bad options (a
// password in the dsn, an unreadable password_file), kUnavailable when the database cannot be
// reached or refuses the credentials (the message says which), kFailedPrecondition for a
// schema this build cannot use. Any call returns kUnavailable while the database is
// unreachable or a statement times out, kInternal for other database errors (messages are for
// logs only).
//
// Sizes. A file is one bytea value, which PostgreSQL caps at 1 GB: kMaxFileBytes (1 GiB) is
// slightly above that, so a file within a few bytes of it fails with kInternal instead of
// kTooLarge. The HTTP layer admits far less (server.max_publish_bytes, default 100 MiB).
//
// For the work that builds on this store (issue 16 items 2-5):
//   - PgStore caches nothing: every call reads the database. The server's cache of current
//     files (Repository) is per process; each replica follows get_changes, which is
//     commit-ordered (server/replica_sync.h; no LISTEN/NOTIFY is sent).
//   - update_many's version check always runs against committed state under the GUN's row
//     lock, whatever a cache above it holds.
//   - While the database is unreachable every call fails with kUnavailable, each attempt
//     bounded by pool_wait, connect_timeout_seconds and statement_timeout; nothing of a
//     failed write is stored, except when COMMIT itself was cut off (kUnavailable whose
//     message says "outcome unknown": the write may or may not be stored).
//   - The accounts store's tables (accounts_*, server/accounts/pg_account_store.h) are
//     migration 2 of this list. vouch-signer's keys (signer/pg_record_store.h) keep their own
//     table, migration list (signer_schema_migrations) and advisory lock key; the machinery
//     (pool, transactions, migrations) is common/pg's.
//
// Thread-safety: every method may be called concurrently from any thread.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/pg/pg.h"
#include "server/storage/meta_store.h"
#include "server/storage/pending_key_store.h"

namespace vouch::pg {
class Pool;
}

namespace vouch::server {

// The connection options (dsn, password_file, TLS, pool, timeouts, isolation, retries) are
// common/pg/pg.h's, shared with the other stores on PostgreSQL; isolation defaults to READ
// COMMITTED (correct because of the row locks above).
struct PgStoreOptions : pg::ConnectionOptions {
  // Apply pending migrations in open(). Default true. false: open() refuses a schema that is
  // not current (kFailedPrecondition), for sites that run `vouch-server migrate` themselves.
  bool migrate = true;

  // Stamps StoredFile::created and Change::created; must outlive the store. nullptr (the
  // default) is the system clock.
  const Clock* clock = nullptr;
};

// What PgStore::migrate did: the schema version before and after.
using PgMigration = pg::MigrationResult;

class PgStore final : public MetaStore {
 public:
  // The advisory lock key migrations hold (an arbitrary constant: "vouch" in ASCII).
  static constexpr std::int64_t kMigrationLockKey = 0x766f756368;

  // The schema version this build creates and expects.
  static int latest_schema_version();

  // Connects (one connection), applies pending migrations (options.migrate) or checks the
  // schema, and returns a store with a pool of up to options.pool_size connections.
  static Result<std::unique_ptr<PgStore>> open(const PgStoreOptions& options);

  // Applies every pending migration and returns the versions before and after (equal if
  // there was nothing to do; idempotent). Safe to run from several processes at once.
  static Result<PgMigration> migrate(const PgStoreOptions& options);

  ~PgStore() override;
  PgStore(const PgStore&) = delete;
  PgStore& operator=(const PgStore&) = delete;

  Status update_many(std::string_view gun, std::span<const NewFile> files) override;
  Result<StoredFile> get_current(std::string_view gun, std::string_view role) override;
  Result<StoredFile> get_version(std::string_view gun, std::string_view role,
                                 std::int64_t version) override;
  Result<StoredFile> get_checksum(std::string_view gun, std::string_view role,
                                  std::string_view sha256_hex) override;
  Result<std::vector<RoleVersion>> list_roles(std::string_view gun) override;
  Status delete_gun(std::string_view gun) override;
  Result<std::vector<Change>> get_changes(std::string_view change_id, int records,
                                          std::string_view filter_gun) override;
  // One "SELECT 1" on a pooled connection (kUnavailable when the database is unreachable).
  Status check_health() override;

  // The pending server keys (RepositoryOptions::pending_keys) in the table
  // server_pending_keys, shared by every replica on the database: the first replica to store
  // one for a (gun, role) wins, the others get its key. Lives as long as the store.
  PendingKeyStore& pending_keys();

 private:
  class PendingKeys;
  PgStore(std::unique_ptr<pg::Pool> pool, const PgStoreOptions& options);

  std::unique_ptr<pg::Pool> pool_;
  const Clock& clock_;
  std::unique_ptr<PendingKeys> pending_keys_;
};

}  // namespace vouch::server
