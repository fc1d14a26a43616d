#include "common/net/tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>
#include <iterator>

#include "common/encoding.h"
#include "common/fs.h"

namespace vouch::net {

void SslCtxDeleter::operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
void X509Deleter::operator()(X509* cert) const { X509_free(cert); }

namespace {

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
struct GeneralNamesDeleter {
  void operator()(GENERAL_NAMES* g) const { GENERAL_NAMES_free(g); }
};

// PEM files we read are certificates and keys: a few KiB. The bound keeps a misconfigured path
// (a log file, /dev/zero) from eating memory.
constexpr std::size_t kMaxPemFileBytes = 4 * 1024 * 1024;

// The first queued OpenSSL error as text, and clears the queue.
std::string openssl_error() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return buf;
}

// common/fs.h's bounded reader (one allocation, never waits on a FIFO), with this file's
// errors: Code kFailedPrecondition, kTooLarge or kIo, naming `what`.
Result<std::string> read_pem_file(const std::string& path, std::string_view what) {
  auto data = read_file_bounded(path, kMaxPemFileBytes);
  if (!data) {
    const Reason reason =
        data.error().reason == Reason::kTooLarge ? Reason::kTooLarge : Reason::kIo;
    return make_error(Code::kFailedPrecondition, reason,
                      std::string(what) + " " + data.error().message);
  }
  return data;
}

BioPtr mem_bio(const std::string& data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

// Never prompt for a passphrase on a terminal: an encrypted key is a configuration error.
int no_passphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*u*/) { return -1; }

Result<std::vector<X509Ptr>> parse_certificates(const std::string& data, const std::string& path) {
  BioPtr bio = mem_bio(data);
  if (!bio) return make_error(Reason::kInternal, "BIO_new_mem_buf failed");
  std::vector<X509Ptr> chain;
  while (true) {
    X509* cert = PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr);
    if (cert == nullptr) break;
    chain.emplace_back(cert);
  }
  unsigned long err = ERR_peek_last_error();
  // Running out of PEM blocks is the normal end; any other error is a broken block.
  if (err != 0 && !(ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE)) {
    std::string detail = openssl_error();
    return make_error(Reason::kMalformed, "certificate file " + path + ": " + detail);
  }
  ERR_clear_error();
  if (chain.empty()) {
    return make_error(Reason::kMalformed, "certificate file " + path + ": no PEM certificate");
  }
  return chain;
}

Result<PkeyPtr> load_private_key(const std::string& path) {
  VOUCH_ASSIGN_OR_RETURN(std::string data, read_pem_file(path, "key file"));
  if (data.find("ENCRYPTED") != std::string::npos) {
    return make_error(Reason::kMalformed,
                      "key file " + path + ": encrypted keys are not supported for TLS");
  }
  BioPtr bio = mem_bio(data);
  if (!bio) return make_error(Reason::kInternal, "BIO_new_mem_buf failed");
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  // The PEM text held key material; wipe our copy.
  OPENSSL_cleanse(data.data(), data.size());
  if (!key) {
    std::string detail = openssl_error();
    return make_error(Reason::kMalformed, "key file " + path + ": no usable private key (" +
                                              detail + ")");
  }
  return key;
}

Status use_cert_and_key(SSL_CTX* ctx, const std::string& cert_file, const std::string& key_file) {
  VOUCH_ASSIGN_OR_RETURN(auto chain, load_certificate_chain(cert_file));
  VOUCH_ASSIGN_OR_RETURN(PkeyPtr key, load_private_key(key_file));
  if (SSL_CTX_use_certificate(ctx, chain.front().get()) != 1) {
    std::string detail = openssl_error();
    return make_error(Reason::kBadCertificate,
                      "certificate file " + cert_file + ": unusable certificate (" + detail + ")");
  }
  for (std::size_t i = 1; i < chain.size(); ++i) {
    if (SSL_CTX_add1_chain_cert(ctx, chain[i].get()) != 1) {
      std::string detail = openssl_error();
      return make_error(Reason::kBadCertificate,
                        "certificate file " + cert_file + ": bad chain certificate (" + detail + ")");
    }
  }
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1) {
    ERR_clear_error();
    return make_error(Reason::kBadCertificate,
                      "key file " + key_file + " does not match certificate " + cert_file);
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    return make_error(Reason::kBadCertificate,
                      "key file " + key_file + " does not match certificate " + cert_file);
  }
  return ok_status();
}

Status use_ca_file(SSL_CTX* ctx, const std::string& ca_file, bool set_client_ca_list) {
  VOUCH_ASSIGN_OR_RETURN(auto cas, load_certificate_chain(ca_file));
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  for (auto& ca : cas) {
    if (X509_STORE_add_cert(store, ca.get()) != 1) {
      unsigned long err = ERR_peek_last_error();
      if (ERR_GET_REASON(err) != X509_R_CERT_ALREADY_IN_HASH_TABLE) {
        std::string detail = openssl_error();
        return make_error(Reason::kBadCertificate, "CA file " + ca_file + ": " + detail);
      }
      ERR_clear_error();
    }
    if (set_client_ca_list && SSL_CTX_add_client_CA(ctx, ca.get()) != 1) {
      std::string detail = openssl_error();
      return make_error(Reason::kBadCertificate, "CA file " + ca_file + ": " + detail);
    }
  }
  return ok_status();
}

// A new context for `method` with what servers and clients share: TLS 1.2 or later, forward
// secrecy and AEAD suites, no compression or renegotiation, no passphrase prompt.
Result<SslCtxPtr> new_ssl_ctx(const SSL_METHOD* method) {
  ERR_clear_error();
  SslCtxPtr owned(SSL_CTX_new(method));
  if (!owned) return make_error(Reason::kInternal, "SSL_CTX_new: " + openssl_error());
  SSL_CTX* ctx = owned.get();
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
    return make_error(Reason::kInternal, "SSL_CTX_set_min_proto_version: " + openssl_error());
  }
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  // TLS 1.2 suites: forward secrecy and AEAD only (TLS 1.3 suites are all fine by default).
  if (SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20") != 1) {
    return make_error(Reason::kInternal, "SSL_CTX_set_cipher_list: " + openssl_error());
  }
  if (SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384") != 1) {
    return make_error(Reason::kInternal, "SSL_CTX_set1_groups_list: " + openssl_error());
  }
  SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
  return owned;
}

}  // namespace

Result<std::vector<X509Ptr>> load_certificate_chain(const std::string& path) {
  VOUCH_ASSIGN_OR_RETURN(std::string data, read_pem_file(path, "certificate file"));
  return parse_certificates(data, path);
}

Status check_key_pair(const std::string& cert_file, const std::string& key_file) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) return make_error(Reason::kInternal, "SSL_CTX_new: " + openssl_error());
  return use_cert_and_key(ctx.get(), cert_file, key_file);
}

Result<SslCtxPtr> make_server_ssl_ctx(const TlsServerConfig& config) {
  if (config.cert_file.empty() || config.key_file.empty()) {
    return make_error(Code::kInvalidArgument, Reason::kMalformed,
                      "TLS needs both a certificate file and a key file");
  }
  if (config.require_client_cert && config.client_ca_file.empty()) {
    return make_error(Code::kInvalidArgument, Reason::kMalformed,
                      "require_client_cert needs a client CA file");
  }
  VOUCH_ASSIGN_OR_RETURN(SslCtxPtr ctx, new_ssl_ctx(TLS_server_method()));
  SSL_CTX_set_options(ctx.get(), SSL_OP_CIPHER_SERVER_PREFERENCE);
  VOUCH_RETURN_IF_ERROR(use_cert_and_key(ctx.get(), config.cert_file, config.key_file));
  if (!config.client_ca_file.empty()) {
    VOUCH_RETURN_IF_ERROR(use_ca_file(ctx.get(), config.client_ca_file, true));
    int mode = SSL_VERIFY_PEER;
    if (config.require_client_cert) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx.get(), mode, nullptr);
    SSL_CTX_set_verify_depth(ctx.get(), 8);
  }
  // Session resumption with client verification needs a session ID context.
  static constexpr unsigned char kSessionContext[] = "vouch";
  SSL_CTX_set_session_id_context(ctx.get(), kSessionContext, sizeof(kSessionContext) - 1);
  return ctx;
}

Result<SslCtxPtr> make_client_ssl_ctx(const TlsClientConfig& config) {
  if (config.cert_file.empty() != config.key_file.empty()) {
    return make_error(Code::kInvalidArgument, Reason::kMalformed,
                      "a client certificate needs both a certificate file and a key file");
  }
  VOUCH_ASSIGN_OR_RETURN(SslCtxPtr ctx, new_ssl_ctx(TLS_client_method()));
  if (!config.cert_file.empty()) {
    VOUCH_RETURN_IF_ERROR(use_cert_and_key(ctx.get(), config.cert_file, config.key_file));
  }
  if (config.verify_peer) {
    if (config.ca_file.empty()) {
      if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1) {
        return make_error(Reason::kInternal, "default CA paths: " + openssl_error());
      }
    } else {
      VOUCH_RETURN_IF_ERROR(use_ca_file(ctx.get(), config.ca_file, false));
    }
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  }
  return ctx;
}

namespace {

std::string name_to_string(const X509_NAME* name) {
  if (name == nullptr) return {};
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) return {};
  // RFC 2253 order and escaping, UTF-8 kept as is (not \-escaped).
  if (X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0) {
    return {};
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  if (len <= 0 || data == nullptr) return {};
  return std::string(data, static_cast<std::size_t>(len));
}

std::string asn1_string_text(const ASN1_STRING* s) {
  if (s == nullptr) return {};
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, s);
  if (len < 0 || utf8 == nullptr) return {};
  std::string out(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

}  // namespace

Result<PeerCertificate> describe_certificate(X509* cert) {
  if (cert == nullptr) return make_error(Reason::kMalformed, "no certificate");
  PeerCertificate out;
  const X509_NAME* subject = X509_get_subject_name(cert);
  out.subject = name_to_string(subject);
  out.issuer = name_to_string(X509_get_issuer_name(cert));
  int idx = -1;
  int last = -1;
  while ((idx = X509_NAME_get_index_by_NID(subject, NID_commonName, idx)) >= 0) last = idx;
  if (last >= 0) {
    out.common_name = asn1_string_text(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, last)));
  }
  std::unique_ptr<GENERAL_NAMES, GeneralNamesDeleter> sans(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (sans) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans.get()); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans.get(), i);
      switch (gn->type) {
        case GEN_DNS:
          out.dns_names.push_back(asn1_string_text(gn->d.dNSName));
          break;
        case GEN_URI:
          out.uris.push_back(asn1_string_text(gn->d.uniformResourceIdentifier));
          break;
        case GEN_IPADD: {
          const ASN1_OCTET_STRING* ip = gn->d.iPAddress;
          char text[INET6_ADDRSTRLEN] = {};
          int len = ASN1_STRING_length(ip);
          const unsigned char* bytes = ASN1_STRING_get0_data(ip);
          if (len == 4 && inet_ntop(AF_INET, bytes, text, sizeof(text)) != nullptr) {
            out.ip_addresses.emplace_back(text);
          } else if (len == 16 && inet_ntop(AF_INET6, bytes, text, sizeof(text)) != nullptr) {
            out.ip_addresses.emplace_back(text);
          }
          break;
        }
        default:
          break;
      }
    }
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &md_len) != 1) {
    return make_error(Reason::kMalformed, "certificate digest: " + openssl_error());
  }
  out.sha256_fingerprint = hex_encode(ByteSpan(md, md_len));
  return out;
}

Result<PeerCertificate> peer_certificate(const SSL* ssl) {
  if (ssl == nullptr) return make_error(Reason::kNotFound, "no TLS connection");
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) return make_error(Reason::kNotFound, "peer sent no certificate");
  return describe_certificate(cert);
}

}  // namespace vouch::net
