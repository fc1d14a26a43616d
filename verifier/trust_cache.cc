#include "verifier/trust_cache.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "client/disk_cache.h"
#include "common/log.h"
#include "keys/crypto.h"
#include "tuf/metadata.h"
#include "tuf/updater.h"

namespace vouch::verifier {
namespace {

std::shared_ptr<spdlog::logger> logger() { return log::get("verifier.trust"); }

// The verified files of earlier fetches of one entry (see the header). Used by one fetch at
// a time (the entry's single flight), so it needs no lock of its own. With a state directory,
// the root (the anchor) is also kept on disk, read when memory has none (after a restart or
// an eviction) and written on every store.
class MemoryFiles final : public tuf::MetadataCache {
 public:
  void keep_root_in(client::DiskMetadataCache disk) { disk_.emplace(std::move(disk)); }

  Result<std::string> load(std::string_view role, std::size_t max_length) override {
    auto it = files_.find(role);
    if (it == files_.end()) {
      if (role == tuf::kRootRole && disk_) return disk_->load(role, max_length);
      return make_error(Reason::kNotFound, "not cached");
    }
    if (it->second.size() > max_length) return make_error(Reason::kTooLarge, "cached file too large");
    return it->second;
  }
  Status store(std::string_view role, std::string_view bytes) override {
    files_.insert_or_assign(std::string(role), std::string(bytes));
    if (role == tuf::kRootRole && disk_) {
      auto st = disk_->store(role, bytes);
      if (!st) {
        logger()->error("cannot keep the trust anchor on disk ({}): a restart will not know it",
                        st.error().message);
        return st;
      }
    }
    return {};
  }

 private:
  std::map<std::string, std::string, std::less<>> files_;
  std::optional<client::DiskMetadataCache> disk_;
};

// With root_keys or root_ca and no anchor yet (nothing in `files`): makes sure refresh() can
// start from a root that satisfies the pin. The server's current root usually does. After
// cross-signed rotations it no longer does (pinning.anchor_only): then the first version from
// 1 upward (below the current one) that satisfies the pin is the anchor. The anchor is stored
// in `files` (RootOrigin::kTrustedBefore for refresh(), which walks the chain from it, TUF
// 5.3). Finds nothing -> refresh() reports the pin error as it would. At most
// limits.max_root_rotations versions are fetched.
void find_pinned_anchor(tuf::MetadataSource& source, tuf::MetadataCache& files,
                        const std::string& gun, const tuf::TrustPinning& pinning,
                        TimePoint reference_time, const tuf::UpdateLimits& limits) {
  if (!pinning.anchor_only || (pinning.certs.empty() && pinning.ca.empty())) return;
  if (files.load(tuf::kRootRole, limits.max_root_bytes)) return;
  auto current = source.fetch(tuf::kRootRole, std::nullopt, limits.max_root_bytes);
  if (!current) return;
  auto as_is = tuf::TrustedSet::bootstrap(gun, *current, tuf::RootOrigin::kFirstUse, pinning,
                                          reference_time, limits);
  if (as_is) {
    // Verified under the pin: the anchor (refresh() need not fetch it again).
    (void)files.store(tuf::kRootRole, *current);
    return;
  }
  if (as_is.error().reason != Reason::kBadCertificate) return;
  auto header = tuf::parse_header(*current);
  if (!header) return;
  const std::int64_t last = std::min<std::int64_t>(
      header->version - 1, static_cast<std::int64_t>(limits.max_root_rotations));
  for (std::int64_t version = 1; version <= last; ++version) {
    auto bytes = source.fetch(tuf::kRootRole, version, limits.max_root_bytes);
    if (!bytes) return;
    if (tuf::TrustedSet::bootstrap(gun, *bytes, tuf::RootOrigin::kFirstUse, pinning,
                                   reference_time, limits)) {
      logger()->info("root of {} rotated since the pinned root: anchoring at version {}", gun,
                     version);
      (void)files.store(tuf::kRootRole, *bytes);
      return;
    }
  }
}

bool is_top_level(std::string_view role) {
  return role == tuf::kRootRole || role == tuf::kTimestampRole || role == tuf::kSnapshotRole ||
         role == tuf::kTargetsRole;
}

// The cache key of a section: the ID the policy computed at load, or computed now.
std::string section_key(const TrustSection& section) {
  return section.id.empty() ? trust_section_id(section) : section.id;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

bool TrustData::covers(const ImageRef& image) const {
  if (all_delegations) return true;
  if (!image.has_tag()) return false;
  return tags.find(image.tag) != tags.end();
}

std::int64_t TrustData::timestamp_version() const {
  return set.timestamp() != nullptr ? set.timestamp()->content.version : 0;
}

struct TrustCache::Entry {
  std::string key;
  TrustSection section;
  std::string gun;
  std::shared_ptr<const TrustData> current;
  // The flight of current (0: none).
  std::uint64_t current_flight = 0;

  // Flights are numbered per entry; at most one runs.
  bool running = false;
  std::uint64_t running_id = 0;
  std::uint64_t last_id = 0;
  bool running_all = false;
  std::set<std::string, std::less<>> running_tags;

  // Needs registered while a flight runs that it does not cover: the next flight's.
  bool pending = false;
  bool pending_all = false;
  std::set<std::string, std::less<>> pending_tags;

  // The last failure, and how many flights have failed (waiters compare counts).
  std::optional<Error> error;
  TimePoint error_at{};
  std::uint64_t error_seq = 0;

  std::size_t waiters = 0;
  std::uint64_t last_used = 0;
  MemoryFiles files;

  bool running_covers(const Need& need) const {
    if (!running) return false;
    if (running_all) return true;
    return !need.all && running_tags.count(need.tag) != 0;
  }
  bool current_covers(const Need& need) const {
    if (!current) return false;
    if (current->all_delegations) return true;
    return !need.all && current->tags.count(need.tag) != 0;
  }
};

TrustCache::TrustCache(SourceFactory factory, const Clock& clock, TrustCacheOptions options,
                       TrustCacheObserver* observer)
    : factory_(std::move(factory)),
      clock_(clock),
      options_(std::move(options)),
      observer_(observer),
      workers_(options_.fetch_threads, options_.max_queued_fetches, "trust fetch",
                 "verifier") {}

TrustCache::~TrustCache() { stop(); }

TrustCache::Need TrustCache::need_of(const ImageRef& image) const {
  Need need;
  if (image.has_tag()) {
    need.tag = image.tag;
  } else {
    need.all = true;
  }
  return need;
}

std::shared_ptr<TrustCache::Entry> TrustCache::entry_for(const std::string& key,
                                                         const TrustSection& section,
                                                         std::string_view gun) {
  auto it = entries_.find(key);
  if (it != entries_.end()) return it->second;
  auto entry = std::make_shared<Entry>();
  entry->key = key;
  entry->section = section;
  entry->gun = std::string(gun);
  entry->last_used = ++tick_;
  if (!options_.state_dir.empty()) {
    // One directory per trust section (its ID), Notary's layout below it.
    auto disk = client::DiskMetadataCache::open(options_.state_dir / section_key(section), gun);
    if (disk) {
      entry->files.keep_root_in(std::move(*disk));
    } else {
      logger()->warn("trust anchor of {} kept in memory only: {}", gun, disk.error().message);
    }
  }
  entries_.emplace(key, entry);
  evict_locked(key);
  return entry;
}

void TrustCache::evict_locked(std::string_view keep) {
  if (entries_.size() <= options_.max_entries) return;
  std::vector<std::pair<std::uint64_t, std::string>> idle;
  for (const auto& [key, e] : entries_) {
    if (key != keep && !e->running && e->waiters == 0) idle.emplace_back(e->last_used, key);
  }
  std::sort(idle.begin(), idle.end());
  std::size_t excess = entries_.size() - options_.max_entries;
  for (const auto& [used, key] : idle) {
    if (excess == 0) break;
    entries_.erase(key);
    --excess;
  }
}

std::uint64_t TrustCache::schedule(const std::shared_ptr<Entry>& entry, const Need& need,
                                   bool background) {
  if (entry->running) {
    if (entry->running_covers(need)) return entry->running_id;
    entry->pending = true;
    if (need.all) {
      entry->pending_all = true;
    } else {
      entry->pending_tags.insert(need.tag);
    }
    return entry->running_id + 1;
  }
  entry->pending = true;
  if (need.all) {
    entry->pending_all = true;
  } else if (!need.tag.empty()) {
    entry->pending_tags.insert(need.tag);
  }
  start_flight(entry, background);
  return entry->running_id;
}

void TrustCache::start_flight(const std::shared_ptr<Entry>& entry, bool background) {
  // Coverage: what the current data covers, plus everything asked for since.
  bool all = entry->pending_all;
  std::set<std::string, std::less<>> tags = std::move(entry->pending_tags);
  if (entry->current) {
    all = all || entry->current->all_delegations;
    tags.insert(entry->current->tags.begin(), entry->current->tags.end());
  }
  if (all || tags.size() > options_.max_tags_per_gun) {
    all = true;
    tags.clear();
  }
  entry->pending = false;
  entry->pending_all = false;
  entry->pending_tags.clear();
  entry->running = true;
  entry->running_id = ++entry->last_id;
  entry->running_all = all;
  entry->running_tags = std::move(tags);
  ++stats_.fetches;
  ++stats_.running;
  if (background) ++stats_.background_refreshes;

  const std::uint64_t flight = entry->running_id;
  const bool posted = workers_.post([this, entry, flight] { run_flight(entry, flight); });
  if (!posted) {
    // Fail closed at once: nobody would ever complete this flight.
    entry->running = false;
    entry->error = make_error(Code::kResourceExhausted, Reason::kTooLarge,
                              "too many trust data fetches are queued");
    entry->error_at = clock_.now();
    ++entry->error_seq;
    ++stats_.fetch_errors;
    --stats_.running;
    cv_.notify_all();
  }
}

void TrustCache::run_flight(const std::shared_ptr<Entry>& entry, std::uint64_t flight) {
  // The flight's inputs, taken under the lock; the fetch itself runs without it.
  TrustSection section;
  std::string gun;
  bool all = false;
  std::set<std::string, std::less<>> tags;
  std::map<std::string, std::int64_t, std::less<>> previous;
  bool stopped = false;
  {
    std::lock_guard lock(mu_);
    section = entry->section;
    gun = entry->gun;
    all = entry->running_all;
    tags = entry->running_tags;
    if (entry->current) previous = entry->current->set.versions();
    stopped = stopped_;
  }

  const auto started = std::chrono::steady_clock::now();
  const TimePoint reference_time = clock_.now();
  auto fetch = [&]() -> Result<std::shared_ptr<TrustData>> {
    if (stopped) return make_error(Reason::kUnavailable, "the verifier is shutting down");
    VOUCH_ASSIGN_OR_RETURN(std::unique_ptr<tuf::MetadataSource> source, factory_(section, gun));
    tuf::RefreshOptions refresh;
    refresh.pinning = section.pinning_for(gun);
    refresh.limits = options_.limits;
    refresh.load_all_delegations = all;
    // The verifier reports an unreachable server instead of trusting stale files.
    refresh.use_cache_when_unavailable = false;
    find_pinned_anchor(*source, entry->files, gun, refresh.pinning, reference_time,
                       options_.limits);
    VOUCH_ASSIGN_OR_RETURN(tuf::TrustedSet set,
                           tuf::refresh(gun, *source, &entry->files, reference_time, refresh));
    // The previous set's versions are floors: a delegation is refused below its old version.
    for (const auto& [role, version] : previous) {
      if (!is_top_level(role)) set.set_floor(role, version);
    }
    if (!all) {
      for (const auto& tag : tags) {
        VOUCH_RETURN_IF_ERROR(tuf::load_delegations_for(set, tag, *source, &entry->files));
      }
    }
    // ... and no role may go back (the in-memory files give refresh() the same floors; this
    // check also holds if they were lost).
    const auto now_versions = set.versions();
    for (const auto& [role, version] : previous) {
      auto it = now_versions.find(role);
      if (it != now_versions.end() && it->second < version) {
        return make_error(Reason::kRollback, "trust data of " + gun + ": " + role +
                                                 " went back from version " +
                                                 std::to_string(version) + " to " +
                                                 std::to_string(it->second));
      }
    }
    auto data = std::make_shared<TrustData>(TrustData{std::move(set), 0, reference_time,
                                                      reference_time + options_.max_age, all,
                                                      std::move(tags)});
    // Never past the earliest expiry of anything loaded.
    const tuf::TrustedSet& s = data->set;
    TimePoint until = std::min(data->usable_until, s.root().content.expires.time);
    if (s.timestamp() != nullptr) until = std::min(until, s.timestamp()->content.expires.time);
    if (s.snapshot() != nullptr) until = std::min(until, s.snapshot()->content.expires.time);
    for (const auto& [role, version] : now_versions) {
      if (role == tuf::kTargetsRole || !is_top_level(role)) {
        if (const tuf::TrustedTargets* t = s.targets(role)) {
          until = std::min(until, t->metadata.content.expires.time);
        }
      }
    }
    data->usable_until = until;
    return data;
  };
  auto result = fetch();
  const double seconds = seconds_since(started);

  Status outcome;
  {
    std::lock_guard lock(mu_);
    entry->running = false;
    --stats_.running;
    if (result) {
      (*result)->generation = next_generation_++;
      entry->current = std::move(*result);
      entry->current_flight = flight;
      entry->error.reset();
      logger()->debug("trust data fetched gun={} timestamp={} generation={}", gun,
                      entry->current->timestamp_version(), entry->current->generation);
    } else {
      outcome = result.error();
      entry->error = result.error();
      entry->error_at = clock_.now();
      ++entry->error_seq;
      ++stats_.fetch_errors;
      logger()->warn("trust data fetch failed gun={} reason={}", gun,
                     to_string(result.error().reason));
    }
    if (entry->pending && !stopped_) {
      const bool covered =
          result && (entry->current->all_delegations ||
                     (!entry->pending_all &&
                      std::all_of(entry->pending_tags.begin(), entry->pending_tags.end(),
                                  [&](const std::string& t) {
                                    return entry->current->tags.count(t) != 0;
                                  })));
      if (covered || !result) {
        // Covered: the waiters take this data. Failed: they take this error.
        entry->pending = false;
        entry->pending_all = false;
        entry->pending_tags.clear();
      } else {
        start_flight(entry, false);
      }
    }
  }
  cv_.notify_all();
  if (observer_ != nullptr) observer_->on_fetch(outcome, seconds);
}

Result<std::shared_ptr<const TrustData>> TrustCache::get(const TrustSection& section,
                                                         const ImageRef& image,
                                                         Deadline deadline) {
  const Need need = need_of(image);
  const std::string gun = image.gun();
  const std::string key = section_key(section) + "\n" + gun;

  std::unique_lock lock(mu_);
  if (stopped_) return make_error(Reason::kUnavailable, "the verifier is shutting down");
  std::shared_ptr<Entry> entry = entry_for(key, section, gun);
  entry->last_used = ++tick_;

  const TimePoint now = clock_.now();
  if (entry->current && entry->current_covers(need) && now < entry->current->usable_until) {
    ++stats_.hits;
    std::shared_ptr<const TrustData> data = entry->current;
    if (options_.refresh_after < options_.max_age && !entry->running &&
        now - data->fetched_at >= options_.refresh_after) {
      schedule(entry, need, true);
    }
    lock.unlock();
    if (observer_ != nullptr) observer_->on_lookup(true);
    return data;
  }
  ++stats_.misses;
  if (entry->error && options_.error_ttl.count() > 0 && now < entry->error_at + options_.error_ttl) {
    Error error = *entry->error;
    lock.unlock();
    if (observer_ != nullptr) observer_->on_lookup(false);
    return error;
  }

  // Wait for the flight that covers this need.
  const std::uint64_t errors_before = entry->error_seq;
  std::uint64_t accept_from = schedule(entry, need, false);
  ++entry->waiters;
  ++stats_.waiting;
  Result<std::shared_ptr<const TrustData>> outcome =
      make_error(Reason::kInternal, "trust cache: no outcome");
  while (true) {
    const bool woke = cv_.wait_until(lock, deadline, [&] {
      return stopped_ || entry->error_seq != errors_before ||
             (entry->current && entry->current_flight >= accept_from &&
              entry->current_covers(need)) ||
             !entry->running;
    });
    if (!woke) {
      ++stats_.deadline_exceeded;
      outcome = make_error(Code::kDeadlineExceeded, Reason::kUnavailable,
                           "the trust server did not answer in time; the fetch goes on in the "
                           "background");
      break;
    }
    if (stopped_) {
      outcome = make_error(Reason::kUnavailable, "the verifier is shutting down");
      break;
    }
    if (entry->current && entry->current_flight >= accept_from && entry->current_covers(need)) {
      outcome = std::shared_ptr<const TrustData>(entry->current);
      break;
    }
    if (entry->error_seq != errors_before) {
      outcome = *entry->error;
      break;
    }
    // No flight runs and none covered this need (e.g. the data it produced was for other
    // tags): start one.
    accept_from = schedule(entry, need, false);
  }
  --entry->waiters;
  --stats_.waiting;
  lock.unlock();
  if (observer_ != nullptr) observer_->on_lookup(false);
  return outcome;
}

void TrustCache::prefetch(const TrustSection& section, const ImageRef& image) {
  const Need need = need_of(image);
  const std::string gun = image.gun();
  const std::string key = section_key(section) + "\n" + gun;
  std::lock_guard lock(mu_);
  if (stopped_) return;
  std::shared_ptr<Entry> entry = entry_for(key, section, gun);
  entry->last_used = ++tick_;
  const TimePoint now = clock_.now();
  if (entry->current && entry->current_covers(need) && now < entry->current->usable_until) return;
  if (entry->running_covers(need)) return;
  if (entry->error && options_.error_ttl.count() > 0 && now < entry->error_at + options_.error_ttl) {
    return;
  }
  schedule(entry, need, false);
}

bool TrustCache::ready(const TrustSection& section, const ImageRef& image) const {
  const Need need = need_of(image);
  const std::string key = section_key(section) + "\n" + image.gun();
  std::lock_guard lock(mu_);
  if (stopped_) return true;  // get() fails at once
  auto it = entries_.find(key);
  if (it == entries_.end()) return false;
  const Entry& entry = *it->second;
  const TimePoint now = clock_.now();
  if (entry.current && entry.current_covers(need) && now < entry.current->usable_until) {
    return true;
  }
  return entry.error && options_.error_ttl.count() > 0 && now < entry.error_at + options_.error_ttl;
}

TrustCache::Stats TrustCache::stats() const {
  std::lock_guard lock(mu_);
  Stats s = stats_;
  s.entries = entries_.size();
  return s;
}

void TrustCache::wait_idle() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return stats_.running == 0; });
}

void TrustCache::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  cv_.notify_all();
  workers_.stop();
}

}  // namespace vouch::verifier
