// init, add, addhash, remove, list, lookup, publish, status, reset, verify, witness, delete:
// notary's commands on one trusted collection (cmd/notary/tuf.go).

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "client/changelist.h"
#include "cli/commands.h"
#include "common/encoding.h"
#include "common/fs.h"
#include "common/log.h"
#include "keys/public_key.h"
#include "tuf/json.h"
#include "tuf/metadata.h"

namespace vouch::cli {
namespace {

// Target files are hashed in memory, as notary does; this bounds what `add` reads.
constexpr std::size_t kMaxTargetFileBytes = std::size_t{1} << 30;
// --custom files.
constexpr std::size_t kMaxCustomFileBytes = std::size_t{1} << 20;
// Root key and certificate files.
constexpr std::size_t kMaxKeyFileBytes = 64 * 1024;

Result<std::optional<tuf::json::Value>> read_custom(const std::string& path) {
  if (path.empty()) return std::optional<tuf::json::Value>();
  VOUCH_ASSIGN_OR_RETURN(std::string text, read_file(path, kMaxCustomFileBytes));
  auto parsed = tuf::json::parse(text);
  if (!parsed.ok()) return parsed.error().wrap("--custom " + path);
  return std::optional<tuf::json::Value>(std::move(*parsed));
}

std::vector<std::string> roles_or_targets(const std::vector<std::string>& roles) {
  if (roles.empty()) return {std::string(tuf::kTargetsRole)};
  return roles;
}

Status stage(client::Repository& repo, Result<client::Change> change) {
  if (!change.ok()) return change.error();
  auto added = repo.changelist().add(*change);
  if (!added.ok()) return added.error();
  return {};
}

std::string hex_sha256(const tuf::FileMeta& meta) {
  auto it = meta.hashes.find("sha256");
  return it == meta.hashes.end() ? std::string() : hex_encode(it->second);
}

Json target_json(const client::TargetInfo& target) {
  Json hashes = Json::object();
  for (const auto& [algorithm, digest] : target.meta.hashes) hashes.set(algorithm, hex_encode(digest));
  Json signers = Json::array();
  for (const auto& key : target.signers) signers.push(key.id());
  Json out = Json::object();
  out.set("name", target.name)
      .set("digest", hex_sha256(target.meta))
      .set("size", target.meta.length)
      .set("role", target.role)
      .set("hashes", std::move(hashes));
  if (target.meta.custom) out.set("custom", to_output_json(*target.meta.custom));
  out.set("signers", std::move(signers));
  return out;
}

// ---- init ----------------------------------------------------------------------------------

struct InitArgs {
  std::string gun, rootkey, rootcert;
  bool publish = false;
  bool local_snapshot = false;  // --local-snapshot: notary's client-managed snapshot
};

Status run_init(Context& ctx, const InitArgs& a) {
  if (a.gun.empty()) return usage_error("Must specify a GUN");
  VOUCH_ASSIGN_OR_RETURN(client::Repository repo, ctx.repository(a.gun, true));
  VOUCH_ASSIGN_OR_RETURN(const keys::TrustDirKeyStore* store, ctx.store());
  client::InitOptions options;
  options.server_managed_snapshot = !a.local_snapshot;
  std::string chosen;  // the root key, by canonical ID; empty: the library makes one
  if (!a.rootcert.empty()) {
    VOUCH_ASSIGN_OR_RETURN(std::string pem, read_file(a.rootcert, kMaxKeyFileBytes));
    auto cert = keys::PublicKey::from_pem(pem);
    if (!cert.ok()) return cert.error().wrap("--rootcert " + a.rootcert);
    // notary: without --rootkey the certificate picks the key from the key store.
    if (a.rootkey.empty()) {
      if (!store->find(cert->canonical_id()).ok()) {
        return make_error(Reason::kUnknownKey, "no root key in the trust directory matches "
                                               "--rootcert " + a.rootcert);
      }
      chosen = cert->canonical_id();
    }
    options.root_certificates.push_back(std::move(pem));
  }
  if (!a.rootkey.empty()) {
    VOUCH_ASSIGN_OR_RETURN(std::string pem, read_file(a.rootkey, kMaxKeyFileBytes));
    VOUCH_ASSIGN_OR_RETURN(keys::KeyFileInfo info, keys::inspect_key_file(pem));
    // notary (CheckRootKeyIsEncrypted): a root key is only accepted encrypted.
    if (!info.encrypted) {
      return make_error(Reason::kMalformed,
                        "--rootkey " + a.rootkey + ": the root key must be encrypted");
    }
    auto key = decrypt_key_text(pem, tuf::kRootRole, ctx.passphrases());
    if (!key.ok()) return key.error().wrap("--rootkey " + a.rootkey);
    chosen = key->key.public_key().id();
    Status added = store->add(key->key, tuf::kRootRole, "", ctx.passphrases());
    if (!added.ok() && added.error().reason != Reason::kConflict) {
      return added.error().wrap("Error importing key");
    }
  } else if (chosen.empty()) {
    // notary uses the first root key of the key store, if there is one.
    VOUCH_ASSIGN_OR_RETURN(keys::KeyListing listing, store->list());
    for (const auto& entry : listing.keys) {
      if (entry.role == tuf::kRootRole) {
        chosen = entry.key_id;
        break;
      }
    }
  }
  if (!chosen.empty()) {
    write_stdout("Root key found, using: " + chosen + "\n");
    options.root_key_ids.push_back(chosen);
  }
  auto initialized = repo.initialize(options);
  if (!initialized.ok()) return initialized.error();
  if (initialized->generated_root_key && initialized->root_key) {
    log::get("cli")->info("generated a new root key {}", initialized->root_key->canonical_id());
  }
  if (!a.publish) return {};
  write_stdout("Auto-publishing changes to " + a.gun + "\n");
  return ctx.publish(repo);
}

// ---- add / addhash / remove ------------------------------------------------------------------

struct AddArgs {
  std::string gun, target, file, custom;
  std::string size, sha256, sha512;  // addhash
  std::vector<std::string> roles;
  bool publish = false;
};

Status stage_target(Context& ctx, const AddArgs& a, const tuf::FileMeta& meta) {
  VOUCH_ASSIGN_OR_RETURN(client::Repository repo, ctx.repository(a.gun, false));
  for (const auto& role : roles_or_targets(a.roles)) {
    VOUCH_RETURN_IF_ERROR(stage(repo, client::add_target_change(role, a.target, meta)));
  }
  return {};
}

Status run_add(Context& ctx, const AddArgs& a) {
  if (a.gun.empty() || a.target.empty() || a.file.empty()) {
    return usage_error("Must specify a GUN, target, and path to target data");
  }
  VOUCH_ASSIGN_OR_RETURN(std::optional<tuf::json::Value> custom, read_custom(a.custom));
  VOUCH_ASSIGN_OR_RETURN(std::string data, read_file(a.file, kMaxTargetFileBytes));
  tuf::FileMeta meta = tuf::FileMeta::of(as_bytes(data));
  meta.custom = std::move(custom);
  VOUCH_RETURN_IF_ERROR(stage_target(ctx, a, meta));
  write_stdout("Addition of target \"" + a.target + "\" to repository \"" + a.gun +
               "\" staged for next publish.\n");
  return a.publish ? ctx.auto_publish(a.gun) : Status{};
}

Result<Bytes> decode_hash(std::string_view hex, std::size_t hex_size, std::string_view name) {
  auto bytes = hex_decode(hex);
  if (hex.size() != hex_size || !bytes.ok()) {
    return make_error(Reason::kMalformed, "invalid " + std::string(name) + " hex contents provided");
  }
  return std::move(*bytes);
}

Status run_addhash(Context& ctx, const AddArgs& a) {
  if (a.gun.empty() || a.target.empty() || a.size.empty() || (a.sha256.empty() && a.sha512.empty())) {
    return usage_error("Must specify a GUN, target, byte size of target data, and at least one hash");
  }
  VOUCH_ASSIGN_OR_RETURN(std::optional<tuf::json::Value> custom, read_custom(a.custom));
  tuf::FileMeta meta;
  const char* end = a.size.data() + a.size.size();
  auto [ptr, ec] = std::from_chars(a.size.data(), end, meta.length);
  if (ec != std::errc() || ptr != end || meta.length < 0) {
    return usage_error("invalid byte size \"" + a.size + "\"");
  }
  std::vector<std::string> used;
  if (!a.sha256.empty()) {
    VOUCH_ASSIGN_OR_RETURN(meta.hashes["sha256"], decode_hash(a.sha256, 64, "sha256"));
    used.emplace_back("sha256");
  }
  if (!a.sha512.empty()) {
    VOUCH_ASSIGN_OR_RETURN(meta.hashes["sha512"], decode_hash(a.sha512, 128, "sha512"));
    used.emplace_back("sha512");
  }
  meta.custom = std::move(custom);
  VOUCH_RETURN_IF_ERROR(stage_target(ctx, a, meta));
  std::string hashes;
  for (const auto& h : used) hashes += (hashes.empty() ? "" : ", ") + h;
  write_stdout("Addition of target \"" + a.target + "\" by " + hashes + " hash to repository \"" +
               a.gun + "\" staged for next publish.\n");
  return a.publish ? ctx.auto_publish(a.gun) : Status{};
}

Status run_remove(Context& ctx, const AddArgs& a) {
  if (a.gun.empty() || a.target.empty()) return usage_error("Must specify a GUN and target");
  VOUCH_ASSIGN_OR_RETURN(client::Repository repo, ctx.repository(a.gun, false));
  for (const auto& role : roles_or_targets(a.roles)) {
    VOUCH_RETURN_IF_ERROR(stage(repo, client::remove_target_change(role, a.target)));
  }
  write_stdout("Removal of " + a.target + " from " + a.gun + " staged for next publish.\n");
  return a.publish ? ctx.auto_publish(a.gun) : Status{};
}

// ---- list / lookup -----------------------------------------------------------------------------

struct ReadArgs {
  std::string gun, target, output = "table";
  std::vector<std::string> roles;
};

Status run_list(Context& ctx, const ReadArgs& a) {
  if (a.gun.empty()) return usage_error("Must specify a GUN");
  VOUCH_ASSIGN_OR_RETURN(client::Repository repo, ctx.repository(a.gun, true));
  VOUCH_ASSIGN_OR_RETURN(std::vector<client::TargetInfo> targets, repo.list_targets(a.roles));
  if (a.output == "json") {
    Json out = Json::array();
    for (const auto& t : targets) out.push(target_json(t));
    write_stdout(out.dump());
    return {};
  }
  if (targets.empty()) {
    write_stdout("\nNo targets present in this repository.\n\n");
    return {};
  }
  Table table({"NAME", "DIGEST", "SIZE (BYTES)", "ROLE"});
  for (const auto& t : targets) {
    table.add_row({t.name, hex_sha256(t.meta), std::to_string(t.meta.length), t.role});
  }
  write_stdout(table.render());
  return {};
}

Status run_lookup(Context& ctx, const ReadArgs& a) {
  if (a.gun.empty() || a.target.empty()) return usage_error("Must specify a GUN and target");
  VOUCH_ASSIGN_OR_RETURN(client::Repository repo, ctx.repository(a.gun, true));
  VOUCH_ASSIGN_OR_RETURN(client::TargetInfo target, repo.lookup(a.target));
  if (a.output == "json") {
    write_stdout(target_json(target).dump());
  } else {
    write_stdout(target.name + " sha256:" + hex_sha256(target.meta) + " " +
                 std::to_string(target.meta.length) + "\n");
  }
  return {};
}

// ---- publish / status / reset --------------------------------------------------------------

Status run_publish(Context& ctx, const std::string& gun) {
  if (gun.empty()) return usage_error("Must specify a GUN");
  write_stdout("Pushing changes to " + gun + "\n");
  VOUCH_ASSIGN_OR_RETURN(client::Repository repo, ctx.repository(gun, true));
  return ctx.publish(repo);
}

Status run_status(Context& ctx, const ReadArgs& a) {
  if (a.gun.empty()) return usage_error("Must specify a GUN");
  VOUCH_ASSIGN_OR_RETURN(client::Repository repo, ctx.repository(a.gun, false));
  VOUCH_ASSIGN_OR_RETURN(client::ChangeListing listing, repo.changelist().list());
  for (const auto& warning : listing.warnings) log::get("cli")->warn("changelist: {}", warning);
  if (a.output == "json") {
    Json out = Json::array();
    for (std::size_t i = 0; i < listing.changes.size(); ++i) {
      const client::Change& c = listing.changes[i].change;
      Json row = Json::object();
      row.set("number", static_cast<std::int64_t>(i))
          .set("action", c.action)
          .set("scope", c.role)
          .set("type", c.type)
          .set("path", c.path)
          .set("file", listing.changes[i].file_name);
      out.push(std::move(row));
    }
    write_stdout(out.dump());
    return {};
  }
  if (listing.changes.empty()) {
    write_stdout("No unpublished changes for " + a.gun + "\n");
    return {};
  }
  write_stdout("Unpublished changes for " + a.gun + ":\n\n");
  Table table({"#", "ACTION", "SCOPE", "TYPE", "PATH"});
  for (std::size_t i = 0; i < listing.changes.size(); ++i) {
    const client::Change& c = listing.changes[i].change;
    table.add_row({std::to_string(i), c.action, c.role, c.type, c.path});
  }
  write_stdout(table.render());
  return {};
}

struct ResetArgs {
  std::string gun;
  bool all = false;
  std::vector<long long> numbers;
};

Status run_reset(Context& ctx, const ResetArgs& a) {
  if (a.gun.empty()) return usage_error("Must specify a GUN");
  if (!a.all && a.numbers.empty()) {
    return usage_error("Must specify changes to reset with -n or the --all flag");
  }
  std::vector<std::size_t> indices;
  for (long long n : a.numbers) {
    if (n < 0) return usage_error("change numbers start at 0, not " + std::to_string(n));
    indices.push_back(static_cast<std::size_t>(n));
  }
  VOUCH_ASSIGN_OR_RETURN(client::Repository repo, ctx.repository(a.gun, false));
  if (a.all) {
    VOUCH_RETURN_IF_ERROR(repo.changelist().clear());
  } else {
    VOUCH_RETURN_IF_ERROR(repo.changelist().remove(indices));
  }
  write_stdout("Successfully reset specified changes for repository " + a.gun + "\n");
  return {};
}

// ---- verify --------------------------------------------------------------------------------

struct VerifyArgs {
  std::string gun, target, input, output;
  bool quiet = false;
};

// Reads stdin up to `max_bytes`; more is kTooLarge.
Result<std::string> read_stdin(std::size_t max_bytes) {
  auto data = read_all(STDIN_FILENO, max_bytes);
  if (!data && data.error().reason == Reason::kTooLarge) {
    return make_error(Reason::kTooLarge, "STDIN is too large");
  }
  if (!data) {
    return make_error(Reason::kIo, "Error reading content from STDIN: " + data.error().message);
  }
  return data;
}

Status run_verify(Context& ctx, const VerifyArgs& a) {
  if (a.gun.empty() || a.target.empty()) return usage_error("Must specify a GUN and target");
  VOUCH_ASSIGN_OR_RETURN(client::Repository repo, ctx.repository(a.gun, true));
  auto target = repo.lookup(a.target);
  if (!target.ok()) {
    return target.error().wrap("error retrieving target by name " + a.target);
  }
  // The signed length bounds what is read: one byte more is enough to know it differs.
  const auto limit = static_cast<std::size_t>(target->meta.length) + 1;
  auto payload = a.input.empty() ? read_stdin(limit) : read_file(a.input, limit);
  if (!payload.ok()) {
    if (payload.error().reason != Reason::kTooLarge) return payload.error();
    return make_error(Reason::kLengthMismatch,
                      "data not present in the trusted collection: the input is longer than the "
                      "signed length of " + a.target + " (" +
                          std::to_string(target->meta.length) + " bytes)");
  }
  Status matches = target->meta.check(as_bytes(*payload));
  if (!matches.ok()) {
    return matches.error().wrap("data not present in the trusted collection");
  }
  if (a.quiet) return {};
  if (!a.output.empty()) return write_file(a.output, *payload, 0600);
  if (!write_stdout(*payload)) return make_error(Reason::kIo, "cannot write to STDOUT");
  return {};
}

// ---- witness / delete ------------------------------------------------------------------------

struct WitnessArgs {
  std::string gun;
  std::vector<std::string> roles;
  bool publish = false;
};

Status run_witness(Context& ctx, const WitnessArgs& a) {
  if (a.gun.empty() || a.roles.empty()) {
    return usage_error("Please provide a GUN and at least one role to witness");
  }
  // notary's Witness: only targets roles can be witnessed.
  for (const auto& role : a.roles) {
    if (role != tuf::kTargetsRole && !tuf::is_delegation_role(role)) {
      return make_error(Reason::kBadRole,
                        "Some roles have failed to be marked for witnessing: " + role +
                            " is not a targets role");
    }
  }
  VOUCH_ASSIGN_OR_RETURN(client::Repository repo, ctx.repository(a.gun, false));
  for (const auto& role : a.roles) {
    VOUCH_RETURN_IF_ERROR(stage(repo, client::witness_change(role)));
  }
  std::string lines;
  for (const auto& role : a.roles) lines += (lines.empty() ? "" : "\n\t- ") + role;
  write_stdout("The following roles were successfully marked for witnessing on the next "
               "publish:\n\t- " + lines + "\n");
  return a.publish ? ctx.auto_publish(a.gun) : Status{};
}

Status run_delete(Context& ctx, const std::string& gun, bool remote) {
  if (gun.empty()) return usage_error("Must specify a GUN");
  VOUCH_ASSIGN_OR_RETURN(client::Repository repo, ctx.repository(gun, remote));
  write_stdout("Deleting trust data for repository " + gun + "\n");
  VOUCH_RETURN_IF_ERROR(repo.delete_trust_data(remote));
  write_stdout(std::string("Successfully deleted local") + (remote ? " and remote" : "") +
               " trust data for repository " + gun + "\n");
  return {};
}

}  // namespace

void add_tuf_commands(CLI::App& app, Context& ctx, Status& result) {
  {
    auto a = std::make_shared<InitArgs>();
    CLI::App* cmd = app.add_subcommand(
        "init", "Initializes a local trusted collection identified by the Globally Unique Name. "
                "This is an online operation.");
    cmd->add_option("GUN", a->gun, "Globally Unique Name of the collection");
    cmd->add_flag("-p,--publish", a->publish, kAutoPublishHelp);
    cmd->add_option("--rootkey", a->rootkey, "Root key to initialize the repository with");
    cmd->add_option("--rootcert", a->rootcert,
                    "Root certificate must match root key if a root key is supplied, otherwise "
                    "it must match a key present in keystore");
    cmd->add_flag("--local-snapshot", a->local_snapshot,
                  "Keep the snapshot key in this trust directory, as `notary init` does (by "
                  "default the server holds it, so that delegation members can publish)");
    on_run(cmd, ctx, result, [&ctx, a] { return run_init(ctx, *a); });
  }
  {
    auto a = std::make_shared<AddArgs>();
    CLI::App* cmd = app.add_subcommand(
        "add", "Adds the file as a target to the local trusted collection identified by the "
               "Globally Unique Name. This is an offline operation.  Please then use `publish` "
               "to push the changes to the remote trusted collection.");
    cmd->add_option("GUN", a->gun, "Globally Unique Name of the collection");
    cmd->add_option("TARGET", a->target, "Target name");
    cmd->add_option("FILE", a->file, "Path to the target data");
    cmd->add_option("--custom", a->custom,
                    "Path to the file containing custom data for this target");
    add_list_option(cmd, "-r,--roles", a->roles, "Delegation roles to add this target to");
    cmd->add_flag("-p,--publish", a->publish, kAutoPublishHelp);
    on_run(cmd, ctx, result, [&ctx, a] { return run_add(ctx, *a); });
  }
  {
    auto a = std::make_shared<AddArgs>();
    CLI::App* cmd = app.add_subcommand(
        "addhash", "Adds the specified byte size and hash(es) as a target to the local trusted "
                   "collection identified by the Globally Unique Name. This is an offline "
                   "operation.  Please then use `publish` to push the changes to the remote "
                   "trusted collection.");
    cmd->add_option("GUN", a->gun, "Globally Unique Name of the collection");
    cmd->add_option("TARGET", a->target, "Target name");
    cmd->add_option("BYTE_SIZE", a->size, "Size of the target data in bytes");
    cmd->add_option("--sha256", a->sha256, "hex encoded sha256 of the target to add");
    cmd->add_option("--sha512", a->sha512, "hex encoded sha512 of the target to add");
    cmd->add_option("--custom", a->custom,
                    "Path to the file containing custom data for this target");
    add_list_option(cmd, "-r,--roles", a->roles, "Delegation roles to add this target to");
    cmd->add_flag("-p,--publish", a->publish, kAutoPublishHelp);
    on_run(cmd, ctx, result, [&ctx, a] { return run_addhash(ctx, *a); });
  }
  {
    auto a = std::make_shared<AddArgs>();
    CLI::App* cmd = app.add_subcommand(
        "remove", "Removes a target from the local trusted collection identified by the "
                  "Globally Unique Name. This is an offline operation.  Please then use "
                  "`publish` to push the changes to the remote trusted collection.");
    cmd->add_option("GUN", a->gun, "Globally Unique Name of the collection");
    cmd->add_option("TARGET", a->target, "Target name");
    add_list_option(cmd, "-r,--roles", a->roles, "Delegation roles to remove this target from");
    cmd->add_flag("-p,--publish", a->publish, kAutoPublishHelp);
    on_run(cmd, ctx, result, [&ctx, a] { return run_remove(ctx, *a); });
  }
  {
    auto a = std::make_shared<ReadArgs>();
    CLI::App* cmd = app.add_subcommand(
        "list", "Lists all targets for a remote trusted collection identified by the Globally "
                "Unique Name. This is an online operation.");
    cmd->add_option("GUN", a->gun, "Globally Unique Name of the collection");
    add_list_option(cmd, "-r,--roles", a->roles,
                    "Delegation roles to list targets for (will shadow targets role)");
    add_output_option(cmd, &a->output);
    on_run(cmd, ctx, result, [&ctx, a] { return run_list(ctx, *a); });
  }
  {
    auto a = std::make_shared<ReadArgs>();
    CLI::App* cmd = app.add_subcommand(
        "lookup", "Looks up a specific target in a remote trusted collection identified by the "
                  "Globally Unique Name.");
    cmd->add_option("GUN", a->gun, "Globally Unique Name of the collection");
    cmd->add_option("TARGET", a->target, "Target name");
    add_output_option(cmd, &a->output);
    on_run(cmd, ctx, result, [&ctx, a] { return run_lookup(ctx, *a); });
  }
  {
    auto gun = std::make_shared<std::string>();
    CLI::App* cmd = app.add_subcommand(
        "publish", "Publishes the local trusted collection identified by the Globally Unique "
                   "Name, sending the local changes to a remote trusted server.");
    cmd->add_option("GUN", *gun, "Globally Unique Name of the collection");
    on_run(cmd, ctx, result, [&ctx, gun] { return run_publish(ctx, *gun); });
  }
  {
    auto a = std::make_shared<ReadArgs>();
    CLI::App* cmd = app.add_subcommand(
        "status", "Displays status of unpublished changes to the local trusted collection "
                  "identified by the Globally Unique Name.");
    cmd->add_option("GUN", a->gun, "Globally Unique Name of the collection");
    add_output_option(cmd, &a->output);
    on_run(cmd, ctx, result, [&ctx, a] { return run_status(ctx, *a); });
  }
  {
    auto a = std::make_shared<ResetArgs>();
    CLI::App* cmd = app.add_subcommand(
        "reset", "Resets unpublished changes for the local trusted collection identified by "
                 "the Globally Unique Name.");
    cmd->add_option("GUN", a->gun, "Globally Unique Name of the collection");
    cmd->add_flag("--all", a->all, "Reset all changes shown in the status list");
    add_list_option(cmd, "-n,--number", a->numbers,
                    "Numbers of specific changes to exclusively reset, as shown in status list");
    on_run(cmd, ctx, result, [&ctx, a] { return run_reset(ctx, *a); });
  }
  {
    auto a = std::make_shared<VerifyArgs>();
    CLI::App* cmd = app.add_subcommand(
        "verify", "Verifies if the data passed in STDIN is included in the remote trusted "
                  "collection identified by the Globally Unique Name.");
    cmd->add_option("GUN", a->gun, "Globally Unique Name of the collection");
    cmd->add_option("TARGET", a->target, "Target name");
    cmd->add_option("-i,--input", a->input, "Read from a file, instead of STDIN");
    cmd->add_option("-o,--output", a->output, "Write to a file, instead of STDOUT");
    cmd->add_flag("-q,--quiet", a->quiet, "No output except for errors");
    on_run(cmd, ctx, result, [&ctx, a] { return run_verify(ctx, *a); });
  }
  {
    auto a = std::make_shared<WitnessArgs>();
    CLI::App* cmd = app.add_subcommand(
        "witness", "Marks roles to be re-signed the next time they're published. Currently "
                   "will always bump version and expiry for role.");
    cmd->add_option("GUN", a->gun, "Globally Unique Name of the collection");
    cmd->add_option("ROLE", a->roles, "Roles to witness");
    cmd->add_flag("-p,--publish", a->publish, kAutoPublishHelp);
    on_run(cmd, ctx, result, [&ctx, a] { return run_witness(ctx, *a); });
  }
  {
    auto gun = std::make_shared<std::string>();
    auto remote = std::make_shared<bool>(false);
    CLI::App* cmd = app.add_subcommand(
        "delete", "Deletes all local content for a trusted collection identified by the "
                  "Globally Unique Name. Remote data can also be deleted with an additional "
                  "flag.");
    cmd->add_option("GUN", *gun, "Globally Unique Name of the collection");
    cmd->add_flag("--remote", *remote, "Delete remote data for GUN in addition to local cache");
    on_run(cmd, ctx, result, [&ctx, gun, remote] { return run_delete(ctx, *gun, *remote); });
  }
}

}  // namespace vouch::cli
