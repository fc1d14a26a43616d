// A test server for notary_cli_vs_token_service.sh: Notary's API (NotaryApi over a memory
// store, server keys in memory) and the built-in token service (/auth/token) on one HTTPS
// port, composed as vouch-server composes them for auth.type "accounts", with the fixed table
// of users of tests/unit/server/table_decider.h in place of the accounts store (which is not
// merged yet). Test code only: it holds keys in memory and has fixed passwords.
//
//   token_service_server <cert.pem> <key.pem>
//
// Listens on 127.0.0.1 (a free port), prints "listening on <addr>" once it accepts
// connections, and stops on SIGTERM/SIGINT. Users: alice/alice-pw (read-write on
// example.com/vouch/interop), acme/ci/vouch_ci_token (read on it).

#include <atomic>
#include <cstdio>
#include <memory>

#include "common/log.h"
#include "common/net/http_server.h"
#include "common/net/signals.h"
#include "common/work_queue.h"
#include "server/api.h"
#include "server/repository.h"
#include "server/storage/memory_store.h"
#include "server/token_service.h"
#include "tests/support/memory_signer.h"
#include "tests/unit/server/table_decider.h"

using namespace vouch;

int main(int argc, char** argv) {
  auto signals = net::SignalWatcher::start();
  if (!signals || argc != 3) {
    std::fprintf(stderr, "usage: token_service_server <cert.pem> <key.pem>\n");
    return 2;
  }
  log::init({log::Format::kText, "info", nullptr});
  const std::string gun = "example.com/vouch/interop";
  testing::TableDecider decider;
  decider.grants[{"alice", gun}] = server::accounts::Permission::kReadWrite;
  decider.grants[{"acme/ci", gun}] = server::accounts::Permission::kRead;

  testing::MemorySigner signer;
  server::MemoryStore store;
  server::Repository repository(store, signer, SystemClock::instance());
  server::TokenServiceOptions options;
  options.issuer = "vouch-server";
  options.service = "vouch-server";
  options.realm = "vouch-server";
  auto token_key = signer.create_key("", "token-service", keys::KeyType::kEcdsa);
  if (!token_key) return 1;
  auto tokens = server::TokenService::create(decider, signer, *token_key, options);
  if (!tokens) return 1;
  WorkQueue workers(2, 64, "tokens", "server");

  // The realm names the port, known only once listening: until the API exists, 503.
  std::atomic<server::NotaryApi*> api{nullptr};
  net::HttpServerOptions http;
  http.listen = "127.0.0.1:0";
  http.tls.cert_file = argv[1];
  http.tls.key_file = argv[2];
  net::Handler notary = [&api](net::Request&& r, net::Responder resp) {
    server::NotaryApi* a = api.load();
    if (a == nullptr) {
      resp.respond(server::transport_error_response(503));
      return;
    }
    a->handle(std::move(r), std::move(resp));
  };
  auto started =
      net::HttpServer::start(http, server::route_token_requests(**tokens, workers, notary));
  if (!started) {
    std::fprintf(stderr, "listen: %s\n", started.error().message.c_str());
    return 1;
  }
  auto authorizer = server::TokenAuthorizer::create(server::token_auth_options_for(
      **tokens, options, "https://" + (*started)->local_address() + "/auth/token"));
  if (!authorizer) return 1;
  server::NotaryApi notary_api(repository, **authorizer, {}, nullptr);
  api.store(&notary_api);
  std::printf("listening on %s\n", (*started)->local_address().c_str());
  std::fflush(stdout);
  (void)(*signals)->wait_for_shutdown();
  (*started)->stop();
  workers.stop();
  notary_api.drain();
  return 0;
}
