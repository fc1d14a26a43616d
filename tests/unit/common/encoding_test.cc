#include <doctest/doctest.h>

#include "common/encoding.h"

namespace vouch {
namespace {

Bytes bytes_of(std::string_view s) { return Bytes(s.begin(), s.end()); }

TEST_CASE("hex round trip and strict decoding") {
  const Bytes data = {0x00, 0x01, 0xab, 0xff};
  CHECK(hex_encode(data) == "0001abff");
  auto back = hex_decode("0001ABff");
  REQUIRE(back.ok());
  CHECK(*back == data);
  CHECK(hex_decode("abc").error().reason == Reason::kMalformed);
  CHECK(hex_decode("zz").error().reason == Reason::kMalformed);
  CHECK(hex_decode("").value().empty());
}

TEST_CASE("base64 RFC 4648 vectors, standard and url") {
  struct V { const char* in; const char* std; const char* url; };
  const V vectors[] = {{"", "", ""},           {"f", "Zg==", "Zg"},
                       {"fo", "Zm8=", "Zm8"},  {"foo", "Zm9v", "Zm9v"},
                       {"foob", "Zm9vYg==", "Zm9vYg"}, {"fooba", "Zm9vYmE=", "Zm9vYmE"},
                       {"foobar", "Zm9vYmFy", "Zm9vYmFy"}};
  for (const auto& v : vectors) {
    CHECK(base64_encode(bytes_of(v.in)) == v.std);
    CHECK(base64url_encode(bytes_of(v.in)) == v.url);
    CHECK(base64_decode(v.std).value() == bytes_of(v.in));
    CHECK(base64url_decode(v.url).value() == bytes_of(v.in));
    CHECK(base64url_decode(v.std).value() == bytes_of(v.in));  // url accepts padding
  }
  const Bytes high = {0xfb, 0xff, 0xfe};
  CHECK(base64_encode(high) == "+//+");
  CHECK(base64url_encode(high) == "-__-");
}

TEST_CASE("base64 rejects non-canonical and invalid input") {
  CHECK(base64_decode("Zg").error().reason == Reason::kMalformed);     // standard needs padding
  CHECK(base64_decode("Zh==").error().reason == Reason::kMalformed);   // non-zero trailing bits
  CHECK(base64_decode("Zm9v\n").error().reason == Reason::kMalformed);
  CHECK(base64_decode("Zm9=v").error().reason == Reason::kMalformed);
  CHECK(base64_decode("Z===").error().reason == Reason::kMalformed);
  CHECK(base64_decode("Zm8==").error().reason == Reason::kMalformed);
  CHECK(base64_decode("-__-").error().reason == Reason::kMalformed);   // url alphabet
  CHECK(base64url_decode("+//+").error().reason == Reason::kMalformed);
  CHECK(base64url_decode("Z").error().reason == Reason::kMalformed);
}

TEST_CASE("constant_time_equal") {
  CHECK(constant_time_equal(bytes_of("secret"), bytes_of("secret")));
  CHECK_FALSE(constant_time_equal(bytes_of("secret"), bytes_of("secreT")));
  CHECK_FALSE(constant_time_equal(bytes_of("secret"), bytes_of("secret!")));
  CHECK(constant_time_equal(ByteSpan{}, ByteSpan{}));
}

}  // namespace
}  // namespace vouch
