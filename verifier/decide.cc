#include "verifier/decide.h"

#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "common/encoding.h"
#include "common/enum_names.h"
#include "tuf/metadata.h"

namespace vouch::verifier {
namespace {

using tuf::TrustedSet;

// One role's listing of the reference.
struct Candidate {
  std::string role;
  std::string target;  // the target name (the tag, or a name whose hash is the digest)
  tuf::FileMeta meta;
  std::vector<keys::PublicKey> signers;
  bool role_counts = false;
  std::string sha256;    // lowercase hex; empty when the target lists no sha256
  bool counted = false;  // has at least one counting signer
};

std::string hash_hex(const tuf::FileMeta& meta, std::string_view algorithm) {
  auto it = meta.hashes.find(algorithm);
  return it == meta.hashes.end() ? std::string() : hex_encode(it->second);
}

// Key IDs in sentences: the first 12 hex digits, as docker and notary print them.
std::string short_id(std::string_view id) { return std::string(id.substr(0, 12)); }

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// "a", "a and b", "a, b and c".
std::string list_and(const std::vector<std::string>& items, std::string_view last = " and ") {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i != 0) out += i + 1 == items.size() ? std::string(last) : std::string(", ");
    out += items[i];
  }
  return out;
}

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// What the reference names in sentences: "tag 1.0" or "digest sha256:...".
std::string subject(const ImageRef& image) {
  return image.has_tag() ? "tag " + image.tag : "digest " + image.digest;
}

std::vector<Candidate> candidates_for_tag(const TrustedSet& set, const std::string& tag) {
  std::vector<Candidate> out;
  for (auto& m : set.find_all_targets(tag)) {
    Candidate c;
    c.role = std::move(m.role);
    c.target = tag;
    c.sha256 = hash_hex(m.meta, "sha256");
    c.meta = std::move(m.meta);
    c.signers = std::move(m.signers);
    out.push_back(std::move(c));
  }
  return out;
}

// Visits every loaded role, breadth-first from "targets" in listed order (the order of
// Notary's WalkTargets and TrustedSet::find_all_targets), and in it each target within its
// effective paths whose hash equals the reference's digest: fn(role, trusted, name, meta)
// returns whether to go on with the same role.
template <typename Fn>
void walk_digest_targets(const TrustedSet& set, const ImageRef& image, Fn fn) {
  const std::string algorithm(to_string(image.digest_algorithm));
  std::deque<std::string> queue{std::string(tuf::kTargetsRole)};
  while (!queue.empty()) {
    const std::string role = std::move(queue.front());
    queue.pop_front();
    const tuf::TrustedTargets* t = set.targets(role);
    if (t == nullptr) continue;
    for (const auto& [name, meta] : t->metadata.content.targets) {
      if (!tuf::path_allowed(t->paths, name) || hash_hex(meta, algorithm) != image.digest_hex) {
        continue;
      }
      if (!fn(role, *t, name, meta)) break;
    }
    for (const auto& d : t->metadata.content.delegations.roles) queue.push_back(d.name);
  }
}

// The roles that list a target with the reference's digest (walk_digest_targets), one
// candidate per role.
std::vector<Candidate> candidates_for_digest(const TrustedSet& set, const ImageRef& image) {
  std::vector<Candidate> out;
  walk_digest_targets(set, image,
                      [&](const std::string& role, const tuf::TrustedTargets& t,
                          const std::string& name, const tuf::FileMeta& meta) {
                        Candidate c;
                        c.role = role;
                        c.target = name;
                        c.meta = meta;
                        c.sha256 = hash_hex(meta, "sha256");
                        c.signers = t.signers;
                        out.push_back(std::move(c));
                        return false;
                      });
  return out;
}

// The target names (tags) that some loaded role lists within its effective paths with the
// reference's digest, in name order.
std::set<std::string> tags_with_digest(const TrustedSet& set, const ImageRef& image) {
  std::set<std::string> out;
  walk_digest_targets(set, image,
                      [&](const std::string&, const tuf::TrustedTargets&,
                          const std::string& name, const tuf::FileMeta&) {
                        out.insert(name);
                        return true;
                      });
  return out;
}

// Whether `role` may list `image`: its effective paths (from its parent, if loaded) cover the
// tag. Unknown (parent not loaded) and digest-only references count as "may".
bool may_list(const TrustedSet& set, const std::string& role, const ImageRef& image) {
  if (!image.has_tag()) return true;
  const std::string parent(tuf::parent_role(role));
  if (parent.empty() || set.targets(parent) == nullptr) return true;
  for (const auto& edge : set.delegations_of(parent)) {
    if (edge.role == role) return tuf::path_allowed(edge.paths, image.tag);
  }
  return true;
}

// Whether a failed role matters to the rule: the rule counts it (or one of its descendants,
// which cannot load without it), and it may list the reference.
bool failed_role_matters(const TrustedSet& set, const Rule& rule, const std::string& role,
                         const ImageRef& image) {
  const auto& roles = rule.require.roles;
  const bool counted =
      roles.empty() || std::any_of(roles.begin(), roles.end(), [&](const std::string& r) {
        return r == role ||
               (r.size() > role.size() && r.starts_with(role) && r[role.size()] == '/');
      });
  return counted && may_list(set, role, image);
}

std::vector<RoleIssue> role_issues(const TrustedSet& set, const Rule& rule, const ImageRef& image) {
  std::vector<RoleIssue> out;
  for (const auto& [role, error] : set.failed_roles()) {
    if (failed_role_matters(set, rule, role, image)) {
      out.push_back({role, error.reason, error.message});
    }
  }
  // Roles the rule names that cannot sign the reference, and not because they failed: not
  // delegated, not loaded, or delegated with paths that do not cover the tag.
  for (const std::string& role : rule.require.roles) {
    if (set.failed_roles().count(role) != 0) continue;
    if (set.targets(role) != nullptr) {
      // Loaded (the trust data also serves other references) although its delegated paths do
      // not cover the tag: the same issue as when it was left unloaded for that reason.
      if (!may_list(set, role, image)) {
        out.push_back(
            {role, Reason::kBadPath,
             role + " may not sign " + subject(image) + " (its delegated paths do not cover it)"});
      }
      continue;
    }
    const std::string parent(tuf::parent_role(role));
    if (set.targets(parent) == nullptr) {
      // An ancestor's failure is reported above; otherwise the chain is simply absent.
      bool ancestor_failed = false;
      for (const auto& [failed, error] : set.failed_roles()) {
        if (role.starts_with(failed + "/")) ancestor_failed = true;
      }
      if (!ancestor_failed) {
        out.push_back({role, Reason::kNotFound,
                       role + " is not delegated in " + set.gun() + " (its parent " + parent +
                           " is not there)"});
      }
      continue;
    }
    bool delegated = false;
    for (const auto& edge : set.delegations_of(parent)) {
      if (edge.role != role) continue;
      delegated = true;
      if (image.has_tag() && !tuf::path_allowed(edge.paths, image.tag)) {
        out.push_back(
            {role, Reason::kBadPath,
             role + " may not sign " + subject(image) + " (its delegated paths do not cover it)"});
      } else {
        out.push_back({role, Reason::kNotFound,
                       role + " is delegated but has not been published (or was not loaded)"});
      }
    }
    if (!delegated) {
      out.push_back({role, Reason::kNotFound, role + " is not delegated in " + set.gun()});
    }
  }
  return out;
}

// Maps each signer key of each candidate to members and the rule's teams.
// `valid_until` becomes the earliest certificate bound after `now` among the keys looked at:
// the answer may change then.
std::vector<SignerInfo> map_signers(const Policy& policy, const Rule& rule, TimePoint now,
                                    std::vector<Candidate>& candidates,
                                    std::optional<TimePoint>& valid_until) {
  auto bound = [&](TimePoint t) {
    if (t > now && (!valid_until || t < *valid_until)) valid_until = t;
  };
  std::vector<SignerInfo> out;
  for (Candidate& c : candidates) {
    for (const keys::PublicKey& key : c.signers) {
      SignerInfo s;
      s.role = c.role;
      s.key_id = key.canonical_id();
      const auto& owners = policy.owners_of(s.key_id);
      std::string expired_note;
      if (!owners.empty()) s.member = owners.front().member;  // one name per key (policy.h)
      for (const KeyOwner& owner : owners) {
        if (!contains(rule.require.teams, owner.team)) continue;
        const ValidityPeriod& validity = owner.validity;
        if (validity.not_after) bound(*validity.not_after + std::chrono::microseconds(1));
        if (validity.not_before) bound(*validity.not_before);
        if (validity.not_after && now > *validity.not_after) {
          expired_note = "the certificate of " + owner.member + "'s key " + short_id(s.key_id) +
                         " expired at " + format_rfc3339(*validity.not_after);
          continue;
        }
        if (validity.not_before && now < *validity.not_before) {
          expired_note = "the certificate of " + owner.member + "'s key " + short_id(s.key_id) +
                         " is not valid before " + format_rfc3339(*validity.not_before);
          continue;
        }
        if (!contains(s.teams, owner.team)) s.teams.push_back(owner.team);
      }
      if (owners.empty()) {
        s.note = "key " + short_id(s.key_id) + " belongs to no member of the policy";
      } else if (!c.role_counts) {
        s.note = c.role + " is not among the roles rule " + quoted(rule.name) + " counts";
      } else if (c.sha256.empty()) {
        s.note = c.role + " lists no sha256 hash for " + c.target;
      } else if (s.teams.empty() && !expired_note.empty()) {
        s.note = expired_note;
      } else if (s.teams.empty()) {
        s.note = s.member + " is in none of the teams rule " + quoted(rule.name) + " names";
      }
      s.counted = s.note.empty();
      if (!s.counted) s.teams.clear();
      if (s.counted) c.counted = true;
      out.push_back(std::move(s));
    }
  }
  return out;
}

// The most useful hint for a deny, as a clause: a role that failed or is missing, an expired
// member certificate, a member signing in a role that does not count, or keys of no member.
std::string hint(const Decision& d) {
  if (!d.role_issues.empty()) {
    const RoleIssue& issue = d.role_issues.front();
    if (issue.reason == Reason::kExpired || issue.reason == Reason::kThresholdNotMet) {
      return "role " + issue.role + " could not be used: " + issue.message;
    }
    return issue.message;
  }
  for (const SignerInfo& s : d.signers) {
    if (!s.counted && s.note.find("certificate") != std::string::npos) return s.note;
  }
  for (const SignerInfo& s : d.signers) {
    if (!s.counted && !s.member.empty()) return s.member + " signed, but " + s.note;
  }
  std::vector<std::string> strangers;
  for (const SignerInfo& s : d.signers) {
    if (s.member.empty() && !contains(strangers, short_id(s.key_id))) {
      strangers.push_back(short_id(s.key_id));
    }
  }
  if (!strangers.empty()) {
    return "it is signed only with key(s) " + list_and(strangers) +
           ", which belong to no member of the policy";
  }
  return {};
}

std::string with_hint(std::string sentence, const Decision& d) {
  const std::string h = hint(d);
  if (!h.empty()) sentence += "; " + h;
  return sentence;
}

// Turns an evaluation's deny into the answer, per the rule's mode.
// `d` is taken by reference so that the sentence, built from d's fields by the caller, is
// complete before anything is moved.
Decision finish_deny(Decision& d, DecisionCode code, std::string sentence) {
  d.code = code;
  if (d.mode == Mode::kEnforce) {
    d.verdict = Verdict::kDeny;
    d.message = std::move(sentence);
  } else {
    d.verdict = Verdict::kWarn;
    d.message = "not enforced (" + std::string(to_string(d.mode)) + " mode): " + sentence;
  }
  return std::move(d);
}

std::string team_label(const std::vector<std::string>& teams) {
  return (teams.size() == 1 ? "team " : "teams ") + list_and(teams);
}

}  // namespace

constexpr EnumName<Verdict> kVerdictNames[] = {
    {Verdict::kAllow, "allow"}, {Verdict::kDeny, "deny"}, {Verdict::kWarn, "warn"}};
static_assert(lists_every_value(kVerdictNames, Verdict::kWarn));

std::string_view to_string(Verdict verdict) { return name_of(kVerdictNames, verdict); }

constexpr EnumName<DecisionCode> kCodeNames[] = {
    {DecisionCode::kSigned, "signed"}, {DecisionCode::kRuleAllows, "rule_allows"},
    {DecisionCode::kRuleDenies, "rule_denies"}, {DecisionCode::kNoRule, "no_rule"},
    {DecisionCode::kTrustUnavailable, "trust_unavailable"},
    {DecisionCode::kNotSigned, "not_signed"}, {DecisionCode::kDigestConflict, "digest_conflict"},
    {DecisionCode::kDigestMismatch, "digest_mismatch"},
    {DecisionCode::kUnsupportedDigest, "unsupported_digest"},
    {DecisionCode::kRequirementsNotMet, "requirements_not_met"}};
static_assert(lists_every_value(kCodeNames, DecisionCode::kRequirementsNotMet));

std::string_view to_string(DecisionCode code) { return name_of(kCodeNames, code); }

Decision decide(const Policy& policy, const ImageRef& image, const Rule* rule,
                const Result<const tuf::TrustedSet*>& trust, std::optional<TimePoint> at) {
  Decision d;
  d.image = image.str();
  d.gun = image.gun();
  d.policy_version = policy.version();

  if (rule == nullptr) {
    d.code = DecisionCode::kNoRule;
    if (policy.unmatched() == RuleAction::kAllow) {
      d.verdict = Verdict::kAllow;
      d.message = "no rule of the policy matches " + d.image +
                  ", and the policy admits images that match no rule";
    } else {
      d.verdict = Verdict::kDeny;
      d.message = "no rule of the policy matches " + d.image +
                  ", and images that match no rule are denied: add a rule for it";
    }
    return d;
  }
  d.rule = rule->name;
  d.pattern = rule->pattern;
  d.mode = rule->mode;
  const std::string by_rule = "rule " + quoted(rule->name);

  switch (rule->action) {
    case RuleAction::kAllow:
      d.verdict = Verdict::kAllow;
      d.code = DecisionCode::kRuleAllows;
      d.message = by_rule + " admits " + d.image + " without verification";
      return d;
    case RuleAction::kDeny:
      return finish_deny(d, DecisionCode::kRuleDenies, by_rule + " denies " + d.image);
    case RuleAction::kRequire: break;
  }

  // ---- Trust data (fail closed) ----
  if (!trust) {
    d.trust_error = trust.error();
    return finish_deny(d, DecisionCode::kTrustUnavailable,
                       "the trust data of " + d.gun + " could not be verified (" +
                           trust.error().message + "), so " + by_rule + " cannot be satisfied");
  }
  const TrustedSet* set = *trust;
  if (set == nullptr || set->gun() != d.gun || set->targets() == nullptr) {
    const std::string why = set == nullptr        ? "no trust data was given"
                            : set->gun() != d.gun ? "the trust data given is for " + set->gun()
                                                  : "its targets metadata is not loaded";
    d.trust_error = make_error(Reason::kInternal, why);
    return finish_deny(d, DecisionCode::kTrustUnavailable,
                       "the trust data of " + d.gun + " is not available (" + why + "), so " +
                           by_rule + " cannot be satisfied");
  }
  d.trust_version = set->timestamp() != nullptr ? set->timestamp()->content.version : 0;
  if (image.has_digest() && image.digest_algorithm == DigestAlgorithm::kSha384) {
    return finish_deny(d, DecisionCode::kUnsupportedDigest,
                       d.image +
                           " names a sha384 digest, which Notary targets do not list: "
                           "reference the image by its sha256 digest");
  }

  // ---- Who signed ----
  std::vector<Candidate> candidates =
      image.has_tag() ? candidates_for_tag(*set, image.tag) : candidates_for_digest(*set, image);
  const Requirement& req = rule->require;
  for (Candidate& c : candidates) c.role_counts = req.roles.empty() || contains(req.roles, c.role);
  d.signers = map_signers(policy, *rule, at.value_or(set->reference_time()), candidates,
                          d.valid_until);
  d.role_issues = role_issues(*set, *rule, image);

  const std::string what = subject(image) + " of " + d.gun;
  if (std::none_of(candidates.begin(), candidates.end(),
                   [](const Candidate& c) { return c.role_counts; })) {
    std::string sentence;
    if (candidates.empty()) {
      sentence =
          what + " is not signed by any trusted role, so " + by_rule + " cannot be satisfied";
    } else {
      std::vector<std::string> roles;
      for (const Candidate& c : candidates) roles.push_back(c.role);
      sentence = what + " is signed only in " + list_and(roles) + ", and " + by_rule +
                 " counts only " + list_and(req.roles, " or ");
    }
    return finish_deny(d, DecisionCode::kNotSigned, with_hint(std::move(sentence), d));
  }

  // ---- One digest ----
  const Candidate* agreed = nullptr;
  for (const Candidate& c : candidates) {
    if (!c.counted) continue;
    if (agreed == nullptr) {
      agreed = &c;
      continue;
    }
    if (c.sha256 != agreed->sha256 || c.meta.length != agreed->meta.length) {
      return finish_deny(
          d, DecisionCode::kDigestConflict,
          "roles " + agreed->role + " and " + c.role + " sign different content for " + what +
              " (sha256:" + agreed->sha256 + " with length " + std::to_string(agreed->meta.length) +
              " versus sha256:" + c.sha256 + " with length " + std::to_string(c.meta.length) +
              "); the signers must agree before the image can run");
    }
  }
  if (agreed != nullptr) {
    d.digest = "sha256:" + agreed->sha256;
    d.length = agreed->meta.length;
    if (image.has_digest()) {
      for (const Candidate& c : candidates) {
        if (!c.counted) continue;
        const std::string signed_hex = hash_hex(c.meta, to_string(image.digest_algorithm));
        if (signed_hex != image.digest_hex) {
          return finish_deny(
              d, DecisionCode::kDigestMismatch,
              d.image + " asks for " + image.digest + ", but " + c.role + " signs " + what +
                  " as " +
                  (signed_hex.empty()
                       ? "a target without a " + std::string(to_string(image.digest_algorithm)) +
                             " hash"
                       : std::string(to_string(image.digest_algorithm)) + ":" + signed_hex));
        }
      }
    }
  }

  // ---- Requirements ----
  std::map<std::string, std::set<std::string>> by_team;
  std::set<std::string> everyone;
  for (const SignerInfo& s : d.signers) {
    if (!s.counted) continue;
    for (const std::string& team : s.teams) by_team[team].insert(s.member);
    everyone.insert(s.member);
  }
  auto names = [](const std::set<std::string>& s) {
    return std::vector<std::string>(s.begin(), s.end());
  };
  std::string first_unmet;
  if (req.combine == TeamsCombine::kAllOf) {
    // Separation of duties (policy.h): each team its own member, unless the rule allows one
    // person for several teams.
    const std::map<std::string, std::string> assigned =
        req.allow_same_member ? std::map<std::string, std::string>()
                              : assign_distinct_members(req.teams, by_team);
    for (const std::string& team : req.teams) {
      const bool signed_by_team = !by_team[team].empty();
      const bool met = signed_by_team && (req.allow_same_member || assigned.count(team) != 0);
      RequirementStatus st{"team " + team, met, names(by_team[team])};
      if (!signed_by_team && first_unmet.empty()) {
        first_unmet = by_rule + " requires a signature from team " + team +
                      ", and no member of it signed " + what;
      } else if (!met && first_unmet.empty()) {
        first_unmet = by_rule + " requires a different member for each of " +
                      team_label(req.teams) + " (one person counts for one team), and " +
                      list_and(names(by_team[team])) + " of team " + team +
                      " already count for another team; signed by " +
                      list_and(names(everyone)) + " for " + what;
      }
      d.requirements.push_back(std::move(st));
    }
  } else {
    std::set<std::string> members;
    for (const std::string& team : req.teams) {
      members.insert(by_team[team].begin(), by_team[team].end());
    }
    RequirementStatus st{"any of " + team_label(req.teams), !members.empty(), names(members)};
    if (!st.met) {
      first_unmet = by_rule + " requires a signature from " +
                    (req.teams.size() == 1 ? "team " : "one of teams ") +
                    list_and(req.teams, " or ") + ", and no member of " +
                    (req.teams.size() == 1 ? "it" : "them") + " signed " + what;
    }
    d.requirements.push_back(std::move(st));
  }
  if (req.min_signers > 1) {
    const bool met = everyone.size() >= static_cast<std::size_t>(req.min_signers);
    d.requirements.push_back({"at least " + std::to_string(req.min_signers) +
                                  " distinct signers from " + team_label(req.teams),
                              met, names(everyone)});
    if (!met && first_unmet.empty()) {
      first_unmet = by_rule + " requires " + std::to_string(req.min_signers) +
                    " distinct signers from " + team_label(req.teams) + ", and " +
                    (everyone.empty() ? std::string("none") : "only " + list_and(names(everyone))) +
                    " signed " + what;
    }
  }
  if (!first_unmet.empty()) {
    return finish_deny(d, DecisionCode::kRequirementsNotMet, with_hint(std::move(first_unmet), d));
  }

  d.verdict = Verdict::kAllow;
  d.code = DecisionCode::kSigned;
  std::vector<std::string> who;
  std::vector<std::string> roles;
  for (const SignerInfo& s : d.signers) {
    if (!s.counted) continue;
    std::string label = s.member + " (" + list_and(s.teams) + ")";
    if (!contains(who, label)) who.push_back(std::move(label));
    if (!contains(roles, s.role)) roles.push_back(s.role);
  }
  d.message = by_rule + " admits " + d.image + ": " + what + " is " +
              (image.has_tag() ? d.digest + ", " : std::string()) + "signed by " + list_and(who) +
              " in " + list_and(roles);
  return d;
}

bool needs_trust(const Policy& policy, const ImageRef& image) {
  const Rule* rule = policy.match(image);
  if (rule != nullptr && rule->action == RuleAction::kRequire) return true;
  return !image.has_tag() && policy.trust_for(image.gun()) != nullptr &&
         policy.has_tag_rule_for(image);
}

Decision decide_image(const Policy& policy, const ImageRef& image,
                      const Result<const tuf::TrustedSet*>& trust, std::optional<TimePoint> at) {
  const Rule* rule = policy.match(image);
  if (image.has_tag() || !needs_trust(policy, image)) {
    return decide(policy, image, rule, trust, at);
  }
  const bool usable = trust && *trust != nullptr && (*trust)->gun() == image.gun() &&
                      (*trust)->targets() != nullptr;
  if (!usable) {
    // The rule's own fail-closed answer when it requires signatures; otherwise a tag rule
    // might apply, and without trust data nobody knows which.
    if (rule != nullptr && rule->action == RuleAction::kRequire) {
      return decide(policy, image, rule, trust, at);
    }
    Decision d;
    d.image = image.str();
    d.gun = image.gun();
    d.policy_version = policy.version();
    d.verdict = Verdict::kDeny;
    d.code = DecisionCode::kTrustUnavailable;
    const std::string why =
        !trust ? trust.error().message : std::string("no usable trust data was given");
    d.trust_error = !trust ? trust.error() : make_error(Reason::kInternal, why);
    d.message = "the trust data of " + d.gun + " could not be verified (" + why +
                "), so the tags that carry " + image.digest +
                ", and with them the rule for " + d.image + ", are unknown";
    return d;
  }
  const std::set<std::string> tags = tags_with_digest(**trust, image);
  if (tags.empty()) return decide(policy, image, rule, trust, at);

  std::optional<Decision> allowed;
  std::optional<Decision> warned;
  std::optional<Decision> denied;
  std::vector<std::string> judged;
  std::optional<TimePoint> valid_until;
  for (const std::string& tag : tags) {
    if (judged.size() == kMaxTagsPerDigest) break;
    judged.push_back(tag);
    ImageRef tagged = image;
    tagged.tag = tag;
    Decision d = decide(policy, tagged, policy.match(tagged), trust, at);
    d.tag = tag;
    if (d.valid_until && (!valid_until || *d.valid_until < *valid_until)) {
      valid_until = d.valid_until;
    }
    if (d.verdict == Verdict::kAllow) {
      allowed = std::move(d);
      break;
    }
    if (d.verdict == Verdict::kWarn && !warned) warned = std::move(d);
    if (d.verdict == Verdict::kDeny && !denied) denied = std::move(d);
  }
  Decision out = allowed ? std::move(*allowed) : warned ? std::move(*warned) : std::move(*denied);
  out.image = image.str();
  out.valid_until = valid_until;
  if (out.verdict == Verdict::kDeny) {
    out.message = "no tag that carries " + image.digest + " in " + out.gun + " is admitted (" +
                  (judged.size() == 1 ? "tag " : "tags ") + list_and(judged) + "); as tag " +
                  out.tag + ": " + out.message;
  } else {
    out.message = image.digest + " is tag " + out.tag + " of " + out.gun + ": " + out.message;
  }
  return out;
}

}  // namespace vouch::verifier
