#include "tests/support/postgres.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <system_error>
#include <vector>

extern char** environ;

namespace vouch::test {

namespace {

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string tail(std::string s, std::size_t n = 2000) {
  return s.size() <= n ? s : "..." + s.substr(s.size() - n);
}

// Runs argv to completion with stdin from /dev/null and stdout+stderr into `log` (truncated);
// returns {exit status (128+signal if killed), output}.
std::pair<int, std::string> run(const std::vector<std::string>& args,
                                const std::filesystem::path& log) {
  std::vector<char*> argv;
  std::vector<std::string> copy = args;
  for (std::string& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return {127, "cannot run " + args[0] + ": " + std::strerror(rc)};
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  const int status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return {status, read_text(log)};
}

Result<std::filesystem::path> find_bindir() {
  if (const char* env = std::getenv("VOUCH_PG_BINDIR"); env != nullptr && *env != '\0') {
    std::filesystem::path p(env);
    if (std::filesystem::exists(p / "initdb")) return p;
    return make_error(Reason::kUnavailable, "VOUCH_PG_BINDIR=" + p.string() + " holds no initdb");
  }
  std::error_code ec;
  std::filesystem::path best;
  int best_major = -1;
  for (const auto& e : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    const int major = std::stoi(name);
    if (major > best_major && std::filesystem::exists(e.path() / "bin" / "initdb")) {
      best_major = major;
      best = e.path() / "bin";
    }
  }
  if (best_major < 0) {
    return make_error(Reason::kUnavailable,
                      "PostgreSQL server binaries not found (no /usr/lib/postgresql/*/bin/initdb, "
                      "no VOUCH_PG_BINDIR): install the Debian package postgresql "
                      "(scripts/install-deps.sh)");
  }
  return best;
}

// A loopback TCP port nobody listens on right now (the server binds it moments later; start()
// retries with another port if it was taken in between).
Result<int> free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return make_error(Reason::kIo, std::string("socket: ") + std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    const int err = errno;
    ::close(fd);
    return make_error(Reason::kIo, std::string("bind: ") + std::strerror(err));
  }
  ::close(fd);
  return static_cast<int>(ntohs(a.sin_port));
}

std::string random_password() {
  std::random_device rd;
  static constexpr char kAlphabet[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string out;
  for (int i = 0; i < 32; ++i) out.push_back(kAlphabet[rd() % (sizeof kAlphabet - 1)]);
  return out;
}

}  // namespace

Result<std::unique_ptr<Postgres>> Postgres::start(Durability durability) {
  std::unique_ptr<Postgres> pg(new Postgres());
  pg->durability_ = durability;
  VOUCH_ASSIGN_OR_RETURN(pg->bindir_, find_bindir());

  // /tmp rather than $TMPDIR: the socket path must stay below 108 bytes.
  std::string tmpl = "/tmp/vouch-pg-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return make_error(Reason::kIo, std::string("mkdtemp: ") + std::strerror(errno));
  }
  pg->dir_ = tmpl;
  pg->password_file_ = pg->dir_ / "password";
  {
    std::ofstream out(pg->password_file_, std::ios::binary | std::ios::trunc);
    out << random_password() << "\n";
    if (!out) return make_error(Reason::kIo, "cannot write " + pg->password_file_.string());
  }

  if (::geteuid() == 0) {
    // PostgreSQL refuses to run as root: run it as `postgres` and give it the directory.
    const passwd* pw = ::getpwnam("postgres");
    if (pw == nullptr) {
      return make_error(Reason::kUnavailable,
                        "running as root, and there is no user `postgres` to run PostgreSQL "
                        "as (install the Debian package postgresql)");
    }
    pg->run_as_ = "postgres";
    for (const auto& p : {pg->dir_, pg->password_file_}) {
      if (::chown(p.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
        return make_error(Reason::kIo, "chown " + p.string() + ": " + std::strerror(errno));
      }
    }
  }

  std::vector<std::string> initdb;
  if (!pg->run_as_.empty()) initdb = {"runuser", "-u", pg->run_as_, "--"};
  for (const std::string& a : std::vector<std::string>{
           (pg->bindir_ / "initdb").string(), "-D" + (pg->dir_ / "data").string(), "-U" + pg->user_,
           "--pwfile=" + pg->password_file_.string(), "--auth-local=trust",
           "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C"}) {
    initdb.push_back(a);
  }
  if (durability == Durability::kFast) initdb.push_back("--no-sync");
  auto [rc, out] = run(initdb, pg->dir_ / "initdb.log");
  if (rc != 0) {
    return make_error(Reason::kUnavailable,
                      "initdb failed (exit " + std::to_string(rc) + "): " + tail(out));
  }
  Error last = make_error(Reason::kUnavailable, "not started");
  for (int attempt = 0; attempt < 5; ++attempt) {
    VOUCH_ASSIGN_OR_RETURN(pg->port_, free_port());
    auto st = pg->pg_ctl_start();
    if (st.ok()) return pg;
    last = std::move(st).error();
  }
  return last;
}

Status Postgres::pg_ctl_start() {
  std::string opts =
      "-p " + std::to_string(port_) + " -k " + dir_.string() + " -c listen_addresses=" + host_;
  if (durability_ == Durability::kFast) {
    opts += " -c fsync=off -c full_page_writes=off -c synchronous_commit=off";
  }
  std::vector<std::string> cmd;
  if (!run_as_.empty()) cmd = {"runuser", "-u", run_as_, "--"};
  for (const std::string& a : std::vector<std::string>{
           (bindir_ / "pg_ctl").string(), "-D", (dir_ / "data").string(), "-l",
           (dir_ / "server.log").string(), "-w", "-t", "60", "-o", opts, "start"}) {
    cmd.push_back(a);
  }
  auto [rc, out] = run(cmd, dir_ / "pg_ctl.log");
  if (rc != 0) {
    return make_error(Reason::kUnavailable,
                      "pg_ctl start failed (exit " + std::to_string(rc) + "): " + tail(out) +
                          "\nserver log: " + tail(read_text(dir_ / "server.log")));
  }
  running_ = true;
  return ok_status();
}

Result<Postgres*> Postgres::shared() {
  static Result<std::unique_ptr<Postgres>> instance = start(Durability::kFast);
  if (!instance) return instance.error();
  return instance->get();
}

Postgres::~Postgres() {
  if (running_) (void)stop();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

std::string Postgres::dsn(std::string_view database) const {
  return "host=" + host_ + " port=" + std::to_string(port_) + " user=" + user_ +
         " dbname=" + std::string(database) + " sslmode=disable";
}

Result<std::string> Postgres::create_database() {
  const std::string name = "vouch_test_" + std::to_string(++databases_);
  VOUCH_RETURN_IF_ERROR(sql("postgres", "CREATE DATABASE " + name));
  return name;
}

Result<std::string> Postgres::sql(std::string_view database, std::string_view statements) const {
  std::vector<std::string> cmd = {(bindir_ / "psql").string(),
                                  "-h",
                                  dir_.string(),
                                  "-p",
                                  std::to_string(port_),
                                  "-U",
                                  user_,
                                  "-d",
                                  std::string(database),
                                  "-X",
                                  "-q",
                                  "-A",
                                  "-t",
                                  "-v",
                                  "ON_ERROR_STOP=1",
                                  "-c",
                                  std::string(statements)};
  static int counter = 0;
  auto [rc, out] = run(cmd, dir_ / ("psql-" + std::to_string(++counter) + ".log"));
  if (rc != 0) {
    return make_error(Reason::kInternal, "psql failed (exit " + std::to_string(rc) + "): " + out);
  }
  return out;
}

Status Postgres::enable_tls(std::string_view cert_pem, std::string_view key_pem) {
  const std::filesystem::path cert = dir_ / "data" / "server.crt";
  const std::filesystem::path key = dir_ / "data" / "server.key";
  for (const auto& [path, text] : {std::pair{cert, cert_pem}, std::pair{key, key_pem}}) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) return make_error(Reason::kIo, "cannot write " + path.string());
  }
  // The server refuses a key file that others can read, and must own it.
  ::chmod(key.c_str(), 0600);
  if (!run_as_.empty()) {
    const passwd* pw = ::getpwnam(run_as_.c_str());
    for (const auto& p : {cert, key}) {
      if (pw == nullptr || ::chown(p.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
        return make_error(Reason::kIo, "chown " + p.string());
      }
    }
  }
  // One statement per psql -c: ALTER SYSTEM may not run inside a transaction block.
  for (const std::string& statement : {std::string("ALTER SYSTEM SET ssl = on"),
                                       "ALTER SYSTEM SET ssl_cert_file = '" + cert.string() + "'",
                                       "ALTER SYSTEM SET ssl_key_file = '" + key.string() + "'",
                                       std::string("SELECT pg_reload_conf()")}) {
    VOUCH_RETURN_IF_ERROR(sql("postgres", statement));
  }
  return ok_status();
}

Status Postgres::stop() {
  std::vector<std::string> cmd;
  if (!run_as_.empty()) cmd = {"runuser", "-u", run_as_, "--"};
  for (const std::string& a :
       std::vector<std::string>{(bindir_ / "pg_ctl").string(), "-D", (dir_ / "data").string(), "-m",
                                "fast", "-w", "-t", "60", "stop"}) {
    cmd.push_back(a);
  }
  auto [rc, out] = run(cmd, dir_ / "pg_ctl-stop.log");
  if (rc != 0) return make_error(Reason::kUnavailable, "pg_ctl stop failed: " + tail(out));
  running_ = false;
  return ok_status();
}

Status Postgres::restart() {
  if (running_) VOUCH_RETURN_IF_ERROR(stop());
  return pg_ctl_start();
}

}  // namespace vouch::test
