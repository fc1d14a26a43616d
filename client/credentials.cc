#include "client/credentials.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "client/http.h"
#include "common/fs.h"
#include "tuf/json.h"

namespace vouch::client {
namespace {

namespace json = tuf::json;

using Logins = json::Object;  // origin -> {"realm","refresh_token","username"}

Error malformed(const std::filesystem::path& path, std::string_view what) {
  return make_error(Reason::kMalformed,
                    path.string() + ": " + std::string(what) + " (fix or remove the file)");
}

// The "servers" object of the file, empty when there is no file.
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
  json::ParseLimits limits;
  limits.max_bytes = CredentialStore::kMaxFileBytes;
  limits.max_depth = 4;
  auto doc = json::parse(text, limits);
  std::fill(text.begin(), text.end(), '\0');
  if (!doc || !doc->is_object()) return malformed(path, "not a JSON object");
  const json::Value* servers = doc->find("servers");
  if (servers == nullptr || !servers->is_object()) return malformed(path, "no \"servers\" object");
  for (const auto& [origin, entry] : servers->as_object()) {
    if (!entry.is_object()) return malformed(path, "the entry for " + origin + " is no object");
    for (const char* field : {"realm", "refresh_token", "username"}) {
      const json::Value* v = entry.find(field);
      if (v == nullptr || !v->is_string()) {
        return malformed(path, "the entry for " + origin + " has no string \"" + field + "\"");
      }
    }
  }
  return servers->as_object();
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
  json::Object doc;
  doc.set("servers", json::Value(logins));
  std::string text = json::canonical(json::Value(std::move(doc)));
  text.push_back('\n');
  Status written = write_file_atomic(path, text);
  std::fill(text.begin(), text.end(), '\0');
  return written;
}

StoredLogin to_login(const std::string& origin, const json::Value& entry) {
  StoredLogin login;
  login.server = origin;
  login.username = entry.find("username")->as_string();
  login.realm = entry.find("realm")->as_string();
  login.refresh_token = keys::SecretString(entry.find("refresh_token")->as_string());
  return login;
}

}  // namespace

CredentialStore::CredentialStore(std::filesystem::path trust_dir)
    : path_(std::move(trust_dir) / kFileName) {}

Result<std::optional<StoredLogin>> CredentialStore::find(std::string_view server_url) const {
  VOUCH_ASSIGN_OR_RETURN(const std::string origin, url_origin(server_url));
  VOUCH_ASSIGN_OR_RETURN(const Logins logins, load(path_));
  const json::Value* entry = logins.find(origin);
  if (entry == nullptr) return std::optional<StoredLogin>();
  return std::optional<StoredLogin>(to_login(origin, *entry));
}

Status CredentialStore::save(const StoredLogin& login) const {
  VOUCH_ASSIGN_OR_RETURN(const std::string origin, url_origin(login.server));
  VOUCH_ASSIGN_OR_RETURN(Logins logins, load(path_));
  json::Object entry;
  entry.set("realm", login.realm);
  entry.set("refresh_token", std::string(login.refresh_token.view()));
  entry.set("username", login.username);
  logins.set(origin, json::Value(std::move(entry)));
  return store(path_, logins);
}

Result<std::optional<StoredLogin>> CredentialStore::remove(std::string_view server_url) const {
  VOUCH_ASSIGN_OR_RETURN(const std::string origin, url_origin(server_url));
  VOUCH_ASSIGN_OR_RETURN(Logins logins, load(path_));
  const json::Value* entry = logins.find(origin);
  if (entry == nullptr) return std::optional<StoredLogin>();
  std::optional<StoredLogin> removed = to_login(origin, *entry);
  logins.erase(origin);
  VOUCH_RETURN_IF_ERROR(store(path_, logins));
  return removed;
}

Result<std::vector<std::string>> CredentialStore::servers() const {
  VOUCH_ASSIGN_OR_RETURN(const Logins logins, load(path_));
  std::vector<std::string> out;
  for (const auto& [origin, entry] : logins) out.push_back(origin);
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
