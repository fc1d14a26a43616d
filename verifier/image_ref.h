#pragma once

// Image references as Kubernetes, containerd and docker write them, normalized exactly as the
// reference library they share does (github.com/distribution/reference: ParseNormalizedNamed
// followed by TagNameOnly), and the GUN under which Notary/docker keep an image's trust data.
//
// Grammar (distribution/reference regexp.go):
//
//   reference        := name [ ":" tag ] [ "@" digest ]
//   name             := [ domain "/" ] remote-name
//   domain           := host [ ":" port ]
//   host             := domain-name | "[" ipv6 "]"
//   domain-name      := domain-component ( "." domain-component )*
//   domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
//   ipv6             := [a-fA-F0-9:]+
//   port             := [0-9]+
//   remote-name      := path-component ( "/" path-component )*
//   path-component   := [a-z0-9]+ ( separator [a-z0-9]+ )*
//   separator        := "." | "_" | "__" | "-"+
//   tag              := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
//   digest           := algorithm ":" hex
//   algorithm        := [A-Za-z][A-Za-z0-9]* ( [-_+.] [A-Za-z][A-Za-z0-9]* )*
//   hex              := [0-9a-fA-F]{32,}
//
// Normalization (normalize.go splitDockerDomain), on the text before any tag or digest:
//  - no "/" at all: a Docker Hub official image: "nginx" -> "docker.io/library/nginx";
//  - else the first component is the registry if it is "localhost", contains "." or ":", or
//    contains an upper-case letter ("Foo/bar" is registry "Foo"); "index.docker.io" becomes
//    "docker.io"; otherwise the registry is docker.io and the whole text is the path;
//  - on docker.io a one-component path gets "library/": "docker.io/nginx" ->
//    "docker.io/library/nginx";
//  - the repository path (before any ":") must be lower case;
//  - a reference with neither tag nor digest gets the tag "latest" (TagNameOnly).
// As in Go, a first component that is taken for a registry but is not a valid host (e.g.
// "a_b.com/x") makes the grammar read the whole name as a path: domain() is then empty and
// name() is "a_b.com/x".
//
// Digests: the grammar admits any algorithm; as go-digest, only sha256 (64 hex digits),
// sha384 (96) and sha512 (128), lower-case hex of exactly that length, are accepted
// (anything else: kUnsupportedAlgorithm or kMalformed). Notary targets list sha256 and
// sha512 hashes, so the verifier can compare sha256 and sha512 digests only; a sha384 digest
// parses but cannot be verified (see decide.h).
//
// Where vouch is stricter than the Go library: the whole normalized name (registry included)
// must not exceed 255 bytes (kTooLarge), because it is the GUN, and Notary's GUNs (the CN of
// the root certificate) are limited to 255 bytes. The Go library of Debian 12
// (docker/distribution) applies the limit to the whole name too; the newer
// distribution/reference only to the path.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace vouch::verifier {

// Longest accepted normalized name ("registry/path").
inline constexpr std::size_t kMaxNameLength = 255;
// Longest accepted input reference, digest and tag included (a bound on work, far above any
// valid reference: 255 + 1 + 128 + 1 + 7 + 128).
inline constexpr std::size_t kMaxReferenceLength = 1024;

enum class DigestAlgorithm { kSha256, kSha384, kSha512 };

std::string_view to_string(DigestAlgorithm algorithm);

// A parsed, normalized image reference. Value type.
struct ImageRef {
  // The registry, e.g. "docker.io", "registry.example.com:5000", "[::1]:5000". Empty only in
  // the corner case described above.
  std::string domain;
  // The repository path, e.g. "library/nginx".
  std::string path;
  // The tag: as given, or "latest" when the reference has neither tag nor digest. Empty for a
  // reference with a digest and no tag.
  std::string tag;
  // The digest as given ("sha256:<64 lowercase hex>"), empty if none.
  std::string digest;
  // The digest's algorithm and hex part; meaningful only when digest is not empty.
  DigestAlgorithm digest_algorithm = DigestAlgorithm::kSha256;
  std::string digest_hex;

  // "domain/path" ("docker.io/library/nginx"), or just path when domain is empty.
  std::string name() const;
  // The GUN of the image's trust data, as docker computes it: the normalized name.
  std::string gun() const { return name(); }
  // The normalized reference: name, then ":tag" if any, then "@digest" if any
  // ("docker.io/library/nginx:latest").
  std::string str() const;
  // What containerd pulls (ParseDockerRef): name@digest when there is a digest (the tag is
  // dropped), else name:tag.
  std::string pull_ref() const;
  // Docker's short form (FamiliarString): "nginx:latest", "myorg/app:1", "ghcr.io/a/b:c".
  std::string familiar() const;

  bool has_tag() const { return !tag.empty(); }
  bool has_digest() const { return !digest.empty(); }

  friend bool operator==(const ImageRef&, const ImageRef&) = default;
};

// Parses and normalizes `text` (see above). Errors, each with a message that names the
// problem and the input:
//   kMalformed             empty input; not a reference ("invalid reference format"); upper
//                          case in the repository path; a 64-hex-digit string (an image ID,
//                          not a name); a bad tag; a digest whose hex part has the wrong
//                          length or is not lower-case hex
//   kTooLarge              the normalized name exceeds kMaxNameLength, or the input
//                          kMaxReferenceLength
//   kUnsupportedAlgorithm  a well-formed digest of an algorithm other than sha256, sha384,
//                          sha512
Result<ImageRef> parse_image_ref(std::string_view text);

}  // namespace vouch::verifier
