#pragma once

// Reading a secret (a TLS private key, a password) from a file straight into a SecretString,
// so that no unwiped copy of it is left in an ordinary std::string on the way. For the
// daemons' main.cc files (vouch-signer's TLS key, vouch-verifier's gRPC TLS key). Thread-safe:
// nothing is shared.

#include <cstddef>
#include <filesystem>

#include "common/result.h"
#include "keys/secret.h"

namespace vouch::keys {

// The whole regular file `path`, if it holds at most `max` bytes (default 1 MiB). Errors:
// kNotFound (missing), kIo (unreadable, not a regular file), kTooLarge; messages name the path
// and never the contents.
Result<SecretString> read_secret_file(const std::filesystem::path& path,
                                      std::size_t max = std::size_t{1} << 20);

}  // namespace vouch::keys
