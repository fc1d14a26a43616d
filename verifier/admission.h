#pragma once

// The Kubernetes AdmissionReview v1 codec (admission.k8s.io/v1; STACK "Kubernetes admission
// webhook"): which images a request asks the cluster to run, and the response the apiserver
// expects. Pure: no I/O, no policy, no decisions (verifier/service.h makes those). The one
// adapter over Boost.JSON for the webhook: its exceptions stop here.
//
// Request. {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {...}}
// with request.uid (non-empty string, echoed in the response), request.kind {group, version,
// kind}, request.resource, request.subResource, request.operation (CREATE, UPDATE, DELETE,
// CONNECT), request.namespace, request.name, request.userInfo.username, request.dryRun,
// request.object and request.oldObject. Unknown fields are ignored (the apiserver adds fields
// over time); the fields above must have their JSON types when present.
//
// Where images are. The pod spec of each workload kind vouch inspects:
//   Pod (core)                                         /spec
//   ReplicationController (core)                       /spec/template/spec
//   Deployment, ReplicaSet, StatefulSet, DaemonSet     /spec/template/spec      (group apps)
//   Job (batch)                                        /spec/template/spec
//   CronJob (batch)                                    /spec/jobTemplate/spec/template/spec
// and in it every entry of containers, initContainers and ephemeralContainers (Pods get
// ephemeral containers through the pods/ephemeralcontainers subresource, `kubectl debug`).
// A container without an "image" is skipped (the apiserver's validation refuses it after
// mutating admission; a validating webhook never sees one); an image that is not a string is
// malformed. A missing pod spec or container list is an object without images.
//
// Limits on untrusted input (the apiserver is trusted to send well-formed reviews, but the
// webhook port may be reachable by others): the body size, the JSON nesting depth, the number
// of images per object, and the length of one image string. Exceeding one is kTooLarge /
// kTooDeep; everything else that is wrong is kMalformed, with a message naming the field.
//
// Response. {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response":
// {"uid": <the request's uid>, "allowed": bool, "status": {"code": 403, "reason": "Forbidden",
// "message": "..."} (only when denied), "warnings": [...] (when any), "patchType": "JSONPatch",
// "patch": base64(RFC 6902 document) (only when a patch is given)}}.

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace vouch::verifier {

struct AdmissionLimits {
  // The whole review (object and oldObject together; etcd limits one object to 1.5 MiB).
  // Default 4 MiB.
  std::size_t max_body_bytes = 4u << 20;
  // JSON nesting. Pods need about 12 levels; CRD-laden objects more. Default 64.
  std::size_t max_depth = 64;
  // Images in one object (containers of all three kinds together). Default 256.
  std::size_t max_images = 256;
  // One image string. Default 4096 (references themselves are limited to 1024 bytes by
  // parse_image_ref; longer ones are reported per image, not as a malformed review).
  std::size_t max_image_bytes = 4096;
};

enum class ContainerKind { kContainer, kInitContainer, kEphemeralContainer };
// "containers", "initContainers", "ephemeralContainers"
std::string_view to_string(ContainerKind kind);

// One image of the object under review.
struct ContainerImage {
  ContainerKind kind = ContainerKind::kContainer;
  std::string container;  // the container's name ("" if it has none)
  std::string image;      // as written
  // RFC 6901 pointer of the image field within the object, e.g.
  // "/spec/template/spec/containers/0/image": the path of a JSON Patch.
  std::string pointer;
};

struct AdmissionRequest {
  std::string uid;
  std::string group;    // request.kind.group ("" for the core group)
  std::string version;  // request.kind.version
  std::string kind;     // request.kind.kind ("Pod", "Deployment", ...)
  std::string resource;
  std::string sub_resource;
  std::string operation;  // "CREATE", "UPDATE", "DELETE", "CONNECT"
  std::string namespace_name;
  // request.name, else object.metadata.name, else object.metadata.generateName (Pods of a
  // ReplicaSet are created with only a generateName).
  std::string name;
  std::string user;  // request.userInfo.username
  bool dry_run = false;
  // Whether the kind is one whose images vouch inspects (table above).
  bool workload = false;
  // The images of request.object, in document order: containers, initContainers,
  // ephemeralContainers.
  std::vector<ContainerImage> images;
  // The images of request.oldObject (UPDATE), as written.
  std::vector<std::string> old_images;
};

// Parses an AdmissionReview v1 request (see above). Errors: kTooLarge, kTooDeep, kMalformed
// (not JSON; not an object; apiVersion other than admission.k8s.io/v1 or kind other than
// AdmissionReview; no request; no or empty uid; a field of the wrong type; no object for
// CREATE or UPDATE). Never throws.
Result<AdmissionRequest> parse_admission_review(std::string_view body,
                                                const AdmissionLimits& limits = {});

// The pod spec pointer of a workload kind ("/spec", "/spec/template/spec", ...), or nullopt
// when vouch does not inspect the kind.
std::optional<std::string_view> pod_spec_pointer(std::string_view group, std::string_view kind);

// One replacement of an image: the RFC 6902 operations {"op":"test","path":pointer,
// "value":old_image} (the patch applies only to the image that was verified) and
// {"op":"replace","path":pointer,"value":new_image}.
struct ImagePatch {
  std::string pointer;
  std::string old_image;
  std::string new_image;
};

// The JSON Patch document (JSON text) of `patches`, in order; "[]" when empty.
std::string json_patch(std::span<const ImagePatch> patches);

struct AdmissionResponse {
  std::string uid;
  bool allowed = false;
  // status, sent when not allowed: code (403 for a policy deny, 500 when the verifier could
  // not decide), reason ("Forbidden", "InternalError") and message (one sentence per denied
  // image).
  int status_code = 403;
  std::string status_reason = "Forbidden";
  std::string message;
  // Shown to the user by kubectl (warn-mode rules). Each is cut to kMaxWarningBytes and at
  // most kMaxWarnings are sent (the apiserver limits them too).
  std::vector<std::string> warnings;
  // A JSON Patch document (json_patch()); sent base64-encoded with patchType "JSONPatch".
  // Only when allowed.
  std::optional<std::string> patch;
};

inline constexpr std::size_t kMaxWarnings = 32;
inline constexpr std::size_t kMaxWarningBytes = 512;
// Longest status.message sent; longer ones are cut with "...".
inline constexpr std::size_t kMaxStatusMessageBytes = 16 * 1024;

// The AdmissionReview v1 response document (JSON text).
std::string encode_admission_review(const AdmissionResponse& response);

// Cuts `text` to at most `max` bytes without splitting a UTF-8 sequence, appending "..." when
// cut (the result, "..." included, stays within max).
std::string truncate_utf8(std::string_view text, std::size_t max);

}  // namespace vouch::verifier
