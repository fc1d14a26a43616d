#include "server/accounts/passwords.h"

#include <botan/argon2.h>
#include <botan/system_rng.h>

#include <array>
#include <exception>

#include "common/encoding.h"
#include "keys/crypto.h"

namespace vouch::server::accounts {
namespace {

constexpr std::uint8_t kArgon2id = 2;  // Botan's family number for Argon2id

}  // namespace

Status check_password_rules(const keys::SecretString& password) {
  if (password.size() < kMinPasswordBytes) {
    return make_error(Code::kInvalidArgument, Reason::kMalformed,
                      "password must be at least 8 bytes long");
  }
  if (password.size() > kMaxPasswordBytes) {
    return make_error(Code::kInvalidArgument, Reason::kTooLarge,
                      "password must be at most 1024 bytes long");
  }
  return ok_status();
}

Result<std::string> hash_password(const keys::SecretString& password,
                                  const PasswordHashOptions& options) {
  try {
    Botan::System_RNG rng;
    std::string_view text = password.view();
    return Botan::argon2_generate_pwhash(text.data(), text.size(), rng, options.parallelism,
                                         options.memory_kib, options.iterations, kArgon2id);
  } catch (const std::exception& e) {
    return make_error(Reason::kInternal, std::string("argon2: ") + e.what());
  }
}

bool verify_password(const keys::SecretString& password, const std::string& phc) {
  if (password.size() > kMaxPasswordBytes) return false;
  try {
    std::string_view text = password.view();
    return Botan::argon2_check_pwhash(text.data(), text.size(), phc);
  } catch (const std::exception&) {
    return false;
  }
}

Result<std::string> make_dummy_password_hash(const PasswordHashOptions& options) {
  std::array<std::uint8_t, 24> random{};
  VOUCH_RETURN_IF_ERROR(keys::random_bytes(random));
  keys::SecretString unknowable(base64url_encode(random));
  return hash_password(unknowable, options);
}

}  // namespace vouch::server::accounts
