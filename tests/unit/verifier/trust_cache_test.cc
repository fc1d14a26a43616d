// TrustCache (verifier/trust_cache.h): reuse until stale, background refresh, expiry bound,
// single flight, deadlines (the fetch goes on and warms the cache), remembered errors,
// rollback floors, pinning from the trust section, and which delegations are loaded. Time is a
// FixedClock; concurrency is controlled with FakeServer's gate. Nothing measures time.

#include "verifier/trust_cache.h"

#include <doctest/doctest.h>

#include <thread>
#include <vector>

#include "keys/private_key.h"
#include "keys/x509.h"
#include "tests/unit/client/client_test_util.h"
#include "tests/unit/verifier/daemon_test_util.h"
#include "tuf/metadata.h"

namespace vouch::verifier {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::far_deadline;
using testing::FakeServer;
using testing::Repo;
using testing::wait_for;

const std::string kGun = "registry.example.com/prod/app";

ImageRef image_ref(const std::string& text) {
  auto r = parse_image_ref(text);
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  return *r;
}

TrustSection tofu_section() {
  TrustSection s;
  s.prefix = "registry.example.com";
  s.server = "https://notary.example.com";
  s.tofu = true;
  return s;
}

// A repository with "targets/releases" (every path) and "targets/dev" (paths "dev-"), each
// signing one tag.
Repo& standard_repo(FakeServer& server) {
  Repo& repo = server.add(kGun);
  repo.delegate("targets/releases", {repo.new_key()});
  repo.delegate("targets/dev", {repo.new_key()}, {"dev-"});
  repo.sign("targets/releases", "1.0", "manifest 1.0");
  repo.sign("targets/dev", "dev-1", "manifest dev-1");
  repo.publish();
  return repo;
}

TrustCacheOptions options(milliseconds max_age, milliseconds refresh_after) {
  TrustCacheOptions o;
  o.max_age = max_age;
  o.refresh_after = refresh_after;
  o.fetch_threads = 2;
  return o;
}

TEST_CASE("fresh trust data is reused; delegations are loaded for the tag, all for a digest") {
  FakeServer server;
  Repo& repo = standard_repo(server);
  FixedClock clock(repo.sim.now());
  TrustCache cache(server.factory(), clock, options(seconds(60), seconds(60)));
  const TrustSection section = tofu_section();

  auto first = cache.get(section, image_ref(kGun + ":1.0"), far_deadline());
  REQUIRE_MESSAGE(first.ok(), first.error().message);
  const TrustData& data = **first;
  CHECK(data.set.gun() == kGun);
  CHECK(data.tags == std::set<std::string, std::less<>>{"1.0"});
  CHECK_FALSE(data.all_delegations);
  CHECK(data.set.targets("targets/releases") != nullptr);
  // "dev-" does not cover "1.0": that delegation is never fetched for this tag.
  CHECK(data.set.targets("targets/dev") == nullptr);
  CHECK(data.fetched_at == clock.now());
  CHECK(data.usable_until == clock.now() + seconds(60));
  CHECK(data.timestamp_version() == repo.sim.timestamp.version);
  CHECK(server.sources_made() == 1);

  clock.advance(seconds(59));
  auto again = cache.get(section, image_ref(kGun + ":1.0"), far_deadline());
  REQUIRE(again.ok());
  CHECK(again->get() == first->get());
  CHECK(server.sources_made() == 1);
  CHECK(cache.stats().hits == 1);
  CHECK(cache.stats().misses == 1);

  // A tag not covered yet: a new fetch covering both tags.
  auto dev = cache.get(section, image_ref(kGun + ":dev-1"), far_deadline());
  REQUIRE_MESSAGE(dev.ok(), dev.error().message);
  CHECK(server.sources_made() == 2);
  CHECK((*dev)->tags == std::set<std::string, std::less<>>{"1.0", "dev-1"});
  CHECK((*dev)->set.targets("targets/dev") != nullptr);
  CHECK((*dev)->generation > (*first)->generation);
  CHECK((*dev)->covers(image_ref(kGun + ":1.0")));

  // A digest alone may be listed anywhere: every delegation.
  auto digest = cache.get(section, image_ref(kGun + "@sha256:" + testing::sha256_of("manifest 1.0")),
                          far_deadline());
  REQUIRE_MESSAGE(digest.ok(), digest.error().message);
  CHECK((*digest)->all_delegations);
  CHECK((*digest)->set.targets("targets/dev") != nullptr);
  CHECK((*digest)->covers(image_ref(kGun + ":anything")));
}

TEST_CASE("stale after max_age; refreshed in the background after refresh_after") {
  FakeServer server;
  Repo& repo = standard_repo(server);
  FixedClock clock(repo.sim.now());
  const TrustSection section = tofu_section();

  SUBCASE("no background refresh: the first request after max_age fetches") {
    TrustCache cache(server.factory(), clock, options(seconds(60), seconds(60)));
    REQUIRE(cache.get(section, image_ref(kGun + ":1.0"), far_deadline()).ok());
    clock.advance(seconds(59));
    REQUIRE(cache.get(section, image_ref(kGun + ":1.0"), far_deadline()).ok());
    CHECK(server.sources_made() == 1);
    clock.advance(seconds(1));
    auto late = cache.get(section, image_ref(kGun + ":1.0"), far_deadline());
    REQUIRE(late.ok());
    CHECK(server.sources_made() == 2);
    CHECK((*late)->fetched_at == clock.now());
    CHECK(cache.stats().background_refreshes == 0);
  }

  SUBCASE("after refresh_after the data is still served and a refresh runs behind it") {
    TrustCache cache(server.factory(), clock, options(seconds(60), seconds(30)));
    auto first = cache.get(section, image_ref(kGun + ":1.0"), far_deadline());
    REQUIRE(first.ok());
    clock.advance(seconds(29));
    REQUIRE(cache.get(section, image_ref(kGun + ":1.0"), far_deadline()).ok());
    cache.wait_idle();
    CHECK(server.sources_made() == 1);

    // The repository changes; a request at 30 s gets the old data and starts a refresh.
    server.with_lock([&] {
      repo.sign("targets/releases", "1.0", "manifest 1.0 rebuilt");
      repo.publish();
    });
    clock.advance(seconds(1));
    auto served = cache.get(section, image_ref(kGun + ":1.0"), far_deadline());
    REQUIRE(served.ok());
    CHECK(served->get() == first->get());
    cache.wait_idle();
    CHECK(server.sources_made() == 2);
    CHECK(cache.stats().background_refreshes == 1);

    auto refreshed = cache.get(section, image_ref(kGun + ":1.0"), far_deadline());
    REQUIRE(refreshed.ok());
    CHECK(refreshed->get() != first->get());
    CHECK((*refreshed)->timestamp_version() == repo.sim.timestamp.version);
    CHECK((*refreshed)->fetched_at == clock.now());
    CHECK(server.sources_made() == 2);
  }

  SUBCASE("never past the earliest expiry: the timestamp's (14 days) bounds a long max_age") {
    TrustCache cache(server.factory(), clock, options(hours(24 * 30), hours(24 * 30)));
    auto first = cache.get(section, image_ref(kGun + ":1.0"), far_deadline());
    REQUIRE(first.ok());
    CHECK((*first)->usable_until == repo.sim.timestamp.expires.time);
    clock.set(repo.sim.timestamp.expires.time - seconds(1));
    REQUIRE(cache.get(section, image_ref(kGun + ":1.0"), far_deadline()).ok());
    CHECK(server.sources_made() == 1);
    // At the expiry the data is not used; the server still serves the same expired timestamp.
    clock.set(repo.sim.timestamp.expires.time + seconds(1));
    auto expired = cache.get(section, image_ref(kGun + ":1.0"), far_deadline());
    REQUIRE_FALSE(expired.ok());
    CHECK(expired.error().reason == Reason::kExpired);
    CHECK(server.sources_made() == 2);
  }
}

TEST_CASE("concurrent requests for one GUN share one fetch (single flight)") {
  FakeServer server;
  Repo& repo = standard_repo(server);
  FixedClock clock(repo.sim.now());
  TrustCache cache(server.factory(), clock, options(seconds(60), seconds(60)));
  const TrustSection section = tofu_section();

  server.close_gate();
  constexpr int kRequests = 6;
  std::vector<std::shared_ptr<const TrustData>> results(kRequests);
  std::vector<std::thread> threads;
  for (int i = 0; i < kRequests; ++i) {
    threads.emplace_back([&, i] {
      auto r = cache.get(section, image_ref(kGun + ":1.0"), far_deadline());
      if (r) results[static_cast<std::size_t>(i)] = *r;
    });
  }
  wait_for([&] { return cache.stats().waiting == kRequests && server.blocked() == 1; },
           "every request waiting on the one fetch");
  server.open_gate();
  for (auto& t : threads) t.join();
  CHECK(server.sources_made() == 1);
  CHECK(cache.stats().fetches == 1);
  for (const auto& r : results) {
    REQUIRE(r != nullptr);
    CHECK(r.get() == results[0].get());
  }
}

TEST_CASE("a need that arrives during a fetch is merged into the next one") {
  FakeServer server;
  Repo& repo = standard_repo(server);
  FixedClock clock(repo.sim.now());
  TrustCache cache(server.factory(), clock, options(seconds(60), seconds(60)));
  const TrustSection section = tofu_section();

  server.close_gate();
  std::shared_ptr<const TrustData> a, b;
  std::thread ta([&] {
    auto r = cache.get(section, image_ref(kGun + ":1.0"), far_deadline());
    if (r) a = *r;
  });
  wait_for([&] { return server.blocked() == 1; }, "the first fetch at the gate");
  std::thread tb([&] {
    auto r = cache.get(section, image_ref(kGun + ":dev-1"), far_deadline());
    if (r) b = *r;
  });
  wait_for([&] { return cache.stats().waiting == 2; }, "both requests waiting");
  server.open_gate();
  ta.join();
  tb.join();
  REQUIRE(a != nullptr);
  REQUIRE(b != nullptr);
  CHECK(a->covers(image_ref(kGun + ":1.0")));
  CHECK(b->covers(image_ref(kGun + ":dev-1")));
  CHECK(b->covers(image_ref(kGun + ":1.0")));
  CHECK(server.sources_made() == 2);
}

TEST_CASE("deadline: the request is answered with an error, the fetch goes on and warms the cache") {
  FakeServer server;
  Repo& repo = standard_repo(server);
  FixedClock clock(repo.sim.now());
  TrustCache cache(server.factory(), clock, options(seconds(60), seconds(60)));
  const TrustSection section = tofu_section();

  server.close_gate();
  // A deadline that has already passed: the request cannot wait at all.
  auto late = cache.get(section, image_ref(kGun + ":1.0"), std::chrono::steady_clock::now());
  REQUIRE_FALSE(late.ok());
  CHECK(late.error().code == Code::kDeadlineExceeded);
  CHECK(late.error().reason == Reason::kUnavailable);
  CHECK(cache.stats().deadline_exceeded == 1);

  wait_for([&] { return server.blocked() == 1; }, "the fetch at the gate");
  server.open_gate();
  cache.wait_idle();
  auto warm = cache.get(section, image_ref(kGun + ":1.0"), std::chrono::steady_clock::now());
  REQUIRE_MESSAGE(warm.ok(), warm.error().message);
  CHECK(cache.stats().hits == 1);
  CHECK(server.sources_made() == 1);
}

TEST_CASE("an unreachable server fails closed, and the failure answers for error_ttl") {
  FakeServer server;
  Repo& repo = standard_repo(server);
  FixedClock clock(repo.sim.now());
  TrustCacheOptions o = options(seconds(60), seconds(60));
  o.error_ttl = seconds(2);
  TrustCache cache(server.factory(), clock, o);
  const TrustSection section = tofu_section();

  server.with_lock([&] { repo.server.unavailable = true; });
  auto down = cache.get(section, image_ref(kGun + ":1.0"), far_deadline());
  REQUIRE_FALSE(down.ok());
  CHECK(down.error().reason == Reason::kUnavailable);
  CHECK(cache.stats().fetch_errors == 1);

  server.with_lock([&] { repo.server.unavailable = false; });
  clock.advance(seconds(1));
  auto remembered = cache.get(section, image_ref(kGun + ":1.0"), far_deadline());
  REQUIRE_FALSE(remembered.ok());
  CHECK(remembered.error().reason == Reason::kUnavailable);
  CHECK(server.sources_made() == 1);

  clock.advance(seconds(1));
  auto back = cache.get(section, image_ref(kGun + ":1.0"), far_deadline());
  REQUIRE_MESSAGE(back.ok(), back.error().message);
  CHECK(server.sources_made() == 2);
}

TEST_CASE("the previous trust data's versions are rollback floors") {
  FakeServer server;
  Repo& repo = standard_repo(server);
  FixedClock clock(repo.sim.now());
  // max_age 0: every request fetches.
  TrustCache cache(server.factory(), clock, options(milliseconds(0), milliseconds(0)));
  const TrustSection section = tofu_section();

  const auto old_files = repo.sim.files;
  server.with_lock([&] {
    repo.sign("targets/releases", "1.0", "manifest 1.0 v2");
    repo.publish();
  });
  auto current = cache.get(section, image_ref(kGun + ":1.0"), far_deadline());
  REQUIRE_MESSAGE(current.ok(), current.error().message);

  SUBCASE("an old timestamp") {
    server.with_lock([&] { repo.server.tamper["timestamp"] = old_files.at("timestamp"); });
    auto replay = cache.get(section, image_ref(kGun + ":1.0"), far_deadline());
    REQUIRE_FALSE(replay.ok());
    CHECK(replay.error().reason == Reason::kRollback);
  }
  SUBCASE("an old delegation behind a new timestamp and snapshot") {
    server.with_lock([&] {
      repo.sim.files["targets/releases"] = old_files.at("targets/releases");
      // Snapshot and timestamp signed anew by their keys over the old delegation.
      ++repo.sim.snapshot.version;
      ++repo.sim.timestamp.version;
      repo.reseal();
    });
    auto replay = cache.get(section, image_ref(kGun + ":1.0"), far_deadline());
    REQUIRE_FALSE(replay.ok());
    CHECK(replay.error().reason == Reason::kRollback);
  }
}

TEST_CASE("the root is pinned as the trust section says") {
  FakeServer server;
  Repo& repo = standard_repo(server);
  FixedClock clock(repo.sim.now());
  TrustCache cache(server.factory(), clock, options(seconds(60), seconds(60)));

  TrustSection pinned = tofu_section();
  pinned.tofu = false;
  pinned.root_keys = {repo.sim.root_key.id()};
  auto ok = cache.get(pinned, image_ref(kGun + ":1.0"), far_deadline());
  REQUIRE_MESSAGE(ok.ok(), ok.error().message);

  TrustSection wrong = tofu_section();
  wrong.tofu = false;
  wrong.root_keys = {std::string(64, 'a')};
  auto refused = cache.get(wrong, image_ref(kGun + ":1.0"), far_deadline());
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().reason == Reason::kBadCertificate);

  TrustSection nothing = tofu_section();
  nothing.tofu = false;
  auto no_tofu = cache.get(nothing, image_ref(kGun + ":1.0"), far_deadline());
  REQUIRE_FALSE(no_tofu.ok());
  CHECK(no_tofu.error().reason == Reason::kBadCertificate);

  // Three sections, three entries: data verified under one pinning is never used for another.
  CHECK(server.sources_made() == 3);
  CHECK(cache.stats().entries == 3);
  CHECK(trust_section_id(pinned) != trust_section_id(wrong));
  CHECK(trust_section_id(pinned) == trust_section_id(TrustSection(pinned)));
}

TEST_CASE("root_keys: the root key's canonical ID pins, and a refusal names root_keys") {
  FakeServer server;
  Repo& repo = standard_repo(server);
  Repo& other = server.add("registry.example.com/prod/other");  // another root key
  other.publish();
  FixedClock clock(repo.sim.now());
  TrustCache cache(server.factory(), clock, options(seconds(60), seconds(60)));

  TrustSection canonical = tofu_section();
  canonical.tofu = false;
  canonical.root_keys = {repo.sim.root_key.canonical_id()};
  REQUIRE(canonical.root_keys[0] != repo.sim.root_key.id());
  auto ok = cache.get(canonical, image_ref(kGun + ":1.0"), far_deadline());
  REQUIRE_MESSAGE(ok.ok(), ok.error().message);

  // The pin still means something: a repository under the prefix with another root key is
  // refused, and the error says which part of the policy refused it.
  auto refused =
      cache.get(canonical, image_ref("registry.example.com/prod/other:1.0"), far_deadline());
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().reason == Reason::kBadCertificate);
  const std::string& message = refused.error().message;
  CHECK_MESSAGE(message.find("root_keys of the trust section for \"registry.example.com\"") !=
                    std::string::npos,
                message);
  CHECK_MESSAGE(message.find(other.sim.root_key.canonical_id()) != std::string::npos, message);
  CHECK_MESSAGE(message.find("config entry") == std::string::npos, message);

  // root_ca refusals name root_ca.
  TrustSection by_ca = tofu_section();
  by_ca.tofu = false;
  auto ca_priv = keys::PrivateKey::generate(keys::KeyType::kEcdsa).value();
  by_ca.root_ca = {keys::make_root_certificate(ca_priv, "some CA", repo.sim.now() - hours(1),
                                               repo.sim.now() + hours(24))
                       .value()};
  auto not_issued = cache.get(by_ca, image_ref(kGun + ":1.0"), far_deadline());
  REQUIRE_FALSE(not_issued.ok());
  CHECK(not_issued.error().reason == Reason::kBadCertificate);
  CHECK_MESSAGE(not_issued.error().message.find("root_ca of the trust section") != std::string::npos,
                not_issued.error().message);
}

TEST_CASE("a root trusted on first use stays the anchor: an unrelated new root is refused") {
  FakeServer server;
  Repo& repo = standard_repo(server);
  FixedClock clock(repo.sim.now());
  TrustCache cache(server.factory(), clock, options(milliseconds(0), milliseconds(0)));
  const TrustSection section = tofu_section();
  REQUIRE(cache.get(section, image_ref(kGun + ":1.0"), far_deadline()).ok());

  // The server now answers with a whole new repository (new root key, same GUN), as an
  // attacker controlling the server would.
  server.with_lock([&] {
    vouch::testing::RepoSimulator other(kGun);
    repo.server = vouch::testing::MemorySource();
    repo.server.publish(other.files);
  });
  auto forged = cache.get(section, image_ref(kGun + ":1.0"), far_deadline());
  REQUIRE_FALSE(forged.ok());
}

// A new root key as Notary makes them (self-signed certificate, CN = GUN), held by the
// repository's signer.
keys::PublicKey new_root_key(Repo& repo) {
  auto priv = keys::PrivateKey::generate(keys::KeyType::kEcdsa).value();
  auto cert = keys::make_root_certificate(priv, kGun, repo.sim.now() - hours(1),
                                          repo.sim.now() + hours(24 * 3650))
                  .value();
  repo.sim.signer.add_key(std::move(priv));
  return keys::PublicKey::from_tuf(keys::KeyType::kEcdsaX509, as_bytes(cert.pem())).value();
}

// Publishes root version + 1 with the root keys `ks`, signed by `signers` (as `vouch key
// rotate <gun> root` does with the old and the new key), and serves it.
void rotate_root(FakeServer& server, Repo& repo, const std::vector<keys::PublicKey>& ks,
                 const std::vector<keys::PublicKey>& signers) {
  server.with_lock([&] {
    ++repo.sim.root.version;
    tuf::RoleKeys rk{{}, 1};
    for (const auto& k : ks) {
      repo.sim.root.keys.emplace(k.id(), k);
      rk.keyids.push_back(k.id());
    }
    repo.sim.root.roles["root"] = rk;
    repo.sim.files["root"] = repo.sim.sign(tuf::to_json(repo.sim.root), signers);
    ++repo.sim.snapshot.version;
    ++repo.sim.timestamp.version;
    repo.reseal();
  });
}

TEST_CASE("pinned root keys anchor the chain: a cross-signed rotation is followed") {
  FakeServer server;
  Repo& repo = standard_repo(server);
  FixedClock clock(repo.sim.now());
  const keys::PublicKey v1_key = repo.sim.root_key;
  TrustSection pinned = tofu_section();
  pinned.tofu = false;
  pinned.root_keys = {v1_key.id()};
  TrustCache running(server.factory(), clock, options(milliseconds(0), milliseconds(0)));
  REQUIRE(running.get(pinned, image_ref(kGun + ":1.0"), far_deadline()).ok());

  const keys::PublicKey v2_key = new_root_key(repo);
  rotate_root(server, repo, {v2_key}, {v1_key, v2_key});
  server.with_lock([&] {
    repo.sign("targets/releases", "2.0", "manifest 2.0");
    repo.publish();
  });

  // The running verifier follows the rotation from its anchor ...
  auto followed = running.get(pinned, image_ref(kGun + ":2.0"), far_deadline());
  REQUIRE_MESSAGE(followed.ok(), followed.error().message);
  CHECK((*followed)->set.root().content.version == 2);
  CHECK((*followed)->set.targets("targets/releases")->metadata.content.targets.count("2.0") == 1);
  // ... and a fresh one anchors at version 1, the one the pin names, and walks to 2.
  TrustCache fresh(server.factory(), clock, options(milliseconds(0), milliseconds(0)));
  auto anchored = fresh.get(pinned, image_ref(kGun + ":2.0"), far_deadline());
  REQUIRE_MESSAGE(anchored.ok(), anchored.error().message);
  CHECK((*anchored)->set.root().content.version == 2);

  // strict_pinning: every root must satisfy the pin, as before.
  TrustSection strict = pinned;
  strict.strict_pinning = true;
  CHECK(trust_section_id(strict) != trust_section_id(pinned));
  auto refused = fresh.get(strict, image_ref(kGun + ":2.0"), far_deadline());
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().reason == Reason::kBadCertificate);

  // A root the v2 keys did not sign is refused however it is reached.
  const keys::PublicKey attacker = new_root_key(repo);
  rotate_root(server, repo, {attacker}, {attacker});
  auto forged = running.get(pinned, image_ref(kGun + ":2.0"), far_deadline());
  REQUIRE_FALSE(forged.ok());
  CHECK(forged.error().reason == Reason::kThresholdNotMet);
  TrustCache another(server.factory(), clock, options(milliseconds(0), milliseconds(0)));
  CHECK_FALSE(another.get(pinned, image_ref(kGun + ":2.0"), far_deadline()).ok());
}

TEST_CASE("with a state directory the anchor survives a restart: a new root is not trusted silently") {
  client::testing::TempDir state;
  FakeServer server;
  Repo& repo = standard_repo(server);
  FixedClock clock(repo.sim.now());
  const TrustSection section = tofu_section();
  TrustCacheOptions with_state = options(milliseconds(0), milliseconds(0));
  with_state.state_dir = state.path();
  {
    TrustCache first_run(server.factory(), clock, with_state);
    REQUIRE(first_run.get(section, image_ref(kGun + ":1.0"), far_deadline()).ok());
  }
  const auto anchor_file =
      state.path() / trust_section_id(section) / "tuf" / kGun / "metadata" / "root.json";
  CHECK(std::filesystem::is_regular_file(anchor_file));

  // While the verifier is down, the server starts answering with another repository (new
  // root key, same GUN).
  server.with_lock([&] {
    vouch::testing::RepoSimulator other(kGun);
    repo.server = vouch::testing::MemorySource();
    repo.server.publish(other.files);
  });
  TrustCache restarted(server.factory(), clock, with_state);
  auto after_restart = restarted.get(section, image_ref(kGun + ":1.0"), far_deadline());
  CHECK_FALSE(after_restart.ok());
  // Without a state directory the new root is trusted on first use again.
  TrustCache stateless(server.factory(), clock, options(milliseconds(0), milliseconds(0)));
  CHECK(stateless.get(section, image_ref(kGun + ":1.0"), far_deadline()).ok());
}

TEST_CASE("beyond max_entries the least recently used GUN is dropped") {
  FakeServer server;
  const std::vector<std::string> guns = {kGun, "registry.example.com/prod/b",
                                         "registry.example.com/prod/c"};
  for (const auto& gun : guns) {
    Repo& repo = server.add(gun);
    repo.delegate("targets/releases", {repo.new_key()});
    repo.sign("targets/releases", "1.0", "manifest");
    repo.publish();
  }
  FixedClock clock(server.repo(kGun).sim.now());
  TrustCacheOptions o = options(seconds(60), seconds(60));
  o.max_entries = 2;
  TrustCache cache(server.factory(), clock, o);
  const TrustSection section = tofu_section();
  for (const auto& gun : guns) REQUIRE(cache.get(section, image_ref(gun + ":1.0"), far_deadline()).ok());
  CHECK(cache.stats().entries == 2);
  CHECK(server.sources_made() == 3);
  // The two most recent are still cached; the first was dropped and is fetched again.
  REQUIRE(cache.get(section, image_ref(guns[2] + ":1.0"), far_deadline()).ok());
  REQUIRE(cache.get(section, image_ref(guns[1] + ":1.0"), far_deadline()).ok());
  CHECK(server.sources_made() == 3);
  REQUIRE(cache.get(section, image_ref(guns[0] + ":1.0"), far_deadline()).ok());
  CHECK(server.sources_made() == 4);
  CHECK(cache.stats().entries == 2);
}

TEST_CASE("stop() fails later requests") {
  FakeServer server;
  Repo& repo = standard_repo(server);
  FixedClock clock(repo.sim.now());
  TrustCache cache(server.factory(), clock, options(seconds(60), seconds(60)));
  cache.stop();
  auto r = cache.get(tofu_section(), image_ref(kGun + ":1.0"), far_deadline());
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason == Reason::kUnavailable);
}

}  // namespace
}  // namespace vouch::verifier
