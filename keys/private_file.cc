#include "keys/private_file.h"

#include "keys/secret_file.h"

namespace vouch::keys {

Result<SecretBytes> read_private_file(const std::filesystem::path& path, std::string_view what,
                                      std::size_t max_bytes) {
  return read_secret_bytes(path, what, max_bytes, FileAccess::kOwnerOnly);
}

}  // namespace vouch::keys
