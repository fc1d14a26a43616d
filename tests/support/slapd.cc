#include "tests/support/slapd.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#ifndef VOUCH_SLAPD_SH
#error "VOUCH_SLAPD_SH (the path of tests/support/slapd.sh) must be defined"
#endif

extern char** environ;

namespace vouch::test {

namespace {

// Runs bash with `script` (stdin: `input`); returns {exit status, stdout, stderr}.
struct Output {
  int status = 0;
  std::string out, err;
};

Output run_bash(const std::string& script, std::string_view input) {
  char in_tmpl[] = "/tmp/vouch-slapd-io-XXXXXX";
  const int dir_ok = ::mkdtemp(in_tmpl) != nullptr;
  if (!dir_ok) return {127, "", std::string("mkdtemp: ") + std::strerror(errno)};
  const std::filesystem::path dir(in_tmpl);
  const auto in_path = dir / "in", out_path = dir / "out", err_path = dir / "err";
  std::ofstream(in_path, std::ios::binary) << input;
  std::vector<std::string> args = {"bash", "-c", script};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, in_path.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, "bash", &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  Output o;
  if (rc != 0) {
    o = {127, "", std::string("cannot run bash: ") + std::strerror(rc)};
  } else {
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    o.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    std::stringstream out, err;
    out << std::ifstream(out_path).rdbuf();
    err << std::ifstream(err_path).rdbuf();
    o.out = out.str();
    o.err = err.str();
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return o;
}

std::string shell_quote(std::string_view s) {
  std::string out = "'";
  for (const char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

}  // namespace

Result<std::unique_ptr<Slapd>> Slapd::start() {
  const Output o = run_bash(std::string("source ") + shell_quote(VOUCH_SLAPD_SH) +
                                " && slapd_test_start >&2 && slapd_test_env",
                            "");
  std::unique_ptr<Slapd> s(new Slapd());
  std::istringstream lines(o.out);
  for (std::string line; std::getline(lines, line);) {
    const auto eq = line.find('=');
    if (line.starts_with("SLAPD_") && eq != std::string::npos) {
      s->vars_[line.substr(6, eq - 6)] = line.substr(eq + 1);
    }
  }
  if (o.status != 0) {
    // Remove what the script left (its directory, a slapd it started).
    if (!s->get("DIR").empty()) (void)s->call("slapd_test_stop");
    s->vars_.clear();
    return make_error(Reason::kUnavailable, "slapd did not start: " + o.err);
  }
  return s;
}

Slapd::~Slapd() {
  if (!vars_.empty()) (void)call("slapd_test_stop");
}

std::string Slapd::get(std::string_view name) const {
  const auto it = vars_.find(name);
  return it == vars_.end() ? std::string() : it->second;
}

Result<std::string> Slapd::call(std::string_view function, std::string_view input) const {
  std::string script = std::string("source ") + shell_quote(VOUCH_SLAPD_SH);
  for (const auto& [k, v] : vars_) script += " && SLAPD_" + k + "=" + shell_quote(v);
  script += " && ";
  script += function;
  const Output o = run_bash(script, input);
  if (o.status != 0) {
    return make_error(Reason::kIo, std::string(function) + " failed: " + o.err + o.out);
  }
  return o.out;
}

Status Slapd::modify(std::string_view ldif) const {
  VOUCH_RETURN_IF_ERROR(call("slapd_test_modify", ldif));
  return ok_status();
}

Result<int> Slapd::binds() const {
  VOUCH_ASSIGN_OR_RETURN(std::string out, call("slapd_test_binds"));
  try {
    return std::stoi(out);
  } catch (const std::exception&) {
    return make_error(Reason::kMalformed, "slapd_test_binds printed " + out);
  }
}

Status Slapd::down() {
  VOUCH_RETURN_IF_ERROR(call("slapd_test_down"));
  return ok_status();
}

Status Slapd::up() {
  VOUCH_ASSIGN_OR_RETURN(std::string out, call("slapd_test_up && echo \"SLAPD_PID=$SLAPD_PID\""));
  const auto at = out.rfind("SLAPD_PID=");
  if (at != std::string::npos) vars_["PID"] = out.substr(at + 10, out.find('\n', at) - at - 10);
  return ok_status();
}

}  // namespace vouch::test
