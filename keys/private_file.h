#pragma once

// Reading a small secret file that only its owner may access: a key file of the trust
// directory's key store, a passphrase file. One home for the checks both need; the reading
// itself is keys/secret_file.h's.

#include <cstddef>
#include <filesystem>
#include <string_view>

#include "common/result.h"
#include "keys/secret.h"

namespace vouch::keys {

// read_secret_bytes (keys/secret_file.h) with FileAccess::kOwnerOnly: all of `path` in
// zeroizing memory, refusing a file that is not a regular file (kIo), that group or others can
// access (kInsecureFile, the message says the chmod to run), or that is larger than `max_bytes`
// (kTooLarge). A missing file is kNotFound, for the caller to reword. `what` names the file in
// messages ("key file", "passphrase file"). Thread-safe (nothing is shared).
Result<SecretBytes> read_private_file(const std::filesystem::path& path, std::string_view what,
                                      std::size_t max_bytes);

}  // namespace vouch::keys
