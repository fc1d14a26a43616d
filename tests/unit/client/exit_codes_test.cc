// The `vouch` CLI's exit codes (cli/output.h, README "Exit codes") for what the trust server
// answers, as client::notary_http_error turns its responses into errors: 0 success, 1 usage
// or configuration, 2 denied or refused by content, 3 transient, 4 keys or credentials. A
// refusal that retrying cannot fix is never 3, since CI pipelines retry on 3.

#include <doctest/doctest.h>

#include <string>

#include "cli/output.h"
#include "client/admin_api.h"
#include "client/http.h"
#include "client/remote.h"

using namespace vouch;
using vouch::cli::exit_code_for;

namespace {

// The exit code for `status` with Notary's error body, as an error the server answered.
int code_for(unsigned status, const std::string& body = "") {
  client::HttpResponse response;
  response.status = status;
  response.body = body;
  const Error error = client::notary_http_error(response, "publish", "https://trust.test",
                                                /*have_credentials=*/false);
  return exit_code_for(Error(error).wrap("publishing example.com/app"), /*from_server=*/true);
}

std::string notary_error(const std::string& code, const std::string& detail) {
  return R"({"errors": [{"code": ")" + code + R"(", "message": "refused", "detail": ")" + detail +
         R"("}]})";
}

}  // namespace

TEST_CASE("a publish the server refuses for its content is 2, not a transient 3") {
  CHECK(code_for(400, notary_error("INVALID_UPDATE", "targets/ci: bad signature")) ==
        cli::kExitVerification);
  CHECK(code_for(400, notary_error("INVALID_ROLE", "no such role")) == cli::kExitVerification);
  CHECK(code_for(400, "not json") == cli::kExitVerification);
  CHECK(code_for(413) == cli::kExitVerification);
  CHECK(code_for(404) == cli::kExitVerification);  // no trust data
}

TEST_CASE("credentials the server refuses are 4") {
  CHECK(code_for(401) == cli::kExitKey);
  CHECK(code_for(403) == cli::kExitKey);
}

TEST_CASE("an unavailable server, and publishers that keep going first, are 3") {
  CHECK(code_for(503) == cli::kExitNetwork);
  CHECK(code_for(500) == cli::kExitNetwork);
  CHECK(code_for(400, notary_error("VERSION", "old version")) == cli::kExitNetwork);
  CHECK(exit_code_for(make_error(Reason::kUnavailable, "connection refused"), false) ==
        cli::kExitNetwork);
}

TEST_CASE("local failures keep their codes") {
  CHECK(exit_code_for(make_error(Reason::kNoPassphrase, "VOUCH_ROOT_PASSPHRASE is not set"),
                      false) == cli::kExitKey);
  CHECK(exit_code_for(make_error(Code::kFailedPrecondition, Reason::kThresholdNotMet,
                                 "cannot sign snapshot"),
                      false) == cli::kExitKey);
  CHECK(exit_code_for(make_error(Reason::kBadSignature, "targets"), false) ==
        cli::kExitVerification);
  CHECK(exit_code_for(make_error(Reason::kIo, "cannot read x"), false) == cli::kExitUsage);
}

TEST_CASE("admin API refusals: credentials and permissions are 4, throttling is 3") {
  auto admin_code = [](unsigned status, const std::string& reason) {
    const Error error = client::admin_api_error(
        status, R"({"error":{"code":")" + reason + R"(","message":"no"}})", "https://trust.test");
    return exit_code_for(error, /*from_server=*/false);
  };
  CHECK(admin_code(401, "bad_credentials") == cli::kExitKey);
  CHECK(admin_code(403, "permission_denied") == cli::kExitKey);
  CHECK(admin_code(429, "throttled") == cli::kExitNetwork);
  CHECK(admin_code(503, "unavailable") == cli::kExitNetwork);
}
