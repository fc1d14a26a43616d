#pragma once

// Helpers for the tests of the verifier daemon's library (trust cache, service, HTTP API):
// a repository signed by RepoSimulator with delegations, a fake trust server serving several
// GUNs to the TrustCache's fetch threads (thread-safe, with a gate that holds fetches until the
// test opens it, so that concurrency is controlled without timing), and a policy builder.

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "keys/crypto.h"
#include "tests/support/memory_source.h"
#include "tests/support/repo_simulator.h"
#include "tests/unit/verifier/verifier_test_util.h"
#include "verifier/policy.h"
#include "verifier/trust_cache.h"

namespace vouch::verifier::testing {

inline std::string sha256_of(std::string_view content) {
  return keys::sha256_hex(as_bytes(content));
}

// A repository as a trust server holds it.
struct Repo {
  explicit Repo(std::string gun) : sim(std::move(gun)) { server.publish(sim.files); }

  vouch::testing::RepoSimulator sim;
  vouch::testing::MemorySource server;

  keys::PublicKey new_key() { return sim.signer.create_key("", "", keys::KeyType::kEcdsa).value(); }

  // Delegates `role` to `ks` (threshold 1) for `paths`, with empty metadata.
  void delegate(const std::string& role, const std::vector<keys::PublicKey>& ks,
                std::vector<std::string> paths = {""}) {
    sim.delegate_to(role, ks, std::move(paths));
  }

  // `role` lists `tag` as the manifest `content`.
  void sign(const std::string& role, const std::string& tag, std::string_view content) {
    sim.role_of(role).targets[tag] = tuf::FileMeta::of(as_bytes(content));
  }

  // Signs every role with the keys its parent lists, with new versions, and serves them. The
  // root keeps the bytes first published (re-signing would change them: ECDSA signatures are
  // randomized, and a client that trusts the root would see a new root of the same version).
  void publish() {
    const std::string root = sim.files.at("root");
    ++sim.targets.version;
    for (auto& [name, d] : sim.delegated) ++d.version;
    ++sim.snapshot.version;
    ++sim.timestamp.version;
    sim.publish();
    sim.files["root"] = root;
    reseal();
  }

  // Signs snapshot and timestamp (at their current versions) over the current files, and
  // serves everything.
  void reseal() {
    sim.seal();
    server.publish(sim.files);
  }
};

// Several repositories behind one fake server, for TrustCache fetch threads: every fetch takes
// a lock (MemorySource is not thread-safe), and while the gate is closed every timestamp fetch
// waits for it to open.
class FakeServer {
 public:
  Repo& add(const std::string& gun) {
    std::lock_guard lock(mu_);
    auto [it, inserted] = repos_.emplace(gun, std::make_unique<Repo>(gun));
    return *it->second;
  }
  Repo& repo(const std::string& gun) {
    std::lock_guard lock(mu_);
    return *repos_.at(gun);
  }
  // Runs `fn` with the lock held (to change a repository while fetch threads may run).
  template <typename Fn>
  void with_lock(Fn&& fn) {
    std::lock_guard lock(mu_);
    fn();
  }

  void close_gate() {
    std::lock_guard lock(gate_mu_);
    gate_open_ = false;
  }
  void open_gate() {
    {
      std::lock_guard lock(gate_mu_);
      gate_open_ = true;
    }
    gate_cv_.notify_all();
  }
  // Fetches waiting at the gate now.
  int blocked() const {
    std::lock_guard lock(gate_mu_);
    return blocked_;
  }
  // Sources the factory made (one per TrustCache fetch).
  int sources_made() const { return sources_made_.load(); }

  verifier::SourceFactory factory() {
    return [this](const TrustSection&, std::string_view gun)
               -> Result<std::unique_ptr<tuf::MetadataSource>> {
      ++sources_made_;
      return std::unique_ptr<tuf::MetadataSource>(new Source(*this, std::string(gun)));
    };
  }

 private:
  class Source final : public tuf::MetadataSource {
   public:
    Source(FakeServer& server, std::string gun) : server_(server), gun_(std::move(gun)) {}
    Result<std::string> fetch(std::string_view role, std::optional<std::int64_t> version,
                              std::size_t max_length) override {
      if (role == "timestamp") server_.wait_gate();
      std::lock_guard lock(server_.mu_);
      auto it = server_.repos_.find(gun_);
      if (it == server_.repos_.end()) return make_error(Reason::kNotFound, "no such repository");
      return it->second->server.fetch(role, version, max_length);
    }
    Result<std::string> fetch_by_checksum(std::string_view role, std::string_view sha256_hex,
                                          std::size_t max_length) override {
      std::lock_guard lock(server_.mu_);
      auto it = server_.repos_.find(gun_);
      if (it == server_.repos_.end()) return make_error(Reason::kNotFound, "no such repository");
      return it->second->server.fetch_by_checksum(role, sha256_hex, max_length);
    }

   private:
    FakeServer& server_;
    std::string gun_;
  };

  void wait_gate() {
    std::unique_lock lock(gate_mu_);
    ++blocked_;
    gate_cv_.wait(lock, [&] { return gate_open_; });
    --blocked_;
  }

  std::mutex mu_;
  std::map<std::string, std::unique_ptr<Repo>> repos_;
  mutable std::mutex gate_mu_;
  std::condition_variable gate_cv_;
  bool gate_open_ = true;
  int blocked_ = 0;
  std::atomic<int> sources_made_{0};
};

// Polls `pred` until it holds; fails the test after a generous guard (a broken cache must not
// hang the suite). Nothing is asserted about how long it took.
template <typename Pred>
void wait_for(Pred pred, const char* what) {
  const auto guard = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > guard) FAIL("gave up waiting for: " << what);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

// A deadline no test reaches.
inline Deadline far_deadline() { return std::chrono::steady_clock::now() + std::chrono::minutes(5); }

// A JSON policy over registry.example.com (TOFU), with teams and rules.
struct PolicyText {
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> teams;  // team -> (member, pem)
  std::vector<std::string> rules;
  std::string unmatched = "deny";
  std::string trust = R"([{"prefix": "registry.example.com", "server": "https://notary.example.com",
                          "tofu": true}])";

  PolicyText& member(const std::string& team, const std::string& name, const keys::PublicKey& key) {
    teams[team].emplace_back(name, public_pem(key));
    return *this;
  }
  PolicyText& rule(std::string json) {
    rules.push_back(std::move(json));
    return *this;
  }

  std::string text() const {
    std::string t = R"({"unmatched": ")" + unmatched + R"(", "teams": {)";
    bool first = true;
    for (const auto& [team, members] : teams) {
      if (!first) t += ", ";
      first = false;
      t += json_str(team) + R"(: {"members": [)";
      for (std::size_t i = 0; i < members.size(); ++i) {
        if (i != 0) t += ", ";
        t += R"({"name": )" + json_str(members[i].first) + R"(, "keys": [)" +
             json_str(members[i].second) + "]}";
      }
      t += "]}";
    }
    t += R"(}, "trust": )" + trust + R"(, "rules": [)";
    for (std::size_t i = 0; i < rules.size(); ++i) t += (i != 0 ? ", " : "") + rules[i];
    return t + "]}";
  }

  std::shared_ptr<const Policy> build() const {
    auto p = Policy::parse(text(), PolicyFormat::kJson);
    REQUIRE_MESSAGE(p.ok(), p.error().message);
    return std::make_shared<const Policy>(std::move(*p));
  }
};

}  // namespace vouch::verifier::testing
