#pragma once

// What every `vouch` command shares: the global flags, the resolved configuration, the key
// store and passphrase sources, the transport to the trust server, and opening a
// client::Repository. Built lazily, so offline commands never touch the network or the TLS
// files and read-only commands never ask for a passphrase.
//
// Passphrases (README "Signing from CI"), asked in this order:
//   1. --passphrase-file <file>      one passphrase for every key (keys::FilePassphraseSource)
//   2. the environment               VOUCH_<ROLE>_PASSPHRASE, NOTARY_..., DOCKER_CONTENT_TRUST_...
//                                     (keys::EnvPassphraseSource, keys/passphrase.h)
//   3. the terminal                   only when there is one; without one the request fails at
//                                     once with a message naming the variable to set. Asked
//                                     once per key and command (as notary); a progress bar
//                                     is ended before the question.
// A wrong passphrase from a file or the environment fails at once (no fallback to a prompt).
// Passphrases are never printed or logged.

#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "client/config.h"
#include "client/credentials.h"
#include "client/http.h"
#include "client/remote.h"
#include "client/repository.h"
#include "cli/output.h"
#include "common/result.h"
#include "keys/key_file.h"
#include "keys/keystore.h"
#include "keys/local_signer.h"
#include "keys/passphrase.h"

namespace vouch::client {
class AdminClient;  // client/admin_api.h, included where admin() is called
}  // namespace vouch::client

namespace vouch::cli {

// Global flags (notary's persistent flags plus vouch's own).
struct GlobalOptions {
  client::ClientFlags flags;  // -c, -d, -s, --tlscacert, --tlscert, --tlskey
  bool debug = false;         // -D
  bool verbose = false;       // -v
  std::string passphrase_file;  // --passphrase-file
  // --key-format vouch|notary (else $VOUCH_KEY_FORMAT, else vouch): the format of key files
  // vouch writes. Files in the notary format are read by the notary CLI; vouch-format files
  // are skipped silently by it.
  std::string key_format;
};

// client::Remote over HTTP (client::NotaryRemote), remembering the errors the server (or the
// network) gave, so that the exit code can tell a server's refusal from a local failure.
class HttpRemote final : public client::Remote {
 public:
  explicit HttpRemote(client::NotaryRemote remote) : remote_(std::move(remote)) {}

  Result<std::string> fetch(std::string_view role, std::optional<std::int64_t> version,
                            std::size_t max_length) override;
  Result<std::string> fetch_by_checksum(std::string_view role, std::string_view sha256_hex,
                                        std::size_t max_length) override;
  Status publish(std::span<const client::RolePart> parts) override;
  Result<keys::PublicKey> get_key(std::string_view role) override;
  Result<keys::PublicKey> rotate_key(std::string_view role) override;
  Status delete_repository() override;

  // Whether `error` is, or wraps, an error this remote returned.
  bool originated_here(const Error& error) const;

 private:
  template <typename T>
  T note(T result);

  client::NotaryRemote remote_;
  std::vector<Error> errors_;  // the last few, newest last
};

// A passphrase source that remembers the last passphrase it handed out (for `key export` and
// `key import`, which re-encrypt a key under the passphrase that unlocked it, as notary keeps
// it). The copy lives in a SecretString and is zeroed with this object.
class RecordingPassphraseSource final : public keys::PassphraseSource {
 public:
  explicit RecordingPassphraseSource(keys::PassphraseSource& inner) : inner_(inner) {}
  Result<keys::SecretString> get(const keys::PassphraseRequest& request) override;
  // The recorded passphrase handed out again; kNoPassphrase if none was recorded.
  class Replay final : public keys::PassphraseSource {
   public:
    explicit Replay(const RecordingPassphraseSource& from) : from_(from) {}
    Result<keys::SecretString> get(const keys::PassphraseRequest& request) override;

   private:
    const RecordingPassphraseSource& from_;
  };

 private:
  keys::PassphraseSource& inner_;
  std::optional<keys::SecretString> last_;
};

class Context {
 public:
  explicit Context(const GlobalOptions& options) : options_(options) {}
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  const GlobalOptions& options() const { return options_; }

  // The configuration (config.json and flags), loaded on first use.
  Result<const client::ClientConfig*> config();
  // The key store of the trust directory.
  Result<const keys::TrustDirKeyStore*> store();
  // The format `--key-format` / $VOUCH_KEY_FORMAT asked for, if any (invalid values are
  // reported by store()).
  Result<std::optional<keys::KeyFileFormat>> requested_key_format() const;
  // The passphrase chain described above.
  keys::PassphraseSource& passphrases();
  // The chain for a NEW passphrase (`key passwd`): $VOUCH_NEW_PASSPHRASE,
  // --new-passphrase-file (given here), then the terminal.
  std::unique_ptr<keys::PassphraseSource> new_passphrase_source(const std::string& file);
  // The signer over the key store (unlocks each key once per command).
  Result<keys::LocalSigner*> signer();

  // The transport to the trust server, made on first use (TLS files and NOTARY_AUTH are read
  // then). Credentials, in this order: NOTARY_AUTH; else the login `vouch login` stored for
  // the configured server (its refresh token answers the server's Bearer challenges); and
  // then, when anonymous access is not enough, the terminal prompt.
  Result<client::HttpClient*> http();
  // The logins of the trust directory (`vouch login`, client/credentials.h).
  Result<client::CredentialStore> credential_store();
  // The admin API of `server_url` (empty: the configured server), authenticated by
  // NOTARY_AUTH (Basic) or else the stored login (Bearer refresh token). Code
  // kUnauthenticated naming `vouch login` when there is neither. It has a transport of its
  // own (the TLS options of http()), so that its fixed Authorization never replaces the
  // Notary API's token flow in a command that uses both (inspect, delegation add --member).
  Result<client::AdminClient> admin(std::string_view server_url = "");

  // A repository handle for `gun`; with `online` a transport to the trust server is set up
  // (see http()).
  Result<client::Repository> repository(std::string_view gun, bool online);
  // Publishes with a progress display, printing notary's success line.
  Status publish(client::Repository& repo);
  // notary's maybeAutoPublish for `-p`: "Auto-publishing changes to <gun>", then publish.
  Status auto_publish(std::string_view gun);

  // Asks `question` on stdout and reads an answer line from stdin, as notary's askConfirm:
  // true for "y" or "yes" (any case). `assume_yes` answers at once.
  bool confirm(std::string_view question, bool assume_yes);

  // The exit code for a failed command.
  int exit_code(const Error& error) const;

  // For a command that has already printed everything the user needs about its outcome
  // (verify-image prints its decision and reason): the exit code to end with, while the
  // command returns success so that no "* fatal:" line repeats the reason. 0 by default.
  void set_quiet_exit_code(int code) { quiet_exit_code_ = code; }
  int quiet_exit_code() const { return quiet_exit_code_; }

 private:
  const GlobalOptions& options_;
  std::optional<client::ClientConfig> config_;
  std::optional<keys::TrustDirKeyStore> store_;
  std::unique_ptr<keys::PassphraseSource> passphrases_;
  std::unique_ptr<keys::LocalSigner> signer_;
  std::optional<client::HttpClient> http_;
  std::optional<client::HttpClient> admin_http_;
  std::vector<std::unique_ptr<HttpRemote>> remotes_;
  Progress* progress_ = nullptr;  // the progress bar on screen while publish() runs
  int quiet_exit_code_ = kExitOk;
};

// ---- Small helpers shared by the commands ---------------------------------------------------

// Reads a whole file of at most `max_bytes` (kIo naming the file; kTooLarge beyond the cap).
Result<std::string> read_file(const std::filesystem::path& path, std::size_t max_bytes);
// Writes `data` to `path`, replacing it, with `mode` (kIo naming the file).
Status write_file(const std::filesystem::path& path, std::string_view data, unsigned mode);
// A usage error (exit code 1).
Error usage_error(std::string message);
// A password or API token piped on standard input (`--password-stdin`, as docker login): at
// most 4 KiB, one trailing newline (LF or CRLF) removed; empty input is a usage error. Read
// straight into a SecretString.
Result<keys::SecretString> read_stdin_secret();
// The PEM blocks of a file, each from its BEGIN line through its END line.
std::vector<std::string> split_pem_blocks(std::string_view text);
// Reads a private key file (any format keys/key_file.h reads) and decrypts it, asking
// `passphrases` for (role, gun) when it is encrypted, up to three attempts for sources that
// can offer another passphrase. Returns the key and the file's headers.
Result<keys::DecryptedKey> decrypt_key_text(std::string_view pem, std::string_view fallback_role,
                                            keys::PassphraseSource& passphrases);

}  // namespace vouch::cli
