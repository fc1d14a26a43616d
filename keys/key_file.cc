#include "keys/key_file.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <climits>
#include <exception>
#include <memory>
#include <optional>

#include <botan/argon2.h>
#include <openssl/asn1.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "common/enum_names.h"
#include "keys/aes_gcm.h"
#include "keys/crypto.h"

namespace vouch::keys {
namespace {

// ---- OpenSSL handles ----------------------------------------------------------------------

struct X509SigFree {
  void operator()(X509_SIG* p) const { X509_SIG_free(p); }
};
struct Pbe2ParamFree {
  void operator()(PBE2PARAM* p) const { PBE2PARAM_free(p); }
};
struct Pbkdf2ParamFree {
  void operator()(PBKDF2PARAM* p) const { PBKDF2PARAM_free(p); }
};
struct X509AlgorFree {
  void operator()(X509_ALGOR* p) const { X509_ALGOR_free(p); }
};
struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* p) const { EVP_CIPHER_CTX_free(p); }
};
using X509SigPtr = std::unique_ptr<X509_SIG, X509SigFree>;
using Pbe2ParamPtr = std::unique_ptr<PBE2PARAM, Pbe2ParamFree>;
using Pbkdf2ParamPtr = std::unique_ptr<PBKDF2PARAM, Pbkdf2ParamFree>;
using X509AlgorPtr = std::unique_ptr<X509_ALGOR, X509AlgorFree>;
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

// ---- Constants ----------------------------------------------------------------------------

constexpr std::string_view kVouchType = "VOUCH ENCRYPTED PRIVATE KEY";
constexpr std::string_view kNotaryType = "ENCRYPTED PRIVATE KEY";
constexpr std::string_view kPkcs8Type = "PRIVATE KEY";
constexpr std::string_view kEcType = "EC PRIVATE KEY";
constexpr std::string_view kRsaType = "RSA PRIVATE KEY";
constexpr std::string_view kEd25519Type = "ED25519 PRIVATE KEY";

constexpr std::size_t kMaxCiphertext = 16 * 1024;  // an RSA-4096 PKCS#8 is ~2.4 KiB
constexpr std::size_t kVouchSaltLen = 16;
constexpr std::size_t kNotarySaltLen = 16;
constexpr std::size_t kGcmNonceLen = aes_gcm::kNonceSize;
constexpr std::size_t kGcmTagLen = aes_gcm::kTagSize;
constexpr std::size_t kAes256KeyLen = 32;
constexpr std::size_t kCbcIvLen = 16;

// ---- Small text helpers -------------------------------------------------------------------

// Role and gun values that we write: printable ASCII without spaces.
Status check_header_value(std::string_view what, std::string_view value, bool required) {
  if (value.empty()) {
    if (required) return make_error(Code::kInvalidArgument, Reason::kMalformed,
                                    std::string(what) + " must not be empty");
    return {};
  }
  if (value.size() > kMaxHeaderValueLength) {
    return make_error(Code::kInvalidArgument, Reason::kTooLarge,
                      std::string(what) + " is longer than 255 bytes");
  }
  for (char c : value) {
    if (c <= 0x20 || c > 0x7e) {
      return make_error(Code::kInvalidArgument, Reason::kMalformed,
                        std::string(what) + " may contain only printable ASCII without spaces");
    }
  }
  return {};
}

// Canonical unsigned decimal: digits only, no sign, no leading zero (except "0").
template <typename T>
std::optional<T> parse_canonical_uint(std::string_view s) {
  if (s.empty() || (s.size() > 1 && s.front() == '0')) return std::nullopt;
  if (!std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  T v{};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

Error openssl_error(std::string_view what) {
  return make_error(Reason::kInternal, "OpenSSL failed: " + std::string(what));
}

Error bad_passphrase() {
  return make_error(Reason::kBadPassphrase,
                    "wrong passphrase (or a corrupted key file: this format has no MAC)");
}

// ---- Symmetric primitives -----------------------------------------------------------------

// AES-CBC with PKCS#7 padding. A padding failure on decryption is kBadPassphrase.
Result<SecretBytes> cbc_crypt(const EVP_CIPHER* cipher, bool encrypt, ByteSpan key, ByteSpan iv,
                              ByteSpan input) {
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return openssl_error("EVP_CIPHER_CTX_new");
  if (EVP_CipherInit_ex(ctx.get(), cipher, nullptr, key.data(), iv.data(), encrypt ? 1 : 0) !=
      1) {
    return openssl_error("EVP_CipherInit_ex");
  }
  SecretBytes out(input.size() + 16);
  int n1 = 0;
  int n2 = 0;
  if (EVP_CipherUpdate(ctx.get(), out.data(), &n1, input.data(), static_cast<int>(input.size())) !=
      1) {
    return openssl_error("EVP_CipherUpdate");
  }
  if (EVP_CipherFinal_ex(ctx.get(), out.data() + n1, &n2) != 1) {
    if (!encrypt) return bad_passphrase();
    return openssl_error("EVP_CipherFinal_ex");
  }
  out.resize(static_cast<std::size_t>(n1) + static_cast<std::size_t>(n2));
  return out;
}

// AES-GCM (keys/aes_gcm.h) of the vouch format; an authentication failure is worded for a key
// file.
Result<SecretBytes> gcm_decrypt(ByteSpan key, ByteSpan nonce, ByteSpan aad, ByteSpan sealed) {
  auto plain = aes_gcm::open(key, nonce, aad, sealed);
  if (!plain && plain.error().reason == Reason::kBadPassphrase) {
    return make_error(Reason::kBadPassphrase,
                      "wrong passphrase, or the key file was modified (authentication failed)");
  }
  return plain;
}

Result<Bytes> fresh_random(std::size_t n) {
  Bytes b(n);
  VOUCH_RETURN_IF_ERROR(random_bytes(b));
  return b;
}

// ---- Plaintext to PrivateKey ----------------------------------------------------------------

// Notary's legacy "ED25519 PRIVATE KEY" body is its raw serialization: public || Go's 64-byte
// private key (seed || public), 96 bytes in all (tuf/utils/x509.go ED25519ToPrivateKey); 64
// bytes (seed || public) is accepted too. Wrap it in the PKCS#8 that Notary writes for Ed25519
// (version 0, OID 1.3.6.1.4.1.11591.15.1 without parameters, OCTET STRING of the raw bytes),
// which PrivateKey::from_der reads.
SecretBytes wrap_notary_ed25519(ByteSpan raw) {
  const auto n = static_cast<std::uint8_t>(raw.size());  // 64 or 96: short-form lengths
  const std::array<std::uint8_t, 20> prefix = {
      0x30, static_cast<std::uint8_t>(18 + n),  // SEQUENCE
      0x02, 0x01, 0x00,                         // INTEGER 0
      0x30, 0x0b, 0x06, 0x09,                   // SEQUENCE { OID (9 bytes)
      0x2b, 0x06, 0x01, 0x04, 0x01,             //   1.3.6.1.4.1
      0xda, 0x47, 0x0f, 0x01,                   //   .11591.15.1 }
      0x04, n};                                 // OCTET STRING
  SecretBytes out(prefix);
  out.append(raw);
  return out;
}

// Parses decrypted plaintext. Without a MAC, an unparsable plaintext most likely means a
// wrong passphrase, so kMalformed becomes kBadPassphrase; a key that parsed but that we
// refuse (curve, size) keeps its reason.
Result<PrivateKey> key_from_plaintext(ByteSpan der, bool authenticated) {
  auto key = PrivateKey::from_der(der);
  if (!key && !authenticated && key.error().reason == Reason::kMalformed) return bad_passphrase();
  return key;
}

Result<PrivateKey> key_from_traditional(std::string_view type, ByteSpan der,
                                        bool authenticated) {
  if (type == kEd25519Type) {
    if (der.size() != 64 && der.size() != 96) {
      if (!authenticated) return bad_passphrase();
      return make_error(Reason::kMalformed, "ED25519 PRIVATE KEY must hold 96 (or 64) bytes");
    }
    const SecretBytes wrapped = wrap_notary_ed25519(der);
    return key_from_plaintext(wrapped.span(), authenticated);
  }
  return key_from_plaintext(der, authenticated);
}

// ---- Format detection -----------------------------------------------------------------------

bool is_traditional(std::string_view type) {
  return type == kEcType || type == kRsaType || type == kEd25519Type;
}

Result<KeyFileInfo> classify(const PemBlock& block) {
  KeyFileInfo info;
  info.role = std::string(pem_header(block, "role"));
  info.gun = std::string(pem_header(block, "gun"));
  const bool proc_type = !pem_header(block, "Proc-Type").empty();
  if (block.type == kVouchType) {
    info.format = KeyFileFormat::kVouch;
  } else if (block.type == kNotaryType) {
    info.format = KeyFileFormat::kNotary;
  } else if (block.type == kPkcs8Type) {
    if (proc_type) {
      return make_error(Reason::kUnsupportedAlgorithm,
                        "PEM encryption (Proc-Type) of a PKCS#8 PRIVATE KEY is not supported");
    }
    info.format = KeyFileFormat::kPlain;
    info.encrypted = false;
  } else if (is_traditional(block.type)) {
    info.format = proc_type ? KeyFileFormat::kLegacyPem : KeyFileFormat::kPlain;
    info.encrypted = proc_type;
  } else {
    return make_error(Reason::kUnsupportedAlgorithm,
                      "not a private key PEM block: \"" + block.type + "\"");
  }
  return info;
}

// ---- kNotary --------------------------------------------------------------------------------

// The parameters of a Notary PBES2 file, all checked.
struct NotaryParams {
  Bytes salt;
  int iterations = 0;
  Bytes iv;
  ByteSpan ciphertext;  // points into the X509_SIG below
  X509SigPtr sig;
};

Result<NotaryParams> parse_notary(ByteSpan der, const KdfLimits& limits) {
  NotaryParams out;
  const unsigned char* p = der.data();
  out.sig.reset(d2i_X509_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!out.sig || p != der.data() + der.size()) {
    return make_error(Reason::kMalformed, "not a PKCS#8 EncryptedPrivateKeyInfo");
  }
  const X509_ALGOR* alg = nullptr;
  const ASN1_OCTET_STRING* ct = nullptr;
  X509_SIG_get0(out.sig.get(), &alg, &ct);

  const ASN1_OBJECT* oid = nullptr;
  int ptype = 0;
  const void* pval = nullptr;
  X509_ALGOR_get0(&oid, &ptype, &pval, alg);
  if (OBJ_obj2nid(oid) != NID_pbes2) {
    return make_error(Reason::kUnsupportedAlgorithm, "only PBES2 encryption is supported");
  }
  if (ptype != V_ASN1_SEQUENCE || pval == nullptr) {
    return make_error(Reason::kMalformed, "PBES2 parameters missing");
  }
  const auto* seq = static_cast<const ASN1_STRING*>(pval);
  const unsigned char* q = ASN1_STRING_get0_data(seq);
  const unsigned char* q_end = q + ASN1_STRING_length(seq);
  Pbe2ParamPtr pbe2(d2i_PBE2PARAM(nullptr, &q, ASN1_STRING_length(seq)));
  if (!pbe2 || q != q_end) return make_error(Reason::kMalformed, "bad PBES2 parameters");

  // Key derivation: PBKDF2 only.
  X509_ALGOR_get0(&oid, &ptype, &pval, pbe2->keyfunc);
  if (OBJ_obj2nid(oid) != NID_id_pbkdf2) {
    return make_error(Reason::kUnsupportedAlgorithm, "only PBKDF2 key derivation is supported");
  }
  if (ptype != V_ASN1_SEQUENCE || pval == nullptr) {
    return make_error(Reason::kMalformed, "PBKDF2 parameters missing");
  }
  seq = static_cast<const ASN1_STRING*>(pval);
  q = ASN1_STRING_get0_data(seq);
  q_end = q + ASN1_STRING_length(seq);
  Pbkdf2ParamPtr kdf(d2i_PBKDF2PARAM(nullptr, &q, ASN1_STRING_length(seq)));
  if (!kdf || q != q_end) return make_error(Reason::kMalformed, "bad PBKDF2 parameters");

  if (kdf->salt == nullptr || ASN1_TYPE_get(kdf->salt) != V_ASN1_OCTET_STRING) {
    return make_error(Reason::kMalformed, "PBKDF2 salt must be an OCTET STRING");
  }
  const ASN1_OCTET_STRING* salt = kdf->salt->value.octet_string;
  const int salt_len = ASN1_STRING_length(salt);
  if (salt_len < 1 || salt_len > 64) {
    return make_error(Reason::kMalformed, "PBKDF2 salt must be 1..64 bytes");
  }
  out.salt.assign(ASN1_STRING_get0_data(salt),
                  ASN1_STRING_get0_data(salt) + static_cast<std::size_t>(salt_len));

  // Iteration count: checked before anything is derived (REFERENCE §9: Notary does not cap).
  std::int64_t iter = 0;
  if (kdf->iter == nullptr || ASN1_INTEGER_get_int64(&iter, kdf->iter) != 1) {
    return make_error(Reason::kTooLarge, "PBKDF2 iteration count out of range");
  }
  if (iter < 1) return make_error(Reason::kMalformed, "PBKDF2 iteration count below 1");
  if (static_cast<std::uint64_t>(iter) > limits.max_pbkdf2_iterations || iter > INT_MAX) {
    return make_error(Reason::kTooLarge, "PBKDF2 iteration count " + std::to_string(iter) +
                                             " exceeds the limit of " +
                                             std::to_string(limits.max_pbkdf2_iterations));
  }
  out.iterations = static_cast<int>(iter);

  if (kdf->keylength != nullptr) {
    std::int64_t keylen = 0;
    if (ASN1_INTEGER_get_int64(&keylen, kdf->keylength) != 1 ||
        keylen != static_cast<std::int64_t>(kAes256KeyLen)) {
      return make_error(Reason::kUnsupportedAlgorithm, "PBKDF2 key length must be 32");
    }
  }
  // Notary ignores the PRF and always uses HMAC-SHA1; accept only files that agree.
  if (kdf->prf != nullptr) {
    X509_ALGOR_get0(&oid, &ptype, &pval, kdf->prf);
    if (OBJ_obj2nid(oid) != NID_hmacWithSHA1 ||
        (ptype != V_ASN1_UNDEF && ptype != V_ASN1_NULL)) {
      return make_error(Reason::kUnsupportedAlgorithm,
                        "only the HMAC-SHA1 PRF is supported (Notary always uses it)");
    }
  }

  // Encryption scheme: AES-256-CBC with a 16-byte IV.
  X509_ALGOR_get0(&oid, &ptype, &pval, pbe2->encryption);
  if (OBJ_obj2nid(oid) != NID_aes_256_cbc) {
    return make_error(Reason::kUnsupportedAlgorithm, "only AES-256-CBC encryption is supported");
  }
  if (ptype != V_ASN1_OCTET_STRING || pval == nullptr) {
    return make_error(Reason::kMalformed, "AES-256-CBC IV missing");
  }
  const auto* iv = static_cast<const ASN1_OCTET_STRING*>(pval);
  if (ASN1_STRING_length(iv) != static_cast<int>(kCbcIvLen)) {
    return make_error(Reason::kMalformed, "AES-256-CBC IV must be 16 bytes");
  }
  out.iv.assign(ASN1_STRING_get0_data(iv), ASN1_STRING_get0_data(iv) + kCbcIvLen);

  const int ct_len = ASN1_STRING_length(ct);
  if (ct_len <= 0 || ct_len % 16 != 0 || static_cast<std::size_t>(ct_len) > kMaxCiphertext) {
    return make_error(Reason::kMalformed, "bad ciphertext length");
  }
  out.ciphertext = ByteSpan(ASN1_STRING_get0_data(ct), static_cast<std::size_t>(ct_len));
  return out;
}

Result<SecretBytes> pbkdf2_sha1(const SecretString& passphrase, ByteSpan salt, int iterations) {
  SecretBytes key(kAes256KeyLen);
  if (PKCS5_PBKDF2_HMAC(passphrase.view().data(), static_cast<int>(passphrase.size()),
                        salt.data(), static_cast<int>(salt.size()), iterations, EVP_sha1(),
                        static_cast<int>(key.size()), key.data()) != 1) {
    return openssl_error("PKCS5_PBKDF2_HMAC");
  }
  return key;
}

Result<PrivateKey> decrypt_notary(const PemBlock& block, const SecretString& passphrase,
                                  const KdfLimits& limits) {
  VOUCH_ASSIGN_OR_RETURN(NotaryParams params, parse_notary(block.body.span(), limits));
  if (passphrase.size() > INT_MAX) return make_error(Reason::kTooLarge, "passphrase too long");
  VOUCH_ASSIGN_OR_RETURN(SecretBytes key, pbkdf2_sha1(passphrase, params.salt, params.iterations));
  VOUCH_ASSIGN_OR_RETURN(SecretBytes plain, cbc_crypt(EVP_aes_256_cbc(), false, key.span(),
                                                      params.iv, params.ciphertext));
  return key_from_plaintext(plain.span(), /*authenticated=*/false);
}

Result<std::string> encrypt_notary(const PrivateKey& key, std::string_view role,
                                   std::string_view gun, const SecretString& passphrase,
                                   const WriteOptions& options) {
  if (options.pbkdf2_iterations < 1) {
    return make_error(Code::kInvalidArgument, Reason::kMalformed,
                      "PBKDF2 iterations must be at least 1");
  }
  if (options.pbkdf2_iterations > KdfLimits{}.max_pbkdf2_iterations ||
      options.pbkdf2_iterations > INT_MAX) {
    return make_error(Reason::kTooLarge, "PBKDF2 iterations above the read limit");
  }
  const int iterations = static_cast<int>(options.pbkdf2_iterations);
  VOUCH_ASSIGN_OR_RETURN(Bytes salt, fresh_random(kNotarySaltLen));
  VOUCH_ASSIGN_OR_RETURN(Bytes iv, fresh_random(kCbcIvLen));

  // The AlgorithmIdentifier exactly as Notary writes it: PBES2 { PBKDF2 { salt, iterations }
  // (no keyLength for AES, no PRF field for HMAC-SHA1), AES-256-CBC { iv } }.
  X509AlgorPtr pbe(PKCS5_pbe2_set_iv(EVP_aes_256_cbc(), iterations, salt.data(),
                                     static_cast<int>(salt.size()), iv.data(),
                                     NID_hmacWithSHA1));
  if (!pbe) return openssl_error("PKCS5_pbe2_set_iv");

  VOUCH_ASSIGN_OR_RETURN(SecretBytes kek, pbkdf2_sha1(passphrase, salt, iterations));
  const SecretBytes plain = key.to_pkcs8_der(Pkcs8Flavor::kNotary);
  if (plain.empty()) return openssl_error("PKCS#8 encoding of the key");
  VOUCH_ASSIGN_OR_RETURN(SecretBytes ct,
                         cbc_crypt(EVP_aes_256_cbc(), true, kek.span(), iv, plain.span()));

  X509SigPtr sig(X509_SIG_new());
  if (!sig) return openssl_error("X509_SIG_new");
  X509_ALGOR* sig_alg = nullptr;
  ASN1_OCTET_STRING* sig_data = nullptr;
  X509_SIG_getm(sig.get(), &sig_alg, &sig_data);
  if (X509_ALGOR_copy(sig_alg, pbe.get()) != 1 ||
      ASN1_OCTET_STRING_set(sig_data, ct.data(), static_cast<int>(ct.size())) != 1) {
    return openssl_error("building EncryptedPrivateKeyInfo");
  }
  const int der_len = i2d_X509_SIG(sig.get(), nullptr);
  if (der_len <= 0) return openssl_error("i2d_X509_SIG");
  Bytes der(static_cast<std::size_t>(der_len));
  unsigned char* w = der.data();
  if (i2d_X509_SIG(sig.get(), &w) != der_len) return openssl_error("i2d_X509_SIG");

  // Go's pem.Encode writes headers sorted by name: gun, path, role.
  std::vector<std::pair<std::string, std::string>> headers;
  if (!gun.empty()) headers.emplace_back("gun", std::string(gun));
  if (options.notary_path_header) headers.emplace_back("path", key.public_key().id());
  headers.emplace_back("role", std::string(role));
  return pem_encode(kNotaryType, headers, der);
}

// ---- kLegacyPem -----------------------------------------------------------------------------

Result<PrivateKey> decrypt_legacy(const PemBlock& block, const SecretString& passphrase) {
  if (pem_header(block, "Proc-Type") != "4,ENCRYPTED") {
    return make_error(Reason::kMalformed, "Proc-Type must be \"4,ENCRYPTED\"");
  }
  const std::string_view dek = pem_header(block, "DEK-Info");
  const std::size_t comma = dek.find(',');
  if (comma == std::string_view::npos) {
    return make_error(Reason::kMalformed, "DEK-Info must be \"<cipher>,<hex IV>\"");
  }
  const std::string_view name = dek.substr(0, comma);
  const EVP_CIPHER* cipher = nullptr;
  if (name == "AES-128-CBC") {
    cipher = EVP_aes_128_cbc();
  } else if (name == "AES-192-CBC") {
    cipher = EVP_aes_192_cbc();
  } else if (name == "AES-256-CBC") {
    cipher = EVP_aes_256_cbc();
  } else if (name == "DES-EDE3-CBC") {
    cipher = EVP_des_ede3_cbc();
  } else {
    return make_error(Reason::kUnsupportedAlgorithm,
                      "legacy PEM cipher \"" + std::string(name) + "\" is not supported");
  }
  auto iv = hex_decode(dek.substr(comma + 1));
  if (!iv || iv->size() != static_cast<std::size_t>(EVP_CIPHER_get_iv_length(cipher)) ||
      iv->size() < 8) {
    return make_error(Reason::kMalformed, "bad DEK-Info IV");
  }
  if (block.body.empty() || block.body.size() > kMaxCiphertext ||
      block.body.size() % static_cast<std::size_t>(EVP_CIPHER_get_block_size(cipher)) != 0) {
    return make_error(Reason::kMalformed, "bad ciphertext length");
  }
  if (passphrase.size() > INT_MAX) return make_error(Reason::kTooLarge, "passphrase too long");
  // Go's x509.DecryptPEMBlock / OpenSSL: key = EVP_BytesToKey(MD5, salt = IV[0..8), 1 round).
  SecretBytes key(static_cast<std::size_t>(EVP_CIPHER_get_key_length(cipher)));
  if (EVP_BytesToKey(cipher, EVP_md5(), iv->data(), passphrase.bytes().data(),
                     static_cast<int>(passphrase.size()), 1, key.data(),
                     nullptr) != static_cast<int>(key.size())) {
    return openssl_error("EVP_BytesToKey");
  }
  VOUCH_ASSIGN_OR_RETURN(SecretBytes plain,
                         cbc_crypt(cipher, false, key.span(), *iv, block.body.span()));
  return key_from_traditional(block.type, plain.span(), /*authenticated=*/false);
}

// ---- kVouch ---------------------------------------------------------------------------------

constexpr std::string_view kVouchVersion = "1";
constexpr std::string_view kVouchKdf = "argon2id";
constexpr std::string_view kVouchCipher = "aes-256-gcm";

// The headers of a vouch file in canonical order, gun included even when empty. The AAD is
// built from these, and the file writes them in this order (gun omitted when empty).
struct VouchHeaders {
  std::string role;
  std::string gun;
  Argon2Params argon2;
  Bytes salt;
  Bytes nonce;

  std::vector<std::pair<std::string, std::string>> canonical() const {
    return {{"version", std::string(kVouchVersion)},
            {"role", role},
            {"gun", gun},
            {"kdf", std::string(kVouchKdf)},
            {"kdf-memory-kib", std::to_string(argon2.memory_kib)},
            {"kdf-iterations", std::to_string(argon2.iterations)},
            {"kdf-parallelism", std::to_string(argon2.parallelism)},
            {"salt", base64_encode(salt)},
            {"cipher", std::string(kVouchCipher)},
            {"nonce", base64_encode(nonce)}};
  }

  Bytes aad() const {
    std::string s = "vouch-key-file\n";
    for (const auto& [name, value] : canonical()) s.append(name).append(": ").append(value) += '\n';
    return Bytes(s.begin(), s.end());
  }
};

Status check_argon2(const Argon2Params& a, const KdfLimits& limits) {
  if (a.memory_kib > limits.max_argon2_memory_kib) {
    return make_error(Reason::kTooLarge, "Argon2 memory " + std::to_string(a.memory_kib) +
                                             " KiB exceeds the limit of " +
                                             std::to_string(limits.max_argon2_memory_kib));
  }
  if (a.iterations > limits.max_argon2_iterations) {
    return make_error(Reason::kTooLarge, "Argon2 iterations " + std::to_string(a.iterations) +
                                             " exceed the limit of " +
                                             std::to_string(limits.max_argon2_iterations));
  }
  if (a.parallelism > limits.max_argon2_parallelism) {
    return make_error(Reason::kTooLarge, "Argon2 parallelism " + std::to_string(a.parallelism) +
                                             " exceeds the limit of " +
                                             std::to_string(limits.max_argon2_parallelism));
  }
  if (a.iterations < 1 || a.parallelism < 1 ||
      static_cast<std::uint64_t>(a.memory_kib) < 8ULL * a.parallelism) {
    return make_error(Reason::kMalformed, "Argon2 parameters below the minimum (t >= 1, p >= 1, "
                                          "m >= 8p)");
  }
  return {};
}

Result<VouchHeaders> parse_vouch_headers(const PemBlock& block, const KdfLimits& limits) {
  static constexpr std::array<std::string_view, 10> kKnown = {
      "version", "role", "gun",  "kdf",    "kdf-memory-kib", "kdf-iterations",
      "kdf-parallelism", "salt", "cipher", "nonce"};
  for (const auto& [name, value] : block.headers) {
    if (std::find(kKnown.begin(), kKnown.end(), name) == kKnown.end()) {
      return make_error(Reason::kMalformed, "unknown header \"" + name + "\" in a vouch key file");
    }
  }
  for (std::string_view required : kKnown) {
    if (required == "gun") continue;
    if (pem_header(block, required).empty()) {
      return make_error(Reason::kMalformed, "missing header \"" + std::string(required) + "\"");
    }
  }
  if (pem_header(block, "version") != kVouchVersion) {
    return make_error(Reason::kUnsupportedAlgorithm, "unsupported vouch key file version");
  }
  if (pem_header(block, "kdf") != kVouchKdf) {
    return make_error(Reason::kUnsupportedAlgorithm, "unsupported KDF (want argon2id)");
  }
  if (pem_header(block, "cipher") != kVouchCipher) {
    return make_error(Reason::kUnsupportedAlgorithm, "unsupported cipher (want aes-256-gcm)");
  }
  VouchHeaders h;
  h.role = std::string(pem_header(block, "role"));
  h.gun = std::string(pem_header(block, "gun"));
  const auto m = parse_canonical_uint<std::uint64_t>(pem_header(block, "kdf-memory-kib"));
  const auto t = parse_canonical_uint<std::uint64_t>(pem_header(block, "kdf-iterations"));
  const auto p = parse_canonical_uint<std::uint64_t>(pem_header(block, "kdf-parallelism"));
  if (!m || !t || !p) {
    // Digits that overflow 64 bits are "too large"; anything else is malformed.
    auto digits = [&](std::string_view n) {
      const auto v = pem_header(block, n);
      return !v.empty() && v.front() != '0' &&
             std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    if (digits("kdf-memory-kib") && digits("kdf-iterations") && digits("kdf-parallelism")) {
      return make_error(Reason::kTooLarge, "Argon2 parameter out of range");
    }
    return make_error(Reason::kMalformed, "Argon2 parameters must be canonical decimals");
  }
  // Compare in 64 bits before narrowing, so 2^32 + 1 cannot wrap to 1.
  constexpr std::uint64_t kU32Max = 0xffffffffULL;
  if (*m > kU32Max || *t > kU32Max || *p > kU32Max) {
    return make_error(Reason::kTooLarge, "Argon2 parameter out of range");
  }
  h.argon2 = {static_cast<std::uint32_t>(*m), static_cast<std::uint32_t>(*t),
              static_cast<std::uint32_t>(*p)};
  VOUCH_RETURN_IF_ERROR(check_argon2(h.argon2, limits));

  auto salt = base64_decode(pem_header(block, "salt"));
  if (!salt || salt->size() < 8 || salt->size() > 64) {
    return make_error(Reason::kMalformed, "salt must be base64 of 8..64 bytes");
  }
  h.salt = std::move(*salt);
  auto nonce = base64_decode(pem_header(block, "nonce"));
  if (!nonce || nonce->size() != kGcmNonceLen) {
    return make_error(Reason::kMalformed, "nonce must be base64 of 12 bytes");
  }
  h.nonce = std::move(*nonce);
  if (block.body.size() < kGcmTagLen || block.body.size() > kMaxCiphertext + kGcmTagLen) {
    return make_error(Reason::kMalformed, "bad ciphertext length");
  }
  return h;
}

Result<PrivateKey> decrypt_vouch(const PemBlock& block, const SecretString& passphrase,
                                 const KdfLimits& limits) {
  VOUCH_ASSIGN_OR_RETURN(VouchHeaders h, parse_vouch_headers(block, limits));
  VOUCH_ASSIGN_OR_RETURN(SecretBytes key,
                         argon2id_derive(passphrase, h.salt, h.argon2, kAes256KeyLen));
  VOUCH_ASSIGN_OR_RETURN(SecretBytes plain,
                         gcm_decrypt(key.span(), h.nonce, h.aad(), block.body.span()));
  return key_from_plaintext(plain.span(), /*authenticated=*/true);
}

Result<std::string> encrypt_vouch(const PrivateKey& key, std::string_view role,
                                  std::string_view gun, const SecretString& passphrase,
                                  const WriteOptions& options) {
  if (auto s = check_argon2(options.argon2, KdfLimits{}); !s) {
    Error e = std::move(s).error();
    if (e.reason == Reason::kMalformed) e.code = Code::kInvalidArgument;
    return e;
  }
  VouchHeaders h;
  h.role = std::string(role);
  h.gun = std::string(gun);
  h.argon2 = options.argon2;
  VOUCH_ASSIGN_OR_RETURN(h.salt, fresh_random(kVouchSaltLen));
  VOUCH_ASSIGN_OR_RETURN(h.nonce, fresh_random(kGcmNonceLen));
  VOUCH_ASSIGN_OR_RETURN(SecretBytes kek,
                         argon2id_derive(passphrase, h.salt, h.argon2, kAes256KeyLen));
  const SecretBytes plain = key.to_pkcs8_der(Pkcs8Flavor::kStandard);
  if (plain.empty()) return openssl_error("PKCS#8 encoding of the key");
  VOUCH_ASSIGN_OR_RETURN(Bytes sealed, aes_gcm::seal(kek.span(), h.nonce, h.aad(), plain.span()));
  auto headers = h.canonical();
  if (gun.empty()) {
    headers.erase(std::find_if(headers.begin(), headers.end(),
                               [](const auto& kv) { return kv.first == "gun"; }));
  }
  return pem_encode(kVouchType, headers, sealed);
}

}  // namespace

constexpr EnumName<KeyFileFormat> kFormatNames[] = {
    {KeyFileFormat::kVouch, "vouch"}, {KeyFileFormat::kNotary, "notary"},
    {KeyFileFormat::kPlain, "plain"}, {KeyFileFormat::kLegacyPem, "legacy-pem"}};
static_assert(lists_every_value(kFormatNames, KeyFileFormat::kLegacyPem));

std::string_view to_string(KeyFileFormat format) { return name_of(kFormatNames, format); }

Result<SecretBytes> argon2id_derive(const SecretString& passphrase, ByteSpan salt,
                                    const Argon2Params& params, std::size_t out_len) {
  if (params.iterations < 1 || params.parallelism < 1 ||
      static_cast<std::uint64_t>(params.memory_kib) < 8ULL * params.parallelism) {
    return make_error(Reason::kMalformed, "Argon2 parameters below the minimum");
  }
  SecretBytes out(out_len);
  // Botan throws; this is the one adapter that calls it.
  try {
    const Botan::Argon2 argon2(/*family: Argon2id=*/2, params.memory_kib, params.iterations,
                               params.parallelism);
    argon2.derive_key(out.data(), out.size(), passphrase.view().data(), passphrase.size(),
                      salt.data(), salt.size());
  } catch (const std::exception& e) {
    return make_error(Reason::kInternal, std::string("Argon2id failed: ") + e.what());
  }
  return out;
}

Result<KeyFileInfo> inspect_key_file(std::string_view pem) {
  VOUCH_ASSIGN_OR_RETURN(PemBlock block, parse_pem_block(pem));
  return classify(block);
}

Result<DecryptedKey> decrypt_key_file(std::string_view pem, const SecretString& passphrase,
                                      const KdfLimits& limits) {
  VOUCH_ASSIGN_OR_RETURN(PemBlock block, parse_pem_block(pem));
  VOUCH_ASSIGN_OR_RETURN(KeyFileInfo info, classify(block));
  auto key = [&]() -> Result<PrivateKey> {
    switch (info.format) {
      case KeyFileFormat::kVouch: return decrypt_vouch(block, passphrase, limits);
      case KeyFileFormat::kNotary: return decrypt_notary(block, passphrase, limits);
      case KeyFileFormat::kLegacyPem: return decrypt_legacy(block, passphrase);
      case KeyFileFormat::kPlain:
        return key_from_traditional(block.type, block.body.span(), /*authenticated=*/true);
    }
    return make_error(Reason::kInternal, "unknown key file format");
  }();
  if (!key) return std::move(key).error();
  return DecryptedKey{std::move(key).value(), std::move(info)};
}

Result<std::string> encrypt_key_file(const PrivateKey& key, std::string_view role,
                                     std::string_view gun, const SecretString& passphrase,
                                     const WriteOptions& options) {
  VOUCH_RETURN_IF_ERROR(check_header_value("role", role, /*required=*/true));
  VOUCH_RETURN_IF_ERROR(check_header_value("gun", gun, /*required=*/false));
  if (passphrase.empty()) {
    return make_error(Code::kInvalidArgument, Reason::kNoPassphrase,
                      "refusing to encrypt a key under an empty passphrase");
  }
  if (passphrase.size() > INT_MAX) return make_error(Reason::kTooLarge, "passphrase too long");
  switch (options.format) {
    case KeyFileFormat::kVouch: return encrypt_vouch(key, role, gun, passphrase, options);
    case KeyFileFormat::kNotary: return encrypt_notary(key, role, gun, passphrase, options);
    case KeyFileFormat::kPlain:
    case KeyFileFormat::kLegacyPem: break;
  }
  return make_error(Reason::kUnsupportedAlgorithm,
                    "key files are written only in the vouch or notary format");
}

}  // namespace vouch::keys
