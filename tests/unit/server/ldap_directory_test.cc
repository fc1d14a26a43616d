// Directory accounts (issue 14 item 6) against a real slapd that each case starts
// (tests/support/slapd.h): LdapDirectory's password check over StartTLS and LDAPS, the empty
// password refused without a bind, filter injection, the Active Directory filter, TLS
// verification, an unreachable directory; group members of the three group kinds; and
// AccountsService with the directory: directory users created on first sign-in, a local user
// of the same name winning, a directory outage leaving local users working, group sync.

#include "server/ldap/ldap_directory.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "server/accounts/accounts_service.h"
#include "server/accounts/memory_account_store.h"
#include "server/ldap/group_sync.h"
#include "tests/support/check_macros.h"
#include "tests/support/slapd.h"

using namespace vouch;
using namespace vouch::server;
using keys::SecretString;

namespace {

std::unique_ptr<test::Slapd> start_slapd() {
  auto s = test::Slapd::start();
  REQUIRE_MESSAGE(s.ok(), (s.ok() ? std::string() : s.error().message));
  return std::move(s).value();
}

std::string read_file(const std::string& path) {
  std::string out;
  FILE* f = std::fopen(path.c_str(), "rb");
  REQUIRE(f != nullptr);
  char buf[256];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
  std::fclose(f);
  return out;
}

enum class Tls { kStartTls, kLdaps };

SecretString reader_password(const test::Slapd& s) {
  return SecretString(read_file(s.get("READER_PASSWORD_FILE")));
}

ldap::LdapOptions options_for(const test::Slapd& s, Tls tls = Tls::kStartTls) {
  ldap::LdapOptions o;
  o.url = tls == Tls::kLdaps ? s.ldaps_url() : s.url();
  o.start_tls = tls == Tls::kStartTls;
  o.ca_file = s.ca_file();
  o.bind_dn = s.get("READER_DN");
  o.user_base = "ou=people," + s.base();
  o.group_base = "ou=groups," + s.base();
  o.timeout = std::chrono::milliseconds(5000);
  return o;
}

// With the reader's password from `slapd`, unless `password` is given.
std::unique_ptr<ldap::LdapDirectory> directory_for(const test::Slapd& slapd, ldap::LdapOptions o,
                                                   const char* password = nullptr) {
  auto d = ldap::LdapDirectory::create(
      std::move(o), password != nullptr ? SecretString(password) : reader_password(slapd));
  REQUIRE_OK(d);
  return std::move(d).value();
}

Status check(ldap::LdapDirectory& d, std::string_view name, std::string_view password) {
  return d.check_password(name, SecretString(password));
}

Code code_of(const Status& s) { return s.ok() ? Code::kOk : s.error().code; }

}  // namespace

TEST_CASE("ldap: escape_filter_value escapes what RFC 4515 requires") {
  CHECK(ldap::escape_filter_value("alice") == "alice");
  // RFC 4515 section 4's examples, and NUL.
  CHECK(ldap::escape_filter_value("Parens R Us (for all your parenthetical needs)") ==
        "Parens R Us \\28for all your parenthetical needs\\29");
  CHECK(ldap::escape_filter_value("*") == "\\2a");
  CHECK(ldap::escape_filter_value("C:\\MyFile") == "C:\\5cMyFile");
  CHECK(ldap::escape_filter_value(std::string_view("a\0b", 3)) == "a\\00b");
  CHECK(ldap::escape_filter_value("*)(uid=*") == "\\2a\\29\\28uid=\\2a");
}

TEST_CASE("ldap: LdapDirectory::create refuses plain ldap:// and incomplete options") {
  const auto base = [] {
    ldap::LdapOptions o;
    o.url = "ldap://127.0.0.1:389";
    o.start_tls = true;
    o.user_base = "ou=people,dc=example,dc=test";
    return o;
  };
  CHECK(ldap::LdapDirectory::create(base()).ok());
  auto o = base();
  o.start_tls = false;  // plain ldap://: passwords in clear
  CHECK_REASON(ldap::LdapDirectory::create(std::move(o)), Reason::kMalformed);
  o = base();
  o.start_tls = false;
  o.insecure_no_tls = true;  // the explicit flag
  CHECK(ldap::LdapDirectory::create(std::move(o)).ok());
  o = base();
  o.url = "http://127.0.0.1";
  CHECK_REASON(ldap::LdapDirectory::create(std::move(o)), Reason::kMalformed);
  o = base();
  o.user_filter = "(uid=alice)";  // no {username}
  CHECK_REASON(ldap::LdapDirectory::create(std::move(o)), Reason::kMalformed);
  o = base();
  o.bind_dn = "cn=reader,dc=example,dc=test";  // and no password
  CHECK_REASON(ldap::LdapDirectory::create(o), Reason::kMalformed);
  CHECK(ldap::LdapDirectory::create(std::move(o), SecretString("reader-password")).ok());
  o = base();
  o.team_map = {{"cn=ops,ou=groups,dc=example,dc=test", "ops"}};  // not <org>/<team>
  CHECK_REASON(ldap::LdapDirectory::create(std::move(o)), Reason::kMalformed);
}

TEST_CASE("ldap: a directory password is checked over StartTLS and over LDAPS") {
  auto slapd = start_slapd();
  for (const Tls tls : {Tls::kStartTls, Tls::kLdaps}) {
    CAPTURE(static_cast<int>(tls));
    auto d = directory_for(*slapd, options_for(*slapd, tls));
    REQUIRE_OK(check(*d, "alice", "alice-password"));
    CHECK_REASON(check(*d, "alice", "bob-password"), Reason::kBadCredentials);
    CHECK(code_of(check(*d, "alice", "wrong")) == Code::kUnauthenticated);
    CHECK_REASON(check(*d, "nobody", "alice-password"), Reason::kBadCredentials);
  }
}

TEST_CASE("ldap: an empty password is refused without any bind") {
  auto slapd = start_slapd();
  auto d = directory_for(*slapd, options_for(*slapd));
  auto before = slapd->binds();
  REQUIRE_OK(before);
  CHECK_REASON(check(*d, "alice", ""), Reason::kBadCredentials);
  auto after = slapd->binds();
  REQUIRE_OK(after);
  CHECK(*after == *before);
  // The counter does count binds (the test could not pass by counting nothing).
  REQUIRE_OK(check(*d, "alice", "alice-password"));
  auto later = slapd->binds();
  REQUIRE_OK(later);
  CHECK(*later > *after);
}

TEST_CASE("ldap: filter injection in the user name finds nobody") {
  auto slapd = start_slapd();
  auto d = directory_for(*slapd, options_for(*slapd));
  // Unescaped, "(uid=*)(uid=*)" would match everyone, and "*" anyone.
  for (const char* name : {"*)(uid=*", "*", "alice)(|(uid=*", "al*", "alice\\"}) {
    CAPTURE(name);
    CHECK_REASON(check(*d, name, "alice-password"), Reason::kBadCredentials);
  }
}

TEST_CASE("ldap: the Active Directory filter finds a user by sAMAccountName") {
  auto slapd = start_slapd();
  auto o = options_for(*slapd, Tls::kLdaps);
  o.user_filter = "(sAMAccountName={username})";
  auto d = directory_for(*slapd, std::move(o));
  REQUIRE_OK(check(*d, "dave.ad", "dave-password"));
  CHECK_REASON(check(*d, "dave", "dave-password"), Reason::kBadCredentials);
  CHECK_REASON(check(*d, "alice", "alice-password"), Reason::kBadCredentials);
}

TEST_CASE("ldap: a directory that cannot be asked is unavailable, never a wrong password") {
  auto slapd = start_slapd();
  SUBCASE("a CA that did not sign the server's certificate") {
    auto o = options_for(*slapd, Tls::kLdaps);
    o.ca_file = "/etc/ssl/certs/ca-certificates.crt";
    auto d = directory_for(*slapd, std::move(o));
    CHECK(code_of(check(*d, "alice", "alice-password")) == Code::kUnavailable);
  }
  SUBCASE("the service account's password is wrong") {
    auto d = directory_for(*slapd, options_for(*slapd), "not-the-reader-password");
    CHECK(code_of(check(*d, "alice", "alice-password")) == Code::kUnavailable);
  }
  SUBCASE("slapd is down") {
    auto d = directory_for(*slapd, options_for(*slapd));
    REQUIRE_OK(slapd->down());
    const Status st = check(*d, "alice", "alice-password");
    CHECK(code_of(st) == Code::kUnavailable);
    CHECK_REASON(st, Reason::kUnavailable);
    REQUIRE_OK(slapd->up());
    CHECK(check(*d, "alice", "alice-password").ok());
  }
}

TEST_CASE("ldap: a directory that accepts connections and never answers is unavailable") {
  // A listening socket nobody accepts from: TCP connects (the kernel's backlog), then silence.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(fd, 16) == 0);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  const std::string hostport = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  for (const bool ldaps : {false, true}) {
    CAPTURE(ldaps);
    ldap::LdapOptions o;
    o.url = (ldaps ? "ldaps://" : "ldap://") + hostport;
    o.start_tls = !ldaps;
    o.user_base = "ou=people,dc=example,dc=test";
    o.timeout = std::chrono::milliseconds(300);
    auto d = ldap::LdapDirectory::create(std::move(o));
    REQUIRE_OK(d);
    // Without the timeouts this would wait forever (and ctest's limit would fail the test).
    CHECK(code_of((*d)->check_password("alice", SecretString("alice-password"))) ==
          Code::kUnavailable);
  }
  ::close(fd);
}

TEST_CASE("ldap: group members of groupOfNames, groupOfUniqueNames and posixGroup") {
  auto slapd = start_slapd();
  const std::string groups = ",ou=groups," + slapd->base();
  auto d = directory_for(*slapd, options_for(*slapd));
  auto ops = d->group_members("cn=ops" + groups);
  REQUIRE_OK(ops);
  CHECK(*ops == std::vector<std::string>{"alice", "bob"});

  auto o = options_for(*slapd);
  o.member_attribute = "uniqueMember";
  auto devs = directory_for(*slapd, std::move(o))->group_members("cn=devs" + groups);
  REQUIRE_OK(devs);
  CHECK(*devs == std::vector<std::string>{"carol"});

  o = options_for(*slapd);
  o.member_attribute = "memberUid";
  auto posix = directory_for(*slapd, std::move(o))->group_members("cn=posix" + groups);
  REQUIRE_OK(posix);
  CHECK(*posix == std::vector<std::string>{"alice", "dave"});

  CHECK(d->group_members("cn=nosuch" + groups).error().code == Code::kNotFound);
  CHECK(d->group_members("uid=alice,ou=people," + slapd->base()).error().code ==
        Code::kNotFound);  // not under group_base
  o = options_for(*slapd);
  o.max_group_members = 1;
  CHECK_REASON(directory_for(*slapd, std::move(o))->group_members("cn=ops" + groups),
               Reason::kTooLarge);
}

namespace {

struct Accounts {
  accounts::MemoryAccountStore store;
  FixedClock clock{TimePoint(std::chrono::seconds(1'800'000'000))};
  std::unique_ptr<accounts::AccountsService> svc;
  accounts::Principal root{accounts::Principal::Kind::kUser, "root", true, ""};

  Accounts() {
    accounts::AccountsOptions o;
    o.password_hash = {64, 1, 1};
    auto s = accounts::AccountsService::create(store, clock, std::move(o));
    REQUIRE_OK(s);
    svc = std::move(s).value();
    auto boot = svc->bootstrap_admin("root", SecretString("root-password"));
    REQUIRE_OK(boot);
  }
  Result<accounts::Principal> login(std::string_view name, std::string_view password) {
    return svc->authenticate(name, SecretString(password), "10.0.0.1");
  }
  std::vector<std::string> team(std::string_view org, std::string_view team_name) {
    auto page = svc->list_team_members(root, org, team_name, {});
    REQUIRE_OK(page);
    return page->items;
  }
};

}  // namespace

TEST_CASE("ldap: AccountsService signs directory users in and keeps local users first") {
  auto slapd = start_slapd();
  auto d = directory_for(*slapd, options_for(*slapd));
  Accounts a;
  // Without the directory, alice is nobody.
  CHECK_REASON(a.login("alice", "alice-password"), Reason::kBadCredentials);
  a.svc->set_directory(d.get());
  auto alice = a.login("alice", "alice-password");
  REQUIRE_OK(alice);
  CHECK(alice->name == "alice");
  CHECK_FALSE(alice->admin);
  auto info = a.svc->get_user(a.root, "alice");  // the record was created
  REQUIRE_OK(info);
  CHECK_REASON(a.login("alice", "wrong"), Reason::kBadCredentials);
  // Directories ignore case; the user is alice whatever case was typed.
  auto typed = a.login("Alice", "alice-password");
  REQUIRE_OK(typed);
  CHECK(typed->name == "alice");
  CHECK_REASON(a.login("*)(uid=*", "alice-password"), Reason::kBadCredentials);
  CHECK_REASON(a.login("alice", ""), Reason::kBadCredentials);

  // Admin and disabled flags stay local.
  REQUIRE_OK(a.svc->set_user_admin(a.root, "alice", true));
  CHECK(a.login("alice", "alice-password")->admin);
  REQUIRE_OK(a.svc->set_user_disabled(a.root, "alice", true));
  CHECK_REASON(a.login("alice", "alice-password"), Reason::kBadCredentials);

  // A local user named like a directory user: only the local password counts.
  REQUIRE_OK(a.svc->create_user(a.root, "bob", SecretString("local-bob-password"), true));
  CHECK_REASON(a.login("bob", "bob-password"), Reason::kBadCredentials);
  CHECK_REASON(a.login("BOB", "bob-password"), Reason::kBadCredentials);
  REQUIRE_OK(a.login("bob", "local-bob-password"));

  // Directory down: directory users get kUnavailable, local users still sign in.
  REQUIRE_OK(slapd->down());
  auto carol = a.login("carol", "carol-password");
  REQUIRE_FALSE(carol.ok());
  CHECK(carol.error().code == Code::kUnavailable);
  REQUIRE_OK(a.login("root", "root-password"));
  REQUIRE_OK(a.login("bob", "local-bob-password"));
}

TEST_CASE("ldap: group sync sets a team's directory members and leaves local members alone") {
  auto slapd = start_slapd();
  auto o = options_for(*slapd);
  const std::string ops_dn = "cn=ops,ou=groups," + slapd->base();
  o.team_map = {{ops_dn, "acme/ops"}, {"cn=nosuch,ou=groups," + slapd->base(), "acme/ops"}};
  auto d = directory_for(*slapd, std::move(o));
  Accounts a;
  a.svc->set_directory(d.get());
  REQUIRE_OK(a.svc->create_org(a.root, "acme"));
  REQUIRE_OK(a.svc->create_team(a.root, "acme", "ops"));
  REQUIRE_OK(a.svc->create_user(a.root, "erin", SecretString("erin-password")));
  REQUIRE_OK(a.svc->add_team_member(a.root, "acme", "ops", "erin"));

  ldap::GroupSync sync(*d, *a.svc);
  auto report = sync.run_once();
  CHECK(report.groups_synced == 1);
  CHECK(report.groups_failed == 1);  // the missing group: counted, the other mapping synced
  CHECK(report.added == 2);
  CHECK(a.team("acme", "ops") == std::vector<std::string>{"alice", "bob", "erin"});
  // bob was created as a directory user by the sync and can sign in.
  REQUIRE_OK(a.login("bob", "bob-password"));

  // bob leaves the group: he leaves the team at the next sync; erin (local) stays.
  REQUIRE_OK(slapd->modify("dn: " + ops_dn +
                           "\nchangetype: modify\ndelete: member\nmember: uid=bob,ou=people," +
                           slapd->base() + "\n"));
  CHECK(a.team("acme", "ops") == std::vector<std::string>{"alice", "bob", "erin"});
  report = sync.run_once();
  CHECK(report.removed == 1);
  CHECK(a.team("acme", "ops") == std::vector<std::string>{"alice", "erin"});

  // A local user with a password is never pulled in by a group.
  REQUIRE_OK(a.svc->create_user(a.root, "carol", SecretString("local-carol-password")));
  REQUIRE_OK(slapd->modify("dn: " + ops_dn +
                           "\nchangetype: modify\nadd: member\nmember: uid=carol,ou=people," +
                           slapd->base() + "\n"));
  report = sync.run_once();
  CHECK(report.skipped == 1);
  CHECK(a.team("acme", "ops") == std::vector<std::string>{"alice", "erin"});

  // Directory down: the sync fails, counted, and the team stays as it was.
  REQUIRE_OK(slapd->down());
  report = sync.run_once();
  CHECK(report.groups_failed == 2);
  CHECK(a.team("acme", "ops") == std::vector<std::string>{"alice", "erin"});
}

TEST_CASE("ldap: the sync thread runs at start and again every interval, and stop() ends it") {
  auto slapd = start_slapd();
  auto o = options_for(*slapd);
  const std::string ops_dn = "cn=ops,ou=groups," + slapd->base();
  o.team_map = {{ops_dn, "acme/ops"}};
  o.sync_interval = std::chrono::seconds(1);
  auto d = directory_for(*slapd, std::move(o));
  Accounts a;
  a.svc->set_directory(d.get());
  REQUIRE_OK(a.svc->create_org(a.root, "acme"));
  REQUIRE_OK(a.svc->create_team(a.root, "acme", "ops"));
  // Waits (bounded; not a timing check) until the team is `want`.
  const auto eventually = [&](const std::vector<std::string>& want) {
    for (int i = 0; i < 300 && a.team("acme", "ops") != want; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    CHECK(a.team("acme", "ops") == want);
  };
  ldap::GroupSync sync(*d, *a.svc);
  sync.start();
  eventually({"alice", "bob"});
  REQUIRE_OK(slapd->modify("dn: " + ops_dn +
                           "\nchangetype: modify\ndelete: member\nmember: uid=bob,ou=people," +
                           slapd->base() + "\n"));
  eventually({"alice"});  // a later pass, nobody called run_once
  sync.stop();
  sync.stop();  // idempotent
}

TEST_CASE("ldap: sync_directory_team refuses an oversized member list and an unknown team") {
  Accounts a;
  REQUIRE_OK(a.svc->create_org(a.root, "acme"));
  REQUIRE_OK(a.svc->create_team(a.root, "acme", "ops"));
  std::vector<std::string> many(accounts::AccountsService::kMaxDirectorySyncNames + 1, "alice");
  CHECK_REASON(a.svc->sync_directory_team("acme/ops", many), Reason::kTooLarge);
  CHECK(a.team("acme", "ops").empty());
  auto missing = a.svc->sync_directory_team("acme/nope", {"alice"});
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == Code::kNotFound);
  CHECK_REASON(a.svc->sync_directory_team("no-slash", {"alice"}), Reason::kMalformed);
}
