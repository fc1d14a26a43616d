// AuditLog: append/read/paging, the hash chain and its verification, tampering seen from raw
// RocksDB (a changed, deleted, swapped record; a torn tail), reopening, concurrent appends,
// the structured log line, and a writer process killed mid-stream; group commit (appends
// queued behind a write go to disk together, bounded by max_pending) and a writer process with
// several appending threads killed mid-group.

#include <doctest/doctest.h>
#include <unistd.h>

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <spdlog/sinks/ostream_sink.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/log.h"
#include "keys/crypto.h"
#include "server/audit/audit_log.h"
#include "tests/support/crash_child.h"
#include "tests/support/temp_dir.h"


using namespace vouch;
using namespace vouch::server::audit;
using vouch::test::TempDir;
namespace fs = std::filesystem;

namespace {

const TimePoint kT0 = TimePoint(std::chrono::seconds(1'800'000'000));

AuditEvent event(int i) {
  AuditEvent e;
  e.actor_kind = ActorKind::kUser;
  e.actor = "alice";
  e.action = Action::kPublish;
  e.target = "example.com/acme/app" + std::to_string(i);
  e.detail = {{"roles", "targets,snapshot"}, {"targets", std::to_string(i)}};
  e.source = "10.0.0.7";
  e.outcome = Outcome::kOk;
  return e;
}

AuditLogOptions options_for(const fs::path& path, const Clock* clock = nullptr) {
  AuditLogOptions o;
  o.path = path;
  o.clock = clock;
  return o;
}

std::unique_ptr<AuditLog> open_log(const AuditLogOptions& o) {
  auto log = AuditLog::open(o);
  REQUIRE_MESSAGE(log.ok(), (log.ok() ? "" : log.error().message));
  return std::move(*log);
}

void append_n(AuditLog& log, int n) {
  for (int i = 1; i <= n; ++i) REQUIRE(log.append(event(i)).ok());
}

std::string record_key(std::uint64_t seq) {
  std::string k(1, 'r');
  for (int shift = 56; shift >= 0; shift -= 8) k.push_back(static_cast<char>((seq >> shift) & 0xff));
  return k;
}

// Raw access to the database, with the log closed: how an attacker or a bad disk sees it.
std::unique_ptr<rocksdb::DB> open_raw(const fs::path& path) {
  rocksdb::Options o;
  rocksdb::DB* raw = nullptr;
  REQUIRE(rocksdb::DB::Open(o, path.string(), &raw).ok());
  return std::unique_ptr<rocksdb::DB>(raw);
}
std::string raw_get(rocksdb::DB& db, const std::string& key) {
  std::string v;
  REQUIRE(db.Get(rocksdb::ReadOptions(), key, &v).ok());
  return v;
}
void raw_put(rocksdb::DB& db, const std::string& key, const std::string& value) {
  rocksdb::WriteOptions w;
  w.sync = true;
  REQUIRE(db.Put(w, key, value).ok());
}

// Child mode of this test binary (see "a killed writer process"): with
// VOUCH_AUDIT_CRASH_CHILD=<dir> it appends events to the log at <dir> forever, writing the seq
// to stdout after each append returns, until it is killed.
struct CrashChild {
  CrashChild() {
    const char* dir = std::getenv("VOUCH_AUDIT_CRASH_CHILD");
    if (dir == nullptr) return;
    log::init({log::Format::kText, "off", nullptr});  // the parent reads stdout only
    auto log = AuditLog::open(options_for(dir));
    if (!log) _exit(2);
    for (int i = 1;; ++i) {
      auto r = (*log)->append(event(i));
      if (!r) _exit(3);
      std::printf("%llu\n", static_cast<unsigned long long>(r->seq));
      std::fflush(stdout);
    }
  }
} crash_child;

// The same with VOUCH_AUDIT_GROUP_CRASH_CHILD=<dir>: kCrashThreads threads append at once, so
// appends are written in groups; each acknowledges on stdout the highest seq returned so far
// (so the parent's last acknowledgement is the highest durable seq it has seen).
constexpr int kCrashThreads = 4;
struct GroupCrashChild {
  GroupCrashChild() {
    const char* dir = std::getenv("VOUCH_AUDIT_GROUP_CRASH_CHILD");
    if (dir == nullptr) return;
    log::init({log::Format::kText, "off", nullptr});
    auto log = AuditLog::open(options_for(dir));
    if (!log) _exit(2);
    std::mutex print_mu;
    std::uint64_t highest = 0;
    std::vector<std::thread> threads;
    for (int t = 0; t < kCrashThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 1;; ++i) {
          auto r = (*log)->append(event(t * 1000000 + i));
          if (!r) _exit(3);
          std::lock_guard lock(print_mu);
          highest = std::max(highest, r->seq);
          std::printf("%llu\n", static_cast<unsigned long long>(highest));
          std::fflush(stdout);
        }
      });
    }
    for (auto& th : threads) th.join();
    _exit(4);
  }
} group_crash_child;

// A clock that counts its reads: append reads it exactly once, under the log's mutex, when it
// queues its record, so the count is the number of appends queued or written so far.
class CountingClock final : public Clock {
 public:
  TimePoint now() const override {
    {
      std::lock_guard lock(mu_);
      ++reads_;
    }
    cv_.notify_all();
    return kT0;
  }
  void wait_for_reads(int n) const {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return reads_ >= n; });
  }

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  mutable int reads_ = 0;
};

// Records the groups the leader writes (first seq, count); the first group's write waits
// until `hold_until` appends are queued or written, so the others queue behind it.
struct GroupRecorder {
  const CountingClock* clock = nullptr;
  int hold_until = 0;
  std::mutex mu;
  std::vector<std::pair<std::uint64_t, std::size_t>> groups;

  void operator()(std::uint64_t first, std::size_t count) {
    if (first == 1) clock->wait_for_reads(hold_until);
    std::lock_guard lock(mu);
    groups.emplace_back(first, count);
  }
};

// Every record 1..n is stored in order and chained, and the log verifies.
void check_chain(AuditLog& log, std::uint64_t n) {
  CHECK(log.head().seq == n);
  auto v = log.verify();
  REQUIRE(v.ok());
  CHECK(v->ok());
  CHECK(v->records_checked == n);
  std::uint64_t expect = 1;
  Hash prev{};
  for (std::uint64_t after = 0; after < n;) {
    auto page = log.read(after, AuditLog::kMaxReadLimit);
    REQUIRE(page.ok());
    REQUIRE(!page->empty());
    for (const AuditRecord& r : *page) {
      CHECK(r.seq == expect);
      CHECK(r.prev_hash == prev);
      prev = r.hash;
      ++expect;
    }
    after = page->back().seq;
  }
  CHECK(expect == n + 1);
}

}  // namespace

TEST_CASE("append assigns seq 1, 2, ..., stamps the clock and chains to the previous hash") {
  TempDir dir;
  FixedClock clock(kT0);
  auto log = open_log(options_for(dir.path() / "audit", &clock));
  CHECK(log->head().seq == 0);
  auto r1 = log->append(event(1));
  REQUIRE(r1.ok());
  clock.advance(std::chrono::seconds(5));
  auto r2 = log->append(event(2));
  REQUIRE(r2.ok());
  CHECK(r1->seq == 1);
  CHECK(r2->seq == 2);
  CHECK(r1->time == kT0);
  CHECK(r2->time == kT0 + std::chrono::seconds(5));
  CHECK(r1->prev_hash == Hash{});
  CHECK(r2->prev_hash == r1->hash);
  CHECK(r1->hash != r2->hash);
  CHECK(log->head().seq == 2);
  CHECK(log->head().hash == r2->hash);
}

TEST_CASE("the hash is SHA-256 over the documented canonical encoding") {
  AuditRecord r;
  r.seq = 1;
  r.time = TimePoint(std::chrono::microseconds(0x0102));
  r.event.actor_kind = ActorKind::kServiceAccount;
  r.event.actor = "acme/ci";
  r.event.action = Action::kGrantSet;
  r.event.target = "acme/*";
  r.event.detail = {{"b", "2"}, {"a", "1"}};
  r.event.source = "::1";
  r.event.outcome = Outcome::kDenied;
  using namespace std::string_literals;
  const std::string expected =
      "vouch-audit-1"s + "\0\0\0\0\0\0\0\1"s + "\0\0\0\0\0\0\1\2"s + "\0\0\0\x0f"s +
      "service_account" + "\0\0\0\7"s + "acme/ci" + "\0\0\0\x09"s + "grant_set" + "\0\0\0\6"s +
      "acme/*" + "\0\0\0\3"s + "::1" + "\0\0\0\6"s + "denied" + "\0\0\0\2"s + "\0\0\0\1"s + "a" +
      "\0\0\0\1"s + "1" + "\0\0\0\1"s + "b" + "\0\0\0\1"s + "2" + std::string(32, '\0');
  CHECK(encode_for_hash(r) == expected);
  // Moving a byte from one field to the next changes the encoding (length prefixes).
  AuditRecord shifted = r;
  shifted.event.actor = "acme/c";
  shifted.event.target = "iacme/*";
  CHECK(encode_for_hash(shifted) != encode_for_hash(r));
}

TEST_CASE("read pages through the log and returns what was appended") {
  TempDir dir;
  FixedClock clock(kT0);
  auto log = open_log(options_for(dir.path() / "audit", &clock));
  append_n(*log, 25);
  auto page1 = log->read(0, 10);
  REQUIRE(page1.ok());
  REQUIRE(page1->size() == 10);
  CHECK(page1->front().seq == 1);
  CHECK(page1->front().event == event(1));
  CHECK(page1->back().seq == 10);
  auto page3 = log->read(20, 10);
  REQUIRE(page3.ok());
  REQUIRE(page3->size() == 5);
  CHECK(page3->front().seq == 21);
  CHECK(page3->back().event == event(25));
  CHECK(page3->back().hash == log->head().hash);
  auto past = log->read(25, 10);
  REQUIRE(past.ok());
  CHECK(past->empty());

  CHECK(log->read(0, 0).error().code == Code::kInvalidArgument);
  CHECK(log->read(0, AuditLog::kMaxReadLimit + 1).error().code == Code::kInvalidArgument);
  CHECK(log->read(0, AuditLog::kMaxReadLimit).ok());
}

TEST_CASE("an event over the limits is refused and nothing is written") {
  TempDir dir;
  auto log = open_log(options_for(dir.path() / "audit"));
  AuditEvent big = event(1);
  big.target = std::string(kMaxFieldBytes + 1, 'a');
  auto r = log->append(big);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason == Reason::kTooLarge);
  AuditEvent many = event(1);
  for (std::size_t i = 0; i <= kMaxDetailEntries; ++i) many.detail["k" + std::to_string(i)] = "v";
  CHECK(log->append(many).error().reason == Reason::kTooLarge);
  CHECK(log->head().seq == 0);
}

TEST_CASE("verify accepts an intact chain, whole or in part") {
  TempDir dir;
  auto log = open_log(options_for(dir.path() / "audit"));
  auto empty = log->verify();
  REQUIRE(empty.ok());
  CHECK(empty->ok());
  CHECK(empty->records_checked == 0);
  append_n(*log, 12);
  auto all = log->verify();
  REQUIRE(all.ok());
  CHECK(all->ok());
  CHECK(all->records_checked == 12);
  CHECK(all->last_good.hash == log->head().hash);
  auto part = log->verify(5, 8);
  REQUIRE(part.ok());
  CHECK(part->ok());
  CHECK(part->records_checked == 4);
  CHECK(part->last_good.seq == 8);
  auto past_head = log->verify(20);
  REQUIRE(past_head.ok());
  CHECK(past_head->ok());
  CHECK(past_head->records_checked == 0);
}

TEST_CASE("reopen continues the chain") {
  TempDir dir;
  const fs::path path = dir.path() / "audit";
  AuditHead before;
  {
    auto log = open_log(options_for(path));
    append_n(*log, 3);
    before = log->head();
  }
  auto log = open_log(options_for(path));
  CHECK(log->head().seq == before.seq);
  CHECK(log->head().hash == before.hash);
  auto r = log->append(event(4));
  REQUIRE(r.ok());
  CHECK(r->seq == 4);
  CHECK(r->prev_hash == before.hash);
  auto v = log->verify();
  REQUIRE(v.ok());
  CHECK(v->ok());
  CHECK(v->records_checked == 4);
}

TEST_CASE("tampering is detected at the first record touched") {
  TempDir dir;
  const fs::path path = dir.path() / "audit";
  {
    auto log = open_log(options_for(path));
    append_n(*log, 6);
  }
  auto expect_break_at = [&](std::uint64_t seq) {
    auto log = open_log(options_for(path));
    auto v = log->verify();
    REQUIRE(v.ok());
    REQUIRE_FALSE(v->ok());
    CHECK(*v->bad_seq == seq);
    CHECK(v->error->code == Code::kDataLoss);
    CHECK(v->error->reason == Reason::kHashMismatch);
    CHECK(v->last_good.seq == seq - 1);
  };

  SUBCASE("a changed byte in a record's event") {
    auto db = open_raw(path);
    std::string v = raw_get(*db, record_key(3));
    const auto at = v.find("alice");
    REQUIRE(at != std::string::npos);
    v[at] = 'm';  // "mlice"
    raw_put(*db, record_key(3), v);
    db.reset();
    expect_break_at(3);
  }
  SUBCASE("a changed record whose own hash is recomputed still breaks the link") {
    auto db = open_raw(path);
    std::string v = raw_get(*db, record_key(3));
    const auto at = v.find("alice");
    v[at] = 'm';
    // Recompute the record's hash as a forger would: the next record no longer links.
    std::string encoding = v.substr(1, v.size() - 1 - 32);
    const keys::Sha256Digest h = keys::sha256(as_bytes(encoding));
    v.replace(v.size() - 32, 32, std::string(h.begin(), h.end()));
    raw_put(*db, record_key(3), v);
    db.reset();
    expect_break_at(4);
  }
  SUBCASE("a deleted record (a gap)") {
    auto db = open_raw(path);
    rocksdb::WriteOptions w;
    w.sync = true;
    REQUIRE(db->Delete(w, record_key(2)).ok());
    db.reset();
    expect_break_at(2);
  }
  SUBCASE("two records swapped") {
    auto db = open_raw(path);
    const std::string r2 = raw_get(*db, record_key(2));
    const std::string r4 = raw_get(*db, record_key(4));
    raw_put(*db, record_key(2), r4);
    raw_put(*db, record_key(4), r2);
    db.reset();
    expect_break_at(2);
  }
  SUBCASE("read refuses a record whose hash does not recompute") {
    auto db = open_raw(path);
    std::string v = raw_get(*db, record_key(1));
    v[v.find("alice")] = 'm';
    raw_put(*db, record_key(1), v);
    db.reset();
    auto log = open_log(options_for(path));
    auto page = log->read(0, 10);
    REQUIRE_FALSE(page.ok());
    CHECK(page.error().reason == Reason::kHashMismatch);
  }
}

TEST_CASE("a tail that does not match the head is refused at open") {
  TempDir dir;
  const fs::path path = dir.path() / "audit";
  {
    auto log = open_log(options_for(path));
    append_n(*log, 4);
  }
  SUBCASE("the last record deleted") {
    auto db = open_raw(path);
    REQUIRE(db->Delete(rocksdb::WriteOptions(), record_key(4)).ok());
  }
  SUBCASE("the last record changed") {
    auto db = open_raw(path);
    std::string v = raw_get(*db, record_key(4));
    v[v.find("alice")] = 'm';
    raw_put(*db, record_key(4), v);
  }
  SUBCASE("a record appended behind the head's back") {
    auto db = open_raw(path);
    raw_put(*db, record_key(5), raw_get(*db, record_key(4)));
  }
  SUBCASE("the head deleted") {
    auto db = open_raw(path);
    REQUIRE(db->Delete(rocksdb::WriteOptions(), "h").ok());
  }
  auto log = AuditLog::open(options_for(path));
  REQUIRE_FALSE(log.ok());
  CHECK(log.error().code == Code::kDataLoss);
  CHECK(log.error().reason == Reason::kHashMismatch);
}

TEST_CASE("open refuses a missing log when asked to, and a database that is not an audit log") {
  TempDir dir;
  AuditLogOptions o = options_for(dir.path() / "nothing");
  o.create_if_missing = false;
  auto missing = AuditLog::open(o);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().reason == Reason::kIo);
  CHECK_FALSE(fs::exists(dir.path() / "nothing"));

  {
    rocksdb::Options ro;
    ro.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(ro, (dir.path() / "other").string(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    REQUIRE(db->Put(rocksdb::WriteOptions(), "x", "y").ok());
  }
  auto other = AuditLog::open(options_for(dir.path() / "other"));
  REQUIRE_FALSE(other.ok());
  CHECK(other.error().code == Code::kFailedPrecondition);
}

TEST_CASE("a read-only open beside the writer verifies and cannot append") {
  TempDir dir;
  const fs::path path = dir.path() / "audit";
  auto writer = open_log(options_for(path));
  append_n(*writer, 3);
  AuditLogOptions o = options_for(path);
  o.read_only = true;
  auto reader = open_log(o);
  CHECK(reader->head().seq == 3);
  auto v = reader->verify();
  REQUIRE(v.ok());
  CHECK(v->ok());
  CHECK(reader->append(event(9)).error().code == Code::kFailedPrecondition);
}

TEST_CASE("concurrent appends from threads give a gapless chain") {
  TempDir dir;
  AuditLogOptions o = options_for(dir.path() / "audit");
  o.sync_writes = false;
  auto log = open_log(o);
  constexpr int kThreads = 4;
  constexpr int kEach = 50;
  std::vector<std::thread> threads;
  std::vector<std::vector<std::uint64_t>> seqs(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto r = log->append(event(t * 1000 + i));
        if (r) seqs[static_cast<std::size_t>(t)].push_back(r->seq);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<std::uint64_t> all;
  for (const auto& s : seqs) all.insert(s.begin(), s.end());
  CHECK(all.size() == kThreads * kEach);
  CHECK(*all.begin() == 1);
  CHECK(*all.rbegin() == kThreads * kEach);
  auto v = log->verify();
  REQUIRE(v.ok());
  CHECK(v->ok());
  CHECK(v->records_checked == kThreads * kEach);
}

TEST_CASE("every append is one structured log line, one JSON object with the json format") {
  auto out = std::make_shared<std::ostringstream>();
  log::init({log::Format::kJson, "info", std::make_shared<spdlog::sinks::ostream_sink_mt>(*out)});
  TempDir dir;
  auto log = open_log(options_for(dir.path() / "audit"));
  AuditEvent e = event(1);
  e.target = "acme/\"quoted\"\napp";
  auto r = log->append(e);
  REQUIRE(r.ok());
  log::init({});
  const std::string text = out->str();
  std::size_t lines = 0;
  for (char c : text) lines += c == '\n' ? 1 : 0;
  CHECK(lines == 1);
  CHECK(text.find("\"action\\\":\\\"publish\\\"") != std::string::npos);
  CHECK(text.find("\"seq\\\":1") != std::string::npos);
  CHECK(text.find(hex_encode(r->hash)) != std::string::npos);
}

TEST_CASE("crash consistency: a killed writer process loses no acknowledged append") {
  // This binary, started with VOUCH_AUDIT_CRASH_CHILD, appends with sync writes and
  // acknowledges each seq on stdout. Kill it with SIGKILL after some acknowledgements
  // (wherever it is); then the log opens, its chain verifies, and every acknowledged append
  // is there.
  TempDir dir;
  const fs::path path = dir.path() / "audit";
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    // A different number of acknowledgements each round, so the kill lands elsewhere.
    const unsigned long long wait_for = 20 + static_cast<unsigned long long>(std::rand() % 40);
    const test::CrashRun run =
        test::run_and_kill_child("VOUCH_AUDIT_CRASH_CHILD", path.string(), wait_for + 1);
    const unsigned long long acked = run.last_ack;
    CHECK(run.killed_by_signal);
    REQUIRE(acked >= wait_for);

    auto log = open_log(options_for(path));
    CHECK(log->head().seq >= acked);
    CHECK(log->head().seq <= acked + 1);  // at most the append in flight at the kill
    auto v = log->verify();
    REQUIRE(v.ok());
    CHECK(v->ok());
    CHECK(v->records_checked == log->head().seq);
  }
}

TEST_CASE("group commit: appends queued behind a write are written together, one sync, in order") {
  TempDir dir;
  CountingClock clock;
  constexpr int kFollowers = 7;
  GroupRecorder recorder;
  recorder.clock = &clock;
  recorder.hold_until = 1 + kFollowers;
  AuditLogOptions o = options_for(dir.path() / "audit", &clock);  // sync writes, as served
  o.before_group_write = [&recorder](std::uint64_t first, std::size_t count) {
    recorder(first, count);
  };
  auto log = open_log(o);

  // The first append leads and holds its write until the followers are all queued; then the
  // next leader takes all of them in one group.
  std::vector<std::uint64_t> seqs(1 + kFollowers);
  std::vector<std::thread> threads;
  threads.emplace_back([&] {
    auto r = log->append(event(0));
    CHECK(r.ok());
    if (r) seqs[0] = r->seq;
  });
  clock.wait_for_reads(1);
  for (int t = 1; t <= kFollowers; ++t) {
    threads.emplace_back([&, t] {
      auto r = log->append(event(t));
      CHECK(r.ok());
      if (r) seqs[static_cast<std::size_t>(t)] = r->seq;
    });
  }
  for (auto& th : threads) th.join();

  CHECK(seqs[0] == 1);
  std::sort(seqs.begin(), seqs.end());
  for (std::size_t i = 0; i < seqs.size(); ++i) CHECK(seqs[i] == i + 1);
  using Group = std::pair<std::uint64_t, std::size_t>;
  CHECK(recorder.groups == std::vector<Group>{{1, 1}, {2, kFollowers}});
  const AuditLogStats stats = log->stats();
  CHECK(stats.appends == 1 + kFollowers);
  CHECK(stats.groups == 2);
  CHECK(stats.largest_group == kFollowers);
  check_chain(*log, 1 + kFollowers);

  // Durable and chained on disk: a reopened log continues after the group.
  log.reset();
  auto reopened = open_log(options_for(dir.path() / "audit"));
  check_chain(*reopened, 1 + kFollowers);
  auto next = reopened->append(event(99));
  REQUIRE(next.ok());
  CHECK(next->seq == 2 + kFollowers);
}

TEST_CASE("group commit: max_pending bounds the queue, and every append still lands in order") {
  TempDir dir;
  CountingClock clock;
  constexpr int kOthers = 9;
  GroupRecorder recorder;
  recorder.clock = &clock;
  recorder.hold_until = 1 + 2;  // the first write waits until the queue is full
  AuditLogOptions o = options_for(dir.path() / "audit", &clock);
  o.sync_writes = false;
  o.max_pending = 2;
  o.before_group_write = [&recorder](std::uint64_t first, std::size_t count) {
    recorder(first, count);
  };
  auto log = open_log(o);
  std::vector<std::thread> threads;
  threads.emplace_back([&] { CHECK(log->append(event(0)).ok()); });
  clock.wait_for_reads(1);
  for (int t = 1; t <= kOthers; ++t) {
    threads.emplace_back([&, t] { CHECK(log->append(event(t)).ok()); });
  }
  for (auto& th : threads) th.join();

  std::uint64_t next = 1;
  for (const auto& [first, count] : recorder.groups) {
    CHECK(first == next);
    CHECK(count >= 1);
    CHECK(count <= 2);  // never more than max_pending in one group
    next += count;
  }
  CHECK(next == 2 + kOthers);
  CHECK(log->stats().appends == 1 + kOthers);
  CHECK(log->stats().largest_group <= 2);
  check_chain(*log, 1 + kOthers);
}

TEST_CASE("group commit: many concurrent synced appends are all durable, chained, in sequence") {
  TempDir dir;
  const fs::path path = dir.path() / "audit";
  constexpr int kThreads = 8;
  constexpr int kEach = 40;
  std::vector<std::vector<std::uint64_t>> seqs(kThreads);
  {
    auto log = open_log(options_for(path));  // sync writes, as served
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kEach; ++i) {
          auto r = log->append(event(t * 1000 + i));
          CHECK(r.ok());
          if (r) seqs[static_cast<std::size_t>(t)].push_back(r->seq);
        }
      });
    }
    for (auto& th : threads) th.join();
    const AuditLogStats stats = log->stats();
    CHECK(stats.appends == kThreads * kEach);
    CHECK(stats.groups >= 1);
    CHECK(stats.groups <= stats.appends);
    CHECK(stats.largest_group <= kThreads);  // one append in flight per thread
  }
  // Each thread's appends got increasing seqs, and together every seq once.
  std::set<std::uint64_t> all;
  for (const auto& s : seqs) {
    CHECK(std::is_sorted(s.begin(), s.end()));
    all.insert(s.begin(), s.end());
  }
  CHECK(all.size() == kThreads * kEach);
  // And what each append returned is what is on disk after reopening.
  auto log = open_log(options_for(path));
  check_chain(*log, kThreads * kEach);
  auto page = log->read(0, AuditLog::kMaxReadLimit);
  REQUIRE(page.ok());
  for (const AuditRecord& r : *page) {
    const int t = std::stoi(r.event.detail.at("targets")) / 1000;
    REQUIRE(t >= 0);
    REQUIRE(t < kThreads);
    const auto& mine = seqs[static_cast<std::size_t>(t)];
    CHECK(std::find(mine.begin(), mine.end(), r.seq) != mine.end());
  }
}

TEST_CASE("crash consistency: a writer killed mid-group loses only unacknowledged appends") {
  // This binary, started with VOUCH_AUDIT_GROUP_CRASH_CHILD, appends from kCrashThreads threads
  // with sync writes (so in groups) and acknowledges the highest seq returned. Killed wherever
  // it is, the log opens, verifies, holds every acknowledged append, and at most the appends in
  // flight (one per thread) beyond.
  TempDir dir;
  const fs::path path = dir.path() / "audit";
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    const unsigned long long wait_for = 40 + static_cast<unsigned long long>(std::rand() % 80);
    const test::CrashRun run =
        test::run_and_kill_child("VOUCH_AUDIT_GROUP_CRASH_CHILD", path.string(), wait_for + 1);
    const unsigned long long acked = run.last_ack;
    CHECK(run.killed_by_signal);
    REQUIRE(acked >= wait_for);

    auto log = open_log(options_for(path));
    CHECK(log->head().seq >= acked);
    CHECK(log->head().seq <= acked + kCrashThreads);
    check_chain(*log, log->head().seq);
  }
}
