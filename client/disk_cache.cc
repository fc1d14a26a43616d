#include "client/disk_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <system_error>
#include <vector>

#include "common/fs.h"
#include "tuf/gun.h"
#include "tuf/metadata.h"

namespace vouch::client {
namespace {

namespace fs = std::filesystem;

// Notary const.go: PrivExecPerms (directories) and PrivNoExecPerms (files).
constexpr mode_t kDirMode = 0700;

Error io_error(const fs::path& path, std::string_view what, int err) {
  return make_error(Reason::kIo,
                    std::string(what) + " " + path.string() + ": " + std::strerror(err));
}

Status check_role(std::string_view role) {
  if (!tuf::is_valid_role_name(role)) {
    return make_error(Reason::kBadRole, "invalid role name \"" +
                                            std::string(role.substr(0, 256)) + "\"");
  }
  return ok_status();
}

// Creates `dir` and every missing parent with mode 0700 (Notary's os.MkdirAll(dir, 0700)).
Status make_dirs(const fs::path& dir) {
  std::vector<fs::path> missing;
  fs::path p = dir;
  for (;;) {
    struct stat st {};
    if (::stat(p.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode)) return make_error(Reason::kIo, p.string() + " is not a directory");
      break;
    }
    if (errno != ENOENT) return io_error(p, "cannot inspect", errno);
    missing.push_back(p);
    if (!p.has_relative_path() || p.parent_path() == p) break;
    p = p.parent_path();
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (::mkdir(it->c_str(), kDirMode) != 0 && errno != EEXIST) {
      return io_error(*it, "cannot create directory", errno);
    }
  }
  return ok_status();
}

}  // namespace

Result<fs::path> gun_dir(const fs::path& trust_dir, std::string_view gun) {
  VOUCH_RETURN_IF_ERROR(tuf::validate_gun(gun));
  // Notary: filepath.Join(baseDir, "tuf", filepath.FromSlash(gun)).
  return trust_dir / "tuf" / fs::path(std::string(gun));
}

Result<DiskMetadataCache> DiskMetadataCache::open(const fs::path& trust_dir, std::string_view gun) {
  VOUCH_ASSIGN_OR_RETURN(fs::path dir, gun_dir(trust_dir, gun));
  return DiskMetadataCache(dir / "metadata");
}

Result<fs::path> DiskMetadataCache::path_of(std::string_view role) const {
  VOUCH_RETURN_IF_ERROR(check_role(role));
  // "targets/releases" -> metadata/targets/releases.json (Notary's FilesystemStore.getPath).
  return dir_ / fs::path(std::string(role) + ".json");
}

Result<std::string> DiskMetadataCache::load(std::string_view role, std::size_t max_length) {
  VOUCH_ASSIGN_OR_RETURN(const fs::path path, path_of(role));
  // O_NONBLOCK: opening a FIFO planted in the cache must not hang; it is refused below.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (fd.get() < 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      return make_error(Reason::kNotFound, "no cached " + std::string(role) + " metadata");
    }
    return io_error(path, "cannot open", errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return io_error(path, "cannot inspect", errno);
  if (!S_ISREG(st.st_mode)) return make_error(Reason::kIo, path.string() + " is not a regular file");
  const auto too_large = [&] {
    return make_error(Reason::kTooLarge, path.string() + " is larger than " +
                                             std::to_string(max_length) + " bytes");
  };
  if (st.st_size > 0 && static_cast<std::uintmax_t>(st.st_size) > max_length) return too_large();
  // Read at most max_length + 1 bytes whatever fstat said: the file may grow meanwhile.
  const std::size_t cap =
      max_length == std::numeric_limits<std::size_t>::max() ? max_length : max_length + 1;
  std::string out;
  out.resize(std::min<std::size_t>(cap, static_cast<std::size_t>(st.st_size) + 1));
  std::size_t used = 0;
  for (;;) {
    if (used == out.size()) {
      if (out.size() >= cap) break;
      out.resize(std::min(cap, std::max<std::size_t>(out.size() * 2, 4096)));
    }
    const ssize_t n = ::read(fd.get(), out.data() + used, out.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error(path, "cannot read", errno);
    }
    if (n == 0) break;
    used += static_cast<std::size_t>(n);
  }
  if (used > max_length) return too_large();
  out.resize(used);
  return out;
}

Status DiskMetadataCache::store(std::string_view role, std::string_view bytes) {
  VOUCH_ASSIGN_OR_RETURN(const fs::path path, path_of(role));
  const fs::path parent = path.parent_path();
  VOUCH_RETURN_IF_ERROR(make_dirs(parent));

  // The temporary file is 0600 (Notary's PrivNoExecPerms), created with O_EXCL.
  return write_file_atomic(path, bytes);
}

Status DiskMetadataCache::remove_all() {
  std::error_code ec;
  fs::remove_all(dir_, ec);
  if (ec) {
    return make_error(Reason::kIo, "cannot remove " + dir_.string() + ": " + ec.message());
  }
  return ok_status();
}

}  // namespace vouch::client
