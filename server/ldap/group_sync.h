#pragma once

// Team membership from directory groups (issue 14 item 6): for each auth.ldap.team_map entry,
// the team's directory-sourced members become the group's members who are directory users
// (AccountsService::sync_directory_team has the rules: local members stay, local users are
// never pulled in). A member removed from the group leaves the team at the next sync; new
// tokens see it at once (the token service reads current membership), tokens already issued
// keep their scope until they expire.
//
// Failures (directory unreachable, a missing group or team, a group over the size limit) are
// logged, counted in vouch_server_ldap_sync_errors_total and leave that team as it was; the
// other mappings still sync. Nothing here throws or stops the server.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <thread>

#include "server/accounts/accounts_service.h"
#include "server/ldap/ldap_directory.h"

namespace vouch::server::ldap {

class GroupSync {
 public:
  struct Report {
    std::size_t groups_synced = 0, groups_failed = 0;
    std::size_t added = 0, removed = 0, skipped = 0;
  };

  // `directory` and `accounts` must outlive this object. `metrics` (optional): counters
  // vouch_server_ldap_sync_runs_total and vouch_server_ldap_sync_errors_total (one per failed
  // mapping).
  GroupSync(LdapDirectory& directory, accounts::AccountsService& accounts,
            std::shared_ptr<prometheus::Registry> metrics = nullptr);
  // stop().
  ~GroupSync();
  GroupSync(const GroupSync&) = delete;
  GroupSync& operator=(const GroupSync&) = delete;

  // One pass over the team map, now. Thread-safe: passes never overlap (a second caller waits
  // for the running one, then runs its own).
  Report run_once();

  // A thread that runs a pass every options().sync_interval, the first right away. Does
  // nothing when the interval is 0 or the team map is empty. Call at most once.
  void start();
  // Stops the thread (a running pass finishes first; it is bounded by the directory
  // timeouts). Idempotent.
  void stop();

 private:
  struct Counters;
  LdapDirectory& directory_;
  accounts::AccountsService& accounts_;
  std::unique_ptr<Counters> counters_;
  std::mutex run_mu_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace vouch::server::ldap
