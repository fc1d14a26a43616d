// vouch's own commands, in the spirit of `docker trust`:
//
//   vouch sign <gun>:<tag> --digest sha256:<hex> --size <bytes>   (or --manifest <file>)
//     stages the tag into the roles `docker trust sign` would choose and publishes, in one
//     step; signing the same digest again changes nothing.
//   vouch inspect <gun>[:<tag>]...
//     who signed what: tags, digests, signer roles and their keys, and the administrative
//     keys, as a table or (--output json) in the shape of `docker trust inspect`.

#include <algorithm>
#include <cctype>
#include <deque>
#include <filesystem>
#include <map>
#include <set>

#include "client/changelist.h"
#include "cli/commands.h"
#include "common/encoding.h"
#include "common/strings.h"
#include "keys/crypto.h"
#include "keys/keystore.h"
#include "tuf/metadata.h"
#include "tuf/trusted_set.h"

namespace vouch::cli {
namespace {

// A manifest given to `sign --manifest` (registry manifests are limited to 4 MiB).
constexpr std::size_t kMaxManifestBytes = 4u << 20;

// docker's names: a tag signed by the targets role is "Repo Admin"; targets/releases is the
// role docker pulls from and is not listed as a signer of its own.
constexpr std::string_view kRepoAdmin = "Repo Admin";
constexpr std::string_view kReleasesRole = "targets/releases";

struct Reference {
  std::string gun;
  std::string tag;  // empty: the whole repository
};

// "<gun>[:<tag>]": the tag follows the last ':' after the last '/', so that a registry port
// ("localhost:5000/app") stays part of the GUN.
Reference parse_reference(std::string_view ref) {
  const std::size_t slash = ref.rfind('/');
  const std::size_t colon = ref.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    return {std::string(ref.substr(0, colon)), std::string(ref.substr(colon + 1))};
  }
  return {std::string(ref), ""};
}

std::string hex_sha256(const tuf::FileMeta& meta) {
  auto it = meta.hashes.find("sha256");
  return it == meta.hashes.end() ? std::string() : hex_encode(it->second);
}

// "targets/alice" -> "alice", "targets" -> "Repo Admin" (docker's notaryRoleToSigner).
std::string signer_name(std::string_view role) {
  if (role == tuf::kTargetsRole) return std::string(kRepoAdmin);
  return std::string(role.substr(tuf::kTargetsRole.size() + 1));
}

// How many distinct keys among `key_ids` (looked up in `keymap`) this trust directory holds.
std::size_t held_keys(const keys::TrustDirKeyStore& store, const tuf::KeyMap& keymap,
                      const std::vector<std::string>& key_ids) {
  std::set<std::string> held;
  for (const auto& id : key_ids) {
    auto key = keymap.find(id);
    if (key == keymap.end()) continue;
    if (store.find(key->second.canonical_id()).ok()) held.insert(key->second.canonical_id());
  }
  return held.size();
}

// docker's sortorder.NaturalLess: digit runs compare as numbers ("v2" < "v10").
bool natural_less(std::string_view a, std::string_view b) {
  std::size_t i = 0, j = 0;
  auto digit = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
  while (i < a.size() && j < b.size()) {
    if (digit(a[i]) && digit(b[j])) {
      std::size_t ei = i, ej = j;
      while (ei < a.size() && digit(a[ei])) ++ei;
      while (ej < b.size() && digit(b[ej])) ++ej;
      std::string_view na = a.substr(i, ei - i), nb = b.substr(j, ej - j);
      while (na.size() > 1 && na.front() == '0') na.remove_prefix(1);
      while (nb.size() > 1 && nb.front() == '0') nb.remove_prefix(1);
      if (na.size() != nb.size()) return na.size() < nb.size();
      if (na != nb) return na < nb;
      i = ei;
      j = ej;
      continue;
    }
    if (a[i] != b[j]) return a[i] < b[j];
    ++i;
    ++j;
  }
  return a.size() - i < b.size() - j;
}

// ---- sign ------------------------------------------------------------------------------------

struct SignArgs {
  std::string reference, digest, manifest;
  long long size = -1;
};

Result<tuf::FileMeta> target_meta(const SignArgs& a) {
  tuf::FileMeta meta;
  if (!a.manifest.empty()) {
    if (!a.digest.empty() || a.size >= 0) {
      return usage_error("give either --manifest or --digest with --size, not both");
    }
    VOUCH_ASSIGN_OR_RETURN(std::string bytes, read_file(a.manifest, kMaxManifestBytes));
    meta.length = static_cast<std::int64_t>(bytes.size());
    const keys::Sha256Digest digest = keys::sha256(as_bytes(bytes));
    meta.hashes["sha256"] = Bytes(digest.begin(), digest.end());
    return meta;
  }
  if (a.digest.empty() || a.size < 0) {
    return usage_error("give the manifest's --digest sha256:<hex> and --size <bytes>, or "
                       "--manifest <file>");
  }
  constexpr std::string_view kPrefix = "sha256:";
  std::string_view hex = a.digest;
  if (!hex.starts_with(kPrefix)) return usage_error("--digest must look like sha256:<64 hex digits>");
  hex.remove_prefix(kPrefix.size());
  auto digest = hex_decode(hex);
  if (hex.size() != 64 || !digest.ok()) {
    return usage_error("--digest must look like sha256:<64 hex digits>");
  }
  meta.length = a.size;
  meta.hashes["sha256"] = std::move(*digest);
  return meta;
}

// The roles a tag is signed into, as `docker trust sign` chooses them: every direct child of
// targets whose paths cover the tag and whose keys this trust directory holds (enough of
// them for the role's threshold); if there is none, targets itself, when its key is held.
Result<std::vector<std::string>> signable_roles(const tuf::TrustedSet& trusted,
                                                const keys::TrustDirKeyStore& store,
                                                const std::string& gun, const std::string& tag) {
  std::vector<std::string> roles;
  const tuf::TrustedTargets* top = trusted.targets();
  if (top == nullptr) return make_error(Reason::kInternal, "targets not loaded");
  const tuf::Delegations& delegations = top->metadata.content.delegations;
  for (const auto& edge : trusted.delegations_of(tuf::kTargetsRole)) {
    if (tuf::parent_role(edge.role) != tuf::kTargetsRole) continue;
    if (!tuf::path_allowed(edge.paths, tag)) continue;
    const tuf::DelegatedRole* role = delegations.find(edge.role);
    if (role == nullptr) continue;
    const auto needed = static_cast<std::size_t>(std::max<std::int64_t>(role->threshold, 1));
    if (held_keys(store, delegations.keys, role->keyids) >= needed) roles.push_back(edge.role);
  }
  if (!roles.empty()) {
    std::sort(roles.begin(), roles.end());
    return roles;
  }
  const tuf::Root& root = trusted.root().content;
  const tuf::RoleKeys& targets_keys = root.roles.at(std::string(tuf::kTargetsRole));
  const auto needed = static_cast<std::size_t>(std::max<std::int64_t>(targets_keys.threshold, 1));
  if (held_keys(store, root.keys, targets_keys.keyids) >= needed) {
    return std::vector<std::string>{std::string(tuf::kTargetsRole)};
  }
  return make_error(Code::kFailedPrecondition, Reason::kUnknownKey,
                    "no key to sign " + tag + " in " + gun +
                        ": this trust directory holds the key of no delegation of targets whose "
                        "paths cover the tag, nor the targets key (import one with `vouch key "
                        "import`)");
}

bool same_target(const tuf::FileMeta& signed_meta, const tuf::FileMeta& wanted) {
  auto a = signed_meta.hashes.find("sha256");
  auto b = wanted.hashes.find("sha256");
  return signed_meta.length == wanted.length && a != signed_meta.hashes.end() &&
         b != wanted.hashes.end() && a->second == b->second;
}

Status run_sign(Context& ctx, const SignArgs& a) {
  const Reference ref = parse_reference(a.reference);
  if (ref.gun.empty() || ref.tag.empty()) {
    return usage_error("sign needs <gun>:<tag>, e.g. registry.example.com/team/app:v1");
  }
  VOUCH_ASSIGN_OR_RETURN(tuf::FileMeta meta, target_meta(a));
  VOUCH_ASSIGN_OR_RETURN(client::Repository repo, ctx.repository(ref.gun, true));
  VOUCH_ASSIGN_OR_RETURN(const keys::TrustDirKeyStore* store, ctx.store());
  auto trusted = repo.update();
  if (!trusted.ok()) {
    if (trusted.error().code == Code::kNotFound && trusted.error().reason == Reason::kNotFound) {
      return make_error(Code::kFailedPrecondition, Reason::kNotFound,
                        "repository " + ref.gun + " has no trust data yet: create it with "
                        "`vouch init " + ref.gun + " -p`");
    }
    return trusted.error();
  }
  VOUCH_ASSIGN_OR_RETURN(std::vector<std::string> roles,
                         signable_roles(*trusted, *store, ref.gun, ref.tag));
  // Idempotent: roles that already list this tag with this digest and size are left alone.
  std::vector<std::string> pending;
  for (const auto& role : roles) {
    const tuf::TrustedTargets* current = trusted->targets(role);
    const tuf::FileMeta* listed = nullptr;
    if (current != nullptr) {
      auto it = current->metadata.content.targets.find(ref.tag);
      if (it != current->metadata.content.targets.end()) listed = &it->second;
    }
    if (listed == nullptr || !same_target(*listed, meta)) pending.push_back(role);
  }
  std::string all_roles;
  for (const auto& r : roles) all_roles += (all_roles.empty() ? "" : ", ") + r;
  const std::string what = ref.gun + ":" + ref.tag;
  if (pending.empty()) {
    write_stdout(what + " is already signed with sha256:" + hex_sha256(meta) + " (" +
                 std::to_string(meta.length) + " bytes) in " + all_roles +
                 "; nothing to publish\n");
    return {};
  }
  // Publishing applies the whole changelist; a sign must not carry other staged work along.
  VOUCH_ASSIGN_OR_RETURN(client::ChangeListing staged, repo.changelist().list());
  if (!staged.changes.empty()) {
    return usage_error(std::to_string(staged.changes.size()) + " unpublished change(s) are " +
                       "staged for " + ref.gun + "; publish or reset them first (`vouch status " +
                       ref.gun + "`)");
  }
  std::vector<std::string> files;
  Status outcome;
  for (const auto& role : pending) {
    auto change = client::add_target_change(role, ref.tag, meta);
    if (!change.ok()) {
      outcome = change.error();
      break;
    }
    auto file = repo.changelist().add(*change);
    if (!file.ok()) {
      outcome = file.error();
      break;
    }
    files.push_back(std::move(*file));
  }
  if (outcome.ok()) {
    std::string pending_roles;
    for (const auto& r : pending) pending_roles += (pending_roles.empty() ? "" : ", ") + r;
    write_stdout("Signing and pushing trust data for " + what + " into " + pending_roles + "\n");
    outcome = ctx.publish(repo);
  }
  if (!outcome.ok()) {
    // Leave the changelist as it was, so that a retry starts clean.
    for (const auto& file : files) {
      std::error_code ec;
      std::filesystem::remove(repo.changelist().dir() / file, ec);
    }
    return outcome;
  }
  write_stdout("Successfully signed " + what + "\n");
  return {};
}

// ---- inspect ---------------------------------------------------------------------------------

struct SignedTag {
  std::string tag;
  std::string digest;
  std::set<std::string> roles;
};

struct Inspection {
  std::string name;  // the reference as given
  std::string gun;
  std::vector<SignedTag> tags;
  std::map<std::string, std::vector<std::string>> signers;  // signer name -> key IDs
  std::vector<std::string> root_keys, repository_keys;
};

Result<Inspection> inspect(Context& ctx, const std::string& reference) {
  const Reference ref = parse_reference(reference);
  if (ref.gun.empty()) return usage_error("inspect needs <gun>[:<tag>]");
  VOUCH_ASSIGN_OR_RETURN(client::Repository repo, ctx.repository(ref.gun, true));
  auto trusted = repo.update();
  if (!trusted.ok()) return trusted.error().wrap("no signatures or cannot access " + reference);

  Inspection out;
  out.name = reference;
  out.gun = ref.gun;
  // Every (tag, digest) with the roles that list it, within their effective paths.
  std::map<std::pair<std::string, std::string>, std::set<std::string>> found;
  auto note = [&found](const std::string& name, const tuf::FileMeta& meta, const std::string& role) {
    found[{name, hex_sha256(meta)}].insert(role);
  };
  std::deque<std::string> queue{std::string(tuf::kTargetsRole)};
  std::set<std::string> seen;
  while (!queue.empty()) {
    const std::string role = std::move(queue.front());
    queue.pop_front();
    if (!seen.insert(role).second) continue;
    const tuf::TrustedTargets* targets = trusted->targets(role);
    if (targets == nullptr) continue;
    if (ref.tag.empty()) {
      for (const auto& [name, meta] : targets->metadata.content.targets) {
        if (tuf::path_allowed(targets->paths, name)) note(name, meta, role);
      }
    }
    const tuf::Delegations& delegations = targets->metadata.content.delegations;
    for (const auto& d : delegations.roles) {
      queue.push_back(d.name);
      if (d.name == kReleasesRole) continue;
      std::vector<std::string>& ids = out.signers[signer_name(d.name)];
      for (const auto& id : d.keyids) {
        auto key = delegations.keys.find(id);
        ids.push_back(key == delegations.keys.end() ? id : key->second.canonical_id());
      }
    }
  }
  if (!ref.tag.empty()) {
    for (const auto& match : trusted->find_all_targets(ref.tag)) note(ref.tag, match.meta, match.role);
  }
  for (auto& [key, roles] : found) {
    SignedTag row{key.first, key.second, {}};
    for (const auto& role : roles) {
      if (role != tuf::kTargetsRole && role != kReleasesRole) row.roles.insert(signer_name(role));
    }
    // Only targets (or targets/releases) lists it: signed with the repository's own key.
    if (row.roles.empty()) {
      row.roles.insert(roles.contains(std::string(tuf::kTargetsRole)) ? std::string(kRepoAdmin)
                                                                      : std::string("releases"));
    }
    out.tags.push_back(std::move(row));
  }
  std::stable_sort(out.tags.begin(), out.tags.end(), [](const SignedTag& a, const SignedTag& b) {
    return natural_less(a.tag, b.tag);
  });
  const tuf::Root& root = trusted->root().content;
  out.root_keys = root.roles.at(std::string(tuf::kRootRole)).keyids;
  out.repository_keys = root.roles.at(std::string(tuf::kTargetsRole)).keyids;
  return out;
}

using KeyOwners = std::map<std::string, client::RegisteredKey>;

// {"ID"}, plus "Owner", "OwnerKind" and "Teams" for keys registered at the server (vouch).
Json keys_json(const std::vector<std::string>& ids, const KeyOwners& owners = {}) {
  Json keys = Json::array();
  for (const auto& id : ids) {
    Json key = Json(Json::Object{{"ID", Json(id)}});
    if (auto owner = owners.find(id); owner != owners.end()) {
      Json teams = Json::array();
      for (const auto& t : owner->second.teams) teams.push(t);
      key.set("Owner", owner->second.owner)
          .set("OwnerKind", owner->second.kind)
          .set("Teams", std::move(teams));
    }
    keys.push(std::move(key));
  }
  return keys;
}

// The holders of `ids` as "alice (acme/ops), bob", each once, in key order; "" if none known.
std::string members_of(const std::vector<std::string>& ids, const KeyOwners& owners) {
  std::vector<std::string> names;
  for (const auto& id : ids) {
    auto owner = owners.find(id);
    if (owner == owners.end()) continue;
    std::string name = client::describe_owner(owner->second);
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  return join(names, ", ");
}

// docker trust inspect's repoTrustInfo.
Json inspection_json(const Inspection& in, const KeyOwners& owners) {
  Json tags = Json::array();
  for (const auto& t : in.tags) {
    Json signers = Json::array();
    for (const auto& s : t.roles) signers.push(s);
    Json row = Json::object();
    row.set("SignedTag", t.tag).set("Digest", t.digest).set("Signers", std::move(signers));
    tags.push(std::move(row));
  }
  Json signers = Json::array();
  for (const auto& [name, ids] : in.signers) {
    Json row = Json::object();
    row.set("Name", name).set("Keys", keys_json(ids, owners));
    signers.push(std::move(row));
  }
  Json admin = Json::array();
  admin.push(Json(Json::Object{{"Name", Json("Repository")}, {"Keys", keys_json(in.repository_keys)}}));
  admin.push(Json(Json::Object{{"Name", Json("Root")}, {"Keys", keys_json(in.root_keys)}}));
  Json out = Json::object();
  out.set("Name", in.name)
      .set("SignedTags", std::move(tags))
      .set("Signers", std::move(signers))
      .set("AdministrativeKeys", std::move(admin));
  return out;
}

std::string inspection_table(const Inspection& in, const KeyOwners& owners) {
  std::string out;
  if (in.tags.empty()) {
    out += "\nNo signatures for " + in.name + "\n\n";
  } else {
    out += "\nSignatures for " + in.name + "\n\n";
    Table table({"SIGNED TAG", "DIGEST", "SIGNERS"});
    for (const auto& t : in.tags) {
      table.add_row(
          {t.tag, t.digest, join(std::vector<std::string>(t.roles.begin(), t.roles.end()), ", ")});
    }
    out += table.render() + "\n";
  }
  if (in.signers.empty()) {
    out += "No signers for " + in.gun + "\n\n";
  } else {
    out += "List of signers and their keys for " + in.gun + "\n\n";
    // With the holders' names when the server knows them (vouch); else notary's two columns.
    bool named = false;
    for (const auto& [name, ids] : in.signers) named = named || !members_of(ids, owners).empty();
    Table table(named ? std::vector<std::string>{"SIGNER", "KEYS", "MEMBERS"}
                      : std::vector<std::string>{"SIGNER", "KEYS"});
    for (const auto& [name, ids] : in.signers) {
      if (named) {
        table.add_row({name, join(ids, ", "), members_of(ids, owners)});
      } else {
        table.add_row({name, join(ids, ", ")});
      }
    }
    out += table.render() + "\n";
  }
  out += "Administrative keys for " + in.gun + "\n\n";
  out += "  Repository Key:\t" + join(in.repository_keys, ", ") + "\n";
  out += "  Root Key:\t" + join(in.root_keys, ", ") + "\n";
  return out;
}

Status run_inspect(Context& ctx, const std::vector<std::string>& references,
                   const std::string& output) {
  if (references.empty()) return usage_error("inspect needs at least one <gun>[:<tag>]");
  std::vector<Inspection> all;
  for (const auto& reference : references) {
    VOUCH_ASSIGN_OR_RETURN(Inspection in, inspect(ctx, reference));
    all.push_back(std::move(in));
  }
  // Who holds the signers' keys: one lookup for every reference.
  std::vector<std::string> ids;
  for (const auto& in : all) {
    for (const auto& [name, keys] : in.signers) ids.insert(ids.end(), keys.begin(), keys.end());
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  const KeyOwners owners = key_owners(ctx, ids);
  if (output == "json") {
    Json out = Json::array();
    for (const auto& in : all) out.push(inspection_json(in, owners));
    write_stdout(out.dump());
    return {};
  }
  for (const auto& in : all) write_stdout(inspection_table(in, owners));
  return {};
}

}  // namespace

void add_trust_commands(CLI::App& app, Context& ctx, Status& result) {
  {
    auto a = std::make_shared<SignArgs>();
    CLI::App* cmd = app.add_subcommand(
        "sign",
        "Signs a tag and publishes it in one step (vouch). The tag goes into every delegation "
        "of targets whose key this trust directory holds and whose paths cover it, as `docker "
        "trust sign` chooses, else into targets. Signing the same digest again changes "
        "nothing.");
    cmd->add_option("REFERENCE", a->reference, "<gun>:<tag>");
    cmd->add_option("--digest", a->digest, "Digest of the manifest, sha256:<hex>");
    cmd->add_option("--size", a->size, "Size of the manifest in bytes");
    cmd->add_option("--manifest", a->manifest,
                    "Manifest file (instead of --digest and --size)");
    on_run(cmd, ctx, result, [&ctx, a] { return run_sign(ctx, *a); });
  }
  {
    auto references = std::make_shared<std::vector<std::string>>();
    auto output = std::make_shared<std::string>("table");
    CLI::App* cmd = app.add_subcommand(
        "inspect", "Shows who signed what (vouch): signed tags with their digests and signer "
                   "roles, each signer's keys, and the administrative keys.");
    cmd->add_option("REFERENCE", *references, "<gun>[:<tag>]");
    add_output_option(cmd, output.get());
    on_run(cmd, ctx, result,
           [&ctx, references, output] { return run_inspect(ctx, *references, *output); });
  }
}

}  // namespace vouch::cli
