#pragma once

// The seam to a user directory (LDAP / Active Directory; issue 14 item 6). AccountsService asks
// a Directory to check the password of a user who has no local password; the LDAP
// implementation is server/ldap/ldap_directory.h (its own library, so that only vouch-server
// links libldap). No LDAP types here.

#include <string_view>

#include "common/result.h"
#include "keys/secret.h"

namespace vouch::server::accounts {

class Directory {
 public:
  virtual ~Directory() = default;

  // Whether `password` is the directory password of user `name` (the name the user typed, not
  // a DN). OK: it is. Code::kUnauthenticated / Reason::kBadCredentials: it is not, the name is
  // unknown or ambiguous, or the password is empty (refused before any bind: an empty
  // password is an anonymous bind on many servers). Code::kUnavailable / Reason::kUnavailable:
  // the directory could not be asked (unreachable, TLS failure, timeout, the service account
  // refused); never reported as a wrong password. Bounded in time by the implementation's
  // timeouts. Thread-safe.
  virtual Status check_password(std::string_view name, const keys::SecretString& password) = 0;
};

}  // namespace vouch::server::accounts
