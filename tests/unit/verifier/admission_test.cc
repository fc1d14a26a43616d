// The AdmissionReview v1 codec (verifier/admission.h): every workload kind's pod spec, all
// three container lists, JSON Patch pointers, the uid echoed, bounds, malformed reviews, and
// the response document (round-tripped through a JSON parser, patch base64-decoded).

#include "verifier/admission.h"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <string>
#include <vector>

#include "common/encoding.h"

namespace vouch::verifier {
namespace {

namespace bj = boost::json;

// A pod spec with one container of each kind.
std::string pod_spec(const std::string& app = "registry.example.com/app:1",
                     const std::string& init = "registry.example.com/init:1",
                     const std::string& debug = "registry.example.com/debug:1") {
  return R"({"containers": [{"name": "app", "image": ")" + app +
         R"(", "ports": [{"containerPort": 8080}], "resources": {"limits": {"cpu": 0.5}}}],
            "initContainers": [{"name": "init", "image": ")" + init + R"("}],
            "ephemeralContainers": [{"name": "debug", "image": ")" + debug + R"("}]})";
}

// `spec` placed where `kind` keeps its pod spec.
std::string object_of(const std::string& kind, const std::string& spec) {
  const std::string meta = R"("metadata": {"name": "web", "namespace": "prod"})";
  if (kind == "Pod") return "{" + meta + R"(, "spec": )" + spec + "}";
  if (kind == "CronJob") {
    return "{" + meta + R"(, "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": )" +
           spec + "}}}}}";
  }
  return "{" + meta + R"(, "spec": {"replicas": 3, "template": {"metadata": {}, "spec": )" + spec +
         "}}}";
}

std::string review(const std::string& group, const std::string& kind, const std::string& object,
                   const std::string& operation = "CREATE", const std::string& extra = "") {
  return R"({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
      "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
      "kind": {"group": ")" + group + R"(", "version": "v1", "kind": ")" + kind + R"("},
      "resource": {"group": ")" + group + R"(", "version": "v1", "resource": "things"},
      "namespace": "prod", "operation": ")" + operation + R"(",
      "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
      "object": )" + object + extra + R"(, "dryRun": false}})";
}

struct KindCase {
  const char* group;
  const char* kind;
  const char* spec;
};

TEST_CASE("every workload kind: images of all three container lists, with patch pointers") {
  const KindCase cases[] = {
      {"", "Pod", "/spec"},
      {"", "ReplicationController", "/spec/template/spec"},
      {"apps", "Deployment", "/spec/template/spec"},
      {"apps", "ReplicaSet", "/spec/template/spec"},
      {"apps", "StatefulSet", "/spec/template/spec"},
      {"apps", "DaemonSet", "/spec/template/spec"},
      {"batch", "Job", "/spec/template/spec"},
      {"batch", "CronJob", "/spec/jobTemplate/spec/template/spec"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.kind);
    for (const char* op : {"CREATE", "UPDATE"}) {
      CAPTURE(op);
      auto r = parse_admission_review(review(c.group, c.kind, object_of(c.kind, pod_spec()), op));
      REQUIRE_MESSAGE(r.ok(), r.error().message);
      CHECK(r->uid == "705ab4f5-6393-11e8-b7cc-42010a800002");
      CHECK(r->kind == c.kind);
      CHECK(r->group == c.group);
      CHECK(r->operation == op);
      CHECK(r->namespace_name == "prod");
      CHECK(r->name == "web");
      CHECK(r->user == "alice");
      CHECK(r->workload);
      CHECK(pod_spec_pointer(c.group, c.kind) == std::optional<std::string_view>(c.spec));
      REQUIRE(r->images.size() == 3);
      const std::string spec = c.spec;
      CHECK(r->images[0].kind == ContainerKind::kContainer);
      CHECK(r->images[0].container == "app");
      CHECK(r->images[0].image == "registry.example.com/app:1");
      CHECK(r->images[0].pointer == spec + "/containers/0/image");
      CHECK(r->images[1].kind == ContainerKind::kInitContainer);
      CHECK(r->images[1].container == "init");
      CHECK(r->images[1].pointer == spec + "/initContainers/0/image");
      CHECK(r->images[2].kind == ContainerKind::kEphemeralContainer);
      CHECK(r->images[2].image == "registry.example.com/debug:1");
      CHECK(r->images[2].pointer == spec + "/ephemeralContainers/0/image");
    }
  }
}

TEST_CASE("UPDATE carries the old object's images; DELETE needs no object") {
  auto update = parse_admission_review(review(
      "apps", "Deployment", object_of("Deployment", pod_spec("registry.example.com/app:2")),
      "UPDATE", R"(, "oldObject": )" + object_of("Deployment", pod_spec())));
  REQUIRE_MESSAGE(update.ok(), update.error().message);
  CHECK(update->images[0].image == "registry.example.com/app:2");
  CHECK(update->old_images == std::vector<std::string>{"registry.example.com/app:1",
                                                       "registry.example.com/init:1",
                                                       "registry.example.com/debug:1"});

  auto del = parse_admission_review(
      R"({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
          "uid": "u1", "kind": {"group": "", "version": "v1", "kind": "Pod"},
          "operation": "DELETE", "name": "web", "object": null,
          "oldObject": {"spec": {"containers": [{"name": "a", "image": "x/y:1"}]}}}})");
  REQUIRE_MESSAGE(del.ok(), del.error().message);
  CHECK(del->images.empty());
  CHECK(del->old_images == std::vector<std::string>{"x/y:1"});
  CHECK(del->name == "web");
}

TEST_CASE("names: request.name, else metadata.name, else metadata.generateName") {
  auto r = parse_admission_review(review(
      "", "Pod", R"({"metadata": {"generateName": "web-7d9c-"}, "spec": {"containers": []}})"));
  REQUIRE(r.ok());
  CHECK(r->name == "web-7d9c-");
  CHECK(r->images.empty());
}

TEST_CASE("other kinds are parsed but not inspected; containers without an image are skipped") {
  auto cm = parse_admission_review(
      review("", "ConfigMap", R"({"metadata": {"name": "c"}, "data": {"spec": "x"}})"));
  REQUIRE(cm.ok());
  CHECK_FALSE(cm->workload);
  CHECK(cm->images.empty());

  auto no_image = parse_admission_review(review(
      "", "Pod", R"({"spec": {"containers": [{"name": "a"}, {"name": "b", "image": "x/b:1"}]}})"));
  REQUIRE(no_image.ok());
  REQUIRE(no_image->images.size() == 1);
  CHECK(no_image->images[0].container == "b");
  CHECK(no_image->images[0].pointer == "/spec/containers/1/image");
}

TEST_CASE("malformed reviews are refused with the field named") {
  struct Bad {
    const char* what;
    std::string body;
    Reason reason;
    const char* mentions;
  };
  const Bad bad[] = {
      {"not JSON", "{\"apiVersion\": ", Reason::kMalformed, "JSON"},
      {"not an object", "[1, 2]", Reason::kMalformed, "object"},
      {"v1beta1", R"({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview",
                      "request": {"uid": "u"}})",
       Reason::kMalformed, "admission.k8s.io/v1"},
      {"no request", R"({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"})",
       Reason::kMalformed, "request"},
      {"no uid", R"({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                    "request": {"operation": "CREATE"}})",
       Reason::kMalformed, "request.uid"},
      {"uid not a string", R"({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                              "request": {"uid": 5}})",
       Reason::kMalformed, "request.uid"},
      {"no object for CREATE", R"({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
          "request": {"uid": "u", "operation": "CREATE",
                      "kind": {"group": "", "version": "v1", "kind": "Pod"}}})",
       Reason::kMalformed, "request.object"},
      {"containers not an array", review("", "Pod", R"({"spec": {"containers": {"a": 1}}})"),
       Reason::kMalformed, "request.object.spec.containers"},
      {"image not a string", review("", "Pod", R"({"spec": {"containers": [{"image": 7}]}})"),
       Reason::kMalformed, "request.object.spec.containers[0].image"},
      {"template not an object",
       review("apps", "Deployment", R"({"spec": {"template": "x"}})"), Reason::kMalformed,
       "request.object.spec.template"},
      {"kind not an object", R"({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
          "request": {"uid": "u", "operation": "DELETE", "kind": "Pod"}})",
       Reason::kMalformed, "request.kind must be an object"},
      {"username not a string", R"({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
          "request": {"uid": "u", "operation": "DELETE", "userInfo": {"username": 1}}})",
       Reason::kMalformed, "request.userInfo.username must be a string"},
      {"resource.resource not a string", R"({"apiVersion": "admission.k8s.io/v1",
          "kind": "AdmissionReview", "request": {"uid": "u", "operation": "DELETE",
          "resource": {"resource": []}}})",
       Reason::kMalformed, "request.resource.resource must be a string"},
      {"dryRun not a boolean", R"({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
          "request": {"uid": "u", "operation": "DELETE", "dryRun": "yes"}})",
       Reason::kMalformed, "dryRun"},
  };
  for (const auto& b : bad) {
    CAPTURE(b.what);
    auto r = parse_admission_review(b.body);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().reason == b.reason);
    CHECK_MESSAGE(r.error().message.find(b.mentions) != std::string::npos, r.error().message);
  }
}

TEST_CASE("request fields in absent or null objects read as empty") {
  auto r = parse_admission_review(R"({"apiVersion": "admission.k8s.io/v1",
      "kind": "AdmissionReview", "request": {"uid": "u", "operation": "DELETE", "kind": null,
      "userInfo": {"groups": []}, "resource": {"group": "apps", "resource": "deployments"}}})");
  REQUIRE(r.ok());
  CHECK(r->kind.empty());
  CHECK(r->group.empty());
  CHECK(r->user.empty());
  CHECK(r->resource == "deployments");
  CHECK(r->operation == "DELETE");
}

TEST_CASE("bounds: body size, nesting, images per object, image length") {
  AdmissionLimits limits;
  limits.max_body_bytes = 1024;
  limits.max_images = 2;
  limits.max_image_bytes = 64;
  limits.max_depth = 16;

  const std::string big = review("", "Pod", object_of("Pod", pod_spec()), "CREATE",
                                 R"(, "padding": ")" + std::string(2000, 'x') + "\"");
  auto too_big = parse_admission_review(big, limits);
  REQUIRE_FALSE(too_big.ok());
  CHECK(too_big.error().reason == Reason::kTooLarge);

  AdmissionLimits roomy = limits;
  roomy.max_body_bytes = 1 << 20;
  auto three = parse_admission_review(review("", "Pod", object_of("Pod", pod_spec())), roomy);
  REQUIRE_FALSE(three.ok());
  CHECK(three.error().reason == Reason::kTooLarge);

  roomy.max_images = 8;
  auto long_image = parse_admission_review(
      review("", "Pod", object_of("Pod", pod_spec("registry.example.com/" + std::string(80, 'a')))),
      roomy);
  REQUIRE_FALSE(long_image.ok());
  CHECK(long_image.error().reason == Reason::kTooLarge);

  std::string deep = "1";
  for (int i = 0; i < 40; ++i) deep = "[" + deep + "]";
  auto too_deep = parse_admission_review(
      review("", "Pod", object_of("Pod", pod_spec()), "CREATE", R"(, "extra": )" + deep), roomy);
  REQUIRE_FALSE(too_deep.ok());
  CHECK(too_deep.error().reason == Reason::kTooDeep);
}

TEST_CASE("the response echoes the uid and carries status, warnings and a base64 JSON Patch") {
  SUBCASE("denied") {
    AdmissionResponse r;
    r.uid = "705ab4f5";
    r.allowed = false;
    r.message = "image x (container a): not signed";
    r.warnings = {"w1"};
    r.patch = "[]";  // never sent with a deny
    const bj::value doc = bj::parse(encode_admission_review(r));
    CHECK(doc.at("apiVersion").as_string() == "admission.k8s.io/v1");
    CHECK(doc.at("kind").as_string() == "AdmissionReview");
    const bj::object& resp = doc.at("response").as_object();
    CHECK(resp.at("uid").as_string() == "705ab4f5");
    CHECK(resp.at("allowed").as_bool() == false);
    CHECK(resp.at("status").at("code").as_int64() == 403);
    CHECK(resp.at("status").at("reason").as_string() == "Forbidden");
    CHECK(resp.at("status").at("message").as_string() == "image x (container a): not signed");
    CHECK(resp.at("warnings").as_array().size() == 1);
    CHECK(resp.if_contains("patch") == nullptr);
    CHECK(resp.if_contains("patchType") == nullptr);
  }
  SUBCASE("allowed with a patch") {
    const std::vector<ImagePatch> patches = {
        {"/spec/containers/0/image", "r.io/a:1", "r.io/a@sha256:" + std::string(64, 'b')},
        {"/spec/initContainers/0/image", "r.io/i:1", "r.io/i@sha256:" + std::string(64, 'c')}};
    AdmissionResponse r;
    r.uid = "u-2";
    r.allowed = true;
    r.patch = json_patch(patches);
    const bj::value doc = bj::parse(encode_admission_review(r));
    const bj::object& resp = doc.at("response").as_object();
    CHECK(resp.at("uid").as_string() == "u-2");
    CHECK(resp.at("allowed").as_bool());
    CHECK(resp.if_contains("status") == nullptr);
    CHECK(resp.at("patchType").as_string() == "JSONPatch");
    const auto raw = base64_decode(std::string(resp.at("patch").as_string()));
    REQUIRE(raw.ok());
    const bj::value ops = bj::parse(std::string(as_string_view(*raw)));
    REQUIRE(ops.as_array().size() == 4);
    CHECK(ops.at(0).at("op").as_string() == "test");
    CHECK(ops.at(0).at("path").as_string() == "/spec/containers/0/image");
    CHECK(ops.at(0).at("value").as_string() == "r.io/a:1");
    CHECK(ops.at(1).at("op").as_string() == "replace");
    CHECK(ops.at(1).at("path").as_string() == "/spec/containers/0/image");
    CHECK(ops.at(1).at("value").as_string() == "r.io/a@sha256:" + std::string(64, 'b'));
    CHECK(ops.at(3).at("path").as_string() == "/spec/initContainers/0/image");
  }
  SUBCASE("warnings are bounded in number and length, without splitting UTF-8") {
    AdmissionResponse r;
    r.uid = "u";
    r.allowed = true;
    for (std::size_t i = 0; i < kMaxWarnings + 5; ++i) r.warnings.push_back(std::string(2000, 'w'));
    r.warnings[0] = std::string(kMaxWarningBytes - 4, 'x') + "\xc3\xa9\xc3\xa9\xc3\xa9";
    const bj::value doc = bj::parse(encode_admission_review(r));
    const bj::array& w = doc.at("response").at("warnings").as_array();
    CHECK(w.size() == kMaxWarnings);
    for (const auto& item : w) CHECK(item.as_string().size() <= kMaxWarningBytes);
    const std::string first(w[0].as_string());
    CHECK(first.substr(first.size() - 3) == "...");
    CHECK(first.find('\xc3') == std::string::npos);
  }
}

TEST_CASE("truncate_utf8 never splits a sequence and keeps short text") {
  CHECK(truncate_utf8("short", 10) == "short");
  CHECK(truncate_utf8("abcdefghij", 8) == "abcde...");
  CHECK(truncate_utf8("ab\xe2\x82\xac" "cdef", 6) == "ab...");
}

}  // namespace
}  // namespace vouch::verifier
