// RocksDbStore beyond the conformance suite: opening and reopening, the key layout seen from
// raw RocksDB (no aliasing), corrupt records, and crash consistency (a torn log, and a writer
// process killed mid-stream).

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "server/storage/rocksdb_store.h"
#include "tests/support/crash_child.h"
#include "tests/unit/server/store_test_support.h"


using namespace vouch;
using namespace vouch::server;
using namespace vouch::server::testing;
namespace fs = std::filesystem;

namespace {

RocksDbStoreOptions options_for(const fs::path& path, const Clock* clock = nullptr) {
  RocksDbStoreOptions o;
  o.path = path;
  o.sync_writes = false;
  o.verify_sha256_on_read = true;
  o.block_cache_bytes = std::size_t{1} << 20;
  o.clock = clock;
  return o;
}

std::unique_ptr<RocksDbStore> open_store(const RocksDbStoreOptions& o) {
  auto s = RocksDbStore::open(o);
  REQUIRE_MESSAGE(s.ok(), s.error().message);
  return std::move(s).value();
}

// Raw RocksDB access to a store's directory (while the store is closed).
std::unique_ptr<rocksdb::DB> open_raw(const fs::path& path, bool create = false) {
  rocksdb::Options o;
  o.create_if_missing = create;
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(o, path.string(), &db);
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  return std::unique_ptr<rocksdb::DB>(db);
}

std::map<std::string, std::string> raw_contents(rocksdb::DB& db) {
  std::map<std::string, std::string> out;
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(rocksdb::ReadOptions()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    out[it->key().ToString()] = it->value().ToString();
  }
  REQUIRE(it->status().ok());
  return out;
}

// The crash tests' workload: batch i (1-based) publishes {targets, snapshot, timestamp} at the
// next version of GUN "a" or "b" (alternating), so batch i has version (i + 1) / 2.
std::string crash_gun(int i) { return i % 2 == 1 ? "a" : "b"; }
std::int64_t crash_version(int i) { return (i + 1) / 2; }
std::vector<NewFile> crash_batch(int i) {
  std::vector<NewFile> f;
  for (std::string role : {"targets", "snapshot", "timestamp"}) {
    f.push_back(sample_file(crash_gun(i), role, crash_version(i)));
  }
  return f;
}

// Checks that the store holds exactly batches 1..n of the workload for some n (every batch
// whole or absent, and no batch without all its predecessors) and returns n.
int check_whole_prefix(MetaStore& s, int max_batches) {
  int n = 0;
  for (int i = 1; i <= max_batches; ++i) {
    int present = 0;
    for (const NewFile& f : crash_batch(i)) {
      auto got = s.get_version(crash_gun(i), f.role, f.version);
      if (got.ok()) {
        CHECK(*got->bytes == *f.bytes);
        ++present;
      } else {
        CHECK(got.error().code == Code::kNotFound);
      }
    }
    CAPTURE(i);
    CHECK((present == 0 || present == 3));  // a batch is all or nothing
    if (present == 3) {
      CHECK(n == i - 1);  // ... and never present without its predecessors
      n = i;
    }
  }
  // Current versions and the changefeed agree with the batches present.
  for (std::string gun : {"a", "b"}) {
    std::int64_t expected = 0;
    for (int i = 1; i <= n; ++i) {
      if (crash_gun(i) == gun) expected = crash_version(i);
    }
    auto roles = s.list_roles(gun);
    REQUIRE(roles.ok());
    if (expected == 0) {
      CHECK(roles->empty());
    } else {
      REQUIRE(roles->size() == 3);
      for (const RoleVersion& r : *roles) CHECK(r.version == expected);
    }
  }
  auto changes = s.get_changes("0", kMaxChangesPage, "");
  REQUIRE(changes.ok());
  REQUIRE(changes->size() == static_cast<std::size_t>(n));
  for (int i = 1; i <= n; ++i) {
    const Change& c = (*changes)[static_cast<std::size_t>(i - 1)];
    CHECK(c.gun == crash_gun(i));
    CHECK(c.version == crash_version(i));
  }
  return n;
}

// Child mode of this test binary (see "a killed writer process"): when started with
// VOUCH_STORE_CRASH_CHILD=<dir>, it publishes workload batches into the store at <dir> forever,
// writing the batch number to stdout after each one returns OK, until it is killed.
struct CrashChild {
  CrashChild() {
    const char* dir = std::getenv("VOUCH_STORE_CRASH_CHILD");
    if (dir == nullptr) return;
    RocksDbStoreOptions o;
    o.path = dir;
    o.sync_writes = true;
    auto store = RocksDbStore::open(o);
    if (!store) _exit(2);
    for (int i = 1;; ++i) {
      if (!(*store)->update_many(crash_gun(i), crash_batch(i)).ok()) _exit(3);
      std::printf("%d\n", i);
      std::fflush(stdout);
    }
  }
} crash_child;

}  // namespace

TEST_CASE("open: errors are reported, not thrown") {
  TempDir dir;
  SUBCASE("empty path") {
    auto s = RocksDbStore::open(RocksDbStoreOptions{});
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == Code::kInvalidArgument);
  }
  SUBCASE("missing database without create_if_missing") {
    auto o = options_for(dir.path() / "missing");
    o.create_if_missing = false;
    auto s = RocksDbStore::open(o);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().reason == Reason::kIo);
    CHECK_FALSE(fs::exists(dir.path() / "missing"));
  }
  SUBCASE("a second open of the same directory fails while the first is open") {
    auto first = open_store(options_for(dir.path() / "db"));
    auto second = RocksDbStore::open(options_for(dir.path() / "db"));
    REQUIRE_FALSE(second.ok());
    CHECK(second.error().reason == Reason::kIo);
    first.reset();
    CHECK(RocksDbStore::open(options_for(dir.path() / "db")).ok());
  }
  SUBCASE("a RocksDB database that is not a metadata store") {
    {
      auto raw = open_raw(dir.path() / "other", /*create=*/true);
      REQUIRE(raw->Put(rocksdb::WriteOptions(), "some", "data").ok());
    }
    auto s = RocksDbStore::open(options_for(dir.path() / "other"));
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == Code::kFailedPrecondition);
    // ... and it was left alone.
    auto raw = open_raw(dir.path() / "other");
    CHECK(raw_contents(*raw).size() == 1);
  }
  SUBCASE("a store of another format version") {
    open_store(options_for(dir.path() / "db")).reset();
    {
      auto raw = open_raw(dir.path() / "db");
      REQUIRE(raw->Put(rocksdb::WriteOptions(), "!format", "2").ok());
    }
    auto s = RocksDbStore::open(options_for(dir.path() / "db"));
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == Code::kFailedPrecondition);
  }
  SUBCASE("a file where the directory should be") {
    {
      std::FILE* f = std::fopen((dir.path() / "file").c_str(), "w");
      REQUIRE(f);
      std::fclose(f);
    }
    auto s = RocksDbStore::open(options_for(dir.path() / "file"));
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().reason == Reason::kIo);
  }
}

TEST_CASE("reopen after close and after flush keeps everything, change ids keep growing") {
  TempDir dir;
  FixedClock clock(test_epoch());
  auto o = options_for(dir.path() / "db", &clock);
  auto store = open_store(o);
  for (std::int64_t v = 1; v <= 3; ++v) {
    std::vector<NewFile> f{sample_file("gun", "root", v), sample_file("gun", "timestamp", v)};
    REQUIRE(store->update_many("gun", f).ok());
  }
  REQUIRE(store->flush().ok());  // versions 1-3 now in SST files, later ones only in the log
  clock.advance(std::chrono::seconds(5));
  std::vector<NewFile> f{sample_file("gun", "root", 4), sample_file("gun", "timestamp", 4)};
  REQUIRE(store->update_many("gun", f).ok());
  std::vector<NewFile> g{sample_file("gone", "timestamp", 1)};
  REQUIRE(store->update_many("gone", g).ok());
  REQUIRE(store->delete_gun("gone").ok());
  auto before = store->get_changes("0", 100, "");
  REQUIRE(before.ok());
  REQUIRE(before->size() == 6);

  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    store.reset();
    store = open_store(o);
    for (std::int64_t v = 1; v <= 4; ++v) {
      auto got = store->get_version("gun", "root", v);
      REQUIRE(got.ok());
      CHECK(*got->bytes == sample("gun", "root", v));
      CHECK(got->created == (v < 4 ? test_epoch() : test_epoch() + std::chrono::seconds(5)));
    }
    CHECK(store->get_current("gun", "timestamp")->version == 4);
    CHECK(store->list_roles("gun")->size() == 2);
    CHECK(store->list_roles("gone")->empty());
    CHECK(*store->get_changes("0", 100, "") == *before);
    if (round == 1) REQUIRE(store->flush().ok());
  }
  // New change ids continue above every id ever used, including the deletion's.
  std::vector<NewFile> h{sample_file("gun", "timestamp", 5)};
  REQUIRE(store->update_many("gun", h).ok());
  auto after = store->get_changes(std::to_string(before->back().id), 10, "");
  REQUIRE(after->size() == 1);
  CHECK(after->front().id > before->back().id);
  CHECK(store->check_health().ok());
}

// Bytes in the write-ahead log files of a database directory.
std::uintmax_t wal_bytes(const fs::path& db) {
  std::uintmax_t total = 0;
  for (const auto& e : fs::directory_iterator(db)) {
    if (e.path().extension() == ".log") total += e.file_size();
  }
  return total;
}

TEST_CASE("check_health reads and never writes (health probes are anonymous GETs)") {
  TempDir dir;
  auto o = options_for(dir.path() / "db");
  auto store = open_store(o);
  std::vector<NewFile> f{sample_file("gun", "timestamp", 1)};
  REQUIRE(store->update_many("gun", f).ok());
  const std::uintmax_t before = wal_bytes(o.path);
  REQUIRE(before > 0);
  for (int i = 0; i < 100; ++i) REQUIRE(store->check_health().ok());
  CHECK(wal_bytes(o.path) == before);
  // A write still lands in the same log (the measure above would have seen one).
  std::vector<NewFile> g{sample_file("gun", "timestamp", 2)};
  REQUIRE(store->update_many("gun", g).ok());
  CHECK(wal_bytes(o.path) > before);
}

TEST_CASE("change ids stay above every stored change even when the counter lags") {
  // Batches of different GUNs can commit out of id order, leaving the counter below the last
  // change record; ids after a reopen must still be new.
  TempDir dir;
  const fs::path path = dir.path() / "db";
  {
    auto store = open_store(options_for(path));
    for (std::int64_t v = 1; v <= 5; ++v) {
      std::vector<NewFile> f{sample_file("gun", "timestamp", v)};
      REQUIRE(store->update_many("gun", f).ok());
    }
  }
  for (std::string counter : {std::string(8, '\0'), std::string("\0\0\0\0\0\0\0\x02", 8)}) {
    {
      auto raw = open_raw(path);
      REQUIRE(raw->Put(rocksdb::WriteOptions(), "nchangefeed", counter).ok());
    }
    auto store = open_store(options_for(path));
    auto before = store->get_changes("-1", -1, "");
    REQUIRE(before->size() == 1);
    const std::string gun = "other" + std::to_string(static_cast<int>(counter[7]));
    std::vector<NewFile> f{sample_file(gun, "timestamp", 1)};
    REQUIRE(store->update_many(gun, f).ok());
    auto after = store->get_changes("-1", -1, "");
    CHECK(after->front().id == before->front().id + 1);
  }
  // A counter ahead of the records (ids lost to failed writes) is honoured too.
  {
    std::string ahead;
    for (int i = 0; i < 7; ++i) ahead.push_back('\0');
    ahead.push_back('\x64');  // 100
    auto raw = open_raw(path);
    REQUIRE(raw->Put(rocksdb::WriteOptions(), "nchangefeed", ahead).ok());
  }
  auto store = open_store(options_for(path));
  std::vector<NewFile> f{sample_file("late", "timestamp", 1)};
  REQUIRE(store->update_many("late", f).ok());
  CHECK(store->get_changes("-1", -1, "")->front().id == 101);
}

TEST_CASE("changefeed: no change is visible while a smaller id is still being written") {
  // Writer "slow" reserves its change id, then is held before its write; writer "fast" gets
  // the next id and commits. A reader paging forward must not see fast's change yet, or it
  // would skip slow's when slow commits.
  TempDir dir;
  std::mutex mu;
  std::condition_variable cv;
  bool slow_waiting = false;
  bool release = false;
  auto o = options_for(dir.path() / "db");
  o.test_hook_before_write = [&](std::string_view gun) {
    if (gun != "slow") return;
    std::unique_lock lock(mu);
    slow_waiting = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
  };
  auto store = open_store(o);
  Status slow_status;
  std::thread slow([&] {
    std::vector<NewFile> f{sample_file("slow", "timestamp", 1)};
    slow_status = store->update_many("slow", f);
  });
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return slow_waiting; });
  }
  // A GUN whose lock stripe differs from slow's (slow holds its stripe while held).
  auto stripe = [](std::string_view gun) {
    return std::hash<std::string_view>{}(gun) % RocksDbStore::kLockStripes;
  };
  std::string fast = "fast";
  while (stripe(fast) == stripe("slow")) fast += "+";
  std::vector<NewFile> f{sample_file(fast, "timestamp", 1)};
  REQUIRE(store->update_many(fast, f).ok());
  CHECK(store->get_current(fast, "timestamp").ok());  // the data is there ...
  CHECK(store->get_changes("0", 100, "")->empty());   // ... its change is not, yet
  CHECK(store->get_changes("-1", -100, "")->empty());
  CHECK(store->get_changes("0", 100, fast)->empty());
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  slow.join();
  REQUIRE(slow_status.ok());
  auto all = store->get_changes("0", 100, "");
  REQUIRE(all->size() == 2);
  CHECK((*all)[0].gun == "slow");
  CHECK((*all)[1].gun == fast);
  CHECK((*all)[0].id < (*all)[1].id);
}

TEST_CASE("keys of hostile names are distinct in the database itself") {
  using namespace std::string_literals;
  TempDir dir;
  // clang-format off
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"a/b", "c"}, {"a", "b/c"}, {"a\0b"s, "c"}, {"a", "b\0c"s}, {"a\0\x01"s, "b"},
      {"a", "\x01" "b"}, {"a\0\xff"s, "b"}, {"a", "\xff" "b"},
      {std::string(kMaxNameBytes, 'x'), "r"}, {std::string(kMaxNameBytes - 1, 'x'), "xr"}};
  // clang-format on
  {
    auto store = open_store(options_for(dir.path() / "db"));
    for (std::size_t i = 0; i < pairs.size(); ++i) {
      std::vector<NewFile> f{file(pairs[i].second, 1, "c" + std::to_string(i))};
      REQUIRE(store->update_many(pairs[i].first, f).ok());
    }
  }
  auto raw = open_raw(dir.path() / "db");
  std::map<char, int> per_tag;
  for (const auto& [key, value] : raw_contents(*raw)) ++per_tag[key[0]];
  // One file record, one current pointer and one checksum entry per pair: nothing merged.
  CHECK(per_tag['m'] == static_cast<int>(pairs.size()));
  CHECK(per_tag['c'] == static_cast<int>(pairs.size()));
  CHECK(per_tag['h'] == static_cast<int>(pairs.size()));
  // delete_gun("a") uses range deletions over "a"'s escaped prefix: they must remove exactly
  // the keys of the four pairs whose GUN is "a", none of "a/b", "a\0b", "a\0\x01", ...
  raw.reset();
  auto store = open_store(options_for(dir.path() / "db"));
  REQUIRE(store->delete_gun("a").ok());
  store.reset();
  raw = open_raw(dir.path() / "db");
  per_tag.clear();
  for (const auto& [key, value] : raw_contents(*raw)) ++per_tag[key[0]];
  const int in_a = 4;  // pairs whose GUN is exactly "a"
  CHECK(per_tag['m'] == static_cast<int>(pairs.size()) - in_a);
  CHECK(per_tag['c'] == static_cast<int>(pairs.size()) - in_a);
  CHECK(per_tag['h'] == static_cast<int>(pairs.size()) - in_a);
}

TEST_CASE("corrupt records are reported as data loss, never served") {
  // Stored values are altered (truncated, extended, bytes flipped, swapped between keys,
  // removed); then every read must return exactly the right data or kDataLoss (or kNotFound
  // where a removed record left nothing pointing at the data).
  TempDir dir(TempDir::Where::kMemory);
  const fs::path path = dir.path() / "db";
  FixedClock clock(test_epoch());
  struct Stored {
    std::string gun, role;
    std::int64_t version;
    std::string content;
    bool current;
  };
  std::vector<Stored> stored;
  {
    auto store = open_store(options_for(path, &clock));
    auto put = [&](std::string gun, std::vector<std::pair<std::string, std::int64_t>> files) {
      std::vector<NewFile> batch;
      for (auto& [role, v] : files) {
        batch.push_back(sample_file(gun, role, v));
        for (Stored& s : stored) {
          if (s.gun == gun && s.role == role) s.current = false;
        }
        stored.push_back(Stored{gun, role, v, sample(gun, role, v), true});
      }
      REQUIRE(store->update_many(gun, batch).ok());
    };
    put("g1", {{"root", 1}, {"targets", 1}, {"snapshot", 1}, {"timestamp", 1}});
    put("g1", {{"targets", 2}, {"snapshot", 2}, {"timestamp", 2}});
    put("g2", {{"root", 1}, {"timestamp", 1}});
    std::vector<NewFile> doomed{sample_file("g3", "timestamp", 1)};
    REQUIRE(store->update_many("g3", doomed).ok());
    REQUIRE(store->delete_gun("g3").ok());
  }
  std::map<std::string, std::string> original;
  {
    auto raw = open_raw(path);
    original = raw_contents(*raw);
  }
  // What a healthy store answers.
  std::vector<Change> all_changes;
  {
    auto store = open_store(options_for(path, &clock));
    all_changes = *store->get_changes("0", 100, "");
    REQUIRE(all_changes.size() == 5);
  }

  auto check_reads = [&](MetaStore& s, bool removed_key) {
    auto ok_or_loss = [&](const Error& e, bool not_found_ok) {
      if (not_found_ok && e.code == Code::kNotFound) return;
      CHECK_MESSAGE(e.code == Code::kDataLoss, e.message);
    };
    for (const Stored& f : stored) {
      CAPTURE(f.gun);
      CAPTURE(f.role);
      CAPTURE(f.version);
      auto check = [&](const Result<StoredFile>& r, bool not_found_ok) {
        if (!r.ok()) return ok_or_loss(r.error(), not_found_ok);
        CHECK(r->version == f.version);
        CHECK(*r->bytes == f.content);
        CHECK(r->sha256_hex == sha_hex(f.content));
        CHECK(r->created == test_epoch());
      };
      check(s.get_version(f.gun, f.role, f.version), removed_key);
      check(s.get_checksum(f.gun, f.role, sha_hex(f.content)), removed_key);
      if (f.current) check(s.get_current(f.gun, f.role), removed_key);
    }
    for (std::string gun : {"g1", "g2"}) {
      auto roles = s.list_roles(gun);
      if (!roles.ok()) {
        ok_or_loss(roles.error(), false);
        continue;
      }
      for (const RoleVersion& r : *roles) {
        bool found = false;
        for (const Stored& f : stored) {
          if (f.gun == gun && f.role == r.role && f.current) {
            found = true;
            CHECK(r.version == f.version);
            CHECK(r.sha256_hex == sha_hex(f.content));
            CHECK(r.created == test_epoch());
          }
        }
        CHECK(found);
      }
    }
    for (std::string gun : {"", "g1", "g2", "g3"}) {
      auto changes = s.get_changes("0", 100, gun);
      if (!changes.ok()) {
        ok_or_loss(changes.error(), false);
        continue;
      }
      // Whatever is returned is a true record (a removed one may be missing).
      for (const Change& c : *changes) {
        bool found = false;
        for (const Change& a : all_changes) found = found || a == c;
        CHECK(found);
      }
    }
  };

  // Each case alters every record of one kind (one key tag) the same way; reads of the other
  // kinds stay healthy, and every lookup path meets the altered kind (e.g. get_current reads a
  // sound 'c' record and then an altered 'm' record). Opening RocksDB is slow on a loaded
  // machine, so cases are per kind rather than per key.
  using Mutation = std::function<std::optional<std::string>(const std::string& value,
                                                            const std::string& neighbour)>;
  auto flip = [](std::string v, std::size_t at, char bits) {
    v[at] = static_cast<char>(v[at] ^ bits);
    return v;
  };
  const std::vector<std::pair<std::string, Mutation>> mutations = {
      {"empty", [](auto&, auto&) { return std::string(); }},
      {"truncated", [](auto& v, auto&) { return v.substr(0, v.size() - 1); }},
      {"extended", [](auto& v, auto&) { return v + "x"; }},
      {"first byte", [&](auto& v, auto&) { return flip(v, 0, 1); }},
      {"middle byte", [&](auto& v, auto&) { return flip(v, v.size() / 2, 0x10); }},
      {"last byte", [&](auto& v, auto&) { return flip(v, v.size() - 1, static_cast<char>(0x80)); }},
      // Valid values moved to other keys of the same kind (a rotation).
      {"neighbour's value", [](auto&, auto& n) { return n; }},
      {"removed", [](auto&, auto&) { return std::nullopt; }},
  };
  std::map<char, std::vector<std::string>> keys_of;
  for (const auto& [key, value] : original) {
    if (key != "!format") keys_of[key[0]].push_back(key);  // the marker: see the open tests
  }
  REQUIRE(keys_of.size() == 6);  // c f g h m n
  int cases = 0;
  std::vector<std::string> altered;  // keys to restore before the next case
  for (const auto& [tag, keys] : keys_of) {
    for (const auto& [what, mutate] : mutations) {
      CAPTURE(tag);
      CAPTURE(what);
      if (what == "neighbour's value" && keys.size() < 2) continue;
      ++cases;
      bool removed = false;
      {
        auto raw = open_raw(path);
        for (const std::string& key : altered) {
          REQUIRE(raw->Put(rocksdb::WriteOptions(), key, original.at(key)).ok());
        }
        altered = keys;
        for (std::size_t i = 0; i < keys.size(); ++i) {
          const std::string& value = original.at(keys[i]);
          auto mutated = mutate(value, original.at(keys[(i + 1) % keys.size()]));
          removed = !mutated;
          rocksdb::Status st = mutated ? raw->Put(rocksdb::WriteOptions(), keys[i], *mutated)
                                       : raw->Delete(rocksdb::WriteOptions(), keys[i]);
          REQUIRE(st.ok());
        }
      }
      auto opened = RocksDbStore::open(options_for(path, &clock));
      if (tag == 'n') {
        // The change counter: open either copes (a bigger or missing counter only moves the
        // next id) or reports the corruption.
        if (!opened.ok()) {
          CHECK(opened.error().code == Code::kDataLoss);
        } else {
          check_reads(**opened, removed);
        }
      } else {
        REQUIRE_MESSAGE(opened.ok(), opened.error().message);
        check_reads(**opened, removed);
      }
    }
  }
  {
    auto raw = open_raw(path);
    for (const std::string& key : altered) {
      REQUIRE(raw->Put(rocksdb::WriteOptions(), key, original.at(key)).ok());
    }
  }
  CHECK(cases == 6 * 8 - 1);  // no rotation for the single counter key
  // Restored: everything reads back exactly.
  auto store = open_store(options_for(path, &clock));
  check_reads(*store, false);
  CHECK(*store->get_changes("0", 100, "") == all_changes);
}

TEST_CASE("without verify_sha256_on_read, altered file bytes go unnoticed but stay bounded") {
  TempDir dir;
  const fs::path path = dir.path() / "db";
  {
    auto store = open_store(options_for(path));
    std::vector<NewFile> f{file("root", 1, "payload")};
    REQUIRE(store->update_many("gun", f).ok());
  }
  std::string key, value;
  {
    auto raw = open_raw(path);
    for (const auto& [k, v] : raw_contents(*raw)) {
      if (k[0] == 'm') std::tie(key, value) = std::pair(k, v);
    }
    REQUIRE(value.size() > 7);
    value[value.size() - 1] = 'X';  // the last byte of the file's bytes
    REQUIRE(raw->Put(rocksdb::WriteOptions(), key, value).ok());
  }
  auto o = options_for(path);
  o.verify_sha256_on_read = false;
  {
    auto store = open_store(o);
    auto got = store->get_version("gun", "root", 1);
    REQUIRE(got.ok());
    CHECK(*got->bytes == "payloaX");
  }
  o.verify_sha256_on_read = true;
  auto store = open_store(o);
  CHECK(store->get_version("gun", "root", 1).error().code == Code::kDataLoss);
  CHECK(store->get_current("gun", "root").error().code == Code::kDataLoss);
}

TEST_CASE("crash consistency: a torn log keeps whole batches only") {
  // Every batch is one log record. Cutting the write-ahead log at any offset (a crash in the
  // middle of a write) and recovering must give batches 1..n for some n: never part of one.
  TempDir dir(TempDir::Where::kMemory);
  const fs::path path = dir.path() / "db";
  constexpr int kBatches = 24;
  {
    auto store = open_store(options_for(path));
    for (int i = 1; i <= kBatches; ++i) {
      REQUIRE(store->update_many(crash_gun(i), crash_batch(i)).ok());
    }
  }
  // With the log enabled RocksDB does not flush at close: all batches are only in the log.
  fs::path log;
  for (const auto& e : fs::directory_iterator(path)) {
    if (e.path().extension() == ".log") log = e.path();
  }
  REQUIRE_FALSE(log.empty());
  const auto log_size = static_cast<std::uintmax_t>(fs::file_size(log));
  REQUIRE(log_size > 1000);

  std::vector<std::uintmax_t> cuts;
  // About 40 cuts spread over the log (an odd stride, so they land at varied offsets inside
  // records), plus the last byte and the whole log.
  const std::uintmax_t stride = std::max<std::uintmax_t>(97, log_size / 40) | 1U;
  for (std::uintmax_t c = 0; c < log_size; c += stride) cuts.push_back(c);
  cuts.push_back(log_size - 1);
  cuts.push_back(log_size);
  int last_n = 0;
  for (std::uintmax_t cut : cuts) {
    for (bool garbage : {false, true}) {
      CAPTURE(cut);
      CAPTURE(garbage);
      const fs::path copy = dir.path() / "copy";
      fs::remove_all(copy);
      fs::copy(path, copy);
      const fs::path copy_log = copy / log.filename();
      if (garbage) {
        // A torn write that left junk instead of nothing: overwrite the tail from `cut`.
        std::FILE* fp = std::fopen(copy_log.c_str(), "r+b");
        REQUIRE(fp != nullptr);
        REQUIRE(std::fseek(fp, static_cast<long>(cut), SEEK_SET) == 0);
        for (std::uintmax_t i = cut; i < log_size; ++i) {
          std::fputc(static_cast<int>((i * 7) & 0xff), fp);
        }
        std::fclose(fp);
      } else {
        fs::resize_file(copy_log, cut);
      }
      auto opened = RocksDbStore::open(options_for(copy));
      REQUIRE_MESSAGE(opened.ok(), opened.error().message);
      int n = check_whole_prefix(**opened, kBatches);
      if (!garbage) {
        CHECK(n >= last_n);  // a longer log never recovers fewer batches
        last_n = n;
      }
      if (cut == log_size) CHECK(n == kBatches);
    }
  }
  CHECK(last_n == kBatches);
}

TEST_CASE("crash consistency: a killed writer process loses no acknowledged batch") {
  // This binary, started with VOUCH_STORE_CRASH_CHILD, publishes batches with sync writes and
  // acknowledges each on stdout. Kill it with SIGKILL after some acknowledgements (wherever
  // it is), then every acknowledged batch must be there, whole, and no partial one.
  TempDir dir;
  const fs::path path = dir.path() / "db";
  const test::CrashRun run =
      test::run_and_kill_child("VOUCH_STORE_CRASH_CHILD", path.string(), 40);
  const int acked = static_cast<int>(run.last_ack);
  REQUIRE(acked >= 40);
  CHECK(run.killed_by_signal);

  auto store = open_store(options_for(path));
  int n = check_whole_prefix(*store, acked + 1000);
  CHECK(n >= acked);
  CHECK(n <= acked + 1);  // at most the one batch in flight when it was killed
}
