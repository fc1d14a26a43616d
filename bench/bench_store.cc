// Times vouch-server's MetaStore backends on what a publish and a read cost:
//   - update_many of one publish (a 2 KiB targets role + 600 B snapshot + 400 B timestamp),
//     for MemoryStore and RocksDbStore with sync=false and sync=true;
//   - get_current (timestamp) and get_version (an old targets version) after those writes;
//   - publishes per second from 1 and 2 threads writing different GUNs (sync=true), which shows
//     whether fsyncs of concurrent publishes are grouped;
//   - the design choice for serializing publishers: a striped mutex around Get + WriteBatch (what
//     RocksDbStore does) against a pessimistic TransactionDB (GetForUpdate + Commit), on the same
//     raw keys and values, both with sync=true and sync=false.
//
//   bench_store [ITERATIONS] [DIR]   default 2,000 (sync=true runs use a quarter); DIR defaults
//                                    to a new directory under $TMPDIR (removed at the end)
//
// Prints the median, p90 and p99 of wall time and the mean CPU time per operation (the machine
// is shared; CPU time is the steadier figure). Nothing here is a pass/fail threshold.

#include <rocksdb/db.h>
#include <rocksdb/utilities/transaction.h>
#include <rocksdb/utilities/transaction_db.h>
#include <rocksdb/write_batch.h>
#include <stdlib.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "server/storage/memory_store.h"
#include "server/storage/meta_store.h"
#include "server/storage/rocksdb_store.h"

namespace {

using namespace vouch;
using namespace vouch::server;
using WallClock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Runs fn(i) for i in [0, n) and prints latency percentiles (µs) and CPU µs per op.
void measure(const char* what, int n, const std::function<void(int)>& fn) {
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(n));
  const double cpu0 = cpu_seconds();
  for (int i = 0; i < n; ++i) {
    const auto t0 = WallClock::now();
    fn(i);
    us.push_back(std::chrono::duration<double, std::micro>(WallClock::now() - t0).count());
  }
  const double cpu_us = (cpu_seconds() - cpu0) * 1e6 / static_cast<double>(n);
  std::sort(us.begin(), us.end());
  auto pct = [&](double p) {
    return us[static_cast<std::size_t>(p * static_cast<double>(us.size() - 1))];
  };
  std::printf("%-52s p50 %9.1f us  p90 %9.1f  p99 %9.1f   cpu %8.1f us/op  (n=%d)\n", what,
              pct(0.5), pct(0.9), pct(0.99), cpu_us, n);
}

void must(const Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, s.error().message.c_str());
    std::exit(1);
  }
}

void must(const rocksdb::Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}

std::shared_ptr<const std::string> blob(std::size_t size, int seed) {
  std::string s(size, ' ');
  for (std::size_t i = 0; i < size; ++i) {
    s[i] = static_cast<char>('a' + (i * 7 + static_cast<std::size_t>(seed)) % 26);
  }
  return std::make_shared<const std::string>(std::move(s));
}

// One publish: targets, snapshot and timestamp at `version`.
std::vector<NewFile> publish(std::int64_t version) {
  const int seed = static_cast<int>(version);
  return {NewFile{"targets", version, blob(2048, seed)},
          NewFile{"snapshot", version, blob(600, seed)},
          NewFile{"timestamp", version, blob(400, seed)}};
}

void bench_store(const char* name, MetaStore& store, int n) {
  const std::string gun = "docker.io/library/bench";
  // Inputs are made before timing, as the server has them in memory when it publishes.
  std::vector<std::vector<NewFile>> publishes;
  for (int i = 0; i < n; ++i) publishes.push_back(publish(i + 1));
  std::string label = std::string(name) + ": update_many (3 files)";
  measure(label.c_str(), n, [&](int i) {
    must(store.update_many(gun, publishes[static_cast<std::size_t>(i)]), "update_many");
  });
  label = std::string(name) + ": get_current(timestamp)";
  measure(label.c_str(), std::max(n, 2000), [&](int) {
    auto r = store.get_current(gun, "timestamp");
    if (!r.ok()) std::exit(1);
  });
  label = std::string(name) + ": get_version(targets, old)";
  measure(label.c_str(), std::max(n, 2000), [&](int i) {
    auto r = store.get_version(gun, "targets", 1 + (i * 7919) % n);
    if (!r.ok()) std::exit(1);
  });
}

// Publishes per second from `threads` threads, each on its own GUN.
void bench_parallel(const char* name, MetaStore& store, int threads, int per_thread) {
  std::atomic<int> ready{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      const std::string gun = "parallel/" + std::to_string(threads) + "/" + std::to_string(t);
      std::vector<std::vector<NewFile>> publishes;
      for (int i = 1; i <= per_thread; ++i) publishes.push_back(publish(i));
      ready.fetch_add(1);
      while (ready.load() < threads) std::this_thread::yield();
      for (const auto& files : publishes) must(store.update_many(gun, files), "update_many");
    });
  }
  while (ready.load() < threads) std::this_thread::yield();
  const auto t0 = WallClock::now();
  for (auto& t : ts) t.join();
  const double s = std::chrono::duration<double>(WallClock::now() - t0).count();
  std::printf(
      "%-52s %9.0f publishes/s\n",
      (std::string(name) + ": " + std::to_string(threads) + " thread(s), distinct GUNs").c_str(),
      static_cast<double>(threads * per_thread) / s);
}

// The serialization strategies on raw RocksDB, same keys and values. Per publish: read three
// current pointers, then write 3 files, 3 checksum entries, 3 pointers, 2 change records.
struct RawKeys {
  std::vector<std::pair<std::string, std::string>> puts;
  std::array<std::string, 3> current_keys;
};

RawKeys raw_publish(const std::string& gun, int version) {
  RawKeys k;
  const char* roles[] = {"targets", "snapshot", "timestamp"};
  const std::size_t sizes[] = {2048, 600, 400};
  for (int r = 0; r < 3; ++r) {
    std::string base = gun + '\0' + roles[r] + '\0';
    k.current_keys[static_cast<std::size_t>(r)] = "c" + base;
    k.puts.emplace_back("m" + base + std::to_string(version), *blob(sizes[r] + 53, version));
    k.puts.emplace_back("h" + base + std::string(32, static_cast<char>(version)),
                        std::string(13, 'v'));
    k.puts.emplace_back("c" + base, std::string(53, 'c'));
  }
  k.puts.emplace_back("f" + std::to_string(version) + gun, std::string(120, 'f'));
  k.puts.emplace_back("g" + gun + std::to_string(version), std::string(120, 'g'));
  return k;
}

void bench_serialization(const fs::path& dir, bool sync, int n) {
  rocksdb::WriteOptions w;
  w.sync = sync;
  const std::string mode = sync ? "sync" : "nosync";
  {
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    must(rocksdb::DB::Open(o, (dir / ("mutex-" + mode)).string(), &raw), "open");
    std::unique_ptr<rocksdb::DB> db(raw);
    std::array<std::mutex, 64> stripes;
    const std::string gun = "docker.io/library/bench";
    std::vector<RawKeys> inputs;
    for (int i = 0; i < n; ++i) inputs.push_back(raw_publish(gun, i + 1));
    measure(("raw striped mutex + WriteBatch, " + mode).c_str(), n, [&](int i) {
      const RawKeys& k = inputs[static_cast<std::size_t>(i)];
      std::lock_guard lock(stripes[std::hash<std::string>{}(gun) % stripes.size()]);
      std::string v;
      for (const std::string& c : k.current_keys) {
        rocksdb::Status s = db->Get(rocksdb::ReadOptions(), c, &v);
        if (!s.ok() && !s.IsNotFound()) std::exit(1);
      }
      rocksdb::WriteBatch wb;
      for (const auto& [key, value] : k.puts) must(wb.Put(key, value), "put");
      must(db->Write(w, &wb), "write");
    });
  }
  {
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::TransactionDBOptions topts;
    rocksdb::TransactionDB* raw = nullptr;
    must(rocksdb::TransactionDB::Open(o, topts, (dir / ("txn-" + mode)).string(), &raw), "open");
    std::unique_ptr<rocksdb::TransactionDB> db(raw);
    const std::string gun = "docker.io/library/bench";
    std::vector<RawKeys> inputs;
    for (int i = 0; i < n; ++i) inputs.push_back(raw_publish(gun, i + 1));
    measure(("raw pessimistic TransactionDB, " + mode).c_str(), n, [&](int i) {
      const RawKeys& k = inputs[static_cast<std::size_t>(i)];
      std::unique_ptr<rocksdb::Transaction> txn(db->BeginTransaction(w));
      std::string v;
      for (const std::string& c : k.current_keys) {
        rocksdb::Status s = txn->GetForUpdate(rocksdb::ReadOptions(), c, &v);
        if (!s.ok() && !s.IsNotFound()) std::exit(1);
      }
      for (const auto& [key, value] : k.puts) must(txn->Put(key, value), "put");
      must(txn->Commit(), "commit");
    });
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::max(8, std::atoi(argv[1])) : 2000;
  const int n_sync = std::max(8, n / 4);
  fs::path dir;
  bool remove_dir = false;
  if (argc > 2) {
    dir = argv[2];
    fs::create_directories(dir);
  } else {
    std::string tmpl = (fs::temp_directory_path() / "vouch-bench-store-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) return 1;
    dir = tmpl;
    remove_dir = true;
  }
  std::printf("bench_store: %d iterations (%d with sync), databases under %s\n\n", n, n_sync,
              dir.c_str());

  {
    MemoryStore memory;
    bench_store("memory", memory, n);
  }
  for (bool sync : {false, true}) {
    RocksDbStoreOptions o;
    o.path = dir / (sync ? "store-sync" : "store-nosync");
    o.sync_writes = sync;
    auto store = RocksDbStore::open(o);
    if (!store.ok()) {
      std::fprintf(stderr, "open: %s\n", store.error().message.c_str());
      return 1;
    }
    bench_store(sync ? "rocksdb sync=true" : "rocksdb sync=false", **store, sync ? n_sync : n);
  }
  std::printf("\n");
  {
    RocksDbStoreOptions o;
    o.path = dir / "store-parallel";
    auto store = RocksDbStore::open(o);
    if (!store.ok()) return 1;
    bench_parallel("rocksdb sync=true", **store, 1, n_sync);
    bench_parallel("rocksdb sync=true", **store, 2, n_sync / 2);
    bench_parallel("rocksdb sync=true", **store, 4, n_sync / 4);
  }
  std::printf("\n");
  bench_serialization(dir, false, n);
  bench_serialization(dir, true, n_sync);
  if (remove_dir) fs::remove_all(dir);
  return 0;
}
