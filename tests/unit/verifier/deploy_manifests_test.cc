// The Kubernetes manifests in verifier/deploy/ (read as the YAML they are, one document at a
// time): which namespaces the webhooks exempt and how, the optional trust server Secret, and
// the state volume behind trust.state_dir. They are what users apply; a regression here
// reopens a hole no unit of the daemon can see.

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tuf/json.h"
#include "verifier/yaml_json.h"

namespace vouch::verifier {
namespace {

namespace json = tuf::json;

// The documents of a manifest file ("---" lines separate them).
std::vector<json::Value> documents(const std::string& file) {
  std::ifstream in(std::filesystem::path(VOUCH_DEPLOY_DIR) / file);
  REQUIRE_MESSAGE(in.good(), "cannot read " << file);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  std::vector<json::Value> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find("\n---\n", start);
    if (end == std::string::npos) end = text.size();
    auto doc = yaml_to_json(std::string_view(text).substr(start, end - start));
    REQUIRE_MESSAGE(doc.ok(), file << ": " << doc.error().message);
    out.push_back(std::move(*doc));
    start = end + 5;
  }
  return out;
}

const json::Value& at(const json::Value& v, std::string_view key) {
  const json::Value* f = v.as_object().find(key);
  REQUIRE_MESSAGE(f != nullptr, "no field " << key);
  return *f;
}

const json::Value* find_kind(const std::vector<json::Value>& docs, std::string_view kind) {
  for (const auto& d : docs) {
    if (at(d, "kind").as_string() == kind) return &d;
  }
  return nullptr;
}

TEST_CASE("webhooks exempt only the namespaces they name, by the immutable name label") {
  const auto docs = documents("webhooks.yaml");
  REQUIRE(docs.size() == 2);
  for (const auto& config : docs) {
    for (const auto& hook : at(config, "webhooks").as_array()) {
      const json::Value& selector = at(hook, "namespaceSelector");
      // No label a namespace's owner can set: only matchExpressions on the name label.
      CHECK(selector.as_object().find("matchLabels") == nullptr);
      const auto& exprs = at(selector, "matchExpressions").as_array();
      REQUIRE(exprs.size() == 1);
      CHECK(at(exprs[0], "key").as_string() == "kubernetes.io/metadata.name");
      CHECK(at(exprs[0], "operator").as_string() == "NotIn");
      std::vector<std::string> names;
      for (const auto& n : at(exprs[0], "values").as_array()) names.push_back(n.as_string());
      CHECK(names == std::vector<std::string>{"kube-system", "vouch-system"});
      // objectSelector labels are set by the workload's owner: none either.
      CHECK(hook.as_object().find("objectSelector") == nullptr);
    }
  }
  // The verifier's namespace needs no opt-out label any more.
  const auto ns = documents("namespace.yaml");
  REQUIRE(ns.size() == 1);
  CHECK(at(ns[0], "metadata").as_object().find("labels") == nullptr);
}

TEST_CASE("the workload: optional credentials Secret, and a state volume at trust.state_dir") {
  const auto docs = documents("deployment.yaml");
  const json::Value* set = find_kind(docs, "StatefulSet");
  REQUIRE(set != nullptr);
  const json::Value& pod = at(at(at(*set, "spec"), "template"), "spec");
  bool credentials_optional = false;
  for (const auto& v : at(pod, "volumes").as_array()) {
    if (at(v, "name").as_string() != "notary-credentials") continue;
    const json::Value& secret = at(v, "secret");
    credentials_optional = secret.as_object().find("optional") != nullptr &&
                           at(secret, "optional").as_bool();
  }
  CHECK(credentials_optional);

  // trust.state_dir of the shipped configuration is a mounted, writable volume claim.
  const auto config_docs = documents("configmap.yaml");
  REQUIRE(config_docs.size() == 1);
  auto config = json::parse(at(at(config_docs[0], "data"), "verifier.json").as_string());
  REQUIRE(config.ok());
  const std::string state_dir(at(at(*config, "trust"), "state_dir").as_string());
  bool mounted = false;
  for (const auto& c : at(pod, "containers").as_array()) {
    for (const auto& m : at(c, "volumeMounts").as_array()) {
      if (at(m, "mountPath").as_string() != state_dir) continue;
      mounted = at(m, "name").as_string() == "state" &&
                m.as_object().find("readOnly") == nullptr;
    }
  }
  CHECK(mounted);
  bool claimed = false;
  for (const auto& t : at(at(*set, "spec"), "volumeClaimTemplates").as_array()) {
    claimed = claimed || at(at(t, "metadata"), "name").as_string() == "state";
  }
  CHECK(claimed);
}

}  // namespace
}  // namespace vouch::verifier
