// libFuzzer target for the registry token (JWT) parser and checks (server/token_auth.h): the
// compact JWS, its header (alg, kid, jwk, x5c chain), the claims (iss, aud, exp, nbf) and the
// access list, as vouch-server reads them from an anonymous request's Authorization header.
//
// Input layout, chosen by the first byte:
//  - 'R' (raw): the rest is the token text, sent as "Authorization: Bearer <rest>".
//  - 'S' (signed): the rest is "<header JSON>\n<claims JSON>". The harness base64url-encodes both
//    and signs them with ES256 with the key whose certificate is the token bundle, so the fuzzer
//    reaches the claims and access checks that an unsigned token never gets to. The seeds
//    (tests/fuzz/corpus/fuzz_token) carry that key's kid and x5c, so the key paths are reached too.
//  - anything else: the rest, as the whole Authorization header value.
// The second byte picks the access the route asks for (pull, push+pull, *, catalog, nothing).
//
// Properties checked on every input:
//  - no crash, throw or sanitizer report;
//  - a refusal is Code::kUnauthenticated with a challenge that starts with "Bearer realm=" and
//    holds no control byte (a token cannot split or forge a header);
//  - the answer does not depend on the cache: asking again gives the same code and reason.

#include <openssl/bio.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/encoding.h"
#include "common/log.h"
#include "server/token_auth.h"

namespace {

using vouch::server::Access;

// A fixed P-256 key and its self-signed certificate (valid 2026-12-07 to 2046-12-02), made
// with `openssl ecparam -genkey` and `openssl req -x509`. Test material only.
constexpr std::string_view kKeyPem = R"(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgvw5mjaS9cFRlSrFQ
UQXF+bHcih/Y4U1DtxRv7A236uWhRANCAAQYKSSGx+F8ftnxiKKns2sB7hrKbGpL
Mqay7R+XW8CWkJ57en6Xr91GDV5g6QFhsli9NSNZdcuR3XOE8ZUjbL4N
-----END PRIVATE KEY-----
)";
constexpr std::string_view kCertPem = R"(-----BEGIN CERTIFICATE-----
MIIBhjCCASygAwIBAgIBATAKBggqhkjOPQQDAjAiMSAwHgYDVQQDDBd2b3VjaC1m
dXp6LXRva2VuLXNpZ25lcjAeFw0yNjEyMDcyMDEyNDlaFw00NjEyMDIyMDEyNDla
MCIxIDAeBgNVBAMMF3ZvdWNoLWZ1enotdG9rZW4tc2lnbmVyMFkwEwYHKoZIzj0C
AQYIKoZIzj0DAQcDQgAEGCkkhsfhfH7Z8Yiip7NrAe4aymxqSzKmsu0fl1vAlpCe
e3p+l6/dRg1eYOkBYbJYvTUjWXXLkd1zhPGVI2y+DaNTMFEwHQYDVR0OBBYEFGHk
DTb/y+WVvVLIUwU7ZVpJ2fV4MB8GA1UdIwQYMBaAFGHkDTb/y+WVvVLIUwU7ZVpJ
2fV4MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIgXhWCMvzjjLvw
dnxyQmZwya1c91vPshd/WB41S8YuVHkCIQD72H+6MWYMg38IxY1Fn6F+12tjgrDL
1G9dDv9Zv3kcWw==
-----END CERTIFICATE-----
)";

// 2027-06-01T00:00:00Z: inside the certificate's validity; the seeds' exp lie after it.
constexpr std::int64_t kNow = 1'811'894'400;

struct Fixture {
  vouch::FixedClock clock{vouch::TimePoint(std::chrono::seconds(kNow))};
  std::unique_ptr<vouch::server::TokenAuthorizer> auth;
  EVP_PKEY* key = nullptr;
};

Fixture* fixture = nullptr;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_token: %s\n", what);
  std::abort();
}

void set_up() {
  vouch::log::Options quiet;
  quiet.level = "off";  // the authorizer's start-up line, once per process, is noise here
  vouch::log::init(quiet);
  fixture = new Fixture;
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(kKeyPem.data(), static_cast<int>(kKeyPem.size())), &BIO_free);
  fixture->key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (fixture->key == nullptr) fail("the harness key does not load");

  char dir[] = "/tmp/fuzz_token.XXXXXX";
  if (mkdtemp(dir) == nullptr) fail("mkdtemp");
  const std::string bundle = std::string(dir) + "/bundle.pem";
  std::ofstream(bundle) << kCertPem;
  vouch::server::TokenAuthOptions options;
  options.realm = "https://auth.example.com/token";
  options.service = "notary.example.com";
  options.issuer = "vouch-fuzz";
  options.rootcertbundle = bundle;
  // Small caches, so that the fuzzer also reaches the eviction paths.
  options.max_cached_tokens = 8;
  options.max_cached_chains = 2;
  auto auth = vouch::server::TokenAuthorizer::create(options, fixture->clock);
  std::remove(bundle.c_str());
  rmdir(dir);
  if (!auth.ok()) fail("the authorizer does not start");
  fixture->auth = std::move(*auth);
}

// ES256 over `signing_input`, as the raw r||s JWS wants it.
std::string es256(std::string_view signing_input) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  std::size_t der_len = 0;
  if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, fixture->key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &der_len,
                     reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) != 1) {
    fail("sign");
  }
  std::vector<unsigned char> der(der_len);
  if (EVP_DigestSign(ctx.get(), der.data(), &der_len,
                     reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) != 1) {
    fail("sign");
  }
  const unsigned char* p = der.data();
  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(
      d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_len)), &ECDSA_SIG_free);
  if (!sig) fail("sign");
  vouch::Bytes raw(64);
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), raw.data(), 32) != 32 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), raw.data() + 32, 32) != 32) {
    fail("sign");
  }
  return vouch::base64url_encode(raw);
}

std::string signed_token(std::string_view rest) {
  const std::size_t nl = rest.find('\n');
  const std::string_view header = rest.substr(0, nl);
  const std::string_view claims = nl == std::string_view::npos ? "" : rest.substr(nl + 1);
  std::string input = vouch::base64url_encode(vouch::as_bytes(header));
  input.push_back('.');
  input += vouch::base64url_encode(vouch::as_bytes(claims));
  const std::string sig = es256(input);
  input.push_back('.');
  input += sig;
  return input;
}

std::vector<Access> access_for(std::uint8_t selector) {
  switch (selector % 5) {
    case 0: return {Access::kPull};
    case 1: return {Access::kPush, Access::kPull};
    case 2: return {Access::kAll};
    case 3: return {Access::kCatalog};
    default: return {};
  }
}

void check_refusal(const vouch::Error& error, const std::string& challenge) {
  if (error.code != vouch::Code::kUnauthenticated) fail("a refusal that is not kUnauthenticated");
  if (challenge.rfind("Bearer realm=\"", 0) != 0) fail("a challenge without a realm");
  for (const char c : challenge) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) fail("a control byte in the challenge");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (fixture == nullptr) set_up();
  if (size < 2) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const char mode = input[0];
  const std::vector<Access> access = access_for(static_cast<std::uint8_t>(input[1]));
  const std::string_view rest = input.substr(2);

  std::string authorization;
  if (mode == 'R') {
    authorization = "Bearer " + std::string(rest);
  } else if (mode == 'S') {
    authorization = "Bearer " + signed_token(rest);
  } else {
    authorization = std::string(rest);
  }

  vouch::net::Request request;
  request.method = "GET";
  request.target = "/v2/example.com/app/_trust/tuf/root.json";
  request.headers.add("Authorization", authorization);

  std::string first_challenge;
  const auto first = fixture->auth->authorize(request, "example.com/app", access, &first_challenge);
  if (!first.ok()) check_refusal(first.error(), first_challenge);

  std::string second_challenge;
  const auto second =
      fixture->auth->authorize(request, "example.com/app", access, &second_challenge);
  if (std::getenv("FUZZ_TOKEN_VERBOSE") != nullptr) {  // for checking what the seeds reach
    std::fprintf(stderr, "%s\n", first.ok() ? "granted" : first.error().message.c_str());
  }
  if (first.ok() != second.ok()) fail("the cache changed the decision");
  if (!second.ok()) {
    check_refusal(second.error(), second_challenge);
    if (second.error().reason != first.error().reason) fail("the cache changed the reason");
  }
  return 0;
}
