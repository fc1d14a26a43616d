// PgStore beyond the conformance suite, against a real PostgreSQL server
// (tests/support/postgres.h): writers on separate connections racing for one version, the
// unique constraint as the version rule's last guard, migrations, start-up errors
// (credentials, unreachable server), TLS with sslmode=verify-full, recovery when the server
// comes back, change ids that become visible in commit order, and the statement timeout.

#include <doctest/doctest.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <pqxx/pqxx>
#include <stdlib.h>

#include <atomic>
#include <barrier>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "server/storage/pg_store.h"
#include "tests/integration/signer_test_util.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/server/pg_test_support.h"

using namespace vouch;
using namespace vouch::server;
using namespace vouch::server::testing;

namespace {

std::string sql_ok(vouch::test::Postgres& pg, const std::string& db, const std::string& sql) {
  auto r = pg.sql(db, sql);
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  return *r;
}

PgStoreOptions options_for(vouch::test::Postgres& pg, const std::string& db) {
  PgStoreOptions o;
  o.dsn = pg.dsn(db);
  o.password_file = pg.password_file();
  return o;
}

Status put_timestamp(MetaStore& s, std::string_view gun, std::int64_t version) {
  std::vector<NewFile> f{sample_file(gun, "timestamp", version)};
  return s.update_many(gun, f);
}

// A fresh P-256 public key (made with OpenSSL, as a third party).
keys::PublicKey fresh_key() {
  EVP_PKEY* k = EVP_EC_gen("P-256");
  REQUIRE(k != nullptr);
  unsigned char* der = nullptr;
  const int n = i2d_PUBKEY(k, &der);
  REQUIRE(n > 0);
  auto key = keys::PublicKey::from_spki_der(ByteSpan(der, static_cast<std::size_t>(n)));
  OPENSSL_free(der);
  EVP_PKEY_free(k);
  REQUIRE(key.ok());
  return std::move(key).value();
}

std::unique_ptr<PgStore> open_ok(const PgStoreOptions& o) {
  auto s = PgStore::open(o);
  REQUIRE_MESSAGE(s.ok(), s.error().message);
  return std::move(s).value();
}

}  // namespace

TEST_CASE("two stores on separate connections racing for one version: exactly one winner") {
  // Two replicas of the server: two PgStore objects, each with its own pool, on one database.
  auto& pg = test_postgres();
  const std::string db = PgBackend::fresh_database(pg);
  auto a = open_ok(options_for(pg, db));
  auto b = open_ok(options_for(pg, db));
  constexpr std::int64_t kVersions = 30;
  std::barrier start(2);
  std::vector<int> winners(kVersions + 1, 0);
  std::atomic<int> unexpected{0};
  auto publish = [&](PgStore& s, int who) {
    for (std::int64_t v = 1; v <= kVersions; ++v) {
      start.arrive_and_wait();  // both publish version v at the same moment
      const std::string tag = std::to_string(who) + "/" + std::to_string(v);
      std::vector<NewFile> f{file("snapshot", v, "s" + tag), file("timestamp", v, "t" + tag)};
      Status st = s.update_many("racy", f);
      if (st.ok()) {
        winners[static_cast<std::size_t>(v)] += who;
      } else if (st.error().code != Code::kFailedPrecondition ||
                 st.error().reason != Reason::kConflict) {
        ++unexpected;
      }
    }
  };
  std::thread ta([&] { publish(*a, 1); });
  std::thread tb([&] { publish(*b, 2); });
  ta.join();
  tb.join();
  CHECK(unexpected.load() == 0);
  for (std::int64_t v = 1; v <= kVersions; ++v) {
    CAPTURE(v);
    const int w = winners[static_cast<std::size_t>(v)];
    REQUIRE((w == 1 || w == 2));  // 3 would be two winners, 0 none
    const std::string tag = std::to_string(w) + "/" + std::to_string(v);
    CHECK(*a->get_version("racy", "timestamp", v)->bytes == "t" + tag);
    CHECK(*b->get_version("racy", "snapshot", v)->bytes == "s" + tag);
  }
  // One change per version, in order, seen the same through either store.
  auto changes = a->get_changes("0", 1000, "racy");
  REQUIRE(changes.ok());
  REQUIRE(changes->size() == static_cast<std::size_t>(kVersions));
  for (std::size_t i = 0; i < changes->size(); ++i) {
    CHECK((*changes)[i].version == static_cast<std::int64_t>(i + 1));
  }
  CHECK(*b->get_changes("0", 1000, "") == *changes);
}

TEST_CASE("the unique constraint rejects a version stored behind the row lock's back") {
  // A writer that bypasses the GUN lock and the current-version table (another engine, a
  // manual insert) cannot make a second version 2: the primary key refuses it, and the loser
  // gets the same kConflict as a lost race.
  auto& pg = test_postgres();
  const std::string db = PgBackend::fresh_database(pg);
  auto s = open_ok(options_for(pg, db));
  std::vector<NewFile> v1{sample_file("gun", "timestamp", 1)};
  REQUIRE(s->update_many("gun", v1).ok());
  sql_ok(pg, db,
         "INSERT INTO meta_files (gun, role, version, sha256, created_us, data) VALUES "
         "('gun'::bytea, 'timestamp'::bytea, 2, repeat('0', 64), 0, 'other'::bytea)");
  std::vector<NewFile> v2{sample_file("gun", "snapshot", 2), sample_file("gun", "timestamp", 2)};
  Status st = s->update_many("gun", v2);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().code == Code::kFailedPrecondition);
  CHECK(st.error().reason == Reason::kConflict);
  // Nothing of the failed batch was stored.
  CHECK(s->get_current("gun", "snapshot").error().code == Code::kNotFound);
  CHECK(s->get_changes("0", 10, "")->size() == 1);
}

TEST_CASE("migrations: applied once, idempotent, safe to run concurrently") {
  auto& pg = test_postgres();
  const std::string db = PgBackend::fresh_database(pg);
  PgStoreOptions o = options_for(pg, db);

  // A store that may not migrate refuses an empty database and says what to do.
  o.migrate = false;
  auto refused = PgStore::open(o);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == Code::kFailedPrecondition);
  CHECK(refused.error().message.find("vouch-server migrate") != std::string::npos);

  // Four processes starting at once: each migrates or finds it done, none fails.
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  std::atomic<int> applied{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      auto m = PgStore::migrate(o);
      if (!m.ok()) {
        ++failures;
      } else if (m->from == 0 && m->to == PgStore::latest_schema_version()) {
        ++applied;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(failures.load() == 0);
  CHECK(applied.load() == 1);
  CHECK(sql_ok(pg, db, "SELECT max(version) FROM schema_migrations") ==
        std::to_string(PgStore::latest_schema_version()) + "\n");

  // Again: nothing to do, nothing lost.
  auto s = open_ok(o);
  std::vector<NewFile> f{sample_file("gun", "timestamp", 1)};
  REQUIRE(s->update_many("gun", f).ok());
  auto again = PgStore::migrate(o);
  REQUIRE_MESSAGE(again.ok(), again.error().message);
  CHECK(again->from == PgStore::latest_schema_version());
  CHECK(again->to == PgStore::latest_schema_version());
  o.migrate = true;
  auto reopened = open_ok(o);
  CHECK(reopened->get_current("gun", "timestamp")->version == 1);

  // A schema newer than this build: refused, by open and by migrate.
  sql_ok(pg, db, "INSERT INTO schema_migrations (version, description) VALUES (999, 'future')");
  for (bool migrate : {true, false}) {
    o.migrate = migrate;
    auto newer = PgStore::open(o);
    REQUIRE_FALSE(newer.ok());
    CHECK(newer.error().code == Code::kFailedPrecondition);
  }
  CHECK(PgStore::migrate(o).error().code == Code::kFailedPrecondition);
}

TEST_CASE("start-up errors: credentials and an unreachable server") {
  auto& pg = test_postgres();
  const std::string db = PgBackend::fresh_database(pg);
  vouch::test::TempDir tmp("vouch-pg-store");

  SUBCASE("a wrong password") {
    PgStoreOptions o = options_for(pg, db);
    o.password_file = tmp.path() / "wrong";
    std::ofstream(o.password_file) << "not-the-password\n";
    auto s = PgStore::open(o);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == Code::kUnavailable);
    CHECK(s.error().message.find("password authentication failed") != std::string::npos);
    CHECK(s.error().message.find("not-the-password") == std::string::npos);
  }
  SUBCASE("no password at all") {
    PgStoreOptions o = options_for(pg, db);
    o.password_file.clear();
    auto s = PgStore::open(o);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == Code::kUnavailable);
  }
  SUBCASE("without password_file, libpq's environment (PGPASSFILE) supplies it") {
    PgStoreOptions o = options_for(pg, db);
    o.password_file.clear();
    std::ifstream pw(pg.password_file());
    std::string password;
    std::getline(pw, password);
    const auto pgpass = tmp.path() / "pgpass";
    std::ofstream(pgpass) << "127.0.0.1:" << pg.port() << ":*:" << pg.user() << ":" << password
                          << "\n";
    std::filesystem::permissions(pgpass, std::filesystem::perms::owner_read |
                                             std::filesystem::perms::owner_write);
    ::setenv("PGPASSFILE", pgpass.c_str(), 1);
    // libpq reads it at every connect, so it stays set while the store opens connections.
    auto s = PgStore::open(o);
    const bool healthy = s.ok() && (*s)->check_health().ok();
    ::unsetenv("PGPASSFILE");
    REQUIRE_MESSAGE(s.ok(), s.error().message);
    CHECK(healthy);
  }
  SUBCASE("a missing or empty password file") {
    PgStoreOptions o = options_for(pg, db);
    o.password_file = tmp.path() / "missing";
    auto s = PgStore::open(o);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == Code::kInvalidArgument);
    CHECK(s.error().message.find("password_file") != std::string::npos);
    o.password_file = tmp.path() / "empty";
    std::ofstream(o.password_file).flush();
    CHECK(PgStore::open(o).error().code == Code::kInvalidArgument);
  }
  SUBCASE("a password in the dsn is refused, key=value or URI") {
    PgStoreOptions o = options_for(pg, db);
    o.dsn += " password=secret";
    auto s = PgStore::open(o);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == Code::kInvalidArgument);
    CHECK(s.error().message.find("secret") == std::string::npos);
    o.dsn = "postgresql://vouch_test:secret@127.0.0.1:" + std::to_string(pg.port()) + "/" + db;
    CHECK(PgStore::open(o).error().code == Code::kInvalidArgument);
  }
  SUBCASE("an unparsable dsn") {
    PgStoreOptions o = options_for(pg, db);
    o.dsn = "host=";
    o.dsn += "'unterminated";
    CHECK(PgStore::open(o).error().code == Code::kInvalidArgument);
  }
  SUBCASE("nobody listening") {
    // The port of a server that was started and stopped again: nothing listens there now.
    auto gone = vouch::test::Postgres::start();
    REQUIRE_MESSAGE(gone.ok(), gone.error().message);
    const int port = (*gone)->port();
    REQUIRE((*gone)->stop().ok());
    PgStoreOptions o = options_for(pg, db);
    o.dsn = "host=127.0.0.1 port=" + std::to_string(port) + " dbname=x user=y";
    auto s = PgStore::open(o);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == Code::kUnavailable);
    CHECK(s.error().message.find("cannot connect") != std::string::npos);
  }
}

TEST_CASE("the store recovers without a restart when the database comes back") {
  auto server = vouch::test::Postgres::start();
  REQUIRE_MESSAGE(server.ok(), server.error().message);
  vouch::test::Postgres& pg = **server;
  const std::string db = PgBackend::fresh_database(pg);
  PgStoreOptions o = options_for(pg, db);
  o.pool_size = 2;
  auto s = open_ok(o);
  std::vector<NewFile> v1{sample_file("gun", "timestamp", 1)};
  REQUIRE(s->update_many("gun", v1).ok());
  REQUIRE(s->check_health().ok());

  REQUIRE(pg.stop().ok());
  CHECK(s->check_health().error().code == Code::kUnavailable);
  CHECK(s->get_current("gun", "timestamp").error().code == Code::kUnavailable);
  std::vector<NewFile> v2{sample_file("gun", "timestamp", 2)};
  CHECK(s->update_many("gun", v2).error().code == Code::kUnavailable);

  REQUIRE(pg.restart().ok());
  CHECK(s->check_health().ok());
  CHECK(s->get_current("gun", "timestamp")->version == 1);  // the failed write left nothing
  REQUIRE(s->update_many("gun", v2).ok());
  CHECK(s->get_current("gun", "timestamp")->version == 2);
}

TEST_CASE("TLS: sslmode verify-full checks the server's certificate against sslrootcert") {
  auto server = vouch::test::Postgres::start();
  REQUIRE_MESSAGE(server.ok(), server.error().message);
  vouch::test::Postgres& pg = **server;
  vouch::signer_test::Pki pki("vouch pg test CA");
  vouch::signer_test::Pki other("some other CA");
  const auto issued = pki.issue("127.0.0.1", /*server=*/true);
  auto tls = pg.enable_tls(issued.cert_pem, issued.key_pem);
  REQUIRE_MESSAGE(tls.ok(), tls.error().message);
  const std::string db = PgBackend::fresh_database(pg);
  vouch::test::TempDir tmp("vouch-pg-tls");
  const auto ca = tmp.path() / "ca.pem";
  const auto wrong_ca = tmp.path() / "other-ca.pem";
  std::ofstream(ca) << pki.ca_pem();
  std::ofstream(wrong_ca) << other.ca_pem();

  PgStoreOptions o = options_for(pg, db);
  o.sslmode = "verify-full";  // overrides the harness's sslmode=disable
  o.sslrootcert = ca;
  auto s = open_ok(o);
  std::vector<NewFile> f{sample_file("gun", "timestamp", 1)};
  REQUIRE(s->update_many("gun", f).ok());
  CHECK(pg.sql(db,
               "SELECT bool_and(ssl) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) "
               "WHERE datname = '" +
                   db +
                   "' AND backend_type = 'client backend' "
                   "AND application_name = ''")
            .value() == "t\n");

  o.sslrootcert = wrong_ca;
  auto refused = PgStore::open(o);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == Code::kUnavailable);
  CHECK(refused.error().message.find("certificate verify failed") != std::string::npos);
}

TEST_CASE("a change id is not visible while a smaller one is uncommitted") {
  // Another replica (a raw connection here) holds change id 2 in an open transaction, as a
  // publisher between taking its id and COMMIT. Our publish must not make id 3 visible before
  // 2: with ids from a sequence it would, and a reader paging forward from 3 would never see
  // 2. PgStore's publish instead waits for the counter row until the other one commits.
  auto& pg = test_postgres();
  const std::string db = PgBackend::fresh_database(pg);
  auto s = open_ok(options_for(pg, db));
  REQUIRE(put_timestamp(*s, "a", 1).ok());

  std::ifstream pw(pg.password_file());
  std::string password;
  std::getline(pw, password);
  pqxx::connection other(pg.dsn(db) + " password=" + password);
  pqxx::work held(other);
  const auto id = held.exec1(
                          "UPDATE meta_change_counter SET last_id = last_id + 1 "
                          "RETURNING last_id")[0]
                      .as<std::int64_t>();
  REQUIRE(id == 2);
  held.exec_params(
      "INSERT INTO meta_changes (id, created_us, gun, version, sha256, category) "
      "VALUES ($1, 0, 'b'::bytea, 1, $2, 0)",
      id, sha_hex("b"));

  std::atomic<bool> published{false};
  Status publish_status;
  std::thread publisher([&] {
    publish_status = put_timestamp(*s, "c", 1);
    published = true;
  });
  // Until our publish either finished or waits for a lock (no time limit of ours; ctest's
  // timeout bounds a hang).
  bool waiting = false;
  while (!published.load() && !waiting) {
    auto w = pg.sql(db,
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'");
    REQUIRE_MESSAGE(w.ok(), w.error().message);
    waiting = *w != "0\n";
    std::this_thread::yield();
  }
  // Nothing after id 1 is visible yet: not 2 (uncommitted), and so not 3 either.
  auto page = s->get_changes("1", 10, "");
  REQUIRE(page.ok());
  CHECK(page->empty());
  CHECK_FALSE(published.load());

  held.commit();
  publisher.join();
  REQUIRE_MESSAGE(publish_status.ok(), publish_status.error().message);
  auto all = s->get_changes("0", 10, "");
  REQUIRE(all.ok());
  REQUIRE(all->size() == 3);
  CHECK((*all)[0].gun == "a");
  CHECK((*all)[1].gun == "b");
  CHECK((*all)[2].gun == "c");
  CHECK((*all)[2].id == 3);
}

TEST_CASE("statement_timeout: a publish stuck behind a lock fails instead of hanging") {
  auto& pg = test_postgres();
  const std::string db = PgBackend::fresh_database(pg);
  PgStoreOptions o = options_for(pg, db);
  o.statement_timeout = std::chrono::milliseconds(200);
  auto s = open_ok(o);
  REQUIRE(put_timestamp(*s, "gun", 1).ok());

  // Another session holds the GUN's row lock and does not let go until the publish returned.
  std::ifstream pw(pg.password_file());
  std::string password;
  std::getline(pw, password);
  pqxx::connection other(pg.dsn(db) + " password=" + password);
  pqxx::work held(other);
  held.exec("SELECT 1 FROM meta_guns WHERE gun = 'gun'::bytea FOR UPDATE");
  Status st = put_timestamp(*s, "gun", 2);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().code == Code::kUnavailable);
  CHECK(st.error().message.find("timed out") != std::string::npos);
  held.abort();

  // The connection that timed out is fine for the next call.
  REQUIRE(put_timestamp(*s, "gun", 2).ok());
  CHECK(s->get_current("gun", "timestamp")->version == 2);
}

TEST_CASE("pending server keys: one per GUN and role for every replica on the database") {
  auto& pg = test_postgres();
  const std::string db = PgBackend::fresh_database(pg);
  auto a = open_ok(options_for(pg, db));
  auto b = open_ok(options_for(pg, db));
  const std::string gun = "example.com/pending";
  CHECK(a->pending_keys().get(gun, "timestamp").value() == std::nullopt);

  // The first to store one wins; the other gets the winner's key.
  const keys::PublicKey ka = fresh_key(), kb = fresh_key();
  CHECK(a->pending_keys().replace(gun, "timestamp", "", ka)->id() == ka.id());
  CHECK(b->pending_keys().replace(gun, "timestamp", "", kb)->id() == ka.id());
  CHECK(b->pending_keys().get(gun, "timestamp").value()->id() == ka.id());
  CHECK(b->pending_keys().get(gun, "snapshot").value() == std::nullopt);

  // A rotation replaces the key it saw; one that saw an older key gets the current one.
  const keys::PublicKey kc = fresh_key(), kd = fresh_key();
  CHECK(b->pending_keys().replace(gun, "timestamp", ka.id(), kc)->id() == kc.id());
  CHECK(a->pending_keys().replace(gun, "timestamp", ka.id(), kd)->id() == kc.id());
  CHECK(a->pending_keys().get(gun, "timestamp").value()->id() == kc.id());

  // Erasing needs the current key's ID; erase_gun forgets every role.
  REQUIRE(a->pending_keys().erase(gun, "timestamp", ka.id()).ok());
  CHECK(b->pending_keys().get(gun, "timestamp").value()->id() == kc.id());
  REQUIRE(a->pending_keys().erase(gun, "timestamp", kc.id()).ok());
  CHECK(b->pending_keys().get(gun, "timestamp").value() == std::nullopt);
  REQUIRE(a->pending_keys().replace(gun, "snapshot", "", kd).ok());
  REQUIRE(b->pending_keys().erase_gun(gun).ok());
  CHECK(a->pending_keys().get(gun, "snapshot").value() == std::nullopt);

  // Eight writers at once on a new GUN, four through each store: all end with one key.
  std::vector<keys::PublicKey> mine;
  for (int i = 0; i < 8; ++i) mine.push_back(fresh_key());
  std::vector<std::string> got(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      PgStore& s = i % 2 == 0 ? *a : *b;
      auto r = s.pending_keys().replace("example.com/race", "snapshot", "",
                                        mine[static_cast<std::size_t>(i)]);
      if (r) got[static_cast<std::size_t>(i)] = r->id();
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& id : got) CHECK(id == got[0]);
  CHECK_FALSE(got[0].empty());
  CHECK(sql_ok(pg, db, "SELECT count(*) FROM server_pending_keys") == "1\n");
}
