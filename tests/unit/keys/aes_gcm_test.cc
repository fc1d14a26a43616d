// keys/aes_gcm.h: AES-256-GCM for vouch's key files and vouch-signer's key records.

#include "keys/aes_gcm.h"

#include <doctest/doctest.h>

#include <string>

#include "tests/support/check_macros.h"

namespace vouch::keys::aes_gcm {
namespace {

Bytes hex(std::string_view text) {
  auto b = hex_decode(text);
  REQUIRE(b.ok());
  return *b;
}

// The GCM specification's test case 16 (AES-256, 60-byte plaintext, 20-byte AAD), checked
// with pyca/cryptography's AESGCM.
struct Vector {
  Bytes key = hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
  Bytes nonce = hex("cafebabefacedbaddecaf888");
  Bytes aad = hex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  Bytes plain = hex(
      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e24"
      "49a6b525b16aedf5aa0de657ba637b39");
  Bytes sealed = hex(
      "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b10"
      "56828838c5f61e6393ba7a0abcc9f662"
      "76fc6ece0f4e1768cddf8853bb2d551b");
};

TEST_CASE("aes_gcm: the GCM specification's AES-256 vector, both ways") {
  const Vector v;
  auto sealed = seal(v.key, v.nonce, v.aad, v.plain);
  REQUIRE_OK(sealed);
  CHECK(*sealed == v.sealed);
  auto plain = open(v.key, v.nonce, v.aad, v.sealed);
  REQUIRE_OK(plain);
  CHECK(Bytes(plain->span().begin(), plain->span().end()) == v.plain);
  // Empty plaintext and AAD: just the tag.
  auto empty = seal(v.key, v.nonce, {}, {});
  REQUIRE_OK(empty);
  CHECK(empty->size() == kTagSize);
  auto opened = open(v.key, v.nonce, {}, *empty);
  REQUIRE_OK(opened);
  CHECK(opened->size() == 0);
}

TEST_CASE("aes_gcm: any change is an authentication failure (kBadPassphrase)") {
  const Vector v;
  Bytes changed = v.sealed;
  changed[3] ^= 1;
  CHECK_REASON(open(v.key, v.nonce, v.aad, changed), Reason::kBadPassphrase);
  changed = v.sealed;
  changed.back() ^= 0x80;  // the tag
  CHECK_REASON(open(v.key, v.nonce, v.aad, changed), Reason::kBadPassphrase);
  Bytes other_aad = v.aad;
  other_aad[0] ^= 1;
  CHECK_REASON(open(v.key, v.nonce, other_aad, v.sealed), Reason::kBadPassphrase);
  Bytes other_key = v.key;
  other_key[31] ^= 1;
  CHECK_REASON(open(other_key, v.nonce, v.aad, v.sealed), Reason::kBadPassphrase);
  CHECK_REASON(open(v.key, v.nonce, v.aad, ByteSpan(v.sealed).first(kTagSize - 1)),
               Reason::kBadPassphrase);
}

TEST_CASE("aes_gcm: a wrong key or nonce size is an invalid argument") {
  const Vector v;
  auto short_key = seal(ByteSpan(v.key).first(16), v.nonce, v.aad, v.plain);
  REQUIRE_FALSE(short_key.ok());
  CHECK(short_key.error().code == Code::kInvalidArgument);
  auto long_nonce = open(v.key, Bytes(16, 0), v.aad, v.sealed);
  REQUIRE_FALSE(long_nonce.ok());
  CHECK(long_nonce.error().code == Code::kInvalidArgument);
}

}  // namespace
}  // namespace vouch::keys::aes_gcm
