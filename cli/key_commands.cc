// key list|generate|rotate|import|export|remove|passwd (notary cmd/notary/keys.go).

#include <algorithm>
#include <cctype>
#include <tuple>

#include "cli/commands.h"
#include "common/encoding.h"
#include "common/log.h"
#include "keys/key_file.h"
#include "keys/private_key.h"
#include "tuf/metadata.h"

namespace vouch::cli {
namespace {

// A file given to `key import` or `key rotate -k` (many PEM blocks at most).
constexpr std::size_t kMaxImportFileBytes = std::size_t{1} << 20;

// notary's prettyPrintKeys column limits.
constexpr std::size_t kMaxGunWidth = 25;
constexpr std::size_t kMaxLocationWidth = 40;

// notary.DefaultImportRole: the role of an imported key that names none.
constexpr std::string_view kDefaultImportRole = "delegation";

// The GUN a key file records: none for root and delegation keys (as TrustDirKeyStore::add).
std::string gun_for(std::string_view role, std::string_view gun) {
  return (tuf::is_base_role(role) && role != tuf::kRootRole) ? std::string(gun) : std::string();
}

Status check_key_id(const std::string& key_id, std::string_view what) {
  if (key_id.empty()) return usage_error("must specify the key ID of the key to " + std::string(what));
  if (key_id.size() != 64) return usage_error("invalid key ID provided: " + key_id);
  return {};
}

// ---- list ------------------------------------------------------------------------------------

Status run_list(Context& ctx, const std::string& output) {
  VOUCH_ASSIGN_OR_RETURN(const keys::TrustDirKeyStore* store, ctx.store());
  VOUCH_ASSIGN_OR_RETURN(keys::KeyListing listing, store->list());
  for (const auto& problem : listing.problems) {
    log::get("cli")->warn("skipping {}: {}", problem.path.string(), problem.error.message);
  }
  const std::string location = store->private_dir().string();
  // notary's keyInfoSorter: root keys first, then by GUN, role, key ID.
  std::vector<keys::KeyEntry> keys = listing.keys;
  std::stable_sort(keys.begin(), keys.end(), [](const keys::KeyEntry& a, const keys::KeyEntry& b) {
    const bool a_root = a.role == tuf::kRootRole;
    const bool b_root = b.role == tuf::kRootRole;
    if (a.role != b.role && (a_root || b_root)) return a_root;
    return std::tie(a.gun, a.role, a.key_id) < std::tie(b.gun, b.role, b.key_id);
  });
  if (output == "json") {
    Json out = Json::array();
    for (const auto& k : keys) {
      Json row = Json::object();
      row.set("role", k.role)
          .set("gun", k.gun)
          .set("key_id", k.key_id)
          .set("location", location)
          .set("path", k.path.string())
          .set("format", std::string(keys::to_string(k.format)))
          .set("encrypted", k.encrypted);
      out.push(std::move(row));
    }
    write_stdout(out.dump());
    return {};
  }
  Table table({"ROLE", "GUN", "KEY ID", "LOCATION"});
  for (const auto& k : keys) {
    table.add_row({k.role, truncate_with_ellipsis(k.gun, kMaxGunWidth, true), k.key_id,
                   truncate_with_ellipsis(location, kMaxLocationWidth, true)});
  }
  write_table_or(table, "No signing keys found.\n");
  return {};
}

// ---- generate --------------------------------------------------------------------------------

struct GenerateArgs {
  std::vector<std::string> algorithm;
  std::string role = std::string(tuf::kRootRole);
  std::string output;
};

std::string pem_lines(std::string_view type, std::string_view headers, ByteSpan der) {
  std::string b64 = base64_encode(der);
  std::string out = "-----BEGIN " + std::string(type) + "-----\n";
  // Headers end with a blank line, as Go's pem.Encode (and so notary) writes them.
  if (!headers.empty()) out += std::string(headers) + "\n\n";
  for (std::size_t i = 0; i < b64.size(); i += 64) out += b64.substr(i, 64) + "\n";
  out += "-----END " + std::string(type) + "-----\n";
  return out;
}

Status run_generate(Context& ctx, const GenerateArgs& a) {
  if (a.algorithm.size() > 1) {
    return usage_error("Please provide only one Algorithm as an argument to generate (ecdsa)");
  }
  std::string algorithm = a.algorithm.empty() ? "ecdsa" : a.algorithm.front();
  std::transform(algorithm.begin(), algorithm.end(), algorithm.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  // notary 0.7 allows ECDSA only.
  if (algorithm != "ecdsa") return usage_error("Algorithm not allowed, possible values are: ECDSA");
  if (!tuf::is_valid_role_name(a.role) && a.role != kDefaultImportRole) {
    return make_error(Reason::kBadRole, "invalid role \"" + a.role + "\"");
  }
  if (a.output.empty()) {
    VOUCH_ASSIGN_OR_RETURN(keys::LocalSigner * signer, ctx.signer());
    auto key = signer->create_key("", a.role, keys::KeyType::kEcdsa);
    if (!key.ok()) return key.error().wrap("Failed to create a new " + a.role + " key");
    write_stdout("Generated new ecdsa " + a.role + " key with keyID: " + key->id() + "\n");
    register_if_logged_in(ctx, *key);
    return {};
  }
  // notary's generateKeyToFile: <output>.pem (public) and <output>-key.pem (private,
  // encrypted), neither stored in the trust directory.
  VOUCH_ASSIGN_OR_RETURN(std::optional<keys::KeyFileFormat> format, ctx.requested_key_format());
  VOUCH_ASSIGN_OR_RETURN(keys::PrivateKey key, keys::PrivateKey::generate(keys::KeyType::kEcdsa));
  keys::PassphraseRequest request;
  request.key_id = key.public_key().id();
  request.role = a.role;
  request.create = true;
  VOUCH_ASSIGN_OR_RETURN(keys::SecretString passphrase, ctx.passphrases().get(request));
  keys::WriteOptions write;
  write.format = format.value_or(keys::KeyFileFormat::kVouch);
  VOUCH_ASSIGN_OR_RETURN(std::string private_pem,
                         keys::encrypt_key_file(key, a.role, "", passphrase, write));
  const std::string public_pem =
      pem_lines("PUBLIC KEY", "role: " + a.role, key.public_key().spki_der());
  VOUCH_RETURN_IF_ERROR(write_file(a.output + "-key.pem", private_pem, 0600));
  VOUCH_RETURN_IF_ERROR(write_file(a.output + ".pem", public_pem, 0600));
  write_stdout("Generated new ecdsa " + a.role + " key with keyID: " + key.public_key().id() +
               "\n");
  return {};
}

// ---- import ----------------------------------------------------------------------------------

struct ImportArgs {
  std::vector<std::string> files;
  std::string gun, role;
};

// Imports one PEM block (notary trustmanager.ImportKeys): the role and GUN come from its
// headers, else the flags; an encrypted key keeps the passphrase that unlocked it, an
// unencrypted one gets a new passphrase. Returns the key ID.
Result<std::string> import_block(Context& ctx, const keys::TrustDirKeyStore& store,
                                 std::string_view pem, std::string_view fallback_role,
                                 std::string_view fallback_gun) {
  VOUCH_ASSIGN_OR_RETURN(keys::KeyFileInfo info, keys::inspect_key_file(pem));
  std::string role = !info.role.empty()       ? info.role
                     : !fallback_role.empty() ? std::string(fallback_role)
                                              : std::string(kDefaultImportRole);
  std::string gun = !info.gun.empty() ? info.gun : std::string(fallback_gun);
  if (tuf::is_base_role(role) && role != tuf::kRootRole && gun.empty()) {
    return make_error(Reason::kBadGun, "cannot import a " + role +
                                           " key without a GUN (give -g/--gun)");
  }
  gun = gun_for(role, gun);
  RecordingPassphraseSource recording(ctx.passphrases());
  VOUCH_ASSIGN_OR_RETURN(keys::DecryptedKey key, decrypt_key_text(pem, role, recording));
  const std::string id = key.key.public_key().id();
  RecordingPassphraseSource::Replay same(recording);
  keys::PassphraseSource& next = info.encrypted ? static_cast<keys::PassphraseSource&>(same)
                                                : ctx.passphrases();
  Status added = store.add(key.key, role, gun, next);
  if (!added.ok()) {
    if (added.error().reason != Reason::kConflict) return added.error().wrap("Error importing key");
    log::get("cli")->warn("key {} is already in the trust directory", id);
  } else {
    log::get("cli")->info("imported {} key {}", role, id);
  }
  return id;
}

Status run_import(Context& ctx, const ImportArgs& a) {
  if (a.files.empty()) return usage_error("must specify at least one input file to import keys from");
  VOUCH_ASSIGN_OR_RETURN(const keys::TrustDirKeyStore* store, ctx.store());
  for (const auto& file : a.files) {
    VOUCH_ASSIGN_OR_RETURN(std::string text, read_file(file, kMaxImportFileBytes));
    const std::vector<std::string> blocks = split_pem_blocks(text);
    if (blocks.empty()) return make_error(Reason::kMalformed, file + ": no PEM block found");
    for (const auto& block : blocks) {
      auto imported = import_block(ctx, *store, block, a.role, a.gun);
      if (!imported.ok()) return imported.error().wrap(file);
    }
  }
  return {};
}

// ---- export ----------------------------------------------------------------------------------

struct ExportArgs {
  std::vector<std::string> guns, key_ids;
  std::string output;
};

Status run_export(Context& ctx, const ExportArgs& a) {
  if (!a.guns.empty() && !a.key_ids.empty()) {
    return usage_error("Only the --gun or --key flag may be provided, not a mix of the two flags");
  }
  VOUCH_ASSIGN_OR_RETURN(const keys::TrustDirKeyStore* store, ctx.store());
  VOUCH_ASSIGN_OR_RETURN(std::optional<keys::KeyFileFormat> format, ctx.requested_key_format());
  std::vector<std::string> ids;
  if (!a.key_ids.empty()) {
    for (const auto& id : a.key_ids) {
      VOUCH_RETURN_IF_ERROR(store->find(id));
      ids.push_back(id);
    }
  } else {
    VOUCH_ASSIGN_OR_RETURN(keys::KeyListing listing, store->list());
    for (const auto& entry : listing.keys) {
      if (a.guns.empty() || std::find(a.guns.begin(), a.guns.end(), entry.gun) != a.guns.end()) {
        ids.push_back(entry.key_id);
      }
    }
  }
  // Each key is exported under the passphrase that unlocks it, as notary exports the files
  // as they are; the file carries a "path" header for `notary key import`.
  keys::WriteOptions write;
  write.format = format.value_or(keys::KeyFileFormat::kVouch);
  write.notary_path_header = true;
  std::string out;
  for (const auto& id : ids) {
    RecordingPassphraseSource recording(ctx.passphrases());
    RecordingPassphraseSource::Replay same(recording);
    auto pem = store->export_key(id, recording, same, write);
    if (!pem.ok()) return pem.error().wrap("exporting key " + id);
    out += *pem;
  }
  if (!a.output.empty()) return write_file(a.output, out, 0600);
  if (!write_stdout(out)) return make_error(Reason::kIo, "cannot write to STDOUT");
  return {};
}

// ---- remove / passwd -------------------------------------------------------------------------

Status run_remove(Context& ctx, const std::string& key_id, bool yes) {
  VOUCH_RETURN_IF_ERROR(check_key_id(key_id, "remove"));
  VOUCH_ASSIGN_OR_RETURN(const keys::TrustDirKeyStore* store, ctx.store());
  auto entry = store->find(key_id);
  if (!entry.ok()) {
    if (entry.error().reason != Reason::kUnknownKey) return entry.error();
    return make_error(Reason::kUnknownKey, "No key with ID " + key_id + " found");
  }
  const std::string description =
      key_id + " (role " + entry->role + ") from " + store->private_dir().string();
  write_stdout("\n");
  if (!ctx.confirm("Are you sure you want to remove " + description + "?  (yes/no)  ", yes)) {
    write_stdout("\nAborting action.\n\n");
    return {};
  }
  VOUCH_RETURN_IF_ERROR(store->remove(key_id));
  write_stdout("\nDeleted " + description + ".\n\n");
  return {};
}

Status run_passwd(Context& ctx, const std::string& key_id, const std::string& new_file) {
  VOUCH_RETURN_IF_ERROR(check_key_id(key_id, "change the passphrase of"));
  VOUCH_ASSIGN_OR_RETURN(const keys::TrustDirKeyStore* store, ctx.store());
  VOUCH_ASSIGN_OR_RETURN(std::optional<keys::KeyFileFormat> format, ctx.requested_key_format());
  auto entry = store->find(key_id);
  if (!entry.ok()) {
    return entry.error().wrap("could not retrieve local key for key ID provided: " + key_id);
  }
  std::unique_ptr<keys::PassphraseSource> next = ctx.new_passphrase_source(new_file);
  VOUCH_RETURN_IF_ERROR(store->change_passphrase(key_id, ctx.passphrases(), *next, format));
  write_stdout("\nSuccessfully updated passphrase for key ID: " + key_id + "\n");
  return {};
}

// ---- rotate ----------------------------------------------------------------------------------

struct RotateArgs {
  std::string gun, role;
  bool server_managed = false, yes = false;
  std::vector<std::string> key_files;
};

Status run_rotate(Context& ctx, const RotateArgs& a) {
  if (a.gun.empty() || a.role.empty()) return usage_error("Must specify a GUN and a key role to rotate");
  VOUCH_ASSIGN_OR_RETURN(client::Repository repo, ctx.repository(a.gun, true));
  VOUCH_ASSIGN_OR_RETURN(const keys::TrustDirKeyStore* store, ctx.store());
  std::vector<std::string> key_ids;
  for (const auto& file : a.key_files) {
    VOUCH_ASSIGN_OR_RETURN(std::string pem, read_file(file, kMaxImportFileBytes));
    VOUCH_ASSIGN_OR_RETURN(keys::KeyFileInfo info, keys::inspect_key_file(pem));
    if (a.role == tuf::kRootRole && !info.encrypted) {
      return make_error(Reason::kMalformed, file + ": the root key must be encrypted");
    }
    auto key = decrypt_key_text(pem, a.role, ctx.passphrases());
    if (!key.ok()) return key.error().wrap(file);
    Status added = store->add(key->key, a.role, gun_for(a.role, a.gun), ctx.passphrases());
    if (!added.ok() && added.error().reason != Reason::kConflict) {
      return added.error().wrap("Error importing key");
    }
    key_ids.push_back(key->key.public_key().id());
  }
  if (a.role == tuf::kRootRole &&
      !ctx.confirm("Warning: you are about to rotate your root key.\n\n"
                   "You must use your old key to sign this root rotation.\n"
                   "Are you sure you want to proceed?  (yes/no)  ",
                   a.yes)) {
    write_stdout("\nAborting action.\n");
    return {};
  }
  auto rotated = repo.rotate_key(a.role, a.server_managed, key_ids);
  if (!rotated.ok()) return rotated.error();
  for (const auto& id : *rotated) log::get("cli")->info("new {} key {}", a.role, id);
  write_stdout("Successfully rotated " + a.role + " key for repository " + a.gun + "\n");
  return {};
}

}  // namespace

void add_key_commands(CLI::App& app, Context& ctx, Status& result) {
  CLI::App* group = app.add_subcommand("key", "Operates on keys.");
  group->require_subcommand(1);
  {
    auto output = std::make_shared<std::string>("table");
    CLI::App* cmd = group->add_subcommand("list", "Lists all keys known to notary.");
    add_output_option(cmd, output.get());
    on_run(cmd, ctx, result, [&ctx, output] { return run_list(ctx, *output); });
  }
  {
    auto a = std::make_shared<GenerateArgs>();
    CLI::App* cmd = group->add_subcommand(
        "generate",
        "Generates a new key with a given algorithm. If a `--output` file name is provided, two "
        "files will be written, <output>.pem and <output>-key.pem, containing the public and "
        "private keys respectively (the key will not be stored in the trust directory). If no "
        "`--role` is provided, \"root\" will be assumed.");
    cmd->add_option("ALGORITHM", a->algorithm, "Key algorithm (ecdsa)");
    cmd->add_option("-r,--role", a->role,
                    "Role to generate key with, defaulting to \"root\".")
        ->capture_default_str();
    cmd->add_option("-o,--output", a->output, "Filepath to write export output to");
    on_run(cmd, ctx, result, [&ctx, a] { return run_generate(ctx, *a); });
  }
  {
    auto a = std::make_shared<RotateArgs>();
    CLI::App* cmd = group->add_subcommand(
        "rotate",
        "Generates a new key for the given Globally Unique Name and role (one of \"snapshot\", "
        "\"targets\", \"root\", or \"timestamp\").  If rotating to a server-managed key, a new "
        "key is requested from the server rather than generated.  If the generation or key "
        "request is successful, the key rotation is immediately published.  No other changes, "
        "even if they are staged, will be published.");
    cmd->add_option("GUN", a->gun, "Globally Unique Name of the collection");
    cmd->add_option("ROLE", a->role, "Key role to rotate");
    add_list_option(cmd, "-k,--key", a->key_files,
                    "New key(s) to rotate to (private key files). If not specified, one will be "
                    "generated.");
    cmd->add_flag("-r,--server-managed", a->server_managed,
                  "Signing and key management will be handled by the remote server (no key "
                  "will be generated or stored locally). Required for timestamp role, optional "
                  "for snapshot role");
    cmd->add_flag("-y,--yes", a->yes, "Answer yes to the root rotation question (vouch)");
    on_run(cmd, ctx, result, [&ctx, a] { return run_rotate(ctx, *a); });
  }
  {
    auto a = std::make_shared<ImportArgs>();
    CLI::App* cmd = group->add_subcommand(
        "import", "Imports all keys from all provided .pem files by reading each PEM block from "
                  "the file and writing that block to a unique object in the local keystore.");
    cmd->add_option("PEMFILE", a->files, "Key files to import");
    cmd->add_option("-g,--gun", a->gun,
                    "Gun to import key with, if a gun is not already given in a PEM header");
    cmd->add_option("-r,--role", a->role,
                    "Role to import key with, if a role is not already given in a PEM header");
    on_run(cmd, ctx, result, [&ctx, a] { return run_import(ctx, *a); });
  }
  {
    auto a = std::make_shared<ExportArgs>();
    CLI::App* cmd = group->add_subcommand(
        "export", "Exports all keys from all local keystores. Which keys are exported can be "
                  "restricted by using the --key or --gun flags. By default the result is sent "
                  "to stdout, it can be directed to a file with the -o flag.");
    add_list_option(cmd, "--gun", a->guns, "GUNs for which to export keys");
    add_list_option(cmd, "--key", a->key_ids, "Key IDs to export");
    cmd->add_option("-o,--output", a->output, "Filepath to write export output to");
    on_run(cmd, ctx, result, [&ctx, a] { return run_export(ctx, *a); });
  }
  {
    auto key_id = std::make_shared<std::string>();
    auto yes = std::make_shared<bool>(false);
    CLI::App* cmd = group->add_subcommand("remove", "Removes the key with the given keyID.");
    cmd->add_option("KEYID", *key_id, "Key ID");
    cmd->add_flag("-y,--yes", *yes, "Answer yes to the removal question (vouch)");
    on_run(cmd, ctx, result, [&ctx, key_id, yes] { return run_remove(ctx, *key_id, *yes); });
  }
  {
    auto key_id = std::make_shared<std::string>();
    auto new_file = std::make_shared<std::string>();
    CLI::App* cmd = group->add_subcommand(
        "passwd", "Changes the passphrase for the key with the given keyID.  Will require "
                  "validation of the old passphrase.");
    cmd->add_option("KEYID", *key_id, "Key ID");
    cmd->add_option("--new-passphrase-file", *new_file,
                    "File holding the new passphrase (vouch; else $VOUCH_NEW_PASSPHRASE, else "
                    "the terminal)");
    on_run(cmd, ctx, result,
           [&ctx, key_id, new_file] { return run_passwd(ctx, *key_id, *new_file); });
  }
  add_member_key_commands(*group, ctx, result);
}

}  // namespace vouch::cli
