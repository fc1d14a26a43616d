#include "server/storage/rocksdb_store.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/iterator.h>
#include <rocksdb/listener.h>
#include <rocksdb/options.h>
#include <rocksdb/slice.h>
#include <rocksdb/snapshot.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "common/encoding.h"
#include "common/log.h"
#include "common/rocksdb_util.h"
#include "keys/crypto.h"
#include "server/storage/store_util.h"

namespace vouch::server {

using storage_internal::is_storable_name;

namespace {

// ---------------------------------------------------------------------------------------------
// Keys (layout in the header).

constexpr char kTagFile = 'm';
constexpr char kTagCurrent = 'c';
constexpr char kTagChecksum = 'h';
constexpr char kTagFeed = 'f';
constexpr char kTagGunFeed = 'g';
constexpr std::string_view kCounterKey = "nchangefeed";
constexpr std::string_view kFormatKey = "!format";
constexpr std::string_view kFormatValue = "1";

constexpr std::size_t kShaSize = 32;

using rocksdb_util::get_be;
using rocksdb_util::put_u32;
using rocksdb_util::put_u64;

std::int64_t to_micros(TimePoint t) { return t.time_since_epoch().count(); }
TimePoint from_micros(std::int64_t us) { return TimePoint(std::chrono::microseconds(us)); }

// Escaped name: 0x00 -> 0x00 0xFF, terminated by 0x00 0x01. Order-preserving and prefix-free,
// so "a/b"+"c" and "a"+"b/c" (or names with NUL bytes) never produce the same key.
void append_name(std::string& out, std::string_view name) {
  for (char c : name) {
    out.push_back(c);
    if (c == '\0') out.push_back('\xff');
  }
  out.push_back('\0');
  out.push_back('\x01');
}

// Decodes one escaped name from the front of `in` and removes it. False if malformed.
bool take_name(std::string_view& in, std::string& name) {
  name.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '\0') {
      name.push_back(in[i]);
      continue;
    }
    if (i + 1 >= in.size()) return false;
    if (in[i + 1] == '\x01') {
      in.remove_prefix(i + 2);
      return true;
    }
    if (in[i + 1] != '\xff') return false;
    name.push_back('\0');
    ++i;
  }
  return false;
}

std::string gun_prefix(char tag, std::string_view gun) {
  std::string k(1, tag);
  append_name(k, gun);
  return k;
}

std::string role_key(char tag, std::string_view gun, std::string_view role) {
  std::string k = gun_prefix(tag, gun);
  append_name(k, role);
  return k;
}

std::string file_key(std::string_view gun, std::string_view role, std::int64_t version) {
  std::string k = role_key(kTagFile, gun, role);
  put_u64(k, static_cast<std::uint64_t>(version));
  return k;
}

std::string checksum_key(std::string_view gun, std::string_view role, std::string_view sha_raw) {
  std::string k = role_key(kTagChecksum, gun, role);
  k.append(sha_raw);
  return k;
}

std::string feed_key(std::string_view prefix, std::int64_t id) {
  std::string k(prefix);
  put_u64(k, static_cast<std::uint64_t>(id));
  return k;
}

// The smallest key greater than every key that starts with `prefix`.
std::string prefix_end(std::string prefix) {
  while (!prefix.empty()) {
    auto last = static_cast<unsigned char>(prefix.back());
    if (last != 0xffU) {
      prefix.back() = static_cast<char>(last + 1U);
      return prefix;
    }
    prefix.pop_back();
  }
  return prefix;  // unreachable for our prefixes, which all start with a tag below 0xff
}

// ---------------------------------------------------------------------------------------------
// Records. Each starts with a format byte and ends with a check: the first 4 bytes of
// SHA-256(key || record). The check binds a record to its key and catches altered bytes that
// would still parse; RocksDB's block checksums only see corruption below the API. Lengths are
// exact. A file record's check covers its header; the bytes after it are covered by the
// SHA-256 in the header (verified on read with verify_sha256_on_read).

constexpr char kRecordFormat = 1;
constexpr std::size_t kCheckSize = 4;

Error corrupt(std::string what) {
  return make_error(Code::kDataLoss, Reason::kInternal, "meta store: corrupt " + std::move(what));
}

std::string record_check(std::string_view key, std::string_view body) {
  std::string buf;
  buf.reserve(key.size() + body.size());
  buf.append(key).append(body);
  keys::Sha256Digest d = keys::sha256(as_bytes(buf));
  return std::string(reinterpret_cast<const char*>(d.data()), kCheckSize);
}

std::string seal(std::string_view key, std::string body) {
  body += record_check(key, body);
  return body;
}

// The record without its check, if the format byte and the check are right.
std::optional<std::string_view> unseal(std::string_view key, std::string_view v) {
  if (v.size() < 1 + kCheckSize || v[0] != kRecordFormat) return std::nullopt;
  std::string_view body = v.substr(0, v.size() - kCheckSize);
  if (record_check(key, body) != v.substr(body.size())) return std::nullopt;
  return body;
}

std::string raw_sha(std::string_view hex) {
  auto bytes = hex_decode(hex);  // our own hex (prepare_batch or is_sha256_hex): always valid
  return bytes ? std::string(as_string_view(*bytes)) : std::string();
}

std::string hex_sha(std::string_view raw) { return hex_encode(as_bytes(raw)); }

// File ('m'): [format, created (8), sha256 (32), length (8), check (4)], then the bytes.
constexpr std::size_t kFileHeaderSize = 1 + 8 + kShaSize + 8 + kCheckSize;

std::string encode_file_header(std::string_view key, TimePoint created, std::string_view sha,
                               std::size_t length) {
  std::string out(1, kRecordFormat);
  put_u64(out, static_cast<std::uint64_t>(to_micros(created)));
  out.append(sha);
  put_u64(out, length);
  return seal(key, std::move(out));
}

struct FileView {
  TimePoint created;
  std::string_view sha;  // raw
  std::string_view bytes;
};

std::optional<FileView> decode_file(std::string_view key, std::string_view v) {
  if (v.size() < kFileHeaderSize) return std::nullopt;
  auto h = unseal(key, v.substr(0, kFileHeaderSize));
  if (!h) return std::nullopt;
  if (get_be<std::uint64_t>(h->substr(1 + 8 + kShaSize)) != v.size() - kFileHeaderSize) {
    return std::nullopt;
  }
  return FileView{from_micros(get_be<std::int64_t>(h->substr(1))), h->substr(1 + 8, kShaSize),
                  v.substr(kFileHeaderSize)};
}

// Current ('c'): format, version (8), created (8), sha256 (32), check.
struct CurrentRecord {
  std::int64_t version = 0;
  TimePoint created;
  std::string sha;  // raw
};

std::string encode_current(std::string_view key, std::int64_t version, TimePoint created,
                           std::string_view sha) {
  std::string out(1, kRecordFormat);
  put_u64(out, static_cast<std::uint64_t>(version));
  put_u64(out, static_cast<std::uint64_t>(to_micros(created)));
  out.append(sha);
  return seal(key, std::move(out));
}

std::optional<CurrentRecord> decode_current(std::string_view key, std::string_view v) {
  auto b = unseal(key, v);
  if (!b || b->size() != 1 + 8 + 8 + kShaSize) return std::nullopt;
  CurrentRecord r{get_be<std::int64_t>(b->substr(1)),
                  from_micros(get_be<std::int64_t>(b->substr(9))),
                  std::string(b->substr(17, kShaSize))};
  if (r.version < 0) return std::nullopt;
  return r;
}

// Checksum index ('h'): format, version (8), check.
std::string encode_version(std::string_view key, std::int64_t version) {
  std::string out(1, kRecordFormat);
  put_u64(out, static_cast<std::uint64_t>(version));
  return seal(key, std::move(out));
}

std::optional<std::int64_t> decode_version(std::string_view key, std::string_view v) {
  auto b = unseal(key, v);
  if (!b || b->size() != 9) return std::nullopt;
  auto version = get_be<std::int64_t>(b->substr(1));
  if (version < 0) return std::nullopt;
  return version;
}

// Change ('f', 'g'): format, created (8), category (1), version (8), sha256 (32, zero for a
// deletion), GUN length (4), GUN, check. The id is the key's.
constexpr std::size_t kChangeFixedSize = 1 + 8 + 1 + 8 + kShaSize + 4;

std::string encode_change(std::string_view key, const Change& c) {
  std::string out(1, kRecordFormat);
  put_u64(out, static_cast<std::uint64_t>(to_micros(c.created)));
  out.push_back(c.category == Change::Category::kDeletion ? '\x01' : '\x00');
  put_u64(out, static_cast<std::uint64_t>(c.version));
  out.append(c.category == Change::Category::kDeletion ? std::string(kShaSize, '\0')
                                                       : raw_sha(c.sha256_hex));
  put_u32(out, static_cast<std::uint32_t>(c.gun.size()));
  out.append(c.gun);
  return seal(key, std::move(out));
}

std::optional<Change> decode_change(std::string_view key, std::int64_t id, std::string_view v) {
  auto b = unseal(key, v);
  if (!b || b->size() < kChangeFixedSize) return std::nullopt;
  Change c;
  c.id = id;
  c.created = from_micros(get_be<std::int64_t>(b->substr(1)));
  switch ((*b)[9]) {
    case '\x00':
      c.category = Change::Category::kUpdate;
      break;
    case '\x01':
      c.category = Change::Category::kDeletion;
      break;
    default:
      return std::nullopt;
  }
  c.version = get_be<std::int64_t>(b->substr(10));
  if (c.category == Change::Category::kUpdate) c.sha256_hex = hex_sha(b->substr(18, kShaSize));
  if (get_be<std::uint32_t>(b->substr(18 + kShaSize)) != b->size() - kChangeFixedSize) {
    return std::nullopt;
  }
  c.gun = std::string(b->substr(kChangeFixedSize));
  return c;
}

// ---------------------------------------------------------------------------------------------
// RocksDB adapter: Status -> Error (common/rocksdb_util.h). The message is for logs only.

Error from_rocksdb(const rocksdb::Status& s, std::string_view op) {
  return rocksdb_util::to_error(s, "rocksdb " + std::string(op));
}

#define VOUCH_ROCKS_OK(expr, op)                        \
  do {                                                  \
    const rocksdb::Status vouch_rocks_status_ = (expr); \
    if (!vouch_rocks_status_.ok()) {                    \
      return from_rocksdb(vouch_rocks_status_, op);     \
    }                                                   \
  } while (false)

// The value of `key` as `ro` sees it; kNotFound with `missing` when there is none.
Result<std::string> get_value(rocksdb::DB& db, const rocksdb::ReadOptions& ro,
                              const std::string& key, std::string_view missing,
                              std::string_view op) {
  std::string value;
  const rocksdb::Status s = db.Get(ro, key, &value);
  if (s.IsNotFound()) return make_error(Reason::kNotFound, std::string(missing));
  if (!s.ok()) return from_rocksdb(s, op);
  return value;
}

// Reads version `version` of (gun, role); kNotFound if absent. `expect`, when given, is the
// current record we followed here: the file's checksum and time must match it.
Result<StoredFile> read_file(rocksdb::DB& db, const rocksdb::ReadOptions& ro, bool verify_sha,
                             std::string_view gun, std::string_view role, std::int64_t version,
                             const CurrentRecord* expect) {
  rocksdb::PinnableSlice value;
  const std::string key = file_key(gun, role, version);
  rocksdb::Status s = db.Get(ro, db.DefaultColumnFamily(), key, &value);
  if (s.IsNotFound()) return make_error(Reason::kNotFound, "no such version");
  if (!s.ok()) return from_rocksdb(s, "get file");
  auto f = decode_file(key, value.ToStringView());
  if (!f) return corrupt("file record");
  if (expect != nullptr && (f->sha != expect->sha || f->created != expect->created)) {
    return corrupt("file record: does not match the index that points at it");
  }
  if (verify_sha) {
    keys::Sha256Digest digest = keys::sha256(as_bytes(f->bytes));
    if (std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()) != f->sha) {
      return corrupt("file record: bytes do not match their SHA-256");
    }
  }
  StoredFile out;
  out.gun = gun;
  out.role = role;
  out.version = version;
  out.sha256_hex = hex_sha(f->sha);
  out.created = f->created;
  out.bytes = std::make_shared<const std::string>(f->bytes);
  return out;
}

// Iterates [lower, upper) forward or backward, calling fn(key, value) until it returns false.
template <typename Fn>
Status scan(rocksdb::DB& db, const rocksdb::ReadOptions& base, const std::string& lower,
            const std::string& upper, bool backward, Fn&& fn) {
  rocksdb::ReadOptions ro = base;
  rocksdb::Slice lo(lower), hi(upper);
  ro.iterate_lower_bound = &lo;
  ro.iterate_upper_bound = &hi;
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(ro));
  if (backward) {
    it->SeekToLast();
  } else {
    it->SeekToFirst();
  }
  for (; it->Valid(); backward ? it->Prev() : it->Next()) {
    VOUCH_ASSIGN_OR_RETURN(bool more, fn(it->key().ToStringView(), it->value().ToStringView()));
    if (!more) return ok_status();
  }
  VOUCH_ROCKS_OK(it->status(), "iterate");
  return ok_status();
}

// The change counter holds the highest id of the last batch written. Batches of different
// GUNs may commit out of id order, so it can lag behind; open() takes the larger of it and the
// last change record. (A merge operator could keep the maximum, but then any tool that opens
// the database without it would stop replaying the log at the first merge and drop the rest.)
Status put_counter(rocksdb::WriteBatch& wb, std::int64_t id) {
  std::string value;
  put_u64(value, static_cast<std::uint64_t>(id));
  VOUCH_ROCKS_OK(wb.Put(kCounterKey, value), "batch put");
  return ok_status();
}

// Adds a change to the global and the per-GUN changefeed.
Status put_change(rocksdb::WriteBatch& wb, const Change& c) {
  for (const std::string& key :
       {feed_key(std::string(1, kTagFeed), c.id), feed_key(gun_prefix(kTagGunFeed, c.gun), c.id)}) {
    VOUCH_ROCKS_OK(wb.Put(key, encode_change(key, c)), "batch put");
  }
  return ok_status();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Change ids. Ids are reserved under a mutex and released after their write succeeded or
// failed; get_changes shows only ids below the smallest one still in flight.

class RocksDbStore::ChangeIds {
 public:
  explicit ChangeIds(std::int64_t next) : next_(next), visible_below_(next) {}

  // `count` consecutive ids (none if 0), in flight from construction to destruction.
  class Reservation {
   public:
    Reservation(ChangeIds& ids, std::size_t count)
        : ids_(ids), first_(count > 0 ? ids.reserve(count) : 0), count_(count) {}
    ~Reservation() {
      if (count_ > 0) ids_.release(first_, count_);
    }
    Reservation(const Reservation&) = delete;
    Reservation& operator=(const Reservation&) = delete;
    std::int64_t first() const { return first_; }

   private:
    ChangeIds& ids_;
    std::int64_t first_;
    std::size_t count_;
  };

  // Every id below this is committed or abandoned.
  std::int64_t visible_below() const { return visible_below_.load(std::memory_order_acquire); }

 private:
  std::int64_t reserve(std::size_t count) {
    std::lock_guard lock(mu_);
    std::int64_t first = next_;
    for (std::size_t i = 0; i < count; ++i) in_flight_.insert(next_++);
    return first;
  }

  void release(std::int64_t first, std::size_t count) {
    std::lock_guard lock(mu_);
    for (std::size_t i = 0; i < count; ++i) in_flight_.erase(first + static_cast<std::int64_t>(i));
    visible_below_.store(in_flight_.empty() ? next_ : *in_flight_.begin(),
                         std::memory_order_release);
  }

  std::mutex mu_;
  std::int64_t next_;
  std::set<std::int64_t> in_flight_;
  std::atomic<std::int64_t> visible_below_;
};

// ---------------------------------------------------------------------------------------------

// What RocksDB reports about background errors (a failed flush, compaction or log write, after
// which it refuses writes until it recovers), so that check_health knows without writing.
class RocksDbStore::BackgroundErrors final : public rocksdb::EventListener {
 public:
  void OnBackgroundError(rocksdb::BackgroundErrorReason /*reason*/,
                         rocksdb::Status* bg_error) override {
    if (bg_error == nullptr || bg_error->ok()) return;
    std::lock_guard lock(mu_);
    error_ = bg_error->ToString();
  }
  void OnErrorRecoveryEnd(const rocksdb::BackgroundErrorRecoveryInfo& info) override {
    std::lock_guard lock(mu_);
    if (info.new_bg_error.ok()) {
      error_.reset();
    } else {
      error_ = info.new_bg_error.ToString();
    }
  }
  std::optional<std::string> error() const {
    std::lock_guard lock(mu_);
    return error_;
  }

 private:
  mutable std::mutex mu_;
  std::optional<std::string> error_;
};

Result<std::unique_ptr<RocksDbStore>> RocksDbStore::open(const RocksDbStoreOptions& options) {
  if (options.path.empty()) {
    return make_error(Reason::kMalformed, "RocksDbStore: empty path");
  }
  if (!options.create_if_missing) {
    // Checked here because RocksDB creates the directory (for its info log) before it finds
    // out that there is no database; a mistyped path must not leave one behind.
    std::error_code ec;
    if (!std::filesystem::exists(options.path / "CURRENT", ec)) {
      return make_error(Reason::kIo, "RocksDbStore: no database in " + options.path.string());
    }
  }
  rocksdb::Options o;
  o.create_if_missing = options.create_if_missing;
  o.paranoid_checks = options.paranoid_checks;
  o.max_open_files = options.max_open_files;
  o.keep_log_file_num = options.keep_log_file_num;
  o.write_buffer_size = options.write_buffer_bytes;
  // A torn tail of the log (a crash mid-write) is dropped; everything before it is kept. Each
  // batch is one log record, so recovery never yields part of a batch.
  o.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));  // most reads are point reads
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  auto background_errors = std::make_shared<BackgroundErrors>();
  o.listeners.push_back(background_errors);

  VOUCH_ASSIGN_OR_RETURN(std::unique_ptr<rocksdb::DB> db,
                         rocksdb_util::open_db(o, options.path, "RocksDbStore"));
  // Format marker: written into an empty database, required in any other.
  VOUCH_RETURN_IF_ERROR(rocksdb_util::check_format(
      *db, {kFormatKey, kFormatValue, "RocksDbStore", "a vouch metadata store"}, options.path,
      /*create=*/true));

  // The next change id: above both the counter and the last record (see put_counter).
  std::int64_t last_id = 0;
  std::string counter;
  rocksdb::Status s = db->Get(rocksdb::ReadOptions(), kCounterKey, &counter);
  if (s.ok()) {
    if (counter.size() != 8) return corrupt("change counter");
    last_id = get_be<std::int64_t>(counter);
    if (last_id < 0) return corrupt("change counter");
  } else if (!s.IsNotFound()) {
    return from_rocksdb(s, "open: read change counter");
  }
  VOUCH_RETURN_IF_ERROR(scan(*db, rocksdb::ReadOptions(), std::string(1, kTagFeed),
                             std::string(1, kTagFeed + 1), /*backward=*/true,
                             [&](std::string_view key, std::string_view) -> Result<bool> {
                               if (key.size() != 9) return corrupt("change key");
                               last_id = std::max(last_id, get_be<std::int64_t>(key.substr(1)));
                               return false;
                             }));
  if (last_id == INT64_MAX) return corrupt("change counter");
  return std::unique_ptr<RocksDbStore>(
      new RocksDbStore(std::move(db), options, last_id + 1, std::move(background_errors)));
}

RocksDbStore::RocksDbStore(std::unique_ptr<rocksdb::DB> db, const RocksDbStoreOptions& options,
                           std::int64_t next_change_id,
                           std::shared_ptr<BackgroundErrors> background_errors)
    : db_(std::move(db)),
      background_errors_(std::move(background_errors)),
      clock_(options.clock != nullptr ? *options.clock : SystemClock::instance()),
      sync_writes_(options.sync_writes),
      verify_sha256_on_read_(options.verify_sha256_on_read),
      test_hook_before_write_(options.test_hook_before_write),
      change_ids_(std::make_unique<ChangeIds>(next_change_id)) {}

RocksDbStore::~RocksDbStore() {
  if (!db_) return;
  rocksdb::Status s = db_->Close();
  if (!s.ok()) log::get("server")->warn("meta store: close: {}", s.ToString());
}

std::mutex& RocksDbStore::stripe(std::string_view gun) {
  return stripes_[std::hash<std::string_view>{}(gun) % stripes_.size()];
}

Status RocksDbStore::update_many(std::string_view gun, std::span<const NewFile> files) {
  VOUCH_ASSIGN_OR_RETURN(auto batch, storage_internal::prepare_batch(gun, files));
  if (batch.empty()) return ok_status();

  std::lock_guard lock(stripe(gun));
  // Check every role before writing anything. Under the stripe lock nobody else writes this
  // GUN, so what we read stays true until our write commits.
  const rocksdb::ReadOptions ro;
  std::size_t timestamps = 0;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const NewFile& f = *batch[i].file;
    if (f.role == storage_internal::kTimestampRole) ++timestamps;
    if (i > 0 && batch[i - 1].file->role == f.role) continue;  // lowest version checked
    std::string value;
    const std::string key = role_key(kTagCurrent, gun, f.role);
    rocksdb::Status s = db_->Get(ro, key, &value);
    std::optional<std::int64_t> current;
    if (s.ok()) {
      auto c = decode_current(key, value);
      if (!c) return corrupt("current record");
      current = c->version;
    } else if (!s.IsNotFound()) {
      return from_rocksdb(s, "get current");
    }
    VOUCH_RETURN_IF_ERROR(storage_internal::check_version(f.role, f.version, current));
  }

  const TimePoint now = clock_.now();
  ChangeIds::Reservation ids(*change_ids_, timestamps);
  std::int64_t next_id = ids.first();
  rocksdb::WriteBatch wb;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const NewFile& f = *batch[i].file;
    const std::string sha = raw_sha(batch[i].sha256_hex);
    // The bytes go into the batch once, without an intermediate record copy.
    const std::string key = file_key(gun, f.role, f.version);
    const std::string header = encode_file_header(key, now, sha, f.bytes->size());
    const rocksdb::Slice key_part(key);
    const rocksdb::Slice value_parts[2] = {rocksdb::Slice(header), rocksdb::Slice(*f.bytes)};
    VOUCH_ROCKS_OK(wb.Put(rocksdb::SliceParts(&key_part, 1), rocksdb::SliceParts(value_parts, 2)),
                   "batch put");
    const std::string hkey = checksum_key(gun, f.role, sha);
    VOUCH_ROCKS_OK(wb.Put(hkey, encode_version(hkey, f.version)), "batch put");
    const bool last_of_role = i + 1 == batch.size() || batch[i + 1].file->role != f.role;
    if (last_of_role) {
      const std::string ckey = role_key(kTagCurrent, gun, f.role);
      VOUCH_ROCKS_OK(wb.Put(ckey, encode_current(ckey, f.version, now, sha)), "batch put");
    }
    if (f.role == storage_internal::kTimestampRole) {
      VOUCH_RETURN_IF_ERROR(put_change(wb, Change{next_id++, now, std::string(gun), f.version,
                                                  batch[i].sha256_hex, Change::Category::kUpdate}));
    }
  }
  if (timestamps > 0) VOUCH_RETURN_IF_ERROR(put_counter(wb, next_id - 1));
  if (test_hook_before_write_) test_hook_before_write_(gun);
  rocksdb::WriteOptions w;
  w.sync = sync_writes_;
  VOUCH_ROCKS_OK(db_->Write(w, &wb), "write");
  return ok_status();
}

Result<StoredFile> RocksDbStore::get_current(std::string_view gun, std::string_view role) {
  if (!is_storable_name(gun) || !is_storable_name(role)) {
    return make_error(Reason::kNotFound, "no such role");
  }
  rocksdb::ManagedSnapshot snapshot(db_.get());
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot.snapshot();
  // The repository caches current files above the store; keeping their blocks in the block
  // cache as well would hold every current file twice.
  ro.fill_cache = false;
  const std::string key = role_key(kTagCurrent, gun, role);
  VOUCH_ASSIGN_OR_RETURN(const std::string value,
                         get_value(*db_, ro, key, "no such role", "get current"));
  auto current = decode_current(key, value);
  if (!current) return corrupt("current record");
  auto file = read_file(*db_, ro, verify_sha256_on_read_, gun, role, current->version, &*current);
  if (!file && file.error().code == Code::kNotFound) {
    return corrupt("current record: points at a missing version");
  }
  return file;
}

Result<StoredFile> RocksDbStore::get_version(std::string_view gun, std::string_view role,
                                             std::int64_t version) {
  if (!is_storable_name(gun) || !is_storable_name(role) || version < 0) {
    return make_error(Reason::kNotFound, "no such version");
  }
  return read_file(*db_, rocksdb::ReadOptions(), verify_sha256_on_read_, gun, role, version,
                   nullptr);
}

Result<StoredFile> RocksDbStore::get_checksum(std::string_view gun, std::string_view role,
                                              std::string_view sha256_hex) {
  if (!is_storable_name(gun) || !is_storable_name(role) ||
      !storage_internal::is_sha256_hex(sha256_hex)) {
    return make_error(Reason::kNotFound, "no such checksum");
  }
  const std::string sha = raw_sha(sha256_hex);
  rocksdb::ManagedSnapshot snapshot(db_.get());
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot.snapshot();
  const std::string key = checksum_key(gun, role, sha);
  VOUCH_ASSIGN_OR_RETURN(const std::string value,
                         get_value(*db_, ro, key, "no such checksum", "get checksum"));
  auto version = decode_version(key, value);
  if (!version) return corrupt("checksum record");
  auto file = read_file(*db_, ro, verify_sha256_on_read_, gun, role, *version, nullptr);
  if (!file) {
    if (file.error().code == Code::kNotFound) {
      return corrupt("checksum record: points at a missing version");
    }
    return file;
  }
  if (file->sha256_hex != sha256_hex) return corrupt("checksum record: points at other bytes");
  return file;
}

Result<std::vector<RoleVersion>> RocksDbStore::list_roles(std::string_view gun) {
  std::vector<RoleVersion> out;
  if (!is_storable_name(gun)) return out;
  const std::string prefix = gun_prefix(kTagCurrent, gun);
  std::string role;
  VOUCH_RETURN_IF_ERROR(
      scan(*db_, rocksdb::ReadOptions(), prefix, prefix_end(prefix),
           /*backward=*/false, [&](std::string_view key, std::string_view value) -> Result<bool> {
             std::string_view rest = key.substr(prefix.size());
             if (!take_name(rest, role) || !rest.empty()) {
               return corrupt("current key");
             }
             auto c = decode_current(key, value);
             if (!c) return corrupt("current record");
             out.push_back(RoleVersion{role, c->version, hex_sha(c->sha), c->created});
             return true;
           }));
  return out;
}

Status RocksDbStore::delete_gun(std::string_view gun) {
  VOUCH_RETURN_IF_ERROR(storage_internal::validate_gun(gun));
  std::lock_guard lock(stripe(gun));
  const std::string current_prefix = gun_prefix(kTagCurrent, gun);
  bool exists = false;
  VOUCH_RETURN_IF_ERROR(scan(*db_, rocksdb::ReadOptions(), current_prefix,
                             prefix_end(current_prefix), /*backward=*/false,
                             [&](std::string_view, std::string_view) -> Result<bool> {
                               exists = true;
                               return false;
                             }));
  if (!exists) return ok_status();  // nothing stored: no change record (Notary)

  const TimePoint now = clock_.now();
  ChangeIds::Reservation ids(*change_ids_, 1);
  rocksdb::WriteBatch wb;
  // Range deletions: the escaped GUN is prefix-free, so each range holds exactly this GUN's
  // keys of one kind. The per-GUN changefeed ('g') is history and stays.
  for (char tag : {kTagFile, kTagCurrent, kTagChecksum}) {
    const std::string prefix = gun_prefix(tag, gun);
    VOUCH_ROCKS_OK(wb.DeleteRange(prefix, prefix_end(prefix)), "batch delete range");
  }
  VOUCH_RETURN_IF_ERROR(put_change(
      wb, Change{ids.first(), now, std::string(gun), 0, {}, Change::Category::kDeletion}));
  VOUCH_RETURN_IF_ERROR(put_counter(wb, ids.first()));
  if (test_hook_before_write_) test_hook_before_write_(gun);
  rocksdb::WriteOptions w;
  w.sync = sync_writes_;
  VOUCH_ROCKS_OK(db_->Write(w, &wb), "write");
  return ok_status();
}

Result<std::vector<Change>> RocksDbStore::get_changes(std::string_view change_id, int records,
                                                      std::string_view filter_gun) {
  VOUCH_ASSIGN_OR_RETURN(auto q, storage_internal::parse_change_query(change_id, records));
  // Read the watermark before the data: every id below it is final.
  const std::int64_t visible_below = change_ids_->visible_below();
  std::vector<Change> out;
  if (!filter_gun.empty() && !is_storable_name(filter_gun)) return out;
  const std::string prefix =
      filter_gun.empty() ? std::string(1, kTagFeed) : gun_prefix(kTagGunFeed, filter_gun);

  // Ids in [lo, hi), walked from the right end when reversed.
  std::int64_t lo = 1, hi = visible_below;
  if (!q.reversed) {
    if (q.id == INT64_MAX) return out;
    lo = q.id + 1;  // q.id >= 0 when not reversed
  } else if (q.id > 0) {
    hi = std::min(q.id, visible_below);
  }
  if (lo >= hi) return out;
  out.reserve(q.limit);
  VOUCH_RETURN_IF_ERROR(scan(
      *db_, rocksdb::ReadOptions(), feed_key(prefix, lo), feed_key(prefix, hi), q.reversed,
      [&](std::string_view key, std::string_view value) -> Result<bool> {
        if (key.size() != prefix.size() + 8) return corrupt("change key");
        auto change = decode_change(key, get_be<std::int64_t>(key.substr(prefix.size())), value);
        if (!change || (!filter_gun.empty() && change->gun != filter_gun)) {
          return corrupt("change record");
        }
        out.push_back(std::move(*change));
        return out.size() < q.limit;
      }));
  if (q.reversed) std::reverse(out.begin(), out.end());
  return out;
}

Status RocksDbStore::check_health() {
  // Probes come from anonymous GETs (/readyz, /_notary_server/health), so they never write:
  // after a background error RocksDB refuses writes, and it tells the listener so.
  if (auto error = background_errors_->error()) {
    return make_error(Reason::kIo, "health: RocksDB background error: " + *error);
  }
  std::string format;
  VOUCH_ROCKS_OK(db_->Get(rocksdb::ReadOptions(), kFormatKey, &format), "health: read");
  return ok_status();
}

Status RocksDbStore::flush() {
  VOUCH_ROCKS_OK(db_->Flush(rocksdb::FlushOptions()), "flush");
  return ok_status();
}

#undef VOUCH_ROCKS_OK

}  // namespace vouch::server
