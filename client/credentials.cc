#include "client/credentials.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <map>
#include <system_error>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "client/http.h"
#include "common/config_file.h"
#include "common/fs.h"

namespace vouch::client {
namespace {

namespace bj = boost::json;

// origin -> its login, in origin order (the file is written sorted).
using Logins = std::map<std::string, StoredLogin, std::less<>>;

constexpr std::array<std::string_view, 3> kFields = {"realm", "refresh_token", "username"};

Error malformed(const std::filesystem::path& path, std::string_view what) {
  return make_error(Reason::kMalformed,
                    path.string() + ": " + std::string(what) + " (fix or remove the file)");
}

// The logins of the file's "servers" object, none when there is no file.
Result<Logins> load(const std::filesystem::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Logins{};
    return make_error(Reason::kIo, path.string() + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) return malformed(path, "not a regular file");
  if ((st.st_mode & 077) != 0) {
    return make_error(Code::kFailedPrecondition, Reason::kInsecureFile,
                      path.string() + " is accessible by group or others: chmod 600 it");
  }
  if (static_cast<std::uintmax_t>(st.st_size) > CredentialStore::kMaxFileBytes) {
    return malformed(path, "larger than " + std::to_string(CredentialStore::kMaxFileBytes) +
                               " bytes");
  }
  VOUCH_ASSIGN_OR_RETURN(std::string text,
                         read_file_bounded(path, CredentialStore::kMaxFileBytes));
  // The config reader (Boost.JSON; a key given twice is an error, as before).
  ConfigFileOptions options;
  options.max_bytes = CredentialStore::kMaxFileBytes;
  options.max_depth = 4;
  auto file = ConfigFile::parse(text, path, options);
  std::fill(text.begin(), text.end(), '\0');
  if (!file) return malformed(path, "not a JSON object");
  const ConfigSection servers = file->root().section("servers");
  if (!servers.present() || !file->status().ok()) {
    return malformed(path, "no \"servers\" object");
  }
  Logins logins;
  for (const std::string& origin : servers.keys()) {
    const ConfigSection entry = servers.section(origin);
    if (!entry.present()) return malformed(path, "the entry for " + origin + " is no object");
    const std::vector<std::string> names = entry.keys();
    std::array<std::string, kFields.size()> values;
    for (std::size_t i = 0; i < kFields.size(); ++i) {
      entry.get_string(kFields[i], values[i]);
      const bool given = std::find(names.begin(), names.end(), kFields[i]) != names.end();
      if (!given || !file->status().ok()) {
        return malformed(path, "the entry for " + origin + " has no string \"" +
                                   std::string(kFields[i]) + "\"");
      }
    }
    StoredLogin& login = logins[origin];
    login.server = origin;
    login.realm = std::move(values[0]);
    login.refresh_token = keys::SecretString(values[1]);
    std::fill(values[1].begin(), values[1].end(), '\0');
    login.username = std::move(values[2]);
  }
  return logins;
}

Status store(const std::filesystem::path& path, const Logins& logins) {
  std::error_code ec;
  const auto dir = path.parent_path();
  if (!std::filesystem::exists(dir, ec)) {
    std::filesystem::create_directories(dir, ec);
    if (ec) return make_error(Reason::kIo, dir.string() + ": " + ec.message());
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
  }
  if (logins.empty()) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return make_error(Reason::kIo, path.string() + ": " + std::strerror(errno));
    }
    return sync_dir(dir);
  }
  // Members in key order, as the file has always been written.
  bj::object servers;
  for (const auto& [origin, login] : logins) {
    bj::object entry;
    entry["realm"] = login.realm;
    entry["refresh_token"] = login.refresh_token.view();
    entry["username"] = login.username;
    servers[origin] = std::move(entry);
  }
  bj::object doc;
  doc["servers"] = std::move(servers);
  std::string text = bj::serialize(doc);
  text.push_back('\n');
  Status written = write_file_atomic(path, text);
  std::fill(text.begin(), text.end(), '\0');
  return written;
}

std::optional<StoredLogin> take(Logins& logins, std::string_view origin) {
  const auto it = logins.find(origin);
  if (it == logins.end()) return std::nullopt;
  return std::move(it->second);
}

}  // namespace

CredentialStore::CredentialStore(std::filesystem::path trust_dir)
    : path_(std::move(trust_dir) / kFileName) {}

Result<std::optional<StoredLogin>> CredentialStore::find(std::string_view server_url) const {
  VOUCH_ASSIGN_OR_RETURN(const std::string origin, url_origin(server_url));
  VOUCH_ASSIGN_OR_RETURN(Logins logins, load(path_));
  return take(logins, origin);
}

Status CredentialStore::save(const StoredLogin& login) const {
  VOUCH_ASSIGN_OR_RETURN(const std::string origin, url_origin(login.server));
  VOUCH_ASSIGN_OR_RETURN(Logins logins, load(path_));
  StoredLogin& entry = logins[origin];
  entry.server = origin;
  entry.realm = login.realm;
  entry.refresh_token = login.refresh_token.copy();
  entry.username = login.username;
  return store(path_, logins);
}

Result<std::optional<StoredLogin>> CredentialStore::remove(std::string_view server_url) const {
  VOUCH_ASSIGN_OR_RETURN(const std::string origin, url_origin(server_url));
  VOUCH_ASSIGN_OR_RETURN(Logins logins, load(path_));
  std::optional<StoredLogin> removed = take(logins, origin);
  if (!removed) return removed;
  logins.erase(origin);
  VOUCH_RETURN_IF_ERROR(store(path_, logins));
  return removed;
}

Result<std::vector<std::string>> CredentialStore::servers() const {
  VOUCH_ASSIGN_OR_RETURN(const Logins logins, load(path_));
  std::vector<std::string> out;
  for (const auto& [origin, login] : logins) out.push_back(origin);
  return out;
}

std::optional<std::string> api_token_id(std::string_view token) {
  // server/accounts/api_tokens.h: "vouch_" + 16 base32 characters + "_" + the secret.
  constexpr std::string_view kPrefix = "vouch_";
  constexpr std::size_t kIdChars = 16;
  if (token.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  token.remove_prefix(kPrefix.size());
  if (token.size() <= kIdChars + 1 || token[kIdChars] != '_') return std::nullopt;
  const std::string_view id = token.substr(0, kIdChars);
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7'))) return std::nullopt;
  }
  return std::string(id);
}

}  // namespace vouch::client
