// Vectors made by the real Notary 0.7 (notary CLI, notary-server, notary-signer): see
// tests/data/notary/README.md and scripts/make-notary-fixtures.sh. Everything here is read
// from the manifest the generator wrote, so regenerating the fixtures needs no test changes.

#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "keys/crypto.h"
#include "keys/key_file.h"
#include "keys/x509.h"
#include "tuf/metadata.h"
#include "tuf/verify.h"

namespace vouch::tuf {
namespace {

const std::string kDir = std::string(VOUCH_TEST_DATA) + "/notary/";

std::string read_file(const std::string& path) {
  std::ifstream in(kDir + path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot open " << path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const json::Value& manifest() {
  static const json::Value m = json::parse(read_file("manifest.json")).value();
  return m;
}

const json::Array& repositories() { return manifest().find("repositories")->as_array(); }

const std::string& str(const json::Value& obj, std::string_view key) {
  return obj.find(key)->as_string();
}

// The reference time: when the fixtures were generated (their timestamps expire 14 days later).
TimePoint generated_at() { return parse_rfc3339(str(manifest(), "generated_at")).value(); }

// Parses any role's file and returns its verification inputs.
struct Parsed {
  std::string canonical_signed;
  std::vector<SignatureEntry> signatures;
  std::int64_t version = 0;
  std::string reserialized;
  Expiry expires;
};

Result<Parsed> parse_any(const std::string& role, const std::string& bytes) {
  auto fill = [](auto&& m) {
    Parsed p;
    p.canonical_signed = m.canonical_signed;
    p.signatures = m.signatures;
    p.version = m.content.version;
    p.expires = m.content.expires;
    p.reserialized = serialize_envelope(to_json(m.content), m.signatures);
    return p;
  };
  if (role == "root") {
    VOUCH_ASSIGN_OR_RETURN(auto m, parse_root(bytes));
    return fill(m);
  }
  if (role == "snapshot") {
    VOUCH_ASSIGN_OR_RETURN(auto m, parse_snapshot(bytes));
    return fill(m);
  }
  if (role == "timestamp") {
    VOUCH_ASSIGN_OR_RETURN(auto m, parse_timestamp(bytes));
    return fill(m);
  }
  VOUCH_ASSIGN_OR_RETURN(auto m, parse_targets(bytes));
  return fill(m);
}

std::string current_path(const json::Value& repo, const std::string& role) {
  return str(repo, "dir") + "/server/current/" + role + ".json";
}

TEST_CASE("every metadata file Notary wrote parses, and re-serializes byte-identically "
          "where Notary's bytes are canonical") {
  int files = 0, identical = 0;
  for (const auto& repo : repositories()) {
    for (const auto& f : repo.find("metadata_files")->as_array()) {
      const std::string& path = str(f, "path");
      INFO(path);
      const std::string bytes = read_file(path);
      CHECK(keys::sha256_hex(as_bytes(bytes)) == str(f, "sha256"));
      auto parsed = parse_any(str(f, "role"), bytes);
      REQUIRE_MESSAGE(parsed.ok(), parsed.error().message);
      CHECK(parsed->version == f.find("version")->as_int());
      CHECK(parsed->expires.text == str(f, "expires"));
      ++files;
      if (f.find("signed_bytes_are_canonical")->as_bool()) {
        CHECK(parsed->reserialized == bytes);
        ++identical;
      } else {
        // Go escaped <, > or & as \u003c etc. in the stored bytes; what the signature covers
        // is the canonical form, which has them raw.
        CHECK(bytes.find("\\u00") != std::string::npos);
      }
    }
  }
  CHECK(files > 40);
  CHECK(identical > 20);
}

TEST_CASE("key IDs: vouch computes Notary's X.509 and canonical IDs") {
  int checked = 0;
  for (const auto& repo : repositories()) {
    auto root = parse_root(read_file(current_path(repo, "root"))).value();
    auto targets = parse_targets(read_file(current_path(repo, "targets"))).value();
    for (const auto& [role, entry] : repo.find("base_role_keys")->as_object()) {
      for (const auto& k : entry.find("keys")->as_array()) {
        INFO(str(repo, "gun") << " " << role);
        const auto& key = root.content.keys.at(str(k, "key_id"));
        CHECK(key.id() == str(k, "key_id"));
        CHECK(keys::to_string(key.type()) == str(k, "keytype"));
        CHECK(key.canonical_id() == str(k, "canonical_key_id"));
        CHECK(root.content.roles.at(role).threshold == entry.find("threshold")->as_int());
        ++checked;
      }
    }
    for (const auto& d : repo.find("delegations")->as_array()) {
      const auto* role = targets.content.delegations.find(str(d, "name"));
      REQUIRE(role != nullptr);
      for (const auto& k : d.find("keys")->as_array()) {
        const auto& key = targets.content.delegations.keys.at(str(k, "key_id"));
        CHECK(keys::to_string(key.type()) == str(k, "keytype"));
        CHECK(key.canonical_id() == str(k, "canonical_key_id"));
        ++checked;
      }
    }
  }
  CHECK(checked >= 14);
}

TEST_CASE("the current repositories verify as a client would: root, targets, delegations, "
          "snapshot, timestamp") {
  const TimePoint now = generated_at();
  for (const auto& repo : repositories()) {
    INFO(str(repo, "gun"));
    auto root = parse_root(read_file(current_path(repo, "root"))).value();
    CHECK(verify_root_self(root).ok());
    for (const auto& [name, rk] : root.content.roles) {
      if (name == "root") continue;
      const std::string bytes = read_file(current_path(repo, name));
      auto p = parse_any(name, bytes).value();
      INFO(name);
      CHECK(verify_signatures(p.canonical_signed, p.signatures, root.content.keys, rk,
                              VerifyOptions{name})
                .ok());
      CHECK(check_not_expired(p.expires, now, name).ok());
    }
    // Every root key is a certificate for this GUN, valid now.
    for (const auto& id : root.content.roles.at("root").keyids) {
      const auto* cert = root.content.keys.at(id).certificate();
      REQUIRE(cert != nullptr);
      CHECK(cert->check_root(str(repo, "gun"), now).ok());
      CHECK_FALSE(cert->check_root("example.com/other", now).ok());
    }

    auto targets = parse_targets(read_file(current_path(repo, "targets"))).value();
    auto snapshot = parse_snapshot(read_file(current_path(repo, "snapshot"))).value();
    auto timestamp = parse_timestamp(read_file(current_path(repo, "timestamp"))).value();
    CHECK(timestamp.content.meta.at("snapshot").check(as_bytes(*snapshot.bytes)).ok());
    CHECK(snapshot.content.meta.at("root").check(as_bytes(*root.bytes)).ok());
    CHECK(snapshot.content.meta.at("targets").check(as_bytes(*targets.bytes)).ok());

    for (const auto& role : targets.content.delegations.roles) {
      INFO(role.name);
      auto d = parse_targets(read_file(current_path(repo, role.name))).value();
      CHECK(verify_signatures(d, targets.content.delegations.keys,
                              RoleKeys{role.keyids, role.threshold}, role.name)
                .ok());
      CHECK(snapshot.content.meta.at(role.name).check(as_bytes(*d.bytes)).ok());
      for (const auto& [name, meta] : d.content.targets) {
        CHECK(path_allowed(role.paths, name));
      }
      // A delegation's file is not signed by the targets key.
      CHECK_FALSE(verify_signatures(d, root.content.keys, root.content.roles.at("targets"),
                                    "targets")
                      .ok());
    }
  }
}

TEST_CASE("every historical version verifies under one of the repository's root versions, "
          "and each new root is signed by the previous root's keys too") {
  for (const auto& repo : repositories()) {
    INFO(str(repo, "gun"));
    std::vector<Metadata<Root>> roots;
    std::optional<Metadata<Targets>> targets;
    for (const auto& f : repo.find("metadata_files")->as_array()) {
      if (str(f, "source") == "server-version" && str(f, "role") == "root") {
        roots.push_back(parse_root(read_file(str(f, "path"))).value());
      }
    }
    REQUIRE_FALSE(roots.empty());
    std::sort(roots.begin(), roots.end(),
              [](const auto& a, const auto& b) { return a.content.version < b.content.version; });
    for (std::size_t i = 1; i < roots.size(); ++i) {
      CHECK(roots[i].content.version == roots[i - 1].content.version + 1);
      CHECK(verify_signatures(roots[i], roots[i - 1].content.keys,
                              roots[i - 1].content.roles.at("root"), "root")
                .ok());
    }
    auto top_targets = parse_targets(read_file(current_path(repo, "targets"))).value();
    for (const auto& f : repo.find("metadata_files")->as_array()) {
      const std::string role = str(f, "role");
      if (role == "root") continue;
      INFO(str(f, "path"));
      auto p = parse_any(role, read_file(str(f, "path"))).value();
      bool verified = false;
      if (is_delegation_role(role)) {
        const auto* d = top_targets.content.delegations.find(role);
        REQUIRE(d != nullptr);
        verified = verify_signatures(p.canonical_signed, p.signatures,
                                     top_targets.content.delegations.keys,
                                     RoleKeys{d->keyids, d->threshold}, VerifyOptions{role})
                       .ok();
      } else {
        for (const auto& r : roots) {
          verified = verified || verify_signatures(p.canonical_signed, p.signatures, r.content.keys,
                                                   r.content.roles.at(role), VerifyOptions{role})
                                     .ok();
        }
      }
      CHECK(verified);
    }
  }
}

TEST_CASE("targets match what `notary list` printed") {
  int checked = 0;
  for (const auto& repo : repositories()) {
    auto targets = parse_targets(read_file(current_path(repo, "targets"))).value();
    for (const auto& t : repo.find("notary_list")->find("targets")->as_array()) {
      const std::string& name = str(t, "name");
      const std::string& role = str(t, "role");
      INFO(name << " in " << role);
      auto in_role = role == "targets" ? targets
                                       : parse_targets(read_file(current_path(repo, role))).value();
      const auto it = in_role.content.targets.find(name);
      REQUIRE(it != in_role.content.targets.end());
      CHECK(hex_encode(it->second.hashes.at("sha256")) == str(t, "digest_sha256_hex"));
      CHECK(it->second.length == t.find("size")->as_int());
      ++checked;
    }
  }
  CHECK(checked >= 8);
}

TEST_CASE("tampering with a Notary file breaks its verification") {
  const auto& repo = repositories().at(0);
  auto root = parse_root(read_file(current_path(repo, "root"))).value();
  std::string bytes = read_file(current_path(repo, "targets"));
  const auto pos = bytes.find("\"length\":");
  REQUIRE(pos != std::string::npos);
  bytes.insert(pos + 9, "1");
  auto t = parse_targets(bytes).value();
  CHECK(verify_signatures(t, root.content.keys, root.content.roles.at("targets"), "targets")
            .error()
            .reason == Reason::kThresholdNotMet);
}

TEST_CASE("custom target data Notary accepted is parsed and kept canonically") {
  for (const auto& probe : manifest().find("probes")->as_array()) {
    INFO(str(probe, "name"));
    if (!probe.find("accepted_by_notary_server")->as_bool()) continue;
    auto t = parse_targets(read_file(str(probe, "served_targets_path"))).value();
    bool found = false;
    for (const auto& [name, meta] : t.content.targets) {
      if (meta.custom) {
        CHECK(json::canonical(*meta.custom) == str(probe, "custom_bytes_as_served"));
        found = true;
      }
    }
    CHECK(found);
  }
}

TEST_CASE("Notary's encrypted key files decrypt with the right passphrase, and only with it") {
  int checked = 0;
  for (const auto& repo : repositories()) {
    auto root = parse_root(read_file(current_path(repo, "root"))).value();
    for (const auto& k : repo.find("private_keys")->as_array()) {
      const std::string& path = str(k, "path");
      INFO(path);
      const std::string pem = read_file(path);
      const keys::SecretString right(str(k, "passphrase"));
      auto key = keys::decrypt_key_file(pem, right);
      REQUIRE_MESSAGE(key.ok(), key.error().message);
      CHECK(key->info.format == keys::KeyFileFormat::kNotary);
      CHECK(key->info.role == str(k, "role"));
      const json::Value* gun = k.find("gun");  // null for root and delegation keys
      CHECK(key->info.gun == (gun->is_string() ? gun->as_string() : std::string()));
      // The file is named by the canonical ID of the key inside it.
      CHECK(key->key.public_key().id() == str(k, "key_id"));

      // A signature made with the decrypted key verifies with the key as metadata lists it
      // (for the root key: the X.509 certificate in root.json).
      if (str(k, "role") == "root") {
        const std::string message = "vouch interop";
        auto sig = key->key.sign(as_bytes(message)).value();
        bool verified = false;
        for (const auto& [id, pub] : root.content.keys) {
          if (pub.canonical_id() == str(k, "key_id")) {
            verified = pub.verify(key->key.method(), as_bytes(message), sig).ok();
          }
        }
        CHECK(verified);
      }

      const keys::SecretString wrong("not-the-passphrase");
      auto bad = keys::decrypt_key_file(pem, wrong);
      REQUIRE_FALSE(bad.ok());
      CHECK(bad.error().reason == Reason::kBadPassphrase);
      ++checked;
    }
  }
  CHECK(checked >= 8);
}

}  // namespace
}  // namespace vouch::tuf
