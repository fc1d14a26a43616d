#pragma once

// Teams from signed rosters (issue 15; policy.h `teams_from`, tuf/roster.h): the step between
// a policy that names "<org>/<team>" and decide(), which needs every team's members and keys.
//
// For a decision, the rosters its rule names (all of the policy's for a reference whose rule
// depends on the tags that carry a digest) are obtained from the TrustCache exactly as image
// trust data is: the roster repository's root pinned by its teams_from entry, timestamp,
// snapshot and targets verified, rollback refused, nothing used at or after its expiry (the
// cache never falls back to an older or expired roster), failures remembered for error_ttl
// (fail closed). The verified targets must carry the org's roster (tuf::roster_from_targets);
// its teams become policy teams "<org>/<team>" beside the inline ones. A roster key that the
// policy's inline teams (or another roster) give to another member name is refused: one key,
// one person.
//
// Thread-safe: RosterTeamsCache guards its one entry with a mutex.

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "tuf/roster.h"
#include "verifier/image_ref.h"
#include "verifier/policy.h"
#include "verifier/trust_cache.h"

namespace vouch::verifier {

// The rosters deciding `image` under `policy` needs: those of the teams of its rule
// (policy.match), or every roster of the policy when the rule depends on the tags that carry
// a digest. Empty when the policy has no teams_from or the rule names no roster team.
std::vector<const RosterSource*> rosters_needed(const Policy& policy, const ImageRef& image);

// The roster repository as an ImageRef for TrustCache (gun() == source.section.prefix, the
// tag kRosterTarget, which no delegation lists).
ImageRef roster_ref(const RosterSource& source);

// A verified roster's teams as policy teams "<org>/<team>". kConflict when one of its keys
// belongs to another member name in `base` (inline teams, or teams added before).
Result<std::vector<Team>> roster_policy_teams(const tuf::Roster& roster, const Policy& base);

// The policy with the teams of `needed` rosters, fetched through `cache` until `deadline`.
// Errors (the decision then denies with kTrustUnavailable): the fetch's error, or the roster's
// (not carried, of another org, invalid, conflicting), each prefixed with the roster's GUN.
// Without rosters needed, nullptr (decide under `policy` itself). The last policy built is
// kept and reused while the policy version and every roster's trust data stay the same.
class RosterTeamsCache {
 public:
  Result<std::shared_ptr<const Policy>> resolve(const Policy& policy,
                                                const std::vector<const RosterSource*>& needed,
                                                TrustCache& cache, Deadline deadline);

 private:
  std::mutex mu_;
  std::string key_;  // policy version + each roster's trust data generation
  std::shared_ptr<const Policy> built_;
};

}  // namespace vouch::verifier
