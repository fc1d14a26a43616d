#pragma once

// A small HTTP(S) client over libcurl for talking to a Notary server (client/remote.h) and, later,
// for the verifier. It does what the notary CLI's transport does (cmd/notary/tuf.go getTransport
// and tokenAuth, docker/distribution's registry/client/auth):
//
//  - TLS >= 1.2. With `ca_file` only that bundle is trusted (Notary's ExclusiveRootPools);
//    without it the system's default CAs. A client certificate for mTLS (`--tlscert/--tlskey`,
//    remote_server.tls_client_cert/tls_client_key). Certificate checks can be turned off
//    (remote_server.skipTLSVerify) only explicitly.
//  - Proxies from the environment (http_proxy, https_proxy, no_proxy: libcurl's default).
//  - Authentication: a request answered 401 with `WWW-Authenticate: Bearer realm=..,service=..,
//    scope=..` gets a token from the realm (GET <realm>?service=..&scope=..[&account=<user>],
//    with HTTP Basic credentials when configured, anonymous otherwise) and is sent again with
//    `Authorization: Bearer <token>`; a `Basic` challenge is answered with the credentials.
//    Tokens are cached for the life of the client (per realm, service and scope) and the last
//    accepted authorization is sent with later requests to the same origin, so a session asks
//    the token service once per scope. A cached token that the server refuses is replaced once.
//  - Redirects are not followed (the notary CLI does not follow them either); a 3xx is returned
//    as a response like any other status.
//
// Secrets: the credentials and tokens are held in keys::SecretString, are never logged and
// never appear in an error message. The Basic credentials (the password) are sent only over
// HTTPS: a plain-HTTP server or realm that asks for them fails the request with
// Code::kUnauthenticated instead. Tokens (short-lived, scoped) go to the origin that asked for
// them, whatever its scheme, as in Notary. libcurl keeps its own copies of header lines while
// a request runs; the copies this code makes are wiped.
//
// Limits: every response body is bounded. A 2xx body longer than the caller's `max_length` is
// kTooLarge: the transfer is aborted when the body would pass max_length (at most max_length
// bytes are ever buffered), or before any body byte when Content-Length already says so
// (endless-data protection, TUF 5.x). Bodies of other statuses are read up to
// `max_error_body` bytes and then cut (HttpResponse::body_truncated); the status still counts.
//
// Threading: one HttpClient is one libcurl easy handle, reused for every request so that
// connections are kept alive and reused. It is NOT thread-safe: use one client per thread.
// libcurl's global initialisation happens once per process, thread-safely, on first use.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "keys/secret.h"

namespace vouch::client {

// HTTP Basic credentials: from NOTARY_AUTH in the notary CLI (see parse_notary_auth).
struct BasicCredentials {
  std::string username;  // not a secret (sent as "account" to the token service, as Notary does)
  keys::SecretString password;
};

// Parses the value of NOTARY_AUTH as the notary CLI does (passwordStore.Basic): standard
// base64 of "user:password"; the username is what precedes the first ':' and must not be
// empty; the password is the rest with surrounding whitespace trimmed. Errors (kMalformed)
// never quote the value.
Result<BasicCredentials> parse_notary_auth(std::string_view value);

// "vouch/<version>".
std::string default_user_agent();

struct HttpOptions {
  // PEM bundle of the CAs that may sign the server's certificate; when set, ONLY these are
  // trusted. Empty = the system's CA store. Must be readable at create().
  std::string ca_file;
  // Client certificate and its unencrypted key (PEM) for mTLS: both or neither.
  std::string cert_file;
  std::string key_file;
  // Turns certificate and host name checks off (remote_server.skipTLSVerify). Default false.
  bool insecure_skip_verify = false;

  // Time to establish a connection, TLS handshake included. Default 30 s (Notary's dialer).
  std::chrono::milliseconds connect_timeout{30'000};
  // Time for one whole request, connection and body included. Default 120 s; a publish of a
  // 100 MiB targets file over a slow link may need more.
  std::chrono::milliseconds request_timeout{120'000};

  // User-Agent header. Default "vouch/<version>".
  std::string user_agent = default_user_agent();

  // Most bytes kept of a non-2xx body (error JSON). Default 16 KiB: Notary's INVALID_UPDATE
  // details name roles and keys.
  std::size_t max_error_body = 16 * 1024;
  // Most bytes of a token service response. Default 64 KiB.
  std::size_t max_token_response = 64 * 1024;
  // Longest token accepted. Default 16 KiB (what vouch-server accepts).
  std::size_t max_token_bytes = 16 * 1024;
};

struct HttpHeader {
  std::string name;
  std::string value;
};

// A complete response after any authentication round trips.
struct HttpResponse {
  unsigned status = 0;
  std::vector<HttpHeader> headers;  // of the final response, in order
  std::string body;
  bool body_truncated = false;  // a non-2xx body longer than max_error_body was cut

  // The first header named `name` (ASCII case-insensitive), or nullopt.
  std::optional<std::string_view> header(std::string_view name) const;
};

// One part of a multipart/form-data body.
struct FormFile {
  std::string name;      // form field name ("files" for a Notary publish)
  std::string filename;  // Content-Disposition filename (the role name)
  std::string_view data;
};

// Encodes `files` as Go's mime/multipart Writer does for CreateFormFile (what the notary client
// sends; REFERENCE §1.2): per part `--<boundary>\r\n`, `Content-Disposition: form-data;
// name="<name>"; filename="<filename>"` (with '\' and '"' backslash-escaped), `Content-Type:
// application/octet-stream`, a blank line, the bytes, then `\r\n`; finally `--<boundary>--\r\n`.
// The boundary must not occur in any part (HttpClient picks a random one and checks).
std::string encode_multipart(std::span<const FormFile> files, std::string_view boundary);

// Percent-encodes `text` for use in a URL path: unreserved characters (RFC 3986: ALPHA, DIGIT,
// "-._~") and ':' '@' stay; '/' stays when `keep_slash`; every other byte becomes %XX.
std::string escape_path(std::string_view text, bool keep_slash);

// "scheme://host:port" of an absolute http(s) URL, for messages and for matching credentials
// to a server. kMalformed when `url` is not an absolute http or https URL with a host, or
// carries user information ("user:pass@"), which would put a secret into messages.
Result<std::string> url_origin(std::string_view url);

// Asks for credentials when a server wants them and none were given (the vouch CLI: a
// terminal prompt, as the notary CLI asks when NOTARY_AUTH is unset). `origin` is the token
// service's (or the Basic-challenging server's) "scheme://host:port". An error with Reason
// kNoPassphrase (and a Code other than kCancelled) means "none to be had": the request goes on
// as if no prompt were set. Any other error fails the request.
using CredentialsPrompt = std::function<Result<BasicCredentials>(std::string_view origin)>;

class HttpClient {
 public:
  // Checks the options (the TLS files exist and are readable; cert_file and key_file come
  // together) and makes the libcurl handle. Errors: a file (Reason::kIo, Code
  // kFailedPrecondition; the message names the file), only one of cert/key (kMalformed, Code
  // kInvalidArgument), libcurl failing to initialise (kInternal).
  static Result<HttpClient> create(HttpOptions options,
                                   std::optional<BasicCredentials> credentials = std::nullopt);

  HttpClient(HttpClient&&) noexcept;
  HttpClient& operator=(HttpClient&&) noexcept;
  ~HttpClient();

  // The requests. `url` is an absolute http(s) URL, already escaped. Every HTTP status is a
  // response (including 401 when authentication did not succeed); errors are:
  //   kUnavailable     connection refused or reset, DNS, TLS handshake or certificate
  //                    failure, timeout (connect_timeout / request_timeout). The message
  //                    names the server's origin.
  //   kTooLarge        a 2xx body longer than `max_length`.
  //   kMalformed       `url` is not an acceptable URL (see url_origin).
  //   Code kUnauthenticated (Reason kNone)  the token service refused the credentials or
  //                    gave no usable token, or credentials would have to go over plain HTTP.
  //   Code kFailedPrecondition (Reason kBadCertificate)  the CA file or the client
  //                    certificate/key could not be used.
  Result<HttpResponse> get(std::string_view url, std::size_t max_length);
  // POST of a multipart/form-data body made by encode_multipart with a random boundary.
  Result<HttpResponse> post_multipart(std::string_view url, std::span<const FormFile> files,
                                      std::size_t max_length);
  // POST without a body (Content-Length: 0).
  Result<HttpResponse> post_empty(std::string_view url, std::size_t max_length);
  // DELETE without a body.
  Result<HttpResponse> del(std::string_view url, std::size_t max_length);
  // Any of GET, POST, PUT, PATCH, DELETE with `body` (may be empty) of `content_type` (no
  // Content-Type header when empty): the admin API's JSON requests (client/admin_api.h).
  // kInvalidArgument for another method.
  Result<HttpResponse> send(std::string_view method, std::string_view url, std::string_view body,
                            std::string_view content_type, std::size_t max_length);

  const HttpOptions& options() const;
  // Whether Basic credentials were given or entered (for messages: "set NOTARY_AUTH" vs
  // "refused").
  bool has_credentials() const;

  // Without credentials, requests go anonymous first (a read may need no login). When that is
  // not enough (the token service refuses an anonymous token, the server refuses the anonymous
  // token's scope, or a Basic challenge), `prompt` is asked once for the life of this client,
  // and the request is retried with what it gives. Never asked when credentials were given to
  // create().
  void set_credentials_prompt(CredentialsPrompt prompt);

  // A login stored by `vouch login` (client/credentials.h): the refresh token the token
  // service at `realm_origin` ("scheme://host:port", which must be https) issued. Used when no
  // Basic credentials were given: a Bearer challenge whose realm has that origin gets its
  // token by `POST <realm>` with grant_type=refresh_token (docker/distribution's OAuth2 flow,
  // client_id "vouch") instead of an anonymous GET. A refused refresh token (revoked,
  // expired) fails the request with Code kUnauthenticated naming `vouch login`, and a token
  // that lacks the scope leaves the 401 as the answer: the prompt is not asked in either
  // case. Never sent to another origin, never over plain HTTP.
  void set_refresh_token(std::string realm_origin, keys::SecretString token);

  // Sends `Authorization: <value>` (e.g. "Bearer vouch_...") with every request to `origin`
  // ("scheme://host:port") instead of answering challenges: the admin API takes API and
  // refresh tokens directly. A 401 is returned as a response. Requests to `origin` fail with
  // Code kUnauthenticated when it is not https (the value is a long-lived secret).
  void set_origin_authorization(std::string origin, keys::SecretString value);

  class Impl;

 private:
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vouch::client
