#include "client/config.h"

#include <doctest/doctest.h>

#include <string>

#include "tests/unit/client/client_test_util.h"

namespace vouch::client {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;
using testing::read_file;
using testing::write_file;

const fs::path kCerts = fs::path(VOUCH_TEST_DATA) / "notary" / "certs";

ClientEnvironment env_for(const TempDir& tmp) {
  ClientEnvironment env;
  env.home = (tmp.path() / "home").string();
  env.cwd = tmp.path() / "work";
  fs::create_directories(env.home);
  fs::create_directories(env.cwd);
  return env;
}

TEST_CASE("config: Notary's example with relative paths, resolved against the file") {
  TempDir tmp;
  const auto env = env_for(tmp);
  const fs::path file = tmp.path() / "etc" / "notary" / "config.json";
  write_file(file, R"({
    "trust_dir": "trust",
    "remote_server": {
      "url": "https://notary.example.com:4443",
      "root_ca": "./fixtures/root-ca.crt",
      "tls_client_cert": "../certs/client.crt",
      "tls_client_key": "/abs/client.key",
      "skipTLSVerify": true
    },
    "trust_pinning": {
      "certs": {"docker.com/notary": ["49cf5c64", "abcd"], "docker.io/library/*": []},
      "ca": {"docker.com/": "ca/root-ca.pem", "example.com/": "~/cas/example.pem"},
      "disable_tofu": true
    },
    "unknown_key": {"ignored": [1, 2]}
  })");
  auto config = load_client_config(ClientFlags{file.string(), "", "", "", "", ""}, env);
  REQUIRE_MESSAGE(config.ok(), config.error().message);
  const fs::path dir = file.parent_path();
  CHECK(config->config_file == file);
  CHECK(config->config_file_found);
  CHECK(config->trust_dir == dir / "trust");
  CHECK(config->remote_server.url == "https://notary.example.com:4443");
  CHECK(config->remote_server.root_ca == (dir / "fixtures" / "root-ca.crt").string());
  CHECK(config->remote_server.tls_client_cert == (tmp.path() / "etc" / "certs" / "client.crt").string());
  CHECK(config->remote_server.tls_client_key == "/abs/client.key");
  CHECK(config->remote_server.skip_tls_verify);
  CHECK(config->trust_pinning.certs.at("docker.com/notary") ==
        std::vector<std::string>{"49cf5c64", "abcd"});
  CHECK(config->trust_pinning.certs.at("docker.io/library/*").empty());
  CHECK(config->trust_pinning.ca.at("docker.com/") == (dir / "ca" / "root-ca.pem").string());
  CHECK(config->trust_pinning.ca.at("example.com/") ==
        (fs::path(env.home) / "cas" / "example.pem").string());
  CHECK(config->trust_pinning.disable_tofu);

  const HttpOptions http = http_options(*config);
  CHECK(http.ca_file == config->remote_server.root_ca);
  CHECK(http.cert_file == config->remote_server.tls_client_cert);
  CHECK(http.key_file == "/abs/client.key");
  CHECK(http.insecure_skip_verify);
}

TEST_CASE("config: defaults without a file; flags win and are relative to the cwd") {
  TempDir tmp;
  const auto env = env_for(tmp);
  auto config = load_client_config(ClientFlags{}, env);
  REQUIRE(config.ok());
  CHECK_FALSE(config->config_file_found);
  CHECK(config->config_file == fs::path(env.home) / ".notary" / "config.json");
  CHECK(config->trust_dir == fs::path(env.home) / ".notary");
  CHECK(config->remote_server.url == kDefaultServerUrl);
  CHECK(config->remote_server.root_ca.empty());
  CHECK_FALSE(config->remote_server.skip_tls_verify);
  CHECK(config->trust_pinning.certs.empty());
  CHECK_FALSE(config->trust_pinning.disable_tofu);

  // The default file is read when it exists.
  write_file(fs::path(env.home) / ".notary" / "config.json",
             R"({"trust_dir": "~/.docker/trust", "remote_server": {"url": "https://a:1", "root_ca": "ca.pem"}})");
  config = load_client_config(ClientFlags{}, env);
  REQUIRE(config.ok());
  CHECK(config->config_file_found);
  CHECK(config->trust_dir == fs::path(env.home) / ".docker" / "trust");
  CHECK(config->remote_server.url == "https://a:1");
  CHECK(config->remote_server.root_ca == (fs::path(env.home) / ".notary" / "ca.pem").string());

  // Flags override the file, relative to the current directory (Notary's pathRelativeToCwd).
  ClientFlags flags;
  flags.trust_dir = "td";
  flags.server = "https://flag:2";
  flags.tls_ca_cert = "certs/ca.pem";
  flags.tls_cert = "/abs/c.crt";
  flags.tls_key = "k.key";
  config = load_client_config(flags, env);
  REQUIRE(config.ok());
  CHECK(config->trust_dir == env.cwd / "td");
  CHECK(config->remote_server.url == "https://flag:2");
  CHECK(config->remote_server.root_ca == (env.cwd / "certs" / "ca.pem").string());
  CHECK(config->remote_server.tls_client_cert == "/abs/c.crt");
  CHECK(config->remote_server.tls_client_key == (env.cwd / "k.key").string());

  // -d ~/x expands like Notary's homeExpand; a relative -c is relative to the cwd.
  write_file(env.cwd / "my.json", R"({"remote_server": {"url": ""}})");
  flags = ClientFlags{};
  flags.config_file = "my.json";
  flags.trust_dir = "~/x";
  config = load_client_config(flags, env);
  REQUIRE(config.ok());
  CHECK(config->config_file == env.cwd / "my.json");
  CHECK(config->trust_dir == fs::path(env.home) / "x");
  CHECK(config->remote_server.url == kDefaultServerUrl);  // "" means the default, as in Notary

  // Without $HOME, Notary falls back to ./.notary.
  ClientEnvironment homeless = env;
  homeless.home.clear();
  config = load_client_config(ClientFlags{}, homeless);
  REQUIRE(config.ok());
  CHECK(config->trust_dir == env.cwd / ".notary");
}

TEST_CASE("config: a named file must exist and parse; the default one must parse") {
  TempDir tmp;
  const auto env = env_for(tmp);
  ClientFlags flags;
  flags.config_file = (tmp.path() / "missing.json").string();
  auto config = load_client_config(flags, env);
  CHECK(config.error().reason == Reason::kNotFound);

  write_file(fs::path(env.home) / ".notary" / "config.json", "{\"trust_dir\": ");
  config = load_client_config(ClientFlags{}, env);
  CHECK(config.error().reason == Reason::kMalformed);

  const fs::path file = tmp.path() / "c.json";
  flags.config_file = file.string();
  struct Case {
    const char* text;
    Reason reason;
  };
  const Case cases[] = {
      {"", Reason::kMalformed},
      {"[]", Reason::kMalformed},
      {R"({"trust_dir": 1})", Reason::kMalformed},
      {R"({"trust_dir": "a", "trust_dir": "b"})", Reason::kDuplicateKey},
      {R"({"trust_dir": "a", "Trust_Dir": "b"})", Reason::kMalformed},
      {R"({"remote_server": "https://x"})", Reason::kMalformed},
      {R"({"remote_server": {"url": 443}})", Reason::kMalformed},
      {R"({"remote_server": {"skipTLSVerify": "true"}})", Reason::kMalformed},
      {R"({"trust_pinning": {"certs": {"a": "id"}}})", Reason::kMalformed},
      {R"({"trust_pinning": {"certs": {"a": [1]}}})", Reason::kMalformed},
      {R"({"trust_pinning": {"ca": {"a/": 1}}})", Reason::kMalformed},
      {R"({"trust_pinning": {"ca": {"a/": ""}}})", Reason::kMalformed},
      {R"({"trust_pinning": {"disable_tofu": 1}})", Reason::kMalformed},
      {R"({"trust_pinning": []})", Reason::kMalformed},
      {R"({} {})", Reason::kTrailingData},
      {R"({"trust_dir": "a",})", Reason::kMalformed},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    write_file(file, c.text);
    config = load_client_config(flags, env);
    REQUIRE_FALSE(config.ok());
    CHECK(config.error().reason == c.reason);
  }
  write_file(file, std::string(kMaxConfigFileBytes + 1, ' '));
  CHECK(load_client_config(flags, env).error().reason == Reason::kTooLarge);
}

TEST_CASE("config: keys match case-insensitively, as Viper matches them") {
  TempDir tmp;
  const auto env = env_for(tmp);
  const fs::path file = tmp.path() / "c.json";
  write_file(file, R"({"Remote_Server": {"URL": "https://x:1", "skiptlsverify": true},
                       "TRUST_PINNING": {"Disable_TOFU": true}, "trust_pinning_x": 1})");
  auto config = parse_client_config(read_file(file), file, env);
  REQUIRE(config.ok());
  CHECK(config->remote_server.url == "https://x:1");
  CHECK(config->remote_server.skip_tls_verify);
  CHECK(config->trust_pinning.disable_tofu);
}

TEST_CASE("config: trust pinning CA bundles are read into tuf::TrustPinning") {
  TempDir tmp;
  const auto env = env_for(tmp);
  const std::string a = read_file(kCerts / "delegation-qa-ecdsa.crt");
  const std::string b = read_file(kCerts / "delegation-releases-rsa.crt");
  write_file(tmp.path() / "cas" / "bundle.pem", "\n" + a + "\n\n" + b);
  write_file(tmp.path() / "cas" / "one.pem", a);
  const fs::path file = tmp.path() / "config.json";
  write_file(file, R"({"trust_pinning": {"ca": {"docker.com/": "cas/bundle.pem",
                                                "example.com/": "cas/one.pem"},
                                         "certs": {"example.com/app": ["id1"]},
                                         "disable_tofu": true}})");
  auto config = parse_client_config(read_file(file), file, env);
  REQUIRE(config.ok());
  auto pinning = load_trust_pinning(config->trust_pinning);
  REQUIRE_MESSAGE(pinning.ok(), pinning.error().message);
  CHECK(pinning->disable_tofu);
  CHECK(pinning->certs.at("example.com/app") == std::vector<std::string>{"id1"});
  REQUIRE(pinning->ca.at("docker.com/").size() == 2);
  CHECK(pinning->ca.at("docker.com/")[0].common_name() == "targets/qa");
  CHECK(pinning->ca.at("docker.com/")[1].common_name() == "targets/releases");
  CHECK(pinning->ca.at("example.com/").size() == 1);

  TrustPinningConfig bad;
  bad.ca["x/"] = (tmp.path() / "cas" / "missing.pem").string();
  CHECK(load_trust_pinning(bad).error().reason == Reason::kIo);
  write_file(tmp.path() / "cas" / "junk.pem", a + "garbage\n");
  bad.ca["x/"] = (tmp.path() / "cas" / "junk.pem").string();
  CHECK(load_trust_pinning(bad).error().reason == Reason::kMalformed);
  write_file(tmp.path() / "cas" / "empty.pem", "\n");
  bad.ca["x/"] = (tmp.path() / "cas" / "empty.pem").string();
  CHECK(load_trust_pinning(bad).error().reason == Reason::kMalformed);
  write_file(tmp.path() / "cas" / "key.pem", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n");
  bad.ca["x/"] = (tmp.path() / "cas" / "key.pem").string();
  CHECK(load_trust_pinning(bad).error().reason == Reason::kMalformed);
}

TEST_CASE("config: resolve_path") {
  CHECK(resolve_path("", "/base", "/home/u").empty());
  CHECK(resolve_path("a/b", "/base", "/home/u") == "/base/a/b");
  CHECK(resolve_path("./a/../b/", "/base", "/home/u") == "/base/b");
  CHECK(resolve_path("/abs/x", "/base", "/home/u") == "/abs/x");
  CHECK(resolve_path("~", "/base", "/home/u") == "/home/u");
  CHECK(resolve_path("~/t", "/base", "/home/u") == "/home/u/t");
  CHECK(resolve_path("~user/t", "/base", "/home/u") == "/base/~user/t");
  CHECK(resolve_path("~/t", "/base", "") == "/base/~/t");
}

}  // namespace
}  // namespace vouch::client
