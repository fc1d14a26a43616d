// Applying staged changes (client/apply.h) with Notary's semantics, one test per rule, over
// real metadata from the repository simulator. Tests assert on Reason, never on message text;
// every failing change is also checked to leave the draft exactly as it was.

#include "client/apply.h"

#include <doctest/doctest.h>

#include <set>

#include "keys/private_key.h"
#include "keys/root_certificate.h"
#include "tests/support/check_macros.h"
#include "tests/support/repo_simulator.h"
#include "tuf/trusted_set.h"

namespace vouch::client {
namespace {

using testing::RepoSimulator;

// Everything a draft holds, as text, to prove that a failed change left it untouched.
std::string state(const TargetsDraft& d) {
  std::string s = tuf::json::canonical(tuf::to_json(d.targets()));
  for (const auto& [n, t] : d.delegated()) {
    s += "\n" + n + "=" + tuf::json::canonical(tuf::to_json(t));
  }
  for (const auto& [n, t] : d.invalid()) {
    s += "\ninvalid " + n + "=" + tuf::json::canonical(tuf::to_json(t));
  }
  for (const auto& n : d.changed()) s += "\nchanged " + n;
  for (const auto& n : d.deleted()) s += "\ndeleted " + n;
  return s;
}

// CHECK_REASON, and the draft is as it was.
#define CHECK_FAILS_CLEANLY(draft, expr, want)   \
  do {                                           \
    const std::string before_ = state(draft);    \
    CHECK_REASON(expr, want);                    \
    CHECK(state(draft) == before_);              \
  } while (false)

tuf::FileMeta meta_of(std::string_view content) { return tuf::FileMeta::of(as_bytes(content)); }

std::set<std::string, std::less<>> names(std::initializer_list<const char*> n) {
  return {n.begin(), n.end()};
}

// A repository with delegations
//   targets/releases   paths {""}
//   targets/qa         paths {"qa/"}
//   targets/qa/nightly paths {"qa/nightly/", "x/"}  (x/ lies outside targets/qa: ineffective)
//   targets/ops        paths {"ops/"}, listed but never published (no metadata)
// and targets "v1" (targets) and "qa/old" (targets/qa).
struct Fixture {
  RepoSimulator sim;
  keys::PublicKey releases_key = sim.add_delegation("targets/releases", {""});
  keys::PublicKey qa_key = sim.add_delegation("targets/qa", {"qa/"});
  keys::PublicKey nightly_key = sim.add_delegation("targets/qa/nightly", {"qa/nightly/", "x/"});
  keys::PublicKey ops_key = sim.signer.create_key(sim.gun(), "ops", keys::KeyType::kEcdsa).value();
  keys::PublicKey spare_key =
      sim.signer.create_key(sim.gun(), "spare", keys::KeyType::kEd25519).value();

  Fixture() {
    sim.add_target("v1", "one");
    sim.role_of("targets/qa").targets["qa/old"] = meta_of("old");
    sim.targets.delegations.keys.emplace(ops_key.id(), ops_key);
    sim.targets.delegations.roles.push_back({"targets/ops", {ops_key.id()}, 1, {"ops/"}});
    sim.publish();
  }

  // The draft a publish would start from: the signed files, parsed.
  TargetsDraft draft() const {
    TargetsDraft d(tuf::parse_targets(sim.files.at("targets")).value().content,
                   {sim.targets_key});
    for (const char* role : {"targets/releases", "targets/qa", "targets/qa/nightly"}) {
      REQUIRE(d.set_delegated(role, tuf::parse_targets(sim.files.at(role)).value().content).ok());
    }
    return d;
  }
};

// can_sign that knows only the keys with the given IDs.
ApplyOptions only_keys(std::vector<std::string> ids) {
  ApplyOptions o;
  o.can_sign = [ids = std::move(ids)](const keys::PublicKey& k) {
    return std::find(ids.begin(), ids.end(), k.id()) != ids.end();
  };
  return o;
}

Status apply(TargetsDraft& d, const Result<Change>& c, const ApplyOptions& o = {},
             std::vector<std::string>* warnings = nullptr) {
  REQUIRE_OK(c);
  return apply_change(d, *c, o, warnings);
}

const tuf::DelegatedRole* role_in(const TargetsDraft& d, std::string_view parent,
                                  std::string_view name) {
  const tuf::Targets* t = d.find(parent);
  return t == nullptr ? nullptr : t->delegations.find(name);
}

// ---- targets ---------------------------------------------------------------------------------

TEST_CASE("create target: adds or replaces it in the role and marks the role changed") {
  Fixture f;
  auto d = f.draft();
  REQUIRE_OK(apply(d, add_target_change("targets", "v2", meta_of("two"))));
  CHECK(d.targets().targets.at("v2") == meta_of("two"));
  CHECK(d.changed() == names({"targets"}));

  REQUIRE_OK(apply(d, add_target_change("targets/releases", "v1", meta_of("new one"))));
  CHECK(d.find("targets/releases")->targets.at("v1") == meta_of("new one"));
  CHECK(d.targets().targets.at("v1") == meta_of("one"));  // only the named role
  CHECK(d.changed() == names({"targets", "targets/releases"}));

  // Replacing with different meta (custom data counts).
  auto custom = meta_of("two");
  custom.custom = tuf::json::parse(R"({"k":1})").value();
  REQUIRE_OK(apply(d, add_target_change("targets", "v2", custom)));
  CHECK(d.targets().targets.at("v2") == custom);
}

TEST_CASE("create target with meta already listed changes nothing and needs no key") {
  Fixture f;
  auto d = f.draft();
  REQUIRE_OK(apply(d, add_target_change("targets", "v1", meta_of("one")), only_keys({})));
  CHECK(d.changed().empty());
  // Different meta does need a key.
  CHECK_FAILS_CLEANLY(d, apply(d, add_target_change("targets", "v1", meta_of("1")), only_keys({})),
                      Reason::kUnknownKey);
  auto st = apply(d, add_target_change("targets", "v1", meta_of("1")), only_keys({}));
  CHECK(st.error().code == Code::kFailedPrecondition);
  REQUIRE_OK(apply(d, add_target_change("targets", "v1", meta_of("1")),
                   only_keys({f.sim.targets_key.id()})));
}

TEST_CASE("create target: the name must lie within the role's effective paths") {
  Fixture f;
  auto d = f.draft();
  REQUIRE_OK(apply(d, add_target_change("targets/qa", "qa/new", meta_of("n"))));
  CHECK_FAILS_CLEANLY(d, apply(d, add_target_change("targets/qa", "prod/new", meta_of("n"))),
                      Reason::kBadPath);
  REQUIRE_OK(apply(d, add_target_change("targets/qa/nightly", "qa/nightly/1", meta_of("n"))));
  // "x/" is among nightly's own paths but outside its parent's: not effective.
  CHECK_FAILS_CLEANLY(d, apply(d, add_target_change("targets/qa/nightly", "x/1", meta_of("n"))),
                      Reason::kBadPath);
  // The top-level role takes any name.
  REQUIRE_OK(apply(d, add_target_change("targets", "x/1", meta_of("n"))));
}

TEST_CASE("create target: the role must exist") {
  Fixture f;
  auto d = f.draft();
  CHECK_FAILS_CLEANLY(d, apply(d, add_target_change("targets/nope", "a", meta_of("a"))),
                      Reason::kBadRole);
  CHECK_FAILS_CLEANLY(d, apply(d, add_target_change("targets/qa/nope", "qa/a", meta_of("a"))),
                      Reason::kBadRole);
  // A wildcard scope can be staged (notary allows it) but names no role.
  CHECK_FAILS_CLEANLY(d, apply(d, add_target_change("targets/*", "a", meta_of("a"))),
                      Reason::kBadRole);
  // Missing keys are not checked before the role is known to exist.
  CHECK_FAILS_CLEANLY(
      d, apply(d, add_target_change("targets/nope", "a", meta_of("a")), only_keys({})),
      Reason::kBadRole);
}

TEST_CASE("create target in a delegation without metadata creates its metadata") {
  Fixture f;
  auto d = f.draft();
  REQUIRE(d.find("targets/ops") == nullptr);
  CHECK_FAILS_CLEANLY(d, apply(d, add_target_change("targets/ops", "elsewhere", meta_of("o"))),
                      Reason::kBadPath);
  CHECK_FAILS_CLEANLY(
      d, apply(d, add_target_change("targets/ops", "ops/tool", meta_of("o")),
               only_keys({f.sim.targets_key.id()})),
      Reason::kUnknownKey);
  REQUIRE_OK(apply(d, add_target_change("targets/ops", "ops/tool", meta_of("o")),
                   only_keys({f.ops_key.id()})));
  const tuf::Targets* ops = d.find("targets/ops");
  REQUIRE(ops != nullptr);
  CHECK(ops->version == 0);  // the signer makes it version 1
  CHECK(ops->expires.text.empty());
  CHECK(ops->targets.size() == 1);
  CHECK(d.changed() == names({"targets/ops"}));
}

TEST_CASE("delete target: removes it; paths are not checked; absent is a no-op") {
  Fixture f;
  auto d = f.draft();
  REQUIRE_OK(apply(d, remove_target_change("targets/qa", "qa/old")));
  CHECK(d.find("targets/qa")->targets.empty());
  CHECK(d.changed() == names({"targets/qa"}));

  auto d2 = f.draft();
  REQUIRE_OK(apply(d2, remove_target_change("targets", "never-there"), only_keys({})));
  // No metadata for targets/ops yet.
  REQUIRE_OK(apply(d2, remove_target_change("targets/ops", "ops/x"), only_keys({})));
  CHECK(d2.changed().empty());

  // A target that lies outside the role's paths (they changed since) can still be removed.
  auto qa = tuf::parse_targets(f.sim.files.at("targets/qa")).value().content;
  qa.targets["prod/stray"] = meta_of("stray");
  REQUIRE(d2.set_delegated("targets/qa", qa).ok());
  REQUIRE_OK(apply(d2, remove_target_change("targets/qa", "prod/stray")));
  CHECK(d2.find("targets/qa")->targets.count("prod/stray") == 0);

  // Removing what is there needs a key; the role must exist.
  CHECK_FAILS_CLEANLY(d2, apply(d2, remove_target_change("targets", "v1"), only_keys({})),
                      Reason::kUnknownKey);
  CHECK_FAILS_CLEANLY(d2, apply(d2, remove_target_change("targets/nope", "v1")),
                      Reason::kBadRole);
}

TEST_CASE("target changes with other actions are refused") {
  Fixture f;
  auto d = f.draft();
  Change c = add_target_change("targets", "v9", meta_of("9")).value();
  c.action = "update";
  CHECK_FAILS_CLEANLY(d, apply_change(d, c), Reason::kMalformed);
  CHECK(apply_change(d, c).error().code == Code::kInvalidArgument);
  c.action = "create";
  c.data.reset();
  CHECK_FAILS_CLEANLY(d, apply_change(d, c), Reason::kMalformed);
  c.data = Bytes{'{', '}'};
  CHECK_FAILS_CLEANLY(d, apply_change(d, c), Reason::kMalformed);
}

// ---- delegations -----------------------------------------------------------------------------

TEST_CASE("delegation create: a new role with its keys, then its paths") {
  Fixture f;
  auto d = f.draft();
  REQUIRE_OK(apply(d, add_delegation_keys_change("targets/ci", {f.spare_key})));
  const tuf::DelegatedRole* ci = role_in(d, "targets", "targets/ci");
  REQUIRE(ci != nullptr);
  CHECK(ci->keyids == std::vector<std::string>{f.spare_key.id()});
  CHECK(ci->threshold == 1);
  CHECK(ci->paths.empty());
  CHECK(d.targets().delegations.keys.count(f.spare_key.id()) == 1);
  CHECK(d.changed() == names({"targets"}));
  CHECK(d.find("targets/ci") == nullptr);  // no metadata until a target is added

  REQUIRE_OK(apply(d, add_delegation_paths_change("targets/ci", {"ci/", "ci/", "tools/"})));
  CHECK(role_in(d, "targets", "targets/ci")->paths == std::vector<std::string>{"ci/", "tools/"});
  REQUIRE_OK(apply(d, add_delegation_paths_change("targets/ci", {"tools/", "more/"})));
  CHECK(role_in(d, "targets", "targets/ci")->paths ==
        std::vector<std::string>{"ci/", "tools/", "more/"});

  // Now targets can go there.
  REQUIRE_OK(apply(d, add_target_change("targets/ci", "ci/build", meta_of("b"))));
  CHECK(d.changed() == names({"targets", "targets/ci"}));
}

TEST_CASE("delegation create: a new role needs keys and a threshold they can meet") {
  Fixture f;
  auto d = f.draft();
  // `notary delegation add --paths` without keys on a role that does not exist: Notary fails
  // too (its threshold is 0).
  CHECK_FAILS_CLEANLY(d, apply(d, add_delegation_paths_change("targets/ci", {"ci/"})),
                      Reason::kBadRole);
  auto staged = [](std::int64_t threshold, std::vector<keys::PublicKey> ks) {
    DelegationPayload p;
    p.threshold = threshold;
    p.add_keys = std::move(ks);
    return Change{"create", "targets/ci", "delegation", "", encode_delegation_payload(p).value()};
  };
  CHECK_FAILS_CLEANLY(d, apply_change(d, staged(1, {})), Reason::kBadRole);
  CHECK_FAILS_CLEANLY(d, apply_change(d, staged(0, {f.spare_key})), Reason::kBadRole);
  CHECK_FAILS_CLEANLY(d, apply_change(d, staged(-1, {f.spare_key})), Reason::kBadRole);
  CHECK_FAILS_CLEANLY(d, apply_change(d, staged(2, {f.spare_key, f.spare_key})),
                      Reason::kBadRole);  // one distinct key
  REQUIRE_OK(apply_change(d, staged(2, {f.spare_key, f.ops_key})));
  CHECK(role_in(d, "targets", "targets/ci")->threshold == 2);
}

TEST_CASE("delegation create on an existing role adds keys and paths, keeps the threshold") {
  Fixture f;
  auto d = f.draft();
  DelegationPayload p;
  p.threshold = 5;  // ignored for a role that exists (Notary)
  p.add_keys = {f.spare_key, f.releases_key};
  p.add_paths = {"qa/more/"};
  // Fields Notary ignores on create.
  p.remove_keys = {f.qa_key.canonical_id()};
  p.remove_paths = {"qa/"};
  p.clear_paths = true;
  REQUIRE_OK(apply_change(d, {"create", "targets/qa", "delegation", "",
                              encode_delegation_payload(p).value()}));
  const tuf::DelegatedRole* qa = role_in(d, "targets", "targets/qa");
  REQUIRE(qa != nullptr);
  CHECK(qa->threshold == 1);
  CHECK(qa->keyids ==
        std::vector<std::string>{f.qa_key.id(), f.spare_key.id(), f.releases_key.id()});
  CHECK(qa->paths == std::vector<std::string>{"qa/", "qa/more/"});
  CHECK(d.changed() == names({"targets"}));
}

TEST_CASE("delegation update: keys by canonical ID, paths removed, cleared, added") {
  Fixture f;
  auto d = f.draft();
  REQUIRE_OK(apply(d, add_delegation_keys_change("targets/qa", {f.spare_key})));
  std::vector<std::string> warnings;
  REQUIRE_OK(apply(d, remove_delegation_keys_change("targets/qa", {f.qa_key.canonical_id(),
                                                                   "0123unknown"}),
                   {}, &warnings));
  CHECK(role_in(d, "targets", "targets/qa")->keyids == std::vector<std::string>{f.spare_key.id()});
  // The removed key is used by no other role of "targets": dropped from its key map.
  CHECK(d.targets().delegations.keys.count(f.qa_key.id()) == 0);
  CHECK(warnings.empty());

  // Removing the last key leaves the role, with a warning (Notary).
  REQUIRE_OK(apply(d, remove_delegation_keys_change("targets/qa", {f.spare_key.canonical_id()}),
                   {}, &warnings));
  CHECK(role_in(d, "targets", "targets/qa")->keyids.empty());
  CHECK(warnings.size() == 1);

  REQUIRE_OK(apply(d, remove_delegation_paths_change("targets/qa", {"qa/", "absent/"})));
  CHECK(role_in(d, "targets", "targets/qa")->paths.empty());

  DelegationPayload p;
  p.add_paths = {"new/"};
  p.remove_paths = {"new/"};  // removal comes first, so the path stays added
  p.add_keys = {f.qa_key};
  REQUIRE_OK(apply_change(d, {"update", "targets/qa", "delegation", "",
                              encode_delegation_payload(p).value()}));
  CHECK(role_in(d, "targets", "targets/qa")->paths == std::vector<std::string>{"new/"});
  CHECK(role_in(d, "targets", "targets/qa")->keyids == std::vector<std::string>{f.qa_key.id()});

  DelegationPayload clear;
  clear.clear_paths = true;
  clear.add_paths = {"only/"};
  REQUIRE_OK(apply_change(d, {"update", "targets/qa", "delegation", "",
                              encode_delegation_payload(clear).value()}));
  CHECK(role_in(d, "targets", "targets/qa")->paths == std::vector<std::string>{"only/"});
  REQUIRE_OK(apply(d, clear_delegation_paths_change("targets/qa")));
  CHECK(role_in(d, "targets", "targets/qa")->paths.empty());
}

TEST_CASE("a key shared by two roles stays in the parent's key map until neither uses it") {
  Fixture f;
  auto d = f.draft();
  REQUIRE_OK(apply(d, add_delegation_keys_change("targets/releases", {f.spare_key})));
  REQUIRE_OK(apply(d, add_delegation_keys_change("targets/qa", {f.spare_key})));
  REQUIRE_OK(apply(d, remove_delegation_keys_change("targets/qa", {f.spare_key.canonical_id()})));
  CHECK(d.targets().delegations.keys.count(f.spare_key.id()) == 1);
  REQUIRE_OK(
      apply(d, remove_delegation_keys_change("targets/releases", {f.spare_key.canonical_id()})));
  CHECK(d.targets().delegations.keys.count(f.spare_key.id()) == 0);
}

TEST_CASE("keys of certificates are removed by their canonical ID only, as in Notary") {
  Fixture f;
  auto priv = keys::PrivateKey::generate(keys::KeyType::kEcdsa).value();
  auto cert = keys::make_root_certificate(priv, "delegate", f.sim.now() - std::chrono::hours(1),
                                          f.sim.now() + std::chrono::hours(24 * 365))
                  .value();
  const auto x509 = keys::PublicKey::from_pem(cert.pem()).value();
  REQUIRE(x509.id() != x509.canonical_id());
  auto d = f.draft();
  REQUIRE_OK(apply(d, add_delegation_keys_change("targets/releases", {x509})));
  CHECK(d.targets().delegations.keys.count(x509.id()) == 1);
  // The certificate's own ID is not what `delegation list` shows; it matches nothing.
  REQUIRE_OK(apply(d, remove_delegation_keys_change("targets/releases", {x509.id()})));
  CHECK(d.targets().delegations.keys.count(x509.id()) == 1);
  REQUIRE_OK(apply(d, remove_delegation_keys_change("targets/releases", {x509.canonical_id()})));
  CHECK(d.targets().delegations.keys.count(x509.id()) == 0);
}

TEST_CASE("delegation changes: name, parent and key rules") {
  Fixture f;
  auto d = f.draft();
  // Updating a role that does not exist.
  CHECK_FAILS_CLEANLY(d, apply(d, remove_delegation_paths_change("targets/nope", {"a"})),
                      Reason::kBadRole);
  // A parent that does not exist.
  CHECK_FAILS_CLEANLY(d, apply(d, add_delegation_keys_change("targets/nope/child", {f.spare_key})),
                      Reason::kBadRole);
  // Scope "targets" is not a delegation.
  Change bad = add_delegation_keys_change("targets/x", {f.spare_key}).value();
  bad.role = "targets";
  CHECK_FAILS_CLEANLY(d, apply_change(d, bad), Reason::kBadRole);
  bad.role = "targets/*";
  CHECK_FAILS_CLEANLY(d, apply_change(d, bad), Reason::kBadRole);  // create on a wildcard
  // The parent must be signable (its keys edit the delegation).
  CHECK_FAILS_CLEANLY(d, apply(d, add_delegation_keys_change("targets/ci", {f.spare_key}),
                               only_keys({f.releases_key.id()})),
                      Reason::kUnknownKey);
  REQUIRE_OK(apply(d, add_delegation_keys_change("targets/ci", {f.spare_key}),
                   only_keys({f.sim.targets_key.id()})));
  // A nested role is edited with its parent delegation's keys.
  CHECK_FAILS_CLEANLY(
      d, apply(d, add_delegation_keys_change("targets/qa/weekly", {f.spare_key}),
               only_keys({f.sim.targets_key.id()})),
      Reason::kUnknownKey);
  REQUIRE_OK(apply(d, add_delegation_keys_change("targets/qa/weekly", {f.spare_key}),
                   only_keys({f.qa_key.id()})));
  CHECK(role_in(d, "targets/qa", "targets/qa/weekly") != nullptr);
  CHECK(d.changed() == names({"targets", "targets/qa"}));
  // Unknown actions.
  Change odd = delete_delegation_change("targets/qa").value();
  odd.action = "rename";
  CHECK_FAILS_CLEANLY(d, apply_change(d, odd), Reason::kMalformed);
}

TEST_CASE("added paths must lie within the parent's effective paths") {
  Fixture f;
  auto d = f.draft();
  CHECK_FAILS_CLEANLY(
      d, apply(d, add_delegation_paths_change("targets/qa/nightly", {"qa/nightly/2/", "prod/"})),
      Reason::kBadPath);
  REQUIRE_OK(apply(d, add_delegation_paths_change("targets/qa/nightly", {"qa/nightly/2/"})));
  // targets delegates every path.
  REQUIRE_OK(apply(d, add_delegation_paths_change("targets/qa", {"anything/"})));
  // A new nested role is checked the same way, before anything is written.
  DelegationPayload p;
  p.threshold = 1;
  p.add_keys = {f.spare_key};
  p.add_paths = {"x/"};
  CHECK_FAILS_CLEANLY(d, apply_change(d, {"create", "targets/qa/nightly/sub", "delegation", "",
                                          encode_delegation_payload(p).value()}),
                      Reason::kBadPath);
}

TEST_CASE("a delegation under a parent without metadata creates the parent's metadata") {
  Fixture f;
  auto d = f.draft();
  REQUIRE(d.find("targets/ops") == nullptr);
  REQUIRE_OK(apply(d, add_delegation_keys_change("targets/ops/sub", {f.spare_key}),
                   only_keys({f.ops_key.id()})));
  const tuf::Targets* ops = d.find("targets/ops");
  REQUIRE(ops != nullptr);
  CHECK(ops->version == 0);
  CHECK(ops->delegations.find("targets/ops/sub") != nullptr);
  CHECK(d.changed() == names({"targets/ops"}));
}

TEST_CASE("delegation delete: from the parent, with its metadata and unused keys") {
  Fixture f;
  auto d = f.draft();
  REQUIRE_OK(apply(d, delete_delegation_change("targets/qa")));
  CHECK(role_in(d, "targets", "targets/qa") == nullptr);
  CHECK(d.targets().delegations.keys.count(f.qa_key.id()) == 0);
  CHECK(d.find("targets/qa") == nullptr);
  CHECK(d.deleted() == names({"targets/qa"}));
  CHECK(d.changed() == names({"targets"}));
  // The child keeps its metadata, unreachable (as in Notary): nothing can edit it now.
  CHECK(d.find("targets/qa/nightly") != nullptr);
  CHECK_FAILS_CLEANLY(d, apply(d, add_target_change("targets/qa/nightly", "qa/nightly/1",
                                                    meta_of("n"))),
                      Reason::kBadRole);

  // A role that does not exist: success, nothing deleted.
  auto d2 = f.draft();
  REQUIRE_OK(apply(d2, delete_delegation_change("targets/never")));
  CHECK(d2.deleted().empty());
  CHECK(d2.changed().empty());
  // The parent must be signable.
  CHECK_FAILS_CLEANLY(d2, apply(d2, delete_delegation_change("targets/qa"), only_keys({})),
                      Reason::kUnknownKey);
  CHECK_FAILS_CLEANLY(d2, apply(d2, delete_delegation_change("targets/nope/x")),
                      Reason::kBadRole);

  // Deleted, created again, and given a target: no longer deleted, fresh metadata.
  REQUIRE_OK(apply(d2, delete_delegation_change("targets/releases")));
  CHECK(d2.deleted() == names({"targets/releases"}));
  REQUIRE_OK(apply(d2, add_delegation_keys_change("targets/releases", {f.spare_key})));
  REQUIRE_OK(apply(d2, add_delegation_paths_change("targets/releases", {""})));
  CHECK(d2.deleted() == names({"targets/releases"}));  // the old metadata is still gone
  REQUIRE_OK(apply(d2, add_target_change("targets/releases", "v1", meta_of("again"))));
  CHECK(d2.deleted().empty());
  CHECK(d2.find("targets/releases")->version == 0);
  CHECK(d2.find("targets/releases")->targets.size() == 1);
}

// ---- witness ---------------------------------------------------------------------------------

TEST_CASE("witness: a loaded role is re-signed unchanged") {
  Fixture f;
  auto d = f.draft();
  REQUIRE_OK(apply_change(d, witness_change("targets/releases"), only_keys({})));
  REQUIRE_OK(apply_change(d, witness_change("targets")));
  CHECK(d.changed() == names({"targets", "targets/releases"}));
  // Any action witnesses (Notary ignores it).
  Change c = witness_change("targets/qa");
  c.action = "create";
  REQUIRE_OK(apply_change(d, c));
  CHECK(d.changed().count("targets/qa") == 1);
}

TEST_CASE("witness: an invalid role comes back; unknown roles and unmeetable thresholds fail") {
  Fixture f;
  auto d = f.draft();
  CHECK_FAILS_CLEANLY(d, apply_change(d, witness_change("targets/ops")), Reason::kBadRole);
  CHECK_FAILS_CLEANLY(d, apply_change(d, witness_change("targets/nope")), Reason::kBadRole);
  CHECK_FAILS_CLEANLY(d, apply_change(d, witness_change("targets/*")), Reason::kBadRole);

  tuf::Targets stale;
  stale.version = 3;
  stale.expires = tuf::Expiry::at(f.sim.now());
  stale.targets["ops/kept"] = meta_of("kept");
  REQUIRE(d.set_invalid("targets/ops", stale).ok());
  REQUIRE_OK(apply_change(d, witness_change("targets/ops")));
  REQUIRE(d.find("targets/ops") != nullptr);
  CHECK(d.find("targets/ops")->targets.count("ops/kept") == 1);
  CHECK(d.find("targets/ops")->version == 3);
  CHECK(d.invalid().empty());
  CHECK(d.changed() == names({"targets/ops"}));

  // A role whose threshold exceeds its keys cannot be brought back by re-signing.
  auto d2 = f.draft();
  DelegationPayload p;
  p.threshold = 2;
  p.add_keys = {f.spare_key, f.ops_key};
  REQUIRE_OK(apply_change(d2, {"create", "targets/ci", "delegation", "",
                               encode_delegation_payload(p).value()}));
  REQUIRE_OK(apply(d2, remove_delegation_keys_change("targets/ci", {f.ops_key.canonical_id()})));
  REQUIRE(d2.set_invalid("targets/ci", stale).ok());
  CHECK_FAILS_CLEANLY(d2, apply_change(d2, witness_change("targets/ci")),
                      Reason::kThresholdNotMet);
}

// ---- purge -----------------------------------------------------------------------------------

TEST_CASE("purge removes a key from every delegation that lists it") {
  Fixture f;
  auto d = f.draft();
  // spare_key signs for targets/releases, targets/qa and targets/qa/nightly.
  REQUIRE_OK(apply(d, add_delegation_keys_change("targets/releases", {f.spare_key})));
  REQUIRE_OK(apply(d, add_delegation_keys_change("targets/qa", {f.spare_key})));
  REQUIRE_OK(apply(d, add_delegation_keys_change("targets/qa/nightly", {f.spare_key})));
  auto before = d.changed();
  CHECK(before == names({"targets", "targets/qa"}));

  std::vector<std::string> warnings;
  REQUIRE_OK(apply(d, purge_delegation_keys_change({f.spare_key.canonical_id()}), {}, &warnings));
  for (auto [parent, role] : {std::pair{"targets", "targets/releases"},
                              std::pair{"targets", "targets/qa"},
                              std::pair{"targets/qa", "targets/qa/nightly"}}) {
    CAPTURE(role);
    const auto& ids = role_in(d, parent, role)->keyids;
    CHECK(std::find(ids.begin(), ids.end(), f.spare_key.id()) == ids.end());
    CHECK(d.find(parent)->delegations.keys.count(f.spare_key.id()) == 0);
  }
  CHECK(role_in(d, "targets", "targets/qa")->keyids == std::vector<std::string>{f.qa_key.id()});
  CHECK(warnings.empty());

  // Purging an only key leaves the role with a warning.
  REQUIRE_OK(apply(d, purge_delegation_keys_change({f.nightly_key.canonical_id()}), {},
                   &warnings));
  CHECK(role_in(d, "targets/qa", "targets/qa/nightly")->keyids.empty());
  CHECK(warnings.size() == 1);
}

TEST_CASE("purge skips, with a warning, roles it cannot sign; subtrees and wildcards") {
  Fixture f;
  auto d = f.draft();
  REQUIRE_OK(apply(d, add_delegation_keys_change("targets/releases", {f.spare_key})));
  REQUIRE_OK(apply(d, add_delegation_keys_change("targets/qa/nightly", {f.spare_key})));
  const auto before = state(d);

  // Only the targets key: targets/releases loses the key, targets/qa (which delegates to
  // nightly) cannot be signed and is left, with a warning.
  std::vector<std::string> warnings;
  const std::vector<std::string> ids = {f.spare_key.canonical_id()};
  auto d1 = d;
  REQUIRE_OK(purge_keys(d1, "targets/*", ids, only_keys({f.sim.targets_key.id()}), &warnings));
  CHECK(role_in(d1, "targets", "targets/releases")->keyids ==
        std::vector<std::string>{f.releases_key.id()});
  CHECK(role_in(d1, "targets/qa", "targets/qa/nightly")->keyids.size() == 2);
  CHECK(warnings.size() == 1);

  // A subtree wildcard touches only that subtree.
  auto d2 = d;
  REQUIRE_OK(purge_keys(d2, "targets/qa/*", ids));
  CHECK(role_in(d2, "targets", "targets/releases")->keyids.size() == 2);
  CHECK(role_in(d2, "targets/qa", "targets/qa/nightly")->keyids ==
        std::vector<std::string>{f.nightly_key.id()});

  // Not a wildcard; unknown key IDs change nothing.
  CHECK_FAILS_CLEANLY(d, purge_keys(d, "targets/qa", ids), Reason::kBadRole);
  const std::vector<std::string> unknown = {"feedface"};
  REQUIRE_OK(purge_keys(d, "targets/*", unknown));
  CHECK(state(d) == before);
  // A wildcard scope with create or delete is not a purge.
  Change del = purge_delegation_keys_change(ids).value();
  del.action = "delete";
  CHECK_FAILS_CLEANLY(d, apply_change(d, del), Reason::kBadRole);
}

// ---- dispatch, order, limits -----------------------------------------------------------------

TEST_CASE("scopes and types Notary does not apply to targets") {
  Fixture f;
  auto d = f.draft();
  Change root{"create", "root", "role", "", Bytes{'{', '}'}};
  CHECK_FAILS_CLEANLY(d, apply_change(d, root), Reason::kBadRole);
  CHECK(apply_change(d, root).error().code == Code::kUnimplemented);
  Change other{"create", "snapshot", "target", "x", std::nullopt};
  CHECK_FAILS_CLEANLY(d, apply_change(d, other), Reason::kBadRole);
  Change type{"create", "targets", "mystery", "x", std::nullopt};
  CHECK_FAILS_CLEANLY(d, apply_change(d, type), Reason::kMalformed);
}

TEST_CASE("apply_changes applies in order and stops at the first error") {
  Fixture f;
  auto d = f.draft();
  const std::vector<Change> changes = {
      add_target_change("targets", "a", meta_of("a")).value(),
      add_target_change("targets", "b", meta_of("b")).value(),
      remove_target_change("targets", "a").value(),
  };
  auto report = apply_changes(d, changes);
  REQUIRE_OK(report);
  CHECK(report->applied == 3);
  CHECK(d.targets().targets.count("a") == 0);
  CHECK(d.targets().targets.count("b") == 1);

  auto d2 = f.draft();
  const std::vector<Change> failing = {
      add_target_change("targets", "a", meta_of("a")).value(),
      add_target_change("targets/qa", "prod/x", meta_of("x")).value(),
      add_target_change("targets", "c", meta_of("c")).value(),
  };
  auto failed = apply_changes(d2, failing);
  CHECK_REASON(failed, Reason::kBadPath);
  CHECK(failed.error().message.find("change #1") != std::string::npos);
  CHECK(d2.targets().targets.count("a") == 1);  // before the failure: applied
  CHECK(d2.targets().targets.count("c") == 0);  // after: not

  // The same over a listing, with warnings collected.
  auto d3 = f.draft();
  std::vector<ListedChange> listed = {
      {"1.change", add_delegation_keys_change("targets/ci", {f.spare_key}).value()},
      {"2.change",
       remove_delegation_keys_change("targets/ci", {f.spare_key.canonical_id()}).value()},
  };
  auto r3 = apply_changes(d3, listed);
  REQUIRE_OK(r3);
  CHECK(r3->applied == 2);
  CHECK(r3->warnings.size() == 1);
}

TEST_CASE("metadata limits bound what changes may grow a role to") {
  Fixture f;
  auto d = f.draft();
  ApplyOptions o;
  o.limits.max_targets = 2;  // targets lists v1
  REQUIRE_OK(apply(d, add_target_change("targets", "v2", meta_of("2")), o));
  CHECK_FAILS_CLEANLY(d, apply(d, add_target_change("targets", "v3", meta_of("3")), o),
                      Reason::kTooLarge);
  REQUIRE_OK(apply(d, add_target_change("targets", "v2", meta_of("2b")), o));  // replacing is fine

  o.limits.max_delegations = 3;  // targets delegates to releases, qa and ops
  CHECK_FAILS_CLEANLY(d, apply(d, add_delegation_keys_change("targets/ci", {f.spare_key}), o),
                      Reason::kTooLarge);
  o.limits.max_paths = 2;
  CHECK_FAILS_CLEANLY(
      d, apply(d, add_delegation_paths_change("targets/releases", {"a/", "b/"}), o),
      Reason::kTooLarge);
}

// ---- end to end ------------------------------------------------------------------------------

TEST_CASE("a draft from a TrustedSet, changed, signed and verified again by a TrustedSet") {
  Fixture f;
  auto load = [&](const RepoSimulator& sim) {
    auto set = tuf::TrustedSet::bootstrap(sim.gun(), sim.files.at("root"),
                                          tuf::RootOrigin::kTrustedBefore, {}, sim.now())
                   .value();
    REQUIRE_OK(set.update_timestamp(sim.files.at("timestamp")));
    REQUIRE_OK(set.update_snapshot(sim.files.at("snapshot")));
    REQUIRE_OK(set.update_targets(sim.files.at("targets")));
    for (const auto& [role, t] : sim.delegated) {
      if (sim.files.count(role) != 0) {
        REQUIRE_OK(set.update_delegated_targets(role, sim.files.at(role)));
      }
    }
    return set;
  };
  auto set = load(f.sim);
  auto d = TargetsDraft::from_trusted_set(set);
  REQUIRE_OK(d);
  CHECK(d->delegated().size() == 3);
  CHECK(d->targets_keys().size() == 1);

  const auto ci_key = f.sim.signer.create_key(f.sim.gun(), "ci", keys::KeyType::kEcdsa).value();
  const auto signer_has = [&](const keys::PublicKey& k) {
    return f.sim.signer.public_key(k.canonical_id()).ok();
  };
  ApplyOptions o;
  o.can_sign = signer_has;
  const std::vector<Change> changes = {
      add_delegation_keys_change("targets/ci", {ci_key}).value(),
      add_delegation_paths_change("targets/ci", {"ci/"}).value(),
      add_target_change("targets/ci", "ci/tool", meta_of("tool")).value(),
      add_target_change("targets/qa", "qa/new", meta_of("new")).value(),
      remove_target_change("targets", "v1").value(),
      delete_delegation_change("targets/releases").value(),
  };
  REQUIRE_OK(apply_changes(*d, changes, o));
  CHECK(d->changed() == names({"targets", "targets/ci", "targets/qa"}));
  CHECK(d->deleted() == names({"targets/releases"}));

  // "Publish": bump versions and set expiry as the signer would, hand to the simulator.
  RepoSimulator& sim = f.sim;
  for (const auto& role : d->changed()) {
    tuf::Targets t = *d->find(role);
    t.version += 1;
    t.expires = tuf::Expiry::at(sim.now() + std::chrono::hours(24 * 90));
    if (role == "targets") {
      sim.targets = t;
    } else {
      sim.delegated[role] = t;
    }
  }
  for (const auto& role : d->deleted()) {
    sim.delegated.erase(role);
    sim.files.erase(role);
  }
  sim.publish();

  auto after = load(sim);
  CHECK(after.find_target("v1") == std::nullopt);
  auto tool = after.find_target("ci/tool");
  REQUIRE(tool.has_value());
  CHECK(tool->role == "targets/ci");
  CHECK(tool->meta == meta_of("tool"));
  CHECK(after.find_target("qa/new")->role == "targets/qa");
  CHECK(after.targets("targets/ci")->metadata.content.version == 1);
  CHECK(after.targets("targets/releases") == nullptr);
}

}  // namespace
}  // namespace vouch::client
