#pragma once

// Account names and the rule that maps a repository (GUN) to the namespace that owns it
// (issue 14; Docker's reference grammar). Pure functions, thread-safe.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace vouch::server::accounts {

// Bounds of a user, organization, team or service-account (own part) name, in bytes.
inline constexpr std::size_t kMinNameBytes = 2;
inline constexpr std::size_t kMaxNameBytes = 64;

// Checks a user, organization or team name: Docker's path-component grammar
//   [a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*
// (lower-case letters and digits; runs joined by one '.', one '_', "__" or any number of '-')
// and kMinNameBytes..kMaxNameBytes bytes. Failure: Code::kInvalidArgument / Reason::kMalformed,
// the message naming `what` (e.g. "user name").
Status validate_name(std::string_view name, std::string_view what = "name");

// A service account's full name "<owner>/<name>", split. The slash keeps service accounts apart
// from users, whose names never contain one.
struct ServiceAccountName {
  std::string owner;  // an organization or a user
  std::string name;
};
// Splits and checks "<owner>/<name>" (both parts validate_name); kInvalidArgument/kMalformed.
Result<ServiceAccountName> parse_service_account_name(std::string_view full);

// True when `component` (the first '/'-separated part of a GUN) names a registry host as
// Docker's reference rule reads it: it contains '.' or ':' or is "localhost".
bool looks_like_host(std::string_view component);

// The namespace (user or organization name) that owns repository `gun`, or nullopt when it has
// none (then only system administrators may reach it):
//  - repository_host empty: split on '/'; if the first component looks_like_host it is the host
//    and the namespace is the second component, else the namespace is the first component;
//  - repository_host set: only GUNs "<repository_host>/<namespace>/..." have one.
// A repository needs a name after its namespace ("ns/app", "host/ns/app"; not "ns" or
// "host/ns"), and the namespace must be a valid name (validate_name); otherwise nullopt.
std::optional<std::string> gun_namespace(std::string_view gun, std::string_view repository_host);

// The organization whose signed team roster (issue 15, tuf/roster.h) the GUN
// "<host>/_roster/<org>" is, or nullopt for any other GUN. `host` is any non-empty component,
// or exactly `repository_host` when that is set; <org> must be a valid name (validate_name).
std::optional<std::string> roster_organization(std::string_view gun,
                                               std::string_view repository_host);

// The grant target that stands for every repository of a namespace ("<namespace>/*", the
// organization default).
std::string namespace_target(std::string_view ns);

}  // namespace vouch::server::accounts
