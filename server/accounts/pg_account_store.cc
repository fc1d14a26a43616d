#include "server/accounts/pg_account_store.h"

#include <pqxx/pqxx>

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "common/pg/pg_internal.h"

namespace vouch::server::accounts {

namespace {

using pg::bin;
using pg::TxKind;

const std::string& table_name(Table t) {
  static const std::array<std::string, kTableCount> names = [] {
    std::array<std::string, kTableCount> out;
    for (std::size_t i = 0; i < kTableCount; ++i) {
      out[i] = "accounts_" + std::string(to_string(static_cast<Table>(i)));
    }
    return out;
  }();
  return names[static_cast<std::size_t>(t)];
}

class PgRecords : public AccountWriter {
 public:
  explicit PgRecords(pqxx::transaction_base& tx) : tx_(tx) {}

  Result<std::optional<std::string>> get(Table table, std::string_view key) override {
    VOUCH_RETURN_IF_ERROR(check_record_key(key));
    pqxx::result r = tx_.exec_params(
        "SELECT value FROM " + table_name(table) + " WHERE key = $1", bin(key));
    if (r.empty()) return std::optional<std::string>();
    return std::optional<std::string>(pqxx::binarystring(r[0][0]).str());
  }

  Result<std::vector<Record>> scan(Table table, std::string_view prefix,
                                   std::string_view start_after, std::size_t limit) override {
    VOUCH_ASSIGN_OR_RETURN(std::size_t n, check_scan_limit(limit));
    const std::string end = pg::prefix_end(prefix);
    std::string sql = "SELECT key, value FROM " + table_name(table) + " WHERE key >= $1";
    if (!start_after.empty()) sql += " AND key > $2";
    if (!end.empty()) sql += start_after.empty() ? " AND key < $2" : " AND key < $3";
    sql += " ORDER BY key LIMIT " + std::to_string(n);
    pqxx::result r;
    if (start_after.empty()) {
      r = end.empty() ? tx_.exec_params(sql, bin(prefix))
                      : tx_.exec_params(sql, bin(prefix), bin(end));
    } else {
      r = end.empty() ? tx_.exec_params(sql, bin(prefix), bin(start_after))
                      : tx_.exec_params(sql, bin(prefix), bin(start_after), bin(end));
    }
    std::vector<Record> out;
    out.reserve(r.size());
    for (const pqxx::row& row : r) {
      out.push_back(Record{pqxx::binarystring(row[0]).str(), pqxx::binarystring(row[1]).str()});
    }
    return out;
  }

  Status put(Table table, std::string_view key, std::string_view value) override {
    VOUCH_RETURN_IF_ERROR(check_record_key(key));
    VOUCH_RETURN_IF_ERROR(check_record_value(value));
    tx_.exec_params("INSERT INTO " + table_name(table) +
                        " (key, value) VALUES ($1, $2) "
                        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                    bin(key), bin(value));
    return ok_status();
  }

  Status erase(Table table, std::string_view key) override {
    VOUCH_RETURN_IF_ERROR(check_record_key(key));
    tx_.exec_params("DELETE FROM " + table_name(table) + " WHERE key = $1", bin(key));
    return ok_status();
  }

 private:
  pqxx::transaction_base& tx_;
};

}  // namespace

Result<std::unique_ptr<PgAccountStore>> PgAccountStore::open(const PgStoreOptions& options) {
  if (options.migrate) VOUCH_RETURN_IF_ERROR(PgStore::migrate(options));
  VOUCH_ASSIGN_OR_RETURN(std::string conninfo, pg::build_conninfo(options));
  auto pool = std::make_unique<pg::Pool>(std::move(conninfo), options);
  auto store = std::unique_ptr<PgAccountStore>(new PgAccountStore(std::move(pool)));
  // The tables must exist (migration 2): one read says so, or why not.
  VOUCH_RETURN_IF_ERROR(store->read([](AccountReader& r) -> Status {
    VOUCH_ASSIGN_OR_RETURN(auto probe, r.get(Table::kMeta, "schema-check"));
    (void)probe;
    return ok_status();
  }));
  return store;
}

PgAccountStore::PgAccountStore(std::unique_ptr<pg::Pool> pool) : pool_(std::move(pool)) {}
PgAccountStore::~PgAccountStore() = default;

Status PgAccountStore::read(const std::function<Status(AccountReader&)>& fn) {
  return pg::to_status(pg::transact<std::monostate>(
      *pool_, TxKind::kSnapshot, "accounts read",
      [&](pqxx::transaction_base& tx) -> Result<std::monostate> {
        PgRecords reader(tx);
        VOUCH_RETURN_IF_ERROR(fn(reader));
        return std::monostate{};
      }));
}

Status PgAccountStore::write(const std::function<Status(AccountWriter&)>& fn) {
  return pg::to_status(pg::transact<std::monostate>(
      *pool_, TxKind::kWrite, "accounts write",
      [&](pqxx::transaction_base& tx) -> Result<std::monostate> {
        tx.exec_params("SELECT pg_advisory_xact_lock($1)", kWriterLockKey);
        PgRecords writer(tx);
        VOUCH_RETURN_IF_ERROR(fn(writer));
        return std::monostate{};
      }));
}

}  // namespace vouch::server::accounts
