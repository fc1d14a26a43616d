#pragma once

// TLS contexts from PEM files, and what a peer certificate says about its holder.
// OpenSSL only (no Asio here: this header is cheap to include). The server contexts built here
// are what HttpServer uses; gRPC (signer) and libcurl (client) configure TLS themselves but
// share the same file conventions and can use load_certificate_chain()/check_key_pair() to
// fail early with the same clear errors.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

// OpenSSL types, declared here so that this header does not pull in <openssl/ssl.h>.
typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
typedef struct x509_st X509;

namespace vouch::net {

struct SslCtxDeleter {
  void operator()(SSL_CTX* ctx) const;
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;

struct X509Deleter {
  void operator()(X509* cert) const;
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;

// Server side. Every file is PEM. The key must be unencrypted (Kubernetes Secrets and
// cert-manager write them so): an encrypted key is refused, never prompted for.
struct TlsServerConfig {
  std::string cert_file;       // leaf certificate first, then intermediates; empty = no TLS
  std::string key_file;        // private key of the leaf (PKCS#8, PKCS#1 or SEC1)
  std::string client_ca_file;  // CA bundle for client certificates; empty = do not ask for one
  // With client_ca_file: refuse the handshake when the client sends no certificate (mTLS).
  // Without it the certificate is optional but still verified when sent. The signer sets
  // this to true always (REFERENCE §9: mTLS is mandatory there).
  bool require_client_cert = false;

  bool enabled() const { return !cert_file.empty(); }
};

// Client side (tests, tools that talk to our servers).
struct TlsClientConfig {
  std::string ca_file;    // CA bundle to verify the server; empty = the system's default paths
  std::string cert_file;  // client certificate for mTLS; empty = none
  std::string key_file;   // its key (unencrypted PEM)
  bool verify_peer = true;  // false only for tests; never from user input without a warning
};

// Builds a server SSL_CTX: TLS 1.2 and 1.3 only, no compression, no renegotiation, server
// cipher preference, session tickets with a per-context key, ECDHE groups X25519/P-256/P-384.
// Errors (Reason in parentheses; the message names the file):
//   a file missing or unreadable                      (kIo, Code kFailedPrecondition)
//   not PEM / not a certificate / encrypted key       (kMalformed)
//   the key does not match the certificate            (kBadCertificate)
//   cert_file empty, or key_file empty                (kMalformed, Code kInvalidArgument)
Result<SslCtxPtr> make_server_ssl_ctx(const TlsServerConfig& config);

// Builds a client SSL_CTX: TLS >= 1.2, peer verification on unless verify_peer is false.
// Hostname checks are the caller's (SSL_set1_host per connection). Errors as above.
Result<SslCtxPtr> make_client_ssl_ctx(const TlsClientConfig& config);

// Reads every certificate of a PEM file (at least one). Errors as above.
Result<std::vector<X509Ptr>> load_certificate_chain(const std::string& path);

// Checks that the PEM key in key_file matches the first certificate of cert_file (what
// make_server_ssl_ctx checks), for components that hand the files to another TLS stack.
Status check_key_pair(const std::string& cert_file, const std::string& key_file);

// What a certificate says about its holder.
struct PeerCertificate {
  std::string subject;      // RFC 2253 form, e.g. "CN=vouch-server,O=example"
  std::string common_name;  // the last CN of the subject, empty if none
  std::string issuer;       // RFC 2253 form
  std::vector<std::string> dns_names;  // subjectAltName dNSName entries
  std::vector<std::string> uris;       // subjectAltName URI entries (SPIFFE IDs)
  std::vector<std::string> ip_addresses;  // subjectAltName iPAddress entries, as text
  std::string sha256_fingerprint;         // hex of SHA-256 over the DER certificate
};

// Extracts the fields above. kMalformed if the certificate cannot be read.
Result<PeerCertificate> describe_certificate(X509* cert);

// The verified peer certificate of an established connection, or nullopt-like error
// (Reason::kNotFound) when the peer sent none. Only meaningful after the handshake, and only
// "verified" if the context verified peers (SSL_VERIFY_PEER and a CA configured).
Result<PeerCertificate> peer_certificate(const SSL* ssl);

}  // namespace vouch::net
