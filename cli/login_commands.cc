// `vouch login [<server>]` and `vouch logout [<server>]` (issue 14): a login per trust server,
// stored in the trust directory so that later commands (publish, sign, admin) authenticate
// without NOTARY_AUTH. The password is exchanged at the server's token service
// (POST <server>/auth/token, grant_type=password, access_type=offline, client_id=vouch) for
// a refresh token, and only that is stored (client/credentials.h). Service accounts log in
// with their API token as the password. See client/README.md "Accounts".

#include <algorithm>
#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "cli/output.h"
#include "client/admin_api.h"
#include "client/credentials.h"
#include "common/log.h"
#include "keys/passphrase.h"

namespace vouch::cli {
namespace {

constexpr std::size_t kMaxTokenAnswer = 64 * 1024;

// The server's base URL without a trailing '/', and its origin.
struct Server {
  std::string base;
  std::string origin;
};

Result<Server> server_of(Context& ctx, const std::string& given) {
  std::string url = given;
  if (url.empty()) {
    VOUCH_ASSIGN_OR_RETURN(const client::ClientConfig* cfg, ctx.config());
    url = cfg->remote_server.url;
  }
  auto origin = client::url_origin(url);
  if (!origin.ok()) return usage_error("server URL: " + origin.error().message);
  while (!url.empty() && url.back() == '/') url.pop_back();
  return Server{url, *origin};
}

void append(keys::SecretString& out, std::string_view text) {
  for (char c : text) out.push_back(c);
}

// A form field for application/x-www-form-urlencoded, into a SecretString.
void append_field(keys::SecretString& form, std::string_view name, std::string_view value) {
  if (!form.empty()) form.push_back('&');
  append(form, name);
  form.push_back('=');
  std::string escaped = client::escape_path(value, /*keep_slash=*/false);
  append(form, escaped);
  std::fill(escaped.begin(), escaped.end(), '\0');
}

// The first error message of a token service answer ({"errors":[{"code","message"}]}).
std::string token_service_message(std::string_view body) {
  auto doc = client::parse_json(body, 32);
  const boost::json::object* object = doc.ok() ? doc->if_object() : nullptr;
  const boost::json::value* errors = object != nullptr ? object->if_contains("errors") : nullptr;
  if (errors == nullptr || !errors->is_array() || errors->get_array().empty()) return "";
  const boost::json::object* first = errors->get_array().front().if_object();
  const boost::json::value* message = first != nullptr ? first->if_contains("message") : nullptr;
  if (message == nullptr || !message->is_string()) return "";
  std::string out(client::json_view(message->get_string()).substr(0, 256));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20) c = '?';
  }
  return out;
}

// Revokes a stored login's refresh token at the server (DELETE /api/v1/tokens/<id>, with the
// token itself as the credential).
Status revoke_at_server(const client::ClientConfig& cfg, const Server& server,
                        const keys::SecretString& token) {
  const auto id = client::api_token_id(token.view());
  if (!id) return make_error(Reason::kMalformed, "the stored token has no ID");
  VOUCH_ASSIGN_OR_RETURN(client::HttpClient http,
                         client::HttpClient::create(client::http_options(cfg)));
  keys::SecretString bearer("Bearer ");
  append(bearer, token.view());
  http.set_origin_authorization(server.origin, std::move(bearer));
  VOUCH_ASSIGN_OR_RETURN(client::AdminClient admin, client::AdminClient::create(server.base, http));
  if (auto done = admin.revoke_token(*id); !done.ok()) return std::move(done).error();
  return {};
}

Status login(Context& ctx, const std::string& url, const std::string& username_flag,
             bool password_stdin) {
  VOUCH_ASSIGN_OR_RETURN(const Server server, server_of(ctx, url));
  if (server.origin.rfind("https://", 0) != 0) {
    return usage_error("vouch login sends the password only over HTTPS, not to " +
                       server.origin);
  }
  client::BasicCredentials credentials;
  if (password_stdin) {
    if (username_flag.empty()) return usage_error("--password-stdin needs --username");
    credentials.username = username_flag;
    VOUCH_ASSIGN_OR_RETURN(credentials.password, read_stdin_secret());
  } else if (const char* auth = std::getenv("NOTARY_AUTH"); auth != nullptr && *auth != '\0') {
    auto parsed = client::parse_notary_auth(auth);
    if (!parsed.ok()) return parsed.error().wrap("NOTARY_AUTH");
    credentials = std::move(*parsed);
  } else {
    auto entered = keys::prompt_credentials(server.origin);
    if (!entered.ok()) {
      Error e = std::move(entered).error();
      if (e.reason == Reason::kNoPassphrase && e.code != Code::kCancelled) {
        e.message = "no terminal to ask for the password on: use --username and "
                    "--password-stdin, or set NOTARY_AUTH";
      }
      return e;
    }
    credentials.username = std::move(entered->username);
    credentials.password = std::move(entered->password);
  }

  // A transport of its own: no stored login, no prompt, so a refusal is an answer.
  VOUCH_ASSIGN_OR_RETURN(const client::ClientConfig* cfg, ctx.config());
  auto http = client::HttpClient::create(client::http_options(*cfg));
  if (!http.ok()) return http.error().wrap("TLS configuration");
  keys::SecretString form;
  append_field(form, "grant_type", "password");
  append_field(form, "username", credentials.username);
  append_field(form, "password", credentials.password.view());
  append_field(form, "access_type", "offline");
  append_field(form, "client_id", "vouch");
  const std::string realm = server.base + "/auth/token";
  auto answer = http->send("POST", realm, form.view(), "application/x-www-form-urlencoded",
                           kMaxTokenAnswer);
  if (!answer.ok()) return answer.error().wrap("login");
  const unsigned status = answer->status;
  if (status == 401 || status == 403) {
    return make_error(Code::kUnauthenticated, Reason::kBadCredentials,
                      "login to " + server.origin + " refused: wrong user name or password");
  }
  if (status == 429) {
    return make_error(Code::kResourceExhausted, Reason::kThrottled,
                      "login to " + server.origin +
                          " refused: too many failed logins from here, try again later");
  }
  if (status == 404 || status == 405) {
    return make_error(Code::kFailedPrecondition, Reason::kNotFound,
                      server.origin + " has no token service at /auth/token (vouch-server "
                                      "with auth.type \"accounts\" has one)");
  }
  if (status >= 500) {
    return make_error(Code::kUnavailable, Reason::kUnavailable,
                      "login to " + server.origin + ": HTTP " + std::to_string(status));
  }
  if (status != 200) {
    const std::string why = token_service_message(answer->body);
    return make_error(Code::kInvalidArgument, Reason::kNone,
                      "login to " + server.origin + ": HTTP " + std::to_string(status) +
                          (why.empty() ? "" : ": " + why));
  }
  auto doc = client::parse_json(answer->body, 8);
  std::fill(answer->body.begin(), answer->body.end(), '\0');
  const boost::json::object* object = doc.ok() ? doc->if_object() : nullptr;
  boost::json::value* refresh = object != nullptr ? doc->get_object().if_contains("refresh_token")
                                                  : nullptr;
  if (refresh == nullptr || !refresh->is_string() || refresh->get_string().empty()) {
    return make_error(Reason::kMalformed,
                      "the token service of " + server.origin + " gave no refresh token");
  }
  client::StoredLogin stored;
  stored.server = server.base;
  stored.username = credentials.username;
  stored.realm = realm;
  boost::json::string& refresh_text = refresh->get_string();
  stored.refresh_token = keys::SecretString(client::json_view(refresh_text));
  std::fill(refresh_text.begin(), refresh_text.end(), '\0');
  VOUCH_ASSIGN_OR_RETURN(const client::CredentialStore logins, ctx.credential_store());
  VOUCH_ASSIGN_OR_RETURN(std::optional<client::StoredLogin> previous, logins.find(server.base));
  VOUCH_RETURN_IF_ERROR(logins.save(stored));
  log::get("cli")->info("login for {} stored in {}", server.origin, logins.path().string());
  if (previous) {
    // The login this one replaces is of no use any more: revoke it (best effort; vouch-server
    // lets only users revoke their own tokens, so a service account's stays until it expires).
    if (auto revoked = revoke_at_server(*cfg, server, previous->refresh_token); !revoked.ok()) {
      log::get("cli")->info("the previous login's token was not revoked: {}",
                            revoked.error().message);
    }
  }
  write_stdout("Login Succeeded\n");
  return {};
}

Status logout(Context& ctx, const std::string& url) {
  VOUCH_ASSIGN_OR_RETURN(const Server server, server_of(ctx, url));
  VOUCH_ASSIGN_OR_RETURN(const client::CredentialStore logins, ctx.credential_store());
  VOUCH_ASSIGN_OR_RETURN(std::optional<client::StoredLogin> removed, logins.remove(server.base));
  if (!removed) {
    write_stdout("Not logged in to " + server.origin + "\n");
    return {};
  }
  write_stdout("Removing login credentials for " + server.origin + "\n");
  // Revoke the refresh token at the server too, so a copy of the file is worthless. The login
  // is gone locally whatever the server says.
  VOUCH_ASSIGN_OR_RETURN(const client::ClientConfig* cfg, ctx.config());
  const Status revoked = revoke_at_server(*cfg, server, removed->refresh_token);
  if (!revoked.ok()) {
    std::fprintf(stderr, "* warning: the token was not revoked at the server: %s\n",
                 revoked.error().message.c_str());
  }
  return {};
}

}  // namespace

void add_login_commands(CLI::App& app, Context& ctx, Status& result) {
  struct Args {
    std::string server;
    std::string username;
    bool password_stdin = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* in = app.add_subcommand(
      "login",
      "Logs in to a trust server (default: the configured one) and stores a revocable token "
      "for it in the trust directory; the password is never stored");
  in->add_option("server", args->server, "Trust server URL (https://...)");
  in->add_option("-u,--username", args->username, "Username (a service account: owner/name)");
  in->add_flag("--password-stdin", args->password_stdin,
               "Take the password (or API token) from stdin");
  on_run(in, ctx, result,
         [args, &ctx]() { return login(ctx, args->server, args->username, args->password_stdin); });

  auto out_server = std::make_shared<std::string>();
  CLI::App* out = app.add_subcommand(
      "logout", "Removes the stored login for a trust server and revokes its token there");
  out->add_option("server", *out_server, "Trust server URL");
  on_run(out, ctx, result, [out_server, &ctx]() { return logout(ctx, *out_server); });
}

}  // namespace vouch::cli
