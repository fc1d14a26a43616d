// Image references (verifier/image_ref.h). The expected values come from the reference
// grammar and the test tables of the Go library that docker and containerd use
// (github.com/distribution/reference normalize_test.go and reference_test.go, and the Debian
// 12 copy in /usr/share/gocode/src/github.com/docker/distribution/reference), worked through
// ParseNormalizedNamed + TagNameOnly by hand; never from this implementation's output.

#include "verifier/image_ref.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace vouch::verifier {
namespace {

const std::string kF64(64, 'f');
const std::string kF128(128, 'f');
const std::string kRedis = "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c";
const std::string kBusybox = "86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa";
const std::string kHex64 = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a";

struct Valid {
  std::string input;
  std::string domain;
  std::string path;
  std::string tag;     // after TagNameOnly
  std::string digest;  // "" if none
};

const std::vector<Valid>& valid_cases() {
  static const std::vector<Valid> cases = {
      // Docker Hub official images: docker.io and library/ are added.
      {"nginx", "docker.io", "library/nginx", "latest", ""},
      {"nginx:1.25", "docker.io", "library/nginx", "1.25", ""},
      {"library/nginx", "docker.io", "library/nginx", "latest", ""},
      {"docker.io/nginx", "docker.io", "library/nginx", "latest", ""},
      {"docker.io/library/nginx:latest", "docker.io", "library/nginx", "latest", ""},
      {"ubuntu-12.04-base", "docker.io", "library/ubuntu-12.04-base", "latest", ""},
      {"test_com", "docker.io", "library/test_com", "latest", ""},
      // index.docker.io is the legacy name of docker.io.
      {"index.docker.io/library/debian", "docker.io", "library/debian", "latest", ""},
      {"index.docker.io/debian", "docker.io", "library/debian", "latest", ""},
      {"index.docker.io/docker/docker", "docker.io", "docker/docker", "latest", ""},
      // A first component without '.', ':' or upper case is a Hub namespace.
      {"docker/docker", "docker.io", "docker/docker", "latest", ""},
      {"fooo/bar", "docker.io", "fooo/bar", "latest", ""},
      {"library/foo/bar", "docker.io", "library/foo/bar", "latest", ""},
      {"store/foo/bar", "docker.io", "store/foo/bar", "latest", ""},
      {"test_com/foo", "docker.io", "test_com/foo", "latest", ""},
      {"foo/foo_bar.com:8080", "docker.io", "foo/foo_bar.com", "8080", ""},
      {"docker---rules/docker", "docker.io", "docker---rules/docker", "latest", ""},
      {"dock__er/docker", "docker.io", "dock__er/docker", "latest", ""},
      {"d/docker", "docker.io", "d/docker", "latest", ""},
      {"jess/t", "docker.io", "jess/t", "latest", ""},
      // Registries: a '.' or ':' in the first component, or "localhost"; no library/ there.
      {"127.0.0.1:5000/docker/docker", "127.0.0.1:5000", "docker/docker", "latest", ""},
      {"127.0.0.1:5000/debian", "127.0.0.1:5000", "debian", "latest", ""},
      {"192.168.1.1/repo", "192.168.1.1", "repo", "latest", ""},
      {"192.168.1.1:5000/repo:5050", "192.168.1.1:5000", "repo", "5050", ""},
      {"localhost/foo", "localhost", "foo", "latest", ""},
      {"localhost:5000/foo:bar", "localhost:5000", "foo", "bar", ""},
      {"test:5000/repo", "test:5000", "repo", "latest", ""},
      {"test-com:8080/foo", "test-com:8080", "foo", "latest", ""},
      {"example.com:8000/privatebasee", "example.com:8000", "privatebasee", "latest", ""},
      {"sub-dom1.foo.com/bar/baz/quux:some-long-tag", "sub-dom1.foo.com", "bar/baz/quux",
       "some-long-tag", ""},
      {"b.gcr.io/test.example.com/my-app:test.example.com", "b.gcr.io", "test.example.com/my-app",
       "test.example.com", ""},
      {"xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com", "myimage", "xn--n3h.com", ""},
      // IPv6 registries in brackets.
      {"[2001:db8::1]/repo", "[2001:db8::1]", "repo", "latest", ""},
      {"[2001:db8::1]:5000/repo:tag", "[2001:db8::1]:5000", "repo", "tag", ""},
      {"[::1]:5000/repo", "[::1]:5000", "repo", "latest", ""},
      {"[fc00:1:2:3:4:5:6:7]:5000/library/debian", "[fc00:1:2:3:4:5:6:7]:5000", "library/debian",
       "latest", ""},
      // An upper-case first component is a registry (newer distribution/reference).
      {"Foo/bar", "Foo", "bar", "latest", ""},
      {"DOCKER/docker", "DOCKER", "docker", "latest", ""},
      // Without '/', "host:port" is a name and a tag.
      {"localhost:5000", "docker.io", "library/localhost", "5000", ""},
      {"test.com:5000", "docker.io", "library/test.com", "5000", ""},
      {"foo_bar.com:8080", "docker.io", "library/foo_bar.com", "8080", ""},
      {"192.168.1.1", "docker.io", "library/192.168.1.1", "latest", ""},
      {"192.168.1.1:5000", "docker.io", "library/192.168.1.1", "5000", ""},
      // Tags may have upper case.
      {"lowercase:Uppercase", "docker.io", "library/lowercase", "Uppercase", ""},
      {"a:" + std::string(128, 'a'), "docker.io", "library/a", std::string(128, 'a'), ""},
      // 64 hex digits are a name once a registry is given; 63 are a name anyway.
      {"docker.io/" + kHex64, "docker.io", "library/" + kHex64, "latest", ""},
      {kRedis.substr(0, 63), "docker.io", "library/" + kRedis.substr(0, 63), "latest", ""},
      {"thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev", "docker.io",
       "library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev", "latest", ""},
      // Digests: no default tag; name:tag@digest keeps both.
      {"redis@sha256:" + kRedis, "docker.io", "library/redis", "", "sha256:" + kRedis},
      {"busybox:latest@sha256:" + kBusybox, "docker.io", "library/busybox", "latest",
       "sha256:" + kBusybox},
      {"test:5000/repo@sha256:" + kF64, "test:5000", "repo", "", "sha256:" + kF64},
      {"test:5000/repo:tag@sha256:" + kF64, "test:5000", "repo", "tag", "sha256:" + kF64},
      {"xn--7o8h.com/myimage:xn--7o8h.com@sha512:" + kF128, "xn--7o8h.com", "myimage",
       "xn--7o8h.com", "sha512:" + kF128},
      // A first component taken for a registry that is not a valid host name: the grammar
      // reads the whole name as a path (Go's anchoredNameRegexp does the same).
      {"a_b.com/x", "", "a_b.com/x", "latest", ""},
      // 255 characters of name is the limit.
      {"example.com/" + std::string(243, 'a'), "example.com", std::string(243, 'a'), "latest", ""},
  };
  return cases;
}

struct Invalid {
  std::string input;
  Reason reason;
};

const std::vector<Invalid>& invalid_cases() {
  static const std::vector<Invalid> cases = {
      {"", Reason::kMalformed},
      {"https://github.com/docker/docker", Reason::kMalformed},
      {"docker/Docker", Reason::kMalformed},
      {"docker.io/docker/Docker", Reason::kMalformed},
      {"Uppercase:tag", Reason::kMalformed},
      {"test:5000/Uppercase/lowercase:tag", Reason::kMalformed},
      {"localhost:5000/Foo", Reason::kMalformed},
      {"-docker", Reason::kMalformed},
      {"-docker/docker", Reason::kMalformed},
      {"-docker.io/docker/docker", Reason::kMalformed},
      {"docker-/docker", Reason::kMalformed},
      {"-docker-/docker", Reason::kMalformed},
      {"____/____", Reason::kMalformed},
      {"_docker/_docker", Reason::kMalformed},
      {"docker///docker", Reason::kMalformed},
      {"docker.io/docker///docker", Reason::kMalformed},
      {"dock..er/docker", Reason::kMalformed},
      {"dock_.er/docker", Reason::kMalformed},
      {"dock-.er/docker", Reason::kMalformed},
      {"docker/", Reason::kMalformed},
      {"aa/asdf$$^/aa", Reason::kMalformed},
      {kHex64, Reason::kMalformed},  // an image ID, not a name
      {"[fc00::1]", Reason::kMalformed},
      {"[fc00::1]:5000", Reason::kMalformed},
      {"fc00::1:5000/debian", Reason::kMalformed},
      {"[fe80::1%eth0]:5000/debian", Reason::kMalformed},
      {"[2001:db8:3:4::192.0.2.33]:5000/debian", Reason::kMalformed},
      {":justtag", Reason::kMalformed},
      {"@sha256:" + kF64, Reason::kMalformed},
      {"nginx:", Reason::kMalformed},
      {"nginx@", Reason::kMalformed},
      {"nginx:latest:extra", Reason::kMalformed},
      {"nginx:-foo", Reason::kMalformed},
      {"nginx:.foo", Reason::kMalformed},
      {"a:" + std::string(129, 'a'), Reason::kMalformed},
      // Digests: go-digest's checks after the grammar's.
      {"repo@sha256:ffffffffffffffffffffffffffffffffff", Reason::kMalformed},  // 34 digits
      {"repo@sha256:" + kF64.substr(0, 63), Reason::kMalformed},
      {"repo@sha256:" + std::string(64, 'F'), Reason::kMalformed},  // upper-case hex
      {"repo@sha256:" + kF64 + "@sha256:" + kF64, Reason::kMalformed},
      {"repo@sha256:abc", Reason::kMalformed},  // fewer than 32 digits: not a digest at all
      {"validname@invaliddigest:" + kF64, Reason::kUnsupportedAlgorithm},
      {"repo@md5:" + std::string(32, 'a'), Reason::kUnsupportedAlgorithm},
      // The normalized name is the GUN: at most 255 characters, registry included.
      {"example.com/" + std::string(244, 'a'), Reason::kTooLarge},
      {[] {
         std::string s;
         for (int i = 0; i < 127; ++i) s += "a/";
         return s + "a";
       }(),
       Reason::kTooLarge},
      {std::string(2000, 'a'), Reason::kTooLarge},
  };
  return cases;
}

TEST_CASE("valid references normalize as ParseNormalizedNamed + TagNameOnly") {
  CHECK(valid_cases().size() + invalid_cases().size() >= 50);
  for (const Valid& c : valid_cases()) {
    CAPTURE(c.input);
    auto ref = parse_image_ref(c.input);
    REQUIRE_MESSAGE(ref.ok(), ref.error().message);
    CHECK(ref->domain == c.domain);
    CHECK(ref->path == c.path);
    CHECK(ref->tag == c.tag);
    CHECK(ref->digest == c.digest);
    const std::string name = c.domain.empty() ? c.path : c.domain + "/" + c.path;
    CHECK(ref->name() == name);
    CHECK(ref->gun() == name);
    CHECK(ref->str() ==
          name + (c.tag.empty() ? "" : ":" + c.tag) + (c.digest.empty() ? "" : "@" + c.digest));
    // Normalizing is idempotent: the normalized string parses to the same reference.
    auto again = parse_image_ref(ref->str());
    REQUIRE_MESSAGE(again.ok(), again.error().message);
    CHECK(*again == *ref);
  }
}

TEST_CASE("invalid references are refused with a reason") {
  for (const Invalid& c : invalid_cases()) {
    CAPTURE(c.input);
    auto ref = parse_image_ref(c.input);
    REQUIRE_FALSE(ref.ok());
    CHECK_MESSAGE(ref.error().reason == c.reason, ref.error().message);
    CHECK_FALSE(ref.error().message.empty());
  }
}

TEST_CASE("digests: algorithm and hex part") {
  auto sha256 = parse_image_ref("redis@sha256:" + kRedis);
  REQUIRE(sha256.ok());
  CHECK(sha256->digest_algorithm == DigestAlgorithm::kSha256);
  CHECK(sha256->digest_hex == kRedis);
  CHECK_FALSE(sha256->has_tag());
  CHECK(sha256->has_digest());

  auto sha512 = parse_image_ref("a.io/x@sha512:" + kF128);
  REQUIRE(sha512.ok());
  CHECK(sha512->digest_algorithm == DigestAlgorithm::kSha512);
  CHECK(sha512->digest_hex == kF128);

  // sha384 parses (go-digest knows it); the verifier cannot compare it (decide.h).
  auto sha384 = parse_image_ref("a.io/x@sha384:" + std::string(96, 'a'));
  REQUIRE(sha384.ok());
  CHECK(sha384->digest_algorithm == DigestAlgorithm::kSha384);
  CHECK(to_string(sha384->digest_algorithm) == "sha384");
  CHECK_FALSE(parse_image_ref("a.io/x@sha384:" + kF64).ok());
}

TEST_CASE("the forms docker and containerd print") {
  auto nginx = parse_image_ref("nginx").value();
  CHECK(nginx.str() == "docker.io/library/nginx:latest");
  CHECK(nginx.familiar() == "nginx:latest");
  CHECK(nginx.pull_ref() == "docker.io/library/nginx:latest");

  auto both = parse_image_ref("busybox:latest@sha256:" + kBusybox).value();
  CHECK(both.familiar() == "busybox:latest@sha256:" + kBusybox);
  // ParseDockerRef drops the tag of name:tag@digest.
  CHECK(both.pull_ref() == "docker.io/library/busybox@sha256:" + kBusybox);

  CHECK(parse_image_ref("dmcgowan/myapp").value().familiar() == "dmcgowan/myapp:latest");
  CHECK(parse_image_ref("docker.io/library/foo/bar").value().familiar() ==
        "library/foo/bar:latest");
  CHECK(parse_image_ref("ghcr.io/a/b:c").value().familiar() == "ghcr.io/a/b:c");
  CHECK(parse_image_ref("localhost:5000/app").value().familiar() == "localhost:5000/app:latest");
}

}  // namespace
}  // namespace vouch::verifier
