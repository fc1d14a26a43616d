#pragma once

// The client's local metadata cache in Notary's layout (client/client.go
// NewFileCachedRepository, storage/filestore.go):
//
//   <trust_dir>/tuf/<gun>/metadata/root.json
//   <trust_dir>/tuf/<gun>/metadata/targets.json
//   <trust_dir>/tuf/<gun>/metadata/targets/releases.json     (a delegation: one directory
//                                                             level per '/' of its name)
//   <trust_dir>/tuf/<gun>/changelist/...                     (client/changelist.h, not here)
//
// The GUN becomes directories as well ("docker.io/library/alpine" -> three levels), exactly as
// Notary's filepath.FromSlash does, so a trust directory can be shared with the notary CLI and
// `docker trust` in both directions. Directories are created 0700 and files 0600, Notary's
// PrivExecPerms / PrivNoExecPerms.
//
// Path safety: a GUN or role name can never name a path outside <trust_dir>/tuf/. GUNs are
// checked by tuf::validate_gun (tuf/gun.h) and role names by tuf::is_valid_role_name, which
// already excludes empty, "." and ".." segments and every character but [-a-z0-9_/].

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/result.h"
#include "tuf/metadata_source.h"

namespace vouch::client {

// <trust_dir>/tuf/<gun>: the directory that holds a GUN's metadata cache and changelist.
// kBadGun if the GUN is invalid. Pure path arithmetic: nothing is read or created.
Result<std::filesystem::path> gun_dir(const std::filesystem::path& trust_dir,
                                      std::string_view gun);

// tuf::MetadataCache over <trust_dir>/tuf/<gun>/metadata/.
//
// store() is atomic per file: the bytes go to a temporary file in the target directory
// (".<name>.json.tmp.XXXXXX", which matches no "*.json" pattern, so Notary never lists it), are
// fsync'ed, renamed over <role>.json, and the directory is fsync'ed. A reader sees the old
// or the new file, never a mix; a crash leaves at most a stray temporary file, never a torn
// cache file. Missing directories are created (0700) on the first store; nothing is created
// by open() or load().
//
// load() reads at most max_length + 1 bytes: a longer file is kTooLarge; a missing file (or
// missing directory) is kNotFound; something that is not a regular file (a FIFO, a device, a
// directory) is kIo and is never opened for blocking reads. Cached files are untrusted input
// (tuf/metadata_source.h).
//
// Concurrent store() calls, from threads or processes, are safe: each writes its own
// temporary file and the last rename wins (every reader sees one complete file). The object
// holds no state besides its directory.
class DiskMetadataCache : public tuf::MetadataCache {
 public:
  // Binds the cache to one GUN. kBadGun if the GUN is invalid.
  static Result<DiskMetadataCache> open(const std::filesystem::path& trust_dir,
                                        std::string_view gun);

  // tuf::MetadataCache. Role names must be valid (tuf::is_valid_role_name), else kBadRole.
  // Errors of the filesystem are kIo and name the path.
  Result<std::string> load(std::string_view role, std::size_t max_length) override;
  Status store(std::string_view role, std::string_view bytes) override;

  // Removes this GUN's cached metadata (the metadata directory and everything in it), for
  // `delete`. The changelist and keys are the caller's business. Succeeds when there is
  // nothing to remove.
  Status remove_all();

  // <trust_dir>/tuf/<gun>/metadata
  const std::filesystem::path& dir() const { return dir_; }
  // Where `role` is (or would be) cached; kBadRole for an invalid role name.
  Result<std::filesystem::path> path_of(std::string_view role) const;

 private:
  explicit DiskMetadataCache(std::filesystem::path dir) : dir_(std::move(dir)) {}
  std::filesystem::path dir_;
};

}  // namespace vouch::client
