#include "verifier/notary_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <openssl/crypto.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "client/remote.h"
#include "common/fs.h"
#include "keys/crypto.h"

namespace vouch::verifier {
namespace {

// Owns the HTTP client that its NotaryRemote borrows.
class NotarySource final : public tuf::MetadataSource {
 public:
  static Result<std::unique_ptr<NotarySource>> create(
      const std::string& server, std::string_view gun, client::HttpOptions http_options,
      std::optional<client::BasicCredentials> credentials) {
    VOUCH_ASSIGN_OR_RETURN(client::HttpClient http,
                           client::HttpClient::create(std::move(http_options), std::move(credentials)));
    std::unique_ptr<NotarySource> source(new NotarySource(std::move(http)));
    VOUCH_ASSIGN_OR_RETURN(client::NotaryRemote remote,
                           client::NotaryRemote::create(server, gun, *source->http_));
    source->remote_.emplace(std::move(remote));
    return source;
  }

  Result<std::string> fetch(std::string_view role, std::optional<std::int64_t> version,
                            std::size_t max_length) override {
    return remote_->fetch(role, version, max_length);
  }
  Result<std::string> fetch_by_checksum(std::string_view role, std::string_view sha256_hex,
                                        std::size_t max_length) override {
    return remote_->fetch_by_checksum(role, sha256_hex, max_length);
  }

 private:
  explicit NotarySource(client::HttpClient http)
      : http_(std::make_unique<client::HttpClient>(std::move(http))) {}
  std::unique_ptr<client::HttpClient> http_;
  std::optional<client::NotaryRemote> remote_;
};

// Writes CA bundles once each, by content hash.
class CaFiles {
 public:
  explicit CaFiles(std::filesystem::path dir) : dir_(std::move(dir)) {}

  Result<std::string> path_for(const std::vector<keys::Certificate>& certs) {
    std::string bundle;
    for (const auto& c : certs) {
      bundle += c.pem();
      if (!bundle.empty() && bundle.back() != '\n') bundle += '\n';
    }
    const std::string name = keys::sha256_hex(as_bytes(bundle)) + ".pem";
    const std::string path = (dir_ / name).string();
    std::lock_guard lock(mu_);
    if (written_.count(name) != 0) return path;
    if (dir_.empty()) {
      return make_error(Code::kFailedPrecondition, Reason::kIo,
                        "no directory for the trust section's CA bundle is configured");
    }
    // Written atomically, so that a reader never sees half a file.
    VOUCH_RETURN_IF_ERROR(write_file_atomic(path, bundle));
    written_.insert(name);
    return path;
  }

 private:
  std::filesystem::path dir_;
  std::mutex mu_;
  std::set<std::string> written_;
};

}  // namespace

SourceFactory make_notary_source_factory(NotarySourceOptions options) {
  auto cas = std::make_shared<CaFiles>(options.ca_dir);
  auto opts = std::make_shared<const NotarySourceOptions>(std::move(options));
  return [cas, opts](const TrustSection& section,
                     std::string_view gun) -> Result<std::unique_ptr<tuf::MetadataSource>> {
    client::HttpOptions http;
    http.connect_timeout = opts->connect_timeout;
    http.request_timeout = opts->request_timeout;
    if (!section.tls_ca.empty()) {
      VOUCH_ASSIGN_OR_RETURN(http.ca_file, cas->path_for(section.tls_ca));
    }
    std::optional<client::BasicCredentials> credentials;
    if (section.credentials) {
      if (!opts->credentials) {
        return make_error(Code::kFailedPrecondition, Reason::kNoPassphrase,
                          "the trust section for " + section.prefix +
                              " names credentials, but none can be read here");
      }
      auto c = opts->credentials(*section.credentials);
      if (!c) return std::move(c).error().wrap("credentials for " + section.server);
      credentials.emplace(std::move(*c));
    }
    VOUCH_ASSIGN_OR_RETURN(auto source, NotarySource::create(section.server, gun, std::move(http),
                                                             std::move(credentials)));
    return std::unique_ptr<tuf::MetadataSource>(std::move(source));
  };
}

Result<client::BasicCredentials> read_credentials(const CredentialsRef& ref) {
  if (!ref.token_file.empty() || !ref.token_env.empty()) {
    return make_error(Code::kUnimplemented, Reason::kNone,
                      "static bearer tokens (token_file, token_env) are not supported yet: use "
                      "username with password_file or password_env");
  }
  client::BasicCredentials out;
  out.username = ref.username;
  if (!ref.password_env.empty()) {
    const char* v = std::getenv(ref.password_env.c_str());
    if (v == nullptr || *v == '\0') {
      return make_error(Code::kFailedPrecondition, Reason::kNoPassphrase,
                        "environment variable " + ref.password_env + " is not set");
    }
    out.password = keys::SecretString(v);
    return out;
  }
  if (ref.password_file.empty()) {
    return make_error(Reason::kMalformed, "credentials name no password source");
  }
  const int fd = ::open(ref.password_file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return make_error(Reason::kIo, "cannot read " + ref.password_file + ": " + std::strerror(errno));
  }
  constexpr std::size_t kMax = 4096;
  keys::SecretString password;
  char buf[256];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return make_error(Reason::kIo, "cannot read " + ref.password_file + ": " + std::strerror(err));
    }
    if (n == 0) break;
    for (ssize_t i = 0; i < n; ++i) password.push_back(buf[i]);
    if (password.size() > kMax) {
      ::close(fd);
      OPENSSL_cleanse(buf, sizeof buf);
      return make_error(Reason::kTooLarge, ref.password_file + " is larger than 4 KiB");
    }
  }
  ::close(fd);
  OPENSSL_cleanse(buf, sizeof buf);
  if (!password.empty() && password.view().back() == '\n') password.pop_back();
  if (!password.empty() && password.view().back() == '\r') password.pop_back();
  out.password = std::move(password);
  return out;
}

}  // namespace vouch::verifier
