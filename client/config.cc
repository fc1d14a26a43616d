#include "client/config.h"

#include <cstdlib>
#include <map>
#include <system_error>

#include "common/config_file.h"
#include "common/fs.h"
#include "keys/x509.h"

namespace vouch::client {

namespace fs = std::filesystem;

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
  ConfigFileOptions options;
  options.max_bytes = kMaxConfigFileBytes;
  options.max_depth = 16;
  options.case_insensitive_keys = true;  // as Viper
  options.null_is_absent = true;
  VOUCH_ASSIGN_OR_RETURN(ConfigFile file, ConfigFile::parse(text, config_file, options));
  const ConfigSection root = file.root();
  const fs::path base = config_file.parent_path();

  ClientConfig config;
  config.config_file = config_file;
  config.config_file_found = true;
  config.trust_dir = env.home.empty() ? resolve_path(".notary", env.cwd, "")
                                      : resolve_path("~/.notary", env.cwd, env.home);

  std::string trust_dir;
  root.get_string("trust_dir", trust_dir);
  if (!trust_dir.empty()) config.trust_dir = resolve_path(trust_dir, base, env.home);

  const ConfigSection remote = root.section("remote_server");
  std::string url, ca, cert, key;
  remote.get_string("url", url);
  // Notary's getRemoteTrustServer: an empty URL means the default.
  if (!url.empty()) config.remote_server.url = url;
  remote.get_string("root_ca", ca);
  remote.get_string("tls_client_cert", cert);
  remote.get_string("tls_client_key", key);
  config.remote_server.root_ca = resolve_path(ca, base, env.home).string();
  config.remote_server.tls_client_cert = resolve_path(cert, base, env.home).string();
  config.remote_server.tls_client_key = resolve_path(key, base, env.home).string();
  remote.get_bool("skipTLSVerify", config.remote_server.skip_tls_verify);

  const ConfigSection pinning = root.section("trust_pinning");
  pinning.get_string_list_map("certs", config.trust_pinning.certs);
  std::map<std::string, std::string, std::less<>> ca_files;
  pinning.get_string_map("ca", ca_files);
  for (const auto& [prefix, ca_file] : ca_files) {
    if (ca_file.empty()) {
      pinning.invalid("ca[\"" + prefix.substr(0, 256) + "\"]", "a file name");
      break;
    }
    config.trust_pinning.ca.emplace(prefix, resolve_path(ca_file, base, env.home).string());
  }
  pinning.get_bool("disable_tofu", config.trust_pinning.disable_tofu);
  VOUCH_RETURN_IF_ERROR(file.status());
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
  auto text = read_file_bounded(file, kMaxConfigFileBytes);
  if (text) {
    // parse_client_config's errors name the file.
    VOUCH_ASSIGN_OR_RETURN(config, parse_client_config(*text, file, env));
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
    auto text = read_file_bounded(file, kMaxConfigFileBytes);
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
