// tuf::validate_update: every rule of Notary's validateUpdate (REFERENCE §1.3) and the
// hardening of REFERENCE §9, one negative test per rule, plus the snapshot/timestamp the server
// generates and a replay of the real Notary's version histories (tests/data/notary).

#include <doctest/doctest.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include "tests/support/repo_simulator.h"
#include "keys/root_certificate.h"
#include "tuf/update_validator.h"
#include "tuf/verify.h"

namespace vouch::tuf {
namespace {

using testing::RepoSimulator;
using namespace std::chrono_literals;

std::shared_ptr<const std::string> share(std::string s) {
  return std::make_shared<const std::string>(std::move(s));
}

// A RepoState that records which roles were read (to check that cost follows the change).
class CountingState final : public RepoState {
 public:
  explicit CountingState(const RepoState& inner) : inner_(inner) {}
  Result<std::optional<StoredRole>> current(std::string_view role) const override {
    reads.emplace_back(role);
    return inner_.current(role);
  }
  mutable std::vector<std::string> reads;

 private:
  const RepoState& inner_;
};

// vouch-server in miniature: the stored state, the keys the server holds, and the publish
// flow (validate, generate, store).
class Server {
 public:
  explicit Server(RepoSimulator& sim) : sim_(sim), gun_(sim.gun()), now_(sim.now()) {
    hold(sim.timestamp_key);
  }

  void hold(const keys::PublicKey& key) { held_.insert(key.id()); }
  void release(const keys::PublicKey& key) { held_.erase(key.id()); }

  ValidationOptions options() const {
    ValidationOptions o;
    o.gun = gun_;
    o.now = now_;
    o.server_holds_key = [held = held_](const keys::PublicKey& k) -> Result<bool> {
      return held.count(k.id()) != 0;
    };
    return o;
  }

  std::vector<UploadPart> parts(const std::vector<std::string>& roles) const {
    std::vector<UploadPart> out;
    for (const auto& r : roles) out.push_back({r, share(sim_.files.at(r))});
    return out;
  }

  UpdateResult<ValidatedUpdate> validate(const std::vector<UploadPart>& parts) const {
    return validate_update(state, parts, options());
  }
  UpdateResult<ValidatedUpdate> validate(const std::vector<std::string>& roles) const {
    return validate(parts(roles));
  }

  // Validates, generates and stores; fails the test if anything is rejected.
  std::vector<RoleFile> publish(const std::vector<std::string>& roles) {
    auto update = validate(roles);
    REQUIRE_MESSAGE(update.ok(), update.error().message);
    auto files = complete_update(*update, sim_.signer, now_);
    REQUIRE_MESSAGE(files.ok(), files.error().message);
    for (const auto& f : *files) state.put(f.role, f.version, f.bytes);
    return *files;
  }

  MemoryRepoState state;

 private:
  RepoSimulator& sim_;
  std::string gun_;
  TimePoint now_;
  std::set<std::string> held_;
};

// Re-signs one role from the simulator's typed model, leaving every other file as it is
// (RepoSimulator::publish re-signs everything, and ECDSA signatures differ each time).
void resign(RepoSimulator& sim, const std::string& role) {
  if (role == "root") {
    sim.files["root"] = sim.sign(to_json(sim.root), sim.keys_for("root"));
  } else {
    sim.files[role] = sim.sign(to_json(sim.role_of(role)), sim.keys_for(role));
  }
}

// Re-signs the snapshot over the current files (all but snapshot and timestamp).
void resign_snapshot(RepoSimulator& sim, std::int64_t version) {
  sim.snapshot.meta.clear();
  for (const auto& [name, bytes] : sim.files) {
    if (name != "snapshot" && name != "timestamp") {
      sim.snapshot.meta[name] = FileMeta::of(as_bytes(bytes));
    }
  }
  sim.snapshot.version = version;
  sim.files["snapshot"] = sim.sign(to_json(sim.snapshot), {sim.snapshot_key});
}

// Asserts the rejection class and reason (never message text).
#define CHECK_REJECTED(result, cls, why)                       \
  do {                                                          \
    const auto& r_ = (result);                                  \
    REQUIRE_FALSE(r_.ok());                                     \
    INFO(r_.error().message);                                   \
    CHECK(r_.error().error_class == (cls));           \
    CHECK(r_.error().reason == (why));                          \
  } while (false)

const std::vector<std::string> kFirst = {"root", "targets", "snapshot"};

// A root key as Notary makes them (self-signed certificate, CN = `cn`), held by sim's signer.
keys::PublicKey make_root_key(RepoSimulator& sim, std::string_view cn, TimePoint not_before,
                              TimePoint not_after) {
  auto priv = keys::PrivateKey::generate(keys::KeyType::kEcdsa).value();
  auto cert = keys::make_root_certificate(priv, cn, not_before, not_after).value();
  sim.signer.add_key(std::move(priv));
  return keys::PublicKey::from_tuf(keys::KeyType::kEcdsaX509, as_bytes(cert.pem())).value();
}

// Makes `key` the only root key of sim's (unpublished) root.
void replace_root_key(RepoSimulator& sim, const keys::PublicKey& key) {
  sim.root.keys.erase(sim.root_key.id());
  sim.root_key = key;
  sim.root.keys.emplace(key.id(), key);
  sim.root.roles["root"] = {{key.id()}, 1};
}

// ---------------------------------------------------------------------------------------------
// Accepted publishes

TEST_CASE("first publish: root, targets and snapshot accepted; the server adds the timestamp") {
  RepoSimulator sim;
  Server srv(sim);
  // Parts in any order; files come out in dependency order, holding the uploaded buffers.
  auto parts = srv.parts({"snapshot", "targets", "root"});
  auto update = srv.validate(parts);
  REQUIRE_MESSAGE(update.ok(), update.error().message);
  REQUIRE(update->files.size() == 3);
  CHECK(update->files[0].role == "root");
  CHECK(update->files[1].role == "targets");
  CHECK(update->files[2].role == "snapshot");
  CHECK(update->files[0].bytes.get() == parts[2].bytes.get());
  CHECK(update->files[1].bytes.get() == parts[1].bytes.get());
  CHECK(update->files[2].bytes.get() == parts[0].bytes.get());
  CHECK(update->files[1].meta == FileMeta::of(as_bytes(sim.files.at("targets"))));
  CHECK(update->files[1].version == 1);
  CHECK_FALSE(update->needs_snapshot);
  CHECK(update->previous_snapshot == nullptr);
  CHECK(update->next_timestamp_version == 1);
  REQUIRE(update->timestamp_keys.size() == 1);
  CHECK(update->timestamp_keys[0].id() == sim.timestamp_key.id());
  REQUIRE(update->root != nullptr);
  CHECK(update->root->content.version == 1);

  auto files = complete_update(*update, sim.signer, sim.now()).value();
  REQUIRE(files.size() == 4);
  const RoleFile& ts = files.back();
  CHECK(ts.role == "timestamp");
  CHECK(ts.version == 1);
  CHECK(ts.expires.time == sim.now() + kTimestampLifetime);
  auto parsed = parse_timestamp(*ts.bytes).value();
  CHECK(verify_signatures(parsed, sim.root.keys, sim.root.roles.at("timestamp"), "timestamp").ok());
  CHECK(parsed.content.meta.at("snapshot").check(as_bytes(sim.files.at("snapshot"))).ok());
  CHECK(ts.meta == FileMeta::of(as_bytes(*ts.bytes)));
}

TEST_CASE("a server-held snapshot key: the server builds the snapshot from the exact bytes") {
  RepoSimulator sim;
  Server srv(sim);
  srv.hold(sim.snapshot_key);
  auto update = srv.validate(std::vector<std::string>{"root", "targets"});
  REQUIRE_MESSAGE(update.ok(), update.error().message);
  CHECK(update->needs_snapshot);
  CHECK(update->next_snapshot_version == 1);
  REQUIRE(update->snapshot_keys.size() == 1);
  CHECK(update->snapshot_keys[0].id() == sim.snapshot_key.id());
  CHECK(update->snapshot_changes.set.size() == 2);
  CHECK(update->snapshot_changes.removed.empty());

  auto files = complete_update(*update, sim.signer, sim.now()).value();
  REQUIRE(files.size() == 4);
  CHECK(files[2].role == "snapshot");
  auto snap = parse_snapshot(*files[2].bytes).value();
  CHECK(snap.content.version == 1);
  CHECK(verify_signatures(snap, sim.root.keys, sim.root.roles.at("snapshot"), "snapshot").ok());
  CHECK(snap.content.meta.size() == 2);
  CHECK(snap.content.meta.at("root").check(as_bytes(sim.files.at("root"))).ok());
  CHECK(snap.content.meta.at("targets").check(as_bytes(sim.files.at("targets"))).ok());
  auto ts = parse_timestamp(*files[3].bytes).value();
  CHECK(ts.content.meta.at("snapshot").check(as_bytes(*files[2].bytes)).ok());
  for (const auto& f : files) srv.state.put(f.role, f.version, f.bytes);

  // Next publish: targets only; the snapshot is the previous one with targets replaced.
  sim.targets.version = 2;
  sim.add_target("v2", "two");
  resign(sim, "targets");
  auto next = srv.validate(std::vector<std::string>{"targets"});
  REQUIRE_MESSAGE(next.ok(), next.error().message);
  CHECK(next->needs_snapshot);
  CHECK(next->next_snapshot_version == 2);
  CHECK(next->next_timestamp_version == 2);
  REQUIRE(next->previous_snapshot != nullptr);
  CHECK(next->snapshot_changes.set.size() == 1);
  auto files2 = complete_update(*next, sim.signer, sim.now()).value();
  auto snap2 = parse_snapshot(*files2[1].bytes).value();
  CHECK(snap2.content.version == 2);
  CHECK(snap2.content.meta.at("root") == snap.content.meta.at("root"));
  CHECK(snap2.content.meta.at("targets").check(as_bytes(sim.files.at("targets"))).ok());
}

TEST_CASE("cost follows the change: unchanged stored roles are not read, let alone verified") {
  RepoSimulator sim;
  sim.add_delegation("targets/a", {"a/"});
  sim.add_delegation("targets/b", {"b/"});
  sim.publish();
  Server srv(sim);
  srv.publish({"root", "targets", "targets/a", "targets/b", "snapshot"});

  SUBCASE("a targets change reads root, the stored versions and the snapshot only") {
    sim.targets.version = 2;
    sim.add_target("v2", "two");
    resign(sim, "targets");
    resign_snapshot(sim, 2);
    CountingState counting(srv.state);
    auto update = validate_update(counting, srv.parts({"targets", "snapshot"}), srv.options());
    REQUIRE_MESSAGE(update.ok(), update.error().message);
    std::set<std::string> reads(counting.reads.begin(), counting.reads.end());
    CHECK(reads == std::set<std::string>{"root", "targets", "snapshot", "timestamp"});
    CHECK(reads.size() == counting.reads.size());  // each role read once
  }
  SUBCASE("a delegation change reads its parent, not its sibling") {
    sim.role_of("targets/a").version = 2;
    sim.role_of("targets/a").targets["a/1"] = FileMeta::of(as_bytes("1"));
    resign(sim, "targets/a");
    resign_snapshot(sim, 2);
    CountingState counting(srv.state);
    auto update = validate_update(counting, srv.parts({"targets/a", "snapshot"}), srv.options());
    REQUIRE_MESSAGE(update.ok(), update.error().message);
    std::set<std::string> reads(counting.reads.begin(), counting.reads.end());
    CHECK(reads == std::set<std::string>{"root", "targets", "targets/a", "snapshot", "timestamp"});
  }
  SUBCASE("trust_stored_snapshot = false checks every listed role's stored bytes") {
    sim.targets.version = 2;
    resign(sim, "targets");
    resign_snapshot(sim, 2);
    CountingState counting(srv.state);
    auto options = srv.options();
    options.trust_stored_snapshot = false;
    auto update = validate_update(counting, srv.parts({"targets", "snapshot"}), options);
    REQUIRE_MESSAGE(update.ok(), update.error().message);
    std::set<std::string> reads(counting.reads.begin(), counting.reads.end());
    CHECK(reads.count("targets/a") == 1);
    CHECK(reads.count("targets/b") == 1);
  }
}

TEST_CASE("parsed_root_hint: used when its bytes are the stored root's, ignored otherwise") {
  RepoSimulator sim;
  Server srv(sim);
  srv.publish(kFirst);
  sim.targets.version = 2;
  resign(sim, "targets");
  resign_snapshot(sim, 2);
  auto options = srv.options();
  options.parsed_root_hint =
      std::make_shared<const Metadata<Root>>(parse_root(sim.files.at("root")).value());
  auto update = validate_update(srv.state, srv.parts({"targets", "snapshot"}), options);
  REQUIRE_MESSAGE(update.ok(), update.error().message);
  CHECK(update->root.get() == options.parsed_root_hint.get());

  RepoSimulator other;  // another repository's root: different bytes, so not used
  options.parsed_root_hint =
      std::make_shared<const Metadata<Root>>(parse_root(other.files.at("root")).value());
  update = validate_update(srv.state, srv.parts({"targets", "snapshot"}), options);
  REQUIRE_MESSAGE(update.ok(), update.error().message);
  CHECK(update->root.get() != options.parsed_root_hint.get());
  CHECK(update->root->content.keys.count(sim.root_key.id()) == 1);
}

TEST_CASE("delegations: verified against the parent's keys, parents from the upload or store") {
  RepoSimulator sim;
  sim.add_delegation("targets/a", {"a/"});
  sim.add_delegation("targets/a/b", {"a/b/"});
  sim.role_of("targets/a/b").targets["a/b/1"] = FileMeta::of(as_bytes("1"));
  sim.publish();
  Server srv(sim);
  auto files = srv.publish({"targets/a/b", "root", "targets/a", "targets", "snapshot"});
  CHECK(files[0].role == "root");
  CHECK(files[1].role == "targets");
  CHECK(files[2].role == "targets/a");
  CHECK(files[3].role == "targets/a/b");
  CHECK(files[4].role == "snapshot");

  // Now the parents come from the store.
  sim.role_of("targets/a/b").version = 2;
  sim.role_of("targets/a/b").targets["a/b/2"] = FileMeta::of(as_bytes("2"));
  resign(sim, "targets/a/b");
  resign_snapshot(sim, 2);
  srv.publish({"targets/a/b", "snapshot"});

  SUBCASE("negative: a delegation signed by a key its parent does not list") {
    sim.role_of("targets/a/b").version = 3;
    sim.files["targets/a/b"] = sim.sign(to_json(sim.role_of("targets/a/b")), {sim.targets_key});
    resign_snapshot(sim, 3);
    CHECK_REJECTED(srv.validate(std::vector<std::string>{"targets/a/b", "snapshot"}),
                   UpdateErrorClass::kBadTargets, Reason::kThresholdNotMet);
  }
  SUBCASE("negative: an expired delegation") {
    sim.role_of("targets/a/b").version = 3;
    sim.role_of("targets/a/b").expires = Expiry::at(sim.now() - 1h);
    resign(sim, "targets/a/b");
    resign_snapshot(sim, 3);
    CHECK_REJECTED(srv.validate(std::vector<std::string>{"targets/a/b", "snapshot"}),
                   UpdateErrorClass::kBadTargets, Reason::kExpired);
  }
  SUBCASE("negative: a stored parent that no longer verifies") {
    // targets gives targets/a a new key; targets/a is not re-signed with it.
    auto fresh = sim.signer.create_key(sim.gun(), "targets/a", keys::KeyType::kEcdsa).value();
    sim.targets.delegations.keys.emplace(fresh.id(), fresh);
    for (auto& d : sim.targets.delegations.roles) {
      if (d.name == "targets/a") d.keyids = {fresh.id()};
    }
    sim.targets.version = 2;
    resign(sim, "targets");
    resign_snapshot(sim, 3);
    srv.publish({"targets", "snapshot"});
    sim.role_of("targets/a/b").version = 3;
    resign(sim, "targets/a/b");
    resign_snapshot(sim, 4);
    CHECK_REJECTED(srv.validate(std::vector<std::string>{"targets/a/b", "snapshot"}),
                   UpdateErrorClass::kBadTargets, Reason::kThresholdNotMet);
  }
}

// ---------------------------------------------------------------------------------------------
// The upload itself

TEST_CASE("negative: a timestamp part is rejected: the timestamp is server-owned") {
  RepoSimulator sim;
  Server srv(sim);
  CHECK_REJECTED(srv.validate(std::vector<std::string>{"root", "targets", "snapshot", "timestamp"}),
                 UpdateErrorClass::kInvalidRole, Reason::kBadRole);
}

TEST_CASE("negative: unknown role names are INVALID_ROLE") {
  RepoSimulator sim;
  Server srv(sim);
  for (const char* bad : {"mirror", "targets/", "targets/../root", "targets/A", "", "root.json",
                          "targets/a\nb"}) {
    INFO(bad);
    auto parts = srv.parts(kFirst);
    parts.push_back({bad, share(sim.files.at("targets"))});
    CHECK_REJECTED(srv.validate(parts), UpdateErrorClass::kInvalidRole, Reason::kBadRole);
  }
}

TEST_CASE("negative: a repeated part, a part without bytes, too many parts") {
  RepoSimulator sim;
  Server srv(sim);
  auto parts = srv.parts({"root", "targets", "snapshot", "targets"});
  CHECK_REJECTED(srv.validate(parts), UpdateErrorClass::kMalformedUpload, Reason::kMalformed);
  parts = srv.parts(kFirst);
  parts[1].bytes = nullptr;
  CHECK_REJECTED(srv.validate(parts), UpdateErrorClass::kMalformedUpload, Reason::kMalformed);
  auto options = srv.options();
  options.limits.max_parts = 2;
  CHECK_REJECTED(validate_update(srv.state, srv.parts(kFirst), options),
                 UpdateErrorClass::kTooLarge, Reason::kTooLarge);
}

TEST_CASE("negative: malformed JSON, duplicate keys, and files over a limit") {
  RepoSimulator sim;
  Server srv(sim);
  auto parts = srv.parts(kFirst);
  parts[1].bytes = share(sim.files.at("targets").substr(0, 100));
  CHECK_REJECTED(srv.validate(parts), UpdateErrorClass::kMalformedJson, Reason::kMalformed);

  // REFERENCE §9: a duplicate key must not let an unsigned value in.
  std::string dup = sim.files.at("targets");
  dup.insert(dup.size() - 1, R"(,"signed":{})");
  parts[1].bytes = share(dup);
  CHECK_REJECTED(srv.validate(parts), UpdateErrorClass::kMalformedJson, Reason::kDuplicateKey);

  auto options = srv.options();
  options.limits.metadata.json.max_bytes = 100;
  CHECK_REJECTED(validate_update(srv.state, srv.parts(kFirst), options),
                 UpdateErrorClass::kTooLarge, Reason::kTooLarge);
}

TEST_CASE("negative: a part whose _type is not its role's") {
  RepoSimulator sim;
  Server srv(sim);
  auto parts = srv.parts(kFirst);
  parts[1].bytes = share(sim.files.at("snapshot"));
  CHECK_REJECTED(srv.validate(parts), UpdateErrorClass::kBadTargets, Reason::kWrongType);
  parts = srv.parts(kFirst);
  parts[0].bytes = share(sim.files.at("targets"));
  CHECK_REJECTED(srv.validate(parts), UpdateErrorClass::kBadRoot, Reason::kWrongType);
  parts = srv.parts(kFirst);
  parts[2].bytes = share(sim.files.at("timestamp"));
  CHECK_REJECTED(srv.validate(parts), UpdateErrorClass::kBadSnapshot, Reason::kWrongType);
}

// ---------------------------------------------------------------------------------------------
// Root

TEST_CASE("negative: no pre-existing root and no root provided") {
  RepoSimulator sim;
  Server srv(sim);
  CHECK_REJECTED(srv.validate(std::vector<std::string>{"targets", "snapshot"}),
                 UpdateErrorClass::kValidation, Reason::kNotFound);
}

TEST_CASE("negative: the root version must be the stored one or the next") {
  RepoSimulator sim;
  Server srv(sim);
  srv.publish(kFirst);
  sim.root.version = 3;
  resign(sim, "root");
  resign_snapshot(sim, 2);
  CHECK_REJECTED(srv.validate(std::vector<std::string>{"root", "snapshot"}),
                 UpdateErrorClass::kBadRoot, Reason::kBadVersion);
  // With no stored root, Notary counts the current version as 1: 1 and 2 pass, 3 does not.
  Server fresh(sim);
  CHECK_REJECTED(fresh.validate(kFirst), UpdateErrorClass::kBadRoot, Reason::kBadVersion);
}

TEST_CASE("negative: re-uploading the stored root version is an old version") {
  RepoSimulator sim;
  Server srv(sim);
  srv.publish(kFirst);
  resign_snapshot(sim, 2);
  CHECK_REJECTED(srv.validate(std::vector<std::string>{"root", "snapshot"}),
                 UpdateErrorClass::kOldVersion, Reason::kRollback);
}

TEST_CASE("root rotation: signed by a threshold of the previous root's keys AND its own") {
  RepoSimulator sim;
  Server srv(sim);
  srv.publish(kFirst);
  const keys::PublicKey old_key = sim.root_key;
  const keys::PublicKey new_key =
      make_root_key(sim, sim.gun(), sim.now() - 1h, sim.now() + 24h * 3650);
  replace_root_key(sim, new_key);
  sim.root.version = 2;
  auto upload = [&](std::vector<keys::PublicKey> signers) {
    sim.files["root"] = sim.sign(to_json(sim.root), signers);
    resign_snapshot(sim, 2);
    return srv.validate(std::vector<std::string>{"root", "snapshot"});
  };
  SUBCASE("negative: only the new key signed") {
    CHECK_REJECTED(upload({new_key}), UpdateErrorClass::kBadRoot, Reason::kThresholdNotMet);
  }
  SUBCASE("negative: only the old key signed") {
    CHECK_REJECTED(upload({old_key}), UpdateErrorClass::kBadRoot, Reason::kThresholdNotMet);
  }
  SUBCASE("both signed") {
    auto update = upload({old_key, new_key});
    REQUIRE_MESSAGE(update.ok(), update.error().message);
    CHECK(update->root->content.keys.count(new_key.id()) == 1);
  }
}

TEST_CASE("negative: root keys must be X.509 certificates") {
  RepoSimulator sim;
  replace_root_key(sim, sim.signer.create_key(sim.gun(), "root", keys::KeyType::kEcdsa).value());
  sim.publish();
  Server srv(sim);
  CHECK_REJECTED(srv.validate(kFirst), UpdateErrorClass::kBadRoot, Reason::kBadCertificate);
}

TEST_CASE("negative: the root certificate's CN must be the GUN") {
  RepoSimulator sim;
  Server srv(sim);
  auto options = srv.options();
  options.gun = "example.com/someone/else";
  CHECK_REJECTED(validate_update(srv.state, srv.parts(kFirst), options),
                 UpdateErrorClass::kBadRoot, Reason::kBadCertificate);
}

TEST_CASE("negative: an expired root certificate") {
  RepoSimulator sim;
  replace_root_key(sim, make_root_key(sim, sim.gun(), sim.now() - 48h, sim.now() - 1h));
  sim.publish();
  Server srv(sim);
  CHECK_REJECTED(srv.validate(kFirst), UpdateErrorClass::kBadRoot, Reason::kExpired);
}

// A root certificate signed with ECDSA-SHA1 (Notary refuses those), made with OpenSSL.
keys::PublicKey make_sha1_root_key(RepoSimulator& sim) {
  auto priv = keys::PrivateKey::generate(keys::KeyType::kEcdsa).value();
  const auto der = priv.to_pkcs8_der();
  const unsigned char* p = der.data();
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey(
      d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(der.size())), EVP_PKEY_free);
  REQUIRE(pkey != nullptr);
  std::unique_ptr<X509, decltype(&X509_free)> x(X509_new(), X509_free);
  REQUIRE(X509_set_version(x.get(), 2) == 1);
  REQUIRE(ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 7) == 1);
  X509_NAME* name = X509_get_subject_name(x.get());
  REQUIRE(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                     reinterpret_cast<const unsigned char*>(sim.gun().c_str()),
                                     -1, -1, 0) == 1);
  REQUIRE(X509_set_issuer_name(x.get(), name) == 1);
  const auto secs = [](TimePoint t) {
    return static_cast<time_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                   t.time_since_epoch())
                                   .count());
  };
  REQUIRE(ASN1_TIME_set(X509_getm_notBefore(x.get()), secs(sim.now() - 1h)) != nullptr);
  REQUIRE(ASN1_TIME_set(X509_getm_notAfter(x.get()), secs(sim.now() + 24h * 365)) != nullptr);
  REQUIRE(X509_set_pubkey(x.get(), pkey.get()) == 1);
  REQUIRE(X509_sign(x.get(), pkey.get(), EVP_sha1()) > 0);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  REQUIRE(PEM_write_bio_X509(bio.get(), x.get()) == 1);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  std::string pem(data, static_cast<std::size_t>(len));
  sim.signer.add_key(std::move(priv));
  return keys::PublicKey::from_tuf(keys::KeyType::kEcdsaX509, as_bytes(pem)).value();
}

TEST_CASE("negative: a SHA-1 signed root certificate") {
  RepoSimulator sim;
  replace_root_key(sim, make_sha1_root_key(sim));
  sim.publish();
  Server srv(sim);
  CHECK_REJECTED(srv.validate(kFirst), UpdateErrorClass::kBadRoot, Reason::kBadCertificate);
}

TEST_CASE("negative: an expired root") {
  RepoSimulator sim;
  sim.modify_and_resign("root", [](json::Object& s) { s.set("expires", "2020-01-01T00:00:00Z"); });
  resign_snapshot(sim, 1);
  Server srv(sim);
  CHECK_REJECTED(srv.validate(kFirst), UpdateErrorClass::kBadRoot, Reason::kExpired);
}

TEST_CASE("negative: the base roles must all be defined") {
  RepoSimulator sim;
  sim.modify_and_resign("root",
                        [](json::Object& s) { s.find("roles")->as_object().erase("timestamp"); });
  resign_snapshot(sim, 1);
  Server srv(sim);
  CHECK_REJECTED(srv.validate(kFirst), UpdateErrorClass::kBadRoot, Reason::kBadRole);
}

TEST_CASE("negative: root roles need threshold >= 1 and defined key IDs") {
  RepoSimulator sim;
  Server srv(sim);
  SUBCASE("threshold 0") {
    sim.modify_and_resign("root", [](json::Object& s) {
      s.find("roles")->as_object().find("targets")->as_object().set("threshold", 0);
    });
    resign_snapshot(sim, 1);
    CHECK_REJECTED(srv.validate(kFirst), UpdateErrorClass::kBadRoot, Reason::kMalformed);
  }
  SUBCASE("a key ID without a key") {
    sim.modify_and_resign("root", [](json::Object& s) {
      auto& targets = s.find("roles")->as_object().find("targets")->as_object();
      targets.find("keyids")->as_array().emplace_back(std::string(64, 'a'));
    });
    resign_snapshot(sim, 1);
    CHECK_REJECTED(srv.validate(kFirst), UpdateErrorClass::kBadRoot, Reason::kUnknownKey);
  }
}

TEST_CASE("negative: a new root that changes the targets keys needs targets signed with them") {
  RepoSimulator sim;
  Server srv(sim);
  srv.publish(kFirst);
  auto fresh = sim.signer.create_key(sim.gun(), "targets", keys::KeyType::kEcdsa).value();
  sim.root.keys.erase(sim.targets_key.id());
  sim.root.keys.emplace(fresh.id(), fresh);
  sim.root.roles["targets"] = {{fresh.id()}, 1};
  sim.root.version = 2;
  resign(sim, "root");
  resign_snapshot(sim, 2);
  CHECK_REJECTED(srv.validate(std::vector<std::string>{"root", "snapshot"}),
                 UpdateErrorClass::kBadHierarchy, Reason::kThresholdNotMet);
  CHECK(srv.validate(std::vector<std::string>{"root", "snapshot"}).error().missing == "targets");
  // Uploading targets signed with the new key is the way.
  sim.targets_key = fresh;
  sim.targets.version = 2;
  resign(sim, "targets");
  resign_snapshot(sim, 2);
  srv.publish({"root", "targets", "snapshot"});
}

// ---------------------------------------------------------------------------------------------
// Targets

TEST_CASE("negative: targets not signed by the root's targets keys") {
  RepoSimulator sim;
  sim.files["targets"] = sim.sign(to_json(sim.targets), {sim.snapshot_key});
  resign_snapshot(sim, 1);
  Server srv(sim);
  CHECK_REJECTED(srv.validate(kFirst), UpdateErrorClass::kBadTargets, Reason::kThresholdNotMet);
}

TEST_CASE("negative: targets version 0, an old targets version, an expired targets") {
  RepoSimulator sim;
  Server srv(sim);
  SUBCASE("version 0") {
    sim.modify_and_resign("targets", [](json::Object& s) { s.set("version", 0); });
    resign_snapshot(sim, 1);
    CHECK_REJECTED(srv.validate(kFirst), UpdateErrorClass::kBadTargets, Reason::kBadVersion);
  }
  SUBCASE("older than stored") {
    const std::string v1 = sim.files.at("targets");
    srv.publish(kFirst);
    sim.targets.version = 2;
    resign(sim, "targets");
    resign_snapshot(sim, 2);
    srv.publish({"targets", "snapshot"});
    sim.files["targets"] = v1;
    resign_snapshot(sim, 3);
    CHECK_REJECTED(srv.validate(std::vector<std::string>{"targets", "snapshot"}),
                   UpdateErrorClass::kOldVersion, Reason::kRollback);
  }
  SUBCASE("expired") {
    sim.targets.expires = Expiry::at(sim.now() - 1s);
    resign(sim, "targets");
    resign_snapshot(sim, 1);
    CHECK_REJECTED(srv.validate(kFirst), UpdateErrorClass::kBadTargets, Reason::kExpired);
  }
}

TEST_CASE("negative: targets must exist after the update") {
  RepoSimulator sim;
  Server srv(sim);
  auto update = srv.validate(std::vector<std::string>{"root", "snapshot"});
  CHECK_REJECTED(update, UpdateErrorClass::kBadHierarchy, Reason::kNotFound);
  CHECK(update.error().missing == "targets");
}

TEST_CASE("negative: a delegation its parent does not delegate to") {
  RepoSimulator sim;
  sim.add_delegation("targets/a", {""});
  sim.publish();
  Server srv(sim);
  srv.publish({"root", "targets", "targets/a", "snapshot"});
  // targets/b signed by targets/a's key, but nobody delegates to targets/b.
  Targets b;
  b.version = 1;
  b.expires = sim.targets.expires;
  sim.files["targets/b"] = sim.sign(to_json(b), sim.keys_for("targets/a"));
  resign_snapshot(sim, 2);
  CHECK_REJECTED(srv.validate(std::vector<std::string>{"targets/b", "snapshot"}),
                 UpdateErrorClass::kBadTargets, Reason::kBadRole);
}

TEST_CASE("negative: a delegation whose parent does not exist") {
  RepoSimulator sim;
  Server srv(sim);
  srv.publish(kFirst);
  Targets orphan;
  orphan.expires = sim.targets.expires;
  sim.files["targets/x/y"] = sim.sign(to_json(orphan), {sim.targets_key});
  resign_snapshot(sim, 2);
  CHECK_REJECTED(srv.validate(std::vector<std::string>{"targets/x/y", "snapshot"}),
                 UpdateErrorClass::kBadTargets, Reason::kNotFound);
}

TEST_CASE("negative: delegations declared with a bad name, as a grandchild, or threshold 0") {
  RepoSimulator sim;
  sim.add_delegation("targets/a", {""});
  sim.publish();
  Server srv(sim);
  auto edit_delegation = [&](const std::function<void(json::Object&)>& fn) {
    sim.modify_and_resign("targets", [&](json::Object& s) {
      auto& roles = s.find("delegations")->as_object().find("roles")->as_array();
      fn(roles.at(0).as_object());
    });
    resign_snapshot(sim, 1);
  };
  SUBCASE("an invalid name") {
    edit_delegation([](json::Object& d) { d.set("name", "targets/A"); });
    CHECK_REJECTED(srv.validate(kFirst), UpdateErrorClass::kBadTargets, Reason::kBadRole);
  }
  SUBCASE("not a direct child") {
    edit_delegation([](json::Object& d) { d.set("name", "targets/a/b"); });
    CHECK_REJECTED(srv.validate(kFirst), UpdateErrorClass::kBadTargets, Reason::kBadRole);
  }
  SUBCASE("threshold 0") {
    edit_delegation([](json::Object& d) { d.set("threshold", 0); });
    CHECK_REJECTED(srv.validate(kFirst), UpdateErrorClass::kBadTargets, Reason::kMalformed);
  }
  SUBCASE("a key ID without a key") {
    edit_delegation(
        [](json::Object& d) { d.find("keyids")->as_array().emplace_back(std::string(64, 'b')); });
    CHECK_REJECTED(srv.validate(kFirst), UpdateErrorClass::kBadTargets, Reason::kUnknownKey);
  }
}

TEST_CASE("negative: delegated targets outside the paths, intersected down the chain") {
  RepoSimulator sim;
  sim.add_delegation("targets/a", {"a/"});
  sim.add_delegation("targets/a/b", {"a/b/", "x/"});
  sim.publish();
  Server srv(sim);
  srv.publish({"root", "targets", "targets/a", "targets/a/b", "snapshot"});
  auto& b = sim.role_of("targets/a/b");
  b.version = 2;
  SUBCASE("inside both") {
    b.targets["a/b/ok"] = FileMeta::of(as_bytes("ok"));
    resign(sim, "targets/a/b");
    resign_snapshot(sim, 2);
    auto update = srv.validate(std::vector<std::string>{"targets/a/b", "snapshot"});
    CHECK_MESSAGE(update.ok(), (update.ok() ? "" : update.error().message));
  }
  SUBCASE("within the role's own paths but not its parent's") {
    b.targets["x/1"] = FileMeta::of(as_bytes("x"));
    resign(sim, "targets/a/b");
    resign_snapshot(sim, 2);
    CHECK_REJECTED(srv.validate(std::vector<std::string>{"targets/a/b", "snapshot"}),
                   UpdateErrorClass::kBadTargets, Reason::kBadPath);
  }
  SUBCASE("within the parent's paths but not the role's") {
    b.targets["a/c"] = FileMeta::of(as_bytes("c"));
    resign(sim, "targets/a/b");
    resign_snapshot(sim, 2);
    CHECK_REJECTED(srv.validate(std::vector<std::string>{"targets/a/b", "snapshot"}),
                   UpdateErrorClass::kBadTargets, Reason::kBadPath);
  }
}

// ---------------------------------------------------------------------------------------------
// Snapshot

TEST_CASE("negative: a snapshot not signed by the root's snapshot keys") {
  RepoSimulator sim;
  sim.files["snapshot"] = sim.sign(to_json(sim.snapshot), {sim.targets_key});
  Server srv(sim);
  CHECK_REJECTED(srv.validate(kFirst), UpdateErrorClass::kBadSnapshot, Reason::kThresholdNotMet);
}

TEST_CASE("negative: snapshot version 0 or an expired snapshot") {
  RepoSimulator sim;
  Server srv(sim);
  SUBCASE("version 0") {
    resign_snapshot(sim, 0);
    CHECK_REJECTED(srv.validate(kFirst), UpdateErrorClass::kBadSnapshot, Reason::kBadVersion);
  }
  SUBCASE("expired") {
    sim.snapshot.expires = Expiry::at(sim.now() - 1s);
    resign_snapshot(sim, 1);
    CHECK_REJECTED(srv.validate(kFirst), UpdateErrorClass::kBadSnapshot, Reason::kExpired);
  }
  SUBCASE("not newer than stored") {
    srv.publish(kFirst);
    sim.targets.version = 2;
    resign(sim, "targets");
    resign_snapshot(sim, 1);
    CHECK_REJECTED(srv.validate(std::vector<std::string>{"targets", "snapshot"}),
                   UpdateErrorClass::kOldVersion, Reason::kRollback);
  }
}

TEST_CASE("negative: snapshot meta must match the uploaded bytes") {
  RepoSimulator sim;
  Server srv(sim);
  SUBCASE("length") {
    sim.snapshot.meta["targets"].length += 1;
    sim.files["snapshot"] = sim.sign(to_json(sim.snapshot), {sim.snapshot_key});
    CHECK_REJECTED(srv.validate(kFirst), UpdateErrorClass::kBadSnapshot, Reason::kLengthMismatch);
  }
  SUBCASE("hash") {
    sim.snapshot.meta["root"].hashes["sha512"][0] ^= 1;
    sim.files["snapshot"] = sim.sign(to_json(sim.snapshot), {sim.snapshot_key});
    CHECK_REJECTED(srv.validate(kFirst), UpdateErrorClass::kBadSnapshot, Reason::kHashMismatch);
  }
  SUBCASE("no sha256") {
    sim.snapshot.meta["targets"].hashes.erase("sha256");
    sim.files["snapshot"] = sim.sign(to_json(sim.snapshot), {sim.snapshot_key});
    CHECK_REJECTED(srv.validate(kFirst), UpdateErrorClass::kBadSnapshot, Reason::kHashMismatch);
  }
}

TEST_CASE("negative: a snapshot pointing at targets bytes that were never uploaded") {
  // REFERENCE §9: Notary accepted this and left the repository broken for clients.
  RepoSimulator sim;
  Server srv(sim);
  srv.publish(kFirst);
  sim.targets.version = 2;
  sim.add_target("never-uploaded", "x");
  resign(sim, "targets");
  resign_snapshot(sim, 2);
  auto update = srv.validate(std::vector<std::string>{"snapshot"});
  REQUIRE_FALSE(update.ok());
  CHECK(update.error().error_class == UpdateErrorClass::kBadSnapshot);
  CHECK((update.error().reason == Reason::kLengthMismatch ||
         update.error().reason == Reason::kHashMismatch));
}

TEST_CASE("negative: a snapshot listing a role that does not exist, or a server-owned role") {
  RepoSimulator sim;
  Server srv(sim);
  SUBCASE("a delegation nobody uploaded") {
    sim.snapshot.meta["targets/ghost"] = FileMeta::of(as_bytes("boo"));
    sim.files["snapshot"] = sim.sign(to_json(sim.snapshot), {sim.snapshot_key});
    CHECK_REJECTED(srv.validate(kFirst), UpdateErrorClass::kBadSnapshot, Reason::kNotFound);
  }
  SUBCASE("the timestamp") {
    sim.snapshot.meta["timestamp"] = FileMeta::of(as_bytes(sim.files.at("timestamp")));
    sim.files["snapshot"] = sim.sign(to_json(sim.snapshot), {sim.snapshot_key});
    CHECK_REJECTED(srv.validate(kFirst), UpdateErrorClass::kBadSnapshot, Reason::kBadRole);
  }
}

TEST_CASE("snapshot completeness: every existing, still delegated role must be listed") {
  RepoSimulator sim;
  sim.add_delegation("targets/a", {""});
  sim.add_delegation("targets/a/b", {""});
  sim.publish();
  Server srv(sim);
  srv.publish({"root", "targets", "targets/a", "targets/a/b", "snapshot"});

  SUBCASE("negative: an uploaded role left out") {
    sim.role_of("targets/a").version = 2;
    resign(sim, "targets/a");
    auto keep = sim.files["targets/a"];
    sim.files.erase("targets/a");
    resign_snapshot(sim, 2);
    sim.files["targets/a"] = keep;
    CHECK_REJECTED(srv.validate(std::vector<std::string>{"targets/a", "snapshot"}),
                   UpdateErrorClass::kBadSnapshot, Reason::kHashMismatch);
  }
  SUBCASE("negative: a stored, still delegated role left out") {
    sim.files.erase("targets/a/b");
    resign_snapshot(sim, 2);
    CHECK_REJECTED(srv.validate(std::vector<std::string>{"snapshot"}),
                   UpdateErrorClass::kBadSnapshot, Reason::kHashMismatch);
  }
  SUBCASE("negative: root left out") {
    sim.files.erase("root");
    resign_snapshot(sim, 2);
    CHECK_REJECTED(srv.validate(std::vector<std::string>{"snapshot"}),
                   UpdateErrorClass::kBadSnapshot, Reason::kHashMismatch);
  }
  SUBCASE("a delegation removed by this update may leave, with the roles below it") {
    auto& roles = sim.targets.delegations.roles;
    roles.erase(std::remove_if(roles.begin(), roles.end(),
                               [](const DelegatedRole& d) { return d.name == "targets/a"; }),
                roles.end());
    sim.targets.version = 2;
    resign(sim, "targets");
    sim.files.erase("targets/a");
    sim.files.erase("targets/a/b");
    resign_snapshot(sim, 2);
    srv.publish({"targets", "snapshot"});
  }
  SUBCASE("the server's snapshot drops delegations the update removed") {
    srv.hold(sim.snapshot_key);
    auto& roles = sim.targets.delegations.roles;
    roles.erase(std::remove_if(roles.begin(), roles.end(),
                               [](const DelegatedRole& d) { return d.name == "targets/a"; }),
                roles.end());
    sim.targets.version = 2;
    resign(sim, "targets");
    auto update = srv.validate(std::vector<std::string>{"targets"});
    REQUIRE_MESSAGE(update.ok(), update.error().message);
    CHECK(update->snapshot_changes.removed ==
          std::vector<std::string>{"targets/a", "targets/a/b"});
    auto files = complete_update(*update, sim.signer, sim.now()).value();
    auto snap = parse_snapshot(*files.at(1).bytes).value();
    CHECK(snap.content.meta.size() == 2);
    CHECK(snap.content.meta.count("targets/a") == 0);
    CHECK(snap.content.version == 2);
  }
}

TEST_CASE("hardening: one byte string is verified, hashed, stored and served") {
  // REFERENCE §9: Notary stored raw bytes but hashed a re-serialization; an extra unsigned
  // top-level field then broke the repository for good.
  RepoSimulator sim;
  Server srv(sim);
  srv.publish(kFirst);
  sim.targets.version = 2;
  resign(sim, "targets");
  const std::string clean = sim.files.at("targets");
  auto doc = json::parse(clean).value();
  doc.as_object().set("unsigned", "extra");
  const std::string odd = json::canonical(doc);  // "signatures" now comes before "signed"
  REQUIRE(odd != clean);

  SUBCASE("a snapshot over the uploaded bytes: accepted, and those bytes are what is stored") {
    sim.files["targets"] = odd;
    resign_snapshot(sim, 2);
    auto files = srv.publish({"targets", "snapshot"});
    CHECK(*files[0].bytes == odd);
    CHECK(files[0].meta == FileMeta::of(as_bytes(odd)));
    auto stored = srv.state.current("targets");
    REQUIRE(stored.ok());
    REQUIRE(stored->has_value());
    CHECK(*(*stored)->bytes == odd);
  }
  SUBCASE("negative: a snapshot over a re-serialization of them is rejected") {
    resign_snapshot(sim, 2);  // lists `clean`
    auto parts = srv.parts({"targets", "snapshot"});
    parts[0].bytes = share(odd);
    auto update = srv.validate(parts);
    REQUIRE_FALSE(update.ok());
    CHECK(update.error().error_class == UpdateErrorClass::kBadSnapshot);
  }
}

// ---------------------------------------------------------------------------------------------
// Server keys

TEST_CASE("negative: no snapshot uploaded and the server lacks the snapshot key") {
  RepoSimulator sim;
  Server srv(sim);
  auto update = srv.validate(std::vector<std::string>{"root", "targets"});
  CHECK_REJECTED(update, UpdateErrorClass::kBadHierarchy, Reason::kUnknownKey);
  CHECK(update.error().missing == "snapshot");
}

TEST_CASE("negative: the server holds no timestamp key the root lists") {
  RepoSimulator sim;
  Server srv(sim);
  srv.release(sim.timestamp_key);
  CHECK_REJECTED(srv.validate(kFirst), UpdateErrorClass::kBadRoot, Reason::kUnknownKey);
}

TEST_CASE("internal failures: a state read or a key lookup that fails is INTERNAL") {
  RepoSimulator sim;
  Server srv(sim);
  struct Broken final : RepoState {
    Result<std::optional<StoredRole>> current(std::string_view) const override {
      return make_error(Reason::kIo, "disk on fire");
    }
  } broken;
  auto update = validate_update(broken, srv.parts(kFirst), srv.options());
  CHECK_REJECTED(update, UpdateErrorClass::kInternal, Reason::kIo);
  auto options = srv.options();
  options.server_holds_key = [](const keys::PublicKey&) -> Result<bool> {
    return make_error(Reason::kUnavailable, "signer down");
  };
  CHECK_REJECTED(validate_update(srv.state, srv.parts(kFirst), options),
                 UpdateErrorClass::kInternal, Reason::kUnavailable);
}

TEST_CASE("robustness: corrupted parts are rejected with a class, never accepted or crashing") {
  RepoSimulator sim;
  sim.add_delegation("targets/a", {"a/"});
  sim.publish();
  Server srv(sim);
  const auto good = srv.parts({"root", "targets", "targets/a", "snapshot"});
  std::mt19937 rng(20261128);  // fixed seed: deterministic
  for (int i = 0; i < 300; ++i) {
    auto parts = good;
    auto& victim = parts[rng() % parts.size()];
    std::string bytes = *victim.bytes;
    const std::size_t flips = 1 + rng() % 3;
    for (std::size_t f = 0; f < flips; ++f) {
      bytes[rng() % bytes.size()] = static_cast<char>(rng() % 256);
    }
    if (bytes == *victim.bytes) continue;
    victim.bytes = share(bytes);
    auto update = srv.validate(parts);
    if (update.ok()) {
      // Only a change outside what is signed and hashed could pass, and every file is hashed
      // by the snapshot (or is the snapshot, whose signature covers "signed"): check that the
      // accepted snapshot still describes the accepted bytes.
      auto snap = parse_snapshot(*update->files.back().bytes).value();
      for (const auto& f : update->files) {
        if (f.role != "snapshot") CHECK(snap.content.meta.at(f.role) == f.meta);
      }
      continue;
    }
    INFO(update.error().message);
    CHECK(update.error().error_class != UpdateErrorClass::kInternal);
  }
}

// ---------------------------------------------------------------------------------------------
// Builders and classification

TEST_CASE("make_snapshot and make_timestamp") {
  RepoSimulator sim;
  SnapshotChanges changes;
  changes.set["root"] = FileMeta::of(as_bytes(sim.files.at("root")));
  changes.set["targets"] = FileMeta::of(as_bytes(sim.files.at("targets")));
  const std::vector<keys::PublicKey> snap_keys{sim.snapshot_key};
  const Expiry expires = Expiry::at(sim.now() + kSnapshotLifetime);
  auto snap = make_snapshot(nullptr, changes, 1, expires, snap_keys, sim.signer).value();
  auto parsed = parse_snapshot(*snap.bytes).value();
  CHECK(*parsed.bytes == *snap.bytes);
  CHECK(parsed.content.expires.text == expires.text);
  CHECK(verify_signatures(parsed, sim.root.keys, sim.root.roles.at("snapshot"), "snapshot").ok());
  CHECK(parsed.content.meta == changes.set);

  SnapshotChanges more;
  more.set["targets/a"] = FileMeta::of(as_bytes("a"));
  more.removed = {"targets", "targets/none"};
  CHECK(make_snapshot(&parsed.content, more, 2, expires, snap_keys, sim.signer).error().reason ==
        Reason::kMalformed);  // would drop targets
  more.removed = {"targets/none"};
  auto snap2 = make_snapshot(&parsed.content, more, 2, expires, snap_keys, sim.signer).value();
  CHECK(parse_snapshot(*snap2.bytes).value().content.meta.size() == 3);
  CHECK(make_snapshot(nullptr, changes, 0, expires, snap_keys, sim.signer).error().reason ==
        Reason::kMalformed);
  CHECK(make_snapshot(nullptr, changes, 1, expires, {}, sim.signer).error().reason ==
        Reason::kThresholdNotMet);

  const std::vector<keys::PublicKey> ts_keys{sim.timestamp_key};
  auto ts = make_timestamp(*snap.bytes, 5, Expiry::at(sim.now() + kTimestampLifetime), ts_keys,
                           sim.signer)
                .value();
  auto pts = parse_timestamp(*ts.bytes).value();
  CHECK(pts.content.version == 5);
  CHECK(pts.content.meta.at("snapshot") == snap.meta);
  CHECK(verify_signatures(pts, sim.root.keys, sim.root.roles.at("timestamp"), "timestamp").ok());
  CHECK(pts.signatures.at(0).method_text == "eddsa");
}

TEST_CASE("server_signing_keys: exactly threshold many held keys, distinct by material") {
  RepoSimulator sim;
  auto all = [](const keys::PublicKey&) -> Result<bool> { return true; };
  auto none = [](const keys::PublicKey&) -> Result<bool> { return false; };
  CHECK(server_signing_keys(sim.root, "timestamp", all).value().size() == 1);
  CHECK(server_signing_keys(sim.root, "timestamp", none).error().reason ==
        Reason::kThresholdNotMet);
  CHECK(server_signing_keys(sim.root, "timestamp", KeyHolder()).error().reason ==
        Reason::kThresholdNotMet);
  CHECK(server_signing_keys(sim.root, "mirror", all).error().reason == Reason::kBadRole);
  // The X.509 root key and its plain key are one key: threshold 2 cannot be met with them.
  Root r = sim.root;
  auto plain = sim.signer.public_key(sim.root_key.canonical_id()).value();
  r.keys.emplace(plain.id(), plain);
  r.roles["root"] = {{sim.root_key.id(), plain.id()}, 2};
  CHECK(server_signing_keys(r, "root", all).error().reason == Reason::kThresholdNotMet);
}

TEST_CASE("update errors: the class travels beside the message, never inside it") {
  RepoSimulator sim;
  Server srv(sim);
  srv.publish(kFirst);
  sim.targets.version = 2;
  sim.files["targets"] = sim.sign(to_json(sim.targets), {sim.snapshot_key});
  auto update = srv.validate(std::vector<std::string>{"targets"});
  REQUIRE_FALSE(update.ok());
  UpdateError e = std::move(update).error();
  CHECK(e.error_class == UpdateErrorClass::kBadTargets);
  CHECK(e.missing.empty());
  // The message is Notary's "Msg" as it is: nothing for a reader to strip or parse.
  REQUIRE_FALSE(e.message.empty());
  CHECK(e.message.front() != '[');
  // Context added on the way up keeps the class.
  e.wrap("publish");
  CHECK(e.error_class == UpdateErrorClass::kBadTargets);
  CHECK(std::move(e).wrap("again").error_class == UpdateErrorClass::kBadTargets);

  // Errors no rule classified: by Reason, whatever their message says.
  CHECK(UpdateError::unclassified(make_error(Reason::kRollback, "old")).error_class ==
        UpdateErrorClass::kOldVersion);
  CHECK(UpdateError::unclassified(make_error(Reason::kTooLarge, "big")).error_class ==
        UpdateErrorClass::kTooLarge);
  CHECK(UpdateError::unclassified(make_error(Reason::kIo, "[ErrBadRoot] disk")).error_class ==
        UpdateErrorClass::kInternal);
  // ... also when they reach an UpdateResult through the propagation macros.
  const UpdateStatus st = make_error(Reason::kIo, "[ErrBadTargets] disk");
  CHECK(st.error().error_class == UpdateErrorClass::kInternal);

  CHECK(to_string(UpdateErrorClass::kBadRoot) == "ErrBadRoot");
  CHECK(to_string(UpdateErrorClass::kOldVersion) == "VERSION");
}

// ---------------------------------------------------------------------------------------------
// The real Notary's histories (tests/data/notary): replayed as the sequence of uploads its
// client made, each must be accepted. The client uploaded root/targets/delegations and, while
// it held the snapshot key, snapshots; the server generated every timestamp and, after
// `key rotate snapshot -r`, the snapshots. Where the server generated a snapshot, ours must
// list exactly what Notary's listed.

const std::string kNotaryDir = std::string(VOUCH_TEST_DATA) + "/notary/";

std::string read_data(const std::string& path) {
  std::ifstream in(kNotaryDir + path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot open " << path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const std::string& str(const json::Value& v, std::string_view key) {
  return v.find(key)->as_string();
}

std::string sha256_b64(std::string_view bytes) {
  return base64_encode(FileMeta::of(as_bytes(bytes)).hashes.at("sha256"));
}

TEST_CASE("replay: every upload in the real Notary's version histories is accepted") {
  const json::Value manifest = json::parse(read_data("manifest.json")).value();
  const TimePoint now = parse_rfc3339(str(manifest, "generated_at")).value();
  testing::MemorySigner our_signer;
  const keys::PublicKey our_snapshot_key =
      our_signer.create_key("", "snapshot", keys::KeyType::kEcdsa).value();
  const std::vector<keys::PublicKey> our_keys{our_snapshot_key};

  std::size_t repos = 0;
  for (const auto& repo : manifest.find("repositories")->as_array()) {
    const std::string& gun = str(repo, "gun");
    INFO(gun);
    ++repos;
    // Every version the server kept, by role, and by the sha256 of its bytes.
    struct File {
      std::string role;
      std::int64_t version;
      std::shared_ptr<const std::string> bytes;
    };
    std::map<std::string, File> by_hash;
    std::map<std::int64_t, File> timestamps;
    for (const auto& f : repo.find("metadata_files")->as_array()) {
      if (str(f, "source") != "server-version") continue;
      File file{str(f, "role"), f.find("version")->as_int(), share(read_data(str(f, "path")))};
      if (file.role == "timestamp") {
        timestamps.emplace(file.version, file);
      } else {
        by_hash.emplace(sha256_b64(*file.bytes), file);
      }
    }
    REQUIRE_FALSE(timestamps.empty());

    // The server's keys: every timestamp key, and the snapshot key when no client holds it.
    std::set<std::string> client_key_ids;
    for (const auto& k : repo.find("private_keys")->as_array()) {
      client_key_ids.insert(str(k, "key_id"));
    }
    std::set<std::string> server_key_ids;
    for (const auto& [_, f] : by_hash) {
      if (f.role != "root") continue;
      auto root = parse_root(*f.bytes).value();
      for (const auto& id : root.content.roles.at("timestamp").keyids) server_key_ids.insert(id);
      for (const auto& id : root.content.roles.at("snapshot").keyids) {
        if (client_key_ids.count(root.content.keys.at(id).canonical_id()) == 0 &&
            f.version == repo.find("roles")->find("root")->find("current_version")->as_int()) {
          server_key_ids.insert(id);
        }
      }
    }

    MemoryRepoState state;
    std::map<std::string, std::string> current_hash;  // role -> sha256 of the stored bytes
    std::size_t uploaded = 0;
    std::size_t generated_snapshots = 0;
    for (const auto& [ts_version, ts_file] : timestamps) {
      INFO("timestamp version " << ts_version);
      auto ts = parse_timestamp(*ts_file.bytes).value();
      const std::string snap_hash =
          base64_encode(ts.content.meta.at("snapshot").hashes.at("sha256"));
      REQUIRE(by_hash.count(snap_hash) == 1);
      const File& snap_file = by_hash.at(snap_hash);
      auto snap = parse_snapshot(*snap_file.bytes).value();
      const bool server_snapshot =
          server_key_ids.count(snap.signatures.at(0).keyid) != 0;

      std::vector<UploadPart> parts;
      for (const auto& [role, meta] : snap.content.meta) {
        const std::string h = base64_encode(meta.hashes.at("sha256"));
        REQUIRE_MESSAGE(by_hash.count(h) == 1, role);
        if (current_hash[role] != h) parts.push_back({role, by_hash.at(h).bytes});
      }
      if (!server_snapshot) parts.push_back({"snapshot", snap_file.bytes});

      ValidationOptions options;
      options.gun = gun;
      options.now = now;
      options.server_holds_key = [&](const keys::PublicKey& k) -> Result<bool> {
        return server_key_ids.count(k.id()) != 0;
      };
      auto update = validate_update(state, parts, options);
      REQUIRE_MESSAGE(update.ok(), update.error().message);
      CHECK(update->needs_snapshot == server_snapshot);
      CHECK(update->next_timestamp_version == ts_version);
      CHECK(update->files.size() == parts.size());
      if (server_snapshot) {
        ++generated_snapshots;
        CHECK(update->next_snapshot_version == snap.content.version);
        const Snapshot* prev =
            update->previous_snapshot ? &update->previous_snapshot->content : nullptr;
        auto ours = make_snapshot(prev, update->snapshot_changes, update->next_snapshot_version,
                                  snap.content.expires, our_keys, our_signer)
                        .value();
        CHECK(parse_snapshot(*ours.bytes).value().content.meta == snap.content.meta);
      }
      for (const auto& f : update->files) {
        state.put(f.role, f.version, f.bytes);
        current_hash[f.role] = sha256_b64(*f.bytes);
        ++uploaded;
      }
      state.put("snapshot", snap_file.version, snap_file.bytes);
      current_hash["snapshot"] = snap_hash;
      state.put("timestamp", ts_version, ts_file.bytes);
    }
    // Every root, targets and delegation version the server kept was uploaded once.
    std::size_t client_made = 0;
    for (const auto& [_, f] : by_hash) {
      if (f.role != "snapshot") ++client_made;
    }
    CHECK(uploaded - (timestamps.size() - generated_snapshots) == client_made);
    if (gun != "example.com/vouch/rsaroot") {
      CHECK(generated_snapshots > 0);
    }
  }
  CHECK(repos == 3);
}

}  // namespace
}  // namespace vouch::tuf
