#include "server/repository.h"

#include <algorithm>
#include <cstdint>

#include <functional>

#include "common/encoding.h"
#include "common/log.h"
#include "server/roster_upload.h"
#include "tuf/metadata.h"

namespace vouch::server {
namespace {

bool is_server_role(std::string_view role) {
  return role == tuf::kTimestampRole || role == tuf::kSnapshotRole;
}

// The validator's view of a GUN: the current files as GETs serve them (cached, and kept in
// step with the store under the GUN lock the publish holds), read from the store only on a
// miss. The cache also spares the copy: a 2 MB targets.json is compared by version and hash,
// never re-read from RocksDB.
class CurrentState final : public tuf::RepoState {
 public:
  using Lookup = std::function<Result<std::shared_ptr<const ServedFile>>(std::string_view)>;
  explicit CurrentState(Lookup lookup) : lookup_(std::move(lookup)) {}
  Result<std::optional<tuf::StoredRole>> current(std::string_view role) const override {
    auto f = lookup_(role);
    if (!f) {
      if (f.error().reason == Reason::kNotFound) return std::optional<tuf::StoredRole>();
      return std::move(f).error();
    }
    return std::optional<tuf::StoredRole>(tuf::StoredRole{(*f)->version, (*f)->bytes});
  }

 private:
  Lookup lookup_;
};

// Expiry of a timestamp or snapshot file; TimePoint::max() for other roles.
Result<TimePoint> expiry_of(std::string_view role, const std::string& bytes) {
  if (role == tuf::kTimestampRole) {
    VOUCH_ASSIGN_OR_RETURN(auto ts, tuf::parse_timestamp(bytes));
    return ts.content.expires.time;
  }
  if (role == tuf::kSnapshotRole) {
    VOUCH_ASSIGN_OR_RETURN(auto snap, tuf::parse_snapshot(bytes));
    return snap.content.expires.time;
  }
  return TimePoint::max();
}

}  // namespace

Repository::Repository(MetaStore& store, keys::Signer& signer, const Clock& clock,
                       RepositoryOptions options)
    : store_(store),
      signer_(signer),
      clock_(clock),
      options_(std::move(options)),
      own_pending_(options_.pending_keys != nullptr
                       ? nullptr
                       : std::make_unique<MemoryPendingKeyStore>(options_.max_pending_keys)),
      pending_(options_.pending_keys != nullptr ? *options_.pending_keys : *own_pending_) {}

std::shared_ptr<const ServedFile> Repository::cache_get(std::string_view gun,
                                                        std::string_view role) {
  const std::string key = gun_role_key(gun, role);
  std::shared_lock lock(cache_mu_);
  auto it = cache_.find(key);
  const bool hit = it != cache_.end() && !it->second.stale;
  (hit ? cache_hits_ : cache_misses_).fetch_add(1, std::memory_order_relaxed);
  return hit ? it->second.file : nullptr;
}

std::shared_ptr<const ServedFile> Repository::cache_peek(std::string_view gun,
                                                         std::string_view role, bool* stale) {
  const std::string key = gun_role_key(gun, role);
  std::shared_lock lock(cache_mu_);
  auto it = cache_.find(key);
  if (it == cache_.end()) return nullptr;
  if (stale != nullptr) *stale = it->second.stale;
  return it->second.file;
}

Repository::CacheStats Repository::cache_stats() {
  CacheStats out;
  out.hits = cache_hits_.load(std::memory_order_relaxed);
  out.misses = cache_misses_.load(std::memory_order_relaxed);
  std::shared_lock lock(cache_mu_);
  out.entries = cache_.size();
  return out;
}

void Repository::cache_put(std::string_view gun, std::string_view role,
                           std::shared_ptr<const ServedFile> file, std::uint64_t generation) {
  std::string key = gun_role_key(gun, role);
  std::unique_lock lock(cache_mu_);
  const bool stale = generation != cache_generation_;
  auto [it, inserted] = cache_.try_emplace(std::move(key), CacheEntry{file, stale});
  if (inserted) return;
  // Another replica's newer write, read meanwhile: never go back.
  if (it->second.file->version > file->version) return;
  it->second = CacheEntry{std::move(file), stale};
}

std::uint64_t Repository::cache_generation() {
  std::shared_lock lock(cache_mu_);
  return cache_generation_;
}

std::shared_ptr<const ServedFile> Repository::cache_put_loaded(
    std::string_view gun, std::string_view role, std::shared_ptr<const ServedFile> file,
    std::uint64_t generation) {
  std::string key = gun_role_key(gun, role);
  std::unique_lock lock(cache_mu_);
  // A deletion or invalidation since the read: the file may be gone from the store or
  // superseded; serve it to this reader (its read came first) but never cache it.
  if (generation != cache_generation_) return file;
  auto [it, inserted] = cache_.try_emplace(std::move(key), CacheEntry{file, false});
  if (inserted) return file;
  // A publish (or another loader) got there first; never go back to an older version.
  if (it->second.file->version > file->version ||
      (it->second.file->version == file->version && !it->second.stale)) {
    it->second.stale = false;
    return it->second.file;
  }
  it->second = CacheEntry{file, false};
  return file;
}

void Repository::cache_erase_gun(std::string_view gun) {
  cache_invalidate({}, {std::string(gun)}, false);
}

void Repository::cache_invalidate(const std::set<std::string, std::less<>>& stale,
                                  const std::set<std::string, std::less<>>& deleted,
                                  bool all_stale) {
  std::unique_lock lock(cache_mu_);
  ++cache_generation_;
  for (auto it = cache_.begin(); it != cache_.end();) {
    const std::string_view gun = std::string_view(it->first).substr(0, it->first.find('\n'));
    if (deleted.count(gun) != 0) {
      it = cache_.erase(it);
      continue;
    }
    if (all_stale || stale.count(gun) != 0) it->second.stale = true;
    ++it;
  }
}

Result<std::shared_ptr<const ServedFile>> Repository::load_current(std::string_view gun,
                                                                   std::string_view role) {
  // Taken before the store read, so that a deletion between the read and the cache update
  // is noticed (see cache_put_loaded).
  const std::uint64_t generation = cache_generation();
  auto read = store_.get_current(gun, role);
  if (!read) {
    if (read.error().reason == Reason::kNotFound) {
      // Gone from the store (another replica deleted it): a stale entry must not linger.
      std::unique_lock lock(cache_mu_);
      auto it = cache_.find(gun_role_key(gun, role));
      if (it != cache_.end() && it->second.stale) cache_.erase(it);
    }
    return std::move(read).error();
  }
  StoredFile stored = std::move(*read);
  auto file = std::make_shared<ServedFile>();
  file->version = stored.version;
  file->sha256_hex = std::move(stored.sha256_hex);
  file->created = stored.created;
  auto expires = expiry_of(role, *stored.bytes);
  if (!expires) {
    // The store holds only validated files; one that no longer parses is damage, not input.
    return make_error(Reason::kInternal,
                      "stored " + std::string(role) + " does not parse: " + expires.error().message);
  }
  file->expires = *expires;
  file->bytes = std::move(stored.bytes);
  return cache_put_loaded(gun, role, std::move(file), generation);
}

Result<bool> Repository::holds_key(const keys::PublicKey& key) {
  auto held = signer_.public_key(key.canonical_id());
  if (held) return true;
  const Reason r = held.error().reason;
  if (r == Reason::kUnknownKey || r == Reason::kNotFound) return false;
  return std::move(held).error();
}

Status Repository::store_files(std::string_view gun, const std::vector<tuf::RoleFile>& files) {
  std::vector<NewFile> batch;
  batch.reserve(files.size());
  for (const auto& f : files) batch.push_back(NewFile{f.role, f.version, f.bytes});
  const std::uint64_t generation = cache_generation();
  VOUCH_RETURN_IF_ERROR(store_.update_many(gun, batch));
  const TimePoint now = clock_.now();
  for (const auto& f : files) {
    auto served = std::make_shared<ServedFile>();
    served->bytes = f.bytes;
    served->version = f.version;
    served->created = now;
    if (auto it = f.meta.hashes.find("sha256"); it != f.meta.hashes.end()) {
      served->sha256_hex = hex_encode(it->second);
    }
    served->expires = is_server_role(f.role) ? f.expires.time : TimePoint::max();
    cache_put(gun, f.role, std::move(served), generation);
  }
  return {};
}

tuf::UpdateStatus Repository::publish(std::string_view gun,
                                      std::span<const tuf::UploadPart> parts) {
  const GunLocks::Guard lock = locks_.lock(gun);
  const TimePoint now = clock_.now();
  CurrentState state([&](std::string_view role) -> Result<std::shared_ptr<const ServedFile>> {
    // Shared store: another replica may have published since this process cached the GUN,
    // so the committed state is read; update_many's version rule pins it (a write committed
    // after this read makes ours fail with kConflict).
    if (!options_.store_is_shared) {
      if (auto cached = cache_get(gun, role)) return cached;
    }
    return load_current(gun, role);
  });
  tuf::ValidationOptions options;
  options.gun = std::string(gun);
  options.now = now;
  options.server_holds_key = [this](const keys::PublicKey& key) { return holds_key(key); };
  options.limits = options_.limits;
  // Ignored by the validator unless its bytes are the stored root's.
  options.parsed_root_hint = cached_root(gun);
  VOUCH_ASSIGN_OR_RETURN(tuf::ValidatedUpdate update, tuf::validate_update(state, parts, options));
  VOUCH_RETURN_IF_ERROR(check_roster_update(gun, update));  // a roster GUN carries a roster
  VOUCH_ASSIGN_OR_RETURN(std::vector<tuf::RoleFile> files,
                         tuf::complete_update(update, signer_, now, options_.snapshot_lifetime,
                                              options_.timestamp_lifetime));
  if (auto stored = store_files(gun, files); !stored) {
    // Another publisher stored these versions (or newer ones) first: Notary's VERSION.
    const Reason why = stored.error().reason;
    const bool lost_race = why == Reason::kConflict || why == Reason::kRollback;
    return tuf::UpdateError(
        lost_race ? tuf::UpdateErrorClass::kOldVersion : tuf::UpdateErrorClass::kInternal,
        std::move(stored).error());
  }
  remember_root(gun, update.root);
  // Roles that the update stopped delegating are gone from the snapshot; forget them.
  for (const auto& removed : update.snapshot_changes.removed) {
    std::unique_lock cache_lock(cache_mu_);
    cache_.erase(gun_role_key(gun, removed));
  }
  // A pending server key is pending no more once a published root lists it. The publish is
  // stored already: a failure here only leaves a key that rotate_key will not hand out again.
  if (update.root) {
    for (std::string_view role : {tuf::kTimestampRole, tuf::kSnapshotRole}) {
      auto pending = pending_.get(gun, role);
      Status erased;
      if (pending && *pending && update.root->content.keys.count((*pending)->id()) != 0) {
        erased = pending_.erase(gun, role, (*pending)->id());
      }
      if (!pending || !erased) {
        log::get("server")->warn("publish {}: pending {} key not cleared: {}", gun, role,
                                 (!pending ? pending.error() : erased.error()).message);
      }
    }
  }
  return {};
}

Result<std::vector<Change>> Repository::changes(std::string_view change_id, int records,
                                                std::string_view gun) {
  return store_.get_changes(change_id, records, gun);
}

Status Repository::health() { return store_.check_health(); }

Result<std::size_t> Repository::sync_changes() {
  std::lock_guard lock(sync_mu_);
  if (!feed_position_) {
    // Where the feed ends now; whatever this process cached before is of unknown age.
    VOUCH_ASSIGN_OR_RETURN(auto newest, store_.get_changes("-1", 1, ""));
    feed_position_ = newest.empty() ? 0 : newest.back().id;
    cache_invalidate({}, {}, /*all_stale=*/true);
    return std::size_t{0};
  }
  std::size_t read = 0;
  for (;;) {
    // Commit-ordered ids (MetaStore::get_changes): paging on from the last id seen misses
    // none, also after the store was unreachable for a while.
    VOUCH_ASSIGN_OR_RETURN(auto page, store_.get_changes(std::to_string(*feed_position_),
                                                         kMaxChangesPage, ""));
    if (page.empty()) return read;
    std::set<std::string, std::less<>> updated;
    std::set<std::string, std::less<>> deleted;
    for (const Change& c : page) {
      (c.category == Change::Category::kDeletion ? deleted : updated).insert(c.gun);
    }
    cache_invalidate(updated, deleted, /*all_stale=*/false);
    feed_position_ = page.back().id;
    read += page.size();
    if (page.size() < static_cast<std::size_t>(kMaxChangesPage)) return read;
  }
}

Result<std::shared_ptr<const ServedFile>> Repository::refresh_locked(std::string_view gun,
                                                                     TimePoint now,
                                                                     std::int64_t version_gap) {
  const std::int64_t step = version_gap > 0 ? version_gap : 1;
  // Re-read under the lock: another reader may have refreshed already.
  VOUCH_ASSIGN_OR_RETURN(auto timestamp, load_current(gun, tuf::kTimestampRole));
  VOUCH_ASSIGN_OR_RETURN(auto snapshot, load_current(gun, tuf::kSnapshotRole));
  VOUCH_ASSIGN_OR_RETURN(auto root, current_root(gun));
  const auto holds = [this](const keys::PublicKey& key) { return holds_key(key); };

  std::vector<tuf::RoleFile> files;
  std::shared_ptr<const std::string> snapshot_bytes = snapshot->bytes;
  if (version_gap > 0 || now + options_.refresh_ahead >= snapshot->expires) {
    auto snapshot_keys = tuf::server_signing_keys(root->content, tuf::kSnapshotRole, holds);
    if (snapshot_keys) {
      VOUCH_ASSIGN_OR_RETURN(auto previous, tuf::parse_snapshot(*snapshot->bytes));
      VOUCH_ASSIGN_OR_RETURN(
          tuf::RoleFile next,
          tuf::make_snapshot(&previous.content, tuf::SnapshotChanges{}, snapshot->version + step,
                             tuf::Expiry::at(now + options_.snapshot_lifetime), *snapshot_keys,
                             signer_));
      snapshot_bytes = next.bytes;
      files.push_back(std::move(next));
    } else if (snapshot_keys.error().reason != Reason::kThresholdNotMet) {
      return std::move(snapshot_keys).error();
    }
    // Else the client holds the snapshot key: an expiring snapshot is the client's to renew.
  }

  // Notary regenerates the timestamp when it expired or when it no longer names the current
  // snapshot.
  bool names_snapshot = false;
  if (auto ts = tuf::parse_timestamp(*timestamp->bytes)) {
    const auto meta = ts->content.meta.find(tuf::kSnapshotRole);
    names_snapshot = meta != ts->content.meta.end() &&
                     meta->second.check(as_bytes(*snapshot_bytes)).ok();
  }
  if (version_gap == 0 && files.empty() && names_snapshot &&
      now + options_.refresh_ahead < timestamp->expires) {
    return timestamp;
  }
  VOUCH_ASSIGN_OR_RETURN(auto timestamp_keys,
                         tuf::server_signing_keys(root->content, tuf::kTimestampRole, holds));
  VOUCH_ASSIGN_OR_RETURN(
      tuf::RoleFile next_ts,
      tuf::make_timestamp(*snapshot_bytes, timestamp->version + step,
                          tuf::Expiry::at(now + options_.timestamp_lifetime), timestamp_keys,
                          signer_));
  files.push_back(std::move(next_ts));
  if (auto stored = store_files(gun, files); !stored) {
    const Reason why = stored.error().reason;
    if (why != Reason::kConflict && why != Reason::kRollback) return std::move(stored).error();
    // Another replica re-signed first (the store's version rule chose it): serve its files.
    log::get("server")->info("{} re-signed by another replica first (timestamp v{})", gun,
                             timestamp->version + step);
    if (files.size() == 2) VOUCH_RETURN_IF_ERROR(load_current(gun, tuf::kSnapshotRole));
    return load_current(gun, tuf::kTimestampRole);
  }
  log::get("server")->info("re-signed {} for {} (timestamp v{})",
                           files.size() == 2 ? "snapshot and timestamp" : "timestamp", gun,
                           timestamp->version + step);
  auto fresh = cache_peek(gun, tuf::kTimestampRole);
  if (!fresh) return make_error(Reason::kInternal, "timestamp missing after refresh");
  return fresh;
}

Result<std::shared_ptr<const ServedFile>> Repository::get_current(std::string_view gun,
                                                                  std::string_view role) {
  std::shared_ptr<const ServedFile> file = cache_get(gun, role);
  if (!file) {
    auto loaded = load_current(gun, role);
    if (loaded) {
      file = std::move(*loaded);
    } else {
      // The store cannot be read (database down): what this process served before (stale
      // only in that another replica may have written since) beats an error.
      auto kept = loaded.error().reason == Reason::kNotFound ? nullptr : cache_peek(gun, role);
      if (!kept) return std::move(loaded).error();
      file = std::move(kept);
    }
  }
  if (!is_server_role(role)) return file;

  const TimePoint now = clock_.now();
  if (now + options_.refresh_ahead < file->expires) return file;

  // Due for re-signing. If it is still valid, it is served as it is while the re-signing
  // runs in the background (or, without a background runner, on this thread if no writer holds
  // the GUN); an expired file makes everyone wait for the fresh one.
  const bool expired = file->expires < now;
  if (!expired && options_.run_in_background) {
    refresh_in_background(gun);
    return file;
  }
  const GunLocks::Guard lock = expired ? locks_.lock(gun) : locks_.try_lock(gun);
  if (!lock.owns()) return file;
  auto refreshed = refresh_locked(gun, now);
  if (!refreshed) {
    log::get("server")->warn("could not re-sign {} for {}: {}", role, gun,
                             refreshed.error().message);
    if (expired) return std::move(refreshed).error();
    return file;
  }
  if (role == tuf::kTimestampRole) return *refreshed;
  auto current = cache_peek(gun, role);
  return current ? current : file;
}

void Repository::refresh_in_background(std::string_view gun) {
  {
    std::lock_guard lock(refreshing_mu_);
    if (!refreshing_.emplace(gun).second) return;  // already on its way
  }
  // Forgets the GUN once the task is done, however it ends (or if it never runs).
  struct Done {
    Repository* repo;
    std::string gun;
    ~Done() {
      std::lock_guard lock(repo->refreshing_mu_);
      repo->refreshing_.erase(gun);
    }
  };
  // Brace-initialized in place: a temporary Done would run its destructor (and forget the GUN)
  // at once, and clang has no parenthesized aggregate initialization for make_shared.
  std::shared_ptr<Done> done(new Done{this, std::string(gun)});
  // If the runner refuses it (a full queue), `done` goes with the task: the next read asks
  // again.
  options_.run_in_background([done] {
    Repository& repo = *done->repo;
    const GunLocks::Guard lock = repo.locks_.lock(done->gun);
    auto refreshed = repo.refresh_locked(done->gun, repo.clock_.now());
    if (!refreshed) {
      log::get("server")->warn("could not re-sign the timestamp of {}: {}", done->gun,
                               refreshed.error().message);
    }
  });
}

Result<StoredFile> Repository::get_version(std::string_view gun, std::string_view role,
                                           std::int64_t version) {
  return store_.get_version(gun, role, version);
}

Result<StoredFile> Repository::get_checksum(std::string_view gun, std::string_view role,
                                            std::string_view sha256_hex) {
  return store_.get_checksum(gun, role, sha256_hex);
}

Result<keys::PublicKey> Repository::get_or_create_key(std::string_view gun,
                                                      std::string_view role) {
  if (!is_server_role(role)) {
    return make_error(Reason::kBadRole, "the server holds keys only for timestamp and snapshot");
  }
  const GunLocks::Guard lock = locks_.lock(gun);
  auto root = current_root(gun);
  if (root) {
    const tuf::Root& content = (*root)->content;
    const auto role_keys = content.roles.find(role);
    if (role_keys != content.roles.end()) {
      for (const auto& id : role_keys->second.keyids) {
        auto key = content.keys.find(id);
        if (key == content.keys.end()) continue;
        VOUCH_ASSIGN_OR_RETURN(bool held, holds_key(key->second));
        if (held) return key->second;
      }
    }
  } else if (root.error().reason != Reason::kNotFound) {
    return std::move(root).error();
  }
  VOUCH_ASSIGN_OR_RETURN(std::optional<keys::PublicKey> pending, pending_.get(gun, role));
  if (pending) return *pending;
  return create_pending_key_locked(gun, role, "");
}

Result<keys::PublicKey> Repository::rotate_key(std::string_view gun, std::string_view role) {
  if (!is_server_role(role)) {
    return make_error(Reason::kBadRole, "the server holds keys only for timestamp and snapshot");
  }
  const GunLocks::Guard lock = locks_.lock(gun);
  auto root = current_root(gun);
  if (!root && root.error().reason != Reason::kNotFound) return std::move(root).error();
  // Notary's signer hands out an inactive (never used) key again for the same gun, role and
  // algorithm; a pending key is such a key, unless a published root lists it by now.
  VOUCH_ASSIGN_OR_RETURN(std::optional<keys::PublicKey> pending, pending_.get(gun, role));
  if (pending && (!root || (*root)->content.keys.count(pending->id()) == 0)) return *pending;
  return create_pending_key_locked(gun, role, pending ? std::string_view(pending->id()) : "");
}

Result<keys::PublicKey> Repository::create_pending_key_locked(std::string_view gun,
                                                              std::string_view role,
                                                              std::string_view expected_id) {
  VOUCH_ASSIGN_OR_RETURN(keys::PublicKey key,
                         signer_.create_key(gun, role, options_.key_algorithm));
  // Another replica may have stored a pending key meanwhile: then that one is everybody's
  // (ours stays unused in the signer, as a key Notary's signer never handed out).
  return pending_.replace(gun, role, expected_id, key);
}

std::shared_ptr<const tuf::Metadata<tuf::Root>> Repository::cached_root(std::string_view gun) {
  std::lock_guard lock(roots_mu_);
  auto it = roots_.find(gun);
  return it == roots_.end() ? nullptr : it->second;
}

void Repository::remember_root(std::string_view gun,
                               std::shared_ptr<const tuf::Metadata<tuf::Root>> root) {
  if (!root || !root->bytes || options_.max_cached_roots == 0) return;
  std::lock_guard lock(roots_mu_);
  auto it = roots_.find(gun);
  if (it != roots_.end()) {
    it->second = std::move(root);
    return;
  }
  if (roots_.size() >= options_.max_cached_roots) roots_.erase(roots_.begin());
  roots_.emplace(std::string(gun), std::move(root));
}

Result<std::shared_ptr<const tuf::Metadata<tuf::Root>>> Repository::current_root(
    std::string_view gun) {
  VOUCH_ASSIGN_OR_RETURN(StoredFile stored, store_.get_current(gun, tuf::kRootRole));
  auto cached = cached_root(gun);
  if (cached && (cached->bytes == stored.bytes || *cached->bytes == *stored.bytes)) return cached;
  auto parsed = tuf::parse_root(*stored.bytes, options_.limits.metadata);
  // The store holds only validated files; one that no longer parses is damage, not input.
  if (!parsed) return make_error(Reason::kInternal, "stored root does not parse");
  auto root = std::make_shared<const tuf::Metadata<tuf::Root>>(std::move(*parsed));
  remember_root(gun, root);
  return root;
}

Result<std::int64_t> Repository::reseal(std::string_view gun, std::int64_t version_gap) {
  if (version_gap <= 0) return make_error(Reason::kBadVersion, "reseal: the gap must be positive");
  const GunLocks::Guard lock = locks_.lock(gun);
  VOUCH_ASSIGN_OR_RETURN(auto timestamp, load_current(gun, tuf::kTimestampRole));
  VOUCH_ASSIGN_OR_RETURN(auto snapshot, load_current(gun, tuf::kSnapshotRole));
  if (std::max(timestamp->version, snapshot->version) > INT64_MAX - version_gap) {
    return make_error(Reason::kBadVersion, "reseal: a version would overflow");
  }
  VOUCH_ASSIGN_OR_RETURN(auto fresh, refresh_locked(gun, clock_.now(), version_gap));
  return fresh->version;
}

Status Repository::delete_repository(std::string_view gun) {
  const GunLocks::Guard lock = locks_.lock(gun);
  VOUCH_RETURN_IF_ERROR(store_.delete_gun(gun));
  cache_erase_gun(gun);
  {
    std::lock_guard roots_lock(roots_mu_);
    if (auto it = roots_.find(gun); it != roots_.end()) roots_.erase(it);
  }
  // The GUN is gone already: a pending key left behind is only never handed out again.
  if (auto erased = pending_.erase_gun(gun); !erased) {
    log::get("server")->warn("delete {}: pending keys not cleared: {}", gun,
                             erased.error().message);
  }
  return {};
}

}  // namespace vouch::server
