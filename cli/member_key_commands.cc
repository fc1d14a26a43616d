// Members' signing keys at vouch-server (issue 14 item 7; client/member_keys.h):
//   vouch key register <key-id> | --cert FILE     proves possession and records key -> account
//   vouch key registered [--member NAME]          lists an account's registered keys
//   vouch key unregister <key-id>
// and the helpers that `key generate` (register when logged in), `inspect` and `delegation
// list` (names beside key IDs) and `delegation add --member` use.

#include <map>
#include <utility>

#include "cli/commands.h"
#include "common/log.h"
#include "common/strings.h"
#include "keys/pem.h"

namespace vouch::cli {
namespace {

// A certificate given to `key register --cert`.
constexpr std::size_t kMaxCertificateFileBytes = 256 * 1024;

Status print_registered(const client::RegisteredKey& k, std::string_view server) {
  write_stdout("Registered " + k.keytype + " key " + k.key_id + " with " + std::string(server) +
               " as " + k.owner + "\n");
  return {};
}

Result<std::string> configured_server(Context& ctx) {
  VOUCH_ASSIGN_OR_RETURN(const client::ClientConfig* cfg, ctx.config());
  return cfg->remote_server.url;
}

Status run_register(Context& ctx, const std::string& key_id, const std::string& cert_file) {
  if (key_id.empty() == cert_file.empty()) {
    return usage_error("give either the key ID of a key in the trust directory or --cert FILE");
  }
  VOUCH_ASSIGN_OR_RETURN(keys::LocalSigner * signer, ctx.signer());
  std::optional<keys::PublicKey> key;
  if (!cert_file.empty()) {
    VOUCH_ASSIGN_OR_RETURN(std::string text, read_file(cert_file, kMaxCertificateFileBytes));
    auto parsed = keys::parse_public_key_pem(text);
    if (!parsed) return std::move(parsed).error().wrap(cert_file);
    key = std::move(*parsed);
  } else {
    if (key_id.size() != 64) return usage_error("invalid key ID provided: " + key_id);
    auto held = signer->public_key(key_id);
    if (!held) return std::move(held).error().wrap("key " + key_id);
    key = std::move(*held);
  }
  VOUCH_ASSIGN_OR_RETURN(client::AdminClient admin, ctx.admin());
  auto made = client::register_key(admin, *signer, *key, SystemClock::instance().now());
  if (!made) {
    if (made.error().reason == Reason::kUnknownKey) {
      return std::move(made).error().wrap("the private key of " + key->id() +
                                          " is not in the trust directory");
    }
    return std::move(made).error();
  }
  VOUCH_ASSIGN_OR_RETURN(std::string server, configured_server(ctx));
  return print_registered(*made, server);
}

Json key_json(const client::RegisteredKey& k) {
  Json teams = Json::array();
  for (const auto& t : k.teams) teams.push(t);
  Json row = Json::object();
  row.set("key_id", k.key_id)
      .set("canonical_id", k.canonical_id)
      .set("keytype", k.keytype)
      .set("owner", k.owner)
      .set("kind", k.kind)
      .set("expires", k.expires)
      .set("teams", std::move(teams))
      .set("public_key", k.public_key);
  return row;
}

Status run_registered(Context& ctx, const std::string& member, const std::string& output) {
  VOUCH_ASSIGN_OR_RETURN(client::AdminClient admin, ctx.admin());
  VOUCH_ASSIGN_OR_RETURN(auto keys, client::list_registered_keys(admin, member));
  if (output == "json") {
    Json out = Json::array();
    for (const auto& k : keys) out.push(key_json(k));
    write_stdout(out.dump());
    return {};
  }
  Table table({"KEY ID", "TYPE", "OWNER", "EXPIRES"});
  for (const auto& k : keys) {
    table.add_row({k.key_id, k.keytype, k.owner, k.expires.empty() ? "-" : k.expires});
  }
  write_table_or(table, "No registered keys.\n");
  return {};
}

Status run_unregister(Context& ctx, const std::string& key_id) {
  if (key_id.empty()) return usage_error("must specify the key ID to unregister");
  VOUCH_ASSIGN_OR_RETURN(client::AdminClient admin, ctx.admin());
  VOUCH_RETURN_IF_ERROR(client::unregister_key(admin, key_id));
  write_stdout("Unregistered key " + key_id + "\n");
  return {};
}

// Whether `vouch login` stored a login for the configured server.
bool logged_in(Context& ctx) {
  auto cfg = ctx.config();
  if (!cfg) return false;
  auto logins = ctx.credential_store();
  if (!logins) return false;
  auto stored = logins->find((*cfg)->remote_server.url);
  return stored && stored->has_value();
}

}  // namespace

void add_member_key_commands(CLI::App& key_group, Context& ctx, Status& result) {
  {
    auto key_id = std::make_shared<std::string>();
    auto cert = std::make_shared<std::string>();
    CLI::App* cmd = key_group.add_subcommand(
        "register",
        "Registers a signing key of yours with the trust server (vouch; needs `vouch login` or "
        "NOTARY_AUTH): proves that you hold its private key, so that others see your name "
        "beside its key ID and can delegate to you by name. Give the key ID of a key in the "
        "trust directory, or --cert with a certificate of such a key.");
    cmd->add_option("KEYID", *key_id, "Key ID");
    cmd->add_option("--cert", *cert, "A PEM certificate of a key in the trust directory");
    on_run(cmd, ctx, result, [&ctx, key_id, cert] { return run_register(ctx, *key_id, *cert); });
  }
  {
    auto member = std::make_shared<std::string>();
    auto output = std::make_shared<std::string>("table");
    CLI::App* cmd = key_group.add_subcommand(
        "registered", "Lists the keys registered with the trust server by you or --member (vouch).");
    cmd->add_option("--member", *member, "A user, or a service account <owner>/<name>");
    add_output_option(cmd, output.get());
    on_run(cmd, ctx, result,
           [&ctx, member, output] { return run_registered(ctx, *member, *output); });
  }
  {
    auto key_id = std::make_shared<std::string>();
    CLI::App* cmd = key_group.add_subcommand(
        "unregister", "Removes a key's registration from the trust server (vouch).");
    cmd->add_option("KEYID", *key_id, "Key ID");
    on_run(cmd, ctx, result, [&ctx, key_id] { return run_unregister(ctx, *key_id); });
  }
}

void register_if_logged_in(Context& ctx, const keys::PublicKey& key) {
  if (!logged_in(ctx)) return;
  auto logger = log::get("cli");
  auto server = configured_server(ctx);
  if (!server) return;
  Result<client::RegisteredKey> made = make_error(Reason::kInternal, "not registered");
  auto admin = ctx.admin();
  auto signer = ctx.signer();
  if (!admin) {
    made = std::move(admin).error();
  } else if (!signer) {
    made = std::move(signer).error();
  } else {
    made = client::register_key(*admin, **signer, key, SystemClock::instance().now());
  }
  if (!made) {
    logger->warn("key {} was generated but not registered with {}: {} (retry with `vouch key "
                 "register {}`)",
                 key.id(), *server, made.error().message, key.id());
    return;
  }
  (void)print_registered(*made, *server);
}

std::map<std::string, client::RegisteredKey> key_owners(Context& ctx,
                                                        const std::vector<std::string>& key_ids) {
  std::map<std::string, client::RegisteredKey> out;
  if (key_ids.empty()) return out;
  auto admin = ctx.admin();
  // Not logged in: bare IDs, as before.
  if (!admin) return out;
  auto found = client::lookup_key_owners(*admin, key_ids);
  if (!found) {
    // A server without accounts (404), or one that refuses: the IDs alone, as before.
    log::get("cli")->debug("no key owners from the trust server: {}", found.error().message);
    return out;
  }
  for (auto& k : *found) {
    out.emplace(k.canonical_id, k);
    out.emplace(k.key_id, std::move(k));
  }
  return out;
}

Result<std::vector<keys::PublicKey>> member_keys(Context& ctx,
                                                 const std::vector<std::string>& members) {
  std::vector<keys::PublicKey> out;
  if (members.empty()) return out;
  VOUCH_ASSIGN_OR_RETURN(client::AdminClient admin, ctx.admin());
  for (const auto& member : members) {
    auto listed = client::list_registered_keys(admin, member);
    if (!listed) return std::move(listed).error().wrap("--member " + member);
    std::size_t usable = 0;
    for (const auto& k : *listed) {
      auto key = keys::parse_public_key_pem(k.public_key);
      if (!key) {
        return std::move(key).error().wrap("--member " + member + ": key " + k.key_id);
      }
      // The server lists certificates with their expiry; an expired one signs nothing.
      if (const keys::Certificate* cert = key->certificate();
          cert != nullptr && cert->not_after() <= SystemClock::instance().now()) {
        log::get("cli")->warn("--member {}: certificate {} has expired; skipped", member, k.key_id);
        continue;
      }
      out.push_back(std::move(*key));
      ++usable;
    }
    if (usable == 0) {
      return make_error(Code::kFailedPrecondition, Reason::kNotFound,
                        "--member " + member + " has no registered signing key (they run "
                        "`vouch key register` or `vouch key generate` while logged in)");
    }
  }
  return out;
}

}  // namespace vouch::cli
