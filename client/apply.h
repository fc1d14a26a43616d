#pragma once

// Applying staged changes (client/changelist.h) to a working copy of a repository's targets
// roles, with the semantics of Notary 0.7's client (client/helpers.go applyChangelist,
// applyTargetsChange, changeTargetMeta, changeTargetsDelegation; client/witness.go
// witnessTargets; tuf/tuf.go Repo.AddTargets, RemoveTargets, UpdateDelegationKeys,
// UpdateDelegationPaths, PurgeDelegationKeys, DeleteDelegation, VerifyCanSign,
// GetDelegationRole, WalkTargets).
//
// Publish builds a TargetsDraft from freshly verified metadata, applies the whole changelist
// in order, signs the roles changed() lists (bumping each version by one, as Notary's
// SignTargets does) and uploads them, dropping the roles deleted() lists. Nothing here signs,
// reads files or talks to a server.
//
// Differences from Notary, all deliberate and each marked "vouch:" in apply.cc:
//  - A change either applies completely or leaves the draft as it was. Notary edits in
//    steps (a delegation "create" adds the keys, then fails on the paths; adding a target to
//    a role without metadata creates the metadata, then fails on the path), which is harmless
//    there only because publish then aborts.
//  - A NEW delegation needs at least one key and a threshold no larger than its key count
//    (kBadRole). Notary creates it with a warning if the threshold is at least 1; the notary
//    CLI can only stage threshold 1 with at least one key, so its changes apply alike.
//  - Metadata limits (tuf::MetadataLimits) bound what a change may grow a role to, so that
//    what is signed also parses.
//  - Notary checks the X.509 validity of delegation certificates when looking a role up;
//    vouch validates key material when keys are parsed (keys::PublicKey) and leaves
//    certificate expiry to verification.
// There is no special case for "targets/releases" (Notary's client has none either; docker's
// use of it is ordinary delegation).

#include <cstddef>
#include <functional>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "client/changelist.h"
#include "common/result.h"
#include "keys/public_key.h"
#include "tuf/metadata.h"
#include "tuf/trusted_set.h"

namespace vouch::client {

// A working copy of a repository's targets roles: Notary's tuf.Repo "Targets" map plus the
// Dirty flags, and the metadata of delegations that failed verification (Notary's "invalid"
// repo, which only witness uses). Copyable; not thread-safe.
class TargetsDraft {
 public:
  // `targets`: the verified top-level targets. `targets_keys`: the keys root lists for the
  // targets role (who may sign "targets"; see ApplyOptions::can_sign).
  TargetsDraft(tuf::Targets targets, std::vector<keys::PublicKey> targets_keys);

  // Every targets role `set` trusts: the top-level targets with root's targets keys, and each
  // loaded delegation. kFailedPrecondition (Reason kNotFound) if the set has no targets yet.
  static Result<TargetsDraft> from_trusted_set(const tuf::TrustedSet& set);

  // Adds (or replaces) the verified metadata of delegation `role`. Roles are reachable only
  // through loaded parents that delegate to them, as in Notary's WalkTargets. kBadRole if
  // `role` is not a delegation name.
  Status set_delegated(std::string role, tuf::Targets targets);
  // Metadata of delegation `role` that was downloaded but did not verify (e.g. its parent
  // removed a key that signed it). A witness change moves it back into the draft. kBadRole
  // if `role` is not a delegation name.
  Status set_invalid(std::string role, tuf::Targets targets);

  const tuf::Targets& targets() const { return targets_; }
  const std::vector<keys::PublicKey>& targets_keys() const { return targets_keys_; }
  // "targets" or a delegation whose metadata is loaded; nullptr otherwise.
  const tuf::Targets* find(std::string_view role) const;
  const std::map<std::string, tuf::Targets, std::less<>>& delegated() const { return delegated_; }
  const std::map<std::string, tuf::Targets, std::less<>>& invalid() const { return invalid_; }

  // Roles to sign and upload (Notary's Dirty): every role a change edited, created or
  // witnessed, even when the edit left it equal (Notary marks the parent of an updated
  // delegation dirty whether or not anything changed). A role created by a change has
  // version 0 and an empty expiry text until the signer sets both, as Notary's InitTargets
  // leaves them for SignTargets; its metadata must not be serialized before that.
  const std::set<std::string, std::less<>>& changed() const { return changed_; }
  // Delegations whose metadata was deleted (Notary removes them from its Targets map and
  // from the snapshot). A role deleted and then created again is not listed. Descendants of a
  // deleted role keep their metadata, unreachable, as in Notary.
  const std::set<std::string, std::less<>>& deleted() const { return deleted_; }

 private:
  friend class DraftEditor;
  tuf::Targets* find_mutable(std::string_view role);

  tuf::Targets targets_;
  std::vector<keys::PublicKey> targets_keys_;
  std::map<std::string, tuf::Targets, std::less<>> delegated_;
  std::map<std::string, tuf::Targets, std::less<>> invalid_;
  std::set<std::string, std::less<>> changed_;
  std::set<std::string, std::less<>> deleted_;
};

struct ApplyOptions {
  // Notary's VerifyCanSign: whether a private key for `key` is at hand (callers look it up
  // by key.id() and by key.canonical_id(), as Notary does). A change that needs to edit a
  // role none of whose keys can sign fails (Reason kUnknownKey, Code kFailedPrecondition),
  // except that purge skips such roles with a warning, as Notary does. Unset: every key can
  // sign (for dry runs and for callers that check keys when signing).
  std::function<bool(const keys::PublicKey& key)> can_sign;
  // What a role may grow to: delegations, keys, paths per role, targets (kTooLarge).
  tuf::MetadataLimits limits;
};

struct ApplyReport {
  std::size_t applied = 0;
  // Notary's warnings: a role left with fewer keys than its threshold; a role that purge
  // could not edit for lack of a signing key.
  std::vector<std::string> warnings;
};

// Applies one change (Notary applyChangelist's body for one change):
//   scope "targets", a delegation or a wildcard:
//     type target: create (payload FileMeta) adds or replaces the target, delete removes it;
//       any other action is kInvalidArgument.
//     type delegation: create (add keys at the payload's threshold, then add paths), update
//       (remove keys, add keys, remove paths, clear paths, add paths; on a wildcard scope:
//       purge the payload's remove_keys), delete; other actions kInvalidArgument.
//     type witness (any action): mark the role for re-signing.
//     other types: kInvalidArgument.
//   scope "root": kUnimplemented (Notary stages root key changes only in memory, during key
//     rotation; a file changelist never holds one).
//   any other scope: kBadRole.
// Rules of each operation are documented in apply.cc next to the code. A payload that does
// not parse is its parser's error. On error the draft is unchanged; warnings are appended to
// `warnings` (if given) only on success.
Status apply_change(TargetsDraft& draft, const Change& change, const ApplyOptions& options = {},
                    std::vector<std::string>* warnings = nullptr);

// Applies `changes` in order and stops at the first error, returning it prefixed with
// "change #<index> (<action> <role> <type> <path>)", as Notary's applyChangelist stops and
// fails the publish. The changes before it stay applied: callers discard the draft (Notary's
// publish aborts; the changelist is kept for the next attempt).
Result<ApplyReport> apply_changes(TargetsDraft& draft, std::span<const Change> changes,
                                  const ApplyOptions& options = {});
// The same over a listing from FileChangelist::list().
Result<ApplyReport> apply_changes(TargetsDraft& draft, std::span<const ListedChange> changes,
                                  const ApplyOptions& options = {});

// `delegation purge --key` as it applies (Notary PurgeDelegationKeys): removes the keys with
// canonical IDs `key_ids` from every delegation in the subtree of `wildcard`'s parent
// ("targets/*" -> every delegation in the repository): from each loaded role's
// delegations.keys and from the keyids of every role it delegates to. A role none of whose
// own keys can sign is left as it is, with a warning; a delegation left with fewer keys than
// its threshold gets a warning. `wildcard` must be a wildcard name (kBadRole). Never fails
// otherwise; the draft is edited role by role.
Status purge_keys(TargetsDraft& draft, std::string_view wildcard,
                  std::span<const std::string> key_ids, const ApplyOptions& options = {},
                  std::vector<std::string>* warnings = nullptr);

}  // namespace vouch::client
