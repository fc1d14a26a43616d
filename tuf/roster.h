#pragma once

// Signed team rosters (issue 15): who is in which signing team of an organization, and which
// public keys each member signs with.
//
// A roster is the content of an ordinary TUF repository, the GUN `<host>/_roster/<org>`. Its
// `targets` role lists exactly one target, kRosterTarget ("roster.json"), whose "custom" field
// carries the roster document and whose length and hashes are those of the document's
// canonical JSON (tuf/README.md says why the roster lives in "custom" rather than in a file
// fetched beside the metadata). The document:
//
//   {"org": "acme",
//    "generated_at": "2026-12-08T03:00:00Z",
//    "teams": [{"name": "ops",
//               "members": [{"name": "alice", "kind": "user",
//                            "keys": [{"keyid": "<hex>", "keytype": "ecdsa",
//                                      "public": "-----BEGIN PUBLIC KEY-----\n..."}]}]}]}
//
//  - org, team and user names: 1..kMaxRosterNameBytes bytes of [a-z0-9._-]; a service
//    account's name is "<owner>/<name>" (one '/').
//  - kind: "user" | "service_account".
//  - keyid: the key's TUF ID (keys::PublicKey::id(): for a certificate, the certificate form's
//    ID, as `notary delegation list` prints it); keytype: a Notary key type (keys/public_key.h);
//    public: the key's TUF public value in base64, exactly as root.json and delegations list
//    keys ("keyval.public": a DER SubjectPublicKeyInfo, a raw Ed25519 key, or for *-x509 types
//    the PEM certificate). Not PEM text itself: canonical JSON writes control characters raw
//    (tuf/json.h), so a PEM's newlines would make targets.json unparsable. The key's ID must be
//    the keyid stated.
//  - Every object has exactly these fields (an unknown one is kMalformed).
//  - Team names are unique; member names unique within a team; a member in several teams
//    carries the same kind in each. A key ID appears under one member only (it may repeat when
//    that same member is in several teams); a key listed under two members is kConflict.
//
// Errors are Code::kInvalidArgument with a Reason (kMalformed, kTooLarge, kTooDeep,
// kUnsupportedAlgorithm for an unknown key type, kConflict for a key under two members,
// kDuplicateKey for a repeated team/member/key) and a message naming the entry, e.g.
//   teams[1] "ops": members[0] "alice": keys[2]: unknown keytype "dsa".
// Pure functions, thread-safe.

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "keys/public_key.h"
#include "tuf/json.h"
#include "tuf/metadata.h"

namespace vouch::tuf {

// The one target a roster repository's targets role lists.
inline constexpr std::string_view kRosterTarget = "roster.json";
// The GUN path component between the host and the organization: "<host>/_roster/<org>".
inline constexpr std::string_view kRosterGunComponent = "_roster";
// Bound of an organization, team or user name, and of each half of a service account's name.
inline constexpr std::size_t kMaxRosterNameBytes = 64;

// Bounds on an untrusted roster (kTooLarge beyond them). Defaults fit a large organization.
struct RosterLimits {
  // The document's canonical JSON (and the text given to parse_roster_text).
  std::size_t max_bytes = 8u << 20;
  std::size_t max_teams = 1024;
  std::size_t max_members_per_team = 4096;
  std::size_t max_keys_per_member = 64;
  // Key entries over the whole document, repeats included.
  std::size_t max_key_entries = 100'000;
  // One "public" value, in base64 (a PEM certificate is ~1 KiB; an RSA-4096 key ~800 bytes).
  std::size_t max_public_bytes = 16u << 10;
};

enum class RosterMemberKind { kUser, kServiceAccount };
// "user" | "service_account".
std::string_view to_string(RosterMemberKind kind);

struct RosterKey {
  keys::PublicKey key;  // key.id() is the entry's keyid
};

struct RosterMember {
  std::string name;
  RosterMemberKind kind = RosterMemberKind::kUser;
  std::vector<RosterKey> keys;
};

struct RosterTeam {
  std::string name;
  std::vector<RosterMember> members;
};

struct Roster {
  std::string org;
  Expiry generated_at;  // the instant and its text, re-serialized as given
  std::vector<RosterTeam> teams;

  // The team named `name` (without the org), or nullptr.
  const RosterTeam* find_team(std::string_view name) const;
  // Key ID -> owning member's name, over every team.
  std::map<std::string, std::string, std::less<>> key_owners() const;
};

// Parses a roster document (already parsed JSON, e.g. a target's "custom").
Result<Roster> parse_roster(const json::Value& document, const RosterLimits& limits = {});
// Parses roster JSON text: at most limits.max_bytes, nesting at most 8.
Result<Roster> parse_roster_text(std::string_view text, const RosterLimits& limits = {});

// The document, in the shape parse_roster reads (teams, members and keys in the given order).
json::Value to_json(const Roster& roster);

// The roster an organization's accounts describe: `team_names` in order, each team's members
// as `members_of(team)` lists them, each member's keys as `keys_of(member)` gives them (asked
// once per member, even for a member of several teams). A member's kind follows its name: a
// service account's has a '/'. The document built is parsed as parse_roster (its errors), so a
// listing that makes no valid roster is refused. The server's roster status and the CLI's
// roster publish both build with this, so they compare the same documents.
Result<Roster> roster_from_listing(
    std::string_view org, std::string_view generated_at, const std::vector<std::string>& team_names,
    const std::function<Result<std::vector<std::string>>(const std::string& team)>& members_of,
    const std::function<Result<std::vector<keys::PublicKey>>(const std::string& member)>& keys_of);

// The target entry for `roster`: custom = to_json(roster), length and hashes of its canonical
// JSON.
FileMeta roster_target_meta(const Roster& roster);

// The roster that a roster repository's targets role carries. The role must list exactly one
// target, kRosterTarget (kBadPath otherwise), with a "custom" document (kMalformed) whose
// canonical JSON matches the entry's length and hashes (kLengthMismatch / kHashMismatch), and
// which parses (as parse_roster). `org`, when not empty, must be the document's org
// (kMalformed): a roster copied from another organization's repository is refused. Signatures
// are the caller's (TrustedSet on a client, UpdateValidator on the server).
Result<Roster> roster_from_targets(const Targets& targets, std::string_view org,
                                   const RosterLimits& limits = {});

// What changed from `before` (nullptr: no roster yet) to `after`, as sorted lines
// "+ team ops", "- member ops/alice (user)", "+ key ops/alice <keyid> (ecdsa)": teams,
// memberships and each member's keys per team. generated_at and order are not changes. Empty
// when both list the same membership.
std::vector<std::string> diff_rosters(const Roster* before, const Roster& after);

// "<host>/_roster/<org>" -> "<org>"; "" when `gun` is not a roster GUN (the org part must be a
// valid roster name; `host` is any non-empty first component).
std::string roster_gun_org(std::string_view gun);

}  // namespace vouch::tuf
