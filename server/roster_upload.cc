#include "server/roster_upload.h"

#include <string>
#include <utility>

namespace vouch::server {

tuf::UpdateStatus check_roster_update(std::string_view gun, const tuf::ValidatedUpdate& update,
                                      const tuf::RosterLimits& limits) {
  const std::string org = tuf::roster_gun_org(gun);
  if (org.empty()) return {};
  for (const tuf::RoleFile& file : update.files) {
    if (tuf::is_delegation_role(file.role)) {
      return tuf::UpdateError(
          tuf::UpdateErrorClass::kBadTargets,
          make_error(Code::kInvalidArgument, Reason::kBadRole,
                     "a roster repository has no delegations: " + file.role.substr(0, 64)));
    }
    if (file.role != tuf::kTargetsRole) continue;
    // Parsed again here rather than handed over by the validator: a roster's targets are small,
    // and the validator's result stays the same for every repository.
    auto targets = tuf::parse_targets(*file.bytes);
    if (!targets) return tuf::UpdateError(std::move(targets).error());
    if (auto roster = tuf::roster_from_targets(targets->content, org, limits); !roster) {
      return tuf::UpdateError(tuf::UpdateErrorClass::kBadTargets, std::move(roster).error());
    }
  }
  return {};
}

}  // namespace vouch::server
