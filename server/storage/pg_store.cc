#include "server/storage/pg_store.h"

#include <libpq-fe.h>
#include <string.h>

#include <pqxx/pqxx>

#include <algorithm>
#include <condition_variable>
#include <fstream>
#include <iterator>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <thread>
#include <utility>

#include "server/storage/store_util.h"

namespace vouch::server {

using storage_internal::is_storable_name;

namespace {

// ---------------------------------------------------------------------------------------------
// Migrations. Append only: a released migration is never edited (a database that ran it would
// never see the edit); a change to the schema is a new entry.

struct Migration {
  int version;
  const char* description;
  const char* sql;
};

constexpr Migration kMigrations[] = {
    {1, "metadata store: files, current roles, GUN locks, changefeed", R"sql(
CREATE TABLE meta_guns (
  gun bytea PRIMARY KEY
);
CREATE TABLE meta_files (
  gun        bytea  NOT NULL,
  role       bytea  NOT NULL,
  version    bigint NOT NULL CHECK (version >= 0),
  sha256     text   NOT NULL,
  created_us bigint NOT NULL,
  data       bytea  NOT NULL,
  PRIMARY KEY (gun, role, version)
);
CREATE INDEX meta_files_by_checksum ON meta_files (gun, role, sha256, version);
CREATE TABLE meta_roles (
  gun        bytea  NOT NULL,
  role       bytea  NOT NULL,
  version    bigint NOT NULL,
  sha256     text   NOT NULL,
  created_us bigint NOT NULL,
  PRIMARY KEY (gun, role)
);
CREATE TABLE meta_changes (
  id         bigint   PRIMARY KEY,
  created_us bigint   NOT NULL,
  gun        bytea    NOT NULL,
  version    bigint   NOT NULL,
  sha256     text     NOT NULL,
  category   smallint NOT NULL
);
CREATE INDEX meta_changes_by_gun ON meta_changes (gun, id);
CREATE TABLE meta_change_counter (
  one     boolean PRIMARY KEY DEFAULT true CHECK (one),
  last_id bigint  NOT NULL
);
INSERT INTO meta_change_counter (one, last_id) VALUES (true, 0);
)sql"},
};

constexpr int kLatestSchema = kMigrations[std::size(kMigrations) - 1].version;

constexpr std::int16_t kCategoryUpdate = 0;
constexpr std::int16_t kCategoryDeletion = 1;

std::int64_t to_micros(TimePoint t) { return t.time_since_epoch().count(); }
TimePoint from_micros(std::int64_t us) { return TimePoint(std::chrono::microseconds(us)); }

pqxx::binarystring bin(std::string_view s) { return pqxx::binarystring(s.data(), s.size()); }

Error unavailable(std::string message) {
  return make_error(Reason::kUnavailable, "postgres: " + std::move(message));
}
Error internal(std::string message) {
  return make_error(Reason::kInternal, "postgres: " + std::move(message));
}
Error corrupt(std::string what) {
  return make_error(Code::kDataLoss, Reason::kInternal, "postgres: corrupt " + std::move(what));
}

// Overwrites a string's bytes before it is freed (the connection string holds the password).
void wipe(std::string& s) {
  if (!s.empty()) ::explicit_bzero(s.data(), s.size());
  s.clear();
}

// libpq's quoting of a key=value connection parameter.
std::string quote_conninfo_value(std::string_view v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

// The connection string the pool uses: the dsn's parameters (a URI is parsed too) plus the
// options' TLS settings, connect timeout and password. Refuses a dsn that holds a password.
Result<std::string> build_conninfo(const PgStoreOptions& o) {
  if (o.dsn.empty()) {
    return make_error(Code::kInvalidArgument, Reason::kMalformed, "postgres: dsn is empty");
  }
  char* err = nullptr;
  PQconninfoOption* parsed = ::PQconninfoParse(o.dsn.c_str(), &err);
  if (parsed == nullptr) {
    std::string msg = err != nullptr ? err : "out of memory";
    if (err != nullptr) ::PQfreemem(err);
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    return make_error(Code::kInvalidArgument, Reason::kMalformed, "postgres: dsn: " + msg);
  }
  std::unique_ptr<PQconninfoOption, void (*)(PQconninfoOption*)> guard(parsed, ::PQconninfoFree);
  std::string out;
  auto add = [&out](std::string_view key, std::string_view value) {
    if (!out.empty()) out.push_back(' ');
    out.append(key).append("=").append(quote_conninfo_value(value));
  };
  for (PQconninfoOption* opt = parsed; opt->keyword != nullptr; ++opt) {
    if (opt->val == nullptr) continue;
    const std::string_view key = opt->keyword;
    if (key == "password") {
      return make_error(Code::kInvalidArgument, Reason::kMalformed,
                        "postgres: the dsn holds a password; put it in password_file (or "
                        "PGPASSFILE/PGPASSWORD) instead");
    }
    if ((key == "sslmode" && !o.sslmode.empty()) ||
        (key == "sslrootcert" && !o.sslrootcert.empty()) || key == "connect_timeout") {
      continue;
    }
    add(key, opt->val);
  }
  if (!o.sslmode.empty()) add("sslmode", o.sslmode);
  if (!o.sslrootcert.empty()) add("sslrootcert", o.sslrootcert.string());
  add("connect_timeout", std::to_string(std::max(2, o.connect_timeout_seconds)));
  if (!o.password_file.empty()) {
    std::ifstream in(o.password_file, std::ios::binary);
    if (!in) {
      return make_error(Code::kInvalidArgument, Reason::kMalformed,
                        "postgres: cannot read password_file " + o.password_file.string());
    }
    std::string password;
    std::getline(in, password);
    if (!password.empty() && password.back() == '\r') password.pop_back();
    if (password.empty()) {
      return make_error(Code::kInvalidArgument, Reason::kMalformed,
                        "postgres: password_file " + o.password_file.string() + " is empty");
    }
    std::string quoted = quote_conninfo_value(password);
    out.append(" password=").append(quoted);
    wipe(password);
    wipe(quoted);
  }
  return out;
}

// One line of a libpq/libpqxx message, without the trailing newline.
std::string one_line(std::string_view what) {
  std::string s(what);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The connection pool.

class PgStore::Pool {
 public:
  Pool(std::string conninfo, const PgStoreOptions& o)
      : conninfo_(std::move(conninfo)),
        size_(std::max<std::size_t>(1, o.pool_size)),
        wait_(o.pool_wait),
        statement_timeout_ms_(o.statement_timeout.count()),
        serializable_(o.isolation == PgStoreOptions::Isolation::kSerializable),
        max_attempts_(std::max(1, o.max_attempts)) {}

  ~Pool() { wipe(conninfo_); }

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

  Result<Lease> acquire() {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, wait_, [&] { return !idle_.empty() || open_ < size_; })) {
      return unavailable("no free connection within " + std::to_string(wait_.count()) +
                         " ms (pool_size " + std::to_string(size_) + ")");
    }
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(conn));
    }
    ++open_;
    lock.unlock();
    auto conn = connect();
    if (!conn) {
      lock.lock();
      --open_;
      cv_.notify_one();
      return conn.error();
    }
    return Lease(this, std::move(conn).value());
  }

  // A new connection with the session settings. kUnavailable when the server cannot be
  // reached or refuses the login (libpq's message says which; it never holds the password).
  Result<std::unique_ptr<pqxx::connection>> connect() const {
    try {
      auto conn = std::make_unique<pqxx::connection>(conninfo_);
      // set_variable: libpqxx re-applies these if it ever re-opens the connection itself.
      conn->set_variable("statement_timeout", std::to_string(statement_timeout_ms_));
      if (serializable_) conn->set_variable("default_transaction_isolation", "'serializable'");
      return conn;
    } catch (const std::exception& e) {
      return unavailable("cannot connect: " + one_line(e.what()));
    }
  }

  bool serializable() const { return serializable_; }
  int max_attempts() const { return max_attempts_; }

 private:
  void release(std::unique_ptr<pqxx::connection> conn) {
    std::lock_guard lock(mu_);
    if (conn && conn->is_open()) {
      idle_.push_back(std::move(conn));
    } else {
      --open_;
    }
    cv_.notify_one();
  }

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

namespace {

// SQLSTATEs that mean "run the transaction again".
bool retryable_state(const std::string& state) {
  return state == "40001" /* serialization_failure */ || state == "40P01" /* deadlock */;
}

// Before attempt n (>= 2): a random wait of up to min(2^n, 64) ms, so that writers that
// failed together do not collide again in lockstep.
void backoff(int n) {
  thread_local std::minstd_rand rng(std::random_device{}());
  const int cap = 1 << std::min(n, 6);
  std::uniform_int_distribution<int> wait(0, cap);
  std::this_thread::sleep_for(std::chrono::milliseconds(wait(rng)));
}

enum class TxKind { kRead, kWrite };

// One attempt: a transaction (writes) or autocommit statements (reads; each is consistent on
// its own). fn(tx) returns a Result; the transaction commits only if it is OK.
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
  if (serializable) {
    pqxx::transaction<pqxx::serializable> tx(conn);
    return run(tx);
  }
  pqxx::transaction<pqxx::read_committed> tx(conn);
  return run(tx);
}

// Runs fn on a pooled connection, retrying as the header describes, and turns every libpqxx
// exception into an Error: exceptions never leave this file.
template <typename T, typename PoolT, typename Fn>
Result<T> transact(PoolT& pool, TxKind kind, std::string_view op, Fn&& fn) {
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
      // serialization_failure (40001), deadlock_detected (40P01): run it again.
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
      if (state == "23505") {  // unique_violation: another writer stored this version
        return make_error(Reason::kConflict,
                          std::string(op) + ": another writer stored this version first");
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

Status to_status(Result<std::monostate> r) {
  if (!r) return std::move(r).error();
  return ok_status();
}

// Reads a StoredFile from a row (version, sha256, created_us, data).
Result<StoredFile> to_stored(std::string_view gun, std::string_view role, const pqxx::row& row) {
  StoredFile f;
  f.gun = gun;
  f.role = role;
  f.version = row[0].as<std::int64_t>();
  f.sha256_hex = row[1].as<std::string>();
  f.created = from_micros(row[2].as<std::int64_t>());
  f.bytes = std::make_shared<const std::string>(pqxx::binarystring(row[3]).str());
  if (f.version < 0 || !storage_internal::is_sha256_hex(f.sha256_hex)) return corrupt("file row");
  return f;
}

// Locks the GUN's row for this transaction, creating it if `create`. False if it does not
// exist (and was not created).
bool lock_gun(pqxx::transaction_base& tx, std::string_view gun, bool create) {
  if (create) {
    tx.exec_params("INSERT INTO meta_guns (gun) VALUES ($1) ON CONFLICT DO NOTHING", bin(gun));
  }
  return !tx.exec_params("SELECT 1 FROM meta_guns WHERE gun = $1 FOR UPDATE", bin(gun)).empty();
}

// Takes `count` change ids (the last statement before COMMIT; see the header) and returns the
// first.
std::int64_t take_change_ids(pqxx::transaction_base& tx, std::int64_t count) {
  pqxx::row r = tx.exec_params1(
      "UPDATE meta_change_counter SET last_id = last_id + $1 WHERE one RETURNING last_id", count);
  return r[0].as<std::int64_t>() - count + 1;
}

void insert_change(pqxx::transaction_base& tx, const Change& c) {
  tx.exec_params(
      "INSERT INTO meta_changes (id, created_us, gun, version, sha256, category) "
      "VALUES ($1, $2, $3, $4, $5, $6)",
      c.id, to_micros(c.created), bin(c.gun), c.version, c.sha256_hex,
      c.category == Change::Category::kDeletion ? kCategoryDeletion : kCategoryUpdate);
}

// The schema version recorded in the database (0: none yet).
int schema_version(pqxx::transaction_base& tx) {
  pqxx::row exists = tx.exec1("SELECT to_regclass('schema_migrations') IS NOT NULL");
  if (!exists[0].as<bool>()) return 0;
  pqxx::row v = tx.exec1("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  return v[0].as<int>();
}

Error newer_schema(int found) {
  return make_error(Code::kFailedPrecondition, Reason::kConflict,
                    "postgres: the database's schema is version " + std::to_string(found) +
                        ", newer than this vouch-server knows (" + std::to_string(kLatestSchema) +
                        "); run a newer vouch-server");
}

void advisory_lock(pqxx::connection& conn, bool lock) {
  pqxx::nontransaction session(conn);
  session.exec_params(lock ? "SELECT pg_advisory_lock($1)" : "SELECT pg_advisory_unlock($1)",
                      PgStore::kMigrationLockKey);
}

// Applies the pending migrations on `conn`, holding the advisory lock (a session lock: it
// also ends with the connection, should this process die half-way).
Result<PgMigration> run_migrations(pqxx::connection& conn) {
  advisory_lock(conn, true);
  PgMigration m;
  try {
    {
      pqxx::work tx(conn);
      tx.exec(
          "CREATE TABLE IF NOT EXISTS schema_migrations ("
          " version integer PRIMARY KEY,"
          " description text NOT NULL,"
          " applied_at timestamptz NOT NULL DEFAULT now())");
      m.from = schema_version(tx);
      tx.commit();
    }
    m.to = m.from;
    if (m.from > kLatestSchema) {
      advisory_lock(conn, false);
      return newer_schema(m.from);
    }
    for (const Migration& migration : kMigrations) {
      if (migration.version <= m.from) continue;
      pqxx::work tx(conn);
      tx.exec(migration.sql);
      tx.exec_params("INSERT INTO schema_migrations (version, description) VALUES ($1, $2)",
                     migration.version, std::string(migration.description));
      tx.commit();
      m.to = migration.version;
    }
  } catch (...) {
    if (conn.is_open()) {
      try {
        advisory_lock(conn, false);
      } catch (const std::exception&) {
        // The lock ends with the session anyway.
      }
    }
    throw;
  }
  advisory_lock(conn, false);
  return m;
}

// Migrates over a fresh connection of `pool`, or with migrate false only checks that the
// schema is current.
template <typename PoolT>
Result<PgMigration> prepare_schema(PoolT& pool, bool migrate) {
  if (!migrate) {
    return transact<PgMigration>(
        pool, TxKind::kRead, "schema check",
        [&](pqxx::transaction_base& tx) -> Result<PgMigration> {
          const int found = schema_version(tx);
          if (found > kLatestSchema) return newer_schema(found);
          if (found < kLatestSchema) {
            return make_error(Code::kFailedPrecondition, Reason::kConflict,
                              "postgres: the database's schema is version " +
                                  std::to_string(found) + ", this vouch-server needs " +
                                  std::to_string(kLatestSchema) + "; run vouch-server migrate");
          }
          return PgMigration{found, found};
        });
  }
  VOUCH_ASSIGN_OR_RETURN(auto conn, pool.connect());
  try {
    return run_migrations(*conn);
  } catch (const pqxx::broken_connection& e) {
    return unavailable("migrate: connection lost: " + one_line(e.what()));
  } catch (const std::exception& e) {
    return internal("migrate: " + one_line(e.what()));
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------

int PgStore::latest_schema_version() { return kLatestSchema; }

Result<PgMigration> PgStore::migrate(const PgStoreOptions& options) {
  VOUCH_ASSIGN_OR_RETURN(std::string conninfo, build_conninfo(options));
  Pool pool(std::move(conninfo), options);
  return prepare_schema(pool, /*migrate=*/true);
}

Result<std::unique_ptr<PgStore>> PgStore::open(const PgStoreOptions& options) {
  VOUCH_ASSIGN_OR_RETURN(std::string conninfo, build_conninfo(options));
  auto pool = std::make_unique<Pool>(std::move(conninfo), options);
  VOUCH_RETURN_IF_ERROR(prepare_schema(*pool, options.migrate));
  return std::unique_ptr<PgStore>(new PgStore(std::move(pool), options));
}

PgStore::PgStore(std::unique_ptr<Pool> pool, const PgStoreOptions& options)
    : pool_(std::move(pool)),
      clock_(options.clock != nullptr ? *options.clock : SystemClock::instance()) {}

PgStore::~PgStore() = default;

Status PgStore::update_many(std::string_view gun, std::span<const NewFile> files) {
  VOUCH_ASSIGN_OR_RETURN(auto batch, storage_internal::prepare_batch(gun, files));
  if (batch.empty()) return ok_status();
  std::int64_t timestamps = 0;
  for (const auto& p : batch) {
    if (p.file->role == storage_internal::kTimestampRole) ++timestamps;
  }
  const TimePoint now = clock_.now();
  return to_status(transact<std::monostate>(
      *pool_, TxKind::kWrite, "update_many",
      [&](pqxx::transaction_base& tx) -> Result<std::monostate> {
        lock_gun(tx, gun, /*create=*/true);
        // Under the GUN's row lock nobody else writes this GUN: what we read stays true until
        // our COMMIT.
        for (std::size_t i = 0; i < batch.size(); ++i) {
          const NewFile& f = *batch[i].file;
          if (i > 0 && batch[i - 1].file->role == f.role) continue;  // lowest version checked
          pqxx::result r = tx.exec_params(
              "SELECT version FROM meta_roles WHERE gun = $1 AND role = $2", bin(gun), bin(f.role));
          std::optional<std::int64_t> current;
          if (!r.empty()) current = r[0][0].as<std::int64_t>();
          VOUCH_RETURN_IF_ERROR(storage_internal::check_version(f.role, f.version, current));
        }
        for (std::size_t i = 0; i < batch.size(); ++i) {
          const NewFile& f = *batch[i].file;
          const std::string& sha = batch[i].sha256_hex;
          tx.exec_params(
              "INSERT INTO meta_files (gun, role, version, sha256, created_us, data) "
              "VALUES ($1, $2, $3, $4, $5, $6)",
              bin(gun), bin(f.role), f.version, sha, to_micros(now), bin(*f.bytes));
          const bool last_of_role = i + 1 == batch.size() || batch[i + 1].file->role != f.role;
          if (last_of_role) {
            tx.exec_params(
                "INSERT INTO meta_roles (gun, role, version, sha256, created_us) "
                "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (gun, role) DO UPDATE SET "
                "version = EXCLUDED.version, sha256 = EXCLUDED.sha256, "
                "created_us = EXCLUDED.created_us",
                bin(gun), bin(f.role), f.version, sha, to_micros(now));
          }
        }
        if (timestamps > 0) {
          // Last: the counter's row lock is held only from here to COMMIT.
          std::int64_t next_id = take_change_ids(tx, timestamps);
          for (const auto& p : batch) {  // sorted: timestamps in increasing version order
            if (p.file->role != storage_internal::kTimestampRole) continue;
            insert_change(tx, Change{next_id++, now, std::string(gun), p.file->version,
                                     p.sha256_hex, Change::Category::kUpdate});
          }
        }
        return std::monostate{};
      }));
}

Result<StoredFile> PgStore::get_current(std::string_view gun, std::string_view role) {
  if (!is_storable_name(gun) || !is_storable_name(role)) {
    return make_error(Reason::kNotFound, "no such role");
  }
  return transact<StoredFile>(*pool_, TxKind::kRead, "get_current",
                              [&](pqxx::transaction_base& tx) -> Result<StoredFile> {
                                pqxx::result r = tx.exec_params(
                                    "SELECT version, sha256, created_us, data FROM meta_files "
                                    "WHERE gun = $1 AND role = $2 ORDER BY version DESC LIMIT 1",
                                    bin(gun), bin(role));
                                if (r.empty()) return make_error(Reason::kNotFound, "no such role");
                                return to_stored(gun, role, r[0]);
                              });
}

Result<StoredFile> PgStore::get_version(std::string_view gun, std::string_view role,
                                        std::int64_t version) {
  if (!is_storable_name(gun) || !is_storable_name(role) || version < 0) {
    return make_error(Reason::kNotFound, "no such version");
  }
  return transact<StoredFile>(*pool_, TxKind::kRead, "get_version",
                              [&](pqxx::transaction_base& tx) -> Result<StoredFile> {
                                pqxx::result r = tx.exec_params(
                                    "SELECT version, sha256, created_us, data FROM meta_files "
                                    "WHERE gun = $1 AND role = $2 AND version = $3",
                                    bin(gun), bin(role), version);
                                if (r.empty())
                                  return make_error(Reason::kNotFound, "no such version");
                                return to_stored(gun, role, r[0]);
                              });
}

Result<StoredFile> PgStore::get_checksum(std::string_view gun, std::string_view role,
                                         std::string_view sha256_hex) {
  if (!is_storable_name(gun) || !is_storable_name(role) ||
      !storage_internal::is_sha256_hex(sha256_hex)) {
    return make_error(Reason::kNotFound, "no such checksum");
  }
  return transact<StoredFile>(
      *pool_, TxKind::kRead, "get_checksum", [&](pqxx::transaction_base& tx) -> Result<StoredFile> {
        pqxx::result r = tx.exec_params(
            "SELECT version, sha256, created_us, data FROM meta_files "
            "WHERE gun = $1 AND role = $2 AND sha256 = $3 ORDER BY version DESC LIMIT 1",
            bin(gun), bin(role), std::string(sha256_hex));
        if (r.empty()) return make_error(Reason::kNotFound, "no such checksum");
        return to_stored(gun, role, r[0]);
      });
}

Result<std::vector<RoleVersion>> PgStore::list_roles(std::string_view gun) {
  if (!is_storable_name(gun)) return std::vector<RoleVersion>{};
  return transact<std::vector<RoleVersion>>(
      *pool_, TxKind::kRead, "list_roles",
      [&](pqxx::transaction_base& tx) -> Result<std::vector<RoleVersion>> {
        pqxx::result r = tx.exec_params(
            "SELECT role, version, sha256, created_us FROM meta_roles WHERE gun = $1 "
            "ORDER BY role",
            bin(gun));
        std::vector<RoleVersion> out;
        out.reserve(r.size());
        for (const pqxx::row& row : r) {
          RoleVersion v{pqxx::binarystring(row[0]).str(), row[1].as<std::int64_t>(),
                        row[2].as<std::string>(), from_micros(row[3].as<std::int64_t>())};
          if (v.version < 0 || !storage_internal::is_sha256_hex(v.sha256_hex)) {
            return corrupt("role row");
          }
          out.push_back(std::move(v));
        }
        return out;
      });
}

Status PgStore::delete_gun(std::string_view gun) {
  VOUCH_RETURN_IF_ERROR(storage_internal::validate_gun(gun));
  const TimePoint now = clock_.now();
  return to_status(transact<std::monostate>(
      *pool_, TxKind::kWrite, "delete_gun",
      [&](pqxx::transaction_base& tx) -> Result<std::monostate> {
        if (!lock_gun(tx, gun, /*create=*/false)) return std::monostate{};
        pqxx::result roles = tx.exec_params("DELETE FROM meta_roles WHERE gun = $1", bin(gun));
        if (roles.affected_rows() == 0) return std::monostate{};  // nothing stored (Notary)
        tx.exec_params("DELETE FROM meta_files WHERE gun = $1", bin(gun));
        insert_change(
            tx,
            Change{
                take_change_ids(tx, 1), now, std::string(gun), 0, {}, Change::Category::kDeletion});
        return std::monostate{};
      }));
}

Result<std::vector<Change>> PgStore::get_changes(std::string_view change_id, int records,
                                                 std::string_view filter_gun) {
  VOUCH_ASSIGN_OR_RETURN(auto q, storage_internal::parse_change_query(change_id, records));
  if (!filter_gun.empty() && !is_storable_name(filter_gun)) return std::vector<Change>{};
  // Forward: ids above q.id, oldest first. Reversed: ids below q.id (all when q.id <= 0),
  // newest first, then put back in order.
  const std::int64_t bound = q.reversed && q.id <= 0 ? INT64_MAX : q.id;
  const std::string sql = std::string(
                              "SELECT id, created_us, gun, version, sha256, category "
                              "FROM meta_changes WHERE id ") +
                          (q.reversed ? "<" : ">") + " $1" +
                          (filter_gun.empty() ? "" : " AND gun = $3") + " ORDER BY id " +
                          (q.reversed ? "DESC" : "ASC") + " LIMIT $2";
  const auto limit = static_cast<std::int64_t>(q.limit);
  return transact<std::vector<Change>>(
      *pool_, TxKind::kRead, "get_changes",
      [&](pqxx::transaction_base& tx) -> Result<std::vector<Change>> {
        pqxx::result r = filter_gun.empty() ? tx.exec_params(sql, bound, limit)
                                            : tx.exec_params(sql, bound, limit, bin(filter_gun));
        std::vector<Change> out;
        out.reserve(r.size());
        for (const pqxx::row& row : r) {
          Change c;
          c.id = row[0].as<std::int64_t>();
          c.created = from_micros(row[1].as<std::int64_t>());
          c.gun = pqxx::binarystring(row[2]).str();
          c.version = row[3].as<std::int64_t>();
          c.sha256_hex = row[4].as<std::string>();
          const auto category = row[5].as<std::int16_t>();
          if (category == kCategoryUpdate && storage_internal::is_sha256_hex(c.sha256_hex)) {
            c.category = Change::Category::kUpdate;
          } else if (category == kCategoryDeletion && c.sha256_hex.empty()) {
            c.category = Change::Category::kDeletion;
          } else {
            return corrupt("change row");
          }
          out.push_back(std::move(c));
        }
        if (q.reversed) std::reverse(out.begin(), out.end());
        return out;
      });
}

Status PgStore::check_health() {
  return to_status(transact<std::monostate>(
      *pool_, TxKind::kRead, "health", [&](pqxx::transaction_base& tx) -> Result<std::monostate> {
        tx.exec("SELECT 1");
        return std::monostate{};
      }));
}

}  // namespace vouch::server
