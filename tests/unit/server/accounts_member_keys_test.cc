// AccountsService's members' signing keys (issue 14 item 7): registration with a proof of
// possession, the record codec (kept across a re-opened service), uniqueness, bounds, lookups
// with teams, who may delete, and the clean-up when an account goes. MemoryAccountStore, a
// FixedClock, real keys.

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "keys/key_registration.h"
#include "keys/pem.h"
#include "keys/private_key.h"
#include "keys/root_certificate.h"
#include "server/accounts/accounts_service.h"
#include "server/accounts/memory_account_store.h"
#include "tests/support/check_macros.h"
#include "tests/support/memory_signer.h"

using namespace vouch;
using namespace vouch::server::accounts;
using keys::SecretString;
using namespace std::chrono_literals;

namespace {

const TimePoint kStart = TimePoint(std::chrono::seconds(1'800'000'000));

AccountsOptions cheap_options() {
  AccountsOptions o;
  o.password_hash = {64, 1, 1};
  o.max_keys_per_account = 3;
  return o;
}

std::string pem_of(const keys::PublicKey& key) {
  if (key.certificate() != nullptr) return key.certificate()->pem();
  return keys::pem_encode("PUBLIC KEY", {}, key.spki_der());
}

struct Fixture {
  MemoryAccountStore store;
  FixedClock clock{kStart};
  std::unique_ptr<AccountsService> svc;
  std::vector<ChangeEvent> changes;
  testing::MemorySigner signer;
  Principal root = {Principal::Kind::kUser, "root", true, ""};
  Principal alice = {Principal::Kind::kUser, "alice", false, ""};
  Principal bob = {Principal::Kind::kUser, "bob", false, ""};

  explicit Fixture(AccountsOptions o = cheap_options()) {
    auto s = AccountsService::create(store, clock, o);
    REQUIRE_OK(s);
    svc = std::move(s).value();
    svc->set_on_change([this](const ChangeEvent& e) { changes.push_back(e); });
    REQUIRE_OK(svc->bootstrap_admin("root", SecretString("root-password")));
    REQUIRE_OK(svc->create_user(root, "alice", SecretString("alice-password")));
    REQUIRE_OK(svc->create_user(root, "bob", SecretString("bob-password")));
    changes.clear();
  }

  keys::PublicKey new_key(keys::KeyType type = keys::KeyType::kEcdsa) {
    return signer.add_key(keys::PrivateKey::generate(type, 2048).value());
  }

  keys::PublicKey new_cert(TimePoint not_after) {
    auto priv = keys::PrivateKey::generate(keys::KeyType::kEcdsa);
    REQUIRE_OK(priv);
    auto cert = keys::make_root_certificate(*priv, "alice", kStart - 1h, not_after);
    REQUIRE_OK(cert);
    signer.add_key(std::move(priv).value());
    return keys::PublicKey::from_pem(cert->pem()).value();
  }

  // Registers `key` for `who`, signing the statement as `statement_account` at `at`.
  Result<MemberKeyInfo> reg(const Principal& who, const keys::PublicKey& key,
                            std::string statement_account = "", TimePoint at = kStart,
                            std::string service = "vouch-server") {
    if (statement_account.empty()) statement_account = who.name;
    auto sig = keys::sign_registration(signer, {service, statement_account, key, at});
    REQUIRE_OK(sig);
    return svc->register_key(who, pem_of(key), at, *sig);
  }
};

}  // namespace

TEST_CASE("a member registers a key and anyone signed in sees who holds it") {
  Fixture f;
  const auto key = f.new_key();
  auto made = f.reg(f.alice, key);
  REQUIRE_OK(made);
  CHECK(made->key_id == key.id());
  CHECK(made->owner == "alice");
  CHECK(made->owner_kind == Principal::Kind::kUser);
  CHECK(!made->expires);
  REQUIRE(f.changes.size() == 1);
  CHECK(f.changes[0].action == "key.register");
  CHECK(f.changes[0].target == key.id());

  REQUIRE_OK(f.svc->create_org(f.root, "acme"));
  REQUIRE_OK(f.svc->create_team(f.root, "acme", "ops"));
  REQUIRE_OK(f.svc->add_team_member(f.root, "acme", "ops", "alice"));
  auto found = f.svc->lookup_keys(f.bob, {key.id(), std::string(64, '0'), key.id()});
  REQUIRE_OK(found);
  REQUIRE(found->size() == 1);
  CHECK((*found)[0].key.owner == "alice");
  CHECK((*found)[0].teams == std::vector<std::string>{"acme/ops"});

  auto listed = f.svc->list_keys(f.bob, "alice");
  REQUIRE_OK(listed);
  REQUIRE(listed->size() == 1);
  CHECK((*listed)[0].key_id == key.id());
  CHECK((*listed)[0].pem == pem_of(key));
  CHECK_REASON(f.svc->list_keys(f.bob, "nobody"), Reason::kNotFound);
  CHECK_REASON(f.svc->lookup_keys(Principal{}, {key.id()}), Reason::kNoCredentials);
}

TEST_CASE("the record codec keeps every field across a new service over the same store") {
  Fixture f;
  const auto cert = f.new_cert(kStart + 24h * 30);
  REQUIRE_OK(f.reg(f.alice, cert));
  auto again = AccountsService::create(f.store, f.clock, cheap_options());
  REQUIRE_OK(again);
  auto listed = (*again)->list_keys(f.alice, "alice");
  REQUIRE_OK(listed);
  REQUIRE(listed->size() == 1);
  const MemberKeyInfo& k = (*listed)[0];
  CHECK(k.key_id == cert.id());
  CHECK(k.canonical_id == cert.canonical_id());
  CHECK(k.type == keys::KeyType::kEcdsaX509);
  CHECK(k.pem == cert.certificate()->pem());
  CHECK(k.owner == "alice");
  CHECK(k.registered == kStart);
  REQUIRE(k.expires);
  CHECK(*k.expires == cert.certificate()->not_after());
}

TEST_CASE("a certificate is found by its own ID and by its plain key's ID") {
  Fixture f;
  const auto cert = f.new_cert(kStart + 24h * 30);
  REQUIRE(cert.id() != cert.canonical_id());
  REQUIRE_OK(f.reg(f.alice, cert));
  for (const std::string& id : {cert.id(), cert.canonical_id()}) {
    auto found = f.svc->lookup_keys(f.bob, {id});
    REQUIRE_OK(found);
    REQUIRE(found->size() == 1);
    CHECK((*found)[0].key.key_id == cert.id());
  }
  // The plain form of the same key is the same key: not registrable again, by anyone.
  auto plain = keys::PublicKey::from_spki_der(cert.spki_der()).value();
  CHECK_REASON(f.reg(f.bob, plain), Reason::kConflict);
  CHECK_REASON(f.reg(f.alice, plain), Reason::kConflict);
  // Removal by the plain key's ID removes the certificate.
  REQUIRE_OK(f.svc->delete_key(f.alice, cert.canonical_id()));
  auto none = f.svc->lookup_keys(f.bob, {cert.id()});
  REQUIRE_OK(none);
  CHECK(none->empty());
}

TEST_CASE("ed25519 keys and rsa-x509 certificates register under the IDs TUF metadata lists") {
  Fixture f;
  const auto ed = f.new_key(keys::KeyType::kEd25519);
  auto rsa_priv = keys::PrivateKey::generate(keys::KeyType::kRsa, 2048);
  REQUIRE_OK(rsa_priv);
  auto rsa_cert = keys::make_root_certificate(*rsa_priv, "alice", kStart - 1h, kStart + 24h);
  REQUIRE_OK(rsa_cert);
  f.signer.add_key(std::move(rsa_priv).value());
  const auto rsa = keys::PublicKey::from_pem(rsa_cert->pem()).value();
  REQUIRE(rsa.type() == keys::KeyType::kRsaX509);
  for (const keys::PublicKey& key : {ed, rsa}) {
    auto made = f.reg(f.alice, key);
    REQUIRE_OK(made);
    // The ID of the key as a TUF key object lists it ({"keytype", "keyval": {"public"}}).
    auto as_tuf = keys::PublicKey::from_tuf(key.type(), key.public_bytes());
    REQUIRE_OK(as_tuf);
    CHECK(made->key_id == as_tuf->id());
    CHECK(made->type == key.type());
  }
}

TEST_CASE("the proof of possession is checked") {
  Fixture f;
  const auto key = f.new_key();
  // Signed for another account, another service, or too long ago.
  CHECK_REASON(f.reg(f.alice, key, "bob"), Reason::kBadSignature);
  CHECK_REASON(f.reg(f.alice, key, "", kStart, "other-server"), Reason::kBadSignature);
  CHECK_REASON(f.reg(f.alice, key, "", kStart - 6min), Reason::kExpired);
  // Signed by another key.
  const auto other = f.new_key();
  auto sig = keys::sign_registration(f.signer, {"vouch-server", "alice", other, kStart});
  REQUIRE_OK(sig);
  auto r = f.svc->register_key(f.alice, pem_of(key), kStart, *sig);
  CHECK_REASON(r, Reason::kBadSignature);
  CHECK(r.error().code == Code::kInvalidArgument);
  // Not a key at all, or too large.
  CHECK_REASON(f.svc->register_key(f.alice, "not pem", kStart, *sig), Reason::kMalformed);
  CHECK_REASON(f.svc->register_key(f.alice, std::string(keys::kMaxPemSize + 1, 'a'), kStart, *sig),
               Reason::kTooLarge);
  // An expired certificate.
  const auto old = f.new_cert(kStart - 1s);
  CHECK_REASON(f.reg(f.alice, old), Reason::kExpired);
  CHECK(f.changes.empty());
  auto listed = f.svc->list_keys(f.alice, "alice");
  REQUIRE_OK(listed);
  CHECK(listed->empty());
}

TEST_CASE("one key belongs to one account; the same registration again changes nothing") {
  Fixture f;
  const auto key = f.new_key();
  REQUIRE_OK(f.reg(f.alice, key));
  auto r = f.reg(f.bob, key);
  CHECK_REASON(r, Reason::kConflict);
  CHECK(r.error().code == Code::kAlreadyExists);
  f.clock.advance(1min);
  auto again = f.reg(f.alice, key, "", kStart + 1min);
  REQUIRE_OK(again);
  CHECK(again->registered == kStart);
  CHECK(f.changes.size() == 1);
}

TEST_CASE("an account holds at most max_keys_per_account keys") {
  Fixture f;  // 3
  for (int i = 0; i < 3; ++i) REQUIRE_OK(f.reg(f.alice, f.new_key(keys::KeyType::kEd25519)));
  auto r = f.reg(f.alice, f.new_key(keys::KeyType::kEd25519));
  CHECK_REASON(r, Reason::kTooLarge);
  CHECK(r.error().code == Code::kFailedPrecondition);
  REQUIRE_OK(f.reg(f.bob, f.new_key(keys::KeyType::kEd25519)));
}

TEST_CASE("lookups are bounded") {
  Fixture f;
  CHECK_REASON(f.svc->lookup_keys(f.bob, {}), Reason::kTooLarge);
  std::vector<std::string> many(kMaxKeyLookup + 1, std::string(64, 'a'));
  CHECK_REASON(f.svc->lookup_keys(f.bob, many), Reason::kTooLarge);
  many.pop_back();
  REQUIRE_OK(f.svc->lookup_keys(f.bob, many));
}

TEST_CASE("service accounts register keys; a scope-limited token may not") {
  Fixture f;
  REQUIRE_OK(f.svc->create_org(f.root, "acme"));
  REQUIRE_OK(f.svc->create_service_account(f.root, "acme/ci"));
  auto token = f.svc->create_token(f.root, "acme/ci", "ci");
  REQUIRE_OK(token);
  auto ci = f.svc->authenticate_any_token(token->text, "10.0.0.1");
  REQUIRE_OK(ci);
  const auto key = f.new_key();
  auto made = f.reg(*ci, key);
  REQUIRE_OK(made);
  CHECK(made->owner == "acme/ci");
  CHECK(made->owner_kind == Principal::Kind::kServiceAccount);
  auto found = f.svc->lookup_keys(f.alice, {key.id()});
  REQUIRE_OK(found);
  REQUIRE(found->size() == 1);
  CHECK((*found)[0].teams.empty());

  ScopeLimit scope;
  scope.max_permission = Permission::kReadWrite;
  scope.patterns = {"acme/app"};
  auto scoped_token = f.svc->create_token(f.root, "acme/ci", "scoped", std::nullopt, scope);
  REQUIRE_OK(scoped_token);
  auto scoped = f.svc->authenticate_any_token(scoped_token->text, "10.0.0.1");
  REQUIRE_OK(scoped);
  CHECK_REASON(f.reg(*scoped, f.new_key()), Reason::kPermissionDenied);
  // Looking up needs no more than being signed in.
  REQUIRE_OK(f.svc->lookup_keys(*scoped, {key.id()}));

  // Deleting the service account removes its keys: the key is free again.
  REQUIRE_OK(f.svc->delete_service_account(f.root, "acme/ci"));
  REQUIRE_OK(f.reg(f.alice, key));
}

TEST_CASE("the owner or an administrator deletes a key; others may not") {
  Fixture f;
  const auto key = f.new_key();
  REQUIRE_OK(f.reg(f.alice, key));
  CHECK_REASON(f.svc->delete_key(f.bob, key.id()), Reason::kPermissionDenied);
  CHECK_REASON(f.svc->delete_key(f.bob, std::string(64, 'b')), Reason::kNotFound);
  REQUIRE_OK(f.svc->delete_key(f.alice, key.id()));
  CHECK(f.changes.back().action == "key.delete");
  CHECK(f.changes.back().target == key.id());
  CHECK_REASON(f.svc->delete_key(f.alice, key.id()), Reason::kNotFound);
  REQUIRE_OK(f.reg(f.alice, key));
  REQUIRE_OK(f.svc->delete_key(f.root, key.id()));
  // Free again: bob may take it now.
  REQUIRE_OK(f.reg(f.bob, key));
}

TEST_CASE("deleting a user removes their keys") {
  Fixture f;
  const auto key = f.new_key();
  REQUIRE_OK(f.reg(f.alice, key));
  REQUIRE_OK(f.svc->delete_user(f.root, "alice"));
  auto found = f.svc->lookup_keys(f.bob, {key.id()});
  REQUIRE_OK(found);
  CHECK(found->empty());
  REQUIRE_OK(f.reg(f.bob, key));
}
