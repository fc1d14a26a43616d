#pragma once

// A real PostgreSQL server for tests (issue 16): initdb into a fresh temporary directory, a
// free loopback port, the unix socket in that directory, stopped and removed on destruction.
// Tests of PostgreSQL-backed code never skip: when the server binaries are missing or the
// server does not start, start() fails with a message saying why (and what to install).
//
// Binaries: $VOUCH_PG_BINDIR, else the newest /usr/lib/postgresql/<major>/bin (Debian's
// `postgresql` package; scripts/install-deps.sh installs it).
//
// Root. PostgreSQL refuses to run as root, so when the test runs as root the server's
// commands (initdb, pg_ctl) run as the `postgres` user through runuser(1), and the directory
// is handed to that user; otherwise they run as the current user.
//
// Access. One superuser, user(), with a random password in password_file(): over TCP
// (host 127.0.0.1, port()) it must log in with that password (scram-sha-256), as production
// code does; over the unix socket (sql(), used by the harness itself) it is trusted.
//
// Durability. kFast (the default, for conformance suites) runs with fsync, full_page_writes
// and synchronous_commit off: a crash of the *machine* may lose data, which no such test
// simulates. kDurable keeps PostgreSQL's defaults, for tests that kill processes and check
// what survived.
//
// Teardown stops only the server this object started (pg_ctl on its own data directory).
// If the test process itself is killed, the server outlives it; its directory name starts
// with vouch-pg-.
//
// Not thread-safe; create and use it from one thread (the code under test may use the
// server from any number of threads).

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace vouch::test {

class Postgres {
 public:
  enum class Durability { kFast, kDurable };

  // initdb and start. Errors (kUnavailable / kIo) carry the step that failed and the end of
  // the server's log.
  static Result<std::unique_ptr<Postgres>> start(Durability durability = Durability::kFast);

  // One fast server per test process, started on first use and stopped at exit: test cases
  // take a fresh database each (create_database), so that doctest's one-case-per-process
  // runs under ctest -j pay for one initdb per process, not per database.
  static Result<Postgres*> shared();

  ~Postgres();
  Postgres(const Postgres&) = delete;
  Postgres& operator=(const Postgres&) = delete;

  const std::string& host() const { return host_; }
  int port() const { return port_; }
  const std::string& user() const { return user_; }
  // Holds the superuser's password (one line), readable by the test.
  const std::filesystem::path& password_file() const { return password_file_; }
  const std::filesystem::path& dir() const { return dir_; }

  // A libpq connection string for `database` over TCP, without the password.
  std::string dsn(std::string_view database) const;

  // Creates an empty database with a name not used before in this server and returns it.
  Result<std::string> create_database();

  // Runs SQL through psql over the unix socket (as the superuser); returns psql's output
  // (unaligned, tuples only). Errors carry psql's message.
  Result<std::string> sql(std::string_view database, std::string_view statements) const;

  // Turns TLS on (ssl = on with this certificate and key, PEM) and reloads the
  // configuration; plain connections stay allowed, so clients choose with sslmode.
  Status enable_tls(std::string_view cert_pem, std::string_view key_pem);

  // Stops the server (fast shutdown) / starts it again on the same port and data.
  Status stop();
  Status restart();
  bool running() const { return running_; }

 private:
  Postgres() = default;
  Status pg_ctl_start();

  std::filesystem::path bindir_;
  std::filesystem::path dir_;
  std::filesystem::path password_file_;
  std::string host_ = "127.0.0.1";
  std::string user_ = "vouch_test";
  std::string run_as_;  // "" or the user the server runs as (when we are root)
  Durability durability_ = Durability::kFast;
  int port_ = 0;
  int databases_ = 0;
  bool running_ = false;
};

}  // namespace vouch::test
