#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "common/result.h"

namespace vouch::tuf::json {

// A strict JSON document model for TUF metadata.
//
// Differences from general-purpose JSON libraries, all deliberate (REFERENCE §9):
//  - Numbers are 64-bit signed integers only. A fraction, an exponent, "-0", or a value
//    outside int64 is rejected (Reason::kNotInteger): TUF metadata has no other numbers, and
//    Notary's float64 round trip is a known source of unverifiable metadata.
//  - Objects keep their members sorted bytewise by key, which is the order canonical JSON
//    writes; a repeated key anywhere is rejected (Reason::kDuplicateKey).
//  - Strings must be valid UTF-8 (no overlongs, no surrogates) after unescaping
//    (Reason::kInvalidUtf8); "\u0000" is allowed and kept.
class Value;
using Array = std::vector<Value>;
using Member = std::pair<std::string, Value>;

// Object members, sorted bytewise by key, keys unique.
class Object {
 public:
  Object() = default;
  // Lookup by key: O(log n). nullptr if absent.
  const Value* find(std::string_view key) const;
  Value* find(std::string_view key);
  // Inserts or replaces, keeping the order.
  void set(std::string key, Value value);
  // Removes a key if present; returns whether it was present.
  bool erase(std::string_view key);
  // Defined inline after Value: Member needs a complete Value (clang instantiates eagerly).
  std::size_t size() const;
  bool empty() const;
  auto begin() const;
  auto end() const;
  auto begin();
  auto end();
  // For the parser: takes members in any order; returns false on a duplicate key (and then
  // leaves this object unchanged).
  bool assign_unsorted(std::vector<Member> members);

 private:
  std::vector<Member> members_;
};

enum class Type : std::uint8_t { kNull, kBool, kInt, kString, kArray, kObject };
std::string_view to_string(Type type);

class Value {
 public:
  Value() = default;  // null
  Value(std::nullptr_t) {}  // NOLINT: implicit
  Value(bool b) : v_(b) {}  // NOLINT: implicit
  Value(std::int64_t i) : v_(i) {}  // NOLINT: implicit
  Value(int i) : v_(std::int64_t{i}) {}  // NOLINT: implicit
  Value(std::string s) : v_(std::move(s)) {}  // NOLINT: implicit
  Value(std::string_view s) : v_(std::string(s)) {}  // NOLINT: implicit
  Value(const char* s) : v_(std::string(s)) {}  // NOLINT: implicit
  Value(Array a) : v_(std::move(a)) {}  // NOLINT: implicit
  Value(Object o) : v_(std::move(o)) {}  // NOLINT: implicit

  Type type() const { return static_cast<Type>(v_.index()); }
  bool is_null() const { return type() == Type::kNull; }
  bool is_bool() const { return type() == Type::kBool; }
  bool is_int() const { return type() == Type::kInt; }
  bool is_string() const { return type() == Type::kString; }
  bool is_array() const { return type() == Type::kArray; }
  bool is_object() const { return type() == Type::kObject; }

  // Unchecked accessors: the type must match (asserted).
  bool as_bool() const { return std::get<bool>(v_); }
  std::int64_t as_int() const { return std::get<std::int64_t>(v_); }
  const std::string& as_string() const { return std::get<std::string>(v_); }
  const Array& as_array() const { return std::get<Array>(v_); }
  Array& as_array() { return std::get<Array>(v_); }
  const Object& as_object() const { return std::get<Object>(v_); }
  Object& as_object() { return std::get<Object>(v_); }

  // Object member lookup; nullptr if this is not an object or the key is absent.
  const Value* find(std::string_view key) const;

  friend bool operator==(const Value& a, const Value& b);

 private:
  std::variant<std::nullptr_t, bool, std::int64_t, std::string, Array, Object> v_;
};

inline std::size_t Object::size() const { return members_.size(); }
inline bool Object::empty() const { return members_.empty(); }
inline auto Object::begin() const { return members_.begin(); }
inline auto Object::end() const { return members_.end(); }
inline auto Object::begin() { return members_.begin(); }
inline auto Object::end() { return members_.end(); }

bool operator==(const Object& a, const Object& b);

// Limits on untrusted input. Exceeding one is Reason::kTooLarge (sizes, counts) or
// Reason::kTooDeep (nesting).
struct ParseLimits {
  // Whole document. Notary's client cap for any metadata download is 100 MiB.
  std::size_t max_bytes = 100u << 20;
  // Nesting of arrays and objects. TUF metadata needs 6; custom target data may nest more.
  // The parser recurses once per level (~250 bytes of stack at -O2, more in debug and
  // sanitizer builds), and so does destroying the Value: keep it far below
  // what the calling thread's stack holds.
  std::size_t max_depth = 64;
  // One string, after unescaping.
  std::size_t max_string_bytes = 16u << 20;
  // Members of one object or elements of one array.
  std::size_t max_container_size = 10'000'000;
};

// Parses exactly one JSON value (RFC 8259) with optional surrounding whitespace. Rejects:
// trailing data (kTrailingData), duplicate keys (kDuplicateKey), invalid UTF-8 anywhere in
// the input including unpaired surrogate escapes (kInvalidUtf8), non-integer numbers
// (kNotInteger), leading zeros, raw control characters inside strings, comments, trailing
// commas, NaN/Infinity, a BOM (all kMalformed), and limit violations (kTooLarge / kTooDeep).
// Anything after a complete value, a comment included, is kTrailingData. A string escape
// such as "\u0001" is accepted and yields a raw control byte, which canonical() writes raw.
// The message names the byte offset of the problem. Never throws; recursion is bounded by
// max_depth.
Result<Value> parse(std::string_view text, const ParseLimits& limits = {});

// Notary's canonical JSON (docker/go canonical/json MarshalCanonical; STACK §2): members in
// bytewise key order, no whitespace, integers in decimal, and in strings only '"' and '\'
// escaped ("\"" and "\\"); every other byte (control bytes, '<', '>', '&', non-ASCII UTF-8,
// U+2028/2029) is written raw.
std::string canonical(const Value& value);
void canonical_append(const Value& value, std::string& out);

}  // namespace vouch::tuf::json
