#include "server/accounts/account_store.h"

#include <algorithm>

namespace vouch::server::accounts {

std::string_view to_string(Table table) {
  switch (table) {
    case Table::kUsers:
      return "users";
    case Table::kOrgs:
      return "orgs";
    case Table::kOrgMembers:
      return "org_members";
    case Table::kTeams:
      return "teams";
    case Table::kTeamMembers:
      return "team_members";
    case Table::kServiceAccounts:
      return "service_accounts";
    case Table::kTokens:
      return "tokens";
    case Table::kRepositories:
      return "repositories";
    case Table::kGrants:
      return "grants";
    case Table::kMemberKeys:
      return "member_keys";
    case Table::kMeta:
      return "meta";
  }
  return "unknown";
}

Status check_record_key(std::string_view key) {
  if (key.empty()) {
    return make_error(Code::kInvalidArgument, Reason::kMalformed, "account store: empty key");
  }
  if (key.size() > kMaxRecordKeyBytes) {
    return make_error(Code::kInvalidArgument, Reason::kTooLarge, "account store: key too long");
  }
  return ok_status();
}

Status check_record_value(std::string_view value) {
  if (value.size() > kMaxRecordValueBytes) {
    return make_error(Code::kResourceExhausted, Reason::kTooLarge,
                      "account store: value too large");
  }
  return ok_status();
}

Result<std::size_t> check_scan_limit(std::size_t limit) {
  if (limit == 0) {
    return make_error(Code::kInvalidArgument, Reason::kMalformed, "account store: scan limit 0");
  }
  return std::min(limit, kMaxScanLimit);
}

}  // namespace vouch::server::accounts
