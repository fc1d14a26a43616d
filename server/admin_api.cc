#include "server/admin_api.h"

#include <openssl/crypto.h>

#include <boost/json.hpp>
#include <charconv>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/encoding.h"
#include "common/log.h"
#include "common/work_queue.h"
#include "server/accounts/api_tokens.h"
#include "server/accounts/names.h"
#include "server/roster_status.h"
#include "server/token_service.h"

namespace vouch::server {
namespace {

namespace bj = boost::json;
using accounts::Permission;
using accounts::Principal;
using net::Response;

constexpr std::size_t kMaxQueryBytes = 4 * 1024;
constexpr std::size_t kDefaultPage = 100;

// ---- answers ---------------------------------------------------------------------------------

Response json_answer(unsigned status, const bj::value& v) {
  Response r = Response::text(status, bj::serialize(v), "application/json");
  r.headers.set("Cache-Control", "no-store");
  return r;
}

Response error_answer(unsigned status, std::string_view code, std::string_view message) {
  bj::object e;
  e["code"] = code;
  e["message"] = message;
  bj::object body;
  body["error"] = std::move(e);
  return json_answer(status, body);
}

Response no_content() {
  Response r;
  r.status = 204;
  r.headers.set("Cache-Control", "no-store");
  return r;
}

unsigned status_of(Code code) {
  switch (code) {
    case Code::kInvalidArgument:
    case Code::kOutOfRange:
      return 400;
    case Code::kUnauthenticated:
      return 401;
    case Code::kPermissionDenied:
      return 403;
    case Code::kNotFound:
      return 404;
    case Code::kAlreadyExists:
    case Code::kFailedPrecondition:
    case Code::kAborted:
      return 409;
    case Code::kResourceExhausted:
      return 429;
    case Code::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

Error bad_request(std::string message) {
  return make_error(Code::kInvalidArgument, Reason::kMalformed, std::move(message));
}
Error route_not_found() { return make_error(Code::kNotFound, Reason::kNotFound, "no such route"); }

// A 405 is not an Error of the service: it travels as this.
struct MethodNotAllowed {
  std::string allow;
};

// ---- request parts ---------------------------------------------------------------------------

// The path below kPrefix, split on '/' and percent-decoded per segment. An encoded '/'
// ("%2F") stays inside its segment (a service account "owner/name" as one {member}); names
// are validated by the service, so it can never alias a route.
Result<std::vector<std::string>> path_segments(std::string_view path) {
  std::vector<std::string> out;
  if (path.size() <= AdminApi::kPrefix.size()) return out;
  std::string_view rest = path.substr(AdminApi::kPrefix.size());
  while (true) {
    const std::size_t slash = rest.find('/');
    const std::string_view raw = rest.substr(0, slash);
    if (raw.empty()) return route_not_found();
    std::string segment;
    std::string_view left = raw;
    while (true) {
      std::size_t enc = std::string_view::npos;
      for (std::size_t i = 0; i + 2 < left.size(); ++i) {
        if (left[i] == '%' && left[i + 1] == '2' && (left[i + 2] == 'F' || left[i + 2] == 'f')) {
          enc = i;
          break;
        }
      }
      auto part = net::percent_decode_path(left.substr(0, enc));
      if (!part) return bad_request("malformed path: " + part.error().message);
      segment += *part;
      if (enc == std::string_view::npos) break;
      segment += '/';
      left.remove_prefix(enc + 3);
    }
    out.push_back(std::move(segment));
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return out;
}

using Query = std::map<std::string, std::string, std::less<>>;

Result<Query> parse_query(std::string_view text) {
  if (text.size() > kMaxQueryBytes) {
    return make_error(Code::kInvalidArgument, Reason::kTooLarge, "query too large");
  }
  Query q;
  bool repeated = false;
  const bool decoded = net::for_each_form_pair(text, [&](std::string& name, std::string& value) {
    repeated = !q.emplace(std::move(name), std::move(value)).second;
    return !repeated;
  });
  if (repeated) return bad_request("query parameter given more than once");
  if (!decoded) return bad_request("malformed query encoding");
  return q;
}

std::string_view param(const Query& q, std::string_view name) {
  auto it = q.find(name);
  return it == q.end() ? std::string_view() : std::string_view(it->second);
}

Result<std::size_t> parse_count(std::string_view text, std::size_t max, std::string_view what) {
  std::size_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v == 0 || v > max) {
    return bad_request(std::string(what) + " must be 1.." + std::to_string(max));
  }
  return v;
}

Result<accounts::PageRequest> page_of(const Query& q) {
  accounts::PageRequest page;
  page.limit = kDefaultPage;
  if (const auto limit = param(q, "limit"); !limit.empty()) {
    VOUCH_ASSIGN_OR_RETURN(page.limit, parse_count(limit, accounts::kMaxScanLimit, "limit"));
  }
  page.start_after = std::string(param(q, "after"));
  return page;
}

// Overwrites a JSON string that held a secret.
void scrub(bj::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
}

// A request body: one JSON object with only the `allowed` members.
Result<bj::object> body_object(const net::Request& request,
                               std::initializer_list<std::string_view> allowed) {
  bj::error_code ec;
  bj::value v = bj::parse(request.body, ec);
  if (ec) return bad_request("the body is not JSON");
  if (!v.is_object()) return bad_request("the body must be a JSON object");
  bj::object o = std::move(v.as_object());
  for (const auto& member : o) {
    bool known = false;
    for (const auto a : allowed) known = known || member.key() == a;
    if (!known) {
      // A misspelled "password" must not linger either.
      if (member.value().is_string()) scrub(const_cast<bj::string&>(member.value().get_string()));
      return bad_request("unknown field \"" + std::string(member.key().substr(0, 64)) + "\"");
    }
  }
  return o;
}

Result<std::optional<std::string>> opt_string(const bj::object& o, std::string_view key) {
  const bj::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return std::optional<std::string>();
  if (!v->is_string()) return bad_request("\"" + std::string(key) + "\" must be a string");
  return std::optional<std::string>(std::string(v->get_string()));
}

Result<std::string> req_string(const bj::object& o, std::string_view key) {
  VOUCH_ASSIGN_OR_RETURN(auto v, opt_string(o, key));
  if (!v || v->empty()) return bad_request("\"" + std::string(key) + "\" is required");
  return std::move(*v);
}

Result<std::optional<bool>> opt_bool(const bj::object& o, std::string_view key) {
  const bj::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return std::optional<bool>();
  if (!v->is_bool()) return bad_request("\"" + std::string(key) + "\" must be true or false");
  return std::optional<bool>(v->get_bool());
}

// A secret member, moved into a SecretString; the JSON copy is wiped.
Result<std::optional<keys::SecretString>> take_secret(bj::object& o, std::string_view key) {
  bj::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return std::optional<keys::SecretString>();
  if (!v->is_string()) return bad_request("\"" + std::string(key) + "\" must be a string");
  keys::SecretString s(std::string_view(v->get_string()));
  scrub(v->get_string());
  return std::optional<keys::SecretString>(std::move(s));
}

Result<Permission> permission_field(std::string_view text) {
  auto p = accounts::parse_permission(text);
  if (!p) return bad_request("permission must be none, read, read-write or admin");
  return *p;
}

// grantee_kind: "user" | "team" | "service_account" ("service-account" too).
Result<accounts::GrantSubject::Kind> grantee_kind(std::string_view text) {
  if (text == "service_account") return accounts::GrantSubject::Kind::kServiceAccount;
  auto k = accounts::parse_grant_subject_kind(text);
  if (!k) return bad_request("grantee_kind must be user, team or service_account");
  return *k;
}

std::string_view grantee_kind_name(accounts::GrantSubject::Kind kind) {
  switch (kind) {
    case accounts::GrantSubject::Kind::kUser:
      return "user";
    case accounts::GrantSubject::Kind::kTeam:
      return "team";
    case accounts::GrantSubject::Kind::kServiceAccount:
      break;
  }
  return "service_account";
}

std::string_view principal_kind_name(Principal::Kind kind) {
  switch (kind) {
    case Principal::Kind::kUser:
      return "user";
    case Principal::Kind::kServiceAccount:
      return "service_account";
    case Principal::Kind::kAnonymous:
      break;
  }
  return "anonymous";
}

// ---- encoders --------------------------------------------------------------------------------

bj::value time_value(TimePoint t) { return bj::value(format_rfc3339(t)); }

bj::object user_json(const accounts::UserInfo& u) {
  return {{"name", u.name},
          {"admin", u.admin},
          {"disabled", u.disabled},
          {"created", time_value(u.created)}};
}

bj::object grant_json(const accounts::Grant& g) {
  return {{"grantee_kind", grantee_kind_name(g.subject.kind)},
          {"grantee", g.subject.name},
          {"permission", accounts::to_string(g.permission)}};
}

bj::array grants_json(const std::vector<accounts::Grant>& grants) {
  bj::array out;
  for (const auto& g : grants) out.push_back(grant_json(g));
  return out;
}

bj::object scope_json(const accounts::ScopeLimit& s) {
  bj::array repos;
  for (const auto& p : s.patterns) repos.push_back(bj::value(p));
  return {{"repositories", std::move(repos)},
          {"max_permission", accounts::to_string(s.max_permission)}};
}

bj::object token_json(const accounts::TokenInfo& t) {
  bj::object o{{"id", t.id},
               {"owner", t.owner},
               {"owner_kind", principal_kind_name(t.owner_kind)},
               {"kind", t.refresh ? "refresh" : "api"},
               {"label", t.description},
               {"created", time_value(t.created)},
               {"expires_at", time_value(t.expires)}};
  o["last_used"] = t.last_used ? time_value(*t.last_used) : bj::value(nullptr);
  o["scope"] = t.scope ? bj::value(scope_json(*t.scope)) : bj::value(nullptr);
  return o;
}

bj::object member_key_json(const accounts::MemberKeyInfo& k) {
  return {{"key_id", k.key_id},
          {"canonical_id", k.canonical_id},
          {"keytype", keys::to_string(k.type)},
          {"public_key", k.pem},
          {"owner", k.owner},
          {"kind", principal_kind_name(k.owner_kind)},
          {"registered", time_value(k.registered)},
          {"expires", k.expires ? time_value(*k.expires) : bj::value(nullptr)}};
}

template <typename T, typename F>
bj::object page_json(std::string_view name, const accounts::Page<T>& page, F&& encode) {
  bj::array items;
  for (const auto& item : page.items) items.push_back(encode(item));
  return {{name, std::move(items)}, {"next_after", page.next}};
}

bj::object record_json(const audit::AuditRecord& r) {
  bj::object detail;
  for (const auto& [k, v] : r.event.detail) detail[k] = v;
  return {{"seq", r.seq},
          {"time", time_value(r.time)},
          {"actor_kind", audit::to_string(r.event.actor_kind)},
          {"actor", r.event.actor},
          {"action", audit::to_string(r.event.action)},
          {"target", r.event.target},
          {"source", r.event.source},
          {"outcome", audit::to_string(r.event.outcome)},
          {"detail", std::move(detail)},
          {"prev_hash", hex_encode(r.prev_hash)},
          {"hash", hex_encode(r.hash)}};
}

// ---- one call --------------------------------------------------------------------------------

using Answer = std::variant<Response, MethodNotAllowed>;

struct Call {
  const net::Request& request;
  const std::string& method;
  const Principal& actor;
  const std::vector<std::string>& seg;
  const Query& query;
};

}  // namespace

AdminApi::AdminApi(accounts::AccountsService& accounts, audit::AuditLog* audit,
                   AdminApiOptions options)
    : accounts_(accounts), audit_(audit), options_(std::move(options)) {}

namespace {
thread_local std::string t_current_source;
}  // namespace

std::string_view AdminApi::current_source() { return t_current_source; }

bool AdminApi::is_admin_request(const net::Request& request) {
  const std::string_view path = request.path();
  return path.starts_with(kPrefix) || path == kPrefix.substr(0, kPrefix.size() - 1);
}

namespace {

// Everything below runs for an authenticated caller; each returns the answer or the service's
// error, which handle() maps through status_of.
class Routes {
 public:
  Routes(accounts::AccountsService& accounts, audit::AuditLog* audit,
         const AdminApiOptions& options)
      : a_(accounts), audit_(audit), options_(options) {}

  Result<Answer> route(const Call& c) {
    const auto& s = c.seg;
    if (s.empty()) return route_not_found();
    const std::string& top = s[0];
    if (top == "me" && s.size() == 1) return only(c, "GET", [&] { return me(c); });
    if (top == "users") return users(c);
    if (top == "orgs") return orgs(c);
    if (top == "service-accounts") return service_accounts(c);
    if (top == "tokens") return tokens(c);
    if (top == "repositories") return repositories(c);
    if (top == "grants" && s.size() == 1) return grants(c);
    if (top == "audit") return audit(c);
    if (top == "keys") return member_keys(c);
    if (top == "ldap" && s.size() == 2 && s[1] == "sync") return ldap_sync(c);
    return route_not_found();
  }

 private:
  // Runs fn for `method`, else 405 with Allow: method.
  template <typename F>
  Result<Answer> only(const Call& c, std::string_view method, F&& fn) {
    if (c.method != method) return Answer(MethodNotAllowed{std::string(method)});
    VOUCH_ASSIGN_OR_RETURN(Response r, fn());
    return Answer(std::move(r));
  }
  Result<Answer> ok(Result<Response> r) {
    if (!r) return std::move(r).error();
    return Answer(std::move(*r));
  }
  static Result<Answer> not_allowed(std::string allow) {
    return Answer(MethodNotAllowed{std::move(allow)});
  }

  // GET /me
  Result<Response> me(const Call& c) {
    bj::object o{
        {"name", c.actor.name}, {"kind", principal_kind_name(c.actor.kind)}, {"admin", false}};
    bj::array orgs, teams;
    if (c.actor.kind == Principal::Kind::kUser) {
      // authenticate() has just read the admin flag from the store.
      o["admin"] = c.actor.admin;
      auto m = a_.list_memberships(c.actor, c.actor.name);
      // A token with a scope limit may not read account data: it sees no memberships.
      if (!m && m.error().code != Code::kPermissionDenied) return std::move(m).error();
      if (m) {
        for (const auto& org : m->orgs) {
          orgs.push_back(bj::object{{"name", org.org}, {"admin", org.admin}});
        }
        for (const auto& team : m->teams) teams.push_back(bj::value(team));
      }
    }
    o["orgs"] = std::move(orgs);
    o["teams"] = std::move(teams);
    // The service name a key registration statement must name (POST /keys).
    o["service"] = a_.key_registration_service();
    return json_answer(200, o);
  }

  // /users, /users/{name}
  Result<Answer> users(const Call& c) {
    const auto& s = c.seg;
    if (s.size() == 1) {
      if (c.method == "GET") {
        VOUCH_ASSIGN_OR_RETURN(auto page, page_of(c.query));
        VOUCH_ASSIGN_OR_RETURN(auto users, a_.list_users(c.actor, page));
        return Answer(json_answer(200, page_json("users", users, user_json)));
      }
      if (c.method == "POST") {
        VOUCH_ASSIGN_OR_RETURN(bj::object b, body_object(c.request, {"name", "password", "admin"}));
        VOUCH_ASSIGN_OR_RETURN(auto password, take_secret(b, "password"));
        VOUCH_ASSIGN_OR_RETURN(std::string name, req_string(b, "name"));
        VOUCH_ASSIGN_OR_RETURN(auto admin, opt_bool(b, "admin"));
        if (!password || password->empty()) return bad_request("\"password\" is required");
        VOUCH_RETURN_IF_ERROR(a_.create_user(c.actor, name, *password, admin.value_or(false)));
        VOUCH_ASSIGN_OR_RETURN(auto user, a_.get_user(c.actor, name));
        return Answer(json_answer(201, user_json(user)));
      }
      return not_allowed("GET, POST");
    }
    if (s.size() != 2) return route_not_found();
    const std::string& name = s[1];
    if (c.method == "GET") {
      VOUCH_ASSIGN_OR_RETURN(auto user, a_.get_user(c.actor, name));
      return Answer(json_answer(200, user_json(user)));
    }
    if (c.method == "PATCH") {
      VOUCH_ASSIGN_OR_RETURN(bj::object b,
                             body_object(c.request, {"disabled", "admin", "password"}));
      VOUCH_ASSIGN_OR_RETURN(auto password, take_secret(b, "password"));
      VOUCH_ASSIGN_OR_RETURN(auto disabled, opt_bool(b, "disabled"));
      VOUCH_ASSIGN_OR_RETURN(auto admin, opt_bool(b, "admin"));
      // Each change is its own transaction, in this order; a refusal stops the rest.
      if (password) VOUCH_RETURN_IF_ERROR(a_.set_password(c.actor, name, *password));
      if (admin) VOUCH_RETURN_IF_ERROR(a_.set_user_admin(c.actor, name, *admin));
      if (disabled) VOUCH_RETURN_IF_ERROR(a_.set_user_disabled(c.actor, name, *disabled));
      VOUCH_ASSIGN_OR_RETURN(auto user, a_.get_user(c.actor, name));
      return Answer(json_answer(200, user_json(user)));
    }
    if (c.method == "DELETE") {
      VOUCH_RETURN_IF_ERROR(a_.delete_user(c.actor, name));
      return Answer(no_content());
    }
    return not_allowed("GET, PATCH, DELETE");
  }

  // /orgs...
  Result<Answer> orgs(const Call& c) {
    const auto& s = c.seg;
    if (s.size() == 1) {
      if (c.method == "GET") {
        VOUCH_ASSIGN_OR_RETURN(auto page, page_of(c.query));
        VOUCH_ASSIGN_OR_RETURN(auto orgs, a_.list_orgs(c.actor, page));
        return Answer(json_answer(200, page_json("orgs", orgs, [](const std::string& n) {
                                    return bj::object{{"name", n}};
                                  })));
      }
      if (c.method == "POST") {
        VOUCH_ASSIGN_OR_RETURN(bj::object b, body_object(c.request, {"name"}));
        VOUCH_ASSIGN_OR_RETURN(std::string name, req_string(b, "name"));
        VOUCH_RETURN_IF_ERROR(a_.create_org(c.actor, name));
        return Answer(json_answer(201, bj::object{{"name", name}}));
      }
      return not_allowed("GET, POST");
    }
    const std::string& org = s[1];
    if (s.size() == 2) {
      if (c.method == "GET") {
        // Members and system admins may look; this also says whether it exists.
        VOUCH_RETURN_IF_ERROR(a_.list_org_members(c.actor, org, {"", 1}));
        return Answer(json_answer(200, bj::object{{"name", org}}));
      }
      if (c.method == "DELETE") {
        VOUCH_RETURN_IF_ERROR(a_.delete_org(c.actor, org));
        return Answer(no_content());
      }
      return not_allowed("GET, DELETE");
    }
    if (s[2] == "members") return org_members(c, org);
    if (s[2] == "teams") return teams(c, org);
    if (s[2] == "roster" && s.size() == 3 && options_.rosters != nullptr) {
      return only(c, "GET", [&] { return roster_status(c, org); });
    }
    return route_not_found();
  }

  // GET /orgs/<org>/roster: the signed roster against the accounts now (issue 15).
  Result<Response> roster_status(const Call& c, const std::string& org) {
    VOUCH_ASSIGN_OR_RETURN(RosterStatus st,
                           options_.rosters->status(c.actor, org, param(c.query, "gun")));
    bj::array changes;
    for (const auto& line : st.changes) changes.emplace_back(line);
    return json_answer(200, bj::object{{"org", st.org},
                                       {"gun", st.gun},
                                       {"version", st.version},
                                       {"generated_at", st.generated_at},
                                       {"out_of_date", st.out_of_date},
                                       {"changes", std::move(changes)}});
  }

  Result<Answer> org_members(const Call& c, const std::string& org) {
    const auto& s = c.seg;
    if (s.size() == 3) {
      if (c.method != "GET") return not_allowed("GET");
      VOUCH_ASSIGN_OR_RETURN(auto page, page_of(c.query));
      VOUCH_ASSIGN_OR_RETURN(auto members, a_.list_org_members(c.actor, org, page));
      return Answer(json_answer(200, page_json("members", members, [](const auto& m) {
                                  return bj::object{{"name", m.user}, {"admin", m.admin}};
                                })));
    }
    if (s.size() != 4) return route_not_found();
    const std::string& user = s[3];
    if (c.method == "PUT") {
      bool admin = false;
      if (!c.request.body.empty()) {
        VOUCH_ASSIGN_OR_RETURN(bj::object b, body_object(c.request, {"admin"}));
        VOUCH_ASSIGN_OR_RETURN(auto a, opt_bool(b, "admin"));
        admin = a.value_or(false);
      }
      VOUCH_RETURN_IF_ERROR(a_.set_org_member(c.actor, org, user, admin));
      return Answer(json_answer(200, bj::object{{"name", user}, {"admin", admin}}));
    }
    if (c.method == "DELETE") {
      VOUCH_RETURN_IF_ERROR(a_.remove_org_member(c.actor, org, user));
      return Answer(no_content());
    }
    return not_allowed("PUT, DELETE");
  }

  static bj::object team_json(const accounts::TeamInfo& t) {
    return {{"org", t.org}, {"name", t.name}, {"description", t.description}};
  }

  Result<Answer> teams(const Call& c, const std::string& org) {
    const auto& s = c.seg;
    if (s.size() == 3) {
      if (c.method == "GET") {
        VOUCH_ASSIGN_OR_RETURN(auto page, page_of(c.query));
        VOUCH_ASSIGN_OR_RETURN(auto teams, a_.list_teams(c.actor, org, page));
        return Answer(json_answer(200, page_json("teams", teams, team_json)));
      }
      if (c.method == "POST") {
        VOUCH_ASSIGN_OR_RETURN(bj::object b, body_object(c.request, {"name", "description"}));
        VOUCH_ASSIGN_OR_RETURN(std::string name, req_string(b, "name"));
        VOUCH_ASSIGN_OR_RETURN(auto description, opt_string(b, "description"));
        if (description && description->size() > 1024) {
          return make_error(Code::kInvalidArgument, Reason::kTooLarge, "description too long");
        }
        VOUCH_RETURN_IF_ERROR(a_.create_team(c.actor, org, name, description.value_or("")));
        return Answer(json_answer(201, team_json({org, name, description.value_or("")})));
      }
      return not_allowed("GET, POST");
    }
    const std::string& team = s[3];
    if (s.size() == 4) {
      if (c.method == "GET") {
        // The team's record, found by paging its org's teams (few per org).
        accounts::PageRequest page{"", accounts::kMaxScanLimit};
        while (true) {
          VOUCH_ASSIGN_OR_RETURN(auto teams, a_.list_teams(c.actor, org, page));
          for (const auto& t : teams.items) {
            if (t.name == team) return Answer(json_answer(200, team_json(t)));
          }
          if (teams.next.empty()) break;
          page.start_after = teams.next;
        }
        return make_error(Code::kNotFound, Reason::kNotFound, "no such team");
      }
      if (c.method == "DELETE") {
        VOUCH_RETURN_IF_ERROR(a_.delete_team(c.actor, org, team));
        return Answer(no_content());
      }
      return not_allowed("GET, DELETE");
    }
    if (s[4] != "members") return route_not_found();
    if (s.size() == 5) {
      if (c.method != "GET") return not_allowed("GET");
      VOUCH_ASSIGN_OR_RETURN(auto page, page_of(c.query));
      VOUCH_ASSIGN_OR_RETURN(auto members, a_.list_team_members(c.actor, org, team, page));
      return Answer(json_answer(
          200, page_json("members", members, [](const std::string& m) { return bj::value(m); })));
    }
    if (s.size() != 6) return route_not_found();
    const std::string& member = s[5];
    if (c.method == "PUT") {
      VOUCH_RETURN_IF_ERROR(a_.add_team_member(c.actor, org, team, member));
      return Answer(json_answer(200, bj::object{{"team", org + "/" + team}, {"member", member}}));
    }
    if (c.method == "DELETE") {
      VOUCH_RETURN_IF_ERROR(a_.remove_team_member(c.actor, org, team, member));
      return Answer(no_content());
    }
    return not_allowed("PUT, DELETE");
  }

  static bj::object service_account_json(const accounts::ServiceAccountInfo& sa) {
    return {
        {"name", sa.name}, {"description", sa.description}, {"created", time_value(sa.created)}};
  }

  Result<Answer> service_accounts(const Call& c) {
    const auto& s = c.seg;
    if (s.size() == 1) {
      if (c.method == "GET") {
        const std::string owner(param(c.query, "owner"));
        if (owner.empty()) return bad_request("?owner= is required");
        VOUCH_ASSIGN_OR_RETURN(auto page, page_of(c.query));
        VOUCH_ASSIGN_OR_RETURN(auto list, a_.list_service_accounts(c.actor, owner, page));
        return Answer(json_answer(200, page_json("service_accounts", list, service_account_json)));
      }
      if (c.method == "POST") {
        VOUCH_ASSIGN_OR_RETURN(bj::object b,
                               body_object(c.request, {"owner", "name", "description"}));
        VOUCH_ASSIGN_OR_RETURN(std::string owner, req_string(b, "owner"));
        VOUCH_ASSIGN_OR_RETURN(std::string name, req_string(b, "name"));
        VOUCH_ASSIGN_OR_RETURN(auto description, opt_string(b, "description"));
        if (description && description->size() > 1024) {
          return make_error(Code::kInvalidArgument, Reason::kTooLarge, "description too long");
        }
        // Both parts are names: a '/' in either is refused, not read as another owner.
        VOUCH_RETURN_IF_ERROR(accounts::validate_name(owner, "owner"));
        VOUCH_RETURN_IF_ERROR(accounts::validate_name(name, "service account name"));
        const std::string full = owner + "/" + name;
        VOUCH_RETURN_IF_ERROR(a_.create_service_account(c.actor, full, description.value_or("")));
        return Answer(json_answer(
            201, bj::object{{"name", full}, {"description", description.value_or("")}}));
      }
      return not_allowed("GET, POST");
    }
    if (s.size() != 3) return route_not_found();
    if (c.method != "DELETE") return not_allowed("DELETE");
    VOUCH_RETURN_IF_ERROR(a_.delete_service_account(c.actor, s[1] + "/" + s[2]));
    return Answer(no_content());
  }

  Result<Answer> tokens(const Call& c) {
    const auto& s = c.seg;
    if (s.size() == 1) {
      if (c.method == "GET") {
        std::string owner(param(c.query, "owner"));
        if (owner.empty()) owner = c.actor.name;
        VOUCH_ASSIGN_OR_RETURN(auto page, page_of(c.query));
        VOUCH_ASSIGN_OR_RETURN(auto list, a_.list_tokens(c.actor, owner, page));
        return Answer(json_answer(200, page_json("tokens", list, token_json)));
      }
      if (c.method == "POST") return ok(create_token(c));
      return not_allowed("GET, POST");
    }
    if (s.size() != 2) return route_not_found();
    if (c.method != "DELETE") return not_allowed("DELETE");
    VOUCH_RETURN_IF_ERROR(a_.revoke_token(c.actor, s[1]));
    return Answer(no_content());
  }

  Result<Response> create_token(const Call& c) {
    VOUCH_ASSIGN_OR_RETURN(bj::object b,
                           body_object(c.request, {"owner", "label", "expires_in_days", "scope"}));
    VOUCH_ASSIGN_OR_RETURN(auto owner, opt_string(b, "owner"));
    VOUCH_ASSIGN_OR_RETURN(std::string label, req_string(b, "label"));
    if (label.size() > 256) {
      return make_error(Code::kInvalidArgument, Reason::kTooLarge, "label too long");
    }
    std::optional<std::chrono::seconds> lifetime;
    if (const bj::value* d = b.if_contains("expires_in_days"); d != nullptr && !d->is_null()) {
      if (!d->is_int64() || d->get_int64() <= 0 || d->get_int64() > 3650) {
        return bad_request("\"expires_in_days\" must be a positive number of days");
      }
      lifetime = std::chrono::seconds(d->get_int64() * 86400);
    }
    std::optional<accounts::ScopeLimit> scope;
    if (const bj::value* sv = b.if_contains("scope"); sv != nullptr && !sv->is_null()) {
      if (!sv->is_object()) return bad_request("\"scope\" must be an object");
      const bj::object& so = sv->get_object();
      for (const auto& m : so) {
        if (m.key() != "repositories" && m.key() != "max_permission") {
          return bad_request("unknown field in \"scope\"");
        }
      }
      accounts::ScopeLimit limit;
      VOUCH_ASSIGN_OR_RETURN(std::string max, req_string(so, "max_permission"));
      VOUCH_ASSIGN_OR_RETURN(limit.max_permission, permission_field(max));
      if (const bj::value* r = so.if_contains("repositories"); r != nullptr && !r->is_null()) {
        if (!r->is_array() || r->get_array().size() > 64) {
          return bad_request("\"scope.repositories\" must be a list of at most 64 patterns");
        }
        for (const auto& p : r->get_array()) {
          if (!p.is_string() || p.get_string().empty() || p.get_string().size() > 255) {
            return bad_request("\"scope.repositories\" must hold GUN patterns");
          }
          limit.patterns.emplace_back(p.get_string());
        }
      }
      scope = std::move(limit);
    }
    VOUCH_ASSIGN_OR_RETURN(auto made, a_.create_token(c.actor, owner.value_or(c.actor.name), label,
                                                      lifetime, std::move(scope)));
    bj::object o = token_json(made.info);
    o["token"] = bj::string(made.text.view());
    Response r = json_answer(201, o);
    bj::string& shown = o["token"].get_string();
    scrub(shown);
    return r;
  }

  Result<Answer> repositories(const Call& c) {
    const auto& s = c.seg;
    if (s.size() == 1) {
      if (c.method != "GET") return not_allowed("GET");
      const std::string gun(param(c.query, "gun"));
      if (gun.empty()) return bad_request("?gun= is required");
      if (gun.ends_with("/*")) return bad_request("a GUN, not a namespace");
      VOUCH_ASSIGN_OR_RETURN(auto settings, a_.get_repository(c.actor, gun));
      const auto ns = accounts::gun_namespace(gun, options_.repository_host);
      return Answer(
          json_answer(200, bj::object{{"gun", gun},
                                      {"namespace", ns ? bj::value(*ns) : bj::value(nullptr)},
                                      {"visibility", accounts::to_string(settings.visibility)},
                                      {"grants", grants_json(settings.grants)}}));
    }
    if (s.size() != 2 || s[1] != "visibility") return route_not_found();
    if (c.method != "PUT") return not_allowed("PUT");
    VOUCH_ASSIGN_OR_RETURN(bj::object b, body_object(c.request, {"gun", "visibility"}));
    VOUCH_ASSIGN_OR_RETURN(std::string gun, req_string(b, "gun"));
    VOUCH_ASSIGN_OR_RETURN(std::string text, req_string(b, "visibility"));
    auto visibility = accounts::parse_visibility(text);
    if (!visibility) return bad_request("visibility must be public or private");
    VOUCH_RETURN_IF_ERROR(a_.set_visibility(c.actor, gun, *visibility));
    return Answer(json_answer(200, bj::object{{"gun", gun}, {"visibility", text}}));
  }

  Result<Answer> grants(const Call& c) {
    if (c.method == "GET") {
      const std::string gun(param(c.query, "gun"));
      const std::string ns(param(c.query, "namespace"));
      if (gun.empty() == ns.empty())
        return bad_request("give exactly one of ?gun= and ?namespace=");
      const std::string target = gun.empty() ? accounts::namespace_target(ns) : gun;
      VOUCH_ASSIGN_OR_RETURN(auto settings, a_.get_repository(c.actor, target));
      return Answer(json_answer(
          200, bj::object{{"target", target}, {"grants", grants_json(settings.grants)}}));
    }
    if (c.method == "PUT") {
      VOUCH_ASSIGN_OR_RETURN(bj::object b, body_object(c.request, {"target", "grantee_kind",
                                                                   "grantee", "permission"}));
      accounts::Grant g;
      VOUCH_ASSIGN_OR_RETURN(g.target, req_string(b, "target"));
      VOUCH_ASSIGN_OR_RETURN(std::string kind, req_string(b, "grantee_kind"));
      VOUCH_ASSIGN_OR_RETURN(g.subject.kind, grantee_kind(kind));
      VOUCH_ASSIGN_OR_RETURN(g.subject.name, req_string(b, "grantee"));
      VOUCH_ASSIGN_OR_RETURN(std::string permission, req_string(b, "permission"));
      VOUCH_ASSIGN_OR_RETURN(g.permission, permission_field(permission));
      VOUCH_RETURN_IF_ERROR(a_.set_grant(c.actor, g));
      bj::object o = grant_json(g);
      o["target"] = g.target;
      return Answer(json_answer(200, o));
    }
    return not_allowed("GET, PUT");
  }

  // /keys: members' signing keys (register for the caller, list, look up owners, delete).
  Result<Answer> member_keys(const Call& c) {
    const auto& s = c.seg;
    if (s.size() == 1) {
      if (c.method == "GET") {
        std::string owner(param(c.query, "owner"));
        if (owner.empty()) owner = c.actor.name;
        VOUCH_ASSIGN_OR_RETURN(auto list, a_.list_keys(c.actor, owner));
        bj::array items;
        for (const auto& k : list) items.push_back(member_key_json(k));
        return Answer(json_answer(200, bj::object{{"keys", std::move(items)}}));
      }
      if (c.method == "POST") return ok(register_key(c));
      return not_allowed("GET, POST");
    }
    if (s.size() != 2) return route_not_found();
    if (s[1] == "lookup") return only(c, "POST", [&] { return lookup_keys(c); });
    if (c.method != "DELETE") return not_allowed("DELETE");
    VOUCH_RETURN_IF_ERROR(a_.delete_key(c.actor, s[1]));
    return Answer(no_content());
  }

  Result<Response> register_key(const Call& c) {
    VOUCH_ASSIGN_OR_RETURN(bj::object b,
                           body_object(c.request, {"public_key", "issued_at", "signature"}));
    VOUCH_ASSIGN_OR_RETURN(std::string pem, req_string(b, "public_key"));
    VOUCH_ASSIGN_OR_RETURN(std::string issued, req_string(b, "issued_at"));
    auto issued_at = parse_rfc3339(issued);
    if (!issued_at) return bad_request("\"issued_at\" must be an RFC 3339 time");
    const bj::value* sv = b.if_contains("signature");
    if (sv == nullptr || !sv->is_object()) return bad_request("\"signature\" is required");
    const bj::object& so = sv->get_object();
    for (const auto& m : so) {
      if (m.key() != "method" && m.key() != "sig") return bad_request("unknown field in \"signature\"");
    }
    VOUCH_ASSIGN_OR_RETURN(std::string method, req_string(so, "method"));
    VOUCH_ASSIGN_OR_RETURN(std::string sig, req_string(so, "sig"));
    keys::Signature signature;
    auto parsed_method = keys::parse_sig_method(method);
    if (!parsed_method) return bad_request("unknown signature method");
    signature.method = *parsed_method;
    auto bytes = base64_decode(sig);
    if (!bytes) return bad_request("\"signature.sig\" must be base64");
    signature.bytes = std::move(*bytes);
    VOUCH_ASSIGN_OR_RETURN(auto key, a_.register_key(c.actor, pem, *issued_at, signature));
    return json_answer(201, member_key_json(key));
  }

  Result<Response> lookup_keys(const Call& c) {
    VOUCH_ASSIGN_OR_RETURN(bj::object b, body_object(c.request, {"key_ids"}));
    const bj::value* ids = b.if_contains("key_ids");
    if (ids == nullptr || !ids->is_array() || ids->get_array().empty() ||
        ids->get_array().size() > accounts::kMaxKeyLookup) {
      return bad_request("\"key_ids\" must be a list of 1.." +
                         std::to_string(accounts::kMaxKeyLookup) + " key IDs");
    }
    std::vector<std::string> list;
    for (const auto& id : ids->get_array()) {
      if (!id.is_string() || id.get_string().size() > 128) {
        return bad_request("\"key_ids\" must hold key IDs");
      }
      list.emplace_back(id.get_string());
    }
    VOUCH_ASSIGN_OR_RETURN(auto owners, a_.lookup_keys(c.actor, list));
    bj::array items;
    for (const auto& o : owners) {
      bj::object item = member_key_json(o.key);
      bj::array teams;
      for (const auto& t : o.teams) teams.push_back(bj::value(t));
      item["teams"] = std::move(teams);
      items.push_back(std::move(item));
    }
    return json_answer(200, bj::object{{"keys", std::move(items)}});
  }

  // POST /ldap/sync: a directory group sync now (server/README.md "Sign in with LDAP").
  Result<Answer> ldap_sync(const Call& c) {
    if (!options_.directory_sync) return route_not_found();
    if (c.method != "POST") return not_allowed("POST");
    VOUCH_RETURN_IF_ERROR(require_system_admin(c.actor));
    const DirectorySyncCounts n = options_.directory_sync();
    bj::object o{{"groups_synced", n.groups_synced}, {"groups_failed", n.groups_failed},
                 {"added", n.added}, {"removed", n.removed}, {"skipped", n.skipped}};
    return Answer(json_answer(200, o));
  }

  // System administrators only, by the store's current state.
  Status require_system_admin(const Principal& actor) {
    if (actor.kind != Principal::Kind::kUser) {
      return make_error(Code::kPermissionDenied, Reason::kPermissionDenied,
                        "system administrators only");
    }
    VOUCH_ASSIGN_OR_RETURN(auto user, a_.get_user(actor, actor.name));
    if (!user.admin) {
      return make_error(Code::kPermissionDenied, Reason::kPermissionDenied,
                        "system administrators only");
    }
    return ok_status();
  }

  Result<Answer> audit(const Call& c) {
    const auto& s = c.seg;
    if (audit_ == nullptr || s.size() > 2 || (s.size() == 2 && s[1] != "verify")) {
      return route_not_found();
    }
    if (c.method != "GET") return not_allowed("GET");
    VOUCH_RETURN_IF_ERROR(require_system_admin(c.actor));
    if (s.size() == 2) {
      VOUCH_ASSIGN_OR_RETURN(auto report, audit_->verify());
      bj::object o{{"ok", report.ok()},
                   {"head_seq", audit_->head().seq},
                   {"records_checked", report.records_checked}};
      if (!report.ok()) {
        o["first_bad"] = *report.bad_seq;
        if (report.error) o["error"] = report.error->message;
      }
      return Answer(json_answer(200, o));
    }
    std::uint64_t after = 0;
    if (const auto text = param(c.query, "after"); !text.empty()) {
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), after);
      if (ec != std::errc() || end != text.data() + text.size()) {
        return bad_request("after must be a record number");
      }
    }
    std::size_t limit = kDefaultPage;
    if (const auto text = param(c.query, "limit"); !text.empty()) {
      VOUCH_ASSIGN_OR_RETURN(limit, parse_count(text, audit::AuditLog::kMaxReadLimit, "limit"));
    }
    VOUCH_ASSIGN_OR_RETURN(auto records, audit_->read(after, static_cast<int>(limit)));
    bj::array list;
    for (const auto& r : records) list.push_back(record_json(r));
    const std::uint64_t next = records.empty() ? after : records.back().seq;
    return Answer(json_answer(200, bj::object{{"records", std::move(list)}, {"next_after", next}}));
  }

  accounts::AccountsService& a_;
  audit::AuditLog* audit_;
  const AdminApiOptions& options_;
};

}  // namespace

net::Response AdminApi::handle(const net::Request& request) {
  auto logger = log::get("server");
  const std::string_view path = request.path();
  std::string who = "anonymous";
  unsigned status = 500;
  auto answer = [&](Response r) {
    status = r.status;
    return r;
  };
  auto from_error = [&](const Error& e) {
    const unsigned st = status_of(e.code);
    if (st == 500 || st == 503) {
      logger->error("admin API {} {}: {} ({})", request.method, path.substr(0, 200), e.message,
                    to_string(e.reason));
      return answer(error_answer(st, st == 500 ? "internal" : "unavailable",
                                 st == 500 ? "internal error" : "service unavailable"));
    }
    Response r = error_answer(st, to_string(e.reason), e.message);
    if (st == 401) r.headers.set("WWW-Authenticate", "Basic realm=\"vouch\"");
    if (st == 429)
      r.headers.set("Retry-After", std::to_string(options_.throttle_retry_after_seconds));
    return answer(std::move(r));
  };
  t_current_source = request.remote_address;
  struct ClearSource {
    ~ClearSource() { t_current_source.clear(); }
  } clear_source;
  Response out;
  try {
    out = [&]() -> Response {
      // Who is asking: exactly one Authorization header, Basic or Bearer <API token>.
      const std::size_t headers = request.headers.count("Authorization");
      if (headers == 0) {
        return from_error(
            make_error(Code::kUnauthenticated, Reason::kNoCredentials, "authentication required"));
      }
      const std::string_view value = *request.headers.get("Authorization");
      if (headers > 1 || value.size() > options_.max_authorization_bytes) {
        return from_error(bad_request("one Authorization header of at most " +
                                      std::to_string(options_.max_authorization_bytes) + " bytes"));
      }
      Result<Principal> principal = make_error(Code::kUnauthenticated, Reason::kBadCredentials,
                                               "Basic credentials or an API token are required");
      const std::size_t space = value.find(' ');
      const std::string_view scheme = value.substr(0, space);
      if (net::iequals(scheme, "basic")) {
        auto basic = parse_basic_credentials(value);
        if (!basic) return from_error(bad_request("malformed Basic credentials"));
        who = basic->name.substr(0, 64);
        principal = accounts_.authenticate(basic->name, basic->secret, request.remote_address);
      } else if (net::iequals(scheme, "bearer") && space != std::string_view::npos) {
        keys::SecretString token(value.substr(space + 1));
        if (accounts::looks_like_api_token(token.view())) {
          principal = accounts_.authenticate_any_token(token, request.remote_address);
        }
      }
      if (!principal) {
        const Code code = principal.error().code;
        if (audit_ != nullptr &&
            (code == Code::kUnauthenticated || code == Code::kResourceExhausted)) {
          // A refused login is an audit record, as at /auth/token (never the secret).
          audit::AuditEvent event;
          event.action = audit::Action::kLoginFailed;
          event.target = who == "anonymous" ? "" : who;
          event.source = request.remote_address;
          event.outcome = audit::Outcome::kDenied;
          event.detail["reason"] = code == Code::kUnauthenticated ? "bad credentials" : "throttled";
          event.detail["via"] = "admin API";
          if (auto st = audit_->append(event); !st) {
            logger->error("audit log: login_failed: {}", st.error().message);
          }
        }
        return from_error(principal.error());
      }
      who = principal->name;

      auto segments = path_segments(path);
      if (!segments) return from_error(segments.error());
      auto query = parse_query(request.query());
      if (!query) return from_error(query.error());
      Routes routes(accounts_, audit_, options_);
      auto routed = routes.route(Call{request, request.method, *principal, *segments, *query});
      if (!routed) return from_error(routed.error());
      if (auto* r = std::get_if<Response>(&*routed)) return answer(std::move(*r));
      Response r = error_answer(405, "method_not_allowed", "method not allowed");
      r.headers.set("Allow", std::get<MethodNotAllowed>(*routed).allow);
      return answer(std::move(r));
    }();
  } catch (const std::exception& e) {
    logger->error("admin API {} {}: {}", request.method, path.substr(0, 200), e.what());
    out = answer(error_answer(500, "internal", "internal error"));
  }
  logger->info("admin API {} {} by {} from {}: {}", request.method, path.substr(0, 200), who,
               request.remote_address, status);
  return out;
}

net::Handler route_admin_requests(AdminApi& api, WorkQueue& workers, net::Handler next) {
  // Password checks are slow on purpose (Argon2id), and writes are synced.
  return net::route_to_workers(
      AdminApi::is_admin_request,
      [&api](net::Request& request) {
        net::Response r = api.handle(request);
        // The body may have held a password.
        if (!request.body.empty()) OPENSSL_cleanse(request.body.data(), request.body.size());
        return r;
      },
      workers,
      [] {
        net::Response busy = error_answer(503, "unavailable", "service unavailable");
        busy.headers.set("Retry-After", "1");
        return busy;
      },
      std::move(next));
}

}  // namespace vouch::server
