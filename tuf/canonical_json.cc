// Notary's canonical JSON writer (docker/go canonical/json, MarshalCanonical; STACK §2).
//
// The format is pinned by golden vectors in tests/unit/tuf/json_test.cc. In canonical mode
// Notary escapes only '"' and '\'; every other byte, control bytes included, is written as is.

#include <cassert>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <system_error>

#include "tuf/json.h"
#include "tuf/swar.h"

namespace vouch::tuf::json {
namespace {

// Longest int64 in decimal: "-9223372036854775808", 20 bytes.
constexpr std::size_t kMaxIntChars = 20;

bool needs_escape(char c) { return c == '"' || c == '\\'; }

// Whether any of the 8 bytes at p is '"' or '\' (SWAR zero-byte test: exact for "any").
bool word_needs_escape(const char* p) {
  const std::uint64_t v = swar::load8(p);
  return (swar::has_byte(v, '"') | swar::has_byte(v, '\\')) != 0;
}

// The first '"' or '\' in [p, end), or end.
const char* find_escape(const char* p, const char* end) {
  while (end - p >= 8 && !word_needs_escape(p)) p += 8;
  while (p != end && !needs_escape(*p)) ++p;
  return p;
}

std::size_t string_size(const std::string& s) {
  std::size_t n = s.size() + 2;
  const char* const end = s.data() + s.size();
  for (const char* p = find_escape(s.data(), end); p != end; p = find_escape(p + 1, end)) ++n;
  return n;
}

std::size_t int_size(std::int64_t i) {
  char buf[kMaxIntChars];
  const auto r = std::to_chars(buf, buf + sizeof buf, i);
  return static_cast<std::size_t>(r.ptr - buf);
}

// The exact length of the canonical form, so that the output is allocated once.
std::size_t canonical_size(const Value& value) {
  switch (value.type()) {
    case Type::kNull: return 4;
    case Type::kBool: return value.as_bool() ? 4 : 5;
    case Type::kInt: return int_size(value.as_int());
    case Type::kString: return string_size(value.as_string());
    case Type::kArray: {
      const Array& a = value.as_array();
      std::size_t n = 2 + (a.empty() ? 0 : a.size() - 1);
      for (const Value& v : a) n += canonical_size(v);
      return n;
    }
    case Type::kObject: {
      const Object& o = value.as_object();
      // Braces, a ':' per member and a ',' between members.
      std::size_t n = 2 + o.size() + (o.empty() ? 0 : o.size() - 1);
      for (const auto& [k, v] : o) n += string_size(k) + canonical_size(v);
      return n;
    }
  }
  return 0;
}

// The writer fills a buffer already sized by canonical_size(): plain stores, no capacity checks.
class Writer {
 public:
  explicit Writer(char* out) : p_(out) {}
  char* end() const { return p_; }

  void value(const Value& v) {
    switch (v.type()) {
      case Type::kNull:
        raw("null", 4);
        return;
      case Type::kBool:
        if (v.as_bool()) {
          raw("true", 4);
        } else {
          raw("false", 5);
        }
        return;
      case Type::kInt: {
        char buf[kMaxIntChars];
        const auto r = std::to_chars(buf, buf + sizeof buf, v.as_int());
        raw(buf, static_cast<std::size_t>(r.ptr - buf));
        return;
      }
      case Type::kString:
        string(v.as_string());
        return;
      case Type::kArray: {
        *p_++ = '[';
        bool first = true;
        for (const Value& item : v.as_array()) {
          if (!first) *p_++ = ',';
          first = false;
          value(item);
        }
        *p_++ = ']';
        return;
      }
      case Type::kObject: {
        // Object keeps its members in bytewise key order, which is the canonical order.
        *p_++ = '{';
        bool first = true;
        for (const auto& [k, item] : v.as_object()) {
          if (!first) *p_++ = ',';
          first = false;
          string(k);
          *p_++ = ':';
          value(item);
        }
        *p_++ = '}';
        return;
      }
    }
  }

 private:
  void raw(const char* s, std::size_t n) {
    std::memcpy(p_, s, n);
    p_ += n;
  }

  // Notary canonical mode: '"' and '\' get a backslash, every other byte is copied.
  void string(const std::string& s) {
    *p_++ = '"';
    const char* run = s.data();
    const char* const end = run + s.size();
    for (const char* q = find_escape(run, end); q != end; q = find_escape(run, end)) {
      raw(run, static_cast<std::size_t>(q - run));
      *p_++ = '\\';
      *p_++ = *q;
      run = q + 1;
    }
    raw(run, static_cast<std::size_t>(end - run));
    *p_++ = '"';
  }

  char* p_;
};

}  // namespace

void canonical_append(const Value& value, std::string& out) {
  const std::size_t start = out.size();
  const std::size_t size = canonical_size(value);
  out.resize(start + size);
  Writer w(out.data() + start);
  w.value(value);
  // canonical_size() and Writer agree by construction; a mismatch is a bug in this file.
  assert(w.end() == out.data() + out.size());
}

std::string canonical(const Value& value) {
  std::string out;
  canonical_append(value, out);
  return out;
}

}  // namespace vouch::tuf::json
