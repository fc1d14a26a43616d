#include "verifier/policy.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/enum_names.h"
#include "keys/crypto.h"
#include "keys/pem.h"
#include "tuf/metadata.h"
#include "tuf/roster.h"

namespace vouch::verifier {

MemberKey MemberKey::of(const keys::PublicKey& key) {
  MemberKey mk{key, key.canonical_id(), {}};
  if (const keys::Certificate* cert = key.certificate()) {
    mk.validity = {cert->not_before(), cert->not_after()};
  }
  return mk;
}

namespace json = tuf::json;

namespace {

constexpr EnumName<Mode> kModeNames[] = {
    {Mode::kEnforce, "enforce"}, {Mode::kWarn, "warn"}, {Mode::kAudit, "audit"}};
static_assert(lists_every_value(kModeNames, Mode::kAudit));

constexpr std::size_t kMaxTeamName = 64;
constexpr std::size_t kMaxMemberName = 128;
constexpr std::size_t kMaxRuleName = 128;
constexpr std::size_t kMaxPattern = 512;

std::string at(const std::string& base, std::string_view field) {
  return base.empty() ? std::string(field) : base + "." + std::string(field);
}
std::string at(const std::string& base, std::size_t index) {
  return base + "[" + std::to_string(index) + "]";
}
std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string_view article_type(json::Type type) {
  switch (type) {
    case json::Type::kNull: return "null";
    case json::Type::kBool: return "a boolean";
    case json::Type::kInt: return "an integer";
    case json::Type::kString: return "a string";
    case json::Type::kArray: return "an array";
    case json::Type::kObject: return "an object";
  }
  return "an unknown value";
}

bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

bool is_lower_hex64(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// A suggestion for a misspelt field: the allowed name equal to `given` up to '_' vs '-' and
// case.
std::string suggest(std::string_view given, std::span<const std::string_view> allowed) {
  auto fold = [](std::string_view s) {
    std::string out(s);
    for (char& c : out) {
      if (c == '_') c = '-';
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
  };
  for (std::string_view a : allowed) {
    if (fold(a) == fold(given)) return " (did you mean " + quoted(a) + "?)";
  }
  return {};
}

// ---- Patterns ----

enum class TokenKind { kLiteral, kOne, kStar, kDoubleStar };
struct Token {
  TokenKind kind;
  char c = 0;
};

std::vector<Token> tokenize(std::string_view glob) {
  std::vector<Token> out;
  for (std::size_t i = 0; i < glob.size(); ++i) {
    if (glob[i] == '*') {
      if (i + 1 < glob.size() && glob[i + 1] == '*') {
        out.push_back({TokenKind::kDoubleStar});
        ++i;
      } else {
        out.push_back({TokenKind::kStar});
      }
    } else if (glob[i] == '?') {
      out.push_back({TokenKind::kOne});
    } else {
      out.push_back({TokenKind::kLiteral, glob[i]});
    }
  }
  return out;
}

// The name glob's measures of a Specificity (header comment of policy.h).
Specificity specificity_of(std::string_view name_glob, std::string_view tag_glob) {
  Specificity s;
  const std::size_t first_wild = name_glob.find_first_of("*?");
  s.literal_prefix = first_wild == std::string_view::npos ? name_glob.size() : first_wild;
  for (const Token& t : tokenize(name_glob)) {
    switch (t.kind) {
      case TokenKind::kLiteral: ++s.literals; break;
      case TokenKind::kDoubleStar:
        ++s.double_stars;
        ++s.wildcards;
        break;
      case TokenKind::kStar:
      case TokenKind::kOne: ++s.wildcards; break;
    }
  }
  // In a tag glob every "*" and "?" is one wildcard ("**" means nothing more than "*").
  s.has_tag = !tag_glob.empty();
  const std::size_t tag_wild = tag_glob.find_first_of("*?");
  s.tag_literal_prefix = tag_wild == std::string_view::npos ? tag_glob.size() : tag_wild;
  for (char c : tag_glob) {
    if (c == '*' || c == '?') {
      ++s.tag_wildcards;
    } else {
      ++s.tag_literals;
    }
  }
  return s;
}

// True if rule a is more specific than rule b (header comment of policy.h): the name globs
// first; a tag glob only ever adds specificity to its name glob.
bool more_specific(const Rule& a, const Rule& b) {
  const Specificity& x = a.specificity;
  const Specificity& y = b.specificity;
  if (x.literal_prefix != y.literal_prefix) return x.literal_prefix > y.literal_prefix;
  if (x.double_stars != y.double_stars) return x.double_stars < y.double_stars;
  if (x.wildcards != y.wildcards) return x.wildcards < y.wildcards;
  if (x.literals != y.literals) return x.literals > y.literals;
  if (x.has_tag != y.has_tag) return x.has_tag;
  if (x.tag_literal_prefix != y.tag_literal_prefix) {
    return x.tag_literal_prefix > y.tag_literal_prefix;
  }
  if (x.tag_wildcards != y.tag_wildcards) return x.tag_wildcards < y.tag_wildcards;
  if (x.tag_literals != y.tag_literals) return x.tag_literals > y.tag_literals;
  return a.index < b.index;
}

bool pattern_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-' || c == '/' || c == ':' || c == '[' || c == ']' || c == '*' ||
         c == '?';
}

// ---- The builder ----

}  // namespace

class PolicyBuilder {
 public:
  explicit PolicyBuilder(std::vector<PolicyProblem>& problems) : problems_(problems) {}

  void build(const json::Value& doc, Policy& out) {
    const json::Object* root = object(doc, "");
    if (root == nullptr) return;
    static constexpr std::string_view kFields[] = {"version", "unmatched", "teams",
                                                   "teams_from", "trust", "rules"};
    fields(*root, "", kFields);
    if (const json::Value* v = root->find("version")) {
      if (!v->is_int()) {
        wrong_type("version", *v, "an integer");
      } else if (v->as_int() != 1) {
        problem("version", Reason::kBadVersion,
                "unsupported policy version " + std::to_string(v->as_int()) + " (1 is supported)");
      }
    }
    if (auto s = string_field(*root, "", "unmatched", false)) {
      if (*s == "deny") {
        out.unmatched_ = RuleAction::kDeny;
      } else if (*s == "allow") {
        out.unmatched_ = RuleAction::kAllow;
      } else {
        problem("unmatched", Reason::kMalformed,
                "must be \"deny\" or \"allow\", not " + quoted(*s));
      }
    }
    if (const json::Value* v = root->find("teams")) teams(*v, out);
    if (const json::Value* v = root->find("trust")) trust(*v, out);
    if (const json::Value* v = root->find("teams_from")) teams_from(*v, out);
    if (const json::Value* v = root->find("rules")) rules(*v, out);
  }

 private:
  void problem(std::string path, Reason reason, std::string message) {
    problems_.push_back({std::move(path), reason, std::move(message)});
  }

  void wrong_type(const std::string& path, const json::Value& v, std::string_view want) {
    problem(path, Reason::kWrongType,
            "expected " + std::string(want) + ", found " + std::string(article_type(v.type())));
  }

  const json::Object* object(const json::Value& v, const std::string& path) {
    if (!v.is_object()) {
      wrong_type(path, v, "an object");
      return nullptr;
    }
    return &v.as_object();
  }

  const json::Array* array(const json::Value& v, const std::string& path) {
    if (!v.is_array()) {
      wrong_type(path, v, "an array");
      return nullptr;
    }
    return &v.as_array();
  }

  void fields(const json::Object& obj, const std::string& path,
              std::span<const std::string_view> allowed) {
    for (const auto& [key, value] : obj) {
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        problem(at(path, key), Reason::kMalformed, "unknown field" + suggest(key, allowed));
      }
    }
  }

  std::optional<std::string> string_field(const json::Object& obj, const std::string& path,
                                          std::string_view key, bool required) {
    const json::Value* v = obj.find(key);
    if (v == nullptr) {
      if (required) problem(at(path, key), Reason::kMalformed, "is required");
      return std::nullopt;
    }
    if (!v->is_string()) {
      wrong_type(at(path, key), *v, "a string");
      return std::nullopt;
    }
    if (v->as_string().empty()) {
      problem(at(path, key), Reason::kMalformed, "must not be empty");
      return std::nullopt;
    }
    return v->as_string();
  }

  // An optional PEM certificate bundle (a trust section's tls_ca and root_ca) into `out`; left
  // unchanged when absent or invalid.
  void certificate_bundle_field(const json::Object& obj, const std::string& path,
                                std::string_view key, std::vector<keys::Certificate>& out) {
    auto pem = string_field(obj, path, key, false);
    if (!pem) return;
    auto certs = keys::parse_certificate_bundle(*pem);
    if (!certs) {
      problem(at(path, key), certs.error().reason,
              "not a PEM certificate bundle: " + certs.error().message);
      return;
    }
    out = std::move(*certs);
  }

  std::optional<bool> bool_field(const json::Object& obj, const std::string& path,
                                 std::string_view key) {
    const json::Value* v = obj.find(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_bool()) {
      wrong_type(at(path, key), *v, "a boolean");
      return std::nullopt;
    }
    return v->as_bool();
  }

  // A non-empty array of non-empty strings; nullopt (with problems) otherwise.
  std::optional<std::vector<std::string>> string_list(const json::Value& v,
                                                      const std::string& path) {
    const json::Array* arr = array(v, path);
    if (arr == nullptr) return std::nullopt;
    if (arr->empty()) {
      problem(path, Reason::kMalformed, "must not be empty");
      return std::nullopt;
    }
    std::vector<std::string> out;
    bool ok = true;
    for (std::size_t i = 0; i < arr->size(); ++i) {
      const json::Value& item = (*arr)[i];
      if (!item.is_string()) {
        wrong_type(at(path, i), item, "a string");
        ok = false;
      } else if (item.as_string().empty()) {
        problem(at(path, i), Reason::kMalformed, "must not be empty");
        ok = false;
      } else if (std::find(out.begin(), out.end(), item.as_string()) != out.end()) {
        problem(at(path, i), Reason::kDuplicateKey, quoted(item.as_string()) + " is listed twice");
        ok = false;
      } else {
        out.push_back(item.as_string());
      }
    }
    if (!ok) return std::nullopt;
    return out;
  }

  // ---- teams ----

  static bool valid_team_name(std::string_view name) {
    auto alnum = [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    };
    return !name.empty() && name.size() <= kMaxTeamName && alnum(name.front()) &&
           std::all_of(name.begin(), name.end(),
                       [&](char c) { return alnum(c) || c == '.' || c == '_' || c == '-'; });
  }

  void teams(const json::Value& v, Policy& out) {
    const json::Object* obj = object(v, "teams");
    if (obj == nullptr) return;
    // Key ID -> (member name, path of the member), to refuse a key shared by two people.
    std::map<std::string, std::pair<std::string, std::string>, std::less<>> key_holders;
    for (const auto& [name, team_value] : *obj) {
      const std::string path = at("teams", name);
      if (!valid_team_name(name)) {
        problem(path, Reason::kMalformed,
                "invalid team name: use letters, digits, '.', '_' and '-' (at most " +
                    std::to_string(kMaxTeamName) +
                    " characters, starting with a letter or "
                    "digit)");
      }
      const json::Object* team_obj = object(team_value, path);
      if (team_obj == nullptr) continue;
      static constexpr std::string_view kFields[] = {"members"};
      fields(*team_obj, path, kFields);
      Team team;
      team.name = name;
      known_teams_.insert(name);
      const json::Value* members_value = team_obj->find("members");
      if (members_value == nullptr) {
        problem(at(path, "members"), Reason::kMalformed, "is required");
        continue;
      }
      const json::Array* members = array(*members_value, at(path, "members"));
      if (members == nullptr) continue;
      if (members->empty()) {
        problem(at(path, "members"), Reason::kMalformed, "a team needs at least one member");
      }
      for (std::size_t i = 0; i < members->size(); ++i) {
        const std::string mpath = at(at(path, "members"), i);
        if (auto m = member((*members)[i], mpath, team, key_holders)) {
          team.members.push_back(std::move(*m));
        }
      }
      team_member_names_[name] = {};
      for (const auto& m : team.members) team_member_names_[name].insert(m.name);
      out.teams_.push_back(std::move(team));
    }
  }

  std::optional<Member> member(
      const json::Value& v, const std::string& path, const Team& team,
      std::map<std::string, std::pair<std::string, std::string>, std::less<>>& key_holders) {
    const json::Object* obj = object(v, path);
    if (obj == nullptr) return std::nullopt;
    static constexpr std::string_view kFields[] = {"name", "keys"};
    fields(*obj, path, kFields);
    Member m;
    bool ok = true;
    if (auto name = string_field(*obj, path, "name", true)) {
      if (name->size() > kMaxMemberName || has_control(*name)) {
        problem(at(path, "name"), Reason::kMalformed,
                "a member name has at most " + std::to_string(kMaxMemberName) +
                    " characters and no control characters");
        ok = false;
      } else if (std::any_of(team.members.begin(), team.members.end(),
                             [&](const Member& other) { return other.name == *name; })) {
        problem(at(path, "name"), Reason::kDuplicateKey,
                "member " + quoted(*name) + " is listed twice in team " + quoted(team.name));
        ok = false;
      }
      m.name = std::move(*name);
    } else {
      ok = false;
    }
    const json::Value* keys_value = obj->find("keys");
    if (keys_value == nullptr) {
      problem(at(path, "keys"), Reason::kMalformed, "is required");
      return std::nullopt;
    }
    const json::Array* key_list = array(*keys_value, at(path, "keys"));
    if (key_list == nullptr) return std::nullopt;
    if (key_list->empty()) {
      problem(at(path, "keys"), Reason::kMalformed, "a member needs at least one key");
      ok = false;
    }
    for (std::size_t i = 0; i < key_list->size(); ++i) {
      const std::string kpath = at(at(path, "keys"), i);
      const json::Value& kv = (*key_list)[i];
      if (!kv.is_string()) {
        wrong_type(kpath, kv, "a string (a PEM public key or certificate)");
        ok = false;
        continue;
      }
      auto key = keys::parse_public_key_pem(kv.as_string());
      if (!key) {
        problem(kpath, key.error().reason,
                "not a usable PEM public key or certificate: " + key.error().message);
        ok = false;
        continue;
      }
      MemberKey mk = MemberKey::of(*key);
      if (std::any_of(m.keys.begin(), m.keys.end(),
                      [&](const MemberKey& other) { return other.id == mk.id; })) {
        problem(kpath, Reason::kDuplicateKey,
                "key " + mk.id +
                    " is listed twice for this member (a certificate and its "
                    "public key are the same key)");
        ok = false;
        continue;
      }
      if (auto holder = key_holders.find(mk.id);
          holder != key_holders.end() && holder->second.first != m.name) {
        problem(kpath, Reason::kDuplicateKey,
                "key " + mk.id + " already belongs to member " + quoted(holder->second.first) +
                    " (" + holder->second.second + "); a key identifies one person");
        ok = false;
        continue;
      }
      key_holders.emplace(mk.id, std::make_pair(m.name, path));
      m.keys.push_back(std::move(mk));
    }
    if (!ok) return std::nullopt;
    return m;
  }

  // ---- trust ----

  static bool valid_prefix(std::string_view p) {
    return !p.empty() && std::all_of(p.begin(), p.end(), [](char c) {
      return pattern_char(c) && c != '*' && c != '?';
    });
  }

  void trust(const json::Value& v, Policy& out) {
    const json::Array* arr = array(v, "trust");
    if (arr == nullptr) return;
    for (std::size_t i = 0; i < arr->size(); ++i) {
      const std::string path = at("trust", i);
      const json::Object* obj = object((*arr)[i], path);
      if (obj == nullptr) continue;
      TrustSection t = section(*obj, path, "prefix");
      if (!t.prefix.empty() && valid_prefix(t.prefix) &&
          std::any_of(out.trust_.begin(), out.trust_.end(),
                      [&](const TrustSection& o) { return o.prefix == t.prefix; })) {
        problem(at(path, "prefix"), Reason::kDuplicateKey,
                "prefix " + quoted(t.prefix) + " has another trust section already");
      }
      // Kept even with problems (the policy is refused anyway) so that rules it covers are
      // not reported as uncovered too; only a section without a usable prefix is left out.
      if (!t.prefix.empty() && valid_prefix(t.prefix) &&
          std::none_of(out.trust_.begin(), out.trust_.end(),
                       [&](const TrustSection& o) { return o.prefix == t.prefix; })) {
        t.id = trust_section_id(t);
        out.trust_.push_back(std::move(t));
      }
    }
  }

  // One trust section's fields (the `trust` entries, and `teams_from` whose repository field
  // is "roster" instead of "prefix"). Problems are reported; the section is returned anyway.
  TrustSection section(const json::Object& object_value, const std::string& path,
                       std::string_view prefix_field) {
    const json::Object* obj = &object_value;
    const std::string_view kFields[] = {
        prefix_field, "server", "tls_ca", "credentials", "root_keys", "root_ca", "tofu",
        "strict_pinning"};
    fields(*obj, path, kFields);
    TrustSection t;
    if (auto prefix = string_field(*obj, path, prefix_field, true)) {
      std::string p = *prefix;
      while (!p.empty() && p.back() == '/') p.pop_back();
      if (!valid_prefix(p)) {
        problem(at(path, prefix_field), Reason::kBadGun,
                "not a repository name prefix (no wildcards; letters, digits and . _ - / : "
                "[ ])");
      }
      t.prefix = std::move(p);
    }
    if (auto server = string_field(*obj, path, "server", true)) {
      constexpr std::string_view kHttps = "https://";
      if (!server->starts_with(kHttps) || server->size() == kHttps.size() ||
          (*server)[kHttps.size()] == '/' ||
          server->find_first_of(" \t\r\n") != std::string::npos || has_control(*server)) {
        problem(at(path, "server"), Reason::kMalformed,
                "must be an https:// URL with a host, e.g. https://notary.example.com:4443");
      }
      t.server = std::move(*server);
    }
    certificate_bundle_field(*obj, path, "tls_ca", t.tls_ca);
    if (const json::Value* c = obj->find("credentials")) {
      if (auto creds = credentials(*c, at(path, "credentials")))
        t.credentials = std::move(*creds);
    }
    if (const json::Value* rk = obj->find("root_keys")) {
      if (auto ids = string_list(*rk, at(path, "root_keys"))) {
        for (std::size_t k = 0; k < ids->size(); ++k) {
          if (!is_lower_hex64((*ids)[k])) {
            problem(at(at(path, "root_keys"), k), Reason::kMalformed,
                    "a root key ID is 64 lower-case hex digits (the root key's ID as "
                    "`vouch key list` shows it, or its certificate's ID in root.json)");
          }
        }
        t.root_keys = std::move(*ids);
      }
    }
    certificate_bundle_field(*obj, path, "root_ca", t.root_ca);
    t.tofu = bool_field(*obj, path, "tofu").value_or(false);
    t.strict_pinning = bool_field(*obj, path, "strict_pinning").value_or(false);
    if (obj->find("root_keys") == nullptr && obj->find("root_ca") == nullptr && !t.tofu) {
      problem(path, Reason::kMalformed,
              "no root pin: set root_keys or root_ca, or tofu: true to trust the first root "
              "the server presents");
    }
    return t;
  }

  // teams_from: one {roster, server, tls_ca?, credentials?, root_keys?, root_ca?, tofu?,
  // strict_pinning?} or a list of them; each roster repository "<host>/_roster/<org>" makes its
  // org's teams known as "<org>/<team>" (their members come from the roster at decision time).
  void teams_from(const json::Value& v, Policy& out) {
    std::vector<std::pair<const json::Value*, std::string>> entries;
    if (v.is_array()) {
      for (std::size_t i = 0; i < v.as_array().size(); ++i) {
        entries.emplace_back(&v.as_array()[i], at("teams_from", i));
      }
    } else {
      entries.emplace_back(&v, "teams_from");
    }
    for (const auto& [value, path] : entries) {
      const json::Object* obj = object(*value, path);
      if (obj == nullptr) continue;
      RosterSource source;
      source.section = section(*obj, path, "roster");
      source.org = tuf::roster_gun_org(source.section.prefix);
      if (source.org.empty()) {
        if (obj->find("roster") != nullptr) {
          problem(at(path, "roster"), Reason::kBadGun,
                  "not a roster repository: <host>/_roster/<org>");
        }
        continue;
      }
      if (std::any_of(out.rosters_.begin(), out.rosters_.end(),
                      [&](const RosterSource& o) { return o.org == source.org; })) {
        problem(at(path, "roster"), Reason::kDuplicateKey,
                "the teams of org " + quoted(source.org) + " come from another roster already");
        continue;
      }
      source.section.id = trust_section_id(source.section);
      roster_orgs_.insert(source.org);
      out.rosters_.push_back(std::move(source));
    }
  }

  // "<org>/<team>" of an org whose teams come from a roster.
  bool roster_team(std::string_view name) const {
    const auto slash = name.find('/');
    return slash != std::string_view::npos && slash > 0 && slash + 1 < name.size() &&
           roster_orgs_.contains(name.substr(0, slash));
  }

  std::optional<CredentialsRef> credentials(const json::Value& v, const std::string& path) {
    const json::Object* obj = object(v, path);
    if (obj == nullptr) return std::nullopt;
    static constexpr std::string_view kFields[] = {"username", "password_file", "password_env",
                                                   "token_file", "token_env"};
    fields(*obj, path, kFields);
    CredentialsRef c;
    const std::size_t before = problems_.size();
    c.username = string_field(*obj, path, "username", false).value_or("");
    c.password_file = string_field(*obj, path, "password_file", false).value_or("");
    c.password_env = string_field(*obj, path, "password_env", false).value_or("");
    c.token_file = string_field(*obj, path, "token_file", false).value_or("");
    c.token_env = string_field(*obj, path, "token_env", false).value_or("");
    if (problems_.size() != before) return std::nullopt;
    const int sources = int{!c.password_file.empty()} + int{!c.password_env.empty()} +
                        int{!c.token_file.empty()} + int{!c.token_env.empty()};
    if (sources != 1) {
      problem(path, Reason::kMalformed,
              "exactly one of password_file, password_env, token_file, token_env is needed");
      return std::nullopt;
    }
    const bool password = !c.password_file.empty() || !c.password_env.empty();
    if (password && c.username.empty()) {
      problem(at(path, "username"), Reason::kMalformed, "is required with a password");
      return std::nullopt;
    }
    if (!password && !c.username.empty()) {
      problem(at(path, "username"), Reason::kMalformed, "is not used with a token");
      return std::nullopt;
    }
    for (const std::string* env : {&c.password_env, &c.token_env}) {
      if (env->empty()) continue;
      const bool valid = !((*env)[0] >= '0' && (*env)[0] <= '9') &&
                         std::all_of(env->begin(), env->end(), [](char ch) {
                           return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                                  (ch >= '0' && ch <= '9') || ch == '_';
                         });
      if (!valid) {
        problem(at(path, env == &c.password_env ? "password_env" : "token_env"), Reason::kMalformed,
                "not an environment variable name");
        return std::nullopt;
      }
    }
    return c;
  }

  // ---- rules ----

  void rules(const json::Value& v, Policy& out) {
    const json::Array* arr = array(v, "rules");
    if (arr == nullptr) return;
    for (std::size_t i = 0; i < arr->size(); ++i) {
      if (auto r = rule((*arr)[i], at("rules", i), i, out)) out.rules_.push_back(std::move(*r));
    }
  }

  std::optional<Rule> rule(const json::Value& v, const std::string& path, std::size_t index,
                           const Policy& out) {
    const json::Object* obj = object(v, path);
    if (obj == nullptr) return std::nullopt;
    static constexpr std::string_view kFields[] = {"name",  "pattern", "require",
                                                   "allow", "deny",    "mode"};
    fields(*obj, path, kFields);
    Rule r;
    r.index = index;
    const std::size_t before = problems_.size();
    if (auto pattern = string_field(*obj, path, "pattern", true)) {
      r.pattern = *pattern;
      check_pattern(r, at(path, "pattern"), out);
    }
    if (auto name = string_field(*obj, path, "name", false)) {
      if (name->size() > kMaxRuleName || has_control(*name)) {
        problem(at(path, "name"), Reason::kMalformed,
                "a rule name has at most " + std::to_string(kMaxRuleName) +
                    " characters and no control characters");
      }
      r.name = *name;
    } else {
      r.name = r.pattern;
    }
    if (!r.name.empty()) {
      for (const Rule& other : out.rules_) {
        // A defaulted name repeats only with a repeated pattern, reported already.
        if (other.name == r.name && !(obj->find("name") == nullptr && other.pattern == r.pattern)) {
          problem(at(path, obj->find("name") ? "name" : "pattern"), Reason::kDuplicateKey,
                  "rule name " + quoted(r.name) + " is used by rules[" +
                      std::to_string(other.index) + "] already");
          break;
        }
      }
    }
    if (auto mode = string_field(*obj, path, "mode", false)) {
      if (auto parsed = value_of(kModeNames, *mode)) {
        r.mode = *parsed;
      } else {
        problem(at(path, "mode"), Reason::kMalformed,
                "must be \"enforce\", \"warn\" or \"audit\", not " + quoted(*mode));
      }
    }
    const int actions = int{obj->find("require") != nullptr} + int{obj->find("allow") != nullptr} +
                        int{obj->find("deny") != nullptr};
    if (actions != 1) {
      problem(path, Reason::kMalformed,
              "a rule needs exactly one of require, allow: true, deny: true");
    } else if (const json::Value* req = obj->find("require")) {
      r.action = RuleAction::kRequire;
      requirement(*req, at(path, "require"), r, out);
    } else {
      const bool allow = obj->find("allow") != nullptr;
      const std::string key = allow ? "allow" : "deny";
      r.action = allow ? RuleAction::kAllow : RuleAction::kDeny;
      if (auto b = bool_field(*obj, path, key); b && !*b) {
        problem(at(path, key), Reason::kMalformed,
                "must be true (to " + std::string(allow ? "verify" : "not deny") +
                    ", use another action)");
      }
    }
    if (problems_.size() != before) return std::nullopt;
    return r;
  }

  void check_pattern(Rule& r, const std::string& path, const Policy& out) {
    const std::string& p = r.pattern;
    if (p.size() > kMaxPattern) {
      problem(path, Reason::kTooLarge,
              "longer than " + std::to_string(kMaxPattern) + " characters");
      return;
    }
    if (!std::all_of(p.begin(), p.end(), pattern_char)) {
      problem(path, Reason::kMalformed,
              "a pattern has the characters of image names (letters, digits, . _ - / : [ ]) "
              "and the wildcards * ** ?");
      return;
    }
    if (p.find("***") != std::string::npos) {
      problem(path, Reason::kMalformed, "\"***\" is not a wildcard (use * or **)");
      return;
    }
    const std::size_t last_slash = p.rfind('/');
    const std::size_t colon = p.find(':', last_slash == std::string::npos ? 0 : last_slash);
    r.name_glob = p.substr(0, colon);
    if (colon != std::string::npos) {
      r.tag_glob = p.substr(colon + 1);
      if (r.tag_glob.empty() || r.tag_glob.find_first_of("/:[]") != std::string::npos) {
        problem(path, Reason::kMalformed,
                "the tag part after the last ':' must be a tag or a tag glob");
        return;
      }
    }
    if (r.name_glob.find('/') == std::string::npos) {
      if (r.name_glob.find("**") == std::string::npos) {
        problem(path, Reason::kMalformed,
                "matches no image: every normalized name has a registry and a path "
                "(\"docker.io/library/nginx\"); \"**\" matches every image");
        return;
      }
    } else {
      const std::string first = r.name_glob.substr(0, r.name_glob.find('/'));
      const bool wild = first.find_first_of("*?") != std::string::npos;
      const bool upper =
          std::any_of(first.begin(), first.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
      if (!wild && !upper && first != "localhost" &&
          first.find_first_of(".:") == std::string::npos) {
        problem(path, Reason::kMalformed,
                "has no registry: patterns match normalized names, e.g. " +
                    quoted("docker.io/" + r.name_glob));
        return;
      }
    }
    for (const Rule& other : out.rules_) {
      if (other.pattern == p) {
        problem(path, Reason::kDuplicateKey,
                "rules[" + std::to_string(other.index) +
                    "] has the same pattern; this rule could never apply");
        return;
      }
    }
    r.specificity = specificity_of(r.name_glob, r.tag_glob);
  }

  void requirement(const json::Value& v, const std::string& path, Rule& r, const Policy& out) {
    const json::Object* obj = object(v, path);
    if (obj == nullptr) return;
    static constexpr std::string_view kFields[] = {"all-of", "any-of", "min-signers", "roles",
                                                   "allow-same-member"};
    fields(*obj, path, kFields);
    const json::Value* all = obj->find("all-of");
    const json::Value* any = obj->find("any-of");
    if ((all == nullptr) == (any == nullptr)) {
      problem(path, Reason::kMalformed, "needs exactly one of all-of, any-of");
      return;
    }
    Requirement& req = r.require;
    req.combine = all != nullptr ? TeamsCombine::kAllOf : TeamsCombine::kAnyOf;
    const std::string tpath = at(path, all != nullptr ? "all-of" : "any-of");
    bool teams_known = false;
    bool from_roster = false;
    if (auto teams = string_list(all != nullptr ? *all : *any, tpath)) {
      teams_known = true;
      for (std::size_t i = 0; i < teams->size(); ++i) {
        if (roster_team((*teams)[i])) {
          from_roster = true;  // its members are known at decision time only
        } else if (known_teams_.count((*teams)[i]) == 0) {
          problem(at(tpath, i), Reason::kNotFound, "unknown team " + quoted((*teams)[i]));
          teams_known = false;
        }
      }
      req.teams = std::move(*teams);
    }
    if (const json::Value* same = obj->find("allow-same-member")) {
      if (!same->is_bool()) {
        wrong_type(at(path, "allow-same-member"), *same, "true or false");
      } else if (any != nullptr) {
        problem(at(path, "allow-same-member"), Reason::kMalformed,
                "applies to all-of only (any-of needs one team)");
      } else {
        req.allow_same_member = same->as_bool();
      }
    }
    if (teams_known && !from_roster && all != nullptr && !req.allow_same_member &&
        std::set<std::string>(req.teams.begin(), req.teams.end()).size() == req.teams.size()) {
      std::map<std::string, std::set<std::string>> members_of;
      for (const auto& t : req.teams) {
        const auto& names = team_member_names_[t];
        members_of[t] = std::set<std::string>(names.begin(), names.end());
      }
      // (A team without a usable member has its own problem reported already.)
      const bool all_have_members = std::all_of(
          members_of.begin(), members_of.end(), [](const auto& t) { return !t.second.empty(); });
      const auto assigned = assign_distinct_members(req.teams, members_of);
      if (all_have_members && assigned.size() < req.teams.size()) {
        std::vector<std::string> left;
        for (const auto& t : req.teams) {
          if (assigned.count(t) == 0) left.push_back(quoted(t));
        }
        std::string names;
        for (const auto& l : left) names += (names.empty() ? "" : ", ") + l;
        problem(at(path, "all-of"), Reason::kMalformed,
                "can never be met: one person counts for one team, and the teams do not have "
                "enough distinct members (nobody left for " +
                    names + "); add members, or set allow-same-member: true");
      }
    }
    if (const json::Value* m = obj->find("min-signers")) {
      if (!m->is_int()) {
        wrong_type(at(path, "min-signers"), *m, "an integer");
      } else if (m->as_int() < 1) {
        problem(at(path, "min-signers"), Reason::kMalformed, "must be at least 1");
      } else {
        req.min_signers = m->as_int();
        if (teams_known && !from_roster) {
          std::set<std::string> members;
          for (const auto& t : req.teams) {
            const auto& names = team_member_names_[t];
            members.insert(names.begin(), names.end());
          }
          if (static_cast<std::size_t>(req.min_signers) > members.size()) {
            problem(at(path, "min-signers"), Reason::kMalformed,
                    "can never be met: the listed teams have " + std::to_string(members.size()) +
                        " distinct member(s)");
          }
        }
      }
    }
    if (const json::Value* roles = obj->find("roles")) {
      if (auto list = string_list(*roles, at(path, "roles"))) {
        for (std::size_t i = 0; i < list->size(); ++i) {
          const std::string& role = (*list)[i];
          if (role != tuf::kTargetsRole && !tuf::is_delegation_role(role)) {
            problem(at(at(path, "roles"), i), Reason::kBadRole,
                    "not a targets role: \"targets\" or a delegation such as "
                    "\"targets/releases\"");
          }
        }
        req.roles = std::move(*list);
      }
    }
    // The images of this rule must be verifiable at all: some trust section must be able to
    // cover a name the pattern matches.
    if (!r.name_glob.empty()) {
      const std::string literal = r.name_glob.substr(0, r.name_glob.find_first_of("*?"));
      const bool exact = literal.size() == r.name_glob.size();
      const bool covered =
          std::any_of(out.trust_.begin(), out.trust_.end(), [&](const TrustSection& t) {
            return exact ? t.covers(literal)
                         : literal.starts_with(t.prefix) || t.prefix.starts_with(literal);
          });
      if (!covered) {
        problem(path, Reason::kNotFound,
                "no trust section covers the images of pattern " + quoted(r.pattern) +
                    ": add a trust entry with their registry's trust server");
      }
    }
  }

  std::vector<PolicyProblem>& problems_;
  std::set<std::string, std::less<>> known_teams_;
  std::set<std::string, std::less<>> roster_orgs_;
  std::map<std::string, std::set<std::string>, std::less<>> team_member_names_;
};

// ---- Glob ----

bool glob_match(std::string_view glob, std::string_view text, bool path_aware) {
  const std::vector<Token> tokens = tokenize(glob);
  const std::size_t n = text.size();
  // next[j]: tokens i+1.. match text[j..]; cur[j]: tokens i.. match text[j..].
  std::vector<char> next(n + 1, 0);
  std::vector<char> cur(n + 1, 0);
  next[n] = 1;
  for (std::size_t ii = tokens.size(); ii-- > 0;) {
    const Token& t = tokens[ii];
    for (std::size_t jj = n + 1; jj-- > 0;) {
      const bool more = jj < n;
      char ok = 0;
      switch (t.kind) {
        case TokenKind::kLiteral:
          ok = static_cast<char>(more && text[jj] == t.c && next[jj + 1]);
          break;
        case TokenKind::kOne:
          ok = static_cast<char>(more && !(path_aware && text[jj] == '/') && next[jj + 1]);
          break;
        case TokenKind::kStar:
          ok = static_cast<char>(next[jj] ||
                                 (more && !(path_aware && text[jj] == '/') && cur[jj + 1]));
          break;
        case TokenKind::kDoubleStar:
          ok = static_cast<char>(next[jj] || (more && cur[jj + 1]));
          break;
      }
      cur[jj] = ok;
    }
    std::swap(cur, next);
    std::fill(cur.begin(), cur.end(), 0);
  }
  return next[0] != 0;
}

// ---- Model ----

std::string_view to_string(Mode mode) { return name_of(kModeNames, mode); }

constexpr EnumName<RuleAction> kActionNames[] = {
    {RuleAction::kAllow, "allow"}, {RuleAction::kDeny, "deny"}, {RuleAction::kRequire, "require"}};
static_assert(lists_every_value(kActionNames, RuleAction::kRequire));

std::string_view to_string(RuleAction action) { return name_of(kActionNames, action); }

namespace {
void add_id_field(std::string& out, std::string_view name, std::string_view value) {
  // Length-prefixed, so that no two sections serialize alike.
  out += name;
  out += ':';
  out += std::to_string(value.size());
  out += ':';
  out += value;
  out += ';';
}
}  // namespace

std::string trust_section_id(const TrustSection& section) {
  std::string s;
  add_id_field(s, "prefix", section.prefix);
  add_id_field(s, "server", section.server);
  for (const auto& c : section.tls_ca) add_id_field(s, "tls_ca", c.pem());
  if (section.credentials) {
    const CredentialsRef& c = *section.credentials;
    add_id_field(s, "username", c.username);
    add_id_field(s, "password_file", c.password_file);
    add_id_field(s, "password_env", c.password_env);
    add_id_field(s, "token_file", c.token_file);
    add_id_field(s, "token_env", c.token_env);
  }
  for (const auto& k : section.root_keys) add_id_field(s, "root_key", k);
  for (const auto& c : section.root_ca) add_id_field(s, "root_ca", c.pem());
  add_id_field(s, "tofu", section.tofu ? "1" : "0");
  if (section.strict_pinning) add_id_field(s, "strict_pinning", "1");
  return keys::sha256_hex(as_bytes(s));
}

bool TrustSection::covers(std::string_view gun) const {
  if (!gun.starts_with(prefix)) return false;
  return gun.size() == prefix.size() || gun[prefix.size()] == '/';
}

tuf::TrustPinning TrustSection::pinning_for(std::string_view gun) const {
  tuf::TrustPinning pinning;
  if (!root_keys.empty()) pinning.certs.emplace(std::string(gun), root_keys);
  if (!root_ca.empty()) pinning.ca.emplace(std::string(gun), root_ca);
  pinning.disable_tofu = !tofu;
  pinning.anchor_only = !strict_pinning;
  // A root key's canonical ID pins every repository made with it; its certificate ID, one.
  pinning.certs_match_canonical_id = true;
  pinning.certs_source = "root_keys of the trust section for \"" + prefix + "\"";
  pinning.ca_source = "root_ca of the trust section for \"" + prefix + "\"";
  return pinning;
}

bool Rule::matches(const ImageRef& image) const {
  if (!glob_match(name_glob, image.name(), true)) return false;
  if (tag_glob.empty()) return true;
  return image.has_tag() && glob_match(tag_glob, image.tag, false);
}

bool Policy::has_tag_rule_for(const ImageRef& image) const {
  const std::string name = image.name();
  return std::any_of(rules_.begin(), rules_.end(), [&](const Rule& r) {
    return !r.tag_glob.empty() && glob_match(r.name_glob, name, true);
  });
}

namespace {

// Kuhn's augmenting path from `team`: true if it gets a member, possibly by moving others.
bool augment(const std::string& team,
             const std::map<std::string, std::set<std::string>>& members_of,
             std::map<std::string, std::string>& team_of, std::set<std::string>& visited) {
  auto it = members_of.find(team);
  if (it == members_of.end()) return false;
  for (const std::string& member : it->second) {
    if (!visited.insert(member).second) continue;
    auto held = team_of.find(member);
    if (held == team_of.end() || augment(held->second, members_of, team_of, visited)) {
      team_of[member] = team;
      return true;
    }
  }
  return false;
}

}  // namespace

std::map<std::string, std::string> assign_distinct_members(
    const std::vector<std::string>& teams,
    const std::map<std::string, std::set<std::string>>& members_of) {
  std::map<std::string, std::string> team_of;  // member -> team
  for (const std::string& team : teams) {
    std::set<std::string> visited;
    augment(team, members_of, team_of, visited);
  }
  std::map<std::string, std::string> out;
  for (const auto& [member, team] : team_of) out[team] = member;
  return out;
}

const Team* Policy::team(std::string_view name) const {
  for (const Team& t : teams_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

const Rule* Policy::match(const ImageRef& image) const {
  const Rule* best = nullptr;
  for (const Rule& r : rules_) {
    if (r.matches(image) && (best == nullptr || more_specific(r, *best))) best = &r;
  }
  return best;
}

const TrustSection* Policy::trust_for(std::string_view gun) const {
  const TrustSection* best = nullptr;
  for (const TrustSection& t : trust_) {
    if (t.covers(gun) && (best == nullptr || t.prefix.size() > best->prefix.size())) best = &t;
  }
  return best;
}

const std::vector<KeyOwner>& Policy::owners_of(std::string_view canonical_id) const {
  static const std::vector<KeyOwner> kNone;
  auto it = owners_.find(canonical_id);
  return it == owners_.end() ? kNone : it->second;
}

std::vector<std::string> Policy::member_names(std::string_view team_name) const {
  std::vector<std::string> out;
  if (const Team* t = team(team_name)) {
    for (const Member& m : t->members) out.push_back(m.name);
  }
  return out;
}

const RosterSource* Policy::roster_for(std::string_view team_name) const {
  const auto slash = team_name.find('/');
  if (slash == std::string_view::npos) return nullptr;
  for (const RosterSource& r : rosters_) {
    if (r.org == team_name.substr(0, slash)) return &r;
  }
  return nullptr;
}

Policy Policy::with_teams(std::vector<Team> teams, std::string_view version_suffix) const {
  Policy out = *this;
  for (Team& team : teams) {
    for (const Member& member : team.members) {
      for (const MemberKey& key : member.keys) {
        out.owners_[key.id].push_back(KeyOwner{team.name, member.name, key.validity});
      }
    }
    out.teams_.push_back(std::move(team));
  }
  out.version_ += version_suffix;
  return out;
}

std::vector<PolicyProblem> check_policy(const json::Value& document) {
  std::vector<PolicyProblem> problems;
  Policy scratch;
  PolicyBuilder(problems).build(document, scratch);
  return problems;
}

Result<Policy> Policy::from_json(const json::Value& document) {
  std::vector<PolicyProblem> problems;
  Policy policy;
  PolicyBuilder(problems).build(document, policy);
  if (!problems.empty()) {
    // Every problem, so that one edit fixes them all (one line, for logs).
    std::string message = "policy: ";
    if (problems.size() > 1) message += std::to_string(problems.size()) + " problems: ";
    for (std::size_t i = 0; i < problems.size(); ++i) {
      const PolicyProblem& p = problems[i];
      if (i > 0) message += "; ";
      message += p.path.empty() ? p.message : p.path + ": " + p.message;
    }
    return make_error(problems.front().reason, std::move(message));
  }
  for (const Team& team : policy.teams_) {
    for (const Member& member : team.members) {
      for (const MemberKey& key : member.keys) {
        policy.owners_[key.id].push_back(
            KeyOwner{team.name, member.name, key.validity});
      }
    }
  }
  policy.version_ = keys::sha256_hex(as_bytes(json::canonical(document)));
  return policy;
}

Result<Policy> Policy::parse(std::string_view text, PolicyFormat format,
                             const DocumentLimits& limits) {
  Result<json::Value> document = [&]() -> Result<json::Value> {
    if (format == PolicyFormat::kYaml) return yaml_to_json(text, limits);
    json::ParseLimits json_limits;
    json_limits.max_bytes = limits.max_bytes;
    json_limits.max_depth = limits.max_depth;
    return json::parse(text, json_limits);
  }();
  if (!document) return std::move(document).error().wrap("policy");
  return from_json(*document);
}

}  // namespace vouch::verifier
