// libFuzzer target for the roster parser (tuf/roster.h).
//
// Properties checked on every input:
//  - parse_roster_text never crashes, throws or recurses deeply (ASan/UBSan watch the rest);
//  - a refusal is kInvalidArgument with a message (the reason a server or verifier reports);
//  - an accepted roster round-trips: to_json(roster) parses again to the same document, and
//    its target entry (roster_target_meta) is accepted by roster_from_targets for its org;
//  - every key ID has one owner (key_owners agrees with every member's keys).
// Traps on a violation. The seeds (tests/fuzz/corpus/fuzz_roster/) are replayed in ctest.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tuf/roster.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace tuf = vouch::tuf;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = tuf::parse_roster_text(text);
  if (!parsed.ok()) {
    if (parsed.error().code != vouch::Code::kInvalidArgument || parsed.error().message.empty()) {
      __builtin_trap();
    }
    return 0;
  }
  const vouch::tuf::json::Value doc = tuf::to_json(*parsed);
  auto again = tuf::parse_roster(doc);
  if (!again.ok() || !(tuf::to_json(*again) == doc)) __builtin_trap();

  tuf::Targets targets;
  targets.targets.emplace(std::string(tuf::kRosterTarget), tuf::roster_target_meta(*parsed));
  auto carried = tuf::roster_from_targets(targets, parsed->org);
  if (!carried.ok() || !(tuf::to_json(*carried) == doc)) __builtin_trap();

  const auto owners = parsed->key_owners();
  for (const auto& team : parsed->teams) {
    for (const auto& member : team.members) {
      for (const auto& key : member.keys) {
        auto it = owners.find(key.key.id());
        if (it == owners.end() || it->second != member.name) __builtin_trap();
      }
    }
  }
  return 0;
}
