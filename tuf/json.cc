#include "tuf/json.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <string>
#include <utility>

#include "common/enum_names.h"
#include "common/utf8.h"
#include "tuf/swar.h"

namespace vouch::tuf::json {
namespace {

// Bytewise key order, bytes compared as unsigned (as Go compares strings): memcmp's order.
// std::string's comparison does the same through char_traits<char>, but the canonical form
// depends on it, so it is spelled out here.
int compare_keys(std::string_view a, std::string_view b) {
  const std::size_t n = std::min(a.size(), b.size());
  if (n != 0) {
    const int c = std::memcmp(a.data(), b.data(), n);
    if (c != 0) return c;
  }
  if (a.size() == b.size()) return 0;
  return a.size() < b.size() ? -1 : 1;
}

bool key_less(const Member& a, const Member& b) { return compare_keys(a.first, b.first) < 0; }

// Sorts members by key and returns the first repeated key, or nullptr. Input from a canonical
// writer is already sorted, so check that first: O(n) instead of O(n log n).
const std::string* sort_members(std::vector<Member>& members) {
  bool sorted = true;
  for (std::size_t i = 1; i < members.size(); ++i) {
    const int c = compare_keys(members[i - 1].first, members[i].first);
    if (c == 0) return &members[i].first;
    if (c > 0) {
      sorted = false;
      break;
    }
  }
  if (sorted) return nullptr;
  std::sort(members.begin(), members.end(), key_less);
  for (std::size_t i = 1; i < members.size(); ++i) {
    if (members[i - 1].first == members[i].first) return &members[i].first;
  }
  return nullptr;
}

struct KeyLess {
  bool operator()(const Member& m, std::string_view key) const {
    return compare_keys(m.first, key) < 0;
  }
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Object

const Value* Object::find(std::string_view key) const {
  auto it = std::lower_bound(members_.begin(), members_.end(), key, KeyLess{});
  if (it == members_.end() || it->first != key) return nullptr;
  return &it->second;
}

Value* Object::find(std::string_view key) {
  auto it = std::lower_bound(members_.begin(), members_.end(), key, KeyLess{});
  if (it == members_.end() || it->first != key) return nullptr;
  return &it->second;
}

void Object::set(std::string key, Value value) {
  auto it = std::lower_bound(members_.begin(), members_.end(), std::string_view(key), KeyLess{});
  if (it != members_.end() && it->first == key) {
    it->second = std::move(value);
    return;
  }
  members_.emplace(it, std::move(key), std::move(value));
}

bool Object::erase(std::string_view key) {
  auto it = std::lower_bound(members_.begin(), members_.end(), key, KeyLess{});
  if (it == members_.end() || it->first != key) return false;
  members_.erase(it);
  return true;
}

bool Object::assign_unsorted(std::vector<Member> members) {
  if (sort_members(members) != nullptr) return false;
  members_ = std::move(members);
  return true;
}

bool operator==(const Object& a, const Object& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

// ---------------------------------------------------------------------------------------------
// Value

constexpr EnumName<Type> kTypeNames[] = {
    {Type::kNull, "null"}, {Type::kBool, "bool"}, {Type::kInt, "int"}, {Type::kString, "string"},
    {Type::kArray, "array"}, {Type::kObject, "object"}};
static_assert(lists_every_value(kTypeNames, Type::kObject));

std::string_view to_string(Type type) { return name_of(kTypeNames, type); }

const Value* Value::find(std::string_view key) const {
  if (!is_object()) return nullptr;
  return as_object().find(key);
}

bool operator==(const Value& a, const Value& b) { return a.v_ == b.v_; }

// ---------------------------------------------------------------------------------------------
// Parser

namespace {

// Character classes for the hot loops.
enum : std::uint8_t {
  kPlain = 0,    // printable ASCII other than '"' and '\'
  kSpecial = 1,  // '"', '\', a control byte, or the first byte of a multi-byte sequence
};

constexpr auto make_string_classes() {
  std::array<std::uint8_t, 256> t{};
  for (std::size_t c = 0; c < 256; ++c) {
    t[c] = (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) ? kSpecial : kPlain;
  }
  return t;
}
constexpr std::array<std::uint8_t, 256> kStringClass = make_string_classes();

// Whether any of the 8 bytes at p needs the slow path of the string scanner: '"', '\\', a
// control byte (< 0x20) or a non-ASCII byte. SWAR byte tests; exact for "any".
bool word_is_special(const unsigned char* p) {
  const std::uint64_t v = swar::load8(p);
  // A byte < 0x20 wraps and sets its top bit; only such a byte borrows from its neighbour,
  // and bytes >= 0x80 are caught by v's own top bits.
  const std::uint64_t has_control = v - swar::kOnes * 0x20;
  return (swar::has_byte(v, '"') | swar::has_byte(v, '\\') |
          ((has_control | v) & swar::kHighs)) != 0;
}

bool is_ws(unsigned char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }
bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

int hex_value(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_cont(unsigned char c) { return (c & 0xC0u) == 0x80u; }

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0u | (cp >> 6)));
    out.push_back(static_cast<char>(0x80u | (cp & 0x3Fu)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0u | (cp >> 12)));
    out.push_back(static_cast<char>(0x80u | ((cp >> 6) & 0x3Fu)));
    out.push_back(static_cast<char>(0x80u | (cp & 0x3Fu)));
  } else {
    out.push_back(static_cast<char>(0xF0u | (cp >> 18)));
    out.push_back(static_cast<char>(0x80u | ((cp >> 12) & 0x3Fu)));
    out.push_back(static_cast<char>(0x80u | ((cp >> 6) & 0x3Fu)));
    out.push_back(static_cast<char>(0x80u | (cp & 0x3Fu)));
  }
}

// Recursive descent over the input bytes. Each parse_* returns false after recording the
// first error in error_; the recursion depth is bounded by limits_.max_depth.
class Parser {
 public:
  Parser(std::string_view text, const ParseLimits& limits)
      : begin_(reinterpret_cast<const unsigned char*>(text.data())),
        p_(begin_),
        end_(begin_ + text.size()),
        limits_(limits) {}

  Result<Value> run() {
    if (static_cast<std::size_t>(end_ - begin_) > limits_.max_bytes) {
      return make_error(Reason::kTooLarge, "JSON document of " +
                                               std::to_string(end_ - begin_) +
                                               " bytes exceeds the limit of " +
                                               std::to_string(limits_.max_bytes));
    }
    if (end_ - begin_ >= 3 && p_[0] == 0xEF && p_[1] == 0xBB && p_[2] == 0xBF) {
      return make_error(Reason::kMalformed, "JSON: byte order mark at byte 0");
    }
    Value value;
    skip_ws();
    if (!parse_value(value)) return std::move(error_);
    skip_ws();
    if (p_ != end_) {
      return make_error(Reason::kTrailingData,
                        "JSON: trailing data at byte " + std::to_string(offset()));
    }
    return value;
  }

 private:
  std::size_t offset() const { return static_cast<std::size_t>(p_ - begin_); }
  std::size_t offset(const unsigned char* p) const { return static_cast<std::size_t>(p - begin_); }

  bool fail(Reason reason, std::size_t at, std::string_view what) {
    std::string msg = "JSON: ";
    msg.append(what);
    msg.append(" at byte ");
    msg.append(std::to_string(at));
    error_ = make_error(reason, std::move(msg));
    return false;
  }

  // An unexpected byte where a token should start (or end). Invalid UTF-8 is reported as such
  // wherever it appears; anything else is a syntax error.
  bool fail_unexpected(std::string_view expected) {
    if (p_ == end_) return fail(Reason::kMalformed, offset(), "unexpected end of input");
    if (*p_ >= 0x80 && utf8_sequence(p_, end_) == 0) {
      return fail(Reason::kInvalidUtf8, offset(), "invalid UTF-8");
    }
    std::string what = "expected ";
    what.append(expected);
    return fail(Reason::kMalformed, offset(), what);
  }

  void skip_ws() {
    while (p_ != end_ && is_ws(*p_)) ++p_;
  }

  bool parse_value(Value& out) {
    if (p_ == end_) return fail(Reason::kMalformed, offset(), "unexpected end of input");
    switch (*p_) {
      case '{': return parse_object(out);
      case '[': return parse_array(out);
      case '"': {
        std::string s;
        if (!parse_string(s)) return false;
        out = Value(std::move(s));
        return true;
      }
      case 't': return parse_literal("true", Value(true), out);
      case 'f': return parse_literal("false", Value(false), out);
      case 'n': return parse_literal("null", Value(nullptr), out);
      default:
        if (*p_ == '-' || is_digit(*p_)) return parse_number(out);
        return fail_unexpected("a value");
    }
  }

  bool parse_literal(std::string_view word, Value value, Value& out) {
    if (static_cast<std::size_t>(end_ - p_) < word.size() ||
        std::memcmp(p_, word.data(), word.size()) != 0) {
      return fail(Reason::kMalformed, offset(), "invalid literal");
    }
    p_ += word.size();
    out = std::move(value);
    return true;
  }

  // RFC 8259 number grammar; only integers in int64 are accepted. A well-formed number that
  // is not such an integer is kNotInteger; a malformed one (leading zero, "1.", "-") is
  // kMalformed.
  bool parse_number(Value& out) {
    const unsigned char* start = p_;
    const bool negative = (*p_ == '-');
    if (negative) ++p_;
    if (p_ == end_ || !is_digit(*p_)) return fail(Reason::kMalformed, offset(start), "invalid number");
    std::uint64_t magnitude = 0;
    bool overflow = false;
    if (*p_ == '0') {
      ++p_;
      if (p_ != end_ && is_digit(*p_)) {
        return fail(Reason::kMalformed, offset(start), "number with a leading zero");
      }
    } else {
      // 2^63 fits in uint64; anything above it is out of range for either sign.
      constexpr std::uint64_t kLimit = std::uint64_t{1} << 63;
      while (p_ != end_ && is_digit(*p_)) {
        const auto d = static_cast<std::uint64_t>(*p_ - '0');
        if (magnitude > (kLimit - d) / 10) overflow = true;
        if (!overflow) magnitude = magnitude * 10 + d;
        ++p_;
      }
    }
    bool integral = true;
    if (p_ != end_ && *p_ == '.') {
      ++p_;
      if (p_ == end_ || !is_digit(*p_)) return fail(Reason::kMalformed, offset(start), "invalid number");
      while (p_ != end_ && is_digit(*p_)) ++p_;
      integral = false;
    }
    if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      if (p_ != end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ == end_ || !is_digit(*p_)) return fail(Reason::kMalformed, offset(start), "invalid number");
      while (p_ != end_ && is_digit(*p_)) ++p_;
      integral = false;
    }
    // REFERENCE §9: integers are integers. Notary would round these through float64.
    if (!integral) return fail(Reason::kNotInteger, offset(start), "number is not an integer");
    if (negative && magnitude == 0) return fail(Reason::kNotInteger, offset(start), "-0 is not an integer");
    constexpr std::uint64_t kMaxPositive = (std::uint64_t{1} << 63) - 1;
    if (overflow || (!negative && magnitude > kMaxPositive)) {
      return fail(Reason::kNotInteger, offset(start), "integer out of int64 range");
    }
    std::int64_t v = 0;
    if (negative) {
      // -(2^63) has no positive counterpart: negate in unsigned arithmetic.
      v = static_cast<std::int64_t>(~magnitude + 1);
    } else {
      v = static_cast<std::int64_t>(magnitude);
    }
    out = Value(v);
    return true;
  }

  // p_ is at the opening quote. Strings without escapes are copied in one piece.
  // Skips bytes that need no attention: 8 at a time, then one by one.
  void skip_plain() {
    while (end_ - p_ >= 8 && !word_is_special(p_)) p_ += 8;
    while (p_ != end_ && kStringClass[*p_] == kPlain) ++p_;
  }

  bool parse_string(std::string& out) {
    const unsigned char* quote = p_;
    ++p_;
    const unsigned char* start = p_;
    for (;;) {
      skip_plain();
      if (p_ == end_) return fail(Reason::kMalformed, offset(quote), "unterminated string");
      const unsigned char c = *p_;
      if (c == '"') {
        const auto len = static_cast<std::size_t>(p_ - start);
        if (len > limits_.max_string_bytes) return fail_string_size(quote);
        out.assign(reinterpret_cast<const char*>(start), len);
        ++p_;
        return true;
      }
      if (c == '\\') break;
      if (c < 0x20) return fail(Reason::kMalformed, offset(), "control character in string");
      const std::size_t n = utf8_sequence(p_, end_);
      if (n == 0) return fail(Reason::kInvalidUtf8, offset(), "invalid UTF-8 in string");
      p_ += n;
    }
    // Slow path: the string has escapes. The unescaped text is never longer than the raw.
    out.assign(reinterpret_cast<const char*>(start), static_cast<std::size_t>(p_ - start));
    for (;;) {
      const unsigned char* run = p_;
      skip_plain();
      out.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p_ - run));
      if (p_ == end_) return fail(Reason::kMalformed, offset(quote), "unterminated string");
      const unsigned char c = *p_;
      if (c == '"') {
        ++p_;
        if (out.size() > limits_.max_string_bytes) return fail_string_size(quote);
        return true;
      }
      if (c == '\\') {
        if (!parse_escape(out)) return false;
        continue;
      }
      if (c < 0x20) return fail(Reason::kMalformed, offset(), "control character in string");
      const std::size_t n = utf8_sequence(p_, end_);
      if (n == 0) return fail(Reason::kInvalidUtf8, offset(), "invalid UTF-8 in string");
      out.append(reinterpret_cast<const char*>(p_), n);
      p_ += n;
    }
  }

  bool fail_string_size(const unsigned char* quote) {
    return fail(Reason::kTooLarge, offset(quote),
                "string longer than " + std::to_string(limits_.max_string_bytes) + " bytes");
  }

  // Reads the 4 hex digits of a \u escape at p_ (after "\u").
  bool parse_hex4(std::uint32_t& cp) {
    if (end_ - p_ < 4) return fail(Reason::kMalformed, offset(), "truncated \\u escape");
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const int h = hex_value(p_[i]);
      if (h < 0) return fail(Reason::kMalformed, offset(), "invalid \\u escape");
      v = (v << 4) | static_cast<std::uint32_t>(h);
    }
    p_ += 4;
    cp = v;
    return true;
  }

  // p_ is at the backslash.
  bool parse_escape(std::string& out) {
    const unsigned char* esc = p_;
    ++p_;
    if (p_ == end_) return fail(Reason::kMalformed, offset(esc), "unterminated string");
    const unsigned char c = *p_++;
    switch (c) {
      case '"': out.push_back('"'); return true;
      case '\\': out.push_back('\\'); return true;
      case '/': out.push_back('/'); return true;
      case 'b': out.push_back('\b'); return true;
      case 'f': out.push_back('\f'); return true;
      case 'n': out.push_back('\n'); return true;
      case 'r': out.push_back('\r'); return true;
      case 't': out.push_back('\t'); return true;
      case 'u': break;
      default: return fail(Reason::kMalformed, offset(esc), "invalid escape");
    }
    std::uint32_t cp = 0;
    if (!parse_hex4(cp)) return false;
    if (cp >= 0xDC00 && cp <= 0xDFFF) {
      return fail(Reason::kInvalidUtf8, offset(esc), "unpaired low surrogate escape");
    }
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') {
        return fail(Reason::kInvalidUtf8, offset(esc), "unpaired high surrogate escape");
      }
      p_ += 2;
      std::uint32_t lo = 0;
      if (!parse_hex4(lo)) return false;
      if (lo < 0xDC00 || lo > 0xDFFF) {
        return fail(Reason::kInvalidUtf8, offset(esc), "unpaired high surrogate escape");
      }
      cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    append_utf8(out, cp);
    return true;
  }

  bool enter(const unsigned char* open) {
    if (++depth_ > limits_.max_depth) {
      return fail(Reason::kTooDeep, offset(open),
                  "nesting deeper than " + std::to_string(limits_.max_depth));
    }
    return true;
  }

  bool fail_container_size(const unsigned char* open) {
    return fail(Reason::kTooLarge, offset(open),
                "container with more than " + std::to_string(limits_.max_container_size) +
                    " entries");
  }

  bool parse_array(Value& out) {
    const unsigned char* open = p_;
    if (!enter(open)) return false;
    ++p_;
    const std::size_t level = depth_ - 1;
    if (array_scratch_.size() <= level) array_scratch_.resize(level + 1);
    skip_ws();
    if (p_ != end_ && *p_ == ']') {
      ++p_;
    } else {
      for (;;) {
        // Index every time: deeper levels may grow array_scratch_ (elements stay put).
        Array& scratch = array_scratch_[level];
        if (scratch.size() >= limits_.max_container_size) return fail_container_size(open);
        Value& item = scratch.emplace_back();
        if (!parse_value(item)) return false;
        skip_ws();
        if (p_ != end_ && *p_ == ',') {
          ++p_;
          skip_ws();
          continue;
        }
        if (p_ != end_ && *p_ == ']') {
          ++p_;
          break;
        }
        return fail_unexpected("',' or ']'");
      }
    }
    --depth_;
    out = Value(take(array_scratch_[level]));
    return true;
  }

  bool parse_object(Value& out) {
    const unsigned char* open = p_;
    if (!enter(open)) return false;
    ++p_;
    const std::size_t level = depth_ - 1;
    if (member_scratch_.size() <= level) member_scratch_.resize(level + 1);
    skip_ws();
    if (p_ != end_ && *p_ == '}') {
      ++p_;
    } else {
      for (;;) {
        if (p_ == end_ || *p_ != '"') return fail_unexpected("a string key");
        // Index every time: deeper levels may grow member_scratch_ (elements stay put).
        std::vector<Member>& scratch = member_scratch_[level];
        if (scratch.size() >= limits_.max_container_size) return fail_container_size(open);
        Member& m = scratch.emplace_back();
        if (!parse_string(m.first)) return false;
        skip_ws();
        if (p_ == end_ || *p_ != ':') return fail_unexpected("':'");
        ++p_;
        skip_ws();
        if (!parse_value(m.second)) return false;
        skip_ws();
        if (p_ != end_ && *p_ == ',') {
          ++p_;
          skip_ws();
          continue;
        }
        if (p_ != end_ && *p_ == '}') {
          ++p_;
          break;
        }
        return fail_unexpected("',' or '}'");
      }
    }
    std::vector<Member> members = take(member_scratch_[level]);
    // REFERENCE §9: a repeated key is rejected, never first- or last-wins.
    if (const std::string* dup = sort_members(members)) {
      std::string what = "duplicate key \"";
      // The key is valid UTF-8 but may be long or contain control bytes; keep the log line sane.
      std::string_view shown = *dup;
      if (shown.size() > 64) {
        std::size_t cut = 64;
        while (cut > 0 && is_cont(static_cast<unsigned char>(shown[cut]))) --cut;
        shown = shown.substr(0, cut);
      }
      for (const char ch : shown) {
        what.push_back(static_cast<unsigned char>(ch) < 0x20 ? '?' : ch);
      }
      what.append("\" in the object");
      return fail(Reason::kDuplicateKey, offset(open), what);
    }
    Object object;
    // Already sorted and unique: this is the O(n) check only.
    if (!object.assign_unsorted(std::move(members))) {
      return fail(Reason::kDuplicateKey, offset(open), "duplicate key in the object");
    }
    --depth_;
    out = Value(std::move(object));
    return true;
  }

  // Moves the elements collected at one level into an exactly sized vector and leaves the
  // scratch vector empty, keeping its capacity for the next container at that level.
  template <typename T>
  static std::vector<T> take(std::vector<T>& scratch) {
    std::vector<T> result;
    result.reserve(scratch.size());
    std::move(scratch.begin(), scratch.end(), std::back_inserter(result));
    scratch.clear();
    return result;
  }

  const unsigned char* begin_;
  const unsigned char* p_;
  const unsigned char* end_;
  const ParseLimits& limits_;
  std::size_t depth_ = 0;
  Error error_;
  // Elements of the containers being parsed, one vector per nesting level, reused: a
  // container's elements are collected here and then moved into a vector of exactly their
  // number, which saves the reallocations of growing each small object member by member.
  std::vector<Array> array_scratch_;
  std::vector<std::vector<Member>> member_scratch_;
};

}  // namespace

Result<Value> parse(std::string_view text, const ParseLimits& limits) {
  return Parser(text, limits).run();
}

}  // namespace vouch::tuf::json
