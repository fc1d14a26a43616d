#pragma once

// RemoteSigner: keys::Signer over the notary-signer gRPC API, for vouch-server. Works with
// vouch-signer and with the real notary-signer (Notary 0.7).
//
// Transport: one gRPC channel with mutual TLS (the client certificate is required by both
// signers). Every call has a deadline (`timeout`, per attempt); calls that fail with
// UNAVAILABLE are retried up to `max_attempts` in all, with exponential backoff and jitter.
// No other status is retried. Retrying CreateKey is safe: both signers return the same
// never-used key for the same (role, gun, algorithm). A call that finds the channel in
// TRANSIENT_FAILURE replaces it with a new one before its next attempt (reconnect on demand),
// so a signer that comes back is used within one retry, not after gRPC's reconnect backoff.
//
// Errors (Code / Reason):
//   NOT_FOUND                      kNotFound / kUnknownKey
//   UNAVAILABLE                    kUnavailable / kUnavailable (after the retries)
//   DEADLINE_EXCEEDED              kDeadlineExceeded / kUnavailable
//   INVALID_ARGUMENT               kInvalidArgument / kUnsupportedAlgorithm (create_key),
//                                  kTooLarge (sign), kMalformed (otherwise)
//   UNKNOWN from CreateKey         kInvalidArgument / kUnsupportedAlgorithm (notary-signer
//                                  answers an unknown algorithm, e.g. rsa, with UNKNOWN)
//   anything else, or a response that does not hold together (public key bytes that do not
//   parse or do not hash to the returned key ID, a signature method that does not belong to
//   the key, a signature that does not verify)   kInternal / kInternal, or kBadSignature
// Messages include the gRPC status text from the peer, for local logs.
//
// Thread-safe; the channel multiplexes concurrent calls.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "keys/secret.h"
#include "keys/signer.h"

namespace vouch::signer {

struct RemoteSignerOptions {
  // "host:port" of the signer.
  std::string target;
  // PEM CA bundle that the signer's certificate must chain to. Required.
  std::string tls_ca_pem;
  // PEM client certificate (chain) and key for mutual TLS. Required.
  std::string tls_client_cert_pem;
  keys::SecretString tls_client_key_pem;
  // Name to check the signer's certificate against; empty: the host part of `target`
  // (an IP address must then be in the certificate's IP SANs, as Go also requires).
  std::string tls_server_name;
  // Deadline of each attempt. Default 10 s (notary-server's health checks use 10 s).
  std::chrono::milliseconds timeout{10'000};
  // Attempts in all for calls that fail with UNAVAILABLE (>= 1). Default 3.
  int max_attempts = 3;
  // Backoff before the second attempt; doubled each time up to max_backoff, with +-20 %
  // jitter. Defaults 100 ms and 2 s.
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{2'000};
  // Verify every returned signature with the public key before returning it (a misrouted or
  // broken signer then fails loudly instead of publishing bad metadata). Default true.
  bool verify_signatures = true;
  // Largest message sent or received. Default 8 MiB.
  std::size_t max_message_bytes = 8 * 1024 * 1024;
};

// Reads the three PEM files into options for `target` (kIo / kMalformed naming the file).
Result<RemoteSignerOptions> remote_signer_options_from_files(std::string target,
                                                             const std::string& ca_file,
                                                             const std::string& cert_file,
                                                             const std::string& key_file);

class RemoteSigner final : public keys::Signer {
 public:
  // Builds the channel (no connection is made yet). kInvalidArgument for missing TLS
  // material or an empty target.
  static Result<std::unique_ptr<RemoteSigner>> create(RemoteSignerOptions options);
  ~RemoteSigner() override;
  RemoteSigner(const RemoteSigner&) = delete;
  RemoteSigner& operator=(const RemoteSigner&) = delete;

  // Signs with the key whose ID is key.canonical_id(). The answer's method must belong to
  // the key's type (ecdsa, eddsa, rsapss).
  Result<keys::Signature> sign(const keys::PublicKey& key, ByteSpan content) override;

  // CreateKey(type, gun, role). type: kEcdsa, kEd25519 or kRsa (x509 types ->
  // kUnsupportedAlgorithm without a call).
  Result<keys::PublicKey> create_key(std::string_view gun, std::string_view role,
                                     keys::KeyType type) override;

  // GetKeyInfo. The returned key's ID must equal key_id.
  Result<keys::PublicKey> public_key(std::string_view key_id) override;

  // GetKeyInfo's role of a key.
  Result<std::string> key_role(std::string_view key_id);

  // DeleteKey; deleting an unknown key succeeds (both signers).
  Status delete_key(std::string_view key_id);

  // The signer's grpc.health.v1 status for both Notary service names (as notary-server's
  // "Overall" check does). OK when both are SERVING; kUnavailable otherwise.
  Status check_health();

  // False while the channel's last attempt to connect failed (TRANSIENT_FAILURE), i.e. the
  // signer is known to be unreachable; while a connection attempt is under way the previous
  // answer stands (true at first). Never blocks (no RPC); an idle channel is asked to
  // connect. For readiness probes; a call is what replaces a failed channel.
  bool reachable();

  struct Impl;

 private:
  explicit RemoteSigner(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vouch::signer
