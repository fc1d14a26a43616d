#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vouch::net {

// One HTTP (or MIME part) header field, as received or to be sent.
struct Header {
  std::string name;
  std::string value;
};

// ASCII case-insensitive comparison of header names ("Content-Type" == "content-type").
bool iequals(std::string_view a, std::string_view b);

// An ordered list of header fields with case-insensitive lookup by name. Order and repeated
// names are preserved as received. Lookups are linear: header lists are short (the server
// bounds their total size), and a vector beats a map at these sizes.
// Not thread-safe; a value type.
class Headers {
 public:
  Headers() = default;

  // The value of the first field named `name`, or nullopt. The view is valid until this
  // object is modified or destroyed.
  std::optional<std::string_view> get(std::string_view name) const;
  // The value of the first field named `name`, or `fallback`.
  std::string_view get_or(std::string_view name, std::string_view fallback) const;
  bool contains(std::string_view name) const { return get(name).has_value(); }
  // How many fields are named `name` (a caller that forbids repeats checks this).
  std::size_t count(std::string_view name) const;

  // Appends a field (repeats allowed).
  void add(std::string name, std::string value);
  // Replaces every field named `name` by one field with `value` (appends if none).
  void set(std::string_view name, std::string value);
  // Removes every field named `name`; returns how many were removed.
  std::size_t remove(std::string_view name);

  void reserve(std::size_t n) { fields_.reserve(n); }
  void clear() { fields_.clear(); }
  bool empty() const { return fields_.empty(); }
  std::size_t size() const { return fields_.size(); }
  const std::vector<Header>& fields() const { return fields_; }
  auto begin() const { return fields_.begin(); }
  auto end() const { return fields_.end(); }

 private:
  std::vector<Header> fields_;
};

}  // namespace vouch::net
