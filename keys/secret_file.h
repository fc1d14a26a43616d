#pragma once

// Reading a secret (a TLS private key, a password, a key file, a passphrase file) from a file
// straight into zeroizing memory, so that no unwiped copy of it is left in an ordinary
// std::string on the way. The one reader under read_secret_file (the daemons' TLS keys) and
// keys/private_file.h's read_private_file (the key store's owner-only files). Thread-safe:
// nothing is shared.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string_view>

#include "common/result.h"
#include "keys/secret.h"

namespace vouch::keys {

// Whether read_secret_bytes accepts a file that group or others can access.
enum class FileAccess : std::uint8_t {
  kAny,        // permission bits are not checked (e.g. a TLS key mounted from a Kubernetes Secret)
  kOwnerOnly,  // any group or other bit set: kInsecureFile, the message says the chmod to run
};

// Reads all of the regular file `path` into zeroizing memory. Errors: kNotFound (missing, or a
// path through a non-directory), kIo (not a regular file, e.g. a directory or a FIFO, which is
// never waited on; other OS errors with the strerror text), kInsecureFile (see FileAccess),
// kTooLarge (more than `max_bytes`; checked before and while reading, so a file that grows is
// refused too). Messages name the file as "<what> <path>" (just the path when `what` is empty)
// and never its contents. Retries EINTR; reads at most max_bytes + 1 bytes.
Result<SecretBytes> read_secret_bytes(const std::filesystem::path& path, std::string_view what,
                                      std::size_t max_bytes, FileAccess access);

// read_secret_bytes(path, "", max, FileAccess::kAny) as text (default bound 1 MiB).
Result<SecretString> read_secret_file(const std::filesystem::path& path,
                                      std::size_t max = std::size_t{1} << 20);

}  // namespace vouch::keys
