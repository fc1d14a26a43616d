// common/utf8.h: the one strict UTF-8 validator (RFC 3629, Unicode table 3-7).

#include "common/utf8.h"

#include <doctest/doctest.h>

#include <string>

namespace vouch {
namespace {

std::size_t seq(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  return utf8_sequence(p, p + s.size());
}

TEST_CASE("valid_utf8 accepts well-formed text of every sequence length") {
  CHECK(valid_utf8(""));
  CHECK(valid_utf8("example.com/app"));
  CHECK(valid_utf8("\xc3\xbc"));              // U+00FC
  CHECK(valid_utf8("\xe2\x82\xac"));          // U+20AC
  CHECK(valid_utf8("\xef\xbf\xbd"));          // U+FFFD
  CHECK(valid_utf8("\xf0\x9f\x94\x91"));      // U+1F511
  CHECK(valid_utf8("\xf4\x8f\xbf\xbf"));      // U+10FFFF, the last code point
  CHECK(valid_utf8(std::string("a\0b", 3)));  // NUL is a code point (callers refuse it)
  CHECK(seq("a") == 1);
  CHECK(seq("\xc3\xbc") == 2);
  CHECK(seq("\xe2\x82\xac") == 3);
  CHECK(seq("\xf0\x9f\x94\x91") == 4);
}

TEST_CASE("valid_utf8 refuses overlongs, surrogates, out-of-range and truncated sequences") {
  CHECK_FALSE(valid_utf8("\xc0\xaf"));          // overlong '/', the classic path trick
  CHECK_FALSE(valid_utf8("\xc1\xbf"));          // overlong 2-byte
  CHECK_FALSE(valid_utf8("\xe0\x80\xaf"));      // overlong 3-byte
  CHECK_FALSE(valid_utf8("\xf0\x80\x80\xaf"));  // overlong 4-byte
  CHECK_FALSE(valid_utf8("\xed\xa0\x80"));      // U+D800, a surrogate
  CHECK_FALSE(valid_utf8("\xed\xbf\xbf"));      // U+DFFF
  CHECK_FALSE(valid_utf8("\xf4\x90\x80\x80"));  // U+110000
  CHECK_FALSE(valid_utf8("\xf5\x80\x80\x80"));
  CHECK_FALSE(valid_utf8("\xff"));
  CHECK_FALSE(valid_utf8("\x80"));              // a lone continuation byte
  CHECK_FALSE(valid_utf8("\xc3"));              // truncated at the end
  CHECK_FALSE(valid_utf8("\xe2\x82"));
  CHECK_FALSE(valid_utf8("\xf0\x9f\x94"));
  CHECK_FALSE(valid_utf8("\xe2\x28\xa1"));      // a continuation byte missing in the middle
  CHECK(seq("\xc3") == 0);
  CHECK(seq("\xed\xa0\x80") == 0);
}

}  // namespace
}  // namespace vouch
