#pragma once

// The one reader of JSON configuration files: vouch-server's, vouch-signer's and
// vouch-verifier's config files and the CLI's ~/.notary/config.json (issue 13, item 7: one JSON
// stack for configuration, Boost.JSON; tuf::json stays the strict canonical parser of TUF
// metadata). Only main.cc files, client/config.cc and client/credentials.cc use it (STYLE
// "config").
//
// Use: load (or parse) the file, read sections and typed keys into the caller's struct, then
// check status():
//
//   auto file = ConfigFile::load(path);
//   if (!file) die(file.error().message);
//   ConfigSection server = file->root().section("server");
//   server.get_string("http_addr", c.http_addr);
//   server.get_path("tls_cert_file", c.tls_cert_file);
//   server.get_integer("worker_threads", c.worker_threads, 1, 256);
//   if (auto st = file->status(); !st) die(st.error().message);
//
// Getters leave `out` unchanged when the key is absent (so defaults stay) and also after any
// error. The first error is kept ("sticky"); later getters still run but never replace it.
// Errors are Reason::kMalformed (load and parse also kNotFound, kIo, kTooLarge, kDuplicateKey,
// kTrailingData, kTooDeep) with a message naming
// the file and the dotted key: "config /etc/x.json: server.worker_threads: expected an integer
// from 1 to 256".
//
// Thread-safety: a ConfigFile and its sections are used by one thread at a time. Sections
// point into their ConfigFile and must not outlive it.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/result.h"

namespace vouch {

struct ConfigFileOptions {
  // Largest file read or text parsed. Default 1 MiB.
  std::size_t max_bytes = 1u << 20;
  // Deepest nesting of objects and arrays. Default 32.
  std::size_t max_depth = 32;
  // An object that repeats a key is an error (true, default), or the last value wins.
  bool reject_duplicate_keys = true;
  // Keys match case-insensitively, as Viper (Notary's config library) matches them; a key
  // looked up that is spelt two ways in one object is an error. Default false: exact match.
  bool case_insensitive_keys = false;
  // A key whose value is null reads as absent (true), or as a value of the wrong type (false,
  // default).
  bool null_is_absent = false;
};

class ConfigFile;

// One key of a section read by a table (ConfigSection::get_keys): its name, where its value
// goes, and which getter reads it, chosen by the type of the destination:
//   {"listen", &c.listen}                          get_string
//   ConfigKey::path("tls_cert_file", &c.cert)      get_path
//   {"workers", &c.workers, 1}                     get_integer, [1, max] (max default kNoMax)
//   {"key_cache_size", &c.key_cache_size}          get_size (no maximum)
//   {"memory_kib", &c.kdf.memory_kib}              get_uint32
//   {"mutate_keep_tag", &c.mutate_keep_tag}        get_bool
// Holds pointers into the caller's struct; use it within the statement that declares it.
class ConfigKey {
 public:
  ConfigKey(std::string_view key, std::string* out) : key_(key), out_(out) {}
  ConfigKey(std::string_view key, long long* out, long long min,
            long long max = 0x7fffffffffffffffLL)
      : key_(key), out_(out), min_(min), max_(max) {}
  ConfigKey(std::string_view key, std::size_t* out) : key_(key), out_(out) {}
  ConfigKey(std::string_view key, std::uint32_t* out) : key_(key), out_(out) {}
  ConfigKey(std::string_view key, bool* out) : key_(key), out_(out) {}
  // A file name, resolved as get_path resolves it.
  static ConfigKey path(std::string_view key, std::string* out) {
    ConfigKey k(key, out);
    k.path_ = true;
    return k;
  }

 private:
  friend class ConfigSection;
  std::string_view key_;
  std::variant<std::string*, long long*, std::size_t*, std::uint32_t*, bool*> out_;
  bool path_ = false;
  long long min_ = 0;
  long long max_ = 0;
};

// One JSON object of the file (the root, or a section below it), or an absent one: every
// getter of an absent section leaves its output unchanged. Cheap to copy.
class ConfigSection {
 public:
  // The object at `key`. Absent key: an absent section. Not an object: an error and an
  // absent section.
  ConfigSection section(std::string_view key) const;
  // The objects of the array at `key`, each as a section named "<key>[<i>]". Absent key: none.
  // Not an array of objects: an error and none.
  std::vector<ConfigSection> section_list(std::string_view key) const;
  bool present() const { return object_ != nullptr; }
  // Dotted name for messages ("" for the root, "server", "storage.kdf").
  const std::string& name() const { return name_; }
  // The object's keys, in file order.
  std::vector<std::string> keys() const;

  // Rejects (error naming it) any key not in `known`; for readers that must notice a misspelt
  // key. At the root, these are the section names.
  void only_keys(std::initializer_list<std::string_view> known) const;

  // Reads each key of `keys` with its getter (ConfigKey), in order: one table per section
  // instead of a getter call per key.
  void get_keys(std::initializer_list<ConfigKey> keys) const;
  // only_keys with the table's names (a key of this section that is not in the table is an
  // error), then get_keys.
  void get_only_keys(std::initializer_list<ConfigKey> keys) const;

  // A string.
  void get_string(std::string_view key, std::string& out) const;
  // A string, or an integer written as its decimal text (notary-server's config allows
  // "port": 7899 as well as "port": "7899").
  void get_string_or_integer(std::string_view key, std::string& out) const;
  // A file name: a relative one is resolved against the config file's directory (Notary's
  // GetPathRelativeToConfig); "" stays "".
  void get_path(std::string_view key, std::string& out) const;
  // An integer in [min, max].
  void get_integer(std::string_view key, long long& out, long long min,
                   long long max = kNoMax) const;
  // An integer in [1, max] into a size.
  void get_size(std::string_view key, std::size_t& out, std::size_t max = kNoMaxSize) const;
  // An integer in [1, 2^32-1].
  void get_uint32(std::string_view key, std::uint32_t& out) const;
  void get_bool(std::string_view key, bool& out) const;
  // An array of strings (replaces `out`).
  void get_string_list(std::string_view key, std::vector<std::string>& out) const;
  // An object whose members are strings / arrays of strings, e.g. trust_pinning.ca and
  // trust_pinning.certs (adds to `out`; its own keys always match exactly).
  void get_string_map(std::string_view key,
                      std::map<std::string, std::string, std::less<>>& out) const;
  void get_string_list_map(std::string_view key,
                           std::map<std::string, std::vector<std::string>, std::less<>>& out) const;

  // Records an error of the caller's own checks in the same form ("<section>.<key>: expected
  // <expected>"), unless an error is recorded already.
  void invalid(std::string_view key, std::string_view expected) const;

  static constexpr long long kNoMax = 0x7fffffffffffffffLL;
  static constexpr std::size_t kNoMaxSize = static_cast<std::size_t>(-1);

 private:
  friend class ConfigFile;
  ConfigSection(const ConfigFile* file, const void* object, std::string name)
      : file_(file), object_(object), name_(std::move(name)) {}
  // The value at `key` (a boost::json::value), or nullptr when absent (or null and
  // null_is_absent); records an error for a key given twice.
  const void* find(std::string_view key) const;
  void fail(std::string_view key, std::string_view expected) const;
  void reject_unknown_keys(std::span<const std::string_view> known) const;
  std::string dotted(std::string_view key) const;

  const ConfigFile* file_ = nullptr;
  const void* object_ = nullptr;  // const boost::json::object*
  std::string name_;
};

class ConfigFile {
 public:
  // Reads and parses `path` (at most options.max_bytes; a regular file). Errors: kNotFound
  // (missing), kIo (unreadable, not a regular file), kTooLarge, kMalformed (not JSON, not an
  // object), kDuplicateKey, kTrailingData (text after the object), kTooDeep; messages name
  // the file. JSON is RFC 8259 (numbers may have fractions; no comments, no trailing commas).
  static Result<ConfigFile> load(const std::filesystem::path& path, ConfigFileOptions options = {});
  // Parses `text` as the contents of `path` (relative file names resolve against its
  // directory; `path` should be absolute). Errors as load's.
  static Result<ConfigFile> parse(std::string_view text, const std::filesystem::path& path,
                                  ConfigFileOptions options = {});

  ConfigFile(ConfigFile&&) noexcept;
  ConfigFile& operator=(ConfigFile&&) noexcept;
  ~ConfigFile();

  ConfigSection root() const;
  const std::filesystem::path& path() const;
  // The first error of any getter, or OK.
  Status status() const;

 private:
  friend class ConfigSection;
  struct Impl;
  explicit ConfigFile(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vouch
