#include "tuf/roster.h"

#include <set>
#include <utility>

#include "common/encoding.h"

namespace vouch::tuf {

namespace {

Error invalid(Reason reason, std::string message) {
  return make_error(Code::kInvalidArgument, reason, std::move(message));
}

// A name as messages quote it: bounded, so that a huge hostile name cannot flood a log line.
std::string quoted(std::string_view name) {
  constexpr std::size_t kShown = 64;
  std::string out = "\"";
  for (char c : name.substr(0, kShown)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7f && c != '"') ? c : '?';
  }
  if (name.size() > kShown) out += "...";
  out += '"';
  return out;
}

bool name_byte(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

bool valid_simple_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxRosterNameBytes) return false;
  for (char c : name) {
    if (!name_byte(c)) return false;
  }
  return true;
}

bool valid_member_name(std::string_view name, RosterMemberKind kind) {
  if (kind == RosterMemberKind::kUser) return valid_simple_name(name);
  const auto slash = name.find('/');
  if (slash == std::string_view::npos) return false;
  return valid_simple_name(name.substr(0, slash)) && valid_simple_name(name.substr(slash + 1));
}

// Checks that `v` is an object with exactly the fields `names` (all required).
Status exact_fields(const json::Value& v, std::initializer_list<std::string_view> names,
                    const std::string& where) {
  if (!v.is_object()) return invalid(Reason::kMalformed, where + ": expected an object");
  for (const auto& [key, value] : v.as_object()) {
    bool known = false;
    for (auto n : names) known = known || key == n;
    if (!known) return invalid(Reason::kMalformed, where + ": unknown field " + quoted(key));
  }
  for (auto n : names) {
    if (v.find(n) == nullptr) {
      return invalid(Reason::kMalformed, where + ": missing field \"" + std::string(n) + "\"");
    }
  }
  return ok_status();
}

Result<std::string> string_field(const json::Value& v, std::string_view name,
                                 const std::string& where) {
  const json::Value* f = v.find(name);
  if (f == nullptr || !f->is_string()) {
    return invalid(Reason::kMalformed,
                   where + ": \"" + std::string(name) + "\" must be a string");
  }
  return f->as_string();
}

Result<const json::Array*> array_field(const json::Value& v, std::string_view name,
                                       std::size_t max, const std::string& where) {
  const json::Value* f = v.find(name);
  if (f == nullptr || !f->is_array()) {
    return invalid(Reason::kMalformed, where + ": \"" + std::string(name) + "\" must be an array");
  }
  if (f->as_array().size() > max) {
    return invalid(Reason::kTooLarge, where + ": more than " + std::to_string(max) + " " +
                                          std::string(name));
  }
  return &f->as_array();
}

Result<RosterKey> parse_key_entry(const json::Value& v, const RosterLimits& limits,
                                  const std::string& where) {
  VOUCH_RETURN_IF_ERROR(exact_fields(v, {"keyid", "keytype", "public"}, where));
  VOUCH_ASSIGN_OR_RETURN(std::string keyid, string_field(v, "keyid", where));
  VOUCH_ASSIGN_OR_RETURN(std::string keytype, string_field(v, "keytype", where));
  VOUCH_ASSIGN_OR_RETURN(std::string public_b64, string_field(v, "public", where));
  auto type = keys::parse_key_type(keytype);
  if (!type) {
    return invalid(Reason::kUnsupportedAlgorithm, where + ": unknown keytype " + quoted(keytype));
  }
  if (public_b64.size() > limits.max_public_bytes) {
    return invalid(Reason::kTooLarge, where + ": \"public\" is larger than " +
                                          std::to_string(limits.max_public_bytes) + " bytes");
  }
  auto material = base64_decode(public_b64);
  if (!material) return invalid(Reason::kMalformed, where + ": \"public\" is not base64");
  auto key = keys::PublicKey::from_tuf(*type, *material);
  if (!key) {
    Error e = std::move(key).error();
    return invalid(e.reason, where + ": \"public\": " + e.message);
  }
  if (key->id() != keyid) {
    return invalid(Reason::kMalformed,
                   where + ": keyid " + quoted(keyid) + " is not the key's ID " + key->id());
  }
  return RosterKey{*std::move(key)};
}

}  // namespace

std::string_view to_string(RosterMemberKind kind) {
  return kind == RosterMemberKind::kUser ? "user" : "service_account";
}

const RosterTeam* Roster::find_team(std::string_view name) const {
  for (const auto& t : teams) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

std::map<std::string, std::string, std::less<>> Roster::key_owners() const {
  std::map<std::string, std::string, std::less<>> out;
  for (const auto& t : teams) {
    for (const auto& m : t.members) {
      for (const auto& k : m.keys) out.emplace(k.key.id(), m.name);
    }
  }
  return out;
}

Result<Roster> parse_roster(const json::Value& document, const RosterLimits& limits) {
  // The bound on bytes holds whichever way the document arrived (text or a target's custom).
  if (json::canonical(document).size() > limits.max_bytes) {
    return invalid(Reason::kTooLarge,
                   "roster: larger than " + std::to_string(limits.max_bytes) + " bytes");
  }
  VOUCH_RETURN_IF_ERROR(exact_fields(document, {"org", "generated_at", "teams"}, "roster"));
  Roster roster;
  VOUCH_ASSIGN_OR_RETURN(roster.org, string_field(document, "org", "roster"));
  if (!valid_simple_name(roster.org)) {
    return invalid(Reason::kMalformed, "roster: invalid org name " + quoted(roster.org));
  }
  VOUCH_ASSIGN_OR_RETURN(std::string generated, string_field(document, "generated_at", "roster"));
  auto at = parse_rfc3339(generated);
  if (!at) {
    return invalid(Reason::kMalformed, "roster: \"generated_at\" is not an RFC 3339 time");
  }
  roster.generated_at = Expiry{*at, std::move(generated)};
  VOUCH_ASSIGN_OR_RETURN(const json::Array* teams,
                         array_field(document, "teams", limits.max_teams, "roster"));

  std::size_t key_entries = 0;
  std::map<std::string, std::string, std::less<>> key_owner;            // key ID -> member
  std::map<std::string, RosterMemberKind, std::less<>> member_kind;      // member -> kind
  std::set<std::string, std::less<>> team_names;
  roster.teams.reserve(teams->size());
  for (std::size_t ti = 0; ti < teams->size(); ++ti) {
    const json::Value& tv = (*teams)[ti];
    std::string where = "teams[" + std::to_string(ti) + "]";
    VOUCH_RETURN_IF_ERROR(exact_fields(tv, {"name", "members"}, where));
    RosterTeam team;
    VOUCH_ASSIGN_OR_RETURN(team.name, string_field(tv, "name", where));
    where += " " + quoted(team.name);
    if (!valid_simple_name(team.name)) {
      return invalid(Reason::kMalformed, where + ": invalid team name");
    }
    if (!team_names.insert(team.name).second) {
      return invalid(Reason::kDuplicateKey, where + ": team listed twice");
    }
    VOUCH_ASSIGN_OR_RETURN(const json::Array* members,
                           array_field(tv, "members", limits.max_members_per_team, where));
    std::set<std::string, std::less<>> member_names;
    team.members.reserve(members->size());
    for (std::size_t mi = 0; mi < members->size(); ++mi) {
      const json::Value& mv = (*members)[mi];
      std::string mwhere = where + ": members[" + std::to_string(mi) + "]";
      VOUCH_RETURN_IF_ERROR(exact_fields(mv, {"name", "kind", "keys"}, mwhere));
      RosterMember member;
      VOUCH_ASSIGN_OR_RETURN(member.name, string_field(mv, "name", mwhere));
      mwhere += " " + quoted(member.name);
      VOUCH_ASSIGN_OR_RETURN(std::string kind, string_field(mv, "kind", mwhere));
      if (kind == "user") {
        member.kind = RosterMemberKind::kUser;
      } else if (kind == "service_account") {
        member.kind = RosterMemberKind::kServiceAccount;
      } else {
        return invalid(Reason::kMalformed, mwhere + ": unknown kind " + quoted(kind));
      }
      if (!valid_member_name(member.name, member.kind)) {
        return invalid(Reason::kMalformed, mwhere + ": invalid " + kind + " name");
      }
      if (!member_names.insert(member.name).second) {
        return invalid(Reason::kDuplicateKey, mwhere + ": member listed twice in the team");
      }
      auto [kind_it, first_seen] = member_kind.emplace(member.name, member.kind);
      if (!first_seen && kind_it->second != member.kind) {
        return invalid(Reason::kMalformed, mwhere + ": kind differs from another team's entry");
      }
      VOUCH_ASSIGN_OR_RETURN(const json::Array* keys,
                             array_field(mv, "keys", limits.max_keys_per_member, mwhere));
      key_entries += keys->size();
      if (key_entries > limits.max_key_entries) {
        return invalid(Reason::kTooLarge, "roster: more than " +
                                              std::to_string(limits.max_key_entries) +
                                              " key entries");
      }
      std::set<std::string, std::less<>> member_keys;
      member.keys.reserve(keys->size());
      for (std::size_t ki = 0; ki < keys->size(); ++ki) {
        const std::string kwhere = mwhere + ": keys[" + std::to_string(ki) + "]";
        VOUCH_ASSIGN_OR_RETURN(RosterKey key, parse_key_entry((*keys)[ki], limits, kwhere));
        const std::string& id = key.key.id();
        if (!member_keys.insert(id).second) {
          return invalid(Reason::kDuplicateKey, kwhere + ": key " + id + " listed twice");
        }
        // A certificate and its bare key are one key: owners are keyed by the plain key's ID.
        auto [owner_it, fresh] = key_owner.emplace(key.key.canonical_id(), member.name);
        if (!fresh && owner_it->second != member.name) {
          return invalid(Reason::kConflict, kwhere + ": key " + id +
                                                " is also listed under member " +
                                                quoted(owner_it->second));
        }
        member.keys.push_back(std::move(key));
      }
      team.members.push_back(std::move(member));
    }
    roster.teams.push_back(std::move(team));
  }
  return roster;
}

Result<Roster> parse_roster_text(std::string_view text, const RosterLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return invalid(Reason::kTooLarge,
                   "roster: larger than " + std::to_string(limits.max_bytes) + " bytes");
  }
  json::ParseLimits json_limits;
  json_limits.max_bytes = limits.max_bytes;
  json_limits.max_depth = 8;  // document > teams > team > members > member > keys > key
  auto doc = json::parse(text, json_limits);
  if (!doc) {
    Error e = std::move(doc).error();
    return invalid(e.reason, "roster: " + e.message);
  }
  return parse_roster(*doc, limits);
}

json::Value to_json(const Roster& roster) {
  json::Array teams;
  teams.reserve(roster.teams.size());
  for (const auto& t : roster.teams) {
    json::Array members;
    members.reserve(t.members.size());
    for (const auto& m : t.members) {
      json::Array keys;
      keys.reserve(m.keys.size());
      for (const auto& k : m.keys) {
        json::Object ko;
        ko.set("keyid", k.key.id());
        ko.set("keytype", keys::to_string(k.key.type()));
        ko.set("public", base64_encode(k.key.public_bytes()));
        keys.emplace_back(std::move(ko));
      }
      json::Object mo;
      mo.set("name", m.name);
      mo.set("kind", to_string(m.kind));
      mo.set("keys", std::move(keys));
      members.emplace_back(std::move(mo));
    }
    json::Object to;
    to.set("name", t.name);
    to.set("members", std::move(members));
    teams.emplace_back(std::move(to));
  }
  json::Object out;
  out.set("org", roster.org);
  out.set("generated_at", roster.generated_at.text);
  out.set("teams", std::move(teams));
  return out;
}

FileMeta roster_target_meta(const Roster& roster) {
  json::Value doc = to_json(roster);
  const std::string bytes = json::canonical(doc);
  FileMeta meta = FileMeta::of(as_bytes(bytes));
  meta.custom = std::move(doc);
  return meta;
}

Result<Roster> roster_from_targets(const Targets& targets, std::string_view org,
                                   const RosterLimits& limits) {
  if (targets.targets.size() != 1 || !targets.targets.contains(kRosterTarget)) {
    return invalid(Reason::kBadPath, "roster: targets must list exactly one target, \"" +
                                         std::string(kRosterTarget) + "\"");
  }
  const FileMeta& meta = targets.targets.begin()->second;
  if (!meta.custom) {
    return invalid(Reason::kMalformed,
                   "roster: target \"" + std::string(kRosterTarget) + "\" has no custom document");
  }
  const std::string bytes = json::canonical(*meta.custom);
  if (bytes.size() > limits.max_bytes) {
    return invalid(Reason::kTooLarge,
                   "roster: larger than " + std::to_string(limits.max_bytes) + " bytes");
  }
  if (Status st = meta.check(as_bytes(bytes)); !st.ok()) {
    Error e = std::move(st).error();
    return invalid(e.reason, "roster: the custom document does not match its target entry: " +
                                 e.message);
  }
  VOUCH_ASSIGN_OR_RETURN(Roster roster, parse_roster(*meta.custom, limits));
  if (!org.empty() && roster.org != org) {
    return invalid(Reason::kMalformed, "roster: the document is for org " + quoted(roster.org) +
                                           ", not " + quoted(org));
  }
  return roster;
}

namespace {

std::set<std::string> membership_lines(const Roster& roster) {
  std::set<std::string> out;
  for (const auto& t : roster.teams) {
    out.insert("team " + t.name);
    for (const auto& m : t.members) {
      out.insert("member " + t.name + "/" + m.name + " (" + std::string(to_string(m.kind)) + ")");
      for (const auto& k : m.keys) {
        out.insert("key " + t.name + "/" + m.name + " " + k.key.id() + " (" +
                   std::string(keys::to_string(k.key.type())) + ")");
      }
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> diff_rosters(const Roster* before, const Roster& after) {
  const std::set<std::string> old_lines =
      before == nullptr ? std::set<std::string>() : membership_lines(*before);
  const std::set<std::string> new_lines = membership_lines(after);
  std::vector<std::string> out;
  for (const auto& l : old_lines) {
    if (!new_lines.contains(l)) out.push_back("- " + l);
  }
  for (const auto& l : new_lines) {
    if (!old_lines.contains(l)) out.push_back("+ " + l);
  }
  return out;
}

std::string roster_gun_org(std::string_view gun) {
  const auto first = gun.find('/');
  if (first == 0 || first == std::string_view::npos) return "";
  std::string_view rest = gun.substr(first + 1);
  if (!rest.starts_with(kRosterGunComponent)) return "";
  rest.remove_prefix(kRosterGunComponent.size());
  if (!rest.starts_with('/')) return "";
  rest.remove_prefix(1);
  if (!valid_simple_name(rest)) return "";
  return std::string(rest);
}

Result<Roster> roster_from_listing(
    std::string_view org, std::string_view generated_at, const std::vector<std::string>& team_names,
    const std::function<Result<std::vector<std::string>>(const std::string& team)>& members_of,
    const std::function<Result<std::vector<keys::PublicKey>>(const std::string& member)>& keys_of) {
  std::map<std::string, json::Array> keys_by_member;  // member -> key entries (each asked once)
  json::Array team_docs;
  for (const std::string& team : team_names) {
    VOUCH_ASSIGN_OR_RETURN(std::vector<std::string> members, members_of(team));
    json::Array member_docs;
    for (const std::string& member : members) {
      auto known = keys_by_member.find(member);
      if (known == keys_by_member.end()) {
        VOUCH_ASSIGN_OR_RETURN(std::vector<keys::PublicKey> registered, keys_of(member));
        json::Array entries;
        for (const keys::PublicKey& key : registered) {
          json::Object e;
          e.set("keyid", key.id());
          e.set("keytype", keys::to_string(key.type()));
          e.set("public", base64_encode(key.public_bytes()));
          entries.emplace_back(std::move(e));
        }
        known = keys_by_member.emplace(member, std::move(entries)).first;
      }
      json::Object m;
      m.set("name", member);
      m.set("kind", member.find('/') == std::string::npos ? "user" : "service_account");
      m.set("keys", known->second);
      member_docs.emplace_back(std::move(m));
    }
    json::Object t;
    t.set("name", team);
    t.set("members", std::move(member_docs));
    team_docs.emplace_back(std::move(t));
  }
  json::Object doc;
  doc.set("org", std::string(org));
  doc.set("generated_at", std::string(generated_at));
  doc.set("teams", std::move(team_docs));
  return parse_roster(doc);
}

}  // namespace vouch::tuf
