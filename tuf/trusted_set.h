#pragma once

// TrustedSet: the client's TUF update state machine (python-tuf ngclient's
// TrustedMetadataSet, in Notary's dialect). It holds the metadata that has been verified so
// far for one GUN and accepts new metadata only in the order TUF prescribes:
//
//   root (chain, one version at a time) -> timestamp -> snapshot -> targets -> delegations
//
// Each step checks the new bytes against what the previous step trusted: signatures and
// thresholds (arbitrary software), versions (rollback), expiry at ONE fixed reference time
// (freeze), lengths and hashes listed by the parent role (mix-and-match, endless data), and
// delegation paths intersected down the chain. Spec steps are cited as "TUF 5.x.y" (TUF 1.0
// "Detailed client workflow"); Notary's behaviour as "Notary <file>".
//
// The class does no I/O; tuf/updater.h drives it against a MetadataSource and a
// MetadataCache. The verifier uses it directly for "who signed this tag".
//
// Every update_* either succeeds and changes the state, or fails and leaves the state as it
// was (the one exception: a failed update_delegated_targets is remembered in failed_roles()
// for diagnostics). A failed update never makes anything trusted.
//
// Not thread-safe for updates; const member functions may run concurrently once updating is
// done. Movable, not copyable.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "keys/public_key.h"
#include "tuf/metadata.h"
#include "tuf/trust_pinning.h"

namespace vouch::tuf {

// Limits on what one update accepts from the network (python-tuf's UpdaterConfig, Notary's
// size constants). Exceeding one is kTooLarge, and sizes are checked BEFORE parsing.
struct UpdateLimits {
  // Root versions walked in one update (TUF 5.3.3 "Y"). python-tuf: 256.
  std::size_t max_root_rotations = 256;
  // One root file, whose length nothing lists (TUF 5.3.3 "W"). python-tuf: 512000.
  std::size_t max_root_bytes = 512 * 1024;
  // The timestamp, whose length nothing lists (TUF 5.4.1 "X"). Notary: MaxTimestampSize.
  std::size_t max_timestamp_bytes = 1 << 20;
  // Caps over the lengths that timestamp (for snapshot) and snapshot (for targets and each
  // delegation) list: a listed length above the cap is refused before downloading. Notary's
  // MaxDownloadSize.
  std::size_t max_snapshot_bytes = 100u << 20;
  std::size_t max_targets_bytes = 100u << 20;
  // Delegated roles loaded into one TrustedSet (python-tuf max_delegations bounds a search
  // at 32 roles; Notary's client loads every delegation, so this bounds the whole tree).
  std::size_t max_delegated_roles = 1024;
  // Parser limits (counts of keys, signatures, delegations, targets; nesting depth).
  MetadataLimits metadata;
};

// Where a bootstrap root comes from; decides whether TOFU rules apply.
enum class RootOrigin {
  // Trusted before: the local cache of an earlier run, or a copy shipped out of band.
  kTrustedBefore,
  // Seen for the first time (downloaded now): trusted only through pinning, or TOFU when the
  // pinning allows it.
  kFirstUse,
};

// A top-level or delegated targets role that has been verified.
struct TrustedTargets {
  std::string role;  // "targets" or "targets/..."
  Metadata<Targets> metadata;
  // Keys and threshold that verified it (from root for "targets", from the parent's
  // delegations otherwise).
  KeyMap keys;
  RoleKeys role_keys;
  // Target-name prefixes this role may sign: {""} for "targets"; for a delegation its own
  // paths intersected with every ancestor's (Notary RestrictDelegationPathPrefixes). Targets
  // the role lists outside these paths are ignored.
  std::vector<std::string> paths;
  // Every distinct key (by key material) whose signature over this role's metadata verified:
  // at least `role_keys.threshold` of them. Listed by the key ID the role lists it under.
  std::vector<keys::PublicKey> signers;
};

// A target as one role lists it.
struct TargetMatch {
  std::string role;
  FileMeta meta;
  std::vector<std::string> paths;        // the role's effective paths
  std::vector<keys::PublicKey> signers;  // see TrustedTargets::signers
  std::int64_t threshold = 1;
};

// A delegation from a loaded role, as the update workflow follows it.
struct DelegationEdge {
  std::string role;                // the delegated role's name
  std::vector<std::string> paths;  // its effective paths (intersected down the chain)
};

class TrustedSet {
 public:
  // Starts from a root (TUF 5.2) for `gun` at `reference_time`, the one instant against which
  // every expiry in this set is checked (TUF 5.1).
  //
  // The root must parse (kMalformed etc.), have version >= 1, thresholds >= 1 and every
  // listed key ID present (kMalformed), and be signed by a threshold of its own root keys.
  // Only X.509 root keys whose certificate has CN == gun (and passes Notary's certificate
  // checks, validity period aside) count (Notary trustpinning/certs.go); the pinning of
  // `pinning` for this GUN further restricts which of them count:
  //   - certificate IDs or a CA configured for the GUN: only matching certificates count,
  //     whatever `origin` (vouch also applies pinning to a cached root; Notary ignores pinning
  //     once a root is cached). No match -> kBadCertificate. With pinning.anchor_only the
  //     pin applies to a kFirstUse root only, and never to the roots update_root() and
  //     check_final_root() see later (trust_pinning.h).
  //   - otherwise TOFU: with origin kFirstUse and disable_tofu set -> kBadCertificate
  //     (Code kFailedPrecondition) "no trust pinning for <gun> and TOFU disabled".
  // Not enough valid signatures -> kThresholdNotMet. Expiry (of the metadata and of the
  // certificates) is NOT checked here: a trusted root may have expired since, and the chain
  // walk may replace it (TUF 5.2); see check_final_root().
  static Result<TrustedSet> bootstrap(std::string gun, std::string_view root_bytes,
                                      RootOrigin origin, const TrustPinning& pinning,
                                      TimePoint reference_time, UpdateLimits limits = {});

  TrustedSet(TrustedSet&&) noexcept = default;
  TrustedSet& operator=(TrustedSet&&) noexcept = default;
  TrustedSet(const TrustedSet&) = delete;
  TrustedSet& operator=(const TrustedSet&) = delete;
  ~TrustedSet() = default;

  // Replaces the trusted root with the next version (TUF 5.3.3-5.3.7). Only before a
  // timestamp is loaded (kBadRole, Code kFailedPrecondition). Checks, in order:
  //   size <= max_root_bytes (kTooLarge); parse and structure (as bootstrap);
  //   signed by a threshold of the TRUSTED root's root keys (certificates with CN == gun,
  //     expiry not checked, as Notary) -> else kThresholdNotMet, with a message that says the
  //     root changed without being cross-signed by the keys trusted so far;
  //   version == trusted + 1 (<= trusted: kRollback; > trusted + 1: kBadVersion);
  //   pinning (as bootstrap; TOFU never applies after the first root; not with
  //     pinning.anchor_only);
  //   signed by a threshold of its OWN root keys (kThresholdNotMet).
  // The expiry of an intermediate root does not matter (TUF 5.3.6).
  Status update_root(std::string_view bytes);

  // Checks the trusted root for use (TUF 5.3.10): not expired at the reference time
  // (kExpired), and a threshold of its signatures comes from root certificates valid at the
  // reference time (kExpired, naming the certificate). update_timestamp calls this first.
  Status check_final_root() const;

  // Loads the timestamp (TUF 5.4). Only after the root chain and before a snapshot is loaded
  // (kBadRole / kFailedPrecondition). Checks: check_final_root(); size <=
  // max_timestamp_bytes (kTooLarge); parse (kMalformed, kWrongType); version >= 1 and the
  // "snapshot" meta present with a sha256 hash (kMalformed, Notary
  // IsValidTimestampStructure); signatures by root's timestamp role (kThresholdNotMet);
  // version >= the rollback floor and >= a timestamp already trusted in this set
  // (kRollback; equal is accepted, as Notary's VerifyVersion does); not expired (kExpired).
  // A second call with a newer timestamp replaces the first (only before snapshot).
  Status update_timestamp(std::string_view bytes);

  // Loads the snapshot (TUF 5.5). Needs a timestamp; only before targets. Checks: size <=
  // the length the timestamp lists (kTooLarge before parsing) and <= max_snapshot_bytes;
  // length and hashes as the timestamp lists them (kLengthMismatch / kHashMismatch:
  // mix-and-match); parse; version >= 1, "root" and "targets" meta present with sha256
  // (kMalformed, Notary IsValidSnapshotStructure); signatures by root's snapshot role;
  // version >= floor (kRollback); not expired (kExpired); and the "root" meta matches the
  // bytes of the trusted root (kHashMismatch: the server is withholding a root update, or the
  // repository changed during the update; Notary checks root against snapshot too).
  // Notary's snapshot lists no versions, so TUF 5.5.4/5.5.5 (versions listed for targets)
  // reduce to the hash checks; a role may disappear from the snapshot (Notary deletes
  // delegations).
  Status update_snapshot(std::string_view bytes);

  // Loads the top-level targets (TUF 5.6). Needs the snapshot; once. Checks: size against
  // the snapshot's length (kTooLarge before parsing) and max_targets_bytes; length and hashes
  // (kLengthMismatch / kHashMismatch); parse; structure (version >= 1; every delegation a
  // direct child "targets/x" with threshold >= 1 and known key IDs: kBadRole / kMalformed,
  // Notary isValidTargetsStructure); signatures by root's targets role; version >= floor
  // (kRollback); not expired (kExpired).
  Status update_targets(std::string_view bytes);

  // Loads delegated role `role` (TUF 5.6.7, Notary loadDelegation). Checks: `role` is a valid
  // delegation name (kBadRole: hostile names such as "targets/../root" never get further);
  // not loaded yet (kBadRole); its parent (tuf::parent_role) is loaded and delegates to it
  // (kBadRole / Code kFailedPrecondition); at most max_delegated_roles loaded (kTooLarge);
  // the snapshot lists it (kNotFound); then as update_targets, with the parent's keys and
  // threshold for that delegation. Its effective paths are its own restricted to the parent's.
  // On failure the error is also recorded in failed_roles().
  Status update_delegated_targets(std::string_view role, std::string_view bytes);

  // Rollback floors: versions trusted in an earlier update, below which a role is refused.
  //
  // note_previous() takes a copy of `role` from the local cache (untrusted), verifies its
  // signatures with the keys now trusted for that role (expiry ignored, as Notary's
  // oldBuilder does), and makes its version the floor. For a delegation the parent must be
  // loaded. Returns the floor; errors (bad signature, no keys yet, wrong role...) leave the
  // floor unchanged and are meant to be ignored by callers: a broken cache gives no floor.
  // The root cannot have a floor (the trusted root IS the floor).
  Result<std::int64_t> note_previous(std::string_view role, std::string_view bytes);
  // Sets a floor directly (e.g. versions carried over from the previous TrustedSet of the
  // same GUN, see versions()); keeps the higher of the old and new floor.
  void set_floor(std::string_view role, std::int64_t version);

  // ---- State ----
  const std::string& gun() const { return gun_; }
  TimePoint reference_time() const { return reference_time_; }
  const UpdateLimits& limits() const { return limits_; }
  const Metadata<Root>& root() const { return root_; }
  // nullptr until loaded.
  const Metadata<Timestamp>* timestamp() const { return timestamp_ ? &*timestamp_ : nullptr; }
  const Metadata<Snapshot>* snapshot() const { return snapshot_ ? &*snapshot_ : nullptr; }
  // "targets" or a delegation; nullptr until loaded.
  const TrustedTargets* targets(std::string_view role = kTargetsRole) const;
  // Versions of everything trusted now, by role name (root included).
  std::map<std::string, std::int64_t, std::less<>> versions() const;
  // Delegated roles whose update failed, with the error (latest failure per role).
  const std::map<std::string, Error, std::less<>>& failed_roles() const { return failed_; }
  // How many root versions update_root accepted.
  std::size_t root_rotations() const { return root_rotations_; }

  // The length and hashes a verified parent lists for `role`: timestamp -> "snapshot";
  // snapshot -> "targets" and delegations. nullptr if not (yet) known. The workflow fetches
  // at most meta->length bytes.
  const FileMeta* expected_meta(std::string_view role) const;

  // The delegations of a loaded targets role, in the order the role lists them, with
  // effective paths. Empty if `role` is not loaded.
  std::vector<DelegationEdge> delegations_of(std::string_view role) const;

  // ---- Lookups (over loaded roles only) ----
  // Notary's GetTargetByName(name): the first role that lists `name` within its effective
  // paths, walking from "targets" through delegations breadth-first in listed order (Notary
  // tuf.go WalkTargets; TUF 5.6.7 specifies pre-order depth-first, which differs only in
  // which role answers when several list the name). Roles not loaded are passed over.
  std::optional<TargetMatch> find_target(std::string_view name) const;
  // Notary's GetTargetByName(name, roles...): tries the subtree of each role in
  // `priority` in turn, each walk skipping the other listed roles' subtrees (docker uses
  // {"targets/releases", "targets"}).
  std::optional<TargetMatch> find_target(std::string_view name,
                                         std::span<const std::string> priority) const;
  // Notary's GetAllTargetMetadataByName: every loaded role that lists `name` within its
  // effective paths, in walk order. For the verifier: each entry carries its signers.
  std::vector<TargetMatch> find_all_targets(std::string_view name) const;

 private:
  TrustedSet() = default;

  Status check_order_before_timestamp() const;
  Result<const TrustedTargets*> delegating_parent(std::string_view role,
                                                  const DelegatedRole** delegation) const;
  Result<TrustedTargets> verify_targets_role(std::string_view role, std::string_view bytes,
                                             const KeyMap& keys, const RoleKeys& role_keys,
                                             std::vector<std::string> paths) const;
  std::int64_t floor_of(std::string_view role) const;
  // One walk of Notary's WalkTargets. `visit` returns true to stop.
  template <typename Visit>
  void walk(std::string_view name, std::string_view subtree, std::span<const std::string> skip,
            Visit&& visit) const;

  std::string gun_;
  TimePoint reference_time_{};
  UpdateLimits limits_;
  GunPinning pinning_;
  Metadata<Root> root_;
  std::size_t root_rotations_ = 0;
  std::optional<Metadata<Timestamp>> timestamp_;
  std::optional<Metadata<Snapshot>> snapshot_;
  std::map<std::string, TrustedTargets, std::less<>> targets_;
  std::map<std::string, std::int64_t, std::less<>> floors_;
  std::map<std::string, Error, std::less<>> failed_;
};

}  // namespace vouch::tuf
