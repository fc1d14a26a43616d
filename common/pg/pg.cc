#include "common/pg/pg.h"

#include <libpq-fe.h>
#include <string.h>

#include <algorithm>
#include <random>
#include <thread>

#include "common/config_file.h"
#include "common/fs.h"
#include "common/pg/pg_internal.h"

namespace vouch::pg {

Error unavailable(std::string message) {
  return make_error(Reason::kUnavailable, "postgres: " + std::move(message));
}
Error internal(std::string message) {
  return make_error(Reason::kInternal, "postgres: " + std::move(message));
}

std::string prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff) end.pop_back();
  if (!end.empty()) end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
  return end;
}

void wipe(std::string& s) {
  if (!s.empty()) ::explicit_bzero(s.data(), s.size());
  s.clear();
}

std::string one_line(std::string_view what) {
  std::string s(what);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

namespace {

// libpq's quoting of a key=value connection parameter. Reserved up front: a password passes
// through here, and a reallocation would leave a copy of it in freed memory.
std::string quote_conninfo_value(std::string_view v) {
  std::string out;
  out.reserve(2 * v.size() + 2);
  out.push_back('\'');
  for (char c : v) {
    if (c == '\'' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

}  // namespace

void read_config(const ConfigSection& section, ConnectionOptions& o) {
  std::string password_file = o.password_file.string();
  std::string sslrootcert = o.sslrootcert.string();
  long long pool_size = static_cast<long long>(o.pool_size);
  long long statement_timeout_ms = o.statement_timeout.count();
  section.get_string_or_integer("dsn", o.dsn);
  section.get_path("password_file", password_file);
  section.get_string_or_integer("sslmode", o.sslmode);
  section.get_path("sslrootcert", sslrootcert);
  section.get_integer("pool_size", pool_size, 1);
  section.get_integer("statement_timeout_ms", statement_timeout_ms, 1);
  o.password_file = password_file;
  o.sslrootcert = sslrootcert;
  o.pool_size = static_cast<std::size_t>(pool_size);
  o.statement_timeout = std::chrono::milliseconds(statement_timeout_ms);
}

Result<std::string> build_conninfo(const ConnectionOptions& o) {
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
    // The one bounded reader (no hang on a FIFO); the password is its first line.
    auto file = read_file_bounded(o.password_file, 64 * 1024);
    if (!file) {
      return make_error(Code::kInvalidArgument, Reason::kMalformed,
                        "postgres: cannot read password_file " + o.password_file.string() + ": " +
                            file.error().message);
    }
    std::string password = file->substr(0, file->find('\n'));
    wipe(*file);
    if (!password.empty() && password.back() == '\r') password.pop_back();
    if (password.empty()) {
      return make_error(Code::kInvalidArgument, Reason::kMalformed,
                        "postgres: password_file " + o.password_file.string() + " is empty");
    }
    std::string quoted = quote_conninfo_value(password);
    out.reserve(out.size() + 10 + quoted.size());
    out.append(" password=").append(quoted);
    wipe(password);
    wipe(quoted);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The connection pool.

Pool::Pool(std::string conninfo, const ConnectionOptions& o)
    : conninfo_(std::move(conninfo)),
      size_(std::max<std::size_t>(1, o.pool_size)),
      wait_(o.pool_wait),
      statement_timeout_ms_(o.statement_timeout.count()),
      serializable_(o.isolation == ConnectionOptions::Isolation::kSerializable),
      max_attempts_(std::max(1, o.max_attempts)) {}

Pool::~Pool() { wipe(conninfo_); }

Result<Pool::Lease> Pool::acquire() {
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

Result<std::unique_ptr<pqxx::connection>> Pool::connect() const {
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

void Pool::release(std::unique_ptr<pqxx::connection> conn) {
  std::lock_guard lock(mu_);
  if (conn && conn->is_open()) {
    idle_.push_back(std::move(conn));
  } else {
    --open_;
  }
  cv_.notify_one();
}

bool retryable_state(const std::string& state) {
  return state == "40001" /* serialization_failure */ || state == "40P01" /* deadlock */;
}

void backoff(int n) {
  thread_local std::minstd_rand rng(std::random_device{}());
  const int cap = 1 << std::min(n, 6);
  std::uniform_int_distribution<int> wait(0, cap);
  std::this_thread::sleep_for(std::chrono::milliseconds(wait(rng)));
}

// ---------------------------------------------------------------------------------------------
// Migrations.

namespace {

// The schema version recorded in the set's table (0: none yet).
int schema_version(pqxx::transaction_base& tx, const MigrationSet& set) {
  pqxx::row exists = tx.exec_params1("SELECT to_regclass($1) IS NOT NULL", std::string(set.table));
  if (!exists[0].as<bool>()) return 0;
  pqxx::row v = tx.exec1("SELECT COALESCE(MAX(version), 0) FROM " + std::string(set.table));
  return v[0].as<int>();
}

Error newer_schema(int found, const MigrationSet& set) {
  return make_error(Code::kFailedPrecondition, Reason::kConflict,
                    "postgres: the database's schema is version " + std::to_string(found) +
                        ", newer than this " + set.program + " knows (" +
                        std::to_string(set.latest()) + "); run a newer " + set.program);
}

void advisory_lock(pqxx::connection& conn, std::int64_t key, bool lock) {
  pqxx::nontransaction session(conn);
  session.exec_params(lock ? "SELECT pg_advisory_lock($1)" : "SELECT pg_advisory_unlock($1)", key);
}

// Applies the pending migrations on `conn`, holding the advisory lock (a session lock: it
// also ends with the connection, should this process die half-way).
Result<MigrationResult> run_migrations(pqxx::connection& conn, const MigrationSet& set) {
  advisory_lock(conn, set.lock_key, true);
  MigrationResult m;
  try {
    {
      pqxx::work tx(conn);
      tx.exec("CREATE TABLE IF NOT EXISTS " + std::string(set.table) +
              " ("
              " version integer PRIMARY KEY,"
              " description text NOT NULL,"
              " applied_at timestamptz NOT NULL DEFAULT now())");
      m.from = schema_version(tx, set);
      tx.commit();
    }
    m.to = m.from;
    if (m.from > set.latest()) {
      advisory_lock(conn, set.lock_key, false);
      return newer_schema(m.from, set);
    }
    for (const Migration& migration : set.migrations) {
      if (migration.version <= m.from) continue;
      pqxx::work tx(conn);
      tx.exec(migration.sql);
      tx.exec_params("INSERT INTO " + std::string(set.table) +
                         " (version, description) VALUES ($1, $2)",
                     migration.version, std::string(migration.description));
      tx.commit();
      m.to = migration.version;
    }
  } catch (...) {
    if (conn.is_open()) {
      try {
        advisory_lock(conn, set.lock_key, false);
      } catch (const std::exception&) {
        // The lock ends with the session anyway.
      }
    }
    throw;
  }
  advisory_lock(conn, set.lock_key, false);
  return m;
}

}  // namespace

Result<MigrationResult> prepare_schema(Pool& pool, const MigrationSet& set, bool migrate) {
  if (!migrate) {
    return transact<MigrationResult>(
        pool, TxKind::kRead, "schema check",
        [&](pqxx::transaction_base& tx) -> Result<MigrationResult> {
          const int found = schema_version(tx, set);
          if (found > set.latest()) return newer_schema(found, set);
          if (found < set.latest()) {
            return make_error(Code::kFailedPrecondition, Reason::kConflict,
                              "postgres: the database's schema is version " +
                                  std::to_string(found) + ", this " + set.program + " needs " +
                                  std::to_string(set.latest()) + "; run " + set.migrate_command);
          }
          return MigrationResult{found, found};
        });
  }
  VOUCH_ASSIGN_OR_RETURN(auto conn, pool.connect());
  try {
    return run_migrations(*conn, set);
  } catch (const pqxx::broken_connection& e) {
    return unavailable("migrate: connection lost: " + one_line(e.what()));
  } catch (const std::exception& e) {
    return internal("migrate: " + one_line(e.what()));
  }
}

Result<MigrationResult> migrate(const ConnectionOptions& o, const MigrationSet& set) {
  VOUCH_ASSIGN_OR_RETURN(std::string conninfo, build_conninfo(o));
  Pool pool(std::move(conninfo), o);
  return prepare_schema(pool, set, /*migrate=*/true);
}

}  // namespace vouch::pg
