#include "server/audit/audit_log.h"

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <utility>

#include "common/log.h"
#include "common/rocksdb_util.h"
#include "keys/crypto.h"

namespace vouch::server::audit {
namespace {

constexpr std::string_view kDomainTag = "vouch-audit-1";
constexpr std::string_view kFormatKey = "!";
constexpr std::string_view kFormatValue = "vouch-audit-1";
constexpr std::string_view kHeadKey = "h";
constexpr char kTagRecord = 'r';
constexpr std::uint8_t kRecordFormat = 1;

constexpr std::array<std::string_view, 29> kActionNames = {
    "publish",          "delete",
    "key_create",       "key_rotate",
    "login_failed",     "token_issued",
    "user_create",      "user_delete",
    "user_disable",     "user_enable",
    "user_set_admin",   "password_set",
    "org_create",       "org_delete",
    "org_member_set",   "org_member_remove",
    "team_create",      "team_delete",
    "team_member_add",  "team_member_remove",
    "service_account_create", "service_account_delete",
    "api_token_create", "api_token_revoke",
    "grant_set",        "grant_remove",
    "visibility_set",
    "member_key_register", "member_key_delete",
};
static_assert(kActionNames.size() == static_cast<std::size_t>(Action::kMemberKeyDelete) + 1,
              "every Action needs a stable name");
constexpr std::array<std::string_view, 4> kActorKindNames = {"anonymous", "user",
                                                             "service_account", "system"};
constexpr std::array<std::string_view, 3> kOutcomeNames = {"ok", "denied", "failed"};

template <typename E, std::size_t N>
Result<E> parse_name(const std::array<std::string_view, N>& names, std::string_view name,
                     std::string_view what) {
  for (std::size_t i = 0; i < N; ++i) {
    if (names[i] == name) return static_cast<E>(i);
  }
  return make_error(Reason::kMalformed, "unknown audit " + std::string(what) + " '" +
                                            std::string(name) + "'");
}

using rocksdb_util::put_u32;
using rocksdb_util::put_u64;

void put_str(std::string& out, std::string_view s) {
  put_u32(out, static_cast<std::uint32_t>(s.size()));
  out.append(s);
}
std::string be_key(std::uint64_t seq) {
  std::string key(1, kTagRecord);
  put_u64(key, seq);
  return key;
}

// Reads the fields of the canonical encoding back; every length is checked against what is
// left, so a damaged record is an error, never an over-read.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool u32(std::uint32_t& v) { return uint(v); }
  bool u64(std::uint64_t& v) { return uint(v); }
  bool str(std::string& s) {
    std::uint32_t n = 0;
    if (!u32(n) || data_.size() < n) return false;
    s.assign(data_.substr(0, n));
    data_.remove_prefix(n);
    return true;
  }
  bool raw(std::string_view expect) {
    if (data_.substr(0, expect.size()) != expect) return false;
    data_.remove_prefix(expect.size());
    return true;
  }
  bool hash(Hash& h) {
    if (data_.size() < h.size()) return false;
    std::memcpy(h.data(), data_.data(), h.size());
    data_.remove_prefix(h.size());
    return true;
  }
  bool done() const { return data_.empty(); }

 private:
  template <typename U>
  bool uint(U& v) {
    if (data_.size() < sizeof(U)) return false;
    v = rocksdb_util::get_be<U>(data_);
    data_.remove_prefix(sizeof(U));
    return true;
  }

  std::string_view data_;
};

Error broken(std::uint64_t seq, std::string what) {
  return make_error(Code::kDataLoss, Reason::kHashMismatch,
                    "audit record " + std::to_string(seq) + ": " + std::move(what));
}

Hash hash_of(std::string_view encoding) { return keys::sha256(as_bytes(encoding)); }

// Decodes a stored value (0x01 || encoding || hash) and checks that the hash recomputes.
// `seq` is the seq of the key it was stored under, for the message and the key check.
Result<AuditRecord> decode_record(std::uint64_t seq, std::string_view value) {
  if (value.size() < 1 + kDomainTag.size() + 32 ||
      static_cast<std::uint8_t>(value[0]) != kRecordFormat) {
    return broken(seq, "does not decode");
  }
  const std::string_view encoding = value.substr(1, value.size() - 1 - 32);
  AuditRecord r;
  std::memcpy(r.hash.data(), value.data() + value.size() - 32, 32);
  if (hash_of(encoding) != r.hash) return broken(seq, "hash does not match its contents");

  Reader in(encoding);
  std::uint64_t time = 0;
  std::string actor_kind, action, outcome;
  std::uint32_t entries = 0;
  bool ok = in.raw(kDomainTag) && in.u64(r.seq) && in.u64(time) && in.str(actor_kind) &&
            in.str(r.event.actor) && in.str(action) && in.str(r.event.target) &&
            in.str(r.event.source) && in.str(outcome) && in.u32(entries) &&
            entries <= kMaxDetailEntries;
  std::string previous_key;
  for (std::uint32_t i = 0; ok && i < entries; ++i) {
    std::string k, v;
    ok = in.str(k) && in.str(v) && (i == 0 || k > previous_key);
    if (ok) {
      previous_key = k;
      r.event.detail.emplace(std::move(k), std::move(v));
    }
  }
  ok = ok && in.hash(r.prev_hash) && in.done();
  if (!ok) return broken(seq, "does not decode");
  if (r.seq != seq) {
    return broken(seq, "holds record " + std::to_string(r.seq) + " (moved or reordered)");
  }
  r.time = TimePoint(std::chrono::microseconds(static_cast<std::int64_t>(time)));
  auto kind = parse_actor_kind(actor_kind);
  auto act = parse_action(action);
  auto out = parse_outcome(outcome);
  // A name this build does not know: a newer server wrote it.
  if (!kind || !act || !out) {
    return make_error(Code::kFailedPrecondition, Reason::kMalformed,
                      "audit record " + std::to_string(seq) +
                          ": written by a newer vouch-server (unknown name)");
  }
  r.event.actor_kind = *kind;
  r.event.action = *act;
  r.event.outcome = *out;
  return r;
}

Status check_event(const AuditEvent& e) {
  auto too_large = [](std::string_view what) {
    return make_error(Code::kInvalidArgument, Reason::kTooLarge,
                      "audit event: " + std::string(what) + " too large");
  };
  if (e.actor.size() > kMaxFieldBytes) return too_large("actor");
  if (e.target.size() > kMaxFieldBytes) return too_large("target");
  if (e.source.size() > kMaxFieldBytes) return too_large("source");
  if (e.detail.size() > kMaxDetailEntries) return too_large("detail");
  for (const auto& [k, v] : e.detail) {
    if (k.size() > kMaxFieldBytes || v.size() > kMaxDetailValueBytes) return too_large("detail");
  }
  return ok_status();
}

// RocksDB Status -> Error (common/rocksdb_util.h). The message is for logs only.
Error from_rocksdb(const rocksdb::Status& s, std::string_view op) {
  return rocksdb_util::to_error(s, "audit log: rocksdb " + std::string(op));
}

Result<AuditHead> decode_head(std::string_view value) {
  Reader in(value);
  AuditHead h;
  if (!in.u64(h.seq) || !in.hash(h.hash) || !in.done()) {
    return make_error(Code::kDataLoss, Reason::kHashMismatch, "audit log: head does not decode");
  }
  return h;
}

std::string encode_head(const AuditHead& h) {
  std::string out;
  put_u64(out, h.seq);
  out.append(reinterpret_cast<const char*>(h.hash.data()), h.hash.size());
  return out;
}

std::string log_line(const AuditRecord& r) {
  boost::json::object detail;
  for (const auto& [k, v] : r.event.detail) detail[k] = v;
  boost::json::object o;
  o["seq"] = r.seq;
  o["time"] = format_rfc3339(r.time);
  o["actor_kind"] = to_string(r.event.actor_kind);
  o["actor"] = r.event.actor;
  o["action"] = to_string(r.event.action);
  o["target"] = r.event.target;
  o["source"] = r.event.source;
  o["outcome"] = to_string(r.event.outcome);
  o["detail"] = std::move(detail);
  o["hash"] = hex_encode(r.hash);
  return "audit " + boost::json::serialize(o);
}

}  // namespace

std::string_view to_string(Action action) {
  return kActionNames.at(static_cast<std::size_t>(action));
}
Result<Action> parse_action(std::string_view name) {
  return parse_name<Action>(kActionNames, name, "action");
}
std::string_view to_string(ActorKind kind) {
  return kActorKindNames.at(static_cast<std::size_t>(kind));
}
Result<ActorKind> parse_actor_kind(std::string_view name) {
  return parse_name<ActorKind>(kActorKindNames, name, "actor kind");
}
std::string_view to_string(Outcome outcome) {
  return kOutcomeNames.at(static_cast<std::size_t>(outcome));
}
Result<Outcome> parse_outcome(std::string_view name) {
  return parse_name<Outcome>(kOutcomeNames, name, "outcome");
}

std::string encode_for_hash(const AuditRecord& r) {
  std::string out(kDomainTag);
  put_u64(out, r.seq);
  put_u64(out, static_cast<std::uint64_t>(r.time.time_since_epoch().count()));
  put_str(out, to_string(r.event.actor_kind));
  put_str(out, r.event.actor);
  put_str(out, to_string(r.event.action));
  put_str(out, r.event.target);
  put_str(out, r.event.source);
  put_str(out, to_string(r.event.outcome));
  put_u32(out, static_cast<std::uint32_t>(r.event.detail.size()));
  for (const auto& [k, v] : r.event.detail) {
    put_str(out, k);
    put_str(out, v);
  }
  out.append(reinterpret_cast<const char*>(r.prev_hash.data()), r.prev_hash.size());
  return out;
}

Result<std::unique_ptr<AuditLog>> AuditLog::open(const AuditLogOptions& options) {
  if (options.path.empty()) {
    return make_error(Reason::kMalformed, "audit log: no path given");
  }
  const bool create = options.create_if_missing && !options.read_only;
  if (!create) {
    // RocksDB creates the directory before it finds no database; a mistyped path must not
    // leave one behind, nor pass as an empty log.
    std::error_code ec;
    if (!std::filesystem::exists(options.path / "CURRENT", ec)) {
      return make_error(Reason::kIo, "audit log: no audit log in " + options.path.string());
    }
  }
  rocksdb::Options o;
  o.create_if_missing = create;
  o.paranoid_checks = true;
  o.keep_log_file_num = 10;
  // A torn tail of the write-ahead log is dropped; each append is one log record.
  o.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  VOUCH_ASSIGN_OR_RETURN(std::unique_ptr<rocksdb::DB> db,
                         rocksdb_util::open_db(o, options.path, "audit log", options.read_only));
  VOUCH_RETURN_IF_ERROR(rocksdb_util::check_format(
      *db, {kFormatKey, kFormatValue, "audit log", "an audit log"}, options.path,
      /*create=*/!options.read_only));

  // The open-time check (header): head and last record agree.
  AuditHead head;
  std::string head_value;
  rocksdb::Status s = db->Get(rocksdb::ReadOptions(), kHeadKey, &head_value);
  const bool has_head = s.ok();
  if (has_head) {
    VOUCH_ASSIGN_OR_RETURN(head, decode_head(head_value));
  } else if (!s.IsNotFound()) {
    return from_rocksdb(s, "open: read head");
  }
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
  it->SeekForPrev(be_key(UINT64_MAX));
  if (!it->status().ok()) return from_rocksdb(it->status(), "open: iterate");
  const bool has_record = it->Valid() && it->key().size() == 9 && it->key()[0] == kTagRecord;
  if (has_head != has_record || (has_head && head.seq == 0)) {
    return broken(head.seq, has_head ? "the head names a record that is missing"
                                     : "records without a head");
  }
  if (has_record) {
    if (it->key().ToString() != be_key(head.seq)) {
      return broken(head.seq, "the last record is not the head's (torn or tampered tail)");
    }
    VOUCH_ASSIGN_OR_RETURN(AuditRecord last, decode_record(head.seq, it->value().ToStringView()));
    if (last.hash != head.hash) return broken(head.seq, "hash differs from the head's");
  }
  it.reset();
  return std::unique_ptr<AuditLog>(new AuditLog(std::move(db), options, head));
}

// One queued append. The appending thread owns `record` and `slot` and waits until the slot
// is done, so the leader may use both until it marks it so.
struct AuditLog::Pending {
  struct Slot {
    bool done = false;
    std::optional<Error> error;  // set when the group write failed
  };
  const AuditRecord* record = nullptr;
  std::string value;  // the stored value: 0x01 || encoding || hash
  Slot* slot = nullptr;
};

AuditLog::AuditLog(std::unique_ptr<rocksdb::DB> db, const AuditLogOptions& options,
                   AuditHead head)
    : db_(std::move(db)),
      clock_(options.clock != nullptr ? *options.clock : SystemClock::instance()),
      sync_writes_(options.sync_writes),
      read_only_(options.read_only),
      max_pending_(std::max<std::size_t>(options.max_pending, 1)),
      before_group_write_(options.before_group_write),
      head_(head),
      tail_(head) {}

AuditLog::~AuditLog() {
  if (db_) db_->Close().PermitUncheckedError();
}

Result<AuditRecord> AuditLog::append(const AuditEvent& event) {
  if (read_only_) {
    return make_error(Code::kFailedPrecondition, Reason::kIo, "audit log: opened read-only");
  }
  VOUCH_RETURN_IF_ERROR(check_event(event));
  AuditRecord r;
  r.event = event;
  Pending::Slot slot;
  std::unique_lock lock(mu_);
  // Backpressure: the queue is emptied by the leader of the group write under way (there is
  // one whenever anything is queued), which then makes room.
  room_cv_.wait(lock, [&] {
    return queued_.empty() ||
           (queued_.size() < max_pending_ && queued_bytes_ < kMaxPendingBytes);
  });
  r.seq = tail_.seq + 1;
  r.time = clock_.now();
  r.prev_hash = tail_.hash;
  const std::string encoding = encode_for_hash(r);
  r.hash = hash_of(encoding);
  Pending p;
  p.record = &r;
  p.value.reserve(1 + encoding.size() + r.hash.size());
  p.value.push_back(static_cast<char>(kRecordFormat));
  p.value += encoding;
  p.value.append(reinterpret_cast<const char*>(r.hash.data()), r.hash.size());
  p.slot = &slot;
  queued_bytes_ += p.value.size();
  queued_.push_back(std::move(p));
  tail_ = {r.seq, r.hash};

  while (!slot.done) {
    if (!writing_) {
      // Leader: write everything queued so far (this append's record among it).
      std::vector<Pending> group;
      group.swap(queued_);
      queued_bytes_ = 0;
      writing_ = true;
      room_cv_.notify_all();
      write_group(lock, group);
      writing_ = false;
      done_cv_.notify_all();
    } else {
      done_cv_.wait(lock);
    }
  }
  if (slot.error) return std::move(*slot.error);
  return r;
}

void AuditLog::write_group(std::unique_lock<std::mutex>& lock, std::vector<Pending>& group) {
  const AuditRecord& last = *group.back().record;
  const AuditHead next{last.seq, last.hash};
  lock.unlock();
  if (before_group_write_) before_group_write_(group.front().record->seq, group.size());
  rocksdb::WriteBatch wb;
  rocksdb::Status s;
  for (const Pending& p : group) {
    if (s.ok()) s = wb.Put(be_key(p.record->seq), p.value);
  }
  if (s.ok()) s = wb.Put(kHeadKey, encode_head(next));
  std::optional<Error> error;
  if (!s.ok()) {
    error = from_rocksdb(s, "append: batch");
  } else {
    rocksdb::WriteOptions w;
    w.sync = sync_writes_;
    s = db_->Write(w, &wb);
    if (!s.ok()) error = from_rocksdb(s, "append: write");
  }
  if (!error) {
    // In seq order: only the leader writes lines, and one leader at a time.
    auto logger = log::get("audit");
    for (const Pending& p : group) logger->info("{}", log_line(*p.record));
  }
  lock.lock();
  if (error) {
    // Nothing of the group is written, and what is queued behind it chains onto it: fail
    // both and continue from the durable head.
    for (Pending& p : queued_) group.push_back(std::move(p));
    queued_.clear();
    queued_bytes_ = 0;
    tail_ = head_;
    room_cv_.notify_all();
    for (Pending& p : group) {
      p.slot->error = *error;
      p.slot->done = true;
    }
    return;
  }
  head_ = next;
  stats_.appends += group.size();
  stats_.groups += 1;
  stats_.largest_group = std::max<std::uint64_t>(stats_.largest_group, group.size());
  for (Pending& p : group) p.slot->done = true;
}

Result<std::vector<AuditRecord>> AuditLog::read(std::uint64_t after_seq, int limit) const {
  if (limit < 1 || limit > kMaxReadLimit) {
    return make_error(Code::kInvalidArgument, limit < 1 ? Reason::kMalformed : Reason::kTooLarge,
                      "audit log: limit must be 1.." + std::to_string(kMaxReadLimit));
  }
  std::vector<AuditRecord> out;
  if (after_seq == UINT64_MAX) return out;
  rocksdb::ReadOptions ro;
  const std::string upper(1, kTagRecord + 1);
  rocksdb::Slice hi(upper);
  ro.iterate_upper_bound = &hi;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  for (it->Seek(be_key(after_seq + 1)); it->Valid() && out.size() < static_cast<std::size_t>(limit);
       it->Next()) {
    const std::string_view key = it->key().ToStringView();
    if (key.size() != 9) return broken(0, "a record key of the wrong size");
    Reader k(key.substr(1));
    std::uint64_t seq = 0;
    (void)k.u64(seq);
    VOUCH_ASSIGN_OR_RETURN(AuditRecord r, decode_record(seq, it->value().ToStringView()));
    out.push_back(std::move(r));
  }
  if (!it->status().ok()) return from_rocksdb(it->status(), "read");
  return out;
}

Result<VerifyReport> AuditLog::verify(std::uint64_t from_seq, std::uint64_t to_seq) const {
  const AuditHead head = this->head();
  if (from_seq == 0) from_seq = 1;
  if (to_seq == 0 || to_seq > head.seq) to_seq = head.seq;
  VerifyReport report;
  auto fail = [&report](std::uint64_t seq, Error e) -> Result<VerifyReport> {
    report.bad_seq = seq;
    report.error = std::move(e);
    return std::move(report);
  };
  // One snapshot, so that appends running meanwhile are not half seen.
  rocksdb::ManagedSnapshot snapshot(db_.get());
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot.snapshot();
  if (from_seq > to_seq) return report;  // nothing in range (an empty log, or past the head)
  Hash prev{};
  if (from_seq > 1) {
    std::string value;
    rocksdb::Status s = db_->Get(ro, be_key(from_seq - 1), &value);
    if (s.IsNotFound()) return fail(from_seq - 1, broken(from_seq - 1, "missing"));
    if (!s.ok()) return from_rocksdb(s, "verify");
    auto anchor = decode_record(from_seq - 1, value);
    if (!anchor) return fail(from_seq - 1, std::move(anchor).error());
    prev = anchor->hash;
    report.last_good = {anchor->seq, anchor->hash};
  }

  const std::string upper(1, kTagRecord + 1);
  rocksdb::Slice hi(upper);
  ro.iterate_upper_bound = &hi;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  std::uint64_t expect = from_seq;
  for (it->Seek(be_key(from_seq)); it->Valid() && expect <= to_seq; it->Next(), ++expect) {
    if (it->key().ToStringView() != be_key(expect)) {
      return fail(expect, broken(expect, "missing (the log has a gap)"));
    }
    auto r = decode_record(expect, it->value().ToStringView());
    if (!r) return fail(expect, std::move(r).error());
    if (r->prev_hash != prev) {
      return fail(expect, broken(expect, "does not link to the previous record"));
    }
    prev = r->hash;
    report.last_good = {r->seq, r->hash};
    ++report.records_checked;
  }
  if (!it->status().ok()) return from_rocksdb(it->status(), "verify");
  if (expect <= to_seq) return fail(expect, broken(expect, "missing (the log ends early)"));
  if (to_seq == head.seq && head.seq > 0 && report.last_good.hash != head.hash) {
    return fail(head.seq, broken(head.seq, "hash differs from the head's"));
  }
  return report;
}

AuditHead AuditLog::head() const {
  std::lock_guard lock(mu_);
  return head_;
}

AuditLogStats AuditLog::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace vouch::server::audit
