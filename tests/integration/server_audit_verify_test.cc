// vouch-server audit-verify --audit-dir DIR, the real binary: OK and the head for an intact
// log (also while a writer holds it open), the first bad record and exit 1 for a tampered one,
// exit 1 for a directory without a log.

#include <doctest/doctest.h>
#include <sys/wait.h>

#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "common/encoding.h"
#include "server/audit/audit_log.h"
#include "tests/support/temp_dir.h"

using namespace vouch;
using namespace vouch::server::audit;
using vouch::test::TempDir;
namespace fs = std::filesystem;

namespace {

struct Run {
  int exit_code = -1;
  std::string out;
};

// Runs vouch-server audit-verify on `dir`; stdout and stderr together.
Run audit_verify(const fs::path& dir) {
  const std::string cmd = std::string(VOUCH_SERVER_BIN) + " audit-verify --audit-dir '" +
                          dir.string() + "' 2>&1";
  Run run;
  std::FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) run.out.append(buf.data(), n);
  const int status = ::pclose(p);
  REQUIRE(WIFEXITED(status));
  run.exit_code = WEXITSTATUS(status);
  return run;
}

AuditEvent grant(int i) {
  AuditEvent e;
  e.actor_kind = ActorKind::kUser;
  e.actor = "admin";
  e.action = Action::kGrantSet;
  e.target = "acme/app" + std::to_string(i);
  e.detail = {{"grantee", "team:acme/ops"}, {"permission", "read-write"}};
  e.source = "127.0.0.1";
  return e;
}

std::string record_key(std::uint64_t seq) {
  std::string k(1, 'r');
  for (int shift = 56; shift >= 0; shift -= 8) k.push_back(static_cast<char>((seq >> shift) & 0xff));
  return k;
}

}  // namespace

TEST_CASE("audit-verify prints the head and OK for an intact log, also beside a writer") {
  TempDir dir;
  const fs::path path = dir.path() / "audit";
  AuditLogOptions o;
  o.path = path;
  auto log = AuditLog::open(o);
  REQUIRE(log.ok());
  for (int i = 1; i <= 5; ++i) REQUIRE((*log)->append(grant(i)).ok());
  // The writer stays open: the check opens read-only.
  Run run = audit_verify(path);
  CAPTURE(run.out);
  CHECK(run.exit_code == 0);
  CHECK(run.out.find("5 records") != std::string::npos);
  CHECK(run.out.find(hex_encode((*log)->head().hash)) != std::string::npos);
  CHECK(run.out.find("OK") != std::string::npos);
}

TEST_CASE("audit-verify names the first bad record and exits 1") {
  TempDir dir;
  const fs::path path = dir.path() / "audit";
  {
    AuditLogOptions o;
    o.path = path;
    auto log = AuditLog::open(o);
    REQUIRE(log.ok());
    for (int i = 1; i <= 5; ++i) REQUIRE((*log)->append(grant(i)).ok());
  }
  {
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(rocksdb::Options(), path.string(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    std::string v;
    REQUIRE(db->Get(rocksdb::ReadOptions(), record_key(3), &v).ok());
    const auto at = v.find("read-write");
    REQUIRE(at != std::string::npos);
    v.replace(at, 10, "read-admin");  // same length, another grant
    rocksdb::WriteOptions w;
    w.sync = true;
    REQUIRE(db->Put(w, record_key(3), v).ok());
  }
  Run run = audit_verify(path);
  CAPTURE(run.out);
  CHECK(run.exit_code == 1);
  CHECK(run.out.find("BAD at record 3") != std::string::npos);
  CHECK(run.out.find("OK") == std::string::npos);
}

TEST_CASE("audit-verify of a directory without an audit log exits 1 and creates nothing") {
  TempDir dir;
  Run run = audit_verify(dir.path() / "missing");
  CAPTURE(run.out);
  CHECK(run.exit_code == 1);
  CHECK_FALSE(fs::exists(dir.path() / "missing"));
}

TEST_CASE("audit-verify reports a log whose last record was cut off") {
  TempDir dir;
  const fs::path path = dir.path() / "audit";
  {
    AuditLogOptions o;
    o.path = path;
    auto log = AuditLog::open(o);
    REQUIRE(log.ok());
    for (int i = 1; i <= 3; ++i) REQUIRE((*log)->append(grant(i)).ok());
  }
  {
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(rocksdb::Options(), path.string(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    rocksdb::WriteOptions w;
    w.sync = true;
    REQUIRE(db->Delete(w, record_key(3)).ok());
  }
  Run run = audit_verify(path);
  CAPTURE(run.out);
  CHECK(run.exit_code == 1);
  CHECK(run.out.find("BAD") != std::string::npos);
}
