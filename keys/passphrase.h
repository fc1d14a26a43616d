#pragma once

// Where key passphrases come from: environment variables (CI), a file (systemd credentials,
// Kubernetes secrets), an interactive prompt on the terminal, or a chain of these.
//
// Contract shared by every PassphraseSource::get():
//   - success: a passphrase, in a SecretString (zeroed on destruction, never logged).
//   - Reason::kNoPassphrase: this source has nothing for this request (variable unset, no
//     terminal, input closed). A ChainPassphraseSource then asks the next source.
//   - Reason::kBadPassphrase: request.attempt > 0 (the previous answer was wrong) and this
//     source cannot offer a different one (environment, file, fixed value). The caller stops
//     at once instead of retrying the same wrong value; a chain does not fall through to the
//     prompt either, so a wrong CI variable fails fast instead of hanging on a prompt
//     (unlike Notary, which then prompts: notaryproject/notary#1406).
//   - Code::kCancelled (reason kNoPassphrase): the user interrupted the prompt.
//   - other reasons (kIo, kInsecureFile, kTooLarge) for broken inputs.
// Sources never validate a passphrase against a key; the caller (TrustDirKeyStore) decrypts
// and calls again with attempt + 1 when the passphrase was wrong.

#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "keys/secret.h"

namespace vouch::keys {

// Minimum length of a new passphrase entered at the prompt (Notary: 8).
inline constexpr std::size_t kMinPassphraseLength = 8;

struct PassphraseRequest {
  // Canonical key ID (64 lowercase hex); may be empty if not known. Prompts show its first
  // 7 characters, as Notary does.
  std::string key_id;
  // The key's role: "root", "targets", "snapshot", "timestamp", a delegation such as
  // "targets/releases", or "delegation" (Notary's default for imported keys).
  std::string role;
  // The key's GUN; empty for root and delegation keys. Informational.
  std::string gun;
  // True when a new passphrase is being chosen (new key, new passphrase for `key passwd`,
  // export): an interactive source asks twice and enforces the minimum length.
  bool create = false;
  // 0 for the first request for this key; n > 0 after n wrong passphrases.
  int attempt = 0;
};

// Abstract source of passphrases. Implementations document their thread-safety; the ones
// here are safe to call from several threads (the prompt serialises terminal access).
class PassphraseSource {
 public:
  virtual ~PassphraseSource() = default;
  virtual Result<SecretString> get(const PassphraseRequest& request) = 0;
};

// The environment variables that hold the passphrase for `role`, in the order they are
// consulted (the first non-empty one wins):
//   root:       VOUCH_ROOT_PASSPHRASE, NOTARY_ROOT_PASSPHRASE,
//               DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE
//   targets:    VOUCH_TARGETS_PASSPHRASE, NOTARY_TARGETS_PASSPHRASE,
//               DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE
//   snapshot:   VOUCH_SNAPSHOT_PASSPHRASE, NOTARY_SNAPSHOT_PASSPHRASE,
//               DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE
//   timestamp:  VOUCH_TIMESTAMP_PASSPHRASE, DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE
//               (Notary has no variable for timestamp keys, which are server-managed)
//   any other role ("targets/...", "delegation", or any non-base name, as Notary's CLI
//   does in cmd/notary/main.go): VOUCH_DELEGATION_PASSPHRASE, NOTARY_DELEGATION_PASSPHRASE,
//               DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE
// (Docker's CLI uses the REPOSITORY passphrase for every non-root role.)
std::vector<std::string_view> passphrase_env_vars(std::string_view role);

// Looks up an environment variable: returns its value or nullptr. The returned pointer must
// stay valid until the next call. Default: ::getenv.
using EnvLookup = std::function<const char*(const char* name)>;

// Passphrases from environment variables (see passphrase_env_vars). Empty values count as
// unset (as in Notary). No minimum length is enforced, even for new keys, so that existing
// Notary CI setups keep working. attempt > 0 -> kBadPassphrase naming the variable used.
// The value is copied only into the returned SecretString. Thread-safe if `lookup` is.
class EnvPassphraseSource final : public PassphraseSource {
 public:
  explicit EnvPassphraseSource(EnvLookup lookup = {});
  Result<SecretString> get(const PassphraseRequest& request) override;

 private:
  EnvLookup lookup_;
};

// One passphrase for every key, read from a file at each call (a systemd LoadCredential=
// file, a mounted Kubernetes secret). The file must be a regular file of at most 4 KiB that
// neither group nor others can access (mode & 077 == 0), else kInsecureFile with a chmod
// hint; symlinks are followed (that is how Kubernetes mounts secrets). One trailing "\n"
// (or "\r\n") is stripped; nothing else. Missing file -> kNoPassphrase; empty -> kNoPassphrase;
// unreadable -> kIo. attempt > 0 -> kBadPassphrase. Thread-safe.
class FilePassphraseSource final : public PassphraseSource {
 public:
  explicit FilePassphraseSource(std::filesystem::path path);
  Result<SecretString> get(const PassphraseRequest& request) override;

 private:
  std::filesystem::path path_;
};

// A fixed passphrase given by the caller (a CLI flag already read, tests). attempt > 0 ->
// kBadPassphrase. Thread-safe.
class StaticPassphraseSource final : public PassphraseSource {
 public:
  explicit StaticPassphraseSource(SecretString passphrase) : passphrase_(std::move(passphrase)) {}
  Result<SecretString> get(const PassphraseRequest& request) override;

 private:
  SecretString passphrase_;
};

// Asks on the terminal with Notary's texts:
//   "Enter passphrase for root key with ID abc1234: "
//   "Enter passphrase for new targets key with ID abc1234: "     (request.create)
//   "Repeat passphrase for new targets key with ID abc1234: "
//   "Passphrase is too short. Please use a password manager to generate and store a good
//    random passphrase."                                          (create, < min_length)
//   "Passphrases do not match. Please retry."                     (create, mismatch)
//   "Passphrase incorrect. Please retry."                         (attempt > 0)
// plus Notary's root key warning before the first prompt for a new root key. Echo is off
// while reading (termios on the terminal); it is restored on return, on error, and when
// SIGINT, SIGTERM, SIGHUP or SIGQUIT arrives (the previous signal disposition is restored
// and the signal re-raised, so the process still dies or handles it as it otherwise would;
// if it survives, get() returns Code::kCancelled). As in Notary, leading and trailing
// whitespace of an entered passphrase is removed. A create request retries a short or
// mismatched entry up to max_create_tries times, then fails with kNoPassphrase.
//
// By default reads and writes /dev/tty (never stdin/stdout, so piped output stays clean).
// With no terminal (no controlling tty, or the given fd is not a tty) it fails AT ONCE with
// kNoPassphrase and a message naming the environment variable to set; it never blocks on a
// non-terminal. End of input (Ctrl-D) -> kNoPassphrase. Terminal access is serialised
// process-wide; get() is thread-safe.
class PromptPassphraseSource final : public PassphraseSource {
 public:
  struct Options {
    // Terminal file descriptors (borrowed, not closed). -1: open /dev/tty for each get().
    // If only in_fd is given, out_fd defaults to in_fd.
    int in_fd = -1;
    int out_fd = -1;
    std::size_t min_length = kMinPassphraseLength;
    int max_create_tries = 3;
    // Longest accepted entry; longer input is consumed to the end of line and refused.
    std::size_t max_length = 1024;
    // Install the signal handlers described above while echo is off.
    bool handle_signals = true;
  };

  PromptPassphraseSource() : PromptPassphraseSource(Options{}) {}
  explicit PromptPassphraseSource(Options options) : options_(options) {}
  Result<SecretString> get(const PassphraseRequest& request) override;

 private:
  Options options_;
};

// A username and password typed at the terminal (prompt_credentials).
struct TerminalCredentials {
  std::string username;
  SecretString password;
};

// Asks the terminal for the credentials of a trust server's token service, as the notary CLI
// does when a server wants them and NOTARY_AUTH is unset: "Enter username: " (echoed), then
// "Enter password: " (not echoed), after one line naming `server`. Same terminal rules as
// PromptPassphraseSource (/dev/tty unless `options` name descriptors; echo restored on every
// path; whitespace around the entries removed). No terminal, end of input, or an empty
// username -> kNoPassphrase at once (never blocks on a non-terminal); interrupted -> Code
// kCancelled. Thread-safe (terminal access is serialised with the passphrase prompts).
Result<TerminalCredentials> prompt_credentials(std::string_view server,
                                               const PromptPassphraseSource::Options& options = {});

// Asks the terminal for a new password (of a user account: `vouch admin user create`), twice,
// echo off: "Enter password for <what>: ", "Repeat password for <what>: "; an entry shorter
// than options.min_length ("Password is too short: ...") or a mismatch ("Passwords do not
// match. Please retry.") asks again, up to options.max_create_tries times, then kNoPassphrase.
// Same terminal rules as PromptPassphraseSource (/dev/tty unless `options` name descriptors;
// echo restored on every path; whitespace around the entry removed, as prompt_credentials
// removes it at login). No terminal -> kNoPassphrase at once, never blocks on a
// non-terminal; end of input -> kNoPassphrase; interrupted -> Code kCancelled. Thread-safe.
Result<SecretString> prompt_new_password(std::string_view what,
                                         const PromptPassphraseSource::Options& options = {});

// Asks each source in order and returns the first passphrase. A source answering
// kNoPassphrase (with any Code except kCancelled) passes the request on; any other error
// stops the chain and is returned. If every source passes, the last source's error is
// returned (for env + prompt, the prompt's message naming the variable to set).
class ChainPassphraseSource final : public PassphraseSource {
 public:
  explicit ChainPassphraseSource(std::vector<std::unique_ptr<PassphraseSource>> sources)
      : sources_(std::move(sources)) {}
  Result<SecretString> get(const PassphraseRequest& request) override;

 private:
  std::vector<std::unique_ptr<PassphraseSource>> sources_;
};

}  // namespace vouch::keys
