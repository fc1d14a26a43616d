// MetaStore conformance: the contract of server/storage/meta_store.h, run over every backend
// (MemoryStore; RocksDbStore with sync off and on; PgStore under READ COMMITTED and
// SERIALIZABLE). A new backend is added to BACKENDS and must
// pass unchanged. Cases follow Notary's storage suite (notary:server/storage/storage_test.go)
// where it applies, plus the rules where vouch deliberately differs (meta_store.h).

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "server/storage/meta_store.h"
#include "tests/unit/server/store_test_support.h"
#ifdef VOUCH_CONFORMANCE_POSTGRES
#include "tests/unit/server/pg_test_support.h"
#endif

using namespace vouch;
using namespace vouch::server;
using namespace vouch::server::testing;

// The same source builds two executables: server_meta_store_conformance_test (the embedded
// backends) and server_pg_store_conformance_test (PgStore on a real PostgreSQL server, which
// only that one links).
#ifdef VOUCH_CONFORMANCE_POSTGRES
#define BACKENDS PgBackend, PgSerializableBackend
#else
#define BACKENDS MemoryBackend, RocksDbBackend, RocksDbSyncBackend
#endif

namespace {

const std::vector<std::string> kBaseRoles = {"root", "targets", "snapshot", "timestamp"};

template <typename T>
Code code_of(const Result<T>& r) {
  return r.ok() ? Code::kOk : r.error().code;
}
template <typename T>
Reason reason_of(const Result<T>& r) {
  return r.ok() ? Reason::kNone : r.error().reason;
}

// The file is stored with exactly these properties, and found by version and by checksum;
// `current` says whether get_current must return it too.
void expect_file(MetaStore& s, std::string_view gun, std::string_view role, std::int64_t version,
                 std::string_view content, TimePoint created, bool current) {
  CAPTURE(gun);
  CAPTURE(role);
  CAPTURE(version);
  auto check = [&](const Result<StoredFile>& f) {
    REQUIRE_MESSAGE(f.ok(), f.error().message);
    CHECK(f->gun == gun);
    CHECK(f->role == role);
    CHECK(f->version == version);
    REQUIRE(f->bytes != nullptr);
    CHECK(*f->bytes == content);
    CHECK(f->sha256_hex == sha_hex(content));
    CHECK(f->created == created);
  };
  check(s.get_version(gun, role, version));
  check(s.get_checksum(gun, role, sha_hex(content)));
  auto c = s.get_current(gun, role);
  if (current) {
    check(c);
  } else {
    REQUIRE(c.ok());
    CHECK(c->version != version);
  }
}

void expect_absent(MetaStore& s, std::string_view gun, std::string_view role, std::int64_t version,
                   std::string_view content) {
  CAPTURE(gun);
  CAPTURE(role);
  CAPTURE(version);
  CHECK(code_of(s.get_version(gun, role, version)) == Code::kNotFound);
  CHECK(code_of(s.get_checksum(gun, role, sha_hex(content))) == Code::kNotFound);
}

std::vector<Change> all_changes(MetaStore& s, std::string_view gun = "") {
  std::vector<Change> out;
  std::string after = "0";
  for (;;) {
    auto page = s.get_changes(after, kMaxChangesPage, gun);
    REQUIRE_MESSAGE(page.ok(), page.error().message);
    if (page->empty()) return out;
    out.insert(out.end(), page->begin(), page->end());
    after = std::to_string(page->back().id);
  }
}

std::vector<std::int64_t> versions_of(const std::vector<Change>& changes) {
  std::vector<std::int64_t> v;
  for (const Change& c : changes) v.push_back(c.version);
  return v;
}

Status put_timestamp(MetaStore& s, std::string_view gun, std::int64_t version) {
  std::vector<NewFile> f{sample_file(gun, "timestamp", version)};
  return s.update_many(gun, f);
}

}  // namespace

TEST_CASE_TEMPLATE("an empty store finds nothing", B, BACKENDS) {
  B b;
  MetaStore& s = b.store();
  CHECK(code_of(s.get_current("gun", "root")) == Code::kNotFound);
  CHECK(reason_of(s.get_current("gun", "root")) == Reason::kNotFound);
  CHECK(code_of(s.get_version("gun", "root", 1)) == Code::kNotFound);
  CHECK(code_of(s.get_checksum("gun", "root", sha_hex("x"))) == Code::kNotFound);
  auto roles = s.list_roles("gun");
  REQUIRE(roles.ok());
  CHECK(roles->empty());
  auto changes = s.get_changes("0", 10, "");
  REQUIRE(changes.ok());
  CHECK(changes->empty());
  // Deleting nothing succeeds and records nothing (Notary).
  CHECK(s.delete_gun("gun").ok());
  CHECK(all_changes(s).empty());
  CHECK(s.check_health().ok());
  // An empty batch is a no-op.
  CHECK(s.update_many("gun", {}).ok());
  CHECK(s.list_roles("gun")->empty());
}

TEST_CASE_TEMPLATE("update_many stores files of several GUNs and roles", B, BACKENDS) {
  // Notary: testUpdateCurrentEmptyStore.
  B b;
  MetaStore& s = b.store();
  std::vector<std::string> roles = kBaseRoles;
  roles.push_back("targets/a");
  for (const std::string& role : roles) {
    for (std::string gun : {"gun1", "gun2"}) {
      std::vector<NewFile> f{sample_file(gun, role, 1)};
      REQUIRE(s.update_many(gun, f).ok());
    }
  }
  for (const std::string& role : roles) {
    for (std::string gun : {"gun1", "gun2"}) {
      expect_file(s, gun, role, 1, sample(gun, role, 1), test_epoch(), true);
    }
  }
  // Not found: another version, another role, another GUN.
  CHECK(code_of(s.get_version("gun1", "root", 2)) == Code::kNotFound);
  CHECK(code_of(s.get_current("gun1", "targets/b")) == Code::kNotFound);
  CHECK(code_of(s.get_current("gun3", "root")) == Code::kNotFound);
}

TEST_CASE_TEMPLATE("versions must be strictly greater than the current one", B, BACKENDS) {
  // Notary: testUpdateCurrentVersionCheck, with the reason telling a lost race (equal) from a
  // stale upload (lower).
  B b;
  MetaStore& s = b.store();
  const std::string gun = "testGUN";
  for (std::int64_t v : {1, 2, 4}) {
    std::vector<NewFile> f{sample_file(gun, "root", v)};
    REQUIRE(s.update_many(gun, f).ok());
  }
  {
    std::vector<NewFile> f{file("root", 4, "other bytes")};
    Status st = s.update_many(gun, f);
    CHECK(st.error().code == Code::kFailedPrecondition);
    CHECK(st.error().reason == Reason::kConflict);
  }
  {
    std::vector<NewFile> f{file("root", 3, "other bytes")};
    Status st = s.update_many(gun, f);
    CHECK(st.error().code == Code::kFailedPrecondition);
    CHECK(st.error().reason == Reason::kRollback);
  }
  {
    std::vector<NewFile> f{file("root", 1, "other bytes")};
    CHECK(s.update_many(gun, f).error().reason == Reason::kRollback);
  }
  expect_file(s, gun, "root", 1, sample(gun, "root", 1), test_epoch(), false);
  expect_file(s, gun, "root", 2, sample(gun, "root", 2), test_epoch(), false);
  expect_file(s, gun, "root", 4, sample(gun, "root", 4), test_epoch(), true);
  expect_absent(s, gun, "root", 3, "other bytes");
  // The version check is per role and per GUN.
  std::vector<NewFile> other{sample_file(gun, "targets", 1)};
  CHECK(s.update_many(gun, other).ok());
  std::vector<NewFile> other_gun{sample_file("gun2", "root", 1)};
  CHECK(s.update_many("gun2", other_gun).ok());
}

TEST_CASE_TEMPLATE("get_version finds exactly the stored versions", B, BACKENDS) {
  // Notary: testGetVersion.
  B b;
  MetaStore& s = b.store();
  CHECK(code_of(s.get_version("gun", "role", 2)) == Code::kNotFound);
  std::vector<NewFile> f{file("role", 2, "version2")};
  REQUIRE(s.update_many("gun", f).ok());
  auto got = s.get_version("gun", "role", 2);
  REQUIRE(got.ok());
  CHECK(*got->bytes == "version2");
  CHECK(code_of(s.get_version("gun", "role", 3)) == Code::kNotFound);
  CHECK(code_of(s.get_version("gun", "role", 1)) == Code::kNotFound);
  CHECK(code_of(s.get_version("gun", "role", -2)) == Code::kNotFound);
  CHECK(code_of(s.get_version("badgun", "badrole", 2)) == Code::kNotFound);
  CHECK(code_of(s.get_version("gun", "badrole", 2)) == Code::kNotFound);
}

TEST_CASE_TEMPLATE("update_many without conflicts, several versions of a role", B, BACKENDS) {
  // Notary: testUpdateManyNoConflicts.
  B b;
  MetaStore& s = b.store();
  const std::string gun = "testGUN";
  std::vector<NewFile> first, second;
  for (const std::string& role : kBaseRoles) {
    first.push_back(sample_file(gun, role, 1));
    second.push_back(sample_file(gun, role, 2));
  }
  REQUIRE(s.update_many(gun, first).ok());
  for (const std::string& role : kBaseRoles) {
    expect_file(s, gun, role, 1, sample(gun, role, 1), test_epoch(), true);
  }
  const TimePoint t2 = test_epoch() + std::chrono::seconds(10);
  b.clock.set(t2);
  REQUIRE(s.update_many(gun, second).ok());
  for (const std::string& role : kBaseRoles) {
    expect_file(s, gun, role, 1, sample(gun, role, 1), test_epoch(), false);
    expect_file(s, gun, role, 2, sample(gun, role, 2), t2, true);
  }
  // Two versions of one role in one batch, out of order: both stored, the higher is current.
  std::vector<NewFile> third{sample_file(gun, "root", 4), sample_file(gun, "root", 3)};
  REQUIRE(s.update_many(gun, third).ok());
  expect_file(s, gun, "root", 3, sample(gun, "root", 3), t2, false);
  expect_file(s, gun, "root", 4, sample(gun, "root", 4), t2, true);
}

TEST_CASE_TEMPLATE("a conflicting batch stores nothing", B, BACKENDS) {
  // Notary: testUpdateManyConflictRollback.
  B b;
  MetaStore& s = b.store();
  const std::string gun = "testGUN";
  std::vector<NewFile> good;
  for (const std::string& role : kBaseRoles) good.push_back(sample_file(gun, role, 1));
  REQUIRE(s.update_many(gun, good).ok());
  const auto before = all_changes(s);
  REQUIRE(before.size() == 1);

  // Conflicts with what is stored (targets stays at version 1): nothing of it is stored.
  std::vector<NewFile> bad;
  for (const std::string& role : kBaseRoles) {
    std::int64_t v = role == "targets" ? 1 : 2;
    bad.push_back(file(role, v, gun + "_" + role + "_" + std::to_string(v) + "_bad"));
  }
  Status st = s.update_many(gun, bad);
  CHECK(st.error().code == Code::kFailedPrecondition);
  CHECK(st.error().reason == Reason::kConflict);

  // Repeats a (role, version) pair within the batch.
  NewFile dup = file("timestamp", 3, "duplicate");
  std::vector<NewFile> dups{dup, dup};
  st = s.update_many(gun, dups);
  CHECK(st.error().code == Code::kFailedPrecondition);
  CHECK(st.error().reason == Reason::kConflict);
  // Same (role, version) with different bytes is no better.
  std::vector<NewFile> dups2{file("timestamp", 3, "x"), file("timestamp", 3, "y")};
  CHECK(s.update_many(gun, dups2).error().reason == Reason::kConflict);

  for (const std::string& role : kBaseRoles) {
    expect_file(s, gun, role, 1, sample(gun, role, 1), test_epoch(), true);
  }
  for (const NewFile& f : bad) {
    CHECK(code_of(s.get_checksum(gun, f.role, sha_hex(*f.bytes))) == Code::kNotFound);
  }
  CHECK(code_of(s.get_checksum(gun, "timestamp", sha_hex("duplicate"))) == Code::kNotFound);
  CHECK(code_of(s.get_version(gun, "timestamp", 2)) == Code::kNotFound);
  CHECK(all_changes(s) == before);
}

TEST_CASE_TEMPLATE("invalid input is rejected before anything is stored", B, BACKENDS) {
  B b;
  MetaStore& s = b.store();
  const std::string too_long(kMaxNameBytes + 1, 'x');
  auto reason = [&](std::string_view gun, std::vector<NewFile> files) {
    Status st = s.update_many(gun, files);
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().code == default_code(st.error().reason));
    return st.error().reason;
  };
  // Each batch also carries a valid file, which must not be stored either.
  CHECK(reason("", {file("root", 1, "r")}) == Reason::kBadGun);
  CHECK(reason(too_long, {file("root", 1, "r")}) == Reason::kBadGun);
  CHECK(reason("gun", {file("root", 1, "r"), file("", 1, "x")}) == Reason::kBadRole);
  CHECK(reason("gun", {file("root", 1, "r"), file(too_long, 1, "x")}) == Reason::kBadRole);
  CHECK(reason("gun", {file("root", 1, "r"), file("targets", -1, "x")}) == Reason::kBadVersion);
  CHECK(reason("gun", {file("root", 1, "r"), NewFile{"targets", 1, nullptr}}) ==
        Reason::kMalformed);
  CHECK(s.update_many("gun", std::vector<NewFile>{file("root", 1, "r"), file("", 1, "x")})
            .error()
            .code == Code::kInvalidArgument);
  CHECK(code_of(s.get_current("gun", "root")) == Code::kNotFound);
  CHECK(s.list_roles("gun")->empty());
  CHECK(s.delete_gun("").error().reason == Reason::kBadGun);
  CHECK(s.delete_gun(too_long).error().reason == Reason::kBadGun);
  // Lookups with names that cannot be stored find nothing.
  CHECK(code_of(s.get_current("", "root")) == Code::kNotFound);
  CHECK(code_of(s.get_current("gun", too_long)) == Code::kNotFound);
  CHECK(code_of(s.get_version(too_long, "root", 1)) == Code::kNotFound);
  CHECK(s.list_roles("")->empty());
  CHECK(s.get_changes("0", 10, too_long)->empty());
  // Names at the limit and empty bytes are fine.
  const std::string longest(kMaxNameBytes, 'y');
  std::vector<NewFile> edge{file(longest, 1, ""), file("zero", 0, "v0")};
  REQUIRE(s.update_many(longest, edge).ok());
  expect_file(s, longest, longest, 1, "", test_epoch(), true);
  expect_file(s, longest, "zero", 0, "v0", test_epoch(), true);
}

TEST_CASE_TEMPLATE("get_checksum matches GUN, role and exact lowercase hex", B, BACKENDS) {
  B b;
  MetaStore& s = b.store();
  // The same bytes under two roles and two versions.
  std::vector<NewFile> f{file("targets/a", 1, "same"), file("targets/b", 5, "same")};
  REQUIRE(s.update_many("gun", f).ok());
  std::vector<NewFile> g{file("targets/a", 2, "same")};
  REQUIRE(s.update_many("gun", g).ok());
  const std::string h = sha_hex("same");
  auto a = s.get_checksum("gun", "targets/a", h);
  REQUIRE(a.ok());
  CHECK(a->role == "targets/a");
  CHECK(a->version == 2);  // identical bytes in several versions: the highest
  auto bb = s.get_checksum("gun", "targets/b", h);
  REQUIRE(bb.ok());
  CHECK(bb->version == 5);
  CHECK(code_of(s.get_checksum("gun", "targets/c", h)) == Code::kNotFound);
  CHECK(code_of(s.get_checksum("other", "targets/a", h)) == Code::kNotFound);
  std::string upper = h;
  std::transform(upper.begin(), upper.end(), upper.begin(), [](char c) {
    return static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  });
  CHECK(code_of(s.get_checksum("gun", "targets/a", upper)) == Code::kNotFound);
  CHECK(code_of(s.get_checksum("gun", "targets/a", h.substr(0, 63))) == Code::kNotFound);
  CHECK(code_of(s.get_checksum("gun", "targets/a", h + "0")) == Code::kNotFound);
  CHECK(code_of(s.get_checksum("gun", "targets/a", "")) == Code::kNotFound);
  CHECK(code_of(s.get_checksum("gun", "targets/a", std::string(64, 'g'))) == Code::kNotFound);
}

TEST_CASE_TEMPLATE("list_roles returns each role's current version", B, BACKENDS) {
  B b;
  MetaStore& s = b.store();
  std::vector<NewFile> first;
  for (const std::string& role : kBaseRoles) first.push_back(sample_file("gun", role, 1));
  first.push_back(sample_file("gun", "targets/releases", 1));
  REQUIRE(s.update_many("gun", first).ok());
  const TimePoint t2 = test_epoch() + std::chrono::minutes(1);
  b.clock.set(t2);
  std::vector<NewFile> second{sample_file("gun", "snapshot", 2), sample_file("gun", "timestamp", 2),
                              sample_file("gun", "timestamp", 3)};
  REQUIRE(s.update_many("gun", second).ok());
  std::vector<NewFile> other{sample_file("gun/other", "root", 7)};
  REQUIRE(s.update_many("gun/other", other).ok());

  auto roles = s.list_roles("gun");
  REQUIRE(roles.ok());
  std::vector<std::string> names;
  for (const RoleVersion& r : *roles) names.push_back(r.role);
  CHECK(names ==
        std::vector<std::string>{"root", "snapshot", "targets", "targets/releases", "timestamp"});
  std::map<std::string, RoleVersion> by_name;
  for (const RoleVersion& r : *roles) by_name[r.role] = r;
  CHECK(by_name["root"].version == 1);
  CHECK(by_name["root"].created == test_epoch());
  CHECK(by_name["root"].sha256_hex == sha_hex(sample("gun", "root", 1)));
  CHECK(by_name["snapshot"].version == 2);
  CHECK(by_name["snapshot"].created == t2);
  CHECK(by_name["timestamp"].version == 3);
  CHECK(by_name["timestamp"].sha256_hex == sha_hex(sample("gun", "timestamp", 3)));
  auto other_roles = s.list_roles("gun/other");
  REQUIRE(other_roles->size() == 1);
  CHECK((*other_roles)[0].version == 7);
  CHECK(s.list_roles("gu")->empty());
}

TEST_CASE_TEMPLATE("delete_gun removes every version of exactly one GUN", B, BACKENDS) {
  // Notary: testDeleteSuccess, plus GUNs that Notary's memory store confused with a prefix.
  B b;
  MetaStore& s = b.store();
  const std::string gun = "testGUN";
  std::vector<std::string> roles = kBaseRoles;
  roles.push_back("targets/a");
  std::vector<NewFile> files;
  for (std::int64_t v = 1; v < 3; ++v) {
    for (const std::string& role : roles) files.push_back(sample_file(gun, role, v));
  }
  REQUIRE(s.update_many(gun, files).ok());
  // Neighbours: "testGUN" is a prefix of these, and "testGUN" + "." + role aliased in Notary.
  for (std::string neighbour : {"testGUN/x", "testGUNx", "testGUN.targets", "testGU"}) {
    std::vector<NewFile> f{sample_file(neighbour, "targets", 1), sample_file(neighbour, "a", 1)};
    REQUIRE(s.update_many(neighbour, f).ok());
  }

  REQUIRE(s.delete_gun(gun).ok());
  for (const NewFile& f : files) {
    CHECK(code_of(s.get_current(gun, f.role)) == Code::kNotFound);
    expect_absent(s, gun, f.role, f.version, *f.bytes);
  }
  CHECK(s.list_roles(gun)->empty());
  for (std::string neighbour : {"testGUN/x", "testGUNx", "testGUN.targets", "testGU"}) {
    expect_file(s, neighbour, "targets", 1, sample(neighbour, "targets", 1), test_epoch(), true);
    CHECK(s.list_roles(neighbour)->size() == 2);
  }
  auto changes = all_changes(s);
  REQUIRE(changes.size() == 3);  // two timestamp versions, one deletion
  CHECK(changes[2].category == Change::Category::kDeletion);
  CHECK(changes[2].gun == gun);
  CHECK(changes[2].version == 0);
  CHECK(changes[2].sha256_hex.empty());

  // The same files can be written again, versions starting over, and deleted again.
  REQUIRE(s.update_many(gun, files).ok());
  expect_file(s, gun, "root", 2, sample(gun, "root", 2), test_epoch(), true);
  REQUIRE(s.delete_gun(gun).ok());
  CHECK(s.list_roles(gun)->empty());
  // Deleting what is already gone records nothing.
  REQUIRE(s.delete_gun(gun).ok());
  changes = all_changes(s);
  REQUIRE(changes.size() == 6);
  CHECK(changes[5].category == Change::Category::kDeletion);
  CHECK(changes[4].category == Change::Category::kUpdate);
}

TEST_CASE_TEMPLATE("hostile GUNs and role names never alias", B, BACKENDS) {
  // REFERENCE §9: names are bytes. Pairs that a naive "gun/role" or "gun.role" key (or a
  // NUL-terminated one) would confuse, escapes of our own encoding, and long names.
  using namespace std::string_literals;
  const std::string k(kMaxNameBytes - 1, 'k');
  // clang-format off
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"a/b", "c"},           {"a", "b/c"},         {"a.b", "c"},           {"a", "b.c"},
      {"a\0b"s, "c"},         {"a", "b\0c"s},       {"a\0"s, "b"},          {"a", "\0b"s},
      {"a\0\x01"s, "b"},      {"a", "\x01" "b"},    {"a\0\xff"s, "b"},      {"a", "\xff" "b"},
      {"a\0\x01" "b"s, "c"},  {"a", "b\0\x01" "c"s}, {"\0"s, "\0"s},        {"\0\0"s, "\0"s},
      {"\0"s, "\0\0"s},       {"\xff", "\xff"},     {"..", "../root"},      {"/abs", "root"},
      {"%2e%2e", "root"},     {"a", "b"},           {"ab", "c"},            {"a", "bc"},
      {k + "k", "root"},      {k, "kroot"},         {k, "\0root"s},         {k + "k", k + "k"},
      {"a ", "b"},            {"a", " b"},          {"A", "b"},             {"a\n", "b"},
  };
  // clang-format on

  B b;
  MetaStore& s = b.store();
  std::map<std::string, std::set<std::string>> roles_of;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    const auto& [gun, role] = pairs[i];
    std::vector<NewFile> f{file(role, 1, "content-" + std::to_string(i))};
    REQUIRE_MESSAGE(s.update_many(gun, f).ok(), "pair " << i);
    roles_of[gun].insert(role);
  }
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    CAPTURE(i);
    const auto& [gun, role] = pairs[i];
    expect_file(s, gun, role, 1, "content-" + std::to_string(i), test_epoch(), true);
    // Nobody else's bytes are reachable under this pair.
    for (std::size_t j = 0; j < pairs.size(); ++j) {
      if (j == i) continue;
      CHECK(code_of(s.get_checksum(gun, role, sha_hex("content-" + std::to_string(j)))) ==
            Code::kNotFound);
    }
  }
  for (const auto& [gun, roles] : roles_of) {
    auto listed = s.list_roles(gun);
    REQUIRE(listed.ok());
    std::set<std::string> got;
    for (const RoleVersion& r : *listed) got.insert(r.role);
    CHECK(got == roles);
  }
  // Deleting GUN "a" leaves every other GUN intact, including "a\0..." and "a/b".
  REQUIRE(s.delete_gun("a").ok());
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    CAPTURE(i);
    const auto& [gun, role] = pairs[i];
    auto got = s.get_current(gun, role);
    if (gun == "a") {
      CHECK(code_of(got) == Code::kNotFound);
    } else {
      REQUIRE(got.ok());
      CHECK(*got->bytes == "content-" + std::to_string(i));
    }
  }
  // Per-GUN changefeeds do not alias either.
  REQUIRE(put_timestamp(s, "a\0"s, 1).ok());
  REQUIRE(put_timestamp(s, "a", 1).ok());
  CHECK(all_changes(s, "a\0"s).size() == 1);
  CHECK(all_changes(s, "a").size() == 2);  // the deletion and the new timestamp
  CHECK(all_changes(s, "\0"s).empty());
}

TEST_CASE_TEMPLATE("changefeed: Notary's GetChanges cases", B, BACKENDS) {
  // Notary: testGetChanges.
  B b;
  MetaStore& s = b.store();
  auto bad = s.get_changes("foo", 10, "");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == Code::kInvalidArgument);
  CHECK(bad.error().reason == Reason::kMalformed);

  for (std::string gun : {"alpine", "busybox"}) {
    for (std::int64_t v = 1; v <= 4; ++v) {
      std::vector<NewFile> f{file("timestamp", v, gun + std::to_string(v))};
      REQUIRE(s.update_many(gun, f).ok());
    }
  }
  auto full = s.get_changes("0", 8, "");
  REQUIRE(full.ok());
  REQUIRE(full->size() == 8);
  for (std::size_t i = 0; i < 8; ++i) {
    const Change& c = (*full)[i];
    CHECK(c.gun == (i < 4 ? "alpine" : "busybox"));
    CHECK(c.version == static_cast<std::int64_t>(i % 4 + 1));
    CHECK(c.category == Change::Category::kUpdate);
    CHECK(c.sha256_hex == sha_hex(c.gun + std::to_string(c.version)));
    CHECK(c.created == test_epoch());
    if (i > 0) CHECK(c.id > (*full)[i - 1].id);
  }
  CHECK(to_string(Change::Category::kUpdate) == "update");
  CHECK(to_string(Change::Category::kDeletion) == "deletion");

  auto c = s.get_changes("-1", 4, "");  // the newest 4, oldest first
  REQUIRE(c->size() == 4);
  CHECK(std::vector<Change>(full->begin() + 4, full->end()) == *c);

  c = s.get_changes(std::to_string((*full)[7].id), 4, "");  // nothing after the last
  CHECK(c->empty());

  c = s.get_changes(std::to_string((*full)[6].id), -4, "");  // the 4 before the 7th
  CHECK(std::vector<Change>(full->begin() + 2, full->begin() + 6) == *c);

  c = s.get_changes("0", 8, "busybox");
  CHECK(std::vector<Change>(full->begin() + 4, full->end()) == *c);
  c = s.get_changes("-1", -8, "busybox");
  CHECK(std::vector<Change>(full->begin() + 4, full->end()) == *c);

  // Only timestamps make changes.
  auto before = s.get_changes("-1", -1, "");
  std::vector<NewFile> snap{file("snapshot", 1, "1")};
  REQUIRE(s.update_many("alpine", snap).ok());
  CHECK(*s.get_changes("-1", -1, "") == *before);

  CHECK(s.get_changes("1000", 0, "").ok());
  CHECK(s.get_changes("doesn't exist", 0, "").error().reason == Reason::kMalformed);

  // A deletion shows up; deleting again (nothing left) does not.
  const TimePoint t2 = test_epoch() + std::chrono::hours(1);
  b.clock.set(t2);
  REQUIRE(s.delete_gun("alpine").ok());
  c = s.get_changes("-1", -1, "");
  REQUIRE(c->size() == 1);
  CHECK((*c)[0].category == Change::Category::kDeletion);
  CHECK((*c)[0].gun == "alpine");
  CHECK((*c)[0].created == t2);
  REQUIRE(s.delete_gun("alpine").ok());
  c = s.get_changes("-1", -2, "");
  REQUIRE(c->size() == 2);
  CHECK((*c)[0].category == Change::Category::kUpdate);
  CHECK((*c)[0].gun == "busybox");
  CHECK((*c)[1].category == Change::Category::kDeletion);
}

TEST_CASE_TEMPLATE("changefeed: paging, page sizes and ordering", B, BACKENDS) {
  B b;
  MetaStore& s = b.store();
  // 1005 timestamp versions in one batch: 1005 changes in version order.
  std::vector<NewFile> many;
  for (std::int64_t v = 1005; v >= 1; --v) {
    many.push_back(file("timestamp", v, "ts" + std::to_string(v)));
  }
  REQUIRE(s.update_many("many", many).ok());
  std::vector<NewFile> other{file("timestamp", 1, "o1"), file("targets", 1, "t1")};
  REQUIRE(s.update_many("other", other).ok());

  const auto all = all_changes(s);
  REQUIRE(all.size() == 1006);
  std::vector<std::int64_t> expected_versions;
  for (std::int64_t v = 1; v <= 1005; ++v) expected_versions.push_back(v);
  expected_versions.push_back(1);
  CHECK(versions_of(all) == expected_versions);
  for (std::size_t i = 1; i < all.size(); ++i) CHECK(all[i].id > all[i - 1].id);

  auto page = [&](std::string_view id, int records, std::string_view gun = "") {
    auto r = s.get_changes(id, records, gun);
    REQUIRE_MESSAGE(r.ok(), r.error().message);
    return std::move(r).value();
  };
  // records = 0: the default page.
  CHECK(page("0", 0).size() == static_cast<std::size_t>(kDefaultChangesPage));
  CHECK(page("0", 0).front() == all.front());
  CHECK(page("-1", 0).size() == static_cast<std::size_t>(kDefaultChangesPage));
  CHECK(page("-1", 0).back() == all.back());
  // |records| is clamped.
  CHECK(page("0", 5000).size() == static_cast<std::size_t>(kMaxChangesPage));
  auto newest = page("0", -5000);  // id 0 with negative records: the newest page
  REQUIRE(newest.size() == static_cast<std::size_t>(kMaxChangesPage));
  CHECK(newest.back() == all.back());
  CHECK(newest.front() == all[all.size() - kMaxChangesPage]);
  CHECK(page("-1", -3) == std::vector<Change>(all.end() - 3, all.end()));
  CHECK(page("-7", 3) == std::vector<Change>(all.end() - 3, all.end()));  // any negative id
  // Excludes the given id, which need not exist.
  const std::int64_t mid = all[500].id;
  CHECK(page(std::to_string(mid), 2) == std::vector<Change>(all.begin() + 501, all.begin() + 503));
  CHECK(page(std::to_string(mid), -2) == std::vector<Change>(all.begin() + 498, all.begin() + 500));
  CHECK(page("+" + std::to_string(mid), 1).front() == all[501]);
  CHECK(page(std::to_string(all.back().id + 100), 10).empty());
  CHECK(page(std::to_string(all.back().id + 100), -2) ==
        std::vector<Change>(all.end() - 2, all.end()));
  CHECK(page("1", -10).empty());
  CHECK(page("9223372036854775807", 10).empty());
  CHECK(page("", 1).front() == all.front());
  CHECK(page("-0", 1).front() == all.front());
  // Filtered, both directions.
  CHECK(page("0", 10, "other") == std::vector<Change>{all.back()});
  CHECK(page(std::to_string(all.back().id), -10, "other").empty());
  CHECK(page(std::to_string(all.back().id), -3, "many") ==
        std::vector<Change>(all.end() - 4, all.end() - 1));
  CHECK(page("0", 10, "nobody").empty());
  CHECK(page("-1", -10, "nobody").empty());
  // Malformed ids.
  for (std::string id : {"1.5", " 1", "1 ", "0x10", "--1", "+", "-", "1e3", "99999999999999999999",
                         "-9223372036854775809", "9223372036854775808", "١"}) {
    CAPTURE(id);
    auto r = s.get_changes(id, 10, "");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::kInvalidArgument);
    CHECK(r.error().reason == Reason::kMalformed);
  }
}

TEST_CASE_TEMPLATE("large files and extreme versions", B, BACKENDS) {
  B b;
  MetaStore& s = b.store();
  std::string big(std::size_t{8} << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 131) ^ (i >> 9));
  std::vector<NewFile> f{file("targets", 1, big), file("root", 0, "zero"),
                         file("snapshot", INT64_MAX, "max")};
  REQUIRE(s.update_many("gun", f).ok());
  expect_file(s, "gun", "targets", 1, big, test_epoch(), true);
  expect_file(s, "gun", "root", 0, "zero", test_epoch(), true);
  expect_file(s, "gun", "snapshot", INT64_MAX, "max", test_epoch(), true);
  std::vector<NewFile> again{file("snapshot", INT64_MAX, "max2")};
  CHECK(s.update_many("gun", again).error().reason == Reason::kConflict);
  // Many versions: every one is kept and the highest is current, across byte boundaries of the
  // version encoding.
  for (std::int64_t v = 1; v <= 300; ++v) {
    std::vector<NewFile> g{sample_file("gun", "root", v)};
    REQUIRE(s.update_many("gun", g).ok());
    CHECK(s.get_current("gun", "root")->version == v);
  }
  for (std::int64_t v : {0, 1, 127, 128, 255, 256, 257, 300}) {
    auto got = s.get_version("gun", "root", v);
    REQUIRE(got.ok());
    CHECK(*got->bytes == (v == 0 ? "zero" : sample("gun", "root", v)));
  }
}

TEST_CASE_TEMPLATE("persistence: reopening keeps everything", B, BACKENDS) {
  B b;
  if constexpr (!B::persistent()) return;
  MetaStore* s = &b.store();
  std::vector<NewFile> f;
  for (const std::string& role : kBaseRoles) f.push_back(sample_file("gun", role, 1));
  REQUIRE(s->update_many("gun", f).ok());
  REQUIRE(put_timestamp(*s, "gun", 2).ok());
  REQUIRE(put_timestamp(*s, "doomed", 1).ok());
  REQUIRE(s->delete_gun("doomed").ok());
  const auto changes = all_changes(*s);
  REQUIRE(changes.size() == 4);

  b.reopen();
  s = &b.store();
  for (const std::string& role : kBaseRoles) {
    expect_file(*s, "gun", role, 1, sample("gun", role, 1), test_epoch(), role != "timestamp");
  }
  expect_file(*s, "gun", "timestamp", 2, sample("gun", "timestamp", 2), test_epoch(), true);
  CHECK(s->list_roles("doomed")->empty());
  CHECK(all_changes(*s) == changes);
  // The version check and the change ids carry on from where they were.
  std::vector<NewFile> stale{file("timestamp", 2, "x")};
  CHECK(s->update_many("gun", stale).error().reason == Reason::kConflict);
  REQUIRE(put_timestamp(*s, "gun", 3).ok());
  auto after = all_changes(*s);
  REQUIRE(after.size() == 5);
  CHECK(after[4].id > changes.back().id);
  CHECK(after[4].version == 3);
}

TEST_CASE_TEMPLATE("concurrent publishers to one GUN: exactly one wins each version", B, BACKENDS) {
  B b;
  MetaStore& s = b.store();
  constexpr int kThreads = 4;
  constexpr std::int64_t kVersions = 40;
  // wins[t][v]: thread t stored version v. Every thread tries every version with its own bytes
  // (snapshot and timestamp at that version, as two publishers that read the same state do).
  std::vector<std::vector<bool>> wins(kThreads, std::vector<bool>(kVersions + 1));
  std::atomic<int> unexpected{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (std::int64_t v = 1; v <= kVersions; ++v) {
        const std::string tag = "t" + std::to_string(t) + "v" + std::to_string(v);
        std::vector<NewFile> f{file("snapshot", v, "s" + tag), file("timestamp", v, "ts" + tag)};
        Status st = s.update_many("racy", f);
        if (st.ok()) {
          wins[static_cast<std::size_t>(t)][static_cast<std::size_t>(v)] = true;
        } else if (st.error().reason != Reason::kConflict &&
                   st.error().reason != Reason::kRollback) {
          ++unexpected;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(unexpected.load() == 0);
  for (std::int64_t v = 1; v <= kVersions; ++v) {
    CAPTURE(v);
    int winners = 0;
    int winner = -1;
    for (int t = 0; t < kThreads; ++t) {
      if (wins[static_cast<std::size_t>(t)][static_cast<std::size_t>(v)]) {
        ++winners;
        winner = t;
      }
    }
    REQUIRE(winners == 1);
    // The stored files of that version are the winner's, both of them.
    const std::string tag = "t" + std::to_string(winner) + "v" + std::to_string(v);
    CHECK(*s.get_version("racy", "timestamp", v)->bytes == "ts" + tag);
    CHECK(*s.get_version("racy", "snapshot", v)->bytes == "s" + tag);
  }
  auto changes = all_changes(s, "racy");
  std::vector<std::int64_t> expected;
  for (std::int64_t v = 1; v <= kVersions; ++v) expected.push_back(v);
  CHECK(versions_of(changes) == expected);
}

TEST_CASE_TEMPLATE("concurrent writers of different GUNs: a forward reader misses nothing", B,
                   BACKENDS) {
  B b;
  MetaStore& s = b.store();
  constexpr int kWriters = 4;
  constexpr std::int64_t kEach = 30;
  std::atomic<int> done{0};
  std::atomic<int> failures{0};
  std::vector<Change> seen;
  std::thread reader([&] {
    // Pages forward from the last id seen, as a changefeed consumer does, until the writers
    // are done and one more read finds nothing new.
    std::string after = "0";
    for (;;) {
      const bool finished = done.load() == kWriters;
      auto page = s.get_changes(after, 7, "");
      if (!page.ok()) {
        ++failures;
        return;
      }
      if (page->empty() && finished) return;
      for (Change& c : *page) seen.push_back(std::move(c));
      if (!seen.empty()) after = std::to_string(seen.back().id);
      std::this_thread::yield();
    }
  });
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      const std::string gun = "gun" + std::to_string(w);
      for (std::int64_t v = 1; v <= kEach; ++v) {
        if (!put_timestamp(s, gun, v).ok()) ++failures;
      }
      ++done;
    });
  }
  for (auto& th : writers) th.join();
  reader.join();
  CHECK(failures.load() == 0);
  const auto all = all_changes(s);
  REQUIRE(all.size() == static_cast<std::size_t>(kWriters * kEach));
  CHECK(seen == all);
  // Per GUN, the changes come in version order.
  for (int w = 0; w < kWriters; ++w) {
    std::vector<std::int64_t> expected;
    for (std::int64_t v = 1; v <= kEach; ++v) expected.push_back(v);
    CHECK(versions_of(all_changes(s, "gun" + std::to_string(w))) == expected);
  }
}

TEST_CASE_TEMPLATE("readers see all or none of a batch", B, BACKENDS) {
  B b;
  MetaStore& s = b.store();
  constexpr std::int64_t kBatches = 60;
  std::atomic<bool> finished{false};
  std::atomic<int> torn{0};
  std::atomic<int> errors{0};
  std::thread reader([&] {
    while (!finished.load()) {
      auto roles = s.list_roles("gun");
      if (!roles.ok()) {
        ++errors;
        continue;
      }
      // Every batch writes the three roles at one version.
      for (const RoleVersion& r : *roles) {
        if (r.version != roles->front().version) ++torn;
      }
      if (!roles->empty() && roles->size() != 3) ++torn;
      std::this_thread::yield();
    }
  });
  for (std::int64_t v = 1; v <= kBatches; ++v) {
    std::vector<NewFile> f{sample_file("gun", "targets", v), sample_file("gun", "snapshot", v),
                           sample_file("gun", "timestamp", v)};
    REQUIRE(s.update_many("gun", f).ok());
  }
  finished = true;
  reader.join();
  CHECK(torn.load() == 0);
  CHECK(errors.load() == 0);
}

TEST_CASE_TEMPLATE("delete_gun racing update_many leaves a consistent GUN", B, BACKENDS) {
  B b;
  MetaStore& s = b.store();
  std::atomic<bool> finished{false};
  std::atomic<int> unexpected{0};
  std::thread deleter([&] {
    while (!finished.load()) {
      if (!s.delete_gun("gun").ok()) ++unexpected;
      std::this_thread::yield();
    }
  });
  for (int i = 0; i < 60; ++i) {
    // Publish the next version after whatever is current (a deletion restarts at 1).
    auto cur = s.get_current("gun", "timestamp");
    std::int64_t next = cur.ok() ? cur->version + 1 : 1;
    std::vector<NewFile> f{sample_file("gun", "snapshot", next),
                           sample_file("gun", "timestamp", next)};
    Status st = s.update_many("gun", f);
    if (!st.ok() && st.error().reason != Reason::kConflict &&
        st.error().reason != Reason::kRollback) {
      ++unexpected;
    }
  }
  finished = true;
  deleter.join();
  CHECK(unexpected.load() == 0);
  auto roles = s.list_roles("gun");
  REQUIRE(roles.ok());
  if (!roles->empty()) {
    REQUIRE(roles->size() == 2);
    CHECK((*roles)[0].version == (*roles)[1].version);
    for (const RoleVersion& r : *roles) {
      expect_file(s, "gun", r.role, r.version, sample("gun", r.role, r.version), test_epoch(),
                  true);
    }
  }
  // Between two deletions, the GUN's timestamp versions strictly increase.
  std::int64_t last = -1;
  for (const Change& c : all_changes(s, "gun")) {
    if (c.category == Change::Category::kDeletion) {
      last = -1;
    } else {
      CHECK(c.version > last);
      last = c.version;
    }
  }
}
