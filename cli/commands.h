#pragma once

// The command groups of `vouch`. Each add_* function registers its subcommands on `app`;
// a subcommand's callback runs the command and stores its outcome in `result`.
//
// Texts follow the notary 0.7 CLI (cmd/notary/{tuf,keys,delegations}.go), so that scripts
// written for notary keep working: the same success lines on stdout, the same tables. Errors
// go to stderr as "* fatal: <message>" (notary prints them on stdout; vouch keeps stdout for
// data, which matters for `verify`).

#include <CLI/CLI.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "client/member_keys.h"
#include "cli/context.h"
#include "common/result.h"

namespace vouch::cli {

// notary's help text for -p/--publish.
inline constexpr const char* kAutoPublishHelp =
    "Automatically attempt to publish after staging the change. Will also publish existing "
    "staged changes.";

// Runs `fn` as the subcommand's action: logging is set up from the global flags first, and the
// returned Status becomes the command's outcome.
void on_run(CLI::App* command, Context& ctx, Status& result, std::function<Status()> fn);

// A list option as notary's string slices take it: repeated and/or comma-separated
// (`-r a,b` or `-r a -r b`), never swallowing the positional arguments after it.
template <typename T>
CLI::Option* add_list_option(CLI::App* command, const std::string& name, std::vector<T>& into,
                             const std::string& help) {
  return command->add_option(name, into, help)->delimiter(',')->allow_extra_args(false);
}

// Adds `--output table|json` to a read command, storing the choice in `*format`.
void add_output_option(CLI::App* command, std::string* format);

// notary's commands on one trusted collection: init, add, addhash, remove, list, lookup,
// publish, status, reset, verify, witness, delete.
void add_tuf_commands(CLI::App& app, Context& ctx, Status& result);
// key list|generate|rotate|import|export|remove|passwd.
void add_key_commands(CLI::App& app, Context& ctx, Status& result);
// delegation add|remove|list|purge.
void add_delegation_commands(CLI::App& app, Context& ctx, Status& result);
// vouch's own: sign (stage, sign into the right role, publish; idempotent) and inspect.
void add_trust_commands(CLI::App& app, Context& ctx, Status& result);
// verify-image: the admission decision for one image under a vouch-verifier policy.
void add_verify_image_command(CLI::App& app, Context& ctx, Status& result);
// login, logout: a stored login per trust server (client/credentials.h).
void add_login_commands(CLI::App& app, Context& ctx, Status& result);
// admin user|org|member|team|service-account|token|grant|visibility|audit|whoami: the
// accounts of a vouch-server over its admin API (client/admin_api.h).
void add_admin_commands(CLI::App& app, Context& ctx, Status& result);

// admin roster publish|show|diff|verify: signed team rosters (cli/roster_commands.cc, issue 15),
// added to the `admin` group.
void add_roster_commands(CLI::App& admin, Context& ctx, Status& result);

// Members' signing keys (cli/member_key_commands.cc, client/member_keys.h): key register,
// registered and unregister, added to the `key` group.
void add_member_key_commands(CLI::App& key_group, Context& ctx, Status& result);
// After `key generate` (into the trust directory; not with -o, whose key is for someone
// else): registers `key` with the configured server when `vouch login` stored a login for it.
// A failure is a warning: the key is kept either way.
void register_if_logged_in(Context& ctx, const keys::PublicKey& key);
// Who holds each of `key_ids` at the configured server, by key ID (both ID forms of each key
// found), in one lookup. Empty without credentials for the server, on a server without
// accounts, or when the lookup fails (logged at debug): callers show bare IDs then.
std::map<std::string, client::RegisteredKey> key_owners(Context& ctx,
                                                        const std::vector<std::string>& key_ids);
// The registered keys of each of `members` (users or service accounts), as public keys
// (certificates as registered; expired certificates skipped with a warning). A member without
// a usable key is an error (Code kFailedPrecondition, Reason kNotFound).
Result<std::vector<keys::PublicKey>> member_keys(Context& ctx,
                                                 const std::vector<std::string>& members);

}  // namespace vouch::cli
