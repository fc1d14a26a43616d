#pragma once

// An AccountStore in memory (account_store.h), for tests and development. Nothing survives the
// object. Writers are serialized by a mutex; a commit waits for the reads that are running
// (readers share a lock for the whole of their fn), which is what gives read() its snapshot.

#include <array>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <string>

#include "server/accounts/account_store.h"

namespace vouch::server::accounts {

class MemoryAccountStore final : public AccountStore {
 public:
  MemoryAccountStore() = default;

  Status read(const std::function<Status(AccountReader&)>& fn) override;
  Status write(const std::function<Status(AccountWriter&)>& fn) override;

 private:
  using TableData = std::map<std::string, std::string, std::less<>>;
  class Reader;
  class Writer;

  std::mutex writer_mu_;       // one write() at a time
  std::shared_mutex data_mu_;  // readers shared; a commit exclusive
  std::array<TableData, kTableCount> tables_;
};

}  // namespace vouch::server::accounts
