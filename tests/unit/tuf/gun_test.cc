// tuf/gun.h: the one GUN rule, shared by the server's routes and the client's trust directory.

#include "tuf/gun.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/support/check_macros.h"

namespace vouch::tuf {
namespace {

TEST_CASE("validate_gun refuses what could alias, escape or is not text") {
  const std::vector<std::string> bad = {
      "",
      "/etc",
      "../x",
      "a/../../x",
      "a/..",
      "..",
      ".",
      "a/./b",
      "a//b",
      "a/",
      "a/b/",
      "a*b",
      "docker.io/*",
      std::string("a\0b", 3),
      "a\nb",
      "a\x7f",
      "bad\xff utf8",
      "\xc0\xaf",      // overlong '/'
      "\xed\xa0\x80",  // surrogate
      "\xf4\x90\x80\x80",  // above U+10FFFF
      std::string(256, 'a'),
  };
  for (const auto& gun : bad) {
    CAPTURE(gun);
    CHECK_REASON(validate_gun(gun), Reason::kBadGun);
  }
}

TEST_CASE("validate_gun accepts Notary's GUNs, UTF-8 included, up to the byte limit") {
  const std::vector<std::string> good = {
      "docker.io/library/alpine", "localhost:5000/team/app", "example.com/vouch/ecdsa",
      "a", "a..b/c.d", "x/...", "\xc3\xbc/app", std::string(kMaxGunBytes, 'a')};
  for (const auto& gun : good) {
    CAPTURE(gun);
    REQUIRE_OK(validate_gun(gun));
  }
}

TEST_CASE("validate_gun takes a smaller or larger byte limit (the server's max_gun_bytes)") {
  REQUIRE_OK(validate_gun("abcd", 4));
  CHECK_REASON(validate_gun("abcde", 4), Reason::kBadGun);
  REQUIRE_OK(validate_gun(std::string(300, 'a'), 300));
}

}  // namespace
}  // namespace vouch::tuf
