// Credentials of the accounts service: Argon2id password hashes (PHC strings) and API tokens.

#include <doctest/doctest.h>

#include <set>
#include <string>

#include "common/encoding.h"
#include "keys/crypto.h"
#include "server/accounts/api_tokens.h"
#include "server/accounts/passwords.h"
#include "tests/support/check_macros.h"

using namespace vouch;
using namespace vouch::server::accounts;
using keys::SecretString;

namespace {
// Small costs keep the suite fast; production defaults are tested for their values only.
const PasswordHashOptions kCheap{64, 1, 1};
}  // namespace

TEST_CASE("passwords: rules are 8..1024 bytes") {
  CHECK_REASON(check_password_rules(SecretString("1234567")), Reason::kMalformed);
  CHECK(check_password_rules(SecretString("12345678")).ok());
  CHECK(check_password_rules(SecretString(std::string(1024, 'x'))).ok());
  auto big = check_password_rules(SecretString(std::string(1025, 'x')));
  CHECK_REASON(big, Reason::kTooLarge);
  CHECK(big.error().code == Code::kInvalidArgument);
  PasswordHashOptions defaults;
  CHECK(defaults.memory_kib == 19 * 1024);
  CHECK(defaults.iterations == 2);
  CHECK(defaults.parallelism == 1);
}

TEST_CASE("passwords: Argon2id PHC strings verify the right password only") {
  auto h = hash_password(SecretString("correct horse"), kCheap);
  REQUIRE_OK(h);
  CHECK(h->starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
  CHECK(verify_password(SecretString("correct horse"), *h));
  CHECK_FALSE(verify_password(SecretString("correct horsE"), *h));
  CHECK_FALSE(verify_password(SecretString(""), *h));
  // Salted: the same password hashes differently each time, and both verify.
  auto h2 = hash_password(SecretString("correct horse"), kCheap);
  REQUIRE_OK(h2);
  CHECK(*h != *h2);
  CHECK(verify_password(SecretString("correct horse"), *h2));
  // A hash made elsewhere (the reference argon2 CLI: `echo -n password | argon2 somesalt -id
  // -t 2 -m 16 -p 1 -l 32 -e`).
  const std::string reference =
      "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
  CHECK(verify_password(SecretString("password"), reference));
  CHECK_FALSE(verify_password(SecretString("passwore"), reference));
  // Garbage and over-long passwords are simply false, never an exception.
  CHECK_FALSE(verify_password(SecretString("password"), "not a phc string"));
  CHECK_FALSE(verify_password(SecretString("password"), "$argon2id$v=19$m=64,t=1,p=1$$"));
  CHECK_FALSE(verify_password(SecretString(std::string(1025, 'x')), *h));
}

TEST_CASE("passwords: the dummy hash verifies no password") {
  auto d = make_dummy_password_hash(kCheap);
  REQUIRE_OK(d);
  CHECK(d->starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
  CHECK_FALSE(verify_password(SecretString(""), *d));
  CHECK_FALSE(verify_password(SecretString("password"), *d));
}

TEST_CASE("api tokens: format, parse, hash and check") {
  auto t = generate_api_token();
  REQUIRE_OK(t);
  std::string_view text = t->text.view();
  CHECK(text.size() == kApiTokenChars);
  CHECK(text.starts_with("vouch_" + t->id + "_"));
  CHECK(t->id.size() == 16);
  CHECK(t->id.find_first_not_of("abcdefghijklmnopqrstuvwxyz234567") == std::string::npos);
  CHECK(looks_like_api_token(text));
  auto parsed = parse_api_token(text);
  REQUIRE_OK(parsed);
  CHECK(parsed->id == t->id);
  CHECK(parsed->secret.size() == kApiTokenSecretBytes);
  CHECK(t->secret_sha256_hex == keys::sha256_hex(parsed->secret.span()));
  CHECK(check_api_token_secret(parsed->secret, t->secret_sha256_hex));
  // One bit of the secret changed: refused.
  keys::SecretBytes other = parsed->secret.copy();
  other.data()[0] ^= 1;
  CHECK_FALSE(check_api_token_secret(other, t->secret_sha256_hex));
  CHECK_FALSE(check_api_token_secret(parsed->secret, ""));
  // Tokens are unique.
  std::set<std::string> ids;
  for (int i = 0; i < 50; ++i) ids.insert(generate_api_token()->id);
  CHECK(ids.size() == 50);
}

TEST_CASE("api tokens: anything else is bad credentials") {
  auto t = generate_api_token();
  REQUIRE_OK(t);
  std::string good(t->text.view());
  std::vector<std::string> bad = {
      "",
      "password123",
      good.substr(0, good.size() - 1),
      good + "A",
      "VOUCH_" + good.substr(6),
      good.substr(0, 6) + "ABCDEFGHIJKLMNOP" + good.substr(22),  // upper-case id
      good.substr(0, 22) + "-" + good.substr(23),                // wrong separator
      good.substr(0, 23) + std::string(43, '*'),                 // not base64url
  };
  for (const std::string& b : bad) {
    CAPTURE(b.size());
    auto p = parse_api_token(b);
    CHECK_REASON(p, Reason::kBadCredentials);
    CHECK(p.error().code == Code::kUnauthenticated);
  }
}
