#pragma once

// Notary's changelist: the changes `add`, `remove`, `delegation ...` and `witness` stage
// locally until `publish` applies them (client/apply.h). Each change is one file
//
//   <trust_dir>/tuf/<gun>/changelist/<%020d unix nanoseconds>_<uuid v4>.change
//
// holding the JSON of Notary's TUFChange (client/changelist/change.go):
//
//   {"action":"create","role":"targets","type":"target","path":"v1","data":"<base64>"}
//
// with "data" the base64 of a JSON payload (a target's FileMeta, a TUFDelegation) or null.
// The files are byte-compatible with notary 0.7 in both directions: vouch writes exactly the
// bytes Go's encoding/json writes for the same change (field order, HTML-safe escaping of
// '<', '>', '&', U+2028/U+2029), and reads what notary writes. Changes apply in file-name
// order, which is the order they were added.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/encoding.h"
#include "common/result.h"
#include "keys/public_key.h"
#include "tuf/metadata.h"

namespace vouch::client {

// ---- One change ----------------------------------------------------------------------------

// Actions (Notary changelist/interface.go). Targets use create and delete; delegations all
// three; a witness is written as update but any action witnesses (Notary ignores it).
inline constexpr std::string_view kActionCreate = "create";
inline constexpr std::string_view kActionUpdate = "update";
inline constexpr std::string_view kActionDelete = "delete";

// Types (Notary changelist/change.go).
inline constexpr std::string_view kTypeTarget = "target";          // path = target name
inline constexpr std::string_view kTypeDelegation = "delegation";  // role = delegation name
inline constexpr std::string_view kTypeWitness = "witness";        // re-sign role unchanged
inline constexpr std::string_view kTypeBaseRole = "role";          // root key changes (scope root)

// The scope ("role") of root changes. Targets changes use "targets", a delegation name, or a
// wildcard "targets/.../*" (delegation purge).
inline constexpr std::string_view kScopeRoot = "root";

// A staged change, as Notary's TUFChange. Action and type are kept as the text found, so a
// change written by a newer or foreign tool still lists (and `reset -n` numbers it as notary
// does); apply.h rejects what it does not know, as Notary's applyChangelist does.
struct Change {
  std::string action;  // kActionCreate, kActionUpdate, kActionDelete
  std::string role;    // the scope: "targets", "targets/releases", "targets/*", "root"
  std::string type;    // kTypeTarget, kTypeDelegation, kTypeWitness, kTypeBaseRole
  std::string path;    // the target name for kTypeTarget; "" otherwise
  // The payload before base64; nullopt is JSON null (deletes and witnesses carry none).
  std::optional<Bytes> data;

  friend bool operator==(const Change&, const Change&) = default;
};

// Serializes `change` as Go's json.Marshal(TUFChange) does: fields in the order action, role,
// type, path, data; data as standard base64 or null; strings escaped as Go escapes them.
// Every string must be valid UTF-8 (kInvalidUtf8; Go would silently replace the bytes, which
// would stage a different target name than asked for).
Result<std::string> encode_change(const Change& change);

// Parses a change file as Go's json.Unmarshal into TUFChange reads it: unknown fields are
// ignored, a missing or null string field is "", "data" is base64 or null. Rejects what Go
// rejects (not an object, a field of the wrong JSON type, bad base64: kMalformed) and,
// stricter than Go, what the strict JSON parser rejects (duplicate keys, invalid UTF-8,
// non-integer numbers anywhere in the file). Field names match exactly (Go also matches them
// case-insensitively; notary never writes them so). More than `max_bytes` is kTooLarge.
Result<Change> parse_change(std::string_view text, std::size_t max_bytes = 1u << 20);

// ---- Payloads --------------------------------------------------------------------------------

// A target change's payload is the target's FileMeta as Go marshals data.FileMeta:
// {"length":N,"hashes":{"sha256":"<b64>","sha512":"<b64>"},"custom":<json>} ("custom"
// omitted when absent; hashes in key order). Custom JSON is written with Go's escaping but in
// the JSON model's key order (Go keeps the order of the file given to `notary add --custom`).
Result<Bytes> encode_target_payload(const tuf::FileMeta& meta);
// Requires "length" (an integer >= 0) and "hashes" (an object of base64 strings, at least
// one): kMalformed otherwise. Notary's Unmarshal would default both, giving a target no
// client can verify. "custom": null is no custom data. A custom document that the strict JSON
// model cannot hold (e.g. a fractional number written by another tool) is kNotInteger.
Result<tuf::FileMeta> parse_target_payload(ByteSpan data);

// A delegation change's payload: Notary's TUFDelegation (changelist/change.go).
struct DelegationPayload {
  // "new_name": carried for round trips; Notary never sets it and never applies it.
  std::string new_name;
  // "threshold": the threshold of a role that does not exist yet (Notary stages 1); ignored
  // for an existing role, whose threshold a change never alters (Notary).
  std::int64_t threshold = 0;
  // "add_keys": public keys, as a JSON list of {"keytype","keyval":{"public","private":null}}.
  std::vector<keys::PublicKey> add_keys;
  // "remove_keys": canonical key IDs (keys::PublicKey::canonical_id, the IDs `delegation
  // list` shows); for a wildcard scope, the keys to purge from every delegation below it.
  std::vector<std::string> remove_keys;
  std::vector<std::string> add_paths;     // "add_paths"
  std::vector<std::string> remove_paths;  // "remove_paths"
  bool clear_paths = false;               // "clear_paths"

  friend bool operator==(const DelegationPayload&, const DelegationPayload&) = default;
};

// Written as Go marshals TUFDelegation: fields in the order above, each omitted when empty
// (omitempty), threshold omitted when 0, clear_paths when false.
Result<Bytes> encode_delegation_payload(const DelegationPayload& payload);
// Lenient where Go is (missing or null fields are empty), strict where vouch must be: every
// key must parse as a public key of a supported type with "private" null or absent
// (kMalformed, kUnsupportedAlgorithm, kKeyTooSmall; Notary would accept an unknown key type
// and fail later when signing).
Result<DelegationPayload> parse_delegation_payload(ByteSpan data);

// ---- Staging, as the notary client stages each command ------------------------------------
// Each returns the change Notary's client would write for the command (client/client.go,
// client/delegations.go, client/witness.go, cmd/notary/delegations.go), after the same name
// checks (kBadRole), so that vouch and notary changelists are interchangeable.

// Notary's Wildcard delegation (tuf/data/roles.go IsWildDelegation): "targets/*" or
// "<delegation>/*" with a clean path.
bool is_wildcard_delegation(std::string_view role);

// `add`: target `name` with `meta` into `role` ("targets", a delegation or a wildcard, as
// Notary's addChange allows). `meta` must have at least one hash (Notary: "no hashes
// specified for target"). A control byte (U+0000..U+001F) in the name or in any string of
// the custom data is kMalformed: canonical JSON writes it raw, so no valid metadata file could
// hold it (notary 0.7 stages it and then fails every publish; vouch-server would refuse the
// upload as malformed JSON). The same holds for delegation paths.
Result<Change> add_target_change(std::string_view role, std::string_view name,
                                 const tuf::FileMeta& meta);
// `remove`: target `name` from `role` (same role rule).
Result<Change> remove_target_change(std::string_view role, std::string_view name);
// `witness`: re-sign `role` unchanged on the next publish. Notary stages any name and checks
// it when applying; so does this (no check here).
Change witness_change(std::string_view role);
// `delegation add` with keys: create `role` with `keys` at threshold 1, or add `keys` to it.
Result<Change> add_delegation_keys_change(std::string_view role,
                                          std::vector<keys::PublicKey> keys);
// `delegation add --paths/--all-paths` (the empty path "" is every path): add paths to a role.
Result<Change> add_delegation_paths_change(std::string_view role, std::vector<std::string> paths);
// `delegation remove --paths`.
Result<Change> remove_delegation_paths_change(std::string_view role,
                                              std::vector<std::string> paths);
// `delegation remove --key` (canonical key IDs). `role` may be a wildcard (Notary allows it).
Result<Change> remove_delegation_keys_change(std::string_view role,
                                             std::vector<std::string> key_ids);
// `delegation remove --all-paths`.
Result<Change> clear_delegation_paths_change(std::string_view role);
// `delegation remove <role>` with no keys or paths: delete the role entirely.
Result<Change> delete_delegation_change(std::string_view role);
// `delegation purge --key`: Notary stages remove_keys on the wildcard "targets/*", which
// removes the keys from every delegation in the repository that lists them (apply.h).
Result<Change> purge_delegation_keys_change(std::vector<std::string> key_ids);

// ---- The file changelist ---------------------------------------------------------------------

// Limits on what a changelist directory may hold (a local directory, but one that other
// tools and users write to). Exceeding one is kTooLarge.
struct ChangelistLimits {
  // One change file. Default 1 MiB: a delegation change with a dozen certificates is ~30 KiB.
  std::size_t max_change_bytes = 1u << 20;
  // .change files in the directory. Default 10,000.
  std::size_t max_changes = 10'000;
};

// A listed change with the name of the file that holds it.
struct ListedChange {
  std::string file_name;  // "01795911958860192597_df9e458f-....change"
  Change change;
};

// What list() found: the changes in order, and one warning per file skipped.
struct ChangeListing {
  std::vector<ListedChange> changes;
  std::vector<std::string> warnings;
};

// Notary's FileChangelist over one directory. Every operation reads the directory afresh, so
// several processes may use one changelist: adds are atomic (a complete file appears under
// its final name or nothing does) and never replace another change.
//
// Differences from notary 0.7, on purpose:
//  - Only regular files named *.change are changes. Notary treats every file in the directory
//    as one (and warns about those that do not parse); vouch skips other files, with a
//    warning, except its own in-flight temporary files.
//  - remove() numbers changes as list() does (the numbers `status` shows). Notary's Remove
//    numbers every file, unparsable ones included, so `reset -n` can remove the wrong change
//    when a broken file sorts first; an index out of range is an error here (notary ignores
//    it).
//  - Limits (ChangelistLimits) bound what is read.
//  - clear() removes only *.change files; clear_through() lets publish remove exactly the
//    changes it applied, not ones staged while it ran (Notary clears the whole directory).
// Not thread-safe per object; distinct objects (and processes) may share a directory.
class FileChangelist {
 public:
  // Opens the changelist in `dir`, creating it and any missing parents with mode 0700 (as
  // Notary's NewFileChangelist does with MkdirAll). `dir` is the full path
  // <trust_dir>/tuf/<gun>/changelist; this class does not interpret the GUN. `clock` names
  // new files and must outlive the object. kIo if the directory cannot be created or is not
  // a directory.
  static Result<FileChangelist> open(std::filesystem::path dir, ChangelistLimits limits = {},
                                     const Clock& clock = SystemClock::instance());

  const std::filesystem::path& dir() const { return dir_; }
  const ChangelistLimits& limits() const { return limits_; }

  // The changes, sorted by file name (bytewise, as Notary sorts), which is the order they
  // were added. A *.change file that does not parse as a change, is not a regular file (a
  // symlink, a FIFO), or vanished while listing is skipped with a warning, as Notary skips
  // files that do not parse. Errors: more than max_changes *.change files, or one larger
  // than max_change_bytes (kTooLarge, naming the file: `reset` removes it); the directory
  // cannot be read (kIo). A directory that does not exist lists as empty.
  Result<ChangeListing> list() const;

  // Stages `change` in a new file <%020d nanoseconds>_<uuid v4>.change, mode 0600, written to
  // a temporary file, flushed to disk and renamed into place without replacing any existing
  // file. The nanoseconds come from the clock, and are made strictly increasing within the
  // process, so that changes added in the same instant keep their order. Returns the file
  // name. Errors: encode_change's; an encoding over max_change_bytes, or max_changes already
  // staged (kTooLarge); a filesystem failure (kIo; no file is left behind).
  Result<std::string> add(const Change& change);

  // Removes every *.change file (`reset --all`), however many there are. kIo if a file cannot
  // be removed (the others are still removed); files removed concurrently by another process
  // are not an error.
  Status clear();

  // Removes the changes at `indices` (positions in list(), `reset -n`). Every index must be
  // < list().changes.size(), else kOutOfRange and nothing is removed. Duplicates are allowed.
  Status remove(std::span<const std::size_t> indices);

  // After a successful publish of the changes listed up to and including `last_file_name`:
  // removes every *.change file whose name sorts at or before it (the applied changes, and
  // any unparsable file among them, as Notary's Clear would), keeping changes staged since.
  // `last_file_name` must be a bare *.change file name (kInvalidArgument).
  Status clear_through(std::string_view last_file_name);

 private:
  FileChangelist(std::filesystem::path dir, ChangelistLimits limits, const Clock* clock)
      : dir_(std::move(dir)), limits_(limits), clock_(clock) {}

  // Names of the *.change entries (any file type), sorted; kTooLarge past max_changes when
  // `bounded`. Other names (but directories and add()'s temporary files) go to `skipped`.
  Result<std::vector<std::string>> change_file_names(std::vector<std::string>* skipped,
                                                     bool bounded) const;
  Status remove_files(const std::vector<std::string>& names);

  std::filesystem::path dir_;
  ChangelistLimits limits_;
  const Clock* clock_;
};

}  // namespace vouch::client
