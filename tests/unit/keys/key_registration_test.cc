// Registration statements (keys/key_registration.h): the signed bytes, and the server's check
// (wrong key, a statement for another key ID, the clock window, bounds), with real keys.

#include "keys/key_registration.h"

#include <doctest/doctest.h>

#include <string>

#include "keys/private_key.h"
#include "keys/root_certificate.h"
#include "tests/support/check_macros.h"
#include "tests/support/memory_signer.h"

using namespace vouch;
using namespace vouch::keys;
using namespace std::chrono_literals;

namespace {

const TimePoint kNow = TimePoint(std::chrono::seconds(1'800'000'000));

struct Member {
  testing::MemorySigner signer;
  PublicKey key;
  explicit Member(KeyType type = KeyType::kEcdsa)
      : key(signer.add_key(PrivateKey::generate(type, 2048).value())) {}
};

KeyRegistrationStatement statement(const PublicKey& key, TimePoint at = kNow) {
  return {"vouch-server", "alice", key, at};
}

}  // namespace

TEST_CASE("the statement is canonical JSON naming service, account, key and time") {
  Member m;
  auto bytes = registration_statement_bytes(statement(m.key));
  REQUIRE_OK(bytes);
  const std::string want = "{\"account\":\"alice\",\"issued_at\":\"2027-01-15T08:00:00Z\","
                           "\"key_id\":\"" + m.key.id() + "\",\"keytype\":\"ecdsa\",\"public\":\"" +
                           base64_encode(m.key.public_bytes()) +
                           "\",\"service\":\"vouch-server\",\"type\":\"vouch-key-registration-1\"}";
  CHECK(*bytes == want);
}

TEST_CASE("a statement signed by its key verifies, for every delegation key type") {
  for (KeyType type : {KeyType::kEcdsa, KeyType::kEd25519, KeyType::kRsa}) {
    CAPTURE(to_string(type));
    Member m(type);
    auto sig = sign_registration(m.signer, statement(m.key));
    REQUIRE_OK(sig);
    REQUIRE_OK(verify_registration(statement(m.key), *sig, kNow, 5min));
  }
}

TEST_CASE("a certificate's statement names the certificate's ID and verifies with its key") {
  testing::MemorySigner signer;
  auto priv = PrivateKey::generate(KeyType::kEcdsa);
  REQUIRE_OK(priv);
  auto cert = make_root_certificate(*priv, "alice", kNow - 1h, kNow + 24h * 365);
  REQUIRE_OK(cert);
  signer.add_key(std::move(priv).value());
  auto key = PublicKey::from_pem(cert->pem());
  REQUIRE_OK(key);
  REQUIRE(key->type() == KeyType::kEcdsaX509);
  auto bytes = registration_statement_bytes(statement(*key));
  REQUIRE_OK(bytes);
  CHECK(bytes->find("\"key_id\":\"" + key->id() + "\"") != std::string::npos);
  CHECK(bytes->find("\"keytype\":\"ecdsa-x509\"") != std::string::npos);
  auto sig = sign_registration(signer, statement(*key));
  REQUIRE_OK(sig);
  REQUIRE_OK(verify_registration(statement(*key), *sig, kNow, 5min));
}

TEST_CASE("a statement signed by another key is refused") {
  Member alice, mallory;
  auto sig = sign_registration(mallory.signer, statement(mallory.key));
  REQUIRE_OK(sig);
  // Mallory's signature presented with Alice's key.
  CHECK_REASON(verify_registration(statement(alice.key), *sig, kNow, 5min),
               Reason::kBadSignature);
}

TEST_CASE("a statement for a foreign key ID is refused") {
  // Mallory signs a statement that names Alice's key (ID and public material) with her own
  // key: neither Alice's key nor Mallory's verifies it as a statement of its own.
  Member alice, mallory;
  auto bytes = registration_statement_bytes(statement(alice.key));
  REQUIRE_OK(bytes);
  auto sig = mallory.signer.sign(mallory.key, as_bytes(*bytes));
  REQUIRE_OK(sig);
  CHECK_REASON(verify_registration(statement(alice.key), *sig, kNow, 5min),
               Reason::kBadSignature);
  CHECK_REASON(verify_registration(statement(mallory.key), *sig, kNow, 5min),
               Reason::kBadSignature);
}

TEST_CASE("the statement binds service and account") {
  Member m;
  auto sig = sign_registration(m.signer, statement(m.key));
  REQUIRE_OK(sig);
  auto other_service = statement(m.key);
  other_service.service = "other-server";
  CHECK_REASON(verify_registration(other_service, *sig, kNow, 5min), Reason::kBadSignature);
  auto other_account = statement(m.key);
  other_account.account = "mallory";
  CHECK_REASON(verify_registration(other_account, *sig, kNow, 5min), Reason::kBadSignature);
}

TEST_CASE("an old statement, or one from too far ahead, is expired") {
  Member m;
  for (TimePoint at : {kNow - 5min - 1s, kNow + 5min + 1s, kNow - 24h}) {
    auto sig = sign_registration(m.signer, statement(m.key, at));
    REQUIRE_OK(sig);
    auto st = verify_registration(statement(m.key, at), *sig, kNow, 5min);
    CHECK_REASON(st, Reason::kExpired);
    CHECK(st.error().code == Code::kInvalidArgument);
  }
  // The window's edges are inside.
  for (TimePoint at : {kNow - 5min, kNow + 5min}) {
    auto sig = sign_registration(m.signer, statement(m.key, at));
    REQUIRE_OK(sig);
    REQUIRE_OK(verify_registration(statement(m.key, at), *sig, kNow, 5min));
  }
}

TEST_CASE("bounds: service, account, fractions of a second, signature size") {
  Member m;
  auto s = statement(m.key);
  s.service = "";
  CHECK_REASON(registration_statement_bytes(s), Reason::kMalformed);
  s.service = std::string(kMaxRegistrationServiceBytes + 1, 'a');
  CHECK_REASON(registration_statement_bytes(s), Reason::kTooLarge);
  s = statement(m.key);
  s.account = std::string(kMaxRegistrationAccountBytes + 1, 'a');
  CHECK_REASON(registration_statement_bytes(s), Reason::kTooLarge);
  s.account = "ali\nce";
  CHECK_REASON(registration_statement_bytes(s), Reason::kMalformed);
  s = statement(m.key, kNow + 1ms);
  CHECK_REASON(registration_statement_bytes(s), Reason::kMalformed);
  Signature huge{SigMethod::kEcdsa, Bytes(kMaxRegistrationSignatureBytes + 1, 1)};
  CHECK_REASON(verify_registration(statement(m.key), huge, kNow, 5min), Reason::kTooLarge);
}

TEST_CASE("a signature method of another algorithm is refused") {
  Member m;
  auto sig = sign_registration(m.signer, statement(m.key));
  REQUIRE_OK(sig);
  sig->method = SigMethod::kEddsa;
  CHECK_REASON(verify_registration(statement(m.key), *sig, kNow, 5min), Reason::kWrongMethod);
}
