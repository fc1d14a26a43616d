#pragma once

// Test support for the MetaStore tests: a temporary directory, one fixture type per backend
// (for TEST_CASE_TEMPLATE), and small helpers to build files. Header-only.

#include <doctest/doctest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/encoding.h"
#include "keys/crypto.h"
#include "server/storage/memory_store.h"
#include "server/storage/meta_store.h"
#include "server/storage/rocksdb_store.h"

namespace vouch::server::testing {

// A fresh directory, removed with everything in it on destruction. kDisk: under $TMPDIR
// (real fsyncs). kMemory: under /dev/shm when it is a writable tmpfs, for tests that open a
// database hundreds of times and would otherwise spend minutes in fsync; else like kDisk.
class TempDir {
 public:
  enum class Where { kDisk, kMemory };
  explicit TempDir(Where where = Where::kDisk) {
    std::filesystem::path root = std::filesystem::temp_directory_path();
    if (where == Where::kMemory && ::access("/dev/shm", W_OK | X_OK) == 0) root = "/dev/shm";
    std::string tmpl = (root / "vouch-store-XXXXXX").string();
    char* p = ::mkdtemp(tmpl.data());
    REQUIRE(p != nullptr);
    path_ = p;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// 2026-01-02T03:04:05.000006Z: a fixed start for every test clock.
inline TimePoint test_epoch() { return TimePoint(std::chrono::microseconds(1767323045000006)); }

inline std::shared_ptr<const std::string> bytes(std::string_view s) {
  return std::make_shared<const std::string>(s);
}

inline NewFile file(std::string role, std::int64_t version, std::string_view content) {
  return NewFile{std::move(role), version, bytes(content)};
}

// Distinct content for (gun, role, version), as Notary's SampleCustomTUFObj makes.
inline std::string sample(std::string_view gun, std::string_view role, std::int64_t version) {
  return std::string(gun) + "_" + std::string(role) + "_" + std::to_string(version);
}

inline NewFile sample_file(std::string_view gun, std::string role, std::int64_t version) {
  std::string content = sample(gun, role, version);
  return NewFile{std::move(role), version, bytes(content)};
}

inline std::string sha_hex(std::string_view content) { return keys::sha256_hex(as_bytes(content)); }

// Backends. Each has store(), clock and reopen() (persistent backends close and reopen the
// same data; MemoryStore keeps its state, so tests of persistence use persistent() to skip).
struct MemoryBackend {
  static constexpr bool persistent() { return false; }
  FixedClock clock{test_epoch()};
  std::unique_ptr<MemoryStore> impl = std::make_unique<MemoryStore>(clock);
  MetaStore& store() { return *impl; }
  void reopen() {}
};

template <bool kSync>
struct RocksDbBackendT {
  static constexpr bool persistent() { return true; }
  TempDir dir;
  FixedClock clock{test_epoch()};
  std::unique_ptr<RocksDbStore> impl;

  RocksDbBackendT() { reopen(); }
  RocksDbStoreOptions options() const {
    RocksDbStoreOptions o;
    o.path = dir.path() / "db";
    o.sync_writes = kSync;
    o.verify_sha256_on_read = true;
    o.block_cache_bytes = std::size_t{1} << 20;
    o.clock = &clock;
    return o;
  }
  MetaStore& store() { return *impl; }
  void reopen() {
    impl.reset();
    auto s = RocksDbStore::open(options());
    REQUIRE_MESSAGE(s.ok(), s.error().message);
    impl = std::move(s).value();
  }
};
using RocksDbBackend = RocksDbBackendT<false>;
using RocksDbSyncBackend = RocksDbBackendT<true>;

}  // namespace vouch::server::testing

TYPE_TO_STRING_AS("memory", vouch::server::testing::MemoryBackend);
TYPE_TO_STRING_AS("rocksdb", vouch::server::testing::RocksDbBackend);
TYPE_TO_STRING_AS("rocksdb-sync", vouch::server::testing::RocksDbSyncBackend);
