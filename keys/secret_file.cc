#include "keys/secret_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>

#include <botan/mem_ops.h>

#include "common/fs.h"

namespace vouch::keys {

Result<SecretString> read_secret_file(const std::filesystem::path& path, std::size_t max) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd.valid()) {
    const int err = errno;
    return make_error(err == ENOENT || err == ENOTDIR ? Reason::kNotFound : Reason::kIo,
                      path.string() + ": " + std::strerror(err));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return make_error(Reason::kIo, path.string() + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) return make_error(Reason::kIo, path.string() + " is not a regular file");
  SecretString out;
  std::array<char, 4096> buffer{};
  Status status;
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      status = make_error(Reason::kIo, path.string() + ": " + std::strerror(errno));
      break;
    }
    if (n == 0) break;
    if (out.size() + static_cast<std::size_t>(n) > max) {
      status = make_error(Reason::kTooLarge,
                          path.string() + " is larger than " + std::to_string(max) + " bytes");
      break;
    }
    for (ssize_t i = 0; i < n; ++i) out.push_back(buffer[static_cast<std::size_t>(i)]);
  }
  Botan::secure_scrub_memory(buffer.data(), buffer.size());
  if (!status) return std::move(status).error();
  return out;
}

}  // namespace vouch::keys
