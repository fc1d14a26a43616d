// vouch-server: the Notary-compatible TUF metadata server.
//
// Configuration: a JSON file in the shape of notary-server's (server, trust_service, storage,
// auth, caching, repositories, logging), then command-line flags that override it. See
// server/README.md for every key and flag.

#include <arpa/inet.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <openssl/crypto.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <optional>
#include <set>

#include "common/clock.h"
#include "common/config_file.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/net/http_server.h"
#include "common/net/signals.h"
#include "common/rocksdb_backup.h"
#include "common/store_commands.h"
#include "common/work_queue.h"
#include "keys/keystore.h"
#include "keys/local_signer.h"
#include "keys/passphrase.h"
#include "keys/secret_file.h"
#include "server/accounts/accounts_service.h"
#include "server/accounts/pg_account_store.h"
#include "server/accounts/rocksdb_account_store.h"
#include "server/admin_api.h"
#include "server/roster_status.h"
#include "server/api.h"
#include "server/audit/audit_log.h"
#include "server/auth.h"
#include "server/ldap/group_sync.h"
#include "server/ldap/ldap_directory.h"
#include "server/replica_sync.h"
#include "server/repository.h"
#include "server/storage/memory_store.h"
#include "server/storage/pg_store.h"
#include "server/storage/rocksdb_store.h"
#include "server/token_auth.h"
#include "server/token_service.h"
#include "signer/remote_signer.h"

namespace fs = std::filesystem;
using namespace vouch;

namespace {

struct Config {
  // server
  std::string http_addr = "127.0.0.1:4443";
  std::string tls_cert_file, tls_key_file;
  unsigned io_threads = 2;
  // Limits on slow or large requests (server.max_publish_bytes, server.*_timeout_seconds);
  // 0 keeps the default of ApiOptions / net::HttpServerOptions.
  long long max_publish_bytes = 0;
  long long header_timeout_seconds = 0, body_timeout_seconds = 0, idle_timeout_seconds = 0;
  // Memory and connections a peer can hold before it is authenticated (issue 12, item 2).
  long long max_body_bytes_in_flight = 256LL << 20;
  long long max_connections_per_client = 128;
  // Serve plain HTTP with authentication on a non-loopback address (--insecure-plain-http).
  bool insecure_plain_http = false;
  // Writes (publish, delete, key operations) and background re-signing: threads, and how many
  // may wait for one before a write is answered 503 (server.worker_threads,
  // server.max_queued_writes).
  long long worker_threads = 2, max_queued_writes = 256;
  // trust_service
  std::string trust_type = "local";  // local (embedded encrypted key store) | remote
  std::string key_algorithm = "ecdsa";
  std::string key_dir;                // local: where server keys live (default <db>/keys)
  std::string key_passphrase_file;    // local: else VOUCH_SERVER_KEY_PASSPHRASE
  std::string signer_hostname, signer_port, signer_ca, signer_client_cert, signer_client_key;
  // storage
  std::string backend = "rocksdb";  // rocksdb | memory | postgres
  std::string db_path = "vouch-data";
  // storage.postgres (backend "postgres"); 0 or "" keeps PgStoreOptions' default.
  std::string pg_dsn, pg_password_file, pg_sslmode, pg_sslrootcert;
  long long pg_pool_size = 0, pg_statement_timeout_ms = 0;
  // Several replicas on one database (server/README.md "Running several replicas"): how long
  // another replica's publish may go unseen here, and the assurance that this process is the
  // only one (required with the local trust service, whose keys are not shared).
  long long pg_cache_max_staleness_ms = 1000;
  bool pg_single_replica = false;
  // auth
  std::string auth_type;  // "" | token | accounts
  std::string realm, service, issuer, rootcertbundle;
  // auth.type "accounts": lifetime of the tokens /auth/token issues.
  long long token_lifetime_seconds = 300;
  bool insecure_no_auth = false;
  // accounts (auth.type "accounts"): the options of AccountsService, and the first
  // administrator's "name:password" file (--bootstrap-admin-file, else VOUCH_BOOTSTRAP_ADMIN).
  server::accounts::AccountsOptions accounts;
  std::string bootstrap_admin_file;
  // auth.ldap (auth.type "accounts"): directory sign-in and group sync, on when present.
  bool ldap_enabled = false;
  server::ldap::LdapOptions ldap;
  std::string ldap_bind_password_file;
  // caching
  long long current_max_age = 300, consistent_max_age = 30LL * 24 * 3600;
  // repositories
  std::vector<std::string> gun_prefixes;
  // logging
  std::string log_level = "info", log_format = "text";
};

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "vouch-server: %s\n", message.c_str());
  std::exit(1);
}

// The "accounts" section (server/README.md "Accounts"): AccountsService's options. Unknown
// keys stop the start: a misspelt limit must not pass silently.
void load_accounts_config(const ConfigSection& o, server::accounts::AccountsOptions& a) {
  o.only_keys({"password_memory_kib", "password_iterations", "password_parallelism",
               "token_lifetime_days", "max_token_lifetime_days", "refresh_token_lifetime_days",
               "throttle_max_failures", "throttle_window_seconds", "throttle_lockout_seconds",
               "throttle_max_sources", "repository_host", "default_visibility",
               "key_statement_window_seconds", "max_keys_per_account"});
  o.get_size("password_memory_kib", a.password_hash.memory_kib, std::size_t{4} << 20);
  o.get_size("password_iterations", a.password_hash.iterations, 100);
  o.get_size("password_parallelism", a.password_hash.parallelism, 64);
  const auto seconds = [&](std::string_view key, std::chrono::seconds& out, long long unit,
                           long long max) {
    long long v = out.count() / unit;
    o.get_integer(key, v, 1, max);
    out = std::chrono::seconds(v * unit);
  };
  seconds("token_lifetime_days", a.default_token_lifetime, 86400, 3650);
  seconds("max_token_lifetime_days", a.max_token_lifetime, 86400, 3650);
  seconds("refresh_token_lifetime_days", a.refresh_token_lifetime, 86400, 3650);
  seconds("throttle_window_seconds", a.throttle_window, 1, 86400);
  seconds("throttle_lockout_seconds", a.throttle_lockout, 1, 86400);
  long long failures = a.throttle_max_failures;
  o.get_integer("throttle_max_failures", failures, 1, 1'000'000);
  a.throttle_max_failures = static_cast<int>(failures);
  o.get_size("throttle_max_sources", a.throttle_max_sources, 100'000'000);
  seconds("key_statement_window_seconds", a.key_statement_window, 1, 86400);
  o.get_size("max_keys_per_account", a.max_keys_per_account, 1000);
  o.get_string("repository_host", a.repository_host);
  std::string visibility(server::accounts::to_string(a.default_visibility));
  o.get_string("default_visibility", visibility);
  auto parsed = server::accounts::parse_visibility(visibility);
  if (!parsed) die("config: accounts.default_visibility must be \"private\" or \"public\"");
  a.default_visibility = *parsed;
  if (a.default_token_lifetime > a.max_token_lifetime) {
    die("config: accounts.token_lifetime_days must be at most accounts.max_token_lifetime_days");
  }
}

// auth.ldap (server/README.md "Sign in with LDAP / Active Directory"): LdapDirectory's
// options. Unknown keys stop the start. The service password only from a file.
void load_ldap_config(const ConfigSection& o, Config& c) {
  if (!o.present()) return;
  o.only_keys({"url", "start_tls", "insecure_no_tls", "ca_file", "bind_dn", "bind_password_file",
               "user_base", "user_filter", "name_attribute", "timeout_ms", "group_base",
               "group_filter", "member_attribute", "team_map", "sync_interval_s",
               "max_group_members"});
  server::ldap::LdapOptions& l = c.ldap;
  c.ldap_enabled = true;
  o.get_string("url", l.url);
  o.get_bool("start_tls", l.start_tls);
  o.get_bool("insecure_no_tls", l.insecure_no_tls);
  o.get_path("ca_file", l.ca_file);
  o.get_string("bind_dn", l.bind_dn);
  o.get_path("bind_password_file", c.ldap_bind_password_file);
  o.get_string("user_base", l.user_base);
  o.get_string("user_filter", l.user_filter);
  o.get_string("name_attribute", l.name_attribute);
  long long timeout_ms = l.timeout.count();
  o.get_integer("timeout_ms", timeout_ms, 1, 600'000);
  l.timeout = std::chrono::milliseconds(timeout_ms);
  o.get_string("group_base", l.group_base);
  o.get_string("group_filter", l.group_filter);
  o.get_string("member_attribute", l.member_attribute);
  long long interval = l.sync_interval.count();
  o.get_integer("sync_interval_s", interval, 0, 7 * 86400);
  l.sync_interval = std::chrono::seconds(interval);
  o.get_size("max_group_members", l.max_group_members,
             server::accounts::AccountsService::kMaxDirectorySyncNames);
  for (const ConfigSection& m : o.section_list("team_map")) {
    m.only_keys({"group", "team"});
    server::ldap::TeamMapping mapping;
    m.get_string("group", mapping.group);
    m.get_string("team", mapping.team);
    l.team_map.push_back(std::move(mapping));
  }
}

// Reads the config file (common/config_file.h). Relative paths in it resolve against its
// directory, as Notary does; unknown keys are ignored, as notary-server ignores them.
void load_config(const fs::path& path, Config& c) {
  constexpr long long kAnyInteger = std::numeric_limits<long long>::min();
  auto file = ConfigFile::load(path);
  if (!file) die(file.error().message);
  const ConfigSection root = file->root();
  const ConfigSection server = root.section("server");
  server.get_string_or_integer("http_addr", c.http_addr);
  server.get_integer("max_publish_bytes", c.max_publish_bytes, 1);
  server.get_integer("header_timeout_seconds", c.header_timeout_seconds, 1);
  server.get_integer("body_timeout_seconds", c.body_timeout_seconds, 1);
  server.get_integer("idle_timeout_seconds", c.idle_timeout_seconds, 1);
  server.get_integer("max_body_bytes_in_flight", c.max_body_bytes_in_flight, 1);
  server.get_integer("max_connections_per_client", c.max_connections_per_client, 1);
  server.get_integer("worker_threads", c.worker_threads, 1, 256);
  server.get_integer("max_queued_writes", c.max_queued_writes, 1);
  server.get_path("tls_cert_file", c.tls_cert_file);
  server.get_path("tls_key_file", c.tls_key_file);
  const ConfigSection trust = root.section("trust_service");
  trust.get_string_or_integer("type", c.trust_type);
  trust.get_string_or_integer("key_algorithm", c.key_algorithm);
  trust.get_path("key_dir", c.key_dir);
  trust.get_path("passphrase_file", c.key_passphrase_file);
  trust.get_string_or_integer("hostname", c.signer_hostname);
  trust.get_string_or_integer("port", c.signer_port);
  trust.get_path("tls_ca_file", c.signer_ca);
  trust.get_path("tls_client_cert", c.signer_client_cert);
  trust.get_path("tls_client_key", c.signer_client_key);
  const ConfigSection storage = root.section("storage");
  storage.get_string_or_integer("backend", c.backend);
  storage.get_path("db_url", c.db_path);
  storage.get_path("db_path", c.db_path);
  const ConfigSection pg = storage.section("postgres");
  pg.get_string_or_integer("dsn", c.pg_dsn);
  pg.get_path("password_file", c.pg_password_file);
  pg.get_string_or_integer("sslmode", c.pg_sslmode);
  pg.get_path("sslrootcert", c.pg_sslrootcert);
  pg.get_integer("pool_size", c.pg_pool_size, 1);
  pg.get_integer("statement_timeout_ms", c.pg_statement_timeout_ms, 1);
  pg.get_integer("cache_max_staleness_ms", c.pg_cache_max_staleness_ms, 20);
  pg.get_bool("single_replica", c.pg_single_replica);
  const ConfigSection auth = root.section("auth");
  auth.get_string_or_integer("type", c.auth_type);
  const ConfigSection options = auth.section("options");
  options.get_string_or_integer("realm", c.realm);
  options.get_string_or_integer("service", c.service);
  options.get_string_or_integer("issuer", c.issuer);
  options.get_path("rootcertbundle", c.rootcertbundle);
  options.get_integer("token_lifetime_seconds", c.token_lifetime_seconds, 1);
  load_ldap_config(auth.section("ldap"), c);
  const ConfigSection max_age = root.section("caching").section("max_age");
  max_age.get_integer("current_metadata", c.current_max_age, kAnyInteger);
  max_age.get_integer("consistent_metadata", c.consistent_max_age, kAnyInteger);
  root.section("repositories").get_string_list("gun_prefixes", c.gun_prefixes);
  load_accounts_config(root.section("accounts"), c.accounts);
  const ConfigSection logging = root.section("logging");
  logging.get_string_or_integer("level", c.log_level);
  logging.get_string_or_integer("format", c.log_format);
  if (auto st = file->status(); !st) die(st.error().message);
}

// storage.postgres as PgStore's options (server/README.md "vouch-server on PostgreSQL").
server::PgStoreOptions pg_options(const Config& c) {
  if (c.pg_dsn.empty()) die("storage.backend \"postgres\" needs storage.postgres.dsn (or --pg-dsn)");
  server::PgStoreOptions o;
  o.dsn = c.pg_dsn;
  o.password_file = c.pg_password_file;
  o.sslmode = c.pg_sslmode;
  o.sslrootcert = c.pg_sslrootcert;
  if (c.pg_pool_size > 0) o.pool_size = static_cast<std::size_t>(c.pg_pool_size);
  if (c.pg_statement_timeout_ms > 0) {
    o.statement_timeout = std::chrono::milliseconds(c.pg_statement_timeout_ms);
  }
  return o;
}

// vouch-server migrate: brings the PostgreSQL schema up to date and exits.
int run_migrate(const Config& c) {
  if (c.backend != "postgres") die("migrate: storage.backend must be postgres");
  auto m = server::PgStore::migrate(pg_options(c));
  if (!m) die("migrate: " + m.error().message);
  std::printf("schema version %d -> %d%s\n", m->from, m->to,
              m->from == m->to ? " (up to date)" : "");
  return 0;
}

// ":4443" (Go's form) means every interface.
std::string listen_address(const std::string& addr) {
  return addr.rfind(':', 0) == 0 ? "0.0.0.0" + addr : addr;
}

// True if "host:port" names a loopback address (127.0.0.0/8, ::1, localhost), the only place
// where plain HTTP with bearer tokens is acceptable by default.
bool is_loopback_listen(const std::string& listen) {
  const auto colon = listen.rfind(':');
  std::string host = listen.substr(0, colon == std::string::npos ? listen.size() : colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost" || host == "::1") return true;
  in_addr v4{};
  return ::inet_pton(AF_INET, host.c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127;
}

keys::SecretString key_passphrase(const Config& c) {
  if (!c.key_passphrase_file.empty()) {
    keys::FilePassphraseSource file(c.key_passphrase_file);
    auto p = file.get({});
    if (!p) die("trust_service.passphrase_file: " + p.error().message);
    return std::move(*p);
  }
  const char* env = std::getenv("VOUCH_SERVER_KEY_PASSPHRASE");
  if (env == nullptr || *env == '\0') {
    die("the embedded key store needs a passphrase: set VOUCH_SERVER_KEY_PASSPHRASE or "
        "trust_service.passphrase_file");
  }
  return keys::SecretString(env);
}

// Backup layout (server/README.md "Backup and restore"): <dir>/db is a RocksDB copy of the
// metadata store, <dir>/keys the embedded key store's files, <dir>/accounts and <dir>/audit
// copies of the accounts store and the audit log (when the server has them), <dir>/token-key.json
// the token service's key name, and <dir>/vouch-backup.json, written last, marks the backup as
// complete.
constexpr const char* kBackupMarker = "vouch-backup.json";
// token-key.json (a key ID in JSON): read whole, or stop.
std::string read_small_file(const fs::path& path) {
  auto text = read_file_bounded(path, 64 * 1024);
  if (!text) die(path.string() + ": " + text.error().message);
  return std::move(*text);
}

// The databases beside the metadata store, under <db>: the accounts store and the audit log.
constexpr const char* kSideDatabases[] = {"accounts", "audit"};
constexpr const char* kTokenKeyFile = "token-key.json";

fs::path local_key_dir(const Config& c) {
  return c.key_dir.empty() ? fs::path(c.db_path) / "keys" : fs::path(c.key_dir);
}

// vouch-server backup <dir>: while the server serves (or not), one consistent copy of the
// store, then the key files (keys are only ever added before the metadata naming them is
// stored, so copying them after the store's snapshot never misses a key the copy needs).
int run_backup(const Config& c, const fs::path& dir) {
  if (c.backend != "rocksdb") die("backup: storage.backend must be rocksdb");
  if (auto st = rocksdb_backup::require_empty(dir); !st) die("backup: " + st.error().message);
  auto stats = rocksdb_backup::copy_database(c.db_path, dir / "db");
  if (!stats) die("backup: " + stats.error().message);
  // The accounts store and the audit log, each one point in time of its own (after the
  // metadata: a record they hold may name a repository the metadata copy lacks, never the
  // reverse harm of a grant lost for a repository that is there).
  std::string side;
  for (const char* name : kSideDatabases) {
    const fs::path source = fs::path(c.db_path) / name;
    std::error_code ec;
    if (!fs::exists(source / "CURRENT", ec)) continue;
    auto copied = rocksdb_backup::copy_database(source, dir / name);
    if (!copied) die("backup: " + std::string(name) + ": " + copied.error().message);
    side += ",\"" + std::string(name) + "_records\":" + std::to_string(copied->keys);
  }
  std::uint64_t key_files = 0;
  if (c.trust_type == "local") {
    auto copied = rocksdb_backup::copy_tree(local_key_dir(c), dir / "keys");
    if (!copied) die("backup: keys: " + copied.error().message);
    key_files = *copied;
  }
  if (std::error_code ec; fs::exists(fs::path(c.db_path) / kTokenKeyFile, ec)) {
    if (auto st = rocksdb_backup::write_durably(dir / kTokenKeyFile,
                                                read_small_file(fs::path(c.db_path) /
                                                                kTokenKeyFile));
        !st) {
      die("backup: " + st.error().message);
    }
  }
  if (auto st = rocksdb_backup::write_durably(
          dir / kBackupMarker, "{\"format\":1,\"records\":" + std::to_string(stats->keys) +
                                   ",\"key_files\":" + std::to_string(key_files) + side + "}\n");
      !st) {
    die("backup: " + st.error().message);
  }
  std::printf("backup of %s in %s: %llu records, %llu key files%s\n", c.db_path.c_str(),
              dir.string().c_str(), static_cast<unsigned long long>(stats->keys),
              static_cast<unsigned long long>(key_files),
              side.empty() ? "" : ", accounts and audit log");
  return 0;
}

// vouch-server restore <dir>, first half: the files, into <db>.restoring beside the empty (or
// missing) data directory; returns that path, where the server then opens the store and
// re-seals. Only finish_restore renames it into place, so a restore that fails half-way
// leaves nothing a server could start on without the re-sealing.
fs::path restore_files(const Config& c, const fs::path& dir) {
  if (c.backend != "rocksdb") die("restore: storage.backend must be rocksdb");
  if (auto st = rocksdb_backup::check_restore(dir, kBackupMarker, "vouch-server backup", c.db_path);
      !st) {
    die("restore: " + st.error().message);
  }
  std::error_code ec;
  if (c.trust_type == "local" && !c.key_dir.empty()) {
    if (auto st = rocksdb_backup::require_empty(c.key_dir); !st) {
      die("restore: " + st.error().message);
    }
  }
  fs::path target = fs::absolute(c.db_path, ec).lexically_normal();
  if (!target.has_filename()) target = target.parent_path();
  const fs::path staging = target.string() + ".restoring";
  if (!rocksdb_backup::require_empty(staging)) {
    die("restore: " + staging.string() + " is left from a failed restore; remove it first");
  }
  auto stats = rocksdb_backup::copy_database(dir / "db", staging);
  if (!stats) die("restore: " + stats.error().message);
  for (const char* name : kSideDatabases) {
    if (!fs::exists(dir / name, ec)) continue;
    auto copied = rocksdb_backup::copy_database(dir / name, staging / name);
    if (!copied) die("restore: " + std::string(name) + ": " + copied.error().message);
  }
  if (fs::exists(dir / kTokenKeyFile, ec)) {
    if (auto st = rocksdb_backup::write_durably(staging / kTokenKeyFile,
                                                read_small_file(dir / kTokenKeyFile));
        !st) {
      die("restore: " + st.error().message);
    }
  }
  if (c.trust_type == "local") {
    Config staged = c;
    staged.db_path = staging.string();
    auto copied = rocksdb_backup::copy_tree(dir / "keys", local_key_dir(staged));
    if (!copied) die("restore: keys: " + copied.error().message);
  }
  return staging;
}

// Moves the re-sealed store into place (rename(2) replaces an empty directory).
void finish_restore(const fs::path& staging, const std::string& db_path) {
  std::error_code ec;
  fs::path target = fs::absolute(db_path, ec).lexically_normal();
  if (!target.has_filename()) target = target.parent_path();
  fs::rename(staging, target, ec);
  if (ec) die("restore: rename " + staging.string() + " to " + db_path + ": " + ec.message());
  if (auto st = rocksdb_backup::fsync_path(target.parent_path()); !st) {
    die("restore: " + st.error().message);
  }
}

// vouch-server restore <dir>, second half: every GUN's timestamp (and server-held snapshot)
// re-signed version_gap above the restored one, so that clients that saw newer versions
// before the restore accept them.
int reseal_all(server::Repository& repository, std::int64_t version_gap) {
  std::set<std::string> guns;
  std::string after = "0";
  for (;;) {
    auto page = repository.changes(after, static_cast<int>(server::kMaxChangesPage), "");
    if (!page) die("restore: changefeed: " + page.error().message);
    if (page->empty()) break;
    for (const auto& change : *page) guns.insert(change.gun);
    after = std::to_string(page->back().id);
  }
  std::size_t resealed = 0;
  for (const auto& gun : guns) {
    auto version = repository.reseal(gun, version_gap);
    if (!version && version.error().code == Code::kNotFound) continue;  // deleted since
    if (!version) die("restore: re-signing " + gun + ": " + version.error().message);
    ++resealed;
  }
  std::printf("restored; re-signed the timestamps of %zu repositories %lld versions ahead\n",
              resealed, static_cast<long long>(version_gap));
  return 0;
}

// vouch-server audit-verify --audit-dir DIR: offline check of the audit log's hash chain
// (server/README.md "Audit log"). Opens read-only, so it may run beside the server.
int run_audit_verify(const fs::path& dir) {
  server::audit::AuditLogOptions options;
  options.path = dir;
  options.create_if_missing = false;
  options.read_only = true;
  auto log = server::audit::AuditLog::open(options);
  if (!log && log.error().code == Code::kDataLoss) {  // a torn or tampered tail
    std::printf("audit log %s: BAD: %s\n", dir.c_str(), log.error().message.c_str());
    return 1;
  }
  if (!log) die("audit-verify: " + log.error().message);
  auto report = (*log)->verify();
  if (!report) die("audit-verify: " + report.error().message);
  if (!report->ok()) {
    std::printf("audit log %s: BAD at record %llu: %s (records 1..%llu are good)\n", dir.c_str(),
                static_cast<unsigned long long>(*report->bad_seq), report->error->message.c_str(),
                static_cast<unsigned long long>(report->last_good.seq));
    return 1;
  }
  const auto head = (*log)->head();
  std::printf("audit log %s: %llu records, head %llu %s: OK\n", dir.c_str(),
              static_cast<unsigned long long>(report->records_checked),
              static_cast<unsigned long long>(head.seq), hex_encode(head.hash).c_str());
  return 0;
}

// The first administrator's "name:password": --bootstrap-admin-file (mode 0600, one trailing
// newline dropped), else $VOUCH_BOOTSTRAP_ADMIN; nullopt when neither is given. Never a default.
std::optional<std::pair<std::string, keys::SecretString>> bootstrap_credentials(const Config& c) {
  keys::SecretString text;
  std::string from;
  if (!c.bootstrap_admin_file.empty()) {
    keys::FilePassphraseSource file(c.bootstrap_admin_file);
    auto got = file.get({});
    if (!got) die("--bootstrap-admin-file: " + got.error().message);
    text = std::move(*got);
    from = c.bootstrap_admin_file;
  } else if (char* env = std::getenv("VOUCH_BOOTSTRAP_ADMIN"); env != nullptr && *env) {
    text = keys::SecretString(env);
    from = "VOUCH_BOOTSTRAP_ADMIN";
    // The password must not stay readable in /proc/<pid>/environ or pass to children: wipe
    // the environment's copy in place, then drop the variable.
    OPENSSL_cleanse(env, std::strlen(env));
    ::unsetenv("VOUCH_BOOTSTRAP_ADMIN");
  } else {
    return std::nullopt;
  }
  const std::string_view view = text.view();
  const auto colon = view.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == view.size()) {
    die(from + ": must hold \"name:password\"");
  }
  return std::make_pair(std::string(view.substr(0, colon)),
                        keys::SecretString(view.substr(colon + 1)));
}

// The audit record of an accounts change (AccountsService::on_change). Unknown actions: nullopt.
std::optional<server::audit::AuditEvent> audit_event_for(const server::accounts::ChangeEvent& e) {
  using server::audit::Action;
  static const std::map<std::string, Action, std::less<>> kActions = {
      {"user.bootstrap", Action::kUserCreate},
      {"user.create", Action::kUserCreate},
      {"user.delete", Action::kUserDelete},
      {"user.disable", Action::kUserDisable},
      {"user.enable", Action::kUserEnable},
      {"user.set_admin", Action::kUserSetAdmin},
      {"user.set_password", Action::kPasswordSet},
      {"org.create", Action::kOrgCreate},
      {"org.delete", Action::kOrgDelete},
      {"org.member.set", Action::kOrgMemberSet},
      {"org.member.remove", Action::kOrgMemberRemove},
      {"team.create", Action::kTeamCreate},
      {"team.delete", Action::kTeamDelete},
      {"team.member.add", Action::kTeamMemberAdd},
      {"team.member.remove", Action::kTeamMemberRemove},
      {"service_account.create", Action::kServiceAccountCreate},
      {"service_account.delete", Action::kServiceAccountDelete},
      {"token.create", Action::kApiTokenCreate},
      {"token.revoke", Action::kApiTokenRevoke},
      {"repository.visibility", Action::kVisibilitySet},
      {"grant.set", Action::kGrantSet},
      {"key.register", Action::kMemberKeyRegister},
      {"key.delete", Action::kMemberKeyDelete},
  };
  const auto found = kActions.find(e.action);
  if (found == kActions.end()) return std::nullopt;
  server::audit::AuditEvent out;
  out.action = found->second;
  if (out.action == Action::kGrantSet && e.detail.ends_with("=none")) {
    out.action = Action::kGrantRemove;
  }
  if (e.actor.empty()) {
    out.actor_kind = server::audit::ActorKind::kSystem;
    // The system acts at first start, and for the directory (sign-in, group sync).
    out.actor = e.detail.find("source=directory") != std::string::npos ? "directory" : "bootstrap";
  } else {
    out.actor_kind = e.actor.find('/') == std::string::npos
                         ? server::audit::ActorKind::kUser
                         : server::audit::ActorKind::kServiceAccount;
    out.actor = e.actor;
  }
  out.target = e.target;
  if (!e.detail.empty()) out.detail["detail"] = e.detail;
  return out;
}

server::audit::ActorKind actor_kind(const server::accounts::Principal& p) {
  switch (p.kind) {
    case server::accounts::Principal::Kind::kUser:
      return server::audit::ActorKind::kUser;
    case server::accounts::Principal::Kind::kServiceAccount:
      return server::audit::ActorKind::kServiceAccount;
    case server::accounts::Principal::Kind::kAnonymous:
      break;
  }
  return server::audit::ActorKind::kAnonymous;
}

// Appends to the audit log; a failure is logged, never answered to the caller whose change has
// already committed.
void audit_append(server::audit::AuditLog& log, const server::audit::AuditEvent& event) {
  if (auto r = log.append(event); !r) {
    log::get("server")->error("audit log: {} {}: {}", server::audit::to_string(event.action),
                              event.target, r.error().message);
  }
}

// The realm clients fetch tokens from: auth.options.realm, else this server's own
// /auth/token at the address it listens on (which must then name one host and port).
std::string accounts_realm(const Config& c) {
  if (!c.realm.empty()) return c.realm;
  const std::string listen = listen_address(c.http_addr);
  const auto colon = listen.rfind(':');
  const std::string host = listen.substr(0, colon);
  const std::string port = colon == std::string::npos ? "" : listen.substr(colon + 1);
  if (host == "0.0.0.0" || host == "[::]" || host == "::" || port.empty() || port == "0") {
    die("auth.type \"accounts\": set auth.options.realm to the URL clients reach "
        "/auth/token at (the listen address " + c.http_addr + " does not name one)");
  }
  return (c.tls_cert_file.empty() ? "http://" : "https://") + listen +
         std::string(server::TokenService::kPath);
}

}  // namespace

int main(int argc, char** argv) {
  // First, before any thread exists (RocksDB, gRPC and the HTTP server start their own):
  // SIGTERM/SIGINT/SIGHUP are blocked everywhere and read by one watcher thread.
  auto signals = net::SignalWatcher::start();
  if (!signals) die(signals.error().message);

  CLI::App app{"vouch-server: a Notary-compatible TUF metadata server"};
  std::string config_file;
  Config c;
  // Flags override the config file; remember which were given.
  std::string f_addr, f_cert, f_key, f_trust, f_backend, f_db, f_level, f_format, f_keydir,
      f_passfile;
  bool f_insecure = false;
  bool f_plain_http = false;
  app.add_option("-c,--config", config_file, "config file (notary-server's JSON shape)");
  app.add_option("--http-addr", f_addr, "listen address host:port (server.http_addr)");
  app.add_option("--tls-cert", f_cert, "TLS certificate file (server.tls_cert_file)");
  app.add_option("--tls-key", f_key, "TLS key file (server.tls_key_file)");
  app.add_option("--trust-service", f_trust, "local | remote (trust_service.type)");
  app.add_option("--key-dir", f_keydir, "local trust service: key directory");
  app.add_option("--key-passphrase-file", f_passfile,
                 "local trust service: file holding the key store passphrase (mode 0600)");
  app.add_option("--storage", f_backend, "rocksdb | memory | postgres (storage.backend)");
  app.add_option("--db-path", f_db, "RocksDB directory (storage.db_url)");
  std::string f_pg_dsn, f_pg_password_file;
  app.add_option("--pg-dsn", f_pg_dsn,
                 "PostgreSQL connection string, without password (storage.postgres.dsn)");
  app.add_option("--pg-password-file", f_pg_password_file,
                 "file holding the PostgreSQL password (storage.postgres.password_file)");
  bool f_pg_single_replica = false;
  app.add_flag("--pg-single-replica", f_pg_single_replica,
               "this is the only vouch-server on the database (storage.postgres.single_replica; "
               "required with the local trust service)");
  app.add_option("--log-level", f_level, "trace|debug|info|warn|error (logging.level)");
  app.add_option("--log-format", f_format, "text | json (logging.format)");
  std::string f_bootstrap;
  app.add_option("--bootstrap-admin-file", f_bootstrap,
                 "auth.type accounts: file (mode 0600) with \"name:password\" of the first system "
                 "administrator, created only when there is no user (else VOUCH_BOOTSTRAP_ADMIN)");
  app.add_flag("--insecure-no-auth", f_insecure,
               "serve without authentication (anyone may publish and delete)");
  app.add_flag("--insecure-plain-http", f_plain_http,
               "with authentication, serve plain HTTP on a non-loopback address (bearer "
               "tokens then travel in clear text)");
  // Options of the server (--db-path, -c, ...) may follow backup, restore and migrate too.
  StoreCommands store_cmds;
  add_store_commands(
      app, store_cmds,
      "copy the store (and embedded keys) into a new directory, also while serving",
      "restore a backup into an empty --db-path and re-sign every timestamp");
  long long version_gap = 1'000'000;
  store_cmds.restore
      ->add_option("--version-gap", version_gap,
                   "added to every timestamp (and server-held snapshot) version")
      ->check(CLI::Range(1LL, 1'000'000'000'000LL));
  std::string audit_dir;
  auto* audit_verify = app.add_subcommand(
      "audit-verify", "check the audit log's hash chain offline; exit 1 at the first bad record");
  audit_verify->add_option("--audit-dir", audit_dir, "the audit log directory")->required();
  CLI11_PARSE(app, argc, argv);
  if (audit_verify->parsed()) return run_audit_verify(audit_dir);

  if (!config_file.empty()) load_config(config_file, c);
  if (!f_addr.empty()) c.http_addr = f_addr;
  if (!f_cert.empty()) c.tls_cert_file = f_cert;
  if (!f_key.empty()) c.tls_key_file = f_key;
  if (!f_trust.empty()) c.trust_type = f_trust;
  if (!f_keydir.empty()) c.key_dir = f_keydir;
  if (!f_passfile.empty()) c.key_passphrase_file = f_passfile;
  if (!f_backend.empty()) c.backend = f_backend;
  if (!f_db.empty()) c.db_path = f_db;
  if (!f_pg_dsn.empty()) c.pg_dsn = f_pg_dsn;
  if (!f_pg_password_file.empty()) c.pg_password_file = f_pg_password_file;
  if (f_pg_single_replica) c.pg_single_replica = true;
  if (!f_level.empty()) c.log_level = f_level;
  if (!f_format.empty()) c.log_format = f_format;
  c.insecure_no_auth = f_insecure;
  c.bootstrap_admin_file = f_bootstrap;
  c.insecure_plain_http = f_plain_http;
  if (c.ldap_enabled && c.auth_type != "accounts") die("auth.ldap needs auth.type \"accounts\"");

  log::init({c.log_format == "json" ? log::Format::kJson : log::Format::kText, c.log_level,
             nullptr});
  auto logger = log::get("server");
  if (store_cmds.backup->parsed()) return run_backup(c, store_cmds.backup_dir);
  if (store_cmds.migrate->parsed()) return run_migrate(c);
  const bool restoring = store_cmds.restore->parsed();
  const std::string restore_target = c.db_path;
  if (restoring) c.db_path = restore_files(c, store_cmds.restore_dir).string();

  // Bearer tokens in clear text: only on loopback, or when explicitly asked for.
  if (!restoring && (c.auth_type == "token" || c.auth_type == "accounts") &&
      c.tls_cert_file.empty() && !c.insecure_plain_http &&
      !is_loopback_listen(listen_address(c.http_addr))) {
    die("auth is configured but " + c.http_addr +
        " is not a loopback address and there is no TLS certificate (server.tls_cert_file): "
        "bearer tokens would travel in clear text; add TLS, listen on 127.0.0.1, or pass "
        "--insecure-plain-http");
  }

  // Authentication: token auth, or nothing only when explicitly asked for.
  std::unique_ptr<server::Authorizer> authorizer;
  if (restoring) {
    // No requests are served.
  } else if (c.auth_type == "token") {
    server::TokenAuthOptions token_options;
    token_options.realm = c.realm;
    token_options.service = c.service;
    token_options.issuer = c.issuer;
    token_options.rootcertbundle = c.rootcertbundle;
    if (token_options.rootcertbundle.empty()) {
      die("auth: token auth requires auth.options.rootcertbundle");
    }
    auto token = server::TokenAuthorizer::create(std::move(token_options));
    if (!token) die("auth: " + token.error().message);
    authorizer = std::move(*token);
  } else if (c.auth_type == "accounts") {
    // Built once the trust service is up: the token key lives there.
  } else if (!c.auth_type.empty()) {
    die("auth.type \"" + c.auth_type + "\" is not supported (token, accounts)");
  } else if (c.insecure_no_auth) {
    logger->warn("AUTHENTICATION IS OFF (--insecure-no-auth): anyone who can reach {} may "
                 "publish to and delete any repository",
                 c.http_addr);
    authorizer = std::make_unique<server::AllowAllAuthorizer>();
  } else {
    die("no authentication configured: set auth.type \"token\" in the config, or pass "
        "--insecure-no-auth for a private test server");
  }

  if (c.max_publish_bytes > c.max_body_bytes_in_flight ||
      (c.max_publish_bytes == 0 && c.max_body_bytes_in_flight < (100LL << 20))) {
    die("server.max_body_bytes_in_flight must be at least server.max_publish_bytes (default "
        "100 MiB), or no publish of the largest size could ever be accepted");
  }

  // Storage.
  std::unique_ptr<server::MetaStore> store;
  server::PgStore* pg_store = nullptr;  // the same object, on PostgreSQL
  if (c.backend == "rocksdb") {
    server::RocksDbStoreOptions options;
    options.path = c.db_path;
    auto db = server::RocksDbStore::open(options);
    if (!db) die("storage: " + db.error().message);
    store = std::move(*db);
  } else if (c.backend == "memory") {
    store = std::make_unique<server::MemoryStore>();
  } else if (c.backend == "postgres") {
    auto db = server::PgStore::open(pg_options(c));
    if (!db) die("storage: " + db.error().message);
    pg_store = db->get();
    store = std::move(*db);
  } else {
    die("storage.backend \"" + c.backend + "\" is not supported (rocksdb, memory, postgres)");
  }

  // Server-held keys: an embedded encrypted key store, or a signer over mTLS.
  auto algorithm = keys::parse_key_type(c.key_algorithm);
  if (!algorithm || keys::is_x509(*algorithm)) {
    die("trust_service.key_algorithm must be ecdsa, ed25519 or rsa");
  }
  if (c.backend == "postgres" && c.trust_type == "local" && !c.pg_single_replica) {
    // The embedded key store is this process's directory: keys another replica created for a
    // repository (and pending rotations) would be missing here, so it could not sign for it.
    die("storage.backend postgres with trust_service.type local: server keys would not be "
        "shared between replicas; use trust_service.type remote (vouch-signer) for several "
        "replicas, or set storage.postgres.single_replica true (--pg-single-replica) if this is "
        "the only vouch-server on this database");
  }
  std::unique_ptr<keys::Signer> signer;
  signer::RemoteSigner* remote_signer = nullptr;  // the same object, when remote
  std::optional<keys::TrustDirKeyStore> key_store;
  std::unique_ptr<keys::StaticPassphraseSource> passphrases;
  if (c.trust_type == "local") {
    const fs::path dir = c.key_dir.empty() ? fs::path(c.db_path) / "keys" : fs::path(c.key_dir);
    auto ks = keys::TrustDirKeyStore::open(dir);
    if (!ks) die("trust_service: " + ks.error().message);
    key_store.emplace(std::move(*ks));
    passphrases = std::make_unique<keys::StaticPassphraseSource>(key_passphrase(c));
    signer = std::make_unique<keys::LocalSigner>(*key_store, *passphrases);
    // Unlock every key now: a wrong passphrase stops the start instead of failing publishes.
    auto listing = key_store->list();
    if (!listing) die("trust_service: " + listing.error().message);
    for (const auto& k : listing->keys) {
      auto pub = key_store->load(k.key_id, *passphrases);
      if (!pub) die("trust_service: key " + k.key_id.substr(0, 8) + ": " + pub.error().message);
    }
    logger->info("embedded key store {} ({} keys)", dir.string(), listing->keys.size());
  } else if (c.trust_type == "remote") {
    auto options = signer::remote_signer_options_from_files(
        c.signer_hostname + ":" + c.signer_port, c.signer_ca, c.signer_client_cert,
        c.signer_client_key);
    if (!options) die("trust_service: " + options.error().message);
    auto remote = signer::RemoteSigner::create(std::move(*options));
    if (!remote) die("trust_service: " + remote.error().message);
    remote_signer = remote->get();
    signer = std::move(*remote);
    logger->info("remote signer {}:{}", c.signer_hostname, c.signer_port);
  } else {
    die("trust_service.type \"" + c.trust_type + "\" is not supported (local, remote)");
  }

  // One bounded queue for writes and for re-signing timestamps that are due, so that neither
  // a read nor an HTTP io thread ever waits for the signer. Stopped by api.drain().
  WorkQueue workers(static_cast<unsigned>(c.worker_threads),
                    static_cast<std::size_t>(c.max_queued_writes), "writes", "server");
  server::RepositoryOptions repo_options;
  repo_options.key_algorithm = *algorithm;
  repo_options.store_is_shared = pg_store != nullptr;
  // Pending server keys in the database: one per GUN and role for every replica.
  if (pg_store != nullptr) repo_options.pending_keys = &pg_store->pending_keys();
  repo_options.run_in_background = [&workers](std::function<void()> task) {
    return workers.post(std::move(task));
  };
  server::Repository repository(*store, *signer, SystemClock::instance(), repo_options);
  // Replicas on one database: follow the changefeed so that other replicas' publishes reach
  // this cache within storage.postgres.cache_max_staleness_ms. Stopped before the repository.
  std::optional<server::ReplicaSync> replica_sync;
  if (c.backend == "postgres" && !restoring) {
    replica_sync.emplace(repository, server::ReplicaSyncOptions{
                                         std::chrono::milliseconds(c.pg_cache_max_staleness_ms)});
  }
  if (restoring) {
    const int rc = reseal_all(repository, version_gap);
    store.reset();  // closes the database before it moves
    finish_restore(c.db_path, restore_target);
    return rc;
  }

  // auth.type "accounts": vouch-server's own token service at /auth/token, signing with a
  // server key of the trust service, and token auth that trusts exactly that key.
  // The accounts store (<db>/accounts, or the PostgreSQL database with storage.backend
  // "postgres") decides who may do what; every change, login failure, issued token and
  // repository write goes to the audit log (<db>/audit, a local file in either case).
  auto registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<server::accounts::AccountStore> account_store;
  std::unique_ptr<server::accounts::AccountsService> accounts;
  std::unique_ptr<server::audit::AuditLog> audit_log;
  std::unique_ptr<server::TokenService> token_service;
  std::unique_ptr<server::RosterStatusService> roster_status;  // issue 15
  std::unique_ptr<server::AdminApi> admin_api;
  std::unique_ptr<server::ldap::LdapDirectory> ldap_directory;
  std::unique_ptr<server::ldap::GroupSync> ldap_sync;
  if (c.auth_type == "accounts") {
    // On PostgreSQL nothing else creates <db>, which holds the audit log and the token key.
    std::error_code ec;
    if (c.backend == "postgres" && !fs::create_directories(c.db_path, ec) && ec) {
      die("cannot create " + c.db_path + " (audit log, token key): " + ec.message());
    }
    server::audit::AuditLogOptions audit_options;
    audit_options.path = fs::path(c.db_path) / "audit";
    auto opened_log = server::audit::AuditLog::open(audit_options);
    if (!opened_log) die("audit log: " + opened_log.error().message);
    audit_log = std::move(*opened_log);
    if (c.backend == "postgres") {
      auto opened_store = server::accounts::PgAccountStore::open(pg_options(c));
      if (!opened_store) die("accounts: " + opened_store.error().message);
      account_store = std::move(*opened_store);
    } else {
      server::accounts::RocksDbAccountStoreOptions store_options;
      store_options.path = fs::path(c.db_path) / "accounts";
      auto opened_store = server::accounts::RocksDbAccountStore::open(store_options);
      if (!opened_store) die("accounts: " + opened_store.error().message);
      account_store = std::move(*opened_store);
    }
    // Key registration statements name the service that /auth/token names.
    c.accounts.key_registration_service = c.service.empty() ? "vouch-server" : c.service;
    auto created_accounts =
        server::accounts::AccountsService::create(*account_store, SystemClock::instance(),
                                                  c.accounts);
    if (!created_accounts) die("accounts: " + created_accounts.error().message);
    accounts = std::move(*created_accounts);
    accounts->set_on_change([log = audit_log.get()](const server::accounts::ChangeEvent& e) {
      if (auto event = audit_event_for(e)) {
        event->source = std::string(server::AdminApi::current_source());
        audit_append(*log, *event);
      }
      else log::get("server")->error("audit log: no record for accounts change {}", e.action);
    });
    if (c.ldap_enabled) {
      keys::SecretString bind_password;
      if (!c.ldap.bind_dn.empty()) {
        if (c.ldap_bind_password_file.empty()) die("auth.ldap: bind_dn needs bind_password_file");
        auto password = keys::read_secret_file(c.ldap_bind_password_file, 4096);
        if (!password) die("auth.ldap.bind_password_file: " + password.error().message);
        while (!password->empty() &&
               (password->view().back() == '\n' || password->view().back() == '\r')) {
          password->pop_back();
        }
        bind_password = std::move(*password);
      }
      auto directory =
          server::ldap::LdapDirectory::create(c.ldap, std::move(bind_password), registry);
      if (!directory) die(directory.error().message);
      ldap_directory = std::move(*directory);
      accounts->set_directory(ldap_directory.get());
      ldap_sync = std::make_unique<server::ldap::GroupSync>(*ldap_directory, *accounts, registry);
      ldap_sync->start();
      logger->info("directory sign-in at {} ({} team mapping(s), sync every {} s)",
                   ldap_directory->options().url, ldap_directory->options().team_map.size(),
                   ldap_directory->options().sync_interval.count());
    }
    if (auto admin = bootstrap_credentials(c)) {
      auto made = accounts->bootstrap_admin(admin->first, admin->second);
      if (!made) die("bootstrap admin: " + made.error().message);
      if (*made) logger->info("created the first system administrator {}", admin->first);
    }
    auto token_key =
        server::load_or_create_token_key(*signer, fs::path(c.db_path) / "token-key.json");
    if (!token_key) die("auth: token key: " + token_key.error().message);
    server::TokenServiceOptions token_options;
    token_options.issuer = c.issuer.empty() ? "vouch-server" : c.issuer;
    token_options.service = c.service.empty() ? "vouch-server" : c.service;
    token_options.realm = token_options.service;
    token_options.lifetime = std::chrono::seconds(c.token_lifetime_seconds);
    token_options.on_event = [log = audit_log.get()](const server::TokenEvent& e) {
      server::audit::AuditEvent event;
      event.actor_kind = actor_kind(e.principal);
      event.actor = e.principal.name;
      event.source = e.source;
      if (e.issued) {
        event.action = server::audit::Action::kTokenIssued;
        event.target = e.principal.name;
        if (!e.scope.empty()) event.detail["scope"] = e.scope;
      } else {
        event.action = server::audit::Action::kLoginFailed;
        event.actor_kind = server::audit::ActorKind::kAnonymous;
        event.actor.clear();
        event.target = e.name_tried;
        event.detail["reason"] = e.reason;
        event.outcome = server::audit::Outcome::kDenied;
      }
      audit_append(*log, event);
    };
    token_options.metrics = registry;
    auto created = server::TokenService::create(*accounts, *signer, std::move(*token_key),
                                                token_options);
    if (!created) die("auth: " + created.error().message);
    token_service = std::move(*created);
    auto token_auth = server::TokenAuthorizer::create(
        server::token_auth_options_for(*token_service, token_options, accounts_realm(c)));
    if (!token_auth) die("auth: " + token_auth.error().message);
    authorizer = std::move(*token_auth);
    logger->info("built-in token service at {} (key {})", server::TokenService::kPath,
                 token_service->key_id());
  }

  server::ApiOptions api_options;
  api_options.current_max_age = std::chrono::seconds(c.current_max_age);
  api_options.consistent_max_age = std::chrono::seconds(c.consistent_max_age);
  api_options.gun_prefixes = c.gun_prefixes;
  api_options.workers = &workers;
  // docker login probes GET /v2/ with a token of no scope from our own token service.
  api_options.ping_needs_catalog = c.auth_type != "accounts";
  if (remote_signer != nullptr) {
    api_options.signer_reachable = [remote_signer] { return remote_signer->reachable(); };
  }
  if (c.max_publish_bytes > 0) {
    api_options.max_publish_bytes = static_cast<std::uint64_t>(c.max_publish_bytes);
  }
  if (audit_log) {
    api_options.on_write = [log = audit_log.get()](const server::WriteEvent& w) {
      server::audit::AuditEvent event;
      event.actor = w.actor;
      // The subject of a token from our own service: a service account's name has a '/'.
      event.actor_kind = w.actor.empty() ? server::audit::ActorKind::kAnonymous
                         : w.actor.find('/') == std::string::npos
                             ? server::audit::ActorKind::kUser
                             : server::audit::ActorKind::kServiceAccount;
      switch (w.kind) {
        case server::WriteEvent::Kind::kPublish:
          event.action = server::audit::Action::kPublish;
          break;
        case server::WriteEvent::Kind::kDelete:
          event.action = server::audit::Action::kDelete;
          break;
        case server::WriteEvent::Kind::kRotateKey:
          event.action = server::audit::Action::kKeyRotate;
          break;
      }
      event.target = w.gun;
      event.source = w.source;
      event.detail = w.detail;
      audit_append(*log, event);
    };
  }
  server::NotaryApi api(repository, *authorizer, api_options, registry);

  net::HttpServerOptions http;
  http.listen = listen_address(c.http_addr);
  http.io_threads = c.io_threads;
  // Bearer tokens that carry an x5c chain of RSA certificates approach 8 KiB on their own.
  http.max_header_bytes = 16 * 1024;
  http.tls.cert_file = c.tls_cert_file;
  http.tls.key_file = c.tls_key_file;
  http.body_limit = [&](const net::Request& head) -> std::uint64_t {
    if (token_service && server::TokenService::is_token_request(head)) {
      return token_service->max_body_bytes();
    }
    if (admin_api && server::AdminApi::is_admin_request(head)) {
      return admin_api->max_body_bytes();
    }
    return api.body_limit(head);
  };
  // Publishes are authorized from their header: no memory for anonymous bodies.
  http.check_head = [&api](const net::Request& head) { return api.check_head(head); };
  http.max_body_bytes_in_flight = static_cast<std::uint64_t>(c.max_body_bytes_in_flight);
  http.max_connections_per_client = static_cast<std::size_t>(c.max_connections_per_client);
  // The server's own rejections (413, 431, 400) in Notary's error JSON too.
  http.error_response = server::transport_error_response;
  if (c.header_timeout_seconds > 0) {
    http.header_timeout = std::chrono::seconds(c.header_timeout_seconds);
  }
  if (c.body_timeout_seconds > 0) http.body_timeout = std::chrono::seconds(c.body_timeout_seconds);
  if (c.idle_timeout_seconds > 0) http.idle_timeout = std::chrono::seconds(c.idle_timeout_seconds);
  http.log_component = "server";
  net::Handler handler = [&api](net::Request&& r, net::Responder resp) {
    api.handle(std::move(r), std::move(resp));
  };
  if (token_service) {
    handler = server::route_token_requests(*token_service, workers, std::move(handler));
  }
  if (accounts) {
    server::AdminApiOptions admin_options;
    admin_options.repository_host = c.accounts.repository_host;
    if (ldap_sync) {
      admin_options.directory_sync = [&ldap_sync] {
        const auto r = ldap_sync->run_once();
        return server::DirectorySyncCounts{r.groups_synced, r.groups_failed, r.added, r.removed,
                                           r.skipped};
      };
    }
    roster_status = std::make_unique<server::RosterStatusService>(*accounts, repository,
                                                                   c.accounts.repository_host);
    auto& out_of_date = prometheus::BuildGauge()
                            .Name("vouch_server_roster_out_of_date")
                            .Help("1 when an organization's accounts changed since its signed "
                                  "team roster, as last checked through the admin API")
                            .Register(*registry);
    roster_status->on_status = [&out_of_date](const std::string& org, bool stale) {
      out_of_date.Add({{"org", org}}).Set(stale ? 1.0 : 0.0);
    };
    admin_options.rosters = roster_status.get();
    admin_api = std::make_unique<server::AdminApi>(*accounts, audit_log.get(), admin_options);
    handler = server::route_admin_requests(*admin_api, workers, std::move(handler));
  }
  auto server = net::HttpServer::start(http, std::move(handler));
  if (!server) die("listen " + http.listen + ": " + server.error().message);
  api.set_transport_stats([s = server->get()] { return s->stats(); });
  (*signals)->on_reload([&] {
    // A directory group sync now (on the workers: the signal thread does not wait for LDAP).
    if (ldap_sync && !workers.post([&] { ldap_sync->run_once(); })) {
      logger->error("ldap sync: the work queue is full; not run");
    }
    if (auto st = (*server)->reload_tls(); !st) logger->error("TLS reload: {}", st.error().message);
    else logger->info("TLS certificate reloaded");
  });
  logger->info("vouch-server listening on {} ({}, storage {} at {}, trust service {})",
               (*server)->local_address(), c.tls_cert_file.empty() ? "HTTP" : "HTTPS", c.backend,
               c.backend == "postgres" ? c.pg_dsn : c.db_path, c.trust_type);
  // For scripts and tests that start the server on port 0.
  std::printf("listening on %s\n", (*server)->local_address().c_str());
  std::fflush(stdout);

  const int sig = (*signals)->wait_for_shutdown();
  logger->info("signal {}: draining", sig);
  (*server)->stop();
  api.drain();
  logger->info("stopped");
  return 0;
}
