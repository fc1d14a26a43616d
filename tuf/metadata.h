#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/encoding.h"
#include "common/result.h"
#include "keys/public_key.h"
#include "tuf/json.h"

namespace vouch::tuf {

// Notary's TUF dialect (REFERENCE §3.5): capitalized "_type", base64 hashes and signatures,
// "method" on signatures, X.509 root keys, prefix paths on delegations, no spec_version.
//
// Parsing is strict about structure (types of fields, required fields, base64, key material,
// RFC 3339 expiry) and lenient only where Notary is: unknown fields inside "signed" are
// ignored by the typed model but remain covered by the signature, because signatures are
// checked over the canonical JSON of the whole parsed "signed" object.

enum class RoleType { kRoot, kTargets, kSnapshot, kTimestamp };

// "Root", "Targets", "Snapshot", "Timestamp": the "_type" values.
std::string_view type_name(RoleType type);
// "root", "targets", "snapshot", "timestamp": the base role names.
std::string_view role_name(RoleType type);

inline constexpr std::string_view kRootRole = "root";
inline constexpr std::string_view kTargetsRole = "targets";
inline constexpr std::string_view kSnapshotRole = "snapshot";
inline constexpr std::string_view kTimestampRole = "timestamp";

// An expiry instant together with the text that carries it. Text is kept so that parsed
// metadata re-serializes byte-identically (Go keeps the offset it was given).
struct Expiry {
  TimePoint time;
  std::string text;

  static Expiry at(TimePoint t) { return {t, format_rfc3339(t)}; }
  // Notary's IsExpired: expired when the expiry lies strictly before `now`.
  bool expired_at(TimePoint now) const { return time < now; }
};

// Hash algorithm name ("sha256", "sha512", ...) -> digest bytes.
using Hashes = std::map<std::string, Bytes, std::less<>>;

// Length and hashes of a file, as snapshot/timestamp list roles and targets list targets.
struct FileMeta {
  std::int64_t length = 0;
  Hashes hashes;
  // Opaque "custom" JSON, written back as it was (canonically).
  std::optional<json::Value> custom;

  // Builds the meta of `bytes` with sha256 and sha512, as Notary does.
  static FileMeta of(ByteSpan bytes);

  // Checks `bytes` against this meta: the length must equal (kLengthMismatch), and every hash
  // of a supported algorithm (sha256, sha512) must match (kHashMismatch); at least one supported
  // hash must be present (kHashMismatch), as Notary's CheckHashes requires.
  Status check(ByteSpan bytes) const;

  friend bool operator==(const FileMeta&, const FileMeta&) = default;
};

// Key IDs and threshold of a role, as root lists the base roles.
struct RoleKeys {
  std::vector<std::string> keyids;
  std::int64_t threshold = 1;
  friend bool operator==(const RoleKeys&, const RoleKeys&) = default;
};

// Key ID -> public key. Parsing requires each ID to equal the key's computed ID.
using KeyMap = std::map<std::string, keys::PublicKey, std::less<>>;

struct Root {
  std::int64_t version = 1;
  Expiry expires;
  bool consistent_snapshot = false;
  KeyMap keys;
  // Exactly the four base roles; parsing requires all four.
  std::map<std::string, RoleKeys, std::less<>> roles;

  static constexpr RoleType kType = RoleType::kRoot;
};

struct DelegatedRole {
  std::string name;  // "targets/releases"
  std::vector<std::string> keyids;
  std::int64_t threshold = 1;
  // Target name prefixes this role may sign; "" means every name.
  std::vector<std::string> paths;
  friend bool operator==(const DelegatedRole&, const DelegatedRole&) = default;
};

struct Delegations {
  KeyMap keys;
  std::vector<DelegatedRole> roles;
  // The role with this name, or nullptr.
  const DelegatedRole* find(std::string_view name) const;
};

struct Targets {
  std::int64_t version = 1;
  Expiry expires;
  std::map<std::string, FileMeta, std::less<>> targets;
  Delegations delegations;

  static constexpr RoleType kType = RoleType::kTargets;
};

struct Snapshot {
  std::int64_t version = 1;
  Expiry expires;
  // Role name ("root", "targets", "targets/releases") -> meta of its current file.
  std::map<std::string, FileMeta, std::less<>> meta;

  static constexpr RoleType kType = RoleType::kSnapshot;
};

struct Timestamp {
  std::int64_t version = 1;
  Expiry expires;
  // Exactly one entry, "snapshot".
  std::map<std::string, FileMeta, std::less<>> meta;

  static constexpr RoleType kType = RoleType::kTimestamp;
};

// One entry of "signatures". An unknown method is kept as text (method_text) and never
// verifies; it is not a parse error, as Notary skips such signatures too.
struct SignatureEntry {
  std::string keyid;
  std::string method_text;
  std::optional<keys::SigMethod> method;
  Bytes sig;
};

// A parsed and typed metadata file.
//  - `bytes` are the exact bytes parsed: what gets stored, hashed and served.
//  - `canonical_signed` is the canonical JSON of the parsed "signed" object: the message the
//    signatures cover (Notary verifies signatures over this re-canonicalization, not over the
//    raw bytes; with duplicate keys rejected, both describe the same object).
template <typename T>
struct Metadata {
  T content;
  std::vector<SignatureEntry> signatures;
  std::string canonical_signed;
  std::shared_ptr<const std::string> bytes;
};

// Limits on untrusted metadata. Exceeding one is kTooLarge.
struct MetadataLimits {
  json::ParseLimits json;
  std::size_t max_signatures = 1024;
  std::size_t max_keys = 1024;
  std::size_t max_delegations = 1024;
  std::size_t max_paths = 1024;
  std::size_t max_targets = 1'000'000;
};

// Parses a metadata file of the given type. The "_type" must match (kWrongType); every field
// Notary requires must be present with the right JSON type (kMalformed); version >= 0
// (kBadVersion); base64 must be canonical; each key map's IDs must equal the keys' computed
// IDs (kMalformed); "private" must be null (kMalformed: refusing metadata that leaks a key).
// Signatures are NOT verified here (see verify.h).
Result<Metadata<Root>> parse_root(std::string_view bytes, const MetadataLimits& limits = {});
Result<Metadata<Targets>> parse_targets(std::string_view bytes, const MetadataLimits& limits = {});
Result<Metadata<Snapshot>> parse_snapshot(std::string_view bytes,
                                          const MetadataLimits& limits = {});
Result<Metadata<Timestamp>> parse_timestamp(std::string_view bytes,
                                            const MetadataLimits& limits = {});

// Reads only "signed._type" and "signed.version" of any metadata file (for a server deciding
// what an upload part is). Full parse of the JSON, no typed conversion.
struct Header {
  RoleType type;
  std::int64_t version;
};
Result<Header> parse_header(std::string_view bytes, const json::ParseLimits& limits = {});

// The pieces that metadata files and other Notary documents (the changelist's payloads)
// share, parsed as the metadata parsers parse them: a key object {"keytype", "keyval":
// {"public", "private": null}} (a non-null "private" is kMalformed), and a file meta
// {"length" >= 0, "hashes": {name: base64}, "custom"?}. `where` names the object in errors.
Result<keys::PublicKey> parse_key(const json::Value& v);
Result<FileMeta> parse_file_meta(const json::Value& v, std::string_view where);

// The "signed" object of each role as JSON, in the exact shape Notary writes.
json::Value to_json(const Root& root);
json::Value to_json(const Targets& targets);
json::Value to_json(const Snapshot& snapshot);
json::Value to_json(const Timestamp& timestamp);
json::Value to_json(const keys::PublicKey& key);
json::Value to_json(const FileMeta& meta);

// Serializes a complete file as Notary lays it out: {"signed":{...},"signatures":[...]}
// ("signed" first, as Go marshals the envelope struct), with "signed" and each signature in
// canonical JSON. Unlike Go's encoding/json, '<', '>' and '&' are written raw, not as \u003c
// etc.; both forms parse to the same object and so verify alike.
std::string serialize_envelope(const json::Value& signed_value,
                               const std::vector<SignatureEntry>& signatures);

// Role names. A valid role name is a base role or a delegation name.
// Delegation names follow Notary (tuf/data/roles.go IsDelegation): start with "targets/",
// only [-a-z0-9_/], path-clean (no empty segment, no "." or ".." segment, no trailing "/"),
// shorter than 256 bytes.
bool is_base_role(std::string_view name);
bool is_delegation_role(std::string_view name);
bool is_valid_role_name(std::string_view name);
// "targets/a/b" -> "targets/a"; "targets/a" -> "targets"; others -> "".
std::string_view parent_role(std::string_view name);

// Notary's prefix paths: a target name is within `paths` if some path is a prefix of it
// ("" covers everything).
bool path_allowed(const std::vector<std::string>& paths, std::string_view target);
// Keeps the paths of `child` that lie within `parent` (Notary's RestrictDelegationPathPrefixes:
// a child path is kept if some parent path is a prefix of it).
std::vector<std::string> restrict_paths(const std::vector<std::string>& parent,
                                        const std::vector<std::string>& child);

}  // namespace vouch::tuf
