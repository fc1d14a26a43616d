#include "keys/secret_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "common/fs.h"

namespace vouch::keys {

Result<SecretBytes> read_secret_bytes(const std::filesystem::path& path, std::string_view what,
                                      std::size_t max_bytes, FileAccess access) {
  const std::string named = what.empty() ? path.string() : std::string(what) + " " + path.string();
  const auto os_error = [&](std::string_view doing) {
    return make_error(Reason::kIo, std::string(doing) + " " + named + ": " + std::strerror(errno));
  };
  const auto too_large = [&] {
    return make_error(Reason::kTooLarge,
                      named + " is larger than " + std::to_string(max_bytes) + " bytes");
  };
  // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below).
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd.valid()) {
    if (errno == ENOENT || errno == ENOTDIR) {
      return make_error(Reason::kNotFound, named + " does not exist");
    }
    return os_error("cannot open");
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return os_error("cannot stat");
  if (!S_ISREG(st.st_mode)) return make_error(Reason::kIo, named + " is not a regular file");
  if (access == FileAccess::kOwnerOnly && (st.st_mode & 077) != 0) {
    return make_error(Reason::kInsecureFile, named +
                                                 " can be accessed by group or others; run: "
                                                 "chmod 600 " + path.string());
  }
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes) return too_large();
  // Room for the file as stat saw it plus one byte, which tells a file that grew; grown (up to
  // max_bytes + 1) only if it did.
  SecretBytes buf(static_cast<std::size_t>(st.st_size) + 1);
  std::size_t len = 0;
  for (;;) {
    if (len == buf.size()) buf.resize(len + std::min(len, max_bytes - len) + 1);
    const ssize_t n = ::read(fd.get(), buf.data() + len, buf.size() - len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return os_error("cannot read");
    }
    if (n == 0) break;
    len += static_cast<std::size_t>(n);
    if (len > max_bytes) return too_large();
  }
  buf.resize(len);
  return buf;
}

Result<SecretString> read_secret_file(const std::filesystem::path& path, std::size_t max) {
  VOUCH_ASSIGN_OR_RETURN(SecretBytes bytes, read_secret_bytes(path, {}, max, FileAccess::kAny));
  return SecretString(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

}  // namespace vouch::keys
