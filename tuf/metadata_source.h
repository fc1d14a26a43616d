#pragma once

// The two seams of the client update workflow (tuf/updater.h): where metadata comes from
// (MetadataSource: the trust server, over HTTP in the client) and where verified metadata is
// kept between runs (MetadataCache: tuf/<gun>/metadata/ on disk in the client). Pure
// interfaces; implementations live with their users (client/, verifier/) and, for tests, in
// tests/support/memory_source.h.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace vouch::tuf {

// Remote metadata of ONE repository (GUN); the GUN is bound when the source is made.
//
// Role names passed in are always valid role names (tuf::is_valid_role_name: "root",
// "timestamp", "snapshot", "targets", or a delegation such as "targets/releases"); callers in
// tuf/ never pass anything else. Implementations should nevertheless refuse other names
// (kBadRole) rather than build a URL or path from them.
//
// Implementations must be safe to call from one thread at a time; they need not be
// thread-safe.
class MetadataSource {
 public:
  virtual ~MetadataSource() = default;

  // Fetches the bytes of `role`:
  //   version == nullopt  -> the current file ("<role>.json" on a Notary server)
  //   version == N (>= 1) -> that version    ("<N>.<role>.json"; used for the root chain)
  // At most `max_length` bytes are accepted: a longer body is kTooLarge, and an
  // implementation must stop reading at max_length + 1 bytes rather than buffer the rest
  // (endless-data protection; TrustedSet checks the size again before parsing).
  //
  // Errors, by Reason (tuf/updater.h depends on these):
  //   kNotFound     the server has no such role or version (HTTP 404). For a versioned root
  //                 this ends the root chain walk (TUF 5.3.3).
  //   kUnavailable  the server could not be reached, timed out, or answered 5xx.
  //   kTooLarge     the body exceeds max_length.
  //   anything else is passed through to the caller unchanged.
  // The returned bytes are untrusted.
  virtual Result<std::string> fetch(std::string_view role, std::optional<std::int64_t> version,
                                    std::size_t max_length) = 0;

  // Fetches the file of `role` whose SHA-256 is `sha256_hex` (64 lowercase hex digits):
  // "<role>.<sha256_hex>.json" on a Notary server, which keeps every stored version
  // addressable so. The workflow fetches snapshot, targets and delegations this way (as
  // Notary's client does, ConsistentName), so that a repository changing between two requests
  // still yields one consistent set. Limits and errors as fetch(); kNotFound if no such file.
  virtual Result<std::string> fetch_by_checksum(std::string_view role, std::string_view sha256_hex,
                                                std::size_t max_length) = 0;
};

// A local store of the metadata that a previous update verified (Notary's client cache,
// <trust dir>/tuf/<gun>/metadata/<role>.json). One current copy per role; no versions.
//
// Everything read back is UNTRUSTED: the workflow verifies cached files again on every run
// and uses them only as the trust anchor (root), as rollback floors, or to skip a download
// when the bytes match the hashes a verified parent lists.
class MetadataCache {
 public:
  virtual ~MetadataCache() = default;

  // The cached bytes of `role` (a valid role name, see MetadataSource). kNotFound when
  // nothing is cached; kTooLarge when the file is longer than `max_length` (an
  // implementation must not read more than max_length + 1 bytes). Other errors (kIo) are
  // treated by the workflow like kNotFound, except for the root, where they are fatal.
  virtual Result<std::string> load(std::string_view role, std::size_t max_length) = 0;

  // Replaces the cached copy of `role` with `bytes`, atomically (a reader sees the old or
  // the new file, never a mix). Called only with verified bytes, in the order the workflow
  // verifies them (root versions first). A failure is logged by the workflow and does not
  // fail the update, as in Notary: the next run simply starts from older data.
  virtual Status store(std::string_view role, std::string_view bytes) = 0;
};

}  // namespace vouch::tuf
