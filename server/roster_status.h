#pragma once

// Whether an organization's signed team roster (issue 15; tuf/roster.h) is out of date: the
// accounts' teams, members and registered keys now, against the roster the server last stored
// for the org's roster repository. For the admin API (GET /api/v1/orgs/<org>/roster). The
// server only compares: it never signs a roster.
//
// Thread-safety: status() may be called concurrently (the accounts service and the repository
// are thread-safe).

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "server/accounts/accounts_service.h"
#include "server/repository.h"

namespace vouch::server {

struct RosterStatus {
  std::string org;
  std::string gun;
  // The stored roster's targets version; 0 when no roster is stored yet.
  std::int64_t version = 0;
  std::string generated_at;  // the stored roster's, "" when none
  // True when `changes` is not empty (also when no roster is stored and the org has teams).
  bool out_of_date = false;
  // tuf::diff_rosters(stored, accounts now): "+ member ops/alice (user)", "- key ...".
  std::vector<std::string> changes;
};

class RosterStatusService {
 public:
  // `repository_host`: the accounts option; when set, the roster GUN of org X is
  // "<repository_host>/_roster/X" unless a request names another.
  RosterStatusService(accounts::AccountsService& accounts, Repository& repository,
                      std::string repository_host)
      : accounts_(accounts), repository_(repository), host_(std::move(repository_host)) {}

  // The status of `org`'s roster at `gun` (empty: "<repository_host>/_roster/<org>", and then
  // kInvalidArgument without a repository_host). `actor` must be a member of the org or a
  // system admin (the accounts service's errors otherwise: kPermissionDenied, kNotFound).
  // A stored roster that does not parse (it was validated on upload: only a damaged store) is
  // kDataLoss-like kInternal. Accounts whose registered key does not parse are skipped.
  Result<RosterStatus> status(const accounts::Principal& actor, std::string_view org,
                              std::string_view gun);

  // Called with every status computed (org, out_of_date), for the metric
  // vouch_server_roster_out_of_date{org}. Set before the first status(); may be empty.
  std::function<void(const std::string& org, bool out_of_date)> on_status;

 private:
  accounts::AccountsService& accounts_;
  Repository& repository_;
  std::string host_;
};

}  // namespace vouch::server
