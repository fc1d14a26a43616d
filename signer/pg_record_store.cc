#include "signer/pg_record_store.h"

#include <pqxx/pqxx>

#include <string>
#include <utility>
#include <vector>

#include "common/pg/pg_internal.h"

namespace vouch::signer {

namespace {

using pg::bin;
using pg::TxKind;

constexpr pg::Migration kMigrations[] = {
    {1, "signer: key records, alias verifiers, database metadata", R"sql(
CREATE TABLE signer_records (
  key   bytea PRIMARY KEY,
  value bytea NOT NULL
);
)sql"},
};

constexpr pg::MigrationSet kMigrationSet{kMigrations, "signer_schema_migrations",
                                         PgRecordStore::kMigrationLockKey, "vouch-signer",
                                         "vouch-signer migrate"};

// SELECT key, value ... for a prefix scan from `from`, at most `limit` (0: all).
Result<std::vector<Record>> run_scan(pqxx::transaction_base& tx, std::string_view prefix,
                                     std::string_view from, std::size_t limit) {
  const std::string start(from > prefix ? from : prefix);
  const std::string end = pg::prefix_end(prefix);
  std::string sql = "SELECT key, value FROM signer_records WHERE key >= $1";
  if (!end.empty()) sql += " AND key < $2";
  sql += " ORDER BY key";
  if (limit != 0) sql += " LIMIT " + std::to_string(limit);
  pqxx::result r = end.empty() ? tx.exec_params(sql, bin(start))
                               : tx.exec_params(sql, bin(start), bin(end));
  std::vector<Record> out;
  out.reserve(r.size());
  for (const pqxx::row& row : r) {
    out.emplace_back(pqxx::binarystring(row[0]).str(), pqxx::binarystring(row[1]).str());
  }
  return out;
}

Result<std::optional<std::string>> run_get(pqxx::transaction_base& tx, std::string_view key) {
  pqxx::result r = tx.exec_params("SELECT value FROM signer_records WHERE key = $1", bin(key));
  if (r.empty()) return std::optional<std::string>();
  return std::optional<std::string>(pqxx::binarystring(r[0][0]).str());
}

class PgTxn final : public RecordStore::BufferedTxn {
 public:
  explicit PgTxn(pqxx::transaction_base& tx) : tx_(tx) {}
  Result<std::optional<std::string>> get(std::string_view key) override {
    return run_get(tx_, key);
  }
  Result<std::vector<Record>> scan(std::string_view prefix, std::string_view from,
                                   std::size_t limit) override {
    return run_scan(tx_, prefix, from, limit);
  }

  // Applies the buffered writes in order.
  void apply() {
    for (const Write& w : writes()) {
      if (w.erase) {
        tx_.exec_params("DELETE FROM signer_records WHERE key = $1", bin(w.key));
      } else {
        tx_.exec_params(
            "INSERT INTO signer_records (key, value) VALUES ($1, $2) "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            bin(w.key), bin(w.value));
      }
    }
  }

 private:
  pqxx::transaction_base& tx_;
};

class PgRecordStoreImpl final : public RecordStore {
 public:
  explicit PgRecordStoreImpl(std::unique_ptr<pg::Pool> pool) : pool_(std::move(pool)) {}

  Result<std::optional<std::string>> get(std::string_view key) override {
    return pg::transact<std::optional<std::string>>(
        *pool_, TxKind::kRead, "signer get",
        [&](pqxx::transaction_base& tx) { return run_get(tx, key); });
  }

  Result<std::vector<Record>> scan(std::string_view prefix, std::string_view from,
                                   std::size_t limit) override {
    // One snapshot for the whole scan.
    return pg::transact<std::vector<Record>>(
        *pool_, TxKind::kSnapshot, "signer scan",
        [&](pqxx::transaction_base& tx) { return run_scan(tx, prefix, from, limit); });
  }

  Status write(const std::function<Status(Txn&)>& fn, bool /*sync: always durable*/) override {
    return pg::to_status(pg::transact<std::monostate>(
        *pool_, TxKind::kWrite, "signer write",
        [&](pqxx::transaction_base& tx) -> Result<std::monostate> {
          tx.exec_params("SELECT pg_advisory_xact_lock($1)", PgRecordStore::kWriterLockKey);
          PgTxn txn(tx);
          VOUCH_RETURN_IF_ERROR(fn(txn));
          txn.apply();
          return std::monostate{};
        }));
  }

  bool shared() const override { return true; }

 private:
  std::unique_ptr<pg::Pool> pool_;
};

}  // namespace

Result<std::unique_ptr<RecordStore>> PgRecordStore::open(const PgRecordStoreOptions& options) {
  VOUCH_ASSIGN_OR_RETURN(std::string conninfo, pg::build_conninfo(options));
  auto pool = std::make_unique<pg::Pool>(std::move(conninfo), options);
  VOUCH_RETURN_IF_ERROR(pg::prepare_schema(*pool, kMigrationSet, options.migrate));
  return std::unique_ptr<RecordStore>(std::make_unique<PgRecordStoreImpl>(std::move(pool)));
}

Result<pg::MigrationResult> PgRecordStore::migrate(const pg::ConnectionOptions& options) {
  return pg::migrate(options, kMigrationSet);
}

}  // namespace vouch::signer
