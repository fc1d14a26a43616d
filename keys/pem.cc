#include "keys/pem.h"

#include <algorithm>

#include <openssl/crypto.h>

namespace vouch::keys {
namespace {

// Clears a std::string that held secret-derived text (base64 of a key) before it is freed.
template <typename C>
void cleanse(C& c) {
  if (!c.empty()) OPENSSL_cleanse(c.data(), c.size() * sizeof(c[0]));
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

bool is_blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
  });
}

bool printable(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

}  // namespace

Result<PemBlock> parse_pem_block(std::string_view text) {
  if (text.size() > kMaxPemSize) {
    return make_error(Reason::kTooLarge, "PEM text larger than 64 KiB");
  }
  // Find a BEGIN line (at the start of a line; text before it is ignored, as Go and OpenSSL do).
  std::size_t pos = 0;
  for (;;) {
    pos = text.find("-----BEGIN ", pos);
    if (pos == std::string_view::npos) return make_error(Reason::kMalformed, "no PEM block");
    if (pos == 0 || text[pos - 1] == '\n') break;
    ++pos;
  }
  auto next_line = [&](std::string_view& line) {
    if (pos >= text.size()) return false;
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = end + 1;
    return true;
  };

  std::string_view line;
  (void)next_line(line);
  line = trim(line);
  if (line.size() <= 16 || line.substr(line.size() - 5) != "-----") {
    return make_error(Reason::kMalformed, "bad PEM BEGIN line");
  }
  PemBlock block;
  block.type = std::string(line.substr(11, line.size() - 16));
  if (block.type.empty() || !printable(block.type)) {
    return make_error(Reason::kMalformed, "bad PEM type");
  }
  const std::string end_line = "-----END " + block.type + "-----";

  std::string b64;
  bool in_headers = true;
  bool ended = false;
  while (next_line(line)) {
    const std::string_view t = trim(line);
    if (t == end_line) {
      ended = true;
      break;
    }
    if (t.starts_with("-----")) {
      cleanse(b64);
      return make_error(Reason::kMalformed, "PEM END line does not match BEGIN");
    }
    const std::size_t colon = t.find(':');
    if (colon != std::string_view::npos) {
      if (!in_headers) {
        cleanse(b64);
        return make_error(Reason::kMalformed, "PEM header after the body");
      }
      const std::string_view name = trim(t.substr(0, colon));
      const std::string_view value = trim(t.substr(colon + 1));
      if (name.empty() || !printable(name) || !printable(value)) {
        return make_error(Reason::kMalformed, "bad PEM header line");
      }
      if (value.size() > kMaxPemHeaderValueLength) {
        return make_error(Reason::kTooLarge, "PEM header value too long");
      }
      if (block.headers.size() >= kMaxPemHeaders) {
        return make_error(Reason::kTooLarge, "too many PEM headers");
      }
      for (const auto& h : block.headers) {
        if (h.first == name) {
          return make_error(Reason::kMalformed,
                            "duplicate PEM header \"" + std::string(name) + "\"");
        }
      }
      block.headers.emplace_back(std::string(name), std::string(value));
      continue;
    }
    in_headers = false;
    for (char c : t) {
      if (c != ' ' && c != '\t') b64 += c;
    }
  }
  if (!ended) {
    cleanse(b64);
    return make_error(Reason::kMalformed, "PEM block has no END line");
  }
  if (!is_blank(text.substr(std::min(pos, text.size())))) {
    cleanse(b64);
    return make_error(Reason::kTrailingData, "data after the PEM block");
  }
  auto body = base64_decode(b64);
  cleanse(b64);
  if (!body) return make_error(Reason::kMalformed, "bad base64 in the PEM body");
  block.body = SecretBytes(*body);
  cleanse(*body);
  if (block.body.empty()) return make_error(Reason::kMalformed, "empty PEM body");
  return block;
}

std::string_view pem_header(const PemBlock& block, std::string_view name) {
  for (const auto& [n, v] : block.headers) {
    if (n == name) return v;
  }
  return {};
}

std::string pem_encode(std::string_view type,
                       const std::vector<std::pair<std::string, std::string>>& headers,
                       ByteSpan body) {
  std::string out;
  out.append("-----BEGIN ").append(type).append("-----\n");
  for (const auto& [name, value] : headers) out.append(name).append(": ").append(value) += '\n';
  if (!headers.empty()) out += '\n';
  const std::string b64 = base64_encode(body);
  for (std::size_t i = 0; i < b64.size(); i += 64) {
    out.append(b64, i, 64) += '\n';
  }
  out.append("-----END ").append(type).append("-----\n");
  return out;
}

Result<PublicKey> parse_public_key_pem(std::string_view text) {
  VOUCH_ASSIGN_OR_RETURN(PemBlock block, parse_pem_block(text));
  if (block.type == "CERTIFICATE") return PublicKey::from_pem(text);
  if (block.type == "PUBLIC KEY") return PublicKey::from_spki_der(block.body.span());
  return make_error(Reason::kMalformed,
                    "expected a CERTIFICATE or PUBLIC KEY block, found " + block.type);
}

}  // namespace vouch::keys
