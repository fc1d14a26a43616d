#pragma once

// TrustCache: the verifier's verified trust data per GUN (DESIGN "Verifier: team policy",
// "Caches" and "Failure"). decide() needs a tuf::TrustedSet for the image's GUN; fetching and
// verifying one costs several round trips to the trust server, so verified sets are kept and
// shared between requests.
//
// What is cached. One entry per (trust section, GUN): the trust section's identity
// (trust_section_id: server, pins, CA, TOFU, credentials reference) is part of the key, so a
// policy reload that changes how a GUN is pinned or where it is fetched never reuses data
// verified under the old rules. An entry holds the latest TrustData (an immutable, verified
// TrustedSet shared by every request that uses it) and the verified metadata files of the
// previous fetches (an in-memory tuf::MetadataCache), which tuf::refresh uses as
//   - the trust anchor: the root verified before is RootOrigin::kTrustedBefore, so a root
//     trusted on first use stays pinned for the life of the entry and a new root must be
//     cross-signed (TUF 5.3);
//   - rollback floors for timestamp, snapshot, targets and delegations
//     (TrustedSet::note_previous), and a download saver (unchanged files are not fetched).
// In addition the versions of the previous TrustedSet are floors of the next fetch: a
// delegated role is set_floor()ed before it is loaded, and a top-level role whose version
// went down fails the fetch with kRollback.
//
// Pinning. Each fetch pins the root as the section says (TrustSection::pinning_for: pinned
// root key IDs, or a CA that issues root certificates; TOFU only when the section sets tofu).
// The pin anchors the root chain (unless strict_pinning): without an anchor yet, the current
// root is used when it satisfies the pin, else the first version from 1 upward that does;
// from the anchor, cross-signed rotations are followed (TUF 5.3) and the newest verified root
// becomes the anchor (kept on disk with state_dir).
//
// What is loaded. The top-level roles always; for a reference with a tag, the delegations
// that may list the tag (tuf::load_delegations_for); for a reference with only a digest, every
// delegation (load_all_delegations). An entry remembers the tags it covers: a request for a
// tag not covered yet fetches a new TrustData covering the old tags and the new one (up to
// max_tags_per_gun tags, beyond which the entry loads every delegation). A TrustData is never
// modified after it is published.
//
// Freshness, measured with the injected Clock:
//   fetched_at    the reference time of the fetch (every expiry was checked against it);
//   usable_until  min(fetched_at + max_age, the earliest expiry among the loaded roles: root,
//                 timestamp, snapshot, targets, delegations). Data is never used at or after
//                 usable_until: the timestamp says it may be stale after max_age (the server
//                 may have published since), and is certainly stale once anything expired.
//   refresh_after a request that uses data older than this also starts a background refresh
//                 (stale-while-revalidate within max_age), so that a busy GUN never waits.
// A fetch that fails is remembered for error_ttl: requests in that window get the error at
// once (fail closed) instead of waiting for another fetch; data that is still usable keeps
// being served while a background refresh fails.
//
// Single flight. At most one fetch per entry runs at a time; every request that needs it waits
// for that one fetch (needs that arrive while a fetch runs and that it does not cover are
// merged into the next fetch, started as soon as the running one ends).
//
// Deadlines. get() waits until its deadline at most (a steady_clock instant; the webhook sets
// it below the apiserver's timeoutSeconds). A fetch that is not done by then is a deny for
// that request (kDeadlineExceeded), but the fetch continues on its worker and its result is
// cached for the next request.
//
// Threads. Fetches run on a WorkQueue of fetch_threads workers; each fetch makes its own
// MetadataSource through the SourceFactory (the HTTP client is not thread-safe) and drops it
// at the end. All public member functions are thread-safe.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"
#include "tuf/metadata_source.h"
#include "tuf/trusted_set.h"
#include "verifier/image_ref.h"
#include "verifier/policy.h"
#include "common/work_queue.h"

namespace vouch::verifier {

// When a caller stops waiting.
using Deadline = std::chrono::steady_clock::time_point;

// Makes the MetadataSource of `gun` on the trust server of `section`. Called on a fetch
// worker, once per fetch; the source is used by that worker only and destroyed when the fetch
// ends. Errors fail the fetch (e.g. credentials that cannot be read).
using SourceFactory = std::function<Result<std::unique_ptr<tuf::MetadataSource>>(
    const TrustSection& section, std::string_view gun)>;

// trust_section_id() is declared in verifier/policy.h.

// Verified trust data of one GUN, immutable once published.
struct TrustData {
  tuf::TrustedSet set;
  // Unique per fetch within one TrustCache (increasing); part of decision cache keys.
  std::uint64_t generation = 0;
  TimePoint fetched_at{};
  TimePoint usable_until{};
  // Every delegation is loaded (a digest-only reference needs that); else only those that may
  // list one of `tags`.
  bool all_delegations = false;
  std::set<std::string, std::less<>> tags;

  // Whether the roles that `image` needs are loaded.
  bool covers(const ImageRef& image) const;
  // The timestamp's version (0 if none).
  std::int64_t timestamp_version() const;
};

struct TrustCacheOptions {
  // Longest use of fetched data. Default 60 s (Connaisseur: 30 s; Notary servers default to
  // Cache-Control max-age 300 s on current metadata). 0: every request fetches.
  std::chrono::milliseconds max_age{60'000};
  // Age from which a request that uses the data also starts a background refresh. Default
  // 30 s; a value >= max_age disables background refreshes.
  std::chrono::milliseconds refresh_after{30'000};
  // How long a failed fetch answers for its entry. Default 2 s; 0: never.
  std::chrono::milliseconds error_ttl{2'000};
  // Entries kept; beyond, the least recently used idle entries are dropped (with the roots
  // they anchored: a TOFU GUN is then trusted on first use again). Default 4096.
  std::size_t max_entries = 4096;
  // Tags whose delegations one entry loads individually before switching to every
  // delegation. Default 64.
  std::size_t max_tags_per_gun = 64;
  // Fetch workers and fetches that may wait for one. Defaults 4 and 1024; a fetch that finds
  // the queue full fails with kResourceExhausted.
  unsigned fetch_threads = 4;
  std::size_t max_queued_fetches = 1024;
  // Limits on what one fetch accepts (python-tuf's, Notary's sizes).
  tuf::UpdateLimits limits;
  // Where the trust anchors (the newest verified root of each GUN) are kept across restarts:
  // <state_dir>/<trust section ID>/tuf/<gun>/metadata/root.json (client::DiskMetadataCache:
  // atomic writes, 0700/0600). Empty (default): in memory only, so a restart or an eviction
  // trusts a TOFU GUN's current root again and re-anchors pinned GUNs at the pin. A root
  // file that does not verify fails its GUN (fail closed): remove it to re-anchor.
  std::filesystem::path state_dir;
};

// Receives the cache's events, for metrics. Called without the cache's lock held, on the
// requesting thread (lookups) or the fetch worker (fetches). Must be thread-safe and fast.
class TrustCacheObserver {
 public:
  virtual ~TrustCacheObserver() = default;
  // A get(): served from the cache (hit) or not.
  virtual void on_lookup(bool hit) = 0;
  // A fetch ended, successfully or not, after `seconds` of wall time.
  virtual void on_fetch(const Status& result, double seconds) = 0;
};

class TrustCache {
 public:
  // `factory` and `clock` (and `observer`, if any) must outlive the cache.
  TrustCache(SourceFactory factory, const Clock& clock, TrustCacheOptions options = {},
             TrustCacheObserver* observer = nullptr);
  // stop().
  ~TrustCache();
  TrustCache(const TrustCache&) = delete;
  TrustCache& operator=(const TrustCache&) = delete;

  // The verified trust data of image.gun() (which `section` must cover) with the roles that
  // `image` needs loaded. Usable data from the cache is returned at once; otherwise a fetch is
  // started (or joined) and awaited until `deadline`. Errors:
  //   the fetch's error (kUnavailable: unreachable or 5xx; kNotFound: no such repository;
  //     kExpired, kThresholdNotMet, kBadCertificate (pinning), kRollback, ...), also when
  //     remembered from a fetch that failed less than error_ttl ago;
  //   Code kDeadlineExceeded (Reason kUnavailable): not done by `deadline` (the fetch goes on);
  //   Code kResourceExhausted (Reason kTooLarge): too many fetches queued;
  //   Code kUnavailable (Reason kUnavailable): the cache is stopped.
  Result<std::shared_ptr<const TrustData>> get(const TrustSection& section, const ImageRef& image,
                                               Deadline deadline);

  // Starts what get() would fetch for `image`, without waiting (a request with several images
  // prefetches them all first, so that their fetches run in parallel). No-op when usable
  // data is cached or a fetch that covers it runs.
  void prefetch(const TrustSection& section, const ImageRef& image);

  // Whether get() for `image` would answer at once, without waiting for a fetch: usable data
  // that covers it is cached, or a fetch failed within error_ttl. Starts nothing and counts
  // no lookup. (Interfaces answer such requests on the connection's thread.)
  bool ready(const TrustSection& section, const ImageRef& image) const;

  struct Stats {
    std::uint64_t hits = 0;
    std::uint64_t misses = 0;
    std::uint64_t fetches = 0;         // fetches started
    std::uint64_t fetch_errors = 0;    // fetches that failed
    std::uint64_t background_refreshes = 0;
    std::uint64_t deadline_exceeded = 0;
    std::size_t entries = 0;
    std::size_t waiting = 0;  // get() calls waiting for a fetch now
    std::size_t running = 0;  // fetches queued or running now
  };
  Stats stats() const;

  // The clock the cache measures freshness with (the one given at construction).
  const Clock& clock() const { return clock_; }

  // Blocks until no fetch is queued or running (tests; shutdown).
  void wait_idle();

  // Fails every waiting get() with kUnavailable, lets running fetches finish and stops the
  // workers. Idempotent. Later get() calls fail at once.
  void stop();

 private:
  struct Entry;
  struct Need {
    bool all = false;
    std::string tag;
  };

  Need need_of(const ImageRef& image) const;
  std::shared_ptr<Entry> entry_for(const std::string& key, const TrustSection& section,
                                   std::string_view gun);
  // With mu_ held: the flight that will satisfy `need`, starting one if none runs.
  std::uint64_t schedule(const std::shared_ptr<Entry>& entry, const Need& need, bool background);
  void start_flight(const std::shared_ptr<Entry>& entry, bool background);
  void run_flight(const std::shared_ptr<Entry>& entry, std::uint64_t flight);
  // Drops the least recently used idle entries beyond max_entries, never `keep`.
  void evict_locked(std::string_view keep);

  SourceFactory factory_;
  const Clock& clock_;
  TrustCacheOptions options_;
  TrustCacheObserver* observer_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::shared_ptr<Entry>, std::less<>> entries_;
  std::uint64_t next_generation_ = 1;
  std::uint64_t tick_ = 0;  // recency of use, for eviction
  Stats stats_;
  bool stopped_ = false;
  // Declared last: destroyed (joined) first, while the members its tasks use still exist.
  WorkQueue workers_;
};

}  // namespace vouch::verifier
