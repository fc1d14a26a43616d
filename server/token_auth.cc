#include "server/token_auth.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "common/log.h"
#include "common/net/headers.h"
#include "keys/crypto.h"
#include "tuf/json.h"

namespace vouch::server {
namespace {

namespace json = tuf::json;

// ---- OpenSSL ownership ---------------------------------------------------------------------

template <auto Fn>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    if (p != nullptr) Fn(p);
  }
};
inline void free_char(char* p) { OPENSSL_free(p); }
inline void free_uchar(unsigned char* p) { OPENSSL_free(p); }
inline void free_x509_stack(STACK_OF(X509)* s) { sk_X509_pop_free(s, X509_free); }

using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<&EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<&EVP_PKEY_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<&EVP_MD_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<&BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<&BN_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Deleter<&ECDSA_SIG_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<&X509_free>>;
using X509StackPtr = std::unique_ptr<STACK_OF(X509), Deleter<&free_x509_stack>>;
using StorePtr = std::unique_ptr<X509_STORE, Deleter<&X509_STORE_free>>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Deleter<&X509_STORE_CTX_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, Deleter<&OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, Deleter<&OSSL_PARAM_free>>;
using CharPtr = std::unique_ptr<char, Deleter<&free_char>>;
using UcharPtr = std::unique_ptr<unsigned char, Deleter<&free_uchar>>;

PkeyPtr up_ref(EVP_PKEY* key) {
  EVP_PKEY_up_ref(key);
  return PkeyPtr(key);
}

// ---- Errors --------------------------------------------------------------------------------

// The key of the chain and token caches: the SHA-256 of `text`, as raw bytes.
std::string cache_key_of(std::string_view text) {
  const keys::Sha256Digest digest = keys::sha256(as_bytes(text));
  return std::string(reinterpret_cast<const char*>(digest.data()), digest.size());
}

// Every refusal is kUnauthenticated: the HTTP layer answers 401 with the challenge.
Error refuse(Reason reason, std::string message) {
  return make_error(Code::kUnauthenticated, reason, "token: " + std::move(message));
}

Error internal(std::string_view what) {
  ERR_clear_error();
  return make_error(Code::kInternal, Reason::kInternal, "token auth: " + std::string(what));
}

// OpenSSL keeps errors in a thread-local queue; a failed verification must not leave them for
// the next, unrelated caller on this io thread.
struct ClearErrors {
  ~ClearErrors() { ERR_clear_error(); }
};

// ---- Small helpers -------------------------------------------------------------------------

std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
  std::int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) {
    return b > 0 ? std::numeric_limits<std::int64_t>::max()
                 : std::numeric_limits<std::int64_t>::min();
  }
  return r;
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

std::optional<std::int64_t> asn1_time_seconds(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return std::nullopt;
  return static_cast<std::int64_t>(timegm(&tm));
}

Bytes spki_der(EVP_PKEY* key) {
  const int len = i2d_PUBKEY(key, nullptr);
  if (len <= 0) return {};
  Bytes der(static_cast<std::size_t>(len));
  unsigned char* p = der.data();
  if (i2d_PUBKEY(key, &p) != len) return {};
  return der;
}

Result<X509Ptr> parse_der_certificate(ByteSpan der) {
  const unsigned char* p = der.data();
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert || p != der.data() + der.size()) {
    ERR_clear_error();
    return make_error(Reason::kBadCertificate, "not one DER certificate");
  }
  return cert;
}

// Appends `s` as an HTTP quoted-string: '"' and '\' escaped with '\', control bytes as \xNN
// (so a hostile GUN can neither end the parameter nor split the header).
void append_quoted(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += ch;
    }
  }
  out += '"';
}

// ---- Algorithms ----------------------------------------------------------------------------

enum class Family { kEcdsa, kRsaPkcs1, kRsaPss };

struct Algorithm {
  std::string_view name;
  Family family;
  const EVP_MD* (*md)();
  std::string_view group;  // EC only: OpenSSL's group name of the one curve allowed
};

// RFC 7518 §3.1. libtrust (hence distribution) accepts ES256/384/512 and RS256/384/512; the
// PS variants are accepted as well. Anything else, "none" and the HMAC algorithms included,
// is refused before a key is chosen, which rules out algorithm confusion.
constexpr std::array<Algorithm, 9> kAlgorithms{{
    {"ES256", Family::kEcdsa, &EVP_sha256, "prime256v1"},
    {"ES384", Family::kEcdsa, &EVP_sha384, "secp384r1"},
    {"ES512", Family::kEcdsa, &EVP_sha512, "secp521r1"},
    {"RS256", Family::kRsaPkcs1, &EVP_sha256, ""},
    {"RS384", Family::kRsaPkcs1, &EVP_sha384, ""},
    {"RS512", Family::kRsaPkcs1, &EVP_sha512, ""},
    {"PS256", Family::kRsaPss, &EVP_sha256, ""},
    {"PS384", Family::kRsaPss, &EVP_sha384, ""},
    {"PS512", Family::kRsaPss, &EVP_sha512, ""},
}};

const Algorithm* find_algorithm(std::string_view name) {
  for (const auto& a : kAlgorithms) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

constexpr int kMinRsaBits = 2048;

Status check_key_fits(const Algorithm& alg, EVP_PKEY* key) {
  const int id = EVP_PKEY_get_base_id(key);
  if (alg.family == Family::kEcdsa) {
    if (id != EVP_PKEY_EC) return refuse(Reason::kWrongMethod, "alg needs an EC key");
    char group[64] = {};
    std::size_t len = 0;
    if (EVP_PKEY_get_group_name(key, group, sizeof group, &len) != 1) {
      ERR_clear_error();
      return refuse(Reason::kWrongMethod, "EC key without a named curve");
    }
    if (std::string_view(group, len) != alg.group) {
      return refuse(Reason::kWrongMethod, "alg does not match the key's curve");
    }
    return ok_status();
  }
  if (id != EVP_PKEY_RSA) return refuse(Reason::kWrongMethod, "alg needs an RSA key");
  if (EVP_PKEY_get_bits(key) < kMinRsaBits) {
    return refuse(Reason::kKeyTooSmall, "RSA signing key below 2048 bits");
  }
  return ok_status();
}

// JWS ECDSA signatures are the raw big-endian r || s, each as long as the curve order
// (RFC 7518 §3.4); OpenSSL verifies the DER ECDSA-Sig-Value.
Result<Bytes> ecdsa_raw_to_der(EVP_PKEY* key, ByteSpan raw) {
  const auto coord = static_cast<std::size_t>((EVP_PKEY_get_bits(key) + 7) / 8);
  if (raw.size() != 2 * coord) return refuse(Reason::kBadSignature, "ECDSA signature length");
  BnPtr r(BN_bin2bn(raw.data(), static_cast<int>(coord), nullptr));
  BnPtr s(BN_bin2bn(raw.data() + coord, static_cast<int>(coord), nullptr));
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (!r || !s || !sig) return internal("out of memory");
  if (BN_is_zero(r.get()) || BN_is_zero(s.get())) {
    return refuse(Reason::kBadSignature, "ECDSA signature with r or s zero");
  }
  if (ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return internal("ECDSA_SIG_set0");
  (void)r.release();  // owned by sig now
  (void)s.release();
  const int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return internal("i2d_ECDSA_SIG");
  Bytes der(static_cast<std::size_t>(len));
  unsigned char* p = der.data();
  if (i2d_ECDSA_SIG(sig.get(), &p) != len) return internal("i2d_ECDSA_SIG");
  return der;
}

Status verify_signature(const Algorithm& alg, EVP_PKEY* key, std::string_view signing_input,
                        ByteSpan signature) {
  ClearErrors clear;
  VOUCH_RETURN_IF_ERROR(check_key_fits(alg, key));
  Bytes der;
  ByteSpan sig = signature;
  if (alg.family == Family::kEcdsa) {
    VOUCH_ASSIGN_OR_RETURN(der, ecdsa_raw_to_der(key, signature));
    sig = der;
  }
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return internal("out of memory");
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  if (EVP_DigestVerifyInit(ctx.get(), &pctx, alg.md(), nullptr, key) != 1) {
    return internal("EVP_DigestVerifyInit");
  }
  if (alg.family == Family::kRsaPss) {
    // RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash.
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, alg.md()) != 1) {
      return internal("RSA-PSS parameters");
    }
  } else if (alg.family == Family::kRsaPkcs1) {
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
      return internal("RSA padding");
    }
  }
  const auto in = as_bytes(signing_input);
  if (EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), in.data(), in.size()) != 1) {
    return refuse(Reason::kBadSignature, "signature does not verify");
  }
  return ok_status();
}

// ---- JWK -----------------------------------------------------------------------------------

Result<std::string> string_member(const json::Value& obj, std::string_view key) {
  const json::Value* v = obj.find(key);
  if (v == nullptr || !v->is_string() || v->as_string().empty()) {
    return refuse(Reason::kMalformed, "jwk: missing or bad \"" + std::string(key) + "\"");
  }
  return v->as_string();
}

Result<Bytes> b64url_member(const json::Value& obj, std::string_view key) {
  VOUCH_ASSIGN_OR_RETURN(const std::string text, string_member(obj, key));
  auto bytes = base64url_decode(text);
  if (!bytes || bytes->empty()) {
    return refuse(Reason::kMalformed, "jwk: \"" + std::string(key) + "\" is not base64url");
  }
  return std::move(*bytes);
}

// The DER SubjectPublicKeyInfo of a public JWK (libtrust's kinds: EC P-256/384/521, RSA), for
// comparing it with trusted keys. The JWK key itself is never used to verify anything.
Result<Bytes> jwk_spki(const json::Value& jwk) {
  ClearErrors clear;
  if (!jwk.is_object()) return refuse(Reason::kMalformed, "jwk is not an object");
  VOUCH_ASSIGN_OR_RETURN(const std::string kty, string_member(jwk, "kty"));
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld) return internal("out of memory");
  std::string type;
  Bytes point;  // the builder refers to it until OSSL_PARAM_BLD_to_param
  BnPtr n;
  BnPtr e;
  if (jwk.find("d") != nullptr) return refuse(Reason::kMalformed, "jwk: private key");
  if (kty == "EC") {
    VOUCH_ASSIGN_OR_RETURN(const std::string crv, string_member(jwk, "crv"));
    const char* group = nullptr;
    std::size_t coord = 0;
    if (crv == "P-256") {
      group = "prime256v1";
      coord = 32;
    } else if (crv == "P-384") {
      group = "secp384r1";
      coord = 48;
    } else if (crv == "P-521") {
      group = "secp521r1";
      coord = 66;
    } else {
      return refuse(Reason::kUnsupportedAlgorithm, "jwk: unsupported curve");
    }
    VOUCH_ASSIGN_OR_RETURN(const Bytes x, b64url_member(jwk, "x"));
    VOUCH_ASSIGN_OR_RETURN(const Bytes y, b64url_member(jwk, "y"));
    if (x.size() != coord || y.size() != coord) {
      return refuse(Reason::kMalformed, "jwk: coordinate length");
    }
    point.push_back(0x04);
    point.insert(point.end(), x.begin(), x.end());
    point.insert(point.end(), y.begin(), y.end());
    if (OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                         point.size()) != 1) {
      return internal("jwk params");
    }
    type = "EC";
  } else if (kty == "RSA") {
    VOUCH_ASSIGN_OR_RETURN(const Bytes nb, b64url_member(jwk, "n"));
    VOUCH_ASSIGN_OR_RETURN(const Bytes eb, b64url_member(jwk, "e"));
    if (nb.size() > 2048 || eb.size() > 8) return refuse(Reason::kMalformed, "jwk: RSA size");
    n.reset(BN_bin2bn(nb.data(), static_cast<int>(nb.size()), nullptr));
    e.reset(BN_bin2bn(eb.data(), static_cast<int>(eb.size()), nullptr));
    if (!n || !e) return internal("out of memory");
    if (OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1) {
      return internal("jwk params");
    }
    type = "RSA";
  } else {
    return refuse(Reason::kUnsupportedAlgorithm, "jwk: unsupported kty");
  }
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type.c_str(), nullptr));
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) return internal("jwk import");
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return refuse(Reason::kMalformed, "jwk: not a valid public key");
  }
  PkeyPtr key(raw);
  Bytes der = spki_der(key.get());
  if (der.empty()) return refuse(Reason::kMalformed, "jwk: cannot encode key");
  // libtrust: a "kid" inside the JWK must be the key's own ID.
  if (const json::Value* kid = jwk.find("kid")) {
    if (!kid->is_string() || kid->as_string() != libtrust_key_id(der)) {
      return refuse(Reason::kMalformed, "jwk: kid does not match the key");
    }
  }
  return der;
}

// ---- Token model ---------------------------------------------------------------------------

struct Grant {
  std::string type;
  std::string name;
  std::vector<std::string> actions;
};

// What a verified token proves, minus the time checks that must run on every use.
struct VerifiedToken {
  std::int64_t exp = 0;  // seconds since the epoch
  std::int64_t nbf = 0;
  // The x5c chain's validity window (seconds), if the key came from a chain.
  bool has_chain = false;
  std::int64_t chain_not_before = 0;
  std::int64_t chain_not_after = 0;
  std::vector<Grant> grants;
  std::string subject;  // "sub", or "" (not checked: the audit log's actor)
};

struct Required {
  std::string_view type;
  std::string_view name;
  std::string_view action;
};

Required required_for(Access a, std::string_view gun) {
  switch (a) {
    case Access::kPull:
      return {"repository", gun, "pull"};
    case Access::kPush:
      return {"repository", gun, "push"};
    case Access::kAll:
      return {"repository", gun, "*"};
    case Access::kCatalog:
      return {"registry", "catalog", "*"};
  }
  return {"", "", ""};  // unreachable: every enumerator is handled above
}

// distribution token.go / accesscontroller.go: an access item is granted if an entry for the
// same (type, name) lists the action or "*".
bool granted(const std::vector<Grant>& grants, const Required& need) {
  for (const auto& g : grants) {
    if (g.type != need.type || g.name != need.name) continue;
    for (const auto& a : g.actions) {
      if (a == "*" || a == need.action) return true;
    }
  }
  return false;
}

Result<std::int64_t> optional_int_claim(const json::Value& claims, std::string_view key,
                                        bool required) {
  const json::Value* v = claims.find(key);
  if (v == nullptr || v->is_null()) {
    if (required) return refuse(Reason::kMalformed, "claim \"" + std::string(key) + "\" missing");
    return std::int64_t{0};
  }
  if (!v->is_int()) {
    return refuse(Reason::kMalformed, "claim \"" + std::string(key) + "\" is not an integer");
  }
  return v->as_int();
}

}  // namespace

// ---- Public helpers ------------------------------------------------------------------------

std::string libtrust_key_id(ByteSpan spki) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  const keys::Sha256Digest digest = keys::sha256(spki);
  // 30 bytes = 240 bits = 48 base32 characters exactly, so there is no padding to trim.
  std::string b32;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (std::size_t i = 0; i < 30; ++i) {
    buffer = (buffer << 8) | digest[i];
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      b32 += kAlphabet[(buffer >> bits) & 0x1f];
    }
  }
  std::string id;
  for (std::size_t i = 0; i < b32.size(); i += 4) {
    if (i != 0) id += ':';
    id.append(b32, i, 4);
  }
  return id;
}

std::string bearer_challenge(std::string_view realm, std::string_view service, std::string_view gun,
                             const std::vector<Access>& actions, std::string_view error) {
  std::string out = "Bearer realm=";
  append_quoted(out, realm);
  out += ",service=";
  append_quoted(out, service);
  // One scope per resource; the repository's actions in the order the route asked for them.
  std::vector<std::string_view> repo_actions;
  bool catalog = false;
  for (const Access a : actions) {
    if (a == Access::kCatalog) {
      catalog = true;
      continue;
    }
    const std::string_view name = required_for(a, gun).action;
    if (std::find(repo_actions.begin(), repo_actions.end(), name) == repo_actions.end()) {
      repo_actions.push_back(name);
    }
  }
  std::string scope;
  if (!repo_actions.empty()) {
    scope = "repository:";
    scope += gun;
    scope += ':';
    for (std::size_t i = 0; i < repo_actions.size(); ++i) {
      if (i != 0) scope += ',';
      scope += repo_actions[i];
    }
  }
  if (catalog) {
    if (!scope.empty()) scope += ' ';
    scope += "registry:catalog:*";
  }
  if (!scope.empty()) {
    out += ",scope=";
    append_quoted(out, scope);
  }
  if (!error.empty()) {
    out += ",error=";
    append_quoted(out, error);
  }
  return out;
}

// ---- The authorizer ------------------------------------------------------------------------

class TokenAuthorizer::Impl {
 public:
  Impl(TokenAuthOptions o, const Clock& c) : options(std::move(o)), clock(c) {}

  Result<std::shared_ptr<const VerifiedToken>> verified(std::string_view token,
                                                        std::int64_t now_s) const;
  Status check_time(const VerifiedToken& t, TimePoint now) const;

  TokenAuthOptions options;
  const Clock& clock;
  StorePtr store;                          // the bundle, as trust anchors for x5c chains
  std::map<std::string, PkeyPtr> key_ids;  // libtrust key ID -> bundle certificate's key
  std::shared_ptr<spdlog::logger> logger;

  mutable std::atomic<std::uint64_t> tokens_verified{0};
  mutable std::atomic<std::uint64_t> cache_hits{0};
  mutable std::atomic<std::uint64_t> chains_verified{0};
  mutable std::atomic<std::uint64_t> refused{0};

 private:
  // A verified chain: the leaf's key and the window in which every certificate is valid.
  struct Chain {
    PkeyPtr leaf_key;
    std::int64_t not_before = 0;
    std::int64_t not_after = 0;
  };
  Result<Chain> verified_chain(const json::Value& x5c, std::int64_t now_s) const;
  Result<Chain> verify_chain(const json::Value& x5c, std::int64_t now_s) const;
  Result<VerifiedToken> verify(std::string_view token, std::int64_t now_s) const;
  json::ParseLimits limits() const;

  mutable std::mutex cache_mu_;
  mutable std::unordered_map<std::string, std::shared_ptr<const VerifiedToken>> cache_;
  // Token services sign every token with the same certificate chain; verifying it costs
  // several times the token's own signature check (~0.5 ms with OpenSSL 3.0), so verified
  // chains are remembered by the SHA-256 of their x5c entries. This also keeps the cost of a
  // forged token that copies a real chain down to one signature check.
  mutable std::mutex chain_mu_;
  mutable std::unordered_map<std::string, std::shared_ptr<const Chain>> chains_;
};

json::ParseLimits TokenAuthorizer::Impl::limits() const {
  json::ParseLimits l;
  l.max_bytes = options.max_token_bytes;
  l.max_depth = 8;  // claims: object > access array > entry > actions array
  l.max_string_bytes = options.max_token_bytes;
  l.max_container_size = 4096;  // finer limits are checked on the fields that matter
  return l;
}

Result<TokenAuthorizer::Impl::Chain> TokenAuthorizer::Impl::verified_chain(
    const json::Value& x5c, std::int64_t now_s) const {
  const auto& items = x5c.as_array();
  if (items.size() > options.max_chain_certs) {
    return refuse(Reason::kTooLarge, "x5c chain too long");
  }
  std::string joined;
  for (const auto& item : items) {
    if (!item.is_string() || item.as_string().empty()) {
      return refuse(Reason::kMalformed, "x5c entry is not a string");
    }
    joined += std::to_string(item.as_string().size());
    joined += ':';
    joined += item.as_string();
  }
  const std::string id = cache_key_of(joined);
  if (options.max_cached_chains > 0) {
    std::lock_guard lock(chain_mu_);
    if (auto it = chains_.find(id); it != chains_.end()) {
      const Chain& c = *it->second;
      if (now_s >= c.not_before && now_s <= c.not_after) {
        return Chain{up_ref(c.leaf_key.get()), c.not_before, c.not_after};
      }
      chains_.erase(it);  // outside its validity now: verify again (and fail)
    }
  }
  VOUCH_ASSIGN_OR_RETURN(Chain chain, verify_chain(x5c, now_s));
  chains_verified.fetch_add(1, std::memory_order_relaxed);
  if (options.max_cached_chains > 0) {
    auto entry = std::make_shared<const Chain>(
        Chain{up_ref(chain.leaf_key.get()), chain.not_before, chain.not_after});
    std::lock_guard lock(chain_mu_);
    if (chains_.size() >= options.max_cached_chains) chains_.clear();
    chains_.emplace(id, std::move(entry));
  }
  return chain;
}

Result<TokenAuthorizer::Impl::Chain> TokenAuthorizer::Impl::verify_chain(const json::Value& x5c,
                                                                         std::int64_t now_s) const {
  ClearErrors clear;
  const auto& items = x5c.as_array();  // checked by chain_key: bounded, non-empty strings
  X509Ptr leaf;
  X509StackPtr untrusted(sk_X509_new_null());
  if (!untrusted) return internal("out of memory");
  for (std::size_t i = 0; i < items.size(); ++i) {
    // RFC 7515 §4.1.6: standard base64 (not base64url) DER.
    auto der = base64_decode(items[i].as_string());
    if (!der) return refuse(Reason::kMalformed, "x5c entry is not base64");
    auto cert = parse_der_certificate(*der);
    if (!cert) return refuse(Reason::kBadCertificate, "x5c entry is not a certificate");
    if (i == 0) {
      leaf = std::move(*cert);
    } else {
      if (sk_X509_push(untrusted.get(), cert->get()) <= 0) return internal("out of memory");
      (void)cert->release();  // owned by the stack now
    }
  }
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), untrusted.get()) != 1) {
    return internal("X509_STORE_CTX_init");
  }
  X509_STORE_CTX_set_time(ctx.get(), 0, static_cast<time_t>(now_s));
  if (X509_verify_cert(ctx.get()) != 1) {
    const int err = X509_STORE_CTX_get_error(ctx.get());
    return refuse(Reason::kBadCertificate,
                  std::string("x5c chain: ") + X509_verify_cert_error_string(err));
  }
  Chain out;
  out.not_before = std::numeric_limits<std::int64_t>::min();
  out.not_after = std::numeric_limits<std::int64_t>::max();
  STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx.get());
  for (int i = 0; chain != nullptr && i < sk_X509_num(chain); ++i) {
    X509* c = sk_X509_value(chain, i);
    const auto nb = asn1_time_seconds(X509_get0_notBefore(c));
    const auto na = asn1_time_seconds(X509_get0_notAfter(c));
    if (!nb || !na) return refuse(Reason::kBadCertificate, "x5c chain: unreadable validity");
    out.not_before = std::max(out.not_before, *nb);
    out.not_after = std::min(out.not_after, *na);
  }
  EVP_PKEY* key = X509_get0_pubkey(leaf.get());
  if (key == nullptr) return refuse(Reason::kBadCertificate, "x5c leaf has no usable key");
  out.leaf_key = up_ref(key);
  return out;
}

namespace {

// One base64url part of a token ("header", "claims") as a JSON object.
Result<json::Value> decode_part(std::string_view b64, std::string_view what,
                                const json::ParseLimits& limits) {
  auto bytes = base64url_decode(b64);
  if (!bytes) return refuse(Reason::kMalformed, std::string(what) + ": not base64url");
  auto doc = json::parse(as_string_view(*bytes), limits);
  if (!doc) return refuse(doc.error().reason, std::string(what) + ": " + doc.error().message);
  if (!doc->is_object()) return refuse(Reason::kMalformed, std::string(what) + ": not an object");
  return doc;
}

}  // namespace

Result<VerifiedToken> TokenAuthorizer::Impl::verify(std::string_view token,
                                                    std::int64_t now_s) const {
  // Compact serialization: header.claims.signature (RFC 7515 §7.1).
  const auto dot1 = token.find('.');
  const auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return refuse(Reason::kMalformed, "not three dot-separated parts");
  }
  const std::string_view header_b64 = token.substr(0, dot1);
  const std::string_view claims_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string_view sig_b64 = token.substr(dot2 + 1);
  const std::string_view signing_input = token.substr(0, dot2);

  VOUCH_ASSIGN_OR_RETURN(const json::Value header, decode_part(header_b64, "header", limits()));

  const json::Value* alg_v = header.find("alg");
  if (alg_v == nullptr || !alg_v->is_string()) return refuse(Reason::kMalformed, "no alg");
  const Algorithm* alg = find_algorithm(alg_v->as_string());
  if (alg == nullptr) return refuse(Reason::kUnsupportedAlgorithm, "alg not accepted");
  // RFC 7515 §4.1.11: extensions we do not understand must be refused.
  if (header.find("crit") != nullptr) {
    return refuse(Reason::kUnsupportedAlgorithm, "crit header parameter");
  }

  auto signature = base64url_decode(sig_b64);
  if (!signature) return refuse(Reason::kMalformed, "signature is not base64url");
  if (signature->empty()) return refuse(Reason::kBadSignature, "empty signature");

  // The signing key, in distribution's order: x5c, then jwk, then kid.
  VerifiedToken out;
  PkeyPtr key;
  const json::Value* x5c = header.find("x5c");
  const json::Value* jwk = header.find("jwk");
  const json::Value* kid = header.find("kid");
  if (x5c != nullptr && !x5c->is_array()) return refuse(Reason::kMalformed, "x5c not an array");
  if (x5c != nullptr && !x5c->as_array().empty()) {
    VOUCH_ASSIGN_OR_RETURN(Chain chain, verified_chain(*x5c, now_s));
    key = std::move(chain.leaf_key);
    out.has_chain = true;
    out.chain_not_before = chain.not_before;
    out.chain_not_after = chain.not_after;
  } else if (jwk != nullptr && !jwk->is_null()) {
    VOUCH_ASSIGN_OR_RETURN(const Bytes jwk_der, jwk_spki(*jwk));
    const json::Value* inner = jwk->find("x5c");
    if (inner != nullptr) {
      if (!inner->is_array() || inner->as_array().empty()) {
        return refuse(Reason::kMalformed, "jwk x5c is not a chain");
      }
      VOUCH_ASSIGN_OR_RETURN(Chain chain, verified_chain(*inner, now_s));
      if (spki_der(chain.leaf_key.get()) != jwk_der) {
        return refuse(Reason::kUnknownKey, "jwk is not the key of its x5c leaf");
      }
      key = std::move(chain.leaf_key);
      out.has_chain = true;
      out.chain_not_before = chain.not_before;
      out.chain_not_after = chain.not_after;
    } else {
      const auto it = key_ids.find(libtrust_key_id(jwk_der));
      if (it == key_ids.end()) return refuse(Reason::kUnknownKey, "jwk is not a trusted key");
      key = up_ref(it->second.get());
    }
  } else if (kid != nullptr) {
    if (!kid->is_string()) return refuse(Reason::kMalformed, "kid is not a string");
    const auto it = key_ids.find(kid->as_string());
    if (it == key_ids.end()) return refuse(Reason::kUnknownKey, "kid is not a bundle key");
    key = up_ref(it->second.get());
  } else {
    return refuse(Reason::kUnknownKey, "no x5c, jwk or kid names the signing key");
  }

  VOUCH_RETURN_IF_ERROR(verify_signature(*alg, key.get(), signing_input, *signature));

  // Only now, with the signature checked, are the claims read.
  VOUCH_ASSIGN_OR_RETURN(const json::Value claims, decode_part(claims_b64, "claims", limits()));

  const json::Value* iss = claims.find("iss");
  if (iss == nullptr || !iss->is_string() || iss->as_string() != options.issuer) {
    return refuse(token_reason::kWrongIssuer, "iss is not the configured issuer");
  }
  // RFC 7519 §4.1.3: a string or an array of strings (distribution 2.8 reads a string).
  bool audience_ok = false;
  if (const json::Value* aud = claims.find("aud")) {
    if (aud->is_string()) {
      audience_ok = aud->as_string() == options.service;
    } else if (aud->is_array()) {
      for (const auto& a : aud->as_array()) {
        if (a.is_string() && a.as_string() == options.service) audience_ok = true;
      }
    }
  }
  if (!audience_ok) return refuse(token_reason::kWrongAudience, "aud does not name this service");
  VOUCH_ASSIGN_OR_RETURN(out.exp, optional_int_claim(claims, "exp", true));
  VOUCH_ASSIGN_OR_RETURN(out.nbf, optional_int_claim(claims, "nbf", false));
  if (const json::Value* sub = claims.find("sub"); sub != nullptr && sub->is_string()) {
    out.subject = sub->as_string();
  }

  if (const json::Value* access = claims.find("access"); access != nullptr && !access->is_null()) {
    if (!access->is_array()) return refuse(Reason::kMalformed, "access is not a list");
    if (access->as_array().size() > options.max_access_entries) {
      return refuse(Reason::kTooLarge, "too many access entries");
    }
    for (const auto& entry : access->as_array()) {
      if (!entry.is_object()) return refuse(Reason::kMalformed, "access entry is not an object");
      const json::Value* type = entry.find("type");
      const json::Value* name = entry.find("name");
      const json::Value* actions = entry.find("actions");
      if (type == nullptr || !type->is_string() || name == nullptr || !name->is_string()) {
        return refuse(Reason::kMalformed, "access entry without type or name");
      }
      if (const json::Value* cls = entry.find("class"); cls != nullptr && !cls->is_string()) {
        return refuse(Reason::kMalformed, "access entry class is not a string");
      }
      Grant g{type->as_string(), name->as_string(), {}};
      if (actions != nullptr && !actions->is_null()) {
        if (!actions->is_array()) return refuse(Reason::kMalformed, "actions is not a list");
        if (actions->as_array().size() > options.max_access_entries) {
          return refuse(Reason::kTooLarge, "too many actions");
        }
        for (const auto& a : actions->as_array()) {
          if (!a.is_string()) return refuse(Reason::kMalformed, "action is not a string");
          g.actions.push_back(a.as_string());
        }
      }
      out.grants.push_back(std::move(g));
    }
  }
  return out;
}

Result<std::shared_ptr<const VerifiedToken>> TokenAuthorizer::Impl::verified(
    std::string_view token, std::int64_t now_s) const {
  const std::string cache_key = cache_key_of(token);
  if (options.max_cached_tokens > 0) {
    std::lock_guard lock(cache_mu_);
    if (auto it = cache_.find(cache_key); it != cache_.end()) {
      const auto& t = *it->second;
      // A chain that was valid when the token was first seen may have expired since.
      if (!t.has_chain || (now_s >= t.chain_not_before && now_s <= t.chain_not_after)) {
        cache_hits.fetch_add(1, std::memory_order_relaxed);
        return it->second;
      }
      cache_.erase(it);
    }
  }
  VOUCH_ASSIGN_OR_RETURN(VerifiedToken v, verify(token, now_s));
  tokens_verified.fetch_add(1, std::memory_order_relaxed);
  auto shared = std::make_shared<const VerifiedToken>(std::move(v));
  if (options.max_cached_tokens > 0) {
    std::lock_guard lock(cache_mu_);
    if (cache_.size() >= options.max_cached_tokens) {
      // Full: drop what has expired; if that frees nothing, start over. Only validly signed
      // tokens get here, so filling the cache takes tokens from the trusted issuer.
      const std::int64_t leeway = options.leeway.count();
      std::erase_if(cache_, [&](const auto& kv) {
        return saturating_add(kv.second->exp, leeway) < now_s ||
               (kv.second->has_chain && kv.second->chain_not_after < now_s);
      });
      if (cache_.size() >= options.max_cached_tokens) cache_.clear();
    }
    cache_.emplace(cache_key, shared);
  }
  return shared;
}

// distribution token.go Verify: refused if now > exp + leeway, or now < nbf - leeway.
Status TokenAuthorizer::Impl::check_time(const VerifiedToken& t, TimePoint now) const {
  const std::int64_t now_us = now.time_since_epoch().count();
  const std::int64_t now_s = floor_div(now_us, 1'000'000);
  const bool fraction = now_us != now_s * 1'000'000;
  const std::int64_t leeway = options.leeway.count();
  const std::int64_t exp_limit = saturating_add(t.exp, leeway);
  if (now_s > exp_limit || (now_s == exp_limit && fraction)) {
    return refuse(Reason::kExpired, "token has expired");
  }
  if (now_s < saturating_add(t.nbf, -leeway)) {
    return refuse(Reason::kExpired, "token is not valid yet");
  }
  return ok_status();
}

TokenAuthorizer::TokenAuthorizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TokenAuthorizer::~TokenAuthorizer() = default;

// Reads options.rootcertbundle into impl.store and impl.key_ids; returns how many
// certificates it held.
static Result<std::size_t> load_bundle(TokenAuthorizer::Impl& impl) {
  const std::string& path = impl.options.rootcertbundle;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return make_error(Code::kFailedPrecondition, Reason::kIo,
                      "token auth: cannot open rootcertbundle \"" + path + "\"");
  }
  std::string pem;
  pem.resize(impl.options.max_bundle_bytes + 1);
  in.read(pem.data(), static_cast<std::streamsize>(pem.size()));
  if (in.bad()) {
    return make_error(Code::kFailedPrecondition, Reason::kIo,
                      "token auth: cannot read rootcertbundle \"" + path + "\"");
  }
  pem.resize(static_cast<std::size_t>(in.gcount()));
  if (pem.size() > impl.options.max_bundle_bytes) {
    return make_error(Code::kInvalidArgument, Reason::kTooLarge,
                      "token auth: rootcertbundle \"" + path + "\" is too large");
  }
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return internal("out of memory");
  std::size_t count = 0;
  for (;;) {
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long len = 0;
    if (PEM_read_bio(bio.get(), &name, &header, &data, &len) != 1) {
      const unsigned long e = ERR_peek_last_error();
      if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) break;
      return make_error(Code::kInvalidArgument, Reason::kBadCertificate,
                        "token auth: rootcertbundle \"" + impl.options.rootcertbundle +
                            "\": malformed PEM block");
    }
    CharPtr name_owner(name);
    CharPtr header_owner(header);
    UcharPtr data_owner(data);
    // distribution skips blocks that are not certificates.
    if (std::string_view(name) != "CERTIFICATE") continue;
    auto cert = parse_der_certificate(ByteSpan(data, static_cast<std::size_t>(len)));
    if (!cert) {
      return make_error(Code::kInvalidArgument, Reason::kBadCertificate,
                        "token auth: rootcertbundle \"" + impl.options.rootcertbundle +
                            "\": certificate " + std::to_string(count + 1) + " does not parse");
    }
    if (X509_STORE_add_cert(impl.store.get(), cert->get()) != 1) {
      return internal("X509_STORE_add_cert");
    }
    EVP_PKEY* key = X509_get0_pubkey(cert->get());
    if (key != nullptr) {
      const Bytes der = spki_der(key);
      if (!der.empty()) impl.key_ids.emplace(libtrust_key_id(der), up_ref(key));
    }
    ++count;
  }
  if (count == 0) {
    return make_error(Code::kInvalidArgument, Reason::kBadCertificate,
                      "token auth: rootcertbundle \"" + impl.options.rootcertbundle +
                          "\" contains no certificate");
  }
  return count;
}

Result<std::unique_ptr<TokenAuthorizer>> TokenAuthorizer::create(TokenAuthOptions options,
                                                                 const Clock& clock) {
  ClearErrors clear;
  const std::pair<const char*, const std::string*> required[] = {
      {"realm", &options.realm}, {"service", &options.service}, {"issuer", &options.issuer}};
  for (const auto& [name, value] : required) {
    if (value->empty()) {
      return make_error(Code::kInvalidArgument, Reason::kMalformed,
                        std::string("token auth requires auth.options.") + name);
    }
  }
  if (options.rootcertbundle.empty() && options.trusted_keys.empty()) {
    return make_error(Code::kInvalidArgument, Reason::kMalformed,
                      "token auth requires auth.options.rootcertbundle");
  }
  auto impl = std::make_unique<Impl>(std::move(options), clock);
  impl->store.reset(X509_STORE_new());
  if (!impl->store) return internal("out of memory");
  // Bundle certificates are trust anchors even when not self-signed, as in Go's CertPool.
  X509_STORE_set_flags(impl->store.get(), X509_V_FLAG_PARTIAL_CHAIN);
  std::size_t count = 0;
  if (!impl->options.rootcertbundle.empty()) {
    VOUCH_ASSIGN_OR_RETURN(count, load_bundle(*impl));
  }
  for (const Bytes& der : impl->options.trusted_keys) {
    const unsigned char* p = der.data();
    PkeyPtr key(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
    if (!key || p != der.data() + der.size()) {
      ERR_clear_error();
      return make_error(Code::kInvalidArgument, Reason::kMalformed,
                        "token auth: a trusted key is not a DER SubjectPublicKeyInfo");
    }
    // Keyed by the ID of the key's own encoding, as the bundle's keys are.
    const Bytes canonical = spki_der(key.get());
    if (canonical.empty()) return internal("i2d_PUBKEY");
    impl->key_ids.emplace(libtrust_key_id(canonical), std::move(key));
  }
  impl->logger = log::get("auth");
  impl->logger->info(
      "token auth: {} certificate(s) from {}, {} trusted key(s), issuer \"{}\", service \"{}\"",
      count, impl->options.rootcertbundle.empty() ? "no bundle" : impl->options.rootcertbundle,
      impl->options.trusted_keys.size(), impl->options.issuer, impl->options.service);
  return std::unique_ptr<TokenAuthorizer>(new TokenAuthorizer(std::move(impl)));
}

Result<void> TokenAuthorizer::authorize(const net::Request& request, std::string_view gun,
                                        std::vector<Access> actions, std::string* challenge,
                                        std::string* subject) const {
  const Impl& im = *impl_;
  auto fail = [&](Error e, std::string_view error_param) -> Result<void> {
    im.refused.fetch_add(1, std::memory_order_relaxed);
    if (challenge != nullptr) {
      *challenge =
          bearer_challenge(im.options.realm, im.options.service, gun, actions, error_param);
    }
    // One line per refusal at the boundary is the caller's; this says why, never the token.
    if (error_param == "invalid_token") {
      im.logger->info("{} ({})", e.message, to_string(e.reason));
    } else {
      im.logger->debug("{} ({})", e.message, to_string(e.reason));
    }
    return e;
  };

  // distribution accesscontroller.go: "Bearer <token>", split on single spaces, scheme
  // case-insensitive; anything else is answered as if no token had been sent.
  const std::size_t headers = request.headers.count("Authorization");
  if (headers == 0) return fail(refuse(token_reason::kNoToken, "no bearer token"), "");
  if (headers > 1) {
    return fail(refuse(Reason::kMalformed, "more than one Authorization header"), "invalid_token");
  }
  const std::string_view value = *request.headers.get("Authorization");
  const std::size_t space = value.find(' ');
  if (space == std::string_view::npos || value.find(' ', space + 1) != std::string_view::npos ||
      !net::iequals(value.substr(0, space), "bearer")) {
    return fail(refuse(token_reason::kNoToken, "no bearer token"), "");
  }
  const std::string_view token = value.substr(space + 1);
  if (token.size() > im.options.max_token_bytes) {
    return fail(refuse(Reason::kTooLarge, "token too large"), "invalid_token");
  }

  const TimePoint now = im.clock.now();
  const std::int64_t now_s = floor_div(now.time_since_epoch().count(), 1'000'000);
  auto verified = im.verified(token, now_s);
  if (!verified) {
    const bool ours = verified.error().code == Code::kInternal;
    return fail(std::move(verified).error(), ours ? "" : "invalid_token");
  }
  if (auto st = im.check_time(**verified, now); !st) {
    return fail(std::move(st).error(), "invalid_token");
  }
  for (const Access a : actions) {
    const Required need = required_for(a, gun);
    if (!granted((*verified)->grants, need)) {
      return fail(refuse(token_reason::kInsufficientScope,
                         "token does not grant " + std::string(need.type) + ":" +
                             std::string(need.name) + ":" + std::string(need.action)),
                  "insufficient_scope");
    }
  }
  if (subject != nullptr) *subject = (*verified)->subject;
  return {};
}

TokenAuthStats TokenAuthorizer::stats() const {
  return {impl_->tokens_verified.load(std::memory_order_relaxed),
          impl_->cache_hits.load(std::memory_order_relaxed),
          impl_->chains_verified.load(std::memory_order_relaxed),
          impl_->refused.load(std::memory_order_relaxed)};
}

}  // namespace vouch::server
