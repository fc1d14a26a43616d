#include "keys/public_key.h"

#include <algorithm>
#include <array>
#include <optional>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "common/enum_names.h"
#include "keys/crypto.h"
#include "keys/openssl_util.h"
#include "keys/x509.h"

namespace vouch::keys {

struct PublicKey::State {
  KeyType type = KeyType::kEcdsa;
  Bytes public_bytes;
  std::string id;
  std::string canonical_id;
  Bytes spki_der;
  std::optional<Certificate> cert;
  // Parsed once; EVP_PKEY is safe for concurrent verification with separate MD contexts.
  ossl::PkeyPtr pkey;
  // RSA only: modulus size in bytes (signatures must be exactly this long, as Go requires).
  std::size_t rsa_bytes = 0;
};

constexpr EnumName<KeyType> kKeyTypeNames[] = {
    {KeyType::kEcdsa, "ecdsa"}, {KeyType::kRsa, "rsa"}, {KeyType::kEd25519, "ed25519"},
    {KeyType::kEcdsaX509, "ecdsa-x509"}, {KeyType::kRsaX509, "rsa-x509"}};
static_assert(lists_every_value(kKeyTypeNames, KeyType::kRsaX509));

std::string_view to_string(KeyType type) { return name_of(kKeyTypeNames, type); }

Result<KeyType> parse_key_type(std::string_view text) {
  if (auto type = value_of(kKeyTypeNames, text)) return *type;
  return make_error(Reason::kUnsupportedAlgorithm, "unsupported key type");
}

KeyType plain_key_type(KeyType type) {
  switch (type) {
    case KeyType::kEcdsaX509: return KeyType::kEcdsa;
    case KeyType::kRsaX509: return KeyType::kRsa;
    default: return type;
  }
}

bool is_x509(KeyType type) { return type == KeyType::kEcdsaX509 || type == KeyType::kRsaX509; }

constexpr EnumName<SigMethod> kSigMethodNames[] = {
    {SigMethod::kEcdsa, "ecdsa"}, {SigMethod::kEddsa, "eddsa"}, {SigMethod::kRsaPss, "rsapss"},
    {SigMethod::kRsaPkcs1v15, "rsapkcs1v15"}, {SigMethod::kPyCryptoPss, "pycrypto-pkcs#1 pss"}};
static_assert(lists_every_value(kSigMethodNames, SigMethod::kPyCryptoPss));

std::string_view to_string(SigMethod method) { return name_of(kSigMethodNames, method); }

Result<SigMethod> parse_sig_method(std::string_view text) {
  if (auto method = value_of(kSigMethodNames, text)) return *method;
  return make_error(Reason::kUnsupportedAlgorithm, "unsupported signature method");
}

namespace {

// The key ID JSON has a fixed shape whose members are already in canonical (bytewise sorted)
// order and whose values need no escaping (a key type name and base64), so it is built
// directly rather than through tuf/'s encoder (keys/ must not depend on tuf/).
std::string key_json(KeyType type, ByteSpan public_bytes) {
  std::string out = R"({"keytype":")";
  out += to_string(type);
  out += R"(","keyval":{"private":null,"public":")";
  out += base64_encode(public_bytes);
  out += R"("}})";
  return out;
}

std::string key_id(KeyType type, ByteSpan public_bytes) {
  return sha256_hex(as_bytes(key_json(type, public_bytes)));
}

Result<Bytes> encode_spki(EVP_PKEY* pkey) {
  const int len = i2d_PUBKEY(pkey, nullptr);
  if (len <= 0) return ossl::openssl_error(Reason::kInternal, "i2d_PUBKEY failed");
  Bytes out(static_cast<std::size_t>(len));
  unsigned char* p = out.data();
  if (i2d_PUBKEY(pkey, &p) != len) {
    return ossl::openssl_error(Reason::kInternal, "i2d_PUBKEY failed");
  }
  return out;
}

// The material behind a key, parsed and checked.
struct Parsed {
  KeyType plain_type = KeyType::kEcdsa;
  ossl::PkeyPtr pkey;
  Bytes spki_der;
  std::size_t rsa_bytes = 0;
};

// Parses a DER SubjectPublicKeyInfo of an ecdsa (P-256), rsa or ed25519 key. The encoding
// must be the unique DER form OpenSSL writes back (named curve, uncompressed point, RSA with
// NULL parameters): Go's x509.ParsePKIXPublicKey, which Notary uses, accepts no other, and a
// unique encoding keeps "same SPKI bytes" equivalent to "same key".
Result<Parsed> parse_spki(ByteSpan der) {
  if (der.size() > (1U << 20)) return make_error(Reason::kTooLarge, "public key too large");
  const unsigned char* p = der.data();
  ossl::PkeyPtr pkey(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  if (!pkey) return ossl::openssl_error(Reason::kMalformed, "not a DER SubjectPublicKeyInfo");
  if (p != der.data() + der.size()) {
    return make_error(Reason::kMalformed, "trailing data after SubjectPublicKeyInfo");
  }
  Parsed out;
  switch (EVP_PKEY_get_base_id(pkey.get())) {
    case EVP_PKEY_EC: {
      char group[64] = {};
      std::size_t glen = 0;
      if (EVP_PKEY_get_group_name(pkey.get(), group, sizeof group, &glen) != 1 ||
          std::string_view(group, glen) != "prime256v1") {
        ossl::drain_errors();
        return make_error(Reason::kUnsupportedAlgorithm, "EC key is not on P-256");
      }
      out.plain_type = KeyType::kEcdsa;
      break;
    }
    case EVP_PKEY_RSA: {
      const int bits = EVP_PKEY_get_bits(pkey.get());
      if (bits < kMinRsaBits) {
        return make_error(Reason::kKeyTooSmall, "RSA key below 2048 bits");
      }
      out.plain_type = KeyType::kRsa;
      out.rsa_bytes = static_cast<std::size_t>(EVP_PKEY_get_size(pkey.get()));
      break;
    }
    case EVP_PKEY_ED25519:
      out.plain_type = KeyType::kEd25519;
      break;
    default:
      return make_error(Reason::kUnsupportedAlgorithm, "unsupported public key algorithm");
  }
  VOUCH_ASSIGN_OR_RETURN(out.spki_der, encode_spki(pkey.get()));
  if (!std::equal(out.spki_der.begin(), out.spki_der.end(), der.begin(), der.end())) {
    return make_error(Reason::kMalformed, "SubjectPublicKeyInfo is not in canonical DER form");
  }
  out.pkey = std::move(pkey);
  return out;
}

Result<Parsed> parse_ed25519_raw(ByteSpan raw) {
  if (raw.size() != 32) return make_error(Reason::kMalformed, "ed25519 public key must be 32 bytes");
  Parsed out;
  out.plain_type = KeyType::kEd25519;
  out.pkey.reset(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, raw.data(), raw.size()));
  if (!out.pkey) return ossl::openssl_error(Reason::kMalformed, "bad ed25519 public key");
  VOUCH_ASSIGN_OR_RETURN(out.spki_der, encode_spki(out.pkey.get()));
  return out;
}

// P-256 group order n, big-endian.
constexpr std::array<std::uint8_t, 32> kP256Order = {
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51};

// True if the 32-byte big-endian integer lies in [1, n-1].
bool in_scalar_range(ByteSpan v) {
  const bool zero = std::all_of(v.begin(), v.end(), [](std::uint8_t b) { return b == 0; });
  return !zero && std::lexicographical_compare(v.begin(), v.end(), kP256Order.begin(),
                                               kP256Order.end());
}

Status bad_signature() { return make_error(Reason::kBadSignature, "signature does not verify"); }

// Runs EVP_DigestVerify; `md` null for Ed25519. `configure` adjusts the PKEY_CTX (RSA padding).
template <typename Configure>
Status digest_verify(EVP_PKEY* pkey, const EVP_MD* md, ByteSpan message, ByteSpan signature,
                     Configure configure) {
  ossl::MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return ossl::openssl_error(Reason::kInternal, "EVP_MD_CTX_new failed");
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  if (EVP_DigestVerifyInit(ctx.get(), &pctx, md, nullptr, pkey) != 1 || !configure(pctx)) {
    return ossl::openssl_error(Reason::kInternal, "EVP_DigestVerifyInit failed");
  }
  const int rc = EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(),
                                  message.size());
  ossl::drain_errors();  // a failed verification leaves errors on the queue
  return rc == 1 ? ok_status() : bad_signature();
}

Status verify_ecdsa(EVP_PKEY* pkey, ByteSpan message, ByteSpan sig) {
  // Notary: exactly 2 * 32 bytes, raw r || s. Go's ecdsa.Verify rejects r or s outside
  // [1, n-1] and accepts high s; we check the range explicitly before converting to DER.
  if (sig.size() != 64) return make_error(Reason::kBadSignature, "ECDSA signature is not 64 bytes");
  const ByteSpan r = sig.first(32);
  const ByteSpan s = sig.last(32);
  if (!in_scalar_range(r) || !in_scalar_range(s)) {
    return make_error(Reason::kBadSignature, "ECDSA r or s out of range");
  }
  ossl::EcdsaSigPtr esig(ECDSA_SIG_new());
  ossl::BnPtr br(BN_bin2bn(r.data(), 32, nullptr));
  ossl::BnPtr bs(BN_bin2bn(s.data(), 32, nullptr));
  if (!esig || !br || !bs || ECDSA_SIG_set0(esig.get(), br.get(), bs.get()) != 1) {
    return ossl::openssl_error(Reason::kInternal, "ECDSA_SIG construction failed");
  }
  br.release();  // owned by esig now
  bs.release();
  std::array<unsigned char, 80> der{};
  unsigned char* p = der.data();
  const int len = i2d_ECDSA_SIG(esig.get(), &p);
  if (len <= 0 || static_cast<std::size_t>(len) > der.size()) {
    return ossl::openssl_error(Reason::kInternal, "i2d_ECDSA_SIG failed");
  }
  return digest_verify(pkey, EVP_sha256(), message,
                       ByteSpan(der.data(), static_cast<std::size_t>(len)),
                       [](EVP_PKEY_CTX*) { return true; });
}

Status verify_rsa(EVP_PKEY* pkey, std::size_t rsa_bytes, bool pss, ByteSpan message,
                  ByteSpan sig) {
  // Go's rsa.VerifyPSS / VerifyPKCS1v15 require a signature exactly as long as the modulus.
  if (sig.size() != rsa_bytes) {
    return make_error(Reason::kBadSignature, "RSA signature length differs from modulus");
  }
  return digest_verify(pkey, EVP_sha256(), message, sig, [pss](EVP_PKEY_CTX* pctx) {
    if (!pss) return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1;
    // Notary (verifiers.go): PSSOptions{SaltLength: sha256.Size, Hash: SHA256}; Go uses the
    // signing hash for MGF1. Salt length 32 is required exactly.
    return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
           EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) == 1 &&
           EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) == 1;
  });
}

}  // namespace

Result<PublicKey> PublicKey::from_tuf(KeyType type, ByteSpan public_bytes) {
  auto state = std::make_shared<State>();
  state->type = type;
  state->public_bytes.assign(public_bytes.begin(), public_bytes.end());
  state->id = key_id(type, public_bytes);

  Parsed parsed;
  switch (type) {
    case KeyType::kEcdsa:
    case KeyType::kRsa: {
      VOUCH_ASSIGN_OR_RETURN(parsed, parse_spki(public_bytes));
      break;
    }
    case KeyType::kEd25519: {
      VOUCH_ASSIGN_OR_RETURN(parsed, parse_ed25519_raw(public_bytes));
      break;
    }
    case KeyType::kEcdsaX509:
    case KeyType::kRsaX509: {
      VOUCH_ASSIGN_OR_RETURN(Certificate cert, Certificate::from_pem(as_string_view(public_bytes)));
      VOUCH_ASSIGN_OR_RETURN(parsed, parse_spki(cert.spki_der()));
      state->cert = std::move(cert);
      break;
    }
  }
  if (parsed.plain_type != plain_key_type(type)) {
    return make_error(Reason::kMalformed, "key material does not match the key type");
  }
  state->canonical_id = is_x509(type) ? key_id(parsed.plain_type, parsed.spki_der) : state->id;
  state->spki_der = std::move(parsed.spki_der);
  state->pkey = std::move(parsed.pkey);
  state->rsa_bytes = parsed.rsa_bytes;
  return PublicKey(std::move(state));
}

Result<PublicKey> PublicKey::from_spki_der(ByteSpan der) {
  VOUCH_ASSIGN_OR_RETURN(Parsed parsed, parse_spki(der));
  if (parsed.plain_type != KeyType::kEd25519) return from_tuf(parsed.plain_type, der);
  std::array<std::uint8_t, 32> raw{};
  std::size_t len = raw.size();
  if (EVP_PKEY_get_raw_public_key(parsed.pkey.get(), raw.data(), &len) != 1 || len != 32) {
    return ossl::openssl_error(Reason::kMalformed, "bad ed25519 public key");
  }
  return from_tuf(KeyType::kEd25519, raw);
}

Result<PublicKey> PublicKey::from_pem(std::string_view pem) {
  std::string type;
  Bytes der;
  VOUCH_RETURN_IF_ERROR(ossl::pem_decode_single(pem, type, der));
  if (type == "PUBLIC KEY") return from_spki_der(der);
  if (type != "CERTIFICATE") {
    return make_error(Reason::kMalformed, "expected a PUBLIC KEY or CERTIFICATE PEM block");
  }
  // Notary (utils.ParsePEMPublicKey -> CertToKey) re-encodes the certificate as canonical PEM
  // before it becomes a key, so the key ID does not depend on the input's line breaks.
  const unsigned char* p = der.data();
  ossl::X509Ptr x509(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!x509 || p != der.data() + der.size()) {
    return ossl::openssl_error(Reason::kMalformed, "not a DER certificate");
  }
  VOUCH_ASSIGN_OR_RETURN(const std::string canonical, ossl::x509_to_pem(x509.get()));
  VOUCH_ASSIGN_OR_RETURN(Certificate cert, Certificate::from_pem(canonical));
  VOUCH_ASSIGN_OR_RETURN(Parsed parsed, parse_spki(cert.spki_der()));
  switch (parsed.plain_type) {
    case KeyType::kEcdsa: return from_tuf(KeyType::kEcdsaX509, as_bytes(canonical));
    case KeyType::kRsa: return from_tuf(KeyType::kRsaX509, as_bytes(canonical));
    default:
      // Notary's CertToKey knows only RSA and ECDSA certificates.
      return make_error(Reason::kUnsupportedAlgorithm, "certificate key is not ecdsa or rsa");
  }
}

KeyType PublicKey::type() const { return state_->type; }
const Bytes& PublicKey::public_bytes() const { return state_->public_bytes; }
const std::string& PublicKey::id() const { return state_->id; }
const std::string& PublicKey::canonical_id() const { return state_->canonical_id; }
std::string PublicKey::tuf_json() const { return key_json(state_->type, state_->public_bytes); }
const Bytes& PublicKey::spki_der() const { return state_->spki_der; }
const Certificate* PublicKey::certificate() const {
  return state_->cert ? &*state_->cert : nullptr;
}

Status PublicKey::verify(SigMethod method, ByteSpan message, ByteSpan signature) const {
  const State& st = *state_;
  const KeyType plain = plain_key_type(st.type);
  switch (method) {
    case SigMethod::kEcdsa:
      if (plain != KeyType::kEcdsa) break;
      return verify_ecdsa(st.pkey.get(), message, signature);
    case SigMethod::kEddsa:
      if (plain != KeyType::kEd25519) break;
      if (signature.size() != 64) {
        return make_error(Reason::kBadSignature, "Ed25519 signature is not 64 bytes");
      }
      return digest_verify(st.pkey.get(), nullptr, message, signature,
                           [](EVP_PKEY_CTX*) { return true; });
    case SigMethod::kRsaPss:
    case SigMethod::kRsaPkcs1v15:
      if (plain != KeyType::kRsa) break;
      return verify_rsa(st.pkey.get(), st.rsa_bytes, method == SigMethod::kRsaPss, message,
                        signature);
    case SigMethod::kPyCryptoPss:
      // Notary's RSAPyCryptoVerifier accepts only keytype "rsa" (not rsa-x509) and then runs
      // the same PSS check (SHA-256, salt 32) as rsapss.
      if (st.type != KeyType::kRsa) break;
      return verify_rsa(st.pkey.get(), st.rsa_bytes, true, message, signature);
  }
  return make_error(Reason::kWrongMethod, "signature method does not match the key type");
}

}  // namespace vouch::keys
