#pragma once

// The effective-permission rule of issue 14, as one pure function over plain inputs, so that it
// is tested as a matrix apart from storage. AccountsService gathers the inputs (namespace owner,
// org admin flag, team memberships, grants, visibility, token scope) and calls it.
//
// The rule, in order:
//   1. anonymous: read if the repository is public, else none (grants never apply);
//   2. a system administrator (kUser with admin): admin;
//   3. a user on their own namespace, or an admin of the organization that is the namespace:
//      admin (a service account is never an admin by ownership);
//   4. otherwise the maximum over the grants whose subject is the principal (user or service
//      account) or a team the principal is a member of, and whose target is the GUN itself or
//      its namespace ("<namespace>/*"); a public repository gives at least read;
//   5. a token scope limit, when present, caps the result (none for a GUN it does not match).
// Thread-safe (pure).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/accounts/access.h"

namespace vouch::server::accounts {

enum class Visibility : std::uint8_t { kPrivate, kPublic };
// "private" | "public".
std::string_view to_string(Visibility visibility);
std::optional<Visibility> parse_visibility(std::string_view text);

// Who a grant is given to.
struct GrantSubject {
  enum class Kind : std::uint8_t { kUser, kTeam, kServiceAccount };
  Kind kind = Kind::kUser;
  // kUser: the user name; kTeam: "<org>/<team>"; kServiceAccount: "<owner>/<name>".
  std::string name;
  friend bool operator==(const GrantSubject&, const GrantSubject&) = default;
};
// "user" | "team" | "service-account".
std::string_view to_string(GrantSubject::Kind kind);
std::optional<GrantSubject::Kind> parse_grant_subject_kind(std::string_view text);

// A permission given to a subject on one GUN or on a whole namespace ("<namespace>/*").
struct Grant {
  GrantSubject subject;
  std::string target;
  Permission permission = Permission::kNone;
  friend bool operator==(const Grant&, const Grant&) = default;
};

// The scope limit an API token may carry: it matches GUNs by `patterns` (an exact GUN; a prefix
// ending in "/*" that matches every GUN below it; or "*" for every GUN; no patterns at all
// matches every GUN) and allows at most `max_permission` on them, none elsewhere.
struct ScopeLimit {
  std::vector<std::string> patterns;
  Permission max_permission = Permission::kAdmin;
  friend bool operator==(const ScopeLimit&, const ScopeLimit&) = default;
};
// True when `gun` matches one of the scope's patterns (or there are none).
bool scope_matches(const ScopeLimit& scope, std::string_view gun);

// Who owns a GUN's namespace.
enum class NamespaceOwner : std::uint8_t {
  kNone,          // the GUN has no namespace, or nobody holds that name yet
  kUser,          // a user of that name
  kOrganization,  // an organization of that name
};

struct PermissionInputs {
  Principal principal;
  std::string gun;
  // The GUN's namespace (names.h gun_namespace); empty when it has none.
  std::string ns;
  NamespaceOwner owner = NamespaceOwner::kNone;
  // The principal is an admin of the organization `ns` (only with owner kOrganization).
  bool org_admin = false;
  // "<org>/<team>" of every team the principal is a member of.
  std::vector<std::string> teams;
  // Candidate grants; those whose subject or target does not apply are ignored, so callers may
  // pass every grant on the GUN and on its namespace.
  std::vector<Grant> grants;
  Visibility visibility = Visibility::kPrivate;
  // The scope limit of the API token that authenticated the principal, if any.
  std::optional<ScopeLimit> scope;
};

Permission effective_permission(const PermissionInputs& in);

}  // namespace vouch::server::accounts
