// client::Repository against an in-process Notary server (tests/support/fake_remote.h) that
// runs vouch-server's own validation: init and the initial publish, staged targets and
// delegations, a second client, publish conflicts, key rotation (targets, snapshot to the
// server, root) followed by old and new clients, delete, and the errors a user meets.

#include <doctest/doctest.h>

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "client/apply.h"
#include "client/changelist.h"
#include "client/repository.h"
#include "keys/keystore.h"
#include "keys/local_signer.h"
#include "keys/passphrase.h"
#include "tests/support/fake_remote.h"

namespace fs = std::filesystem;
using namespace vouch;
using vouch::testing::FakeRemote;

namespace {

const std::string kGun = "example.com/team/app";

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "vouch-repo-XXXXXX").string();
    char* p = ::mkdtemp(tmpl.data());
    REQUIRE(p != nullptr);
    path_ = p;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

keys::KeyStoreOptions fast_store() {
  keys::KeyStoreOptions o;
  o.write.format = keys::KeyFileFormat::kVouch;
  o.write.argon2 = {1024, 1, 1};
  return o;
}

// One user: a trust directory with its key store, signer and repository handle.
struct Client {
  Client(const fs::path& dir, FakeRemote& remote, const Clock& clock)
      : trust_dir(dir),
        store(keys::TrustDirKeyStore::open(dir, fast_store()).value()),
        passphrases(keys::SecretString("correct horse battery")),
        signer(store, passphrases) {
    client::RepositoryConfig config;
    config.gun = kGun;
    config.clock = &clock;
    repo = std::make_unique<client::Repository>(
        client::Repository::open(config, dir, &remote, store, signer, passphrases).value());
  }

  void stage(Result<client::Change> change) {
    REQUIRE(change.ok());
    REQUIRE(repo->changelist().add(*change).ok());
  }
  void add_target(const std::string& name, std::string_view content,
                  std::string_view role = "targets") {
    stage(client::add_target_change(role, name, tuf::FileMeta::of(as_bytes(content))));
  }
  std::vector<std::string> names() {
    auto listed = repo->list_targets();
    REQUIRE_MESSAGE(listed.ok(), listed.error().message);
    std::vector<std::string> out;
    for (const auto& t : *listed) out.push_back(t.name);
    return out;
  }

  fs::path trust_dir;
  keys::TrustDirKeyStore store;
  keys::StaticPassphraseSource passphrases;
  keys::LocalSigner signer;
  std::unique_ptr<client::Repository> repo;
};

TimePoint start_time() {
  return TimePoint(std::chrono::sys_days(std::chrono::year{2026} / 11 / 29).time_since_epoch());
}

struct World {
  FixedClock clock{start_time()};
  FakeRemote remote{kGun, clock};
  TempDir alice_dir, bob_dir;
  Client alice{alice_dir.path(), remote, clock};
  Client bob{bob_dir.path(), remote, clock};

  void init_and_publish(client::InitOptions options = {}) {
    auto init = alice.repo->initialize(options);
    REQUIRE_MESSAGE(init.ok(), init.error().message);
    auto published = alice.repo->publish();
    REQUIRE_MESSAGE(published.ok(), published.error().message);
    CHECK(published->initial);
  }
};

}  // namespace

TEST_CASE("init writes a local repository that publish uploads") {
  World w;
  auto init = w.alice.repo->initialize({});
  REQUIRE_MESSAGE(init.ok(), init.error().message);
  CHECK(init->generated_root_key);
  REQUIRE(init->root_key.has_value());
  CHECK(init->root_key->certificate() != nullptr);
  CHECK(init->root_key->certificate()->common_name() == kGun);
  // Nothing on the server yet; root, targets and snapshot cached locally.
  CHECK(w.remote.current("root").empty());
  CHECK(w.alice.repo->cache().load("root", 1 << 20).ok());
  CHECK(w.alice.repo->cache().load("snapshot", 1 << 20).ok());

  // The list before publishing: the server does not know the repository.
  auto before = w.alice.repo->list_targets();
  REQUIRE_FALSE(before.ok());
  CHECK(before.error().reason == Reason::kNotFound);

  w.alice.add_target("v1", "content one");
  auto published = w.alice.repo->publish();
  REQUIRE_MESSAGE(published.ok(), published.error().message);
  CHECK(published->initial);
  CHECK(published->changes_applied == 1);
  CHECK(w.remote.version_of("root") == 1);
  CHECK(w.remote.version_of("targets") == 1);
  CHECK(w.remote.version_of("snapshot") == 1);
  CHECK(w.remote.version_of("timestamp") == 1);
  CHECK(w.alice.names() == std::vector<std::string>{"v1"});
  // The changelist was cleared.
  CHECK(w.alice.repo->changelist().list()->changes.empty());
}

TEST_CASE("an existing root key is reused, and init refuses a repository the server has") {
  World w;
  auto root = w.alice.signer.create_key("", "root", keys::KeyType::kEcdsa);
  REQUIRE(root.ok());
  auto init = w.alice.repo->initialize({});
  REQUIRE(init.ok());
  CHECK_FALSE(init->generated_root_key);
  CHECK(init->root_key->canonical_id() == root->canonical_id());
  REQUIRE(w.alice.repo->publish().ok());

  auto again = w.bob.repo->initialize({});
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().reason == Reason::kConflict);
}

TEST_CASE("publish without init says to run init") {
  World w;
  w.alice.add_target("v1", "x");
  auto published = w.alice.repo->publish();
  REQUIRE_FALSE(published.ok());
  CHECK(published.error().message.find("init") != std::string::npos);
  // The staged change is kept.
  CHECK(w.alice.repo->changelist().list()->changes.size() == 1);
}

TEST_CASE("targets added, removed and seen by a second client") {
  World w;
  w.init_and_publish();
  w.alice.add_target("v1", "one");
  w.alice.add_target("v2", "two");
  REQUIRE(w.alice.repo->publish().ok());
  CHECK(w.remote.version_of("targets") == 2);
  CHECK(w.bob.names() == std::vector<std::string>{"v1", "v2"});

  auto found = w.bob.repo->lookup("v2");
  REQUIRE(found.ok());
  CHECK(found->meta == tuf::FileMeta::of(as_bytes(std::string_view("two"))));
  CHECK(found->role == "targets");
  CHECK_FALSE(w.bob.repo->lookup("v3").ok());

  w.alice.stage(client::remove_target_change("targets", "v1"));
  REQUIRE(w.alice.repo->publish().ok());
  CHECK(w.bob.names() == std::vector<std::string>{"v2"});
  // Nothing staged: publish uploads nothing.
  const int publishes = w.remote.publishes;
  auto idle = w.alice.repo->publish();
  REQUIRE(idle.ok());
  CHECK(idle->uploaded.empty());
  CHECK(w.remote.publishes == publishes);
}

TEST_CASE("a publish that conflicts is retried on the new state") {
  World w;
  w.init_and_publish();
  w.alice.add_target("mine", "a");
  // Bob publishes between Alice's fetch and her upload: bob holds no keys, so simulate the
  // other publisher by having alice's first upload refused as a version conflict.
  w.remote.conflicts_to_inject = 1;
  auto published = w.alice.repo->publish();
  REQUIRE_MESSAGE(published.ok(), published.error().message);
  CHECK(published->attempts == 2);
  CHECK(w.bob.names() == std::vector<std::string>{"mine"});

  // Two conflicts in a row: reported, changes kept.
  w.alice.add_target("second", "b");
  w.remote.conflicts_to_inject = 2;
  auto failed = w.alice.repo->publish();
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().reason == Reason::kConflict);
  CHECK(w.alice.repo->changelist().list()->changes.size() == 1);
}

TEST_CASE("delegations: a user delegation with paths signs targets within them") {
  World w;
  // Delegates publish without the snapshot key, so the server manages it (as docker trust
  // sets repositories up).
  client::InitOptions options;
  options.server_managed_snapshot = true;
  w.init_and_publish(options);
  // Bob makes a delegation key; Alice (the owner) delegates to it.
  auto bob_key = w.bob.signer.create_key("", "targets/bob", keys::KeyType::kEcdsa);
  REQUIRE(bob_key.ok());
  w.alice.stage(client::add_delegation_keys_change("targets/bob", {*bob_key}));
  w.alice.stage(client::add_delegation_paths_change("targets/bob", {"bob/"}));
  auto published = w.alice.repo->publish();
  REQUIRE_MESSAGE(published.ok(), published.error().message);

  // Bob signs into his delegation; outside his paths is refused before anything is sent.
  w.bob.add_target("bob/tool", "tool", "targets/bob");
  auto bob_published = w.bob.repo->publish();
  REQUIRE_MESSAGE(bob_published.ok(), bob_published.error().message);
  auto found = w.alice.repo->lookup("bob/tool");
  REQUIRE(found.ok());
  CHECK(found->role == "targets/bob");
  REQUIRE(found->signers.size() == 1);
  CHECK(found->signers[0].canonical_id() == bob_key->canonical_id());

  w.bob.add_target("other", "x", "targets/bob");
  auto outside = w.bob.repo->publish();
  REQUIRE_FALSE(outside.ok());
  CHECK(outside.error().reason == Reason::kBadPath);

  // Bob cannot sign the top-level targets role.
  REQUIRE(w.bob.repo->changelist().clear().ok());
  w.bob.add_target("top", "x");
  auto top = w.bob.repo->publish();
  REQUIRE_FALSE(top.ok());

  // Removing the delegation: the owner deletes it, and its target disappears.
  w.alice.stage(client::delete_delegation_change("targets/bob"));
  REQUIRE(w.alice.repo->publish().ok());
  CHECK(w.alice.names().empty());
}

TEST_CASE("a delegate cannot publish when the owner keeps the snapshot key") {
  World w;
  w.init_and_publish();
  auto bob_key = w.bob.signer.create_key("", "targets/bob", keys::KeyType::kEcdsa);
  REQUIRE(bob_key.ok());
  w.alice.stage(client::add_delegation_keys_change("targets/bob", {*bob_key}));
  w.alice.stage(client::add_delegation_paths_change("targets/bob", {""}));
  REQUIRE(w.alice.repo->publish().ok());
  CHECK(w.alice.repo->holds_snapshot_key() == std::optional<bool>(true));
  w.bob.add_target("x", "x", "targets/bob");
  auto published = w.bob.repo->publish();
  REQUIRE_FALSE(published.ok());
  // Not the server's bare ErrBadHierarchy: what is wrong and how the owner fixes it.
  CHECK(published.error().code == Code::kFailedPrecondition);
  CHECK(published.error().reason == Reason::kThresholdNotMet);
  CHECK(published.error().message.find("vouch key rotate " + kGun + " snapshot -r") !=
        std::string::npos);
  CHECK(w.bob.repo->holds_snapshot_key() == std::optional<bool>(false));
  CHECK(w.bob.repo->changelist().list()->changes.size() == 1);

  // Once the owner moves the snapshot key to the server, the member publishes alone.
  auto rotated = w.alice.repo->rotate_key("snapshot", /*server_managed=*/true);
  REQUIRE_MESSAGE(rotated.ok(), rotated.error().message);
  CHECK(w.alice.repo->holds_snapshot_key() == std::optional<bool>(false));
  auto retried = w.bob.repo->publish();
  REQUIRE_MESSAGE(retried.ok(), retried.error().message);
  CHECK(w.alice.names() == std::vector<std::string>{"x"});
}

TEST_CASE("holds_snapshot_key: nothing cached, then the server's key") {
  World w;
  CHECK_FALSE(w.alice.repo->holds_snapshot_key().has_value());
  client::InitOptions options;
  options.server_managed_snapshot = true;
  w.init_and_publish(options);
  CHECK(w.alice.repo->holds_snapshot_key() == std::optional<bool>(false));
}

TEST_CASE("server-managed snapshot") {
  World w;
  client::InitOptions options;
  options.server_managed_snapshot = true;
  w.init_and_publish(options);
  w.alice.add_target("v1", "one");
  auto published = w.alice.repo->publish();
  REQUIRE(published.ok());
  CHECK(std::find(published->uploaded.begin(), published->uploaded.end(), "snapshot") ==
        published->uploaded.end());
  CHECK(w.remote.version_of("snapshot") == 2);
  CHECK(w.bob.names() == std::vector<std::string>{"v1"});
}

TEST_CASE("key rotation: targets, snapshot to the server, root; old and new clients follow") {
  World w;
  w.init_and_publish();
  w.alice.add_target("v1", "one");
  REQUIRE(w.alice.repo->publish().ok());
  CHECK(w.bob.names() == std::vector<std::string>{"v1"});  // bob now trusts root v1

  auto targets = w.alice.repo->rotate_key("targets", false);
  REQUIRE_MESSAGE(targets.ok(), targets.error().message);
  CHECK(w.remote.version_of("root") == 2);
  CHECK(w.bob.names() == std::vector<std::string>{"v1"});

  auto snapshot = w.alice.repo->rotate_key("snapshot", true);
  REQUIRE_MESSAGE(snapshot.ok(), snapshot.error().message);
  CHECK(w.remote.version_of("root") == 3);
  w.alice.add_target("v2", "two");
  REQUIRE(w.alice.repo->publish().ok());
  CHECK(w.bob.names() == std::vector<std::string>{"v1", "v2"});

  auto root = w.alice.repo->rotate_key("root", false);
  REQUIRE_MESSAGE(root.ok(), root.error().message);
  CHECK(w.remote.version_of("root") == 4);
  CHECK(w.bob.names() == std::vector<std::string>{"v1", "v2"});
  TempDir carol_dir;
  Client carol(carol_dir.path(), w.remote, w.clock);
  CHECK(carol.names() == std::vector<std::string>{"v1", "v2"});
  // Alice still publishes with the new root key.
  w.alice.add_target("v3", "three");
  REQUIRE(w.alice.repo->publish().ok());
  CHECK(carol.names().size() == 3);

  auto timestamp = w.alice.repo->rotate_key("timestamp", true);
  REQUIRE_MESSAGE(timestamp.ok(), timestamp.error().message);
  CHECK(carol.names().size() == 3);

  CHECK_FALSE(w.alice.repo->rotate_key("timestamp", false).ok());
  CHECK_FALSE(w.alice.repo->rotate_key("targets", true).ok());
  CHECK_FALSE(w.alice.repo->rotate_key("targets/x", false).ok());
}

TEST_CASE("witness re-signs a role unchanged") {
  World w;
  w.init_and_publish();
  w.alice.stage(client::witness_change("targets"));
  auto published = w.alice.repo->publish();
  REQUIRE_MESSAGE(published.ok(), published.error().message);
  CHECK(w.remote.version_of("targets") == 2);
}

TEST_CASE("delete: local only, then remote; init again afterwards") {
  World w;
  w.init_and_publish();
  w.alice.add_target("staged", "x");
  REQUIRE(w.alice.repo->delete_trust_data(false).ok());
  CHECK(w.alice.repo->changelist().list()->changes.empty());
  CHECK(w.alice.repo->cache().load("root", 1 << 20).error().reason == Reason::kNotFound);
  CHECK(w.remote.version_of("root") == 1);

  REQUIRE(w.alice.repo->delete_trust_data(true).ok());
  CHECK(w.remote.version_of("root") == 0);
  w.init_and_publish();
  CHECK(w.remote.version_of("root") == 1);
}

TEST_CASE("an unreachable server is kUnavailable, and staged changes stay") {
  World w;
  w.init_and_publish();
  w.alice.add_target("v1", "x");
  w.remote.unavailable = true;
  auto published = w.alice.repo->publish();
  REQUIRE_FALSE(published.ok());
  CHECK(published.error().reason == Reason::kUnavailable);
  CHECK(w.alice.repo->changelist().list()->changes.size() == 1);
}

TEST_CASE("a targets key missing from the trust directory is named") {
  World w;
  w.init_and_publish();
  // Bob has no targets key: he can stage but not publish into "targets".
  w.bob.add_target("v1", "x");
  auto published = w.bob.repo->publish();
  REQUIRE_FALSE(published.ok());
  CHECK(published.error().message.find("targets") != std::string::npos);
}

TEST_CASE("attacks through the client: rollback, freeze, and a root that is not cross-signed") {
  World w;
  w.init_and_publish();
  const std::string old_timestamp = w.remote.current("timestamp");
  w.alice.add_target("v1", "one");
  REQUIRE(w.alice.repo->publish().ok());
  CHECK(w.bob.names() == std::vector<std::string>{"v1"});  // bob's floor: timestamp v2

  SUBCASE("rollback: the server serves an older timestamp") {
    w.remote.put("timestamp", 100, old_timestamp);
    auto listed = w.bob.repo->list_targets();
    REQUIRE_FALSE(listed.ok());
    CHECK(listed.error().reason == Reason::kRollback);
  }
  SUBCASE("freeze: nobody refreshes the timestamp for a month") {
    w.clock.advance(std::chrono::hours(24 * 30));
    auto listed = w.bob.repo->list_targets();
    REQUIRE_FALSE(listed.ok());
    CHECK(listed.error().reason == Reason::kExpired);
  }
  SUBCASE("a new root signed only by new keys is refused by a client that trusts the old") {
    // Mallory initializes the same GUN elsewhere and the server's root is replaced.
    FakeRemote other(kGun, w.clock);
    TempDir mallory_dir;
    Client mallory(mallory_dir.path(), other, w.clock);
    REQUIRE(mallory.repo->initialize({}).ok());
    REQUIRE(mallory.repo->publish().ok());
    w.remote.put("root", 2, other.current("root"));
    auto listed = w.bob.repo->list_targets();
    REQUIRE_FALSE(listed.ok());
    CHECK(listed.error().reason == Reason::kThresholdNotMet);
  }
}

TEST_CASE("hostile names never reach the filesystem or the server") {
  World w;
  w.init_and_publish();
  CHECK_FALSE(client::add_target_change("targets/../root", "x",
                                        tuf::FileMeta::of(as_bytes(std::string_view("x"))))
                  .ok());
  CHECK_FALSE(client::add_delegation_keys_change("../../etc", {}).ok());
  FakeRemote remote("../../etc/passwd", w.clock);
  client::RepositoryConfig config;
  config.gun = "../../etc/passwd";
  auto repo = client::Repository::open(config, w.alice_dir.path(), &remote, w.alice.store,
                                       w.alice.signer, w.alice.passphrases);
  REQUIRE_FALSE(repo.ok());
  CHECK(repo.error().reason == Reason::kBadGun);
}
