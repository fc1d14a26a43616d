#include "verifier/admission.h"

#include <boost/json.hpp>

#include <array>
#include <exception>
#include <new>
#include <utility>

#include "common/encoding.h"
#include "common/enum_names.h"

namespace vouch::verifier {
namespace {

namespace bj = boost::json;

constexpr std::string_view kApiVersion = "admission.k8s.io/v1";
constexpr std::string_view kKind = "AdmissionReview";

std::string_view sv(const bj::string& s) { return {s.data(), s.size()}; }

Error malformed(std::string message) {
  return make_error(Reason::kMalformed, "AdmissionReview: " + std::move(message));
}

// Member `key` of `o` as a string: nullopt when absent or null; kMalformed when another type.
Result<std::optional<std::string>> opt_string(const bj::object& o, std::string_view key,
                                              std::string_view path) {
  const bj::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return std::optional<std::string>();
  if (!v->is_string()) return malformed(std::string(path) + " must be a string");
  return std::optional<std::string>(std::string(sv(v->get_string())));
}

Result<std::string> string_or_empty(const bj::object& o, std::string_view key,
                                    std::string_view path) {
  VOUCH_ASSIGN_OR_RETURN(auto s, opt_string(o, key, path));
  return s.value_or("");
}

// Member `key` of `o` as an object: nullptr when absent or null; kMalformed when another type.
Result<const bj::object*> opt_object(const bj::object& o, std::string_view key,
                                     std::string_view path) {
  const bj::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return static_cast<const bj::object*>(nullptr);
  if (!v->is_object()) return malformed(std::string(path) + " must be an object");
  return &v->get_object();
}

// Follows an RFC 6901 pointer made of plain member names ("/spec/template/spec"); nullptr
// when a member is absent or null; kMalformed when one on the way is not an object.
Result<const bj::object*> follow(const bj::object& root, std::string_view pointer,
                                 std::string_view root_path) {
  const bj::object* at = &root;
  std::string path(root_path);
  std::size_t pos = 1;
  while (pos <= pointer.size()) {
    std::size_t end = pointer.find('/', pos);
    if (end == std::string_view::npos) end = pointer.size();
    const std::string_view name = pointer.substr(pos, end - pos);
    path += ".";
    path += name;
    VOUCH_ASSIGN_OR_RETURN(at, opt_object(*at, name, path));
    if (at == nullptr) return at;
    pos = end + 1;
  }
  return at;
}

// The string at an RFC 6901 pointer of plain member names ("/kind/group") below `root`
// (whose path is `root_path`): "" when it, or an object on the way, is absent or null;
// kMalformed naming the dotted path when one is of another type.
Result<std::string> string_at(const bj::object& root, std::string_view pointer,
                              std::string_view root_path) {
  const std::size_t last = pointer.rfind('/');
  VOUCH_ASSIGN_OR_RETURN(const bj::object* parent,
                         follow(root, pointer.substr(0, last), root_path));
  if (parent == nullptr) return std::string();
  std::string path(root_path);
  for (const char c : pointer) path += c == '/' ? '.' : c;
  return string_or_empty(*parent, pointer.substr(last + 1), path);
}

constexpr std::array<ContainerKind, 3> kContainerKinds = {
    ContainerKind::kContainer, ContainerKind::kInitContainer, ContainerKind::kEphemeralContainer};

// Appends the images of the pod spec at `spec_pointer` in `object` to `out` (with pointers
// when `pointers`).
Status collect_images(const bj::object& object, std::string_view spec_pointer,
                      std::string_view object_path, const AdmissionLimits& limits,
                      std::vector<ContainerImage>& out) {
  VOUCH_ASSIGN_OR_RETURN(const bj::object* spec, follow(object, spec_pointer, object_path));
  if (spec == nullptr) return {};
  std::string spec_path(object_path);
  for (char c : spec_pointer) spec_path += c == '/' ? '.' : c;
  for (ContainerKind kind : kContainerKinds) {
    const std::string_view list_name = to_string(kind);
    const std::string list_path = spec_path + "." + std::string(list_name);
    const bj::value* list = spec->if_contains(list_name);
    if (list == nullptr || list->is_null()) continue;
    if (!list->is_array()) return malformed(list_path + " must be an array");
    const bj::array& containers = list->get_array();
    for (std::size_t i = 0; i < containers.size(); ++i) {
      const std::string item_path = list_path + "[" + std::to_string(i) + "]";
      if (!containers[i].is_object()) return malformed(item_path + " must be an object");
      const bj::object& c = containers[i].get_object();
      VOUCH_ASSIGN_OR_RETURN(auto image, opt_string(c, "image", item_path + ".image"));
      if (!image) continue;
      if (image->size() > limits.max_image_bytes) {
        return make_error(Reason::kTooLarge, "AdmissionReview: " + item_path +
                                                 ".image is longer than " +
                                                 std::to_string(limits.max_image_bytes) +
                                                 " bytes");
      }
      if (out.size() == limits.max_images) {
        return make_error(Reason::kTooLarge, "AdmissionReview: the object has more than " +
                                                 std::to_string(limits.max_images) + " images");
      }
      VOUCH_ASSIGN_OR_RETURN(std::string name, string_or_empty(c, "name", item_path + ".name"));
      ContainerImage ci;
      ci.kind = kind;
      ci.container = std::move(name);
      ci.image = std::move(*image);
      ci.pointer = std::string(spec_pointer) + "/" + std::string(list_name) + "/" +
                   std::to_string(i) + "/image";
      out.push_back(std::move(ci));
    }
  }
  return {};
}

Result<AdmissionRequest> parse_document(const bj::value& doc, const AdmissionLimits& limits) {
  if (!doc.is_object()) return malformed("the body must be a JSON object");
  const bj::object& review = doc.get_object();
  VOUCH_ASSIGN_OR_RETURN(std::string api_version, string_or_empty(review, "apiVersion", "apiVersion"));
  VOUCH_ASSIGN_OR_RETURN(std::string kind, string_or_empty(review, "kind", "kind"));
  if (api_version != kApiVersion || kind != kKind) {
    return malformed("expected apiVersion " + std::string(kApiVersion) + " and kind " +
                     std::string(kKind) + " (register the webhook with admissionReviewVersions "
                     "[\"v1\"])");
  }
  VOUCH_ASSIGN_OR_RETURN(const bj::object* request, opt_object(review, "request", "request"));
  if (request == nullptr) return malformed("no request");

  AdmissionRequest out;
  VOUCH_ASSIGN_OR_RETURN(out.uid, string_at(*request, "/uid", "request"));
  if (out.uid.empty()) return malformed("request.uid is missing or empty");
  VOUCH_ASSIGN_OR_RETURN(out.group, string_at(*request, "/kind/group", "request"));
  VOUCH_ASSIGN_OR_RETURN(out.version, string_at(*request, "/kind/version", "request"));
  VOUCH_ASSIGN_OR_RETURN(out.kind, string_at(*request, "/kind/kind", "request"));
  VOUCH_ASSIGN_OR_RETURN(out.resource, string_at(*request, "/resource/resource", "request"));
  VOUCH_ASSIGN_OR_RETURN(out.sub_resource, string_at(*request, "/subResource", "request"));
  VOUCH_ASSIGN_OR_RETURN(out.operation, string_at(*request, "/operation", "request"));
  VOUCH_ASSIGN_OR_RETURN(out.namespace_name, string_at(*request, "/namespace", "request"));
  VOUCH_ASSIGN_OR_RETURN(out.name, string_at(*request, "/name", "request"));
  VOUCH_ASSIGN_OR_RETURN(out.user, string_at(*request, "/userInfo/username", "request"));
  if (const bj::value* dry = request->if_contains("dryRun"); dry != nullptr && !dry->is_null()) {
    if (!dry->is_bool()) return malformed("request.dryRun must be a boolean");
    out.dry_run = dry->get_bool();
  }

  VOUCH_ASSIGN_OR_RETURN(const bj::object* object, opt_object(*request, "object", "request.object"));
  VOUCH_ASSIGN_OR_RETURN(const bj::object* old_object,
                         opt_object(*request, "oldObject", "request.oldObject"));
  const bool writes = out.operation == "CREATE" || out.operation == "UPDATE";
  if (writes && object == nullptr) {
    return malformed("request.object is missing for a " + out.operation);
  }
  if (out.name.empty() && object != nullptr) {
    VOUCH_ASSIGN_OR_RETURN(const bj::object* meta,
                           opt_object(*object, "metadata", "request.object.metadata"));
    if (meta != nullptr) {
      VOUCH_ASSIGN_OR_RETURN(out.name, string_or_empty(*meta, "name", "request.object.metadata.name"));
      if (out.name.empty()) {
        VOUCH_ASSIGN_OR_RETURN(out.name, string_or_empty(*meta, "generateName",
                                                         "request.object.metadata.generateName"));
      }
    }
  }

  const auto spec = pod_spec_pointer(out.group, out.kind);
  out.workload = spec.has_value();
  if (spec && object != nullptr) {
    VOUCH_RETURN_IF_ERROR(collect_images(*object, *spec, "request.object", limits, out.images));
  }
  if (spec && old_object != nullptr) {
    std::vector<ContainerImage> old;
    VOUCH_RETURN_IF_ERROR(collect_images(*old_object, *spec, "request.oldObject", limits, old));
    for (auto& o : old) out.old_images.push_back(std::move(o.image));
  }
  return out;
}

}  // namespace

constexpr EnumName<ContainerKind> kKindNames[] = {
    {ContainerKind::kContainer, "containers"}, {ContainerKind::kInitContainer, "initContainers"},
    {ContainerKind::kEphemeralContainer, "ephemeralContainers"}};
static_assert(lists_every_value(kKindNames, ContainerKind::kEphemeralContainer));

std::string_view to_string(ContainerKind kind) { return name_of(kKindNames, kind, "containers"); }

std::optional<std::string_view> pod_spec_pointer(std::string_view group, std::string_view kind) {
  if (group.empty()) {
    if (kind == "Pod") return "/spec";
    if (kind == "ReplicationController") return "/spec/template/spec";
  } else if (group == "apps") {
    if (kind == "Deployment" || kind == "ReplicaSet" || kind == "StatefulSet" ||
        kind == "DaemonSet") {
      return "/spec/template/spec";
    }
  } else if (group == "batch") {
    if (kind == "Job") return "/spec/template/spec";
    if (kind == "CronJob") return "/spec/jobTemplate/spec/template/spec";
  }
  return std::nullopt;
}

Result<AdmissionRequest> parse_admission_review(std::string_view body,
                                                const AdmissionLimits& limits) {
  if (body.size() > limits.max_body_bytes) {
    return make_error(Reason::kTooLarge, "AdmissionReview: the body is larger than " +
                                             std::to_string(limits.max_body_bytes) + " bytes");
  }
  try {
    bj::parse_options options;
    options.max_depth = limits.max_depth;
    boost::system::error_code ec;
    bj::value doc = bj::parse(bj::string_view(body.data(), body.size()), ec, bj::storage_ptr(),
                              options);
    if (ec) {
      if (ec == bj::error::too_deep) {
        return make_error(Reason::kTooDeep, "AdmissionReview: nested deeper than " +
                                                std::to_string(limits.max_depth) + " levels");
      }
      return malformed("the body is not valid JSON (" + ec.message() + ")");
    }
    return parse_document(doc, limits);
  } catch (const std::bad_alloc&) {
    return make_error(Reason::kTooLarge, "AdmissionReview: out of memory while parsing");
  } catch (const std::exception& e) {
    return malformed(std::string("cannot be read (") + e.what() + ")");
  }
}

std::string json_patch(std::span<const ImagePatch> patches) {
  bj::array ops;
  for (const ImagePatch& p : patches) {
    ops.push_back(bj::object{{"op", "test"}, {"path", p.pointer}, {"value", p.old_image}});
    ops.push_back(bj::object{{"op", "replace"}, {"path", p.pointer}, {"value", p.new_image}});
  }
  return bj::serialize(ops);
}

std::string truncate_utf8(std::string_view text, std::size_t max) {
  if (text.size() <= max) return std::string(text);
  if (max < 3) return std::string(max, '.');
  std::size_t cut = max - 3;
  // Back up over continuation bytes so that no sequence is split.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return std::string(text.substr(0, cut)) + "...";
}

std::string encode_admission_review(const AdmissionResponse& response) {
  bj::object r;
  r["uid"] = response.uid;
  r["allowed"] = response.allowed;
  if (!response.allowed) {
    r["status"] = bj::object{{"code", response.status_code},
                             {"reason", response.status_reason},
                             {"message", truncate_utf8(response.message, kMaxStatusMessageBytes)}};
  }
  if (!response.warnings.empty()) {
    bj::array w;
    for (const auto& text : response.warnings) {
      if (w.size() == kMaxWarnings) break;
      w.emplace_back(truncate_utf8(text, kMaxWarningBytes));
    }
    r["warnings"] = std::move(w);
  }
  if (response.allowed && response.patch) {
    r["patchType"] = "JSONPatch";
    r["patch"] = base64_encode(as_bytes(*response.patch));
  }
  bj::object review{{"apiVersion", kApiVersion}, {"kind", kKind}};
  review["response"] = std::move(r);
  return bj::serialize(review);
}

}  // namespace vouch::verifier
