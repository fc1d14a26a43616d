#pragma once

// AccountsService: users, organizations, teams, service accounts, API tokens and repository
// permissions (issue 14), over an AccountStore. It is the AccessDecider of vouch-server's token
// service and the one place of every accounts rule; the admin HTTP API and the CLI call its
// admin operations.
//
// Authorization. Every admin operation takes the acting Principal and checks it against the
// store as it is now (a demoted admin or a disabled user loses their rights at once):
//   users: create, disable/enable, delete, set admin      system admins
//          set password                                   system admins, or the user
//          get                                            system admins, or the user
//   organizations: create                                 any enabled user (becomes its admin)
//          delete                                         org admins, system admins
//          list all                                       system admins
//   memberships of a user (orgs, teams)                   system admins, or the user
//          members and org admins, teams, team members    org admins, system admins
//          list members, teams, team members              org members, system admins
//   service accounts "<owner>/<name>": create, delete,    the owner user, the owner org's
//          list, their tokens                             admins, system admins
//   API tokens of a user                                  the user, system admins
//   repository visibility and grants (GUN or "<ns>/*")    admin permission on that target
//   register a signing key (for the caller)               any live user or service account
//   list keys, look up key owners                         any authenticated caller
//   delete a registered key                               its owner, the owner's admins
// A user authenticated by an API token with a scope limit may only run the repository
// operations its scope allows (visibility, grants); every other operation needs a credential
// without a limit.
// A refused caller gets Code::kPermissionDenied / Reason::kPermissionDenied (anonymous callers
// get Code::kUnauthenticated / Reason::kNoCredentials). Bad names are kInvalidArgument /
// kMalformed; a user, team or service account named as a member or grant subject that does not
// exist is kInvalidArgument / kNotFound (HTTP 400); a missing object operated on is kNotFound;
// a name taken is kAlreadyExists / kConflict; deleting, disabling or demoting the last enabled
// system admin is kFailedPrecondition / kConflict.
//
// Records: the store's tables hold Boost.JSON objects encoded by this service (layout in
// server/accounts/README.md). Secrets never leave as anything but a SecretString shown once,
// are never logged and never reach on_change.
//
// Thread-safety: every method may be called concurrently; each is one store transaction
// (plus, for authenticate, the in-memory throttle under its own mutex).

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "keys/public_key.h"
#include "keys/signer.h"
#include "server/accounts/access.h"
#include "server/accounts/account_store.h"
#include "server/accounts/directory.h"
#include "server/accounts/passwords.h"
#include "server/accounts/permissions.h"

namespace vouch::server::accounts {

struct AccountsOptions {
  // Argon2id costs of new password hashes. Default: 19 MiB, 2 passes, 1 lane.
  PasswordHashOptions password_hash;
  // API token lifetime when create_token is given none (default 90 days), and the longest one
  // allowed (default 365 days; longer is kInvalidArgument / kTooLarge).
  std::chrono::seconds default_token_lifetime = std::chrono::hours(24 * 90);
  std::chrono::seconds max_token_lifetime = std::chrono::hours(24 * 365);
  // Lifetime of docker login's refresh tokens. Default 90 days.
  std::chrono::seconds refresh_token_lifetime = std::chrono::hours(24 * 90);
  // A token's last_used is written at most this often. Default 1 minute.
  std::chrono::seconds last_used_resolution = std::chrono::minutes(1);
  // Throttling of failed authentications, per source address: more than
  // throttle_max_failures failures within throttle_window make that source get
  // kResourceExhausted / kThrottled for throttle_lockout. Defaults: 10 in 1 minute, 5 minutes.
  // At most throttle_max_sources sources are tracked (default 100000); beyond that the
  // oldest are forgotten, so memory stays bounded under a spray of addresses.
  int throttle_max_failures = 10;
  std::chrono::seconds throttle_window = std::chrono::minutes(1);
  std::chrono::seconds throttle_lockout = std::chrono::minutes(5);
  std::size_t throttle_max_sources = 100000;
  // Registry host that GUNs must start with to have a namespace (names.h gun_namespace).
  // Default empty: Docker's rule (a first component that looks like a host is skipped).
  std::string repository_host;
  // Visibility of a repository that has no setting. Default private.
  Visibility default_visibility = Visibility::kPrivate;
  // Members' signing keys (register_key): the service name a registration statement must name
  // (vouch-server sets its token service's name; default "vouch-server"), how far its
  // issued_at may lie from the server's clock either way (default 5 minutes), and the most
  // keys one account may hold (default 64).
  std::string key_registration_service = "vouch-server";
  std::chrono::seconds key_statement_window = std::chrono::minutes(5);
  std::size_t max_keys_per_account = 64;
};

// The most key IDs one lookup_keys call takes.
inline constexpr std::size_t kMaxKeyLookup = 100;

// One change, reported to on_change after it committed (for the audit log). Never a secret.
struct ChangeEvent {
  std::string actor;   // the acting principal's name ("" for bootstrap)
  std::string action;  // e.g. "user.create", "team.member.add", "grant.set", "token.revoke"
  std::string target;  // what was changed: a user, "<org>/<team>", a GUN, a token id, ...
  std::string detail;  // e.g. "admin=true", "read-write", "member=bob"
};
using ChangeCallback = std::function<void(const ChangeEvent&)>;

// Paging for lists: items after `start_after` (by name or id; empty: from the first), at most
// `limit` (1..kMaxScanLimit; 0 is kInvalidArgument). A page's `next` is the start_after of
// the next page, empty on the last page.
struct PageRequest {
  std::string start_after;
  std::size_t limit = 100;
};
template <typename T>
struct Page {
  std::vector<T> items;
  std::string next;
};

struct UserInfo {
  std::string name;
  bool admin = false;
  bool disabled = false;
  TimePoint created;
};
struct OrgMember {
  std::string user;
  bool admin = false;
};
struct TeamInfo {
  std::string org;
  std::string name;
  std::string description;
};
struct ServiceAccountInfo {
  std::string name;  // "<owner>/<name>"
  std::string description;
  TimePoint created;
};
struct TokenInfo {
  std::string id;
  // The user or service account it authenticates.
  Principal::Kind owner_kind = Principal::Kind::kUser;
  std::string owner;
  bool refresh = false;     // a refresh token (docker login) rather than an API token
  std::string description;  // refresh tokens: the client id
  TimePoint created;
  TimePoint expires;
  std::optional<TimePoint> last_used;
  std::optional<ScopeLimit> scope;
};
struct NewToken {
  TokenInfo info;
  keys::SecretString text;  // shown once; never stored
};
// A registered signing key (register_key).
struct MemberKeyInfo {
  // The key ID as TUF metadata lists the key (`notary delegation list`): for a certificate,
  // the ID of the certificate form. canonical_id: the ID of the plain public key (equal to
  // key_id for plain keys); lookups accept either.
  std::string key_id;
  std::string canonical_id;
  keys::KeyType type = keys::KeyType::kEcdsa;
  // The public key or certificate in PEM, as registered.
  std::string pem;
  Principal::Kind owner_kind = Principal::Kind::kUser;
  std::string owner;
  TimePoint registered;
  std::optional<TimePoint> expires;  // a certificate's notAfter
};
// A lookup answer: the key, and the teams ("<org>/<team>") its owner is in now (none for a
// service account).
struct KeyOwner {
  MemberKeyInfo key;
  std::vector<std::string> teams;
};

struct RepositorySettings {
  std::string gun;
  Visibility visibility = Visibility::kPrivate;
  std::vector<Grant> grants;  // on this GUN exactly
};

class AccountsService final : public AccessDecider {
 public:
  // `store` and `clock` must outlive the service. Computes the dummy password hash (one
  // Argon2id run), hence fallible (kInternal).
  static Result<std::unique_ptr<AccountsService>> create(AccountStore& store, const Clock& clock,
                                                         AccountsOptions options);
  ~AccountsService() override;

  // Called after every committed change, from the calling thread; must not call back into the
  // service. Set before use (not thread-safe against concurrent calls).
  void set_on_change(ChangeCallback callback) { on_change_ = std::move(callback); }

  // Directory accounts (issue 14 item 6; server/README.md "Sign in with LDAP / Active
  // Directory"). With a directory set, authenticate() asks it for a user who has no local
  // password: a name with no user record (on success a directory user record is created: no
  // password hash, admin and disabled flags local as for every user) or a directory user's
  // record. A name with upper-case letters is the lower-cased user (directories ignore case;
  // vouch names are lower case). A local user with a password always wins: the directory is
  // never asked for that name (in any case), so a directory entry cannot take over a local
  // account (the first admin included).
  // The directory's kUnavailable passes through unchanged (HTTP 503), never as a wrong
  // password, and is not counted as a failure of the source. `directory` must outlive the
  // service; nullptr (the default) turns directory sign-in off. Set before use.
  void set_directory(Directory* directory) { directory_ = directory; }

  // Group sync: makes the directory-sourced members of team "<org>/<team>" exactly the users
  // in `names` (directory user names; each gets a directory user record if it has none, and
  // becomes a plain member of the org if it is not one). Members added locally stay, whether
  // or not they are in `names`; a name that is a local user with a password is skipped (a
  // directory group cannot put a local account in a team) and counted. At most
  // kMaxDirectorySyncNames names (more: kInvalidArgument / kTooLarge, nothing changed). One
  // store transaction. Errors: kNotFound (no such team), store errors. Runs as the system:
  // changes reach on_change with an empty actor and "source=directory" in the detail.
  static constexpr std::size_t kMaxDirectorySyncNames = 10000;
  struct DirectorySyncResult {
    std::size_t added = 0, removed = 0, skipped = 0;
  };
  Result<DirectorySyncResult> sync_directory_team(std::string_view team,
                                                  const std::vector<std::string>& names);

  // --- AccessDecider -------------------------------------------------------------------------
  Result<Principal> authenticate(std::string_view name, const keys::SecretString& secret,
                                 std::string_view source) override;
  Result<Permission> permission(const Principal& principal, std::string_view gun) override;
  Result<keys::SecretString> issue_refresh_token(const Principal& principal,
                                                 std::string_view client_id) override;
  Result<Principal> authenticate_refresh_token(const keys::SecretString& token,
                                               std::string_view source) override;
  // A token's text alone, API or refresh token ("vouch_<id>_<secret>", the admin API's
  // `Authorization: Bearer`): the token names its owner. Same failure and throttling rules as
  // authenticate().
  Result<Principal> authenticate_any_token(const keys::SecretString& token,
                                           std::string_view source);

  // --- First start ---------------------------------------------------------------------------
  // Creates system admin `name` when the store has no user at all; returns whether it did
  // (false: users exist, nothing changed). Bad name or password: kInvalidArgument.
  Result<bool> bootstrap_admin(std::string_view name, const keys::SecretString& password);

  // --- Users ---------------------------------------------------------------------------------
  Status create_user(const Principal& actor, std::string_view name,
                     const keys::SecretString& password, bool admin = false);
  Status set_user_disabled(const Principal& actor, std::string_view name, bool disabled);
  Status set_user_admin(const Principal& actor, std::string_view name, bool admin);
  Status set_password(const Principal& actor, std::string_view name,
                      const keys::SecretString& password);
  // Also removes the user's memberships, tokens and grants.
  Status delete_user(const Principal& actor, std::string_view name);
  Result<UserInfo> get_user(const Principal& actor, std::string_view name);
  Result<Page<UserInfo>> list_users(const Principal& actor, const PageRequest& page);

  // --- Organizations, members, teams ---------------------------------------------------------
  Status create_org(const Principal& actor, std::string_view name);
  // Also removes its members, teams (with their grants) and service accounts (with their tokens
  // and grants), and the grants on "<org>/*". Grants on single repositories of the namespace
  // stay with those repositories. Org admins and system admins.
  Status delete_org(const Principal& actor, std::string_view name);
  // Every organization: system admins only (users see theirs with list_memberships).
  Result<Page<std::string>> list_orgs(const Principal& actor, const PageRequest& page);
  // Adds `user` to `org` or changes their org-admin flag.
  Status set_org_member(const Principal& actor, std::string_view org, std::string_view user,
                        bool admin);
  // Also removes the user from the org's teams.
  Status remove_org_member(const Principal& actor, std::string_view org, std::string_view user);
  Result<Page<OrgMember>> list_org_members(const Principal& actor, std::string_view org,
                                           const PageRequest& page);
  Status create_team(const Principal& actor, std::string_view org, std::string_view team,
                     std::string_view description = "");
  // Also removes the team's members and grants.
  Status delete_team(const Principal& actor, std::string_view org, std::string_view team);
  Result<Page<TeamInfo>> list_teams(const Principal& actor, std::string_view org,
                                    const PageRequest& page);
  // Adds an existing user to a team (and to the org as a plain member if not one yet).
  Status add_team_member(const Principal& actor, std::string_view org, std::string_view team,
                         std::string_view user);
  Status remove_team_member(const Principal& actor, std::string_view org, std::string_view team,
                            std::string_view user);
  // The organizations and teams `user` belongs to (the user themself, or system admins).
  struct Memberships {
    struct Org {
      std::string org;
      bool admin = false;
    };
    std::vector<Org> orgs;
    std::vector<std::string> teams;  // "<org>/<team>"
  };
  Result<Memberships> list_memberships(const Principal& actor, std::string_view user);
  Result<Page<std::string>> list_team_members(const Principal& actor, std::string_view org,
                                              std::string_view team, const PageRequest& page);

  // --- Service accounts and tokens -----------------------------------------------------------
  Status create_service_account(const Principal& actor, std::string_view full_name,
                                std::string_view description = "");
  // Also removes its tokens and grants.
  Status delete_service_account(const Principal& actor, std::string_view full_name);
  Result<Page<ServiceAccountInfo>> list_service_accounts(const Principal& actor,
                                                         std::string_view owner,
                                                         const PageRequest& page);
  // A new API token for user or service account `owner` (a name with '/' is a service
  // account). lifetime: nullopt for the default; zero, negative or above the maximum is
  // kInvalidArgument.
  Result<NewToken> create_token(const Principal& actor, std::string_view owner,
                                std::string_view description,
                                std::optional<std::chrono::seconds> lifetime = std::nullopt,
                                std::optional<ScopeLimit> scope = std::nullopt);
  Result<Page<TokenInfo>> list_tokens(const Principal& actor, std::string_view owner,
                                      const PageRequest& page);
  Status revoke_token(const Principal& actor, std::string_view id);

  // --- Repositories --------------------------------------------------------------------------
  Status set_visibility(const Principal& actor, std::string_view gun, Visibility visibility);
  // `grant.target` is a GUN or "<namespace>/*"; permission kNone removes the grant.
  Status set_grant(const Principal& actor, const Grant& grant);
  // The settings of a GUN or namespace target (visibility meaningful for GUNs only).
  Result<RepositorySettings> get_repository(const Principal& actor, std::string_view target);

  // --- Members' signing keys (issue 14 item 7) -------------------------------------------------
  // Records that `pem` (a PEM public key or certificate, at most keys::kMaxPemSize) belongs to
  // the acting user or service account, which proves it by a registration statement
  // (keys/key_registration.h) for options.key_registration_service, its own name and
  // `issued_at`, signed by that key. Needs an enabled account and a credential without a
  // scope limit (kPermissionDenied). Errors: kInvalidArgument for a key that does not parse
  // (kMalformed, kKeyTooSmall, ...), an expired certificate (kExpired), a statement outside
  // the window (kExpired) or whose signature does not verify (kBadSignature, kWrongMethod);
  // kAlreadyExists / kConflict when the key (by either ID: a certificate and its plain key are
  // one key) is registered to another account, or to this one in the other form;
  // kFailedPrecondition / kTooLarge beyond max_keys_per_account. Registering the same key in
  // the same form again changes nothing and succeeds.
  Result<MemberKeyInfo> register_key(const Principal& actor, std::string_view pem,
                                     TimePoint issued_at, const keys::Signature& signature);
  // The keys of `owner` (a user, or "<owner>/<name>" for a service account), in key ID order
  // (at most max_keys_per_account). Any authenticated caller may look (server/README.md
  // "Members' signing keys" says why); kNotFound for an unknown account.
  Result<std::vector<MemberKeyInfo>> list_keys(const Principal& actor, std::string_view owner);
  // The owners of the keys among `key_ids` (1..kMaxKeyLookup IDs, else kInvalidArgument /
  // kTooLarge) that are registered, by either ID, in the order asked (IDs not registered are
  // left out; each asked ID answers at most once). Any authenticated caller.
  Result<std::vector<KeyOwner>> lookup_keys(const Principal& actor,
                                            const std::vector<std::string>& key_ids);
  // Removes a registration, by either ID: its owner, the owner user of a service account, the
  // owning org's admins, system admins. kNotFound if not registered.
  Status delete_key(const Principal& actor, std::string_view key_id);
  // The service name registration statements must name (options.key_registration_service).
  const std::string& key_registration_service() const {
    return options_.key_registration_service;
  }

 private:
  class Throttle;
  AccountsService(AccountStore& store, const Clock& clock, AccountsOptions options,
                  std::string dummy_hash);

  // refresh: the kind the token must be (an API token also needs `name` to be its owner);
  // nullopt: either kind, any name.
  Result<Principal> authenticate_token(std::string_view name, std::string_view text,
                                       std::optional<bool> refresh);
  Status throttle_check(std::string_view source);
  Result<Principal> authenticate_in_directory(std::string_view name,
                                              const keys::SecretString& secret,
                                              std::string_view source, bool known);
  Error fail_auth(std::string_view source);
  void notify(const Principal& actor, std::string action, std::string target, std::string detail);

  AccountStore& store_;
  const Clock& clock_;
  AccountsOptions options_;
  std::string dummy_hash_;
  std::unique_ptr<Throttle> throttle_;
  ChangeCallback on_change_;
  Directory* directory_ = nullptr;
};

}  // namespace vouch::server::accounts
