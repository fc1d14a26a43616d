// delegation add|remove|list|purge (notary cmd/notary/delegations.go).

#include <algorithm>
#include <deque>
#include <set>

#include "client/changelist.h"
#include "cli/commands.h"
#include "common/log.h"
#include "common/strings.h"
#include "keys/pem.h"
#include "keys/public_key.h"
#include "tuf/metadata.h"

namespace vouch::cli {
namespace {

// A public key or certificate file.
constexpr std::size_t kMaxPublicKeyFileBytes = 256 * 1024;

Status stage(client::Repository& repo, Result<client::Change> change) {
  if (!change.ok()) return change.error();
  auto added = repo.changelist().add(*change);
  if (!added.ok()) return added.error();
  return {};
}

// notary's prettyPaths: sorted, "" shown as `"" <all paths>`.
std::vector<std::string> pretty_paths(std::vector<std::string> paths) {
  std::sort(paths.begin(), paths.end());
  for (auto& p : paths) {
    if (p.empty()) p = "\"\" <all paths>";
  }
  return paths;
}

// A public key for a delegation, as notary's ingestPublicKeys reads it: a PEM certificate, or
// a PEM "PUBLIC KEY" (as `key generate -o` and `docker trust key generate` write it, with a
// "role" header, which is ignored).
Result<keys::PublicKey> read_public_key(const std::string& path) {
  auto text = read_file(path, kMaxPublicKeyFileBytes);
  if (!text.ok()) {
    if (!std::filesystem::exists(path)) {
      return make_error(Reason::kIo, "file for public key does not exist: " + path);
    }
    return make_error(Reason::kIo, "unable to read public key from file: " + path);
  }
  auto key = keys::parse_public_key_pem(*text);
  if (!key.ok()) {
    return key.error().wrap("unable to parse valid public key certificate from PEM file " + path);
  }
  return key;
}

// ---- add -------------------------------------------------------------------------------------

struct AddArgs {
  std::string gun, role;
  std::vector<std::string> key_files, paths;
  std::vector<std::string> members;  // --member: their keys registered at the server (vouch)
  bool all_paths = false, publish = false;
};

Status run_add(Context& ctx, AddArgs a) {
  if (a.gun.empty() || a.role.empty() ||
      (a.key_files.empty() && a.members.empty() && a.paths.empty() && !a.all_paths)) {
    return usage_error("must specify the Global Unique Name and the role of the delegation "
                       "along with the public key certificate paths and/or a list of paths to "
                       "add");
  }
  std::vector<keys::PublicKey> keys;
  for (const auto& file : a.key_files) {
    VOUCH_ASSIGN_OR_RETURN(keys::PublicKey key, read_public_key(file));
    keys.push_back(std::move(key));
  }
  VOUCH_ASSIGN_OR_RETURN(std::vector<keys::PublicKey> registered, member_keys(ctx, a.members));
  for (auto& key : registered) keys.push_back(std::move(key));
  // notary's checkAllPaths: "" among the paths means --all-paths.
  if (std::find(a.paths.begin(), a.paths.end(), "") != a.paths.end()) a.all_paths = true;
  if (a.all_paths) a.paths = {""};
  VOUCH_ASSIGN_OR_RETURN(client::Repository repo, ctx.repository(a.gun, false));
  std::vector<std::string> ids;
  for (const auto& k : keys) ids.push_back(k.canonical_id());
  if (!keys.empty()) {
    VOUCH_RETURN_IF_ERROR(stage(repo, client::add_delegation_keys_change(a.role, std::move(keys))));
  }
  if (!a.paths.empty()) {
    VOUCH_RETURN_IF_ERROR(stage(repo, client::add_delegation_paths_change(a.role, a.paths)));
  }
  std::string items;
  if (!ids.empty()) items += "with keys [" + join(ids, " ") + "], ";
  if (!a.paths.empty()) items += "with paths [" + join(pretty_paths(a.paths), "\n") + "], ";
  write_stdout("\nAddition of delegation role " + a.role + " " + items + "to repository \"" +
               a.gun + "\" staged for next publish.\n\n");
  // A member publishes a new snapshot with every signature: with the snapshot key here
  // (`init --local-snapshot`, or a repository made by `notary init`) the server refuses it.
  if (repo.holds_snapshot_key().value_or(false)) {
    log::get("cli")->warn("the snapshot key of {} is in this trust directory, so members of {} "
                          "cannot publish on their own; run `vouch key rotate {} snapshot -r` "
                          "once to let the server sign snapshots",
                          a.gun, a.role, a.gun);
  }
  return a.publish ? ctx.auto_publish(a.gun) : Status{};
}

// ---- remove ----------------------------------------------------------------------------------

struct RemoveArgs {
  std::string gun, role;
  std::vector<std::string> key_ids, paths;
  bool all_paths = false, yes = false, publish = false;
};

Status run_remove(Context& ctx, RemoveArgs a) {
  if (a.gun.empty() || a.role.empty()) {
    return usage_error("must specify the Global Unique Name and the role of the delegation "
                       "along with optional keyIDs and/or a list of paths to remove");
  }
  if (!tuf::is_delegation_role(a.role)) {
    return make_error(Reason::kBadRole, "invalid delegation name " + a.role);
  }
  const bool remove_all = a.key_ids.empty() && a.paths.empty() && !a.all_paths;
  if (a.all_paths) a.paths.clear();
  VOUCH_ASSIGN_OR_RETURN(client::Repository repo, ctx.repository(a.gun, false));
  if (remove_all) {
    write_stdout("\nAre you sure you want to remove all data for this delegation? (yes/no)\n");
    if (a.yes) {
      write_stdout("Confirmed `yes` from flag\n");
    } else if (!ctx.confirm("", false)) {
      return usage_error("Aborting action.");
    }
    VOUCH_RETURN_IF_ERROR(stage(repo, client::delete_delegation_change(a.role)));
    write_stdout("\nForced removal (including all keys and paths) of delegation role " + a.role +
                 " to repository \"" + a.gun + "\" staged for next publish.\n\n");
  } else {
    if (a.all_paths) {
      VOUCH_RETURN_IF_ERROR(stage(repo, client::clear_delegation_paths_change(a.role)));
    }
    if (!a.key_ids.empty()) {
      VOUCH_RETURN_IF_ERROR(
          stage(repo, client::remove_delegation_keys_change(a.role, a.key_ids)));
    }
    if (!a.paths.empty()) {
      VOUCH_RETURN_IF_ERROR(stage(repo, client::remove_delegation_paths_change(a.role, a.paths)));
    }
    std::string items;
    if (!a.key_ids.empty()) items += "with keys [" + join(a.key_ids, " ") + "], ";
    if (a.all_paths) items += "with all paths, ";
    if (!a.paths.empty()) items += "with paths [" + join(pretty_paths(a.paths), "\n") + "], ";
    write_stdout("\nRemoval of delegation role " + a.role + " " + items + "to repository \"" +
                 a.gun + "\" staged for next publish.\n\n");
  }
  return a.publish ? ctx.auto_publish(a.gun) : Status{};
}

// ---- list ------------------------------------------------------------------------------------

struct DelegationRow {
  std::string role;
  std::vector<std::string> paths;
  std::vector<std::string> key_ids;  // canonical IDs, as notary's GetDelegationRoles shows them
  std::int64_t threshold = 1;
};

// Every delegation of every loaded targets role (notary GetDelegationRoles), sorted by name.
std::vector<DelegationRow> delegation_rows(const tuf::TrustedSet& trusted) {
  std::vector<DelegationRow> rows;
  std::deque<std::string> queue{std::string(tuf::kTargetsRole)};
  std::set<std::string, std::less<>> seen;
  while (!queue.empty()) {
    const std::string role = std::move(queue.front());
    queue.pop_front();
    if (!seen.insert(role).second) continue;
    const tuf::TrustedTargets* targets = trusted.targets(role);
    if (targets == nullptr) continue;
    const tuf::Delegations& delegations = targets->metadata.content.delegations;
    for (const auto& d : delegations.roles) {
      DelegationRow row{d.name, d.paths, {}, d.threshold};
      for (const auto& id : d.keyids) {
        auto key = delegations.keys.find(id);
        row.key_ids.push_back(key == delegations.keys.end() ? id : key->second.canonical_id());
      }
      rows.push_back(std::move(row));
      queue.push_back(d.name);
    }
  }
  std::sort(rows.begin(), rows.end(),
            [](const DelegationRow& a, const DelegationRow& b) { return a.role < b.role; });
  return rows;
}

Status run_list(Context& ctx, const std::string& gun, const std::string& output) {
  if (gun.empty()) return usage_error("Please provide a Global Unique Name as an argument to list");
  VOUCH_ASSIGN_OR_RETURN(client::Repository repo, ctx.repository(gun, true));
  auto trusted = repo.update();
  if (!trusted.ok()) {
    return trusted.error().wrap("Error retrieving delegation roles for repository " + gun);
  }
  const std::vector<DelegationRow> rows = delegation_rows(*trusted);
  // Who holds the keys, when the server knows (vouch): one lookup.
  std::vector<std::string> all_ids;
  for (const auto& r : rows) all_ids.insert(all_ids.end(), r.key_ids.begin(), r.key_ids.end());
  const std::map<std::string, client::RegisteredKey> owners = key_owners(ctx, all_ids);
  auto owner_of = [&owners](const std::string& id) {
    auto found = owners.find(id);
    return found == owners.end() ? std::string() : client::describe_owner(found->second);
  };
  if (output == "json") {
    Json out = Json::array();
    for (const auto& r : rows) {
      Json paths = Json::array();
      for (const auto& p : r.paths) paths.push(p);
      Json ids = Json::array();
      for (const auto& id : r.key_ids) ids.push(id);
      Json row = Json::object();
      row.set("role", r.role)
          .set("paths", std::move(paths))
          .set("key_ids", std::move(ids))
          .set("threshold", r.threshold);
      if (!owners.empty()) {
        Json members = Json::array();
        for (const auto& id : r.key_ids) {
          auto found = owners.find(id);
          if (found == owners.end()) continue;
          Json teams = Json::array();
          for (const auto& t : found->second.teams) teams.push(t);
          Json m = Json::object();
          m.set("key_id", id)
              .set("owner", found->second.owner)
              .set("kind", found->second.kind)
              .set("teams", std::move(teams));
          members.push(std::move(m));
        }
        row.set("members", std::move(members));
      }
      out.push(std::move(row));
    }
    write_stdout(out.dump());
    return {};
  }
  // A MEMBERS column only when the server named someone; else notary's table.
  std::vector<std::string> head{"ROLE", "PATHS", "KEY IDS", "THRESHOLD"};
  if (!owners.empty()) head.push_back("MEMBERS");
  Table table(head);
  for (const auto& r : rows) {
    const std::vector<std::string> paths = pretty_paths(r.paths);
    const std::size_t lines = std::max<std::size_t>({paths.size(), r.key_ids.size(), 1});
    for (std::size_t i = 0; i < lines; ++i) {
      std::vector<std::string> cells{i == 0 ? r.role : "", i < paths.size() ? paths[i] : "",
                                     i < r.key_ids.size() ? r.key_ids[i] : "",
                                     i == 0 ? std::to_string(r.threshold) : ""};
      if (!owners.empty()) cells.push_back(i < r.key_ids.size() ? owner_of(r.key_ids[i]) : "");
      table.add_row(std::move(cells));
    }
  }
  write_table_or(table, "\nNo delegations present in this repository.\n\n");
  return {};
}

// ---- purge -----------------------------------------------------------------------------------

Status run_purge(Context& ctx, const std::string& gun, const std::vector<std::string>& key_ids,
                 bool publish) {
  if (gun.empty()) {
    return usage_error("Please provide a single Global Unique Name as an argument to remove");
  }
  if (key_ids.empty()) {
    return usage_error("Please provide at least one key ID to be removed using the --key flag");
  }
  VOUCH_ASSIGN_OR_RETURN(client::Repository repo, ctx.repository(gun, false));
  Status staged = stage(repo, client::purge_delegation_keys_change(key_ids));
  if (!staged.ok()) return staged.error().wrap("failed to remove keys from delegations");
  write_stdout("Removal of the following keys from all delegations in " + gun +
               " staged for next publish:\n\t- " + join(key_ids, "\n\t- ") + "\n");
  return publish ? ctx.auto_publish(gun) : Status{};
}

}  // namespace

void add_delegation_commands(CLI::App& app, Context& ctx, Status& result) {
  CLI::App* group = app.add_subcommand("delegation", "Operates on delegations.");
  group->require_subcommand(1);
  {
    auto a = std::make_shared<AddArgs>();
    CLI::App* cmd = group->add_subcommand(
        "add", "Add a keys to delegation using the provided public key PEM encoded X509 "
               "certificates (or PEM public keys) in a specific Global Unique Name.");
    cmd->add_option("GUN", a->gun, "Globally Unique Name of the collection");
    cmd->add_option("ROLE", a->role, "Delegation role, e.g. targets/releases");
    cmd->add_option("KEYFILE", a->key_files, "X509 certificate or public key files");
    add_list_option(cmd, "--member", a->members,
                    "Members whose keys (registered at the trust server with `vouch key "
                    "register`) to add (vouch; needs `vouch login` or NOTARY_AUTH)");
    add_list_option(cmd, "--paths", a->paths, "List of paths to add");
    cmd->add_flag("--all-paths", a->all_paths, "Add all paths to this delegation");
    cmd->add_flag("-p,--publish", a->publish, kAutoPublishHelp);
    on_run(cmd, ctx, result, [&ctx, a] { return run_add(ctx, *a); });
  }
  {
    auto a = std::make_shared<RemoveArgs>();
    CLI::App* cmd = group->add_subcommand(
        "remove", "Remove KeyID(s) from the specified Role delegation in a specific Global "
                  "Unique Name.");
    cmd->add_option("GUN", a->gun, "Globally Unique Name of the collection");
    cmd->add_option("ROLE", a->role, "Delegation role");
    cmd->add_option("KEYID", a->key_ids, "Key IDs to remove");
    add_list_option(cmd, "--paths", a->paths, "List of paths to remove");
    cmd->add_flag("--all-paths", a->all_paths, "Remove all paths from this delegation");
    cmd->add_flag("-y,--yes", a->yes, "Answer yes to the removal question (no confirmation)");
    cmd->add_flag("-p,--publish", a->publish, kAutoPublishHelp);
    on_run(cmd, ctx, result, [&ctx, a] { return run_remove(ctx, *a); });
  }
  {
    auto gun = std::make_shared<std::string>();
    auto output = std::make_shared<std::string>("table");
    CLI::App* cmd = group->add_subcommand(
        "list", "Lists all delegations known to notary for a specific Global Unique Name.");
    cmd->add_option("GUN", *gun, "Globally Unique Name of the collection");
    add_output_option(cmd, output.get());
    on_run(cmd, ctx, result, [&ctx, gun, output] { return run_list(ctx, *gun, *output); });
  }
  {
    auto gun = std::make_shared<std::string>();
    auto key_ids = std::make_shared<std::vector<std::string>>();
    auto publish = std::make_shared<bool>(false);
    CLI::App* cmd = group->add_subcommand(
        "purge", "Remove KeyID(s) from all delegation roles in the given GUN, for which the "
                 "signing keys are available. Warnings will be printed for delegations that "
                 "cannot be updated.");
    cmd->add_option("GUN", *gun, "Globally Unique Name of the collection");
    add_list_option(cmd, "--key", *key_ids, "Delegation key IDs to be removed from the GUN");
    cmd->add_flag("-p,--publish", *publish, kAutoPublishHelp);
    on_run(cmd, ctx, result, [&ctx, gun, key_ids, publish] {
      return run_purge(ctx, *gun, *key_ids, *publish);
    });
  }
}

}  // namespace vouch::cli
