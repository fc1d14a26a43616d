// An external Docker registry token issuer for bench/bench_tokens.py: the "external-token
// setup" that vouch-server (auth.type "token") and notary-server trust, beside vouch-server's
// own token service (auth.type "accounts"). It serves only /auth/token (server/token_service.h)
// over HTTPS, deciding with the real accounts rules (AccountsService over an in-memory store,
// Argon2id at vouch-server's default cost), and signs with a key given as a file, whose
// self-signed certificate the servers take as their rootcertbundle (they find it by the
// token's `kid`, the key's libtrust ID). Benchmark code: throwaway keys, accounts in memory.
//
//   bench_token_issuer <tls cert.pem> <tls key.pem> <signing key.pkcs8.der> <out dir>
//
// Environment: BENCH_USER_PASSWORD (the password of user "bench", 8..1024 bytes). It creates
// user "bench" (admin of its own namespace bench/*), service account "bench/ci" with read on
// bench/app and an API token for it, written to <out dir>/ci-token (mode 0600). Issuer and
// service "bench-issuer". Listens on 127.0.0.1 (a free port), prints "listening on <addr>"
// once it accepts connections, and stops on SIGTERM/SIGINT.

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "common/log.h"
#include "common/net/http_server.h"
#include "common/net/signals.h"
#include "common/work_queue.h"
#include "keys/private_key.h"
#include "server/accounts/accounts_service.h"
#include "server/accounts/memory_account_store.h"
#include "server/api.h"
#include "server/token_service.h"
#include "tests/support/memory_signer.h"

using namespace vouch;
namespace accounts = vouch::server::accounts;

namespace {

int die(const std::string& what) {
  std::fprintf(stderr, "bench_token_issuer: %s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  auto signals = net::SignalWatcher::start();
  const char* password = std::getenv("BENCH_USER_PASSWORD");
  if (!signals || argc != 5 || password == nullptr) {
    std::fprintf(stderr,
                 "usage: BENCH_USER_PASSWORD=.. bench_token_issuer <cert.pem> <key.pem> "
                 "<signing key.der> <out dir>\n");
    return 2;
  }
  log::init({log::Format::kText, "warn", nullptr});

  std::ifstream der_file(argv[3], std::ios::binary);
  const std::string der((std::istreambuf_iterator<char>(der_file)),
                        std::istreambuf_iterator<char>());
  auto signing_key = keys::PrivateKey::from_der(as_bytes(der));
  if (!signing_key) return die("signing key: " + signing_key.error().message);
  testing::MemorySigner signer;
  const keys::PublicKey token_key = signer.add_key(std::move(*signing_key));

  accounts::MemoryAccountStore store;
  auto service = accounts::AccountsService::create(store, SystemClock::instance(), {});
  if (!service) return die("accounts: " + service.error().message);
  accounts::AccountsService& decider = **service;
  // A system administrator only to set up; "bench" is a plain user, as in vouch-server's run.
  if (auto made = decider.bootstrap_admin("root", keys::SecretString(std::string(password)));
      !made) {
    return die("user root: " + made.error().message);
  }
  const accounts::Principal root{accounts::Principal::Kind::kUser, "root", true, ""};
  if (auto s = decider.create_user(root, "bench", keys::SecretString(std::string(password)));
      !s) {
    return die("user bench: " + s.error().message);
  }
  if (auto s = decider.create_service_account(root, "bench/ci"); !s) {
    return die("service account: " + s.error().message);
  }
  accounts::Grant grant;
  grant.subject = {accounts::GrantSubject::Kind::kServiceAccount, "bench/ci"};
  grant.target = "bench/app";
  grant.permission = accounts::Permission::kRead;
  if (auto s = decider.set_grant(root, grant); !s) return die("grant: " + s.error().message);
  auto ci_token = decider.create_token(root, "bench/ci", "bench");
  if (!ci_token) return die("token: " + ci_token.error().message);
  {
    const std::filesystem::path out = std::filesystem::path(argv[4]) / "ci-token";
    std::ofstream f(out, std::ios::trunc);
    ::chmod(out.c_str(), 0600);
    f << ci_token->text.view();
    if (!f.flush()) return die("cannot write " + out.string());
  }

  server::TokenServiceOptions options;
  options.issuer = "bench-issuer";
  options.service = "bench-issuer";
  options.realm = "bench-issuer";
  auto tokens = server::TokenService::create(decider, signer, token_key, options);
  if (!tokens) return die("token service: " + tokens.error().message);
  WorkQueue workers(2, 256, "tokens", "bench");

  net::HttpServerOptions http;
  http.listen = "127.0.0.1:0";
  http.tls.cert_file = argv[1];
  http.tls.key_file = argv[2];
  net::Handler not_found = [](net::Request&&, net::Responder resp) {
    resp.respond(server::transport_error_response(404));
  };
  auto started =
      net::HttpServer::start(http, server::route_token_requests(**tokens, workers, not_found));
  if (!started) return die("listen: " + started.error().message);
  std::printf("listening on %s\n", (*started)->local_address().c_str());
  std::fflush(stdout);
  (void)(*signals)->wait_for_shutdown();
  (*started)->stop();
  workers.stop();
  return 0;
}
