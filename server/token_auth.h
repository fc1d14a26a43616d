#pragma once

// Docker registry token authentication, as notary-server does it (auth.type "token"; docker/
// distribution registry/auth/token). Clients fetch a JWT from the token service named by
// `realm` and present it as `Authorization: Bearer <jwt>`; the server checks it offline
// against a certificate bundle and the scopes the route needs.
//
// Wire behaviour (REFERENCE §1.1, §1.6; STACK §8):
//  - Every refusal answers 401 with
//      WWW-Authenticate: Bearer realm="<realm>",service="<service>"[,scope="<scopes>"][,error="…"]
//    scope: "repository:<gun>:<actions>" with the actions in the order the route asks for them
//    ("push,pull" for a publish, "pull" for reads, "*" for delete and key rotation) and
//    "registry:catalog:*" for the global changefeed; several scopes are space-separated; no
//    scope parameter when the route asks for no access (then any valid token passes).
//    (notary-server 0.7 orders the actions randomly, a Go map; it also demands
//    registry:catalog:* on every route without a GUN, GET /v2/ included: a caller that wants
//    that passes Access::kCatalog.) error="invalid_token" when a token was presented but is
//    not acceptable, error="insufficient_scope" when it is valid but does not grant the
//    access; no error parameter when the request carries no bearer token.
//  - A valid token without the needed access is answered with 401 (not 403) on purpose: that
//    is what notary-server does, and the notary and docker clients rely on it: they fetch an
//    anonymous token first and retry with credentials only after a 401 (notary
//    cmd/notary/tuf.go authRoundTripper). So this class never returns kPermissionDenied.
//
// Token checks (all must pass; the signature is checked before any claim is trusted):
//  - compact JWS: exactly three base64url segments, total length <= max_token_bytes; header
//    and claims are strict JSON objects (no duplicate keys, integers only: tuf/json.h).
//  - alg: ES256/ES384/ES512 (raw r||s signatures), RS256/RS384/RS512, PS256/PS384/PS512.
//    "none", HS*, and anything else are refused before any key is looked at, so a public key
//    can never be used as an HMAC secret. A header "crit" parameter is refused (we implement
//    no extensions).
//  - the signing key, in docker/distribution's order of preference:
//      x5c  : certificate chain (standard base64 DER, leaf first, at most max_chain_certs),
//             verified with OpenSSL at the current time to a certificate of the bundle; any
//             bundle certificate is a trust anchor (also a non-self-signed one, as Go's
//             x509.CertPool treats it); no extended key usage is required (Go: ExtKeyUsageAny).
//      jwk  : a JWK (EC or RSA). With its own "x5c" the chain is verified as above and the
//             leaf's key must be the JWK's key; without, the JWK's key must be one of the
//             bundle certificates' keys or of options.trusted_keys.
//      kid  : a libtrust key ID ("ABCD:EFGH:…", see libtrust_key_id) of one of the bundle
//             certificates' public keys or of one of options.trusted_keys. As in
//             distribution, the certificate's validity dates are not checked on this path:
//             the bundle is a list of trusted keys.
//    The key must fit the algorithm: ES256 only with P-256, ES384 with P-384, ES512 with
//    P-521, RS*/PS* only with RSA keys of at least 2048 bits.
//  - iss equals options.issuer; aud (a string, or an array of strings) contains
//    options.service; exp is required and now <= exp + leeway; now >= nbf - leeway (nbf
//    optional). iat and jti are not checked (distribution does not either).
//  - access: a list of {type, name, actions[, class]}. Access (type, name, action) is granted
//    if some entry has that exact type and name and lists the action or "*".
//
// Not supported: Basic authentication (Notary's server has none), fetching keys from jku/x5u
// (never done), autoredirect realms, JWE.
//
// Verified tokens are cached by SHA-256 of the token text (never the token itself), with the
// time-independent results (signature, chain, issuer, audience, access); the time checks
// (exp/nbf, and the validity of the x5c chain's certificates) run on every request. Verified
// x5c chains are cached the same way, so a new token signed with a known chain costs one
// signature check. When a cache is full it is emptied (tokens: expired entries first).
//
// Tokens are bearer credentials: this code never logs or stores one, and error messages never
// contain token text.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/encoding.h"
#include "common/result.h"
#include "server/auth.h"

namespace vouch::server {

struct TokenAuthOptions {
  // Where clients obtain tokens (the token service URL), sent in the challenge. Required.
  std::string realm;
  // The name of this service: sent in the challenge, and must appear in a token's "aud".
  // Required.
  std::string service;
  // The token service's name: a token's "iss" must equal it. Required.
  std::string issuer;
  // Path of a PEM file with the certificates that sign tokens (or their CAs). Blocks other
  // than CERTIFICATE are skipped (as distribution does); when set, it must hold at least one
  // certificate. May be empty when trusted_keys is not.
  std::string rootcertbundle;
  // Public keys (DER SubjectPublicKeyInfo) trusted to sign tokens without a certificate,
  // named by their libtrust key ID in "kid" (or given as "jwk"): vouch-server's own token
  // service (server/token_service.h, auth.type "accounts") puts its signing key here, so no
  // external bundle is needed. Default none. At least one of rootcertbundle and trusted_keys
  // must be given.
  std::vector<Bytes> trusted_keys;

  // Clock skew allowed on exp and nbf (distribution: 60 s). Default 60 s.
  std::chrono::seconds leeway{60};
  // Longest token accepted (the text after "Bearer "). Default 16 KiB; the HTTP server's
  // header limit may cut earlier.
  std::size_t max_token_bytes = 16 * 1024;
  // Most certificates in an x5c chain. Default 8.
  std::size_t max_chain_certs = 8;
  // Most entries in a token's access list, and most actions in one entry. Default 256.
  std::size_t max_access_entries = 256;
  // Largest rootcertbundle file read at start. Default 4 MiB.
  std::size_t max_bundle_bytes = 4u << 20;
  // Verified tokens remembered (see above); 0 disables the cache. Default 1024.
  std::size_t max_cached_tokens = 1024;
  // Verified x5c chains remembered (by SHA-256 of the chain; a token service signs with one
  // chain, so a few suffice); 0 disables. Default 64.
  std::size_t max_cached_chains = 64;
};

// The Reason of each refusal (Code is always kUnauthenticated, except kInternal for a failure
// of our own). Every kind of refusal has a Reason of its own (the metric
// vouch_server_auth_failures_total is labelled with to_string(reason)).
namespace token_reason {
// No "Authorization: Bearer <token>" header (absent, or another scheme such as Basic).
inline constexpr Reason kNoToken = Reason::kNoCredentials;
// Token text, base64url, JSON or a claim's type is wrong; also a repeated Authorization header.
// (The JSON parser's own reasons, e.g. kDuplicateKey or kNotInteger, pass through.)
inline constexpr Reason kMalformed = Reason::kMalformed;
// Longer than max_token_bytes, or more x5c certificates / access entries than allowed.
inline constexpr Reason kTooLarge = Reason::kTooLarge;
// alg is not one of the accepted algorithms ("none", HS256, ...), or "crit" is present.
inline constexpr Reason kUnsupportedAlgorithm = Reason::kUnsupportedAlgorithm;
// alg does not fit the signing key's type or curve (e.g. ES256 with an RSA key).
inline constexpr Reason kWrongMethod = Reason::kWrongMethod;
// RSA signing key below 2048 bits.
inline constexpr Reason kKeyTooSmall = Reason::kKeyTooSmall;
// No usable key: kid not among the bundle's keys, untrusted jwk, or no x5c/jwk/kid at all.
inline constexpr Reason kUnknownKey = Reason::kUnknownKey;
// The x5c chain does not verify to the bundle (unknown CA, expired, not a CA, bad DER).
inline constexpr Reason kBadCertificate = Reason::kBadCertificate;
// The signature does not verify.
inline constexpr Reason kBadSignature = Reason::kBadSignature;
// iss is not options.issuer.
inline constexpr Reason kWrongIssuer = Reason::kWrongIssuer;
// aud does not name options.service.
inline constexpr Reason kWrongAudience = Reason::kWrongAudience;
// Past exp + leeway, or before nbf - leeway.
inline constexpr Reason kExpired = Reason::kExpired;
// A valid token that does not grant the access the route needs.
inline constexpr Reason kInsufficientScope = Reason::kInsufficientScope;
}  // namespace token_reason

// Counters since creation, for metrics and tests. Monotonic.
struct TokenAuthStats {
  std::uint64_t tokens_verified = 0;  // full verifications that succeeded (signature checked)
  std::uint64_t cache_hits = 0;       // tokens accepted from the cache
  std::uint64_t chains_verified = 0;  // x5c chains verified with OpenSSL (not from the cache)
  std::uint64_t refused = 0;          // requests refused, for any reason
};

class TokenAuthorizer final : public Authorizer {
 public:
  // Reads and parses the bundle (if given) and the trusted keys. Errors: an empty realm,
  // service or issuer, or neither rootcertbundle nor trusted_keys (kInvalidArgument); the file
  // cannot be read (kIo) or is larger than max_bundle_bytes (kTooLarge); a CERTIFICATE block
  // that does not parse, or no certificate at all (kBadCertificate); a trusted key that is not
  // a DER SubjectPublicKeyInfo (kInvalidArgument, Reason::kMalformed). `clock` must outlive
  // the authorizer.
  static Result<std::unique_ptr<TokenAuthorizer>> create(
      TokenAuthOptions options, const Clock& clock = SystemClock::instance());

  ~TokenAuthorizer() override;
  TokenAuthorizer(const TokenAuthorizer&) = delete;
  TokenAuthorizer& operator=(const TokenAuthorizer&) = delete;

  // See the top of this file. `gun` is the decoded GUN the route acts on (ignored for
  // Access::kCatalog); `actions` empty means "any valid token" (the /v2/ ping). On refusal,
  // `*challenge` (if not null) receives the WWW-Authenticate value; on success `*subject` (if
  // not null) the token's "sub" claim ("" when absent or not a string). Thread-safe.
  Result<void> authorize(const net::Request& request, std::string_view gun,
                         std::vector<Access> actions, std::string* challenge,
                         std::string* subject = nullptr) const override;

  TokenAuthStats stats() const;

  class Impl;

 private:
  explicit TokenAuthorizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The libtrust key ID of a public key, given as DER SubjectPublicKeyInfo: the first 240 bits
// of its SHA-256 in base32 (RFC 4648, no padding), in 12 groups of 4 joined by ':'
// (docker/libtrust util.go keyIDFromCryptoKey). This is the "kid" registry token services
// (docker_auth, Harbor, GitLab, distribution's own) put in the JWT header.
std::string libtrust_key_id(ByteSpan spki_der);

// The WWW-Authenticate value for a refusal: Bearer realm="…",service="…"[,scope="…"]
// [,error="…"]. `error` empty -> no error parameter. Quoted values escape '"' and '\' with a
// backslash and control bytes as \xNN (so a GUN cannot end a parameter or split the header).
// Exposed for tests.
std::string bearer_challenge(std::string_view realm, std::string_view service, std::string_view gun,
                             const std::vector<Access>& actions, std::string_view error);

}  // namespace vouch::server
