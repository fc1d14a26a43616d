#pragma once

// PEM blocks (RFC 7468) with RFC 1421 "name: value" headers, as Notary, docker and OpenSSL
// write keys and certificates, and public keys as people hand them over. Public-key code:
// nothing here decrypts or holds a private key, so the verifier and the server's read path
// use it without linking the key store (keys/key_file.h builds on it for key files).

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/encoding.h"
#include "common/result.h"
#include "keys/public_key.h"
#include "keys/secret.h"

namespace vouch::keys {

// Largest text parse_pem_block accepts (an RSA-4096 key file in PEM is about 3.3 KiB).
inline constexpr std::size_t kMaxPemSize = 64 * 1024;
// Most header lines in one block, and the longest header value.
inline constexpr std::size_t kMaxPemHeaders = 16;
inline constexpr std::size_t kMaxPemHeaderValueLength = 255;

// One parsed PEM block. Body bytes are held as a secret (they may be an unencrypted key).
struct PemBlock {
  std::string type;  // e.g. "ENCRYPTED PRIVATE KEY"
  std::vector<std::pair<std::string, std::string>> headers;  // in file order, values trimmed
  SecretBytes body;                                          // base64-decoded
};

// Parses the first PEM block of `text`, with RFC 1421 "name: value" header lines between the
// BEGIN line and the base64 body (a blank separator line is optional). Accepts LF or CRLF;
// text before the BEGIN line is ignored. Errors: kTooLarge (> kMaxPemSize, more than
// kMaxPemHeaders headers, a header value longer than kMaxPemHeaderValueLength), kMalformed
// (no block, mismatched END, duplicate or empty header name, bad base64, empty body),
// kTrailingData (anything but white space after the block).
Result<PemBlock> parse_pem_block(std::string_view text);

// The value of header `name` in `block`, or empty if absent.
std::string_view pem_header(const PemBlock& block, std::string_view name);

// One PEM block: BEGIN line, the headers in the order given ("name: value") and a blank line
// if there are any, the base64 body in lines of 64, END line, each line ending in '\n'.
std::string pem_encode(std::string_view type,
                       const std::vector<std::pair<std::string, std::string>>& headers,
                       ByteSpan body);

// A public key as people hand one over (`delegation add`, `docker trust signer add`, a
// verifier policy): the first PEM block of `text`, either a "PUBLIC KEY" (RFC 1421 headers
// such as the "role:" that `notary key generate -o` and `docker trust key generate` write are
// ignored) or a "CERTIFICATE" (PublicKey::from_pem). Any other block type is kMalformed.
Result<PublicKey> parse_public_key_pem(std::string_view text);

}  // namespace vouch::keys
