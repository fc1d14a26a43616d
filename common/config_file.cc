#include "common/config_file.h"

#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>

#include <limits>
#include <optional>
#include <set>
#include <span>
#include <utility>
#include <variant>
#include <vector>

#include "common/fs.h"

namespace vouch {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// A second pass over the text that only looks for an object repeating a key: json::parse
// keeps the last value silently, and a repeated key in a config file is a mistake whose
// outcome the reader should not have to guess.
class DuplicateKeyFinder {
 public:
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  std::optional<std::string> duplicate;

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) {
    keys_.emplace_back();
    return true;
  }
  bool on_object_end(std::size_t, json::error_code&) {
    keys_.pop_back();
    return true;
  }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(std::size_t, json::error_code&) { return true; }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code& ec) {
    key_.append(s.data(), s.size());
    if (!keys_.back().insert(key_).second) {
      duplicate = std::move(key_);
      ec = json::error::syntax;  // stops the parser; the caller reports `duplicate`
      return false;
    }
    key_.clear();
    return true;
  }
  bool on_string_part(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_string(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t, json::string_view, json::error_code&) { return true; }
  bool on_uint64(std::uint64_t, json::string_view, json::error_code&) { return true; }
  bool on_double(double, json::string_view, json::error_code&) { return true; }
  bool on_bool(bool, json::error_code&) { return true; }
  bool on_null(json::error_code&) { return true; }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  std::vector<std::set<std::string>> keys_;
  std::string key_;
};

std::optional<std::string> find_duplicate_key(std::string_view text,
                                              const json::parse_options& options) {
  json::basic_parser<DuplicateKeyFinder> parser(options);
  json::error_code ec;
  parser.write_some(false, text.data(), text.size(), ec);
  return std::move(parser.handler().duplicate);
}

const json::object* as_object(const void* p) { return static_cast<const json::object*>(p); }
const json::value* as_value(const void* p) { return static_cast<const json::value*>(p); }

}  // namespace

struct ConfigFile::Impl {
  fs::path path;
  fs::path base;
  ConfigFileOptions options;
  json::value doc;
  mutable std::optional<Error> error;

  void fail(std::string message) const {
    if (!error) error = make_error(Reason::kMalformed, "config " + path.string() + ": " + message);
  }
};

ConfigFile::ConfigFile(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ConfigFile::ConfigFile(ConfigFile&&) noexcept = default;
ConfigFile& ConfigFile::operator=(ConfigFile&&) noexcept = default;
ConfigFile::~ConfigFile() = default;

Result<ConfigFile> ConfigFile::load(const fs::path& path, ConfigFileOptions options) {
  auto text = read_file_bounded(path, options.max_bytes);
  if (!text) return std::move(text).error().wrap("config");
  return parse(*text, path, options);
}

Result<ConfigFile> ConfigFile::parse(std::string_view text, const fs::path& path,
                                     ConfigFileOptions options) {
  const std::string where = "config " + path.string();
  if (text.size() > options.max_bytes) {
    return make_error(Reason::kTooLarge, where + " is larger than " +
                                             std::to_string(options.max_bytes) + " bytes");
  }
  json::parse_options parse_options;
  parse_options.max_depth = options.max_depth;
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  std::error_code ec;
  impl->base = fs::absolute(path, ec).parent_path();
  if (ec) impl->base = path.parent_path();
  impl->options = options;
  json::error_code jec;
  impl->doc = json::parse(json::string_view(text.data(), text.size()), jec, {}, parse_options);
  if (jec == json::error::extra_data) {
    return make_error(Reason::kTrailingData, where + ": text after the JSON object");
  }
  if (jec == json::error::too_deep) {
    return make_error(Reason::kTooDeep, where + ": nested deeper than " +
                                            std::to_string(options.max_depth) + " levels");
  }
  if (jec) return make_error(Reason::kMalformed, where + " is not valid JSON: " + jec.message());
  if (!impl->doc.is_object()) return make_error(Reason::kMalformed, where + " must hold a JSON object");
  if (options.reject_duplicate_keys) {
    if (auto key = find_duplicate_key(text, parse_options)) {
      return make_error(Reason::kDuplicateKey,
                        where + ": the key \"" + key->substr(0, 256) + "\" is given twice");
    }
  }
  return ConfigFile(std::move(impl));
}

ConfigSection ConfigFile::root() const { return ConfigSection(this, &impl_->doc.get_object(), ""); }

const fs::path& ConfigFile::path() const { return impl_->path; }

Status ConfigFile::status() const {
  if (impl_->error) return *impl_->error;
  return ok_status();
}

std::string ConfigSection::dotted(std::string_view key) const {
  return name_.empty() ? std::string(key) : name_ + "." + std::string(key);
}

void ConfigSection::invalid(std::string_view key, std::string_view expected) const {
  fail(key, expected);
}

void ConfigSection::fail(std::string_view key, std::string_view expected) const {
  file_->impl_->fail(dotted(key) + ": expected " + std::string(expected));
}

const void* ConfigSection::find(std::string_view key) const {
  if (object_ == nullptr) return nullptr;
  const auto& options = file_->impl_->options;
  const json::value* found = nullptr;
  if (options.case_insensitive_keys) {
    for (const auto& member : *as_object(object_)) {
      const std::string_view name(member.key().data(), member.key().size());
      if (!iequals(name, key)) continue;
      if (found != nullptr) {
        file_->impl_->fail(dotted(key) + ": given twice (keys match case-insensitively)");
        return nullptr;
      }
      found = &member.value();
    }
  } else {
    found = as_object(object_)->if_contains(json::string_view(key.data(), key.size()));
  }
  if (found != nullptr && found->is_null() && options.null_is_absent) return nullptr;
  return found;
}

ConfigSection ConfigSection::section(std::string_view key) const {
  const json::value* v = as_value(find(key));
  if (v == nullptr) return ConfigSection(file_, nullptr, dotted(key));
  if (!v->is_object()) {
    fail(key, "an object");
    return ConfigSection(file_, nullptr, dotted(key));
  }
  return ConfigSection(file_, &v->get_object(), dotted(key));
}

std::vector<ConfigSection> ConfigSection::section_list(std::string_view key) const {
  std::vector<ConfigSection> out;
  const json::value* v = as_value(find(key));
  if (v == nullptr) return out;
  if (!v->is_array()) {
    fail(key, "an array of objects");
    return out;
  }
  for (const auto& e : v->get_array()) {
    if (!e.is_object()) {
      fail(key, "an array of objects");
      return {};
    }
    out.push_back(ConfigSection(file_, &e.get_object(),
                                dotted(key) + "[" + std::to_string(out.size()) + "]"));
  }
  return out;
}

std::vector<std::string> ConfigSection::keys() const {
  std::vector<std::string> out;
  if (object_ == nullptr) return out;
  for (const auto& member : *as_object(object_)) out.emplace_back(member.key());
  return out;
}

void ConfigSection::only_keys(std::initializer_list<std::string_view> known) const {
  reject_unknown_keys(std::span<const std::string_view>(known.begin(), known.size()));
}

void ConfigSection::get_keys(std::initializer_list<ConfigKey> keys) const {
  for (const ConfigKey& k : keys) {
    if (std::string* const* s = std::get_if<std::string*>(&k.out_)) {
      k.path_ ? get_path(k.key_, **s) : get_string(k.key_, **s);
    } else if (long long* const* n = std::get_if<long long*>(&k.out_)) {
      get_integer(k.key_, **n, k.min_, k.max_);
    } else if (std::size_t* const* size = std::get_if<std::size_t*>(&k.out_)) {
      get_size(k.key_, **size);
    } else if (std::uint32_t* const* u32 = std::get_if<std::uint32_t*>(&k.out_)) {
      get_uint32(k.key_, **u32);
    } else if (bool* const* b = std::get_if<bool*>(&k.out_)) {
      get_bool(k.key_, **b);
    }
  }
}

void ConfigSection::get_only_keys(std::initializer_list<ConfigKey> keys) const {
  std::vector<std::string_view> names;
  names.reserve(keys.size());
  for (const ConfigKey& k : keys) names.push_back(k.key_);
  reject_unknown_keys(names);
  get_keys(keys);
}

void ConfigSection::reject_unknown_keys(std::span<const std::string_view> known) const {
  if (object_ == nullptr) return;
  for (const auto& member : *as_object(object_)) {
    const std::string_view name(member.key().data(), member.key().size());
    bool ok = false;
    for (std::string_view k : known) {
      ok = ok || (file_->impl_->options.case_insensitive_keys ? iequals(k, name) : k == name);
    }
    if (!ok) {
      file_->impl_->fail((name_.empty() ? "unknown section \"" : "unknown key \"") +
                         dotted(name.substr(0, 256)) + "\"");
      return;
    }
  }
}

void ConfigSection::get_string(std::string_view key, std::string& out) const {
  const json::value* v = as_value(find(key));
  if (v == nullptr) return;
  if (!v->is_string()) return fail(key, "a string");
  out = std::string(v->get_string());
}

void ConfigSection::get_string_or_integer(std::string_view key, std::string& out) const {
  const json::value* v = as_value(find(key));
  if (v == nullptr) return;
  if (v->is_int64()) {
    out = std::to_string(v->get_int64());
  } else if (v->is_uint64()) {
    out = std::to_string(v->get_uint64());
  } else if (v->is_string()) {
    out = std::string(v->get_string());
  } else {
    fail(key, "a string or an integer");
  }
}

void ConfigSection::get_path(std::string_view key, std::string& out) const {
  const json::value* v = as_value(find(key));
  if (v == nullptr) return;
  if (!v->is_string()) return fail(key, "a string");
  std::string value(v->get_string());
  if (!value.empty() && fs::path(value).is_relative()) value = (file_->impl_->base / value).string();
  out = std::move(value);
}

void ConfigSection::get_integer(std::string_view key, long long& out, long long min,
                                long long max) const {
  const json::value* v = as_value(find(key));
  if (v == nullptr) return;
  const std::int64_t* n = v->if_int64();
  if (n == nullptr || *n < min || *n > max) {
    if (max == kNoMax) return fail(key, "an integer >= " + std::to_string(min));
    return fail(key, "an integer from " + std::to_string(min) + " to " + std::to_string(max));
  }
  out = *n;
}

void ConfigSection::get_size(std::string_view key, std::size_t& out, std::size_t max) const {
  const json::value* v = as_value(find(key));
  if (v == nullptr) return;
  std::uint64_t n = 0;
  if (const std::int64_t* i = v->if_int64(); i != nullptr && *i >= 1) {
    n = static_cast<std::uint64_t>(*i);
  } else if (const std::uint64_t* u = v->if_uint64(); u != nullptr) {
    n = *u;
  }
  if (n == 0 || n > max) {
    if (max == kNoMaxSize) return fail(key, "a positive integer");
    return fail(key, "an integer from 1 to " + std::to_string(max));
  }
  out = static_cast<std::size_t>(n);
}

void ConfigSection::get_uint32(std::string_view key, std::uint32_t& out) const {
  std::size_t n = out;
  get_size(key, n, std::numeric_limits<std::uint32_t>::max());
  out = static_cast<std::uint32_t>(n);
}

void ConfigSection::get_bool(std::string_view key, bool& out) const {
  const json::value* v = as_value(find(key));
  if (v == nullptr) return;
  if (!v->is_bool()) return fail(key, "true or false");
  out = v->get_bool();
}

void ConfigSection::get_string_list(std::string_view key, std::vector<std::string>& out) const {
  const json::value* v = as_value(find(key));
  if (v == nullptr) return;
  if (!v->is_array()) return fail(key, "an array of strings");
  std::vector<std::string> list;
  for (const auto& e : v->get_array()) {
    if (!e.is_string()) return fail(key, "an array of strings");
    list.emplace_back(e.get_string());
  }
  out = std::move(list);
}

void ConfigSection::get_string_map(std::string_view key,
                                   std::map<std::string, std::string, std::less<>>& out) const {
  const json::value* v = as_value(find(key));
  if (v == nullptr) return;
  if (!v->is_object()) return fail(key, "an object of strings");
  std::map<std::string, std::string, std::less<>> map;
  for (const auto& member : v->get_object()) {
    if (!member.value().is_string()) return fail(key, "an object of strings");
    map.emplace(member.key(), member.value().get_string());
  }
  out.merge(map);
}

void ConfigSection::get_string_list_map(
    std::string_view key, std::map<std::string, std::vector<std::string>, std::less<>>& out) const {
  const json::value* v = as_value(find(key));
  if (v == nullptr) return;
  if (!v->is_object()) return fail(key, "an object of arrays of strings");
  std::map<std::string, std::vector<std::string>, std::less<>> map;
  for (const auto& member : v->get_object()) {
    if (!member.value().is_array()) return fail(key, "an object of arrays of strings");
    std::vector<std::string> list;
    for (const auto& e : member.value().get_array()) {
      if (!e.is_string()) return fail(key, "an object of arrays of strings");
      list.emplace_back(e.get_string());
    }
    map.emplace(member.key(), std::move(list));
  }
  out.merge(map);
}

}  // namespace vouch
