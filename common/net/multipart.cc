#include "common/net/multipart.h"

#include <algorithm>
#include <functional>
#include <optional>
#include <utility>

namespace vouch::net {

namespace {

constexpr std::string_view kCrlf = "\r\n";

Error malformed(std::string message) {
  return make_error(Reason::kMalformed, "multipart: " + std::move(message));
}
Error too_large(std::string message) {
  return make_error(Reason::kTooLarge, "multipart: " + std::move(message));
}

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// RFC 7230 tchar.
bool is_tchar(char c) {
  if (is_alpha(c) || is_digit(c)) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar);
}

// RFC 2046 bchars.
bool is_bchar(char c) {
  if (is_alpha(c) || is_digit(c)) return true;
  switch (c) {
    case '\'': case '(': case ')': case '+': case '_': case ',': case '-': case '.':
    case '/': case ':': case '=': case '?': case ' ':
      return true;
    default:
      return false;
  }
}

bool is_lwsp(char c) { return c == ' ' || c == '\t'; }

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && is_lwsp(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_lwsp(s.back())) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

struct Param {
  std::string name;  // lowercased
  std::string value;
};

// Parses `type[/subtype] *( OWS ";" OWS name "=" ( token / quoted-string ) ) OWS`.
// Returns the lowercased type and the parameters. A repeated parameter name is an error.
struct ParsedValue {
  std::string type;
  std::vector<Param> params;
};

Result<ParsedValue> parse_parameterized(std::string_view text, bool media_type) {
  ParsedValue out;
  std::size_t i = 0;
  const std::size_t n = text.size();
  auto skip_ows = [&] {
    while (i < n && is_lwsp(text[i])) ++i;
  };
  skip_ows();
  std::size_t start = i;
  while (i < n && is_tchar(text[i])) ++i;
  if (i == start) return malformed("missing type");
  if (media_type) {
    if (i >= n || text[i] != '/') return malformed("media type without subtype");
    ++i;
    std::size_t sub = i;
    while (i < n && is_tchar(text[i])) ++i;
    if (i == sub) return malformed("empty media subtype");
  }
  out.type = lower(text.substr(start, i - start));
  while (true) {
    skip_ows();
    if (i == n) break;
    if (text[i] != ';') return malformed("unexpected character after value");
    ++i;
    skip_ows();
    std::size_t name_start = i;
    while (i < n && is_tchar(text[i])) ++i;
    if (i == name_start) return malformed("empty parameter name");
    std::string name = lower(text.substr(name_start, i - name_start));
    if (i >= n || text[i] != '=') return malformed("parameter without '='");
    ++i;
    std::string value;
    if (i < n && text[i] == '"') {
      ++i;
      bool closed = false;
      while (i < n) {
        char c = text[i];
        if (c == '"') {
          closed = true;
          ++i;
          break;
        }
        if (c == '\\') {
          if (i + 1 >= n) break;
          c = text[i + 1];
          i += 2;
        } else {
          ++i;
        }
        if (c == '\r' || c == '\n' || c == '\0') return malformed("control character in value");
        value.push_back(c);
      }
      if (!closed) return malformed("unterminated quoted string");
    } else {
      std::size_t value_start = i;
      while (i < n && is_tchar(text[i])) ++i;
      if (i == value_start) return malformed("empty parameter value");
      value.assign(text.substr(value_start, i - value_start));
    }
    for (const Param& p : out.params) {
      if (p.name == name) return malformed("repeated parameter " + name);
    }
    out.params.push_back(Param{std::move(name), std::move(value)});
  }
  return out;
}

const Param* find_param(const ParsedValue& v, std::string_view name) {
  for (const Param& p : v.params) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

Status check_boundary(std::string_view b) {
  if (b.empty() || b.size() > 70) return malformed("boundary must be 1 to 70 characters");
  if (!std::all_of(b.begin(), b.end(), is_bchar)) return malformed("invalid boundary character");
  if (b.back() == ' ') return malformed("boundary ends in a space");
  return ok_status();
}

// What follows a "--boundary" match.
enum class After { kDelimiter, kClose, kNotDelimiter };

// Classifies the bytes at `pos` (just after a boundary match). On kDelimiter, `pos` is moved
// past the CRLF; on kClose past the "--".
Result<After> classify_after(std::string_view body, std::size_t& pos) {
  if (body.substr(pos, 2) == "--") {
    pos += 2;
    return After::kClose;
  }
  std::size_t i = pos;
  while (i < body.size() && is_lwsp(body[i])) ++i;
  if (body.substr(i, 2) == kCrlf) {
    pos = i + 2;
    return After::kDelimiter;
  }
  if (i != pos) return malformed("junk after boundary");
  return After::kNotDelimiter;
}

Status parse_part_headers(std::string_view body, std::size_t& pos, const MultipartLimits& limits,
                          MultipartPart& part) {
  const std::size_t header_start = pos;
  while (true) {
    std::size_t eol = body.find(kCrlf, pos);
    if (eol == std::string_view::npos) {
      if (body.size() - header_start > limits.max_part_header_bytes) {
        return too_large("part header too large");
      }
      return malformed("truncated part header");
    }
    if (eol + 2 - header_start > limits.max_part_header_bytes) {
      return too_large("part header too large");
    }
    std::string_view line = body.substr(pos, eol - pos);
    pos = eol + 2;
    if (line.empty()) break;
    if (part.headers.size() >= limits.max_part_headers) return too_large("too many part headers");
    if (is_lwsp(line.front())) return malformed("folded header line");
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return malformed("header line without ':'");
    std::string_view name = line.substr(0, colon);
    if (!is_token(name)) return malformed("invalid header name");
    std::string_view value = trim_ows(line.substr(colon + 1));
    for (char c : value) {
      auto u = static_cast<unsigned char>(c);
      if ((u < 0x20 && c != '\t') || u == 0x7f) return malformed("control character in header");
    }
    part.headers.add(std::string(name), std::string(value));
  }

  if (part.headers.count("Content-Disposition") != 1) {
    return malformed("part needs exactly one Content-Disposition");
  }
  VOUCH_ASSIGN_OR_RETURN(ParsedValue cd,
                         parse_parameterized(*part.headers.get("Content-Disposition"), false));
  if (cd.type != "form-data") return malformed("Content-Disposition is not form-data");
  if (find_param(cd, "filename*") != nullptr) return malformed("filename* is not supported");
  const Param* name = find_param(cd, "name");
  if (name == nullptr) return malformed("Content-Disposition without name");
  part.name = name->value;
  if (const Param* filename = find_param(cd, "filename")) {
    part.filename = filename->value;
    part.has_filename = true;
  }
  if (part.headers.count("Content-Transfer-Encoding") > 1) {
    return malformed("repeated Content-Transfer-Encoding");
  }
  if (auto cte = part.headers.get("Content-Transfer-Encoding")) {
    std::string v = lower(*cte);
    if (v != "7bit" && v != "8bit" && v != "binary") {
      return malformed("unsupported Content-Transfer-Encoding");
    }
  }
  return ok_status();
}

}  // namespace

Result<std::string> multipart_boundary(std::string_view content_type) {
  VOUCH_ASSIGN_OR_RETURN(ParsedValue v, parse_parameterized(content_type, true));
  if (v.type != "multipart/form-data") return malformed("not multipart/form-data");
  const Param* b = find_param(v, "boundary");
  if (b == nullptr) return malformed("no boundary parameter");
  VOUCH_RETURN_IF_ERROR(check_boundary(b->value));
  return b->value;
}

Result<std::vector<MultipartPart>> parse_multipart(std::string_view body,
                                                   std::string_view boundary,
                                                   const MultipartLimits& limits) {
  VOUCH_RETURN_IF_ERROR(check_boundary(boundary));
  if (body.size() > limits.max_total_bytes) return too_large("body too large");

  // "\r\n--" + boundary: what ends every part body.
  std::string delimiter = "\r\n--";
  delimiter.append(boundary);
  const std::string_view dash_boundary = std::string_view(delimiter).substr(2);
  const std::boyer_moore_horspool_searcher searcher(delimiter.begin(), delimiter.end());

  if (body.substr(0, dash_boundary.size()) != dash_boundary) {
    return malformed("body does not begin with the boundary");
  }
  std::size_t pos = dash_boundary.size();
  VOUCH_ASSIGN_OR_RETURN(After first, classify_after(body, pos));
  if (first == After::kClose) return malformed("no parts");
  if (first == After::kNotDelimiter) return malformed("junk after boundary");

  std::vector<MultipartPart> parts;
  while (true) {
    if (parts.size() >= limits.max_parts) return too_large("too many parts");
    MultipartPart part;
    VOUCH_RETURN_IF_ERROR(parse_part_headers(body, pos, limits, part));

    // Find the delimiter that ends this part's body.
    const std::size_t body_start = pos;
    std::size_t search_from = pos;
    After after = After::kNotDelimiter;
    while (true) {
      auto it = std::search(body.begin() + static_cast<std::ptrdiff_t>(search_from), body.end(),
                            searcher);
      if (it == body.end()) return malformed("missing closing delimiter");
      const auto match = static_cast<std::size_t>(it - body.begin());
      std::size_t next = match + delimiter.size();
      VOUCH_ASSIGN_OR_RETURN(after, classify_after(body, next));
      if (after == After::kNotDelimiter) {
        search_from = match + 1;
        continue;
      }
      part.body = body.substr(body_start, match - body_start);
      pos = next;
      break;
    }
    parts.push_back(std::move(part));
    if (after == After::kClose) break;
  }

  // Close delimiter: optional transport padding, optional CRLF, nothing else.
  while (pos < body.size() && is_lwsp(body[pos])) ++pos;
  std::string_view rest = body.substr(pos);
  if (!rest.empty() && rest != kCrlf) return malformed("data after the closing delimiter");
  return parts;
}

Result<std::vector<MultipartPart>> parse_multipart_form(std::string_view content_type,
                                                        std::string_view body,
                                                        const MultipartLimits& limits) {
  VOUCH_ASSIGN_OR_RETURN(std::string boundary, multipart_boundary(content_type));
  return parse_multipart(body, boundary, limits);
}

}  // namespace vouch::net
