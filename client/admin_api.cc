#include "client/admin_api.h"

#include <algorithm>
#include <utility>

#include <boost/json/parse.hpp>

#include "common/strings.h"

namespace vouch::client {
namespace {

namespace bj = boost::json;

constexpr std::string_view kJson = "application/json";

void append(keys::SecretString& out, std::string_view text) {
  for (char c : text) out.push_back(c);
}

// A JSON object written member by member into a SecretString (bodies may hold a password).
class Body {
 public:
  Body& str(std::string_view key, std::string_view value) {
    member(key);
    append_json_string(value, text_);
    return *this;
  }
  Body& boolean(std::string_view key, bool value) {
    member(key);
    append(text_, value ? "true" : "false");
    return *this;
  }
  Body& integer(std::string_view key, std::int64_t value) {
    member(key);
    append(text_, std::to_string(value));
    return *this;
  }
  Body& raw(std::string_view key, std::string_view json_text) {
    member(key);
    append(text_, json_text);
    return *this;
  }
  const keys::SecretString& done() {
    if (first_) text_.push_back('{');
    first_ = false;
    text_.push_back('}');
    return text_;
  }

 private:
  void member(std::string_view key) {
    text_.push_back(first_ ? '{' : ',');
    first_ = false;
    append_json_string(key, text_);
    text_.push_back(':');
  }
  keys::SecretString text_;
  bool first_ = true;
};

std::string seg(std::string_view text) { return escape_path(text, /*keep_slash=*/false); }

// A query value: escape_path without ':' and '@' kept would be stricter, but both are legal
// in a query (RFC 3986 3.4).
std::string query_value(std::string_view text) { return escape_path(text, false); }




// The string member `key` of `v`, or nullptr.
const bj::string* string_member(const bj::value& v, std::string_view key) {
  const bj::object* object = v.if_object();
  const bj::value* member = object == nullptr ? nullptr : object->if_contains(key);
  return member == nullptr ? nullptr : member->if_string();
}

// The inverse of to_string(Reason), over every Reason up to the last one (common/error.h).
std::optional<Reason> reason_named(std::string_view name) {
  for (int i = 0; i <= static_cast<int>(Reason::kPermissionDenied); ++i) {
    const auto r = static_cast<Reason>(i);
    if (to_string(r) == name) return r;
  }
  return std::nullopt;
}

}  // namespace

Result<bj::value> parse_json(std::string_view text, std::size_t max_depth) {
  bj::parse_options options;
  options.max_depth = max_depth;
  bj::error_code ec;
  bj::value doc = bj::parse(bj::string_view(text.data(), text.size()), ec, {}, options);
  if (ec) return make_error(Reason::kMalformed, ec.message());
  return doc;
}

void append_json_string(std::string_view text, keys::SecretString& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20 || u == 0x7f) {
      append(out, "\\u00");
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xf]);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

Error admin_api_error(unsigned status, std::string_view body, std::string_view origin) {
  Reason reason = Reason::kNone;
  std::string message;
  if (const auto doc = parse_json(body, 8); doc.ok()) {
    if (const bj::value* e = doc->is_object() ? doc->get_object().if_contains("error") : nullptr) {
      if (const bj::string* c = string_member(*e, "code")) {
        reason = reason_named(json_view(*c)).value_or(Reason::kNone);
      }
      if (const bj::string* m = string_member(*e, "message")) {
        message = printable(json_view(*m), 512);
      }
    }
  }
  if (message.empty()) message = "HTTP " + std::to_string(status);
  Code code = Code::kUnknown;
  switch (status) {
    case 400: code = Code::kInvalidArgument; break;
    case 401: code = Code::kUnauthenticated; break;
    case 403: code = Code::kPermissionDenied; break;
    case 404: code = Code::kNotFound; break;
    case 409:
      code = reason == Reason::kConflict ? Code::kAlreadyExists : Code::kFailedPrecondition;
      break;
    case 429: code = Code::kResourceExhausted; break;
    default:
      if (status >= 500) {
        code = Code::kUnavailable;
        if (reason == Reason::kNone) reason = Reason::kUnavailable;
      }
      break;
  }
  std::string text = std::string(origin) + ": " + message;
  if (status == 401) text += " (log in with `vouch login " + std::string(origin) + "`)";
  return make_error(code, reason, std::move(text));
}

Result<AdminClient> AdminClient::create(std::string_view server_url, HttpClient& http,
                                        AdminApiOptions options) {
  VOUCH_ASSIGN_OR_RETURN(std::string origin, url_origin(server_url));
  std::string base(server_url);
  if (const auto q = base.find_first_of("?#"); q != std::string::npos) base.resize(q);
  while (!base.empty() && base.back() == '/') base.pop_back();
  return AdminClient(std::move(base), std::move(origin), http, options);
}

Result<bj::value> AdminClient::call(std::string_view method, std::string_view path,
                                      std::string_view body) {
  const std::string url = base_ + std::string(kPrefix) + std::string(path);
  VOUCH_ASSIGN_OR_RETURN(HttpResponse resp,
                         http_->send(method, url, body, body.empty() ? "" : kJson,
                                     options_.max_response));
  if (resp.status < 200 || resp.status >= 300) {
    return admin_api_error(resp.status, resp.body, origin_);
  }
  if (resp.status == 204 || resp.body.empty()) return bj::value(bj::object{});
  auto doc = parse_json(resp.body, 16);
  if (!doc) {
    return make_error(Reason::kMalformed, origin_ + " answered " + std::string(method) + " " +
                                              std::string(kPrefix) + std::string(path) +
                                              " with malformed JSON: " + doc.error().message);
  }
  return std::move(*doc);
}

Result<bj::value> AdminClient::list(std::string_view path) {
  const char sep = path.find('?') == std::string_view::npos ? '?' : '&';
  VOUCH_ASSIGN_OR_RETURN(bj::value all, call("GET", std::string(path) + sep + "limit=1000", ""));
  for (std::size_t page = 1;; ++page) {
    const bj::string* next = string_member(all, "next_after");
    if (next == nullptr || next->empty()) return all;
    if (page == kMaxListPages) {
      return make_error(Reason::kTooLarge, origin_ + ": more than " +
                                               std::to_string(kMaxListPages) + " pages of " +
                                               std::string(path));
    }
    const std::string after(*next);
    VOUCH_ASSIGN_OR_RETURN(bj::value more,
                           call("GET", std::string(path) + sep + "limit=1000&after=" +
                                           query_value(after), ""));
    if (!more.is_object()) return make_error(Reason::kMalformed, origin_ + ": a page is no object");
    for (auto& [key, value] : more.get_object()) {
      if (!value.is_array()) continue;
      bj::value* mine = all.get_object().if_contains(key);
      if (mine == nullptr || !mine->is_array()) {
        return make_error(Reason::kMalformed, origin_ + ": pages of different shapes");
      }
      for (auto& item : value.get_array()) mine->get_array().push_back(std::move(item));
    }
    const bj::string* next_after = string_member(more, "next_after");
    if (next_after == nullptr || *next_after == after) {
      return make_error(Reason::kMalformed, origin_ + ": a page without progress");
    }
    all.get_object()["next_after"] = *next_after;
  }
}

Result<bj::value> AdminClient::me() { return call("GET", "/me", ""); }

Result<bj::value> AdminClient::list_users() { return list("/users"); }

Result<bj::value> AdminClient::create_user(std::string_view name,
                                             const keys::SecretString& password, bool admin) {
  Body body;
  body.str("name", name).str("password", password.view());
  if (admin) body.boolean("admin", true);
  return call("POST", "/users", body.done().view());
}

Result<bj::value> AdminClient::get_user(std::string_view name) {
  return call("GET", "/users/" + seg(name), "");
}

Result<bj::value> AdminClient::update_user(std::string_view name, const UserUpdate& update) {
  Body body;
  if (update.disabled) body.boolean("disabled", *update.disabled);
  if (update.admin) body.boolean("admin", *update.admin);
  if (update.password) body.str("password", update.password->view());
  if (!update.disabled && !update.admin && !update.password) {
    return make_error(Code::kInvalidArgument, Reason::kMalformed, "nothing to change");
  }
  return call("PATCH", "/users/" + seg(name), body.done().view());
}

Result<bj::value> AdminClient::delete_user(std::string_view name) {
  return call("DELETE", "/users/" + seg(name), "");
}

Result<bj::value> AdminClient::list_orgs() { return list("/orgs"); }

Result<bj::value> AdminClient::create_org(std::string_view name) {
  Body body;
  body.str("name", name);
  return call("POST", "/orgs", body.done().view());
}

Result<bj::value> AdminClient::get_org(std::string_view org) {
  return call("GET", "/orgs/" + seg(org), "");
}

Result<bj::value> AdminClient::delete_org(std::string_view org) {
  return call("DELETE", "/orgs/" + seg(org), "");
}

Result<bj::value> AdminClient::list_org_members(std::string_view org) {
  return list("/orgs/" + seg(org) + "/members");
}

Result<bj::value> AdminClient::set_org_member(std::string_view org, std::string_view user,
                                                std::optional<bool> admin) {
  Body body;
  if (admin) body.boolean("admin", *admin);
  return call("PUT", "/orgs/" + seg(org) + "/members/" + seg(user), body.done().view());
}

Result<bj::value> AdminClient::remove_org_member(std::string_view org, std::string_view user) {
  return call("DELETE", "/orgs/" + seg(org) + "/members/" + seg(user), "");
}

Result<bj::value> AdminClient::list_teams(std::string_view org) {
  return list("/orgs/" + seg(org) + "/teams");
}

Result<bj::value> AdminClient::create_team(std::string_view org, std::string_view team,
                                             std::string_view description) {
  Body body;
  body.str("name", team);
  if (!description.empty()) body.str("description", description);
  return call("POST", "/orgs/" + seg(org) + "/teams", body.done().view());
}

Result<bj::value> AdminClient::get_team(std::string_view org, std::string_view team) {
  return call("GET", "/orgs/" + seg(org) + "/teams/" + seg(team), "");
}

Result<bj::value> AdminClient::delete_team(std::string_view org, std::string_view team) {
  return call("DELETE", "/orgs/" + seg(org) + "/teams/" + seg(team), "");
}

Result<bj::value> AdminClient::list_team_members(std::string_view org, std::string_view team) {
  return list("/orgs/" + seg(org) + "/teams/" + seg(team) + "/members");
}

Result<bj::value> AdminClient::add_team_member(std::string_view org, std::string_view team,
                                                 std::string_view member) {
  return call("PUT", "/orgs/" + seg(org) + "/teams/" + seg(team) + "/members/" + seg(member),
              "{}");
}

Result<bj::value> AdminClient::remove_team_member(std::string_view org, std::string_view team,
                                                    std::string_view member) {
  return call("DELETE", "/orgs/" + seg(org) + "/teams/" + seg(team) + "/members/" + seg(member),
              "");
}

Result<bj::value> AdminClient::list_service_accounts(std::string_view owner) {
  return list(owner.empty() ? "/service-accounts"
                            : "/service-accounts?owner=" + query_value(owner));
}

Result<bj::value> AdminClient::create_service_account(std::string_view owner,
                                                        std::string_view name,
                                                        std::string_view description) {
  Body body;
  body.str("owner", owner).str("name", name);
  if (!description.empty()) body.str("description", description);
  return call("POST", "/service-accounts", body.done().view());
}

Result<bj::value> AdminClient::delete_service_account(std::string_view owner,
                                                        std::string_view name) {
  return call("DELETE", "/service-accounts/" + seg(owner) + "/" + seg(name), "");
}

Result<bj::value> AdminClient::list_tokens(std::string_view owner) {
  return list(owner.empty() ? "/tokens" : "/tokens?owner=" + query_value(owner));
}

Result<CreatedToken> AdminClient::create_token(const TokenRequest& request) {
  Body body;
  body.str("owner", request.owner).str("label", request.label);
  if (request.expires_in_days) body.integer("expires_in_days", *request.expires_in_days);
  if (!request.repositories.empty()) {
    keys::SecretString scope;
    append(scope, "{\"repositories\":[");
    for (std::size_t i = 0; i < request.repositories.size(); ++i) {
      if (i != 0) scope.push_back(',');
      append_json_string(request.repositories[i], scope);
    }
    append(scope, "],\"max_permission\":");
    append_json_string(request.max_permission.empty() ? "read-write" : request.max_permission,
                       scope);
    scope.push_back('}');
    body.raw("scope", scope.view());
  }
  VOUCH_ASSIGN_OR_RETURN(bj::value answer, call("POST", "/tokens", body.done().view()));
  bj::object* object = answer.if_object();
  if (object == nullptr) {
    return make_error(Reason::kMalformed, origin_ + " answered a token creation with no object");
  }
  bj::value* token = object->if_contains("token");
  const bj::string* id = string_member(answer, "id");
  if (token == nullptr || !token->is_string() || id == nullptr) {
    return make_error(Reason::kMalformed,
                      origin_ + " answered a token creation without \"id\" and \"token\"");
  }
  CreatedToken created;
  created.id = std::string(*id);
  bj::string& text = token->get_string();
  created.token = keys::SecretString(json_view(text));
  std::fill(text.begin(), text.end(), '\0');  // the copy in the answer is not a SecretString
  object->erase("token");
  if (const bj::string* e = string_member(answer, "expires_at")) {
    created.expires_at = std::string(*e);
  }
  created.answer = std::move(answer);
  return created;
}

Result<bj::value> AdminClient::revoke_token(std::string_view id) {
  return call("DELETE", "/tokens/" + seg(id), "");
}

Result<bj::value> AdminClient::get_repository(std::string_view gun) {
  return call("GET", "/repositories?gun=" + query_value(gun), "");
}

Result<bj::value> AdminClient::set_visibility(std::string_view gun,
                                                std::string_view visibility) {
  Body body;
  body.str("gun", gun).str("visibility", visibility);
  return call("PUT", "/repositories/visibility", body.done().view());
}

Result<bj::value> AdminClient::list_grants(std::string_view gun,
                                             std::string_view namespace_name) {
  if (gun.empty() == namespace_name.empty()) {
    return make_error(Code::kInvalidArgument, Reason::kMalformed,
                      "name either a repository or a namespace");
  }
  return call("GET",
              gun.empty() ? "/grants?namespace=" + query_value(namespace_name)
                          : "/grants?gun=" + query_value(gun),
              "");
}

Result<bj::value> AdminClient::set_grant(const GrantRequest& grant) {
  Body body;
  body.str("target", grant.target)
      .str("grantee_kind", grant.grantee_kind)
      .str("grantee", grant.grantee)
      .str("permission", grant.permission);
  return call("PUT", "/grants", body.done().view());
}

Result<bj::value> AdminClient::audit(std::uint64_t after, std::uint32_t limit) {
  return call("GET", "/audit?after=" + std::to_string(after) + "&limit=" + std::to_string(limit),
              "");
}

Result<bj::value> AdminClient::verify_audit() { return call("GET", "/audit/verify", ""); }

}  // namespace vouch::client
