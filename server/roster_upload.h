#pragma once

// The extra rule for publishing a signed team roster (issue 15; tuf/roster.h).
//
// A roster repository, the GUN "<host>/_roster/<org>", is an ordinary TUF repository: the same
// validation, timestamp and rollback rules as any other (tuf::validate_update). On top of them,
// what its targets role carries must be a roster the verifier will accept, so that a broken one
// is refused at publish time with the reason instead of denying admissions later.
// Who may publish one is the accounts service's rule (server/accounts/permissions.h: only the
// organization's admins and system administrators get push on a roster GUN). The server never
// signs a roster's targets: it holds no targets key (Notary's model), only timestamp and
// snapshot.

#include <string_view>

#include "tuf/roster.h"
#include "tuf/update_validator.h"

namespace vouch::server {

// Checks a validated update of `gun`. Not a roster GUN (tuf::roster_gun_org empty): ok, nothing
// checked. Otherwise:
//  - a delegated targets role is refused (kBadTargets / kBadRole): a roster repository has only
//    the base roles, and the verifier reads the roster from the top-level targets only;
//  - an uploaded targets must carry the roster of that org (tuf::roster_from_targets; its error,
//    naming the entry, as kBadTargets).
// Thread-safe (pure).
tuf::UpdateStatus check_roster_update(std::string_view gun, const tuf::ValidatedUpdate& update,
                                      const tuf::RosterLimits& limits = {});

}  // namespace vouch::server
