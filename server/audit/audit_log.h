#pragma once

// AuditLog: vouch-server's append-only, hash-chained record of who did what to which
// repository or account (issue 14: publishes, deletions, key operations, login failures,
// permission changes). server/audit/README.md describes the format for operators.
//
// Chain. Record n (n = 1, 2, ...) carries prev_hash = hash of record n-1 (32 zero bytes for
// record 1) and hash = SHA-256 over its canonical encoding (encode_for_hash below), which
// covers seq, time, every event field and prev_hash. Changing, deleting, inserting or
// reordering records therefore breaks the chain at the first record touched; verify() finds
// it. (Whoever can rewrite the whole database can also rewrite the whole chain: anchor the
// head somewhere else, e.g. in the structured log lines, to detect that.)
//
// Storage: one RocksDB database of its own (AuditLogOptions::path), three kinds of keys:
//   'r' seq (8 bytes big-endian) -> 0x01 || canonical encoding || hash (32 bytes)
//   'h'                          -> head: seq (8 bytes big-endian) || hash (32 bytes)
//   '!'                          -> "vouch-audit-1" (format marker)
// Appends are written in groups (group commit): the records of the appends that wait together
// are chained in seq order and written, with the new head, in one WriteBatch with
// sync = sync_writes (one write, one fdatasync per group). So after a crash the log holds
// exactly the appends that returned plus at most the group in flight (appends that had not
// returned), always a gapless chain: the write-ahead log keeps a group whole or drops it.
//
// Open-time check (cheap, not a full verify): the last record must exist exactly when the head
// does, sit under the head's seq, and have the head's hash, and that record's own hash must
// recompute. A log whose tail was torn off or tampered with therefore fails to open
// (Code::kDataLoss, Reason::kHashMismatch), and a log that opens continues its chain. Damage
// further back is found by verify().
//
// Every append is also written as one log line to the "audit" logger (common/log.h): "audit "
// followed by the record as one compact JSON object (seq, time, actor, action, target,
// source, outcome, detail, hash). Events never carry secrets (see AuditEvent), so neither do
// the lines.
//
// Thread-safety: every method may be called concurrently. An append takes the mutex only to
// assign its seq, hash its record and queue it; the first waiting append that finds no write
// under way becomes the leader: it takes everything queued, writes and syncs it with the mutex
// released, then wakes the others (followers), whose records are then durable. At most
// AuditLogOptions::max_pending appends (and kMaxPendingBytes of records) wait to be written;
// more wait for room before they get a seq (backpressure). One AuditLog per directory per
// process; RocksDB's LOCK makes a second read-write open fail (kIo). A read-only open (see
// AuditLogOptions::read_only) may run beside a writer and sees the log as of its open.

#include <array>
#include <cstddef>
#include <cstdint>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/encoding.h"
#include "common/result.h"

namespace rocksdb {
class DB;
}  // namespace rocksdb

namespace vouch::server::audit {

// Who acted. Names are stable: they are hashed and stored.
enum class ActorKind : std::uint8_t {
  kAnonymous,       // "anonymous": no credentials (name empty)
  kUser,            // "user": a user name
  kServiceAccount,  // "service_account": "<owner>/<name>"
  kSystem,          // "system": the server itself (name: the subsystem, e.g. "bootstrap")
};

// What was done. Append new values at the end, each with a new stable name in
// to_string/parse_action: the names (not the numbers) are hashed and stored, so a name may
// never change once released.
enum class Action : std::uint8_t {
  kPublish,           // "publish": target GUN; detail: roles and versions
  kDelete,            // "delete": target GUN
  kKeyCreate,         // "key_create": target GUN; detail: role, key_id
  kKeyRotate,         // "key_rotate": target GUN; detail: role, key_id
  kLoginFailed,       // "login_failed": target the name tried; detail: reason
  kTokenIssued,       // "token_issued": target the account; detail: scope
  kUserCreate,        // "user_create"
  kUserDelete,        // "user_delete"
  kUserDisable,       // "user_disable"
  kUserEnable,        // "user_enable"
  kUserSetAdmin,      // "user_set_admin"
  kPasswordSet,       // "password_set" (never the password)
  kOrgCreate,         // "org_create"
  kOrgDelete,         // "org_delete"
  kOrgMemberSet,      // "org_member_set"
  kOrgMemberRemove,   // "org_member_remove"
  kTeamCreate,        // "team_create"
  kTeamDelete,        // "team_delete"
  kTeamMemberAdd,     // "team_member_add"
  kTeamMemberRemove,  // "team_member_remove"
  kServiceAccountCreate,  // "service_account_create"
  kServiceAccountDelete,  // "service_account_delete"
  kApiTokenCreate,    // "api_token_create": detail: token id (never the secret)
  kApiTokenRevoke,    // "api_token_revoke"
  kGrantSet,          // "grant_set": target GUN or "<namespace>/*"; detail: grantee, permission
  kGrantRemove,       // "grant_remove"
  kVisibilitySet,     // "visibility_set": detail: visibility
  kMemberKeyRegister,  // "member_key_register": target key ID; detail: keytype
  kMemberKeyDelete,    // "member_key_delete": target key ID
};
std::string_view to_string(Action action);
// Reason::kMalformed for an unknown name.
Result<Action> parse_action(std::string_view name);

std::string_view to_string(ActorKind kind);
Result<ActorKind> parse_actor_kind(std::string_view name);

// How it ended. Names: "ok", "denied", "failed".
enum class Outcome : std::uint8_t {
  kOk,      // done
  kDenied,  // refused: bad credentials, permission, throttled
  kFailed,  // attempted, failed (invalid input, storage error)
};
std::string_view to_string(Outcome outcome);
Result<Outcome> parse_outcome(std::string_view name);

// One event, as the caller describes it. NEVER put a secret (password, token, key material)
// in any field: every field is stored for good and logged.
struct AuditEvent {
  ActorKind actor_kind = ActorKind::kAnonymous;
  std::string actor;  // user name, service account path, subsystem; empty for anonymous
  Action action = Action::kPublish;
  std::string target;  // a GUN, "<namespace>/*" or an account path
  // Small facts: {"roles": "targets,snapshot", "targets": "7", "team": "acme/ops"}. Sorted by
  // key (std::map), which the canonical encoding relies on.
  std::map<std::string, std::string> detail;
  std::string source;  // the peer address, e.g. "10.0.0.7"; empty when not from the network
  Outcome outcome = Outcome::kOk;

  bool operator==(const AuditEvent&) const = default;
};

// Limits on an event, checked by append() (Code::kInvalidArgument, Reason::kTooLarge): events
// are built from requests, so their fields may carry attacker-chosen text.
inline constexpr std::size_t kMaxFieldBytes = 1024;    // actor, target, source, each detail key
inline constexpr std::size_t kMaxDetailValueBytes = 4096;
inline constexpr std::size_t kMaxDetailEntries = 32;

using Hash = std::array<std::uint8_t, 32>;

struct AuditRecord {
  std::uint64_t seq = 0;  // 1, 2, ... without gaps
  TimePoint time;         // the log's clock at append
  AuditEvent event;
  Hash prev_hash{};  // the previous record's hash; all zero for seq 1
  Hash hash{};       // SHA-256(encode_for_hash(*this))
};

// The canonical encoding that `hash` covers, unambiguous by construction (every variable-length
// field is length-prefixed, every integer fixed-width big-endian):
//   "vouch-audit-1" (13 bytes, a domain tag)
//   u64 seq | i64 time (microseconds since the Unix epoch, UTC)
//   str actor_kind | str actor | str action | str target | str source | str outcome
//   u32 number of detail entries | for each, in key order: str key | str value
//   prev_hash (32 bytes)
// where str = u32 length || bytes and the kinds, action and outcome are their stable names.
std::string encode_for_hash(const AuditRecord& record);

// The last record: seq 0 and an all-zero hash for an empty log.
struct AuditHead {
  std::uint64_t seq = 0;
  Hash hash{};
};

// The result of verify(): ok, or the first record at which the chain breaks.
struct VerifyReport {
  std::uint64_t records_checked = 0;  // records whose hash and link were checked and good
  AuditHead last_good;                // the last good record (seq 0 if none)
  // Set when the chain breaks: seq is the first bad position (a record that does not decode,
  // whose hash does not recompute, whose prev_hash does not link, that sits under another
  // seq's key, or that is missing), error says which (Code::kDataLoss, Reason::kHashMismatch).
  std::optional<std::uint64_t> bad_seq;
  std::optional<Error> error;

  bool ok() const { return !bad_seq.has_value(); }
};

struct AuditLogOptions {
  // Directory of the database (vouch-server: <storage dir>/audit). Required.
  std::filesystem::path path;

  // Create an empty log when `path` holds none. Default true. With false, a missing log is
  // kIo (vouch-server audit-verify: a mistyped directory must not pass as an empty log).
  bool create_if_missing = true;

  // Open read-only (no writes, no LOCK taken; append() fails with kFailedPrecondition).
  // Default false. For offline verification beside a running server.
  bool read_only = false;

  // fsync the write-ahead log before append() returns. Default true: an append that returned
  // survives power loss. false: it survives a crash of the process only; tests only.
  bool sync_writes = true;

  // Stamps AuditRecord::time; must outlive the log. nullptr (the default): the system clock.
  const Clock* clock = nullptr;

  // The most appends queued for the next group write (the group's size limit and the
  // backpressure bound, see Thread-safety above). Default 256; 0 is taken as 1.
  std::size_t max_pending = 256;

  // Tests only: called by the leader with no lock held just before it writes a group of
  // `count` records starting at `first_seq`. Must not call into the log.
  std::function<void(std::uint64_t first_seq, std::size_t count)> before_group_write;
};

// The most bytes of encoded records queued for one group write (the other backpressure bound;
// a single record is always let in).
inline constexpr std::size_t kMaxPendingBytes = 8u << 20;

// Counters since open, for tests and metrics.
struct AuditLogStats {
  std::uint64_t appends = 0;        // appends made durable
  std::uint64_t groups = 0;         // group writes that succeeded (one sync each)
  std::uint64_t largest_group = 0;  // the most records in one of them
};

class AuditLog {
 public:
  // The largest page read() returns.
  static constexpr int kMaxReadLimit = 1000;

  // Opens (or creates) the log and runs the open-time check above. Errors: kInvalidArgument
  // (empty path), kIo (cannot open, locked, missing with create_if_missing false),
  // kFailedPrecondition (a database that is not an audit log, or a newer format), kDataLoss
  // with Reason::kHashMismatch (the head and the last record disagree) or kInternal
  // (RocksDB reports corruption).
  static Result<std::unique_ptr<AuditLog>> open(const AuditLogOptions& options);

  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Assigns the next seq, stamps the time, chains to the previous record, and returns the
  // record once it and the new head are written atomically (durably, with sync_writes) in a
  // group with the appends queued beside it (see Thread-safety), and its log line is written.
  // Blocks while the queue is full. On an error nothing of this append is written and the head
  // is unchanged; a failed group write fails every append of the group and every append queued
  // behind it (their records chained onto the lost ones), and the next append continues from
  // the durable head. Errors: kInvalidArgument/kTooLarge (limits above), kFailedPrecondition
  // (read-only), kIo/kInternal (RocksDB).
  Result<AuditRecord> append(const AuditEvent& event);

  // Up to `limit` records with seq > after_seq, in seq order; fewer (or none) at the end of the
  // log. limit must be 1..kMaxReadLimit (else kInvalidArgument). Each record is decoded and its
  // own hash recomputed (kDataLoss/kHashMismatch if not); links are checked by verify().
  Result<std::vector<AuditRecord>> read(std::uint64_t after_seq, int limit) const;

  // Recomputes the chain over seqs from_seq..to_seq (to_seq 0: up to the head; from_seq 0 is
  // taken as 1; to_seq beyond the head is the head). Record from_seq is linked to the stored
  // record from_seq - 1 (to zeros when from_seq is 1). When the range reaches the head, the
  // head must match the last record. An empty range (from_seq past to_seq) is a good report
  // with nothing checked.
  // An error Result only for I/O; a broken chain is a report with bad_seq set.
  Result<VerifyReport> verify(std::uint64_t from_seq = 1, std::uint64_t to_seq = 0) const;

  // The last durable record's seq and hash (appends still queued or being written are not
  // in it).
  AuditHead head() const;

  AuditLogStats stats() const;

 private:
  struct Pending;  // one queued append (audit_log.cc)

  AuditLog(std::unique_ptr<rocksdb::DB> db, const AuditLogOptions& options, AuditHead head);
  // The leader's part: writes `group` (taken from queued_) with mu_ released; called and
  // returns with `lock` held.
  void write_group(std::unique_lock<std::mutex>& lock, std::vector<Pending>& group);

  std::unique_ptr<rocksdb::DB> db_;
  const Clock& clock_;
  const bool sync_writes_;
  const bool read_only_;
  const std::size_t max_pending_;
  const std::function<void(std::uint64_t, std::size_t)> before_group_write_;
  mutable std::mutex mu_;  // guards everything below
  std::condition_variable done_cv_;  // a group write ended (appends waiting for theirs)
  std::condition_variable room_cv_;  // the queue was emptied (appends waiting for room)
  AuditHead head_;  // the last durable record
  AuditHead tail_;  // the last record assigned (queued or durable); head_ when none queued
  std::vector<Pending> queued_;  // in seq order, tail_ is the last one's
  std::size_t queued_bytes_ = 0;
  bool writing_ = false;  // a leader is writing a group
  AuditLogStats stats_;
};

}  // namespace vouch::server::audit
