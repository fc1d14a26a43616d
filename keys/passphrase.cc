#include "keys/passphrase.h"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include <openssl/crypto.h>

#include "common/fs.h"
#include "keys/private_file.h"

namespace vouch::keys {
namespace {

std::string short_id(std::string_view key_id) {
  // Notary shows the first 7 characters of the key ID (passphrase.go, idBytesToDisplay).
  return std::string(key_id.substr(0, 7));
}

std::string with_id(const PassphraseRequest& r) {
  if (r.key_id.size() <= 7) return r.key_id.empty() ? "" : " with ID " + r.key_id;
  return " with ID " + short_id(r.key_id);
}

std::string env_hint(std::string_view role) {
  const auto vars = passphrase_env_vars(role);
  std::string s = "set ";
  for (std::size_t i = 0; i < vars.size(); ++i) {
    if (i == 1) s += " (or ";
    if (i > 1) s += ", ";
    s += vars[i];
  }
  if (vars.size() > 1) s += ")";
  return s;
}

// ---- Terminal state and signals -------------------------------------------------------------

// One prompt at a time in the process: the signal handlers below use process-wide state.
std::mutex g_prompt_mutex;

constexpr std::array<int, 4> kSignals = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
// Written only with g_prompt_mutex held and before the handlers are installed; read by the
// handler (tcsetattr, sigaction and raise are async-signal-safe).
int g_tty_fd = -1;
struct termios g_saved_termios {};
std::array<struct sigaction, kSignals.size()> g_old_actions{};
volatile std::sig_atomic_t g_interrupted = 0;

extern "C" void vouch_restore_tty_and_reraise(int sig) {
  ::tcsetattr(g_tty_fd, TCSANOW, &g_saved_termios);
  for (std::size_t i = 0; i < kSignals.size(); ++i) {
    if (kSignals[i] == sig) ::sigaction(sig, &g_old_actions[i], nullptr);
  }
  g_interrupted = 1;
  // Delivered with the previous disposition once this handler returns: the default action
  // kills the process (echo already restored); an application handler runs as usual.
  ::raise(sig);
}

// Turns echo off on `fd` for its lifetime; restores the terminal (and signal dispositions)
// on destruction.
class EchoOff {
 public:
  EchoOff(int fd, bool handle_signals) : fd_(fd), signals_(handle_signals) {}
  EchoOff(const EchoOff&) = delete;
  EchoOff& operator=(const EchoOff&) = delete;

  Status start() {
    if (::tcgetattr(fd_, &saved_) != 0) {
      return make_error(Reason::kNoPassphrase, "not a terminal");
    }
    struct termios quiet = saved_;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO | ECHOE | ECHOK | ECHONL);
    quiet.c_lflag |= ICANON;
    if (signals_) {
      g_tty_fd = fd_;
      g_saved_termios = saved_;
      g_interrupted = 0;
      struct sigaction sa {};
      sa.sa_handler = vouch_restore_tty_and_reraise;
      sigemptyset(&sa.sa_mask);
      for (int s : kSignals) sigaddset(&sa.sa_mask, s);
      sa.sa_flags = 0;  // no SA_RESTART: read() returns EINTR so we can give up
      for (std::size_t i = 0; i < kSignals.size(); ++i) {
        ::sigaction(kSignals[i], &sa, &g_old_actions[i]);
      }
      installed_ = true;
    }
    // TCSAFLUSH also discards type-ahead, so nothing typed before the prompt is taken.
    if (::tcsetattr(fd_, TCSAFLUSH, &quiet) != 0) {
      restore();
      return make_error(Reason::kIo, std::string("cannot turn off echo: ") + std::strerror(errno));
    }
    active_ = true;
    return {};
  }

  ~EchoOff() { restore(); }

 private:
  void restore() {
    if (active_) ::tcsetattr(fd_, TCSANOW, &saved_);
    active_ = false;
    if (installed_) {
      for (std::size_t i = 0; i < kSignals.size(); ++i) {
        ::sigaction(kSignals[i], &g_old_actions[i], nullptr);
      }
      installed_ = false;
    }
  }

  int fd_;
  bool signals_;
  bool active_ = false;
  bool installed_ = false;
  struct termios saved_ {};
};

void write_all(int fd, std::string_view s) {
  while (!s.empty()) {
    const ssize_t n = ::write(fd, s.data(), s.size());
    if (n < 0) {
      if (errno == EINTR && g_interrupted == 0) continue;
      return;  // a prompt that cannot be shown is not fatal; reading decides
    }
    s.remove_prefix(static_cast<std::size_t>(n));
  }
}

SecretString trim_space(const SecretString& s) {
  std::string_view v = s.view();
  auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
  };
  while (!v.empty() && space(v.front())) v.remove_prefix(1);
  while (!v.empty() && space(v.back())) v.remove_suffix(1);
  return SecretString(v);
}

Result<SecretString> read_line(int fd, std::size_t max_length) {
  SecretString line;
  bool any = false;
  bool too_long = false;
  char c = 0;
  for (;;) {
    const ssize_t n = ::read(fd, &c, 1);
    if (n == 1) {
      any = true;
      if (c == '\n' || c == '\r') break;
      if (line.size() < max_length) {
        line.push_back(c);
      } else {
        too_long = true;
      }
      continue;
    }
    if (n < 0 && errno == EINTR) {
      if (g_interrupted != 0) {
        return make_error(Code::kCancelled, Reason::kNoPassphrase, "passphrase entry interrupted");
      }
      continue;
    }
    // End of input (Ctrl-D on an empty line, or a hung-up terminal: EIO).
    if (n == 0 || errno == EIO) {
      if (!any) return make_error(Reason::kNoPassphrase, "no passphrase entered (end of input)");
      break;
    }
    return make_error(Reason::kIo, std::string("reading the terminal: ") + std::strerror(errno));
  }
  OPENSSL_cleanse(&c, sizeof c);
  if (too_long) return make_error(Reason::kTooLarge, "passphrase too long");
  return trim_space(line);
}

}  // namespace

std::vector<std::string_view> passphrase_env_vars(std::string_view role) {
  if (role == "root") {
    return {"VOUCH_ROOT_PASSPHRASE", "NOTARY_ROOT_PASSPHRASE",
            "DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE"};
  }
  if (role == "targets") {
    return {"VOUCH_TARGETS_PASSPHRASE", "NOTARY_TARGETS_PASSPHRASE",
            "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE"};
  }
  if (role == "snapshot") {
    return {"VOUCH_SNAPSHOT_PASSPHRASE", "NOTARY_SNAPSHOT_PASSPHRASE",
            "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE"};
  }
  if (role == "timestamp") {
    return {"VOUCH_TIMESTAMP_PASSPHRASE", "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE"};
  }
  // Notary's CLI: NOTARY_DELEGATION_PASSPHRASE for every role that is not a base role.
  return {"VOUCH_DELEGATION_PASSPHRASE", "NOTARY_DELEGATION_PASSPHRASE",
          "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE"};
}

// ---- EnvPassphraseSource ---------------------------------------------------------------------

EnvPassphraseSource::EnvPassphraseSource(EnvLookup lookup) : lookup_(std::move(lookup)) {
  if (!lookup_) lookup_ = [](const char* name) -> const char* { return ::secure_getenv(name); };
}

Result<SecretString> EnvPassphraseSource::get(const PassphraseRequest& request) {
  const auto vars = passphrase_env_vars(request.role);
  for (std::string_view var : vars) {
    const std::string name(var);
    const char* value = lookup_(name.c_str());
    if (value == nullptr || *value == '\0') continue;
    if (request.attempt > 0) {
      return make_error(Reason::kBadPassphrase,
                        "the passphrase in " + name + " does not decrypt the " + request.role +
                            " key" + with_id(request));
    }
    return SecretString(std::string_view(value));
  }
  std::string names;
  for (std::string_view var : vars) names.append(names.empty() ? "" : ", ").append(var);
  return make_error(Reason::kNoPassphrase, "none of " + names + " is set");
}

// ---- FilePassphraseSource --------------------------------------------------------------------

FilePassphraseSource::FilePassphraseSource(std::filesystem::path path) : path_(std::move(path)) {}

Result<SecretString> FilePassphraseSource::get(const PassphraseRequest& request) {
  const std::string p = path_.string();
  if (request.attempt > 0) {
    return make_error(Reason::kBadPassphrase,
                      "the passphrase in " + p + " does not decrypt the " + request.role +
                          " key" + with_id(request));
  }
  auto buf = read_private_file(path_, "passphrase file", 4096);
  if (!buf) {
    if (buf.error().reason == Reason::kNotFound) {
      return make_error(Reason::kNoPassphrase, "passphrase file " + p + " does not exist");
    }
    return std::move(buf).error();
  }
  std::string_view v(reinterpret_cast<const char*>(buf->data()), buf->size());
  if (!v.empty() && v.back() == '\n') {
    v.remove_suffix(1);
    if (!v.empty() && v.back() == '\r') v.remove_suffix(1);
  }
  if (v.empty()) return make_error(Reason::kNoPassphrase, "passphrase file " + p + " is empty");
  return SecretString(v);
}

// ---- StaticPassphraseSource ------------------------------------------------------------------

Result<SecretString> StaticPassphraseSource::get(const PassphraseRequest& request) {
  if (request.attempt > 0) {
    return make_error(Reason::kBadPassphrase,
                      "the given passphrase does not decrypt the " + request.role + " key" +
                          with_id(request));
  }
  if (passphrase_.empty()) return make_error(Reason::kNoPassphrase, "empty passphrase");
  return passphrase_.copy();
}

namespace {

// The terminal a prompt talks to: the descriptors in `options`, else /dev/tty (owned).
struct Terminal {
  UniqueFd tty;
  int in_fd = -1;
  int out_fd = -1;
};

// False if there is no terminal to prompt on.
bool open_terminal(const PromptPassphraseSource::Options& options, Terminal& t) {
  t.in_fd = options.in_fd;
  t.out_fd = options.out_fd >= 0 ? options.out_fd : options.in_fd;
  if (t.in_fd < 0) {
    t.tty = UniqueFd(::open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!t.tty.valid()) return false;
    t.in_fd = t.out_fd = t.tty.get();
  }
  return ::isatty(t.in_fd) == 1;
}

// The texts of a new secret entered twice (ask_twice).
struct TwiceTexts {
  std::string enter;     // "Enter passphrase for new targets key with ID abc1234: "
  std::string repeat;    // "Repeat passphrase for ...: "
  std::string too_short;  // a line, "\n"-terminated
  std::string mismatch;   // a line, "\n"-terminated
  std::string what;       // "passphrase" / "password", for the final error
};

// Asks for a new secret and its repetition (echo already off) until both agree and it is at
// least options.min_length long, at most options.max_create_tries times.
Result<SecretString> ask_twice(int in_fd, int out_fd,
                               const PromptPassphraseSource::Options& options,
                               const TwiceTexts& texts) {
  for (int i = 0; i < options.max_create_tries; ++i) {
    write_all(out_fd, texts.enter);
    auto first = read_line(in_fd, options.max_length);
    write_all(out_fd, "\n");
    if (!first) return std::move(first).error();
    if (first->size() < options.min_length) {
      write_all(out_fd, texts.too_short);
      continue;
    }
    write_all(out_fd, texts.repeat);
    auto second = read_line(in_fd, options.max_length);
    write_all(out_fd, "\n");
    if (!second) return std::move(second).error();
    if (first->view() != second->view()) {
      write_all(out_fd, texts.mismatch);
      continue;
    }
    return std::move(first).value();
  }
  return make_error(Reason::kNoPassphrase, "no acceptable " + texts.what + " entered after " +
                                               std::to_string(options.max_create_tries) +
                                               " tries");
}

}  // namespace

// ---- PromptPassphraseSource ------------------------------------------------------------------

Result<SecretString> PromptPassphraseSource::get(const PassphraseRequest& request) {
  std::lock_guard<std::mutex> lock(g_prompt_mutex);
  const std::string role = request.role.empty() ? std::string("signing") : request.role;
  auto no_terminal = [&]() {
    return make_error(Reason::kNoPassphrase,
                      "no terminal to ask for the passphrase of the " + role + " key" +
                          with_id(request) + "; " + env_hint(request.role));
  };

  Terminal terminal;
  if (!open_terminal(options_, terminal)) return no_terminal();
  const int in_fd = terminal.in_fd;
  const int out_fd = terminal.out_fd;

  EchoOff echo_off(in_fd, options_.handle_signals);
  if (auto s = echo_off.start(); !s) {
    if (s.error().reason == Reason::kNoPassphrase) return no_terminal();
    return std::move(s).error();
  }

  const std::string id = with_id(request);
  if (!request.create) {
    if (request.attempt > 0) write_all(out_fd, "Passphrase incorrect. Please retry.\n");
    write_all(out_fd, "Enter passphrase for " + role + " key" + id + ": ");
    auto line = read_line(in_fd, options_.max_length);
    write_all(out_fd, "\n");
    return line;
  }

  if (request.role == "root" && request.attempt == 0) {
    // Notary's warning before a new root passphrase (passphrase.go).
    write_all(out_fd,
              "You are about to create a new root signing key passphrase. This passphrase\n"
              "will be used to protect the most sensitive key in your signing system. Please\n"
              "choose a long, complex passphrase and be careful to keep the password and the\n"
              "key file itself secure and backed up. It is highly recommended that you use a\n"
              "password manager to generate the passphrase and keep it safe. There will be no\n"
              "way to recover this key. You can find the key in your config directory.\n");
  }
  TwiceTexts texts;
  texts.enter = "Enter passphrase for new " + role + " key" + id + ": ";
  texts.repeat = "Repeat passphrase for new " + role + " key" + id + ": ";
  texts.too_short =
      "Passphrase is too short. Please use a password manager to generate and store a good "
      "random passphrase.\n";
  texts.mismatch = "Passphrases do not match. Please retry.\n";
  texts.what = "passphrase";
  return ask_twice(in_fd, out_fd, options_, texts);
}

// ---- prompt_credentials ----------------------------------------------------------------------

Result<TerminalCredentials> prompt_credentials(std::string_view server,
                                               const PromptPassphraseSource::Options& options) {
  std::lock_guard<std::mutex> lock(g_prompt_mutex);
  auto no_terminal = [&]() {
    return make_error(Reason::kNoPassphrase,
                      "no terminal to ask for the credentials of " + std::string(server) +
                          "; set NOTARY_AUTH to the base64 of <username>:<password>");
  };
  Terminal terminal;
  if (!open_terminal(options, terminal)) return no_terminal();
  const int in_fd = terminal.in_fd;
  const int out_fd = terminal.out_fd;

  write_all(out_fd, std::string(server) + " asks for credentials.\n");
  write_all(out_fd, "Enter username: ");
  auto user = read_line(in_fd, options.max_length);
  if (!user) {
    if (user.error().reason == Reason::kNoPassphrase && user.error().code != Code::kCancelled) {
      return make_error(Reason::kNoPassphrase, "no username entered");
    }
    return std::move(user).error();
  }
  if (user->empty()) return make_error(Reason::kNoPassphrase, "no username entered");
  TerminalCredentials out;
  out.username = std::string(user->view());

  EchoOff echo_off(in_fd, options.handle_signals);
  if (auto s = echo_off.start(); !s) {
    if (s.error().reason == Reason::kNoPassphrase) return no_terminal();
    return std::move(s).error();
  }
  write_all(out_fd, "Enter password: ");
  auto password = read_line(in_fd, options.max_length);
  write_all(out_fd, "\n");
  if (!password) return std::move(password).error();
  out.password = std::move(*password);
  return out;
}

// ---- prompt_new_password ---------------------------------------------------------------------

Result<SecretString> prompt_new_password(std::string_view what,
                                         const PromptPassphraseSource::Options& options) {
  std::lock_guard<std::mutex> lock(g_prompt_mutex);
  auto no_terminal = [&]() {
    return make_error(Reason::kNoPassphrase,
                      "no terminal to ask for the password of " + std::string(what) + " on");
  };
  Terminal terminal;
  if (!open_terminal(options, terminal)) return no_terminal();
  EchoOff echo_off(terminal.in_fd, options.handle_signals);
  if (auto s = echo_off.start(); !s) {
    if (s.error().reason == Reason::kNoPassphrase) return no_terminal();
    return std::move(s).error();
  }
  TwiceTexts texts;
  texts.enter = "Enter password for " + std::string(what) + ": ";
  texts.repeat = "Repeat password for " + std::string(what) + ": ";
  texts.too_short = "Password is too short: at least " + std::to_string(options.min_length) +
                    " characters. Please retry.\n";
  texts.mismatch = "Passwords do not match. Please retry.\n";
  texts.what = "password";
  return ask_twice(terminal.in_fd, terminal.out_fd, options, texts);
}

// ---- ChainPassphraseSource -------------------------------------------------------------------

Result<SecretString> ChainPassphraseSource::get(const PassphraseRequest& request) {
  Error last = make_error(Reason::kNoPassphrase, "no passphrase source configured");
  for (const auto& source : sources_) {
    auto r = source->get(request);
    if (r) return r;
    if (r.error().reason != Reason::kNoPassphrase || r.error().code == Code::kCancelled) {
      return r;
    }
    last = std::move(r).error();
  }
  return last;
}

}  // namespace vouch::keys
