#include "cli/context.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>

#include "client/admin_api.h"
#include "common/encoding.h"
#include "common/fs.h"
#include "common/log.h"
#include "tuf/gun.h"

namespace vouch::cli {

namespace fs = std::filesystem;

// ---- HttpRemote ---------------------------------------------------------------------------------

template <typename T>
T HttpRemote::note(T result) {
  if (!result.ok()) {
    constexpr std::size_t kKept = 16;
    if (errors_.size() == kKept) errors_.erase(errors_.begin());
    errors_.push_back(result.error());
  }
  return result;
}

Result<std::string> HttpRemote::fetch(std::string_view role, std::optional<std::int64_t> version,
                                      std::size_t max_length) {
  return note(remote_.fetch(role, version, max_length));
}

Result<std::string> HttpRemote::fetch_by_checksum(std::string_view role,
                                                  std::string_view sha256_hex,
                                                  std::size_t max_length) {
  return note(remote_.fetch_by_checksum(role, sha256_hex, max_length));
}

Status HttpRemote::publish(std::span<const client::RolePart> parts) {
  std::vector<client::MetadataUpload> files;
  files.reserve(parts.size());
  for (const auto& part : parts) files.push_back({part.role, part.bytes});
  return note(remote_.publish(files));
}

Result<keys::PublicKey> HttpRemote::get_key(std::string_view role) {
  return note(remote_.get_key(role));
}

Result<keys::PublicKey> HttpRemote::rotate_key(std::string_view role) {
  return note(remote_.rotate_key(role));
}

Status HttpRemote::delete_repository() { return note(remote_.delete_repository()); }

bool HttpRemote::originated_here(const Error& error) const {
  for (const auto& e : errors_) {
    if (e.reason == error.reason && !e.message.empty() && error.message.ends_with(e.message)) {
      return true;
    }
  }
  return false;
}

// ---- Passphrase helpers ---------------------------------------------------------------------

Result<keys::SecretString> RecordingPassphraseSource::get(const keys::PassphraseRequest& request) {
  auto passphrase = inner_.get(request);
  if (passphrase.ok()) last_ = passphrase->copy();
  return passphrase;
}

Result<keys::SecretString> RecordingPassphraseSource::Replay::get(
    const keys::PassphraseRequest& request) {
  if (request.attempt > 0) {
    return make_error(Reason::kBadPassphrase, "the passphrase was not accepted");
  }
  if (!from_.last_) return make_error(Reason::kNoPassphrase, "no passphrase to reuse");
  return from_.last_->copy();
}

namespace {

// One named environment variable (for a new passphrase). Empty counts as unset.
class NamedEnvPassphraseSource final : public keys::PassphraseSource {
 public:
  explicit NamedEnvPassphraseSource(std::string name) : name_(std::move(name)) {}
  Result<keys::SecretString> get(const keys::PassphraseRequest& request) override {
    const char* value = std::getenv(name_.c_str());
    if (value == nullptr || *value == '\0') {
      return make_error(Reason::kNoPassphrase, name_ + " is not set");
    }
    if (request.attempt > 0) {
      return make_error(Reason::kBadPassphrase, "the passphrase in " + name_ + " was not accepted");
    }
    return keys::SecretString(value);
  }

 private:
  std::string name_;
};

// The terminal prompt as the CLI uses it. Before each prompt it calls `before_prompt` (which
// ends a progress bar on stderr, so that the question starts on a clean line). It asks once
// per key and command, as notary's retriever does: a passphrase entered for a key ID is handed
// out again for that key (e.g. `init` unlocks an existing root key for its certificate, then
// signs root with it), until the caller reports it wrong (attempt > 0), when the prompt asks
// again. The remembered passphrases are SecretStrings, zeroed with this object. Thread-safe.
class TerminalPassphraseSource final : public keys::PassphraseSource {
 public:
  explicit TerminalPassphraseSource(std::function<void()> before_prompt)
      : before_prompt_(std::move(before_prompt)) {}

  Result<keys::SecretString> get(const keys::PassphraseRequest& request) override {
    std::lock_guard lock(mu_);
    if (!request.key_id.empty()) {
      auto it = entered_.find(request.key_id);
      if (it != entered_.end()) {
        if (request.attempt == 0) return it->second.copy();
        entered_.erase(it);
      }
    }
    if (before_prompt_) before_prompt_();
    auto passphrase = prompt_.get(request);
    if (passphrase.ok() && !request.key_id.empty()) {
      entered_.insert_or_assign(request.key_id, passphrase->copy());
    }
    return passphrase;
  }

 private:
  std::function<void()> before_prompt_;
  keys::PromptPassphraseSource prompt_;
  std::mutex mu_;
  std::map<std::string, keys::SecretString, std::less<>> entered_;
};

}  // namespace

// ---- Context ------------------------------------------------------------------------------------

Result<const client::ClientConfig*> Context::config() {
  if (!config_) {
    auto loaded = client::load_client_config(options_.flags,
                                              client::ClientEnvironment::from_process());
    if (!loaded.ok()) {
      Error error = std::move(loaded).error();
      // A missing config file is a usage problem, not "no trust data".
      if (error.code == Code::kNotFound) error.code = Code::kFailedPrecondition;
      return error.wrap("configuration");
    }
    config_ = std::move(*loaded);
    log::get("cli")->debug("trust directory {}, server {}", config_->trust_dir.string(),
                           config_->remote_server.url);
  }
  return &*config_;
}

Result<std::optional<keys::KeyFileFormat>> Context::requested_key_format() const {
  std::string value = options_.key_format;
  if (value.empty()) {
    const char* env = std::getenv("VOUCH_KEY_FORMAT");
    if (env != nullptr) value = env;
  }
  if (value.empty()) return std::optional<keys::KeyFileFormat>();
  if (value == "vouch") return std::optional<keys::KeyFileFormat>(keys::KeyFileFormat::kVouch);
  if (value == "notary") return std::optional<keys::KeyFileFormat>(keys::KeyFileFormat::kNotary);
  return usage_error("--key-format (or VOUCH_KEY_FORMAT) must be \"vouch\" or \"notary\", not \"" +
                     value + "\"");
}

Result<const keys::TrustDirKeyStore*> Context::store() {
  if (!store_) {
    VOUCH_ASSIGN_OR_RETURN(const client::ClientConfig* config, config());
    VOUCH_ASSIGN_OR_RETURN(std::optional<keys::KeyFileFormat> format, requested_key_format());
    keys::KeyStoreOptions store_options;
    store_options.write.format = format.value_or(keys::KeyFileFormat::kVouch);
    auto opened = keys::TrustDirKeyStore::open(config->trust_dir, store_options);
    if (!opened.ok()) return opened.error().wrap("trust directory");
    store_.emplace(std::move(*opened));
  }
  return &*store_;
}

keys::PassphraseSource& Context::passphrases() {
  if (!passphrases_) {
    std::vector<std::unique_ptr<keys::PassphraseSource>> chain;
    if (!options_.passphrase_file.empty()) {
      chain.push_back(std::make_unique<keys::FilePassphraseSource>(options_.passphrase_file));
    }
    chain.push_back(std::make_unique<keys::EnvPassphraseSource>());
    chain.push_back(std::make_unique<TerminalPassphraseSource>([this] {
      if (progress_ != nullptr) progress_->finish();
    }));
    passphrases_ = std::make_unique<keys::ChainPassphraseSource>(std::move(chain));
  }
  return *passphrases_;
}

std::unique_ptr<keys::PassphraseSource> Context::new_passphrase_source(const std::string& file) {
  std::vector<std::unique_ptr<keys::PassphraseSource>> chain;
  if (!file.empty()) chain.push_back(std::make_unique<keys::FilePassphraseSource>(file));
  chain.push_back(std::make_unique<NamedEnvPassphraseSource>("VOUCH_NEW_PASSPHRASE"));
  chain.push_back(std::make_unique<keys::PromptPassphraseSource>());
  return std::make_unique<keys::ChainPassphraseSource>(std::move(chain));
}

Result<keys::LocalSigner*> Context::signer() {
  if (!signer_) {
    VOUCH_ASSIGN_OR_RETURN(const keys::TrustDirKeyStore* s, store());
    signer_ = std::make_unique<keys::LocalSigner>(*s, passphrases());
  }
  return signer_.get();
}

namespace {

// NOTARY_AUTH, parsed; nullopt when unset or empty.
Result<std::optional<client::BasicCredentials>> notary_auth() {
  const char* auth = std::getenv("NOTARY_AUTH");
  if (auth == nullptr || *auth == '\0') return std::optional<client::BasicCredentials>();
  auto parsed = client::parse_notary_auth(auth);
  if (!parsed.ok()) return parsed.error().wrap("NOTARY_AUTH");
  return std::optional<client::BasicCredentials>(std::move(*parsed));
}

}  // namespace

Result<client::CredentialStore> Context::credential_store() {
  VOUCH_ASSIGN_OR_RETURN(const client::ClientConfig* cfg, config());
  return client::CredentialStore(cfg->trust_dir);
}

Result<client::HttpClient*> Context::http() {
  if (http_) return &*http_;
  VOUCH_ASSIGN_OR_RETURN(const client::ClientConfig* cfg, config());
  VOUCH_ASSIGN_OR_RETURN(std::optional<client::BasicCredentials> credentials, notary_auth());
  const bool from_env = credentials.has_value();
  auto http = client::HttpClient::create(client::http_options(*cfg), std::move(credentials));
  if (!http.ok()) return http.error().wrap("TLS configuration");
  http_.emplace(std::move(*http));
  if (from_env) return &*http_;
  // `vouch login`'s refresh token for this server, sent only to the token service it came
  // from.
  VOUCH_ASSIGN_OR_RETURN(const client::CredentialStore logins, credential_store());
  auto stored = logins.find(cfg->remote_server.url);
  if (!stored.ok()) return stored.error().wrap("stored login");
  if (stored->has_value()) {
    auto realm = client::url_origin((*stored)->realm);
    if (!realm.ok()) return realm.error().wrap("stored login for " + (*stored)->server);
    http_->set_refresh_token(std::move(*realm), std::move((*stored)->refresh_token));
  }
  // As the notary CLI: without NOTARY_AUTH, a server that wants a login gets one typed at
  // the terminal (asked only when anonymous access is not enough; never without a terminal,
  // so CI fails with the NOTARY_AUTH hint instead of waiting).
  http_->set_credentials_prompt(
      [this](std::string_view origin) -> Result<client::BasicCredentials> {
        if (progress_ != nullptr) progress_->finish();
        VOUCH_ASSIGN_OR_RETURN(keys::TerminalCredentials entered,
                               keys::prompt_credentials(origin));
        client::BasicCredentials out;
        out.username = std::move(entered.username);
        out.password = std::move(entered.password);
        return out;
      });
  return &*http_;
}

Result<client::AdminClient> Context::admin(std::string_view server_url) {
  VOUCH_ASSIGN_OR_RETURN(const client::ClientConfig* cfg, config());
  const std::string url(server_url.empty() ? std::string_view(cfg->remote_server.url)
                                           : server_url);
  VOUCH_ASSIGN_OR_RETURN(const std::string origin, client::url_origin(url));
  if (!admin_http_) {
    auto made = client::HttpClient::create(client::http_options(*cfg), std::nullopt);
    if (!made.ok()) return made.error().wrap("TLS configuration");
    admin_http_.emplace(std::move(*made));
  }
  client::HttpClient* transport = &*admin_http_;
  VOUCH_ASSIGN_OR_RETURN(std::optional<client::BasicCredentials> basic, notary_auth());
  keys::SecretString authorization;
  if (basic) {
    keys::SecretString plain(basic->username);
    plain.push_back(':');
    for (char c : basic->password.view()) plain.push_back(c);
    std::string encoded = base64_encode(plain.bytes());
    authorization = keys::SecretString("Basic ");
    for (char c : encoded) authorization.push_back(c);
    OPENSSL_cleanse(encoded.data(), encoded.size());
  } else {
    VOUCH_ASSIGN_OR_RETURN(const client::CredentialStore logins, credential_store());
    auto stored = logins.find(url);
    if (!stored.ok()) return stored.error().wrap("stored login");
    if (!stored->has_value()) {
      return make_error(Code::kUnauthenticated, Reason::kNoCredentials,
                        "not logged in to " + origin + ": run `vouch login " + url +
                            "` (or set NOTARY_AUTH)");
    }
    authorization = keys::SecretString("Bearer ");
    for (char c : (*stored)->refresh_token.view()) authorization.push_back(c);
  }
  transport->set_origin_authorization(origin, std::move(authorization));
  return client::AdminClient::create(url, *transport);
}

Result<client::Repository> Context::repository(std::string_view gun, bool online) {
  VOUCH_RETURN_IF_ERROR(tuf::validate_gun(gun));
  VOUCH_ASSIGN_OR_RETURN(const client::ClientConfig* cfg, config());
  VOUCH_ASSIGN_OR_RETURN(const keys::TrustDirKeyStore* key_store, store());
  VOUCH_ASSIGN_OR_RETURN(keys::LocalSigner * local_signer, signer());
  client::RepositoryConfig repo_config;
  repo_config.gun = std::string(gun);
  HttpRemote* remote = nullptr;
  if (online) {
    auto pinning = client::load_trust_pinning(cfg->trust_pinning);
    if (!pinning.ok()) return pinning.error().wrap("trust_pinning");
    repo_config.pinning = std::move(*pinning);
    if (auto made = http(); !made.ok()) return std::move(made).error();
    auto notary = client::NotaryRemote::create(cfg->remote_server.url, gun, *http_);
    if (!notary.ok()) return notary.error().wrap("server " + cfg->remote_server.url);
    remotes_.push_back(std::make_unique<HttpRemote>(std::move(*notary)));
    remote = remotes_.back().get();
  }
  return client::Repository::open(std::move(repo_config), cfg->trust_dir, remote, *key_store,
                                  *local_signer, passphrases());
}

Status Context::publish(client::Repository& repo) {
  Progress progress(::isatty(STDERR_FILENO) == 1, options_.verbose || options_.debug);
  progress_ = &progress;  // a passphrase prompt ends the bar first
  auto published = repo.publish([&progress](std::string_view phase, std::size_t done,
                                            std::size_t total) {
    progress.update(phase, done, total);
  });
  progress_ = nullptr;
  progress.finish();
  if (!published.ok()) return published.error();
  std::string uploaded;
  for (const auto& role : published->uploaded) uploaded += (uploaded.empty() ? "" : ", ") + role;
  log::get("cli")->info("published {}: {} change(s) applied, uploaded [{}]{}", repo.gun(),
                        published->changes_applied, uploaded,
                        published->attempts > 1 ? " after a conflict" : "");
  write_stdout("Successfully published changes for repository " + repo.gun() + "\n");
  return {};
}

Status Context::auto_publish(std::string_view gun) {
  write_stdout("Auto-publishing changes to " + std::string(gun) + "\n");
  VOUCH_ASSIGN_OR_RETURN(client::Repository repo, repository(gun, true));
  return publish(repo);
}

bool Context::confirm(std::string_view question, bool assume_yes) {
  write_stdout(question);
  if (assume_yes) {
    write_stdout("\n");
    return true;
  }
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  auto not_space = [](unsigned char c) { return std::isspace(c) == 0; };
  answer.erase(answer.begin(), std::find_if(answer.begin(), answer.end(), not_space));
  answer.erase(std::find_if(answer.rbegin(), answer.rend(), not_space).base(), answer.end());
  for (char& c : answer) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return answer == "y" || answer == "yes";
}

int Context::exit_code(const Error& error) const {
  bool from_server = false;
  for (const auto& remote : remotes_) from_server = from_server || remote->originated_here(error);
  return exit_code_for(error, from_server);
}

// ---- Helpers ------------------------------------------------------------------------------------

Result<std::string> read_file(const fs::path& path, std::size_t max_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return make_error(Reason::kIo, "cannot read " + path.string() + ": " + std::strerror(errno));
  }
  auto data = read_all(fd.get(), max_bytes);
  if (!data && data.error().reason == Reason::kTooLarge) {
    return make_error(Reason::kTooLarge, path.string() + " is larger than " +
                                             std::to_string(max_bytes) + " bytes");
  }
  if (!data) return make_error(Reason::kIo, "cannot read " + path.string() + ": " +
                                                data.error().message);
  return data;
}

Status write_file(const fs::path& path, std::string_view data, unsigned mode) {
  const auto failed = [&] {
    return make_error(Reason::kIo, "cannot write " + path.string() + ": " + std::strerror(errno));
  };
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                     static_cast<mode_t>(mode)));
  if (!fd.valid()) return failed();
  if (::fchmod(fd.get(), static_cast<mode_t>(mode)) != 0) return failed();
  VOUCH_RETURN_IF_ERROR(write_all(fd.get(), data, path));  // "cannot write <path>: ..."
  if (fd.close() != 0) return failed();
  return {};
}

Result<keys::SecretString> read_stdin_secret() {
  constexpr std::size_t kMaxBytes = 4096;
  keys::SecretString secret;
  char buffer[512];
  Status status = ok_status();
  for (;;) {
    const ssize_t n = ::read(STDIN_FILENO, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      status = make_error(Reason::kIo, std::string("standard input: ") + std::strerror(errno));
      break;
    }
    if (n == 0) break;
    if (secret.size() + static_cast<std::size_t>(n) > kMaxBytes) {
      status = usage_error("--password-stdin: more than 4096 bytes on standard input");
      break;
    }
    for (ssize_t i = 0; i < n; ++i) secret.push_back(buffer[i]);
  }
  OPENSSL_cleanse(buffer, sizeof buffer);
  if (!status.ok()) return std::move(status).error();
  if (!secret.empty() && secret.view().back() == '\n') secret.pop_back();
  if (!secret.empty() && secret.view().back() == '\r') secret.pop_back();
  if (secret.empty()) return usage_error("--password-stdin: standard input is empty");
  return secret;
}

Error usage_error(std::string message) {
  return make_error(Code::kInvalidArgument, Reason::kNone, std::move(message));
}

std::vector<std::string> split_pem_blocks(std::string_view text) {
  std::vector<std::string> blocks;
  std::size_t pos = 0;
  for (;;) {
    const std::size_t begin = text.find("-----BEGIN ", pos);
    if (begin == std::string_view::npos) break;
    const std::size_t end = text.find("-----END ", begin);
    if (end == std::string_view::npos) break;
    const std::size_t close = text.find("-----", end + 9);
    if (close == std::string_view::npos) break;
    std::size_t stop = text.find('\n', close);
    stop = stop == std::string_view::npos ? text.size() : stop + 1;
    blocks.emplace_back(text.substr(begin, stop - begin));
    pos = stop;
  }
  return blocks;
}

Result<keys::DecryptedKey> decrypt_key_text(std::string_view pem, std::string_view fallback_role,
                                            keys::PassphraseSource& passphrases) {
  VOUCH_ASSIGN_OR_RETURN(keys::KeyFileInfo info, keys::inspect_key_file(pem));
  if (!info.encrypted) return keys::decrypt_key_file(pem, keys::SecretString());
  keys::PassphraseRequest request;
  request.role = info.role.empty() ? std::string(fallback_role) : info.role;
  request.gun = info.gun;
  // `notary key export` names the key in a "path" header; use it for the prompt.
  if (auto block = keys::parse_pem_block(pem); block.ok()) {
    std::string_view path = keys::pem_header(*block, "path");
    if (const std::size_t slash = path.rfind('/'); slash != std::string_view::npos) {
      path.remove_prefix(slash + 1);
    }
    if (path.ends_with(".key")) path.remove_suffix(4);
    if (keys::is_valid_key_id(path)) request.key_id = std::string(path);
  }
  constexpr int kAttempts = 3;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    request.attempt = attempt;
    VOUCH_ASSIGN_OR_RETURN(keys::SecretString passphrase, passphrases.get(request));
    auto decrypted = keys::decrypt_key_file(pem, passphrase);
    if (decrypted.ok() || decrypted.error().reason != Reason::kBadPassphrase) return decrypted;
  }
  return make_error(Reason::kBadPassphrase,
                    "wrong passphrase for the " + request.role + " key after " +
                        std::to_string(kAttempts) + " attempts");
}

}  // namespace vouch::cli
