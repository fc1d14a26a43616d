// vouch-signer: the gRPC signing service, compatible with notary-signer.
//
// The only place that reads the config file, flags and environment (STYLE "config"); see
// signer/README.md for the user documentation.

#include <absl/synchronization/mutex.h>
#include <grpcpp/grpcpp.h>
#include <prometheus/registry.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/config_file.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/net/admin_server.h"
#include "common/net/signals.h"
#include "common/rocksdb_backup.h"
#include "common/store_commands.h"
#include "common/net/tls.h"
#include "common/pg/pg.h"
#include "keys/passphrase.h"
#include "keys/secret.h"
#include "keys/secret_file.h"
#include "proto/signer_admin.grpc.pb.h"
#include "signer/key_store.h"
#include "signer/pg_record_store.h"
#include "signer/service.h"

namespace fs = std::filesystem;
using namespace vouch;

namespace {

constexpr const char* kVersion = "vouch-signer 0.1.0";

// Everything the daemon and the rotate command need, from config file, flags and env.
struct Config {
  std::string grpc_addr = "127.0.0.1:7899";  // notary-signer's conventional port
  std::string http_addr;                     // metrics/health; empty: none
  std::string tls_cert_file, tls_key_file, client_ca_file;
  std::string control_socket;  // empty: <db_path>.control.sock; "-": none
  std::string backend = "rocksdb";  // rocksdb | postgres
  std::string db_path;
  // storage.postgres (backend "postgres"): the same keys as vouch-server's.
  signer::PgRecordStoreOptions postgres;
  std::string default_alias;
  std::string passphrase_dir;
  std::size_t key_cache_size = 1024;
  std::size_t max_content_bytes = signer::kDefaultMaxContentBytes;
  keys::Argon2Params kdf = keys::kArgon2StartupParams;
  std::string log_level = "info";
  std::string log_format = "text";
  std::string ready_file;
};

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "vouch-signer: %s\n", msg.c_str());
  std::fflush(stderr);
  std::exit(1);
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// ---- config file (notary-signer's shape; common/config_file.h) ------------------------------

void read_config_file(const std::string& path, Config& c) {
  ConfigFileOptions options;
  options.reject_duplicate_keys = false;  // as before the shared reader: the last one wins
  auto file = ConfigFile::load(path, options);
  if (!file) die(file.error().message);
  const ConfigSection root = file->root();
  root.section("server").get_keys({
      {"grpc_addr", &c.grpc_addr},
      {"http_addr", &c.http_addr},
      ConfigKey::path("tls_cert_file", &c.tls_cert_file),
      ConfigKey::path("tls_key_file", &c.tls_key_file),
      ConfigKey::path("client_ca_file", &c.client_ca_file),
      ConfigKey::path("control_socket", &c.control_socket),
  });
  const ConfigSection storage = root.section("storage");
  storage.get_keys({
      {"backend", &c.backend},
      ConfigKey::path("db_path", &c.db_path),
      {"default_alias", &c.default_alias},
      ConfigKey::path("passphrase_dir", &c.passphrase_dir),
      {"key_cache_size", &c.key_cache_size},
  });
  pg::read_config(storage.section("postgres"), c.postgres);
  storage.section("kdf").get_keys({
      {"memory_kib", &c.kdf.memory_kib},
      {"iterations", &c.kdf.iterations},
      {"parallelism", &c.kdf.parallelism},
  });
  root.section("limits").get_keys({{"max_content_bytes", &c.max_content_bytes}});
  root.section("logging").get_keys({{"level", &c.log_level}, {"format", &c.log_format}});
  if (auto st = file->status(); !st) die(st.error().message);
}

// ---- passphrases ---------------------------------------------------------------------------

// Environment variables that may hold an alias's passphrase, in the order consulted.
std::vector<std::string> alias_env_vars(std::string_view alias) {
  return {"VOUCH_SIGNER_" + upper(alias), "NOTARY_SIGNER_" + upper(alias)};
}

std::string where_passphrases_come_from(std::string_view alias, const Config& c) {
  auto vars = alias_env_vars(alias);
  std::string s = "environment variable " + vars[0] + " or " + vars[1];
  if (!c.passphrase_dir.empty())
    s += ", or the file " + (fs::path(c.passphrase_dir) / alias).string();
  return s;
}

// Builds the lookup the key store asks. It records the last alias asked, so that a failure
// of KeyStore::open (which asks alias by alias and stops at the first failure) can be
// reported with the variable names of that alias.
signer::AliasPassphraseLookup make_lookup(const Config& c, std::shared_ptr<std::string> last) {
  const std::string dir = c.passphrase_dir;
  return [dir, last](std::string_view alias) -> Result<keys::SecretString> {
    *last = std::string(alias);
    for (const std::string& name : alias_env_vars(alias)) {
      const char* v = std::getenv(name.c_str());
      if (v != nullptr && *v != '\0') return keys::SecretString(v);
    }
    if (!dir.empty()) {
      keys::FilePassphraseSource file(fs::path(dir) / std::string(alias));
      keys::PassphraseRequest req;
      req.role = "signer alias " + std::string(alias);
      return file.get(req);
    }
    return make_error(Reason::kNoPassphrase, "no passphrase");
  };
}

// ---- helpers --------------------------------------------------------------------------------

std::string read_small_file(const std::string& path, const char* what) {
  auto text = read_file_bounded(path, 1u << 20);
  if (!text) die(std::string(what) + ": " + text.error().message);
  return std::move(*text);
}

void write_ready_file(const std::string& path, std::uint16_t grpc_port, std::uint16_t http_port) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << "{\"grpc_port\":" << grpc_port << ",\"http_port\":" << http_port
        << ",\"pid\":" << ::getpid() << "}\n";
    if (!out) die("cannot write ready file " + tmp);
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) die("cannot write ready file " + path + ": " + ec.message());
}

// notary-signer's protect(): no core dumps and no ptrace attach by other users, so that
// decrypted keys do not leak from memory.
void protect_process() {
  rlimit none{0, 0};
  ::setrlimit(RLIMIT_CORE, &none);
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

std::string control_socket_path(const Config& c) {
  if (c.control_socket == "-") return "";
  if (!c.control_socket.empty()) return c.control_socket;
  // On PostgreSQL every process may rotate directly (offline rotation is online there).
  if (c.backend == "postgres") return "";
  std::string db = c.db_path;
  while (db.size() > 1 && db.back() == '/') db.pop_back();
  return db + ".control.sock";
}

void require_dsn(const Config& c) {
  if (c.postgres.dsn.empty()) {
    die("storage.backend \"postgres\" needs storage.postgres.dsn (or --pg-dsn)");
  }
}

void validate_storage(const Config& c) {
  if (c.backend == "postgres") {
    require_dsn(c);
  } else if (c.backend == "rocksdb") {
    if (c.db_path.empty()) die("no key database: set storage.db_path or --db-path");
  } else {
    die("storage.backend \"" + c.backend + "\" is not supported (rocksdb, postgres)");
  }
  if (c.default_alias.empty()) {
    die("no default passphrase alias: set storage.default_alias, --default-alias or "
        "NOTARY_SIGNER_DEFAULT_ALIAS");
  }
  if (!signer::is_valid_alias(c.default_alias)) {
    die("default alias \"" + c.default_alias + "\" must be 1-50 characters of [A-Za-z0-9_]");
  }
}

// KeyStore::open over the configured backend.
Result<std::unique_ptr<signer::KeyStore>> open_key_store(const Config& c,
                                                         signer::KeyStoreOptions so) {
  if (c.backend != "postgres") return signer::KeyStore::open(std::move(so));
  VOUCH_ASSIGN_OR_RETURN(auto records, signer::PgRecordStore::open(c.postgres));
  return signer::KeyStore::open(std::move(so), std::move(records));
}

std::unique_ptr<signer::KeyStore> open_store(const Config& c) {
  auto last = std::make_shared<std::string>();
  signer::KeyStoreOptions so;
  so.db_path = c.db_path;
  so.default_alias = c.default_alias;
  so.passphrases = make_lookup(c, last);
  so.kdf = c.kdf;
  so.cache_capacity = c.key_cache_size;
  auto store = open_key_store(c, std::move(so));
  if (!store) {
    const Error& e = store.error();
    if (e.reason == Reason::kBadPassphrase || e.reason == Reason::kNoPassphrase) {
      die("refusing to start: " + e.message + "; the passphrase of alias '" + *last +
          "' comes from the " + where_passphrases_come_from(*last, c));
    }
    die("refusing to start: " + e.message);
  }
  return std::move(store).value();
}

// ---- backup, restore -----------------------------------------------------------------------
// Layout (signer/README.md "Backup and restore"): <dir>/db, a RocksDB copy of the key
// database (keys stay encrypted under their aliases), and <dir>/vouch-signer-backup.json,
// written last, marking the backup complete.

constexpr const char* kBackupMarker = "vouch-signer-backup.json";

int backup(const Config& c, const fs::path& dir) {
  if (auto st = rocksdb_backup::require_empty(dir); !st) die("backup: " + st.error().message);
  auto stats = rocksdb_backup::copy_database(c.db_path, dir / "db");
  if (!stats) die("backup: " + stats.error().message);
  if (auto st = rocksdb_backup::write_durably(
          dir / kBackupMarker, "{\"format\":1,\"records\":" + std::to_string(stats->keys) + "}\n");
      !st) {
    die("backup: " + st.error().message);
  }
  std::printf("backup of %s in %s: %llu records\n", c.db_path.c_str(), dir.string().c_str(),
              static_cast<unsigned long long>(stats->keys));
  return 0;
}

// Into an empty --db-path only; then opened as the daemon would, so that a missing or wrong
// passphrase is found now rather than at the next start.
int restore(const Config& c, const fs::path& dir) {
  if (auto st = rocksdb_backup::check_restore(dir, kBackupMarker, "vouch-signer backup", c.db_path);
      !st) {
    die("restore: " + st.error().message);
  }
  auto stats = rocksdb_backup::copy_database(dir / "db", c.db_path);
  if (!stats) die("restore: " + stats.error().message);
  auto store = open_store(c);
  auto count = store->key_count();
  if (!count) die("restore: " + count.error().message);
  std::printf("restored %s from %s: %llu keys\n", c.db_path.c_str(), dir.string().c_str(),
              static_cast<unsigned long long>(*count));
  return 0;
}

// ---- rotate-passphrase --------------------------------------------------------------------

int rotate(const Config& c, const std::string& new_alias, bool make_default) {
  if (!signer::is_valid_alias(new_alias)) {
    die("alias \"" + new_alias + "\" must be 1-50 characters of [A-Za-z0-9_]");
  }
  const std::string sock = control_socket_path(c);
  std::error_code ec;
  if (!sock.empty() && fs::is_socket(fs::symlink_status(sock, ec))) {
    // Online: the running daemon re-encrypts while it keeps serving.
    auto channel = grpc::CreateChannel("unix:" + sock, grpc::InsecureChannelCredentials());
    auto stub = vouch::signer::admin::v1::SignerAdmin::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::hours(1));
    vouch::signer::admin::v1::RotatePassphraseRequest req;
    req.set_new_alias(new_alias);
    req.set_make_default(make_default);
    vouch::signer::admin::v1::RotatePassphraseResponse resp;
    grpc::Status s = stub->RotatePassphrase(&ctx, req, &resp);
    if (s.ok()) {
      std::printf("rotated %llu of %llu keys to alias %s (online, through %s)\n",
                  static_cast<unsigned long long>(resp.keys_rotated()),
                  static_cast<unsigned long long>(resp.keys_total()), new_alias.c_str(),
                  sock.c_str());
      return 0;
    }
    if (s.error_code() != grpc::StatusCode::UNAVAILABLE)
      die("rotation failed: " + s.error_message());
    // A stale socket of a daemon that is gone: fall through to offline rotation.
  }
  // Offline: open the database ourselves (fails if a daemon without a socket holds it).
  auto last = std::make_shared<std::string>();
  signer::KeyStoreOptions so;
  so.db_path = c.db_path;
  so.create_if_missing = false;
  so.default_alias = c.default_alias;
  so.passphrases = make_lookup(c, last);
  so.kdf = c.kdf;
  auto store = open_key_store(c, std::move(so));
  if (!store) {
    const Error& e = store.error();
    if (e.reason == Reason::kIo) {
      die("cannot open the key database (" + e.message +
          "); if a vouch-signer is running on it, run this command where its control socket " +
          (sock.empty() ? std::string("is (server.control_socket)") : sock) + " is reachable");
    }
    if (e.reason == Reason::kBadPassphrase || e.reason == Reason::kNoPassphrase) {
      die(e.message + "; the passphrase of alias '" + *last + "' comes from the " +
          where_passphrases_come_from(*last, c));
    }
    die(e.message);
  }
  auto r = (*store)->rotate_alias(new_alias, make_default);
  if (!r) {
    const Error& e = r.error();
    if (e.reason == Reason::kBadPassphrase || e.reason == Reason::kNoPassphrase) {
      die(e.message + "; the passphrase of alias '" + new_alias + "' comes from the " +
          where_passphrases_come_from(new_alias, c));
    }
    die("rotation failed: " + e.message);
  }
  std::printf("rotated %llu of %llu keys to alias %s (offline)\n",
              static_cast<unsigned long long>(r->keys_rotated),
              static_cast<unsigned long long>(r->keys_total), new_alias.c_str());
  return 0;
}

// ---- daemon --------------------------------------------------------------------------------

int serve(const Config& c) {
  // Before any thread exists (RocksDB's, gRPC's): block the shutdown/reload signals, which
  // every later thread inherits, and read them on the watcher's thread.
  auto watcher = net::SignalWatcher::start();
  if (!watcher) die("cannot set up signal handling: " + watcher.error().message);
  net::SignalWatcher& signals = **watcher;
  auto log = log::get("signer");
  if (c.tls_cert_file.empty() || c.tls_key_file.empty()) {
    die("a TLS certificate and key are required: set server.tls_cert_file and "
        "server.tls_key_file (or --tls-cert/--tls-key)");
  }
  if (c.client_ca_file.empty()) {
    die("mutual TLS is mandatory: set server.client_ca_file (or --client-ca) to the CA that "
        "issues client certificates");
  }
  if (auto s = net::check_key_pair(c.tls_cert_file, c.tls_key_file); !s) {
    die("TLS certificate/key: " + s.error().message);
  }
  if (auto s = net::load_certificate_chain(c.client_ca_file); !s) {
    die("client CA: " + s.error().message);
  }
  validate_storage(c);

  auto store = open_store(c);

  signer::SignerServerOptions so;
  so.listen = c.grpc_addr;
  so.tls_cert_pem = read_small_file(c.tls_cert_file, "TLS certificate");
  auto tls_key = keys::read_secret_file(c.tls_key_file);
  if (!tls_key) die("TLS key: " + tls_key.error().message);
  so.tls_key_pem = std::move(*tls_key);
  so.client_ca_pem = read_small_file(c.client_ca_file, "client CA");
  so.max_content_bytes = c.max_content_bytes;
  so.control_socket = control_socket_path(c);
  auto registry = std::make_shared<prometheus::Registry>();
  auto server = signer::SignerServer::start(std::move(so), *store, registry);
  if (!server) die("cannot start the gRPC server: " + server.error().message);

  std::unique_ptr<net::AdminServer> admin;
  if (!c.http_addr.empty()) {
    net::AdminServerOptions ao;
    ao.listen = c.http_addr;
    signer::SignerServer* srv = server->get();
    auto a = net::AdminServer::start(ao, registry, [srv] { return srv->serving(); });
    if (!a)
      die("cannot start the metrics/health server on " + c.http_addr + ": " + a.error().message);
    admin = std::move(a).value();
  }
  const std::uint16_t http_port = admin ? admin->port() : 0;
  log->info(
      "serving notary-signer API on {} (port {}), mutual TLS; metrics on {}; "
      "default alias {}",
      c.grpc_addr, (*server)->port(), c.http_addr.empty() ? "-" : c.http_addr, c.default_alias);
  if (!c.ready_file.empty()) write_ready_file(c.ready_file, (*server)->port(), http_port);

  signals.on_reload([log] {
    log->warn("SIGHUP: reloading certificates is not supported yet; restart to apply changes");
  });
  const int sig = signals.wait_for_shutdown();
  log->info("signal {}: draining in-flight requests", sig);
  // Drain first (the probes now answer 503), then stop the admin port, whose readiness
  // callback points at the gRPC server, then free the server.
  (*server)->shutdown(std::chrono::seconds(10));
  if (admin) admin->stop();
  server->reset();
  store.reset();  // closes the database
  log->info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  ::umask(077);  // key database, control socket and ready file: owner only
  // Debian builds Abseil without NDEBUG, which leaves absl::Mutex's deadlock detector on: it
  // records a lock graph on every lock gRPC takes (~5% of a Sign's CPU here). It is a
  // debugging aid, off in release builds of Abseil; turn it off.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  CLI::App app{"vouch-signer: the gRPC signing service, compatible with notary-signer"};
  app.set_version_flag("--version", kVersion);
  std::string config_file;
  Config flags;
  app.add_option("-c,--config", config_file, "JSON config file (notary-signer's layout)");
  app.add_option("--grpc-addr", flags.grpc_addr, "gRPC listen address host:port");
  app.add_option("--http-addr", flags.http_addr, "metrics/health listen address host:port");
  app.add_option("--tls-cert", flags.tls_cert_file, "server TLS certificate (PEM)");
  app.add_option("--tls-key", flags.tls_key_file, "server TLS private key (PEM)");
  app.add_option("--client-ca", flags.client_ca_file, "CA for client certificates (PEM); required");
  app.add_option("--db-path", flags.db_path, "RocksDB key database directory");
  app.add_option("--storage", flags.backend, "rocksdb | postgres (storage.backend)");
  app.add_option("--pg-dsn", flags.postgres.dsn,
                 "PostgreSQL connection string, without password (storage.postgres.dsn)");
  std::string f_pg_password_file;
  app.add_option("--pg-password-file", f_pg_password_file,
                 "file holding the PostgreSQL password (storage.postgres.password_file)");
  app.add_option("--default-alias", flags.default_alias, "passphrase alias for new keys");
  app.add_option("--passphrase-dir", flags.passphrase_dir,
                 "directory of passphrase files named after their alias (mode 0600)");
  app.add_option("--control-socket", flags.control_socket,
                 "Unix socket for rotate-passphrase ('-' for none)");
  app.add_option("--key-cache-size", flags.key_cache_size, "decrypted keys kept in memory");
  app.add_option("--max-content-bytes", flags.max_content_bytes, "largest content to sign");
  app.add_option("--log-level", flags.log_level, "trace, debug, info, warn, error, off");
  app.add_option("--log-format", flags.log_format, "text or json");
  app.add_option("--ready-file", flags.ready_file,
                 "write {\"grpc_port\",\"http_port\",\"pid\"} here once serving");
  auto* rot =
      app.add_subcommand("rotate-passphrase", "re-encrypt every key under a new passphrase alias");
  std::string new_alias;
  bool keep_default = false;
  rot->add_option("--new-alias", new_alias, "alias to re-encrypt every key under")->required();
  rot->add_flag("--keep-default", keep_default,
                "do not make the new alias the alias for new keys in the running daemon");
  // Options of the daemon (--db-path, --config, ...) may follow the subcommand too.
  StoreCommands store_cmds;
  add_store_commands(app, store_cmds,
                     "copy the key database into a new directory, also while the daemon serves",
                     "restore a backup into an empty --db-path");
  rot->fallthrough();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  Config c;
  if (!config_file.empty()) read_config_file(config_file, c);
  // Environment (Notary's variable), then flags, override the file.
  for (const char* name : {"NOTARY_SIGNER_DEFAULT_ALIAS", "VOUCH_SIGNER_DEFAULT_ALIAS"}) {
    if (const char* v = std::getenv(name); v != nullptr && *v != '\0' && c.default_alias.empty()) {
      c.default_alias = v;
    }
  }
  auto given = [&](const char* name) { return app.count(name) > 0; };
  if (given("--grpc-addr")) c.grpc_addr = flags.grpc_addr;
  if (given("--http-addr")) c.http_addr = flags.http_addr;
  if (given("--tls-cert")) c.tls_cert_file = flags.tls_cert_file;
  if (given("--tls-key")) c.tls_key_file = flags.tls_key_file;
  if (given("--client-ca")) c.client_ca_file = flags.client_ca_file;
  if (given("--db-path")) c.db_path = flags.db_path;
  if (given("--storage")) c.backend = flags.backend;
  if (given("--pg-dsn")) c.postgres.dsn = flags.postgres.dsn;
  if (given("--pg-password-file")) c.postgres.password_file = f_pg_password_file;
  if (given("--default-alias")) c.default_alias = flags.default_alias;
  if (given("--passphrase-dir")) c.passphrase_dir = flags.passphrase_dir;
  if (given("--control-socket")) c.control_socket = flags.control_socket;
  if (given("--key-cache-size")) c.key_cache_size = flags.key_cache_size;
  if (given("--max-content-bytes")) c.max_content_bytes = flags.max_content_bytes;
  if (given("--log-level")) c.log_level = flags.log_level;
  if (given("--log-format")) c.log_format = flags.log_format;
  if (given("--ready-file")) c.ready_file = flags.ready_file;

  if (c.log_format != "text" && c.log_format != "json") die("log format must be text or json");
  static const char* kLevels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
  if (std::find(std::begin(kLevels), std::end(kLevels), c.log_level) == std::end(kLevels)) {
    die("unknown log level " + c.log_level);
  }
  log::init({c.log_format == "json" ? log::Format::kJson : log::Format::kText, c.log_level,
             nullptr});
  // The audit trail does not follow the log level: one line per signature, always.
  if (c.log_level != "off") log::get("signer.audit")->set_level(spdlog::level::info);
  protect_process();

  if (rot->parsed()) {
    validate_storage(c);
    return rotate(c, new_alias, !keep_default);
  }
  if (store_cmds.migrate->parsed()) {
    if (c.backend != "postgres") die("migrate: storage.backend must be postgres");
    require_dsn(c);  // only the database: migrating needs no passphrase alias
    auto m = signer::PgRecordStore::migrate(c.postgres);
    if (!m) die("migrate: " + m.error().message);
    std::printf("schema version %d -> %d%s\n", m->from, m->to,
                m->from == m->to ? " (up to date)" : "");
    return 0;
  }
  if ((store_cmds.backup->parsed() || store_cmds.restore->parsed()) && c.backend == "postgres") {
    die("backup and restore copy a RocksDB key database; on PostgreSQL use the database's "
        "own backup (pg_dump of the signer_records table; keys stay encrypted)");
  }
  if (store_cmds.backup->parsed()) {
    if (c.db_path.empty()) die("no key database: set storage.db_path or --db-path");
    return backup(c, store_cmds.backup_dir);
  }
  if (store_cmds.restore->parsed()) {
    validate_storage(c);
    return restore(c, store_cmds.restore_dir);
  }
  return serve(c);
}
