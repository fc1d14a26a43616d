#include "server/accounts/permissions.h"

#include <algorithm>

#include "common/enum_names.h"
#include "server/accounts/names.h"

namespace vouch::server::accounts {

constexpr EnumName<Visibility> kVisibilityNames[] = {{Visibility::kPrivate, "private"},
                                                     {Visibility::kPublic, "public"}};
static_assert(lists_every_value(kVisibilityNames, Visibility::kPublic));
std::string_view to_string(Visibility v) { return name_of(kVisibilityNames, v, "private"); }
std::optional<Visibility> parse_visibility(std::string_view text) {
  return value_of(kVisibilityNames, text);
}

using SubjectKind = GrantSubject::Kind;
constexpr EnumName<SubjectKind> kSubjectKindNames[] = {
    {SubjectKind::kUser, "user"},
    {SubjectKind::kTeam, "team"},
    {SubjectKind::kServiceAccount, "service-account"}};
static_assert(lists_every_value(kSubjectKindNames, SubjectKind::kServiceAccount));
std::string_view to_string(SubjectKind kind) { return name_of(kSubjectKindNames, kind, "user"); }
std::optional<SubjectKind> parse_grant_subject_kind(std::string_view text) {
  return value_of(kSubjectKindNames, text);
}

bool scope_matches(const ScopeLimit& scope, std::string_view gun) {
  if (scope.patterns.empty()) return true;
  for (const std::string& p : scope.patterns) {
    if (p == "*" || p == gun) return true;
    if (p.size() >= 2 && p.ends_with("/*")) {
      std::string_view prefix(p.data(), p.size() - 1);  // keeps the '/'
      if (gun.size() > prefix.size() && gun.starts_with(prefix)) return true;
    }
  }
  return false;
}

namespace {

Permission unscoped(const PermissionInputs& in) {
  const Principal& who = in.principal;
  const bool is_public = in.visibility == Visibility::kPublic;
  if (who.kind == Principal::Kind::kAnonymous) {
    return is_public ? Permission::kRead : Permission::kNone;
  }
  if (who.kind == Principal::Kind::kUser) {
    if (who.admin) return Permission::kAdmin;
    if (!in.ns.empty()) {
      if (in.owner == NamespaceOwner::kUser && who.name == in.ns) return Permission::kAdmin;
      if (in.owner == NamespaceOwner::kOrganization && in.org_admin) return Permission::kAdmin;
    }
  }
  Permission best = is_public ? Permission::kRead : Permission::kNone;
  const std::string ns_target = in.ns.empty() ? std::string() : namespace_target(in.ns);
  for (const Grant& g : in.grants) {
    bool target = g.target == in.gun || (!ns_target.empty() && g.target == ns_target);
    if (!target) continue;
    bool subject = false;
    switch (g.subject.kind) {
      case GrantSubject::Kind::kUser:
        subject = who.kind == Principal::Kind::kUser && g.subject.name == who.name;
        break;
      case GrantSubject::Kind::kServiceAccount:
        subject = who.kind == Principal::Kind::kServiceAccount && g.subject.name == who.name;
        break;
      case GrantSubject::Kind::kTeam:
        subject = std::find(in.teams.begin(), in.teams.end(), g.subject.name) != in.teams.end();
        break;
    }
    if (subject) best = std::max(best, g.permission);
  }
  return best;
}

}  // namespace

Permission effective_permission(const PermissionInputs& in) {
  Permission p = unscoped(in);
  if (in.scope) {
    if (!scope_matches(*in.scope, in.gun)) return Permission::kNone;
    p = std::min(p, in.scope->max_permission);
  }
  return p;
}

}  // namespace vouch::server::accounts
