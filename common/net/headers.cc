#include "common/net/headers.h"

#include <algorithm>

namespace vouch::net {

namespace {
constexpr char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}
}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

std::optional<std::string_view> Headers::get(std::string_view name) const {
  for (const Header& h : fields_) {
    if (iequals(h.name, name)) return std::string_view(h.value);
  }
  return std::nullopt;
}

std::string_view Headers::get_or(std::string_view name, std::string_view fallback) const {
  auto v = get(name);
  return v ? *v : fallback;
}

std::size_t Headers::count(std::string_view name) const {
  return static_cast<std::size_t>(std::count_if(
      fields_.begin(), fields_.end(), [&](const Header& h) { return iequals(h.name, name); }));
}

void Headers::add(std::string name, std::string value) {
  fields_.push_back(Header{std::move(name), std::move(value)});
}

void Headers::set(std::string_view name, std::string value) {
  auto it = std::find_if(fields_.begin(), fields_.end(),
                         [&](const Header& h) { return iequals(h.name, name); });
  if (it == fields_.end()) {
    fields_.push_back(Header{std::string(name), std::move(value)});
    return;
  }
  it->value = std::move(value);
  // Remove any later duplicates.
  auto rest = std::remove_if(std::next(it), fields_.end(),
                             [&](const Header& h) { return iequals(h.name, name); });
  fields_.erase(rest, fields_.end());
}

std::size_t Headers::remove(std::string_view name) {
  auto rest = std::remove_if(fields_.begin(), fields_.end(),
                             [&](const Header& h) { return iequals(h.name, name); });
  auto n = static_cast<std::size_t>(std::distance(rest, fields_.end()));
  fields_.erase(rest, fields_.end());
  return n;
}

}  // namespace vouch::net
