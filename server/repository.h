#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "keys/public_key.h"
#include "keys/signer.h"
#include "server/gun_locks.h"
#include "server/storage/meta_store.h"
#include "server/storage/pending_key_store.h"
#include "tuf/update_validator.h"

namespace vouch::server {

// A current metadata file as the server serves it: the stored bytes, shared and immutable,
// with what the HTTP layer needs for headers. Never re-serialized.
struct ServedFile {
  std::shared_ptr<const std::string> bytes;
  std::string sha256_hex;
  std::int64_t version = 0;
  TimePoint created;  // Last-Modified
  // For timestamp and snapshot: their expiry, so a read can tell when to regenerate.
  TimePoint expires = TimePoint::max();
};

struct RepositoryOptions {
  // Algorithm of the timestamp/snapshot keys the server creates (Notary's
  // trust_service.key_algorithm; default ecdsa).
  keys::KeyType key_algorithm = keys::KeyType::kEcdsa;
  // Lifetimes of the metadata the server signs (Notary: 14 days and 3 years).
  std::chrono::microseconds timestamp_lifetime = tuf::kTimestampLifetime;
  std::chrono::microseconds snapshot_lifetime = tuf::kSnapshotLifetime;
  // A timestamp (or server-held snapshot) this close to its expiry is re-signed on the next
  // read by one reader while the others keep being served the still-valid one.
  std::chrono::microseconds refresh_ahead = std::chrono::hours(24);
  // Pending (created, not yet in a published root) server keys remembered per GUN and role,
  // so repeated GETs of <role>.key return the same key instead of minting new ones: where
  // they are kept (PgStore::pending_keys() for replicas on one database; must outlive the
  // Repository), or nullptr (the default) for a MemoryPendingKeyStore of the Repository's own
  // holding at most max_pending_keys.
  PendingKeyStore* pending_keys = nullptr;
  std::size_t max_pending_keys = 100'000;
  // Parsed current roots remembered per GUN (see Repository::current_root), so that a publish
  // does not decode the stored root's keys again (tuf::ValidationOptions::parsed_root_hint).
  // When full, an arbitrary entry is forgotten; 0 disables the cache. Default 4096.
  std::size_t max_cached_roots = 4096;
  // Where a timestamp (or server-held snapshot) that is due but still valid is re-signed, so
  // that a read never waits for the signer: called with the re-signing task, returns false
  // if it cannot take it (then a later read asks again). At most one such task per GUN is
  // outstanding. Empty (the default): the reader that finds the GUN's lock free re-signs on
  // its own thread. vouch-server hands the task to its bounded work queue.
  std::function<bool(std::function<void()>)> run_in_background;
  // The store is shared with other vouch-server processes (replicas on one PostgreSQL;
  // server/README.md "Running several replicas"). Then a publish validates against the files
  // the store holds now, never against this process's cache, which another replica's publish
  // may have made stale (the store's version rule still decides between racing publishers);
  // and the cache is kept coherent by sync_changes. Default false: this process is the only
  // writer, and publishes validate against the cache, which it keeps in step itself.
  bool store_is_shared = false;
  tuf::ValidationLimits limits;
};

// The repository logic of vouch-server, independent of HTTP: publish, current-metadata reads
// with server-signed timestamp/snapshot freshness, server-held keys, deletion.
//
// Thread-safety: all methods are safe to call concurrently. Writers of one GUN (publish,
// regeneration, key rotation, deletion) are serialized by that GUN's own lock (GunLocks), so
// a writer waiting for a slow signer holds up no other GUN; reads of current metadata are
// served from an in-memory cache of the stored bytes under a shared lock and touch neither
// JSON nor the store unless the entry is missing or must be re-signed. The cache never goes
// back: a reader that missed it and read from the store does not replace a newer version a
// publish cached meanwhile, nor put back what a deletion removed.
//
// Tasks handed to RepositoryOptions::run_in_background refer to this Repository: they must
// have run (or been dropped) before it is destroyed.
class Repository {
 public:
  Repository(MetaStore& store, keys::Signer& signer, const Clock& clock,
             RepositoryOptions options = {});

  // POST /v2/<gun>/_trust/tuf/: validates `parts` against the stored state (tuf::validate_update:
  // every Notary rule plus vouch's hardening), generates the snapshot (when none is uploaded and
  // the server holds the snapshot key) and always a new timestamp, and stores every file in one
  // atomic, durable MetaStore::update_many. All or nothing. A failure's error_class is the
  // validation rule's class (tuf::validate_update); store and signer failures are kInternal,
  // except the store's kConflict and kRollback (another publisher won the version race),
  // which are kOldVersion with the store's Reason.
  tuf::UpdateStatus publish(std::string_view gun, std::span<const tuf::UploadPart> parts);

  // The current file of `role` (root, targets, targets/..., snapshot, timestamp). The timestamp
  // is re-signed (version + 1) when expired or within refresh_ahead of expiry; a server-held
  // snapshot likewise (and then a new timestamp with it). Concurrent readers never cause more
  // than one re-signing per GUN: one regenerates while the others are served the old file if it
  // is still valid, or wait for the new one if it is not. kNotFound if the role has no file.
  Result<std::shared_ptr<const ServedFile>> get_current(std::string_view gun,
                                                        std::string_view role);

  // Immutable lookups (by version or by the SHA-256 of the stored bytes), from the store.
  Result<StoredFile> get_version(std::string_view gun, std::string_view role,
                                 std::int64_t version);
  Result<StoredFile> get_checksum(std::string_view gun, std::string_view role,
                                  std::string_view sha256_hex);

  // GET /v2/<gun>/_trust/tuf/<role>.key (role: timestamp or snapshot): the key the server signs
  // that role with. If the current root lists keys for the role and the signer holds one of them,
  // that key; else a pending key created earlier for (gun, role); else a new key (Notary's
  // GetOrCreate*Key). kBadRole for any other role.
  Result<keys::PublicKey> get_or_create_key(std::string_view gun, std::string_view role);

  // POST .../<role>.key: a key for the client to list in its next root, never one the current
  // root lists. The pending key of (gun, role), if there is one that no published root lists
  // yet (so repeated rotations mint nothing, as Notary's signer reuses a never-used key);
  // else a new pending key, which replaces the old one. So each GUN has at most one pending
  // key per role, and max_pending_keys bounds them all. kBadRole for roles other than
  // timestamp and snapshot.
  Result<keys::PublicKey> rotate_key(std::string_view gun, std::string_view role);

  // DELETE /v2/<gun>/_trust/tuf/: removes every version of every role (and a deletion change).
  Status delete_repository(std::string_view gun);

  // For `vouch-server restore` (server/README.md "Backup and restore"): re-signs the
  // timestamp, and the snapshot when the server holds its key, with version + version_gap
  // whatever their expiry, so that clients that saw versions newer than a restored backup
  // accept them (TUF 5.4.3/5.5.5: a client refuses a version below the one it trusts).
  // version_gap must be positive (kBadVersion). Returns the new timestamp version; kNotFound
  // if the GUN has no timestamp; signer and store errors as for a re-signing on read.
  Result<std::int64_t> reseal(std::string_view gun, std::int64_t version_gap);

  // The current root of `gun`, parsed (kNotFound if the GUN has none). Served from the per-GUN
  // cache of parsed roots when the cached root's bytes are the stored root's bytes (compared
  // in full, so a stale entry is never used); else parsed from the store and remembered.
  // A publish leaves the root it validated in the cache (the parsed root it was given as a
  // hint when the root did not change, so the same object is returned until the root
  // changes); a deletion forgets it. kInternal if the stored root does not parse.
  Result<std::shared_ptr<const tuf::Metadata<tuf::Root>>> current_root(std::string_view gun);

  // The change feed (GET /v2/_trust/changefeed, /v2/<gun>/_trust/changefeed): up to |records|
  // changes after (records > 0) or before (records < 0) change_id, only those of `gun` unless
  // it is empty; records 0 means the default page. As MetaStore::get_changes, whose contract
  // (paging, clamping, kInvalidArgument for a change_id that is not an integer) applies.
  Result<std::vector<Change>> changes(std::string_view change_id, int records,
                                      std::string_view gun);

  // Cache coherence across replicas (RepositoryOptions::store_is_shared): reads the store's
  // changefeed from the last change this Repository saw and invalidates the cached files of
  // every GUN that another process (or this one) wrote since: an updated GUN's files are
  // re-read from the store on their next read, a deleted GUN's are dropped. The first call
  // only positions itself at the newest change and invalidates everything cached so far
  // (whatever happened before is unknown). Called periodically by a ReplicaSync
  // (server/replica_sync.h); a publish acknowledged by another replica is served here after
  // the next successful call. The cache never goes back: an invalidated file is replaced
  // only by a version at least as new, and while the store cannot be read the invalidated
  // file keeps being served (get_current). On a store error nothing is invalidated and the
  // position is kept, so the next call resumes where this one failed. Returns the number of
  // changes read. Safe to call concurrently with everything (calls are serialized).
  Result<std::size_t> sync_changes();

  // OK if the store can serve reads and writes (MetaStore::check_health), for the health
  // endpoints. Cheap: reads no metadata and writes nothing.
  Status health();

  // The in-memory cache of current files, for metrics: files held now, and lookups that found
  // or missed their file since start (monotonic). Thread-safe.
  struct CacheStats {
    std::size_t entries = 0;
    std::uint64_t hits = 0;
    std::uint64_t misses = 0;
  };
  CacheStats cache_stats();

 private:
  Result<std::shared_ptr<const ServedFile>> load_current(std::string_view gun,
                                                         std::string_view role);
  // For writers holding the GUN lock, whose file is the store's newest as far as they know,
  // with cache_generation() taken before their store write: replaces the cached file unless
  // the cache holds a newer version; marks it stale if an invalidation (sync_changes, a
  // deletion) happened since, as it may have been about a still newer write of another
  // replica.
  void cache_put(std::string_view gun, std::string_view role,
                 std::shared_ptr<const ServedFile> file, std::uint64_t generation);
  // For a file read from the store without the GUN lock, with cache_generation() taken before
  // that read: caches it unless the cache already holds a newer version of the role (then
  // that one is kept and returned: the cache never goes back), or an invalidation happened
  // since (then it is returned but not cached). Returns what the cache holds afterwards (or
  // `file`). Keeps the cache monotonic against a publish, a deletion or an invalidation that
  // overtakes a slow reader.
  std::shared_ptr<const ServedFile> cache_put_loaded(std::string_view gun,
                                                     std::string_view role,
                                                     std::shared_ptr<const ServedFile> file,
                                                     std::uint64_t generation);
  std::uint64_t cache_generation();
  void cache_erase_gun(std::string_view gun);
  // Marks every cached file of `stale` stale and drops every file of `deleted`; an empty
  // `stale` with all_stale marks everything. Bumps the generation.
  void cache_invalidate(const std::set<std::string, std::less<>>& stale,
                        const std::set<std::string, std::less<>>& deleted, bool all_stale);
  // The cached file if it is not stale (else nullptr; counted as a miss).
  std::shared_ptr<const ServedFile> cache_get(std::string_view gun, std::string_view role);
  // The cached file, stale or not (nullptr if none); stale tells which.
  std::shared_ptr<const ServedFile> cache_peek(std::string_view gun, std::string_view role,
                                               bool* stale = nullptr);
  // Re-signs the timestamp (and the snapshot, if the server holds its key and it is due)
  // with the GUN lock held. Returns the current timestamp afterwards.
  // With version_gap > 0 (reseal), both are re-signed unconditionally, version + version_gap.
  Result<std::shared_ptr<const ServedFile>> refresh_locked(std::string_view gun, TimePoint now,
                                                           std::int64_t version_gap = 0);
  // Hands a re-signing of `gun`'s timestamp to options_.run_in_background, unless one is
  // outstanding already.
  void refresh_in_background(std::string_view gun);
  Result<bool> holds_key(const keys::PublicKey& key);
  Status store_files(std::string_view gun, const std::vector<tuf::RoleFile>& files);
  // Creates a key in the signer and makes it the pending key of (gun, role) if that is still
  // `expected_id` ("" = none); else (another replica was first) returns that one's.
  Result<keys::PublicKey> create_pending_key_locked(std::string_view gun, std::string_view role,
                                                    std::string_view expected_id);
  std::shared_ptr<const tuf::Metadata<tuf::Root>> cached_root(std::string_view gun);
  void remember_root(std::string_view gun, std::shared_ptr<const tuf::Metadata<tuf::Root>> root);

  MetaStore& store_;
  keys::Signer& signer_;
  const Clock& clock_;
  RepositoryOptions options_;

  GunLocks locks_;

  std::mutex refreshing_mu_;
  std::set<std::string, std::less<>> refreshing_;  // GUNs with a background re-signing queued

  std::shared_mutex cache_mu_;
  struct CacheEntry {
    std::shared_ptr<const ServedFile> file;
    // Another write may have superseded it (sync_changes): re-read from the store on the next
    // read, served only while the store cannot be read.
    bool stale = false;
  };
  // "<gun>\n<role>" -> file. GUNs and roles never contain '\n' (the HTTP layer rejects it).
  std::unordered_map<std::string, CacheEntry> cache_;
  std::atomic<std::uint64_t> cache_hits_{0};
  std::atomic<std::uint64_t> cache_misses_{0};
  // Bumped (under cache_mu_) by every deletion of a GUN and every invalidation: one counter for
  // all GUNs, since both are rare and a loader that sees it move only skips caching.
  std::uint64_t cache_generation_ = 0;

  // sync_changes: serialized; the id of the last change applied (none before the first call).
  std::mutex sync_mu_;
  std::optional<std::int64_t> feed_position_;

  std::mutex roots_mu_;
  std::map<std::string, std::shared_ptr<const tuf::Metadata<tuf::Root>>, std::less<>> roots_;

  std::unique_ptr<MemoryPendingKeyStore> own_pending_;  // when options_.pending_keys is null
  PendingKeyStore& pending_;
};

}  // namespace vouch::server
