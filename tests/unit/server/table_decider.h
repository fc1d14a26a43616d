#pragma once

// A test double of the AccessDecider seam (server/accounts/access.h) for the token service's
// protocol tests: a fixed table of users, grants and public repositories instead of the
// accounts store (which has tests of its own). Not thread-safe beyond what the tests need.

#include <atomic>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "server/accounts/access.h"

namespace vouch::testing {

using server::accounts::Permission;
using server::accounts::Principal;

// A fixed table: users with passwords, grants per (principal, GUN), public repositories,
// throttled sources, and the refresh tokens it handed out.
class TableDecider final : public server::accounts::AccessDecider {
 public:
  struct User {
    std::string password;
    Principal principal;
  };
  std::map<std::string, User> users;
  std::map<std::pair<std::string, std::string>, Permission> grants;
  std::set<std::string> public_repos;
  std::set<std::string> throttled;
  std::map<std::string, Principal> refresh_tokens;
  std::vector<std::string> refresh_clients;
  std::atomic<int> authentications{0};

  TableDecider() {
    add_user("alice", "alice-pw", false);
    add_user("root", "root-pw", true);
    users["acme/ci"] = {"vouch_ci_token",
                        {Principal::Kind::kServiceAccount, "acme/ci", false, "citokenid"}};
    grants[{"alice", "example.com/acme/app"}] = Permission::kReadWrite;
    grants[{"alice", "example.com/alice/own"}] = Permission::kAdmin;
    grants[{"acme/ci", "example.com/acme/app"}] = Permission::kRead;
    public_repos.insert("example.com/library/public");
  }
  void add_user(const std::string& name, const std::string& pw, bool admin) {
    users[name] = {pw, {Principal::Kind::kUser, name, admin, ""}};
  }

  Result<Principal> authenticate(std::string_view name, const keys::SecretString& secret,
                                 std::string_view source) override {
    ++authentications;
    if (throttled.count(std::string(source)) != 0) {
      return make_error(Code::kResourceExhausted, Reason::kThrottled, "throttled");
    }
    auto it = users.find(std::string(name));
    if (it == users.end() || it->second.password != secret.view()) {
      return make_error(Code::kUnauthenticated, Reason::kBadCredentials, "bad credentials");
    }
    return it->second.principal;
  }
  Result<Permission> permission(const Principal& p, std::string_view gun) override {
    if (p.admin) return Permission::kAdmin;
    Permission out = Permission::kNone;
    if (p.kind != Principal::Kind::kAnonymous) {
      auto it = grants.find({p.name, std::string(gun)});
      if (it != grants.end()) out = it->second;
    }
    if (public_repos.count(std::string(gun)) != 0 && out < Permission::kRead) {
      out = Permission::kRead;
    }
    return out;
  }
  Result<keys::SecretString> issue_refresh_token(const Principal& p,
                                                 std::string_view client_id) override {
    const std::string token = "refresh-" + std::to_string(refresh_tokens.size()) + "-" + p.name;
    refresh_tokens[token] = p;
    refresh_clients.emplace_back(client_id);
    return keys::SecretString(token);
  }
  Result<Principal> authenticate_refresh_token(const keys::SecretString& token,
                                               std::string_view source) override {
    if (throttled.count(std::string(source)) != 0) {
      return make_error(Code::kResourceExhausted, Reason::kThrottled, "throttled");
    }
    auto it = refresh_tokens.find(std::string(token.view()));
    if (it == refresh_tokens.end()) {
      return make_error(Code::kUnauthenticated, Reason::kBadCredentials, "bad credentials");
    }
    return it->second;
  }
};

}  // namespace vouch::testing
