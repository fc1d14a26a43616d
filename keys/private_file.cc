#include "keys/private_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include "common/fs.h"

namespace vouch::keys {

Result<SecretBytes> read_private_file(const std::filesystem::path& path, std::string_view what,
                                      std::size_t max_bytes) {
  const std::string named = std::string(what) + " " + path.string();
  const auto os_error = [&](std::string_view doing) {
    return make_error(Reason::kIo, std::string(doing) + " " + named + ": " + std::strerror(errno));
  };
  const auto too_large = [&] {
    return make_error(Reason::kTooLarge,
                      named + " is larger than " + std::to_string(max_bytes / 1024) + " KiB");
  };
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return make_error(Reason::kNotFound, named + " does not exist");
    return os_error("cannot open");
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return os_error("cannot stat");
  if (!S_ISREG(st.st_mode)) return make_error(Reason::kIo, named + " is not a regular file");
  if ((st.st_mode & 077) != 0) {
    return make_error(Reason::kInsecureFile, named +
                                                 " can be accessed by group or others; run: "
                                                 "chmod 600 " + path.string());
  }
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes) return too_large();
  SecretBytes buf(max_bytes + 1);
  std::size_t len = 0;
  for (;;) {
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

}  // namespace vouch::keys
