#pragma once

// The properties the verifier's parsers must have on any input, shared by the libFuzzer
// targets (fuzz_admission, fuzz_image_ref, fuzz_policy) and the unit test that replays their
// seed corpora through the same entry points (tests/unit/verifier/fuzz_corpus_test.cc).
//
// Each check_*() runs one parser's public entry point on untrusted bytes and reports whether
// the input was accepted and the first property that failed ("" when all held). A fuzz target
// traps on a violation; the unit test fails with its text. The properties:
//
//  image references (parse_image_ref):
//   - an error is kMalformed, kTooLarge or kUnsupportedAlgorithm;
//   - an accepted reference has a path, a tag or a digest, a lower-case path, a name within
//     kMaxNameLength, and a digest that is "<algorithm>:<hex of that algorithm's length>";
//   - normalization is a fixed point: str() parses to the same components and gives str()
//     back; pull_ref() and familiar() parse back to the same name, tag and digest (familiar()
//     only where Docker's short form is unambiguous: a Hub path whose first component looks
//     like a registry, "docker.io/a.b/c", reads back as registry "a.b", in Go too).
//  AdmissionReview (parse_admission_review, json_patch, encode_admission_review):
//   - an error is kMalformed, kTooLarge or kTooDeep;
//   - an accepted review has a uid; images only for workload kinds, and each within the limits,
//     in container-list order, with a pointer that, followed in request.object by an
//     independent JSON parser (Boost.JSON), leads to that very image string;
//   - responses built from it (allowed with warnings and a patch, denied with a message)
//     encode to AdmissionReview JSON that parses, echoes the uid, keeps warnings and the
//     message within their limits (cut only at UTF-8 boundaries, as prefixes plus "..."), and
//     carries a base64 patch that decodes to the RFC 6902 operations of the images;
//   - every image found passes the image reference checks above.
//  policies (Policy::parse, YAML and JSON):
//   - Policy::parse accepts exactly the documents that parse and for which check_policy()
//     reports no problem, and then fails with the first problem's reason;
//   - an accepted policy's version() is 64 lower-case hex digits and is stable: parsing the
//     same text again, building from the parsed document, and parsing the document re-encoded
//     as plain JSON and as YAML (the documented YAML/JSON equivalence) all give the same
//     version and the same model;
//   - trust_for(prefix) finds each trust section, and match() only returns rules that match
//     (an exact pattern always finds a rule).
//
// Header-only, so that the fuzz targets and the unit test share it without a library.

#include <boost/json.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "common/encoding.h"
#include "common/error.h"
#include "tuf/json.h"
#include "verifier/admission.h"
#include "verifier/image_ref.h"
#include "verifier/policy.h"
#include "verifier/yaml_json.h"

namespace vouch::verifier::invariants {

struct Outcome {
  bool accepted = false;
  std::string violation;  // the first property that failed; empty when all held
};

// For the fuzz targets: prints a violation and traps, so libFuzzer saves the input.
inline void trap_on(const std::string& violation) {
  if (violation.empty()) return;
  std::fprintf(stderr, "invariant violated: %s\n", violation.c_str());
  __builtin_trap();
}

// ---- image references ---------------------------------------------------------------------

namespace detail {

inline bool is_lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

inline std::size_t digest_hex_length(DigestAlgorithm algorithm) {
  switch (algorithm) {
    case DigestAlgorithm::kSha256: return 64;
    case DigestAlgorithm::kSha384: return 96;
    case DigestAlgorithm::kSha512: return 128;
  }
  return 0;
}

// Whether Docker's familiar form of `ref` reads back as another registry: a docker.io path
// whose first component splitDockerDomain takes for a registry.
inline bool familiar_is_ambiguous(const ImageRef& ref) {
  if (ref.domain != "docker.io") return false;
  const std::string_view first = std::string_view(ref.path).substr(0, ref.path.find('/'));
  if (first.size() == ref.path.size()) return false;  // one component: library/ is implied
  return first == "localhost" || first.find_first_of(".:") != std::string_view::npos;
}

inline std::string in_quotes(std::string_view s) { return "\"" + std::string(s) + "\""; }

}  // namespace detail

// The properties of one accepted reference (see the file comment).
inline std::string image_ref_violation(const ImageRef& ref) {
  using detail::in_quotes;
  const std::string normalized = ref.str();
  if (ref.path.empty()) return "image ref: empty path in " + in_quotes(normalized);
  if (!ref.has_tag() && !ref.has_digest()) return "image ref: neither tag nor digest";
  if (ref.name().size() > kMaxNameLength) return "image ref: name longer than kMaxNameLength";
  if (ref.gun() != ref.name()) return "image ref: gun() differs from name()";
  if (std::any_of(ref.path.begin(), ref.path.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
    return "image ref: upper case in path " + in_quotes(ref.path);
  }
  if (ref.has_tag() && ref.tag.size() > 128) return "image ref: tag longer than 128";
  if (ref.has_digest()) {
    if (ref.digest != std::string(to_string(ref.digest_algorithm)) + ":" + ref.digest_hex) {
      return "image ref: digest is not algorithm:hex in " + in_quotes(normalized);
    }
    if (ref.digest_hex.size() != detail::digest_hex_length(ref.digest_algorithm) ||
        !detail::is_lower_hex(ref.digest_hex)) {
      return "image ref: digest hex of the wrong length or case in " + in_quotes(normalized);
    }
  }

  auto again = parse_image_ref(normalized);
  if (!again) return "image ref: normalized form " + in_quotes(normalized) + " does not parse";
  if (!(*again == ref)) return "image ref: normalized form " + in_quotes(normalized) + " re-parses differently";
  if (again->str() != normalized) return "image ref: normalization of " + in_quotes(normalized) + " is not a fixed point";

  auto pulled = parse_image_ref(ref.pull_ref());
  if (!pulled) return "image ref: pull_ref " + in_quotes(ref.pull_ref()) + " does not parse";
  if (pulled->name() != ref.name() || pulled->digest != ref.digest ||
      (ref.has_digest() ? pulled->has_tag() : pulled->tag != ref.tag)) {
    return "image ref: pull_ref " + in_quotes(ref.pull_ref()) + " re-parses differently";
  }

  if (!detail::familiar_is_ambiguous(ref)) {
    auto familiar = parse_image_ref(ref.familiar());
    if (!familiar) return "image ref: familiar form " + in_quotes(ref.familiar()) + " does not parse";
    if (!(*familiar == ref)) {
      return "image ref: familiar form " + in_quotes(ref.familiar()) + " re-parses differently";
    }
  }
  return {};
}

inline Outcome check_image_ref(std::string_view text) {
  Outcome out;
  auto ref = parse_image_ref(text);
  if (!ref) {
    const Reason reason = ref.error().reason;
    if (reason != Reason::kMalformed && reason != Reason::kTooLarge &&
        reason != Reason::kUnsupportedAlgorithm) {
      out.violation = "image ref: unexpected error reason " + std::string(to_string(reason));
    }
    return out;
  }
  out.accepted = true;
  out.violation = image_ref_violation(*ref);
  return out;
}

// ---- AdmissionReview ----------------------------------------------------------------------

namespace detail {

namespace bj = boost::json;

inline std::string_view sv(const bj::string& s) { return {s.data(), s.size()}; }

// A string member of an object, or nullptr.
inline const bj::string* string_at(const bj::value& v, std::string_view key) {
  if (!v.is_object()) return nullptr;
  const bj::value* m = v.get_object().if_contains(key);
  return m != nullptr && m->is_string() ? &m->get_string() : nullptr;
}

// Properties of `cut` = truncate_utf8(original, max), as the encoder must apply it.
inline bool truncated_ok(std::string_view original, std::string_view cut, std::size_t max) {
  if (cut.size() > max) return false;
  if (original.size() <= max) return cut == original;
  if (max < 3) return cut == std::string(max, '.');
  if (!cut.ends_with("...")) return false;
  const std::string_view kept = cut.substr(0, cut.size() - 3);
  // A cut backs up over at most three continuation bytes, to the start of a sequence.
  if (kept.size() < original.size() &&
      (static_cast<unsigned char>(original[kept.size()]) & 0xC0) == 0x80) {
    return false;
  }
  return original.starts_with(kept) && kept.size() + 3 + 3 >= max;
}

// Checks the encoded response `text` against what it was built from.
inline std::string response_violation(const std::string& text, const AdmissionResponse& built,
                                      const std::vector<ImagePatch>& patches) {
  boost::system::error_code ec;
  const bj::value doc = bj::parse(bj::string_view(text.data(), text.size()), ec);
  if (ec) return "admission: encoded response is not JSON (" + ec.message() + ")";
  const bj::string* api = string_at(doc, "apiVersion");
  const bj::string* kind = string_at(doc, "kind");
  if (api == nullptr || sv(*api) != "admission.k8s.io/v1" || kind == nullptr ||
      sv(*kind) != "AdmissionReview") {
    return "admission: response without apiVersion/kind";
  }
  const bj::value* response = doc.get_object().if_contains("response");
  if (response == nullptr || !response->is_object()) return "admission: no response object";
  const bj::object& r = response->get_object();
  const bj::string* uid = string_at(*response, "uid");
  if (uid == nullptr || sv(*uid) != built.uid) return "admission: response uid differs";
  const bj::value* allowed = r.if_contains("allowed");
  if (allowed == nullptr || !allowed->is_bool() || allowed->get_bool() != built.allowed) {
    return "admission: response allowed differs";
  }
  if (const bj::value* warnings = r.if_contains("warnings")) {
    if (!warnings->is_array()) return "admission: warnings is not an array";
    const bj::array& w = warnings->get_array();
    if (w.size() != std::min(built.warnings.size(), kMaxWarnings)) {
      return "admission: wrong number of warnings";
    }
    for (std::size_t i = 0; i < w.size(); ++i) {
      if (!w[i].is_string() ||
          !truncated_ok(built.warnings[i], sv(w[i].get_string()), kMaxWarningBytes)) {
        return "admission: warning " + std::to_string(i) + " is not the (cut) warning given";
      }
    }
  } else if (!built.warnings.empty()) {
    return "admission: warnings missing";
  }
  const bj::value* status = r.if_contains("status");
  if (built.allowed) {
    if (status != nullptr) return "admission: status in an allowed response";
  } else {
    if (status == nullptr || !status->is_object()) return "admission: denied without status";
    const bj::value* code = status->get_object().if_contains("code");
    const bj::string* reason = string_at(*status, "reason");
    const bj::string* message = string_at(*status, "message");
    if (code == nullptr || !code->is_int64() || code->get_int64() != built.status_code ||
        reason == nullptr || sv(*reason) != built.status_reason || message == nullptr) {
      return "admission: status differs from the one given";
    }
    if (!truncated_ok(built.message, sv(*message), kMaxStatusMessageBytes)) {
      return "admission: status.message is not the (cut) message given";
    }
  }
  const bj::string* patch_type = string_at(*response, "patchType");
  const bj::string* patch = string_at(*response, "patch");
  if (!built.allowed || !built.patch) {
    if (patch_type != nullptr || patch != nullptr) return "admission: unexpected patch";
    return {};
  }
  if (patch_type == nullptr || sv(*patch_type) != "JSONPatch" || patch == nullptr) {
    return "admission: patch or patchType missing";
  }
  auto decoded = base64_decode(sv(*patch));
  if (!decoded) return "admission: patch is not base64";
  const std::string_view patch_text = as_string_view(*decoded);
  if (patch_text != *built.patch) return "admission: patch does not decode to json_patch()";
  const bj::value ops = bj::parse(bj::string_view(patch_text.data(), patch_text.size()), ec);
  if (ec || !ops.is_array() || ops.get_array().size() != 2 * patches.size()) {
    return "admission: the JSON Patch is not an array of two operations per image";
  }
  for (std::size_t i = 0; i < patches.size(); ++i) {
    for (std::size_t k = 0; k < 2; ++k) {
      const bj::value& op = ops.get_array()[2 * i + k];
      const bj::string* name = string_at(op, "op");
      const bj::string* path = string_at(op, "path");
      const bj::string* value = string_at(op, "value");
      if (name == nullptr || path == nullptr || value == nullptr ||
          sv(*name) != (k == 0 ? "test" : "replace") || sv(*path) != patches[i].pointer ||
          sv(*value) != (k == 0 ? patches[i].old_image : patches[i].new_image)) {
        return "admission: JSON Patch operation " + std::to_string(2 * i + k) + " differs";
      }
    }
  }
  return {};
}

}  // namespace detail

// The properties of one accepted review (see the file comment); `body` is what it came from.
inline std::string admission_violation(std::string_view body, const AdmissionRequest& request,
                                       const AdmissionLimits& limits) {
  namespace bj = boost::json;
  if (request.uid.empty()) return "admission: accepted without a uid";
  const auto spec = pod_spec_pointer(request.group, request.kind);
  if (request.workload != spec.has_value()) return "admission: workload flag disagrees with the kind";
  if (!request.workload && (!request.images.empty() || !request.old_images.empty())) {
    return "admission: images of a kind that is not inspected";
  }
  if (request.images.size() > limits.max_images || request.old_images.size() > limits.max_images) {
    return "admission: more images than max_images";
  }
  for (const auto& old : request.old_images) {
    if (old.size() > limits.max_image_bytes) return "admission: old image over max_image_bytes";
  }

  // An independent parse: every pointer must lead to its image in request.object.
  bj::parse_options options;
  options.max_depth = limits.max_depth;
  boost::system::error_code ec;
  const bj::value doc = bj::parse(bj::string_view(body.data(), body.size()), ec,
                                  bj::storage_ptr(), options);
  if (ec) return "admission: accepted a body Boost.JSON refuses (" + ec.message() + ")";
  const bj::value* uid = doc.find_pointer("/request/uid", ec);
  if (uid == nullptr || !uid->is_string() || detail::sv(uid->get_string()) != request.uid) {
    return "admission: uid is not request.uid";
  }
  int last_kind = 0;
  for (std::size_t i = 0; i < request.images.size(); ++i) {
    const ContainerImage& image = request.images[i];
    const std::string where = "admission: images[" + std::to_string(i) + "]";
    if (image.image.size() > limits.max_image_bytes) return where + " over max_image_bytes";
    const int kind = static_cast<int>(image.kind);
    if (kind < last_kind) return where + " out of container-list order";
    last_kind = kind;
    const std::string list = std::string(*spec) + "/" + std::string(to_string(image.kind)) + "/";
    if (!image.pointer.starts_with(list) || !image.pointer.ends_with("/image")) {
      return where + " has pointer " + image.pointer + " outside " + list;
    }
    const bj::value* at = doc.find_pointer("/request/object" + image.pointer, ec);
    if (at == nullptr || !at->is_string() || detail::sv(at->get_string()) != image.image) {
      return where + ": pointer " + image.pointer + " does not lead to the image";
    }
    if (const Outcome ref = check_image_ref(image.image); !ref.violation.empty()) {
      return ref.violation;
    }
  }

  // Build the two responses the service would send and check their encoding.
  std::vector<ImagePatch> patches;
  AdmissionResponse allow;
  allow.uid = request.uid;
  allow.allowed = true;
  AdmissionResponse deny;
  deny.uid = request.uid;
  deny.allowed = false;
  for (const ContainerImage& image : request.images) {
    patches.push_back({image.pointer, image.image, image.image + "@sha256:" + std::string(64, '0')});
    allow.warnings.push_back("image " + image.image + " (" + std::string(to_string(image.kind)) +
                             " " + image.container + ") is admitted in warn mode");
    deny.message += "image " + image.image + " (" + image.container + ") is not signed. ";
  }
  allow.patch = json_patch(patches);
  deny.warnings = allow.warnings;
  if (std::string v = detail::response_violation(encode_admission_review(allow), allow, patches);
      !v.empty()) {
    return v;
  }
  if (std::string v = detail::response_violation(encode_admission_review(deny), deny, patches);
      !v.empty()) {
    return v;
  }
  // truncate_utf8 at small bounds, where the "..." and the UTF-8 back-up interact.
  const std::string& sample = request.images.empty() ? request.uid : request.images.front().image;
  for (std::size_t max = 0; max < 8; ++max) {
    if (!detail::truncated_ok(sample, truncate_utf8(sample, max), max)) {
      return "admission: truncate_utf8 at " + std::to_string(max) + " bytes";
    }
  }
  return {};
}

inline Outcome check_admission(std::string_view body, const AdmissionLimits& limits = {}) {
  Outcome out;
  auto request = parse_admission_review(body, limits);
  if (!request) {
    const Reason reason = request.error().reason;
    if (reason != Reason::kMalformed && reason != Reason::kTooLarge &&
        reason != Reason::kTooDeep) {
      out.violation = "admission: unexpected error reason " + std::string(to_string(reason));
    }
    return out;
  }
  out.accepted = true;
  out.violation = admission_violation(body, *request, limits);
  return out;
}

// ---- policies -----------------------------------------------------------------------------

namespace detail {

// `value` as plain JSON text (or, with `yaml`, as a YAML flow document: the same text but
// with \U escapes instead of surrogate pairs). Every byte outside printable ASCII is escaped,
// so that neither reader has room to interpret it differently. Strings of a parsed document
// are valid UTF-8 (both parsers check).
inline void encode_string(std::string_view s, bool yaml, std::string& out) {
  auto hex4 = [&](std::uint32_t u) {
    static constexpr char kHex[] = "0123456789abcdef";
    out += "\\u";
    for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(u >> shift) & 0xF];
  };
  out += '"';
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    std::uint32_t cp = c;
    std::size_t len = 1;
    if (c >= 0xF0) {
      cp = c & 0x07u, len = 4;
    } else if (c >= 0xE0) {
      cp = c & 0x0Fu, len = 3;
    } else if (c >= 0xC0) {
      cp = c & 0x1Fu, len = 2;
    }
    for (std::size_t k = 1; k < len && i + k < s.size(); ++k) {
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3Fu);
    }
    i += len;
    if (cp < 0x10000) {
      hex4(cp);
    } else if (yaml) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\U";
      for (int shift = 28; shift >= 0; shift -= 4) out += kHex[(cp >> shift) & 0xF];
    } else {
      hex4(0xD800 + ((cp - 0x10000) >> 10));
      hex4(0xDC00 + ((cp - 0x10000) & 0x3FF));
    }
  }
  out += '"';
}

inline void encode(const tuf::json::Value& v, bool yaml, std::string& out) {
  switch (v.type()) {
    case tuf::json::Type::kNull: out += "null"; break;
    case tuf::json::Type::kBool: out += v.as_bool() ? "true" : "false"; break;
    case tuf::json::Type::kInt: out += std::to_string(v.as_int()); break;
    case tuf::json::Type::kString: encode_string(v.as_string(), yaml, out); break;
    case tuf::json::Type::kArray: {
      out += '[';
      bool first = true;
      for (const auto& item : v.as_array()) {
        if (!first) out += ", ";
        first = false;
        encode(item, yaml, out);
      }
      out += ']';
      break;
    }
    case tuf::json::Type::kObject: {
      out += '{';
      bool first = true;
      for (const auto& [key, item] : v.as_object()) {
        if (!first) out += ", ";
        first = false;
        encode_string(key, yaml, out);
        out += ": ";
        encode(item, yaml, out);
      }
      out += '}';
      break;
    }
  }
}

inline std::string encode(const tuf::json::Value& v, bool yaml) {
  std::string out;
  encode(v, yaml, out);
  return out;
}

// Everything the model holds, as text, to compare two parses.
inline std::string summary(const Policy& p) {
  std::string s = "unmatched=" + std::string(to_string(p.unmatched())) + "\n";
  for (const Team& t : p.teams()) {
    s += "team " + t.name + "\n";
    for (const Member& m : t.members) {
      s += " member " + m.name + "\n";
      for (const MemberKey& k : m.keys) {
        s += "  key " + k.id + (k.validity.not_after ? " cert" : "") + "\n";
      }
    }
  }
  for (const TrustSection& t : p.trust()) {
    s += "trust " + t.prefix + " " + t.server + " tls_ca=" + std::to_string(t.tls_ca.size()) +
         " root_ca=" + std::to_string(t.root_ca.size()) + " tofu=" + (t.tofu ? "1" : "0") +
         " strict=" + (t.strict_pinning ? "1" : "0") + "\n";
    for (const auto& k : t.root_keys) s += " root_key " + k + "\n";
    if (t.credentials) {
      const CredentialsRef& c = *t.credentials;
      s += " credentials " + c.username + "|" + c.password_file + "|" + c.password_env + "|" +
           c.token_file + "|" + c.token_env + "\n";
    }
  }
  for (const Rule& r : p.rules()) {
    s += "rule " + std::to_string(r.index) + " " + r.name + " " + r.pattern + " " +
         std::string(to_string(r.action)) + " " + std::string(to_string(r.mode)) + " " +
         r.name_glob + " " + r.tag_glob + " " + std::to_string(r.specificity.literal_prefix) +
         "/" + std::to_string(r.specificity.double_stars) + "/" +
         std::to_string(r.specificity.wildcards) + "/" + std::to_string(r.specificity.literals) +
         (r.specificity.has_tag ? " tag " + std::to_string(r.specificity.tag_literal_prefix) +
                                      "/" + std::to_string(r.specificity.tag_wildcards) + "/" +
                                      std::to_string(r.specificity.tag_literals)
                                : std::string()) +
         "\n";
    if (r.action == RuleAction::kRequire) {
      s += std::string(" require ") +
           (r.require.combine == TeamsCombine::kAllOf ? "all-of" : "any-of") +
           " min=" + std::to_string(r.require.min_signers) +
           (r.require.allow_same_member ? " same-member" : "") + "\n";
      for (const auto& t : r.require.teams) s += "  team " + t + "\n";
      for (const auto& role : r.require.roles) s += "  role " + role + "\n";
    }
  }
  return s;
}

// Parses `text` again as `format` and compares with `expected`.
inline std::string same_policy(std::string_view text, PolicyFormat format, const Policy& expected,
                               const std::string& expected_summary, std::string_view what) {
  auto again = Policy::parse(text, format);
  if (!again) return "policy: " + std::string(what) + " is refused: " + again.error().message;
  if (again->version() != expected.version()) return "policy: " + std::string(what) + " has another version";
  if (summary(*again) != expected_summary) return "policy: " + std::string(what) + " gives another model";
  return {};
}

inline std::string policy_violation(std::string_view text, PolicyFormat format,
                                    const tuf::json::Value& document, const Policy& policy) {
  const std::string& version = policy.version();
  if (version.size() != 64 || !is_lower_hex(version)) return "policy: version is not a SHA-256 hex";
  const std::string model = summary(policy);
  if (std::string v = same_policy(text, format, policy, model, "the same text parsed twice");
      !v.empty()) {
    return v;
  }
  auto built = Policy::from_json(document);
  if (!built || built->version() != version || summary(*built) != model) {
    return "policy: from_json of the parsed document differs";
  }
  const DocumentLimits limits;
  if (const std::string json = encode(document, false); json.size() <= limits.max_bytes) {
    if (std::string v = same_policy(json, PolicyFormat::kJson, policy, model, "its JSON encoding");
        !v.empty()) {
      return v;
    }
  }
  if (const std::string yaml = encode(document, true); yaml.size() <= limits.max_bytes) {
    if (std::string v = same_policy(yaml, PolicyFormat::kYaml, policy, model, "its YAML encoding");
        !v.empty()) {
      return v;
    }
  }
  for (const TrustSection& t : policy.trust()) {
    const TrustSection* found = policy.trust_for(t.prefix);
    if (found == nullptr || found->prefix != t.prefix) {
      return "policy: trust_for(" + t.prefix + ") does not find its own section";
    }
  }
  std::vector<ImageRef> probes;
  for (const char* probe : {"nginx", "registry.example.com/prod/api:2.1", "localhost:5000/a@sha256:"
                            "0000000000000000000000000000000000000000000000000000000000000000"}) {
    if (auto ref = parse_image_ref(probe)) probes.push_back(std::move(*ref));
  }
  for (const Rule& r : policy.rules()) {
    // A pattern without wildcards that is itself a normalized reference must find a rule.
    if (r.pattern.find_first_of("*?") != std::string::npos) continue;
    auto ref = parse_image_ref(r.pattern);
    if (!ref || ref->name() != r.name_glob || (!r.tag_glob.empty() && ref->tag != r.tag_glob)) {
      continue;
    }
    if (!r.matches(*ref)) return "policy: rule " + in_quotes(r.pattern) + " does not match itself";
    if (policy.match(*ref) == nullptr) return "policy: no rule for exact pattern " + in_quotes(r.pattern);
    probes.push_back(std::move(*ref));
  }
  for (const ImageRef& probe : probes) {
    const Rule* rule = policy.match(probe);
    if (rule == nullptr) continue;
    if (rule < policy.rules().data() || rule >= policy.rules().data() + policy.rules().size() ||
        !rule->matches(probe)) {
      return "policy: match(" + probe.str() + ") returned a rule that does not match";
    }
  }
  return {};
}

// One format: the properties of the file comment. `accepted` is set when the policy is valid.
inline std::string check_policy_as(std::string_view text, PolicyFormat format, bool& accepted) {
  const DocumentLimits limits;
  Result<tuf::json::Value> document = [&]() -> Result<tuf::json::Value> {
    if (format == PolicyFormat::kYaml) return yaml_to_json(text, limits);
    tuf::json::ParseLimits json_limits;
    json_limits.max_bytes = limits.max_bytes;
    json_limits.max_depth = limits.max_depth;
    return tuf::json::parse(text, json_limits);
  }();
  auto policy = Policy::parse(text, format, limits);
  if (!document) {
    if (policy) return "policy: accepted a document that does not parse";
    if (policy.error().reason != document.error().reason) {
      return "policy: a parse error changed its reason";
    }
    return {};
  }
  const std::vector<PolicyProblem> problems = check_policy(*document);
  if (problems.empty() != policy.ok()) {
    return policy ? "policy: accepted although check_policy reports " + problems.front().path +
                        ": " + problems.front().message
                  : "policy: refused although check_policy reports nothing: " +
                        policy.error().message;
  }
  if (!policy) {
    if (policy.error().reason != problems.front().reason) {
      return "policy: the error's reason is not the first problem's";
    }
    return {};
  }
  accepted = true;
  return policy_violation(text, format, *document, *policy);
}

}  // namespace detail

struct PolicyOutcome {
  bool yaml_accepted = false;
  bool json_accepted = false;
  std::string violation;
};

// `text` as a YAML policy and as a JSON policy.
inline PolicyOutcome check_policy_text(std::string_view text) {
  PolicyOutcome out;
  out.violation = detail::check_policy_as(text, PolicyFormat::kYaml, out.yaml_accepted);
  if (out.violation.empty()) {
    out.violation = detail::check_policy_as(text, PolicyFormat::kJson, out.json_accepted);
  }
  return out;
}

}  // namespace vouch::verifier::invariants
