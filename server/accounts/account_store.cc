#include "server/accounts/account_store.h"

#include <algorithm>
#include <iterator>

#include "common/enum_names.h"

namespace vouch::server::accounts {

constexpr EnumName<Table> kTableNames[] = {
    {Table::kUsers, "users"}, {Table::kOrgs, "orgs"}, {Table::kOrgMembers, "org_members"},
    {Table::kTeams, "teams"}, {Table::kTeamMembers, "team_members"},
    {Table::kServiceAccounts, "service_accounts"}, {Table::kTokens, "tokens"},
    {Table::kRepositories, "repositories"}, {Table::kGrants, "grants"},
    {Table::kMemberKeys, "member_keys"}, {Table::kMeta, "meta"}};
static_assert(lists_every_value(kTableNames, Table::kMeta));
static_assert(std::size(kTableNames) == kTableCount);

std::string_view to_string(Table table) { return name_of(kTableNames, table); }

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
