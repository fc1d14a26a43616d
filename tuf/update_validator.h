#pragma once

// Server-side validation of a Notary publish (POST /v2/<gun>/_trust/tuf/), and the snapshot
// and timestamp the server generates (REFERENCE §1.3, §1.4, §9; DESIGN "Publish" steps 2-4).
//
// The rules are Notary's (server/handlers/validation.go, tuf/builder.go,
// trustpinning/certs.go), applied in Notary's order, plus the hardening of REFERENCE §9:
//  - One byte string per file: the bytes uploaded are the bytes verified, hashed, stored and
//    served (RoleFile::bytes is the uploaded buffer itself).
//  - Duplicate JSON keys, non-integer numbers and trailing data are malformed (tuf/json.h).
//  - An uploaded snapshot is checked against the bytes of every role it lists, as those bytes
//    will be after this update (uploaded or stored), and must list every role that exists.
//  - A client-uploaded timestamp is rejected: the timestamp is server-owned.
//  - Every count and size is bounded (ValidationLimits).
//
// Typical use by the server (one publisher per GUN at a time):
//
//   VOUCH_ASSIGN_OR_RETURN(ValidatedUpdate update, validate_update(state, parts, options));
//   VOUCH_ASSIGN_OR_RETURN(std::vector<RoleFile> files, complete_update(update, signer, now));
//   store.update_many(gun, files);   // atomic; versions must be new
//
// On failure, error().error_class is the answer Notary would send (see UpdateErrorClass).

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "keys/public_key.h"
#include "keys/signer.h"
#include "tuf/metadata.h"

namespace vouch::tuf {

// ---------------------------------------------------------------------------------------------
// Errors: what Notary would answer

// The class of a validation failure, i.e. which Notary error the HTTP layer answers with
// (notary:server/errors/errors.go, tuf/validation/errors.go):
enum class UpdateErrorClass : std::uint8_t {
  kMalformedUpload,  // 400 MALFORMED_UPLOAD: a part repeated or without bytes
  kTooLarge,         // 413 (Notary has no limit): too many parts, or a file over a limit
  kMalformedJson,    // 400 MALFORMED_JSON: a part is not valid JSON / Notary metadata
  kInvalidRole,      // 400 INVALID_ROLE: unknown role name, or the server-owned timestamp
  kOldVersion,       // 400 VERSION: a version not newer than the stored one
  kBadRoot,          // 400 INVALID_UPDATE, detail {"Name":"ErrBadRoot","Error":{"Msg":...}}
  kBadTargets,       // 400 INVALID_UPDATE, "ErrBadTargets"
  kBadSnapshot,      // 400 INVALID_UPDATE, "ErrBadSnapshot"
  kBadHierarchy,     // 400 INVALID_UPDATE, "ErrBadHierarchy" (Error also has "Missing")
  kValidation,       // 400 INVALID_UPDATE, "ErrValidation"
  kInternal,         // 500: state, signer or key lookups failed; never show the message
};

// "MALFORMED_UPLOAD", "TOO_LARGE", "MALFORMED_JSON", "INVALID_ROLE", "VERSION", "ErrBadRoot",
// "ErrBadTargets", "ErrBadSnapshot", "ErrBadHierarchy", "ErrValidation", "INTERNAL".
std::string_view to_string(UpdateErrorClass error_class);

// A failed publish: an Error (code, reason, message) that also says which Notary error it is.
// The class travels as a field, never inside the message: the message is Notary's "Msg" as
// it is (safe to send to the client for every class except kInternal), and wrap() adds
// context without losing the class.
struct UpdateError : Error {
  UpdateErrorClass error_class = UpdateErrorClass::kInternal;
  // For kBadHierarchy: the missing role ("snapshot", "targets"); empty otherwise.
  std::string missing;

  UpdateError() = default;
  UpdateError(UpdateErrorClass cls, Error error, std::string missing_role = {})
      : Error(std::move(error)), error_class(cls), missing(std::move(missing_role)) {}
  // An error that no validation rule classified (e.g. from the store or the signer), by its
  // Reason: kRollback -> kOldVersion, kTooLarge -> kTooLarge, anything else -> kInternal.
  static UpdateError unclassified(Error error);
  // The same as unclassified(error); what UpdateResult converts a plain Error with.
  explicit UpdateError(Error error) : UpdateError(unclassified(std::move(error))) {}

  // As Error::wrap, keeping the class.
  UpdateError& wrap(std::string_view context) & {
    Error::wrap(context);
    return *this;
  }
  UpdateError&& wrap(std::string_view context) && {
    Error::wrap(context);
    return std::move(*this);
  }
};

// Result<T> with an UpdateError: what validate_update, complete_update and the server's
// publish return. An Error converts implicitly, through UpdateError::unclassified, so that
// VOUCH_RETURN_IF_ERROR / VOUCH_ASSIGN_OR_RETURN propagate plain errors into it; an
// UpdateError keeps its class. Accessing value() of an error, or error() of a value, is a
// programming error (asserted).
template <typename T>
using UpdateResult = BasicResult<T, UpdateError>;

using UpdateStatus = UpdateResult<void>;

// ---------------------------------------------------------------------------------------------
// Inputs

// A role's current file as the server stores it.
struct StoredRole {
  std::int64_t version = 0;
  std::shared_ptr<const std::string> bytes;  // never null
};

// What the server has now for the GUN being validated. The validator looks roles up lazily,
// only those its rules need, and at most once per role per validation (so an implementation
// need not cache). Implementations are called from the validating thread only.
class RepoState {
 public:
  virtual ~RepoState() = default;
  // The current file of `role` ("root", "targets", "targets/x", "snapshot", "timestamp"), or
  // nullopt if the role has none. An error (a storage failure) fails the validation as
  // UpdateErrorClass::kInternal.
  virtual Result<std::optional<StoredRole>> current(std::string_view role) const = 0;
};

// An in-memory RepoState: for tests, benchmarks and replaying a history. Not thread-safe.
class MemoryRepoState final : public RepoState {
 public:
  void put(std::string role, std::int64_t version, std::shared_ptr<const std::string> bytes) {
    roles_.insert_or_assign(std::move(role), StoredRole{version, std::move(bytes)});
  }
  void erase(std::string_view role) {
    if (auto it = roles_.find(role); it != roles_.end()) roles_.erase(it);
  }
  Result<std::optional<StoredRole>> current(std::string_view role) const override {
    auto it = roles_.find(role);
    if (it == roles_.end()) return std::optional<StoredRole>();
    return std::optional<StoredRole>(it->second);
  }

 private:
  std::map<std::string, StoredRole, std::less<>> roles_;
};

// One part of the multipart upload: the role named by the part's filename (".json" already
// trimmed by the HTTP layer) and the part's exact bytes.
struct UploadPart {
  std::string role;
  std::shared_ptr<const std::string> bytes;
};

// Whether the server can sign with `key` (through its local or remote keys::Signer). Asked
// only about the snapshot and timestamp keys that the final root lists. An error (e.g. the
// remote signer is unreachable) fails the validation as UpdateErrorClass::kInternal.
using KeyHolder = std::function<Result<bool>(const keys::PublicKey& key)>;

// Bounds on one upload. Exceeding one is Reason::kTooLarge (UpdateErrorClass::kTooLarge).
// The HTTP layer enforces body and part sizes while reading; these are the second guard.
struct ValidationLimits {
  // Parts in one upload: root, targets, snapshot and delegations. Default 1024.
  std::size_t max_parts = 1024;
  // Limits for parsing each uploaded and stored file (sizes, keys, delegations, targets).
  MetadataLimits metadata;
};

struct ValidationOptions {
  // The GUN being updated: root certificates must have CN = gun.
  std::string gun;
  // The one reference time for every expiry check of this validation.
  TimePoint now;
  // Which snapshot/timestamp keys the server holds. Empty = none (then every upload without
  // a snapshot fails with ErrBadHierarchy, and every upload fails with ErrBadRoot "no
  // timestamp keys exist on the server").
  KeyHolder server_holds_key;
  // When true (the default), a role that the uploaded snapshot lists with exactly the meta
  // the stored snapshot lists for it is taken to be unchanged without reading and hashing its
  // stored bytes: the stored snapshot was itself checked against the bytes when it was
  // stored, so only what changed is hashed. Set false after importing data written by a
  // server that did not check snapshots (Notary), to check every listed role's bytes.
  bool trust_stored_snapshot = true;
  // Optional: a root parsed earlier (e.g. ValidatedUpdate::root of the previous publish, kept
  // by the caller per GUN). Used instead of parsing the stored root when its bytes equal the
  // stored root's bytes (compared in full); ignored otherwise. Parsing a root's keys is most of
  // the cost of validating a small publish (OpenSSL key decoding).
  std::shared_ptr<const Metadata<Root>> parsed_root_hint;
  ValidationLimits limits;
};

// ---------------------------------------------------------------------------------------------
// Outputs

// A file to store: exact bytes plus what the store and the next snapshot need.
struct RoleFile {
  std::string role;
  std::int64_t version = 0;
  Expiry expires;
  std::shared_ptr<const std::string> bytes;
  // FileMeta::of(*bytes): length, sha256, sha512 (computed once; the sha256 is the store's
  // checksum key and the entry a snapshot lists for this file).
  FileMeta meta;
};

// Edits that turn the previous snapshot's "meta" into the next one.
struct SnapshotChanges {
  // Entries to add or replace.
  std::map<std::string, FileMeta, std::less<>> set;
  // Entries to remove (delegations that this update stopped delegating, and their
  // descendants). Removal is applied before `set`.
  std::vector<std::string> removed;
};

struct ValidatedUpdate {
  // The uploaded files, parsed and verified, in dependency order: root, then targets and
  // delegations (shallower first, then by name), then the snapshot if one was uploaded.
  // Each holds the exact uploaded bytes.
  std::vector<RoleFile> files;

  // True when no snapshot was uploaded: the server must generate one (it holds the key:
  // snapshot_keys is non-empty). The next snapshot is previous_snapshot's meta edited by
  // snapshot_changes, at version next_snapshot_version.
  bool needs_snapshot = false;
  SnapshotChanges snapshot_changes;
  std::int64_t next_snapshot_version = 1;
  // The stored snapshot, parsed; nullptr if none is stored.
  std::shared_ptr<const Metadata<Snapshot>> previous_snapshot;
  // Keys the server signs the generated snapshot with (threshold many of the final root's
  // snapshot keys that it holds); empty unless needs_snapshot.
  std::vector<keys::PublicKey> snapshot_keys;

  // The timestamp is always generated: version next_timestamp_version (stored + 1, or 1),
  // signed with timestamp_keys (threshold many of the final root's timestamp keys).
  std::int64_t next_timestamp_version = 1;
  std::vector<keys::PublicKey> timestamp_keys;

  // The root in force after this update (uploaded or stored), parsed and verified.
  std::shared_ptr<const Metadata<Root>> root;
};

// ---------------------------------------------------------------------------------------------
// Validation

// Validates an upload against the current state. Does not write anything and does not sign.
//
// Rules, in order (Notary's validateUpdate; [class] = the UpdateErrorClass of a failure):
//  1. The upload: at most limits.max_parts parts [kTooLarge], each with bytes and a role name
//     that is valid (root, targets, snapshot or a delegation name) [kInvalidRole], none
//     repeated [kMalformedUpload]; a "timestamp" part is rejected, as server-owned
//     [kInvalidRole]. Each part parses as its role's type: JSON errors [kMalformedJson],
//     size limits [kTooLarge], a wrong "_type" or invalid structure [kBad<role>].
//  2. Root. Without an uploaded root the stored one is used; with neither: [kValidation]
//     "no pre-existing root and no root provided in update". An uploaded root's version
//     must equal the stored version or stored+1 (1 or 2 when none is stored) [kBadRoot];
//     each base role has threshold >= kMinThreshold and only key IDs that root defines
//     [kBadRoot]; every key of the root role is an X.509 certificate (ecdsa-x509, rsa-x509)
//     with CN = gun, not SHA-1 signed, valid at `now` (keys::Certificate::check_root)
//     [kBadRoot]; it is signed by a threshold of the previous root's root keys (if one is
//     stored) AND a threshold of its own root keys [kBadRoot]; not expired [kBadRoot]; and,
//     as the store would require, newer than the stored root [kOldVersion].
//     Hardening: when the new root changes the targets keys and no targets file is uploaded,
//     the stored targets must still verify under the new root [kBadHierarchy, missing
//     "targets"], as clients would reject it otherwise.
//  3. Targets and delegations, shallower first. A delegation's parent is taken from the
//     upload or else from the state (parsed; its signatures verified against its own parent
//     chain, its expiry not checked, as Notary loads stored parents); a missing parent, or a
//     parent that does not delegate to the role, fails [kBadTargets]. Each file: version >= 1;
//     every delegation it declares is a direct child with a valid name, threshold >=
//     kMinThreshold and known key IDs; delegation keys that are certificates are not SHA-1
//     signed; signatures meet the threshold of the keys its parent declares (root for
//     "targets"), counting distinct keys; not expired; in a delegation every target name lies
//     within the role's paths intersected with all its ancestors' paths [all kBadTargets];
//     newer than the stored version [kOldVersion]. After the update "targets" must exist
//     [kBadHierarchy, missing "targets"].
//  4. Snapshot. If uploaded: signatures meet the final root's snapshot threshold, version >=
//     1, not expired [kBadSnapshot]; every entry names root, targets or a delegation, carries
//     a sha256, and matches (length and hashes) that role's bytes after this update, uploaded
//     or stored (a listed role that does not exist fails) [kBadSnapshot]; root, targets and
//     every uploaded role are listed, and a role that the stored snapshot lists may be left
//     out only if it is no longer delegated [kBadSnapshot]; newer than stored [kOldVersion].
//     If not uploaded: the server must hold a threshold of the final root's snapshot keys
//     [kBadHierarchy, missing "snapshot"], and the result describes the snapshot to make.
//  5. Timestamp: the server must hold a threshold of the final root's timestamp keys
//     [kBadRoot "no timestamp keys exist on the server"].
// A RepoState or KeyHolder error fails as [kInternal]; a stored file that no longer parses
// is [kInternal] too (the store is damaged, not the upload).
//
// Cost: the uploaded files are parsed, verified and hashed once; from the state, the root,
// the stored snapshot, and the stored versions of uploaded roles are read, plus the stored
// parents of uploaded delegations (parsed and verified). With trust_stored_snapshot, stored
// roles whose snapshot entry did not change are not read at all.
UpdateResult<ValidatedUpdate> validate_update(const RepoState& state,
                                              std::span<const UploadPart> parts,
                                              const ValidationOptions& options);

// Notary's MinThreshold (const.go): thresholds below this are invalid.
inline constexpr std::int64_t kMinThreshold = 1;

// ---------------------------------------------------------------------------------------------
// The server-owned roles

// Notary's server-side lifetimes (const.go NotarySnapshotExpiry, NotaryTimestampExpiry).
inline constexpr std::chrono::hours kSnapshotLifetime{24 * 365 * 3};
inline constexpr std::chrono::hours kTimestampLifetime{24 * 14};

// The keys among `root`'s keys for `role` that the server holds: the first distinct keys (by
// key material, in keyids order) that `holds` accepts, exactly threshold many. Fewer than
// the threshold -> kThresholdNotMet; a role root does not define -> kBadRole; errors of
// `holds` are returned as they are.
Result<std::vector<keys::PublicKey>> server_signing_keys(const Root& root, std::string_view role,
                                                         const KeyHolder& holds);

// Builds and signs a snapshot: `previous`'s meta (none if nullptr) edited by `changes`, at
// `version`, expiring at `expires`, signed through `signer` with each of `keys`. The result
// must list "root" and "targets" and `version` must be >= 1 (kMalformed otherwise); `keys`
// must not be empty (kThresholdNotMet). Signer errors are returned as they are.
Result<RoleFile> make_snapshot(const Snapshot* previous, const SnapshotChanges& changes,
                               std::int64_t version, const Expiry& expires,
                               std::span<const keys::PublicKey> keys, keys::Signer& signer);

// Builds and signs a timestamp listing the snapshot file `snapshot_bytes` (its length, sha256
// and sha512) at `version` (>= 1), expiring at `expires`. Errors as make_snapshot.
Result<RoleFile> make_timestamp(std::string_view snapshot_bytes, std::int64_t version,
                                const Expiry& expires, std::span<const keys::PublicKey> keys,
                                keys::Signer& signer);

// Step 4 of a publish: returns update.files, then the generated snapshot (if
// update.needs_snapshot; expiring now + snapshot_lifetime), then the timestamp over the
// uploaded or generated snapshot (expiring now + timestamp_lifetime) — every file the store
// must write, in order. Signer errors are returned as they are (UpdateErrorClass::kInternal).
UpdateResult<std::vector<RoleFile>> complete_update(
    const ValidatedUpdate& update, keys::Signer& signer, TimePoint now,
    std::chrono::microseconds snapshot_lifetime = kSnapshotLifetime,
    std::chrono::microseconds timestamp_lifetime = kTimestampLifetime);

}  // namespace vouch::tuf
