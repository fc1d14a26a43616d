#pragma once

// MetaStore: everything vouch-server keeps about TUF repositories, behind one interface.
//
// The server's services (publish, timestamp/snapshot generation, reads, changefeed) depend on
// this interface only, never on a backend, so that a shared SQL backend (PostgreSQL, for
// several stateless server replicas; DESIGN "Beyond one machine") is a new class and not a
// rewrite. Backends: MemoryStore (tests, development), RocksDbStore (one process) and PgStore
// (PostgreSQL, pg_store.h; library vouch_server_pg). One conformance suite
// (tests/unit/server/meta_store_conformance_test.cc) runs over every backend; a new backend is
// done when it passes that suite unchanged.
//
// Semantics follow Notary's MetaStore (notary:server/storage/interface.go; REFERENCE §1.5),
// with the deviations listed at the end of this comment.
//
// Model. A repository is named by its GUN. For each (gun, role) the store keeps every version
// ever written (no pruning) as an immutable StoredFile: the exact bytes, their SHA-256, and the
// time they were stored. The highest stored version of a role is its "current" version.
// Alongside, the store keeps a changefeed: a log of Change records, one per stored timestamp
// version and one per deletion of a GUN, with strictly increasing integer ids.
//
// Names. GUNs and role names are opaque byte strings: the store never interprets them, never
// builds a path from them, and no (gun, role) pair can alias another, whatever bytes they
// contain ('/', '.', NUL, "..", percent signs, ...). A name must be 1 to kMaxNameBytes bytes
// for writes (else kInvalidArgument / kBadGun or kBadRole); lookups with a name outside those
// bounds simply find nothing (kNotFound). Validating names against Notary's rules (role regex,
// GUN prefixes) is the HTTP layer's job, not the store's.
//
// Errors (Code / Reason), the same in every backend:
//   kNotFound           / kNotFound     lookup found nothing
//   kFailedPrecondition / kConflict     update_many: a version equals a stored one (another
//                                       writer won that version) or the batch repeats a
//                                       (role, version) pair; Notary's ErrOldVersion
//   kFailedPrecondition / kRollback     update_many: a version is lower than the current one;
//                                       also Notary's ErrOldVersion (HTTP 400 "VERSION")
//   kInvalidArgument    / kBadGun, kBadRole, kBadVersion, kMalformed
//                                       bad input (names, negative version, bytes == nullptr,
//                                       unparsable change id)
//   kResourceExhausted  / kTooLarge     a file larger than kMaxFileBytes
//   kDataLoss           / kInternal     a stored record is corrupt (detected while decoding)
//   kInternal           / kIo, kInternal
//                                       the backend failed (disk, database); the message is for
//                                       logs only and must not reach a peer
//   kUnavailable        / kUnavailable  the backend is temporarily unreachable (SQL backends)
// Tests assert on Code and Reason, never on message text.
//
// Thread-safety: every method of every backend may be called concurrently from any thread.
// Writes to one GUN are serialized by the store (update_many and delete_gun on the same GUN
// behave as if executed one at a time, in some order); writes to different GUNs may proceed in
// parallel. Reads never block on writes of other GUNs and see either all or none of a batch.
//
// Deviations from Notary, on purpose:
//   - get_checksum matches (gun, role, sha256); Notary's memory store ignores the role.
//   - delete_gun("a") deletes exactly GUN "a"; Notary's memory store also deleted "ab" and
//     "a/b" (prefix match on "gun.role" strings).
//   - get_changes with change_id "0" and negative records returns the newest changes (as
//     Notary's SQL store does; its memory store panics); change ids are 64-bit (Notary: 32).
//   - A change only becomes visible once every change with a smaller id is stored or has
//     failed, so a consumer that pages forward from the last id it saw never misses one
//     (Notary's SQL auto-increment ids can commit out of order).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"

namespace vouch::server {

// Longest GUN or role name a write accepts. Notary's SQL schema holds 255 characters; the
// HTTP layer may enforce less. Bounds the size of every storage key.
inline constexpr std::size_t kMaxNameBytes = 1024;

// Largest single file a write accepts (1 GiB). Far above what the HTTP layer admits (Notary's
// clients cap downloads at 100 MiB); exists so that no size in a stored record can overflow.
inline constexpr std::size_t kMaxFileBytes = std::size_t{1} << 30;

// get_changes: page size when `records` is 0 (Notary's DefaultPageSize), and the largest page
// returned; larger requests are clamped to it.
inline constexpr int kDefaultChangesPage = 100;
inline constexpr int kMaxChangesPage = 1000;

// One stored version of one role's metadata. Immutable once stored.
struct StoredFile {
  std::string gun;
  std::string role;
  std::int64_t version = 0;
  std::string sha256_hex;  // lowercase hex SHA-256 of *bytes, computed by the store
  TimePoint created;       // when the update_many that stored it ran (the store's Clock)
  std::shared_ptr<const std::string> bytes;  // never null in a returned StoredFile
};

// The current version of one role, without its bytes (see list_roles).
struct RoleVersion {
  std::string role;
  std::int64_t version = 0;
  std::string sha256_hex;
  TimePoint created;
};

// One file to store with update_many.
struct NewFile {
  std::string role;
  std::int64_t version = 0;  // >= 0
  // The exact bytes to store and serve; must not be null. The store keeps a reference (no
  // copy in MemoryStore) and computes their SHA-256 itself, so a stored checksum always
  // describes the stored bytes.
  std::shared_ptr<const std::string> bytes;
};

// One changefeed record (REFERENCE §1.1; Notary's storage.Change). The server encodes it as
// {"ID":"<id>","CreatedAt":...,"GUN":...,"Version":...,"SHA256":...,"Category":...}.
struct Change {
  enum class Category : std::uint8_t { kUpdate, kDeletion };

  std::int64_t id = 0;  // >= 1, strictly increasing in commit order; may have gaps
  TimePoint created;
  std::string gun;
  std::int64_t version = 0;  // kUpdate: the timestamp's version; kDeletion: 0
  std::string sha256_hex;    // kUpdate: SHA-256 of the timestamp's bytes; kDeletion: empty
  Category category = Category::kUpdate;

  friend bool operator==(const Change&, const Change&) = default;
};

// "update" or "deletion", as Notary writes Category.
std::string_view to_string(Change::Category category);

class MetaStore {
 public:
  virtual ~MetaStore();

  // Stores every file of `files` for `gun`, atomically: afterwards either all of them are
  // stored or (on any error) none is, and no change record was added.
  //
  // Versions. Every file's version must be strictly greater than the current version of its
  // role (any version is fine for a role not stored yet); a batch may hold several versions of
  // one role, in any order, but no (role, version) pair twice. Violations fail the whole batch
  // with kConflict (equal to the current version, or repeated in the batch) or kRollback
  // (lower than the current version). After success, each role's highest version in the batch
  // is its current version. Because a publish always includes a new timestamp whose version is
  // the stored one + 1, two publishers that read the same state race on that version and
  // exactly one of them wins (the store's check is the last guard; DESIGN "Publish" step 5).
  //
  // Changefeed. For each file whose role is "timestamp", one kUpdate change (gun, version,
  // sha256 of that file) is appended, in increasing version order, in the same atomic write.
  // Other roles add no change (Notary writes a change per timestamp update).
  //
  // Durability. When this returns OK the batch is durable as configured by the backend
  // (RocksDbStore: fsync'ed by default, surviving power loss) and visible to every reader.
  // An empty `files` is a no-op that returns OK.
  //
  // Errors: kBadGun / kBadRole / kBadVersion / kMalformed (bytes == nullptr) / kTooLarge for bad
  // input, before anything is read; kConflict / kRollback as above; backend failures.
  virtual Status update_many(std::string_view gun, std::span<const NewFile> files) = 0;

  // The current (highest) version of (gun, role). kNotFound if the role has no version
  // (never stored, or its GUN was deleted).
  virtual Result<StoredFile> get_current(std::string_view gun, std::string_view role) = 0;

  // Version `version` of (gun, role). kNotFound if that version is not stored.
  virtual Result<StoredFile> get_version(std::string_view gun, std::string_view role,
                                         std::int64_t version) = 0;

  // The stored version of (gun, role) whose bytes have this SHA-256 (64 lowercase hex
  // characters; anything else finds nothing). If several versions have identical bytes, the
  // highest of them. kNotFound if none.
  virtual Result<StoredFile> get_checksum(std::string_view gun, std::string_view role,
                                          std::string_view sha256_hex) = 0;

  // The current version of every role stored for `gun`, sorted by role name (bytewise), without
  // their bytes. Empty if the GUN has nothing stored (not an error). For the server's read
  // cache and snapshot generation, which need to know what exists before reading it.
  virtual Result<std::vector<RoleVersion>> list_roles(std::string_view gun) = 0;

  // Removes every version of every role of `gun` and appends one kDeletion change, atomically
  // and durably like update_many. Afterwards the GUN is as if never written: versions start
  // over, and lookups return kNotFound. Earlier changefeed records of the GUN are kept.
  // Deleting a GUN that has nothing stored is a no-op: OK and no change record (Notary).
  // Errors: kBadGun for an invalid name; backend failures.
  virtual Status delete_gun(std::string_view gun) = 0;

  // A page of the changefeed, ordered oldest to newest (Notary's GetChanges):
  //   change_id  "" or "0": from the beginning; "-1" (any negative number): from the newest;
  //              otherwise a change id. The change with that id is never part of the result
  //              (the caller has seen it). It need not exist. Anything but an optionally
  //              signed decimal integer is kInvalidArgument / kMalformed (HTTP 400).
  //   records    > 0: up to that many changes with ids > change_id (or, from the newest when
  //              change_id < 0: the newest that many);
  //              < 0: up to -records changes with ids < change_id (the newest changes when
  //              change_id <= 0) - i.e. the page *before* change_id;
  //              0: kDefaultChangesPage. |records| is clamped to kMaxChangesPage.
  //   filter_gun non-empty: only changes of exactly that GUN ("" = all GUNs).
  // Only changes whose every predecessor is committed or failed are returned, so paging forward
  // from the last returned id never skips a change.
  virtual Result<std::vector<Change>> get_changes(std::string_view change_id, int records,
                                                  std::string_view filter_gun) = 0;

  // OK if the store can serve reads and writes (for /_notary_server/health, Notary's
  // "DB operational" check). Cheap; reads no metadata.
  virtual Status check_health() = 0;
};

}  // namespace vouch::server
