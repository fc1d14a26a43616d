// Integration: the real vouch-server with auth.type "accounts" (issue 14) over HTTPS, RocksDB
// and the embedded key store: the first administrator from VOUCH_BOOTSTRAP_ADMIN, the admin API
// (/api/v1/) allowed and refused, tokens from the server's own /auth/token, the permission
// matrix over Notary's API (none/read/read-write/admin x public/private x user/team/service
// account, and anonymous), throttling, the audit log of it all, and backup/restore of the
// accounts store and the audit log.
//
// The server listens on a port picked just before its start (free_port): the realm of its
// challenges, which clients must reach, names that port.

#include <doctest/doctest.h>

#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/encoding.h"
#include "keys/key_registration.h"
#include "keys/pem.h"
#include "keys/private_key.h"
#include "tests/integration/server_test_util.h"
#include "tests/support/memory_signer.h"
#include "tests/support/repo_simulator.h"

using namespace vouch;
using namespace vouch::server_test;
using testing::RepoSimulator;

namespace {

constexpr const char* kBinary = VOUCH_SERVER_BIN;
const std::string kAdmin = "admin";
const std::string kAdminPassword = "admin-password-1";
const std::map<std::string, std::string> kEnv = {
    {"VOUCH_SERVER_KEY_PASSPHRASE", "server key store passphrase"},
    {"VOUCH_BOOTSTRAP_ADMIN", kAdmin + ":" + kAdminPassword}};

std::string basic(const std::string& name, const std::string& secret) {
  const std::string pair = name + ":" + secret;
  return "Authorization: Basic " + base64_encode(as_bytes(pair));
}
std::string bearer(const std::string& token) { return "Authorization: Bearer " + token; }

std::string tuf_path(const std::string& gun, const std::string& file = "") {
  return "/v2/" + gun + "/_trust/tuf/" + file;
}

json::Value parse(const HttpResult& r) {
  auto doc = json::parse(r.body);
  REQUIRE_MESSAGE(doc.ok(), r.status << " " << r.body);
  return *doc;
}

std::string str(const json::Value& v, std::string_view key) {
  const json::Value* f = v.find(key);
  REQUIRE_MESSAGE(f != nullptr, key);
  REQUIRE_MESSAGE(f->is_string(), key);
  return f->as_string();
}

// The error code of an admin API error body {"error":{"code","message"}}.
std::string error_code(const HttpResult& r) {
  auto doc = json::parse(r.body);
  if (!doc || !doc->is_object()) return "<not json: " + r.body + ">";
  const json::Value* e = doc->find("error");
  if (e == nullptr || !e->is_object()) return "<no error: " + r.body + ">";
  const json::Value* code = e->find("code");
  return code != nullptr && code->is_string() ? code->as_string() : "<no code>";
}

// A vouch-server with accounts on, in `dir`, with cheap password hashing and the given
// throttle (failures per minute from one address).
struct AccountsServer {
  explicit AccountsServer(const std::string& name, int throttle_failures = 1000)
      : dir("vouch-accounts-" + name), tls(dir) {
    start(throttle_failures);
  }

  void start(int throttle_failures, const std::vector<std::string>& args = {},
             const std::string& db = "db") {
    port = signer_test::free_port();
    const std::string config = R"({
  "server": {"http_addr": "127.0.0.1:)" +
                               std::to_string(port) + R"(", "tls_cert_file": ")" + tls.cert_file +
                               R"(", "tls_key_file": ")" + tls.key_file + R"("},
  "trust_service": {"type": "local", "key_algorithm": "ecdsa"},
  "storage": {"backend": "rocksdb", "db_url": ")" +
                               db + R"("},
  "auth": {"type": "accounts"},
  "accounts": {"password_memory_kib": 1024, "password_iterations": 1,
               "throttle_max_failures": )" +
                               std::to_string(throttle_failures) + R"(},
  "logging": {"level": "info"}
})";
    server = std::make_unique<ServerProcess>(kBinary, dir / "server", config, args, kEnv);
    REQUIRE_MESSAGE(server->port() == port, server->log());
  }

  HttpResult call(const std::string& method, const std::string& path, const std::string& auth,
                  const std::string& body = "") const {
    std::vector<std::string> headers;
    if (!auth.empty()) headers.push_back(auth);
    if (!body.empty()) headers.push_back("Content-Type: application/json");
    return https(method, server->url(path), tls.ca_file, body, headers);
  }
  HttpResult admin(const std::string& method, const std::string& path,
                   const std::string& body = "") const {
    return call(method, path, basic(kAdmin, kAdminPassword), body);
  }
  void require(const HttpResult& r, long status) const {
    REQUIRE_MESSAGE(r.status == status, r.status << " " << r.body);
  }

  // A token from /auth/token for `actions` on `gun` ("" auth: anonymous); "" if refused.
  std::string token(const std::string& auth, const std::string& gun,
                    const std::string& actions = "pull,push,*") const {
    const HttpResult r = call(
        "GET", "/auth/token?service=vouch-server&scope=repository:" + gun + ":" + actions, auth);
    if (r.status != 200) return "";
    return str(parse(r), "token");
  }

  // A publish of `sim`'s root, targets and snapshot.
  HttpResult publish(const RepoSimulator& sim, const std::string& token) const {
    Multipart m;
    for (const char* role : {"root", "targets", "snapshot"}) m.part(role, sim.files.at(role));
    return https("POST", server->url(tuf_path(sim.gun())), tls.ca_file, m.finish(),
                 {m.content_type(), bearer(token)});
  }

  // Publishes a first version of `gun` as the administrator.
  void create_repository(const std::string& gun) {
    const std::string t = token(basic(kAdmin, kAdminPassword), gun);
    REQUIRE(!t.empty());
    const HttpResult key =
        https("GET", server->url(tuf_path(gun, "timestamp.key")), tls.ca_file, "", {bearer(t)});
    require(key, 200);
    auto ts_key = key_from_json(key.body);
    REQUIRE(ts_key.has_value());
    auto sim = std::make_unique<RepoSimulator>(gun, SystemClock::instance().now());
    sim->use_timestamp_key(*ts_key);
    sim->add_target("hello", "hello world");
    sim->publish();
    require(publish(*sim, t), 200);
    sims[gun] = std::move(sim);
  }

  TempDir dir;
  ServerTls tls;
  int port = 0;
  std::unique_ptr<ServerProcess> server;
  std::map<std::string, std::unique_ptr<RepoSimulator>> sims;
};

// The audit records' actions, in order.
std::vector<std::string> audit_actions(const AccountsServer& s) {
  std::vector<std::string> out;
  std::string after = "0";
  for (;;) {
    const HttpResult r = s.admin("GET", "/api/v1/audit?limit=1000&after=" + after);
    s.require(r, 200);
    const json::Value doc = parse(r);
    const auto& records = doc.find("records")->as_array();
    if (records.empty()) break;
    for (const auto& rec : records) out.push_back(str(rec, "action") + " " + str(rec, "target"));
    after = std::to_string(doc.find("next_after")->as_int());
  }
  return out;
}

bool has(const std::vector<std::string>& v, const std::string& prefix) {
  for (const auto& s : v) {
    if (s.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("vouch-server accounts: the permission matrix over HTTP, tokens from /auth/token") {
  AccountsServer s("matrix");
  // alice holds user grants, bob is in team acme/devs which holds team grants, acme/ci is a
  // service account with grants of its own; eve is a user without any.
  for (const char* user : {"alice", "bob", "eve"}) {
    s.require(
        s.admin("POST", "/api/v1/users",
                std::string(R"({"name":")") + user + R"(","password":"password-)" + user + R"("})"),
        201);
  }
  s.require(s.admin("POST", "/api/v1/orgs", R"({"name":"acme"})"), 201);
  s.require(s.admin("POST", "/api/v1/orgs/acme/teams", R"({"name":"devs"})"), 201);
  s.require(s.admin("PUT", "/api/v1/orgs/acme/teams/devs/members/bob"), 200);
  s.require(s.admin("POST", "/api/v1/service-accounts", R"({"owner":"acme","name":"ci"})"), 201);
  const HttpResult made =
      s.admin("POST", "/api/v1/tokens", R"({"owner":"acme/ci","label":"pipeline"})");
  s.require(made, 201);
  const std::string ci_token = str(parse(made), "token");

  const std::vector<std::string> levels = {"none", "read", "read-write", "admin"};
  const std::vector<std::string> visibilities = {"private", "public"};
  for (const auto& level : levels) {
    for (const auto& vis : visibilities) {
      const std::string gun = "acme/" + level + "-" + vis;
      s.create_repository(gun);
      s.require(s.admin("PUT", "/api/v1/repositories/visibility",
                        R"({"gun":")" + gun + R"(","visibility":")" + vis + R"("})"),
                200);
      if (level == "none") continue;
      for (const auto& [kind, grantee] : std::vector<std::pair<std::string, std::string>>{
               {"user", "alice"}, {"team", "acme/devs"}, {"service_account", "acme/ci"}}) {
        s.require(
            s.admin("PUT", "/api/v1/grants",
                    R"({"target":")" + gun + R"(","grantee_kind":")" + kind + R"(","grantee":")" +
                        grantee + R"(","permission":")" + level + R"("})"),
            200);
      }
    }
  }

  struct Who {
    std::string label;
    std::string auth;  // "" = anonymous
    bool granted;      // holds the row's grant (else only what visibility gives)
  };
  const std::vector<Who> principals = {{"anonymous", "", false},
                                       {"user (grant)", basic("alice", "password-alice"), true},
                                       {"team member", basic("bob", "password-bob"), true},
                                       {"service account", basic("acme/ci", ci_token), true},
                                       {"user (no grant)", basic("eve", "password-eve"), false}};
  const std::vector<std::string> ops = {"GET", "feed", "publish", "delete"};
  std::string matrix =
      "permission matrix (Y = allowed, n = refused 401; expected in brackets "
      "only where it differs)\n";
  char line[256];
  std::snprintf(line, sizeof line, "%-24s %-17s %s\n", "repository", "principal",
                "GET feed publish delete");
  matrix += line;
  int mismatches = 0;
  // Deletes last: a repository deleted by one principal no longer answers the others' reads.
  std::map<std::pair<std::string, std::string>, std::string> cells;
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& level : levels) {
      for (const auto& vis : visibilities) {
        const std::string gun = "acme/" + level + "-" + vis;
        for (const auto& who : principals) {
          const int effective = std::max(
              who.granted ? static_cast<int>(std::find(levels.begin(), levels.end(), level) -
                                             levels.begin())
                          : 0,
              vis == "public" ? 1 : 0);
          const std::string t = s.token(who.auth, gun);
          REQUIRE_MESSAGE(!t.empty(), who.label << " " << gun);
          const std::vector<std::string> auth = {bearer(t)};
          std::string& cell = cells[{gun, who.label}];
          for (const auto& op : ops) {
            if ((op == "delete") != (pass == 1)) continue;
            HttpResult r;
            int needed = 1;
            if (op == "GET") {
              r = https("GET", s.server->url(tuf_path(gun, "root.json")), s.tls.ca_file, "", auth);
            } else if (op == "feed") {
              r = https("GET", s.server->url("/v2/" + gun + "/_trust/changefeed"), s.tls.ca_file,
                        "", auth);
            } else if (op == "publish") {
              // The version published already: authorized, it is refused as old (400).
              r = s.publish(*s.sims.at(gun), t);
              needed = 2;
            } else {
              r = https("DELETE", s.server->url(tuf_path(gun)), s.tls.ca_file, "", auth);
              needed = 3;
            }
            const bool allowed = r.status != 401 && r.status != 403;
            const bool expected = effective >= needed;
            if (allowed && r.status >= 500) ++mismatches;
            if (allowed != expected) ++mismatches;
            CHECK_MESSAGE(allowed == expected, who.label << " " << op << " " << gun << ": "
                                                         << r.status << " " << r.body);
            cell += std::string(op == "GET" ? "" : " ") + (allowed ? "Y" : "n") +
                    (allowed != expected ? (expected ? "[Y]" : "[n]") : "");
            if (op == "feed") cell += "   ";
            if (op == "publish") cell += "      ";
          }
        }
      }
    }
  }
  for (const auto& level : levels) {
    for (const auto& vis : visibilities) {
      const std::string gun = "acme/" + level + "-" + vis;
      for (const auto& who : principals) {
        std::snprintf(line, sizeof line, "%-24s %-17s  %s\n", gun.c_str(), who.label.c_str(),
                      cells[{gun, who.label}].c_str());
        matrix += line;
      }
    }
  }
  MESSAGE(matrix);
  CHECK(mismatches == 0);

  // The writes are in the audit log with their actors, and the chain verifies.
  const auto actions = audit_actions(s);
  CHECK(has(actions, "publish acme/admin-private"));
  CHECK(has(actions, "delete acme/admin-private"));
  CHECK(has(actions, "grant_set acme/read-public"));
  CHECK(has(actions, "token_issued alice"));
  const HttpResult verify = s.admin("GET", "/api/v1/audit/verify");
  s.require(verify, 200);
  CHECK(parse(verify).find("ok")->as_bool());
}

TEST_CASE("vouch-server accounts: the admin API allows and refuses by who asks") {
  AccountsServer s("admin-api");
  const std::string alice = basic("alice", "alice-password");
  const std::string bob = basic("bob", "bob-password");

  SUBCASE("authentication") {
    HttpResult r = s.call("GET", "/api/v1/me", "");
    CHECK(r.status == 401);
    CHECK(error_code(r) == "no_credentials");
    CHECK(r.header("WWW-Authenticate") == "Basic realm=\"vouch\"");
    const HttpResult me = s.admin("GET", "/api/v1/me");
    s.require(me, 200);
    CHECK(str(parse(me), "name") == kAdmin);
    CHECK(parse(me).find("admin")->as_bool());
    // A wrong password and an unknown user read the same.
    const HttpResult wrong = s.call("GET", "/api/v1/me", basic(kAdmin, "not-the-password"));
    const HttpResult unknown = s.call("GET", "/api/v1/me", basic("nobody", "not-the-password"));
    CHECK(wrong.status == 401);
    CHECK(unknown.status == 401);
    CHECK(wrong.body == unknown.body);
    CHECK(wrong.header("WWW-Authenticate") == unknown.header("WWW-Authenticate"));
    // A JWT from /auth/token is not an admin credential.
    const std::string jwt = s.token(basic(kAdmin, kAdminPassword), "acme/app");
    REQUIRE(!jwt.empty());
    CHECK(s.call("GET", "/api/v1/me", bearer(jwt)).status == 401);
  }

  SUBCASE("users, the last administrator, passwords") {
    s.require(s.admin("POST", "/api/v1/users", R"({"name":"alice","password":"alice-password"})"),
              201);
    CHECK(s.admin("POST", "/api/v1/users", R"({"name":"alice","password":"alice-password"})")
              .status == 409);
    CHECK(error_code(s.admin("POST", "/api/v1/users",
                             R"({"name":"Alice!","password":"x1234567"})")) == "malformed");
    CHECK(s.admin("POST", "/api/v1/users", R"({"name":"carol","password":"x1234567","root":true})")
              .status == 400);
    CHECK(s.admin("POST", "/api/v1/users", "not json").status == 400);
    // A plain user may not create users or list them, but may read and change themself.
    CHECK(s.call("POST", "/api/v1/users", alice, R"({"name":"mallory","password":"x1234567"})")
              .status == 403);
    CHECK(s.call("GET", "/api/v1/users", alice).status == 403);
    s.require(s.call("GET", "/api/v1/users/alice", alice), 200);
    CHECK(s.call("GET", "/api/v1/users/admin", alice).status == 403);
    s.require(s.call("PATCH", "/api/v1/users/alice", alice, R"({"password":"alice-password-2"})"),
              200);
    CHECK(s.call("GET", "/api/v1/me", alice).status == 401);
    s.require(s.call("GET", "/api/v1/me", basic("alice", "alice-password-2")), 200);
    CHECK(s.call("PATCH", "/api/v1/users/alice", basic("alice", "alice-password-2"),
                 R"({"admin":true})")
              .status == 403);
    // The last enabled system administrator stays.
    HttpResult r = s.admin("DELETE", "/api/v1/users/admin");
    CHECK(r.status == 409);
    CHECK(error_code(r) == "conflict");
    CHECK(s.admin("PATCH", "/api/v1/users/admin", R"({"disabled":true})").status == 409);
    CHECK(s.admin("PATCH", "/api/v1/users/admin", R"({"admin":false})").status == 409);
    // Listing pages.
    const HttpResult page = s.admin("GET", "/api/v1/users?limit=1");
    s.require(page, 200);
    CHECK(parse(page).find("users")->as_array().size() == 1);
    CHECK(str(parse(page), "next_after") == "admin");
    CHECK(s.admin("GET", "/api/v1/users?limit=0").status == 400);
    // Disable, and the account authenticates nowhere.
    s.require(s.admin("PATCH", "/api/v1/users/alice", R"({"disabled":true})"), 200);
    CHECK(s.call("GET", "/api/v1/me", basic("alice", "alice-password-2")).status == 401);
    s.require(s.admin("DELETE", "/api/v1/users/alice"), 204);
    CHECK(s.admin("GET", "/api/v1/users/alice").status == 404);
  }

  SUBCASE("organizations, teams, grants, tokens") {
    s.require(s.admin("POST", "/api/v1/users", R"({"name":"alice","password":"alice-password"})"),
              201);
    s.require(s.admin("POST", "/api/v1/users", R"({"name":"bob","password":"bob-password"})"), 201);
    // Any user may make an organization and becomes its admin.
    s.require(s.call("POST", "/api/v1/orgs", alice, R"({"name":"acme"})"), 201);
    CHECK(s.call("POST", "/api/v1/orgs", bob, R"({"name":"acme"})").status == 409);
    CHECK(s.call("POST", "/api/v1/orgs", bob, R"({"name":"alice"})").status == 409);
    CHECK(s.call("GET", "/api/v1/orgs", alice).status == 403);
    s.require(s.admin("GET", "/api/v1/orgs"), 200);
    s.require(s.call("GET", "/api/v1/orgs/acme", alice), 200);
    CHECK(s.call("GET", "/api/v1/orgs/acme", bob).status == 403);
    CHECK(s.admin("GET", "/api/v1/orgs/nope").status == 404);
    s.require(s.call("POST", "/api/v1/orgs/acme/teams", alice,
                     R"({"name":"devs","description":"developers"})"),
              201);
    CHECK(s.call("POST", "/api/v1/orgs/acme/teams", bob, R"({"name":"ops"})").status == 403);
    const HttpResult team = s.call("GET", "/api/v1/orgs/acme/teams/devs", alice);
    s.require(team, 200);
    CHECK(str(parse(team), "description") == "developers");
    s.require(s.call("PUT", "/api/v1/orgs/acme/teams/devs/members/bob", alice), 200);
    CHECK(s.call("PUT", "/api/v1/orgs/acme/teams/devs/members/nobody", alice).status == 400);
    const HttpResult me = s.call("GET", "/api/v1/me", bob);
    s.require(me, 200);
    CHECK(parse(me).find("teams")->as_array().size() == 1);
    // Grants: the org admin on the org's namespace; an unknown team is 400; bob may not.
    HttpResult r = s.call("PUT", "/api/v1/grants", alice,
                          R"({"target":"acme/*","grantee_kind":"team","grantee":"acme/ghosts",)"
                          R"("permission":"read"})");
    CHECK(r.status == 400);
    CHECK(
        s.call("PUT", "/api/v1/grants", alice,
               R"({"target":"acme/app","grantee_kind":"user","grantee":"nobody",)"
               R"("permission":"read"})")
            .status == 400);
    CHECK(
        s.call(
             "PUT", "/api/v1/grants", bob,
             R"({"target":"acme/app","grantee_kind":"user","grantee":"bob","permission":"admin"})")
            .status == 403);
    s.require(s.call("PUT", "/api/v1/grants", alice,
                     R"({"target":"acme/app","grantee_kind":"team","grantee":"acme/devs",)"
                     R"("permission":"read-write"})"),
              200);
    const HttpResult repo = s.call("GET", "/api/v1/repositories?gun=acme/app", alice);
    s.require(repo, 200);
    CHECK(str(parse(repo), "namespace") == "acme");
    CHECK(str(parse(repo), "visibility") == "private");
    CHECK(parse(repo).find("grants")->as_array().size() == 1);
    const HttpResult grants = s.call("GET", "/api/v1/grants?gun=acme/app", alice);
    s.require(grants, 200);
    CHECK(str(parse(grants).find("grants")->as_array().at(0), "grantee") == "acme/devs");
    // bob's token has push through the team; removed from the team, his next token has not.
    auto actions_of = [&](const std::string& jwt) {
      const auto dot1 = jwt.find('.');
      const auto dot2 = jwt.find('.', dot1 + 1);
      auto claims = base64url_decode(jwt.substr(dot1 + 1, dot2 - dot1 - 1));
      REQUIRE(claims.ok());
      auto doc = json::parse(as_string_view(*claims));
      REQUIRE(doc.ok());
      std::string out;
      for (const auto& a : doc->find("access")->as_array().at(0).find("actions")->as_array()) {
        out += a.as_string() + ",";
      }
      return out;
    };
    CHECK(actions_of(s.token(bob, "acme/app")) == "pull,push,");
    s.require(s.call("DELETE", "/api/v1/orgs/acme/teams/devs/members/bob", alice), 204);
    CHECK(actions_of(s.token(bob, "acme/app")) == "");
    // Repository settings are for its admins.
    CHECK(s.call("PUT", "/api/v1/repositories/visibility", bob,
                 R"({"gun":"acme/app","visibility":"public"})")
              .status == 403);
    CHECK(s.call("GET", "/api/v1/repositories?gun=acme/app", bob).status == 403);
    CHECK(s.call("GET", "/api/v1/grants?namespace=acme", bob).status == 403);
    s.require(s.call("PUT", "/api/v1/repositories/visibility", alice,
                     R"({"gun":"acme/app","visibility":"public"})"),
              200);
    CHECK(actions_of(s.token(bob, "acme/app")) == "pull,");
    const HttpResult ns = s.call("GET", "/api/v1/grants?namespace=acme", alice);
    s.require(ns, 200);
    CHECK(str(parse(ns), "target") == "acme/*");
    CHECK(s.call("GET", "/api/v1/grants", alice).status == 400);
    CHECK(
        s.call(
             "PUT", "/api/v1/grants", alice,
             R"({"target":"acme/app","grantee_kind":"robot","grantee":"bob","permission":"read"})")
            .status == 400);
    const HttpResult team_members = s.call("GET", "/api/v1/orgs/acme/teams/devs/members", alice);
    s.require(team_members, 200);
    CHECK(parse(team_members).find("members")->as_array().empty());
    // API tokens: shown once, listed without the secret, usable as Bearer and Basic, revoked.
    const HttpResult made =
        s.call("POST", "/api/v1/tokens", bob,
               R"({"label":"laptop","expires_in_days":7,"scope":{"repositories":["acme/*"],)"
               R"("max_permission":"read"}})");
    s.require(made, 201);
    const std::string text = str(parse(made), "token");
    const std::string id = str(parse(made), "id");
    CHECK(text.rfind("vouch_" + id + "_", 0) == 0);
    const HttpResult listed = s.call("GET", "/api/v1/tokens", bob);
    s.require(listed, 200);
    CHECK(listed.body.find(text.substr(std::string("vouch_").size() + id.size() + 1)) == std::string::npos);
    CHECK(str(parse(listed).find("tokens")->as_array().at(0), "label") == "laptop");
    s.require(s.call("GET", "/api/v1/me", bearer(text)), 200);
    s.require(s.call("GET", "/api/v1/me", basic("bob", text)), 200);
    // A scoped token administers nothing.
    CHECK(s.call("POST", "/api/v1/tokens", bearer(text), R"({"label":"more"})").status == 403);
    CHECK(s.call("DELETE", "/api/v1/tokens/" + id, alice).status == 403);
    s.require(s.call("DELETE", "/api/v1/tokens/" + id, bob), 204);
    CHECK(s.call("GET", "/api/v1/me", bearer(text)).status == 401);
    // Service accounts belong to their owner's admins.
    CHECK(
        s.call("POST", "/api/v1/service-accounts", bob, R"({"owner":"acme","name":"ci"})").status ==
        403);
    s.require(s.call("POST", "/api/v1/service-accounts", alice, R"({"owner":"acme","name":"ci"})"),
              201);
    const HttpResult sas = s.call("GET", "/api/v1/service-accounts?owner=acme", alice);
    s.require(sas, 200);
    CHECK(str(parse(sas).find("service_accounts")->as_array().at(0), "name") == "acme/ci");
    s.require(s.call("DELETE", "/api/v1/service-accounts/acme/ci", alice), 204);
    // Members: org admins add and remove.
    s.require(s.call("PUT", "/api/v1/orgs/acme/members/bob", alice, R"({"admin":false})"), 200);
    const HttpResult members = s.call("GET", "/api/v1/orgs/acme/members", bob);
    s.require(members, 200);
    CHECK(parse(members).find("members")->as_array().size() == 2);
    CHECK(s.call("DELETE", "/api/v1/orgs/acme/members/alice", bob).status == 403);
    s.require(s.call("DELETE", "/api/v1/orgs/acme/members/bob", alice), 204);
    CHECK(s.call("DELETE", "/api/v1/orgs/acme", bob).status == 403);
    s.require(s.call("DELETE", "/api/v1/orgs/acme", alice), 204);
    // The audit log is for system administrators, and holds all of that.
    CHECK(s.call("GET", "/api/v1/audit", alice).status == 403);
    CHECK(s.call("GET", "/api/v1/audit/verify", alice).status == 403);
    const auto actions = audit_actions(s);
    for (const char* a :
         {"user_create alice", "org_create acme", "team_create acme/devs",
          "team_member_add acme/devs", "team_member_remove acme/devs", "grant_set acme/app",
          "api_token_create", "api_token_revoke", "service_account_create acme/ci",
          "org_delete acme", "token_issued bob"}) {
      CHECK_MESSAGE(has(actions, a), a);
    }
    const HttpResult verify = s.admin("GET", "/api/v1/audit/verify");
    s.require(verify, 200);
    CHECK(parse(verify).find("ok")->as_bool());
    // Records name the actor and the client address (the bootstrap has none).
    const HttpResult first = s.admin("GET", "/api/v1/audit?limit=2");
    s.require(first, 200);
    const json::Value first_doc = parse(first);
    const auto& records = first_doc.find("records")->as_array();
    REQUIRE(records.size() == 2);
    CHECK(str(records[0], "actor_kind") == "system");
    CHECK(str(records[0], "source").empty());
    CHECK(str(records[1], "action") == "user_create");
    CHECK(str(records[1], "actor") == "admin");
    CHECK(str(records[1], "source") == "127.0.0.1");
  }

  SUBCASE("routes, methods, bounds") {
    CHECK(s.admin("GET", "/api/v1/nothing").status == 404);
    CHECK(s.admin("GET", "/api/v1/users/admin/extra").status == 404);
    const HttpResult r = s.admin("PUT", "/api/v1/users");
    CHECK(r.status == 405);
    CHECK(r.header("Allow") == "GET, POST");
    CHECK(s.admin("POST", "/api/v1/orgs", "{\"name\":\"" + std::string(70 * 1024, 'a') + "\"}")
              .status == 413);
    CHECK(s.admin("GET", "/api/v1/users?limit=1&limit=2").status == 400);
  }
}

TEST_CASE("vouch-server accounts: failed logins from one address are throttled and audited") {
  AccountsServer s("throttle", /*throttle_failures=*/3);
  // More than 3 failures in the window...
  for (int i = 0; i < 4; ++i) {
    CHECK(s.call("GET", "/api/v1/me", basic(kAdmin, "wrong-password")).status == 401);
  }
  // ... and this address is refused, even with the right password.
  HttpResult r = s.call("GET", "/api/v1/me", basic(kAdmin, "wrong-password"));
  CHECK(r.status == 429);
  CHECK(error_code(r) == "throttled");
  CHECK(!r.header("Retry-After").empty());
  r = s.admin("GET", "/api/v1/me");
  CHECK(r.status == 429);
  // /auth/token shares the throttle.
  CHECK(s.call("GET", "/auth/token?service=vouch-server", basic(kAdmin, kAdminPassword)).status ==
        429);
  // The refusals are in the audit log (read offline: this address may not log in now).
  REQUIRE(s.server->stop() == 0);
  CHECK(s.server->log().find(R"("action":"login_failed","target":"admin")") != std::string::npos);
  CHECK(s.server->log().find(R"("reason":"throttled")") != std::string::npos);
  auto [rc, out] = signer_test::run(
      kBinary, {"audit-verify", "--audit-dir", s.dir / "server/db/audit"}, {}, s.dir);
  CHECK_MESSAGE(rc == 0, out);
}

TEST_CASE("vouch-server accounts: backup and restore keep the accounts and the audit log") {
  AccountsServer s("backup");
  s.require(s.admin("POST", "/api/v1/users", R"({"name":"alice","password":"alice-password"})"),
            201);
  s.create_repository("alice/app");
  const HttpResult head = s.admin("GET", "/api/v1/audit/verify");
  s.require(head, 200);
  const auto head_seq = parse(head).find("head_seq")->as_int();
  CHECK(head_seq > 0);
  const std::string config = s.dir / "server/server.json";
  auto [brc, bout] =
      signer_test::run(kBinary, {"--config", config, "backup", s.dir / "backup"}, kEnv, s.dir);
  REQUIRE_MESSAGE(brc == 0, bout);
  REQUIRE(s.server->stop() == 0);
  // Restore into a new data directory, and serve from it.
  auto [rrc, rout] = signer_test::run(
      kBinary, {"--config", config, "--db-path", s.dir / "restored", "restore", s.dir / "backup"},
      kEnv, s.dir);
  REQUIRE_MESSAGE(rrc == 0, rout);
  s.start(1000, {"--db-path", s.dir / "restored"});
  const HttpResult me = s.call("GET", "/api/v1/me", basic("alice", "alice-password"));
  s.require(me, 200);
  const HttpResult verify = s.admin("GET", "/api/v1/audit/verify");
  s.require(verify, 200);
  CHECK(parse(verify).find("ok")->as_bool());
  CHECK(parse(verify).find("head_seq")->as_int() >= head_seq);
  // The repository is served, and alice (admin of her namespace) reaches it.
  const std::string t = s.token(basic("alice", "alice-password"), "alice/app", "pull");
  const HttpResult root = https("GET", s.server->url(tuf_path("alice/app", "root.json")),
                                s.tls.ca_file, "", {bearer(t)});
  CHECK(root.status == 200);
}

TEST_CASE("vouch-server accounts: bad accounts config and bootstrap files stop the start") {
  TempDir dir("vouch-accounts-config");
  ServerTls tls(dir);
  auto start = [&](const std::string& accounts, const std::vector<std::string>& args,
                   const std::map<std::string, std::string>& env) {
    const std::string config = dir / "server.json";
    signer_test::write_file(config, R"({
  "server": {"http_addr": "127.0.0.1:)" + std::to_string(signer_test::free_port()) +
                                        R"(", "tls_cert_file": ")" + tls.cert_file +
                                        R"(", "tls_key_file": ")" + tls.key_file + R"("},
  "storage": {"backend": "rocksdb", "db_url": "db"},
  "auth": {"type": "accounts"},
  "accounts": )" + accounts + "}\n");
    std::vector<std::string> all = {"--config", config};
    all.insert(all.end(), args.begin(), args.end());
    return signer_test::run(kBinary, all, env, dir);
  };
  const std::map<std::string, std::string> keys = {
      {"VOUCH_SERVER_KEY_PASSPHRASE", "server key store passphrase"}};
  auto [rc1, out1] = start(R"({"throttle_max_failure": 3})", {}, keys);
  CHECK(rc1 == 1);
  CHECK_MESSAGE(out1.find("throttle_max_failure") != std::string::npos, out1);
  auto [rc2, out2] = start(R"({"default_visibility": "secret"})", {}, keys);
  CHECK(rc2 == 1);
  CHECK_MESSAGE(out2.find("default_visibility") != std::string::npos, out2);
  // A bootstrap file others can read, or without "name:password", is refused; so is a bad
  // password in the environment.
  signer_test::write_file(dir / "admin", "admin:long-enough-password\n", 0644);
  auto [rc3, out3] = start("{}", {"--bootstrap-admin-file", dir / "admin"}, keys);
  CHECK(rc3 == 1);
  CHECK_MESSAGE(out3.find("bootstrap-admin-file") != std::string::npos, out3);
  CHECK(out3.find("long-enough-password") == std::string::npos);
  signer_test::write_file(dir / "admin", "just-a-password\n", 0600);
  auto [rc4, out4] = start("{}", {"--bootstrap-admin-file", dir / "admin"}, keys);
  CHECK(rc4 == 1);
  CHECK(out4.find("just-a-password") == std::string::npos);
  auto env = keys;
  env["VOUCH_BOOTSTRAP_ADMIN"] = "admin:short";
  auto [rc5, out5] = start("{}", {}, env);
  CHECK(rc5 == 1);
  CHECK_MESSAGE(out5.find("bootstrap admin") != std::string::npos, out5);
}

namespace {

// A registration body for `key` (held by `signer`), signed as `account` for `service` at `at`.
std::string key_registration_body(testing::MemorySigner& signer, const keys::PublicKey& key,
                                  const std::string& account, TimePoint at,
                                  const std::string& service = "vouch-server") {
  auto sig = keys::sign_registration(signer, {service, account, key, at});
  REQUIRE(sig.ok());
  // PEM's line ends escaped (tuf::json's canonical encoder writes them raw).
  std::string pem;
  for (char c : keys::pem_encode("PUBLIC KEY", {}, key.spki_der())) {
    if (c == '\n') {
      pem += "\\n";
    } else {
      pem += c;
    }
  }
  return R"({"public_key":")" + pem + R"(","issued_at":")" + format_rfc3339(at) +
         R"(","signature":{"method":")" + std::string(keys::to_string(sig->method)) +
         R"(","sig":")" + base64_encode(sig->bytes) + R"("}})";
}

}  // namespace

TEST_CASE("vouch-server accounts: members register signing keys; lookups name them") {
  AccountsServer s("member-keys");
  const std::string alice = basic("alice", "alice-password");
  const std::string bob = basic("bob", "bob-password");
  s.require(s.admin("POST", "/api/v1/users", R"({"name":"alice","password":"alice-password"})"),
            201);
  s.require(s.admin("POST", "/api/v1/users", R"({"name":"bob","password":"bob-password"})"), 201);
  s.require(s.admin("POST", "/api/v1/orgs", R"({"name":"acme"})"), 201);
  s.require(s.admin("POST", "/api/v1/orgs/acme/teams", R"({"name":"ops"})"), 201);
  s.require(s.admin("PUT", "/api/v1/orgs/acme/teams/ops/members/alice"), 200);

  // The statement names the service that GET /me says.
  const HttpResult me = s.call("GET", "/api/v1/me", alice);
  s.require(me, 200);
  CHECK(str(parse(me), "service") == "vouch-server");

  testing::MemorySigner signer;
  const keys::PublicKey key = signer.add_key(keys::PrivateKey::generate(keys::KeyType::kEcdsa).value());
  // Whole seconds, now by the server's clock (the same machine).
  const TimePoint now = std::chrono::floor<std::chrono::seconds>(SystemClock::instance().now());

  // Refusals first: nothing of them is stored.
  CHECK(s.call("POST", "/api/v1/keys", "", key_registration_body(signer, key, "alice", now))
            .status == 401);
  HttpResult r = s.call("POST", "/api/v1/keys", alice, key_registration_body(signer, key, "bob", now));
  CHECK(r.status == 400);
  CHECK(error_code(r) == "bad_signature");
  r = s.call("POST", "/api/v1/keys", alice,
             key_registration_body(signer, key, "alice", now - std::chrono::hours(1)));
  CHECK(r.status == 400);
  CHECK(error_code(r) == "expired");
  r = s.call("POST", "/api/v1/keys", alice,
             key_registration_body(signer, key, "alice", now, "another-server"));
  CHECK(r.status == 400);
  CHECK(error_code(r) == "bad_signature");
  CHECK(s.call("POST", "/api/v1/keys", alice, R"({"public_key":"x","issued_at":"2026-01-01T00:00:00Z"})")
            .status == 400);
  CHECK(s.call("POST", "/api/v1/keys", alice, R"({"nonsense":1})").status == 400);

  // Alice registers; Bob cannot take the same key.
  r = s.call("POST", "/api/v1/keys", alice, key_registration_body(signer, key, "alice", now));
  s.require(r, 201);
  CHECK(str(parse(r), "key_id") == key.id());
  CHECK(str(parse(r), "owner") == "alice");
  r = s.call("POST", "/api/v1/keys", bob, key_registration_body(signer, key, "bob", now));
  CHECK(r.status == 409);
  CHECK(error_code(r) == "conflict");

  // Anyone signed in looks up a batch of IDs: owner, kind and teams.
  const std::string unknown(64, 'a');
  r = s.call("POST", "/api/v1/keys/lookup", bob,
             R"({"key_ids":[")" + key.id() + R"(",")" + unknown + R"("]})");
  s.require(r, 200);
  const json::Value found = parse(r);
  const auto& keys_found = found.find("keys")->as_array();
  REQUIRE(keys_found.size() == 1);
  CHECK(str(keys_found[0], "key_id") == key.id());
  CHECK(str(keys_found[0], "owner") == "alice");
  CHECK(str(keys_found[0], "kind") == "user");
  REQUIRE(keys_found[0].find("teams")->as_array().size() == 1);
  CHECK(keys_found[0].find("teams")->as_array()[0].as_string() == "acme/ops");
  CHECK(s.call("POST", "/api/v1/keys/lookup", "", R"({"key_ids":[")" + key.id() + R"("]})")
            .status == 401);
  std::string too_many = R"({"key_ids":[)";
  for (int i = 0; i < 101; ++i) too_many += std::string(i ? "," : "") + "\"" + unknown + "\"";
  CHECK(s.call("POST", "/api/v1/keys/lookup", bob, too_many + "]}").status == 400);
  CHECK(s.call("GET", "/api/v1/keys/lookup", bob).status == 405);

  // Lists: an account's keys.
  r = s.call("GET", "/api/v1/keys?owner=alice", bob);
  s.require(r, 200);
  REQUIRE(parse(r).find("keys")->as_array().size() == 1);
  CHECK(s.call("GET", "/api/v1/keys?owner=nobody", bob).status == 404);

  // Only the owner (or an administrator) deletes.
  CHECK(s.call("DELETE", "/api/v1/keys/" + key.id(), bob).status == 403);
  s.require(s.call("DELETE", "/api/v1/keys/" + key.id(), alice), 204);
  CHECK(s.call("DELETE", "/api/v1/keys/" + key.id(), alice).status == 404);
  r = s.call("GET", "/api/v1/keys", alice);
  s.require(r, 200);
  CHECK(parse(r).find("keys")->as_array().empty());

  // Registration and removal are audited.
  const auto actions = audit_actions(s);
  CHECK(has(actions, "member_key_register " + key.id()));
  CHECK(has(actions, "member_key_delete " + key.id()));
}
