#include "common/fs.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

namespace vouch {
namespace {

namespace fs = std::filesystem;

Error io_error(std::string_view what, const fs::path& path, int err) {
  return make_error(Reason::kIo,
                    std::string(what) + " " + path.string() + ": " + std::strerror(err));
}

}  // namespace

Result<std::string> read_file_bounded(const fs::path& path, std::size_t max) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    const int err = errno;
    return make_error(err == ENOENT || err == ENOTDIR ? Reason::kNotFound : Reason::kIo,
                      path.string() + ": " + std::strerror(err));
  }
  std::string out;
  Status status;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    status = make_error(Reason::kIo, path.string() + ": " + std::strerror(errno));
  } else if (!S_ISREG(st.st_mode)) {
    status = make_error(Reason::kIo, path.string() + " is not a regular file");
  } else {
    out.resize(max + 1);
    std::size_t used = 0;
    while (used < out.size()) {
      const ssize_t n = ::read(fd, out.data() + used, out.size() - used);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        status = make_error(Reason::kIo, path.string() + ": " + std::strerror(errno));
        break;
      }
      if (n == 0) break;
      used += static_cast<std::size_t>(n);
    }
    out.resize(used);
    if (status && used > max) {
      status = make_error(Reason::kTooLarge,
                          path.string() + " is larger than " + std::to_string(max) + " bytes");
    }
  }
  ::close(fd);
  if (!status) return std::move(status).error();
  return out;
}

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    (void)close();
    fd_ = other.release();
  }
  return *this;
}

int UniqueFd::release() { return std::exchange(fd_, -1); }

int UniqueFd::close() {
  if (fd_ < 0) return 0;
  return ::close(std::exchange(fd_, -1));
}

Status write_all(int fd, std::string_view data, const fs::path& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot write", path, errno);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return ok_status();
}

Result<std::string> read_all(int fd, std::size_t max_bytes) {
  std::string out;
  char buffer[64 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error(Reason::kIo, std::strerror(errno));
    }
    if (n == 0) return out;
    out.append(buffer, static_cast<std::size_t>(n));
    if (out.size() > max_bytes) {
      return make_error(Reason::kTooLarge, "more than " + std::to_string(max_bytes) + " bytes");
    }
  }
}

Status sync_dir(const fs::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return io_error("cannot open directory", dir, errno);
  if (::fsync(fd.get()) != 0) return io_error("cannot sync directory", dir, errno);
  return ok_status();
}

Result<fs::path> write_temp_file(const fs::path& dir, std::string_view prefix,
                                 std::string_view data) {
  std::string name = (dir / (std::string(prefix) + "XXXXXX")).string();
  // mkostemp: O_EXCL and mode 0600 (Notary's PrivNoExecPerms) whatever the umask allows more.
  UniqueFd fd(::mkostemp(name.data(), O_CLOEXEC));
  if (!fd.valid()) return io_error("cannot create a temporary file in", dir, errno);
  const fs::path tmp = name;
  Status status = write_all(fd.get(), data, tmp);
  if (status && ::fsync(fd.get()) != 0) status = io_error("cannot sync", tmp, errno);
  if (fd.close() != 0 && status) status = io_error("cannot close", tmp, errno);
  if (!status) {
    ::unlink(tmp.c_str());
    return std::move(status).error();
  }
  return tmp;
}

Status rename_file(const fs::path& from, const fs::path& to, Replace replace) {
  if (replace == Replace::kYes) {
    if (::rename(from.c_str(), to.c_str()) != 0) return io_error("cannot rename into", to, errno);
    return ok_status();
  }
  int rc = ::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE);
  if (rc != 0 && (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
    // A filesystem without RENAME_NOREPLACE: link() never replaces either.
    rc = ::link(from.c_str(), to.c_str());
    if (rc == 0) ::unlink(from.c_str());
  }
  if (rc == 0) return ok_status();
  if (errno == EEXIST) return make_error(Reason::kConflict, to.string() + " already exists");
  return io_error("cannot rename into", to, errno);
}

Status write_file_atomic(const fs::path& path, std::string_view data, Replace replace) {
  const fs::path dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  VOUCH_ASSIGN_OR_RETURN(const fs::path tmp,
                         write_temp_file(dir, "." + path.filename().string() + ".tmp", data));
  if (Status renamed = rename_file(tmp, path, replace); !renamed) {
    ::unlink(tmp.c_str());
    return renamed;
  }
  return sync_dir(dir);
}

}  // namespace vouch
