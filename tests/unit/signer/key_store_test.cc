// Tests for signer/key_store: encryption round trip, tamper detection, passphrase checks at
// open, alias rotation (also under concurrent signing), CreateKey reuse, the bounded cache,
// and concurrency.
//
// The key store's conformance suite: this file is compiled twice, once over the RocksDB record
// store (signer_key_store_test) and once, with VOUCH_KEY_STORE_PG, over PgRecordStore on a
// real PostgreSQL server that the test starts (signer_key_store_pg_test; a fresh database per
// "directory"). The cases below run on both unless marked; the PostgreSQL build adds cases
// with two key stores (two signer processes) on one database.

#include "signer/key_store.h"

#include <doctest/doctest.h>
#include <stdlib.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "keys/private_key.h"
#include "proto/signer_store.pb.h"
#include "signer/record_store.h"
#ifdef VOUCH_KEY_STORE_PG
#include "signer/pg_record_store.h"
#include "tests/support/postgres.h"
#endif

namespace fs = std::filesystem;
using namespace vouch;
using namespace vouch::signer;
using keys::KeyType;

namespace {

#ifdef VOUCH_KEY_STORE_PG
// A fresh database on the test process's PostgreSQL server; db() is its name.
vouch::test::Postgres& test_postgres() {
  auto pg = vouch::test::Postgres::shared();
  REQUIRE_MESSAGE(pg.ok(), "PostgreSQL for the tests: " << pg.error().message);
  return **pg;
}
class TempDir {
 public:
  TempDir() {
    auto db = test_postgres().create_database();
    REQUIRE_MESSAGE(db.ok(), db.error().message);
    name_ = *db;
  }
  std::string db() const { return name_; }

 private:
  std::string name_;
};
PgRecordStoreOptions pg_options(const std::string& database) {
  PgRecordStoreOptions o;
  o.dsn = test_postgres().dsn(database);
  o.password_file = test_postgres().password_file();
  o.pool_size = 4;
  return o;
}
// The records of a "directory" (a database).
std::unique_ptr<RecordStore> open_records(const std::string& db) {
  auto r = PgRecordStore::open(pg_options(db));
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  return std::move(r).value();
}
// KeyStore::open over the backend under test.
Result<std::unique_ptr<KeyStore>> open_store(KeyStoreOptions o) {
  auto records = PgRecordStore::open(pg_options(o.db_path));
  if (!records) return std::move(records).error();
  return KeyStore::open(std::move(o), std::move(records).value());
}
#else
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "vouch-keystore-test.XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string db() const { return (path_ / "keys.db").string(); }

 private:
  fs::path path_;
};
std::unique_ptr<RecordStore> open_records(const std::string& db) {
  auto r = open_rocksdb_records(db, false);
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  return std::move(r).value();
}
Result<std::unique_ptr<KeyStore>> open_store(KeyStoreOptions o) {
  return KeyStore::open(std::move(o));
}
#endif

// Passphrases by alias, as the environment would give them.
using Passphrases = std::map<std::string, std::string>;

AliasPassphraseLookup lookup(std::shared_ptr<Passphrases> p) {
  return [p](std::string_view alias) -> Result<keys::SecretString> {
    auto it = p->find(std::string(alias));
    if (it == p->end()) return make_error(Reason::kNoPassphrase, "unset");
    return keys::SecretString(it->second);
  };
}

// Cheap Argon2 costs so that tests stay fast (the defaults are exercised by the daemon).
KeyStoreOptions options(const TempDir& dir, std::string alias, std::shared_ptr<Passphrases> p) {
  KeyStoreOptions o;
  o.db_path = dir.db();
  o.default_alias = std::move(alias);
  o.passphrases = lookup(std::move(p));
  o.kdf.memory_kib = 64;
  o.kdf.iterations = 1;
  o.kdf.parallelism = 1;
  o.rsa_bits = 2048;
  return o;
}

std::unique_ptr<KeyStore> open_ok(KeyStoreOptions o) {
  auto s = open_store(std::move(o));
  if (!s) FAIL("open failed: " << s.error().message);
  return std::move(s).value();
}

Bytes bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

void check_signs(KeyStore& store, const keys::PublicKey& pub) {
  const Bytes msg = bytes(R"({"signed":"content"})");
  auto sig = store.sign(pub.id(), msg);
  REQUIRE_MESSAGE(sig.ok(), (sig.ok() ? "" : sig.error().message));
  CHECK(pub.verify(sig->method, msg, sig->bytes).ok());
}

// Direct access to the raw records, with the store closed.
struct RawDb {
  explicit RawDb(const std::string& path) : db(open_records(path)) {}
  store::v1::KeyRecord get(const std::string& key_id) {
    auto v = db->get("k/" + key_id);
    REQUIRE(v.ok());
    REQUIRE(v->has_value());
    store::v1::KeyRecord r;
    REQUIRE(r.ParseFromString(**v));
    return r;
  }
  void put(const store::v1::KeyRecord& r) {
    REQUIRE(db->write(
                  [&](RecordStore::Txn& tx) {
                    tx.put("k/" + r.key_id(), r.SerializeAsString());
                    return ok_status();
                  },
                  true)
                .ok());
  }
  std::unique_ptr<RecordStore> db;
};

}  // namespace

TEST_CASE("round trip: keys of every algorithm survive a restart and sign") {
  TempDir dir;
  auto pass = std::make_shared<Passphrases>(Passphrases{{"alpha", "correct horse 1"}});
  std::vector<keys::PublicKey> pubs;
  {
    auto store = open_ok(options(dir, "alpha", pass));
    for (KeyType t : {KeyType::kEcdsa, KeyType::kEd25519, KeyType::kRsa}) {
      auto pub = store->create_key("timestamp", "example.com/app", t);
      REQUIRE(pub.ok());
      CHECK(pub->type() == t);
      check_signs(*store, *pub);
      pubs.push_back(*pub);
    }
    CHECK(*store->key_count() == 3);
  }
  auto store = open_ok(options(dir, "alpha", pass));
  CHECK(store->cache_stats().entries == 0);
  for (const auto& pub : pubs) {
    auto info = store->key_info(pub.id());
    REQUIRE(info.ok());
    CHECK(info->key_id == pub.id());
    CHECK(info->type == pub.type());
    CHECK(info->role == "timestamp");
    CHECK(info->gun == "example.com/app");
    CHECK(info->alias == "alpha");
    CHECK(info->public_key == pub);
    CHECK(info->last_used.has_value());  // signed once above
    check_signs(*store, pub);            // decrypted from disk
  }
  const auto method = [&](std::size_t i) { return store->sign(pubs[i].id(), bytes("x"))->method; };
  CHECK(method(0) == keys::SigMethod::kEcdsa);
  CHECK(method(1) == keys::SigMethod::kEddsa);
  CHECK(method(2) == keys::SigMethod::kRsaPss);
}

TEST_CASE("records hold no plaintext key and carry a fresh nonce") {
  TempDir dir;
  auto pass = std::make_shared<Passphrases>(Passphrases{{"alpha", "p1"}});
  auto store = open_ok(options(dir, "alpha", pass));
  auto a = store->create_key("snapshot", "g", KeyType::kEd25519);
  auto b = store->create_key("snapshot", "h", KeyType::kEd25519);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  store.reset();
  RawDb raw(dir.db());
  auto ra = raw.get(a->id());
  auto rb = raw.get(b->id());
  CHECK(ra.alias() == "alpha");
  CHECK(ra.cipher() == "aes-256-gcm");
  CHECK(ra.nonce().size() == 12);
  CHECK(ra.nonce() != rb.nonce());
  CHECK(ra.algorithm() == "ed25519");
  CHECK(ra.last_used_unix_us() == 0);
  // Ed25519 PKCS#8 is 48 bytes; the sealed form adds the 16-byte tag and shares nothing with
  // the DER prefix of an unencrypted key.
  CHECK(ra.ciphertext().size() == 48 + 16);
  CHECK(ra.ciphertext().find(std::string("\x30\x2e\x02\x01\x00", 5)) == std::string::npos);
}

TEST_CASE("tamper detection: edited records fail authentication") {
  TempDir dir;
  auto pass = std::make_shared<Passphrases>(Passphrases{{"alpha", "p1"}, {"beta", "p2"}});
  std::string id1, id2;
  {
    auto store = open_ok(options(dir, "alpha", pass));
    id1 = store->create_key("timestamp", "g1", KeyType::kEcdsa)->id();
    id2 = store->create_key("timestamp", "g2", KeyType::kEcdsa)->id();
    // Make alias beta known (a verifier) so that relabelled records find a key.
    REQUIRE(store->rotate_alias("beta", false).ok());
    REQUIRE(store->rotate_alias("alpha", true).ok());
  }
  auto expect_tampered = [&](const std::string& id) {
    auto store = open_ok(options(dir, "alpha", pass));
    auto sig = store->sign(id, bytes("content"));
    REQUIRE_FALSE(sig.ok());
    CHECK(sig.error().code == Code::kDataLoss);
    CHECK(sig.error().reason == Reason::kMalformed);
  };

  SUBCASE("a flipped ciphertext byte") {
    {
      RawDb raw(dir.db());
      auto r = raw.get(id1);
      std::string c = r.ciphertext();
      c[5] = static_cast<char>(c[5] ^ 1);
      r.set_ciphertext(c);
      raw.put(r);
    }
    expect_tampered(id1);
  }
  SUBCASE("a flipped tag byte") {
    {
      RawDb raw(dir.db());
      auto r = raw.get(id1);
      std::string c = r.ciphertext();
      c.back() = static_cast<char>(c.back() ^ 0x80);
      r.set_ciphertext(c);
      raw.put(r);
    }
    expect_tampered(id1);
  }
  SUBCASE("ciphertexts swapped between two records") {
    {
      RawDb raw(dir.db());
      auto r1 = raw.get(id1);
      auto r2 = raw.get(id2);
      std::swap(*r1.mutable_ciphertext(), *r2.mutable_ciphertext());
      std::swap(*r1.mutable_nonce(), *r2.mutable_nonce());
      raw.put(r1);
      raw.put(r2);
    }
    expect_tampered(id1);
    expect_tampered(id2);
  }
  SUBCASE("the alias relabelled to another unlocked alias") {
    {
      RawDb raw(dir.db());
      auto r = raw.get(id1);
      r.set_alias("beta");
      raw.put(r);
    }
    expect_tampered(id1);
  }
  SUBCASE("the algorithm relabelled") {
    {
      RawDb raw(dir.db());
      auto r = raw.get(id1);
      r.set_algorithm("ed25519");
      raw.put(r);
    }
    auto store = open_ok(options(dir, "alpha", pass));
    CHECK_FALSE(store->sign(id1, bytes("content")).ok());
  }
  SUBCASE("the public key replaced by another key's") {
    {
      RawDb raw(dir.db());
      auto r1 = raw.get(id1);
      auto r2 = raw.get(id2);
      r1.set_public_key(r2.public_key());
      raw.put(r1);
    }
    expect_tampered(id1);
  }
  SUBCASE("an untouched record still signs") {
    auto store = open_ok(options(dir, "alpha", pass));
    CHECK(store->sign(id2, bytes("content")).ok());
  }
}

TEST_CASE("open refuses a wrong or missing passphrase, naming the alias") {
  TempDir dir;
  auto pass = std::make_shared<Passphrases>(Passphrases{{"alpha", "right"}});
  {
    auto store = open_ok(options(dir, "alpha", pass));
    REQUIRE(store->create_key("timestamp", "g", KeyType::kEcdsa).ok());
  }
  SUBCASE("wrong passphrase") {
    (*pass)["alpha"] = "wrong";
    auto s = open_store(options(dir, "alpha", pass));
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().reason == Reason::kBadPassphrase);
    CHECK(s.error().message.find("'alpha'") != std::string::npos);
  }
  SUBCASE("no passphrase for an alias that encrypts keys") {
    (*pass)["other"] = "x";
    pass->erase("alpha");
    auto s = open_store(options(dir, "other", pass));
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().reason == Reason::kNoPassphrase);
    CHECK(s.error().message.find("'alpha'") != std::string::npos);
  }
  SUBCASE("no passphrase for the default alias of a new database") {
    TempDir fresh;
    auto s = open_store(options(fresh, "nobody", pass));
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().reason == Reason::kNoPassphrase);
  }
  SUBCASE("invalid alias names") {
    CHECK_FALSE(open_store(options(dir, "has-dash", pass)).ok());
    CHECK_FALSE(open_store(options(dir, "", pass)).ok());
    CHECK_FALSE(open_store(options(dir, std::string(51, 'a'), pass)).ok());
    CHECK(is_valid_alias(std::string(50, 'a')));
  }
}

TEST_CASE("alias rotation re-encrypts every key; the old passphrase is then not needed") {
  TempDir dir;
  auto pass = std::make_shared<Passphrases>(Passphrases{{"old", "old pass"}, {"new", "new pass"}});
  std::vector<keys::PublicKey> pubs;
  {
    auto store = open_ok(options(dir, "old", pass));
    for (int i = 0; i < 7; ++i) {
      pubs.push_back(*store->create_key("timestamp", "gun/" + std::to_string(i), KeyType::kEcdsa));
    }
    // Chunks of 3: three WriteBatches.
    auto r = store->rotate_alias("new", true, 3);
    REQUIRE(r.ok());
    CHECK(r->keys_rotated == 7);
    CHECK(r->keys_total == 7);
    CHECK(store->default_alias() == "new");
    // New keys now go under the new alias.
    auto k = store->create_key("snapshot", "g", KeyType::kEd25519);
    REQUIRE(k.ok());
    CHECK(store->key_info(k->id())->alias == "new");
    pubs.push_back(*k);
    // A second rotation to the same alias has nothing to do.
    CHECK(store->rotate_alias("new", true)->keys_rotated == 0);
  }
  pass->erase("old");
  auto store = open_ok(options(dir, "new", pass));
  for (const auto& pub : pubs) {
    CHECK(store->key_info(pub.id())->alias == "new");
    check_signs(*store, pub);
  }
  SUBCASE("rotating to an alias without passphrase fails and changes nothing") {
    auto r = store->rotate_alias("missing");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().reason == Reason::kNoPassphrase);
    CHECK(store->default_alias() == "new");
  }
  SUBCASE("rotating to an alias whose passphrase changed fails") {
    store.reset();
    (*pass)["old"] = "not the old pass";
    // "old" has a verifier and no keys: a wrong passphrase for it is still refused at open,
    // because it is offered.
    auto s = open_store(options(dir, "new", pass));
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().reason == Reason::kBadPassphrase);
  }
}

TEST_CASE("rotation runs while other threads sign and create keys") {
  TempDir dir;
  auto pass = std::make_shared<Passphrases>(Passphrases{{"a1", "one"}, {"a2", "two"}});
  auto o = options(dir, "a1", pass);
  o.cache_capacity = 2;  // force decryption from disk during the rotation
  auto store = open_ok(std::move(o));
  std::vector<keys::PublicKey> pubs;
  for (int i = 0; i < 12; ++i) {
    pubs.push_back(*store->create_key("targets", "g" + std::to_string(i), KeyType::kEd25519));
  }
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0}, signatures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      std::size_t i = static_cast<std::size_t>(t);
      const Bytes msg = bytes("payload");
      while (!stop.load()) {
        const auto& pub = pubs[i++ % pubs.size()];
        auto sig = store->sign(pub.id(), msg);
        if (!sig || !pub.verify(sig->method, msg, sig->bytes)) ++failures;
        ++signatures;
      }
    });
  }
  auto r = store->rotate_alias("a2", true, 1);
  auto extra = store->create_key("targets", "during", KeyType::kEcdsa);
  // Let the signers run a little past the rotation (by count, not by time).
  const int target = signatures.load() + 200;
  while (signatures.load() < target) std::this_thread::yield();
  stop = true;
  for (auto& th : threads) th.join();
  REQUIRE(r.ok());
  CHECK(r->keys_rotated == 12);
  CHECK(failures.load() == 0);
  REQUIRE(extra.ok());
  for (const auto& pub : pubs) CHECK(store->key_info(pub.id())->alias == "a2");
}

TEST_CASE("CreateKey reuses a never-used key for the same role, GUN and algorithm") {
  TempDir dir;
  auto pass = std::make_shared<Passphrases>(Passphrases{{"alpha", "p"}});
  auto store = open_ok(options(dir, "alpha", pass));
  auto a = store->create_key("timestamp", "example.com/x", KeyType::kEcdsa);
  auto b = store->create_key("timestamp", "example.com/x", KeyType::kEcdsa);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->id() == b->id());
  CHECK(store->create_key("timestamp", "example.com/y", KeyType::kEcdsa)->id() != a->id());
  CHECK(store->create_key("snapshot", "example.com/x", KeyType::kEcdsa)->id() != a->id());
  CHECK(store->create_key("timestamp", "example.com/x", KeyType::kEd25519)->id() != a->id());
  // Role/GUN bytes cannot alias each other through the index encoding.
  CHECK(store->create_key("time", "stampexample.com/x", KeyType::kEcdsa)->id() != a->id());
  // Once used, a new key is made.
  REQUIRE(store->sign(a->id(), bytes("x")).ok());
  auto c = store->create_key("timestamp", "example.com/x", KeyType::kEcdsa);
  CHECK(c->id() != a->id());
  // ... which persists across a restart.
  store.reset();
  store = open_ok(options(dir, "alpha", pass));
  CHECK(store->create_key("timestamp", "example.com/x", KeyType::kEcdsa)->id() == c->id());
}

TEST_CASE("delete, unknown keys and bad arguments") {
  TempDir dir;
  auto pass = std::make_shared<Passphrases>(Passphrases{{"alpha", "p"}});
  auto store = open_ok(options(dir, "alpha", pass));
  auto pub = store->create_key("timestamp", "g", KeyType::kEcdsa);
  REQUIRE(pub.ok());
  check_signs(*store, *pub);
  REQUIRE(store->delete_key(pub->id()).ok());
  CHECK(store->key_info(pub->id()).error().reason == Reason::kUnknownKey);
  CHECK(store->sign(pub->id(), bytes("x")).error().reason == Reason::kUnknownKey);
  CHECK(store->sign(pub->id(), bytes("x")).error().code == Code::kNotFound);
  CHECK(store->delete_key(pub->id()).ok());  // again: fine
  CHECK(store->delete_key("not-a-key-id").ok());
  CHECK(store->key_info("../../etc").error().reason == Reason::kUnknownKey);
  CHECK(store->sign("", bytes("x")).error().reason == Reason::kUnknownKey);
  CHECK(store->sign(std::string(64, 'A'), bytes("x")).error().reason == Reason::kUnknownKey);

  auto x509 = store->create_key("root", "g", KeyType::kEcdsaX509);
  CHECK(x509.error().reason == Reason::kUnsupportedAlgorithm);
  CHECK(x509.error().code == Code::kInvalidArgument);
  CHECK(store->create_key(std::string(256, 'r'), "g", KeyType::kEcdsa).error().code ==
        Code::kInvalidArgument);
  CHECK(store->create_key("timestamp", std::string("g\n"), KeyType::kEcdsa).error().code ==
        Code::kInvalidArgument);
  CHECK(store->create_key(std::string(255, 'r'), "", KeyType::kEcdsa).ok());
}

TEST_CASE("a sign that missed the cache never puts back a key deleted meanwhile") {
  TempDir dir;
  auto pass = std::make_shared<Passphrases>(Passphrases{{"alpha", "p"}});
  std::optional<keys::PublicKey> pub;
  {
    auto store = open_ok(options(dir, "alpha", pass));
    pub = store->create_key("timestamp", "g", KeyType::kEcdsa).value();
  }
  // Reopened: the key is not cached. The first miss is held after reading the record.
  std::mutex mu;
  std::condition_variable cv;
  bool armed = true, paused = false, released = false;
  auto o = options(dir, "alpha", pass);
  o.test_hook_after_read = [&](std::string_view) {
    std::unique_lock lock(mu);
    if (!armed) return;
    armed = false;
    paused = true;
    cv.notify_all();
    cv.wait(lock, [&] { return released; });
  };
  auto store = open_ok(std::move(o));
  std::thread signer([&] { (void)store->sign(pub->id(), bytes("before the deletion")); });
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return paused; });
  }
  REQUIRE(store->delete_key(pub->id()).ok());
  {
    std::lock_guard lock(mu);
    released = true;
  }
  cv.notify_all();
  signer.join();

  auto after = store->sign(pub->id(), bytes("after the deletion"));
  REQUIRE_FALSE(after.ok());
  CHECK(after.error().reason == Reason::kUnknownKey);
  CHECK(store->cache_stats().entries == 0);
}

TEST_CASE("the decrypted-key cache is bounded and evicts least recently used keys") {
  TempDir dir;
  auto pass = std::make_shared<Passphrases>(Passphrases{{"alpha", "p"}});
  auto o = options(dir, "alpha", pass);
  o.cache_capacity = 3;
  auto store = open_ok(std::move(o));
  std::vector<keys::PublicKey> pubs;
  for (int i = 0; i < 8; ++i) {
    pubs.push_back(*store->create_key("targets", "g" + std::to_string(i), KeyType::kEd25519));
    CHECK(store->cache_stats().entries <= 3);
  }
  for (int round = 0; round < 3; ++round) {
    for (const auto& pub : pubs) {
      check_signs(*store, pub);
      CHECK(store->cache_stats().entries <= 3);
    }
  }
  // The cache is sharded (like RocksDB's LRUCache): eviction is per shard, so the exact
  // counts depend on how the keys hash. What must hold: at most `capacity` keys are held,
  // and in each round every key that was not held at the start of it had to be decrypted.
  const CacheStats st = store->cache_stats();
  CHECK(st.capacity == 3);
  CHECK(st.entries >= 1);
  CHECK(st.entries <= 3);
  CHECK(st.evictions >= 8 - 3);
  CHECK(st.misses >= 3 * (8 - 3));
  // A hot key stays cached.
  const std::uint64_t misses = st.misses;
  for (int i = 0; i < 10; ++i) check_signs(*store, pubs[0]);
  CHECK(store->cache_stats().misses <= misses + 1);
}

TEST_CASE("concurrent signing with many keys, and concurrent CreateKey for one triple") {
  TempDir dir;
  auto pass = std::make_shared<Passphrases>(Passphrases{{"alpha", "p"}});
  auto o = options(dir, "alpha", pass);
  o.cache_capacity = 4;
  auto store = open_ok(std::move(o));
  std::vector<keys::PublicKey> pubs;
  for (int i = 0; i < 6; ++i) {
    pubs.push_back(*store->create_key("timestamp", "g" + std::to_string(i),
                                      i % 2 ? KeyType::kEcdsa : KeyType::kEd25519));
  }
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 150; ++i) {
        const auto& pub = pubs[static_cast<std::size_t>(t + i) % pubs.size()];
        const Bytes msg = bytes("message " + std::to_string(i));
        auto sig = store->sign(pub.id(), msg);
        if (!sig || !pub.verify(sig->method, msg, sig->bytes)) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(failures.load() == 0);

  std::vector<std::string> ids(6);
  threads.clear();
  for (std::size_t t = 0; t < ids.size(); ++t) {
    threads.emplace_back([&, t] {
      auto k = store->create_key("snapshot", "same", KeyType::kEcdsa);
      if (k) ids[t] = k->id();
    });
  }
  for (auto& th : threads) th.join();
  CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == 1);
  CHECK_FALSE(ids[0].empty());
}

TEST_CASE("last use is recorded with the injected clock, at the configured resolution") {
  TempDir dir;
  auto pass = std::make_shared<Passphrases>(Passphrases{{"alpha", "p"}});
  FixedClock clock(TimePoint(std::chrono::seconds(1'700'000'000)));
  auto o = options(dir, "alpha", pass);
  o.clock = &clock;
  o.last_used_resolution = std::chrono::seconds(60);
  auto store = open_ok(std::move(o));
  auto pub = store->create_key("timestamp", "g", KeyType::kEcdsa);
  REQUIRE(pub.ok());
  CHECK(store->key_info(pub->id())->created == clock.now());
  CHECK_FALSE(store->key_info(pub->id())->last_used.has_value());
  clock.advance(std::chrono::seconds(5));
  const TimePoint first = clock.now();
  check_signs(*store, *pub);
  CHECK(store->key_info(pub->id())->last_used == first);
  clock.advance(std::chrono::seconds(30));
  check_signs(*store, *pub);
  CHECK(store->key_info(pub->id())->last_used == first);  // within the resolution
  clock.advance(std::chrono::seconds(31));
  check_signs(*store, *pub);
  CHECK(store->key_info(pub->id())->last_used == clock.now());
}

#ifndef VOUCH_KEY_STORE_PG
TEST_CASE("the database refuses a second opener while the first holds it") {
  TempDir dir;
  auto pass = std::make_shared<Passphrases>(Passphrases{{"alpha", "p"}});
  auto store = open_ok(options(dir, "alpha", pass));
  auto second = open_store(options(dir, "alpha", pass));
  REQUIRE_FALSE(second.ok());
  CHECK(second.error().reason == Reason::kIo);
}
#endif

#ifdef VOUCH_KEY_STORE_PG
// Two key stores on one database: two vouch-signer processes sharing their keys.

TEST_CASE("postgres: a key created through one store signs through another") {
  TempDir dir;
  auto pass = std::make_shared<Passphrases>(Passphrases{{"alpha", "p1"}});
  auto a = open_ok(options(dir, "alpha", pass));
  auto b = open_ok(options(dir, "alpha", pass));
  auto pub = a->create_key("timestamp", "example.com/app", KeyType::kEcdsa);
  REQUIRE(pub.ok());
  check_signs(*b, *pub);
  CHECK(b->key_info(pub->id())->alias == "alpha");
  // b signed it: it is used now, so a's next CreateKey for the triple makes a new key.
  auto second = a->create_key("timestamp", "example.com/app", KeyType::kEcdsa);
  REQUIRE(second.ok());
  CHECK(second->id() != pub->id());
}

TEST_CASE("postgres: keys rotated by one store are read by the other") {
  TempDir dir;
  auto pass = std::make_shared<Passphrases>(Passphrases{{"alpha", "p1"}, {"beta", "p2"}});
  auto a = open_ok(options(dir, "alpha", pass));
  auto k1 = a->create_key("timestamp", "g1", KeyType::kEcdsa);
  auto k2 = a->create_key("snapshot", "g2", KeyType::kEd25519);
  REQUIRE(k1.ok());
  REQUIRE(k2.ok());
  // b opens before the rotation: it knows alias alpha only.
  auto b = open_ok(options(dir, "alpha", pass));
  check_signs(*b, *k1);  // now in b's cache
  auto rotated = a->rotate_alias("beta", true);
  REQUIRE(rotated.ok());
  CHECK(rotated->keys_rotated == 2);
  // k2 is not in b's cache: b reads the record under beta and unlocks beta on demand.
  check_signs(*b, *k2);
  check_signs(*b, *k1);
  CHECK(b->key_info(k2->id())->alias == "beta");
  // A third process that has only beta's passphrase serves both keys.
  auto only_beta = std::make_shared<Passphrases>(Passphrases{{"beta", "p2"}});
  auto c = open_ok(options(dir, "beta", only_beta));
  check_signs(*c, *k1);
  check_signs(*c, *k2);
}

TEST_CASE("postgres: a store that lacks the passphrase of an alias rotated to fails clearly") {
  TempDir dir;
  auto both = std::make_shared<Passphrases>(Passphrases{{"alpha", "p1"}, {"beta", "p2"}});
  auto only_alpha = std::make_shared<Passphrases>(Passphrases{{"alpha", "p1"}});
  auto a = open_ok(options(dir, "alpha", both));
  auto k = a->create_key("timestamp", "g", KeyType::kEcdsa);
  REQUIRE(k.ok());
  auto b = open_ok(options(dir, "alpha", only_alpha));
  REQUIRE(a->rotate_alias("beta", true).ok());
  auto sig = b->sign(k->id(), bytes("content"));
  REQUIRE_FALSE(sig.ok());
  CHECK(sig.error().reason == Reason::kNoPassphrase);
  CHECK(sig.error().message.find("beta") != std::string::npos);
}

TEST_CASE("postgres: a key deleted through one store stops signing through the other") {
  TempDir dir;
  auto pass = std::make_shared<Passphrases>(Passphrases{{"alpha", "p1"}});
  auto a = open_ok(options(dir, "alpha", pass));
  auto b = open_ok(options(dir, "alpha", pass));
  auto k = a->create_key("timestamp", "g", KeyType::kEcdsa);
  REQUIRE(k.ok());
  check_signs(*b, *k);  // cached in b
  REQUIRE(a->delete_key(k->id()).ok());
  auto sig = b->sign(k->id(), bytes("content"));
  REQUIRE_FALSE(sig.ok());
  CHECK(sig.error().reason == Reason::kUnknownKey);
}

TEST_CASE("postgres: concurrent CreateKey for one triple through two stores gives one key") {
  TempDir dir;
  auto pass = std::make_shared<Passphrases>(Passphrases{{"alpha", "p1"}});
  auto a = open_ok(options(dir, "alpha", pass));
  auto b = open_ok(options(dir, "alpha", pass));
  std::vector<std::string> ids(8);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < ids.size(); ++t) {
    threads.emplace_back([&, t] {
      KeyStore& s = t % 2 == 0 ? *a : *b;
      auto k = s.create_key("snapshot", "same", KeyType::kEcdsa);
      if (k) ids[t] = k->id();
    });
  }
  for (auto& th : threads) th.join();
  CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == 1);
  CHECK_FALSE(ids[0].empty());
  CHECK(*a->key_count() == 1);
}

TEST_CASE("postgres: stores opening a new database at once agree on its salt and verifier") {
  TempDir dir;
  auto pass = std::make_shared<Passphrases>(Passphrases{{"alpha", "p1"}});
  std::vector<std::unique_ptr<KeyStore>> stores(4);
  std::vector<std::string> errors(stores.size());
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < stores.size(); ++t) {
    threads.emplace_back([&, t] {
      auto s = open_store(options(dir, "alpha", pass));
      if (s) {
        stores[t] = std::move(s).value();
      } else {
        errors[t] = s.error().message;
      }
    });
  }
  for (auto& th : threads) th.join();
  for (std::size_t t = 0; t < stores.size(); ++t) {
    REQUIRE_MESSAGE(stores[t] != nullptr, errors[t]);
  }
  // Keys created through each store sign through every other: one salt, one KEK per alias.
  for (std::size_t t = 0; t < stores.size(); ++t) {
    auto k = stores[t]->create_key("timestamp", "g" + std::to_string(t), KeyType::kEd25519);
    REQUIRE(k.ok());
    check_signs(*stores[(t + 1) % stores.size()], *k);
  }
}
#endif
