#pragma once

// PgAccountStore: the accounts store (account_store.h) on PostgreSQL, in the database of
// vouch-server's metadata store (issue 16 item 4): with storage.backend "postgres" and
// auth.type "accounts", every replica reads and writes the same users, teams and grants.
//
// Schema: one table per Table, accounts_<to_string(table)> (accounts_users, accounts_orgs, ...)
// of (key bytea PRIMARY KEY, value bytea NOT NULL), created by migration 2 of PgStore's list
// (server/storage/pg_store.cc), so `vouch-server migrate` and PgStore::open create them.
// open() applies PgStore's pending migrations itself when options.migrate is set.
//
// Transactions, as account_store.h requires:
//   - write(fn): one transaction that first takes the transaction-level advisory lock
//     kWriterLockKey, so writers of every process are serialized; under READ COMMITTED every
//     statement after the lock sees all writers before it, and fn's own puts and erases (they
//     are statements of the same transaction: read-your-writes). COMMIT makes all of it
//     visible at once; fn's error rolls all of it back.
//   - read(fn): one REPEATABLE READ, READ ONLY transaction: fn sees one snapshot.
//   A transaction that fails for a transient reason (serialization failure, deadlock, a
//   connection lost before COMMIT) is run again, fn included (pg::transact): fn must only read
//   and write through its reader/writer, as AccountsService's functions do.
// Errors: the contract's, plus kUnavailable while the database cannot be reached (bounded by
// the pool's wait and the statement timeout).
//
// Thread-safety: every method may be called concurrently from any thread.

#include <cstdint>
#include <memory>

#include "server/accounts/account_store.h"
#include "server/storage/pg_store.h"

namespace vouch::pg {
class Pool;
}

namespace vouch::server::accounts {

class PgAccountStore final : public AccountStore {
 public:
  // "vouch-ac" in ASCII: the writers' transaction lock.
  static constexpr std::int64_t kWriterLockKey = 0x766f7563682d6163;

  // Connects with PgStore's options (its own pool of options.pool_size connections) and
  // migrates PgStore's schema when options.migrate (else requires the accounts tables).
  static Result<std::unique_ptr<PgAccountStore>> open(const PgStoreOptions& options);
  ~PgAccountStore() override;

  Status read(const std::function<Status(AccountReader&)>& fn) override;
  Status write(const std::function<Status(AccountWriter&)>& fn) override;

 private:
  explicit PgAccountStore(std::unique_ptr<pg::Pool> pool);
  std::unique_ptr<pg::Pool> pool_;
};

}  // namespace vouch::server::accounts
