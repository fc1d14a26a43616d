#include "client/disk_cache.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "tests/unit/client/client_test_util.h"

namespace vouch::client {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;
using testing::list_tree;
using testing::mode_of;
using testing::read_file;
using testing::write_file;

// The real notary 0.7 client's cache of example.com/vouch/ecdsa (tests/data/notary/README.md).
const fs::path kNotaryCache = fs::path(VOUCH_TEST_DATA) / "notary" / "ecdsa" / "client";
constexpr std::string_view kNotaryGun = "example.com/vouch/ecdsa";

// Role name of a file under a metadata directory: "targets/releases.json" -> "targets/releases".
std::string role_of(const std::string& rel) { return rel.substr(0, rel.size() - 5); }

std::vector<std::string> files_only(const std::vector<std::string>& tree) {
  std::vector<std::string> out;
  for (const auto& e : tree) {
    if (e.back() != '/') out.push_back(e);
  }
  return out;
}

TEST_CASE("disk cache: round trip, replace, and Notary's layout and permissions") {
  TempDir tmp;
  auto cache = DiskMetadataCache::open(tmp.path(), "docker.io/library/alpine");
  REQUIRE(cache.ok());
  CHECK(cache->dir() == tmp.path() / "tuf" / "docker.io" / "library" / "alpine" / "metadata");
  // open() creates nothing.
  CHECK_FALSE(fs::exists(tmp.path() / "tuf"));

  CHECK(cache->load("root", 1024).error().reason == Reason::kNotFound);
  CHECK(cache->load("targets/releases", 1024).error().reason == Reason::kNotFound);

  REQUIRE(cache->store("root", "root v1").ok());
  REQUIRE(cache->store("targets/releases", std::string("bytes\0with nul", 14)).ok());
  CHECK(*cache->load("root", 1024) == "root v1");
  CHECK(*cache->load("targets/releases", 1024) == std::string("bytes\0with nul", 14));

  // Replacing is atomic: the new bytes, and no temporary file left behind.
  REQUIRE(cache->store("root", "root v2, longer than v1").ok());
  CHECK(*cache->load("root", 1024) == "root v2, longer than v1");
  REQUIRE(cache->store("root", "").ok());
  CHECK(*cache->load("root", 1024) == "");
  CHECK(list_tree(cache->dir()) ==
        std::vector<std::string>{"root.json", "targets/", "targets/releases.json"});

  // notary const.go: PrivExecPerms 0700 for every directory it creates, PrivNoExecPerms 0600
  // for files (storage/filestore.go Set).
  CHECK(mode_of(tmp.path() / "tuf") == 0700);
  CHECK(mode_of(tmp.path() / "tuf" / "docker.io") == 0700);
  CHECK(mode_of(cache->dir()) == 0700);
  CHECK(mode_of(cache->dir() / "targets") == 0700);
  CHECK(mode_of(cache->dir() / "root.json") == 0600);
  CHECK(mode_of(cache->dir() / "targets" / "releases.json") == 0600);

  auto path = cache->path_of("targets/releases");
  REQUIRE(path.ok());
  CHECK(*path == cache->dir() / "targets" / "releases.json");
}

TEST_CASE("disk cache: same layout as the real notary client's cache") {
  // Every file of notary's cache, stored through DiskMetadataCache, lands at the same relative
  // path, and DiskMetadataCache reads notary's own files back byte for byte.
  TempDir tmp;
  auto cache = DiskMetadataCache::open(tmp.path(), kNotaryGun);
  REQUIRE(cache.ok());
  const auto notary_tree = list_tree(kNotaryCache);
  const auto notary_files = files_only(notary_tree);
  REQUIRE(notary_files.size() >= 6);  // root, targets, snapshot, timestamp, 2 delegations
  for (const auto& rel : notary_files) {
    REQUIRE(rel.size() > 5);
    REQUIRE(rel.substr(rel.size() - 5) == ".json");
    REQUIRE(cache->store(role_of(rel), read_file(kNotaryCache / rel)).ok());
  }
  CHECK(list_tree(cache->dir()) == notary_tree);
  CHECK(cache->dir() ==
        tmp.path() / "tuf" / "example.com" / "vouch" / "ecdsa" / "metadata");

  TempDir copy;
  const fs::path meta = copy.path() / "tuf" / "example.com" / "vouch" / "ecdsa" / "metadata";
  fs::create_directories(meta.parent_path());
  fs::copy(kNotaryCache, meta, fs::copy_options::recursive);
  auto theirs = DiskMetadataCache::open(copy.path(), kNotaryGun);
  REQUIRE(theirs.ok());
  for (const auto& rel : notary_files) {
    auto bytes = theirs->load(role_of(rel), 1 << 20);
    REQUIRE_MESSAGE(bytes.ok(), rel);
    CHECK(*bytes == read_file(kNotaryCache / rel));
  }
}

TEST_CASE("disk cache: reads are bounded") {
  TempDir tmp;
  auto cache = DiskMetadataCache::open(tmp.path(), "example.com/app");
  REQUIRE(cache.ok());
  const std::string data(1000, 'x');
  REQUIRE(cache->store("timestamp", data).ok());
  CHECK(*cache->load("timestamp", 1000) == data);
  CHECK(cache->load("timestamp", 999).error().reason == Reason::kTooLarge);
  CHECK(cache->load("timestamp", 0).error().reason == Reason::kTooLarge);
  REQUIRE(cache->store("snapshot", "").ok());
  CHECK(*cache->load("snapshot", 0) == "");

  // A FIFO planted where a role belongs is refused without blocking; so is a directory.
  const fs::path fifo = cache->dir() / "targets.json";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK(cache->load("targets", 1000).error().reason == Reason::kIo);
  fs::create_directories(cache->dir() / "root.json");
  CHECK(cache->load("root", 1000).error().reason == Reason::kIo);
}

TEST_CASE("disk cache: hostile GUNs never leave <trust_dir>/tuf/") {
  TempDir tmp;
  // The whole rule is tested in tests/unit/tuf/gun_test.cc; these would escape or alias.
  const std::vector<std::string> bad = {"", "/etc", "../x", "a/../../x", "a/..", "..", ".",
                                        "a/./b", "a//b", "a/", "bad\xff utf8"};
  for (const auto& gun : bad) {
    CAPTURE(gun);
    CHECK(gun_dir(tmp.path(), gun).error().reason == Reason::kBadGun);
    CHECK(DiskMetadataCache::open(tmp.path(), gun).error().reason == Reason::kBadGun);
  }
  const std::vector<std::string> good = {
      "docker.io/library/alpine", "localhost:5000/team/app", "example.com/vouch/ecdsa",
      "a", "a..b/c.d", "x/...", "ü/app", std::string(255, 'a')};
  for (const auto& gun : good) {
    CAPTURE(gun);
    auto dir = gun_dir(tmp.path(), gun);
    REQUIRE(dir.ok());
    CHECK(*dir == tmp.path() / "tuf" / gun);
    // The path stays below <trust_dir>/tuf/ lexically.
    const auto rel = dir->lexically_normal().lexically_relative(tmp.path() / "tuf");
    CHECK_FALSE(rel.empty());
    CHECK(rel.begin()->string() != "..");
  }
}

TEST_CASE("disk cache: hostile role names are refused") {
  TempDir tmp;
  auto cache = DiskMetadataCache::open(tmp.path(), "example.com/app");
  REQUIRE(cache.ok());
  for (const std::string role :
       {"", "../root", "targets/../../../x", "/targets", "targets/", "targets//a", "Root",
        "root.json", "targets/a b", "targets/.", "targets/..", "foo", "targets/a\n"}) {
    CAPTURE(role);
    CHECK(cache->store(role, "x").error().reason == Reason::kBadRole);
    CHECK(cache->load(role, 10).error().reason == Reason::kBadRole);
    CHECK(cache->path_of(role).error().reason == Reason::kBadRole);
  }
  // Nothing was written anywhere.
  CHECK(list_tree(tmp.path()).empty());
}

TEST_CASE("disk cache: remove_all removes only this GUN's metadata") {
  TempDir tmp;
  auto a = DiskMetadataCache::open(tmp.path(), "example.com/a");
  auto b = DiskMetadataCache::open(tmp.path(), "example.com/b");
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->remove_all().ok());  // nothing there yet
  REQUIRE(a->store("root", "a").ok());
  REQUIRE(a->store("targets/releases", "a").ok());
  REQUIRE(b->store("root", "b").ok());
  const fs::path changelist = tmp.path() / "tuf" / "example.com" / "a" / "changelist" / "x.change";
  write_file(changelist, "{}");

  REQUIRE(a->remove_all().ok());
  CHECK_FALSE(fs::exists(a->dir()));
  CHECK(fs::exists(changelist));
  CHECK(a->load("root", 10).error().reason == Reason::kNotFound);
  CHECK(*b->load("root", 10) == "b");
  // The cache works again after a removal.
  REQUIRE(a->store("root", "again").ok());
  CHECK(*a->load("root", 10) == "again");
}

TEST_CASE("disk cache: a store that cannot complete fails cleanly") {
  TempDir tmp;
  auto cache = DiskMetadataCache::open(tmp.path(), "example.com/app");
  REQUIRE(cache.ok());
  REQUIRE(cache->store("targets", "v1").ok());
  // A regular file where the delegation directory must go.
  write_file(cache->dir() / "targets", "not a directory");
  CHECK(cache->store("targets/releases", "x").error().reason == Reason::kIo);
  // A directory where the role's file must go: rename fails, the temporary file is removed.
  fs::create_directories(cache->dir() / "snapshot.json" / "sub");
  CHECK(cache->store("snapshot", "x").error().reason == Reason::kIo);
  CHECK(list_tree(cache->dir()) == std::vector<std::string>{"snapshot.json/", "snapshot.json/sub/",
                                                            "targets", "targets.json"});
  CHECK(*cache->load("targets", 10) == "v1");
}

}  // namespace
}  // namespace vouch::client
