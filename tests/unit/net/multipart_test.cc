#include "common/net/multipart.h"

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace vouch::net {
namespace {

std::string read_data(const std::string& name) {
  std::ifstream in(std::string(VOUCH_NET_TEST_DATA) + "/" + name, std::ios::binary);
  REQUIRE(in);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// What Go's mime/multipart writer produces for one CreateFormFile part.
std::string go_part(std::string_view boundary, std::string_view filename, std::string_view data,
                    bool first) {
  std::string out = first ? "" : "\r\n";
  out += "--";
  out += boundary;
  out += "\r\nContent-Disposition: form-data; name=\"files\"; filename=\"";
  out += filename;
  out += "\"\r\nContent-Type: application/octet-stream\r\n\r\n";
  out += data;
  return out;
}

std::string go_close(std::string_view boundary) {
  return "\r\n--" + std::string(boundary) + "--\r\n";
}

constexpr std::string_view kB = "xyz123";

std::string one_part(std::string_view data = "hello") {
  return go_part(kB, "root", data, true) + go_close(kB);
}

Reason reason_of(std::string_view body, const MultipartLimits& limits = {},
                 std::string_view boundary = kB) {
  auto r = parse_multipart(body, boundary, limits);
  REQUIRE_FALSE(r.ok());
  return r.error().reason;
}

TEST_CASE("multipart: Notary's client body, made by Go's mime/multipart writer") {
  const std::string body = read_data("notary_publish.body");
  const std::string content_type = read_data("notary_publish.content_type");
  auto parts = parse_multipart_form(content_type, body);
  REQUIRE(parts.ok());
  REQUIRE(parts->size() == 5);
  const auto& p = *parts;
  for (const auto& part : p) {
    CHECK(part.name == "files");
    CHECK(part.has_filename);
    CHECK(part.headers.get("Content-Type") == "application/octet-stream");
  }
  CHECK(p[0].filename == "root");
  CHECK(p[0].body == R"({"signed":{"_type":"Root","version":2},"signatures":[]})");
  CHECK(p[1].filename == "targets");
  // CRLF and a boundary-like line inside the body stay body.
  CHECK(p[1].body ==
        "{\"signed\":{\"_type\":\"Targets\"},\r\n\"signatures\":[]}\r\n--not-a-boundary\r\n");
  // The delegation keeps its full name (Go's Part.FileName() would strip to "releases";
  // Notary's server reads the raw parameter, and so do we).
  CHECK(p[2].filename == "targets/releases");
  CHECK(p[3].filename == "snapshot");
  CHECK(p[3].body.empty());
  CHECK(p[4].filename == "odd\"name\\x");  // Go escapes " and \ with a backslash
  CHECK(p[4].body == std::string_view("binary\0bytes\xff", 13));
  // Bodies are views into the input: no copies.
  CHECK(p[0].body.data() >= body.data());
  CHECK(p[0].body.data() < body.data() + body.size());
}

TEST_CASE("multipart: boundary from Content-Type") {
  CHECK(multipart_boundary("multipart/form-data; boundary=abc").value() == "abc");
  CHECK(multipart_boundary("Multipart/Form-Data;BOUNDARY=abc").value() == "abc");
  CHECK(multipart_boundary("multipart/form-data; charset=utf-8; boundary=\"a b:c\"").value() ==
        "a b:c");
  CHECK(multipart_boundary("multipart/form-data; boundary=\"a\\\"b\"").ok() == false);  // '"' not a bchar
  CHECK(multipart_boundary("multipart/form-data; boundary=abc ").value() == "abc");  // OWS
  const std::string seventy(70, 'a');
  CHECK(multipart_boundary("multipart/form-data; boundary=" + seventy).value() == seventy);

  for (std::string_view bad : {
           "",
           "multipart/form-data",
           "multipart/mixed; boundary=abc",
           "text/plain; boundary=abc",
           "multipart/form-data; boundary=",
           "multipart/form-data; boundary=\"\"",
           "multipart/form-data; boundary=\"abc \"",  // ends in a space
           "multipart/form-data; boundary=abc; boundary=def",
           "multipart/form-data; boundary=\"abc",
           "multipart/form-data; boundary=a{b",
           "multipart/form-data; boundary=abc;",
           "multipart/form-data; =abc",
           "multipart/form-data boundary=abc",
       }) {
    CAPTURE(bad);
    auto r = multipart_boundary(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().reason == Reason::kMalformed);
  }
  CHECK_FALSE(multipart_boundary("multipart/form-data; boundary=" + std::string(71, 'a')).ok());
}

TEST_CASE("multipart: minimal forms") {
  const std::string simple = one_part();  // parts are views: keep the input alive
  auto parts = parse_multipart(simple, kB);
  REQUIRE(parts.ok());
  REQUIRE(parts->size() == 1);
  CHECK((*parts)[0].body == "hello");

  // Without the final CRLF after the close delimiter; with transport padding.
  std::string body = go_part(kB, "root", "x", true) + "\r\n--" + std::string(kB) + "--";
  CHECK(parse_multipart(body, kB).ok());
  body = "--xyz123 \t\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--xyz123-- \r\n";
  auto padded = parse_multipart(body, kB);
  REQUIRE(padded.ok());
  CHECK((*padded)[0].name == "a");
  CHECK_FALSE((*padded)[0].has_filename);

  // Duplicates are returned, not judged.
  body = go_part(kB, "root", "1", true) + go_part(kB, "root", "2", false) + go_close(kB);
  auto dup = parse_multipart(body, kB);
  REQUIRE(dup.ok());
  CHECK(dup->size() == 2);

  // An empty filename is present-but-empty.
  body = go_part(kB, "", "x", true) + go_close(kB);
  auto empty_name = parse_multipart(body, kB);
  REQUIRE(empty_name.ok());
  CHECK((*empty_name)[0].has_filename);
  CHECK((*empty_name)[0].filename.empty());

  // Header names are case-insensitive; Content-Transfer-Encoding binary is fine.
  body = "--xyz123\r\ncontent-disposition: FORM-DATA; NAME=\"f\"; FileName=\"t\"\r\n"
         "Content-Transfer-Encoding: binary\r\n\r\nv\r\n--xyz123--\r\n";
  auto ci = parse_multipart(body, kB);
  REQUIRE(ci.ok());
  CHECK((*ci)[0].name == "f");
  CHECK((*ci)[0].filename == "t");
}

TEST_CASE("multipart: a boundary-like string inside a body") {
  // "--xyz123" followed by a bchar is a longer boundary, i.e. data.
  std::string body = go_part(kB, "root", "a\r\n--xyz123X\r\nb", true) + go_close(kB);
  auto parts = parse_multipart(body, kB);
  REQUIRE(parts.ok());
  CHECK((*parts)[0].body == "a\r\n--xyz123X\r\nb");
  // Followed by spaces and then junk: malformed.
  body = go_part(kB, "root", "a\r\n--xyz123  junk\r\n", true) + go_close(kB);
  CHECK(reason_of(body) == Reason::kMalformed);
}

TEST_CASE("multipart: strictness") {
  const std::string good = one_part();
  const std::string cd = "Content-Disposition: form-data; name=\"files\"; filename=\"root\"\r\n";
  struct Case {
    const char* what;
    std::string body;
  };
  const Case cases[] = {
      {"empty", ""},
      {"preamble", "preamble\r\n" + good},
      {"no parts", "--xyz123--\r\n"},
      {"missing closing delimiter", go_part(kB, "root", "x", true)},
      {"closing delimiter cut", go_part(kB, "root", "x", true) + "\r\n--xyz123-"},
      {"epilogue", good + "epilogue"},
      {"two CRLFs after close", good + "\r\n"},
      {"junk after opening boundary", "--xyz123junk\r\n" + cd + "\r\nx" + go_close(kB)},
      {"LF only after boundary", "--xyz123\n" + cd + "\r\nx" + go_close(kB)},
      {"truncated header", "--xyz123\r\n" + cd},
      {"bare LF in headers", "--xyz123\r\nContent-Disposition: form-data; name=a\n\r\nx" + go_close(kB)},
      {"header without colon", "--xyz123\r\n" + cd + "Bogus\r\n\r\nx" + go_close(kB)},
      {"empty header name", "--xyz123\r\n" + cd + ": v\r\n\r\nx" + go_close(kB)},
      {"bad header name", "--xyz123\r\n" + cd + "A B: v\r\n\r\nx" + go_close(kB)},
      {"folded header", "--xyz123\r\n" + cd + " folded\r\n\r\nx" + go_close(kB)},
      {"control char in header", "--xyz123\r\n" + cd + "X: a\x01b\r\n\r\nx" + go_close(kB)},
      {"no Content-Disposition", "--xyz123\r\nContent-Type: a/b\r\n\r\nx" + go_close(kB)},
      {"two Content-Dispositions", "--xyz123\r\n" + cd + cd + "\r\nx" + go_close(kB)},
      {"not form-data", "--xyz123\r\nContent-Disposition: attachment; name=a\r\n\r\nx" + go_close(kB)},
      {"no name", "--xyz123\r\nContent-Disposition: form-data; filename=a\r\n\r\nx" + go_close(kB)},
      {"repeated filename", "--xyz123\r\nContent-Disposition: form-data; name=a; filename=b; filename=c\r\n\r\nx" + go_close(kB)},
      {"filename*", "--xyz123\r\nContent-Disposition: form-data; name=a; filename*=UTF-8''b\r\n\r\nx" + go_close(kB)},
      {"unterminated quote", "--xyz123\r\nContent-Disposition: form-data; name=\"a\r\n\r\nx" + go_close(kB)},
      {"base64 transfer encoding", "--xyz123\r\n" + cd + "Content-Transfer-Encoding: base64\r\n\r\neA==" + go_close(kB)},
      {"quoted-printable", "--xyz123\r\n" + cd + "Content-Transfer-Encoding: quoted-printable\r\n\r\nx" + go_close(kB)},
      {"other boundary", go_part("other", "root", "x", true) + go_close("other")},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    CHECK(reason_of(c.body) == Reason::kMalformed);
  }
}

TEST_CASE("multipart: limits") {
  MultipartLimits limits;
  limits.max_parts = 3;
  std::string three;
  for (int i = 0; i < 3; ++i) three += go_part(kB, "p" + std::to_string(i), "x", i == 0);
  CHECK(parse_multipart(three + go_close(kB), kB, limits).ok());
  std::string four = three + go_part(kB, "p3", "x", false) + go_close(kB);
  CHECK(reason_of(four, limits) == Reason::kTooLarge);

  limits = {};
  limits.max_total_bytes = 64;
  CHECK(reason_of(one_part(std::string(100, 'a')), limits) == Reason::kTooLarge);

  limits = {};
  limits.max_part_header_bytes = 128;
  std::string long_header = "--xyz123\r\nContent-Disposition: form-data; name=a\r\nX-Long: " +
                            std::string(200, 'v') + "\r\n\r\nx" + go_close(kB);
  CHECK(reason_of(long_header, limits) == Reason::kTooLarge);
  // Also when the header never ends.
  std::string endless = "--xyz123\r\nX: " + std::string(1000, 'v');
  CHECK(reason_of(endless, limits) == Reason::kTooLarge);

  limits = {};
  limits.max_part_headers = 2;
  std::string many = "--xyz123\r\nContent-Disposition: form-data; name=a\r\nA: 1\r\nB: 2\r\n\r\nx" +
                     go_close(kB);
  CHECK(reason_of(many, limits) == Reason::kTooLarge);
}

TEST_CASE("multipart: hostile inputs do not crash and are rejected") {
  const std::string good = one_part("payload");
  // Every truncation of a good body is rejected (no prefix of it is a complete form, except
  // the one that only drops the trailing CRLF).
  for (std::size_t n = 0; n < good.size(); ++n) {
    CAPTURE(n);
    auto r = parse_multipart(std::string_view(good).substr(0, n), kB);
    if (n == good.size() - 2) {
      CHECK(r.ok());
    } else {
      CHECK_FALSE(r.ok());
    }
  }
  // Many boundary-like prefixes inside a body: linear work, parsed as data.
  std::string noisy;
  for (int i = 0; i < 10000; ++i) noisy += "\r\n--xyz12";
  const std::string noisy_body = one_part(noisy);  // parts are views: keep the input alive
  auto r = parse_multipart(noisy_body, kB);
  REQUIRE(r.ok());
  CHECK((*r)[0].body == noisy);
  // NUL bytes and high bytes in the body are data.
  CHECK(parse_multipart(one_part(std::string("\0\xff\r\n", 4)), kB).ok());
  // An invalid boundary argument.
  CHECK(parse_multipart(good, "", {}).ok() == false);
  CHECK(parse_multipart(good, std::string(71, 'a'), {}).ok() == false);
}

}  // namespace
}  // namespace vouch::net
