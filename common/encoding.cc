#include "common/encoding.h"

#include <array>

namespace vouch {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";
constexpr char kStdAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrlAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

using DecodeTable = std::array<std::int8_t, 256>;

constexpr DecodeTable make_table(const char* alphabet) {
  DecodeTable t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(alphabet[i])] = static_cast<std::int8_t>(i);
  return t;
}

constexpr DecodeTable kStdTable = make_table(kStdAlphabet);
constexpr DecodeTable kUrlTable = make_table(kUrlAlphabet);

std::string encode64(ByteSpan data, const char* alphabet, bool pad) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const std::uint32_t v = (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8) | data[i + 2];
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(alphabet[(v >> 6) & 63]);
    out.push_back(alphabet[v & 63]);
  }
  const std::size_t rest = data.size() - i;
  if (rest == 1) {
    const std::uint32_t v = std::uint32_t{data[i]} << 16;
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    if (pad) out.append("==");
  } else if (rest == 2) {
    const std::uint32_t v = (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8);
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(alphabet[(v >> 6) & 63]);
    if (pad) out.push_back('=');
  }
  return out;
}

// require_pad: padding must be present (standard); otherwise it is optional (url).
Result<Bytes> decode64(std::string_view text, const DecodeTable& table, bool require_pad) {
  std::size_t len = text.size();
  std::size_t pads = 0;
  while (pads < 2 && len > 0 && text[len - 1] == '=') {
    --len;
    ++pads;
  }
  if (pads > 0 && (text.size() % 4) != 0) {
    return make_error(Reason::kMalformed, "base64: padding does not complete a 4-character group");
  }
  const std::size_t tail = len % 4;
  if (tail == 1) return make_error(Reason::kMalformed, "base64: impossible length");
  if (require_pad && (text.size() % 4) != 0) {
    return make_error(Reason::kMalformed, "base64: missing padding");
  }
  if (pads > 0 && ((tail == 2 && pads != 2) || (tail == 3 && pads != 1) || tail == 0)) {
    return make_error(Reason::kMalformed, "base64: wrong amount of padding");
  }
  Bytes out;
  out.reserve(len / 4 * 3 + 2);
  std::uint32_t acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < len; ++i) {
    const std::int8_t v = table[static_cast<unsigned char>(text[i])];
    if (v < 0) return make_error(Reason::kMalformed, "base64: invalid character");
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>((acc >> bits) & 0xff));
    }
  }
  // Unused low bits of the last character must be zero: one encoding per value.
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) {
    return make_error(Reason::kMalformed, "base64: non-zero trailing bits");
  }
  return out;
}

}  // namespace

std::string hex_encode(ByteSpan data) {
  std::string out;
  out.resize(data.size() * 2);
  for (std::size_t i = 0; i < data.size(); ++i) {
    out[2 * i] = kHexDigits[data[i] >> 4];
    out[2 * i + 1] = kHexDigits[data[i] & 15];
  }
  return out;
}

Result<Bytes> hex_decode(std::string_view text) {
  if (text.size() % 2 != 0) return make_error(Reason::kMalformed, "hex: odd length");
  Bytes out(text.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = hex_value(text[2 * i]);
    const int lo = hex_value(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return make_error(Reason::kMalformed, "hex: invalid character");
    out[i] = static_cast<std::uint8_t>((hi << 4) | lo);
  }
  return out;
}

std::string base64_encode(ByteSpan data) { return encode64(data, kStdAlphabet, true); }
Result<Bytes> base64_decode(std::string_view text) { return decode64(text, kStdTable, true); }
std::string base64url_encode(ByteSpan data) { return encode64(data, kUrlAlphabet, false); }
Result<Bytes> base64url_decode(std::string_view text) { return decode64(text, kUrlTable, false); }

bool constant_time_equal(ByteSpan a, ByteSpan b) {
  if (a.size() != b.size()) return false;
  // volatile keeps the compiler from turning the loop into an early-exit memcmp.
  volatile std::uint8_t diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff = static_cast<std::uint8_t>(diff | (a[i] ^ b[i]));
  return diff == 0;
}

}  // namespace vouch
