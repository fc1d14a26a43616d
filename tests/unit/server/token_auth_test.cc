// TokenAuthorizer: Docker registry token (JWT) authentication.
//
// Two sources of tokens:
//  - minted here with OpenSSL (a CA in the bundle, EC/RSA leaf certificates, an intermediate,
//    a CA outside the bundle), to exercise each rule and each refusal;
//  - vectors minted by a third party, docker/distribution 2.8.2 + docker/libtrust (Debian
//    golang-github-docker-distribution-dev), and verified by distribution's own
//    registry/auth/token before being written down: see the end of this file.

#include "server/token_auth.h"

#include <doctest/doctest.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>
#include <vector>

#include "tests/support/check_macros.h"
#include "tuf/json.h"

namespace vouch::server {
namespace {

namespace fs = std::filesystem;
namespace json = tuf::json;
using namespace std::chrono_literals;

// ---- OpenSSL helpers for minting ------------------------------------------------------------

template <auto Fn>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    if (p != nullptr) Fn(p);
  }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<&EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<&X509_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<&EVP_MD_CTX_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Deleter<&ECDSA_SIG_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<&BIO_free_all>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<&X509_EXTENSION_free>>;

// A fixed reference time for the PKI minted here (2027-01-15T08:00:00Z).
constexpr std::int64_t kT0 = 1'800'000'000;
constexpr std::int64_t kDay = 86'400;

TimePoint at(std::int64_t seconds) { return TimePoint(std::chrono::seconds(seconds)); }

PkeyPtr ec_key(const char* curve = "P-256") {
  PkeyPtr k(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
  REQUIRE(k);
  return k;
}

PkeyPtr rsa_key(std::size_t bits) {
  PkeyPtr k(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", bits));
  REQUIRE(k);
  return k;
}

struct CertSpec {
  std::string cn;
  bool ca = false;
  std::int64_t not_before = kT0 - kDay;
  std::int64_t not_after = kT0 + 365 * kDay;
};

// A certificate for `key`, signed by `issuer_key` (self-signed when issuer is null).
X509Ptr make_cert(EVP_PKEY* key, const CertSpec& spec, X509* issuer, EVP_PKEY* issuer_key) {
  static std::atomic<long> serial{1};
  X509Ptr c(X509_new());
  REQUIRE(c);
  REQUIRE(X509_set_version(c.get(), 2) == 1);
  REQUIRE(ASN1_INTEGER_set(X509_get_serialNumber(c.get()), serial++) == 1);
  REQUIRE(ASN1_TIME_set(X509_getm_notBefore(c.get()), static_cast<time_t>(spec.not_before)));
  REQUIRE(ASN1_TIME_set(X509_getm_notAfter(c.get()), static_cast<time_t>(spec.not_after)));
  REQUIRE(X509_set_pubkey(c.get(), key) == 1);
  X509_NAME* name = X509_get_subject_name(c.get());
  REQUIRE(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                     reinterpret_cast<const unsigned char*>(spec.cn.c_str()), -1,
                                     -1, 0) == 1);
  REQUIRE(X509_set_issuer_name(c.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name) ==
          1);
  if (spec.ca) {
    ExtPtr bc(X509V3_EXT_conf_nid(nullptr, nullptr, NID_basic_constraints, "critical,CA:TRUE"));
    ExtPtr ku(X509V3_EXT_conf_nid(nullptr, nullptr, NID_key_usage, "critical,keyCertSign"));
    REQUIRE(bc);
    REQUIRE(ku);
    REQUIRE(X509_add_ext(c.get(), bc.get(), -1) == 1);
    REQUIRE(X509_add_ext(c.get(), ku.get(), -1) == 1);
  }
  REQUIRE(X509_sign(c.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256()) > 0);
  return c;
}

std::string cert_pem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  REQUIRE(PEM_write_bio_X509(bio.get(), cert) == 1);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::string key_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  REQUIRE(PEM_write_bio_PUBKEY(bio.get(), key) == 1);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::string cert_b64(X509* cert) {
  const int len = i2d_X509(cert, nullptr);
  Bytes der(static_cast<std::size_t>(len));
  unsigned char* p = der.data();
  REQUIRE(i2d_X509(cert, &p) == len);
  return base64_encode(der);
}

Bytes spki(EVP_PKEY* key) {
  const int len = i2d_PUBKEY(key, nullptr);
  Bytes der(static_cast<std::size_t>(len));
  unsigned char* p = der.data();
  REQUIRE(i2d_PUBKEY(key, &p) == len);
  return der;
}

// Signs `input` as JWS `alg` does: ES* -> raw r||s, RS* -> PKCS#1 v1.5, PS* -> PSS.
Bytes jws_sign(std::string_view alg, EVP_PKEY* key, std::string_view input) {
  const EVP_MD* md = alg.ends_with("256")   ? EVP_sha256()
                     : alg.ends_with("384") ? EVP_sha384()
                                            : EVP_sha512();
  MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  REQUIRE(EVP_DigestSignInit(ctx.get(), &pctx, md, nullptr, key) == 1);
  if (alg.starts_with("PS")) {
    REQUIRE(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1);
    REQUIRE(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1);
  }
  std::size_t len = 0;
  const auto in = as_bytes(input);
  REQUIRE(EVP_DigestSign(ctx.get(), nullptr, &len, in.data(), in.size()) == 1);
  Bytes sig(len);
  REQUIRE(EVP_DigestSign(ctx.get(), sig.data(), &len, in.data(), in.size()) == 1);
  sig.resize(len);
  if (!alg.starts_with("ES")) return sig;
  const unsigned char* p = sig.data();
  EcdsaSigPtr es(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size())));
  REQUIRE(es);
  const int coord = (EVP_PKEY_get_bits(key) + 7) / 8;
  Bytes raw(2 * static_cast<std::size_t>(coord));
  REQUIRE(BN_bn2binpad(ECDSA_SIG_get0_r(es.get()), raw.data(), coord) == coord);
  REQUIRE(BN_bn2binpad(ECDSA_SIG_get0_s(es.get()), raw.data() + coord, coord) == coord);
  return raw;
}

std::string b64url(std::string_view s) { return base64url_encode(as_bytes(s)); }

// ---- The test PKI and token builder ---------------------------------------------------------

// Built once per process: RSA key generation is slow.
struct Pki {
  PkeyPtr ca_key = ec_key();
  X509Ptr ca = make_cert(ca_key.get(), {"Token CA", true}, nullptr, nullptr);
  PkeyPtr inter_key = ec_key();
  X509Ptr inter = make_cert(inter_key.get(), {"Token Intermediate", true}, ca.get(), ca_key.get());
  PkeyPtr ec_leaf_key = ec_key();
  X509Ptr ec_leaf = make_cert(ec_leaf_key.get(), {"token signer ec"}, ca.get(), ca_key.get());
  PkeyPtr rsa_leaf_key = rsa_key(2048);
  X509Ptr rsa_leaf = make_cert(rsa_leaf_key.get(), {"token signer rsa"}, ca.get(), ca_key.get());
  PkeyPtr p384_leaf_key = ec_key("P-384");
  X509Ptr p384_leaf = make_cert(p384_leaf_key.get(), {"token signer p384"}, ca.get(), ca_key.get());
  PkeyPtr small_rsa_key = rsa_key(1024);
  X509Ptr small_rsa_leaf =
      make_cert(small_rsa_key.get(), {"token signer rsa1024"}, ca.get(), ca_key.get());
  X509Ptr inter_leaf =
      make_cert(ec_leaf_key.get(), {"token signer via intermediate"}, inter.get(), inter_key.get());
  // Valid for only one more hour after kT0.
  X509Ptr short_leaf =
      make_cert(ec_leaf_key.get(), {"short-lived signer", false, kT0 - kDay, kT0 + 3600}, ca.get(),
                ca_key.get());
  X509Ptr expired_leaf =
      make_cert(ec_leaf_key.get(), {"expired signer", false, kT0 - 10 * kDay, kT0 - kDay}, ca.get(),
                ca_key.get());
  // A CA that is not in the bundle, and a leaf it signed.
  PkeyPtr rogue_ca_key = ec_key();
  X509Ptr rogue_ca = make_cert(rogue_ca_key.get(), {"Token CA", true}, nullptr, nullptr);
  X509Ptr rogue_leaf =
      make_cert(ec_leaf_key.get(), {"token signer ec"}, rogue_ca.get(), rogue_ca_key.get());

  static const Pki& get() {
    static const Pki pki;
    return pki;
  }
};

const std::string kGun = "docker.io/library/alpine";

json::Value access_entry(std::string type, std::string name, std::vector<std::string> actions) {
  json::Array a;
  for (auto& s : actions) a.emplace_back(std::move(s));
  json::Object o;
  o.set("type", std::move(type));
  o.set("name", std::move(name));
  o.set("actions", std::move(a));
  return o;
}

// A token under construction: header and claims as JSON, signed on build().
struct TokenSpec {
  json::Object header;
  json::Object claims;
  std::string alg = "ES256";
  EVP_PKEY* signing_key = nullptr;

  // ES256 by the EC leaf with x5c = [leaf]; iss/aud/exp/nbf valid at kT0; pull+push on kGun.
  TokenSpec() {
    const Pki& pki = Pki::get();
    signing_key = pki.ec_leaf_key.get();
    header.set("typ", "JWT");
    header.set("x5c", json::Array{cert_b64(pki.ec_leaf.get())});
    claims.set("iss", "auth.example.com");
    claims.set("sub", "alice");
    claims.set("aud", "notary.example.com");
    claims.set("exp", std::int64_t{kT0 + 300});
    claims.set("nbf", std::int64_t{kT0});
    claims.set("iat", std::int64_t{kT0});
    claims.set("jti", "abc");
    access({"pull", "push"});
  }
  TokenSpec& access(std::vector<std::string> actions, std::string name = kGun) {
    claims.set("access",
               json::Array{access_entry("repository", std::move(name), std::move(actions))});
    return *this;
  }
  TokenSpec& x5c(std::vector<X509*> chain) {
    json::Array a;
    for (X509* c : chain) a.emplace_back(cert_b64(c));
    header.set("x5c", std::move(a));
    return *this;
  }
  std::string signing_input() const {
    json::Object h = header;
    h.set("alg", alg);
    return b64url(json::canonical(h)) + "." + b64url(json::canonical(claims));
  }
  std::string build() const {
    const std::string in = signing_input();
    return in + "." + base64url_encode(jws_sign(alg, signing_key, in));
  }
};

// A bundle file in a temporary directory, removed at the end.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "vouch-token-auth-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string write(const std::string& name, const std::string& content) const {
    const fs::path p = path / name;
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }
};

TokenAuthOptions options_for(const std::string& bundle) {
  TokenAuthOptions o;
  o.realm = "https://auth.example.com/token";
  o.service = "notary.example.com";
  o.issuer = "auth.example.com";
  o.rootcertbundle = bundle;
  return o;
}

struct Fixture {
  TempDir dir;
  FixedClock clock{at(kT0)};
  std::unique_ptr<TokenAuthorizer> auth;

  explicit Fixture(TokenAuthOptions (*tweak)(TokenAuthOptions) = nullptr) {
    TokenAuthOptions o = options_for(dir.write("bundle.pem", cert_pem(Pki::get().ca.get())));
    if (tweak != nullptr) o = tweak(std::move(o));
    auto created = TokenAuthorizer::create(o, clock);
    REQUIRE(created.ok());
    auth = std::move(*created);
  }

  struct Outcome {
    Result<void> result;
    std::string challenge;
  };
  Outcome run(std::optional<std::string> authorization, std::vector<Access> actions,
              std::string_view gun = kGun) const {
    net::Request req;
    req.method = "GET";
    req.target = "/v2/";
    if (authorization) req.headers.add("Authorization", *authorization);
    Outcome out{Result<void>{}, {}};
    out.result = auth->authorize(req, gun, std::move(actions), &out.challenge);
    return out;
  }
  Outcome bearer(const std::string& token, std::vector<Access> actions = {Access::kPull},
                 std::string_view gun = kGun) const {
    return run("Bearer " + token, std::move(actions), gun);
  }
};

// Checks a refusal: 401 class, the reason, and the challenge's error parameter.
void check_refused(const Fixture::Outcome& o, Reason reason,
                   std::string_view error_param = "invalid_token") {
  REQUIRE_FALSE(o.result.ok());
  CHECK(o.result.error().code == Code::kUnauthenticated);
  CHECK(o.result.error().reason == reason);
  if (error_param.empty()) {
    CHECK(o.challenge.find("error=") == std::string::npos);
  } else {
    CHECK(o.challenge.find(",error=\"" + std::string(error_param) + "\"") != std::string::npos);
  }
}

const std::string kPullChallenge =
    R"(Bearer realm="https://auth.example.com/token",service="notary.example.com",)"
    R"(scope="repository:docker.io/library/alpine:pull")";
const std::string kPushPullChallenge =
    R"(Bearer realm="https://auth.example.com/token",service="notary.example.com",)"
    R"(scope="repository:docker.io/library/alpine:push,pull")";

// ---- Accepting ------------------------------------------------------------------------------

TEST_CASE("an ES256 token with an x5c chain to the bundle and the right scope passes") {
  Fixture f;
  const std::string token = TokenSpec().build();
  CHECK(f.bearer(token, {Access::kPull}).result.ok());
  CHECK(f.bearer(token, {Access::kPush, Access::kPull}).result.ok());
  // The scheme is case-insensitive, as in distribution.
  CHECK(f.run("bearer " + token, {Access::kPull}).result.ok());
  CHECK(f.run("BEARER " + token, {Access::kPull}).result.ok());
}

TEST_CASE("RS256, PS256 and ES384 tokens pass with keys that fit them") {
  Fixture f;
  const Pki& pki = Pki::get();
  for (const char* alg : {"RS256", "RS384", "RS512", "PS256", "PS512"}) {
    CAPTURE(alg);
    TokenSpec t;
    t.alg = alg;
    t.signing_key = pki.rsa_leaf_key.get();
    t.x5c({pki.rsa_leaf.get()});
    CHECK(f.bearer(t.build()).result.ok());
  }
  TokenSpec t;
  t.alg = "ES384";
  t.signing_key = pki.p384_leaf_key.get();
  t.x5c({pki.p384_leaf.get()});
  CHECK(f.bearer(t.build()).result.ok());
}

TEST_CASE("kid: a libtrust key ID of a bundle certificate's key selects that key") {
  Fixture f;
  const Pki& pki = Pki::get();
  TokenSpec t;
  t.header.erase("x5c");
  t.header.set("kid", libtrust_key_id(spki(pki.ca_key.get())));
  t.signing_key = pki.ca_key.get();
  CHECK(f.bearer(t.build()).result.ok());

  SUBCASE("a kid of a key outside the bundle is refused") {
    t.header.set("kid", libtrust_key_id(spki(pki.ec_leaf_key.get())));
    t.signing_key = pki.ec_leaf_key.get();
    check_refused(f.bearer(t.build()), token_reason::kUnknownKey);
  }
  SUBCASE("the right kid with another key's signature is refused") {
    t.signing_key = pki.ec_leaf_key.get();
    check_refused(f.bearer(t.build()), token_reason::kBadSignature);
  }
  SUBCASE("no x5c, jwk or kid at all") {
    t.header.erase("kid");
    check_refused(f.bearer(t.build()), token_reason::kUnknownKey);
  }
}

TEST_CASE("trusted_keys: a key without a certificate, named by kid or given as jwk") {
  // vouch-server's own token service signs with a bare key (token_service.h); no bundle.
  const Pki& pki = Pki::get();
  FixedClock clock{at(kT0)};
  TokenAuthOptions o = options_for("");
  o.trusted_keys = {spki(pki.ec_leaf_key.get())};
  auto created = TokenAuthorizer::create(o, clock);
  REQUIRE(created.ok());
  auto authorize = [&](const std::string& token, std::vector<Access> actions) {
    net::Request req;
    req.method = "GET";
    req.target = "/v2/";
    req.headers.add("Authorization", "Bearer " + token);
    return (*created)->authorize(req, kGun, std::move(actions), nullptr);
  };
  TokenSpec t;
  t.header.erase("x5c");
  t.header.set("kid", libtrust_key_id(spki(pki.ec_leaf_key.get())));
  CHECK(authorize(t.build(), {Access::kPull, Access::kPush}).ok());
  CHECK_REASON(authorize(t.build(), {Access::kAll}), token_reason::kInsufficientScope);

  SUBCASE("a kid of another key is refused") {
    t.header.set("kid", libtrust_key_id(spki(pki.ca_key.get())));
    t.signing_key = pki.ca_key.get();
    CHECK_REASON(authorize(t.build(), {Access::kPull}), token_reason::kUnknownKey);
  }
  SUBCASE("an x5c chain cannot verify: there is no bundle") {
    TokenSpec chained;
    CHECK_REASON(authorize(chained.build(), {Access::kPull}), token_reason::kBadCertificate);
  }
  SUBCASE("create refuses neither bundle nor keys, and a key that is not DER SPKI") {
    TokenAuthOptions none = options_for("");
    CHECK(TokenAuthorizer::create(none).error().code == Code::kInvalidArgument);
    TokenAuthOptions bad = options_for("");
    bad.trusted_keys = {Bytes{0x30, 0x03, 0x02, 0x01, 0x01}};
    CHECK_REASON(TokenAuthorizer::create(bad), Reason::kMalformed);
  }
  SUBCASE("a bundle and trusted keys together: both sign") {
    TempDir dir;
    TokenAuthOptions both = options_for(dir.write("bundle.pem", cert_pem(pki.ca.get())));
    both.trusted_keys = {spki(pki.ec_leaf_key.get())};
    auto auth = TokenAuthorizer::create(both, clock);
    REQUIRE(auth.ok());
    created = std::move(auth);
    CHECK(authorize(t.build(), {Access::kPull}).ok());
    TokenSpec chained;
    CHECK(authorize(chained.build(), {Access::kPull}).ok());
  }
}

TEST_CASE("an x5c chain through an intermediate passes only with the intermediate included") {
  Fixture f;
  const Pki& pki = Pki::get();
  TokenSpec t;
  t.x5c({pki.inter_leaf.get(), pki.inter.get()});
  CHECK(f.bearer(t.build()).result.ok());
  t.x5c({pki.inter_leaf.get()});
  check_refused(f.bearer(t.build()), token_reason::kBadCertificate);
}

TEST_CASE("aud may be an array that contains the service") {
  Fixture f;
  TokenSpec t;
  t.claims.set("aud", json::Array{"other", "notary.example.com"});
  CHECK(f.bearer(t.build()).result.ok());
  t.claims.set("aud", json::Array{"other"});
  check_refused(f.bearer(t.build()), token_reason::kWrongAudience);
}

TEST_CASE("the wildcard action grants pull, push and *") {
  Fixture f;
  const std::string token = TokenSpec().access({"*"}).build();
  CHECK(f.bearer(token, {Access::kPull}).result.ok());
  CHECK(f.bearer(token, {Access::kPush, Access::kPull}).result.ok());
  CHECK(f.bearer(token, {Access::kAll}).result.ok());
  // ...but only for the repository it names.
  check_refused(f.bearer(token, {Access::kPull}, "docker.io/library/other"),
                token_reason::kInsufficientScope, "insufficient_scope");
}

TEST_CASE("the global changefeed needs registry:catalog:*") {
  Fixture f;
  TokenSpec t;
  t.claims.set("access", json::Array{access_entry("registry", "catalog", {"*"})});
  CHECK(f.bearer(t.build(), {Access::kCatalog}, "").result.ok());

  const auto o = f.bearer(TokenSpec().access({"*"}).build(), {Access::kCatalog}, "");
  check_refused(o, token_reason::kInsufficientScope, "insufficient_scope");
  CHECK(o.challenge ==
        R"(Bearer realm="https://auth.example.com/token",service="notary.example.com",)"
        R"(scope="registry:catalog:*",error="insufficient_scope")");
}

TEST_CASE("the /v2/ ping needs a valid token but no scope") {
  Fixture f;
  CHECK(f.bearer(TokenSpec().access({}).build(), {}, "").result.ok());
  const auto o = f.run(std::nullopt, {}, "");
  check_refused(o, token_reason::kNoToken, "");
  CHECK(o.challenge ==
        R"(Bearer realm="https://auth.example.com/token",service="notary.example.com")");
}

// ---- Refusing ------------------------------------------------------------------------------

TEST_CASE("no token: 401 with a challenge that names the scope and no error") {
  Fixture f;
  auto o = f.run(std::nullopt, {Access::kPush, Access::kPull});
  check_refused(o, token_reason::kNoToken, "");
  CHECK(o.challenge == kPushPullChallenge);

  o = f.run(std::nullopt, {Access::kPull});
  CHECK(o.challenge == kPullChallenge);
  o = f.run(std::nullopt, {Access::kAll});
  CHECK(o.challenge.ends_with(R"(scope="repository:docker.io/library/alpine:*")"));

  // Other schemes, and malformed Bearer lines, count as no token (distribution does the same).
  for (const char* value :
       {"Basic YWxpY2U6c2VjcmV0", "Bearer", "Bearer  x.y.z", "Token x.y.z", ""}) {
    CAPTURE(value);
    o = f.run(value, {Access::kPull});
    check_refused(o, token_reason::kNoToken, "");
    CHECK(o.challenge == kPullChallenge);
  }
}

TEST_CASE("an invalid token: 401 with error=\"invalid_token\" and the scope") {
  Fixture f;
  const auto o = f.bearer("x.y.z", {Access::kPush, Access::kPull});
  check_refused(o, token_reason::kMalformed);
  CHECK(o.challenge == kPushPullChallenge + R"(,error="invalid_token")");
}

TEST_CASE("expired and not-yet-valid tokens are refused, with 60 s of leeway") {
  Fixture f;
  const std::string token = TokenSpec().build();  // nbf kT0, exp kT0 + 300
  f.clock.set(at(kT0 + 360));
  CHECK(f.bearer(token).result.ok());  // exactly exp + leeway
  f.clock.advance(1us);
  check_refused(f.bearer(token), token_reason::kExpired);
  f.clock.set(at(kT0 - 60));
  CHECK(f.bearer(token).result.ok());  // exactly nbf - leeway
  f.clock.set(at(kT0 - 60) - 1us);
  check_refused(f.bearer(token), token_reason::kExpired);

  // The cache never lets a token outlive its exp.
  CHECK(f.auth->stats().cache_hits > 0);

  SUBCASE("exp is required; nbf is not") {
    f.clock.set(at(kT0));
    TokenSpec t;
    t.claims.erase("nbf");
    CHECK(f.bearer(t.build()).result.ok());
    t.claims.erase("exp");
    check_refused(f.bearer(t.build()), token_reason::kMalformed);
  }
  SUBCASE("extreme exp and nbf values do not overflow") {
    f.clock.set(at(kT0));
    TokenSpec t;
    t.claims.set("exp", std::numeric_limits<std::int64_t>::max());
    t.claims.set("nbf", std::numeric_limits<std::int64_t>::min());
    CHECK(f.bearer(t.build()).result.ok());
    t.claims.set("exp", std::numeric_limits<std::int64_t>::min());
    check_refused(f.bearer(t.build()), token_reason::kExpired);
    t.claims.set("exp", std::numeric_limits<std::int64_t>::max());
    t.claims.set("nbf", std::numeric_limits<std::int64_t>::max());
    check_refused(f.bearer(t.build()), token_reason::kExpired);
  }
  SUBCASE("a fractional exp is malformed (distribution reads an int64 too)") {
    f.clock.set(at(kT0));
    TokenSpec t;
    const std::string in =
        b64url(R"({"alg":"ES256","x5c":[")" + cert_b64(Pki::get().ec_leaf.get()) + R"("]})") + "." +
        b64url(R"({"iss":"auth.example.com","aud":"notary.example.com",)"
               R"("exp":1800000300.5})");
    const std::string fractional =
        in + "." + base64url_encode(jws_sign("ES256", Pki::get().ec_leaf_key.get(), in));
    check_refused(f.bearer(fractional), Reason::kNotInteger);
  }
}

TEST_CASE("wrong issuer and wrong audience are refused") {
  Fixture f;
  TokenSpec t;
  t.claims.set("iss", "evil.example.com");
  check_refused(f.bearer(t.build()), token_reason::kWrongIssuer);
  t.claims.erase("iss");
  check_refused(f.bearer(t.build()), token_reason::kWrongIssuer);
  t = TokenSpec();
  t.claims.set("aud", "registry.example.com");
  check_refused(f.bearer(t.build()), token_reason::kWrongAudience);
  t.claims.erase("aud");
  check_refused(f.bearer(t.build()), token_reason::kWrongAudience);
}

TEST_CASE("every kind of refusal has a Reason of its own") {
  // Logs and vouch_server_auth_failures_total tell them apart by Reason alone.
  const std::vector<Reason> reasons = {
      token_reason::kNoToken,        token_reason::kMalformed,    token_reason::kTooLarge,
      token_reason::kUnsupportedAlgorithm, token_reason::kWrongMethod, token_reason::kKeyTooSmall,
      token_reason::kUnknownKey,     token_reason::kBadCertificate, token_reason::kBadSignature,
      token_reason::kWrongIssuer,    token_reason::kWrongAudience, token_reason::kExpired,
      token_reason::kInsufficientScope};
  std::set<Reason> distinct(reasons.begin(), reasons.end());
  CHECK(distinct.size() == reasons.size());
  // And they reach the caller: a wrong issuer is not an unknown key, a wrong audience not a
  // type error, a missing scope not a bad path.
  Fixture f;
  TokenSpec t;
  t.claims.set("iss", "evil.example.com");
  CHECK(f.bearer(t.build()).result.error().reason == Reason::kWrongIssuer);
  t = TokenSpec();
  t.claims.set("aud", "registry.example.com");
  CHECK(f.bearer(t.build()).result.error().reason == Reason::kWrongAudience);
  t = TokenSpec();
  t.access({"pull"});
  CHECK(f.bearer(t.build(), {Access::kPush}).result.error().reason ==
        Reason::kInsufficientScope);
  CHECK(to_string(Reason::kWrongIssuer) == "wrong_issuer");
  CHECK(to_string(Reason::kWrongAudience) == "wrong_audience");
  CHECK(to_string(Reason::kInsufficientScope) == "insufficient_scope");
  CHECK(to_string(Reason::kNoCredentials) == "no_credentials");
}

TEST_CASE("a bad signature is refused, and so are claims changed after signing") {
  Fixture f;
  std::string token = TokenSpec().build();
  token[token.size() - 3] = token[token.size() - 3] == 'A' ? 'B' : 'A';
  check_refused(f.bearer(token), token_reason::kBadSignature);

  // Push access grafted onto a pull-only token's signature.
  const std::string pull = TokenSpec().access({"pull"}).build();
  TokenSpec push = TokenSpec().access({"pull", "push"});
  const std::string forged = push.signing_input() + pull.substr(pull.rfind('.'));
  check_refused(f.bearer(forged, {Access::kPush, Access::kPull}), token_reason::kBadSignature);

  SUBCASE("ECDSA signatures must be raw r||s of the curve's size") {
    const TokenSpec t;
    const std::string in = t.signing_input();
    const Bytes raw = jws_sign("ES256", t.signing_key, in);
    // DER instead of raw.
    MdCtxPtr ctx(EVP_MD_CTX_new());
    REQUIRE(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, t.signing_key) == 1);
    std::size_t len = 0;
    REQUIRE(EVP_DigestSign(ctx.get(), nullptr, &len, as_bytes(in).data(), in.size()) == 1);
    Bytes der(len);
    REQUIRE(EVP_DigestSign(ctx.get(), der.data(), &len, as_bytes(in).data(), in.size()) == 1);
    der.resize(len);
    check_refused(f.bearer(in + "." + base64url_encode(der)), token_reason::kBadSignature);
    // Truncated, and zero r/s.
    check_refused(f.bearer(in + "." + base64url_encode(ByteSpan(raw).first(63))),
                  token_reason::kBadSignature);
    check_refused(f.bearer(in + "." + base64url_encode(Bytes(64, 0))), token_reason::kBadSignature);
    // An empty signature.
    check_refused(f.bearer(in + "."), token_reason::kBadSignature);
  }
}

TEST_CASE("a chain that does not lead to the bundle is refused") {
  Fixture f;
  const Pki& pki = Pki::get();
  TokenSpec t;
  SUBCASE("leaf from a CA outside the bundle (same CA name)") { t.x5c({pki.rogue_leaf.get()}); }
  SUBCASE("the outside CA sent along") { t.x5c({pki.rogue_leaf.get(), pki.rogue_ca.get()}); }
  SUBCASE("expired leaf") { t.x5c({pki.expired_leaf.get()}); }
  SUBCASE("a self-made certificate for the leaf key") {
    X509Ptr self = make_cert(pki.ec_leaf_key.get(), {"token signer ec"}, nullptr, nullptr);
    t.x5c({self.get()});
    check_refused(f.bearer(t.build()), token_reason::kBadCertificate);
    return;
  }
  check_refused(f.bearer(t.build()), token_reason::kBadCertificate);
}

TEST_CASE("x5c entries must be base64 DER certificates, and the chain is bounded") {
  Fixture f;
  const Pki& pki = Pki::get();
  TokenSpec t;
  t.header.set("x5c", json::Array{"not base64!"});
  check_refused(f.bearer(t.build()), token_reason::kMalformed);
  t.header.set("x5c", json::Array{base64_encode(as_bytes("not DER"))});
  check_refused(f.bearer(t.build()), token_reason::kBadCertificate);
  t.header.set("x5c", json::Array{std::int64_t{1}});
  check_refused(f.bearer(t.build()), token_reason::kMalformed);
  t.header.set("x5c", "MIIB");
  check_refused(f.bearer(t.build()), token_reason::kMalformed);
  std::vector<X509*> long_chain(9, pki.inter.get());
  long_chain[0] = pki.inter_leaf.get();
  t.x5c(long_chain);
  check_refused(f.bearer(t.build()), token_reason::kTooLarge);
}

TEST_CASE("a certificate chain is re-checked when a cached token is used again") {
  Fixture f;
  TokenSpec t;
  t.x5c({Pki::get().short_leaf.get()});  // valid until kT0 + 1 h
  t.claims.set("exp", std::int64_t{kT0 + 2 * 3600});
  const std::string token = t.build();
  CHECK(f.bearer(token).result.ok());
  CHECK(f.bearer(token).result.ok());
  CHECK(f.auth->stats().cache_hits == 1);
  f.clock.set(at(kT0 + 3600 + 1));
  check_refused(f.bearer(token), token_reason::kBadCertificate);
}

TEST_CASE("a known x5c chain is not verified again, until it is no longer valid") {
  Fixture f([](TokenAuthOptions o) {
    o.max_cached_tokens = 0;
    return o;
  });
  const Pki& pki = Pki::get();
  for (int i = 0; i < 3; ++i) {
    TokenSpec t;
    t.claims.set("jti", std::to_string(i));
    CHECK(f.bearer(t.build()).result.ok());
  }
  CHECK(f.auth->stats().chains_verified == 1);
  CHECK(f.auth->stats().tokens_verified == 3);

  // A forged token that copies the known chain fails on its signature.
  TokenSpec forged;
  forged.signing_key = pki.rogue_ca_key.get();
  check_refused(f.bearer(forged.build()), token_reason::kBadSignature);
  CHECK(f.auth->stats().chains_verified == 1);

  // The cached chain is not used past its certificates' validity.
  TokenSpec t;
  t.x5c({pki.short_leaf.get()});  // valid until kT0 + 1 h
  t.claims.set("exp", std::int64_t{kT0 + 2 * 3600});
  CHECK(f.bearer(t.build()).result.ok());
  CHECK(f.auth->stats().chains_verified == 2);
  f.clock.set(at(kT0 + 3600 + 1));
  check_refused(f.bearer(t.build()), token_reason::kBadCertificate);
}

TEST_CASE("alg none, HMAC and unknown algorithms are refused before any key is used") {
  Fixture f;
  const Pki& pki = Pki::get();
  TokenSpec t;
  json::Object h = t.header;
  SUBCASE("none, empty signature") {
    h.set("alg", "none");
    const std::string token =
        b64url(json::canonical(h)) + "." + b64url(json::canonical(t.claims)) + ".";
    check_refused(f.bearer(token), token_reason::kUnsupportedAlgorithm);
  }
  SUBCASE("None with a signature") {
    h.set("alg", "None");
    const std::string token =
        b64url(json::canonical(h)) + "." + b64url(json::canonical(t.claims)) + ".c2ln";
    check_refused(f.bearer(token), token_reason::kUnsupportedAlgorithm);
  }
  SUBCASE("HS256 keyed with the signer's public key (algorithm confusion)") {
    for (const bool with_kid : {false, true}) {
      h = t.header;
      if (with_kid) {
        h.erase("x5c");
        h.set("kid", libtrust_key_id(spki(pki.ca_key.get())));
      }
      h.set("alg", "HS256");
      const std::string in = b64url(json::canonical(h)) + "." + b64url(json::canonical(t.claims));
      for (const std::string& secret :
           {key_pem(with_kid ? pki.ca_key.get() : pki.ec_leaf_key.get()),
            cert_pem(with_kid ? pki.ca.get() : pki.ec_leaf.get())}) {
        unsigned char mac[32];
        unsigned int mac_len = 0;
        REQUIRE(HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
                     as_bytes(in).data(), in.size(), mac, &mac_len) != nullptr);
        check_refused(f.bearer(in + "." + base64url_encode(ByteSpan(mac, mac_len))),
                      token_reason::kUnsupportedAlgorithm);
      }
    }
  }
  SUBCASE("no alg, or a non-string alg") {
    h.erase("alg");
    std::string token =
        b64url(json::canonical(h)) + "." + b64url(json::canonical(t.claims)) + ".c2ln";
    check_refused(f.bearer(token), token_reason::kMalformed);
    h.set("alg", std::int64_t{256});
    token = b64url(json::canonical(h)) + "." + b64url(json::canonical(t.claims)) + ".c2ln";
    check_refused(f.bearer(token), token_reason::kMalformed);
  }
  SUBCASE("a crit header parameter") {
    t.header.set("crit", json::Array{"exp"});
    check_refused(f.bearer(t.build()), token_reason::kUnsupportedAlgorithm);
  }
}

TEST_CASE("the algorithm must fit the key") {
  Fixture f;
  const Pki& pki = Pki::get();
  TokenSpec t;
  SUBCASE("RS256 header over an EC key") {
    t.alg = "RS256";
    t.signing_key = pki.rsa_leaf_key.get();  // signed with RSA, but x5c names the EC leaf
    check_refused(f.bearer(t.build()), token_reason::kWrongMethod);
  }
  SUBCASE("ES256 header over an RSA key") {
    t.x5c({pki.rsa_leaf.get()});
    t.alg = "RS256";
    t.signing_key = pki.rsa_leaf_key.get();
    const std::string rs = t.build();
    t.alg = "ES256";
    const std::string in = t.signing_input();
    check_refused(f.bearer(in + rs.substr(rs.rfind('.'))), token_reason::kWrongMethod);
  }
  SUBCASE("ES384 header over a P-256 key") {
    t.alg = "ES384";
    check_refused(f.bearer(t.build()), token_reason::kWrongMethod);
  }
  SUBCASE("ES256 header over a P-384 key") {
    t.x5c({pki.p384_leaf.get()});
    t.signing_key = pki.p384_leaf_key.get();
    t.alg = "ES384";
    const std::string es384 = t.build();
    t.alg = "ES256";
    check_refused(f.bearer(t.signing_input() + es384.substr(es384.rfind('.'))),
                  token_reason::kWrongMethod);
  }
  SUBCASE("RSA below 2048 bits") {
    t.x5c({pki.small_rsa_leaf.get()});
    t.signing_key = pki.small_rsa_key.get();
    t.alg = "RS256";
    check_refused(f.bearer(t.build()), token_reason::kKeyTooSmall);
  }
}

TEST_CASE("a token without the needed actions: 401 with error=\"insufficient_scope\"") {
  Fixture f;
  const std::string pull_only = TokenSpec().access({"pull"}).build();
  CHECK(f.bearer(pull_only, {Access::kPull}).result.ok());

  auto o = f.bearer(pull_only, {Access::kPush, Access::kPull});
  check_refused(o, token_reason::kInsufficientScope, "insufficient_scope");
  CHECK(o.challenge == kPushPullChallenge + R"(,error="insufficient_scope")");
  // Never 403: the notary and docker clients retry with credentials only after a 401.
  CHECK(o.result.error().code != Code::kPermissionDenied);

  // pull+push does not include "*" (delete, key rotation).
  check_refused(f.bearer(TokenSpec().build(), {Access::kAll}), token_reason::kInsufficientScope,
                "insufficient_scope");
  // Another repository, a prefix of the name, and another resource type grant nothing.
  check_refused(f.bearer(TokenSpec().access({"*"}, "docker.io/library").build()),
                token_reason::kInsufficientScope, "insufficient_scope");
  TokenSpec t;
  t.claims.set("access", json::Array{access_entry("registry", kGun, {"*"})});
  check_refused(f.bearer(t.build()), token_reason::kInsufficientScope, "insufficient_scope");
  // An anonymous token (no access at all).
  t.claims.erase("access");
  check_refused(f.bearer(t.build()), token_reason::kInsufficientScope, "insufficient_scope");
  t.claims.set("access", nullptr);
  check_refused(f.bearer(t.build()), token_reason::kInsufficientScope, "insufficient_scope");
}

TEST_CASE("grants for one resource may be split over several entries") {
  Fixture f;
  TokenSpec t;
  t.claims.set("access", json::Array{access_entry("repository", kGun, {"pull"}),
                                     access_entry("repository", "other", {"push"}),
                                     access_entry("repository", kGun, {"push"})});
  CHECK(f.bearer(t.build(), {Access::kPush, Access::kPull}).result.ok());
}

TEST_CASE("malformed tokens are refused as invalid_token") {
  Fixture f;
  const std::string good = TokenSpec().build();
  const std::string header = good.substr(0, good.find('.'));
  const std::string rest = good.substr(good.find('.'));
  for (const std::string& bad :
       {std::string("x"), std::string("a.b"), good + ".x", std::string(".."), "!!!" + rest,
        header + ".@@." + "sig", "e30" + rest /* {} */, b64url("{") + rest, b64url("[]") + rest,
        b64url(R"({"alg":"ES256"} x)") + rest, b64url("\xff") + rest, header + "=" + rest}) {
    CAPTURE(bad);
    const auto o = f.bearer(bad);
    REQUIRE_FALSE(o.result.ok());
    CHECK(o.result.error().code == Code::kUnauthenticated);
    CHECK(o.challenge.ends_with(R"(,error="invalid_token")"));
  }
  check_refused(f.bearer("x"), token_reason::kMalformed);
  check_refused(f.bearer(b64url("{") + rest), Reason::kMalformed);
  check_refused(f.bearer(b64url(R"({"alg":"ES256","alg":"none"})") + rest), Reason::kDuplicateKey);

  SUBCASE("claims that do not parse, even when validly signed") {
    const Pki& pki = Pki::get();
    const std::string h =
        b64url(R"({"alg":"ES256","x5c":[")" + cert_b64(pki.ec_leaf.get()) + R"("]})");
    for (const auto& [claims, reason] : std::vector<std::pair<std::string, Reason>>{
             {"not json", Reason::kMalformed},
             {"[]", Reason::kMalformed},
             {R"({"iss":"auth.example.com","iss":"x"})", Reason::kDuplicateKey},
             {R"({"iss":"auth.example.com","aud":"notary.example.com","exp":"soon"})",
              Reason::kMalformed},
             {R"({"iss":"auth.example.com","aud":"notary.example.com","exp":1800000300,)"
              R"("access":{"type":"repository"}})",
              Reason::kMalformed},
             {R"({"iss":"auth.example.com","aud":"notary.example.com","exp":1800000300,)"
              R"("access":[null]})",
              Reason::kMalformed},
             {R"({"iss":"auth.example.com","aud":"notary.example.com","exp":1800000300,)"
              R"("access":[{"type":"repository","name":1,"actions":["pull"]}]})",
              Reason::kMalformed},
             {R"({"iss":"auth.example.com","aud":"notary.example.com","exp":1800000300,)"
              R"("access":[{"type":"repository","name":"a","actions":"pull"}]})",
              Reason::kMalformed},
         }) {
      CAPTURE(claims);
      const std::string in = h + "." + b64url(claims);
      const std::string token =
          in + "." + base64url_encode(jws_sign("ES256", pki.ec_leaf_key.get(), in));
      check_refused(f.bearer(token), reason);
    }
  }
}

TEST_CASE("oversized tokens and access lists are refused") {
  Fixture f([](TokenAuthOptions o) {
    o.max_token_bytes = 4096;
    o.max_access_entries = 4;
    return o;
  });
  TokenSpec t;
  t.claims.set("pad", std::string(4096, 'a'));
  check_refused(f.bearer(t.build()), token_reason::kTooLarge);
  check_refused(f.bearer(std::string(4097, 'a')), token_reason::kTooLarge);

  t = TokenSpec();
  json::Array many;
  for (int i = 0; i < 5; ++i) many.push_back(access_entry("repository", kGun, {"pull"}));
  t.claims.set("access", many);
  check_refused(f.bearer(t.build()), token_reason::kTooLarge);
  t.access({"pull", "push", "a", "b", "c"});
  check_refused(f.bearer(t.build()), token_reason::kTooLarge);
  t.access({"pull", "push", "a", "b"});
  CHECK(f.bearer(t.build()).result.ok());
}

TEST_CASE("deep JSON nesting is refused without recursion trouble") {
  Fixture f;
  const std::string deep = std::string(5000, '[') + std::string(5000, ']');
  const std::string token = b64url(deep) + "." + b64url("{}") + ".c2ln";
  check_refused(f.bearer(token), Reason::kTooDeep);
}

TEST_CASE("jwk: trusted when it is a bundle key or its x5c chains to the bundle") {
  Fixture f;
  const Pki& pki = Pki::get();
  // The EC leaf key as a JWK.
  auto jwk_of = [](EVP_PKEY* key) {
    BIGNUM* x = nullptr;
    BIGNUM* y = nullptr;
    REQUIRE(EVP_PKEY_get_bn_param(key, "qx", &x) == 1);
    REQUIRE(EVP_PKEY_get_bn_param(key, "qy", &y) == 1);
    Bytes xb(32), yb(32);
    REQUIRE(BN_bn2binpad(x, xb.data(), 32) == 32);
    REQUIRE(BN_bn2binpad(y, yb.data(), 32) == 32);
    BN_free(x);
    BN_free(y);
    json::Object j;
    j.set("kty", "EC");
    j.set("crv", "P-256");
    j.set("x", base64url_encode(xb));
    j.set("y", base64url_encode(yb));
    return j;
  };
  TokenSpec t;
  t.header.erase("x5c");
  json::Object jwk = jwk_of(pki.ec_leaf_key.get());
  t.header.set("jwk", jwk);
  check_refused(f.bearer(t.build()), token_reason::kUnknownKey);  // not in the bundle

  jwk.set("x5c", json::Array{cert_b64(pki.ec_leaf.get())});
  t.header.set("jwk", jwk);
  CHECK(f.bearer(t.build()).result.ok());

  jwk.set("x5c", json::Array{cert_b64(pki.rogue_leaf.get())});
  t.header.set("jwk", jwk);
  check_refused(f.bearer(t.build()), token_reason::kBadCertificate);

  // A chain for another key than the JWK's.
  jwk.set("x5c", json::Array{cert_b64(pki.rsa_leaf.get())});
  t.header.set("jwk", jwk);
  check_refused(f.bearer(t.build()), token_reason::kUnknownKey);

  // The CA's own key as a bare JWK: a bundle key.
  json::Object ca_jwk = jwk_of(pki.ca_key.get());
  ca_jwk.set("kid", libtrust_key_id(spki(pki.ca_key.get())));
  t.header.set("jwk", ca_jwk);
  t.signing_key = pki.ca_key.get();
  CHECK(f.bearer(t.build()).result.ok());
  ca_jwk.set("kid", "AAAA:BBBB");
  t.header.set("jwk", ca_jwk);
  check_refused(f.bearer(t.build()), token_reason::kMalformed);
}

TEST_CASE("more than one Authorization header is refused") {
  Fixture f;
  net::Request req;
  const std::string token = TokenSpec().build();
  req.headers.add("Authorization", "Bearer " + token);
  req.headers.add("authorization", "Bearer " + token);
  std::string challenge;
  auto r = f.auth->authorize(req, kGun, {Access::kPull}, &challenge);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason == token_reason::kMalformed);
  CHECK(challenge == kPullChallenge + R"(,error="invalid_token")");
  // A null challenge pointer is allowed.
  CHECK_FALSE(f.auth->authorize(req, kGun, {Access::kPull}, nullptr).ok());
}

TEST_CASE("error messages never contain the token") {
  Fixture f;
  TokenSpec t;
  t.claims.set("iss", "evil");
  const std::string token = t.build();
  for (const auto& o : {f.bearer(token), f.bearer(token + "x"), f.bearer(token.substr(5))}) {
    REQUIRE_FALSE(o.result.ok());
    CHECK(o.result.error().message.find(token.substr(0, 20)) == std::string::npos);
    CHECK(o.result.error().message.find(token.substr(token.size() - 20)) == std::string::npos);
  }
}

TEST_CASE("challenge values are quoted safely") {
  CHECK(bearer_challenge("r\"x", "s\\y", "a\"b\r\nc", {Access::kPull, Access::kPull}, "") ==
        R"(Bearer realm="r\"x",service="s\\y",scope="repository:a\"b\x0d\x0ac:pull")");
  CHECK(bearer_challenge("r", "s", "g", {Access::kPull, Access::kCatalog}, "invalid_token") ==
        R"(Bearer realm="r",service="s",scope="repository:g:pull registry:catalog:*",)"
        R"(error="invalid_token")");
}

TEST_CASE("the cache is used, bounded, and can be disabled") {
  SUBCASE("enabled") {
    Fixture f([](TokenAuthOptions o) {
      o.max_cached_tokens = 2;
      return o;
    });
    std::vector<std::string> tokens;
    for (int i = 0; i < 5; ++i) {
      TokenSpec t;
      t.claims.set("jti", std::to_string(i));
      tokens.push_back(t.build());
    }
    for (const auto& tok : tokens) CHECK(f.bearer(tok).result.ok());
    for (const auto& tok : tokens) CHECK(f.bearer(tok).result.ok());
    const auto s = f.auth->stats();
    CHECK(s.tokens_verified + s.cache_hits == 10);
    CHECK(s.tokens_verified >= 5);
    // A refused request is not cached, and a cached token still needs the scope.
    check_refused(f.bearer(tokens[4], {Access::kAll}), token_reason::kInsufficientScope,
                  "insufficient_scope");
  }
  SUBCASE("disabled") {
    Fixture f([](TokenAuthOptions o) {
      o.max_cached_tokens = 0;
      return o;
    });
    const std::string token = TokenSpec().build();
    CHECK(f.bearer(token).result.ok());
    CHECK(f.bearer(token).result.ok());
    CHECK(f.auth->stats().tokens_verified == 2);
    CHECK(f.auth->stats().cache_hits == 0);
  }
}

TEST_CASE("concurrent requests from several threads") {
  Fixture f;
  std::vector<std::string> tokens;
  for (int i = 0; i < 4; ++i) {
    TokenSpec t;
    t.claims.set("jti", std::to_string(i));
    tokens.push_back(t.build());
  }
  std::atomic<int> ok{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      for (int n = 0; n < 50; ++n) {
        const auto& tok = tokens[static_cast<std::size_t>((i + n) % 4)];
        if (f.bearer(tok).result.ok()) ++ok;
        if (!f.bearer(tok, {Access::kAll}).result.ok()) ++refused;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(ok == 200);
  CHECK(refused == 200);
}

// ---- Creation ------------------------------------------------------------------------------

TEST_CASE("create: required options and the certificate bundle") {
  TempDir dir;
  const Pki& pki = Pki::get();
  const std::string good = dir.write("good.pem", cert_pem(pki.ca.get()));
  for (auto clear : {&TokenAuthOptions::realm, &TokenAuthOptions::service,
                     &TokenAuthOptions::issuer, &TokenAuthOptions::rootcertbundle}) {
    TokenAuthOptions o = options_for(good);
    o.*clear = "";
    auto r = TokenAuthorizer::create(o);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::kInvalidArgument);
  }
  auto missing = TokenAuthorizer::create(options_for((dir.path / "absent.pem").string()));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().reason == Reason::kIo);

  auto empty = TokenAuthorizer::create(options_for(dir.write("empty.pem", "")));
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error().reason == Reason::kBadCertificate);

  // Only non-certificate blocks: nothing to trust.
  auto keys_only =
      TokenAuthorizer::create(options_for(dir.write("key.pem", key_pem(pki.ca_key.get()))));
  REQUIRE_FALSE(keys_only.ok());
  CHECK(keys_only.error().reason == Reason::kBadCertificate);

  auto garbage = TokenAuthorizer::create(options_for(
      dir.write("garbage.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")));
  REQUIRE_FALSE(garbage.ok());
  CHECK(garbage.error().reason == Reason::kBadCertificate);

  // Text around blocks and other block types are skipped, as distribution does.
  auto mixed = TokenAuthorizer::create(
      options_for(dir.write("mixed.pem", "# token CA\n" + key_pem(pki.rogue_ca_key.get()) +
                                             cert_pem(pki.ca.get()) + "trailing words\n")));
  REQUIRE(mixed.ok());

  TokenAuthOptions small = options_for(good);
  small.max_bundle_bytes = 100;
  auto too_large = TokenAuthorizer::create(small);
  REQUIRE_FALSE(too_large.ok());
  CHECK(too_large.error().reason == Reason::kTooLarge);
}

TEST_CASE("a bundle certificate that is not self-signed is a trust anchor (Go CertPool)") {
  TempDir dir;
  const Pki& pki = Pki::get();
  FixedClock clock{at(kT0)};
  auto auth = TokenAuthorizer::create(
      options_for(dir.write("inter.pem", cert_pem(pki.inter.get()))), clock);
  REQUIRE(auth.ok());
  net::Request req;
  TokenSpec t;
  t.x5c({pki.inter_leaf.get()});
  req.headers.add("Authorization", "Bearer " + t.build());
  CHECK((*auth)->authorize(req, kGun, {Access::kPull}, nullptr).ok());
  // The root above it alone does not help a leaf of the root.
  req.headers.set("Authorization", "Bearer " + TokenSpec().build());
  CHECK_FALSE((*auth)->authorize(req, kGun, {Access::kPull}, nullptr).ok());
}

// ---- Third-party vectors: docker/distribution 2.8.2 + docker/libtrust -----------------------
//
// Made by the Go program below (Debian golang-github-docker-distribution-dev 2.8.2, go 1.19):
// two self-signed libtrust CA certificates (EC P-256 and RSA 2048, libtrust.GenerateCACert)
// form the bundle; tokens are minted with libtrust keys the way distribution's token_test.go
// does, and each is checked with distribution's own token.NewToken + Token.Verify (trusted
// issuer, audience, the CertPool and libtrust key map that accesscontroller.go builds) before
// being printed. kNow is the time they were made; the tokens expire 5 minutes later.
//   kKidEs256   : header kid = libtrust ID of the EC CA key, ES256 by that key, pull+push
//   kKidRs256   : header kid = libtrust ID of the RSA CA key, RS256, actions ["*"]
//   kX5cEs256   : header x5c = [leaf cert signed by the EC CA], ES256 by the leaf, pull
//   kJwkX5c     : header jwk (a libtrust JWK with its own x5c chain to the EC CA), pull+push
//   kJwkTrusted : header jwk = the EC CA key itself (a trusted key), pull
// The program (GOPATH=/tmp/tokvec:/usr/share/gocode GO111MODULE=off go run ./src/tokvec, with
// this file at /tmp/tokvec/src/tokvec/main.go) printed the namespace below verbatim:
/*
// Mints docker registry tokens with docker/distribution's conventions and libtrust keys,
// verifies them with distribution's own registry/auth/token, and prints C++ constants.
package main

import (
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"
	"time"

	"github.com/docker/distribution/registry/auth/token"
	"github.com/docker/libtrust"
)

func b64(b []byte) string { return strings.TrimRight(base64.URLEncoding.EncodeToString(b), "=") }

func mint(h map[string]interface{}, c *token.ClaimSet, key libtrust.PrivateKey, alg string) string {
	h["typ"] = "JWT"
	h["alg"] = alg
	hb, _ := json.Marshal(h)
	cb, _ := json.Marshal(c)
	in := b64(hb) + "." + b64(cb)
	sig, _, err := key.Sign(strings.NewReader(in), crypto.SHA256)
	if err != nil {
		panic(err)
	}
	return in + "." + b64(sig)
}

func main() {
	now := time.Now().Truncate(time.Second)
	ecRoot, _ := libtrust.GenerateECP256PrivateKey()
	rsaRoot, _ := libtrust.GenerateRSA2048PrivateKey()
	ecCA, _ := libtrust.GenerateCACert(ecRoot, ecRoot)
	rsaCA, _ := libtrust.GenerateCACert(rsaRoot, rsaRoot)
	pool := x509.NewCertPool()
	pool.AddCert(ecCA)
	pool.AddCert(rsaCA)
	trusted := map[string]libtrust.PublicKey{ecRoot.KeyID(): ecRoot.PublicKey(), rsaRoot.KeyID(): rsaRoot.PublicKey()}

	claims := func(actions ...string) *token.ClaimSet {
		return &token.ClaimSet{Issuer: "auth.example.com", Subject: "alice", Audience: "notary.example.com",
			Expiration: now.Add(5 * time.Minute).Unix(), NotBefore: now.Unix(), IssuedAt: now.Unix(), JWTID: "x",
			Access: []*token.ResourceActions{{Type: "repository", Name: "docker.io/library/alpine", Actions: actions}}}
	}
	// Leaf signed by the EC root, for x5c.
	leaf, _ := libtrust.GenerateECP256PrivateKey()
	leafCert, _ := libtrust.GenerateCACert(ecRoot, leaf)
	x5c := []string{base64.StdEncoding.EncodeToString(leafCert.Raw)}
	// jwk with its own x5c (distribution's token_test.go makeSigningKeyWithChain, depth 1).
	jwkKey, _ := libtrust.GenerateECP256PrivateKey()
	jwkCert, _ := libtrust.GenerateCACert(ecRoot, jwkKey)
	jwkKey.AddExtendedField("x5c", []string{base64.StdEncoding.EncodeToString(jwkCert.Raw)})
	jwkRaw, _ := jwkKey.PublicKey().MarshalJSON()
	rootJwk, _ := ecRoot.PublicKey().MarshalJSON()

	toks := map[string]string{
		"kKidEs256":  mint(map[string]interface{}{"kid": ecRoot.KeyID()}, claims("pull", "push"), ecRoot, "ES256"),
		"kKidRs256":  mint(map[string]interface{}{"kid": rsaRoot.KeyID()}, claims("*"), rsaRoot, "RS256"),
		"kX5cEs256":  mint(map[string]interface{}{"x5c": x5c}, claims("pull"), leaf, "ES256"),
		"kJwkX5c":    mint(map[string]interface{}{"jwk": json.RawMessage(jwkRaw)}, claims("pull", "push"), jwkKey, "ES256"),
		"kJwkTrusted": mint(map[string]interface{}{"jwk": json.RawMessage(rootJwk)}, claims("pull"), ecRoot, "ES256"),
	}
	opts := token.VerifyOptions{TrustedIssuers: []string{"auth.example.com"}, AcceptedAudiences: []string{"notary.example.com"}, Roots: pool, TrustedKeys: trusted}
	for name, raw := range toks {
		t, err := token.NewToken(raw)
		if err != nil {
			panic(err)
		}
		if err := t.Verify(opts); err != nil {
			panic(name + ": " + err.Error())
		}
	}
	fmt.Printf("constexpr std::int64_t kNow = %d;\n", now.Unix())
	fmt.Printf("constexpr const char* kEcRootKeyId = \"%s\";\n", ecRoot.KeyID())
	fmt.Printf("constexpr const char* kRsaRootKeyId = \"%s\";\n", rsaRoot.KeyID())
	fmt.Printf("constexpr const char* kBundle =\n")
	for _, c := range []*x509.Certificate{ecCA, rsaCA} {
		for _, l := range strings.Split(strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))), "\n") {
			fmt.Printf("    \"%s\\n\"\n", l)
		}
	}
	fmt.Printf("    ;\n")
	for _, name := range []string{"kKidEs256", "kKidRs256", "kX5cEs256", "kJwkX5c", "kJwkTrusted"} {
		fmt.Printf("constexpr const char* %s =\n", name)
		s := toks[name]
		for len(s) > 0 {
			n := 88
			if n > len(s) {
				n = len(s)
			}
			fmt.Printf("    \"%s\"\n", s[:n])
			s = s[n:]
		}
		fmt.Printf("    ;\n")
	}
}
*/
namespace distribution {
constexpr std::int64_t kNow = 1795905624;
constexpr const char* kEcRootKeyId = "ZIO2:TUUX:ZWJI:Z7SS:SJBV:5A4Y:6YIJ:2LXC:RTHX:OYG6:AAA5:XMMX";
constexpr const char* kRsaRootKeyId = "PCWX:5HZS:2VKJ:2N3M:WKSH:YI27:HE4X:RX5X:TLUA:YPPD:6RB2:4CUM";
constexpr const char* kBundle =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBvjCCAWOgAwIBAgIBADAKBggqhkjOPQQDAjBGMUQwQgYDVQQDEztaSU8yOlRV\n"
    "VVg6WldKSTpaN1NTOlNKQlY6NUE0WTo2WUlKOjJMWEM6UlRIWDpPWUc2OkFBQTU6\n"
    "WE1NWDAeFw0yNjExMjEyMjQwMjRaFw0zNjExMjUyMjQwMjRaMEYxRDBCBgNVBAMT\n"
    "O1pJTzI6VFVVWDpaV0pJOlo3U1M6U0pCVjo1QTRZOjZZSUo6MkxYQzpSVEhYOk9Z\n"
    "RzY6QUFBNTpYTU1YMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEak4n+Mvg/56t\n"
    "OtQCBcK+vLH39n08zXwMbDbcwhyAlr1as/+nH3HV4WtzvpK2vzdpB/nto33DuvJf\n"
    "cjN5Hh17HKNCMEAwDgYDVR0PAQH/BAQDAgIEMA8GA1UdEwEB/wQFMAMBAf8wHQYD\n"
    "VR0OBBYEFEAw3YUJzlz4K4zXFaeWlLbjsWZOMAoGCCqGSM49BAMCA0kAMEYCIQCl\n"
    "Sxv+jsOGdp++CjwoAYe5Va5bvxqi4rrOcm/2RIIdYgIhALq74hQkLS0Qag5fReCS\n"
    "YB5PXRHeoV2a6gXTtTv++TwC\n"
    "-----END CERTIFICATE-----\n"
    "-----BEGIN CERTIFICATE-----\n"
    "MIIDSTCCAjGgAwIBAgIBADANBgkqhkiG9w0BAQsFADBGMUQwQgYDVQQDEztQQ1dY\n"
    "OjVIWlM6MlZLSjoyTjNNOldLU0g6WUkyNzpIRTRYOlJYNVg6VExVQTpZUFBEOjZS\n"
    "QjI6NENVTTAeFw0yNjExMjEyMjQwMjRaFw0zNjExMjUyMjQwMjRaMEYxRDBCBgNV\n"
    "BAMTO1BDV1g6NUhaUzoyVktKOjJOM006V0tTSDpZSTI3OkhFNFg6Ulg1WDpUTFVB\n"
    "OllQUEQ6NlJCMjo0Q1VNMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n"
    "r9avZncExo9756cNiyGej19yO8ZfyU36MD6muVU7Km/mw8qmLNKE/LZ2C2PL4gzt\n"
    "S8eW8QQMVgk7xmFiNaoIDquSYZdrdSCs38Z1qh4mfi4ZjlSeAyGQL24YoTgz6b2K\n"
    "y8JiKHzCV20WjRnW3LNSQTDaEsLwVpEZ03SRJAl2ArCdpPsejPrG2vBHGTJSeotU\n"
    "zPO7y8gtzTs7HgcurowRL1y4CFsnThrFUoK0tXPiwlNDI6ynGOVO3m/UhkmpU3oW\n"
    "CDOEICx+aXDcNn5Z+xwEp8q2/lWjoRfn/eyfzEDbB9e2EjlmiPFhEc+zb4/PvCfJ\n"
    "UOCyR0/eBOivLYuPSg3crQIDAQABo0IwQDAOBgNVHQ8BAf8EBAMCAgQwDwYDVR0T\n"
    "AQH/BAUwAwEB/zAdBgNVHQ4EFgQUNywpl1FuqQJjURYK43TncMxlC2kwDQYJKoZI\n"
    "hvcNAQELBQADggEBACyvskrk5r+DIaco6Mc1meJ+YhrvkBRc+6D6MaYr9u5iqOSx\n"
    "jGaHtmYPTOTRospuEspCTsdZInl34TmWBi/hY3SJ9MPSeQN1vHQHWLGNwupMM+w3\n"
    "chKnrAbfpB747yDJsqVBegyxun6gmX3uw7xfExQZKqYbcE9udVKoGQX+YXxeNhuJ\n"
    "OVwd9CIRF0cyu7yIwPGIqhiG3XSO5Po6xMLgSqN/GDx/zpygx7tx2/fUpmTPWEL6\n"
    "nDZpwgSQo5nXfUK6y3L+9F7RGBDnICLZa9Vw1H74jLEgcjT0kP5Kupn2Jy1Y+3H/\n"
    "PpVohKjBZjiKm9eWIASG2A3fHYwJZMHyWDffeKk=\n"
    "-----END CERTIFICATE-----\n";
constexpr const char* kKidEs256 =
    "eyJhbGciOiJFUzI1NiIsImtpZCI6IlpJTzI6VFVVWDpaV0pJOlo3U1M6U0pCVjo1QTRZOjZZSUo6MkxYQzpSVEhY"
    "Ok9ZRzY6QUFBNTpYTU1YIiwidHlwIjoiSldUIn0.eyJpc3MiOiJhdXRoLmV4YW1wbGUuY29tIiwic3ViIjoiYWxp"
    "Y2UiLCJhdWQiOiJub3RhcnkuZXhhbXBsZS5jb20iLCJleHAiOjE3OTU5MDU5MjQsIm5iZiI6MTc5NTkwNTYyNCwi"
    "aWF0IjoxNzk1OTA1NjI0LCJqdGkiOiJ4IiwiYWNjZXNzIjpbeyJ0eXBlIjoicmVwb3NpdG9yeSIsIm5hbWUiOiJk"
    "b2NrZXIuaW8vbGlicmFyeS9hbHBpbmUiLCJhY3Rpb25zIjpbInB1bGwiLCJwdXNoIl19XX0.WvEgj0gEUOnT3jqy"
    "N7tlOgsigot1ta55Q3fjtlhnNdhiSQFQH95ohJsutE2Y57VtG5-bEPXLQwoX9GRTKOZ4jQ";
constexpr const char* kKidRs256 =
    "eyJhbGciOiJSUzI1NiIsImtpZCI6IlBDV1g6NUhaUzoyVktKOjJOM006V0tTSDpZSTI3OkhFNFg6Ulg1WDpUTFVB"
    "OllQUEQ6NlJCMjo0Q1VNIiwidHlwIjoiSldUIn0.eyJpc3MiOiJhdXRoLmV4YW1wbGUuY29tIiwic3ViIjoiYWxp"
    "Y2UiLCJhdWQiOiJub3RhcnkuZXhhbXBsZS5jb20iLCJleHAiOjE3OTU5MDU5MjQsIm5iZiI6MTc5NTkwNTYyNCwi"
    "aWF0IjoxNzk1OTA1NjI0LCJqdGkiOiJ4IiwiYWNjZXNzIjpbeyJ0eXBlIjoicmVwb3NpdG9yeSIsIm5hbWUiOiJk"
    "b2NrZXIuaW8vbGlicmFyeS9hbHBpbmUiLCJhY3Rpb25zIjpbIioiXX1dfQ.LSHAFqsdoaNCzuBSiQ9pa0vEvDdZz"
    "UKYT1yufQBTImavDqYIvH-bLDzysl7jmfcg1i6NfexbfiPvp_5Zs-Mv3OO-OlD7OJEsh5iiXDC45WLW4Fyh8GfsZ"
    "Tpvj63Vbqk733lhDBtXXye1xFgiBQdwmZ2ZQOiVxRUVXaiPEbXrLlF8fw2oFuTUuOqrRSeaDzm9VL0Qk85bNzU6a"
    "nHZaQXOOfhg05JBS3mtodp9keGU69zfvVOMx835CPHOCdAf738IVMB10LN_hMgC2xdmXrpFd3d4PkRUVzl20paR5"
    "B2OQN0x_xIlv_OTWI5ka2KNgdVILqn89m245TWlxWuxk8YHQA";
constexpr const char* kX5cEs256 =
    "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCIsIng1YyI6WyJNSUlCdmpDQ0FXT2dBd0lCQWdJQkFEQUtCZ2dxaGtq"
    "T1BRUURBakJHTVVRd1FnWURWUVFERXp0YVNVOHlPbFJWVlZnNldsZEtTVHBhTjFOVE9sTktRbFk2TlVFMFdUbzJX"
    "VWxLT2pKTVdFTTZVbFJJV0RwUFdVYzJPa0ZCUVRVNldFMU5XREFlRncweU5qRXhNakV5TWpRd01qUmFGdzB6TmpF"
    "eE1qVXlNalF3TWpSYU1FWXhSREJDQmdOVkJBTVRPMHhWTmtVNlVsTXlVanBUTWtSTE9qTXpSazQ2VWtKTlV6cEdV"
    "a0pLT2pNM1RUSTZSVVZhUkRvMldsaENPamRXTXpZNlJFWkpSVHBUV2pWU01Ga3dFd1lIS29aSXpqMENBUVlJS29a"
    "SXpqMERBUWNEUWdBRVBMNFN0ZGg2bkZJUzVudEsrR1I3VVJHVmxSdGN3OUt4SnN6WnZBcXQ0NCtnclNpR0VOZmhN"
    "TXpkdXZPN0pjd3VKNGZPWCtVQUQzL2ZVOGxxVnF4aWZxTkNNRUF3RGdZRFZSMFBBUUgvQkFRREFnSUVNQThHQTFV"
    "ZEV3RUIvd1FGTUFNQkFmOHdIUVlEVlIwT0JCWUVGQkRIRFM4REovNmtxQW9vdzBXV0Y3VVd5eFVrTUFvR0NDcUdT"
    "TTQ5QkFNQ0Ewa0FNRVlDSVFETkhuMUdRN09FOFZVdnpXbGo0U3Y3T0M4NHl6endWOGk4LzRoMkxFbzljd0loQU1W"
    "eEx2Tmw3LzNDRFRtSjBqL3dpUGpWRHV1T1BVdXZJZ1BKNDF4c3U1dlAiXX0.eyJpc3MiOiJhdXRoLmV4YW1wbGUu"
    "Y29tIiwic3ViIjoiYWxpY2UiLCJhdWQiOiJub3RhcnkuZXhhbXBsZS5jb20iLCJleHAiOjE3OTU5MDU5MjQsIm5i"
    "ZiI6MTc5NTkwNTYyNCwiaWF0IjoxNzk1OTA1NjI0LCJqdGkiOiJ4IiwiYWNjZXNzIjpbeyJ0eXBlIjoicmVwb3Np"
    "dG9yeSIsIm5hbWUiOiJkb2NrZXIuaW8vbGlicmFyeS9hbHBpbmUiLCJhY3Rpb25zIjpbInB1bGwiXX1dfQ.FDf2A"
    "FUXNMemzaqy9jPjzmJmmJj4DUiWgjH-jwqsoDjMicqK2FrBLWd_g-5Nn3wEKRy3kBjpEWEZGkEgE6pvjw";
constexpr const char* kJwkX5c =
    "eyJhbGciOiJFUzI1NiIsImp3ayI6eyJjcnYiOiJQLTI1NiIsImtpZCI6IjRVRjM6VEJENzpJUjNROlFERFA6VEhQ"
    "NzpZSERROlRSUFQ6R1RVQTpIUlZYOkhZT0U6TkI3NjpJN1NSIiwia3R5IjoiRUMiLCJ4IjoickIzSExjUWc5Zldl"
    "RlczOXB6SjBCYUdKOE16UGhGdXFqVkFHUjRIQ25hZyIsIng1YyI6WyJNSUlCdlRDQ0FXT2dBd0lCQWdJQkFEQUtC"
    "Z2dxaGtqT1BRUURBakJHTVVRd1FnWURWUVFERXp0YVNVOHlPbFJWVlZnNldsZEtTVHBhTjFOVE9sTktRbFk2TlVF"
    "MFdUbzJXVWxLT2pKTVdFTTZVbFJJV0RwUFdVYzJPa0ZCUVRVNldFMU5XREFlRncweU5qRXhNakV5TWpRd01qUmFG"
    "dzB6TmpFeE1qVXlNalF3TWpSYU1FWXhSREJDQmdOVkJBTVRPelJWUmpNNlZFSkVOenBKVWpOUk9sRkVSRkE2VkVo"
    "UU56cFpTRVJST2xSU1VGUTZSMVJWUVRwSVVsWllPa2haVDBVNlRrSTNOanBKTjFOU01Ga3dFd1lIS29aSXpqMENB"
    "UVlJS29aSXpqMERBUWNEUWdBRXJCM0hMY1FnOWZXZUZXMzlwekowQmFHSjhNelBoRnVxalZBR1I0SENuYWdmRUVL"
    "NWdhaFMzUU5pS3g2bnBQODBjUTcwcTJRU3Rja1QzZUQ2bmdBTnNxTkNNRUF3RGdZRFZSMFBBUUgvQkFRREFnSUVN"
    "QThHQTFVZEV3RUIvd1FGTUFNQkFmOHdIUVlEVlIwT0JCWUVGT3FPSFNacGFmUXpaSmI4T2tpeDk1TWF1M0FFTUFv"
    "R0NDcUdTTTQ5QkFNQ0EwZ0FNRVVDSURCbTJmN1dmeWpmNXpyNG1xaTk2djdvNzM2M1BsbHhvcUpRWHlVZzJ4MmxB"
    "aUVBNUhjaGJsemliS2FydkJRdXZoZ0tVb1RCYzlNd0NRZkpUVHA4bkwxdkhHST0iXSwieSI6Ikh4QkN1WUdvVXQw"
    "RFlpc2VwNlRfTkhFTzlLdGtFclhKRTkzZy1wNEFEYkkifSwidHlwIjoiSldUIn0.eyJpc3MiOiJhdXRoLmV4YW1w"
    "bGUuY29tIiwic3ViIjoiYWxpY2UiLCJhdWQiOiJub3RhcnkuZXhhbXBsZS5jb20iLCJleHAiOjE3OTU5MDU5MjQs"
    "Im5iZiI6MTc5NTkwNTYyNCwiaWF0IjoxNzk1OTA1NjI0LCJqdGkiOiJ4IiwiYWNjZXNzIjpbeyJ0eXBlIjoicmVw"
    "b3NpdG9yeSIsIm5hbWUiOiJkb2NrZXIuaW8vbGlicmFyeS9hbHBpbmUiLCJhY3Rpb25zIjpbInB1bGwiLCJwdXNo"
    "Il19XX0.AFq9DN7yS61ZpfAbbG_bymmb_VKH649habPo9aeLK_chJoJTTy9CR3B6xGS0nGFwqh2ekV8iGXuXfBbq"
    "sQVq8g";
constexpr const char* kJwkTrusted =
    "eyJhbGciOiJFUzI1NiIsImp3ayI6eyJjcnYiOiJQLTI1NiIsImtpZCI6IlpJTzI6VFVVWDpaV0pJOlo3U1M6U0pC"
    "Vjo1QTRZOjZZSUo6MkxYQzpSVEhYOk9ZRzY6QUFBNTpYTU1YIiwia3R5IjoiRUMiLCJ4IjoiYWs0bi1NdmdfNTZ0"
    "T3RRQ0JjSy12TEgzOW4wOHpYd01iRGJjd2h5QWxyMCIsInkiOiJXclBfcHg5eDFlRnJjNzZTdHI4M2FRZjU3YU45"
    "dzdyeVgzSXplUjRkZXh3In0sInR5cCI6IkpXVCJ9.eyJpc3MiOiJhdXRoLmV4YW1wbGUuY29tIiwic3ViIjoiYWx"
    "pY2UiLCJhdWQiOiJub3RhcnkuZXhhbXBsZS5jb20iLCJleHAiOjE3OTU5MDU5MjQsIm5iZiI6MTc5NTkwNTYyNCw"
    "iaWF0IjoxNzk1OTA1NjI0LCJqdGkiOiJ4IiwiYWNjZXNzIjpbeyJ0eXBlIjoicmVwb3NpdG9yeSIsIm5hbWUiOiJ"
    "kb2NrZXIuaW8vbGlicmFyeS9hbHBpbmUiLCJhY3Rpb25zIjpbInB1bGwiXX1dfQ.SbUvJtnN_HvLNdDK8PtL_tUB"
    "2bitkuLiQvRvqIPl0CPzNTej1nHeRIpakhJTJLgdswOSDZc0YuloQzeM7bQmnA";
}  // namespace distribution

struct DistributionFixture {
  TempDir dir;
  FixedClock clock{at(distribution::kNow)};
  std::unique_ptr<TokenAuthorizer> auth;
  DistributionFixture() {
    auto created =
        TokenAuthorizer::create(options_for(dir.write("bundle.pem", distribution::kBundle)), clock);
    REQUIRE(created.ok());
    auth = std::move(*created);
  }
  Result<void> check(const char* token, std::vector<Access> actions) const {
    net::Request req;
    req.headers.add("Authorization", std::string("Bearer ") + token);
    return auth->authorize(req, kGun, std::move(actions), nullptr);
  }
};

TEST_CASE("libtrust key IDs match libtrust's for the bundle certificates") {
  BioPtr bio(BIO_new_mem_buf(distribution::kBundle, -1));
  std::vector<std::string> ids;
  while (X509* raw = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    X509Ptr cert(raw);
    ids.push_back(libtrust_key_id(spki(X509_get0_pubkey(cert.get()))));
  }
  ERR_clear_error();
  REQUIRE(ids.size() == 2);
  CHECK(ids[0] == distribution::kEcRootKeyId);
  CHECK(ids[1] == distribution::kRsaRootKeyId);
}

TEST_CASE("tokens minted and verified by docker/distribution are accepted") {
  const DistributionFixture f;
  CHECK(f.check(distribution::kKidEs256, {Access::kPush, Access::kPull}).ok());
  CHECK(f.check(distribution::kKidRs256, {Access::kAll}).ok());
  CHECK(f.check(distribution::kX5cEs256, {Access::kPull}).ok());
  CHECK(f.check(distribution::kJwkX5c, {Access::kPush, Access::kPull}).ok());
  CHECK(f.check(distribution::kJwkTrusted, {Access::kPull}).ok());

  // And their scopes are read as distribution reads them.
  for (const char* pull_only : {distribution::kX5cEs256, distribution::kJwkTrusted}) {
    auto r = f.check(pull_only, {Access::kPush, Access::kPull});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().reason == token_reason::kInsufficientScope);
  }
  auto r = f.check(distribution::kKidEs256, {Access::kAll});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason == token_reason::kInsufficientScope);
}

TEST_CASE("distribution's tokens expire 5 minutes (plus 60 s leeway) after they were made") {
  DistributionFixture f;
  f.clock.set(at(distribution::kNow + 360));
  CHECK(f.check(distribution::kKidEs256, {Access::kPull}).ok());
  f.clock.set(at(distribution::kNow + 361));
  auto r = f.check(distribution::kKidEs256, {Access::kPull});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason == token_reason::kExpired);
}

TEST_CASE("a distribution token for another service or issuer is refused") {
  TempDir dir;
  FixedClock clock{at(distribution::kNow)};
  TokenAuthOptions o = options_for(dir.write("bundle.pem", distribution::kBundle));
  o.service = "registry.example.com";
  auto auth = TokenAuthorizer::create(o, clock).value();
  net::Request req;
  req.headers.add("Authorization", std::string("Bearer ") + distribution::kKidEs256);
  auto r = auth->authorize(req, kGun, {Access::kPull}, nullptr);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason == token_reason::kWrongAudience);

  o.service = "notary.example.com";
  o.issuer = "other-issuer";
  auth = TokenAuthorizer::create(o, clock).value();
  r = auth->authorize(req, kGun, {Access::kPull}, nullptr);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason == token_reason::kWrongIssuer);
}

}  // namespace
}  // namespace vouch::server
