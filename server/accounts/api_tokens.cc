#include "server/accounts/api_tokens.h"

#include <algorithm>
#include <array>

#include "common/encoding.h"
#include "keys/crypto.h"

namespace vouch::server::accounts {
namespace {

constexpr std::string_view kBase32 = "abcdefghijklmnopqrstuvwxyz234567";

// 10 bytes -> 16 characters (no padding needed: 80 bits = 16 x 5).
std::string base32_10(const std::array<std::uint8_t, 10>& in) {
  std::string out;
  std::uint64_t acc = 0;
  int bits = 0;
  for (std::uint8_t b : in) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push_back(kBase32[(acc >> bits) & 31]);
    }
  }
  return out;
}

Error bad_token() {
  return make_error(Code::kUnauthenticated, Reason::kBadCredentials, "not a valid API token");
}

}  // namespace

Result<NewApiToken> generate_api_token() {
  std::array<std::uint8_t, 10> id_bytes{};
  VOUCH_RETURN_IF_ERROR(keys::random_bytes(id_bytes));
  keys::SecretBytes secret(kApiTokenSecretBytes);
  VOUCH_RETURN_IF_ERROR(keys::random_bytes({secret.data(), secret.size()}));
  NewApiToken out;
  out.id = base32_10(id_bytes);
  out.secret_sha256_hex = hash_api_token_secret(secret);
  std::string encoded = base64url_encode(secret.span());
  // Built in place, so that no temporary std::string holds the whole token; the encoding is
  // wiped, and out.text stays the only copy.
  for (std::string_view part : {kApiTokenPrefix, std::string_view(out.id), std::string_view("_"),
                                std::string_view(encoded)}) {
    for (char c : part) out.text.push_back(c);
  }
  std::fill(encoded.begin(), encoded.end(), '\0');
  return out;
}

bool looks_like_api_token(std::string_view text) {
  return text.size() == kApiTokenChars && text.starts_with(kApiTokenPrefix);
}

Result<ParsedApiToken> parse_api_token(std::string_view text) {
  if (!looks_like_api_token(text)) return bad_token();
  std::string_view id = text.substr(kApiTokenPrefix.size(), kApiTokenIdChars);
  if (id.find_first_not_of(kBase32) != std::string_view::npos) return bad_token();
  if (text[kApiTokenPrefix.size() + kApiTokenIdChars] != '_') return bad_token();
  auto secret = base64url_decode(text.substr(kApiTokenPrefix.size() + kApiTokenIdChars + 1));
  if (!secret || secret->size() != kApiTokenSecretBytes) return bad_token();
  ParsedApiToken out{std::string(id), keys::SecretBytes(*secret)};
  std::fill(secret->begin(), secret->end(), std::uint8_t{0});
  return out;
}

std::string hash_api_token_secret(const keys::SecretBytes& secret) {
  return keys::sha256_hex(secret.span());
}

bool check_api_token_secret(const keys::SecretBytes& secret, std::string_view stored_sha256_hex) {
  std::string computed = hash_api_token_secret(secret);
  return constant_time_equal(as_bytes(computed), as_bytes(stored_sha256_hex));
}

}  // namespace vouch::server::accounts
