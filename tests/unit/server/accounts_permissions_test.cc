// The accounts model's pure rules: names (Docker's path-component grammar), the GUN ->
// namespace rule with and without repository_host, Permission text, and the effective
// permission as a matrix over grant x visibility x kind of principal x ownership.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "server/accounts/names.h"
#include "server/accounts/permissions.h"
#include "tests/support/check_macros.h"

using namespace vouch;
using namespace vouch::server::accounts;

TEST_CASE("names: Docker's path-component grammar, 2..64 bytes") {
  const std::vector<std::string> good_names = {"ab",
                                               "alice",
                                               "a1",
                                               "a.b",
                                               "a_b",
                                               "a__b",
                                               "a-b",
                                               "a---b",
                                               "0x",
                                               "my-org.dev_team__x",
                                               std::string(64, 'a')};
  for (const std::string& good : good_names) {
    CAPTURE(good);
    CHECK(validate_name(good).ok());
  }
  const std::vector<std::string> bad_names = {
      "",     "a",     "Alice", "a b",  "-ab", "ab-", ".ab", "ab.",
      "a..b", "a___b", "a._b",  "a-.b", "a/b", "a:b", "é1",  std::string(65, 'a')};
  for (const std::string& bad : bad_names) {
    CAPTURE(bad);
    auto s = validate_name(bad);
    CHECK_REASON(s, Reason::kMalformed);
    CHECK(s.error().code == Code::kInvalidArgument);
  }
}

TEST_CASE("names: service accounts are <owner>/<name>") {
  auto sa = parse_service_account_name("acme/ci-bot");
  REQUIRE_OK(sa);
  CHECK(sa->owner == "acme");
  CHECK(sa->name == "ci-bot");
  CHECK_REASON(parse_service_account_name("acme"), Reason::kMalformed);
  CHECK_REASON(parse_service_account_name("acme/ci/x"), Reason::kMalformed);
  CHECK_REASON(parse_service_account_name("/ci"), Reason::kMalformed);
  CHECK_REASON(parse_service_account_name("Acme/ci"), Reason::kMalformed);
}

TEST_CASE("names: GUN -> namespace (Docker's reference rule)") {
  struct Row {
    const char* gun;
    const char* host;
    const char* want;  // nullptr: no namespace
  };
  const std::vector<Row> rows = {
      {"acme/app", "", "acme"},
      {"acme/team/app", "", "acme"},
      {"docker.io/library/alpine", "", "library"},
      {"localhost/alice/app", "", "alice"},
      {"localhost:5000/alice/app", "", "alice"},
      {"registry.example.com/acme/app", "", "acme"},
      {"acme", "", nullptr},               // no repository name
      {"docker.io/library", "", nullptr},  // host + namespace only
      {"Acme/app", "", nullptr},           // not a valid name
      {"acme/", "", nullptr},
      {"reg.example.com/acme/app", "reg.example.com", "acme"},
      {"reg.example.com/acme/sub/app", "reg.example.com", "acme"},
      {"other.example.com/acme/app", "reg.example.com", nullptr},  // another host
      {"acme/app", "reg.example.com", nullptr},
      {"reg.example.com.evil/acme/app", "reg.example.com", nullptr},
      {"reg.example.com/acme", "reg.example.com", nullptr},
  };
  for (const Row& r : rows) {
    CAPTURE(r.gun);
    CAPTURE(r.host);
    auto ns = gun_namespace(r.gun, r.host);
    if (r.want == nullptr) {
      CHECK_FALSE(ns.has_value());
    } else {
      REQUIRE(ns.has_value());
      CHECK(*ns == r.want);
    }
  }
  CHECK(namespace_target("acme") == "acme/*");
}

TEST_CASE("permissions: text round trip") {
  for (Permission p :
       {Permission::kNone, Permission::kRead, Permission::kReadWrite, Permission::kAdmin}) {
    auto back = parse_permission(to_string(p));
    REQUIRE(back.has_value());
    CHECK(*back == p);
  }
  CHECK(to_string(Permission::kReadWrite) == "read-write");
  CHECK_FALSE(parse_permission("write").has_value());
  CHECK_FALSE(parse_permission("Admin").has_value());
  CHECK(*parse_visibility("public") == Visibility::kPublic);
  CHECK_FALSE(parse_visibility("internal").has_value());
}

namespace {

Permission P(const char* text) { return *parse_permission(text); }

// A principal of `who` on GUN "acme/app" (namespace "acme", an organization), holding one
// grant of `grant` that reaches it the way `who` names ("user": a grant to the user;
// "team": to a team of theirs; "sa": to the service account; "anon": a grant to a user that
// anonymous requests cannot claim).
PermissionInputs cell(const std::string& who, Permission grant, Visibility vis,
                      const std::string& target = "acme/app") {
  PermissionInputs in;
  in.gun = "acme/app";
  in.ns = "acme";
  in.owner = NamespaceOwner::kOrganization;
  in.visibility = vis;
  if (who == "user") {
    in.principal = {Principal::Kind::kUser, "bob", false, ""};
    in.grants.push_back({{GrantSubject::Kind::kUser, "bob"}, target, grant});
  } else if (who == "team") {
    in.principal = {Principal::Kind::kUser, "bob", false, ""};
    in.teams = {"acme/devs"};
    in.grants.push_back({{GrantSubject::Kind::kTeam, "acme/devs"}, target, grant});
  } else if (who == "sa") {
    in.principal = {Principal::Kind::kServiceAccount, "acme/ci", false, "tok"};
    in.grants.push_back({{GrantSubject::Kind::kServiceAccount, "acme/ci"}, target, grant});
  } else {
    in.principal = {};
    in.grants.push_back({{GrantSubject::Kind::kUser, ""}, target, grant});
  }
  return in;
}

}  // namespace

TEST_CASE("permissions: matrix grant x visibility x principal kind") {
  struct Row {
    const char* who;
    const char* grant;
    const char* vis;
    const char* want;
  };
  // Every cell written out: the table is the specification.
  const std::vector<Row> rows = {
      {"user", "none", "private", "none"},
      {"user", "none", "public", "read"},
      {"user", "read", "private", "read"},
      {"user", "read", "public", "read"},
      {"user", "read-write", "private", "read-write"},
      {"user", "read-write", "public", "read-write"},
      {"user", "admin", "private", "admin"},
      {"user", "admin", "public", "admin"},
      {"team", "none", "private", "none"},
      {"team", "none", "public", "read"},
      {"team", "read", "private", "read"},
      {"team", "read", "public", "read"},
      {"team", "read-write", "private", "read-write"},
      {"team", "read-write", "public", "read-write"},
      {"team", "admin", "private", "admin"},
      {"team", "admin", "public", "admin"},
      {"sa", "none", "private", "none"},
      {"sa", "none", "public", "read"},
      {"sa", "read", "private", "read"},
      {"sa", "read", "public", "read"},
      {"sa", "read-write", "private", "read-write"},
      {"sa", "read-write", "public", "read-write"},
      {"sa", "admin", "private", "admin"},
      {"sa", "admin", "public", "admin"},
      {"anon", "none", "private", "none"},
      {"anon", "none", "public", "read"},
      {"anon", "read", "private", "none"},
      {"anon", "read", "public", "read"},
      {"anon", "read-write", "private", "none"},
      {"anon", "read-write", "public", "read"},
      {"anon", "admin", "private", "none"},
      {"anon", "admin", "public", "read"},
  };
  for (const Row& r : rows) {
    for (const char* target : {"acme/app", "acme/*"}) {  // the GUN, or the org default
      CAPTURE(r.who);
      CAPTURE(r.grant);
      CAPTURE(r.vis);
      CAPTURE(target);
      auto in = cell(r.who, P(r.grant), *parse_visibility(r.vis), target);
      CHECK(to_string(effective_permission(in)) == r.want);
    }
  }
}

TEST_CASE("permissions: ownership matrix (own namespace, org admin, system admin)") {
  struct Row {
    const char* who;  // "owner" | "org-admin" | "sysadmin" | "sa-owned" | "other-user"
    const char* vis;
    const char* want;
  };
  const std::vector<Row> rows = {
      {"owner", "private", "admin"},
      {"owner", "public", "admin"},
      {"org-admin", "private", "admin"},
      {"org-admin", "public", "admin"},
      {"sysadmin", "private", "admin"},
      {"sysadmin", "public", "admin"},
      // A service account owned by the namespace is not an admin of it by ownership.
      {"sa-owned", "private", "none"},
      {"sa-owned", "public", "read"},
      // A user whose name is not the namespace, and an org member who is not its admin.
      {"other-user", "private", "none"},
      {"other-user", "public", "read"},
  };
  for (const Row& r : rows) {
    for (const char* grant : {"none", "read", "read-write", "admin"}) {
      CAPTURE(r.who);
      CAPTURE(r.vis);
      CAPTURE(grant);
      PermissionInputs in;
      in.visibility = *parse_visibility(r.vis);
      std::string who = r.who;
      in.gun = who == "owner" ? "alice/app" : "acme/app";
      in.ns = who == "owner" ? "alice" : "acme";
      in.owner = who == "owner" ? NamespaceOwner::kUser : NamespaceOwner::kOrganization;
      if (who == "owner") in.principal = {Principal::Kind::kUser, "alice", false, ""};
      if (who == "org-admin") {
        in.principal = {Principal::Kind::kUser, "carol", false, ""};
        in.org_admin = true;
      }
      if (who == "sysadmin") in.principal = {Principal::Kind::kUser, "root1", true, ""};
      if (who == "sa-owned")
        in.principal = {Principal::Kind::kServiceAccount, "acme/ci", false, ""};
      if (who == "other-user") in.principal = {Principal::Kind::kUser, "acme2", false, ""};
      // A grant to someone else never changes these cells.
      in.grants.push_back({{GrantSubject::Kind::kUser, "zed"}, in.gun, P(grant)});
      CHECK(to_string(effective_permission(in)) == r.want);
    }
  }
}

TEST_CASE("permissions: grants for other GUNs, namespaces or teams do not apply") {
  auto in = cell("team", Permission::kAdmin, Visibility::kPrivate);
  in.grants = {
      {{GrantSubject::Kind::kTeam, "acme/devs"}, "acme/other", Permission::kAdmin},
      {{GrantSubject::Kind::kTeam, "acme/devs"}, "acme2/*", Permission::kAdmin},
      {{GrantSubject::Kind::kTeam, "acme/ops"}, "acme/app", Permission::kAdmin},
      {{GrantSubject::Kind::kUser, "acme/devs"}, "acme/app", Permission::kAdmin},
      {{GrantSubject::Kind::kServiceAccount, "bob"}, "acme/app", Permission::kAdmin},
  };
  CHECK(effective_permission(in) == Permission::kNone);
  // The maximum over the grants that apply.
  in.grants.push_back({{GrantSubject::Kind::kTeam, "acme/devs"}, "acme/*", Permission::kRead});
  in.grants.push_back({{GrantSubject::Kind::kUser, "bob"}, "acme/app", Permission::kReadWrite});
  CHECK(effective_permission(in) == Permission::kReadWrite);
  // A GUN without a namespace: only grants on the exact GUN apply, and no ownership.
  PermissionInputs bare;
  bare.gun = "lonely";
  bare.principal = {Principal::Kind::kUser, "lonely", false, ""};
  CHECK(effective_permission(bare) == Permission::kNone);
  bare.grants.push_back({{GrantSubject::Kind::kUser, "lonely"}, "lonely", Permission::kRead});
  CHECK(effective_permission(bare) == Permission::kRead);
}

TEST_CASE("permissions: a token's scope limit caps the result") {
  auto in = cell("user", Permission::kAdmin, Visibility::kPublic);
  in.scope = ScopeLimit{{"acme/*"}, Permission::kReadWrite};
  CHECK(effective_permission(in) == Permission::kReadWrite);
  in.scope = ScopeLimit{{"acme/app"}, Permission::kRead};
  CHECK(effective_permission(in) == Permission::kRead);
  in.scope = ScopeLimit{{"acme/other", "acme2/*"}, Permission::kAdmin};
  CHECK(effective_permission(in) == Permission::kNone);  // even public: the token is limited
  in.scope = ScopeLimit{{}, Permission::kRead};
  CHECK(effective_permission(in) == Permission::kRead);
  // The scope never raises a permission.
  auto low = cell("user", Permission::kRead, Visibility::kPrivate);
  low.scope = ScopeLimit{{"*"}, Permission::kAdmin};
  CHECK(effective_permission(low) == Permission::kRead);
  CHECK(scope_matches(ScopeLimit{{"acme/*"}, Permission::kRead}, "acme/a/b"));
  CHECK_FALSE(scope_matches(ScopeLimit{{"acme/*"}, Permission::kRead}, "acme"));
  CHECK_FALSE(scope_matches(ScopeLimit{{"acme/*"}, Permission::kRead}, "acmex/a"));
}
