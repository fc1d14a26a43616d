#pragma once

// Helpers shared by the verifier's unit tests: PEM text for keys, JSON string escaping, and
// YAML block indentation for policies written in tests.

#include <string>
#include <string_view>

#include "common/encoding.h"
#include "keys/public_key.h"

namespace vouch::verifier::testing {

// 64-column base64 between BEGIN/END lines, "\n" line ends.
inline std::string pem_block(std::string_view type, ByteSpan der) {
  const std::string b64 = base64_encode(der);
  std::string out = "-----BEGIN " + std::string(type) + "-----\n";
  for (std::size_t i = 0; i < b64.size(); i += 64) out += b64.substr(i, 64) + "\n";
  out += "-----END " + std::string(type) + "-----\n";
  return out;
}

// The bare public key of `key` as a PEM "PUBLIC KEY" block, as `docker trust key generate`
// writes NAME.pub (without its "role:" header).
inline std::string public_pem(const keys::PublicKey& key) {
  return pem_block("PUBLIC KEY", key.spki_der());
}

// `s` as a JSON string literal (only the escapes PEM text and names need).
inline std::string json_str(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// `text` as a YAML literal block scalar ("|") whose lines are indented by `indent` spaces.
inline std::string yaml_block(std::string_view text, std::size_t indent) {
  std::string out = "|\n";
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    out += std::string(indent, ' ') + std::string(text.substr(pos, end - pos)) + "\n";
    pos = end + 1;
  }
  return out;
}

}  // namespace vouch::verifier::testing
