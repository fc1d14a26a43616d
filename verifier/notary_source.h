#pragma once

// The verifier's way to a Notary server: a SourceFactory (verifier/trust_cache.h) that makes,
// per fetch, an HttpClient (client/http.h: TLS >= 1.2, bounded bodies, token auth) and a
// NotaryRemote (client/remote.h) for one GUN on the trust section's server.
//
// TLS. A trust section's tls_ca (PEM certificates inside the policy) becomes the only set of
// CAs trusted for that server; libcurl reads CAs from a file, so each distinct bundle is
// written once to `ca_dir` as <sha256 of the bundle>.pem (mode 0600). Without tls_ca the
// system's CAs are used.
//
// Credentials. A section may name where its Basic credentials are (password_file,
// password_env). The factory asks the `credentials` callback (main.cc passes
// read_credentials) on every fetch, so a rotated password file takes effect without a
// restart. Static bearer tokens (token_file, token_env) are not supported by the HTTP client
// (it answers the server's token challenge with Basic credentials); such a section fails its
// fetches with Code kUnimplemented, which decide() turns into a deny.

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>

#include "client/http.h"
#include "common/result.h"
#include "verifier/policy.h"
#include "verifier/trust_cache.h"

namespace vouch::verifier {

using CredentialsResolver =
    std::function<Result<client::BasicCredentials>(const CredentialsRef& ref)>;

struct NotarySourceOptions {
  // Where CA bundles of trust sections are written. Must exist, be writable and not be
  // readable by others (the bundles are public, but a directory others can write to would let
  // them replace a bundle). Empty: sections with tls_ca fail their fetches (kFailedPrecondition).
  std::filesystem::path ca_dir;
  // Per HTTP request. Defaults: 5 s to connect, 10 s for a whole request (below the webhook's
  // deadline is what matters for a request; a fetch may continue in the background after).
  std::chrono::milliseconds connect_timeout{5'000};
  std::chrono::milliseconds request_timeout{10'000};
  // Resolves a section's credentials; null: sections with credentials fail their fetches.
  CredentialsResolver credentials;
};

// The factory. Thread-safe (each call makes its own client).
SourceFactory make_notary_source_factory(NotarySourceOptions options);

// Reads the credentials `ref` names: username with the password from password_file (the
// file's content without one trailing newline; at most 4 KiB) or from the environment
// variable password_env (must be set and non-empty). token_file / token_env:
// Code kUnimplemented. File problems: kIo naming the file (never its content); an unset
// variable: kNoPassphrase (a missing secret, as for keys) naming it. For main.cc and the CLI
// (the only places that read files and the environment).
Result<client::BasicCredentials> read_credentials(const CredentialsRef& ref);

}  // namespace vouch::verifier
