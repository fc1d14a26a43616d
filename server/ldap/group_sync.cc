#include "server/ldap/group_sync.h"

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <exception>

#include "common/log.h"

namespace vouch::server::ldap {

struct GroupSync::Counters {
  prometheus::Counter* runs = nullptr;
  prometheus::Counter* errors = nullptr;
};

GroupSync::GroupSync(LdapDirectory& directory, accounts::AccountsService& accounts,
                     std::shared_ptr<prometheus::Registry> metrics)
    : directory_(directory), accounts_(accounts), counters_(std::make_unique<Counters>()) {
  if (metrics) {
    counters_->runs = &prometheus::BuildCounter()
                           .Name("vouch_server_ldap_sync_runs_total")
                           .Help("Passes of the LDAP group sync")
                           .Register(*metrics)
                           .Add({});
    counters_->errors = &prometheus::BuildCounter()
                             .Name("vouch_server_ldap_sync_errors_total")
                             .Help("Team mappings the LDAP group sync could not sync")
                             .Register(*metrics)
                             .Add({});
  }
}

GroupSync::~GroupSync() { stop(); }

GroupSync::Report GroupSync::run_once() {
  std::lock_guard run_lock(run_mu_);
  auto logger = log::get("auth");
  Report report;
  if (counters_->runs != nullptr) counters_->runs->Increment();
  for (const TeamMapping& m : directory_.options().team_map) {
    try {
      auto members = directory_.group_members(m.group);
      Result<accounts::AccountsService::DirectorySyncResult> synced =
          members ? accounts_.sync_directory_team(m.team, *members)
                  : Result<accounts::AccountsService::DirectorySyncResult>(members.error());
      if (!synced) {
        ++report.groups_failed;
        if (counters_->errors != nullptr) counters_->errors->Increment();
        logger->error("ldap sync: {} -> {}: {}", m.group, m.team, synced.error().message);
        continue;
      }
      ++report.groups_synced;
      report.added += synced->added;
      report.removed += synced->removed;
      report.skipped += synced->skipped;
      if (synced->added + synced->removed + synced->skipped > 0) {
        logger->info("ldap sync: {} -> {}: {} added, {} removed, {} skipped (local users, or "
                     "names vouch cannot hold)",
                     m.group, m.team, synced->added, synced->removed, synced->skipped);
      }
    } catch (const std::exception& e) {  // nothing below should throw; never let it end us
      ++report.groups_failed;
      if (counters_->errors != nullptr) counters_->errors->Increment();
      logger->error("ldap sync: {} -> {}: {}", m.group, m.team, e.what());
    }
  }
  return report;
}

void GroupSync::start() {
  const auto interval = directory_.options().sync_interval;
  if (interval.count() <= 0 || directory_.options().team_map.empty() || thread_.joinable()) {
    return;
  }
  thread_ = std::thread([this, interval] {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      lock.unlock();
      run_once();
      lock.lock();
      cv_.wait_for(lock, interval, [this] { return stopping_; });
    }
  });
}

void GroupSync::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace vouch::server::ldap
