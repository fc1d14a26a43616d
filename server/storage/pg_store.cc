#include "server/storage/pg_store.h"

#include <pqxx/pqxx>

#include <algorithm>
#include <iterator>
#include <optional>
#include <utility>

#include "common/pg/pg_internal.h"
#include "server/storage/store_util.h"

namespace vouch::server {

using storage_internal::is_storable_name;

namespace {

// ---------------------------------------------------------------------------------------------
// Migrations (common/pg/pg.h): append only; a change to the schema is a new entry.

using pg::Migration;

constexpr Migration kMigrations[] = {
    {1, "metadata store: files, current roles, GUN locks, changefeed", R"sql(
CREATE TABLE meta_guns (
  gun bytea PRIMARY KEY
);
CREATE TABLE meta_files (
  gun        bytea  NOT NULL,
  role       bytea  NOT NULL,
  version    bigint NOT NULL CHECK (version >= 0),
  sha256     text   NOT NULL,
  created_us bigint NOT NULL,
  data       bytea  NOT NULL,
  PRIMARY KEY (gun, role, version)
);
CREATE INDEX meta_files_by_checksum ON meta_files (gun, role, sha256, version);
CREATE TABLE meta_roles (
  gun        bytea  NOT NULL,
  role       bytea  NOT NULL,
  version    bigint NOT NULL,
  sha256     text   NOT NULL,
  created_us bigint NOT NULL,
  PRIMARY KEY (gun, role)
);
CREATE TABLE meta_changes (
  id         bigint   PRIMARY KEY,
  created_us bigint   NOT NULL,
  gun        bytea    NOT NULL,
  version    bigint   NOT NULL,
  sha256     text     NOT NULL,
  category   smallint NOT NULL
);
CREATE INDEX meta_changes_by_gun ON meta_changes (gun, id);
CREATE TABLE meta_change_counter (
  one     boolean PRIMARY KEY DEFAULT true CHECK (one),
  last_id bigint  NOT NULL
);
INSERT INTO meta_change_counter (one, last_id) VALUES (true, 0);
)sql"},
    // The accounts store (server/accounts/pg_account_store.h): one table per accounts::Table.
    {2, "accounts: users, organizations, teams, service accounts, tokens, grants", R"sql(
CREATE TABLE accounts_users (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE accounts_orgs (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE accounts_org_members (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE accounts_teams (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE accounts_team_members (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE accounts_service_accounts (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE accounts_tokens (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE accounts_repositories (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE accounts_grants (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE accounts_member_keys (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE accounts_meta (key bytea PRIMARY KEY, value bytea NOT NULL);
)sql"},
    {3, "pending server keys, one per GUN and role for every replica", R"sql(
CREATE TABLE server_pending_keys (
  gun        bytea  NOT NULL,
  role       bytea  NOT NULL,
  key_id     text   NOT NULL,
  key_type   text   NOT NULL,
  public_key bytea  NOT NULL,
  created_us bigint NOT NULL,
  PRIMARY KEY (gun, role)
);
)sql"},
};

constexpr pg::MigrationSet kMigrationSet{kMigrations, "schema_migrations",
                                         PgStore::kMigrationLockKey, "vouch-server",
                                         "vouch-server migrate"};

constexpr std::int16_t kCategoryUpdate = 0;
constexpr std::int16_t kCategoryDeletion = 1;

std::int64_t to_micros(TimePoint t) { return t.time_since_epoch().count(); }
TimePoint from_micros(std::int64_t us) { return TimePoint(std::chrono::microseconds(us)); }

using pg::bin;
using pg::internal;
using pg::to_status;
using pg::transact;
using pg::TxKind;

Error corrupt(std::string what) {
  return make_error(Code::kDataLoss, Reason::kInternal, "postgres: corrupt " + std::move(what));
}


// Reads a StoredFile from a row (version, sha256, created_us, data).
Result<StoredFile> to_stored(std::string_view gun, std::string_view role, const pqxx::row& row) {
  StoredFile f;
  f.gun = gun;
  f.role = role;
  f.version = row[0].as<std::int64_t>();
  f.sha256_hex = row[1].as<std::string>();
  f.created = from_micros(row[2].as<std::int64_t>());
  f.bytes = std::make_shared<const std::string>(pqxx::binarystring(row[3]).str());
  if (f.version < 0 || !storage_internal::is_sha256_hex(f.sha256_hex)) return corrupt("file row");
  return f;
}

// Locks the GUN's row for this transaction, creating it if `create`. False if it does not
// exist (and was not created).
bool lock_gun(pqxx::transaction_base& tx, std::string_view gun, bool create) {
  if (create) {
    tx.exec_params("INSERT INTO meta_guns (gun) VALUES ($1) ON CONFLICT DO NOTHING", bin(gun));
  }
  return !tx.exec_params("SELECT 1 FROM meta_guns WHERE gun = $1 FOR UPDATE", bin(gun)).empty();
}

// Takes `count` change ids (the last statement before COMMIT; see the header) and returns the
// first.
std::int64_t take_change_ids(pqxx::transaction_base& tx, std::int64_t count) {
  pqxx::row r = tx.exec_params1(
      "UPDATE meta_change_counter SET last_id = last_id + $1 WHERE one RETURNING last_id", count);
  return r[0].as<std::int64_t>() - count + 1;
}

void insert_change(pqxx::transaction_base& tx, const Change& c) {
  tx.exec_params(
      "INSERT INTO meta_changes (id, created_us, gun, version, sha256, category) "
      "VALUES ($1, $2, $3, $4, $5, $6)",
      c.id, to_micros(c.created), bin(c.gun), c.version, c.sha256_hex,
      c.category == Change::Category::kDeletion ? kCategoryDeletion : kCategoryUpdate);
}

}  // namespace

// ---------------------------------------------------------------------------------------------

int PgStore::latest_schema_version() { return kMigrationSet.latest(); }

Result<PgMigration> PgStore::migrate(const PgStoreOptions& options) {
  return pg::migrate(options, kMigrationSet);
}

Result<std::unique_ptr<PgStore>> PgStore::open(const PgStoreOptions& options) {
  VOUCH_ASSIGN_OR_RETURN(std::string conninfo, pg::build_conninfo(options));
  auto pool = std::make_unique<pg::Pool>(std::move(conninfo), options);
  VOUCH_RETURN_IF_ERROR(pg::prepare_schema(*pool, kMigrationSet, options.migrate));
  return std::unique_ptr<PgStore>(new PgStore(std::move(pool), options));
}

// The pending server keys in server_pending_keys (pending_key_store.h): the primary key
// (gun, role) holds one per role; the first replica to insert one wins and the others read
// it back; a rotation replaces the row only if it still holds the key the caller saw.
class PgStore::PendingKeys final : public PendingKeyStore {
 public:
  PendingKeys(pg::Pool& pool, const Clock& clock) : pool_(pool), clock_(clock) {}

  Result<std::optional<keys::PublicKey>> get(std::string_view gun,
                                             std::string_view role) override {
    return transact<std::optional<keys::PublicKey>>(
        pool_, TxKind::kRead, "pending key",
        [&](pqxx::transaction_base& tx) { return read(tx, gun, role); });
  }

  Result<keys::PublicKey> replace(std::string_view gun, std::string_view role,
                                  std::string_view expected_id,
                                  const keys::PublicKey& key) override {
    const std::string type(keys::to_string(key.type()));
    const std::string_view material(reinterpret_cast<const char*>(key.public_bytes().data()),
                                    key.public_bytes().size());
    const std::int64_t now = to_micros(clock_.now());
    return transact<keys::PublicKey>(
        pool_, TxKind::kWrite, "pending key",
        [&](pqxx::transaction_base& tx) -> Result<keys::PublicKey> {
          if (expected_id.empty()) {
            tx.exec_params(
                "INSERT INTO server_pending_keys (gun, role, key_id, key_type, public_key, "
                "created_us) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (gun, role) DO NOTHING",
                bin(gun), bin(role), key.id(), type, bin(material), now);
          } else {
            tx.exec_params(
                "UPDATE server_pending_keys SET key_id = $3, key_type = $4, public_key = $5, "
                "created_us = $6 WHERE gun = $1 AND role = $2 AND key_id = $7",
                bin(gun), bin(role), key.id(), type, bin(material), now,
                std::string(expected_id));
          }
          // Ours, or the one another replica stored first (a row lock or a committed row).
          VOUCH_ASSIGN_OR_RETURN(auto stored, read(tx, gun, role));
          if (!stored) {
            // Erased meanwhile (a root listed it, or the GUN was deleted): start afresh.
            tx.exec_params(
                "INSERT INTO server_pending_keys (gun, role, key_id, key_type, public_key, "
                "created_us) VALUES ($1, $2, $3, $4, $5, $6)",
                bin(gun), bin(role), key.id(), type, bin(material), now);
            return key;
          }
          return *stored;
        },
        "another replica stored a pending key first");
  }

  Status erase(std::string_view gun, std::string_view role, std::string_view key_id) override {
    return to_status(transact<std::monostate>(
        pool_, TxKind::kWrite, "pending key",
        [&](pqxx::transaction_base& tx) -> Result<std::monostate> {
          tx.exec_params(
              "DELETE FROM server_pending_keys WHERE gun = $1 AND role = $2 AND key_id = $3",
              bin(gun), bin(role), std::string(key_id));
          return std::monostate{};
        }));
  }

  Status erase_gun(std::string_view gun) override {
    return to_status(transact<std::monostate>(
        pool_, TxKind::kWrite, "pending keys",
        [&](pqxx::transaction_base& tx) -> Result<std::monostate> {
          tx.exec_params("DELETE FROM server_pending_keys WHERE gun = $1", bin(gun));
          return std::monostate{};
        }));
  }

 private:
  static Result<std::optional<keys::PublicKey>> read(pqxx::transaction_base& tx,
                                                     std::string_view gun, std::string_view role) {
    pqxx::result r = tx.exec_params(
        "SELECT key_id, key_type, public_key FROM server_pending_keys "
        "WHERE gun = $1 AND role = $2",
        bin(gun), bin(role));
    if (r.empty()) return std::optional<keys::PublicKey>();
    auto type = keys::parse_key_type(r[0][1].as<std::string>());
    const pqxx::binarystring material(r[0][2]);
    if (!type) return corrupt("pending key type");
    auto key = keys::PublicKey::from_tuf(
        *type, ByteSpan(reinterpret_cast<const std::uint8_t*>(material.data()), material.size()));
    if (!key || key->id() != r[0][0].as<std::string>()) return corrupt("pending key");
    return std::optional<keys::PublicKey>(std::move(*key));
  }

  pg::Pool& pool_;
  const Clock& clock_;
};

PgStore::PgStore(std::unique_ptr<pg::Pool> pool, const PgStoreOptions& options)
    : pool_(std::move(pool)),
      clock_(options.clock != nullptr ? *options.clock : SystemClock::instance()),
      pending_keys_(std::make_unique<PendingKeys>(*pool_, clock_)) {}

PgStore::~PgStore() = default;

PendingKeyStore& PgStore::pending_keys() { return *pending_keys_; }

Status PgStore::update_many(std::string_view gun, std::span<const NewFile> files) {
  VOUCH_ASSIGN_OR_RETURN(auto batch, storage_internal::prepare_batch(gun, files));
  if (batch.empty()) return ok_status();
  std::int64_t timestamps = 0;
  for (const auto& p : batch) {
    if (p.file->role == storage_internal::kTimestampRole) ++timestamps;
  }
  const TimePoint now = clock_.now();
  return to_status(transact<std::monostate>(
      *pool_, TxKind::kWrite, "update_many",
      [&](pqxx::transaction_base& tx) -> Result<std::monostate> {
        lock_gun(tx, gun, /*create=*/true);
        // Under the GUN's row lock nobody else writes this GUN: what we read stays true until
        // our COMMIT.
        for (std::size_t i = 0; i < batch.size(); ++i) {
          const NewFile& f = *batch[i].file;
          if (i > 0 && batch[i - 1].file->role == f.role) continue;  // lowest version checked
          pqxx::result r = tx.exec_params(
              "SELECT version FROM meta_roles WHERE gun = $1 AND role = $2", bin(gun), bin(f.role));
          std::optional<std::int64_t> current;
          if (!r.empty()) current = r[0][0].as<std::int64_t>();
          VOUCH_RETURN_IF_ERROR(storage_internal::check_version(f.role, f.version, current));
        }
        for (std::size_t i = 0; i < batch.size(); ++i) {
          const NewFile& f = *batch[i].file;
          const std::string& sha = batch[i].sha256_hex;
          tx.exec_params(
              "INSERT INTO meta_files (gun, role, version, sha256, created_us, data) "
              "VALUES ($1, $2, $3, $4, $5, $6)",
              bin(gun), bin(f.role), f.version, sha, to_micros(now), bin(*f.bytes));
          const bool last_of_role = i + 1 == batch.size() || batch[i + 1].file->role != f.role;
          if (last_of_role) {
            tx.exec_params(
                "INSERT INTO meta_roles (gun, role, version, sha256, created_us) "
                "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (gun, role) DO UPDATE SET "
                "version = EXCLUDED.version, sha256 = EXCLUDED.sha256, "
                "created_us = EXCLUDED.created_us",
                bin(gun), bin(f.role), f.version, sha, to_micros(now));
          }
        }
        if (timestamps > 0) {
          // Last: the counter's row lock is held only from here to COMMIT.
          std::int64_t next_id = take_change_ids(tx, timestamps);
          for (const auto& p : batch) {  // sorted: timestamps in increasing version order
            if (p.file->role != storage_internal::kTimestampRole) continue;
            insert_change(tx, Change{next_id++, now, std::string(gun), p.file->version,
                                     p.sha256_hex, Change::Category::kUpdate});
          }
        }
        return std::monostate{};
      },
      "another writer stored this version first"));
}

Result<StoredFile> PgStore::get_current(std::string_view gun, std::string_view role) {
  if (!is_storable_name(gun) || !is_storable_name(role)) {
    return make_error(Reason::kNotFound, "no such role");
  }
  return transact<StoredFile>(*pool_, TxKind::kRead, "get_current",
                              [&](pqxx::transaction_base& tx) -> Result<StoredFile> {
                                pqxx::result r = tx.exec_params(
                                    "SELECT version, sha256, created_us, data FROM meta_files "
                                    "WHERE gun = $1 AND role = $2 ORDER BY version DESC LIMIT 1",
                                    bin(gun), bin(role));
                                if (r.empty()) return make_error(Reason::kNotFound, "no such role");
                                return to_stored(gun, role, r[0]);
                              });
}

Result<StoredFile> PgStore::get_version(std::string_view gun, std::string_view role,
                                        std::int64_t version) {
  if (!is_storable_name(gun) || !is_storable_name(role) || version < 0) {
    return make_error(Reason::kNotFound, "no such version");
  }
  return transact<StoredFile>(*pool_, TxKind::kRead, "get_version",
                              [&](pqxx::transaction_base& tx) -> Result<StoredFile> {
                                pqxx::result r = tx.exec_params(
                                    "SELECT version, sha256, created_us, data FROM meta_files "
                                    "WHERE gun = $1 AND role = $2 AND version = $3",
                                    bin(gun), bin(role), version);
                                if (r.empty())
                                  return make_error(Reason::kNotFound, "no such version");
                                return to_stored(gun, role, r[0]);
                              });
}

Result<StoredFile> PgStore::get_checksum(std::string_view gun, std::string_view role,
                                         std::string_view sha256_hex) {
  if (!is_storable_name(gun) || !is_storable_name(role) ||
      !storage_internal::is_sha256_hex(sha256_hex)) {
    return make_error(Reason::kNotFound, "no such checksum");
  }
  return transact<StoredFile>(
      *pool_, TxKind::kRead, "get_checksum", [&](pqxx::transaction_base& tx) -> Result<StoredFile> {
        pqxx::result r = tx.exec_params(
            "SELECT version, sha256, created_us, data FROM meta_files "
            "WHERE gun = $1 AND role = $2 AND sha256 = $3 ORDER BY version DESC LIMIT 1",
            bin(gun), bin(role), std::string(sha256_hex));
        if (r.empty()) return make_error(Reason::kNotFound, "no such checksum");
        return to_stored(gun, role, r[0]);
      });
}

Result<std::vector<RoleVersion>> PgStore::list_roles(std::string_view gun) {
  if (!is_storable_name(gun)) return std::vector<RoleVersion>{};
  return transact<std::vector<RoleVersion>>(
      *pool_, TxKind::kRead, "list_roles",
      [&](pqxx::transaction_base& tx) -> Result<std::vector<RoleVersion>> {
        pqxx::result r = tx.exec_params(
            "SELECT role, version, sha256, created_us FROM meta_roles WHERE gun = $1 "
            "ORDER BY role",
            bin(gun));
        std::vector<RoleVersion> out;
        out.reserve(r.size());
        for (const pqxx::row& row : r) {
          RoleVersion v{pqxx::binarystring(row[0]).str(), row[1].as<std::int64_t>(),
                        row[2].as<std::string>(), from_micros(row[3].as<std::int64_t>())};
          if (v.version < 0 || !storage_internal::is_sha256_hex(v.sha256_hex)) {
            return corrupt("role row");
          }
          out.push_back(std::move(v));
        }
        return out;
      });
}

Status PgStore::delete_gun(std::string_view gun) {
  VOUCH_RETURN_IF_ERROR(storage_internal::validate_gun(gun));
  const TimePoint now = clock_.now();
  return to_status(transact<std::monostate>(
      *pool_, TxKind::kWrite, "delete_gun",
      [&](pqxx::transaction_base& tx) -> Result<std::monostate> {
        if (!lock_gun(tx, gun, /*create=*/false)) return std::monostate{};
        pqxx::result roles = tx.exec_params("DELETE FROM meta_roles WHERE gun = $1", bin(gun));
        if (roles.affected_rows() == 0) return std::monostate{};  // nothing stored (Notary)
        tx.exec_params("DELETE FROM meta_files WHERE gun = $1", bin(gun));
        insert_change(
            tx,
            Change{
                take_change_ids(tx, 1), now, std::string(gun), 0, {}, Change::Category::kDeletion});
        return std::monostate{};
      }));
}

Result<std::vector<Change>> PgStore::get_changes(std::string_view change_id, int records,
                                                 std::string_view filter_gun) {
  VOUCH_ASSIGN_OR_RETURN(auto q, storage_internal::parse_change_query(change_id, records));
  if (!filter_gun.empty() && !is_storable_name(filter_gun)) return std::vector<Change>{};
  // Forward: ids above q.id, oldest first. Reversed: ids below q.id (all when q.id <= 0),
  // newest first, then put back in order.
  const std::int64_t bound = q.reversed && q.id <= 0 ? INT64_MAX : q.id;
  const std::string sql = std::string(
                              "SELECT id, created_us, gun, version, sha256, category "
                              "FROM meta_changes WHERE id ") +
                          (q.reversed ? "<" : ">") + " $1" +
                          (filter_gun.empty() ? "" : " AND gun = $3") + " ORDER BY id " +
                          (q.reversed ? "DESC" : "ASC") + " LIMIT $2";
  const auto limit = static_cast<std::int64_t>(q.limit);
  return transact<std::vector<Change>>(
      *pool_, TxKind::kRead, "get_changes",
      [&](pqxx::transaction_base& tx) -> Result<std::vector<Change>> {
        pqxx::result r = filter_gun.empty() ? tx.exec_params(sql, bound, limit)
                                            : tx.exec_params(sql, bound, limit, bin(filter_gun));
        std::vector<Change> out;
        out.reserve(r.size());
        for (const pqxx::row& row : r) {
          Change c;
          c.id = row[0].as<std::int64_t>();
          c.created = from_micros(row[1].as<std::int64_t>());
          c.gun = pqxx::binarystring(row[2]).str();
          c.version = row[3].as<std::int64_t>();
          c.sha256_hex = row[4].as<std::string>();
          const auto category = row[5].as<std::int16_t>();
          if (category == kCategoryUpdate && storage_internal::is_sha256_hex(c.sha256_hex)) {
            c.category = Change::Category::kUpdate;
          } else if (category == kCategoryDeletion && c.sha256_hex.empty()) {
            c.category = Change::Category::kDeletion;
          } else {
            return corrupt("change row");
          }
          out.push_back(std::move(c));
        }
        if (q.reversed) std::reverse(out.begin(), out.end());
        return out;
      });
}

Status PgStore::check_health() {
  return to_status(transact<std::monostate>(
      *pool_, TxKind::kRead, "health", [&](pqxx::transaction_base& tx) -> Result<std::monostate> {
        tx.exec("SELECT 1");
        return std::monostate{};
      }));
}

}  // namespace vouch::server
