#include "client/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <system_error>

#include "keys/x509.h"
#include "tuf/json.h"

namespace vouch::client {
namespace {

namespace fs = std::filesystem;
namespace json = tuf::json;

Error malformed(std::string message) { return make_error(Reason::kMalformed, std::move(message)); }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto l = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
    if (l(a[i]) != l(b[i])) return false;
  }
  return true;
}

// Viper matches keys case-insensitively; two spellings of one key would be ambiguous.
// nullptr when absent or null.
Result<const json::Value*> member(const json::Object& obj, std::string_view key,
                                  std::string_view where) {
  const json::Value* found = nullptr;
  for (const auto& [name, value] : obj) {
    if (!iequals(name, key)) continue;
    if (found != nullptr) {
      return malformed(std::string(where) + std::string(key) + " is given twice");
    }
    found = &value;
  }
  if (found != nullptr && found->is_null()) return static_cast<const json::Value*>(nullptr);
  return found;
}

Result<std::optional<std::string>> string_member(const json::Object& obj, std::string_view key,
                                                 std::string_view where) {
  VOUCH_ASSIGN_OR_RETURN(const json::Value* v, member(obj, key, where));
  if (v == nullptr) return std::optional<std::string>();
  if (!v->is_string()) return malformed(std::string(where) + std::string(key) + " must be a string");
  return std::optional<std::string>(v->as_string());
}

Result<std::optional<bool>> bool_member(const json::Object& obj, std::string_view key,
                                        std::string_view where) {
  VOUCH_ASSIGN_OR_RETURN(const json::Value* v, member(obj, key, where));
  if (v == nullptr) return std::optional<bool>();
  if (!v->is_bool()) {
    return malformed(std::string(where) + std::string(key) + " must be true or false");
  }
  return std::optional<bool>(v->as_bool());
}

Result<const json::Object*> object_member(const json::Object& obj, std::string_view key,
                                          std::string_view where) {
  VOUCH_ASSIGN_OR_RETURN(const json::Value* v, member(obj, key, where));
  if (v == nullptr) return static_cast<const json::Object*>(nullptr);
  if (!v->is_object()) {
    return malformed(std::string(where) + std::string(key) + " must be an object");
  }
  return &v->as_object();
}

// Reads a whole file of at most `max` bytes. ENOENT -> kNotFound.
Result<std::string> read_bounded(const fs::path& path, std::size_t max) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    const int err = errno;
    return make_error(err == ENOENT || err == ENOTDIR ? Reason::kNotFound : Reason::kIo,
                      path.string() + ": " + std::strerror(err));
  }
  std::string out;
  Status status;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    status = make_error(Reason::kIo, path.string() + ": " + std::strerror(errno));
  } else if (!S_ISREG(st.st_mode)) {
    status = make_error(Reason::kIo, path.string() + " is not a regular file");
  } else {
    out.resize(max + 1);
    std::size_t used = 0;
    while (used < out.size()) {
      const ssize_t n = ::read(fd, out.data() + used, out.size() - used);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        status = make_error(Reason::kIo, path.string() + ": " + std::strerror(errno));
        break;
      }
      if (n == 0) break;
      used += static_cast<std::size_t>(n);
    }
    out.resize(used);
    if (status && used > max) {
      status = make_error(Reason::kTooLarge,
                          path.string() + " is larger than " + std::to_string(max) + " bytes");
    }
  }
  ::close(fd);
  if (!status) return std::move(status).error();
  return out;
}

}  // namespace

fs::path resolve_path(std::string_view path, const fs::path& base, std::string_view home) {
  if (path.empty()) return {};
  fs::path p;
  if (!home.empty() && (path == "~" || path.substr(0, 2) == "~/")) {
    p = fs::path(std::string(home)) / std::string(path.substr(path.size() > 1 ? 2 : 1));
  } else {
    p = fs::path(std::string(path));
  }
  if (p.is_relative()) p = base / p;
  // Notary: filepath.Clean.
  p = p.lexically_normal();
  if (p.has_filename() == false && p != p.root_path()) p = p.parent_path();
  return p;
}

ClientEnvironment ClientEnvironment::from_process() {
  ClientEnvironment env;
  if (const char* home = std::getenv("HOME"); home != nullptr) env.home = home;
  std::error_code ec;
  env.cwd = fs::current_path(ec);
  if (ec) env.cwd = "/";
  return env;
}

Result<ClientConfig> parse_client_config(std::string_view text, const fs::path& config_file,
                                         const ClientEnvironment& env) {
  if (text.size() > kMaxConfigFileBytes) {
    return make_error(Reason::kTooLarge, "config file larger than " +
                                             std::to_string(kMaxConfigFileBytes) + " bytes");
  }
  json::ParseLimits limits;
  limits.max_bytes = kMaxConfigFileBytes;
  limits.max_depth = 16;
  VOUCH_ASSIGN_OR_RETURN(json::Value doc, json::parse(text, limits));
  if (!doc.is_object()) return malformed("the configuration must be a JSON object");
  const json::Object& root = doc.as_object();
  const fs::path base = config_file.parent_path();

  ClientConfig config;
  config.config_file = config_file;
  config.config_file_found = true;
  config.trust_dir = env.home.empty() ? resolve_path(".notary", env.cwd, "")
                                      : resolve_path("~/.notary", env.cwd, env.home);

  VOUCH_ASSIGN_OR_RETURN(auto trust_dir, string_member(root, "trust_dir", ""));
  if (trust_dir && !trust_dir->empty()) {
    config.trust_dir = resolve_path(*trust_dir, base, env.home);
  }

  VOUCH_ASSIGN_OR_RETURN(const json::Object* remote,
                         object_member(root, "remote_server", ""));
  if (remote != nullptr) {
    constexpr std::string_view kWhere = "remote_server.";
    VOUCH_ASSIGN_OR_RETURN(auto url, string_member(*remote, "url", kWhere));
    // Notary's getRemoteTrustServer: an empty URL means the default.
    if (url && !url->empty()) config.remote_server.url = *url;
    VOUCH_ASSIGN_OR_RETURN(auto ca, string_member(*remote, "root_ca", kWhere));
    if (ca) config.remote_server.root_ca = resolve_path(*ca, base, env.home).string();
    VOUCH_ASSIGN_OR_RETURN(auto cert, string_member(*remote, "tls_client_cert", kWhere));
    if (cert) config.remote_server.tls_client_cert = resolve_path(*cert, base, env.home).string();
    VOUCH_ASSIGN_OR_RETURN(auto key, string_member(*remote, "tls_client_key", kWhere));
    if (key) config.remote_server.tls_client_key = resolve_path(*key, base, env.home).string();
    VOUCH_ASSIGN_OR_RETURN(auto skip, bool_member(*remote, "skipTLSVerify", kWhere));
    if (skip) config.remote_server.skip_tls_verify = *skip;
  }

  VOUCH_ASSIGN_OR_RETURN(const json::Object* pinning, object_member(root, "trust_pinning", ""));
  if (pinning != nullptr) {
    constexpr std::string_view kWhere = "trust_pinning.";
    VOUCH_ASSIGN_OR_RETURN(const json::Object* certs, object_member(*pinning, "certs", kWhere));
    if (certs != nullptr) {
      for (const auto& [gun, ids] : *certs) {
        const std::string where = "trust_pinning.certs[\"" + gun.substr(0, 256) + "\"]";
        if (!ids.is_array()) return malformed(where + " must be an array of key IDs");
        std::vector<std::string> list;
        for (const auto& id : ids.as_array()) {
          if (!id.is_string()) return malformed(where + " must hold strings");
          list.push_back(id.as_string());
        }
        config.trust_pinning.certs.emplace(gun, std::move(list));
      }
    }
    VOUCH_ASSIGN_OR_RETURN(const json::Object* ca, object_member(*pinning, "ca", kWhere));
    if (ca != nullptr) {
      for (const auto& [prefix, file] : *ca) {
        if (!file.is_string() || file.as_string().empty()) {
          return malformed("trust_pinning.ca[\"" + prefix.substr(0, 256) +
                           "\"] must be a file name");
        }
        config.trust_pinning.ca.emplace(prefix,
                                        resolve_path(file.as_string(), base, env.home).string());
      }
    }
    VOUCH_ASSIGN_OR_RETURN(auto tofu, bool_member(*pinning, "disable_tofu", kWhere));
    if (tofu) config.trust_pinning.disable_tofu = *tofu;
  }
  return config;
}

Result<ClientConfig> load_client_config(const ClientFlags& flags, const ClientEnvironment& env) {
  // Notary: ~/.notary/config.json unless -c is given; without $HOME, ./.notary/config.json.
  const fs::path default_dir = env.home.empty() ? resolve_path(".notary", env.cwd, "")
                                                : resolve_path("~/.notary", env.cwd, env.home);
  const bool named = !flags.config_file.empty();
  const fs::path file =
      named ? resolve_path(flags.config_file, env.cwd, env.home) : default_dir / "config.json";

  ClientConfig config;
  auto text = read_bounded(file, kMaxConfigFileBytes);
  if (text) {
    auto parsed = parse_client_config(*text, file, env);
    if (!parsed) return std::move(parsed).error().wrap("config file " + file.string());
    config = std::move(*parsed);
  } else if (named || text.error().reason != Reason::kNotFound) {
    // A named file must exist; the default one may be absent but must be readable if present.
    return std::move(text).error().wrap("cannot read config file");
  } else {
    config.config_file = file;
    config.config_file_found = false;
    config.trust_dir = default_dir;
  }

  // Flags win; their relative paths are relative to the current directory.
  if (!flags.trust_dir.empty()) config.trust_dir = resolve_path(flags.trust_dir, env.cwd, env.home);
  if (!flags.server.empty()) config.remote_server.url = flags.server;
  if (!flags.tls_ca_cert.empty()) {
    config.remote_server.root_ca = resolve_path(flags.tls_ca_cert, env.cwd, env.home).string();
  }
  if (!flags.tls_cert.empty()) {
    config.remote_server.tls_client_cert = resolve_path(flags.tls_cert, env.cwd, env.home).string();
  }
  if (!flags.tls_key.empty()) {
    config.remote_server.tls_client_key = resolve_path(flags.tls_key, env.cwd, env.home).string();
  }
  return config;
}

Result<tuf::TrustPinning> load_trust_pinning(const TrustPinningConfig& config) {
  tuf::TrustPinning out;
  out.certs = config.certs;
  out.disable_tofu = config.disable_tofu;
  for (const auto& [prefix, file] : config.ca) {
    auto text = read_bounded(file, kMaxConfigFileBytes);
    if (!text) {
      Error e = std::move(text).error();
      // A configured CA file that is missing is a configuration error, not "not found".
      if (e.reason == Reason::kNotFound) e = make_error(Reason::kIo, e.message);
      return std::move(e.wrap("trust_pinning.ca[\"" + prefix + "\"]"));
    }
    auto certs = keys::parse_certificate_bundle(*text);
    if (!certs) return std::move(certs).error().wrap(file);
    out.ca.emplace(prefix, std::move(*certs));
  }
  return out;
}

HttpOptions http_options(const ClientConfig& config) {
  HttpOptions options;
  options.ca_file = config.remote_server.root_ca;
  options.cert_file = config.remote_server.tls_client_cert;
  options.key_file = config.remote_server.tls_client_key;
  options.insecure_skip_verify = config.remote_server.skip_tls_verify;
  return options;
}

}  // namespace vouch::client
