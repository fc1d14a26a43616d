#include "verifier/roster_teams.h"

#include <algorithm>
#include <utility>

#include "keys/x509.h"

namespace vouch::verifier {

std::vector<const RosterSource*> rosters_needed(const Policy& policy, const ImageRef& image) {
  std::vector<const RosterSource*> out;
  if (policy.rosters().empty()) return out;
  const Rule* rule = policy.match(image);
  if (!image.has_tag() && policy.has_tag_rule_for(image)) {
    for (const RosterSource& r : policy.rosters()) out.push_back(&r);
    return out;
  }
  if (rule == nullptr || rule->action != RuleAction::kRequire) return out;
  for (const std::string& team : rule->require.teams) {
    const RosterSource* r = policy.roster_for(team);
    if (r != nullptr && std::find(out.begin(), out.end(), r) == out.end()) out.push_back(r);
  }
  return out;
}

ImageRef roster_ref(const RosterSource& source) {
  ImageRef ref;
  const std::string& gun = source.section.prefix;
  const auto slash = gun.find('/');
  ref.domain = gun.substr(0, slash);
  ref.path = slash == std::string::npos ? std::string() : gun.substr(slash + 1);
  ref.tag = std::string(tuf::kRosterTarget);
  return ref;
}

Result<std::vector<Team>> roster_policy_teams(const tuf::Roster& roster, const Policy& base) {
  std::vector<Team> out;
  std::map<std::string, std::string, std::less<>> holder;  // canonical key ID -> member
  for (const tuf::RosterTeam& rt : roster.teams) {
    Team team;
    team.name = roster.org + "/" + rt.name;
    for (const tuf::RosterMember& rm : rt.members) {
      Member member;
      member.name = rm.name;
      for (const tuf::RosterKey& rk : rm.keys) {
        MemberKey mk = MemberKey::of(rk.key);
        for (const KeyOwner& owner : base.owners_of(mk.id)) {
          if (owner.member != rm.name) {
            return make_error(Reason::kConflict, "key " + mk.id + " of member \"" + rm.name +
                                                     "\" belongs to member \"" + owner.member +
                                                     "\" of team " + owner.team + " already");
          }
        }
        if (auto [it, fresh] = holder.emplace(mk.id, rm.name); !fresh && it->second != rm.name) {
          return make_error(Reason::kConflict, "key " + mk.id + " is listed for \"" + rm.name +
                                                   "\" and \"" + it->second + "\"");
        }
        if (std::none_of(member.keys.begin(), member.keys.end(),
                         [&](const MemberKey& k) { return k.id == mk.id; })) {
          member.keys.push_back(std::move(mk));
        }
      }
      team.members.push_back(std::move(member));
    }
    out.push_back(std::move(team));
  }
  return out;
}

Result<std::shared_ptr<const Policy>> RosterTeamsCache::resolve(
    const Policy& policy, const std::vector<const RosterSource*>& needed, TrustCache& cache,
    Deadline deadline) {
  if (needed.empty()) return std::shared_ptr<const Policy>();
  std::vector<std::pair<const RosterSource*, std::shared_ptr<const TrustData>>> fetched;
  std::string key = policy.version();
  for (const RosterSource* source : needed) {
    auto data = cache.get(source->section, roster_ref(*source), deadline);
    if (!data) return std::move(data).error().wrap("roster " + source->section.prefix);
    key += "+" + source->org + ":" + std::to_string((*data)->generation);
    fetched.emplace_back(source, std::move(*data));
  }
  {
    std::lock_guard lock(mu_);
    if (key == key_ && built_) return built_;
  }
  // Built outside the lock: a miss costs a policy copy, and two racing misses build twice.
  Policy base = policy;
  for (const auto& [source, data] : fetched) {
    const tuf::TrustedTargets* targets = data->set.targets();
    if (targets == nullptr) {
      return make_error(Reason::kNotFound, "roster " + source->section.prefix + ": no targets");
    }
    auto roster = tuf::roster_from_targets(targets->metadata.content, source->org);
    if (!roster) return std::move(roster).error().wrap("roster " + source->section.prefix);
    auto teams = roster_policy_teams(*roster, base);
    if (!teams) return std::move(teams).error().wrap("roster " + source->section.prefix);
    base = base.with_teams(std::move(*teams), "");
  }
  auto built = std::make_shared<const Policy>(
      base.with_teams({}, key.substr(policy.version().size())));
  std::lock_guard lock(mu_);
  key_ = key;
  built_ = built;
  return built;
}

}  // namespace vouch::verifier
