#pragma once

// The libpqxx side of common/pg/pg.h: the connection pool, the transaction runner with its
// retry rules, and the schema check. Include only from the .cc files of PostgreSQL-backed
// stores (it pulls in <pqxx/pqxx>); the libraries that do link libpqxx privately.

#include <pqxx/pqxx>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "common/pg/pg.h"

namespace vouch::pg {

inline pqxx::binarystring bin(std::string_view s) { return pqxx::binarystring(s.data(), s.size()); }

// The least key above every key that starts with `prefix` (the prefix with its last byte
// incremented, trailing 0xff bytes dropped); empty when there is none. For prefix scans
// (WHERE key >= prefix AND key < end) on bytea keys, which compare bytewise.
std::string prefix_end(std::string_view prefix);

// Errors whose message starts with "postgres: ".
Error unavailable(std::string message);
Error internal(std::string message);

// One line of a libpq/libpqxx message, without the trailing newline.
std::string one_line(std::string_view what);

// A pool of at most pool_size connections, opened on demand; a caller waits up to pool_wait
// for a free one, then gets kUnavailable. A connection that broke is dropped and a new one
// opened on next use, so that users recover when the database comes back. Every connection
// runs with the options' statement_timeout (and default isolation SERIALIZABLE if chosen).
// Thread-safe.
class Pool {
 public:
  // `conninfo` from build_conninfo (wiped on destruction).
  Pool(std::string conninfo, const ConnectionOptions& o);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // A connection borrowed from the pool; returned on destruction unless discarded.
  class Lease {
   public:
    Lease(Pool* pool, std::unique_ptr<pqxx::connection> conn)
        : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept
        : pool_(std::exchange(other.pool_, nullptr)), conn_(std::move(other.conn_)) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (pool_ != nullptr) pool_->release(std::move(conn_));
    }
    pqxx::connection& conn() { return *conn_; }
    // The connection broke (or is in an unknown state): close it instead of reusing it.
    void discard() { conn_.reset(); }

   private:
    Pool* pool_;
    std::unique_ptr<pqxx::connection> conn_;
  };

  Result<Lease> acquire();

  // A new connection, outside the pool, with the session settings. kUnavailable when the
  // server cannot be reached or refuses the login (libpq's message says which; it never holds
  // the password).
  Result<std::unique_ptr<pqxx::connection>> connect() const;

  bool serializable() const { return serializable_; }
  int max_attempts() const { return max_attempts_; }

 private:
  void release(std::unique_ptr<pqxx::connection> conn);

  std::string conninfo_;
  const std::size_t size_;
  const std::chrono::milliseconds wait_;
  const std::int64_t statement_timeout_ms_;
  const bool serializable_;
  const int max_attempts_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
  std::size_t open_ = 0;  // idle + leased
};

// SQLSTATEs that mean "run the transaction again": serialization_failure, deadlock_detected.
bool retryable_state(const std::string& state);

// Before attempt n (>= 2): a random wait of up to min(2^n, 64) ms, so that writers that
// failed together do not collide again in lockstep.
void backoff(int n);

// kRead: autocommit statements (each consistent on its own). kWrite: one transaction at the
// pool's isolation level. kSnapshot: one REPEATABLE READ, read-only transaction (every
// statement sees one snapshot).
enum class TxKind { kRead, kWrite, kSnapshot };

// One attempt of fn(tx); a transaction commits only if fn returned OK.
template <typename T, typename Fn>
Result<T> attempt(pqxx::connection& conn, TxKind kind, bool serializable, Fn& fn) {
  if (kind == TxKind::kRead) {
    pqxx::nontransaction tx(conn);
    return fn(static_cast<pqxx::transaction_base&>(tx));
  }
  auto run = [&](auto& tx) -> Result<T> {
    Result<T> r = fn(static_cast<pqxx::transaction_base&>(tx));
    if (r.ok()) tx.commit();
    return r;
  };
  if (kind == TxKind::kSnapshot) {
    pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> tx(conn);
    return run(tx);
  }
  if (serializable) {
    pqxx::transaction<pqxx::serializable> tx(conn);
    return run(tx);
  }
  pqxx::transaction<pqxx::read_committed> tx(conn);
  return run(tx);
}

// Runs fn on a pooled connection, retrying on serialization failures, deadlocks and
// connections lost before COMMIT (up to max_attempts), and turns every libpqxx exception into
// an Error: exceptions never leave the stores. `op` names the operation in messages;
// `unique_violation` is the message of the kConflict that SQLSTATE 23505 becomes.
template <typename T, typename Fn>
Result<T> transact(Pool& pool, TxKind kind, std::string_view op, Fn&& fn,
                   std::string_view unique_violation = "another writer stored this row first") {
  Error last = unavailable(std::string(op) + ": not attempted");
  for (int n = 1; n <= pool.max_attempts(); ++n) {
    if (n > 1) backoff(n);
    VOUCH_ASSIGN_OR_RETURN(auto lease, pool.acquire());
    try {
      return attempt<T>(lease.conn(), kind, pool.serializable(), fn);
    } catch (const pqxx::in_doubt_error& e) {
      // The connection broke while COMMIT was on its way: the write may or may not be stored.
      lease.discard();
      return unavailable(std::string(op) +
                         ": outcome unknown, connection lost at commit: " + one_line(e.what()));
    } catch (const pqxx::statement_completion_unknown& e) {
      lease.discard();
      return unavailable(std::string(op) + ": outcome unknown: " + one_line(e.what()));
    } catch (const pqxx::transaction_rollback& e) {
      last = unavailable(std::string(op) + ": gave up after " + std::to_string(n) +
                         " attempts, last: " + one_line(e.what()));
      continue;
    } catch (const pqxx::broken_connection& e) {
      lease.discard();
      last = unavailable(std::string(op) + ": connection lost: " + one_line(e.what()));
    } catch (const pqxx::sql_error& e) {
      const std::string& state = e.sqlstate();
      if (retryable_state(state)) {
        last = unavailable(std::string(op) + ": gave up after " + std::to_string(n) +
                           " attempts, last: " + one_line(e.what()));
        continue;
      }
      if (state == "23505") {  // unique_violation
        return make_error(Reason::kConflict,
                          std::string(op) + ": " + std::string(unique_violation));
      }
      if (state == "57014") {  // query_canceled: statement_timeout
        return unavailable(std::string(op) + ": statement timed out");
      }
      if (state.rfind("08", 0) == 0 || state.rfind("57P", 0) == 0) {  // connection, shutdown
        lease.discard();
        last = unavailable(std::string(op) + ": " + one_line(e.what()));
        continue;
      }
      if (!lease.conn().is_open()) lease.discard();
      return internal(std::string(op) + ": " + one_line(e.what()) + " [" + state + "]");
    } catch (const std::exception& e) {
      if (!lease.conn().is_open()) lease.discard();
      return internal(std::string(op) + ": " + one_line(e.what()));
    }
  }
  return last;
}

inline Status to_status(Result<std::monostate> r) {
  if (!r) return std::move(r).error();
  return ok_status();
}

// Brings `set` up to date over a fresh connection of `pool` (migrate true), or only checks
// that the database's schema is exactly set.latest() (kFailedPrecondition otherwise).
Result<MigrationResult> prepare_schema(Pool& pool, const MigrationSet& set, bool migrate);

}  // namespace vouch::pg
