// Tests for keys/ crypto: hashes, key types, key IDs, signing and verification, PKCS#8 in both
// flavors, certificates. Third-party vectors: Notary's own Go code (see kNotaryVectors below),
// the real notary CLI, and the OpenSSL CLI. Botan 2 is the independent oracle for signatures.

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <botan/auto_rng.h>
#include <botan/data_src.h>
#include <botan/ec_group.h>
#include <botan/ecdsa.h>
#include <botan/ed25519.h>
#include <botan/pkcs8.h>
#include <botan/pubkey.h>
#include <botan/rsa.h>
#include <botan/x509_key.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/clock.h"
#include "common/encoding.h"
#include "keys/crypto.h"
#include "keys/private_key.h"
#include "keys/public_key.h"
#include "keys/root_certificate.h"
#include "tests/support/memory_signer.h"

namespace vouch::keys {
namespace {

// ---------------------------------------------------------------------------------------------
// Vectors written by Notary's own code (github.com/theupdateframework/notary, Debian package
// golang-github-docker-notary-dev 0.7.0, go1.19.8), with this program (GOPATH=/usr/share/gocode
// GO111MODULE=off go run main.go):
//
//   msg := []byte(`{"_type":"Targets","version":1}`)
//   for each alg in ed25519, ecdsa, rsa (rsa: utils.RSAToPrivateKey(rsa.GenerateKey(rand, 2048)),
//   others: utils.GenerateKey(alg)):
//     der  := utils.ConvertTUFKeyToPKCS8(k, nil)           -> k<Alg>Pkcs8Hex
//     k.ID(), base64(k.Public())                           -> k<Alg>Id, k<Alg>Public
//     k.Sign(rand.Reader, msg, nil)                        -> k<Alg>Sig
//     (ecdsa, rsa) cryptoservice.GenerateCertificate(k, "docker.io/library/alpine",
//        2020-01-01T00:00:00Z, +10 years); utils.CertToPEM  -> k<Alg>Cert
//        utils.CertToKey(cert).ID()                        -> k<Alg>CertId
//        utils.CanonicalKeyID(that key) == k.ID()
// ---------------------------------------------------------------------------------------------
constexpr std::string_view kNotaryMessage = R"({"_type":"Targets","version":1})";
constexpr std::string_view kNotaryGun = "docker.io/library/alpine";

constexpr std::string_view kGoEd25519Pkcs8Hex =
    "3072020100300b06092b06010401da470f010460f7e5a51c08b456c1ece9487475b22ff2b65a0abbe5ba3f2768124922"
    "78d9f86caf5812b59ec5e4a831bd794d9416d0c90d98a83b5662f8afe8050f6039c64e0ff7e5a51c08b456c1ece94874"
    "75b22ff2b65a0abbe5ba3f276812492278d9f86c";

constexpr std::string_view kGoEd25519Id = "b390654ab506c2329e0fdc8727aa0a4b4e0b60c0f1faf919e8ca8b70982666bb";

constexpr std::string_view kGoEd25519Public =
    "9+WlHAi0VsHs6Uh0dbIv8rZaCrvluj8naBJJInjZ+Gw=";

constexpr std::string_view kGoEd25519Sig =
    "U1LA6gvTypeAksWDQbhG6YGbptEjA9Y/ZebPdrBSjKJQXgBfiega7OLKAlIOnD4/HJxeLl7z0HAYxVStRCflDw==";

constexpr std::string_view kGoEcdsaPkcs8Hex =
    "308193020101301306072a8648ce3d020106082a8648ce3d03010704793077020101042054a35b41fc326f7dcf779768"
    "68c31807f2bd303b27d5beaa78dfab8b2c1b8d1da00a06082a8648ce3d030107a14403420004958bf3fa9022bb013d13"
    "a5656ad61e99c4e71d98a628f2d26041fe28a4e704fe62aa87b5f1228e5c296a9c9562846d6eff54d32a92d4d9ce73a1"
    "d1f13e0083e2";

constexpr std::string_view kGoEcdsaId = "7e0baaa40f9a36d66a7a8421f52a2e3f0a70161349cdd40d89f058eb082c6267";

constexpr std::string_view kGoEcdsaPublic =
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAElYvz+pAiuwE9E6VlatYemcTnHZimKPLSYEH+KKTnBP5iqoe18SKO"
    "XClqnJVihG1u/1TTKpLU2c5zodHxPgCD4g==";

constexpr std::string_view kGoEcdsaSig =
    "ZZFEbjN3xgPXbugfiCvr5WZ4Fxuo7cIpRJ0cZO3o4t1bFMS5cYtU/Ws+HahDBRpeUlVXml5VqHDQF7QeHx8+0A==";

constexpr std::string_view kGoEcdsaCert = R"(-----BEGIN CERTIFICATE-----
MIIBejCCAR+gAwIBAgIQPTgGmcW7OIMaFyaKr1tfrDAKBggqhkjOPQQDAjAjMSEw
HwYDVQQDExhkb2NrZXIuaW8vbGlicmFyeS9hbHBpbmUwHhcNMjAwMTAxMDAwMDAw
WhcNMzAwMTAxMDAwMDAwWjAjMSEwHwYDVQQDExhkb2NrZXIuaW8vbGlicmFyeS9h
bHBpbmUwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAASVi/P6kCK7AT0TpWVq1h6Z
xOcdmKYo8tJgQf4opOcE/mKqh7XxIo5cKWqclWKEbW7/VNMqktTZznOh0fE+AIPi
ozUwMzAOBgNVHQ8BAf8EBAMCBaAwEwYDVR0lBAwwCgYIKwYBBQUHAwMwDAYDVR0T
AQH/BAIwADAKBggqhkjOPQQDAgNJADBGAiEAvTKHA9RyyHYcho7HKYNAJ231Iq7R
gVxaF14E6B6O23YCIQDzo3fRizCNvT1nGrQONVo7luTXlGLWyN3F+KFfT5l1XQ==
-----END CERTIFICATE-----
)";

constexpr std::string_view kGoEcdsaCertId = "78f137383ee1d94698d9284af626f896226e7c91e160cc5c95135cd11702e644";

constexpr std::string_view kGoRsaPkcs8Hex =
    "308204ba020100300b06092a864886f70d010101048204a6308204a20201000282010100c87ee3de1f60987903fa5827"
    "f2f20a6f37bb16e864351310046e4cde03279e4b57529d4c2df65ecc9047972927abf8a22aa447330390072558a0912f"
    "e73ff92969ff4a011fa7665a03b4585f0dd0856ebbf4ec4ee8f33d3cf73deaa283724082377ec8caceb8439db48d761d"
    "1def90cc5692e3db78ddb76e7554a207f64dba7966319b66d17adf53dbe767d0d26ace6e1665fbe5d0ca17d8a76c0e5c"
    "5ae4760a6e6c1e85c3ef8bada0446723de9446cdb1ed5f52ce954b3a39a51d6e45a7fee0097c6b87ef7e9f27c49d271c"
    "e64b9f2642aec4a51f5c172de65c15e71deb30dddb7545f52876c3f874d5bd7097efa10f7b064ab8cd75e699584202ea"
    "24f8c309020301000102820100621f87d1cbb570a9b942aa26530616093c5339f0de2a037c514ed21bcd9b742317477d"
    "682d0e6872e121c85f01e56e379f7aeac592b6c86884a980a4db1e3a0904b1463caa8b38d25101d04624f2aa7af94df2"
    "e0e3ad378940cf72a7ba810e052cb7c5f94b966eb11e0e258236866a6d36e988ce7ea6b4014136fc5dbd336950e64040"
    "4e1ab8597cef50534c1d5dacd78ba737ec5fb4db160799fac8bd2fa33e257bb1befe577f7245ec3044e2cf204927210e"
    "f128ebd99f7941469a29b42b1f58a794ed8906158e191445b902f017d71537d54eec91cb170b9132379df51c6b1095c6"
    "68210cdf07e8534d8942e4ebde05f36a1c4d4bb5a68ed457cf6c619cc902818100d1a3283bb18ff8483a61eeab4936c4"
    "08f596379d11f579046f77a364527f1410c7538caa6d2653b76e1d5af2e67117f806a54dfda4e9a767dbca17bc65a59e"
    "5ee8e7a4e8d5bf7514b94dbb69be8ee8c861bedc2171c9e5b498d9db065d595e337377e9d498dbe7f844c30d83753c41"
    "581a80659a1f685d66c30cfd2b2e0cf98f02818100f4d62ae69643a7d65b10f42bad2b777e33c506e6c041e5badd1bd7"
    "f586de58f9479f3d90f348bfd76050680cde3ec63e0640e23d6513b703c805224e1e88b73841efc4cf09c1380e7d58f9"
    "e79aca4e84780d6762075fa827166f23ce06b08c81a91081f5e147b0e8ffa19f2d3125540a2dd429592c6277cbb26991"
    "5c682bbde7028180371fd1078954533422edf78560d61ecc404fc4c5ef9ffdb775dc1ec1d59386e23697b8a863d52d34"
    "51a7347024ba5e5420e33cd3d2968227a43acaed06497b90776bda08439479a3fe69fb3afe19b40a64f17c0eeb4decb2"
    "05735bcd9ba45149f435f6eda95841f21d9ab0a5fda0df89dc4620f15b0ae56c8d23903ad77c1fef02818006ed201d91"
    "d6ac22d644ae83a5cc7afee8fc03ebf73866055947f65e0dc8b07facd5066ad9570f864a453c0c5125397a7bb6ce2faa"
    "725a55130d8220efa0327eb6eecf8483e4216fd77ff2e1e8711cb386a9ea68cd88993b31d9470c07086b9127753e17f4"
    "9d9095a6d5ada91ba0d0b5d10215815e4e12d182649626251447b5028180013d7d8ad715b7e54e5e20ce9906982b6837"
    "9fa30839e626ec3fcb2e9b8cf2c301ee5fff9acc7b2770e542df1e474d666594af121421465de7859fa24de0c69f9aed"
    "c7a0004e0262948dc1f4fa3fada80852692b57fbf7ee0b08a290160d8f0f913db4098f679deab98ded17c09345d33b3a"
    "cbb57eb78cdc14ab32e4fa8f00d8";

constexpr std::string_view kGoRsaId = "d41de59d9577474130a4ba2b58646c85409ebe3be6b0f779ac8155a70e0fc487";

constexpr std::string_view kGoRsaPublic =
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAyH7j3h9gmHkD+lgn8vIKbze7FuhkNRMQBG5M3gMnnktX"
    "Up1MLfZezJBHlyknq/iiKqRHMwOQByVYoJEv5z/5KWn/SgEfp2ZaA7RYXw3QhW679OxO6PM9PPc96qKDckCCN37I"
    "ys64Q520jXYdHe+QzFaS49t43bdudVSiB/ZNunlmMZtm0XrfU9vnZ9DSas5uFmX75dDKF9inbA5cWuR2Cm5sHoXD"
    "74utoERnI96URs2x7V9SzpVLOjmlHW5Fp/7gCXxrh+9+nyfEnScc5kufJkKuxKUfXBct5lwV5x3rMN3bdUX1KHbD"
    "+HTVvXCX76EPewZKuM115plYQgLqJPjDCQIDAQAB";

constexpr std::string_view kGoRsaSig =
    "T0K8TF4JPn52RXOanoGVK7pYeoAzxAdn3AnoIMhW6TTp7T1gJMGImerug+0OT72fBH636EGBLtD4AT6fM354N01j"
    "4XA6Op3qkz5It2xTaqfv/KOBeBe9/TGvTajTk+/Q0uzuKW3ExP9eMVHFg5XONXeP4J0tnRXcK7ZOenMlaHQYm3it"
    "tKFrerW+EVkEtDSdQxv44n1pmtelUVikMs1rtmfRi1GNN4xjrl/MEfKBpBX6Fe2MC/KF9A6Xyo+reEuAkYUizjuF"
    "dH7ogMkyRPFkTvwMNwtpRzBUGoJ/EGjzaf4XczbDaY7PlPWKWYm5srKSnpSHKQxchL6YPhRDIfUIYQ==";

constexpr std::string_view kGoRsaCert = R"(-----BEGIN CERTIFICATE-----
MIIDBTCCAe2gAwIBAgIQYYdX6sg6sxbv8K92ET7PFTANBgkqhkiG9w0BAQsFADAj
MSEwHwYDVQQDExhkb2NrZXIuaW8vbGlicmFyeS9hbHBpbmUwHhcNMjAwMTAxMDAw
MDAwWhcNMzAwMTAxMDAwMDAwWjAjMSEwHwYDVQQDExhkb2NrZXIuaW8vbGlicmFy
eS9hbHBpbmUwggEiMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIBAQDIfuPeH2CY
eQP6WCfy8gpvN7sW6GQ1ExAEbkzeAyeeS1dSnUwt9l7MkEeXKSer+KIqpEczA5AH
JVigkS/nP/kpaf9KAR+nZloDtFhfDdCFbrv07E7o8z089z3qooNyQII3fsjKzrhD
nbSNdh0d75DMVpLj23jdt251VKIH9k26eWYxm2bRet9T2+dn0NJqzm4WZfvl0MoX
2KdsDlxa5HYKbmwehcPvi62gRGcj3pRGzbHtX1LOlUs6OaUdbkWn/uAJfGuH736f
J8SdJxzmS58mQq7EpR9cFy3mXBXnHesw3dt1RfUodsP4dNW9cJfvoQ97Bkq4zXXm
mVhCAuok+MMJAgMBAAGjNTAzMA4GA1UdDwEB/wQEAwIFoDATBgNVHSUEDDAKBggr
BgEFBQcDAzAMBgNVHRMBAf8EAjAAMA0GCSqGSIb3DQEBCwUAA4IBAQCQlDqbfP6p
EXft3IhvGddfb9zXqI9DtU1T/PCEluzyvpjLgfJhc9m+kEMh1o/E+W9vghSEJFU3
ouiZ9nwaP9XiETXOkuoF9sqjfKQBz7rcjLTvUCk10gmiDHwC+DXFfn33soejGBna
22eOsgS2m678aYv6KKJ//lhD6ijJ3s0zEklUSVN/NkAJC4omKBFn9ARVmdpIaLrF
GOJkvi8yb52/rcU9JMoUOaeFGjpIbkiMQ+/MrvQtPAEt74FIq/F09951pqxdotxY
0BDsTTUVSXOq3Td1fG23CJzZT4nxEB/cwa7MYJ8fvPCOVLpzgpWMfalEqECJmyC7
zbLXZtNWh90x
-----END CERTIFICATE-----
)";

constexpr std::string_view kGoRsaCertId = "ffaa5020a58336889579192b3eb6733d299a80d723b4d861723fe028d00cb100";

// Written by the real notary CLI 0.7.0: `notary -d D key generate ecdsa --role targets`
// (which printed "Generated new ecdsa targets key with keyID: 06cd11f0...") and then decrypted
// by hand (PBKDF2-HMAC-SHA1 with the file's salt and 2048 iterations via `openssl kdf`, then
// `openssl enc -d -aes-256-cbc`). PKCS#8 version 1, curve OID repeated inside the SEC1 key.
constexpr std::string_view kCliEcdsaPkcs8Hex =
    "308193020101301306072a8648ce3d020106082a8648ce3d030107047930770201010420f1eef0cdc48e48f4d297f2"
    "851de4286bf6a9dd89b53791fdebd451469436e207a00a06082a8648ce3d030107a14403420004f1f3f85f7792eb31"
    "b71ae2c45094603915c95072464da8ce71edda36eeddd77927a74fbfe728eec4d2e59683f6836b94e94361f3721349"
    "ad61e49c77d5c1a4b9";
constexpr std::string_view kCliEcdsaId =
    "06cd11f05e751fcfd1d49db47bc8d3d5e44669d5093fb3d096542be8d0f7c097";

// OpenSSL CLI: `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 | openssl pkey
// -pubout`; expected ID computed once with
//   B=$(openssl pkey -pubin -in pub.pem -outform DER | base64 -w0)
//   printf '%s' "{\"keytype\":\"ecdsa\",\"keyval\":{\"private\":null,\"public\":\"$B\"}}" | sha256sum
constexpr std::string_view kOpensslEcdsaPem = R"(-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEJieXTc46EIotQwvqBUDdige8yT9q
zRiT7tK/QM0qD8V5M3lXnHTdf5aWlfX7pUIIMoMT4+d3DHbWl4/HHqHdbw==
-----END PUBLIC KEY-----
)";
constexpr std::string_view kOpensslEcdsaId =
    "2f47cdf6733c23277c8c93ba1fc08461c1c8932d9ea59df794fd60dadb3947b7";

// `openssl genrsa 1024 | openssl pkey -pubout`
constexpr std::string_view kRsa1024Pem = R"(-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDAlUvHD2rwijxvZFXsERr+vUMj
aixXGqM1oDfHoR2wFSldHOuCprRFIRHI3cuSp40jcAUUJEGRZBB+AF1W02SFwbrm
qFJMSIvJgMVduVPV5f9hZ1lieGTmcRnWg3zy1E2qN5WJoCJJeUgTItQ+K8AiF2P+
vBd0oh+nWFYoIWEO3wIDAQAB
-----END PUBLIC KEY-----
)";

// `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 | openssl pkey -pubout`
constexpr std::string_view kP384Pem = R"(-----BEGIN PUBLIC KEY-----
MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEI6qQTD+lVrIv8bB+kPFIbX1tRt50tvp/
RcXtFMOtFN1mOeS0GnuNZLaQSicBgnJ6oQad5Z9lPJUcuamMDyMmEu1sSww5/mbL
LumwW+3M2WhK55ATggMeBylWM9cqUMZ2
-----END PUBLIC KEY-----
)";

// `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -sha1 -nodes
//  -subj '/CN=docker.io\/library\/alpine' -days 3650 -keyout /dev/null`
// (ecdsa-with-SHA1, valid 2026-11-28T21:43:56Z .. 2036-11-25T21:43:56Z).
constexpr std::string_view kSha1Cert = R"(-----BEGIN CERTIFICATE-----
MIIBmTCCAUCgAwIBAgIUd14CTUOq9JsiPtubKy7GitSvvcAwCQYHKoZIzj0EATAj
MSEwHwYDVQQDDBhkb2NrZXIuaW8vbGlicmFyeS9hbHBpbmUwHhcNMjYxMTI4MjE0
MzU2WhcNMzYxMTI1MjE0MzU2WjAjMSEwHwYDVQQDDBhkb2NrZXIuaW8vbGlicmFy
eS9hbHBpbmUwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQ/qiel+M0RnAkTpiaO
XJ2LmJbYRkAc01JlLiv5kLxLE5WE7Hmr/dYRs35uPUq7x13VGYahug2oXs//Fa/v
6dSco1MwUTAdBgNVHQ4EFgQUOCNJ2qTLJ8SI2JdiCCBOXw4lQZ8wHwYDVR0jBBgw
FoAUOCNJ2qTLJ8SI2JdiCCBOXw4lQZ8wDwYDVR0TAQH/BAUwAwEB/zAJBgcqhkjO
PQQBA0gAMEUCIFcS56pSfu179KQtHUPB/uYGsQhqj0RIsSzQZwvhSgknAiEAtA7L
BlnUUj8kTmdMh9iHQXq3OtGUqFLISla2TVGqLeE=
-----END CERTIFICATE-----
)";

// P-256 group order n.
constexpr std::string_view kP256OrderHex =
    "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";

// ---------------------------------------------------------------------------------------------
// Helpers.

Bytes hex(std::string_view h) {
  auto r = hex_decode(h);
  REQUIRE(r.ok());
  return *r;
}

Bytes b64(std::string_view s) {
  auto r = base64_decode(s);
  REQUIRE(r.ok());
  return *r;
}

TimePoint at(std::string_view rfc3339) {
  auto r = parse_rfc3339(rfc3339);
  REQUIRE(r.ok());
  return *r;
}

template <typename T>
Reason reason_of(const Result<T>& r) {
  return r.ok() ? Reason::kNone : r.error().reason;
}

ByteSpan msg() { return as_bytes(kNotaryMessage); }

PrivateKey gen(KeyType type) {
  auto k = PrivateKey::generate(type, 2048);
  REQUIRE(k.ok());
  return std::move(k).value();
}

Bytes sign(const PrivateKey& k, ByteSpan m) {
  auto s = k.sign(m);
  REQUIRE(s.ok());
  return *s;
}

std::vector<std::uint8_t> to_vec(ByteSpan b) { return {b.begin(), b.end()}; }

// OpenSSL's own PKCS#8 encoding of the key in `der` (parsed by OpenSSL), as an oracle for our
// hand-written standard flavor.
Bytes openssl_pkcs8(ByteSpan der) {
  const unsigned char* p = der.data();
  EVP_PKEY* pkey = d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(der.size()));
  REQUIRE(pkey != nullptr);
  PKCS8_PRIV_KEY_INFO* p8 = EVP_PKEY2PKCS8(pkey);
  REQUIRE(p8 != nullptr);
  unsigned char* out = nullptr;
  const int len = i2d_PKCS8_PRIV_KEY_INFO(p8, &out);
  REQUIRE(len > 0);
  Bytes result(out, out + len);
  OPENSSL_free(out);
  PKCS8_PRIV_KEY_INFO_free(p8);
  EVP_PKEY_free(pkey);
  return result;
}

// The DER of extension `nid` of a PEM certificate (empty if absent).
Bytes extension_der(std::string_view pem, int nid) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  REQUIRE(x != nullptr);
  Bytes out;
  const int idx = X509_get_ext_by_NID(x, nid, -1);
  if (idx >= 0) {
    unsigned char* der = nullptr;
    const int len = i2d_X509_EXTENSION(X509_get_ext(x, idx), &der);
    out.assign(der, der + len);
    OPENSSL_free(der);
  }
  X509_free(x);
  return out;
}

// ---------------------------------------------------------------------------------------------

TEST_CASE("sha256, sha512 and random_bytes") {
  // FIPS 180-2 "abc" vectors.
  CHECK(sha256_hex(as_bytes("abc")) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(hex_encode(sha512(as_bytes("abc"))) ==
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
        "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
  CHECK(hex_encode(sha256(ByteSpan())) ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  std::array<std::uint8_t, 32> a{};
  std::array<std::uint8_t, 32> b{};
  REQUIRE(random_bytes(a).ok());
  REQUIRE(random_bytes(b).ok());
  CHECK(a != b);
  CHECK(random_bytes(std::span<std::uint8_t>()).ok());
}

TEST_CASE("key type and method names") {
  for (KeyType t : {KeyType::kEcdsa, KeyType::kRsa, KeyType::kEd25519, KeyType::kEcdsaX509,
                    KeyType::kRsaX509}) {
    auto parsed = parse_key_type(to_string(t));
    REQUIRE(parsed.ok());
    CHECK(*parsed == t);
  }
  CHECK(to_string(KeyType::kEcdsaX509) == "ecdsa-x509");
  CHECK(reason_of(parse_key_type("ECDSA")) == Reason::kUnsupportedAlgorithm);
  CHECK(reason_of(parse_key_type("")) == Reason::kUnsupportedAlgorithm);
  CHECK(plain_key_type(KeyType::kRsaX509) == KeyType::kRsa);
  CHECK(plain_key_type(KeyType::kEd25519) == KeyType::kEd25519);
  CHECK(is_x509(KeyType::kEcdsaX509));
  CHECK_FALSE(is_x509(KeyType::kEcdsa));
  for (SigMethod m : {SigMethod::kEcdsa, SigMethod::kEddsa, SigMethod::kRsaPss,
                      SigMethod::kRsaPkcs1v15, SigMethod::kPyCryptoPss}) {
    auto parsed = parse_sig_method(to_string(m));
    REQUIRE(parsed.ok());
    CHECK(*parsed == m);
  }
  CHECK(to_string(SigMethod::kPyCryptoPss) == "pycrypto-pkcs#1 pss");
  CHECK(reason_of(parse_sig_method("rsassa-pss-sha256")) == Reason::kUnsupportedAlgorithm);
}

TEST_CASE("generate, sign, verify for every key type") {
  for (KeyType t : {KeyType::kEcdsa, KeyType::kEd25519, KeyType::kRsa}) {
    CAPTURE(to_string(t));
    PrivateKey k = gen(t);
    CHECK(k.type() == t);
    const PublicKey& pub = k.public_key();
    CHECK(pub.type() == t);
    CHECK(pub.id() == pub.canonical_id());
    CHECK(pub.id().size() == 64);
    CHECK(pub.certificate() == nullptr);
    const Bytes sig = sign(k, msg());
    CHECK(pub.verify(k.method(), msg(), sig).ok());

    std::string tampered(kNotaryMessage);
    tampered[3] = 'X';
    CHECK(reason_of(pub.verify(k.method(), as_bytes(tampered), sig)) == Reason::kBadSignature);
    Bytes bad = sig;
    bad[bad.size() / 2] ^= 0x01;
    CHECK(reason_of(pub.verify(k.method(), msg(), bad)) == Reason::kBadSignature);
    CHECK(reason_of(pub.verify(k.method(), msg(), ByteSpan())) == Reason::kBadSignature);

    // The public key survives a trip through its TUF form.
    auto again = PublicKey::from_tuf(pub.type(), pub.public_bytes());
    REQUIRE(again.ok());
    CHECK(again->id() == pub.id());
    CHECK(again->spki_der() == pub.spki_der());
    CHECK(again->verify(k.method(), msg(), sig).ok());
  }
  CHECK(gen(KeyType::kEcdsa).method() == SigMethod::kEcdsa);
  CHECK(gen(KeyType::kEd25519).method() == SigMethod::kEddsa);
  CHECK(sign(gen(KeyType::kEcdsa), msg()).size() == 64);
  CHECK(sign(gen(KeyType::kEd25519), msg()).size() == 64);
  CHECK(reason_of(PrivateKey::generate(KeyType::kEcdsaX509)) == Reason::kUnsupportedAlgorithm);
  CHECK(reason_of(PrivateKey::generate(KeyType::kRsa, 1024)) == Reason::kKeyTooSmall);
}

TEST_CASE("key ID vectors") {
  SUBCASE("OpenSSL CLI key, ID from sha256sum") {
    auto pub = PublicKey::from_pem(kOpensslEcdsaPem);
    REQUIRE(pub.ok());
    CHECK(pub->type() == KeyType::kEcdsa);
    CHECK(pub->id() == kOpensslEcdsaId);
    CHECK(pub->canonical_id() == kOpensslEcdsaId);
    CHECK(pub->tuf_json() == R"({"keytype":"ecdsa","keyval":{"private":null,"public":")" +
                                 base64_encode(pub->public_bytes()) + R"("}})");
    CHECK(sha256_hex(as_bytes(pub->tuf_json())) == kOpensslEcdsaId);
  }
  SUBCASE("Notary's own IDs") {
    auto ed = PublicKey::from_tuf(KeyType::kEd25519, b64(kGoEd25519Public));
    REQUIRE(ed.ok());
    CHECK(ed->id() == kGoEd25519Id);
    auto ec = PublicKey::from_tuf(KeyType::kEcdsa, b64(kGoEcdsaPublic));
    REQUIRE(ec.ok());
    CHECK(ec->id() == kGoEcdsaId);
    auto rsa = PublicKey::from_tuf(KeyType::kRsa, b64(kGoRsaPublic));
    REQUIRE(rsa.ok());
    CHECK(rsa->id() == kGoRsaId);
  }
  SUBCASE("x509 keys: id of the certificate, canonical_id of the plain key") {
    auto ec = PublicKey::from_tuf(KeyType::kEcdsaX509, as_bytes(kGoEcdsaCert));
    REQUIRE(ec.ok());
    CHECK(ec->id() == kGoEcdsaCertId);
    CHECK(ec->canonical_id() == kGoEcdsaId);
    CHECK(ec->spki_der() == b64(kGoEcdsaPublic));
    REQUIRE(ec->certificate() != nullptr);
    CHECK(ec->certificate()->common_name() == kNotaryGun);
    auto rsa = PublicKey::from_tuf(KeyType::kRsaX509, as_bytes(kGoRsaCert));
    REQUIRE(rsa.ok());
    CHECK(rsa->id() == kGoRsaCertId);
    CHECK(rsa->canonical_id() == kGoRsaId);
    // The wrong x509 type for the certificate's key.
    CHECK(reason_of(PublicKey::from_tuf(KeyType::kRsaX509, as_bytes(kGoEcdsaCert))) ==
          Reason::kMalformed);
  }
  SUBCASE("the real notary CLI's key") {
    auto k = PrivateKey::from_der(hex(kCliEcdsaPkcs8Hex));
    REQUIRE(k.ok());
    CHECK(k->public_key().id() == kCliEcdsaId);
  }
}

TEST_CASE("Notary's signatures verify") {
  auto ed = PublicKey::from_tuf(KeyType::kEd25519, b64(kGoEd25519Public));
  auto ec = PublicKey::from_tuf(KeyType::kEcdsa, b64(kGoEcdsaPublic));
  auto rsa = PublicKey::from_tuf(KeyType::kRsa, b64(kGoRsaPublic));
  auto ec509 = PublicKey::from_tuf(KeyType::kEcdsaX509, as_bytes(kGoEcdsaCert));
  auto rsa509 = PublicKey::from_tuf(KeyType::kRsaX509, as_bytes(kGoRsaCert));
  REQUIRE((ed.ok() && ec.ok() && rsa.ok() && ec509.ok() && rsa509.ok()));
  CHECK(ed->verify(SigMethod::kEddsa, msg(), b64(kGoEd25519Sig)).ok());
  CHECK(ec->verify(SigMethod::kEcdsa, msg(), b64(kGoEcdsaSig)).ok());
  CHECK(ec509->verify(SigMethod::kEcdsa, msg(), b64(kGoEcdsaSig)).ok());
  CHECK(rsa->verify(SigMethod::kRsaPss, msg(), b64(kGoRsaSig)).ok());
  CHECK(rsa509->verify(SigMethod::kRsaPss, msg(), b64(kGoRsaSig)).ok());
  // pycrypto-pkcs#1 pss: the same PSS check, on plain rsa keys only (verifiers.go).
  CHECK(rsa->verify(SigMethod::kPyCryptoPss, msg(), b64(kGoRsaSig)).ok());
  CHECK(reason_of(rsa509->verify(SigMethod::kPyCryptoPss, msg(), b64(kGoRsaSig))) ==
        Reason::kWrongMethod);
  // PSS, not PKCS#1 v1.5.
  CHECK(reason_of(rsa->verify(SigMethod::kRsaPkcs1v15, msg(), b64(kGoRsaSig))) ==
        Reason::kBadSignature);
}

TEST_CASE("Notary PKCS#8: read Notary's keys and write them back byte for byte") {
  for (auto [name, hex_der, id] :
       {std::tuple{"ed25519", kGoEd25519Pkcs8Hex, kGoEd25519Id},
        std::tuple{"ecdsa", kGoEcdsaPkcs8Hex, kGoEcdsaId}, std::tuple{"rsa", kGoRsaPkcs8Hex, kGoRsaId},
        std::tuple{"cli-ecdsa", kCliEcdsaPkcs8Hex, kCliEcdsaId}}) {
    CAPTURE(name);
    const Bytes der = hex(hex_der);
    auto k = PrivateKey::from_der(der);
    REQUIRE(k.ok());
    CHECK(k->public_key().id() == id);
    const SecretBytes notary = k->to_pkcs8_der(Pkcs8Flavor::kNotary);
    CHECK(to_vec(notary.span()) == der);
    // Our signature verifies with the key as Notary lists it.
    const Bytes sig = sign(*k, msg());
    CHECK(k->public_key().verify(k->method(), msg(), sig).ok());

    // The standard flavor is exactly what OpenSSL writes, and reads back to the same key.
    const SecretBytes standard = k->to_pkcs8_der(Pkcs8Flavor::kStandard);
    CHECK(to_vec(standard.span()) == openssl_pkcs8(standard.span()));
    auto back = PrivateKey::from_der(standard.span());
    REQUIRE(back.ok());
    CHECK(back->public_key().id() == id);
    CHECK(to_vec(back->to_pkcs8_der(Pkcs8Flavor::kNotary).span()) == der);
  }
  // Notary's Ed25519 layout: public || seed || public under 1.3.6.1.4.1.11591.15.1.
  const Bytes ed = hex(kGoEd25519Pkcs8Hex);
  CHECK(hex_encode(ByteSpan(ed).subspan(7, 11)) == "06092b06010401da470f01");
  CHECK(ed.size() == 2 + 3 + 13 + 2 + 96);
}

TEST_CASE("PKCS#8 round trips for fresh keys, both flavors") {
  for (KeyType t : {KeyType::kEcdsa, KeyType::kEd25519, KeyType::kRsa}) {
    CAPTURE(to_string(t));
    PrivateKey k = gen(t);
    for (Pkcs8Flavor f : {Pkcs8Flavor::kStandard, Pkcs8Flavor::kNotary}) {
      const SecretBytes der = k.to_pkcs8_der(f);
      auto back = PrivateKey::from_der(der.span());
      REQUIRE(back.ok());
      CHECK(back->type() == t);
      CHECK(back->public_key().id() == k.public_key().id());
      CHECK(k.public_key().verify(k.method(), msg(), sign(*back, msg())).ok());
    }
    const SecretBytes standard = k.to_pkcs8_der();
    CHECK(to_vec(standard.span()) == openssl_pkcs8(standard.span()));
  }
  // Ed25519 standard flavor uses RFC 8410's OID; Notary's the old one.
  PrivateKey ed = gen(KeyType::kEd25519);
  const SecretBytes std_der = ed.to_pkcs8_der(Pkcs8Flavor::kStandard);
  const SecretBytes notary_der = ed.to_pkcs8_der(Pkcs8Flavor::kNotary);
  CHECK(std_der.size() == 48);
  CHECK(hex_encode(std_der.span().subspan(7, 5)) == "06032b6570");
  CHECK(notary_der.size() == 116);
  CHECK(hex_encode(notary_der.span().subspan(7, 11)) == "06092b06010401da470f01");
}

TEST_CASE("PKCS#8 and private key rejections") {
  CHECK(reason_of(PrivateKey::from_der(ByteSpan())) == Reason::kMalformed);
  CHECK(reason_of(PrivateKey::from_der(as_bytes("not der"))) == Reason::kMalformed);

  Bytes ed = hex(kGoEd25519Pkcs8Hex);
  SUBCASE("Notary Ed25519 with mismatched public copies") {
    ed.back() ^= 0x01;  // the trailing public key copy
    CHECK(reason_of(PrivateKey::from_der(ed)) == Reason::kMalformed);
  }
  SUBCASE("Notary Ed25519 with a 64-byte seed || public body is read") {
    Bytes short_form = {0x30, 0x52, 0x02, 0x01, 0x00, 0x30, 0x0b};
    short_form.insert(short_form.end(), ed.begin() + 7, ed.begin() + 18);  // the OID
    short_form.insert(short_form.end(), {0x04, 0x40});
    short_form.insert(short_form.end(), ed.begin() + 20 + 32, ed.end());  // seed || public
    auto k = PrivateKey::from_der(short_form);
    REQUIRE(k.ok());
    CHECK(k->public_key().id() == kGoEd25519Id);
  }
  SUBCASE("Notary Ed25519 with a wrong length") {
    Bytes bad(ed.begin(), ed.end() - 1);
    bad[1] = static_cast<std::uint8_t>(bad[1] - 1);
    bad[19] = static_cast<std::uint8_t>(bad[19] - 1);
    CHECK(reason_of(PrivateKey::from_der(bad)) == Reason::kMalformed);
  }
  SUBCASE("trailing data") {
    Bytes ec = hex(kGoEcdsaPkcs8Hex);
    ec.push_back(0x00);
    CHECK(reason_of(PrivateKey::from_der(ec)) == Reason::kMalformed);
    ed.push_back(0x00);
    CHECK(reason_of(PrivateKey::from_der(ed)) == Reason::kMalformed);
  }
  SUBCASE("EC key whose public point is not its own") {
    Bytes ec = hex(kGoEcdsaPkcs8Hex);
    ec[ec.size() - 5] ^= 0x01;  // inside the embedded public point
    CHECK(PrivateKey::from_der(ec).error().reason == Reason::kMalformed);
  }
  SUBCASE("RSA below 2048 bits") {
    EVP_PKEY* small = EVP_RSA_gen(1024);
    REQUIRE(small != nullptr);
    unsigned char* der = nullptr;
    const int len = i2d_PrivateKey(small, &der);
    REQUIRE(len > 0);
    const Bytes pkcs1(der, der + len);
    OPENSSL_free(der);
    EVP_PKEY_free(small);
    CHECK(reason_of(PrivateKey::from_der(pkcs1)) == Reason::kKeyTooSmall);
  }
  SUBCASE("P-384") {
    EVP_PKEY* p384 = EVP_EC_gen("P-384");
    REQUIRE(p384 != nullptr);
    unsigned char* der = nullptr;
    const int len = i2d_PrivateKey(p384, &der);
    REQUIRE(len > 0);
    const Bytes sec1(der, der + len);
    OPENSSL_free(der);
    EVP_PKEY_free(p384);
    CHECK(reason_of(PrivateKey::from_der(sec1)) == Reason::kUnsupportedAlgorithm);
  }
}

TEST_CASE("ECDSA signatures: fixed 64-byte r||s with r, s in [1, n-1]") {
  PrivateKey k = gen(KeyType::kEcdsa);
  const PublicKey& pub = k.public_key();
  const Bytes sig = sign(k, msg());
  REQUIRE(pub.verify(SigMethod::kEcdsa, msg(), sig).ok());
  const Bytes n = hex(kP256OrderHex);
  auto check_bad = [&](const Bytes& s) {
    CHECK(reason_of(pub.verify(SigMethod::kEcdsa, msg(), s)) == Reason::kBadSignature);
  };

  check_bad(Bytes(sig.begin(), sig.end() - 1));  // 63 bytes
  Bytes longer = sig;
  longer.push_back(0);
  check_bad(longer);  // 65 bytes
  Bytes padded = {0};
  padded.insert(padded.end(), sig.begin(), sig.end() - 1);
  check_bad(padded);
  Bytes r0 = sig;
  std::fill(r0.begin(), r0.begin() + 32, 0);
  check_bad(r0);
  Bytes s0 = sig;
  std::fill(s0.begin() + 32, s0.end(), 0);
  check_bad(s0);
  Bytes rn = sig;
  std::copy(n.begin(), n.end(), rn.begin());
  check_bad(rn);
  Bytes sn = sig;
  std::copy(n.begin(), n.end(), sn.begin() + 32);
  check_bad(sn);
  Bytes sbig = sig;
  std::fill(sbig.begin() + 32, sbig.end(), 0xFF);
  check_bad(sbig);
  // A DER signature is not accepted either.
  check_bad(hex("3006020101020101"));

  // High s (n - s) is a valid ECDSA signature; Go's ecdsa.Verify accepts it, so Notary does,
  // and so do we.
  BIGNUM* bn_n = BN_bin2bn(n.data(), 32, nullptr);
  BIGNUM* bn_s = BN_bin2bn(sig.data() + 32, 32, nullptr);
  BIGNUM* bn_neg = BN_new();
  REQUIRE(BN_sub(bn_neg, bn_n, bn_s) == 1);
  Bytes flipped = sig;
  REQUIRE(BN_bn2binpad(bn_neg, flipped.data() + 32, 32) == 32);
  BN_free(bn_n);
  BN_free(bn_s);
  BN_free(bn_neg);
  CHECK(flipped != sig);
  CHECK(pub.verify(SigMethod::kEcdsa, msg(), flipped).ok());
}

TEST_CASE("method must match the key") {
  PrivateKey ec = gen(KeyType::kEcdsa);
  PrivateKey ed = gen(KeyType::kEd25519);
  PrivateKey rsa = gen(KeyType::kRsa);
  const Bytes ed_sig = sign(ed, msg());
  const Bytes ec_sig = sign(ec, msg());
  const Bytes rsa_sig = sign(rsa, msg());
  CHECK(reason_of(ec.public_key().verify(SigMethod::kEddsa, msg(), ed_sig)) ==
        Reason::kWrongMethod);
  CHECK(reason_of(ed.public_key().verify(SigMethod::kEcdsa, msg(), ec_sig)) ==
        Reason::kWrongMethod);
  CHECK(reason_of(ec.public_key().verify(SigMethod::kRsaPss, msg(), rsa_sig)) ==
        Reason::kWrongMethod);
  CHECK(reason_of(ed.public_key().verify(SigMethod::kPyCryptoPss, msg(), rsa_sig)) ==
        Reason::kWrongMethod);
  CHECK(reason_of(rsa.public_key().verify(SigMethod::kEcdsa, msg(), ec_sig)) ==
        Reason::kWrongMethod);
  CHECK(reason_of(rsa.public_key().verify(SigMethod::kEddsa, msg(), ed_sig)) ==
        Reason::kWrongMethod);
  // Right method, other key's signature.
  CHECK(reason_of(ec.public_key().verify(SigMethod::kEcdsa, msg(),
                                         sign(gen(KeyType::kEcdsa), msg()))) ==
        Reason::kBadSignature);
  // RSA signatures must be exactly modulus-sized.
  Bytes short_rsa(rsa_sig.begin() + 1, rsa_sig.end());
  CHECK(reason_of(rsa.public_key().verify(SigMethod::kRsaPss, msg(), short_rsa)) ==
        Reason::kBadSignature);
}

TEST_CASE("public key material checks") {
  CHECK(reason_of(PublicKey::from_pem(kRsa1024Pem)) == Reason::kKeyTooSmall);
  CHECK(reason_of(PublicKey::from_pem(kP384Pem)) == Reason::kUnsupportedAlgorithm);
  CHECK(reason_of(PublicKey::from_tuf(KeyType::kEd25519, Bytes(31, 1))) == Reason::kMalformed);
  CHECK(reason_of(PublicKey::from_tuf(KeyType::kEcdsa, b64(kGoRsaPublic))) == Reason::kMalformed);
  CHECK(reason_of(PublicKey::from_tuf(KeyType::kRsa, b64(kGoEcdsaPublic))) == Reason::kMalformed);
  CHECK(reason_of(PublicKey::from_tuf(KeyType::kEcdsa, as_bytes("garbage"))) ==
        Reason::kMalformed);
  CHECK(reason_of(PublicKey::from_tuf(KeyType::kEcdsaX509, b64(kGoEcdsaPublic))) ==
        Reason::kMalformed);
  Bytes trailing = b64(kGoEcdsaPublic);
  trailing.push_back(0);
  CHECK(reason_of(PublicKey::from_tuf(KeyType::kEcdsa, trailing)) == Reason::kMalformed);
  // RSA SPKI without the NULL parameters: Go rejects it, so do we.
  Bytes rsa = b64(kGoRsaPublic);
  REQUIRE(hex_encode(ByteSpan(rsa).first(19)) == "30820122300d06092a864886f70d0101010500");
  Bytes no_null = {0x30, 0x82, 0x01, 0x20, 0x30, 0x0b};
  no_null.insert(no_null.end(), rsa.begin() + 6, rsa.begin() + 17);
  no_null.insert(no_null.end(), rsa.begin() + 19, rsa.end());
  CHECK(reason_of(PublicKey::from_tuf(KeyType::kRsa, no_null)) == Reason::kMalformed);
  // Ed25519 SPKI becomes the raw form.
  PrivateKey ed = gen(KeyType::kEd25519);
  auto from_spki = PublicKey::from_spki_der(ed.public_key().spki_der());
  REQUIRE(from_spki.ok());
  CHECK(from_spki->type() == KeyType::kEd25519);
  CHECK(from_spki->public_bytes().size() == 32);
  CHECK(from_spki->id() == ed.public_key().id());
  CHECK(*from_spki == ed.public_key());
}

TEST_CASE("from_pem: PUBLIC KEY and CERTIFICATE") {
  auto ec = PublicKey::from_pem(kOpensslEcdsaPem);
  REQUIRE(ec.ok());
  CHECK(ec->type() == KeyType::kEcdsa);

  auto cert = PublicKey::from_pem(kGoEcdsaCert);
  REQUIRE(cert.ok());
  CHECK(cert->type() == KeyType::kEcdsaX509);
  CHECK(cert->id() == kGoEcdsaCertId);
  CHECK(cert->canonical_id() == kGoEcdsaId);
  auto rsa_cert = PublicKey::from_pem(kGoRsaCert);
  REQUIRE(rsa_cert.ok());
  CHECK(rsa_cert->type() == KeyType::kRsaX509);
  CHECK(rsa_cert->id() == kGoRsaCertId);

  // Notary re-encodes the certificate (CertToKey), so CRLF line breaks do not change the ID.
  std::string crlf;
  for (char c : kGoEcdsaCert) {
    if (c == '\n') crlf += '\r';
    crlf += c;
  }
  auto from_crlf = PublicKey::from_pem(crlf);
  REQUIRE(from_crlf.ok());
  CHECK(from_crlf->id() == kGoEcdsaCertId);
  CHECK(as_string_view(from_crlf->public_bytes()) == kGoEcdsaCert);

  CHECK(reason_of(PublicKey::from_pem("")) == Reason::kMalformed);
  CHECK(reason_of(PublicKey::from_pem("junk\n" + std::string(kOpensslEcdsaPem))) ==
        Reason::kMalformed);
  CHECK(reason_of(PublicKey::from_pem(std::string(kOpensslEcdsaPem) +
                                      std::string(kOpensslEcdsaPem))) == Reason::kMalformed);
  std::string with_header(kOpensslEcdsaPem);
  with_header.insert(with_header.find('\n') + 1, "role: root\n\n");
  CHECK(reason_of(PublicKey::from_pem(with_header)) == Reason::kMalformed);
  std::string other_type(kOpensslEcdsaPem);
  for (std::string_view from : {"BEGIN PUBLIC KEY", "END PUBLIC KEY"}) {
    const auto pos = other_type.find(from);
    other_type.replace(pos, from.size(), from.substr(0, 3) == "BEG" ? "BEGIN EC PARAMETERS"
                                                                    : "END EC PARAMETERS");
  }
  CHECK(reason_of(PublicKey::from_pem(other_type)) == Reason::kMalformed);
}

TEST_CASE("Certificate: Notary's root certificate") {
  auto cert = Certificate::from_pem(kGoEcdsaCert);
  REQUIRE(cert.ok());
  CHECK(cert->pem() == kGoEcdsaCert);
  CHECK(cert->common_name() == kNotaryGun);
  CHECK(cert->not_before() == at("2020-01-01T00:00:00Z"));
  CHECK(cert->not_after() == at("2030-01-01T00:00:00Z"));
  CHECK(cert->spki_der() == b64(kGoEcdsaPublic));
  CHECK_FALSE(cert->is_sha1_signed());
  CHECK(cert->check_root(kNotaryGun, at("2025-06-01T00:00:00Z")).ok());
  CHECK(reason_of(cert->check_root("docker.io/library/ubuntu", at("2025-06-01T00:00:00Z"))) ==
        Reason::kBadCertificate);
  CHECK(reason_of(cert->check_root("docker.io/library/alpin", at("2025-06-01T00:00:00Z"))) ==
        Reason::kBadCertificate);
  CHECK(reason_of(cert->check_root(kNotaryGun, at("2030-01-01T00:00:01Z"))) == Reason::kExpired);
  CHECK(cert->check_root(kNotaryGun, at("2030-01-01T00:00:00Z")).ok());
  // One day of leeway before not_before (utils.ValidateCertificate).
  CHECK(cert->check_root(kNotaryGun, at("2019-12-31T00:00:00Z")).ok());
  CHECK(reason_of(cert->check_root(kNotaryGun, at("2019-12-30T23:59:59Z"))) == Reason::kExpired);

  CHECK(reason_of(Certificate::from_pem(kOpensslEcdsaPem)) == Reason::kMalformed);
  CHECK(reason_of(Certificate::from_pem(std::string(kGoEcdsaCert) + std::string(kGoRsaCert))) ==
        Reason::kMalformed);
  CHECK(reason_of(Certificate::from_pem("x")) == Reason::kMalformed);
}

TEST_CASE("parse_certificate_bundle: every block in order, whitespace only between them") {
  const std::string ecdsa(kGoEcdsaCert);
  const std::string rsa(kGoRsaCert);
  auto both = parse_certificate_bundle("\n  " + ecdsa + "\r\n\n" + rsa + "\t\n");
  REQUIRE(both.ok());
  REQUIRE(both->size() == 2);
  CHECK((*both)[0].spki_der() == Certificate::from_pem(ecdsa)->spki_der());
  CHECK((*both)[1].spki_der() == Certificate::from_pem(rsa)->spki_der());
  CHECK(parse_certificate_bundle(ecdsa)->size() == 1);

  // A truncated or mixed-up bundle does not silently lose a CA.
  CHECK(reason_of(parse_certificate_bundle("")) == Reason::kMalformed);
  CHECK(reason_of(parse_certificate_bundle(" \n")) == Reason::kMalformed);
  CHECK(reason_of(parse_certificate_bundle("junk\n" + ecdsa)) == Reason::kMalformed);
  CHECK(reason_of(parse_certificate_bundle(ecdsa + "junk\n" + rsa)) == Reason::kMalformed);
  CHECK(reason_of(parse_certificate_bundle(ecdsa + "junk")) == Reason::kMalformed);
  CHECK(reason_of(parse_certificate_bundle(ecdsa + rsa.substr(0, rsa.size() / 2))) ==
        Reason::kMalformed);
  CHECK(reason_of(parse_certificate_bundle(std::string(kOpensslEcdsaPem))) == Reason::kMalformed);
}

TEST_CASE("Certificate: SHA-1 signed is refused") {
  auto cert = Certificate::from_pem(kSha1Cert);
  REQUIRE(cert.ok());
  CHECK(cert->is_sha1_signed());
  CHECK(cert->common_name() == kNotaryGun);
  CHECK(reason_of(cert->check_root(kNotaryGun, at("2030-01-01T00:00:00Z"))) ==
        Reason::kBadCertificate);
  // Usable as a key (validity is not checked there), but never as a valid root.
  CHECK(PublicKey::from_tuf(KeyType::kEcdsaX509, as_bytes(kSha1Cert)).ok());
}

TEST_CASE("make_root_certificate matches Notary's template") {
  const TimePoint start = at("2024-03-01T12:00:00.75Z");
  const TimePoint end = at("2034-03-01T12:00:00Z");
  for (KeyType t : {KeyType::kEcdsa, KeyType::kRsa}) {
    CAPTURE(to_string(t));
    PrivateKey k = gen(t);
    auto cert = make_root_certificate(k, kNotaryGun, start, end);
    REQUIRE(cert.ok());
    const std::string& pem = cert->pem();
    CHECK(pem.rfind("-----BEGIN CERTIFICATE-----\n", 0) == 0);
    CHECK(pem.size() > 30);
    CHECK(pem.substr(pem.size() - 26) == "-----END CERTIFICATE-----\n");
    CHECK(cert->common_name() == kNotaryGun);
    CHECK(cert->not_before() == at("2024-03-01T12:00:00Z"));  // whole seconds
    CHECK(cert->not_after() == end);
    CHECK(cert->spki_der() == k.public_key().spki_der());
    CHECK_FALSE(cert->is_sha1_signed());
    CHECK(cert->check_root(kNotaryGun, at("2026-01-01T00:00:00Z")).ok());
    CHECK(reason_of(cert->check_root("docker.io/library/other", at("2026-01-01T00:00:00Z"))) ==
          Reason::kBadCertificate);
    CHECK(reason_of(cert->check_root(kNotaryGun, at("2034-03-02T00:00:00Z"))) ==
          Reason::kExpired);

    // The same extensions, byte for byte, as the certificate Notary made.
    const std::string_view go_cert = t == KeyType::kEcdsa ? kGoEcdsaCert : kGoRsaCert;
    for (int nid : {NID_key_usage, NID_ext_key_usage, NID_basic_constraints}) {
      CAPTURE(nid);
      const Bytes ours = extension_der(pem, nid);
      CHECK_FALSE(ours.empty());
      CHECK(ours == extension_der(go_cert, nid));
    }
    CHECK(extension_der(pem, NID_subject_key_identifier).empty());
    CHECK(extension_der(pem, NID_authority_key_identifier).empty());

    // Self-signed with SHA-256, a positive serial of at most 128 bits, CN as PrintableString.
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    REQUIRE(x != nullptr);
    CHECK(X509_get_version(x) == X509_VERSION_3);
    CHECK(X509_verify(x, X509_get0_pubkey(x)) == 1);
    CHECK(X509_get_signature_nid(x) ==
          (t == KeyType::kEcdsa ? NID_ecdsa_with_SHA256 : NID_sha256WithRSAEncryption));
    BIGNUM* serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), nullptr);
    CHECK(BN_num_bits(serial) <= 128);
    CHECK(BN_is_negative(serial) == 0);
    CHECK(BN_is_zero(serial) == 0);
    BN_free(serial);
    CHECK(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0);
    const X509_NAME_ENTRY* cn = X509_NAME_get_entry(X509_get_subject_name(x), 0);
    CHECK(ASN1_STRING_type(X509_NAME_ENTRY_get_data(cn)) == V_ASN1_PRINTABLESTRING);
    X509_free(x);

    // As a TUF key: the x509 ID differs; the canonical ID is the plain key's.
    auto pub = PublicKey::from_tuf(t == KeyType::kEcdsa ? KeyType::kEcdsaX509 : KeyType::kRsaX509,
                                   as_bytes(pem));
    REQUIRE(pub.ok());
    CHECK(pub->id() != k.public_key().id());
    CHECK(pub->canonical_id() == k.public_key().id());
    CHECK(pub->spki_der() == k.public_key().spki_der());
    CHECK(pub->verify(k.method(), msg(), sign(k, msg())).ok());
  }
  CHECK(reason_of(make_root_certificate(gen(KeyType::kEd25519), kNotaryGun, start, end)) ==
        Reason::kUnsupportedAlgorithm);
  auto utf8 = make_root_certificate(gen(KeyType::kEcdsa), "example.com/a_b", start, end);
  REQUIRE(utf8.ok());
  CHECK(utf8->common_name() == "example.com/a_b");
  // GUNs longer than X.520's 64-character CN bound work (Go has no such limit either).
  const std::string long_gun = "registry.example.com:5000/" + std::string(100, 'a');
  auto long_cert = make_root_certificate(gen(KeyType::kEcdsa), long_gun, start, end);
  REQUIRE(long_cert.ok());
  CHECK(long_cert->common_name() == long_gun);
  CHECK(long_cert->check_root(long_gun, at("2026-01-01T00:00:00Z")).ok());
  PrivateKey ec = gen(KeyType::kEcdsa);
  CHECK(reason_of(make_root_certificate(ec, "", start, end)) == Reason::kBadGun);
  CHECK(reason_of(make_root_certificate(ec, "bad\xff", start, end)) == Reason::kBadGun);
  CHECK(reason_of(make_root_certificate(ec, "over\xc0\xafong", start, end)) == Reason::kBadGun);
  CHECK(reason_of(make_root_certificate(ec, std::string(256, 'a'), start, end)) ==
        Reason::kBadGun);
  auto unicode = make_root_certificate(ec, "example.com/\xc3\xbc", start, end);
  REQUIRE(unicode.ok());
  CHECK(unicode->common_name() == "example.com/\xc3\xbc");
  // Years past 2049 use GeneralizedTime; the round trip still holds.
  auto far = make_root_certificate(gen(KeyType::kEcdsa), kNotaryGun, start,
                                   at("2124-03-01T12:00:00Z"));
  REQUIRE(far.ok());
  CHECK(far->not_after() == at("2124-03-01T12:00:00Z"));
}

// ---------------------------------------------------------------------------------------------
// Differential tests: Botan 2 as an independent implementation.

TEST_CASE("Botan oracle: ECDSA P-256 raw r||s") {
  Botan::AutoSeeded_RNG rng;
  SUBCASE("OpenSSL signs, Botan verifies") {
    PrivateKey k = gen(KeyType::kEcdsa);
    std::unique_ptr<Botan::Public_Key> bpub(Botan::X509::load_key(k.public_key().spki_der()));
    Botan::PK_Verifier verifier(*bpub, "EMSA1(SHA-256)", Botan::IEEE_1363);
    for (int i = 0; i < 8; ++i) {
      const std::string m = std::string(kNotaryMessage) + std::to_string(i);
      const Bytes sig = sign(k, as_bytes(m));
      CHECK(verifier.verify_message(as_bytes(m).data(), m.size(), sig.data(), sig.size()));
    }
  }
  SUBCASE("Botan signs, we verify") {
    Botan::ECDSA_PrivateKey bkey(rng, Botan::EC_Group("secp256r1"));
    auto pub = PublicKey::from_spki_der(Botan::X509::BER_encode(bkey));
    REQUIRE(pub.ok());
    CHECK(pub->type() == KeyType::kEcdsa);
    Botan::PK_Signer signer(bkey, rng, "EMSA1(SHA-256)", Botan::IEEE_1363);
    for (int i = 0; i < 8; ++i) {
      const std::string m = std::string(kNotaryMessage) + std::to_string(i);
      const std::vector<std::uint8_t> sig = signer.sign_message(as_bytes(m).data(), m.size(), rng);
      REQUIRE(sig.size() == 64);
      CHECK(pub->verify(SigMethod::kEcdsa, as_bytes(m), sig).ok());
    }
  }
}

TEST_CASE("Botan oracle: Ed25519") {
  Botan::AutoSeeded_RNG rng;
  SUBCASE("OpenSSL signs, Botan verifies") {
    PrivateKey k = gen(KeyType::kEd25519);
    Botan::Ed25519_PublicKey bpub(to_vec(k.public_key().public_bytes()));
    Botan::PK_Verifier verifier(bpub, "Pure");
    const Bytes sig = sign(k, msg());
    CHECK(verifier.verify_message(msg().data(), msg().size(), sig.data(), sig.size()));
    // And Botan reads our standard PKCS#8 and signs identically (Ed25519 is deterministic).
    const SecretBytes der = k.to_pkcs8_der(Pkcs8Flavor::kStandard);
    Botan::DataSource_Memory src(der.data(), der.size());
    std::unique_ptr<Botan::Private_Key> bpriv(Botan::PKCS8::load_key(src));
    Botan::PK_Signer signer(*bpriv, rng, "Pure");
    CHECK(signer.sign_message(msg().data(), msg().size(), rng) == sig);
  }
  SUBCASE("Botan signs, we verify") {
    Botan::Ed25519_PrivateKey bkey(rng);
    auto pub = PublicKey::from_tuf(KeyType::kEd25519, bkey.get_public_key());
    REQUIRE(pub.ok());
    Botan::PK_Signer signer(bkey, rng, "Pure");
    const std::vector<std::uint8_t> sig = signer.sign_message(msg().data(), msg().size(), rng);
    CHECK(pub->verify(SigMethod::kEddsa, msg(), sig).ok());
    // Botan's SPKI encoding gives the same key.
    auto via_spki = PublicKey::from_spki_der(Botan::X509::BER_encode(bkey));
    REQUIRE(via_spki.ok());
    CHECK(via_spki->id() == pub->id());
  }
}

TEST_CASE("Botan oracle: RSA-PSS SHA-256 salt 32, and PKCS#1 v1.5") {
  Botan::AutoSeeded_RNG rng;
  // Notary's RSA key (doctest re-runs this body per SUBCASE; generating 2048-bit keys each
  // time would dominate the run). Fresh RSA keys are covered by the tests above.
  auto loaded = PrivateKey::from_der(hex(kGoRsaPkcs8Hex));
  REQUIRE(loaded.ok());
  const PrivateKey& k = *loaded;
  const SecretBytes der = k.to_pkcs8_der(Pkcs8Flavor::kStandard);
  Botan::DataSource_Memory src(der.data(), der.size());
  std::unique_ptr<Botan::Private_Key> bkey(Botan::PKCS8::load_key(src));
  REQUIRE(bkey->algo_name() == "RSA");
  // The public key Botan derives from our PKCS#8 is ours.
  CHECK(Botan::X509::BER_encode(*bkey) == k.public_key().spki_der());

  SUBCASE("OpenSSL signs, Botan verifies") {
    Botan::PK_Verifier verifier(*bkey, "PSSR(SHA-256,MGF1,32)");
    const Bytes sig = sign(k, msg());
    CHECK(verifier.verify_message(msg().data(), msg().size(), sig.data(), sig.size()));
    Botan::PK_Verifier emsa4(*bkey, "EMSA4(SHA-256)");
    CHECK(emsa4.verify_message(msg().data(), msg().size(), sig.data(), sig.size()));
  }
  SUBCASE("Botan signs, we verify") {
    Botan::PK_Signer signer(*bkey, rng, "EMSA4(SHA-256)");
    const std::vector<std::uint8_t> sig = signer.sign_message(msg().data(), msg().size(), rng);
    CHECK(k.public_key().verify(SigMethod::kRsaPss, msg(), sig).ok());
    CHECK(k.public_key().verify(SigMethod::kPyCryptoPss, msg(), sig).ok());
    CHECK(reason_of(k.public_key().verify(SigMethod::kRsaPkcs1v15, msg(), sig)) ==
          Reason::kBadSignature);
  }
  SUBCASE("salt length other than 32 is rejected") {
    Botan::PK_Signer signer(*bkey, rng, "PSSR(SHA-256,MGF1,20)");
    const std::vector<std::uint8_t> sig = signer.sign_message(msg().data(), msg().size(), rng);
    CHECK(reason_of(k.public_key().verify(SigMethod::kRsaPss, msg(), sig)) ==
          Reason::kBadSignature);
  }
  SUBCASE("PKCS#1 v1.5 from Botan") {
    Botan::PK_Signer signer(*bkey, rng, "EMSA3(SHA-256)");
    const std::vector<std::uint8_t> sig = signer.sign_message(msg().data(), msg().size(), rng);
    CHECK(k.public_key().verify(SigMethod::kRsaPkcs1v15, msg(), sig).ok());
    CHECK(reason_of(k.public_key().verify(SigMethod::kRsaPss, msg(), sig)) ==
          Reason::kBadSignature);
  }
}

// ---------------------------------------------------------------------------------------------

TEST_CASE("verification is thread-safe on a shared key") {
  PrivateKey ec = gen(KeyType::kEcdsa);
  PrivateKey ed = gen(KeyType::kEd25519);
  const PublicKey ec_pub = ec.public_key();
  const PublicKey ed_pub = ed.public_key();
  const Bytes ec_sig = sign(ec, msg());
  const Bytes ed_sig = sign(ed, msg());
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        if (!ec_pub.verify(SigMethod::kEcdsa, msg(), ec_sig).ok()) ++failures;
        if (!ed_pub.verify(SigMethod::kEddsa, msg(), ed_sig).ok()) ++failures;
        if (!ec.sign(msg()).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(failures.load() == 0);
}

TEST_CASE("MemorySigner") {
  testing::MemorySigner signer;
  auto created = signer.create_key("docker.io/x", "targets", KeyType::kEd25519);
  REQUIRE(created.ok());
  auto sig = signer.sign(*created, msg());
  REQUIRE(sig.ok());
  CHECK(sig->method == SigMethod::kEddsa);
  CHECK(created->verify(sig->method, msg(), sig->bytes).ok());

  // A root key listed as ecdsa-x509 signs with its plain key.
  PrivateKey root = gen(KeyType::kEcdsa);
  auto cert = make_root_certificate(root, kNotaryGun, at("2024-01-01T00:00:00Z"),
                                    at("2034-01-01T00:00:00Z"));
  REQUIRE(cert.ok());
  const PublicKey plain = signer.add_key(std::move(root));
  auto x509_key = PublicKey::from_tuf(KeyType::kEcdsaX509, as_bytes(cert->pem()));
  REQUIRE(x509_key.ok());
  auto root_sig = signer.sign(*x509_key, msg());
  REQUIRE(root_sig.ok());
  CHECK(x509_key->verify(root_sig->method, msg(), root_sig->bytes).ok());
  CHECK(signer.size() == 2);

  auto fetched = signer.public_key(plain.id());
  REQUIRE(fetched.ok());
  CHECK(*fetched == plain);
  CHECK(reason_of(signer.public_key("00")) == Reason::kUnknownKey);
  auto stranger = gen(KeyType::kEcdsa);
  CHECK(reason_of(signer.sign(stranger.public_key(), msg())) == Reason::kUnknownKey);
}

}  // namespace
}  // namespace vouch::keys
