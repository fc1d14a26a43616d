#include "server/accounts/access.h"

#include "common/enum_names.h"

namespace vouch::server::accounts {

constexpr EnumName<Permission> kPermissionNames[] = {
    {Permission::kNone, "none"}, {Permission::kRead, "read"},
    {Permission::kReadWrite, "read-write"}, {Permission::kAdmin, "admin"}};
static_assert(lists_every_value(kPermissionNames, Permission::kAdmin));

std::string_view to_string(Permission p) { return name_of(kPermissionNames, p, "none"); }
std::optional<Permission> parse_permission(std::string_view text) {
  return value_of(kPermissionNames, text);
}

}  // namespace vouch::server::accounts
