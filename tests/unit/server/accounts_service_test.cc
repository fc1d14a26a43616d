// AccountsService: authentication (passwords, API tokens, refresh tokens, throttling),
// permission() over the stored model, and every admin operation allowed and refused by who
// may do it. Runs over MemoryAccountStore (the store itself has its conformance suite) with a
// FixedClock and cheap Argon2 costs.

#include "server/accounts/accounts_service.h"

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "server/accounts/memory_account_store.h"
#include "server/accounts/names.h"
#include "tests/support/check_macros.h"

using namespace vouch;
using namespace vouch::server::accounts;
using keys::SecretString;
using namespace std::chrono_literals;

namespace {

const TimePoint kStart = TimePoint(std::chrono::seconds(1'800'000'000));

AccountsOptions cheap_options() {
  AccountsOptions o;
  o.password_hash = {64, 1, 1};
  return o;
}

Principal user(std::string name) { return {Principal::Kind::kUser, std::move(name), false, ""}; }
Principal sa(std::string name) {
  return {Principal::Kind::kServiceAccount, std::move(name), false, ""};
}

template <typename T>
Code code_of(const Result<T>& r) {
  return r.ok() ? Code::kOk : r.error().code;
}

#define CHECK_DENIED(expr)                                     \
  do {                                                         \
    auto denied_result_ = (expr);                              \
    CHECK_REASON(denied_result_, Reason::kPermissionDenied);   \
    CHECK(code_of(denied_result_) == Code::kPermissionDenied); \
  } while (false)

struct Fixture {
  MemoryAccountStore store;
  FixedClock clock{kStart};
  std::unique_ptr<AccountsService> svc;
  std::vector<ChangeEvent> changes;
  Principal root = {Principal::Kind::kUser, "root", true, ""};

  explicit Fixture(AccountsOptions o = cheap_options()) {
    auto s = AccountsService::create(store, clock, std::move(o));
    REQUIRE_OK(s);
    svc = std::move(s).value();
    svc->set_on_change([this](const ChangeEvent& e) { changes.push_back(e); });
    auto boot = svc->bootstrap_admin("root", SecretString("root-password"));
    REQUIRE_OK(boot);
    REQUIRE(*boot);
  }

  void add_user(const std::string& name, bool admin = false) {
    REQUIRE_OK(svc->create_user(root, name, SecretString(name + "-password"), admin));
  }

  Result<Principal> login(std::string_view name, std::string_view secret,
                          std::string_view source = "10.0.0.1") {
    return svc->authenticate(name, SecretString(secret), source);
  }

  Permission perm(const Principal& p, std::string_view gun) {
    auto r = svc->permission(p, gun);
    REQUIRE_OK(r);
    return *r;
  }

  // acme (org, admin alice), team acme/devs with bob, user carol outside; service account
  // acme/ci.
  void org_setup() {
    add_user("alice");
    add_user("bob");
    add_user("carol");
    REQUIRE_OK(svc->create_org(user("alice"), "acme"));
    REQUIRE_OK(svc->create_team(user("alice"), "acme", "devs", "developers"));
    REQUIRE_OK(svc->add_team_member(user("alice"), "acme", "devs", "bob"));
    REQUIRE_OK(svc->create_service_account(user("alice"), "acme/ci", "CI"));
  }
};

}  // namespace

TEST_CASE("accounts: bootstrap creates the first admin only when there is no user") {
  Fixture f;
  CHECK(f.changes.size() == 1);
  CHECK(f.changes[0].action == "user.bootstrap");
  auto again = f.svc->bootstrap_admin("other", SecretString("other-password"));
  REQUIRE_OK(again);
  CHECK_FALSE(*again);
  CHECK_REASON(f.login("other", "other-password"), Reason::kBadCredentials);
  auto p = f.login("root", "root-password");
  REQUIRE_OK(p);
  CHECK(p->kind == Principal::Kind::kUser);
  CHECK(p->admin);
  // Bad input is refused before anything is stored.
  MemoryAccountStore empty;
  auto s = AccountsService::create(empty, f.clock, cheap_options());
  REQUIRE_OK(s);
  CHECK_REASON((*s)->bootstrap_admin("Root", SecretString("root-password")), Reason::kMalformed);
  CHECK_REASON((*s)->bootstrap_admin("root", SecretString("short")), Reason::kMalformed);
}

TEST_CASE("accounts: wrong password and unknown user give the same error") {
  Fixture f;
  f.add_user("alice");
  auto wrong = f.login("alice", "not-her-password");
  auto unknown = f.login("nobody", "not-her-password");
  auto bad_name = f.login("No Body!", "whatever-password");
  for (const auto* r : {&wrong, &unknown, &bad_name}) {
    CHECK_REASON(*r, Reason::kBadCredentials);
    CHECK(r->error().code == Code::kUnauthenticated);
    CHECK(r->error().message == wrong.error().message);
  }
  REQUIRE_OK(f.login("alice", "alice-password"));
}

TEST_CASE("accounts: a disabled user cannot authenticate, nor use a token, and gets nothing") {
  Fixture f;
  f.add_user("alice");
  auto token = f.svc->create_token(user("alice"), "alice", "laptop");
  REQUIRE_OK(token);
  REQUIRE_OK(f.svc->set_user_disabled(f.root, "alice", true));
  CHECK_REASON(f.login("alice", "alice-password"), Reason::kBadCredentials);
  CHECK_REASON(f.login("alice", token->text.view()), Reason::kBadCredentials);
  CHECK(f.perm(user("alice"), "alice/app") == Permission::kNone);
  CHECK_REASON(f.svc->create_org(user("alice"), "acme"), Reason::kPermissionDenied);
  REQUIRE_OK(f.svc->set_user_disabled(f.root, "alice", false));
  REQUIRE_OK(f.login("alice", "alice-password"));
  CHECK(f.perm(user("alice"), "alice/app") == Permission::kAdmin);
}

TEST_CASE("accounts: API tokens authenticate; revoked and expired ones do not") {
  Fixture f;
  f.org_setup();
  auto t = f.svc->create_token(user("alice"), "acme/ci", "pipeline", 1h);
  REQUIRE_OK(t);
  CHECK(t->info.owner_kind == Principal::Kind::kServiceAccount);
  CHECK(t->info.expires == kStart + 1h);
  auto p = f.login("acme/ci", t->text.view());
  REQUIRE_OK(p);
  CHECK(p->kind == Principal::Kind::kServiceAccount);
  CHECK(p->name == "acme/ci");
  CHECK(p->token_id == t->info.id);
  CHECK_FALSE(p->admin);
  // The token is tied to its owner's name, and the secret never appears in a change event.
  CHECK_REASON(f.login("alice", t->text.view()), Reason::kBadCredentials);
  for (const ChangeEvent& e : f.changes) {
    CHECK(e.detail.find(t->text.view()) == std::string::npos);
    CHECK(e.target.find(t->text.view()) == std::string::npos);
  }
  // A service account has no password.
  CHECK_REASON(f.login("acme/ci", "some-password"), Reason::kBadCredentials);
  // last_used is recorded.
  auto listed = f.svc->list_tokens(user("alice"), "acme/ci", {});
  REQUIRE_OK(listed);
  REQUIRE(listed->items.size() == 1);
  CHECK(listed->items[0].last_used == kStart);
  // Expired.
  f.clock.advance(1h);
  CHECK_REASON(f.login("acme/ci", t->text.view()), Reason::kBadCredentials);
  CHECK(f.perm(*p, "acme/app") == Permission::kNone);
  // Revoked.
  auto t2 = f.svc->create_token(user("alice"), "acme/ci", "pipeline 2");
  REQUIRE_OK(t2);
  CHECK(t2->info.expires == f.clock.now() + std::chrono::hours(24 * 90));
  auto p2 = f.login("acme/ci", t2->text.view());
  REQUIRE_OK(p2);
  REQUIRE_OK(f.svc->set_grant(
      user("alice"),
      {{GrantSubject::Kind::kServiceAccount, "acme/ci"}, "acme/app", Permission::kReadWrite}));
  CHECK(f.perm(*p2, "acme/app") == Permission::kReadWrite);
  REQUIRE_OK(f.svc->revoke_token(user("alice"), t2->info.id));
  CHECK_REASON(f.login("acme/ci", t2->text.view()), Reason::kBadCredentials);
  CHECK(f.perm(*p2, "acme/app") == Permission::kNone);  // the principal from it is void too
  // Lifetimes beyond the maximum are refused.
  CHECK(code_of(f.svc->create_token(user("alice"), "acme/ci", "x", std::chrono::hours(24 * 366))) ==
        Code::kInvalidArgument);
  CHECK(code_of(f.svc->create_token(user("alice"), "acme/ci", "x", 0s)) == Code::kInvalidArgument);
  // A malformed token-shaped secret is just bad credentials.
  std::string forged(t2->text.view());
  forged[10] = forged[10] == 'a' ? 'b' : 'a';
  CHECK_REASON(f.login("acme/ci", forged), Reason::kBadCredentials);
}

TEST_CASE("accounts: a token's scope limit caps permission") {
  Fixture f;
  f.org_setup();
  auto full = f.svc->create_token(user("alice"), "alice", "full");
  auto scoped = f.svc->create_token(user("alice"), "alice", "scoped", std::nullopt,
                                    ScopeLimit{{"acme/app"}, Permission::kRead});
  REQUIRE_OK(full);
  REQUIRE_OK(scoped);
  auto pf = f.login("alice", full->text.view());
  auto ps = f.login("alice", scoped->text.view());
  REQUIRE_OK(pf);
  REQUIRE_OK(ps);
  CHECK(f.perm(*pf, "acme/app") == Permission::kAdmin);  // alice is acme's admin
  CHECK(f.perm(*ps, "acme/app") == Permission::kRead);
  CHECK(f.perm(*ps, "acme/other") == Permission::kNone);
  CHECK(f.perm(*ps, "alice/own") == Permission::kNone);
  // A scoped token administers nothing beyond its scope: it cannot mint itself a broader
  // token, nor run account administration; an unscoped one can.
  CHECK_DENIED(f.svc->create_token(*ps, "alice", "escalate"));
  CHECK_DENIED(f.svc->create_org(*ps, "alices-org"));
  CHECK_DENIED(f.svc->set_org_member(*ps, "acme", "carol", true));
  CHECK_DENIED(f.svc->set_visibility(*ps, "acme/other", Visibility::kPublic));
  REQUIRE_OK(f.svc->create_token(*pf, "alice", "another"));
  REQUIRE_OK(f.svc->create_org(*pf, "alices-org"));
  // A refresh token issued to a scoped credential keeps the scope.
  auto refresh = f.svc->issue_refresh_token(*ps, "docker");
  REQUIRE_OK(refresh);
  auto pr = f.svc->authenticate_refresh_token(*refresh, "10.0.0.1");
  REQUIRE_OK(pr);
  CHECK(f.perm(*pr, "acme/app") == Permission::kRead);
  CHECK(f.perm(*pr, "acme/other") == Permission::kNone);
}

TEST_CASE("accounts: refresh tokens") {
  Fixture f;
  f.add_user("alice");
  auto p = f.login("alice", "alice-password");
  REQUIRE_OK(p);
  auto refresh = f.svc->issue_refresh_token(*p, "docker");
  REQUIRE_OK(refresh);
  auto back = f.svc->authenticate_refresh_token(*refresh, "10.0.0.1");
  REQUIRE_OK(back);
  CHECK(back->kind == Principal::Kind::kUser);
  CHECK(back->name == "alice");
  // A refresh token is not an API token for Basic auth, and an API token is no refresh token.
  CHECK_REASON(f.login("alice", refresh->view()), Reason::kBadCredentials);
  auto api = f.svc->create_token(user("alice"), "alice", "api");
  REQUIRE_OK(api);
  CHECK_REASON(f.svc->authenticate_refresh_token(api->text, "10.0.0.1"), Reason::kBadCredentials);
  // Listed (by client id), revocable.
  auto listed = f.svc->list_tokens(user("alice"), "alice", {});
  REQUIRE_OK(listed);
  REQUIRE(listed->items.size() == 2);
  std::string refresh_id;
  for (const TokenInfo& t : listed->items) {
    if (t.refresh) refresh_id = t.id;
  }
  REQUIRE_FALSE(refresh_id.empty());
  REQUIRE_OK(f.svc->revoke_token(user("alice"), refresh_id));
  CHECK_REASON(f.svc->authenticate_refresh_token(*refresh, "10.0.0.1"), Reason::kBadCredentials);
  CHECK_REASON(f.svc->issue_refresh_token(Principal{}, "docker"), Reason::kBadCredentials);
}

TEST_CASE("accounts: a token's text alone authenticates its owner (the admin API's Bearer)") {
  Fixture f;
  f.org_setup();
  auto api = f.svc->create_token(user("alice"), "acme/ci", "pipeline", 1h);
  REQUIRE_OK(api);
  auto p = f.svc->authenticate_any_token(api->text, "10.0.0.1");
  REQUIRE_OK(p);
  CHECK(p->kind == Principal::Kind::kServiceAccount);
  CHECK(p->name == "acme/ci");
  CHECK(p->token_id == api->info.id);
  auto alice = f.login("alice", "alice-password");
  REQUIRE_OK(alice);
  auto refresh = f.svc->issue_refresh_token(*alice, "docker");
  REQUIRE_OK(refresh);
  auto r = f.svc->authenticate_any_token(*refresh, "10.0.0.1");
  REQUIRE_OK(r);
  CHECK(r->name == "alice");
  // Not a password, nor a forged, revoked or expired token; failures count for throttling.
  CHECK_REASON(f.svc->authenticate_any_token(SecretString("alice-password"), "10.0.0.1"),
               Reason::kBadCredentials);
  std::string forged(api->text.view());
  forged.back() = forged.back() == 'a' ? 'b' : 'a';
  CHECK_REASON(f.svc->authenticate_any_token(SecretString(forged), "10.0.0.1"),
               Reason::kBadCredentials);
  f.clock.advance(1h);
  CHECK_REASON(f.svc->authenticate_any_token(api->text, "10.0.0.1"), Reason::kBadCredentials);
  for (int i = 0; i < 11; ++i) {
    CHECK_REASON(f.svc->authenticate_any_token(SecretString(forged), "10.0.0.9"),
                 Reason::kBadCredentials);
  }
  CHECK_REASON(f.svc->authenticate_any_token(*refresh, "10.0.0.9"), Reason::kThrottled);
  REQUIRE_OK(f.svc->authenticate_any_token(*refresh, "10.0.0.2"));
}

TEST_CASE("accounts: throttling one source does not affect another") {
  AccountsOptions o = cheap_options();
  o.throttle_max_failures = 3;
  o.throttle_window = 60s;
  o.throttle_lockout = 300s;
  Fixture f(o);
  f.add_user("alice");
  for (int i = 0; i < 3; ++i)
    CHECK_REASON(f.login("alice", "wrong-pass", "1.1.1.1"), Reason::kBadCredentials);
  // A success from another source does not reset 1.1.1.1's count.
  REQUIRE_OK(f.login("alice", "alice-password", "2.2.2.2"));
  CHECK_REASON(f.login("alice", "wrong-pass", "1.1.1.1"), Reason::kBadCredentials);  // the 4th
  auto throttled = f.login("alice", "alice-password", "1.1.1.1");
  CHECK_REASON(throttled, Reason::kThrottled);
  CHECK(throttled.error().code == Code::kResourceExhausted);
  // Tokens and refresh tokens from that source are throttled too.
  CHECK_REASON(f.svc->authenticate_refresh_token(SecretString("x"), "1.1.1.1"), Reason::kThrottled);
  // The account itself is not locked for other sources.
  REQUIRE_OK(f.login("alice", "alice-password", "2.2.2.2"));
  REQUIRE_OK(f.login("alice", "alice-password", "3.3.3.3"));
  // The lockout ends.
  f.clock.advance(301s);
  REQUIRE_OK(f.login("alice", "alice-password", "1.1.1.1"));
  // Failures spread beyond the window do not add up.
  for (int i = 0; i < 10; ++i) {
    CHECK_REASON(f.login("alice", "wrong-pass", "4.4.4.4"), Reason::kBadCredentials);
    f.clock.advance(30s);
  }
  // (at most 2 fell in any one window, so 4.4.4.4 is not throttled)
  REQUIRE_OK(f.login("alice", "alice-password", "4.4.4.4"));
}

TEST_CASE("accounts: the source table stays bounded") {
  AccountsOptions o = cheap_options();
  o.throttle_max_failures = 1;
  o.throttle_max_sources = 4;
  Fixture f(o);
  for (int i = 0; i < 50; ++i) {
    (void)f.login("x1", "wrong-pass", "src" + std::to_string(i));
    (void)f.login("x1", "wrong-pass", "src" + std::to_string(i));
  }
  // The most recent source is still tracked and throttled.
  CHECK_REASON(f.login("root", "root-password", "src49"), Reason::kThrottled);
  REQUIRE_OK(f.login("root", "root-password", "src0"));  // long forgotten
}

TEST_CASE("accounts: permission() over the stored model") {
  Fixture f;
  f.org_setup();
  Principal alice = user("alice"), bob = user("bob"), carol = user("carol");
  // Own namespace, org admin, system admin.
  CHECK(f.perm(carol, "carol/app") == Permission::kAdmin);
  CHECK(f.perm(carol, "docker.io/carol/app") == Permission::kAdmin);
  CHECK(f.perm(alice, "acme/app") == Permission::kAdmin);
  CHECK(f.perm(f.root, "acme/app") == Permission::kAdmin);
  CHECK(f.perm(f.root, "nonamespace") == Permission::kAdmin);
  CHECK(f.perm(carol, "nonamespace") == Permission::kNone);
  CHECK(f.perm(bob, "acme/app") == Permission::kNone);
  CHECK(f.perm(Principal{}, "acme/app") == Permission::kNone);
  // A team grant on the org default, then on one repository.
  REQUIRE_OK(f.svc->set_grant(
      alice, {{GrantSubject::Kind::kTeam, "acme/devs"}, "acme/*", Permission::kRead}));
  CHECK(f.perm(bob, "acme/app") == Permission::kRead);
  CHECK(f.perm(bob, "acme/new-repo") == Permission::kRead);
  REQUIRE_OK(f.svc->set_grant(
      alice, {{GrantSubject::Kind::kTeam, "acme/devs"}, "acme/app", Permission::kReadWrite}));
  CHECK(f.perm(bob, "acme/app") == Permission::kReadWrite);
  CHECK(f.perm(carol, "acme/app") == Permission::kNone);
  // Public: every authenticated principal and anonymous get read.
  REQUIRE_OK(f.svc->set_visibility(alice, "acme/app", Visibility::kPublic));
  CHECK(f.perm(carol, "acme/app") == Permission::kRead);
  CHECK(f.perm(Principal{}, "acme/app") == Permission::kRead);
  CHECK(f.perm(Principal{}, "acme/other") == Permission::kNone);
  // Removing a team member changes permission() at once.
  REQUIRE_OK(f.svc->remove_team_member(alice, "acme", "devs", "bob"));
  CHECK(f.perm(bob, "acme/app") == Permission::kRead);  // public only
  CHECK(f.perm(bob, "acme/new-repo") == Permission::kNone);
  // A grant of none removes it.
  REQUIRE_OK(f.svc->set_grant(
      alice, {{GrantSubject::Kind::kUser, "carol"}, "acme/app", Permission::kAdmin}));
  CHECK(f.perm(carol, "acme/app") == Permission::kAdmin);
  REQUIRE_OK(f.svc->set_grant(
      alice, {{GrantSubject::Kind::kUser, "carol"}, "acme/app", Permission::kNone}));
  CHECK(f.perm(carol, "acme/app") == Permission::kRead);
  // Demoting an org admin takes effect at once.
  REQUIRE_OK(f.svc->set_org_member(f.root, "acme", "alice", false));
  CHECK(f.perm(alice, "acme/other") == Permission::kNone);
}

TEST_CASE("accounts: a signed team roster is public and published only by its org's admins") {
  Fixture f;
  f.org_setup();
  const std::string roster = "vouch.example.com/_roster/acme";
  Principal alice = user("alice"), bob = user("bob"), carol = user("carol");
  CHECK(f.perm(alice, roster) == Permission::kAdmin);  // org admin
  CHECK(f.perm(f.root, roster) == Permission::kAdmin);  // system admin
  // Everyone else reads it (verifiers fetch it, anonymous too), whatever they are granted.
  REQUIRE_OK(f.svc->set_grant(
      alice, {{GrantSubject::Kind::kTeam, "acme/devs"}, "acme/*", Permission::kAdmin}));
  CHECK(f.perm(bob, "acme/app") == Permission::kAdmin);
  CHECK(f.perm(bob, roster) == Permission::kRead);
  CHECK(f.perm(carol, roster) == Permission::kRead);
  CHECK(f.perm(sa("acme/ci"), roster) == Permission::kRead);
  CHECK(f.perm(Principal{}, roster) == Permission::kRead);
  // Another org's roster is not acme's admins' to publish.
  CHECK(f.perm(alice, "vouch.example.com/_roster/other") == Permission::kRead);
  // A grant on the roster GUN itself gives no push: only the root can set one, and it is ignored.
  REQUIRE_OK(f.svc->set_grant(
      f.root, {{GrantSubject::Kind::kUser, "carol"}, roster, Permission::kReadWrite}));
  CHECK(f.perm(carol, roster) == Permission::kRead);
  // Demoting the org admin takes the roster away at once.
  REQUIRE_OK(f.svc->set_org_member(f.root, "acme", "alice", false));
  CHECK(f.perm(alice, roster) == Permission::kRead);
}

TEST_CASE("accounts: roster GUNs under repository_host") {
  AccountsOptions o = cheap_options();
  o.repository_host = "reg.example.com";
  Fixture f(o);
  f.add_user("alice");
  REQUIRE_OK(f.svc->create_org(user("alice"), "acme"));
  CHECK(f.perm(user("alice"), "reg.example.com/_roster/acme") == Permission::kAdmin);
  CHECK(f.perm(user("alice"), "other.example.com/_roster/acme") == Permission::kNone);
  CHECK(roster_organization("a.example/_roster/acme", "") == "acme");
  CHECK(roster_organization("a.example/_roster/acme/x", "") == std::nullopt);
  CHECK(roster_organization("_roster/acme", "") == std::nullopt);
  CHECK(roster_organization("a.example/_roster/Acme", "") == std::nullopt);
  CHECK(roster_organization("a/b/_roster/acme", "a/b") == "acme");
}

TEST_CASE("accounts: repository_host and default_visibility options") {
  AccountsOptions o = cheap_options();
  o.repository_host = "reg.example.com";
  o.default_visibility = Visibility::kPublic;
  Fixture f(o);
  f.add_user("carol");
  CHECK(f.perm(user("carol"), "reg.example.com/carol/app") == Permission::kAdmin);
  CHECK(f.perm(user("carol"), "carol/app") == Permission::kRead);  // no namespace; public
  CHECK(f.perm(Principal{}, "reg.example.com/carol/app") == Permission::kRead);
  REQUIRE_OK(
      f.svc->set_visibility(user("carol"), "reg.example.com/carol/app", Visibility::kPrivate));
  CHECK(f.perm(Principal{}, "reg.example.com/carol/app") == Permission::kNone);
}

TEST_CASE("accounts: grants to unknown or foreign subjects are invalid arguments") {
  Fixture f;
  f.org_setup();
  Principal alice = user("alice");
  auto unknown_team = f.svc->set_grant(
      alice, {{GrantSubject::Kind::kTeam, "acme/nope"}, "acme/app", Permission::kRead});
  CHECK(code_of(unknown_team) == Code::kInvalidArgument);
  CHECK(code_of(f.svc->set_grant(
            alice, {{GrantSubject::Kind::kUser, "zed"}, "acme/app", Permission::kRead})) ==
        Code::kInvalidArgument);
  CHECK(code_of(f.svc->set_grant(alice, {{GrantSubject::Kind::kServiceAccount, "acme/nope"},
                                         "acme/app",
                                         Permission::kRead})) == Code::kInvalidArgument);
  // A team only on its own organization's repositories.
  REQUIRE_OK(f.svc->create_org(alice, "other"));
  CHECK(code_of(f.svc->set_grant(
            alice, {{GrantSubject::Kind::kTeam, "acme/devs"}, "other/app", Permission::kRead})) ==
        Code::kInvalidArgument);
  CHECK(code_of(f.svc->set_grant(
            alice, {{GrantSubject::Kind::kTeam, "acme/devs"}, "other/*", Permission::kRead})) ==
        Code::kInvalidArgument);
  // Bad targets.
  for (const char* target : {"", "a*b", "acme/*/x", "*", "/acme"}) {
    CAPTURE(target);
    CHECK(code_of(f.svc->set_grant(
              alice, {{GrantSubject::Kind::kUser, "bob"}, target, Permission::kRead})) ==
          Code::kInvalidArgument);
  }
}

TEST_CASE("accounts: the last enabled system admin cannot go") {
  Fixture f;
  CHECK(code_of(f.svc->delete_user(f.root, "root")) == Code::kFailedPrecondition);
  CHECK(code_of(f.svc->set_user_disabled(f.root, "root", true)) == Code::kFailedPrecondition);
  CHECK(code_of(f.svc->set_user_admin(f.root, "root", false)) == Code::kFailedPrecondition);
  // A disabled second admin does not count.
  f.add_user("admin2", true);
  REQUIRE_OK(f.svc->set_user_disabled(f.root, "admin2", true));
  CHECK(code_of(f.svc->set_user_admin(f.root, "root", false)) == Code::kFailedPrecondition);
  REQUIRE_OK(f.svc->set_user_disabled(f.root, "admin2", false));
  // With two, one may go.
  REQUIRE_OK(f.svc->set_user_admin(f.root, "root", false));
  CHECK_DENIED(f.svc->create_user(f.root, "x1", SecretString("x1-password")));  // demoted
  CHECK(code_of(f.svc->delete_user(user("admin2"), "admin2")) == Code::kFailedPrecondition);
}

TEST_CASE("accounts: user administration is for system admins (and self)") {
  Fixture f;
  f.add_user("alice");
  f.add_user("bob");
  Principal alice = user("alice");
  CHECK_DENIED(f.svc->create_user(alice, "eve", SecretString("eve-password")));
  CHECK_DENIED(f.svc->set_user_disabled(alice, "bob", true));
  CHECK_DENIED(f.svc->set_user_admin(alice, "alice", true));
  CHECK_DENIED(f.svc->delete_user(alice, "bob"));
  CHECK_DENIED(f.svc->list_users(alice, {}));
  CHECK_DENIED(f.svc->get_user(alice, "bob"));
  CHECK_DENIED(f.svc->set_password(alice, "bob", SecretString("new-password")));
  CHECK_DENIED(f.svc->create_user(sa("acme/ci"), "eve", SecretString("eve-password")));
  CHECK(code_of(f.svc->create_user(Principal{}, "eve", SecretString("eve-password"))) ==
        Code::kUnauthenticated);
  // Self.
  REQUIRE_OK(f.svc->get_user(alice, "alice"));
  REQUIRE_OK(f.svc->set_password(alice, "alice", SecretString("alice-new-password")));
  CHECK_REASON(f.login("alice", "alice-password"), Reason::kBadCredentials);
  REQUIRE_OK(f.login("alice", "alice-new-password"));
  CHECK_REASON(f.svc->set_password(alice, "alice", SecretString("short")), Reason::kMalformed);
  // Admin.
  REQUIRE_OK(f.svc->set_password(f.root, "bob", SecretString("bob-new-password")));
  REQUIRE_OK(f.svc->set_user_admin(f.root, "bob", true));
  auto bob = f.svc->get_user(f.root, "bob");
  REQUIRE_OK(bob);
  CHECK(bob->admin);
  // Names are shared with organizations, and unique.
  CHECK(code_of(f.svc->create_user(f.root, "alice", SecretString("password1"))) ==
        Code::kAlreadyExists);
  REQUIRE_OK(f.svc->create_org(alice, "acme"));
  CHECK(code_of(f.svc->create_user(f.root, "acme", SecretString("password1"))) ==
        Code::kAlreadyExists);
  CHECK(code_of(f.svc->create_org(alice, "bob")) == Code::kAlreadyExists);
  CHECK_REASON(f.svc->create_user(f.root, "Eve", SecretString("password1")), Reason::kMalformed);
  // Paging.
  for (int i = 0; i < 5; ++i) f.add_user("u" + std::to_string(i));
  std::vector<std::string> names;
  PageRequest page{"", 3};
  for (;;) {
    auto p = f.svc->list_users(f.root, page);
    REQUIRE_OK(p);
    for (const UserInfo& u : p->items) names.push_back(u.name);
    if (p->next.empty()) break;
    page.start_after = p->next;
  }
  CHECK(names == std::vector<std::string>{"alice", "bob", "root", "u0", "u1", "u2", "u3", "u4"});
  // Delete removes memberships, tokens and grants: a new user of the same name inherits none.
  REQUIRE_OK(f.svc->set_grant(
      alice, {{GrantSubject::Kind::kUser, "bob"}, "acme/app", Permission::kAdmin}));
  auto bob_token = f.svc->create_token(user("bob"), "bob", "t");
  REQUIRE_OK(bob_token);
  REQUIRE_OK(f.svc->delete_user(f.root, "bob"));
  CHECK(code_of(f.svc->get_user(f.root, "bob")) == Code::kNotFound);
  f.add_user("bob");
  CHECK(f.perm(user("bob"), "acme/app") == Permission::kNone);
  CHECK_REASON(f.login("bob", bob_token->text.view()), Reason::kBadCredentials);
}

TEST_CASE("accounts: organizations, members and teams are run by org admins") {
  Fixture f;
  f.org_setup();
  Principal alice = user("alice"), bob = user("bob"), carol = user("carol");
  // Any user may create an org and becomes its admin.
  REQUIRE_OK(f.svc->create_org(carol, "carols-org"));
  auto members = f.svc->list_org_members(carol, "carols-org", {});
  REQUIRE_OK(members);
  REQUIRE(members->items.size() == 1);
  CHECK(members->items[0].user == "carol");
  CHECK(members->items[0].admin);
  CHECK_DENIED(f.svc->create_org(sa("acme/ci"), "x-org"));
  // Non-admin members and outsiders are refused.
  for (const Principal& who : {bob, carol}) {
    CAPTURE(who.name);
    CHECK_DENIED(f.svc->set_org_member(who, "acme", "carol", true));
    CHECK_DENIED(f.svc->remove_org_member(who, "acme", "bob"));
    CHECK_DENIED(f.svc->create_team(who, "acme", "ops"));
    CHECK_DENIED(f.svc->delete_team(who, "acme", "devs"));
    CHECK_DENIED(f.svc->add_team_member(who, "acme", "devs", "carol"));
    CHECK_DENIED(f.svc->remove_team_member(who, "acme", "devs", "bob"));
  }
  // Members may list; outsiders may not.
  REQUIRE_OK(f.svc->list_teams(bob, "acme", {}));
  REQUIRE_OK(f.svc->list_team_members(bob, "acme", "devs", {}));
  CHECK_DENIED(f.svc->list_teams(carol, "acme", {}));
  CHECK_DENIED(f.svc->list_org_members(carol, "acme", {}));
  // Org admins and system admins may.
  REQUIRE_OK(f.svc->set_org_member(alice, "acme", "carol", true));
  REQUIRE_OK(f.svc->create_team(carol, "acme", "ops"));
  REQUIRE_OK(f.svc->add_team_member(f.root, "acme", "ops", "bob"));
  auto team = f.svc->list_team_members(alice, "acme", "ops", {});
  REQUIRE_OK(team);
  CHECK(team->items == std::vector<std::string>{"bob"});
  auto teams = f.svc->list_teams(alice, "acme", {});
  REQUIRE_OK(teams);
  REQUIRE(teams->items.size() == 2);
  CHECK(teams->items[0].name == "devs");
  CHECK(teams->items[0].description == "developers");
  // Unknown users are invalid arguments; unknown orgs and teams are not found.
  CHECK(code_of(f.svc->add_team_member(alice, "acme", "devs", "zed")) == Code::kInvalidArgument);
  CHECK(code_of(f.svc->set_org_member(alice, "acme", "zed", false)) == Code::kInvalidArgument);
  CHECK(code_of(f.svc->add_team_member(alice, "acme", "nope", "bob")) == Code::kNotFound);
  CHECK(code_of(f.svc->create_team(alice, "nope", "t1")) == Code::kNotFound);
  CHECK(code_of(f.svc->create_team(alice, "acme", "ops")) == Code::kAlreadyExists);
  // Deleting a team drops its grants; removing an org member drops their teams.
  REQUIRE_OK(f.svc->set_grant(
      alice, {{GrantSubject::Kind::kTeam, "acme/ops"}, "acme/app", Permission::kReadWrite}));
  CHECK(f.perm(bob, "acme/app") == Permission::kReadWrite);
  REQUIRE_OK(f.svc->delete_team(alice, "acme", "ops"));
  CHECK(f.perm(bob, "acme/app") == Permission::kNone);
  REQUIRE_OK(f.svc->create_team(alice, "acme", "ops"));  // same name, fresh
  CHECK(f.perm(bob, "acme/app") == Permission::kNone);
  REQUIRE_OK(f.svc->set_grant(
      alice, {{GrantSubject::Kind::kTeam, "acme/devs"}, "acme/app", Permission::kRead}));
  CHECK(f.perm(bob, "acme/app") == Permission::kRead);
  REQUIRE_OK(f.svc->remove_org_member(alice, "acme", "bob"));
  CHECK(f.perm(bob, "acme/app") == Permission::kNone);
  // Changes were reported.
  bool saw = false;
  for (const ChangeEvent& e : f.changes) {
    if (e.action == "team.member.add" && e.target == "acme/ops" && e.detail == "member=bob") {
      CHECK(e.actor == "root");
      saw = true;
    }
  }
  CHECK(saw);
}

TEST_CASE("accounts: service accounts and tokens belong to their owner's admins") {
  Fixture f;
  f.org_setup();
  Principal alice = user("alice"), bob = user("bob"), carol = user("carol");
  CHECK_DENIED(f.svc->create_service_account(bob, "acme/bot"));
  CHECK_DENIED(f.svc->delete_service_account(bob, "acme/ci"));
  CHECK_DENIED(f.svc->list_service_accounts(bob, "acme", {}));
  CHECK_DENIED(f.svc->create_token(bob, "acme/ci", "x"));
  CHECK_DENIED(f.svc->list_tokens(bob, "acme/ci", {}));
  CHECK_DENIED(f.svc->create_token(bob, "alice", "x"));  // another user's token
  CHECK_DENIED(f.svc->create_service_account(carol, "bob/bot"));
  // A user owns service accounts of their own name.
  REQUIRE_OK(f.svc->create_service_account(carol, "carol/bot"));
  auto t = f.svc->create_token(carol, "carol/bot", "x");
  REQUIRE_OK(t);
  CHECK_DENIED(f.svc->revoke_token(bob, t->info.id));
  REQUIRE_OK(f.svc->revoke_token(f.root, t->info.id));
  CHECK(code_of(f.svc->revoke_token(carol, t->info.id)) == Code::kNotFound);
  // Unknown owners, taken names.
  CHECK(code_of(f.svc->create_service_account(f.root, "nope/bot")) == Code::kInvalidArgument);
  CHECK(code_of(f.svc->create_service_account(alice, "acme/ci")) == Code::kAlreadyExists);
  CHECK_REASON(f.svc->create_service_account(alice, "acme"), Reason::kMalformed);
  auto list = f.svc->list_service_accounts(alice, "acme", {});
  REQUIRE_OK(list);
  REQUIRE(list->items.size() == 1);
  CHECK(list->items[0].name == "acme/ci");
  CHECK(list->items[0].description == "CI");
  // A service account is never an admin by ownership, and cannot run admin operations.
  auto ci = f.svc->create_token(alice, "acme/ci", "ci");
  REQUIRE_OK(ci);
  auto pci = f.login("acme/ci", ci->text.view());
  REQUIRE_OK(pci);
  CHECK(f.perm(*pci, "acme/app") == Permission::kNone);
  CHECK_DENIED(f.svc->create_org(*pci, "ci-org"));
  CHECK_DENIED(f.svc->set_visibility(*pci, "acme/app", Visibility::kPublic));
  // Deleting the service account kills its tokens and grants.
  REQUIRE_OK(f.svc->set_grant(
      alice,
      {{GrantSubject::Kind::kServiceAccount, "acme/ci"}, "acme/app", Permission::kReadWrite}));
  CHECK(f.perm(*pci, "acme/app") == Permission::kReadWrite);
  REQUIRE_OK(f.svc->delete_service_account(alice, "acme/ci"));
  CHECK_REASON(f.login("acme/ci", ci->text.view()), Reason::kBadCredentials);
  REQUIRE_OK(f.svc->create_service_account(alice, "acme/ci"));
  CHECK(f.perm(sa("acme/ci"), "acme/app") == Permission::kNone);
}

TEST_CASE("accounts: repository settings are for repository admins") {
  Fixture f;
  f.org_setup();
  Principal alice = user("alice"), bob = user("bob");
  CHECK_DENIED(f.svc->set_visibility(bob, "acme/app", Visibility::kPublic));
  CHECK_DENIED(
      f.svc->set_grant(bob, {{GrantSubject::Kind::kUser, "bob"}, "acme/app", Permission::kAdmin}));
  CHECK_DENIED(
      f.svc->set_grant(bob, {{GrantSubject::Kind::kUser, "bob"}, "acme/*", Permission::kAdmin}));
  CHECK_DENIED(f.svc->get_repository(bob, "acme/app"));
  CHECK(code_of(f.svc->set_visibility(Principal{}, "acme/app", Visibility::kPublic)) ==
        Code::kUnauthenticated);
  // read-write is not enough; admin on the repository is.
  REQUIRE_OK(f.svc->set_grant(
      alice, {{GrantSubject::Kind::kUser, "bob"}, "acme/app", Permission::kReadWrite}));
  CHECK_DENIED(f.svc->set_visibility(bob, "acme/app", Visibility::kPublic));
  REQUIRE_OK(f.svc->set_grant(
      alice, {{GrantSubject::Kind::kUser, "bob"}, "acme/app", Permission::kAdmin}));
  REQUIRE_OK(f.svc->set_visibility(bob, "acme/app", Visibility::kPublic));
  // ...but admin on one repository is not admin on the org default.
  CHECK_DENIED(
      f.svc->set_grant(bob, {{GrantSubject::Kind::kUser, "carol"}, "acme/*", Permission::kRead}));
  auto settings = f.svc->get_repository(bob, "acme/app");
  REQUIRE_OK(settings);
  CHECK(settings->visibility == Visibility::kPublic);
  REQUIRE(settings->grants.size() == 1);
  CHECK(settings->grants[0] ==
        Grant{{GrantSubject::Kind::kUser, "bob"}, "acme/app", Permission::kAdmin});
  CHECK(code_of(f.svc->set_visibility(alice, "acme/*", Visibility::kPublic)) ==
        Code::kInvalidArgument);
}

TEST_CASE("accounts: memberships, listing and deleting organizations") {
  Fixture f;
  f.org_setup();
  Principal alice = user("alice"), bob = user("bob"), carol = user("carol");
  auto m = f.svc->list_memberships(bob, "bob");
  REQUIRE_OK(m);
  REQUIRE(m->orgs.size() == 1);
  CHECK(m->orgs[0].org == "acme");
  CHECK_FALSE(m->orgs[0].admin);
  CHECK(m->teams == std::vector<std::string>{"acme/devs"});
  CHECK_DENIED(f.svc->list_memberships(carol, "bob"));
  REQUIRE_OK(f.svc->list_memberships(f.root, "bob"));
  CHECK(code_of(f.svc->list_memberships(f.root, "zed")) == Code::kNotFound);
  REQUIRE_OK(f.svc->create_org(carol, "zorg"));
  auto orgs = f.svc->list_orgs(f.root, {"", 1});
  REQUIRE_OK(orgs);
  CHECK(orgs->items == std::vector<std::string>{"acme"});
  CHECK(orgs->next == "acme");
  orgs = f.svc->list_orgs(f.root, {"acme", 10});
  REQUIRE_OK(orgs);
  CHECK(orgs->items == std::vector<std::string>{"zorg"});
  CHECK(orgs->next.empty());
  CHECK_DENIED(f.svc->list_orgs(alice, {}));
  // Deleting: only its admins; everything of the org goes, and a new org of that name starts
  // empty.
  REQUIRE_OK(f.svc->set_grant(
      alice, {{GrantSubject::Kind::kTeam, "acme/devs"}, "acme/*", Permission::kReadWrite}));
  auto ci = f.svc->create_token(alice, "acme/ci", "ci");
  REQUIRE_OK(ci);
  CHECK_DENIED(f.svc->delete_org(bob, "acme"));
  CHECK_DENIED(f.svc->delete_org(carol, "acme"));
  REQUIRE_OK(f.svc->delete_org(alice, "acme"));
  CHECK(code_of(f.svc->delete_org(alice, "acme")) == Code::kNotFound);
  CHECK_REASON(f.login("acme/ci", ci->text.view()), Reason::kBadCredentials);
  auto after = f.svc->list_memberships(bob, "bob");
  REQUIRE_OK(after);
  CHECK(after->orgs.empty());
  CHECK(after->teams.empty());
  REQUIRE_OK(f.svc->create_org(carol, "acme"));
  REQUIRE_OK(f.svc->create_team(carol, "acme", "devs"));
  REQUIRE_OK(f.svc->add_team_member(carol, "acme", "devs", "bob"));
  CHECK(f.perm(bob, "acme/app") == Permission::kNone);
  CHECK(f.perm(alice, "acme/app") == Permission::kNone);
  CHECK(f.perm(carol, "acme/app") == Permission::kAdmin);
}

TEST_CASE("accounts: corrupt records are data loss, never a crash or a grant") {
  Fixture f;
  f.org_setup();
  REQUIRE_OK(f.store.write([](AccountWriter& w) -> Status {
    VOUCH_RETURN_IF_ERROR(w.put(Table::kUsers, "bob", "{not json"));
    VOUCH_RETURN_IF_ERROR(w.put(Table::kOrgMembers, "o/acme/carol", "[]"));
    return w.put(Table::kGrants,
                 "g\x1f"
                 "acme/app\x1f"
                 "user\x1f"
                 "carol",
                 R"({"permission":"owner"})");
  }));
  auto login = f.login("bob", "bob-password");
  REQUIRE_FALSE(login.ok());
  CHECK(login.error().code == Code::kDataLoss);
  auto p = f.svc->permission(user("bob"), "acme/app");
  REQUIRE_FALSE(p.ok());
  CHECK(p.error().code == Code::kDataLoss);
  auto q = f.svc->permission(user("carol"), "acme/app");
  REQUIRE_FALSE(q.ok());
  CHECK(q.error().code == Code::kDataLoss);
  // Unaffected records still work.
  REQUIRE_OK(f.login("alice", "alice-password"));
}
