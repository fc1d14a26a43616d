#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"
#include "tuf/json.h"
#include "tuf/swar.h"

namespace vouch::tuf::json {
namespace {

using namespace std::string_literals;
using namespace std::string_view_literals;

// The Reason a parse fails with, or kNone if it succeeds.
Reason reason_of(std::string_view text, const ParseLimits& limits = {}) {
  auto r = parse(text, limits);
  return r.ok() ? Reason::kNone : r.error().reason;
}

Value must_parse(std::string_view text, const ParseLimits& limits = {}) {
  auto r = parse(text, limits);
  if (!r.ok()) FAIL("parse failed: " << r.error().message);
  return std::move(r).value();
}

// parse + canonical.
std::string canon(std::string_view text) { return canonical(must_parse(text)); }

// Canonical input comes back byte for byte, and re-parses to an equal value.
void check_fixed_point(std::string_view text) {
  CAPTURE(text);
  const Value v = must_parse(text);
  const std::string out = canonical(v);
  CHECK(out == text);
  CHECK(must_parse(out) == v);
}

TEST_CASE("scalars and empty containers round trip") {
  for (std::string_view s : {"null"sv, "true"sv, "false"sv, "0"sv, "7"sv, "-1"sv, "\"\""sv,
                             "\"x\""sv, "[]"sv, "{}"sv, "[[],{}]"sv, "{\"a\":[]}"sv}) {
    check_fixed_point(s);
  }
  CHECK(must_parse("null").is_null());
  CHECK(must_parse("true").as_bool());
  CHECK_FALSE(must_parse("false").as_bool());
  CHECK(must_parse("42").as_int() == 42);
  CHECK(must_parse("\"hi\"").as_string() == "hi");
  CHECK(must_parse("[1]").as_array().size() == 1);
  CHECK(must_parse("{\"k\":1}").as_object().size() == 1);
}

TEST_CASE("canonical form: sorted keys, no whitespace") {
  CHECK(canon(R"( { "b" : 1 , "a" : [ 1 , { "d" : null , "c" : true } ] } )") ==
        R"({"a":[1,{"c":true,"d":null}],"b":1})");
  check_fixed_point(R"({"a":[1,{"c":true,"d":null}],"b":1})");
}

TEST_CASE("whitespace: the four JSON whitespace bytes are accepted anywhere between tokens") {
  CHECK(canon(" \t\r\n{ \t\r\n\"a\" \t\r\n: \t\r\n[ 1 ,\n2\r] \t\r\n} \t\r\n") == R"({"a":[1,2]})");
  CHECK(canon("\n\n5\n\n") == "5");
  // Other whitespace is not JSON whitespace.
  CHECK(reason_of("\f{}") == Reason::kMalformed);
  CHECK(reason_of("{\v}") == Reason::kMalformed);
  CHECK(reason_of("[\xC2\xA0" "1]") == Reason::kMalformed);  // U+00A0 NO-BREAK SPACE
  CHECK(reason_of("") == Reason::kMalformed);
  CHECK(reason_of(" \n ") == Reason::kMalformed);
}

TEST_CASE("keys sort bytewise, as unsigned bytes, including non-ASCII keys") {
  // Bytes: "A" 41, "a" 61, "ab" 61 62, "z" 7A, DEL 7F, "é" C3 A9, "ü" C3 BC, "€" E2 82 AC,
  // U+1F600 F0 9F 98 80. A signed-char comparison would put every non-ASCII key first.
  const std::string in =
      "{\"\xF0\x9F\x98\x80\":8,\"\xE2\x82\xAC\":7,\"\xC3\xBC\":6,\"\xC3\xA9\":5,\"\x7F\":4,"
      "\"z\":3,\"ab\":2,\"a\":1,\"A\":0}";
  const std::string want =
      "{\"A\":0,\"a\":1,\"ab\":2,\"z\":3,\"\x7F\":4,\"\xC3\xA9\":5,\"\xC3\xBC\":6,"
      "\"\xE2\x82\xAC\":7,\"\xF0\x9F\x98\x80\":8}";
  CHECK(canon(in) == want);
  check_fixed_point(want);
  // Escaped spellings of the same keys sort the same way.
  CHECK(canon(R"({"\u00fc":6,"\u00e9":5,"\ud83d\ude00":8,"z":3})") ==
        "{\"z\":3,\"\xC3\xA9\":5,\"\xC3\xBC\":6,\"\xF0\x9F\x98\x80\":8}");
  const Value v = must_parse(in);
  std::int64_t expected = 0;
  for (const auto& [k, val] : v.as_object()) CHECK(val.as_int() == expected++);
}

TEST_CASE("escaping: only quote and backslash are escaped, everything else is raw") {
  // \n, <, &, >, ü, U+2028, U+2029, \u0000, tab, DEL, \/ and a surrogate pair.
  const std::string out =
      canon(R"("\n<&>\u00fc\u2028\u2029\u0000\"\\\/\t\u007f\ud83d\ude00\b\f\r")");
  const std::string want =
      "\"\n<&>\xC3\xBC\xE2\x80\xA8\xE2\x80\xA9"s + '\0' +
      "\\\"\\\\/\t\x7F\xF0\x9F\x98\x80\b\f\r\""s;
  CHECK(out == want);
  // Raw non-ASCII input is the same as its escaped spelling.
  CHECK(canon("\"<&>\xC3\xBC\xE2\x80\xA8\"") == "\"<&>\xC3\xBC\xE2\x80\xA8\"");
  // The canonical output is not necessarily valid JSON input (raw control bytes), but the
  // encoder writes them anyway, as Notary does.
  CHECK(canonical(Value("a\x01z")) == "\"a\x01z\"");
  CHECK(canonical(Value("\"")) == R"("\"")");
  CHECK(canonical(Value("\\")) == R"("\\")");
  CHECK(canonical(Value("\\\"\\")) == R"("\\\"\\")");
  // Upper- and lower-case hex in \u escapes.
  CHECK(must_parse(R"("\u00FC\u00fc")").as_string() == "\xC3\xBC\xC3\xBC");
  // NUL is kept.
  CHECK(must_parse(R"("a\u0000b")").as_string() == "a\0b"s);
}

// "s" as a JSON string token, without escaping anything. (Built by appending: GCC 12 at -O3
// warns falsely (-Wrestrict) about `"\"" + std::string(...)`.)
std::string quoted(std::string_view s) {
  std::string r;
  r.reserve(s.size() + 2);
  r.push_back('"');
  r.append(s);
  r.push_back('"');
  return r;
}

TEST_CASE("long strings: a byte that needs attention at every position of a word") {
  // The scanners look at 8 bytes at a time; put each kind of byte at every offset.
  for (std::size_t len = 1; len <= 24; ++len) {
    for (std::size_t pos = 0; pos < len; ++pos) {
      CAPTURE(len);
      CAPTURE(pos);
      // len - 1 'a's with s inserted at pos.
      auto with = [&](std::string_view s) {
        std::string t(pos, 'a');
        t.append(s);
        t.append(len - 1 - pos, 'a');
        return t;
      };
      // Plain ASCII boundaries: space and DEL need nothing.
      CHECK(canon(quoted(with(" "))) == quoted(with(" ")));
      CHECK(canon(quoted(with("\x7F"))) == quoted(with("\x7F")));
      // Escapes in, raw bytes or minimal escapes out.
      CHECK(must_parse(quoted(with("\\n"))).as_string() == with("\n"));
      CHECK(canon(quoted(with("\\\""))) == quoted(with("\\\"")));
      CHECK(canon(quoted(with("\\\\"))) == quoted(with("\\\\")));
      CHECK(canonical(Value(with("\""))) == quoted(with("\\\"")));
      // Non-ASCII, valid and not.
      CHECK(canon(quoted(with("\xC3\xBC"))) == quoted(with("\xC3\xBC")));
      CHECK(reason_of(quoted(with("\xFF"))) == Reason::kInvalidUtf8);
      CHECK(reason_of(quoted(with("\xC3"))) == Reason::kInvalidUtf8);
      // Raw control bytes and a premature end.
      CHECK(reason_of(quoted(with("\x1F"))) == Reason::kMalformed);
      CHECK(reason_of(quoted(with("\n"))) == Reason::kMalformed);
      CHECK(reason_of(quoted(with("")).substr(0, pos + 1)) == Reason::kMalformed);
    }
  }
}

TEST_CASE("swar::has_byte: exactly whether some byte of the word is the one sought") {
  const unsigned char others[] = {0x00, 0x01, 0x21, 0x23, 0x5b, 0x5d, 0x7f, 0x80, 0xa2, 0xff};
  for (std::size_t pos = 0; pos < 8; ++pos) {
    for (unsigned char other : others) {
      unsigned char word[8];
      for (unsigned char& b : word) b = other;
      CHECK(swar::has_byte(swar::load8(word), '"') == 0);
      word[pos] = '"';
      CHECK(swar::has_byte(swar::load8(word), '"') != 0);
    }
  }
}

TEST_CASE("sibling containers at the same depth do not share elements") {
  check_fixed_point(
      R"({"a":{"x":1,"y":{"p":[1,[2,3],{"q":4}]}},"b":{"z":2},"c":[[],[{}],[5,6]],"d":[{"k":1},{"k":2}]})");
  const Value v = must_parse(R"([{"a":1},{"b":2},[3],[4,5]])");
  REQUIRE(v.as_array().size() == 4);
  CHECK(v.as_array()[0].as_object().size() == 1);
  CHECK(v.as_array()[1].find("b")->as_int() == 2);
  CHECK(v.as_array()[3].as_array().size() == 2);
}

TEST_CASE("UTF-8 boundaries are accepted") {
  for (const char* s : {"\x7F", "\xC2\x80", "\xDF\xBF", "\xE0\xA0\x80", "\xED\x9F\xBF",
                        "\xEE\x80\x80", "\xEF\xBF\xBF", "\xEF\xBB\xBF" /* U+FEFF in a string */,
                        "\xF0\x90\x80\x80", "\xF4\x8F\xBF\xBF"}) {
    const std::string text = "\""s + s + "\"";
    CAPTURE(text);
    CHECK(must_parse(text).as_string() == s);
    check_fixed_point(text);
  }
  CHECK(must_parse(R"("\uffff\udbff\udfff\ud800\udc00")").as_string() ==
        "\xEF\xBF\xBF\xF4\x8F\xBF\xBF\xF0\x90\x80\x80");
}

TEST_CASE("invalid UTF-8 is rejected wherever it appears") {
  for (const char* s : {
           "\x80",              // lone continuation byte
           "\xBF",              // lone continuation byte
           "\xC0\x80",          // overlong NUL
           "\xC1\xBF",          // overlong U+007F
           "\xE0\x80\x80",      // overlong NUL, 3 bytes
           "\xE0\x9F\xBF",      // overlong U+07FF
           "\xF0\x80\x80\x80",  // overlong NUL, 4 bytes
           "\xF0\x8F\xBF\xBF",  // overlong U+FFFF
           "\xED\xA0\x80",      // U+D800 encoded in UTF-8
           "\xED\xBF\xBF",      // U+DFFF encoded in UTF-8
           "\xED\xA0\xBD\xED\xB8\x80",  // CESU-8 surrogate pair
           "\xF4\x90\x80\x80",  // U+110000
           "\xF5\x80\x80\x80",  // lead byte beyond U+10FFFF
           "\xF8\x88\x80\x80\x80",  // 5-byte form
           "\xFE",
           "\xFF",
           "\xC3",              // truncated 2-byte sequence
           "\xE2\x82",          // truncated 3-byte sequence
           "\xF0\x9F\x98",      // truncated 4-byte sequence
           "\xC3\x28",          // continuation byte missing
           "\xE2\x28\xA1",
           "\xF0\x9F\x28\x80",
       }) {
    const std::string str = "\"a"s + s + "b\"";
    CAPTURE(str);
    CHECK(reason_of(str) == Reason::kInvalidUtf8);
    CHECK(reason_of("{\"k" + std::string(s) + "\":1}") == Reason::kInvalidUtf8);  // in a key
    CHECK(reason_of("[\"x\",\"\\n" + std::string(s) + "\"]") == Reason::kInvalidUtf8);  // after an escape
  }
  // Invalid UTF-8 outside a string is reported as such; valid non-ASCII there is a syntax error.
  CHECK(reason_of("[\xFF]") == Reason::kInvalidUtf8);
  CHECK(reason_of("\xC0\x80") == Reason::kInvalidUtf8);
  CHECK(reason_of("[\xC3\xBC]") == Reason::kMalformed);
  // Truncated at the end of the input, inside a string.
  CHECK(reason_of("\"\xE2\x82") == Reason::kInvalidUtf8);
}

TEST_CASE("unpaired surrogate escapes are invalid UTF-8") {
  for (std::string_view s : {R"("\ud800")"sv, R"("\udbff")"sv, R"("\udc00")"sv,
                             R"("\udfff")"sv, R"("\ud800x")"sv, R"("\ud800\u0041")"sv,
                             R"("\ud800\ud800")"sv, R"("\udc00\ud800")"sv, R"("a\ud83d")"sv,
                             R"("\ud83d\n")"sv, R"({"\ud800":1})"sv}) {
    CAPTURE(s);
    CHECK(reason_of(s) == Reason::kInvalidUtf8);
  }
}

TEST_CASE("malformed escapes and strings") {
  for (std::string_view s : {R"("\x41")"sv, R"("\a")"sv, R"("\U00fc")"sv, R"("\u12")"sv,
                             R"("\u12g4")"sv, R"("\uZZZZ")"sv, R"("\ud800\u12")"sv,
                             R"("\)"sv, R"("abc)"sv, R"(")"sv, R"('a')"sv, R"("\'")"sv}) {
    CAPTURE(s);
    CHECK(reason_of(s) == Reason::kMalformed);
  }
}

TEST_CASE("raw control characters inside strings are rejected") {
  for (int c = 0; c < 0x20; ++c) {
    std::string s = "\"a";
    s.push_back(static_cast<char>(c));
    s += "b\"";
    CAPTURE(c);
    CHECK(reason_of(s) == Reason::kMalformed);
    CHECK(reason_of("{\"" + s.substr(1) + ":1}") == Reason::kMalformed);
  }
  CHECK(must_parse("\"\x7F\"").as_string() == "\x7F");  // DEL is not a control character in JSON
}

TEST_CASE("integers: int64 exactly") {
  CHECK(must_parse("9223372036854775807").as_int() == INT64_MAX);
  CHECK(must_parse("-9223372036854775808").as_int() == INT64_MIN);
  check_fixed_point("9223372036854775807");
  check_fixed_point("-9223372036854775808");
  // 2^53 + 1 is not representable as a double; it is kept exactly.
  CHECK(must_parse("9007199254740993").as_int() == 9007199254740993);
  check_fixed_point("9007199254740993");
  check_fixed_point("[-1,0,1,10,-10,1234567890123]");
  CHECK(canonical(Value(std::int64_t{INT64_MIN})) == "-9223372036854775808");
  CHECK(canonical(Value(0)) == "0");
}

TEST_CASE("numbers that are not int64 integers are kNotInteger") {
  for (std::string_view s : {"1.0"sv, "1.5"sv, "0.0"sv, "-1.0"sv, "1e3"sv, "1E3"sv, "1e+3"sv,
                             "1e-3"sv, "0e0"sv, "1.0e1"sv, "-0"sv, "-0.0"sv, "-0e1"sv,
                             "9223372036854775808"sv /* 2^63 */, "-9223372036854775809"sv,
                             "18446744073709551616"sv, "99999999999999999999999999"sv,
                             "-99999999999999999999999999"sv, "[1,2.5]"sv,
                             R"({"version":1.0})"sv}) {
    CAPTURE(s);
    CHECK(reason_of(s) == Reason::kNotInteger);
  }
}

TEST_CASE("malformed numbers") {
  for (std::string_view s : {"01"sv, "00"sv, "-01"sv, "007"sv, "[01]"sv, "01.5"sv, "-"sv,
                             "-a"sv, "+1"sv, ".5"sv, "1."sv, "1.e3"sv, "1e"sv, "1e+"sv,
                             "[1e]"sv, "[0x10]"sv, "- 1"sv, "[1 2]"sv}) {
    CAPTURE(s);
    CHECK(reason_of(s) == Reason::kMalformed);
  }
}

TEST_CASE("NaN, Infinity and other non-JSON literals are malformed") {
  for (std::string_view s : {"NaN"sv, "nan"sv, "Infinity"sv, "-Infinity"sv, "[NaN]"sv,
                             R"({"a":Infinity})"sv, "True"sv, "nul"sv, "tru"sv, "fals"sv,
                             "undefined"sv, "[nulL]"sv}) {
    CAPTURE(s);
    CHECK(reason_of(s) == Reason::kMalformed);
  }
}

TEST_CASE("comments and trailing commas are malformed") {
  for (std::string_view s : {"// c\n{}"sv, "/* c */ {}"sv, "{/* c */}"sv,
                             "[1, // c\n2]"sv, "{\"a\":1 # c\n}"sv, "[1,]"sv,
                             R"({"a":1,})"sv, "[,1]"sv, "[1,,2]"sv, "{,}"sv, "[,]"sv,
                             R"({"a":1,,"b":2})"sv, R"({"a" 1})"sv, R"({"a":})"sv,
                             R"({a:1})"sv, R"({1:1})"sv, R"({"a":1 "b":2})"sv, "["sv,
                             "{"sv, R"({"a")"sv, R"({"a":1)"sv, "[1"sv, "]"sv, "}"sv,
                             R"(["a":1])"sv}) {
    CAPTURE(s);
    CHECK(reason_of(s) == Reason::kMalformed);
  }
  // A comment after a complete document is trailing data.
  CHECK(reason_of("{} // c") == Reason::kTrailingData);
}

TEST_CASE("a byte order mark is rejected") {
  CHECK(reason_of("\xEF\xBB\xBF{}") == Reason::kMalformed);
  CHECK(reason_of("\xEF\xBB\xBF") == Reason::kMalformed);
  CHECK(reason_of("[\xEF\xBB\xBF]") == Reason::kMalformed);
  CHECK(reason_of("{}\xEF\xBB\xBF") == Reason::kTrailingData);
}

TEST_CASE("trailing data") {
  for (std::string_view s : {"{}{}"sv, "{} {}"sv, "1 2"sv, "[]]"sv, "{}}"sv, "null x"sv,
                             "\"a\"\"b\""sv, "truex"sv, "{}\n,"sv, "0 0"sv,
                             "0x10"sv /* "0" then "x10" */}) {
    CAPTURE(s);
    CHECK(reason_of(s) == Reason::kTrailingData);
  }
  // A NUL after the document is trailing data too, not a terminator.
  CHECK(reason_of("{}\0"sv) == Reason::kTrailingData);
}

TEST_CASE("duplicate keys are rejected at any depth") {
  for (std::string_view s : {
           R"({"a":1,"a":1})"sv,
           R"({"a":1,"b":2,"a":3})"sv,
           R"({"b":1,"a":2,"c":3,"b":4})"sv,
           R"({"a":1,"\u0061":2})"sv,  // same key, different spelling
           R"({"\u00fc":1,"ü":2})"sv,
           R"({"":1,"":2})"sv,
           R"({"signed":{"targets":{"x":{"hashes":{"sha256":"a","sha256":"b"}}}}})"sv,
           R"([1,[2,[3,{"ok":1,"deep":{"k":1,"k":2}}]]])"sv,
           R"({"a":[{"b":{"c":[{"d":1,"e":2,"d":3}]}}]})"sv,
       }) {
    CAPTURE(s);
    CHECK(reason_of(s) == Reason::kDuplicateKey);
  }
  // The same key in sibling objects is fine.
  CHECK(canon(R"({"x":{"a":1},"y":{"a":1}})") == R"({"x":{"a":1},"y":{"a":1}})");
  // Keys that differ only after a NUL are different keys.
  CHECK(must_parse(R"({"a\u0000b":1,"a\u0000c":2})").as_object().size() == 2);
}

TEST_CASE("depth limit") {
  const auto nested = [](std::size_t n) { return std::string(n, '[') + std::string(n, ']'); };
  CHECK(reason_of(nested(64)) == Reason::kNone);  // default max_depth = 64
  CHECK(reason_of(nested(65)) == Reason::kTooDeep);
  // No stack overflow on pathological input, closed or not.
  CHECK(reason_of(std::string(1'000'000, '[')) == Reason::kTooDeep);
  CHECK(reason_of(nested(1'000'000)) == Reason::kTooDeep);
  std::string objects;
  for (int i = 0; i < 100'000; ++i) objects += "{\"a\":";
  CHECK(reason_of(objects) == Reason::kTooDeep);

  ParseLimits limits;
  limits.max_depth = 2;
  CHECK(reason_of(R"({"a":[1]})", limits) == Reason::kNone);
  CHECK(reason_of(R"({"a":[[1]]})", limits) == Reason::kTooDeep);
  CHECK(reason_of(R"([{"a":{}}])", limits) == Reason::kTooDeep);
  // Depth is nesting, not the number of containers.
  CHECK(reason_of(R"([[],[],{},[1],{"a":1}])", limits) == Reason::kNone);
  limits.max_depth = 0;
  CHECK(reason_of("1", limits) == Reason::kNone);
  CHECK(reason_of("[]", limits) == Reason::kTooDeep);
}

TEST_CASE("document size limit") {
  ParseLimits limits;
  limits.max_bytes = 10;
  CHECK(reason_of(R"(["abcdef"])", limits) == Reason::kNone);  // exactly 10 bytes
  CHECK(reason_of(R"(["abcdefg"])", limits) == Reason::kTooLarge);
  CHECK(reason_of("[1]        ", limits) == Reason::kTooLarge);  // whitespace counts
}

TEST_CASE("container size limit") {
  ParseLimits limits;
  limits.max_container_size = 3;
  CHECK(reason_of("[1,2,3]", limits) == Reason::kNone);
  CHECK(reason_of("[1,2,3,4]", limits) == Reason::kTooLarge);
  CHECK(reason_of(R"({"a":1,"b":2,"c":3})", limits) == Reason::kNone);
  CHECK(reason_of(R"({"a":1,"b":2,"c":3,"d":4})", limits) == Reason::kTooLarge);
  CHECK(reason_of(R"([[1,2,3],{"x":[1,2,3,4]}])", limits) == Reason::kTooLarge);
}

TEST_CASE("string size limit applies after unescaping, to values and keys") {
  ParseLimits limits;
  limits.max_string_bytes = 4;
  CHECK(reason_of(R"("abcd")", limits) == Reason::kNone);
  CHECK(reason_of(R"("abcde")", limits) == Reason::kTooLarge);
  CHECK(reason_of(R"("\u00fc\u00fc")", limits) == Reason::kNone);  // 12 bytes in, 4 out
  CHECK(reason_of(R"("\u00fc\u00fca")", limits) == Reason::kTooLarge);
  CHECK(reason_of(R"("\ud83d\ude00")", limits) == Reason::kNone);
  CHECK(reason_of(R"({"abcd":1})", limits) == Reason::kNone);
  CHECK(reason_of(R"({"abcde":1})", limits) == Reason::kTooLarge);
}

// A Notary-style targets.json with target names containing ü, <, &, >, " and \, written with
// whitespace and unsorted keys. The expected bytes were produced by the third-party
// implementation, docker/go canonical/json MarshalCanonical (Debian package
// golang-github-docker-go-dev 0.0~git20160303), with this program:
//
//   var v interface{}
//   json.Unmarshal(input, &v)             // github.com/docker/go/canonical/json
//   out, _ := json.MarshalCanonical(v)
//
// (run with GO111MODULE=off GOPATH=/usr/share/gocode go run gen.go < input.json).
constexpr std::string_view kGoldenInput = R"json({
  "signatures": [
    {
      "sig": "MEUCIQDm0x6Yb1Yh6mJwqX8y3k1W0p2v+Zx7c1N9uHfQvXo0VQIgR7r4T2c8zYk9Xq1m5l3Jb6d8w0s2a4f6h8j0k2m4o6Q=",
      "method": "ecdsa",
      "keyid": "6b6a3a6b1e5a4d6c0f4e8b2a9c7d5e3f1a0b2c4d6e8f0a1b3c5d7e9f1a2b3c4d"
    }
  ],
  "signed": {
    "version": 3,
    "targets": {
      "latest": {
        "length": 1024,
        "hashes": {
          "sha512": "z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==",
          "sha256": "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        }
      },
      "café/ü": {
        "hashes": {
          "sha256": "LCa0a2j/xo/5m0U8HTBBNBNCLXBkg7+g+YpeiGJm564="
        },
        "length": 7
      },
      "a<b&c>d": {
        "custom": {"note": "x < y & z", "n": -5, "ok": true, "none": null, "list": [1, "two", {"b": 1, "a": 2}]},
        "length": 0,
        "hashes": {"sha256": "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="}
      },
      "say \"hi\"": {"length": 2, "hashes": {"sha256": "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="}},
      "back\\slash": {"length": 3, "hashes": {"sha256": "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="}}
    },
    "expires": "2030-01-01T00:00:00Z",
    "delegations": {"roles": [], "keys": {}},
    "_type": "Targets"
  }
}
)json";

constexpr std::string_view kGoldenCanonical = R"json({"signatures":[{"keyid":"6b6a3a6b1e5a4d6c0f4e8b2a9c7d5e3f1a0b2c4d6e8f0a1b3c5d7e9f1a2b3c4d","method":"ecdsa","sig":"MEUCIQDm0x6Yb1Yh6mJwqX8y3k1W0p2v+Zx7c1N9uHfQvXo0VQIgR7r4T2c8zYk9Xq1m5l3Jb6d8w0s2a4f6h8j0k2m4o6Q="}],"signed":{"_type":"Targets","delegations":{"keys":{},"roles":[]},"expires":"2030-01-01T00:00:00Z","targets":{"a<b&c>d":{"custom":{"list":[1,"two",{"a":2,"b":1}],"n":-5,"none":null,"note":"x < y & z","ok":true},"hashes":{"sha256":"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="},"length":0},"back\\slash":{"hashes":{"sha256":"ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="},"length":3},"café/ü":{"hashes":{"sha256":"LCa0a2j/xo/5m0U8HTBBNBNCLXBkg7+g+YpeiGJm564="},"length":7},"latest":{"hashes":{"sha256":"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=","sha512":"z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg=="},"length":1024},"say \"hi\"":{"hashes":{"sha256":"n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="},"length":2}},"version":3}})json";

TEST_CASE("golden vector: Notary-style targets.json matches docker/go MarshalCanonical") {
  const Value v = must_parse(kGoldenInput);
  CHECK(canonical(v) == kGoldenCanonical);
  check_fixed_point(kGoldenCanonical);

  const Value* targets = v.find("signed") ? v.find("signed")->find("targets") : nullptr;
  REQUIRE(targets != nullptr);
  CHECK(targets->find("say \"hi\"") != nullptr);
  CHECK(targets->find("back\\slash") != nullptr);
  CHECK(targets->find("caf\xC3\xA9/\xC3\xBC") != nullptr);
  CHECK(targets->find("a<b&c>d")->find("custom")->find("n")->as_int() == -5);

  // canonical_append appends to what is there.
  std::string out = "prefix:";
  canonical_append(v, out);
  CHECK(out == "prefix:"s + std::string(kGoldenCanonical));
}

TEST_CASE("Object keeps members sorted and unique") {
  Object o;
  o.set("b", 2);
  o.set("\xC3\xBC", 3);
  o.set("a", 1);
  o.set("b", 20);  // replaces
  REQUIRE(o.size() == 3);
  CHECK(o.find("b")->as_int() == 20);
  CHECK(o.find("c") == nullptr);
  CHECK(canonical(Value(o)) == "{\"a\":1,\"b\":20,\"\xC3\xBC\":3}");
  CHECK(o.erase("a"));
  CHECK_FALSE(o.erase("a"));
  CHECK(o.size() == 2);
}

TEST_CASE("Object::assign_unsorted sorts and rejects duplicates") {
  Object o;
  std::vector<Member> m;
  m.emplace_back("z", 1);
  m.emplace_back("\xC3\xA9", 2);
  m.emplace_back("a", 3);
  CHECK(o.assign_unsorted(std::move(m)));
  CHECK(canonical(Value(o)) == "{\"a\":3,\"z\":1,\"\xC3\xA9\":2}");

  std::vector<Member> dup;
  dup.emplace_back("k", 1);
  dup.emplace_back("j", 2);
  dup.emplace_back("k", 3);
  CHECK_FALSE(o.assign_unsorted(std::move(dup)));
  CHECK(o.size() == 3);  // unchanged on failure
}

TEST_CASE("Value equality is deep") {
  const Value a = must_parse(R"({"x":[1,"two",{"y":null,"z":true}],"w":-3})");
  const Value b = must_parse(R"({"w":-3,"x":[1,"two",{"z":true,"y":null}]})");
  const Value c = must_parse(R"({"w":-3,"x":[1,"two",{"z":false,"y":null}]})");
  const Value d = must_parse(R"({"w":-3,"x":[1,"two",{"z":true}]})");
  CHECK(a == b);
  CHECK_FALSE(a == c);
  CHECK_FALSE(a == d);
  // Named values: doctest would otherwise move temporaries into its expression capture.
  const Value one(1);
  const Value zero(0);
  const Value yes(true);
  const Value null_value(nullptr);
  const Value default_value;
  const Value one_text("1");
  const Value empty_array{Array{}};
  const Value empty_object{Object{}};
  CHECK_FALSE(one == yes);
  CHECK_FALSE(zero == null_value);
  CHECK_FALSE(one_text == one);
  CHECK(default_value == null_value);
  CHECK_FALSE(empty_array == empty_object);
  CHECK(a.find("w")->as_int() == -3);
  CHECK(a.find("nope") == nullptr);
  CHECK(one.find("w") == nullptr);
}

TEST_CASE("to_string(Type)") {
  CHECK(to_string(Type::kNull) == "null");
  CHECK(to_string(Type::kBool) == "bool");
  CHECK(to_string(Type::kInt) == "int");
  CHECK(to_string(Type::kString) == "string");
  CHECK(to_string(Type::kArray) == "array");
  CHECK(to_string(Type::kObject) == "object");
  CHECK(must_parse("[]").type() == Type::kArray);
}

TEST_CASE("errors carry kInvalidArgument and name the byte offset") {
  auto r = parse(R"({"a":1,   "a":2})");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason == Reason::kDuplicateKey);
  CHECK(r.error().code == Code::kInvalidArgument);
  CHECK_FALSE(r.error().message.empty());
}

}  // namespace
}  // namespace vouch::tuf::json
