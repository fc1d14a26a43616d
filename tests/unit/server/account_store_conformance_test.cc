// AccountStore conformance: the contract of server/accounts/account_store.h, run over every
// backend (MemoryAccountStore; RocksDbAccountStore with sync off and on). A new backend is added
// to BACKENDS and must pass unchanged. With VOUCH_ACCOUNTS_PG (the executable
// server_account_store_pg_conformance_test) BACKENDS is PgAccountStore, under READ COMMITTED
// and SERIALIZABLE, on a real PostgreSQL server the test starts (a fresh database per case).

#include <doctest/doctest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "server/accounts/account_store.h"
#include "server/accounts/memory_account_store.h"
#include "server/accounts/rocksdb_account_store.h"
#include "tests/support/check_macros.h"
#include "tests/support/temp_dir.h"
#ifdef VOUCH_ACCOUNTS_PG
#include "server/accounts/pg_account_store.h"
#include "tests/support/postgres.h"
#endif

using namespace vouch;
using namespace vouch::server::accounts;

namespace {

struct MemoryBackend {
  static constexpr bool kPersistent = false;
  std::unique_ptr<AccountStore> store = std::make_unique<MemoryAccountStore>();
  void reopen() {}
};

template <bool kSync>
struct RocksBackend {
  static constexpr bool kPersistent = true;
  test::TempDir dir{"vouch-accounts"};
  std::unique_ptr<AccountStore> store = open();
  std::unique_ptr<AccountStore> open() {
    auto s = RocksDbAccountStore::open({dir.path() / "accounts", kSync});
    REQUIRE_OK(s);
    return std::move(s).value();
  }
  void reopen() {
    store.reset();
    store = open();
  }
};
using RocksDbBackend = RocksBackend<false>;
using RocksDbSyncBackend = RocksBackend<true>;

#ifdef VOUCH_ACCOUNTS_PG
template <vouch::pg::ConnectionOptions::Isolation kIsolation>
struct PgBackend {
  static constexpr bool kPersistent = true;
  vouch::test::Postgres& pg = server();
  std::string database = fresh_database();
  std::unique_ptr<AccountStore> store = open();
  static vouch::test::Postgres& server() {
    auto pg = vouch::test::Postgres::shared();
    REQUIRE_MESSAGE(pg.ok(), "PostgreSQL for the tests: " << pg.error().message);
    return **pg;
  }
  std::string fresh_database() {
    auto db = pg.create_database();
    REQUIRE_MESSAGE(db.ok(), db.error().message);
    return *db;
  }
  std::unique_ptr<AccountStore> open() {
    vouch::server::PgStoreOptions o;
    o.dsn = pg.dsn(database);
    o.password_file = pg.password_file();
    o.isolation = kIsolation;
    auto s = PgAccountStore::open(o);
    REQUIRE_OK(s);
    return std::move(s).value();
  }
  void reopen() {
    store.reset();
    store = open();
  }
};
using PgReadCommittedBackend = PgBackend<vouch::pg::ConnectionOptions::Isolation::kReadCommitted>;
using PgSerializableBackend = PgBackend<vouch::pg::ConnectionOptions::Isolation::kSerializable>;
#define BACKENDS PgReadCommittedBackend, PgSerializableBackend
#else
#define BACKENDS MemoryBackend, RocksDbBackend, RocksDbSyncBackend
#endif

std::optional<std::string> get(AccountStore& s, Table t, std::string_view key) {
  std::optional<std::string> out;
  Status st = s.read([&](AccountReader& r) -> Status {
    VOUCH_ASSIGN_OR_RETURN(out, r.get(t, key));
    return ok_status();
  });
  REQUIRE_OK(st);
  return out;
}

Status put(AccountStore& s, Table t, std::string_view key, std::string_view value) {
  return s.write([&](AccountWriter& w) { return w.put(t, key, value); });
}

std::vector<std::string> keys_of(const std::vector<Record>& records) {
  std::vector<std::string> out;
  for (const Record& r : records) out.push_back(r.key);
  return out;
}

std::vector<Record> scan(AccountStore& s, Table t, std::string_view prefix, std::string_view after,
                         std::size_t limit) {
  std::vector<Record> out;
  REQUIRE_OK(s.read([&](AccountReader& r) -> Status {
    VOUCH_ASSIGN_OR_RETURN(out, r.scan(t, prefix, after, limit));
    return ok_status();
  }));
  return out;
}

}  // namespace

TEST_CASE_TEMPLATE("account store: put, get, replace, erase", B, BACKENDS) {
  B b;
  AccountStore& s = *b.store;
  CHECK_FALSE(get(s, Table::kUsers, "alice").has_value());
  REQUIRE_OK(put(s, Table::kUsers, "alice", "v1"));
  CHECK(get(s, Table::kUsers, "alice") == "v1");
  REQUIRE_OK(put(s, Table::kUsers, "alice", "v2"));
  CHECK(get(s, Table::kUsers, "alice") == "v2");
  // An empty value is a value, and arbitrary bytes are kept exactly.
  const std::string bytes("\0\xff/..\n", 6);
  REQUIRE_OK(put(s, Table::kUsers, bytes, ""));
  CHECK(get(s, Table::kUsers, bytes) == "");
  REQUIRE_OK(s.write([](AccountWriter& w) { return w.erase(Table::kUsers, "alice"); }));
  CHECK_FALSE(get(s, Table::kUsers, "alice").has_value());
  // Erasing what is not there is fine.
  REQUIRE_OK(s.write([](AccountWriter& w) { return w.erase(Table::kUsers, "nobody"); }));
}

TEST_CASE_TEMPLATE("account store: tables are disjoint", B, BACKENDS) {
  B b;
  AccountStore& s = *b.store;
  REQUIRE_OK(put(s, Table::kUsers, "acme", "user"));
  REQUIRE_OK(put(s, Table::kOrgs, "acme", "org"));
  REQUIRE_OK(put(s, Table::kMeta, "acme", "meta"));
  CHECK(get(s, Table::kUsers, "acme") == "user");
  CHECK(get(s, Table::kOrgs, "acme") == "org");
  CHECK(get(s, Table::kMeta, "acme") == "meta");
  CHECK_FALSE(get(s, Table::kTeams, "acme").has_value());
  CHECK(scan(s, Table::kOrgs, "", "", 100).size() == 1);
  CHECK(scan(s, Table::kGrants, "", "", 100).empty());
  CHECK(to_string(Table::kTeamMembers) == "team_members");
}

TEST_CASE_TEMPLATE("account store: bad keys, values and limits", B, BACKENDS) {
  B b;
  AccountStore& s = *b.store;
  auto empty = put(s, Table::kUsers, "", "v");
  CHECK_REASON(empty, Reason::kMalformed);
  CHECK(empty.error().code == Code::kInvalidArgument);
  auto long_key = put(s, Table::kUsers, std::string(kMaxRecordKeyBytes + 1, 'k'), "v");
  CHECK_REASON(long_key, Reason::kTooLarge);
  CHECK(long_key.error().code == Code::kInvalidArgument);
  auto big = put(s, Table::kUsers, "k", std::string(kMaxRecordValueBytes + 1, 'v'));
  CHECK_REASON(big, Reason::kTooLarge);
  CHECK(big.error().code == Code::kResourceExhausted);
  REQUIRE_OK(put(s, Table::kUsers, std::string(kMaxRecordKeyBytes, 'k'),
                 std::string(kMaxRecordValueBytes, 'v')));
  auto zero = s.read([](AccountReader& r) -> Status {
    VOUCH_RETURN_IF_ERROR(r.scan(Table::kUsers, "", "", 0));
    return ok_status();
  });
  CHECK_REASON(zero, Reason::kMalformed);
}

TEST_CASE_TEMPLATE("account store: a failed fn commits nothing", B, BACKENDS) {
  B b;
  AccountStore& s = *b.store;
  REQUIRE_OK(put(s, Table::kUsers, "keep", "old"));
  auto st = s.write([](AccountWriter& w) -> Status {
    VOUCH_RETURN_IF_ERROR(w.put(Table::kUsers, "keep", "new"));
    VOUCH_RETURN_IF_ERROR(w.put(Table::kOrgs, "acme", "x"));
    VOUCH_RETURN_IF_ERROR(w.erase(Table::kUsers, "keep"));
    return make_error(Code::kFailedPrecondition, Reason::kConflict, "changed my mind");
  });
  // fn's error comes back unchanged.
  CHECK_REASON(st, Reason::kConflict);
  CHECK(st.error().code == Code::kFailedPrecondition);
  CHECK(get(s, Table::kUsers, "keep") == "old");
  CHECK_FALSE(get(s, Table::kOrgs, "acme").has_value());
  // A failing put in the middle also commits nothing of what came before it.
  auto bad = s.write([](AccountWriter& w) -> Status {
    VOUCH_RETURN_IF_ERROR(w.put(Table::kOrgs, "acme", "x"));
    return w.put(Table::kOrgs, "", "y");
  });
  CHECK_REASON(bad, Reason::kMalformed);
  CHECK_FALSE(get(s, Table::kOrgs, "acme").has_value());
}

TEST_CASE_TEMPLATE("account store: a write commits all of its changes at once", B, BACKENDS) {
  B b;
  AccountStore& s = *b.store;
  REQUIRE_OK(put(s, Table::kUsers, "gone", "x"));
  REQUIRE_OK(s.write([](AccountWriter& w) -> Status {
    VOUCH_RETURN_IF_ERROR(w.put(Table::kUsers, "a", "1"));
    VOUCH_RETURN_IF_ERROR(w.put(Table::kTeams, "acme/devs", "2"));
    VOUCH_RETURN_IF_ERROR(w.put(Table::kTeamMembers, "acme/devs/a", ""));
    return w.erase(Table::kUsers, "gone");
  }));
  CHECK(get(s, Table::kUsers, "a") == "1");
  CHECK(get(s, Table::kTeams, "acme/devs") == "2");
  CHECK(get(s, Table::kTeamMembers, "acme/devs/a") == "");
  CHECK_FALSE(get(s, Table::kUsers, "gone").has_value());
}

TEST_CASE_TEMPLATE("account store: a writer reads its own writes, in get and scan", B, BACKENDS) {
  B b;
  AccountStore& s = *b.store;
  REQUIRE_OK(put(s, Table::kGrants, "g/1", "base1"));
  REQUIRE_OK(put(s, Table::kGrants, "g/3", "base3"));
  REQUIRE_OK(put(s, Table::kGrants, "g/5", "base5"));
  REQUIRE_OK(s.write([](AccountWriter& w) -> Status {
    VOUCH_RETURN_IF_ERROR(w.put(Table::kGrants, "g/2", "new2"));
    VOUCH_RETURN_IF_ERROR(w.put(Table::kGrants, "g/3", "new3"));
    VOUCH_RETURN_IF_ERROR(w.erase(Table::kGrants, "g/5"));
    VOUCH_ASSIGN_OR_RETURN(auto v3, w.get(Table::kGrants, "g/3"));
    CHECK(v3 == "new3");
    VOUCH_ASSIGN_OR_RETURN(auto v5, w.get(Table::kGrants, "g/5"));
    CHECK_FALSE(v5.has_value());
    VOUCH_ASSIGN_OR_RETURN(auto all, w.scan(Table::kGrants, "g/", "", 100));
    CHECK(all == std::vector<Record>{{"g/1", "base1"}, {"g/2", "new2"}, {"g/3", "new3"}});
    // Paging through the merged view.
    VOUCH_ASSIGN_OR_RETURN(auto page, w.scan(Table::kGrants, "g/", "g/1", 1));
    CHECK(page == std::vector<Record>{{"g/2", "new2"}});
    // A record written then erased in the same write is gone.
    VOUCH_RETURN_IF_ERROR(w.put(Table::kGrants, "g/9", "tmp"));
    VOUCH_RETURN_IF_ERROR(w.erase(Table::kGrants, "g/9"));
    VOUCH_ASSIGN_OR_RETURN(auto v9, w.get(Table::kGrants, "g/9"));
    CHECK_FALSE(v9.has_value());
    return ok_status();
  }));
  CHECK(keys_of(scan(s, Table::kGrants, "", "", 100)) ==
        std::vector<std::string>{"g/1", "g/2", "g/3"});
}

TEST_CASE_TEMPLATE("account store: scans follow prefix, order and paging", B, BACKENDS) {
  B b;
  AccountStore& s = *b.store;
  REQUIRE_OK(s.write([](AccountWriter& w) -> Status {
    for (int i = 0; i < 25; ++i) {
      char key[16];
      std::snprintf(key, sizeof key, "acme/%02d", i);
      VOUCH_RETURN_IF_ERROR(w.put(Table::kTeams, key, std::to_string(i)));
    }
    VOUCH_RETURN_IF_ERROR(w.put(Table::kTeams, "acme", "not under the prefix acme/"));
    VOUCH_RETURN_IF_ERROR(w.put(Table::kTeams, "acme0/x", "another prefix"));
    VOUCH_RETURN_IF_ERROR(w.put(Table::kTeams, "acmd/x", "before"));
    return w.put(Table::kTeamMembers, "acme/00", "another table");
  }));
  std::vector<std::string> seen;
  std::string after;
  int pages = 0;
  for (;;) {
    auto page = scan(s, Table::kTeams, "acme/", after, 10);
    ++pages;
    for (const Record& r : page) seen.push_back(r.key);
    if (page.size() < 10) break;
    after = page.back().key;
  }
  CHECK(pages == 3);
  REQUIRE(seen.size() == 25);
  for (int i = 0; i < 25; ++i) {
    char key[16];
    std::snprintf(key, sizeof key, "acme/%02d", i);
    CHECK(seen[static_cast<std::size_t>(i)] == key);
  }
  // start_after below the prefix starts at the prefix; above every key gives nothing.
  CHECK(scan(s, Table::kTeams, "acme/", "a", 2).front().key == "acme/00");
  CHECK(scan(s, Table::kTeams, "acme/", "acme/99", 10).empty());
  CHECK(scan(s, Table::kTeams, "acme/", "zzz", 10).empty());
  // An empty prefix scans the whole table, in bytewise order.
  CHECK(keys_of(scan(s, Table::kTeams, "", "", 3)) ==
        std::vector<std::string>{"acmd/x", "acme", "acme/00"});
  // Limits above the maximum are clamped.
  CHECK(scan(s, Table::kTeams, "", "", kMaxScanLimit + 5).size() == 28);
}

TEST_CASE_TEMPLATE("account store: reads see one consistent snapshot", B, BACKENDS) {
  B b;
  AccountStore& s = *b.store;
  // Invariant kept by every write: a == b.
  REQUIRE_OK(s.write([](AccountWriter& w) -> Status {
    VOUCH_RETURN_IF_ERROR(w.put(Table::kMeta, "a", "0"));
    return w.put(Table::kMeta, "b", "0");
  }));
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 1; !stop.load(); ++i) {
      REQUIRE_OK(s.write([&](AccountWriter& w) -> Status {
        VOUCH_RETURN_IF_ERROR(w.put(Table::kMeta, "a", std::to_string(i)));
        return w.put(Table::kMeta, "b", std::to_string(i));
      }));
    }
  });
  for (int round = 0; round < 200; ++round) {
    REQUIRE_OK(s.read([&](AccountReader& r) -> Status {
      VOUCH_ASSIGN_OR_RETURN(auto a, r.get(Table::kMeta, "a"));
      for (int k = 0; k < 20; ++k) {
        VOUCH_ASSIGN_OR_RETURN(auto again, r.get(Table::kMeta, "a"));
        VOUCH_ASSIGN_OR_RETURN(auto bv, r.get(Table::kMeta, "b"));
        VOUCH_ASSIGN_OR_RETURN(auto both, r.scan(Table::kMeta, "", "", 10));
        REQUIRE(both.size() == 2);
        CHECK(again == a);
        CHECK(bv == a);
        CHECK(both[0].value == *a);
        CHECK(both[1].value == *a);
      }
      return ok_status();
    }));
  }
  stop = true;
  writer.join();
}

TEST_CASE_TEMPLATE("account store: concurrent writers serialize", B, BACKENDS) {
  B b;
  AccountStore& s = *b.store;
  constexpr int kThreads = 4;
  constexpr int kIncrements = 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrements; ++i) {
        // A read-modify-write: lost updates would show as a smaller final count.
        REQUIRE_OK(s.write([](AccountWriter& w) -> Status {
          VOUCH_ASSIGN_OR_RETURN(auto v, w.get(Table::kMeta, "counter"));
          int n = v ? std::stoi(*v) : 0;
          std::this_thread::yield();
          return w.put(Table::kMeta, "counter", std::to_string(n + 1));
        }));
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(get(s, Table::kMeta, "counter") == std::to_string(kThreads * kIncrements));
}

TEST_CASE_TEMPLATE("account store: reopening keeps every committed record", B, BACKENDS) {
  B b;
  if (!B::kPersistent) return;
  REQUIRE_OK(put(*b.store, Table::kUsers, "alice", "1"));
  REQUIRE_OK(put(*b.store, Table::kTokens, "tok", "2"));
  (void)b.store->write([](AccountWriter& w) -> Status {
    VOUCH_RETURN_IF_ERROR(w.put(Table::kUsers, "bob", "never"));
    return make_error(Reason::kConflict, "abort");
  });
  b.reopen();
  CHECK(get(*b.store, Table::kUsers, "alice") == "1");
  CHECK(get(*b.store, Table::kTokens, "tok") == "2");
  CHECK_FALSE(get(*b.store, Table::kUsers, "bob").has_value());
}

#ifdef VOUCH_ACCOUNTS_PG
// Two stores on one database, as two vouch-server replicas: their writers serialize too (the
// advisory lock spans processes), and each sees the other's commits.
TEST_CASE_TEMPLATE("postgres account store: writers of two stores on one database serialize", B,
                   BACKENDS) {
  B b;
  std::unique_ptr<AccountStore> other = b.open();
  AccountStore* stores[] = {b.store.get(), other.get()};
  constexpr int kIncrements = 50;
  std::vector<std::thread> threads;
  for (AccountStore* s : stores) {
    threads.emplace_back([s] {
      for (int i = 0; i < kIncrements; ++i) {
        REQUIRE_OK(s->write([](AccountWriter& w) -> Status {
          VOUCH_ASSIGN_OR_RETURN(auto v, w.get(Table::kMeta, "counter"));
          int n = v ? std::stoi(*v) : 0;
          std::this_thread::yield();
          return w.put(Table::kMeta, "counter", std::to_string(n + 1));
        }));
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(get(*b.store, Table::kMeta, "counter") == std::to_string(2 * kIncrements));
  CHECK(get(*other, Table::kMeta, "counter") == std::to_string(2 * kIncrements));
}
#else
TEST_CASE("rocksdb account store: open errors (locked, empty path)") {
  test::TempDir dir("vouch-accounts");
  {
    auto s = RocksDbAccountStore::open({dir.path() / "db", false});
    REQUIRE_OK(s);
    REQUIRE_OK(put(**s, Table::kUsers, "alice", "1"));
  }
  // A second open while the first holds the lock is kIo.
  auto first = RocksDbAccountStore::open({dir.path() / "db", false});
  REQUIRE_OK(first);
  CHECK_REASON(RocksDbAccountStore::open({dir.path() / "db", false}), Reason::kIo);
  CHECK_REASON(RocksDbAccountStore::open({{}, false}), Reason::kMalformed);
}
#endif
