#pragma once

// The TUF client workflow (TUF 1.0 "Detailed client workflow"; python-tuf ngclient's Updater;
// Notary client/tufclient.go) over a TrustedSet: where each file comes from, in which order,
// with which size limit, and what is persisted. The rules themselves live in TrustedSet.

#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"
#include "tuf/metadata_source.h"
#include "tuf/trust_pinning.h"
#include "tuf/trusted_set.h"

namespace vouch::tuf {

struct RefreshOptions {
  TrustPinning pinning;
  UpdateLimits limits;
  // A root trusted out of band (shipped with the configuration), used as the anchor when the
  // cache has none. Its bytes must be the server's own bytes of that version (the snapshot
  // lists the root's hashes). Default: none.
  std::optional<std::string> trusted_root;
  // Load every delegated role after targets, pre-order depth-first, as Notary's client does
  // (downloadTargets); when false, load them on demand with load_delegations_for().
  // Default true.
  bool load_all_delegations = true;
  // When the timestamp cannot be fetched (kUnavailable), continue from the cached timestamp
  // if it verifies and has not expired at the reference time, then from cached files only
  // (Notary downloadTimestamp). Default true. The verifier turns this off to report the
  // server as unreachable.
  bool use_cache_when_unavailable = true;
};

// Runs one update for `gun` at `reference_time` (TUF 5.1) and returns what it verified:
//
//  1. Anchor (TUF 5.2): the cached root (RootOrigin::kTrustedBefore); else
//     options.trusted_root; else the server's current root, trusted on first use or through
//     pinning (RootOrigin::kFirstUse; kNotFound from the server means the repository does not
//     exist). A cached root that does not verify is fatal: it is how trust was pinned.
//  2. Root chain (TUF 5.3): fetch <N+1>.root.json until kNotFound, each checked by
//     TrustedSet::update_root and persisted; more than limits.max_root_rotations versions ->
//     kTooLarge.
//  3. Timestamp (TUF 5.4): always from the server (at most max_timestamp_bytes); the cached
//     one serves as a rollback floor (or as a fallback, see use_cache_when_unavailable).
//  4. Snapshot, targets and (if load_all_delegations) every delegated role the snapshot lists,
//     parents first (TUF 5.5-5.6): taken from the cache when the cached bytes match the
//     length and hashes the verified parent lists, else fetched by the listed sha256
//     (MetadataSource::fetch_by_checksum) with at most the listed length;
//     an older cached copy serves as a rollback floor. A delegated role that fails with
//     kExpired or kThresholdNotMet is left out and recorded in failed_roles() (Notary warns
//     and continues); any other failure fails the update. Roles the snapshot does not list
//     have never been published and are skipped.
// Every file verified from the server is stored in `cache` (if not null); store failures are
// logged and ignored. A file that does not match the length or hashes its parent lists
// (kLengthMismatch, kHashMismatch: usually the repository changing between two requests)
// restarts the update once from the beginning, as Notary's client retries; the second
// failure is returned.
//
// Errors: those of TrustedSet and of the source, wrapped with the role; kUnavailable when the
// server cannot be reached (and the cache cannot stand in).
Result<TrustedSet> refresh(std::string_view gun, MetadataSource& remote, MetadataCache* cache,
                           TimePoint reference_time, const RefreshOptions& options = {});

// Loads every delegated role that may list `target_name`: each role reachable from "targets"
// whose effective paths cover the name, in Notary's walk order, from the cache or `remote` as
// refresh() does. For the verifier (all signers of a tag) and on-demand clients. Roles already
// loaded or already failed are not fetched again. Errors as refresh().
Status load_delegations_for(TrustedSet& trusted, std::string_view target_name,
                            MetadataSource& remote, MetadataCache* cache);

}  // namespace vouch::tuf
