#include "tuf/updater.h"

#include <deque>
#include <utility>
#include <vector>

#include "common/log.h"

namespace vouch::tuf {
namespace {

std::shared_ptr<spdlog::logger> logger() { return log::get("tuf"); }

// Role names reaching the logger are validated names (no quotes or control characters), and
// error messages, which may quote input, are never logged: only their Reason.
void persist(MetadataCache* cache, std::string_view role, std::string_view bytes) {
  if (cache == nullptr) return;
  if (auto st = cache->store(role, bytes); !st) {
    logger()->warn("cache store failed role={} reason={}", role, to_string(st.error().reason));
  }
}

Result<std::string> load_cached(MetadataCache* cache, std::string_view role, std::size_t max) {
  if (cache == nullptr) return make_error(Reason::kNotFound, "no cache");
  return cache->load(role, max);
}

Status apply(TrustedSet& trusted, std::string_view role, std::string_view bytes) {
  if (role == kSnapshotRole) return trusted.update_snapshot(bytes);
  if (role == kTargetsRole) return trusted.update_targets(bytes);
  return trusted.update_delegated_targets(role, bytes);
}

// TUF 5.5-5.6 for one file whose length and hashes a verified parent lists.
Status load_listed(TrustedSet& trusted, std::string_view role, MetadataSource& remote,
                   MetadataCache* cache) {
  const FileMeta* meta = trusted.expected_meta(role);
  if (meta == nullptr) {
    return make_error(Reason::kNotFound, "no parent lists " + std::string(role));
  }
  const std::size_t cap = role == kSnapshotRole ? trusted.limits().max_snapshot_bytes
                                                : trusted.limits().max_targets_bytes;
  // Endless data: never ask for more than the parent lists, nor more than the cap.
  if (meta->length < 0 || static_cast<std::uint64_t>(meta->length) > cap) {
    return make_error(Reason::kTooLarge, std::string(role) + " is listed at " +
                                             std::to_string(meta->length) +
                                             " bytes, above the limit of " + std::to_string(cap));
  }
  const auto length = static_cast<std::size_t>(meta->length);
  // An older cached copy may be longer than the new one: read up to the cap.
  if (auto cached = load_cached(cache, role, cap)) {
    if (meta->check(as_bytes(*cached)).ok()) {
      // The cached copy is the one the parent lists: verify it instead of downloading.
      if (apply(trusted, role, *cached).ok()) return {};
    } else {
      // An older copy: its version is a rollback floor. A broken copy gives none.
      (void)trusted.note_previous(role, *cached);
    }
  }
  // By checksum when the parent lists a sha256 (Notary ConsistentName), else the current file.
  auto sha256 = meta->hashes.find("sha256");
  auto fetched = sha256 != meta->hashes.end()
                     ? remote.fetch_by_checksum(role, hex_encode(sha256->second), length)
                     : remote.fetch(role, std::nullopt, length);
  if (!fetched) return std::move(fetched).error().wrap("fetching " + std::string(role));
  VOUCH_RETURN_IF_ERROR(apply(trusted, role, *fetched));
  persist(cache, role, *fetched);
  return {};
}

// Notary downloadTargets: a failed delegation is a warning when it is merely expired or
// under-signed; anything else (mix-and-match, rollback, limits, network) fails the update.
bool skippable(const Error& e) {
  return e.reason == Reason::kExpired || e.reason == Reason::kThresholdNotMet;
}

Status load_delegation(TrustedSet& trusted, std::string_view role, MetadataSource& remote,
                       MetadataCache* cache, bool& loaded) {
  loaded = false;
  // Not in the snapshot: delegated but never published (Notary: no checksum, skip).
  if (trusted.expected_meta(role) == nullptr) return {};
  auto st = load_listed(trusted, role, remote, cache);
  if (!st) {
    if (skippable(st.error())) {
      logger()->warn("delegation left out gun={} role={} reason={}", trusted.gun(), role,
                     to_string(st.error().reason));
      return {};
    }
    return st;
  }
  loaded = true;
  return {};
}

Result<TrustedSet> bootstrap(std::string_view gun, MetadataSource& remote, MetadataCache* cache,
                             TimePoint reference_time, const RefreshOptions& options) {
  const std::size_t max_root = options.limits.max_root_bytes;
  auto cached = load_cached(cache, kRootRole, max_root);
  if (cached) {
    auto set = TrustedSet::bootstrap(std::string(gun), *cached, RootOrigin::kTrustedBefore,
                                     options.pinning, reference_time, options.limits);
    if (!set) {
      return std::move(set).error().wrap(
          "the cached root of " + std::string(gun) +
          " is not valid (it anchors trust; remove the cached trust data for this GUN to "
          "establish trust again)");
    }
    return set;
  }
  if (cached.error().reason != Reason::kNotFound) {
    return std::move(cached).error().wrap("reading the cached root of " + std::string(gun));
  }
  if (options.trusted_root) {
    return TrustedSet::bootstrap(std::string(gun), *options.trusted_root,
                                 RootOrigin::kTrustedBefore, options.pinning, reference_time,
                                 options.limits);
  }
  auto fetched = remote.fetch(kRootRole, std::nullopt, max_root);
  if (!fetched) {
    if (fetched.error().reason == Reason::kNotFound) {
      return make_error(Reason::kNotFound,
                        "repository " + std::string(gun) + " does not exist on the server");
    }
    return std::move(fetched).error().wrap("fetching root");
  }
  VOUCH_ASSIGN_OR_RETURN(TrustedSet set,
                         TrustedSet::bootstrap(std::string(gun), *fetched, RootOrigin::kFirstUse,
                                               options.pinning, reference_time, options.limits));
  logger()->info("trusting first root gun={} version={}", set.gun(), set.root().content.version);
  persist(cache, kRootRole, *fetched);
  return set;
}

Result<TrustedSet> refresh_once(std::string_view gun, MetadataSource& remote, MetadataCache* cache,
                                TimePoint reference_time, const RefreshOptions& options) {
  VOUCH_ASSIGN_OR_RETURN(TrustedSet trusted,
                         bootstrap(gun, remote, cache, reference_time, options));
  const UpdateLimits& limits = trusted.limits();

  // TUF 5.3: walk <N+1>.root.json until the server has no newer version.
  for (std::size_t walked = 0;; ++walked) {
    const std::int64_t next = trusted.root().content.version + 1;
    auto bytes = remote.fetch(kRootRole, next, limits.max_root_bytes);
    if (!bytes) {
      if (bytes.error().reason == Reason::kNotFound) break;
      return std::move(bytes).error().wrap("fetching root version " + std::to_string(next));
    }
    if (walked == limits.max_root_rotations) {
      return make_error(Reason::kTooLarge,
                        "more than " + std::to_string(limits.max_root_rotations) +
                            " root versions to walk in one update (max_root_rotations)");
    }
    VOUCH_RETURN_IF_ERROR(trusted.update_root(*bytes));
    logger()->info("root rotated gun={} version={}", trusted.gun(), next);
    persist(cache, kRootRole, *bytes);  // TUF 5.3.8
  }

  // TUF 5.4: the timestamp always comes from the server.
  auto cached_ts = load_cached(cache, kTimestampRole, limits.max_timestamp_bytes);
  if (cached_ts) (void)trusted.note_previous(kTimestampRole, *cached_ts);
  auto ts = remote.fetch(kTimestampRole, std::nullopt, limits.max_timestamp_bytes);
  if (ts) {
    VOUCH_RETURN_IF_ERROR(trusted.update_timestamp(*ts));
    persist(cache, kTimestampRole, *ts);  // TUF 5.4.5
  } else if (ts.error().reason == Reason::kUnavailable && options.use_cache_when_unavailable &&
             cached_ts) {
    logger()->warn("server unavailable, using the cached timestamp gun={}", trusted.gun());
    auto st = trusted.update_timestamp(*cached_ts);
    if (!st) {
      return std::move(st).error().wrap(
          "the server is unavailable and the cached timestamp "
          "cannot be used");
    }
  } else {
    return std::move(ts).error().wrap("fetching timestamp");
  }

  // TUF 5.5, 5.6.
  VOUCH_RETURN_IF_ERROR(load_listed(trusted, kSnapshotRole, remote, cache));
  VOUCH_RETURN_IF_ERROR(load_listed(trusted, kTargetsRole, remote, cache));

  if (options.load_all_delegations) {
    // Notary downloadTargets: pre-order depth-first, children in listed order.
    std::deque<std::string> todo;
    for (auto& edge : trusted.delegations_of(kTargetsRole)) todo.push_back(std::move(edge.role));
    while (!todo.empty()) {
      std::string role = std::move(todo.front());
      todo.pop_front();
      bool loaded = false;
      VOUCH_RETURN_IF_ERROR(load_delegation(trusted, role, remote, cache, loaded));
      if (!loaded) continue;
      auto children = trusted.delegations_of(role);
      for (auto it = children.rbegin(); it != children.rend(); ++it) {
        todo.push_front(std::move(it->role));
      }
    }
  }
  return trusted;
}

}  // namespace

Result<TrustedSet> refresh(std::string_view gun, MetadataSource& remote, MetadataCache* cache,
                           TimePoint reference_time, const RefreshOptions& options) {
  auto first = refresh_once(gun, remote, cache, reference_time, options);
  if (first) return first;
  // The server replaces timestamp and snapshot between our requests now and then (it also
  // signs a fresh timestamp on read), so a file that does not match what its parent lists is
  // retried once from the start, as Notary's client retries its update. A second mismatch is
  // reported.
  const Reason reason = first.error().reason;
  if (reason != Reason::kHashMismatch && reason != Reason::kLengthMismatch) return first;
  logger()->info("metadata changed during the update, retrying once gun={}", gun);
  return refresh_once(gun, remote, cache, reference_time, options);
}

Status load_delegations_for(TrustedSet& trusted, std::string_view target_name,
                            MetadataSource& remote, MetadataCache* cache) {
  if (trusted.targets() == nullptr) {
    return make_error(Code::kFailedPrecondition, Reason::kBadRole,
                      "delegations need targets loaded first");
  }
  // Breadth-first from "targets" as Notary's WalkTargets, descending only into roles whose
  // effective paths cover the name (a child's paths lie within its parent's).
  std::deque<DelegationEdge> todo;
  for (auto& edge : trusted.delegations_of(kTargetsRole)) todo.push_back(std::move(edge));
  while (!todo.empty()) {
    DelegationEdge edge = std::move(todo.front());
    todo.pop_front();
    if (!path_allowed(edge.paths, target_name)) continue;
    if (trusted.targets(edge.role) == nullptr) {
      if (trusted.failed_roles().count(edge.role) != 0) continue;
      bool loaded = false;
      VOUCH_RETURN_IF_ERROR(load_delegation(trusted, edge.role, remote, cache, loaded));
      if (!loaded) continue;
    }
    for (auto& child : trusted.delegations_of(edge.role)) todo.push_back(std::move(child));
  }
  return {};
}

}  // namespace vouch::tuf
