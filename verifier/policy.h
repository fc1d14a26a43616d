#pragma once

// The verifier's team policy (issue 6; DESIGN "Verifier: team policy"): who the signers are
// (teams of members with public keys or certificates), where each registry's trust data lives
// and how its root is pinned, and which signatures each image needs.
//
// A policy is a JSON or YAML document. YAML is converted into the same JSON value first
// (verifier/yaml_json.h), so there is one validator and a YAML policy and its JSON
// translation give identical models and the same version(). Example (YAML):
//
//   version: 1                      # optional; 1 is the only version
//   unmatched: deny                 # images that match no rule: deny (default) or allow
//   teams:
//     qa:
//       members:
//         - name: alice
//           keys:                   # PEM public keys or X.509 certificates, one or more
//             - |
//               -----BEGIN PUBLIC KEY-----
//               ...
//               -----END PUBLIC KEY-----
//     sec:
//       members: [...]
//   teams_from:                     # teams from signed rosters (issue 15), or a list of these
//     roster: vouch.example.com/_roster/acme   # rules then name "acme/<team>"
//     server: https://vouch.example.com:4443
//     root_keys: [<root key ID of the roster>] # pinned like a trust section (also root_ca,
//                                              # tofu, tls_ca, credentials, strict_pinning)
//   trust:
//     - prefix: registry.example.com       # the GUNs it covers: this name and everything below
//       server: https://notary.example.com:4443
//       tls_ca: "-----BEGIN CERTIFICATE-----..."   # optional; else the system roots
//       credentials: {username: ci, password_file: /var/run/secrets/notary}   # optional
//       root_keys: [<root key ID>, ...]             # canonical (`vouch key list`) or certificate
//       root_ca: "-----BEGIN CERTIFICATE-----..."  # or a CA that issues the root certificates
//       tofu: false                                 # trust on first use: only when true
//       strict_pinning: false                       # true: every root must match the pin
//   rules:
//     - name: production
//       pattern: registry.example.com/prod/**
//       require:
//         all-of: [qa, sec]         # or any-of: [...]; distinct members per team
//         allow-same-member: false  # all-of only: true lets one person count for both
//         min-signers: 2            # distinct members, default 1
//         roles: [targets/releases] # the roles whose signatures count; default: any role
//       mode: enforce               # enforce (default), warn or audit
//     - pattern: docker.io/library/*
//       allow: true                 # or deny: true
//
// Field by field, with the rules the validator applies (every problem is reported with the
// path of the field, e.g. `rules[2].require.all-of[0]: unknown team "qa"`):
//
//  version    optional integer, must be 1.
//  unmatched  optional "deny" (default) or "allow": the answer for an image no rule matches.
//  teams      object: team name ([A-Za-z0-9][A-Za-z0-9._-]*, at most 64 bytes) -> {members:
//             [...]}, each member {name, keys}. A member's name is non-empty, at most 128
//             bytes, without control characters, and unique within the team. keys: one or more
//             PEM "PUBLIC KEY" or "CERTIFICATE" blocks, each parsed with keys::PublicKey::from_pem.
//             A key is identified by its canonical key ID (keys::PublicKey::canonical_id), so a
//             certificate and its bare public key are the same key. A key may belong to one
//             member name only (it may be listed for that member in several teams); a member's
//             keys must be distinct. The same member name in several teams is one person: she
//             counts once for min-signers, and her key satisfies every team that lists it.
//  trust      array of {prefix, server, tls_ca?, credentials?, root_keys?, root_ca?, tofu?}.
//             prefix: a repository name or name prefix without wildcards; a trailing "/" is
//             ignored; it covers the GUN equal to it and every GUN below it ("a.io/x" covers
//             "a.io/x" and "a.io/x/y", not "a.io/xy"); prefixes are unique; the longest that
//             covers a GUN applies. server: an https:// URL. tls_ca and root_ca: PEM bundles of
//             one or more certificates. credentials: username with password_file or
//             password_env, or token_file or token_env alone; the policy names where a secret
//             is, never the secret (only main.cc reads files and the environment). root_keys:
//             64-hex-digit key IDs, each either a root key's canonical ID (the ID of its bare
//             public key, which `vouch key list`, `vouch init` and `notary key list` show; shared
//             by every repository made with that root key, so it pins a whole prefix) or a root
//             certificate's ID as root.json lists it (one certificate per repository, CN = GUN:
//             it pins that one repository). The pin (root_keys or root_ca) anchors the root
//             chain: the first root the verifier trusts for a GUN must satisfy it (the current root, or
//             when it no longer does, the first version from 1 upward that does), and later
//             roots are followed when a threshold of the previous root's keys and of their own
//             signed them (TUF 5.3), so a cross-signed rotation (`vouch key rotate <gun> root`,
//             `notary key rotate <gun> root`) keeps working. strict_pinning: true makes every
//             root satisfy the pin instead (each rotation then needs a policy change). At least one of root_keys, root_ca, or tofu: true (without a
//             pin, no root could ever be trusted for a stateless verifier).
//  teams_from an object or a list of objects: {roster, server, ...}, the fields of a trust
//             section with "roster" (a roster repository "<host>/_roster/<org>", one per org)
//             in place of "prefix". Rules may then name "<org>/<team>" (all-of, any-of); those
//             teams' members and keys come from the org's signed roster, fetched and verified
//             with the trust cache like image trust data (rollback refused, expiry denies, no
//             fallback past it); their satisfiability (min-signers, distinct members) is not
//             checked at load time. Inline teams keep working beside them.
//  rules      array (order matters only for ties, see below) of:
//             name     optional, unique; default: the pattern.
//             pattern  NAME_GLOB[:TAG_GLOB], matched against the normalized name
//                      (verifier/image_ref.h) and, with a tag glob, the tag. In NAME_GLOB "*"
//                      matches any run of characters except "/", "**" any run including "/",
//                      "?" one character except "/"; in TAG_GLOB "*" and "?" match anything.
//                      No character classes ("[" and "]" are literal, for IPv6 registries)
//                      and no escapes. The tag glob starts at the last ":" after the last "/"
//                      (so "localhost:5000/app" has none). A digest reference without a tag is
//                      judged as the tags that carry its digest (below). Patterns name
//                      registries explicitly ("docker.io/library/nginx", not "nginx"): the
//                      first component must contain "." or ":", be "localhost", have upper
//                      case, or contain a wildcard. Patterns are unique.
//             exactly one of:
//               allow: true  admit without verification.
//               deny: true   refuse.
//               require: {all-of: [teams] | any-of: [teams], min-signers?, roles?}
//                 all-of: every listed team needs at least one member among the signers,
//                 and a different one for each team: one person counts for one team only
//                 (separation of duties; alice in both qa and security does not meet
//                 all-of [qa, security] alone). The teams are assigned distinct signers
//                 by a bipartite matching, so the answer does not depend on the order of
//                 teams or signers. allow-same-member: true (all-of only) lets one member
//                 count for every team she is in. A policy whose all-of teams cannot get
//                 distinct members at all (e.g. two teams of the same one person) is
//                 refused. any-of: at least one listed team has a member among the signers. Teams must exist, be unique, and the
//                 list must not be empty. min-signers: N >= 1 distinct members of the listed
//                 teams among the signers (default 1); it cannot exceed the number of distinct
//                 members of those teams. roles: the roles whose signatures count ("targets"
//                 or "targets/..."), unique; default: every role. A listed role that is missing
//                 is never replaced by another (not by "targets" either; Connaisseur PR #2151).
//                 A `require` rule must have a trust section that can cover its images.
//             mode     optional "enforce" (default), "warn" or "audit": in warn and audit mode a
//                      deny becomes an allow with a warning (see decide.h); the evaluation is
//                      the same.
// Unknown fields anywhere are errors (a misspelt "min_signers" must not silently mean 1).
//
// "Most specific wins" (Policy::match), comparing the rules whose pattern matches. The name
// globs are compared first, in order:
//   1. the longer literal prefix (the characters before the first wildcard; the whole name
//      glob if it has none);
//   2. fewer "**";
//   3. fewer wildcards ("*", "**" and "?" each count one);
//   4. more literal characters in total;
// and only between equally specific name globs the tag glob, which can only add specificity:
//   5. a tag glob beats none;
//   6. the longer literal prefix of the tag glob, then fewer wildcards, then more literals;
//   7. the earlier rule in the file.
// So an exact name beats any glob over it, "a.io/prod/app:*" beats "a.io/prod/*",
// "a.io/prod/*" beats "a.io/prod/**", "a.io/*/app" beats "a.io/**", and
// "a.io/**:release-*" beats "a.io/**" for the tags it matches.
//
// Digest references. A reference with only a digest ("name@sha256:...") has no tag for a tag
// glob to match; it is judged as each tag that carries its digest (decide.h, decide_image),
// each under the rule that tag matches. match() itself, given such a reference, considers the
// rules without a tag glob only: their answer applies when no tag carries the digest, or when
// no trust section covers the name (there is then no trust data to find the tags in).
// "name:tag@sha256:..." is matched by its tag like "name:tag".

// A Policy is immutable once built and cheap enough to copy; const member functions are
// thread-safe. A reload builds a new Policy and swaps it in; version() tells them apart. A
// default-constructed Policy has no teams and no rules (it denies every image) and an empty
// version.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "keys/public_key.h"
#include "keys/x509.h"
#include "tuf/json.h"
#include "tuf/trust_pinning.h"
#include "verifier/image_ref.h"
#include "verifier/yaml_json.h"

namespace vouch::verifier {

enum class PolicyFormat { kJson, kYaml };

// A certificate's validity period: its key counts only within it (decide.h). A key given as a
// bare public key has neither bound.
struct ValidityPeriod {
  std::optional<TimePoint> not_before;
  std::optional<TimePoint> not_after;
};

// One key of a member.
struct MemberKey {
  keys::PublicKey key;
  // key.canonical_id(): the identity of the key, whether given as a certificate or not.
  std::string id;
  ValidityPeriod validity;

  // The member key of `key`: its canonical ID, and a certificate's validity period (none for
  // a bare key). One construction for inline teams and rosters alike.
  static MemberKey of(const keys::PublicKey& key);
};

struct Member {
  std::string name;
  std::vector<MemberKey> keys;
};

struct Team {
  std::string name;
  std::vector<Member> members;
};

// Where to find the secret for a trust server; exactly one source is set.
struct CredentialsRef {
  std::string username;  // with password_file / password_env only
  std::string password_file;
  std::string password_env;
  std::string token_file;
  std::string token_env;
};

struct TrustSection {
  std::string prefix;                     // without a trailing "/"
  std::string server;                     // https://...
  std::vector<keys::Certificate> tls_ca;  // empty: the system's roots
  std::optional<CredentialsRef> credentials;
  std::vector<std::string> root_keys;
  std::vector<keys::Certificate> root_ca;
  bool tofu = false;
  // Whether every root must satisfy root_keys / root_ca (true), or only the first one the
  // chain starts from (default false: later roots are followed when cross-signed, TUF 5.3;
  // tuf::TrustPinning::anchor_only).
  bool strict_pinning = false;
  // trust_section_id(*this), computed once when the policy is loaded (empty in sections built
  // by hand: trust_section_id() is then computed on use).
  std::string id;

  // Whether this section covers `gun` (equal to the prefix, or below it).
  bool covers(std::string_view gun) const;
  // The trust pinning for `gun` (which this section must cover): root_keys as pinned
  // root key IDs (a certificate ID or a canonical ID each), root_ca as a CA, TOFU disabled
  // unless tofu is set, anchor_only unless strict_pinning is set; errors name root_keys /
  // root_ca of this section.
  tuf::TrustPinning pinning_for(std::string_view gun) const;
};

// teams_from: an organization whose teams come from its signed roster (issue 15; tuf/roster.h),
// fetched and verified like image trust data from `section` (whose prefix is the roster
// repository "<host>/_roster/<org>", pinned as any trust section is).
struct RosterSource {
  std::string org;
  TrustSection section;
};

// A stable identity of what a trust section means for fetching and pinning: lowercase hex
// SHA-256 over its prefix, server, TLS CAs, credentials reference, pinned root keys, root CAs
// and TOFU flag (not over `id`). Equal sections (in two policy versions) have equal IDs.
std::string trust_section_id(const TrustSection& section);

enum class Mode { kEnforce, kWarn, kAudit };
std::string_view to_string(Mode mode);

enum class RuleAction { kAllow, kDeny, kRequire };
std::string_view to_string(RuleAction action);

enum class TeamsCombine { kAllOf, kAnyOf };

struct Requirement {
  TeamsCombine combine = TeamsCombine::kAllOf;
  std::vector<std::string> teams;  // in the order written
  std::int64_t min_signers = 1;
  std::vector<std::string> roles;  // empty: every role counts
  // all-of only: whether one person may count for several teams (default false: each team
  // needs its own member among the signers).
  bool allow_same_member = false;
};

// How specific a pattern is (see the header comment): the name glob's measures, then the tag
// glob's.
struct Specificity {
  std::size_t literal_prefix = 0;
  std::size_t double_stars = 0;
  std::size_t wildcards = 0;
  std::size_t literals = 0;
  bool has_tag = false;
  std::size_t tag_literal_prefix = 0;
  std::size_t tag_wildcards = 0;
  std::size_t tag_literals = 0;
};

struct Rule {
  std::string name;       // as given, or the pattern
  std::string pattern;    // as given
  std::size_t index = 0;  // position in "rules"
  RuleAction action = RuleAction::kDeny;
  Requirement require;  // for kRequire
  Mode mode = Mode::kEnforce;

  // The parts of the pattern (tag_glob empty when the pattern has none) and its specificity.
  std::string name_glob;
  std::string tag_glob;
  Specificity specificity;

  bool matches(const ImageRef& image) const;
};

// A key's owner: one entry per (team, member) that lists the key.
struct KeyOwner {
  std::string team;
  std::string member;
  ValidityPeriod validity;  // the key's (MemberKey::validity)
};

// One problem found by the validator.
struct PolicyProblem {
  std::string path;  // "rules[2].require.all-of[0]"; "" for the document itself
  Reason reason = Reason::kMalformed;
  std::string message;  // without the path
};

class Policy {
 public:
  // Parses `text` as `format` and validates it. Errors: those of the JSON parser or
  // yaml_to_json (kMalformed, kDuplicateKey, kTooLarge, ...), else every problem that
  // check_policy() reports, as "<path>: <message>" joined by "; " on one line, with the
  // first one's reason.
  static Result<Policy> parse(std::string_view text, PolicyFormat format,
                              const DocumentLimits& limits = {});
  // Validates and builds from a document already parsed.
  static Result<Policy> from_json(const tuf::json::Value& document);

  // Teams by name (sorted), nullptr if unknown.
  const std::vector<Team>& teams() const { return teams_; }
  const Team* team(std::string_view name) const;
  const std::vector<TrustSection>& trust() const { return trust_; }
  const std::vector<Rule>& rules() const { return rules_; }
  RuleAction unmatched() const { return unmatched_; }

  // The rule for `image`: the most specific matching rule (header comment); nullptr if none
  // matches (the answer is then unmatched()).
  const Rule* match(const ImageRef& image) const;
  // Whether a rule with a tag glob matches the name of `image` (its tag aside): then which rule
  // judges a digest reference depends on the tags that carry the digest.
  bool has_tag_rule_for(const ImageRef& image) const;
  // The trust section for `gun`: the longest prefix that covers it; nullptr if none.
  const TrustSection* trust_for(std::string_view gun) const;
  // The owners of the key with canonical ID `canonical_id`; empty if no member holds it.
  const std::vector<KeyOwner>& owners_of(std::string_view canonical_id) const;
  // Distinct member names of `team` (empty if unknown).
  std::vector<std::string> member_names(std::string_view team) const;

  // teams_from, in the order written. Rules name their teams "<org>/<team>"; such a team has
  // no members in teams() until the roster is fetched (verifier/roster_teams.h), and rules that
  // name one are not checked for satisfiability at load time.
  const std::vector<RosterSource>& rosters() const { return rosters_; }
  // The roster source of team "<org>/<team>", or nullptr when its org has none.
  const RosterSource* roster_for(std::string_view team_name) const;
  // A copy with `teams` added (their keys become owned as inline teams' are) and
  // `version_suffix` appended to version(), so decisions under different rosters never share
  // a cache entry. The teams' names must be new.
  Policy with_teams(std::vector<Team> teams, std::string_view version_suffix) const;

  // Lowercase hex SHA-256 of the canonical JSON of the policy document: equal for documents
  // that differ only in formatting, member order of objects, or YAML versus JSON. For
  // decision caches.
  const std::string& version() const { return version_; }

 private:
  friend class PolicyBuilder;
  std::vector<Team> teams_;
  std::vector<TrustSection> trust_;
  std::vector<RosterSource> rosters_;
  std::vector<Rule> rules_;
  RuleAction unmatched_ = RuleAction::kDeny;
  std::map<std::string, std::vector<KeyOwner>, std::less<>> owners_;
  std::string version_;
};

// Every problem of `document` as a policy, in document order; empty when it is valid.
std::vector<PolicyProblem> check_policy(const tuf::json::Value& document);

// Glob matching as patterns use it (header comment): with `path_aware`, "*" and "?" do not
// match "/" and "**" matches anything; without, "*" matches anything.
bool glob_match(std::string_view glob, std::string_view text, bool path_aware);

// Separation of duties for all-of: a maximum assignment of distinct members to `teams`, each
// member to at most one team, where `members_of` lists who may stand for each team (bipartite
// matching by augmenting paths; teams are few). Returns team -> member for the teams that get
// one; every team is in it exactly when each can have its own member. Deterministic: teams
// are tried in the order given and members in name order. Teams missing from `members_of`
// have nobody.
std::map<std::string, std::string> assign_distinct_members(
    const std::vector<std::string>& teams,
    const std::map<std::string, std::set<std::string>>& members_of);

}  // namespace vouch::verifier
