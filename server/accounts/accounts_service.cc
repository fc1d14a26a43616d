#include "server/accounts/accounts_service.h"

#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <mutex>
#include <utility>

#include "keys/key_registration.h"
#include "keys/pem.h"
#include "keys/x509.h"
#include "server/accounts/api_tokens.h"
#include "server/accounts/names.h"

namespace vouch::server::accounts {
namespace json = boost::json;

namespace {

// ---------------------------------------------------------------------------------------------
// Keys (README "Storage layout"). '\x1f' separates parts that may themselves contain '/'
// (service-account names, GUNs); names, GUNs and targets never contain control characters.

constexpr char kSep = '\x1f';

std::string cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view p : parts) out.append(p);
  return out;
}
std::string org_member_key(std::string_view org, std::string_view user) {
  return cat({"o/", org, "/", user});
}
std::string user_org_key(std::string_view user, std::string_view org) {
  return cat({"u/", user, "/", org});
}
std::string team_key(std::string_view org, std::string_view team) { return cat({org, "/", team}); }
std::string team_member_key(std::string_view org, std::string_view team, std::string_view user) {
  return cat({"t/", org, "/", team, "/", user});
}
std::string user_team_key(std::string_view user, std::string_view org, std::string_view team) {
  return cat({"u/", user, "/", org, "/", team});
}
std::string token_key(std::string_view id) { return cat({"i/", id}); }
std::string owner_token_prefix(std::string_view owner) { return cat({"o/", owner, {&kSep, 1}}); }
std::string grant_target_prefix(std::string_view target) {
  return cat({"g", {&kSep, 1}, target, {&kSep, 1}});
}
std::string grant_key(const Grant& g) {
  return grant_target_prefix(g.target) +
         cat({to_string(g.subject.kind), {&kSep, 1}, g.subject.name});
}
std::string subject_prefix(const GrantSubject& s) {
  return cat({"s", {&kSep, 1}, to_string(s.kind), {&kSep, 1}, s.name, {&kSep, 1}});
}

// ---------------------------------------------------------------------------------------------
// Errors.

Error denied(std::string message) {
  return make_error(Code::kPermissionDenied, Reason::kPermissionDenied, std::move(message));
}
Error bad_credentials() {
  return make_error(Code::kUnauthenticated, Reason::kBadCredentials, "bad credentials");
}
Error not_found(std::string what) {
  return make_error(Code::kNotFound, Reason::kNotFound, std::move(what) + " not found");
}
Error unknown_subject(std::string what) {
  return make_error(Code::kInvalidArgument, Reason::kNotFound, std::move(what) + " does not exist");
}
Error taken(std::string what) {
  return make_error(Code::kAlreadyExists, Reason::kConflict, std::move(what) + " exists already");
}
Error corrupt(std::string_view what) {
  return make_error(Code::kDataLoss, Reason::kInternal,
                    "accounts store: corrupt " + std::string(what) + " record");
}

// ---------------------------------------------------------------------------------------------
// Codec: records are JSON objects. Decoding failures are kDataLoss (the store holds what this
// codec wrote; anything else is corruption).

std::int64_t micros(TimePoint t) { return t.time_since_epoch().count(); }
TimePoint from_micros(std::int64_t m) { return TimePoint(std::chrono::microseconds(m)); }

Result<json::object> decode(const std::string& bytes, std::string_view what) {
  boost::system::error_code ec;
  json::value v = json::parse(bytes, ec);
  if (ec || !v.is_object()) return corrupt(what);
  return std::move(v.as_object());
}

bool get_bool(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_bool() && v->as_bool();
}
std::string get_string(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}
std::optional<std::int64_t> get_int(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_int64()) return std::nullopt;
  return v->as_int64();
}

struct UserRecord {
  std::string password;  // empty for a directory user
  bool admin = false;
  bool disabled = false;
  TimePoint created;
  bool directory = false;  // signs in through the Directory (set_directory)
};

std::string encode_user(const UserRecord& u) {
  json::object o;
  o["password"] = u.password;
  o["admin"] = u.admin;
  o["disabled"] = u.disabled;
  o["created"] = micros(u.created);
  if (u.directory) o["directory"] = true;
  return json::serialize(o);
}

Result<std::optional<UserRecord>> load_user(AccountReader& r, std::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes) return std::optional<UserRecord>();
  VOUCH_ASSIGN_OR_RETURN(auto bytes, r.get(Table::kUsers, name));
  if (!bytes) return std::optional<UserRecord>();
  VOUCH_ASSIGN_OR_RETURN(json::object o, decode(*bytes, "user"));
  UserRecord u;
  u.password = get_string(o, "password");
  u.admin = get_bool(o, "admin");
  u.disabled = get_bool(o, "disabled");
  u.created = from_micros(get_int(o, "created").value_or(0));
  u.directory = get_bool(o, "directory");
  return std::optional<UserRecord>(std::move(u));
}

struct TokenRecord {
  std::string hash;
  TokenInfo info;
};

std::string encode_token(const TokenRecord& t) {
  json::object o;
  o["hash"] = t.hash;
  o["owner"] = t.info.owner;
  o["owner_kind"] =
      t.info.owner_kind == Principal::Kind::kServiceAccount ? "service-account" : "user";
  o["refresh"] = t.info.refresh;
  o["description"] = t.info.description;
  o["created"] = micros(t.info.created);
  o["expires"] = micros(t.info.expires);
  if (t.info.last_used) o["last_used"] = micros(*t.info.last_used);
  if (t.info.scope) {
    json::array patterns;
    for (const std::string& p : t.info.scope->patterns) patterns.emplace_back(p);
    json::object scope;
    scope["patterns"] = std::move(patterns);
    scope["max"] = to_string(t.info.scope->max_permission);
    o["scope"] = std::move(scope);
  }
  return json::serialize(o);
}

Result<std::optional<TokenRecord>> load_token(AccountReader& r, std::string_view id) {
  if (id.size() != kApiTokenIdChars) return std::optional<TokenRecord>();
  VOUCH_ASSIGN_OR_RETURN(auto bytes, r.get(Table::kTokens, token_key(id)));
  if (!bytes) return std::optional<TokenRecord>();
  VOUCH_ASSIGN_OR_RETURN(json::object o, decode(*bytes, "token"));
  TokenRecord t;
  t.hash = get_string(o, "hash");
  t.info.id = std::string(id);
  t.info.owner = get_string(o, "owner");
  t.info.owner_kind = get_string(o, "owner_kind") == "service-account"
                          ? Principal::Kind::kServiceAccount
                          : Principal::Kind::kUser;
  t.info.refresh = get_bool(o, "refresh");
  t.info.description = get_string(o, "description");
  auto created = get_int(o, "created");
  auto expires = get_int(o, "expires");
  if (!created || !expires || t.hash.empty() || t.info.owner.empty()) return corrupt("token");
  t.info.created = from_micros(*created);
  t.info.expires = from_micros(*expires);
  if (auto used = get_int(o, "last_used")) t.info.last_used = from_micros(*used);
  if (const json::value* s = o.if_contains("scope"); s != nullptr && s->is_object()) {
    ScopeLimit scope;
    auto max = parse_permission(get_string(s->as_object(), "max"));
    if (!max) return corrupt("token");
    scope.max_permission = *max;
    if (const json::value* p = s->as_object().if_contains("patterns"); p && p->is_array()) {
      for (const json::value& e : p->as_array()) {
        if (!e.is_string()) return corrupt("token");
        scope.patterns.emplace_back(e.as_string());
      }
    }
    t.info.scope = std::move(scope);
  }
  return std::optional<TokenRecord>(std::move(t));
}

std::string encode_permission(Permission p) {
  json::object o;
  o["permission"] = to_string(p);
  return json::serialize(o);
}

// ---------------------------------------------------------------------------------------------
// Scans.

// Every record under `prefix`, in pages (admin operations that clean up or count).
Status scan_all(AccountReader& r, Table table, std::string_view prefix,
                const std::function<Status(const Record&)>& fn) {
  std::string after;
  for (;;) {
    VOUCH_ASSIGN_OR_RETURN(auto page, r.scan(table, prefix, after, kMaxScanLimit));
    for (const Record& rec : page) VOUCH_RETURN_IF_ERROR(fn(rec));
    if (page.size() < kMaxScanLimit) return ok_status();
    after = page.back().key;
  }
}

// One page of records under `prefix`, with the request's start_after taken relative to it.
// Returns the records with `prefix` stripped from their keys, and sets `next`.
Result<std::vector<Record>> scan_page(AccountReader& r, Table table, const std::string& prefix,
                                      const PageRequest& page, std::string& next) {
  VOUCH_ASSIGN_OR_RETURN(std::size_t limit, check_scan_limit(page.limit));
  std::string after = page.start_after.empty() ? std::string() : prefix + page.start_after;
  VOUCH_ASSIGN_OR_RETURN(auto records, r.scan(table, prefix, after, limit));
  for (Record& rec : records) rec.key.erase(0, prefix.size());
  next = records.size() == limit ? records.back().key : std::string();
  return records;
}

// Appends every grant whose target is exactly `target`.
Status read_grants(AccountReader& r, std::string_view target, std::vector<Grant>& out) {
  const std::string prefix = grant_target_prefix(target);
  return scan_all(r, Table::kGrants, prefix, [&](const Record& rec) -> Status {
    std::string_view rest(rec.key);
    rest.remove_prefix(prefix.size());
    std::size_t sep = rest.find(kSep);
    if (sep == std::string_view::npos) return corrupt("grant");
    auto kind = parse_grant_subject_kind(rest.substr(0, sep));
    VOUCH_ASSIGN_OR_RETURN(json::object o, decode(rec.value, "grant"));
    auto p = parse_permission(get_string(o, "permission"));
    if (!kind || !p) return corrupt("grant");
    out.push_back({{*kind, std::string(rest.substr(sep + 1))}, std::string(target), *p});
    return ok_status();
  });
}

// Enabled system admins, counted (the last one may not go).
Result<std::size_t> count_enabled_admins(AccountReader& r) {
  std::size_t n = 0;
  VOUCH_RETURN_IF_ERROR(scan_all(r, Table::kUsers, "", [&](const Record& rec) -> Status {
    VOUCH_ASSIGN_OR_RETURN(json::object o, decode(rec.value, "user"));
    if (get_bool(o, "admin") && !get_bool(o, "disabled")) ++n;
    return ok_status();
  }));
  return n;
}

Status refuse_last_admin(AccountReader& r, const UserRecord& target) {
  if (!target.admin || target.disabled) return ok_status();
  VOUCH_ASSIGN_OR_RETURN(std::size_t admins, count_enabled_admins(r));
  if (admins <= 1) {
    return make_error(Code::kFailedPrecondition, Reason::kConflict,
                      "the last enabled system administrator cannot be removed");
  }
  return ok_status();
}

// Removes every grant to `subject` (both index entries).
Status erase_grants_of(AccountWriter& w, const GrantSubject& subject) {
  std::vector<std::string> targets;
  const std::string prefix = subject_prefix(subject);
  VOUCH_RETURN_IF_ERROR(scan_all(w, Table::kGrants, prefix, [&](const Record& rec) -> Status {
    targets.push_back(rec.key.substr(prefix.size()));
    return ok_status();
  }));
  for (const std::string& t : targets) {
    VOUCH_RETURN_IF_ERROR(w.erase(Table::kGrants, prefix + t));
    VOUCH_RETURN_IF_ERROR(w.erase(Table::kGrants, grant_key({subject, t, Permission::kNone})));
  }
  return ok_status();
}

Status erase_tokens_of(AccountWriter& w, std::string_view owner) {
  std::vector<std::string> ids;
  const std::string prefix = owner_token_prefix(owner);
  VOUCH_RETURN_IF_ERROR(scan_all(w, Table::kTokens, prefix, [&](const Record& rec) -> Status {
    ids.push_back(rec.key.substr(prefix.size()));
    return ok_status();
  }));
  for (const std::string& id : ids) {
    VOUCH_RETURN_IF_ERROR(w.erase(Table::kTokens, prefix + id));
    VOUCH_RETURN_IF_ERROR(w.erase(Table::kTokens, token_key(id)));
  }
  return ok_status();
}

// Members' signing keys: "k/<key_id>" the record, "c/<canonical_id>" -> key_id (one key, one
// registration, whatever its form), "o/<owner>\x1f<key_id>" the owner's index.
std::string member_key_key(std::string_view id) { return cat({"k/", id}); }
std::string member_key_canonical_key(std::string_view id) { return cat({"c/", id}); }
std::string owner_member_key_prefix(std::string_view owner) {
  return cat({"o/", owner, {&kSep, 1}});
}

// Removes every key registered to `owner` (all three entries of each).
Status erase_member_keys_of(AccountWriter& w, std::string_view owner) {
  std::vector<std::string> ids;
  const std::string prefix = owner_member_key_prefix(owner);
  VOUCH_RETURN_IF_ERROR(scan_all(w, Table::kMemberKeys, prefix, [&](const Record& rec) -> Status {
    ids.push_back(rec.key.substr(prefix.size()));
    return ok_status();
  }));
  for (const std::string& id : ids) {
    VOUCH_ASSIGN_OR_RETURN(auto bytes, w.get(Table::kMemberKeys, member_key_key(id)));
    if (bytes) {
      VOUCH_ASSIGN_OR_RETURN(json::object o, decode(*bytes, "member key"));
      VOUCH_RETURN_IF_ERROR(
          w.erase(Table::kMemberKeys, member_key_canonical_key(get_string(o, "canonical_id"))));
    }
    VOUCH_RETURN_IF_ERROR(w.erase(Table::kMemberKeys, member_key_key(id)));
    VOUCH_RETURN_IF_ERROR(w.erase(Table::kMemberKeys, prefix + id));
  }
  return ok_status();
}

Status erase_team_membership(AccountWriter& w, std::string_view org, std::string_view team,
                             std::string_view user) {
  VOUCH_RETURN_IF_ERROR(w.erase(Table::kTeamMembers, team_member_key(org, team, user)));
  return w.erase(Table::kTeamMembers, user_team_key(user, org, team));
}

// A grant target: a GUN (no control characters, no '*', 1..255 bytes) or "<namespace>/*".
// Returns the namespace for "<namespace>/*", else nullopt.
Result<std::optional<std::string>> check_target(std::string_view target) {
  auto bad = [&] {
    return make_error(Code::kInvalidArgument, Reason::kBadGun,
                      "a grant target is a GUN or <namespace>/*");
  };
  if (target.empty() || target.size() > 255) return bad();
  if (target.ends_with("/*")) {
    std::string_view ns = target.substr(0, target.size() - 2);
    if (!validate_name(ns).ok()) return bad();
    return std::optional<std::string>(std::string(ns));
  }
  for (char c : target) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == '*') return bad();
  }
  if (target.front() == '/' || target.back() == '/') return bad();
  return std::optional<std::string>();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Throttle: failures per source in memory.

class AccountsService::Throttle {
 public:
  explicit Throttle(const AccountsOptions& o) : options_(o) {}

  bool blocked(std::string_view source, TimePoint now) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(source);
    return it != entries_.end() && it->second.blocked_until > now;
  }

  void fail(std::string_view source, TimePoint now) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(source);
    if (it == entries_.end()) {
      if (entries_.size() >= options_.throttle_max_sources) evict(now);
      it = entries_.emplace(std::string(source), Entry{now, 0, TimePoint()}).first;
    }
    Entry& e = it->second;
    if (now - e.window_start >= options_.throttle_window) {
      e.window_start = now;
      e.failures = 0;
    }
    if (++e.failures > options_.throttle_max_failures) {
      e.blocked_until = now + options_.throttle_lockout;
    }
  }

 private:
  struct Entry {
    TimePoint window_start;
    int failures = 0;
    TimePoint blocked_until;
  };

  // Drops every entry that neither blocks nor counts any more; if none, the oldest window.
  void evict(TimePoint now) {
    std::erase_if(entries_, [&](const auto& kv) {
      return kv.second.blocked_until <= now &&
             now - kv.second.window_start >= options_.throttle_window;
    });
    if (entries_.size() < options_.throttle_max_sources || entries_.empty()) return;
    auto oldest = std::min_element(
        entries_.begin(), entries_.end(),
        [](const auto& a, const auto& b) { return a.second.window_start < b.second.window_start; });
    entries_.erase(oldest);
  }

  const AccountsOptions& options_;
  std::mutex mu_;
  std::map<std::string, Entry, std::less<>> entries_;
};

// ---------------------------------------------------------------------------------------------
// Authorization helpers over one transaction.

namespace {

// The acting user's current record, if the actor is an enabled user; kPermissionDenied for an
// anonymous caller or a missing/disabled user.
Result<UserRecord> acting_user(AccountReader& r, const Principal& actor) {
  if (actor.kind == Principal::Kind::kAnonymous) {
    return make_error(Code::kUnauthenticated, Reason::kNoCredentials, "authentication required");
  }
  if (actor.kind != Principal::Kind::kUser) return denied("a user account is required");
  VOUCH_ASSIGN_OR_RETURN(auto user, load_user(r, actor.name));
  if (!user || user->disabled) return denied("account disabled or removed");
  // A token limited to some repositories administers nothing else (else it could mint itself
  // an unlimited token); a revoked token acts no more.
  if (!actor.token_id.empty()) {
    VOUCH_ASSIGN_OR_RETURN(auto token, load_token(r, actor.token_id));
    if (!token || token->info.owner != actor.name) return denied("token revoked");
    if (token->info.scope) return denied("a token with a scope limit cannot administer accounts");
  }
  return std::move(*user);
}

Status require_system_admin(AccountReader& r, const Principal& actor) {
  VOUCH_ASSIGN_OR_RETURN(UserRecord u, acting_user(r, actor));
  if (!u.admin) return denied("system administrators only");
  return ok_status();
}

Result<bool> org_exists(AccountReader& r, std::string_view org) {
  if (!validate_name(org).ok()) return false;
  VOUCH_ASSIGN_OR_RETURN(auto rec, r.get(Table::kOrgs, org));
  return rec.has_value();
}

// nullopt: not a member; else the admin flag.
Result<std::optional<bool>> org_membership(AccountReader& r, std::string_view org,
                                           std::string_view user) {
  VOUCH_ASSIGN_OR_RETURN(auto rec, r.get(Table::kOrgMembers, org_member_key(org, user)));
  if (!rec) return std::optional<bool>();
  VOUCH_ASSIGN_OR_RETURN(json::object o, decode(*rec, "org member"));
  return std::optional<bool>(get_bool(o, "admin"));
}

// Org admins and system admins manage an organization (which must exist: kNotFound).
Status require_org_admin(AccountReader& r, const Principal& actor, std::string_view org) {
  VOUCH_ASSIGN_OR_RETURN(UserRecord u, acting_user(r, actor));
  VOUCH_ASSIGN_OR_RETURN(bool exists, org_exists(r, org));
  if (!exists) return not_found("organization " + std::string(org));
  if (u.admin) return ok_status();
  VOUCH_ASSIGN_OR_RETURN(auto m, org_membership(r, org, actor.name));
  if (!m || !*m) return denied("organization admins only");
  return ok_status();
}

Status require_org_member(AccountReader& r, const Principal& actor, std::string_view org) {
  VOUCH_ASSIGN_OR_RETURN(UserRecord u, acting_user(r, actor));
  VOUCH_ASSIGN_OR_RETURN(bool exists, org_exists(r, org));
  if (!exists) return not_found("organization " + std::string(org));
  if (u.admin) return ok_status();
  VOUCH_ASSIGN_OR_RETURN(auto m, org_membership(r, org, actor.name));
  if (!m) return denied("organization members only");
  return ok_status();
}

// The owner of service accounts and tokens: the user themself, an org's admins, system admins.
// `owner` must exist (kInvalidArgument / kNotFound otherwise).
Status require_owner_admin(AccountReader& r, const Principal& actor, std::string_view owner) {
  VOUCH_ASSIGN_OR_RETURN(UserRecord u, acting_user(r, actor));
  VOUCH_ASSIGN_OR_RETURN(auto owner_user, load_user(r, owner));
  VOUCH_ASSIGN_OR_RETURN(bool owner_org, org_exists(r, owner));
  if (!owner_user && !owner_org) return unknown_subject("owner " + std::string(owner));
  if (u.admin) return ok_status();
  if (owner_user && actor.name == owner) return ok_status();
  if (owner_org) {
    VOUCH_ASSIGN_OR_RETURN(auto m, org_membership(r, owner, actor.name));
    if (m && *m) return ok_status();
  }
  return denied("only the owner may do this");
}

}  // namespace

// ---------------------------------------------------------------------------------------------

Result<std::unique_ptr<AccountsService>> AccountsService::create(AccountStore& store,
                                                                 const Clock& clock,
                                                                 AccountsOptions options) {
  VOUCH_ASSIGN_OR_RETURN(std::string dummy, make_dummy_password_hash(options.password_hash));
  return std::unique_ptr<AccountsService>(
      new AccountsService(store, clock, std::move(options), std::move(dummy)));
}

AccountsService::AccountsService(AccountStore& store, const Clock& clock, AccountsOptions options,
                                 std::string dummy_hash)
    : store_(store),
      clock_(clock),
      options_(std::move(options)),
      dummy_hash_(std::move(dummy_hash)),
      throttle_(std::make_unique<Throttle>(options_)) {}

AccountsService::~AccountsService() = default;

void AccountsService::notify(const Principal& actor, std::string action, std::string target,
                             std::string detail) {
  if (on_change_) on_change_({actor.name, std::move(action), std::move(target), std::move(detail)});
}

Status AccountsService::throttle_check(std::string_view source) {
  if (throttle_->blocked(source, clock_.now())) {
    return make_error(Code::kResourceExhausted, Reason::kThrottled,
                      "too many failed attempts; try again later");
  }
  return ok_status();
}

Error AccountsService::fail_auth(std::string_view source) {
  throttle_->fail(source, clock_.now());
  return bad_credentials();
}

// --- AccessDecider ---------------------------------------------------------------------------

Result<Principal> AccountsService::authenticate(std::string_view name,
                                                const keys::SecretString& secret,
                                                std::string_view source) {
  VOUCH_RETURN_IF_ERROR(throttle_check(source));
  // No account has an empty password; and a directory would take one for an anonymous bind.
  if (secret.empty()) return fail_auth(source);
  if (looks_like_api_token(secret.view())) {
    auto p = authenticate_token(name, secret.view(), /*refresh=*/false);
    if (!p && p.error().code == Code::kUnauthenticated) return fail_auth(source);
    return p;
  }
  std::optional<UserRecord> user;
  Status st = store_.read([&](AccountReader& r) -> Status {
    VOUCH_ASSIGN_OR_RETURN(user, load_user(r, name));
    return ok_status();
  });
  if (!st.ok()) return std::move(st).error();
  if (directory_ != nullptr && (!user || user->password.empty())) {
    return authenticate_in_directory(name, secret, source, user.has_value());
  }
  // Unknown names are checked against the dummy hash: the same work either way.
  bool match = verify_password(secret, user ? user->password : dummy_hash_);
  if (!user || !match || user->disabled) return fail_auth(source);
  return Principal{Principal::Kind::kUser, std::string(name), user->admin, ""};
}

Result<Principal> AccountsService::authenticate_token(std::string_view name, std::string_view text,
                                                      std::optional<bool> refresh) {
  auto parsed = parse_api_token(text);
  if (!parsed) return bad_credentials();
  std::optional<TokenRecord> token;
  std::optional<UserRecord> owner_user;
  bool owner_ok = false;
  Status st = store_.read([&](AccountReader& r) -> Status {
    VOUCH_ASSIGN_OR_RETURN(token, load_token(r, parsed->id));
    if (!token) return ok_status();
    if (token->info.owner_kind == Principal::Kind::kUser) {
      VOUCH_ASSIGN_OR_RETURN(owner_user, load_user(r, token->info.owner));
      owner_ok = owner_user && !owner_user->disabled;
    } else {
      VOUCH_ASSIGN_OR_RETURN(auto sa, r.get(Table::kServiceAccounts, token->info.owner));
      owner_ok = sa.has_value();
    }
    return ok_status();
  });
  if (!st.ok()) return std::move(st).error();
  // Compared even for an unknown id (against a hash nobody has), for equal work.
  static const std::string kNoHash(64, '0');
  bool match = check_api_token_secret(parsed->secret, token ? token->hash : kNoHash);
  const TimePoint now = clock_.now();
  if (!token || !match || !owner_ok || (refresh && token->info.refresh != *refresh) ||
      now >= token->info.expires || (refresh == false && name != token->info.owner)) {
    return bad_credentials();
  }
  // last_used, at most once per resolution.
  if (!token->info.last_used || now - *token->info.last_used >= options_.last_used_resolution) {
    const std::string id = parsed->id;
    VOUCH_RETURN_IF_ERROR(store_.write([&](AccountWriter& w) -> Status {
      VOUCH_ASSIGN_OR_RETURN(auto current, load_token(w, id));
      if (!current) return ok_status();  // revoked meanwhile: this request still passed
      current->info.last_used = now;
      return w.put(Table::kTokens, token_key(id), encode_token(*current));
    }));
  }
  return Principal{token->info.owner_kind, token->info.owner, owner_user && owner_user->admin,
                   parsed->id};
}

Result<Principal> AccountsService::authenticate_refresh_token(const keys::SecretString& token,
                                                              std::string_view source) {
  VOUCH_RETURN_IF_ERROR(throttle_check(source));
  auto p = authenticate_token("", token.view(), /*refresh=*/true);
  if (!p && p.error().code == Code::kUnauthenticated) return fail_auth(source);
  return p;
}

Result<Principal> AccountsService::authenticate_any_token(const keys::SecretString& token,
                                                          std::string_view source) {
  VOUCH_RETURN_IF_ERROR(throttle_check(source));
  auto p = authenticate_token("", token.view(), std::nullopt);
  if (!p && p.error().code == Code::kUnauthenticated) return fail_auth(source);
  return p;
}

namespace {

// The effective permission from the store's current state (permissions.h has the rule).
// `ns_target`: the caller asks about "<ns>/*" itself (grant administration).
Result<Permission> compute_permission(AccountReader& r, const AccountsOptions& options,
                                      const Principal& principal, std::string_view gun,
                                      TimePoint now, bool ns_target = false) {
  PermissionInputs in;
  in.principal = principal;
  in.gun = std::string(gun);
  if (ns_target) {
    in.ns = std::string(gun.substr(0, gun.size() - 2));
  } else {
    in.ns = gun_namespace(gun, options.repository_host).value_or("");
  }
  // A signed team roster "<host>/_roster/<org>" (issue 15): readable by anyone (it holds public
  // keys, and verifiers fetch it), published only by the org's admins and system admins: it is
  // public, and no grant applies to it.
  const std::optional<std::string> roster_org =
      ns_target ? std::nullopt : roster_organization(gun, options.repository_host);
  if (roster_org) in.ns = *roster_org;
  // The principal as the store knows it now: disabled or removed accounts get nothing, and the
  // admin flag is the current one.
  switch (principal.kind) {
    case Principal::Kind::kAnonymous:
      break;
    case Principal::Kind::kUser: {
      VOUCH_ASSIGN_OR_RETURN(auto user, load_user(r, principal.name));
      if (!user || user->disabled) return Permission::kNone;
      in.principal.admin = user->admin;
      break;
    }
    case Principal::Kind::kServiceAccount: {
      VOUCH_ASSIGN_OR_RETURN(auto sa, r.get(Table::kServiceAccounts, principal.name));
      if (!sa) return Permission::kNone;
      in.principal.admin = false;
      break;
    }
  }
  if (principal.kind != Principal::Kind::kAnonymous && !principal.token_id.empty()) {
    VOUCH_ASSIGN_OR_RETURN(auto token, load_token(r, principal.token_id));
    if (!token || now >= token->info.expires || token->info.owner != principal.name) {
      return Permission::kNone;
    }
    in.scope = token->info.scope;
  }
  if (!in.ns.empty()) {
    VOUCH_ASSIGN_OR_RETURN(auto owner_user, r.get(Table::kUsers, in.ns));
    VOUCH_ASSIGN_OR_RETURN(bool owner_org, org_exists(r, in.ns));
    in.owner = owner_user ? NamespaceOwner::kUser
                          : (owner_org ? NamespaceOwner::kOrganization : NamespaceOwner::kNone);
    if (in.owner == NamespaceOwner::kOrganization && principal.kind == Principal::Kind::kUser) {
      VOUCH_ASSIGN_OR_RETURN(auto m, org_membership(r, in.ns, principal.name));
      in.org_admin = m && *m;
      // Team grants apply only within the team's own organization.
      const std::string prefix = user_org_key(principal.name, in.ns) + "/";
      VOUCH_RETURN_IF_ERROR(
          scan_all(r, Table::kTeamMembers, prefix, [&](const Record& rec) -> Status {
            in.teams.push_back(in.ns + "/" + rec.key.substr(prefix.size()));
            return ok_status();
          }));
    }
  }
  std::vector<std::string> targets = {in.gun};
  if (!in.ns.empty() && !ns_target) targets.push_back(namespace_target(in.ns));
  for (const std::string& target : targets) {
    if (roster_org) break;
    VOUCH_RETURN_IF_ERROR(read_grants(r, target, in.grants));
  }
  in.visibility = roster_org ? Visibility::kPublic : options.default_visibility;
  if (!ns_target && !roster_org) {
    VOUCH_ASSIGN_OR_RETURN(auto repo, r.get(Table::kRepositories, gun));
    if (repo) {
      VOUCH_ASSIGN_OR_RETURN(json::object o, decode(*repo, "repository"));
      in.visibility = parse_visibility(get_string(o, "visibility")).value_or(in.visibility);
    }
  }
  return effective_permission(in);
}

}  // namespace

Result<Permission> AccountsService::permission(const Principal& principal, std::string_view gun) {
  Permission out = Permission::kNone;
  const TimePoint now = clock_.now();
  Status st = store_.read([&](AccountReader& r) -> Status {
    VOUCH_ASSIGN_OR_RETURN(out, compute_permission(r, options_, principal, gun, now));
    return ok_status();
  });
  if (!st.ok()) return std::move(st).error();
  return out;
}

namespace {

// Creates and stores a token record; returns the new token.
Result<NewToken> put_new_token(AccountWriter& w, TokenInfo info) {
  VOUCH_ASSIGN_OR_RETURN(NewApiToken t, generate_api_token());
  info.id = t.id;
  TokenRecord rec{t.secret_sha256_hex, info};
  VOUCH_RETURN_IF_ERROR(w.put(Table::kTokens, token_key(t.id), encode_token(rec)));
  VOUCH_RETURN_IF_ERROR(w.put(Table::kTokens, owner_token_prefix(info.owner) + t.id, ""));
  return NewToken{std::move(info), std::move(t.text)};
}

}  // namespace

Result<keys::SecretString> AccountsService::issue_refresh_token(const Principal& principal,
                                                                std::string_view client_id) {
  if (principal.kind == Principal::Kind::kAnonymous) return bad_credentials();
  if (client_id.size() > 256) {
    return make_error(Code::kInvalidArgument, Reason::kTooLarge, "client id too long");
  }
  const TimePoint now = clock_.now();
  std::optional<NewToken> made;
  Status st = store_.write([&](AccountWriter& w) -> Status {
    TokenInfo info;
    info.owner_kind = principal.kind;
    info.owner = principal.name;
    info.refresh = true;
    info.description = std::string(client_id);
    info.created = now;
    info.expires = now + options_.refresh_token_lifetime;
    if (principal.kind == Principal::Kind::kUser) {
      VOUCH_ASSIGN_OR_RETURN(auto user, load_user(w, principal.name));
      if (!user || user->disabled) return bad_credentials();
    } else {
      VOUCH_ASSIGN_OR_RETURN(auto sa, w.get(Table::kServiceAccounts, principal.name));
      if (!sa) return bad_credentials();
    }
    // A refresh token never carries more than the credential that asked for it.
    if (!principal.token_id.empty()) {
      VOUCH_ASSIGN_OR_RETURN(auto parent, load_token(w, principal.token_id));
      if (!parent || now >= parent->info.expires) return bad_credentials();
      info.scope = parent->info.scope;
      info.expires = std::min(info.expires, parent->info.expires);
    }
    VOUCH_ASSIGN_OR_RETURN(NewToken t, put_new_token(w, std::move(info)));
    made = std::move(t);
    return ok_status();
  });
  if (!st.ok()) return std::move(st).error();
  notify(principal, "token.create", made->info.id, "refresh " + std::string(client_id));
  return std::move(made->text);
}

// --- Users -----------------------------------------------------------------------------------

Result<bool> AccountsService::bootstrap_admin(std::string_view name,
                                              const keys::SecretString& password) {
  VOUCH_RETURN_IF_ERROR(validate_name(name, "user name"));
  VOUCH_RETURN_IF_ERROR(check_password_rules(password));
  VOUCH_ASSIGN_OR_RETURN(std::string hash, hash_password(password, options_.password_hash));
  bool created = false;
  Status st = store_.write([&](AccountWriter& w) -> Status {
    VOUCH_ASSIGN_OR_RETURN(auto any, w.scan(Table::kUsers, "", "", 1));
    if (!any.empty()) return ok_status();
    VOUCH_ASSIGN_OR_RETURN(auto org, w.get(Table::kOrgs, name));
    if (org) return taken("organization " + std::string(name));
    created = true;
    return w.put(Table::kUsers, name, encode_user({hash, true, false, clock_.now()}));
  });
  if (!st.ok()) return std::move(st).error();
  if (created) notify(Principal{}, "user.bootstrap", std::string(name), "admin=true");
  return created;
}

Status AccountsService::create_user(const Principal& actor, std::string_view name,
                                    const keys::SecretString& password, bool admin) {
  VOUCH_RETURN_IF_ERROR(validate_name(name, "user name"));
  VOUCH_RETURN_IF_ERROR(check_password_rules(password));
  // Checked before the (costly) hash, and again in the write.
  VOUCH_RETURN_IF_ERROR(
      store_.read([&](AccountReader& r) { return require_system_admin(r, actor); }));
  VOUCH_ASSIGN_OR_RETURN(std::string hash, hash_password(password, options_.password_hash));
  Status st = store_.write([&](AccountWriter& w) -> Status {
    VOUCH_RETURN_IF_ERROR(require_system_admin(w, actor));
    VOUCH_ASSIGN_OR_RETURN(auto user, w.get(Table::kUsers, name));
    VOUCH_ASSIGN_OR_RETURN(auto org, w.get(Table::kOrgs, name));
    if (user || org) return taken("name " + std::string(name));
    return w.put(Table::kUsers, name, encode_user({hash, admin, false, clock_.now()}));
  });
  if (!st.ok()) return std::move(st).error();
  notify(actor, "user.create", std::string(name), admin ? "admin=true" : "admin=false");
  return ok_status();
}

Status AccountsService::set_user_disabled(const Principal& actor, std::string_view name,
                                          bool disabled) {
  Status st = store_.write([&](AccountWriter& w) -> Status {
    VOUCH_RETURN_IF_ERROR(require_system_admin(w, actor));
    VOUCH_ASSIGN_OR_RETURN(auto user, load_user(w, name));
    if (!user) return not_found("user " + std::string(name));
    if (disabled) VOUCH_RETURN_IF_ERROR(refuse_last_admin(w, *user));
    user->disabled = disabled;
    return w.put(Table::kUsers, name, encode_user(*user));
  });
  if (!st.ok()) return std::move(st).error();
  notify(actor, disabled ? "user.disable" : "user.enable", std::string(name), "");
  return ok_status();
}

Status AccountsService::set_user_admin(const Principal& actor, std::string_view name, bool admin) {
  Status st = store_.write([&](AccountWriter& w) -> Status {
    VOUCH_RETURN_IF_ERROR(require_system_admin(w, actor));
    VOUCH_ASSIGN_OR_RETURN(auto user, load_user(w, name));
    if (!user) return not_found("user " + std::string(name));
    if (!admin) VOUCH_RETURN_IF_ERROR(refuse_last_admin(w, *user));
    user->admin = admin;
    return w.put(Table::kUsers, name, encode_user(*user));
  });
  if (!st.ok()) return std::move(st).error();
  notify(actor, "user.set_admin", std::string(name), admin ? "admin=true" : "admin=false");
  return ok_status();
}

Status AccountsService::set_password(const Principal& actor, std::string_view name,
                                     const keys::SecretString& password) {
  VOUCH_RETURN_IF_ERROR(check_password_rules(password));
  auto allowed = [&](AccountReader& r) -> Status {
    VOUCH_ASSIGN_OR_RETURN(UserRecord me, acting_user(r, actor));
    if (!me.admin && actor.name != name) return denied("only the user or an administrator");
    return ok_status();
  };
  VOUCH_RETURN_IF_ERROR(store_.read(allowed));
  VOUCH_ASSIGN_OR_RETURN(std::string hash, hash_password(password, options_.password_hash));
  Status st = store_.write([&](AccountWriter& w) -> Status {
    VOUCH_RETURN_IF_ERROR(allowed(w));
    VOUCH_ASSIGN_OR_RETURN(auto user, load_user(w, name));
    if (!user) return not_found("user " + std::string(name));
    user->password = hash;
    return w.put(Table::kUsers, name, encode_user(*user));
  });
  if (!st.ok()) return std::move(st).error();
  notify(actor, "user.set_password", std::string(name), "");
  return ok_status();
}

Status AccountsService::delete_user(const Principal& actor, std::string_view name) {
  Status st = store_.write([&](AccountWriter& w) -> Status {
    VOUCH_RETURN_IF_ERROR(require_system_admin(w, actor));
    VOUCH_ASSIGN_OR_RETURN(auto user, load_user(w, name));
    if (!user) return not_found("user " + std::string(name));
    VOUCH_RETURN_IF_ERROR(refuse_last_admin(w, *user));
    // Memberships: "u/<user>/<org>" and "u/<user>/<org>/<team>" index entries.
    const std::string prefix = "u/" + std::string(name) + "/";
    std::vector<std::string> orgs, teams;
    VOUCH_RETURN_IF_ERROR(scan_all(w, Table::kOrgMembers, prefix, [&](const Record& rec) -> Status {
      orgs.push_back(rec.key.substr(prefix.size()));
      return ok_status();
    }));
    VOUCH_RETURN_IF_ERROR(
        scan_all(w, Table::kTeamMembers, prefix, [&](const Record& rec) -> Status {
          teams.push_back(rec.key.substr(prefix.size()));
          return ok_status();
        }));
    for (const std::string& org : orgs) {
      VOUCH_RETURN_IF_ERROR(w.erase(Table::kOrgMembers, org_member_key(org, name)));
      VOUCH_RETURN_IF_ERROR(w.erase(Table::kOrgMembers, user_org_key(name, org)));
    }
    for (const std::string& t : teams) {
      std::size_t slash = t.find('/');
      if (slash == std::string::npos) return corrupt("team member");
      VOUCH_RETURN_IF_ERROR(
          erase_team_membership(w, t.substr(0, slash), t.substr(slash + 1), name));
    }
    VOUCH_RETURN_IF_ERROR(erase_tokens_of(w, name));
    VOUCH_RETURN_IF_ERROR(erase_member_keys_of(w, name));
    VOUCH_RETURN_IF_ERROR(erase_grants_of(w, {GrantSubject::Kind::kUser, std::string(name)}));
    return w.erase(Table::kUsers, name);
  });
  if (!st.ok()) return std::move(st).error();
  notify(actor, "user.delete", std::string(name), "");
  return ok_status();
}

Result<UserInfo> AccountsService::get_user(const Principal& actor, std::string_view name) {
  UserInfo out;
  Status st = store_.read([&](AccountReader& r) -> Status {
    VOUCH_ASSIGN_OR_RETURN(UserRecord me, acting_user(r, actor));
    if (!me.admin && actor.name != name) return denied("only the user or an administrator");
    VOUCH_ASSIGN_OR_RETURN(auto user, load_user(r, name));
    if (!user) return not_found("user " + std::string(name));
    out = {std::string(name), user->admin, user->disabled, user->created};
    return ok_status();
  });
  if (!st.ok()) return std::move(st).error();
  return out;
}

Result<Page<UserInfo>> AccountsService::list_users(const Principal& actor,
                                                   const PageRequest& page) {
  Page<UserInfo> out;
  Status st = store_.read([&](AccountReader& r) -> Status {
    VOUCH_RETURN_IF_ERROR(require_system_admin(r, actor));
    VOUCH_ASSIGN_OR_RETURN(auto records, scan_page(r, Table::kUsers, "", page, out.next));
    for (const Record& rec : records) {
      VOUCH_ASSIGN_OR_RETURN(json::object o, decode(rec.value, "user"));
      out.items.push_back({rec.key, get_bool(o, "admin"), get_bool(o, "disabled"),
                           from_micros(get_int(o, "created").value_or(0))});
    }
    return ok_status();
  });
  if (!st.ok()) return std::move(st).error();
  return out;
}

// --- Organizations ---------------------------------------------------------------------------

namespace {

std::string encode_member(bool admin) {
  json::object o;
  o["admin"] = admin;
  return json::serialize(o);
}

}  // namespace

Status AccountsService::create_org(const Principal& actor, std::string_view name) {
  VOUCH_RETURN_IF_ERROR(validate_name(name, "organization name"));
  Status st = store_.write([&](AccountWriter& w) -> Status {
    VOUCH_RETURN_IF_ERROR(acting_user(w, actor));
    VOUCH_ASSIGN_OR_RETURN(auto user, w.get(Table::kUsers, name));
    VOUCH_ASSIGN_OR_RETURN(auto org, w.get(Table::kOrgs, name));
    if (user || org) return taken("name " + std::string(name));
    json::object o;
    o["created"] = micros(clock_.now());
    VOUCH_RETURN_IF_ERROR(w.put(Table::kOrgs, name, json::serialize(o)));
    VOUCH_RETURN_IF_ERROR(
        w.put(Table::kOrgMembers, org_member_key(name, actor.name), encode_member(true)));
    return w.put(Table::kOrgMembers, user_org_key(actor.name, name), "");
  });
  if (!st.ok()) return std::move(st).error();
  notify(actor, "org.create", std::string(name), "");
  return ok_status();
}

Status AccountsService::delete_org(const Principal& actor, std::string_view name) {
  Status st = store_.write([&](AccountWriter& w) -> Status {
    VOUCH_RETURN_IF_ERROR(require_org_admin(w, actor, name));
    // Teams, with their members and grants.
    const std::string team_prefix = team_key(name, "");
    std::vector<std::string> teams;
    VOUCH_RETURN_IF_ERROR(scan_all(w, Table::kTeams, team_prefix, [&](const Record& rec) -> Status {
      teams.push_back(rec.key.substr(team_prefix.size()));
      return ok_status();
    }));
    for (const std::string& team : teams) {
      const std::string member_prefix = team_member_key(name, team, "");
      std::vector<std::string> users;
      VOUCH_RETURN_IF_ERROR(
          scan_all(w, Table::kTeamMembers, member_prefix, [&](const Record& rec) -> Status {
            users.push_back(rec.key.substr(member_prefix.size()));
            return ok_status();
          }));
      for (const std::string& u : users) {
        VOUCH_RETURN_IF_ERROR(erase_team_membership(w, name, team, u));
      }
      VOUCH_RETURN_IF_ERROR(erase_grants_of(w, {GrantSubject::Kind::kTeam, team_key(name, team)}));
      VOUCH_RETURN_IF_ERROR(w.erase(Table::kTeams, team_key(name, team)));
    }
    // Members.
    const std::string member_prefix = org_member_key(name, "");
    std::vector<std::string> members;
    VOUCH_RETURN_IF_ERROR(
        scan_all(w, Table::kOrgMembers, member_prefix, [&](const Record& rec) -> Status {
          members.push_back(rec.key.substr(member_prefix.size()));
          return ok_status();
        }));
    for (const std::string& u : members) {
      VOUCH_RETURN_IF_ERROR(w.erase(Table::kOrgMembers, org_member_key(name, u)));
      VOUCH_RETURN_IF_ERROR(w.erase(Table::kOrgMembers, user_org_key(u, name)));
    }
    // Service accounts, with their tokens and grants.
    const std::string sa_prefix = std::string(name) + "/";
    std::vector<std::string> accounts;
    VOUCH_RETURN_IF_ERROR(
        scan_all(w, Table::kServiceAccounts, sa_prefix, [&](const Record& rec) -> Status {
          accounts.push_back(rec.key);
          return ok_status();
        }));
    for (const std::string& full : accounts) {
      VOUCH_RETURN_IF_ERROR(erase_tokens_of(w, full));
      VOUCH_RETURN_IF_ERROR(erase_member_keys_of(w, full));
      VOUCH_RETURN_IF_ERROR(erase_grants_of(w, {GrantSubject::Kind::kServiceAccount, full}));
      VOUCH_RETURN_IF_ERROR(w.erase(Table::kServiceAccounts, full));
    }
    // The organization default.
    std::vector<Grant> defaults;
    VOUCH_RETURN_IF_ERROR(read_grants(w, namespace_target(name), defaults));
    for (const Grant& g : defaults) {
      VOUCH_RETURN_IF_ERROR(w.erase(Table::kGrants, grant_key(g)));
      VOUCH_RETURN_IF_ERROR(w.erase(Table::kGrants, subject_prefix(g.subject) + g.target));
    }
    return w.erase(Table::kOrgs, name);
  });
  if (!st.ok()) return std::move(st).error();
  notify(actor, "org.delete", std::string(name), "");
  return ok_status();
}

Result<Page<std::string>> AccountsService::list_orgs(const Principal& actor,
                                                     const PageRequest& page) {
  Page<std::string> out;
  Status st = store_.read([&](AccountReader& r) -> Status {
    VOUCH_RETURN_IF_ERROR(require_system_admin(r, actor));
    VOUCH_ASSIGN_OR_RETURN(auto records, scan_page(r, Table::kOrgs, "", page, out.next));
    for (Record& rec : records) out.items.push_back(std::move(rec.key));
    return ok_status();
  });
  if (!st.ok()) return std::move(st).error();
  return out;
}

Result<AccountsService::Memberships> AccountsService::list_memberships(const Principal& actor,
                                                                       std::string_view user) {
  Memberships out;
  Status st = store_.read([&](AccountReader& r) -> Status {
    VOUCH_ASSIGN_OR_RETURN(UserRecord me, acting_user(r, actor));
    if (!me.admin && actor.name != user) return denied("only the user or an administrator");
    VOUCH_ASSIGN_OR_RETURN(auto u, load_user(r, user));
    if (!u) return not_found("user " + std::string(user));
    const std::string prefix = "u/" + std::string(user) + "/";
    VOUCH_RETURN_IF_ERROR(scan_all(r, Table::kOrgMembers, prefix, [&](const Record& rec) -> Status {
      std::string org = rec.key.substr(prefix.size());
      VOUCH_ASSIGN_OR_RETURN(auto m, org_membership(r, org, user));
      out.orgs.push_back({std::move(org), m && *m});
      return ok_status();
    }));
    return scan_all(r, Table::kTeamMembers, prefix, [&](const Record& rec) -> Status {
      out.teams.push_back(rec.key.substr(prefix.size()));
      return ok_status();
    });
  });
  if (!st.ok()) return std::move(st).error();
  return out;
}

Status AccountsService::set_org_member(const Principal& actor, std::string_view org,
                                       std::string_view user, bool admin) {
  Status st = store_.write([&](AccountWriter& w) -> Status {
    VOUCH_RETURN_IF_ERROR(require_org_admin(w, actor, org));
    VOUCH_ASSIGN_OR_RETURN(auto u, load_user(w, user));
    if (!u) return unknown_subject("user " + std::string(user));
    VOUCH_RETURN_IF_ERROR(
        w.put(Table::kOrgMembers, org_member_key(org, user), encode_member(admin)));
    return w.put(Table::kOrgMembers, user_org_key(user, org), "");
  });
  if (!st.ok()) return std::move(st).error();
  notify(actor, "org.member.set", std::string(org),
         "member=" + std::string(user) + (admin ? " admin=true" : " admin=false"));
  return ok_status();
}

Status AccountsService::remove_org_member(const Principal& actor, std::string_view org,
                                          std::string_view user) {
  Status st = store_.write([&](AccountWriter& w) -> Status {
    VOUCH_RETURN_IF_ERROR(require_org_admin(w, actor, org));
    VOUCH_ASSIGN_OR_RETURN(auto m, org_membership(w, org, user));
    if (!m) return not_found("member " + std::string(user) + " of " + std::string(org));
    const std::string prefix = user_org_key(user, org) + "/";
    std::vector<std::string> teams;
    VOUCH_RETURN_IF_ERROR(
        scan_all(w, Table::kTeamMembers, prefix, [&](const Record& rec) -> Status {
          teams.push_back(rec.key.substr(prefix.size()));
          return ok_status();
        }));
    for (const std::string& t : teams)
      VOUCH_RETURN_IF_ERROR(erase_team_membership(w, org, t, user));
    VOUCH_RETURN_IF_ERROR(w.erase(Table::kOrgMembers, org_member_key(org, user)));
    return w.erase(Table::kOrgMembers, user_org_key(user, org));
  });
  if (!st.ok()) return std::move(st).error();
  notify(actor, "org.member.remove", std::string(org), "member=" + std::string(user));
  return ok_status();
}

Result<Page<OrgMember>> AccountsService::list_org_members(const Principal& actor,
                                                          std::string_view org,
                                                          const PageRequest& page) {
  Page<OrgMember> out;
  Status st = store_.read([&](AccountReader& r) -> Status {
    VOUCH_RETURN_IF_ERROR(require_org_member(r, actor, org));
    VOUCH_ASSIGN_OR_RETURN(
        auto records, scan_page(r, Table::kOrgMembers, org_member_key(org, ""), page, out.next));
    for (const Record& rec : records) {
      VOUCH_ASSIGN_OR_RETURN(json::object o, decode(rec.value, "org member"));
      out.items.push_back({rec.key, get_bool(o, "admin")});
    }
    return ok_status();
  });
  if (!st.ok()) return std::move(st).error();
  return out;
}

Status AccountsService::create_team(const Principal& actor, std::string_view org,
                                    std::string_view team, std::string_view description) {
  VOUCH_RETURN_IF_ERROR(validate_name(team, "team name"));
  if (description.size() > 1024) {
    return make_error(Code::kInvalidArgument, Reason::kTooLarge, "description too long");
  }
  Status st = store_.write([&](AccountWriter& w) -> Status {
    VOUCH_RETURN_IF_ERROR(require_org_admin(w, actor, org));
    VOUCH_ASSIGN_OR_RETURN(auto existing, w.get(Table::kTeams, team_key(org, team)));
    if (existing) return taken("team " + team_key(org, team));
    json::object o;
    o["description"] = description;
    return w.put(Table::kTeams, team_key(org, team), json::serialize(o));
  });
  if (!st.ok()) return std::move(st).error();
  notify(actor, "team.create", team_key(org, team), "");
  return ok_status();
}

Status AccountsService::delete_team(const Principal& actor, std::string_view org,
                                    std::string_view team) {
  Status st = store_.write([&](AccountWriter& w) -> Status {
    VOUCH_RETURN_IF_ERROR(require_org_admin(w, actor, org));
    VOUCH_ASSIGN_OR_RETURN(auto existing, w.get(Table::kTeams, team_key(org, team)));
    if (!existing) return not_found("team " + team_key(org, team));
    const std::string prefix = team_member_key(org, team, "");
    std::vector<std::string> users;
    VOUCH_RETURN_IF_ERROR(
        scan_all(w, Table::kTeamMembers, prefix, [&](const Record& rec) -> Status {
          users.push_back(rec.key.substr(prefix.size()));
          return ok_status();
        }));
    for (const std::string& u : users)
      VOUCH_RETURN_IF_ERROR(erase_team_membership(w, org, team, u));
    VOUCH_RETURN_IF_ERROR(erase_grants_of(w, {GrantSubject::Kind::kTeam, team_key(org, team)}));
    return w.erase(Table::kTeams, team_key(org, team));
  });
  if (!st.ok()) return std::move(st).error();
  notify(actor, "team.delete", team_key(org, team), "");
  return ok_status();
}

Result<Page<TeamInfo>> AccountsService::list_teams(const Principal& actor, std::string_view org,
                                                   const PageRequest& page) {
  Page<TeamInfo> out;
  Status st = store_.read([&](AccountReader& r) -> Status {
    VOUCH_RETURN_IF_ERROR(require_org_member(r, actor, org));
    VOUCH_ASSIGN_OR_RETURN(auto records,
                           scan_page(r, Table::kTeams, team_key(org, ""), page, out.next));
    for (const Record& rec : records) {
      VOUCH_ASSIGN_OR_RETURN(json::object o, decode(rec.value, "team"));
      out.items.push_back({std::string(org), rec.key, get_string(o, "description")});
    }
    return ok_status();
  });
  if (!st.ok()) return std::move(st).error();
  return out;
}

Status AccountsService::add_team_member(const Principal& actor, std::string_view org,
                                        std::string_view team, std::string_view user) {
  Status st = store_.write([&](AccountWriter& w) -> Status {
    VOUCH_RETURN_IF_ERROR(require_org_admin(w, actor, org));
    VOUCH_ASSIGN_OR_RETURN(auto t, w.get(Table::kTeams, team_key(org, team)));
    if (!t) return not_found("team " + team_key(org, team));
    VOUCH_ASSIGN_OR_RETURN(auto u, load_user(w, user));
    if (!u) return unknown_subject("user " + std::string(user));
    VOUCH_ASSIGN_OR_RETURN(auto m, org_membership(w, org, user));
    if (!m) {
      VOUCH_RETURN_IF_ERROR(
          w.put(Table::kOrgMembers, org_member_key(org, user), encode_member(false)));
      VOUCH_RETURN_IF_ERROR(w.put(Table::kOrgMembers, user_org_key(user, org), ""));
    }
    VOUCH_RETURN_IF_ERROR(w.put(Table::kTeamMembers, team_member_key(org, team, user), ""));
    return w.put(Table::kTeamMembers, user_team_key(user, org, team), "");
  });
  if (!st.ok()) return std::move(st).error();
  notify(actor, "team.member.add", team_key(org, team), "member=" + std::string(user));
  return ok_status();
}

Status AccountsService::remove_team_member(const Principal& actor, std::string_view org,
                                           std::string_view team, std::string_view user) {
  Status st = store_.write([&](AccountWriter& w) -> Status {
    VOUCH_RETURN_IF_ERROR(require_org_admin(w, actor, org));
    VOUCH_ASSIGN_OR_RETURN(auto m, w.get(Table::kTeamMembers, team_member_key(org, team, user)));
    if (!m) return not_found("member " + std::string(user) + " of team " + team_key(org, team));
    return erase_team_membership(w, org, team, user);
  });
  if (!st.ok()) return std::move(st).error();
  notify(actor, "team.member.remove", team_key(org, team), "member=" + std::string(user));
  return ok_status();
}

Result<Page<std::string>> AccountsService::list_team_members(const Principal& actor,
                                                             std::string_view org,
                                                             std::string_view team,
                                                             const PageRequest& page) {
  Page<std::string> out;
  Status st = store_.read([&](AccountReader& r) -> Status {
    VOUCH_RETURN_IF_ERROR(require_org_member(r, actor, org));
    VOUCH_ASSIGN_OR_RETURN(auto t, r.get(Table::kTeams, team_key(org, team)));
    if (!t) return not_found("team " + team_key(org, team));
    VOUCH_ASSIGN_OR_RETURN(auto records, scan_page(r, Table::kTeamMembers,
                                                   team_member_key(org, team, ""), page, out.next));
    for (Record& rec : records) out.items.push_back(std::move(rec.key));
    return ok_status();
  });
  if (!st.ok()) return std::move(st).error();
  return out;
}

// --- Service accounts and tokens -------------------------------------------------------------

Status AccountsService::create_service_account(const Principal& actor, std::string_view full_name,
                                               std::string_view description) {
  VOUCH_ASSIGN_OR_RETURN(ServiceAccountName sa, parse_service_account_name(full_name));
  if (description.size() > 1024) {
    return make_error(Code::kInvalidArgument, Reason::kTooLarge, "description too long");
  }
  Status st = store_.write([&](AccountWriter& w) -> Status {
    VOUCH_RETURN_IF_ERROR(require_owner_admin(w, actor, sa.owner));
    VOUCH_ASSIGN_OR_RETURN(auto existing, w.get(Table::kServiceAccounts, full_name));
    if (existing) return taken("service account " + std::string(full_name));
    json::object o;
    o["description"] = description;
    o["created"] = micros(clock_.now());
    return w.put(Table::kServiceAccounts, full_name, json::serialize(o));
  });
  if (!st.ok()) return std::move(st).error();
  notify(actor, "service_account.create", std::string(full_name), "");
  return ok_status();
}

Status AccountsService::delete_service_account(const Principal& actor, std::string_view full_name) {
  VOUCH_ASSIGN_OR_RETURN(ServiceAccountName sa, parse_service_account_name(full_name));
  Status st = store_.write([&](AccountWriter& w) -> Status {
    VOUCH_RETURN_IF_ERROR(require_owner_admin(w, actor, sa.owner));
    VOUCH_ASSIGN_OR_RETURN(auto existing, w.get(Table::kServiceAccounts, full_name));
    if (!existing) return not_found("service account " + std::string(full_name));
    VOUCH_RETURN_IF_ERROR(erase_tokens_of(w, full_name));
    VOUCH_RETURN_IF_ERROR(erase_member_keys_of(w, full_name));
    VOUCH_RETURN_IF_ERROR(
        erase_grants_of(w, {GrantSubject::Kind::kServiceAccount, std::string(full_name)}));
    return w.erase(Table::kServiceAccounts, full_name);
  });
  if (!st.ok()) return std::move(st).error();
  notify(actor, "service_account.delete", std::string(full_name), "");
  return ok_status();
}

Result<Page<ServiceAccountInfo>> AccountsService::list_service_accounts(const Principal& actor,
                                                                        std::string_view owner,
                                                                        const PageRequest& page) {
  Page<ServiceAccountInfo> out;
  Status st = store_.read([&](AccountReader& r) -> Status {
    VOUCH_RETURN_IF_ERROR(require_owner_admin(r, actor, owner));
    const std::string prefix = std::string(owner) + "/";
    VOUCH_ASSIGN_OR_RETURN(auto records,
                           scan_page(r, Table::kServiceAccounts, prefix, page, out.next));
    for (const Record& rec : records) {
      VOUCH_ASSIGN_OR_RETURN(json::object o, decode(rec.value, "service account"));
      out.items.push_back({prefix + rec.key, get_string(o, "description"),
                           from_micros(get_int(o, "created").value_or(0))});
    }
    return ok_status();
  });
  if (!st.ok()) return std::move(st).error();
  return out;
}

Result<NewToken> AccountsService::create_token(const Principal& actor, std::string_view owner,
                                               std::string_view description,
                                               std::optional<std::chrono::seconds> lifetime,
                                               std::optional<ScopeLimit> scope) {
  const std::chrono::seconds life = lifetime.value_or(options_.default_token_lifetime);
  if (life <= std::chrono::seconds(0) || life > options_.max_token_lifetime) {
    return make_error(Code::kInvalidArgument, Reason::kTooLarge,
                      "token lifetime must be positive and at most the configured maximum");
  }
  if (description.size() > 1024) {
    return make_error(Code::kInvalidArgument, Reason::kTooLarge, "description too long");
  }
  if (scope) {
    if (scope->patterns.size() > 100) {
      return make_error(Code::kInvalidArgument, Reason::kTooLarge, "too many scope patterns");
    }
    for (const std::string& p : scope->patterns) {
      if (p != "*")
        VOUCH_RETURN_IF_ERROR(
            check_target(p.ends_with("/*") && p.size() > 2 ? p.substr(0, p.size() - 2) : p));
    }
  }
  const bool is_sa = owner.find('/') != std::string_view::npos;
  const TimePoint now = clock_.now();
  std::optional<NewToken> made;
  Status st = store_.write([&](AccountWriter& w) -> Status {
    TokenInfo info;
    if (is_sa) {
      VOUCH_ASSIGN_OR_RETURN(ServiceAccountName sa, parse_service_account_name(owner));
      VOUCH_RETURN_IF_ERROR(require_owner_admin(w, actor, sa.owner));
      VOUCH_ASSIGN_OR_RETURN(auto existing, w.get(Table::kServiceAccounts, owner));
      if (!existing) return not_found("service account " + std::string(owner));
      info.owner_kind = Principal::Kind::kServiceAccount;
    } else {
      VOUCH_ASSIGN_OR_RETURN(UserRecord me, acting_user(w, actor));
      if (!me.admin && actor.name != owner) return denied("only the user or an administrator");
      VOUCH_ASSIGN_OR_RETURN(auto user, load_user(w, owner));
      if (!user) return not_found("user " + std::string(owner));
      info.owner_kind = Principal::Kind::kUser;
    }
    info.owner = std::string(owner);
    info.description = std::string(description);
    info.created = now;
    info.expires = now + life;
    info.scope = scope;
    VOUCH_ASSIGN_OR_RETURN(NewToken t, put_new_token(w, std::move(info)));
    made = std::move(t);
    return ok_status();
  });
  if (!st.ok()) return std::move(st).error();
  notify(actor, "token.create", made->info.id, "owner=" + std::string(owner));
  return std::move(*made);
}

namespace {

// Who may see and revoke `owner`'s tokens: the owner admins for a service account, the user
// themself or a system admin for a user.
Status require_token_owner_admin(AccountReader& r, const Principal& actor, std::string_view owner) {
  if (owner.find('/') != std::string_view::npos) {
    VOUCH_ASSIGN_OR_RETURN(ServiceAccountName sa, parse_service_account_name(owner));
    return require_owner_admin(r, actor, sa.owner);
  }
  VOUCH_ASSIGN_OR_RETURN(UserRecord me, acting_user(r, actor));
  if (!me.admin && actor.name != owner) return denied("only the user or an administrator");
  return ok_status();
}

}  // namespace

Result<Page<TokenInfo>> AccountsService::list_tokens(const Principal& actor, std::string_view owner,
                                                     const PageRequest& page) {
  Page<TokenInfo> out;
  Status st = store_.read([&](AccountReader& r) -> Status {
    VOUCH_RETURN_IF_ERROR(require_token_owner_admin(r, actor, owner));
    VOUCH_ASSIGN_OR_RETURN(auto records,
                           scan_page(r, Table::kTokens, owner_token_prefix(owner), page, out.next));
    for (const Record& rec : records) {
      VOUCH_ASSIGN_OR_RETURN(auto token, load_token(r, rec.key));
      if (!token) return corrupt("token index");
      out.items.push_back(std::move(token->info));
    }
    return ok_status();
  });
  if (!st.ok()) return std::move(st).error();
  return out;
}

Status AccountsService::revoke_token(const Principal& actor, std::string_view id) {
  Status st = store_.write([&](AccountWriter& w) -> Status {
    VOUCH_ASSIGN_OR_RETURN(auto token, load_token(w, id));
    if (!token) {
      // Authenticate first, so that token ids are not probed by the unauthorized.
      VOUCH_RETURN_IF_ERROR(acting_user(w, actor));
      return not_found("token " + std::string(id));
    }
    VOUCH_RETURN_IF_ERROR(require_token_owner_admin(w, actor, token->info.owner));
    VOUCH_RETURN_IF_ERROR(w.erase(Table::kTokens, token_key(id)));
    return w.erase(Table::kTokens, owner_token_prefix(token->info.owner) + std::string(id));
  });
  if (!st.ok()) return std::move(st).error();
  notify(actor, "token.revoke", std::string(id), "");
  return ok_status();
}

// --- Repositories ----------------------------------------------------------------------------

namespace {

// Admin permission on a GUN or namespace target is what repository administration needs.
Status require_target_admin(AccountReader& r, const AccountsOptions& options,
                            const Principal& actor, std::string_view target, bool ns_target,
                            TimePoint now) {
  if (actor.kind == Principal::Kind::kAnonymous) {
    return make_error(Code::kUnauthenticated, Reason::kNoCredentials, "authentication required");
  }
  VOUCH_ASSIGN_OR_RETURN(Permission p,
                         compute_permission(r, options, actor, target, now, ns_target));
  if (p != Permission::kAdmin) return denied("repository admins only");
  return ok_status();
}

}  // namespace

Status AccountsService::set_visibility(const Principal& actor, std::string_view gun,
                                       Visibility visibility) {
  VOUCH_ASSIGN_OR_RETURN(auto ns_target, check_target(gun));
  if (ns_target) {
    return make_error(Code::kInvalidArgument, Reason::kBadGun, "visibility is set per GUN");
  }
  const TimePoint now = clock_.now();
  Status st = store_.write([&](AccountWriter& w) -> Status {
    VOUCH_RETURN_IF_ERROR(require_target_admin(w, options_, actor, gun, false, now));
    json::object o;
    o["visibility"] = to_string(visibility);
    return w.put(Table::kRepositories, gun, json::serialize(o));
  });
  if (!st.ok()) return std::move(st).error();
  notify(actor, "repository.visibility", std::string(gun), std::string(to_string(visibility)));
  return ok_status();
}

Status AccountsService::set_grant(const Principal& actor, const Grant& grant) {
  VOUCH_ASSIGN_OR_RETURN(auto ns_target, check_target(grant.target));
  const std::string target_ns =
      ns_target ? *ns_target : gun_namespace(grant.target, options_.repository_host).value_or("");
  const TimePoint now = clock_.now();
  Status st = store_.write([&](AccountWriter& w) -> Status {
    VOUCH_RETURN_IF_ERROR(
        require_target_admin(w, options_, actor, grant.target, ns_target.has_value(), now));
    const GrantSubject& s = grant.subject;
    switch (s.kind) {
      case GrantSubject::Kind::kUser: {
        VOUCH_ASSIGN_OR_RETURN(auto u, load_user(w, s.name));
        if (!u) return unknown_subject("user " + s.name);
        break;
      }
      case GrantSubject::Kind::kServiceAccount: {
        VOUCH_ASSIGN_OR_RETURN(auto sa, w.get(Table::kServiceAccounts, s.name));
        if (!sa) return unknown_subject("service account " + s.name);
        break;
      }
      case GrantSubject::Kind::kTeam: {
        VOUCH_ASSIGN_OR_RETURN(auto t, w.get(Table::kTeams, s.name));
        if (!t) return unknown_subject("team " + s.name);
        if (target_ns.empty() || !s.name.starts_with(target_ns + "/")) {
          return make_error(Code::kInvalidArgument, Reason::kBadGun,
                            "a team may be granted only its own organization's repositories");
        }
        break;
      }
    }
    const std::string by_subject = subject_prefix(s) + grant.target;
    if (grant.permission == Permission::kNone) {
      VOUCH_RETURN_IF_ERROR(w.erase(Table::kGrants, grant_key(grant)));
      return w.erase(Table::kGrants, by_subject);
    }
    VOUCH_RETURN_IF_ERROR(
        w.put(Table::kGrants, grant_key(grant), encode_permission(grant.permission)));
    return w.put(Table::kGrants, by_subject, "");
  });
  if (!st.ok()) return std::move(st).error();
  notify(actor, "grant.set", grant.target,
         std::string(to_string(grant.subject.kind)) + ":" + grant.subject.name + "=" +
             std::string(to_string(grant.permission)));
  return ok_status();
}

Result<RepositorySettings> AccountsService::get_repository(const Principal& actor,
                                                           std::string_view target) {
  VOUCH_ASSIGN_OR_RETURN(auto ns_target, check_target(target));
  RepositorySettings out;
  out.gun = std::string(target);
  out.visibility = options_.default_visibility;
  const TimePoint now = clock_.now();
  Status st = store_.read([&](AccountReader& r) -> Status {
    VOUCH_RETURN_IF_ERROR(
        require_target_admin(r, options_, actor, target, ns_target.has_value(), now));
    VOUCH_ASSIGN_OR_RETURN(auto repo, r.get(Table::kRepositories, target));
    if (repo) {
      VOUCH_ASSIGN_OR_RETURN(json::object o, decode(*repo, "repository"));
      out.visibility = parse_visibility(get_string(o, "visibility")).value_or(out.visibility);
    }
    return read_grants(r, target, out.grants);
  });
  if (!st.ok()) return std::move(st).error();
  return out;
}

// ---------------------------------------------------------------------------------------------
// Members' signing keys (issue 14 item 7).

namespace {

std::string encode_member_key(const MemberKeyInfo& k) {
  json::object o;
  o["canonical_id"] = k.canonical_id;
  o["keytype"] = keys::to_string(k.type);
  o["pem"] = k.pem;
  o["owner"] = k.owner;
  o["owner_kind"] = k.owner_kind == Principal::Kind::kServiceAccount ? "service-account" : "user";
  o["registered"] = micros(k.registered);
  if (k.expires) o["expires"] = micros(*k.expires);
  return json::serialize(o);
}

Result<std::optional<MemberKeyInfo>> load_member_key(AccountReader& r, std::string_view id) {
  // Key IDs are 64 hex digits; anything else cannot be registered.
  if (id.size() != 64) return std::optional<MemberKeyInfo>();
  VOUCH_ASSIGN_OR_RETURN(auto bytes, r.get(Table::kMemberKeys, member_key_key(id)));
  if (!bytes) return std::optional<MemberKeyInfo>();
  VOUCH_ASSIGN_OR_RETURN(json::object o, decode(*bytes, "member key"));
  MemberKeyInfo k;
  k.key_id = std::string(id);
  k.canonical_id = get_string(o, "canonical_id");
  auto type = keys::parse_key_type(get_string(o, "keytype"));
  auto registered = get_int(o, "registered");
  k.pem = get_string(o, "pem");
  k.owner = get_string(o, "owner");
  if (!type || !registered || k.canonical_id.empty() || k.pem.empty() || k.owner.empty()) {
    return corrupt("member key");
  }
  k.type = *type;
  k.owner_kind = get_string(o, "owner_kind") == "service-account"
                     ? Principal::Kind::kServiceAccount
                     : Principal::Kind::kUser;
  k.registered = from_micros(*registered);
  if (auto expires = get_int(o, "expires")) k.expires = from_micros(*expires);
  return std::optional<MemberKeyInfo>(std::move(k));
}

Error key_taken(std::string_view id, std::string_view by) {
  return make_error(Code::kAlreadyExists, Reason::kConflict,
                    "key " + std::string(id) + " is registered to " + std::string(by));
}

// A registered key by either of its IDs.
Result<std::optional<MemberKeyInfo>> find_member_key(AccountReader& r, std::string_view id) {
  VOUCH_ASSIGN_OR_RETURN(auto direct, load_member_key(r, id));
  if (direct || id.size() != 64) return direct;
  VOUCH_ASSIGN_OR_RETURN(auto alias, r.get(Table::kMemberKeys, member_key_canonical_key(id)));
  if (!alias) return std::optional<MemberKeyInfo>();
  return load_member_key(r, *alias);
}

// The actor is a live account (an enabled user, or an existing service account whose token is
// not revoked); with `unscoped`, its credential must carry no scope limit.
Status require_live_account(AccountReader& r, const Principal& actor, bool unscoped) {
  if (actor.kind == Principal::Kind::kUser) {
    if (unscoped) {
      VOUCH_RETURN_IF_ERROR(acting_user(r, actor));
      return ok_status();
    }
    VOUCH_ASSIGN_OR_RETURN(auto user, load_user(r, actor.name));
    if (!user || user->disabled) return denied("account disabled or removed");
    return ok_status();
  }
  if (actor.kind != Principal::Kind::kServiceAccount) {
    return make_error(Code::kUnauthenticated, Reason::kNoCredentials, "authentication required");
  }
  VOUCH_ASSIGN_OR_RETURN(auto sa, r.get(Table::kServiceAccounts, actor.name));
  if (!sa) return denied("account removed");
  VOUCH_ASSIGN_OR_RETURN(auto token, load_token(r, actor.token_id));
  if (!token || token->info.owner != actor.name) return denied("token revoked");
  if (unscoped && token->info.scope) {
    return denied("a token with a scope limit cannot register keys");
  }
  return ok_status();
}

// "alice" or "<owner>/<name>": the account exists (kNotFound otherwise).
Result<Principal::Kind> account_kind(AccountReader& r, std::string_view owner) {
  if (owner.find('/') != std::string_view::npos) {
    VOUCH_ASSIGN_OR_RETURN(auto sa, r.get(Table::kServiceAccounts, owner));
    if (!sa) return not_found("service account " + std::string(owner));
    return Principal::Kind::kServiceAccount;
  }
  VOUCH_ASSIGN_OR_RETURN(auto user, load_user(r, owner));
  if (!user) return not_found("user " + std::string(owner));
  return Principal::Kind::kUser;
}

}  // namespace

// --- Directory accounts ----------------------------------------------------------------------

namespace {

constexpr std::string_view kDirectoryMember = R"({"source":"directory"})";

// Creates the directory user record of `name` if it has none. Returns the record; nullopt
// when `name` is a local user with a password (the local account wins).
Result<std::optional<UserRecord>> ensure_directory_user(AccountWriter& w, std::string_view name,
                                                        TimePoint now, bool& created) {
  created = false;
  VOUCH_ASSIGN_OR_RETURN(auto user, load_user(w, name));
  if (user) {
    if (!user->password.empty()) return std::optional<UserRecord>();
    return user;
  }
  UserRecord record;
  record.created = now;
  record.directory = true;
  VOUCH_RETURN_IF_ERROR(w.put(Table::kUsers, name, encode_user(record)));
  created = true;
  return std::optional<UserRecord>(std::move(record));
}

}  // namespace

Result<MemberKeyInfo> AccountsService::register_key(const Principal& actor, std::string_view pem,
                                                    TimePoint issued_at,
                                                    const keys::Signature& signature) {
  if (actor.kind == Principal::Kind::kAnonymous) {
    return make_error(Code::kUnauthenticated, Reason::kNoCredentials, "authentication required");
  }
  if (pem.size() > keys::kMaxPemSize) {
    return make_error(Code::kInvalidArgument, Reason::kTooLarge, "public key too large");
  }
  auto parsed = keys::parse_public_key_pem(pem);
  if (!parsed) {
    Error e = std::move(parsed).error();
    e.code = Code::kInvalidArgument;
    return std::move(e.wrap("public key"));
  }
  const keys::PublicKey& key = *parsed;
  const TimePoint now = clock_.now();
  MemberKeyInfo info;
  info.key_id = key.id();
  info.canonical_id = key.canonical_id();
  info.type = key.type();
  info.pem = std::string(pem);
  info.owner_kind = actor.kind;
  info.owner = actor.name;
  info.registered = now;
  if (const keys::Certificate* cert = key.certificate()) {
    info.expires = cert->not_after();
    if (*info.expires <= now) {
      return make_error(Code::kInvalidArgument, Reason::kExpired,
                        "the certificate expired at " + format_rfc3339(*info.expires));
    }
  }
  VOUCH_RETURN_IF_ERROR(keys::verify_registration(
      {options_.key_registration_service, actor.name, key, issued_at}, signature, now,
      options_.key_statement_window));

  bool added = false;
  Status st = store_.write([&](AccountWriter& w) -> Status {
    VOUCH_RETURN_IF_ERROR(require_live_account(w, actor, true));
    VOUCH_ASSIGN_OR_RETURN(auto existing, load_member_key(w, info.key_id));
    if (existing) {
      if (existing->owner != actor.name) return key_taken(info.key_id, "another account");
      info = std::move(*existing);  // the same registration again: nothing changes
      return ok_status();
    }
    VOUCH_ASSIGN_OR_RETURN(auto same_key,
                           w.get(Table::kMemberKeys, member_key_canonical_key(info.canonical_id)));
    if (same_key) {
      VOUCH_ASSIGN_OR_RETURN(auto other, load_member_key(w, *same_key));
      if (other && other->owner == actor.name) {
        return key_taken(info.key_id, "this account as " + *same_key + "; unregister that first");
      }
      return key_taken(info.key_id, "another account");
    }
    const std::string prefix = owner_member_key_prefix(actor.name);
    VOUCH_ASSIGN_OR_RETURN(auto mine, w.scan(Table::kMemberKeys, prefix, "",
                                             options_.max_keys_per_account + 1));
    if (mine.size() >= options_.max_keys_per_account) {
      return make_error(Code::kFailedPrecondition, Reason::kTooLarge,
                        "an account may register at most " +
                            std::to_string(options_.max_keys_per_account) + " keys");
    }
    VOUCH_RETURN_IF_ERROR(
        w.put(Table::kMemberKeys, member_key_key(info.key_id), encode_member_key(info)));
    VOUCH_RETURN_IF_ERROR(
        w.put(Table::kMemberKeys, member_key_canonical_key(info.canonical_id), info.key_id));
    VOUCH_RETURN_IF_ERROR(w.put(Table::kMemberKeys, prefix + info.key_id, ""));
    added = true;
    return ok_status();
  });
  if (!st.ok()) return std::move(st).error();
  if (added) {
    notify(actor, "key.register", info.key_id, "keytype=" + std::string(keys::to_string(info.type)));
  }
  return info;
}

Result<std::vector<MemberKeyInfo>> AccountsService::list_keys(const Principal& actor,
                                                              std::string_view owner) {
  std::vector<MemberKeyInfo> out;
  Status st = store_.read([&](AccountReader& r) -> Status {
    VOUCH_RETURN_IF_ERROR(require_live_account(r, actor, false));
    VOUCH_RETURN_IF_ERROR(account_kind(r, owner));
    const std::string prefix = owner_member_key_prefix(owner);
    return scan_all(r, Table::kMemberKeys, prefix, [&](const Record& rec) -> Status {
      VOUCH_ASSIGN_OR_RETURN(auto key, load_member_key(r, rec.key.substr(prefix.size())));
      if (!key) return corrupt("member key index");
      out.push_back(std::move(*key));
      return ok_status();
    });
  });
  if (!st.ok()) return std::move(st).error();
  return out;
}

Result<std::vector<KeyOwner>> AccountsService::lookup_keys(const Principal& actor,
                                                           const std::vector<std::string>& key_ids) {
  if (key_ids.empty() || key_ids.size() > kMaxKeyLookup) {
    return make_error(Code::kInvalidArgument, Reason::kTooLarge,
                      "look up 1.." + std::to_string(kMaxKeyLookup) + " key IDs at a time");
  }
  std::vector<KeyOwner> out;
  Status st = store_.read([&](AccountReader& r) -> Status {
    VOUCH_RETURN_IF_ERROR(require_live_account(r, actor, false));
    std::map<std::string, std::vector<std::string>, std::less<>> teams_of;
    std::vector<std::string_view> seen;
    for (const std::string& id : key_ids) {
      if (std::find(seen.begin(), seen.end(), id) != seen.end()) continue;
      seen.push_back(id);
      VOUCH_ASSIGN_OR_RETURN(auto key, find_member_key(r, id));
      if (!key) continue;
      KeyOwner owner;
      if (key->owner_kind == Principal::Kind::kUser) {
        auto found = teams_of.find(key->owner);
        if (found == teams_of.end()) {
          std::vector<std::string> teams;
          const std::string prefix = "u/" + key->owner + "/";
          VOUCH_RETURN_IF_ERROR(
              scan_all(r, Table::kTeamMembers, prefix, [&](const Record& rec) -> Status {
                teams.push_back(rec.key.substr(prefix.size()));
                return ok_status();
              }));
          found = teams_of.emplace(key->owner, std::move(teams)).first;
        }
        owner.teams = found->second;
      }
      owner.key = std::move(*key);
      out.push_back(std::move(owner));
    }
    return ok_status();
  });
  if (!st.ok()) return std::move(st).error();
  return out;
}

Status AccountsService::delete_key(const Principal& actor, std::string_view key_id) {
  std::string removed;
  Status st = store_.write([&](AccountWriter& w) -> Status {
    VOUCH_ASSIGN_OR_RETURN(auto key, find_member_key(w, key_id));
    if (key && key->owner == actor.name && actor.kind == key->owner_kind) {
      VOUCH_RETURN_IF_ERROR(require_live_account(w, actor, true));
    } else {
      // Someone else's key (or none): the owner's administrators may remove it; others learn
      // nothing about whether it exists.
      const std::string owner =
          key ? (key->owner_kind == Principal::Kind::kServiceAccount
                     ? key->owner.substr(0, key->owner.find('/'))
                     : key->owner)
              : std::string();
      if (key) {
        VOUCH_RETURN_IF_ERROR(require_owner_admin(w, actor, owner));
      } else {
        VOUCH_RETURN_IF_ERROR(require_live_account(w, actor, true));
      }
    }
    if (!key) return not_found("key " + std::string(key_id.substr(0, 64)));
    VOUCH_RETURN_IF_ERROR(w.erase(Table::kMemberKeys, member_key_key(key->key_id)));
    VOUCH_RETURN_IF_ERROR(w.erase(Table::kMemberKeys, member_key_canonical_key(key->canonical_id)));
    VOUCH_RETURN_IF_ERROR(
        w.erase(Table::kMemberKeys, owner_member_key_prefix(key->owner) + key->key_id));
    removed = key->key_id;
    return ok_status();
  });
  if (!st.ok()) return std::move(st).error();
  notify(actor, "key.delete", removed, "");
  return ok_status();
}

Result<Principal> AccountsService::authenticate_in_directory(std::string_view typed,
                                                             const keys::SecretString& secret,
                                                             std::string_view source, bool known) {
  // Directories match user names without regard to case; vouch names are lower case, so
  // "Alice" signs in as alice. A lower-cased name that is a local user's stays local.
  std::string name(typed);
  for (char& c : name) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  if (name != typed) {
    std::optional<UserRecord> existing;
    Status st = store_.read([&](AccountReader& r) -> Status {
      VOUCH_ASSIGN_OR_RETURN(existing, load_user(r, name));
      return ok_status();
    });
    if (!st.ok()) return std::move(st).error();
    if (existing && !existing->password.empty()) return fail_auth(source);
    known = existing.has_value();
  }
  // A name vouch cannot hold is refused before the directory is asked (an LDAP filter is
  // escaped anyway, server/ldap).
  if (!known && !validate_name(name, "user name").ok()) return fail_auth(source);
  Status checked = directory_->check_password(name, secret);
  if (!checked.ok()) {
    if (checked.error().code == Code::kUnauthenticated) return fail_auth(source);
    return std::move(checked).error();  // kUnavailable and the like: not the caller's fault
  }
  std::optional<UserRecord> user;
  bool created = false;
  Status st = store_.write([&](AccountWriter& w) -> Status {
    VOUCH_ASSIGN_OR_RETURN(user, ensure_directory_user(w, name, clock_.now(), created));
    return ok_status();
  });
  if (!st.ok()) return std::move(st).error();
  // A local user with this name appeared meanwhile: its password decides, not the directory's.
  if (!user || user->disabled) return fail_auth(source);
  const Principal principal{Principal::Kind::kUser, name, user->admin, ""};
  if (created) notify(Principal{}, "user.create", name, "source=directory");
  return principal;
}

Result<AccountsService::DirectorySyncResult> AccountsService::sync_directory_team(
    std::string_view team, const std::vector<std::string>& names) {
  if (names.size() > kMaxDirectorySyncNames) {
    return make_error(Code::kInvalidArgument, Reason::kTooLarge,
                      "directory group of " + std::to_string(names.size()) +
                          " members: more than " + std::to_string(kMaxDirectorySyncNames));
  }
  const auto slash = team.find('/');
  if (slash == std::string_view::npos) {
    return make_error(Code::kInvalidArgument, Reason::kMalformed,
                      "team \"" + std::string(team) + "\" is not <org>/<team>");
  }
  const std::string_view org = team.substr(0, slash);
  const std::string_view team_name = team.substr(slash + 1);
  DirectorySyncResult result;
  std::vector<std::pair<std::string, std::string>> changes;  // action, detail
  std::vector<std::string> created_users;
  Status st = store_.write([&](AccountWriter& w) -> Status {
    result = {};
    changes.clear();
    created_users.clear();
    VOUCH_ASSIGN_OR_RETURN(auto t, w.get(Table::kTeams, team_key(org, team_name)));
    if (!t) return not_found("team " + std::string(team));
    std::vector<std::string> wanted;
    for (const std::string& name : names) {
      if (!validate_name(name, "user name").ok()) {
        ++result.skipped;
        continue;
      }
      bool created = false;
      VOUCH_ASSIGN_OR_RETURN(auto user, ensure_directory_user(w, name, clock_.now(), created));
      if (created) created_users.push_back(name);
      if (!user) {
        ++result.skipped;
        continue;
      }
      wanted.push_back(name);
    }
    std::sort(wanted.begin(), wanted.end());
    wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
    // Current members: directory-sourced ones not wanted any more leave.
    const std::string prefix = team_member_key(org, team_name, "");
    std::vector<std::string> present, leaving;
    VOUCH_RETURN_IF_ERROR(scan_all(w, Table::kTeamMembers, prefix, [&](const Record& rec) {
      std::string user = rec.key.substr(prefix.size());
      if (rec.value == kDirectoryMember &&
          !std::binary_search(wanted.begin(), wanted.end(), user)) {
        leaving.push_back(user);
      }
      present.push_back(std::move(user));
      return ok_status();
    }));
    for (const std::string& user : leaving) {
      VOUCH_RETURN_IF_ERROR(erase_team_membership(w, org, team_name, user));
      changes.emplace_back("team.member.remove", "member=" + user + " source=directory");
      ++result.removed;
    }
    std::sort(present.begin(), present.end());
    for (const std::string& user : wanted) {
      if (std::binary_search(present.begin(), present.end(), user)) continue;
      VOUCH_ASSIGN_OR_RETURN(auto m, org_membership(w, org, user));
      if (!m) {
        VOUCH_RETURN_IF_ERROR(
            w.put(Table::kOrgMembers, org_member_key(org, user), encode_member(false)));
        VOUCH_RETURN_IF_ERROR(w.put(Table::kOrgMembers, user_org_key(user, org), ""));
      }
      VOUCH_RETURN_IF_ERROR(
          w.put(Table::kTeamMembers, team_member_key(org, team_name, user), kDirectoryMember));
      VOUCH_RETURN_IF_ERROR(w.put(Table::kTeamMembers, user_team_key(user, org, team_name), ""));
      changes.emplace_back("team.member.add", "member=" + user + " source=directory");
      ++result.added;
    }
    return ok_status();
  });
  if (!st.ok()) return std::move(st).error();
  for (const std::string& user : created_users) {
    notify(Principal{}, "user.create", user, "source=directory");
  }
  for (auto& [action, detail] : changes) {
    notify(Principal{}, std::move(action), std::string(team), std::move(detail));
  }
  return result;
}

}  // namespace vouch::server::accounts
