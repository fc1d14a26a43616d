#pragma once

// AccountStore: the records of the accounts service (users, organizations, teams, service
// accounts, API tokens, repository settings and grants), behind one interface.
//
// It is a small transactional record store, not a domain API: every business rule (names,
// authorization, "last admin", uniqueness across tables) lives once in AccountsService, which
// also encodes the records (accounts_service.cc's codec); the store keeps opaque bytes. So a
// SQL backend is one table per Table below of (key TEXT PRIMARY KEY, value BLOB) plus
// transactions. Backends today: MemoryAccountStore (tests, development),
// RocksDbAccountStore (real use, `<storage dir>/accounts`) and PgAccountStore (the PostgreSQL
// database of vouch-server's metadata, pg_account_store.h). One conformance suite
// (tests/unit/server/account_store_conformance_test.cc) runs over every backend; a new backend
// is done when it passes that suite unchanged.
//
// Model. Each Table maps keys (1..kMaxRecordKeyBytes bytes, any bytes) to values
// (0..kMaxRecordValueBytes bytes). Keys are ordered bytewise (unsigned), which scans follow.
// Tables are disjoint: the same key in two tables names two records.
//
// Transactions.
//  - write(fn) runs fn with an AccountWriter and then commits everything fn put or erased, in
//    one atomic step: afterwards either all of it is stored or (fn returned an error, or the
//    commit failed) none of it. Reads through the writer see the store as committed before
//    plus fn's own writes (read-your-writes), in get() and scan() alike. Writers are serialized:
//    write() calls behave as if run one at a time, so a read-modify-write inside fn is never
//    lost (no retry loop needed). Durability: when write() returns OK the change survives a
//    crash of the process (RocksDB: and of the machine, with sync on; the metadata store's
//    rules).
//  - read(fn) runs fn with an AccountReader over one consistent snapshot: fn never sees part of
//    a commit, nor a commit that happens after its first read.
//  - The AccountReader/AccountWriter is valid only during fn; fn must not keep it, and must not
//    call read() or write() of the same store (it would deadlock in some backends).
//  - fn's error is returned unchanged by read()/write().
//
// Errors (Code / Reason), the same in every backend:
//   kInvalidArgument    / kMalformed    an empty key, or a scan limit of 0
//   kInvalidArgument    / kTooLarge     a key longer than kMaxRecordKeyBytes
//   kResourceExhausted  / kTooLarge     a value longer than kMaxRecordValueBytes
//   kInternal           / kIo, kInternal the backend failed; the message is for logs only
//   kDataLoss           / kInternal     the backend found its data corrupt
// A missing record is not an error: get() returns nullopt, erase() of a missing key is OK.
//
// Thread-safety: every method may be called concurrently from any thread. Reads may run while a
// write is in progress (MemoryAccountStore blocks a commit until running reads finish).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace vouch::server::accounts {

enum class Table : std::uint8_t {
  kUsers,
  kOrgs,
  kOrgMembers,
  kTeams,
  kTeamMembers,
  kServiceAccounts,
  kTokens,
  kRepositories,
  kGrants,
  kMemberKeys,
  kMeta,
};
inline constexpr std::size_t kTableCount = 11;
// "users", "orgs", "org_members", ... (the SQL table names).
std::string_view to_string(Table table);

// Bounds on what a record may hold; they keep every stored record small.
inline constexpr std::size_t kMaxRecordKeyBytes = 1024;
inline constexpr std::size_t kMaxRecordValueBytes = std::size_t{1} << 20;
// The largest page a scan returns; larger limits are clamped to it.
inline constexpr std::size_t kMaxScanLimit = 1000;

struct Record {
  std::string key;
  std::string value;
  friend bool operator==(const Record&, const Record&) = default;
};

class AccountReader {
 public:
  virtual ~AccountReader() = default;
  // The value stored under `key`, or nullopt.
  virtual Result<std::optional<std::string>> get(Table table, std::string_view key) = 0;
  // Up to `limit` records (1..; clamped to kMaxScanLimit) whose key starts with `prefix` (empty:
  // every key) and is greater than `start_after` (empty: from the first), in key order. To page,
  // pass the last key of one page as start_after of the next; a page shorter than the limit is
  // the last one.
  virtual Result<std::vector<Record>> scan(Table table, std::string_view prefix,
                                           std::string_view start_after, std::size_t limit) = 0;
};

class AccountWriter : public AccountReader {
 public:
  // Sets `key` to `value` (insert or replace), visible to this writer's reads at once.
  virtual Status put(Table table, std::string_view key, std::string_view value) = 0;
  // Removes `key` if present.
  virtual Status erase(Table table, std::string_view key) = 0;
};

class AccountStore {
 public:
  virtual ~AccountStore() = default;
  virtual Status read(const std::function<Status(AccountReader&)>& fn) = 0;
  virtual Status write(const std::function<Status(AccountWriter&)>& fn) = 0;
};

// Checks a key and value against the bounds above (the errors listed there). For backends.
Status check_record_key(std::string_view key);
Status check_record_value(std::string_view value);
// The clamped scan limit, or kInvalidArgument/kMalformed for 0. For backends.
Result<std::size_t> check_scan_limit(std::size_t limit);

}  // namespace vouch::server::accounts
