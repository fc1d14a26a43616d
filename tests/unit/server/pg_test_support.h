#pragma once

// MetaStore test fixtures on PostgreSQL: a fresh database on the test process's PostgreSQL
// server (tests/support/postgres.h) per fixture, under READ COMMITTED and SERIALIZABLE. For
// the conformance suite (TEST_CASE_TEMPLATE) and PgStore's own tests. Header-only.

#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "server/storage/pg_store.h"
#include "tests/support/postgres.h"
#include "tests/unit/server/store_test_support.h"

namespace vouch::server::testing {

// The test process's server; fails the test case (never skips) if it cannot start.
inline vouch::test::Postgres& test_postgres() {
  auto pg = vouch::test::Postgres::shared();
  REQUIRE_MESSAGE(pg.ok(), "PostgreSQL for the tests: " << pg.error().message);
  return **pg;
}

template <PgStoreOptions::Isolation kIsolation>
struct PgBackendT {
  static constexpr bool persistent() { return true; }
  vouch::test::Postgres& pg = test_postgres();
  std::string database = fresh_database(pg);
  FixedClock clock{test_epoch()};
  std::unique_ptr<PgStore> impl;

  PgBackendT() { reopen(); }
  static std::string fresh_database(vouch::test::Postgres& server) {
    auto db = server.create_database();
    REQUIRE_MESSAGE(db.ok(), db.error().message);
    return *db;
  }
  PgStoreOptions options() const {
    PgStoreOptions o;
    o.dsn = pg.dsn(database);
    o.password_file = pg.password_file();
    o.isolation = kIsolation;
    o.clock = &clock;
    return o;
  }
  MetaStore& store() { return *impl; }
  void reopen() {
    impl.reset();
    auto s = PgStore::open(options());
    REQUIRE_MESSAGE(s.ok(), s.error().message);
    impl = std::move(s).value();
  }
};
using PgBackend = PgBackendT<PgStoreOptions::Isolation::kReadCommitted>;
using PgSerializableBackend = PgBackendT<PgStoreOptions::Isolation::kSerializable>;

}  // namespace vouch::server::testing

TYPE_TO_STRING_AS("postgres", vouch::server::testing::PgBackend);
TYPE_TO_STRING_AS("postgres-serializable", vouch::server::testing::PgSerializableBackend);
