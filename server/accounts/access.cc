#include "server/accounts/access.h"

namespace vouch::server::accounts {

std::string_view to_string(Permission permission) {
  switch (permission) {
    case Permission::kNone:
      return "none";
    case Permission::kRead:
      return "read";
    case Permission::kReadWrite:
      return "read-write";
    case Permission::kAdmin:
      return "admin";
  }
  return "none";
}

std::optional<Permission> parse_permission(std::string_view text) {
  for (Permission p :
       {Permission::kNone, Permission::kRead, Permission::kReadWrite, Permission::kAdmin}) {
    if (text == to_string(p)) return p;
  }
  return std::nullopt;
}

}  // namespace vouch::server::accounts
