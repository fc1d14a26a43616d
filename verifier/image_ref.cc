#include "verifier/image_ref.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "common/enum_names.h"

namespace vouch::verifier {
namespace {

constexpr std::string_view kDefaultDomain = "docker.io";
constexpr std::string_view kLegacyDefaultDomain = "index.docker.io";
constexpr std::string_view kOfficialRepoPrefix = "library/";
constexpr std::string_view kDefaultTag = "latest";
constexpr std::size_t kMaxTagLength = 128;

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alnum(char c) { return is_lower_alnum(c) || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool is_lower_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f'); }
bool is_word(char c) { return is_alnum(c) || c == '_'; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// path-component := [a-z0-9]+ ( separator [a-z0-9]+ )*, separator := "." | "_" | "__" | "-"+.
// A greedy scan decides it: separators and alphanumerics are disjoint, and every separator
// must be followed by an alphanumeric.
bool is_path_component(std::string_view s) {
  std::size_t i = 0;
  const std::size_t n = s.size();
  auto alnum_run = [&] {
    const std::size_t start = i;
    while (i < n && is_lower_alnum(s[i])) ++i;
    return i > start;
  };
  if (!alnum_run()) return false;
  while (i < n) {
    if (s[i] == '.') {
      ++i;
    } else if (s[i] == '_') {
      ++i;
      if (i < n && s[i] == '_') ++i;
    } else if (s[i] == '-') {
      while (i < n && s[i] == '-') ++i;
    } else {
      return false;
    }
    if (!alnum_run()) return false;
  }
  return true;
}

// remote-name := path-component ( "/" path-component )*
bool is_remote_name(std::string_view s) {
  while (true) {
    const std::size_t slash = s.find('/');
    if (!is_path_component(s.substr(0, slash))) return false;
    if (slash == std::string_view::npos) return true;
    s.remove_prefix(slash + 1);
  }
}

// domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
bool is_domain_component(std::string_view s) {
  if (s.empty() || !is_alnum(s.front()) || !is_alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return is_alnum(c) || c == '-'; });
}

// domain := ( domain-name | "[" [a-fA-F0-9:]+ "]" ) [ ":" [0-9]+ ]
bool is_domain_and_port(std::string_view s) {
  std::string_view port;
  if (!s.empty() && s.front() == '[') {
    const std::size_t close = s.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    const std::string_view inner = s.substr(1, close - 1);
    if (!std::all_of(inner.begin(), inner.end(), [](char c) { return is_hex(c) || c == ':'; })) {
      return false;
    }
    port = s.substr(close + 1);
  } else {
    const std::size_t colon = s.find(':');
    std::string_view host = s.substr(0, colon);
    while (true) {
      const std::size_t dot = host.find('.');
      if (!is_domain_component(host.substr(0, dot))) return false;
      if (dot == std::string_view::npos) break;
      host.remove_prefix(dot + 1);
    }
    port = colon == std::string_view::npos ? std::string_view() : s.substr(colon);
  }
  if (port.empty()) return true;
  if (port.front() != ':' || port.size() < 2) return false;
  return std::all_of(port.begin() + 1, port.end(), is_digit);
}

// tag := [\w][\w.-]{0,127}
bool is_tag(std::string_view s) {
  if (s.empty() || s.size() > kMaxTagLength || !is_word(s.front())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return is_word(c) || c == '.' || c == '-'; });
}

// digest := [A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)* ":" [[:xdigit:]]{32,}
bool is_digest_syntax(std::string_view s) {
  const std::size_t colon = s.find(':');
  if (colon == std::string_view::npos) return false;
  const std::string_view algorithm = s.substr(0, colon);
  const std::string_view hex = s.substr(colon + 1);
  auto is_letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  std::size_t i = 0;
  while (true) {
    if (i >= algorithm.size() || !is_letter(algorithm[i])) return false;
    ++i;
    while (i < algorithm.size() && is_alnum(algorithm[i])) ++i;
    if (i == algorithm.size()) break;
    const char sep = algorithm[i];
    if (sep != '-' && sep != '_' && sep != '+' && sep != '.') return false;
    ++i;
  }
  return hex.size() >= 32 && std::all_of(hex.begin(), hex.end(), is_hex);
}

struct Parts {
  std::string_view domain;
  std::string_view path;
  std::string_view tag;
  std::string_view digest;
};

// The anchored ReferenceRegexp: name [":" tag] ["@" digest], with the name split as
// anchoredNameRegexp splits it (a registry only if the first component is a valid domain,
// else the whole name is a path). Tag and digest characters exclude '/', ':' and '@', so the
// split below is the only one the regular expression can make.
std::optional<Parts> match_reference(std::string_view s) {
  Parts parts;
  std::string_view left = s;
  if (const std::size_t at = s.find('@'); at != std::string_view::npos) {
    parts.digest = s.substr(at + 1);
    left = s.substr(0, at);
    if (!is_digest_syntax(parts.digest)) return std::nullopt;
  }
  if (const std::size_t colon = left.rfind(':');
      colon != std::string_view::npos && left.find('/', colon) == std::string_view::npos) {
    parts.tag = left.substr(colon + 1);
    left = left.substr(0, colon);
    if (!is_tag(parts.tag)) return std::nullopt;
  }
  if (const std::size_t slash = left.find('/'); slash != std::string_view::npos &&
                                                is_domain_and_port(left.substr(0, slash)) &&
                                                is_remote_name(left.substr(slash + 1))) {
    parts.domain = left.substr(0, slash);
    parts.path = left.substr(slash + 1);
    return parts;
  }
  if (!is_remote_name(left)) return std::nullopt;
  parts.path = left;
  return parts;
}

Error invalid(std::string_view input, std::string_view why) {
  return make_error(Reason::kMalformed,
                    "invalid image reference \"" + std::string(input) + "\": " + std::string(why));
}

// go-digest Digest.Validate over a digest that matched the reference grammar.
Status check_digest(std::string_view input, std::string_view digest, DigestAlgorithm& algorithm,
                    std::string& hex_out) {
  const std::size_t colon = digest.find(':');
  const std::string_view name = digest.substr(0, colon);
  const std::string_view hex = digest.substr(colon + 1);
  std::size_t hex_length = 0;
  if (name == "sha256") {
    algorithm = DigestAlgorithm::kSha256;
    hex_length = 64;
  } else if (name == "sha384") {
    algorithm = DigestAlgorithm::kSha384;
    hex_length = 96;
  } else if (name == "sha512") {
    algorithm = DigestAlgorithm::kSha512;
    hex_length = 128;
  } else {
    return make_error(Reason::kUnsupportedAlgorithm,
                      "invalid image reference \"" + std::string(input) +
                          "\": unsupported digest algorithm \"" + std::string(name) +
                          "\" (sha256, sha384 and sha512 are supported)");
  }
  if (hex.size() != hex_length) {
    return invalid(input, "a " + std::string(name) + " digest has " + std::to_string(hex_length) +
                              " hex digits, not " + std::to_string(hex.size()));
  }
  if (!std::all_of(hex.begin(), hex.end(), is_lower_hex)) {
    return invalid(input, "the digest must be lower-case hex");
  }
  hex_out = std::string(hex);
  return {};
}

}  // namespace

constexpr EnumName<DigestAlgorithm> kAlgorithmNames[] = {
    {DigestAlgorithm::kSha256, "sha256"}, {DigestAlgorithm::kSha384, "sha384"},
    {DigestAlgorithm::kSha512, "sha512"}};
static_assert(lists_every_value(kAlgorithmNames, DigestAlgorithm::kSha512));

std::string_view to_string(DigestAlgorithm algorithm) {
  return name_of(kAlgorithmNames, algorithm);
}

std::string ImageRef::name() const { return domain.empty() ? path : domain + "/" + path; }

std::string ImageRef::str() const {
  std::string out = name();
  if (!tag.empty()) out += ":" + tag;
  if (!digest.empty()) out += "@" + digest;
  return out;
}

std::string ImageRef::pull_ref() const {
  return digest.empty() ? name() + ":" + tag : name() + "@" + digest;
}

std::string ImageRef::familiar() const {
  // FamiliarString: docker.io and an official image's "library/" are left out.
  std::string out;
  if (domain != kDefaultDomain) {
    out = name();
  } else if (path.starts_with(kOfficialRepoPrefix) &&
             path.find('/', kOfficialRepoPrefix.size()) == std::string::npos) {
    out = path.substr(kOfficialRepoPrefix.size());
  } else {
    out = path;
  }
  if (!tag.empty()) out += ":" + tag;
  if (!digest.empty()) out += "@" + digest;
  return out;
}

Result<ImageRef> parse_image_ref(std::string_view text) {
  if (text.empty()) return invalid(text, "empty reference");
  if (text.size() > kMaxReferenceLength) {
    return make_error(Reason::kTooLarge, "image reference of " + std::to_string(text.size()) +
                                             " bytes (at most " +
                                             std::to_string(kMaxReferenceLength) + ")");
  }
  // ParseNormalizedNamed: a bare 64-hex-digit string is an image ID, not a name.
  if (text.size() == 64 && std::all_of(text.begin(), text.end(), is_lower_hex)) {
    return invalid(text, "a 64-digit hexadecimal string is an image ID, not a repository name");
  }
  // splitDockerDomain.
  std::string domain;
  std::string remainder;
  if (const std::size_t slash = text.find('/'); slash == std::string_view::npos) {
    domain = kDefaultDomain;
    remainder = text;
  } else {
    const std::string_view first = text.substr(0, slash);
    if (first == kLegacyDefaultDomain) {
      domain = kDefaultDomain;
      remainder = text.substr(slash + 1);
    } else if (first == "localhost" || first.find_first_of(".:") != std::string_view::npos ||
               lower(first) != first) {
      domain = first;
      remainder = text.substr(slash + 1);
    } else {
      domain = kDefaultDomain;
      remainder = text;
    }
  }
  if (domain == kDefaultDomain && remainder.find('/') == std::string::npos) {
    remainder.insert(0, kOfficialRepoPrefix);
  }
  // The repository path (up to the first ':') must be lower case.
  const std::string_view remote = std::string_view(remainder).substr(0, remainder.find(':'));
  if (lower(remote) != remote) {
    return invalid(text, "repository name \"" + std::string(remote) + "\" must be lowercase");
  }

  // Parse(domain + "/" + remainder).
  const std::string full = domain + "/" + remainder;
  const auto parts = match_reference(full);
  if (!parts) {
    if (match_reference(lower(full))) return invalid(text, "repository name must be lowercase");
    return invalid(text, "invalid reference format");
  }
  ImageRef ref;
  ref.domain = std::string(parts->domain);
  ref.path = std::string(parts->path);
  if (const std::size_t length = ref.name().size(); length > kMaxNameLength) {
    return make_error(Reason::kTooLarge, "invalid image reference \"" + std::string(text) +
                                             "\": the repository name has " +
                                             std::to_string(length) + " characters (at most " +
                                             std::to_string(kMaxNameLength) + ")");
  }
  ref.tag = std::string(parts->tag);
  if (!parts->digest.empty()) {
    VOUCH_RETURN_IF_ERROR(check_digest(text, parts->digest, ref.digest_algorithm, ref.digest_hex));
    ref.digest = std::string(parts->digest);
  }
  // TagNameOnly.
  if (ref.tag.empty() && ref.digest.empty()) ref.tag = kDefaultTag;
  return ref;
}

}  // namespace vouch::verifier
