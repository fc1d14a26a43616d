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
// append() writes the record and the new head in one WriteBatch with sync = sync_writes, so
// after a crash the log holds exactly the appends that returned plus at most the one in flight.
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
// Thread-safety: every method may be called concurrently; appends are serialized (one mutex
// held across seq assignment, hashing and the synced write). One AuditLog per directory per
// process; RocksDB's LOCK makes a second read-write open fail (kIo). A read-only open (see
// AuditLogOptions::read_only) may run beside a writer and sees the log as of its open.

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
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

  // Assigns the next seq, stamps the time, chains to the head, writes the record and the new
  // head atomically (durably, with sync_writes), logs one line, and returns the record. On an
  // error nothing is written and the head is unchanged. Errors: kInvalidArgument/kTooLarge
  // (limits above), kFailedPrecondition (read-only), kIo/kInternal (RocksDB).
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

  // The last record's seq and hash.
  AuditHead head() const;

 private:
  AuditLog(std::unique_ptr<rocksdb::DB> db, const AuditLogOptions& options, AuditHead head);

  std::unique_ptr<rocksdb::DB> db_;
  const Clock& clock_;
  const bool sync_writes_;
  const bool read_only_;
  mutable std::mutex mu_;  // serializes appends; guards head_
  AuditHead head_;
};

}  // namespace vouch::server::audit
