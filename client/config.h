#pragma once

// The notary client's configuration (REFERENCE §3.3; notary:cmd/notary/main.go parseConfig,
// tuf.go getTransport/getTrustPinning, utils/configuration.go GetPathRelativeToConfig):
//
//   {"trust_dir": "~/.docker/trust",
//    "remote_server": {"url": "https://notary.example:4443", "root_ca": "ca.crt",
//                      "tls_client_cert": "c.crt", "tls_client_key": "c.key",
//                      "skipTLSVerify": false},
//    "trust_pinning": {"certs": {"docker.com/notary": ["<root cert key ID>", ...]},
//                      "ca": {"docker.com/": "root-ca.pem"},
//                      "disable_tofu": false}}
//
// Every key is optional. Resolution, as the notary CLI does it:
//  - The file: `-c/--configFile` if given (it must exist and parse), else ~/.notary/config.json,
//    which may be absent (defaults apply) but must parse when present.
//  - Flags win over the file: `-d/--trustDir`, `-s/--server`, `--tlscacert`, `--tlscert`,
//    `--tlskey`. A relative path in a flag is relative to the current directory.
//  - A relative path in the file is relative to the file's directory: remote_server.root_ca,
//    tls_client_cert and tls_client_key (as Notary's GetPathRelativeToConfig), and also
//    trust_dir and the trust_pinning.ca files (Notary's documentation says so for trust_dir;
//    its code resolves those two against the current directory, which makes a config file
//    mean different things from different directories).
//  - "~" and "~/..." are expanded to the home directory in every path (Notary expands only
//    trust_dir; a literal "~" directory is never what a user means).
//  - Defaults: trust_dir = ~/.notary, remote_server.url = https://notary-server:4443 (the
//    notary 0.7 CLI's default), TOFU allowed.
//
// Parsing (common/config_file.h) is strict about JSON (no duplicate keys, no trailing data)
// and about the types of the known keys (a string where a string is expected, etc.;
// kMalformed naming the key); a null value counts as absent. Key names match
// case-insensitively, as Viper (which Notary uses) matches them ("skipTLSVerify" ==
// "skiptlsverify"); two spellings of one key in one object are an error. Unknown keys are ignored, as Notary ignores them.
//
// This is the one place of the client library that reads configuration files; callers (main)
// gather the flags and environment into the structs below.

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/http.h"
#include "common/result.h"
#include "tuf/trust_pinning.h"

namespace vouch::client {

// The notary 0.7 CLI's default server (cmd/notary/main.go defaultServerURL).
inline constexpr std::string_view kDefaultServerUrl = "https://notary-server:4443";
// Largest config file or CA bundle read. Default 1 MiB.
inline constexpr std::size_t kMaxConfigFileBytes = 1u << 20;

struct RemoteServerConfig {
  std::string url = std::string(kDefaultServerUrl);
  // Absolute paths after resolution (empty = not set).
  std::string root_ca;
  std::string tls_client_cert;
  std::string tls_client_key;
  bool skip_tls_verify = false;
};

// trust_pinning with file names still unread (see load_trust_pinning).
struct TrustPinningConfig {
  // GUN (or "prefix*") -> root certificate key IDs.
  std::map<std::string, std::vector<std::string>, std::less<>> certs;
  // GUN prefix -> absolute path of a PEM CA bundle.
  std::map<std::string, std::string, std::less<>> ca;
  bool disable_tofu = false;
};

struct ClientConfig {
  // The config file that was read, or the default path when none existed.
  std::filesystem::path config_file;
  bool config_file_found = false;
  // Absolute.
  std::filesystem::path trust_dir;
  RemoteServerConfig remote_server;
  TrustPinningConfig trust_pinning;
};

// The global flags of the CLI that affect the configuration; empty = not given.
struct ClientFlags {
  std::string config_file;  // -c/--configFile
  std::string trust_dir;    // -d/--trustDir
  std::string server;       // -s/--server
  std::string tls_ca_cert;  // --tlscacert
  std::string tls_cert;     // --tlscert
  std::string tls_key;      // --tlskey
};

// What the resolution needs from the process environment.
struct ClientEnvironment {
  std::string home;                // $HOME; empty = unset (Notary then uses ./.notary)
  std::filesystem::path cwd;       // absolute current directory

  // $HOME and the current directory of this process. For main.cc.
  static ClientEnvironment from_process();
};

// Parses the text of a config file located at `config_file` (used to resolve relative paths;
// it should be absolute). Flags are not applied. Errors: kMalformed (JSON or a key's type,
// naming the key), kDuplicateKey, kTrailingData, kTooDeep, kTooLarge (text over
// kMaxConfigFileBytes).
Result<ClientConfig> parse_client_config(std::string_view text,
                                         const std::filesystem::path& config_file,
                                         const ClientEnvironment& env);

// The whole resolution described above: picks and reads the file, parses it, applies the
// flags. Errors: a named file that is missing (kNotFound) or unreadable (kIo); any file that
// does not parse (kMalformed and the other parse errors of parse_client_config, naming the
// path).
Result<ClientConfig> load_client_config(const ClientFlags& flags, const ClientEnvironment& env);

// Reads the CA bundles of `config.ca` (every PEM CERTIFICATE block of each file; at least one;
// nothing else but whitespace between blocks) and returns the tuf::TrustPinning. Errors: a
// missing or unreadable file (kIo, naming it), a file without certificates or with anything
// that is not a certificate (kMalformed).
Result<tuf::TrustPinning> load_trust_pinning(const TrustPinningConfig& config);

// The HTTP options the configuration implies (root_ca, client certificate and key,
// skipTLSVerify); timeouts and limits keep their defaults.
HttpOptions http_options(const ClientConfig& config);

// Expands a leading "~" or "~/" with `home` and makes a relative path absolute against `base`.
// "" stays "". "~user/..." is not expanded (it stays a relative path).
std::filesystem::path resolve_path(std::string_view path, const std::filesystem::path& base,
                                   std::string_view home);

}  // namespace vouch::client
