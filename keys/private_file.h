#pragma once

// Reading a small secret file that only its owner may access: a key file of the trust
// directory's key store, a passphrase file. One home for the checks both need.

#include <cstddef>
#include <filesystem>
#include <string_view>

#include "common/result.h"
#include "keys/secret.h"

namespace vouch::keys {

// Reads all of `path` into zeroizing memory, refusing a file that is not a regular file
// (kIo), that group or others can access (kInsecureFile, the message says the chmod to run),
// or that is larger than `max_bytes` (kTooLarge; checked before and while reading, so a file
// that grows is refused too). A missing file is kNotFound, for the caller to reword; other
// OS errors are kIo with the strerror text. `what` names the file in messages ("key file",
// "passphrase file"). Retries EINTR; reads at most max_bytes + 1 bytes. Thread-safe (nothing
// is shared).
Result<SecretBytes> read_private_file(const std::filesystem::path& path, std::string_view what,
                                      std::size_t max_bytes);

}  // namespace vouch::keys
