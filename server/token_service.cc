#include "server/token_service.h"

#include <openssl/crypto.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <map>
#include <optional>
#include <system_error>
#include <utility>
#include <variant>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "common/fs.h"
#include "common/log.h"
#include "common/net/headers.h"
#include "common/work_queue.h"
#include "keys/crypto.h"
#include "tuf/gun.h"
#include "tuf/json.h"

namespace vouch::server {
namespace {

namespace bj = boost::json;
// tuf::json only for the JWT's header and claims: signed, and read back by the strict reader of
// server/token_auth.cc. Answers and the state file are Boost.JSON (issue 13, item 7).
namespace json = tuf::json;
using accounts::Permission;
using accounts::Principal;

// ---- Answers -------------------------------------------------------------------------------

// distribution's error JSON (registry/api/errcode), which its client decodes
// (internal/client/errors.go).
net::Response error_answer(unsigned status, std::string_view code, std::string_view message) {
  bj::object err;
  err["code"] = code;
  err["message"] = message;
  bj::object body;
  body["errors"] = bj::array{std::move(err)};
  net::Response r = net::Response::text(status, bj::serialize(body), "application/json");
  r.headers.set("Cache-Control", "no-store");
  return r;
}

// A failure to answer with, and what to log about it (never a secret).
struct Refusal {
  unsigned status;
  std::string_view code;
  std::string message;  // sent to the client
};

Refusal bad_request(std::string message) { return {400, "UNSUPPORTED", std::move(message)}; }

// Overwrites a std::string that held a secret before it is freed.
void scrub(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

// ---- application/x-www-form-urlencoded (queries and POST forms) -----------------------------

bool is_printable_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

// Parameters by name; "scope" may repeat, any other parameter may not.
struct Form {
  std::map<std::string, std::string, std::less<>> single;
  std::vector<std::string> scopes;

  Form() = default;
  Form(const Form&) = delete;
  Form& operator=(const Form&) = delete;
  Form(Form&&) = default;
  Form& operator=(Form&&) = default;
  // Values may hold secrets (password, refresh_token).
  ~Form() {
    for (auto& [name, value] : single) scrub(value);
  }

  std::string_view get(std::string_view name) const {
    auto it = single.find(name);
    return it == single.end() ? std::string_view() : std::string_view(it->second);
  }
  bool has(std::string_view name) const { return single.find(name) != single.end(); }
  // Moves a secret out into a SecretString, scrubbing the copy.
  keys::SecretString take_secret(std::string_view name) {
    auto it = single.find(name);
    if (it == single.end()) return {};
    keys::SecretString s(it->second);
    scrub(it->second);
    return s;
  }
};

std::variant<Form, Refusal> parse_form(std::string_view text, const TokenServiceOptions& o) {
  Form form;
  std::optional<Refusal> refused;
  const bool decoded = net::for_each_form_pair(text, [&](std::string& name, std::string& value) {
    if (name == "scope") {
      // A POST carries several scopes in one parameter, space-separated (oauth.md); a GET
      // may do so too.
      std::string_view rest = value;
      while (!rest.empty()) {
        const std::size_t sp = rest.find(' ');
        const std::string_view one = rest.substr(0, sp);
        rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
        if (one.empty()) continue;
        if (form.scopes.size() >= o.max_scopes) {
          refused = bad_request("too many scopes (at most " + std::to_string(o.max_scopes) + ")");
          return false;
        }
        form.scopes.emplace_back(one);
      }
      return true;
    }
    if (form.has(name)) {
      // The name goes back to the client and into the log: only a short, plain one.
      const bool plain = name.size() <= 32 && is_printable_ascii(name);
      refused = bad_request("parameter " + (plain ? "\"" + name + "\" " : std::string()) +
                            "given more than once");
      return false;
    }
    form.single.emplace(std::move(name), std::move(value));
    return true;
  });
  if (refused) return std::move(*refused);
  if (!decoded) return bad_request("malformed parameter encoding");
  return form;
}

// ---- Scopes ----------------------------------------------------------------------------------

bool is_lower_alnum(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  });
}

}  // namespace

// ---- Basic credentials ---------------------------------------------------------------------

// RFC 7617: "Basic" SP base64(user-id ":" password); the user-id contains no ':'.
std::optional<BasicCredentials> parse_basic_credentials(std::string_view value) {
  const std::size_t space = value.find(' ');
  if (space == std::string_view::npos || !net::iequals(value.substr(0, space), "basic")) {
    return std::nullopt;
  }
  std::string_view b64 = value.substr(space + 1);
  while (!b64.empty() && b64.front() == ' ') b64.remove_prefix(1);
  auto decoded = base64_decode(b64);
  if (!decoded) return std::nullopt;
  Bytes& raw = *decoded;
  struct Scrub {
    Bytes& b;
    ~Scrub() {
      if (!b.empty()) OPENSSL_cleanse(b.data(), b.size());
    }
  } scrub_raw{raw};
  const std::string_view text(reinterpret_cast<const char*>(raw.data()), raw.size());
  const std::size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  const std::string_view name = text.substr(0, colon);
  if (!is_printable_ascii(name)) return std::nullopt;
  BasicCredentials c{std::string(name), keys::SecretString(text.substr(colon + 1))};
  // An empty secret parses: it is a wrong password (401 with the challenge, refused by the
  // decider before any check), not a malformed request.
  if (c.secret.view().find('\0') != std::string_view::npos) {
    return std::nullopt;
  }
  return c;
}

namespace {

// The granted scopes with actions, space-separated (oauth.md's "scope" answer).
std::string scope_text(const std::vector<ResourceScope>& granted) {
  std::string scope;
  for (const ResourceScope& g : granted) {
    if (g.actions.empty()) continue;
    if (!scope.empty()) scope += ' ';
    scope += g.type + ":" + g.name + ":";
    for (std::size_t i = 0; i < g.actions.size(); ++i) {
      scope += (i == 0 ? "" : ",") + g.actions[i];
    }
  }
  return scope;
}

std::string random_jti() {
  std::array<std::uint8_t, 16> b{};
  if (!keys::random_bytes(b)) return {};
  return hex_encode(b);
}

}  // namespace

Result<ResourceScope> parse_scope(std::string_view text, std::size_t max_bytes) {
  if (text.size() > max_bytes) return make_error(Reason::kTooLarge, "scope too long");
  const std::size_t first = text.find(':');
  const std::size_t last = text.rfind(':');
  if (first == std::string_view::npos || first == last) {
    return make_error(Reason::kMalformed, "scope is not type:name:actions");
  }
  std::string_view type = text.substr(0, first);
  const std::string_view name = text.substr(first + 1, last - first - 1);
  const std::string_view actions = text.substr(last + 1);
  // resourcetype := resourcetypevalue [ '(' resourcetypevalue ')' ]
  if (const std::size_t open = type.find('('); open != std::string_view::npos) {
    if (type.back() != ')' || !is_lower_alnum(type.substr(open + 1, type.size() - open - 2))) {
      return make_error(Reason::kMalformed, "malformed resource class");
    }
    type = type.substr(0, open);
  }
  if (!is_lower_alnum(type)) return make_error(Reason::kMalformed, "malformed resource type");
  if (name.empty() || !is_printable_ascii(name)) {
    return make_error(Reason::kMalformed, "malformed resource name");
  }
  if (type == "repository") {
    if (auto st = tuf::validate_gun(name); !st) {
      return make_error(Reason::kMalformed, "resource name is not a valid GUN");
    }
  }
  ResourceScope scope{std::string(type), std::string(name), {}};
  std::string_view rest = actions;
  while (true) {
    const std::size_t comma = rest.find(',');
    const std::string_view action = rest.substr(0, comma);
    if (!action.empty()) {
      const bool word = std::all_of(action.begin(), action.end(),
                                    [](char c) { return c >= 'a' && c <= 'z'; });
      if (!word && action != "*") return make_error(Reason::kMalformed, "malformed action");
      if (std::find(scope.actions.begin(), scope.actions.end(), action) == scope.actions.end()) {
        scope.actions.emplace_back(action);
      }
    }
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  return scope;
}

std::vector<std::string> allowed_actions(Permission permission) {
  switch (permission) {
    case Permission::kNone: return {};
    case Permission::kRead: return {"pull"};
    case Permission::kReadWrite: return {"pull", "push"};
    case Permission::kAdmin: return {"pull", "push", "*"};
  }
  return {};
}

struct TokenService::Impl {
  Impl(accounts::AccessDecider& d, keys::Signer& s, keys::PublicKey k, TokenServiceOptions o,
       const Clock& c)
      : decider(d), signer(s), key(std::move(k)), options(std::move(o)), clock(c),
        kid(libtrust_key_id(key.spki_der())), logger(log::get("auth")) {
    if (options.metrics) {
      auto& family = prometheus::BuildCounter()
                         .Name("vouch_server_token_requests_total")
                         .Help("Answers of the built-in token service (/auth/token), by outcome")
                         .Register(*options.metrics);
      for (std::size_t i = 0; i < kOutcomes.size(); ++i) {
        outcomes[i] = &family.Add({{"outcome", kOutcomes[i]}});
      }
    }
  }

  // Indexes of outcomes.
  static constexpr std::array<const char*, 5> kOutcomes = {"issued", "bad_request",
                                                           "unauthorized", "throttled", "error"};
  std::array<prometheus::Counter*, 5> outcomes{};
  void count(unsigned status) const {
    const std::size_t i = status == 200 ? 0 : status == 401 ? 2 : status == 429 ? 3
                          : status >= 500 ? 4 : 1;
    if (outcomes[i] != nullptr) outcomes[i]->Increment();
  }

  accounts::AccessDecider& decider;
  keys::Signer& signer;
  const keys::PublicKey key;
  const TokenServiceOptions options;
  const Clock& clock;
  const std::string kid;
  std::shared_ptr<spdlog::logger> logger;

  net::Response handle(const net::Request& request);
  std::variant<net::Response, Refusal> serve(const net::Request& request, bool post,
                                             std::string& who, TokenEvent& event);
  net::Response refusal_answer(const Refusal& r) const;
  Refusal auth_refusal(const Error& e, std::string_view what) const;
  Result<std::string> sign_token(const Principal& principal,
                                 const std::vector<ResourceScope>& granted, TimePoint now);
  Result<std::vector<ResourceScope>> grant(const Principal& principal,
                                           const std::vector<ResourceScope>& asked);
};

net::Response TokenService::Impl::refusal_answer(const Refusal& r) const {
  net::Response resp = error_answer(r.status, r.code, r.message);
  if (r.status == 401) {
    std::string challenge = "Basic realm=\"";
    for (const char c : options.realm) {
      if (c == '"' || c == '\\') challenge += '\\';
      challenge += c;
    }
    challenge += '"';
    resp.headers.set("WWW-Authenticate", std::move(challenge));
  } else if (r.status == 429) {
    resp.headers.set("Retry-After", std::to_string(options.throttle_retry_after.count()));
  }
  return resp;
}

// Maps a decider failure. The caller's failures all read the same; ours are logged.
Refusal TokenService::Impl::auth_refusal(const Error& e, std::string_view what) const {
  if (e.code == Code::kUnauthenticated) {
    return {401, "UNAUTHORIZED", "authentication required"};
  }
  if (e.code == Code::kResourceExhausted) {
    return {429, "TOOMANYREQUESTS", "too many failed attempts; retry later"};
  }
  logger->error("token service: {}: {} ({})", what, e.message, to_string(e.reason));
  if (e.code == Code::kUnavailable) return {503, "UNAVAILABLE", "service unavailable"};
  return {500, "UNKNOWN", "internal error"};
}

Result<std::vector<ResourceScope>> TokenService::Impl::grant(
    const Principal& principal, const std::vector<ResourceScope>& asked) {
  std::vector<ResourceScope> out;
  for (const ResourceScope& s : asked) {
    // Merge entries for the same resource.
    auto it = std::find_if(out.begin(), out.end(), [&](const ResourceScope& g) {
      return g.type == s.type && g.name == s.name;
    });
    if (it == out.end()) {
      out.push_back({s.type, s.name, {}});
      it = out.end() - 1;
    }
    std::vector<std::string> allowed;
    if (s.type == "repository") {
      VOUCH_ASSIGN_OR_RETURN(const Permission p, decider.permission(principal, s.name));
      allowed = allowed_actions(p);
    } else if (s.type == "registry" && s.name == "catalog" && principal.admin &&
               principal.kind == Principal::Kind::kUser) {
      allowed = {"*"};
    }
    for (const std::string& a : s.actions) {
      const bool ok = std::find(allowed.begin(), allowed.end(), a) != allowed.end();
      if (ok && std::find(it->actions.begin(), it->actions.end(), a) == it->actions.end()) {
        it->actions.push_back(a);
      }
    }
  }
  return out;
}

Result<std::string> TokenService::Impl::sign_token(const Principal& principal,
                                                   const std::vector<ResourceScope>& granted,
                                                   TimePoint now) {
  const std::int64_t iat =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  json::Object header;
  header.set("alg", "ES256");
  header.set("kid", kid);
  header.set("typ", "JWT");
  json::Array access;
  for (const ResourceScope& g : granted) {
    json::Object entry;
    entry.set("type", g.type);
    entry.set("name", g.name);
    json::Array actions;
    for (const auto& a : g.actions) actions.emplace_back(a);
    entry.set("actions", std::move(actions));
    access.emplace_back(std::move(entry));
  }
  const std::string jti = random_jti();
  if (jti.empty()) return make_error(Code::kInternal, Reason::kInternal, "no random bytes");
  json::Object claims;
  claims.set("access", std::move(access));
  claims.set("aud", options.service);
  claims.set("exp", iat + options.lifetime.count());
  claims.set("iat", iat);
  claims.set("iss", options.issuer);
  claims.set("jti", jti);
  claims.set("nbf", iat);
  claims.set("sub", principal.name);
  std::string token = base64url_encode(as_bytes(json::canonical(header))) + "." +
                      base64url_encode(as_bytes(json::canonical(claims)));
  VOUCH_ASSIGN_OR_RETURN(const keys::Signature sig, signer.sign(key, as_bytes(token)));
  // RFC 7518 §3.4: ES256 is the raw r || s, 32 bytes each, which is also TUF's ecdsa form.
  if (sig.method != keys::SigMethod::kEcdsa || sig.bytes.size() != 64) {
    return make_error(Code::kInternal, Reason::kInternal, "token key did not sign with ES256");
  }
  token += '.';
  token += base64url_encode(sig.bytes);
  return token;
}

std::variant<net::Response, Refusal> TokenService::Impl::serve(const net::Request& request,
                                                               bool post, std::string& who,
                                                               TokenEvent& event) {
  // The parameters: the query of a GET, the form body of a POST.
  std::string_view text;
  if (post) {
    const std::string_view type = request.headers.get_or("Content-Type", "");
    const std::string_view media = type.substr(0, type.find(';'));
    if (!net::iequals(media, "application/x-www-form-urlencoded")) {
      return bad_request("the body must be application/x-www-form-urlencoded");
    }
    if (request.body.size() > options.max_form_bytes) return bad_request("form too large");
    text = request.body;
  } else {
    if (request.query().size() > options.max_query_bytes) return bad_request("query too large");
    text = request.query();
  }
  auto parsed = parse_form(text, options);
  if (auto* r = std::get_if<Refusal>(&parsed)) return std::move(*r);
  Form form = std::move(std::get<Form>(parsed));

  if (form.has("service") && form.get("service") != options.service) {
    return bad_request("unknown service");
  }
  std::vector<ResourceScope> asked;
  asked.reserve(form.scopes.size());
  for (const auto& s : form.scopes) {
    auto scope = parse_scope(s, options.max_scope_bytes);
    if (!scope) {
      return bad_request(scope.error().reason == Reason::kTooLarge
                             ? "scope too long (at most " +
                                   std::to_string(options.max_scope_bytes) + " bytes)"
                             : "malformed scope: " + scope.error().message);
    }
    asked.push_back(std::move(*scope));
  }
  // RFC 6749 A.1: client_id is printable ASCII; it is stored with a refresh token.
  const std::string_view client_id = form.get("client_id");
  if (client_id.size() > 64 || !std::all_of(client_id.begin(), client_id.end(), [](char c) {
        return c >= 0x20 && c < 0x7f;
      })) {
    return bad_request("malformed client_id");
  }

  // Who is asking.
  Principal principal;
  bool offline = false;
  std::optional<keys::SecretString> refresh;  // the refresh token to answer with
  const std::string_view source = request.remote_address;
  if (!post) {
    const std::size_t headers = request.headers.count("Authorization");
    if (headers > 1) return bad_request("more than one Authorization header");
    if (headers == 1) {
      const std::string_view value = *request.headers.get("Authorization");
      if (value.size() > options.max_authorization_bytes) {
        return bad_request("Authorization header too large");
      }
      auto basic = parse_basic_credentials(value);
      if (!basic) return bad_request("Authorization must be Basic credentials");
      who = basic->name.substr(0, 64);
      auto p = decider.authenticate(basic->name, basic->secret, source);
      if (!p) return auth_refusal(p.error(), "authenticate");
      principal = std::move(*p);
    }
    offline = form.get("offline_token") == "true";
  } else {
    const std::string_view grant_type = form.get("grant_type");
    if (grant_type == "password") {
      const std::string name(form.get("username"));
      keys::SecretString password = form.take_secret("password");
      if (name.empty() || password.empty()) {
        return bad_request("grant_type password needs username and password");
      }
      if (!is_printable_ascii(name)) return bad_request("malformed username");
      who = name.substr(0, 64);
      auto p = decider.authenticate(name, password, source);
      if (!p) return auth_refusal(p.error(), "authenticate");
      principal = std::move(*p);
      offline = form.get("access_type") == "offline";
    } else if (grant_type == "refresh_token") {
      keys::SecretString token = form.take_secret("refresh_token");
      if (token.empty()) return bad_request("grant_type refresh_token needs refresh_token");
      auto p = decider.authenticate_refresh_token(token, source);
      if (!p) return auth_refusal(p.error(), "refresh token");
      principal = std::move(*p);
      who = principal.name;
      // oauth.md: a refresh grant answers with the same refresh token, never a new one.
      refresh = std::move(token);
    } else {
      return bad_request("grant_type must be password or refresh_token");
    }
  }
  if (principal.kind != Principal::Kind::kAnonymous) who = principal.name;

  auto granted = grant(principal, asked);
  if (!granted) return auth_refusal(granted.error(), "permission");
  const TimePoint now = clock.now();
  auto token = sign_token(principal, *granted, now);
  if (!token) return auth_refusal(token.error(), "sign token");
  if (offline && !refresh && principal.kind != Principal::Kind::kAnonymous) {
    auto issued =
        decider.issue_refresh_token(principal, client_id.empty() ? "unknown" : client_id);
    if (!issued) return auth_refusal(issued.error(), "issue refresh token");
    refresh = std::move(*issued);
  }

  const std::string issued_at =
      format_rfc3339(std::chrono::time_point_cast<std::chrono::seconds>(now));
  // Members in key order (as the answer has always been written).
  bj::object body;
  body["access_token"] = *token;
  body["expires_in"] = static_cast<std::int64_t>(options.lifetime.count());
  body["issued_at"] = issued_at;
  // The refresh token goes into the answer's body and nowhere else.
  if (refresh) body["refresh_token"] = refresh->view();
  if (post) {
    body["scope"] = scope_text(*granted);
  } else {
    body["token"] = *token;
  }
  net::Response r = net::Response::text(200, bj::serialize(body), "application/json");
  r.headers.set("Cache-Control", "no-store");
  r.headers.set("Pragma", "no-cache");
  std::size_t granted_actions = 0;
  for (const auto& g : *granted) granted_actions += g.actions.size();
  event.issued = principal.kind != Principal::Kind::kAnonymous;
  if (event.issued) {
    event.principal = principal;
    event.scope = scope_text(*granted);
  }
  logger->info("token issued to {} ({} scope(s) asked, {} action(s) granted{})",
               who.empty() ? "anonymous" : who, asked.size(), granted_actions,
               refresh ? ", with refresh token" : "");
  return r;
}

net::Response TokenService::Impl::handle(const net::Request& request) {
  std::string who;
  try {
    const bool post = request.method == "POST";
    if (!post && request.method != "GET") {
      count(405);
      net::Response r = error_answer(405, "UNSUPPORTED", "use GET or POST");
      r.headers.set("Allow", "GET, POST");
      return r;
    }
    TokenEvent event;
    event.source = request.remote_address;
    auto out = serve(request, post, who, event);
    if (auto* r = std::get_if<net::Response>(&out)) {
      count(r->status);
      if (event.issued && options.on_event) options.on_event(event);
      return std::move(*r);
    }
    const Refusal& refusal = std::get<Refusal>(out);
    count(refusal.status);
    if ((refusal.status == 401 || refusal.status == 429) && options.on_event) {
      event.issued = false;
      event.name_tried = who.substr(0, 64);
      event.reason = refusal.status == 401 ? "bad credentials" : "throttled";
      options.on_event(event);
    }
    logger->info("token refused to {} from {}: {} {}", who.empty() ? "anonymous" : who,
                 request.remote_address, refusal.status, refusal.message);
    return refusal_answer(refusal);
  } catch (const std::exception& e) {
    logger->error("token service: {}", e.what());
    count(500);
    return error_answer(500, "UNKNOWN", "internal error");
  }
}

TokenService::TokenService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TokenService::~TokenService() = default;

Result<std::unique_ptr<TokenService>> TokenService::create(accounts::AccessDecider& decider,
                                                           keys::Signer& signer,
                                                           keys::PublicKey key,
                                                           TokenServiceOptions options,
                                                           const Clock& clock) {
  const std::pair<const char*, const std::string*> required[] = {
      {"issuer", &options.issuer}, {"service", &options.service}, {"realm", &options.realm}};
  for (const auto& [name, value] : required) {
    if (value->empty()) {
      return make_error(Code::kInvalidArgument, Reason::kMalformed,
                        std::string("token service: ") + name + " is required");
    }
  }
  if (options.lifetime < std::chrono::seconds(60) || options.lifetime > std::chrono::hours(24)) {
    return make_error(Code::kInvalidArgument, Reason::kMalformed,
                      "token service: the token lifetime must be 60 s .. 24 h");
  }
  if (key.type() != keys::KeyType::kEcdsa) {
    return make_error(Reason::kUnsupportedAlgorithm,
                      "token service: the signing key must be ecdsa (ES256)");
  }
  return std::unique_ptr<TokenService>(new TokenService(
      std::make_unique<Impl>(decider, signer, std::move(key), std::move(options), clock)));
}

net::Response TokenService::handle(const net::Request& request) { return impl_->handle(request); }

bool TokenService::is_token_request(const net::Request& request) {
  return request.path() == kPath;
}

net::Handler route_token_requests(TokenService& service, WorkQueue& workers, net::Handler next) {
  // Password checks are slow on purpose (Argon2id) and the signer may be remote.
  return net::route_to_workers(
      TokenService::is_token_request,
      [&service](net::Request& request) { return service.handle(request); }, workers,
      [] {
        net::Response busy = error_answer(503, "UNAVAILABLE", "service unavailable");
        busy.headers.set("Retry-After", "1");
        return busy;
      },
      std::move(next));
}

std::size_t TokenService::max_body_bytes() const { return impl_->options.max_form_bytes; }
const std::string& TokenService::key_id() const { return impl_->kid; }
const keys::PublicKey& TokenService::key() const { return impl_->key; }

Result<keys::PublicKey> load_or_create_token_key(keys::Signer& signer,
                                                 const std::filesystem::path& state_file) {
  std::error_code ec;
  if (std::filesystem::exists(state_file, ec)) {
    std::string text;
    {
      std::FILE* f = std::fopen(state_file.c_str(), "rb");
      if (f == nullptr) {
        return make_error(Code::kFailedPrecondition, Reason::kIo,
                          "cannot read " + state_file.string());
      }
      char buf[4096];
      const std::size_t n = std::fread(buf, 1, sizeof buf, f);
      std::fclose(f);
      text.assign(buf, n);
    }
    bj::parse_options limits;
    limits.max_depth = 4;
    bj::error_code parse_error;
    const bj::value doc = bj::parse(text, parse_error, {}, limits);
    const bj::object* object = parse_error ? nullptr : doc.if_object();
    const bj::value* member = object != nullptr ? object->if_contains("key_id") : nullptr;
    if (member == nullptr || !member->is_string()) {
      return make_error(Code::kFailedPrecondition, Reason::kMalformed,
                        state_file.string() + " is not {\"key_id\": \"...\"}");
    }
    const std::string id(member->get_string());
    auto key = signer.public_key(id);
    if (!key) {
      Error e = std::move(key).error();
      e.message = "the token key " + id.substr(0, 16) + " named by " +
                  state_file.string() + ": " + e.message;
      return e;
    }
    return key;
  }
  VOUCH_ASSIGN_OR_RETURN(keys::PublicKey key,
                         signer.create_key("", "token-service", keys::KeyType::kEcdsa));
  std::filesystem::create_directories(state_file.parent_path(), ec);
  if (ec) {
    return make_error(Code::kFailedPrecondition, Reason::kIo,
                      "cannot create " + state_file.parent_path().string() + ": " + ec.message());
  }
  const bj::object doc{{"key_id", key.id()}};
  VOUCH_RETURN_IF_ERROR(write_file_atomic(state_file, bj::serialize(doc) + "\n", Replace::kNo));
  return key;
}

TokenAuthOptions token_auth_options_for(const TokenService& service,
                                        const TokenServiceOptions& options, std::string realm) {
  TokenAuthOptions o;
  o.realm = std::move(realm);
  o.service = options.service;
  o.issuer = options.issuer;
  o.trusted_keys.push_back(service.key().spki_der());
  return o;
}

}  // namespace vouch::server
