#pragma once

// A real OpenLDAP server (slapd) for C++ tests of directory accounts (issue 14 item 6): the C++
// side of tests/support/slapd.sh, which does the work (one recipe for shell and C++ tests; read
// it for the directory's contents, the TLS set-up and the ports). start() runs the script's
// slapd_test_start and reads the variables it sets; the destructor runs slapd_test_stop,
// which stops only this slapd (its own pid file) and removes its directory. Tests never skip:
// when slapd is missing or does not start, start() fails saying why.
//
// Not thread-safe; create and use it from one thread (code under test may use the server from
// any number of threads).

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace vouch::test {

class Slapd {
 public:
  static Result<std::unique_ptr<Slapd>> start();
  ~Slapd();
  Slapd(const Slapd&) = delete;
  Slapd& operator=(const Slapd&) = delete;

  // The script's variable `name` without its SLAPD_ prefix: "URL", "LDAPS_URL", "CA", "BASE",
  // "READER_DN", "READER_PASSWORD_FILE", "ADMIN_DN", "DIR", ... ("" if unknown).
  std::string get(std::string_view name) const;
  std::string url() const { return get("URL"); }              // ldap:// (StartTLS offered)
  std::string ldaps_url() const { return get("LDAPS_URL"); }  // ldaps://
  std::string ca_file() const { return get("CA"); }
  std::string base() const { return get("BASE"); }

  // Applies `ldif` as the rootdn (slapd_test_modify).
  Status modify(std::string_view ldif) const;
  // How many simple binds slapd has logged so far (slapd_test_binds).
  Result<int> binds() const;
  // Stops / restarts slapd on the same ports and data (slapd_test_down / slapd_test_up).
  Status down();
  Status up();

 private:
  Slapd() = default;
  // Runs `function` of slapd.sh with this server's variables; returns its stdout.
  Result<std::string> call(std::string_view function, std::string_view input = "") const;

  std::map<std::string, std::string, std::less<>> vars_;
};

}  // namespace vouch::test
