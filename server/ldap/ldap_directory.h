#pragma once

// Directory accounts over LDAP (issue 14 item 6): OpenLDAP or Active Directory, through
// OpenLDAP's libldap. This library (vouch_server_ldap) is the only one that links libldap.
//
// Password check (LdapDirectory::check_password): an empty password is refused before any
// connection (an empty password is an unauthenticated bind that many servers accept); then one
// connection: TLS (ldaps://, or ldap:// + StartTLS; the server certificate is verified against
// ca_file and its name), a simple bind as the service account (bind_dn), a subtree search under
// user_base with user_filter, "{username}" replaced by the name escaped per RFC 4515, which
// must find exactly one entry, and a simple bind as that entry's DN with the password.
//
// Group members (LdapDirectory::group_members): the group entry's member_attribute values,
// resolved to user names: a DN value (member, uniqueMember) must lie under user_base and its
// entry's name_attribute is the name; any other value (memberUid) is taken as a name and
// checked with the user search. Members that resolve to no user are left out.
//
// Time: every network step is bounded by `timeout` (connect, each operation), and a watchdog
// shuts the socket down when a password check has run 5 timeouts in all, or a group read's
// connect + TLS + service bind 3 (an ldaps:// handshake with a peer that accepts and stays
// silent would otherwise block for ever). Every method opens its own connection:
// thread-safe, nothing shared but the options. Sizes: a user
// search asks for at most 2 entries; a group may have at most max_group_members values
// (more: an error, nothing synced). Active Directory's ranged retrieval of very large groups
// (member;range=...) is not followed: such a group reads as over the limit.
//
// Secrets: the service password and the user's password are handed to libldap and never
// logged; the service password is held in a SecretString.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "keys/secret.h"
#include "server/accounts/directory.h"

namespace prometheus {
class Registry;
}

namespace vouch::server::ldap {

// A directory group whose members make up a team's directory-sourced members.
struct TeamMapping {
  std::string group;  // the group's DN
  std::string team;   // "<org>/<team>"
};

struct LdapOptions {
  // "ldaps://host:636" or "ldap://host:389" (with start_tls, or insecure_no_tls). Required.
  std::string url;
  // ldap:// only: upgrade with StartTLS before anything is sent (required unless
  // insecure_no_tls).
  bool start_tls = false;
  // Plain ldap:// with neither TLS nor StartTLS: passwords cross the network in clear. Only for
  // tests on loopback; create() refuses plain ldap:// without it.
  bool insecure_no_tls = false;
  // PEM CA certificate(s) that verify the server. Empty: the system's trust store.
  std::string ca_file;
  // The service account that searches users and groups (its password is create()'s
  // `bind_password`); empty: anonymous searches.
  std::string bind_dn;
  // Where users are searched (subtree). Required.
  std::string user_base;
  // "{username}" is replaced by the escaped name. OpenLDAP: "(uid={username})"; Active
  // Directory: "(sAMAccountName={username})".
  std::string user_filter = "(uid={username})";
  // The attribute whose value is the vouch user name (group sync). Default "uid"; Active
  // Directory: "sAMAccountName".
  std::string name_attribute = "uid";
  // Each network step: connect, TLS handshake, each LDAP operation. Default 5 s.
  std::chrono::milliseconds timeout{5000};
  // Group sync. A mapped group must lie under group_base when that is set, and match
  // group_filter (default "(objectClass=*)").
  std::string group_base;
  std::string group_filter = "(objectClass=*)";
  // The group's attribute listing members: "member" (groupOfNames, Active Directory),
  // "uniqueMember" (groupOfUniqueNames) or "memberUid" (posixGroup: names, not DNs).
  std::string member_attribute = "member";
  std::vector<TeamMapping> team_map;
  // Seconds between syncs (GroupSync); 0: only on demand.
  std::chrono::seconds sync_interval{0};
  // Most values one group may have.
  std::size_t max_group_members = 10000;
};

// RFC 4515 section 3: the value of an assertion in a search filter with '*', '(', ')', '\' and
// NUL as \2a, \28, \29, \5c, \00 (so a name can never change the filter's structure).
std::string escape_filter_value(std::string_view value);

class LdapDirectory final : public accounts::Directory {
 public:
  // Checks the options (url scheme, TLS rule, required fields, "{username}" in the filter,
  // team_map entries, a bind_password with bind_dn); kInvalidArgument with a message naming
  // the option. Connects to nothing.
  // `metrics` (optional): counter vouch_server_ldap_logins_total{outcome=ok|rejected|
  // unavailable}.
  static Result<std::unique_ptr<LdapDirectory>> create(
      LdapOptions options, keys::SecretString bind_password = {},
      std::shared_ptr<prometheus::Registry> metrics = nullptr);
  ~LdapDirectory() override;

  // accounts::Directory. Unreachable directory, TLS failure, timeout, a refused service
  // account: kUnavailable (logged, without secrets).
  Status check_password(std::string_view name, const keys::SecretString& password) override;

  // The user names of the members of group `group_dn` (see the file comment), sorted, no
  // duplicates. Errors: kUnavailable (as above), kNotFound (no such group, or outside
  // group_base / not matching group_filter), kResourceExhausted / kTooLarge (more than
  // max_group_members values).
  Result<std::vector<std::string>> group_members(std::string_view group_dn);

  const LdapOptions& options() const;

 private:
  struct Impl;
  explicit LdapDirectory(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vouch::server::ldap
