#include "keys/private_key.h"

#include <array>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <initializer_list>
#include <vector>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "keys/openssl_util.h"

namespace vouch::keys {

struct PrivateKey::State {
  ossl::PkeyPtr pkey;
  KeyType type;
  PublicKey public_key;
};

EVP_PKEY* PrivateKeyAccess::pkey(const PrivateKey& key) { return key.state_->pkey.get(); }

namespace {

using Secure = Botan::secure_vector<std::uint8_t>;
using SecureBnPtr = std::unique_ptr<BIGNUM, ossl::Deleter<&BN_clear_free>>;

// Failures that cannot happen for a key this file created or validated (only allocation
// failure inside OpenSSL could cause them). Die rather than write a broken key file.
[[noreturn]] void impossible(const char* what) {
  std::fprintf(stderr, "vouch: internal error in keys/private_key.cc: %s: %s\n", what,
               ossl::drain_errors().c_str());
  std::abort();
}

// --- A small DER writer into secure memory (only definite, minimal lengths). ---

void put_length(Secure& out, std::size_t n) {
  if (n < 0x80) {
    out.push_back(static_cast<std::uint8_t>(n));
    return;
  }
  std::array<std::uint8_t, sizeof(std::size_t)> be{};
  std::size_t count = 0;
  for (std::size_t v = n; v != 0; v >>= 8) be[count++] = static_cast<std::uint8_t>(v & 0xFF);
  out.push_back(static_cast<std::uint8_t>(0x80 | count));
  while (count > 0) out.push_back(be[--count]);
}

// tag || length || concatenation of parts.
Secure tlv(std::uint8_t tag, std::initializer_list<ByteSpan> parts) {
  std::size_t total = 0;
  for (ByteSpan p : parts) total += p.size();
  Secure out;
  out.reserve(total + 8);
  out.push_back(tag);
  put_length(out, total);
  for (ByteSpan p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

constexpr std::uint8_t kSequence = 0x30;
constexpr std::uint8_t kInteger = 0x02;
constexpr std::uint8_t kOctetString = 0x04;
constexpr std::uint8_t kBitString = 0x03;

// Complete DER encodings (tag, length, value) of the identifiers we write.
constexpr std::uint8_t kOidEcPublicKey[] = {0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
constexpr std::uint8_t kOidP256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
constexpr std::uint8_t kOidRsa[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                    0xf7, 0x0d, 0x01, 0x01, 0x01};
constexpr std::uint8_t kNull[] = {0x05, 0x00};
constexpr std::uint8_t kOidEd25519[] = {0x06, 0x03, 0x2b, 0x65, 0x70};  // RFC 8410
// 1.3.6.1.4.1.11591.15.1: the pre-RFC 8410 OID Notary (tuf/utils/pkcs8.go) uses for Ed25519.
constexpr std::uint8_t kOidNotaryEd25519[] = {0x06, 0x09, 0x2b, 0x06, 0x01, 0x04,
                                              0x01, 0xda, 0x47, 0x0f, 0x01};
constexpr std::uint8_t kVersion0[] = {0x02, 0x01, 0x00};
constexpr std::uint8_t kVersion1[] = {0x02, 0x01, 0x01};

SecureBnPtr get_bn(EVP_PKEY* pkey, const char* name) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1) impossible(name);
  return SecureBnPtr(bn);
}

// DER INTEGER of a non-negative BIGNUM.
Secure der_integer(const BIGNUM* bn) {
  const int n = BN_num_bytes(bn);
  Secure buf(static_cast<std::size_t>(n) + 1, 0);
  if (n > 0 && BN_bn2bin(bn, buf.data() + 1) != n) impossible("BN_bn2bin");
  // Keep the leading zero only when needed: for the value 0, or when the top bit is set.
  const std::size_t skip = (n > 0 && (buf[1] & 0x80) == 0) ? 1 : 0;
  return tlv(kInteger, {ByteSpan(buf).subspan(skip)});
}

// The P-256 private scalar (32 bytes, left-padded as Go's MarshalECPrivateKey writes it) and
// the uncompressed public point 04 || X || Y.
void ec_material(EVP_PKEY* pkey, Secure& priv, Bytes& point) {
  SecureBnPtr d = get_bn(pkey, OSSL_PKEY_PARAM_PRIV_KEY);
  SecureBnPtr x = get_bn(pkey, OSSL_PKEY_PARAM_EC_PUB_X);
  SecureBnPtr y = get_bn(pkey, OSSL_PKEY_PARAM_EC_PUB_Y);
  priv.assign(32, 0);
  point.assign(65, 0);
  point[0] = 0x04;
  if (BN_bn2binpad(d.get(), priv.data(), 32) != 32 ||
      BN_bn2binpad(x.get(), point.data() + 1, 32) != 32 ||
      BN_bn2binpad(y.get(), point.data() + 33, 32) != 32) {
    impossible("EC key material");
  }
}

Secure ec_pkcs8(EVP_PKEY* pkey, Pkcs8Flavor flavor) {
  Secure priv;
  Bytes point;
  ec_material(pkey, priv, point);
  Bytes bits;
  bits.push_back(0x00);  // no unused bits
  bits.insert(bits.end(), point.begin(), point.end());
  const Secure priv_os = tlv(kOctetString, {priv});
  const Secure pub = tlv(0xA1, {tlv(kBitString, {bits})});
  // SEC1 ECPrivateKey. Notary writes Go's x509.MarshalECPrivateKey, which includes the curve
  // ([0] parameters); OpenSSL omits it inside PKCS#8 because the AlgorithmIdentifier has it.
  Secure sec1 = flavor == Pkcs8Flavor::kNotary
                    ? tlv(kSequence, {kVersion1, priv_os, tlv(0xA0, {kOidP256}), pub})
                    : tlv(kSequence, {kVersion1, priv_os, pub});
  // Notary's convertTUFKeyToPKCS8 puts version 1 in the PrivateKeyInfo for ECDSA keys.
  return tlv(kSequence, {flavor == Pkcs8Flavor::kNotary ? ByteSpan(kVersion1) : kVersion0,
                         tlv(kSequence, {kOidEcPublicKey, kOidP256}), tlv(kOctetString, {sec1})});
}

Secure rsa_pkcs8(EVP_PKEY* pkey, Pkcs8Flavor flavor) {
  const char* names[] = {OSSL_PKEY_PARAM_RSA_N,         OSSL_PKEY_PARAM_RSA_E,
                         OSSL_PKEY_PARAM_RSA_D,         OSSL_PKEY_PARAM_RSA_FACTOR1,
                         OSSL_PKEY_PARAM_RSA_FACTOR2,   OSSL_PKEY_PARAM_RSA_EXPONENT1,
                         OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1};
  Secure pkcs1_body(kVersion0, kVersion0 + sizeof kVersion0);  // two-prime RSAPrivateKey
  for (const char* name : names) {
    SecureBnPtr bn = get_bn(pkey, name);
    const Secure i = der_integer(bn.get());
    pkcs1_body.insert(pkcs1_body.end(), i.begin(), i.end());
  }
  const Secure pkcs1 = tlv(kSequence, {pkcs1_body});
  // Notary's privateKeyInfo declares the algorithm as a SEQUENCE OF OBJECT IDENTIFIER, so
  // rsaEncryption comes without the NULL parameters RFC 8017 asks for.
  const Secure alg = flavor == Pkcs8Flavor::kNotary ? tlv(kSequence, {kOidRsa})
                                                    : tlv(kSequence, {kOidRsa, kNull});
  return tlv(kSequence, {kVersion0, alg, tlv(kOctetString, {pkcs1})});
}

Secure ed25519_pkcs8(EVP_PKEY* pkey, Pkcs8Flavor flavor) {
  Secure seed(32);
  std::array<std::uint8_t, 32> pub{};
  std::size_t slen = seed.size();
  std::size_t plen = pub.size();
  if (EVP_PKEY_get_raw_private_key(pkey, seed.data(), &slen) != 1 || slen != 32 ||
      EVP_PKEY_get_raw_public_key(pkey, pub.data(), &plen) != 1 || plen != 32) {
    impossible("Ed25519 key material");
  }
  if (flavor == Pkcs8Flavor::kNotary) {
    // Notary serializes an Ed25519 private key as public || Go's ed25519.PrivateKey, i.e.
    // public(32) || seed(32) || public(32) (utils.GenerateED25519Key, ED25519ToPrivateKey).
    return tlv(kSequence, {kVersion0, tlv(kSequence, {kOidNotaryEd25519}),
                           tlv(kOctetString, {pub, seed, pub})});
  }
  // RFC 8410: CurvePrivateKey ::= OCTET STRING, wrapped in the PKCS#8 privateKey OCTET STRING.
  return tlv(kSequence, {kVersion0, tlv(kSequence, {kOidEd25519}),
                         tlv(kOctetString, {tlv(kOctetString, {seed})})});
}

// --- A strict, bounded DER reader (no recursion) for Notary's Ed25519 PKCS#8. ---

struct DerReader {
  ByteSpan rest;

  // Reads one TLV with a low tag number and a minimal definite length.
  bool next(std::uint8_t& tag, ByteSpan& content) {
    if (rest.size() < 2) return false;
    tag = rest[0];
    if ((tag & 0x1F) == 0x1F) return false;  // high tag numbers never occur here
    std::size_t len = rest[1];
    std::size_t header = 2;
    if (len >= 0x80) {
      const std::size_t count = len & 0x7F;
      if (count == 0 || count > 4 || rest.size() < 2 + count) return false;  // indefinite / huge
      len = 0;
      for (std::size_t i = 0; i < count; ++i) len = (len << 8) | rest[2 + i];
      if (rest[2] == 0 || len < 0x80) return false;  // not minimal
      header += count;
    }
    if (rest.size() - header < len) return false;
    content = rest.subspan(header, len);
    rest = rest.subspan(header + len);
    return true;
  }
};

bool equal_bytes(ByteSpan a, ByteSpan b) { return std::equal(a.begin(), a.end(), b.begin(), b.end()); }

// If `der` is a PKCS#8 PrivateKeyInfo whose algorithm is Notary's Ed25519 OID, sets `key` to
// its private key OCTET STRING contents and returns true; otherwise returns false and the
// input is left to OpenSSL. Structural errors once the OID has matched are kMalformed.
Result<bool> notary_ed25519_payload(ByteSpan der, ByteSpan& key) {
  DerReader top{der};
  std::uint8_t tag = 0;
  ByteSpan body;
  if (!top.next(tag, body) || tag != kSequence || !top.rest.empty()) return false;
  DerReader in{body};
  ByteSpan version, alg, oid;
  if (!in.next(tag, version) || tag != kInteger) return false;
  if (!in.next(tag, alg) || tag != kSequence) return false;
  DerReader alg_in{alg};
  if (!alg_in.next(tag, oid) || tag != 0x06) return false;
  if (!equal_bytes(oid, ByteSpan(kOidNotaryEd25519).subspan(2))) return false;
  // From here on the input claims to be Notary's Ed25519 key: be strict.
  if (!alg_in.rest.empty() || version.size() != 1 || version[0] != 0x00 ||
      !in.next(tag, key) || tag != kOctetString || !in.rest.empty()) {
    return make_error(Reason::kMalformed, "malformed Notary Ed25519 PKCS#8");
  }
  return true;
}

Result<PublicKey> public_of(EVP_PKEY* pkey) {
  const int len = i2d_PUBKEY(pkey, nullptr);
  if (len <= 0) return ossl::openssl_error(Reason::kInternal, "i2d_PUBKEY failed");
  Bytes spki(static_cast<std::size_t>(len));
  unsigned char* p = spki.data();
  if (i2d_PUBKEY(pkey, &p) != len) return ossl::openssl_error(Reason::kInternal, "i2d_PUBKEY");
  return PublicKey::from_spki_der(spki);
}

// Checks an OpenSSL-parsed key against what vouch supports and returns its type.
Result<KeyType> check_supported(EVP_PKEY* pkey) {
  switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_EC: {
      char group[64] = {};
      std::size_t glen = 0;
      if (EVP_PKEY_get_group_name(pkey, group, sizeof group, &glen) != 1 ||
          std::string_view(group, glen) != "prime256v1") {
        ossl::drain_errors();
        return make_error(Reason::kUnsupportedAlgorithm, "EC key is not on P-256");
      }
      // A SEC1 key carries its own public point; make sure it belongs to the private scalar,
      // or the key ID would name a key that did not make the signatures.
      ossl::PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
      if (!ctx || EVP_PKEY_pairwise_check(ctx.get()) != 1) {
        return ossl::openssl_error(Reason::kMalformed, "EC public key does not match private key");
      }
      return KeyType::kEcdsa;
    }
    case EVP_PKEY_RSA: {
      if (EVP_PKEY_get_bits(pkey) < kMinRsaBits) {
        return make_error(Reason::kKeyTooSmall, "RSA key below 2048 bits");
      }
      BIGNUM* third = nullptr;
      if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_FACTOR3, &third) == 1) {
        BN_clear_free(third);
        return make_error(Reason::kUnsupportedAlgorithm, "multi-prime RSA keys are not supported");
      }
      ossl::drain_errors();
      return KeyType::kRsa;
    }
    case EVP_PKEY_ED25519:
      return KeyType::kEd25519;
    default:
      return make_error(Reason::kUnsupportedAlgorithm, "unsupported private key algorithm");
  }
}

}  // namespace

PrivateKey::PrivateKey(std::unique_ptr<State> s) : state_(std::move(s)) {}
PrivateKey::PrivateKey(PrivateKey&&) noexcept = default;
PrivateKey& PrivateKey::operator=(PrivateKey&&) noexcept = default;
PrivateKey::~PrivateKey() = default;

Result<PrivateKey> PrivateKey::generate(KeyType type, int rsa_bits) {
  ossl::PkeyCtxPtr ctx;
  switch (type) {
    case KeyType::kEcdsa:
      ctx.reset(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
      if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
          EVP_PKEY_CTX_set_group_name(ctx.get(), "P-256") != 1) {
        return ossl::openssl_error(Reason::kInternal, "EC keygen setup failed");
      }
      break;
    case KeyType::kEd25519:
      ctx.reset(EVP_PKEY_CTX_new_from_name(nullptr, "ED25519", nullptr));
      if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1) {
        return ossl::openssl_error(Reason::kInternal, "Ed25519 keygen setup failed");
      }
      break;
    case KeyType::kRsa:
      if (rsa_bits < kMinRsaBits) return make_error(Reason::kKeyTooSmall, "RSA below 2048 bits");
      if (rsa_bits > 16384) {
        return make_error(Code::kInvalidArgument, Reason::kTooLarge, "RSA above 16384 bits");
      }
      ctx.reset(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
      if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
          EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), rsa_bits) != 1) {
        return ossl::openssl_error(Reason::kInternal, "RSA keygen setup failed");
      }
      break;
    case KeyType::kEcdsaX509:
    case KeyType::kRsaX509:
      return make_error(Reason::kUnsupportedAlgorithm,
                        "certificate key types are not generated; use make_root_certificate");
  }
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_generate(ctx.get(), &raw) != 1) {
    return ossl::openssl_error(Reason::kInternal, "key generation failed");
  }
  ossl::PkeyPtr pkey(raw);
  VOUCH_ASSIGN_OR_RETURN(PublicKey pub, public_of(pkey.get()));
  return PrivateKey(std::make_unique<State>(State{std::move(pkey), type, std::move(pub)}));
}

Result<PrivateKey> PrivateKey::from_der(ByteSpan der) {
  if (der.empty() || der.size() > (1U << 16)) {
    return make_error(Reason::kMalformed, "private key DER empty or too large");
  }
  ByteSpan notary_key;
  VOUCH_ASSIGN_OR_RETURN(const bool is_notary_ed25519, notary_ed25519_payload(der, notary_key));
  ossl::PkeyPtr pkey;
  if (is_notary_ed25519) {
    // public || seed || public (96 bytes, what Notary writes); seed || public (64 bytes, the
    // bare Go ed25519.PrivateKey) is also read. Every copy of the public key must match the
    // one the seed derives.
    ByteSpan seed;
    std::vector<ByteSpan> publics;
    if (notary_key.size() == 96) {
      seed = notary_key.subspan(32, 32);
      publics = {notary_key.first(32), notary_key.last(32)};
    } else if (notary_key.size() == 64) {
      seed = notary_key.first(32);
      publics = {notary_key.last(32)};
    } else {
      return make_error(Reason::kMalformed, "Notary Ed25519 key has a wrong length");
    }
    pkey.reset(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
    if (!pkey) return ossl::openssl_error(Reason::kMalformed, "bad Ed25519 private key");
    std::array<std::uint8_t, 32> derived{};
    std::size_t len = derived.size();
    if (EVP_PKEY_get_raw_public_key(pkey.get(), derived.data(), &len) != 1 || len != 32) {
      return ossl::openssl_error(Reason::kInternal, "Ed25519 public key derivation failed");
    }
    for (ByteSpan p : publics) {
      if (!equal_bytes(p, derived)) {
        return make_error(Reason::kMalformed, "Ed25519 public key does not match the seed");
      }
    }
  } else {
    // PKCS#8 (either flavor, Notary's ECDSA version 1 included), SEC1 or PKCS#1.
    const unsigned char* p = der.data();
    pkey.reset(d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(der.size())));
    if (!pkey) return ossl::openssl_error(Reason::kMalformed, "not a supported private key DER");
    if (p != der.data() + der.size()) {
      return make_error(Reason::kMalformed, "trailing data after private key");
    }
  }
  VOUCH_ASSIGN_OR_RETURN(const KeyType type, check_supported(pkey.get()));
  VOUCH_ASSIGN_OR_RETURN(PublicKey pub, public_of(pkey.get()));
  return PrivateKey(std::make_unique<State>(State{std::move(pkey), type, std::move(pub)}));
}

SecretBytes PrivateKey::to_pkcs8_der(Pkcs8Flavor flavor) const {
  EVP_PKEY* pkey = state_->pkey.get();
  switch (state_->type) {
    case KeyType::kEcdsa: return SecretBytes(ec_pkcs8(pkey, flavor));
    case KeyType::kRsa: return SecretBytes(rsa_pkcs8(pkey, flavor));
    case KeyType::kEd25519: return SecretBytes(ed25519_pkcs8(pkey, flavor));
    default: impossible("private key of a certificate type");
  }
}

KeyType PrivateKey::type() const { return state_->type; }
const PublicKey& PrivateKey::public_key() const { return state_->public_key; }

SigMethod PrivateKey::method() const {
  switch (state_->type) {
    case KeyType::kEd25519: return SigMethod::kEddsa;
    case KeyType::kRsa: return SigMethod::kRsaPss;
    default: return SigMethod::kEcdsa;
  }
}

Result<Bytes> PrivateKey::sign(ByteSpan message) const {
  EVP_PKEY* pkey = state_->pkey.get();
  const KeyType type = state_->type;
  ossl::MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  const EVP_MD* md = type == KeyType::kEd25519 ? nullptr : EVP_sha256();
  if (!ctx || EVP_DigestSignInit(ctx.get(), &pctx, md, nullptr, pkey) != 1) {
    return ossl::openssl_error(Reason::kInternal, "EVP_DigestSignInit failed");
  }
  if (type == KeyType::kRsa &&
      (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
       EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) != 1 ||
       EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) != 1)) {
    return ossl::openssl_error(Reason::kInternal, "RSA-PSS setup failed");
  }
  std::size_t len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &len, message.data(), message.size()) != 1) {
    return ossl::openssl_error(Reason::kInternal, "EVP_DigestSign (size) failed");
  }
  Bytes sig(len);
  if (EVP_DigestSign(ctx.get(), sig.data(), &len, message.data(), message.size()) != 1) {
    return ossl::openssl_error(Reason::kInternal, "EVP_DigestSign failed");
  }
  sig.resize(len);
  if (type != KeyType::kEcdsa) return sig;

  // DER ECDSA-Sig-Value -> Notary's raw r || s, each left-padded to 32 bytes.
  const unsigned char* p = sig.data();
  ossl::EcdsaSigPtr esig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size())));
  if (!esig) return ossl::openssl_error(Reason::kInternal, "d2i_ECDSA_SIG failed");
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(esig.get(), &r, &s);
  Bytes raw(64);
  if (BN_bn2binpad(r, raw.data(), 32) != 32 || BN_bn2binpad(s, raw.data() + 32, 32) != 32) {
    return ossl::openssl_error(Reason::kInternal, "ECDSA r/s conversion failed");
  }
  return raw;
}

}  // namespace vouch::keys
