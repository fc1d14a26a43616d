#include "server/roster_status.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "keys/pem.h"
#include "tuf/roster.h"

namespace vouch::server {

namespace {

// Every page of a paged accounts listing.
template <typename T, typename F>
Result<std::vector<T>> all_pages(F&& list) {
  std::vector<T> out;
  accounts::PageRequest page{"", 1000};
  for (int i = 0; i < 1000; ++i) {
    VOUCH_ASSIGN_OR_RETURN(accounts::Page<T> got, list(page));
    for (auto& item : got.items) out.push_back(std::move(item));
    if (got.next.empty()) return out;
    page.start_after = got.next;
  }
  return make_error(Reason::kTooLarge, "too many pages");
}

}  // namespace

Result<RosterStatus> RosterStatusService::status(const accounts::Principal& actor,
                                                 std::string_view org, std::string_view gun) {
  RosterStatus out;
  out.org = std::string(org);
  if (gun.empty()) {
    if (host_.empty()) {
      return make_error(Code::kInvalidArgument, Reason::kBadGun,
                        "name the roster repository (?gun=<host>/_roster/" + out.org + ")");
    }
    out.gun = host_ + "/" + std::string(tuf::kRosterGunComponent) + "/" + out.org;
  } else {
    out.gun = std::string(gun);
  }
  if (tuf::roster_gun_org(out.gun) != org) {
    return make_error(Code::kInvalidArgument, Reason::kBadGun,
                      out.gun + " is not the roster repository of " + out.org);
  }

  // The accounts now, as a roster document (membership only: generated_at is not compared).
  VOUCH_ASSIGN_OR_RETURN(auto teams, all_pages<accounts::TeamInfo>([&](const auto& page) {
                           return accounts_.list_teams(actor, org, page);
                         }));
  std::vector<std::string> team_names;
  for (const auto& team : teams) team_names.push_back(team.name);
  VOUCH_ASSIGN_OR_RETURN(
      tuf::Roster now,
      tuf::roster_from_listing(
          out.org, "1970-01-01T00:00:00Z", team_names,
          [&](const std::string& team) {
            return all_pages<std::string>([&](const auto& page) {
              return accounts_.list_team_members(actor, org, team, page);
            });
          },
          [&](const std::string& member) -> Result<std::vector<keys::PublicKey>> {
            VOUCH_ASSIGN_OR_RETURN(auto registered, accounts_.list_keys(actor, member));
            std::vector<keys::PublicKey> out_keys;
            for (const auto& k : registered) {
              auto key = keys::parse_public_key_pem(k.pem);
              if (key) out_keys.push_back(std::move(*key));
            }
            return out_keys;
          }));

  // The roster the server stored last.
  std::optional<tuf::Roster> stored;
  auto file = repository_.get_current(out.gun, tuf::kTargetsRole);
  if (file) {
    auto targets = tuf::parse_targets(*(*file)->bytes);
    if (!targets) return make_error(Reason::kInternal, "stored roster targets do not parse");
    auto roster = tuf::roster_from_targets(targets->content, org);
    if (!roster) return make_error(Reason::kInternal, "stored roster does not parse");
    out.version = targets->content.version;
    out.generated_at = roster->generated_at.text;
    stored = std::move(*roster);
  } else if (file.error().reason != Reason::kNotFound) {
    return std::move(file).error();
  }
  out.changes = tuf::diff_rosters(stored ? &*stored : nullptr, now);
  out.out_of_date = !out.changes.empty();
  if (on_status) on_status(out.org, out.out_of_date);
  return out;
}

}  // namespace vouch::server
