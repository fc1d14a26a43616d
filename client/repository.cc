#include "client/repository.h"

#include <algorithm>
#include <deque>
#include <map>
#include <set>
#include <system_error>
#include <utility>

#include "client/apply.h"
#include "client/disk_cache.h"
#include "common/log.h"
#include "keys/private_key.h"
#include "keys/root_certificate.h"
#include "tuf/updater.h"
#include "tuf/verify.h"

namespace vouch::client {

namespace fs = std::filesystem;

struct Repository::Impl {
  RepositoryConfig config;
  fs::path trust_dir;
  Remote* remote = nullptr;
  const keys::TrustDirKeyStore* store = nullptr;
  keys::Signer* signer = nullptr;
  keys::PassphraseSource* passphrases = nullptr;
  DiskMetadataCache cache;
  FileChangelist changelist;

  TimePoint now() const { return config.clock->now(); }

  Status need_remote() const {
    if (remote == nullptr) {
      return make_error(Code::kFailedPrecondition, Reason::kUnavailable,
                        "this operation needs the trust server; none is configured");
    }
    return {};
  }

  // Whether the private key behind `key` is in the trust directory.
  bool holds(const keys::PublicKey& key) const { return store->find(key.canonical_id()).ok(); }

  // The keys among `role_keys` whose private keys are held here, distinct by key material,
  // in listed order. Fewer than the threshold -> kThresholdNotMet naming what is missing.
  Result<std::vector<keys::PublicKey>> signing_keys(const tuf::KeyMap& keymap,
                                                    const tuf::RoleKeys& role_keys,
                                                    std::string_view role) const {
    std::vector<keys::PublicKey> out;
    std::set<Bytes> seen;
    for (const auto& id : role_keys.keyids) {
      auto it = keymap.find(id);
      if (it == keymap.end()) continue;
      if (!holds(it->second)) continue;
      if (!seen.insert(it->second.spki_der()).second) continue;
      out.push_back(it->second);
    }
    if (out.size() < static_cast<std::size_t>(std::max<std::int64_t>(role_keys.threshold, 1))) {
      std::string ids;
      for (const auto& id : role_keys.keyids) {
        auto it = keymap.find(id);
        ids += (ids.empty() ? "" : ", ") +
               (it == keymap.end() ? id : it->second.canonical_id()).substr(0, 12);
      }
      return make_error(Code::kFailedPrecondition, Reason::kThresholdNotMet,
                        "cannot sign " + std::string(role) + ": it needs " +
                            std::to_string(role_keys.threshold) + " of its keys [" + ids +
                            "] and this trust directory holds " + std::to_string(out.size()) +
                            " (import the key with `key import`)");
    }
    return out;
  }

  Result<std::string> sign(const tuf::json::Value& signed_value, const tuf::KeyMap& keymap,
                           const tuf::RoleKeys& role_keys, std::string_view role) {
    VOUCH_ASSIGN_OR_RETURN(auto keys, signing_keys(keymap, role_keys, role));
    auto bytes = tuf::sign_metadata(signed_value, keys, *signer);
    if (!bytes.ok()) return bytes.error().wrap("signing " + std::string(role));
    return std::move(*bytes);
  }

  // A root key's public form for root.json: the certificate given for it, or a new
  // self-signed certificate for the GUN (which needs the private key).
  Result<keys::PublicKey> root_certificate_key(const std::string& key_id,
                                               const std::vector<std::string>& certs) {
    VOUCH_ASSIGN_OR_RETURN(keys::KeyEntry entry, store->find(key_id));
    (void)entry;
    for (const auto& pem : certs) {
      auto key = keys::PublicKey::from_pem(pem);
      if (!key.ok()) return key.error().wrap("root certificate");
      if (key->canonical_id() == key_id) {
        if (key->certificate() == nullptr) {
          return make_error(Reason::kBadCertificate, "--rootcert must be an X.509 certificate");
        }
        VOUCH_RETURN_IF_ERROR(key->certificate()->check_root(config.gun, now()));
        return std::move(*key);
      }
    }
    VOUCH_ASSIGN_OR_RETURN(keys::PrivateKey priv, store->load(key_id, *passphrases));
    const TimePoint start = now();
    VOUCH_ASSIGN_OR_RETURN(auto cert,
                           keys::make_root_certificate(priv, config.gun, start, start + kRootLifetime));
    const keys::KeyType type = priv.public_key().type() == keys::KeyType::kRsa
                                   ? keys::KeyType::kRsaX509
                                   : keys::KeyType::kEcdsaX509;
    return keys::PublicKey::from_tuf(type, as_bytes(cert.pem()));
  }

  tuf::RefreshOptions refresh_options() const {
    tuf::RefreshOptions options;
    options.pinning = config.pinning;
    options.limits = config.limits;
    return options;
  }

  Result<tuf::TrustedSet> update() {
    VOUCH_RETURN_IF_ERROR(need_remote());
    return tuf::refresh(config.gun, *remote, &cache, now(), refresh_options());
  }
};

// ---------------------------------------------------------------------------------------------

Repository::Repository(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Repository::Repository(Repository&&) noexcept = default;
Repository& Repository::operator=(Repository&&) noexcept = default;
Repository::~Repository() = default;

Result<Repository> Repository::open(RepositoryConfig config, fs::path trust_dir, Remote* remote,
                                    const keys::TrustDirKeyStore& store, keys::Signer& signer,
                                    keys::PassphraseSource& passphrases) {
  VOUCH_ASSIGN_OR_RETURN(fs::path dir, gun_dir(trust_dir, config.gun));
  VOUCH_ASSIGN_OR_RETURN(DiskMetadataCache cache, DiskMetadataCache::open(trust_dir, config.gun));
  VOUCH_ASSIGN_OR_RETURN(FileChangelist changelist,
                         FileChangelist::open(dir / "changelist", {}, *config.clock));
  auto impl = std::unique_ptr<Impl>(new Impl{std::move(config), std::move(trust_dir), remote,
                                             &store, &signer, &passphrases, std::move(cache),
                                             std::move(changelist)});
  return Repository(std::move(impl));
}

const std::string& Repository::gun() const { return impl_->config.gun; }
FileChangelist& Repository::changelist() { return impl_->changelist; }
tuf::MetadataCache& Repository::cache() { return impl_->cache; }

Result<tuf::TrustedSet> Repository::update() { return impl_->update(); }

// ---- init ------------------------------------------------------------------------------------

Result<InitResult> Repository::initialize(const InitOptions& options) {
  Impl& m = *impl_;
  VOUCH_RETURN_IF_ERROR(m.need_remote());
  const std::string& gun = m.config.gun;

  // A repository the server already has cannot be initialized again: its clients trust its
  // root, and a new root not signed by it would be refused.
  {
    auto existing = m.remote->fetch(tuf::kRootRole, std::nullopt, m.config.limits.max_root_bytes);
    if (existing.ok()) {
      return make_error(Code::kAlreadyExists, Reason::kConflict,
                        "repository " + gun + " already exists on the server; use `delete "
                        "--remote` first to replace it");
    }
    if (existing.error().reason != Reason::kNotFound) {
      return existing.error().wrap("checking whether " + gun + " exists");
    }
  }

  InitResult result;
  // Root keys: those given, else the first root key in the store, else a new one.
  std::vector<std::string> root_ids = options.root_key_ids;
  if (root_ids.empty()) {
    VOUCH_ASSIGN_OR_RETURN(keys::KeyListing listing, m.store->list());
    for (const auto& entry : listing.keys) {
      if (entry.role == tuf::kRootRole) {
        root_ids.push_back(entry.key_id);
        break;
      }
    }
  }
  if (root_ids.empty()) {
    VOUCH_ASSIGN_OR_RETURN(keys::PublicKey key,
                           m.signer->create_key("", tuf::kRootRole, m.config.key_type));
    root_ids.push_back(key.canonical_id());
    result.generated_root_key = true;
  }
  std::vector<keys::PublicKey> root_keys;
  for (const auto& id : root_ids) {
    VOUCH_ASSIGN_OR_RETURN(auto key, m.root_certificate_key(id, options.root_certificates));
    root_keys.push_back(std::move(key));
  }
  result.root_key = root_keys.front();

  VOUCH_ASSIGN_OR_RETURN(keys::PublicKey targets_key,
                         m.signer->create_key(gun, tuf::kTargetsRole, m.config.key_type));
  std::optional<keys::PublicKey> snapshot_key;
  if (options.server_managed_snapshot) {
    auto key = m.remote->get_key(tuf::kSnapshotRole);
    if (!key.ok()) return key.error().wrap("getting the server's snapshot key");
    snapshot_key = std::move(*key);
  } else {
    VOUCH_ASSIGN_OR_RETURN(snapshot_key,
                           m.signer->create_key(gun, tuf::kSnapshotRole, m.config.key_type));
  }
  auto timestamp_key = m.remote->get_key(tuf::kTimestampRole);
  if (!timestamp_key.ok()) return timestamp_key.error().wrap("getting the server's timestamp key");

  const TimePoint now = m.now();
  tuf::Root root;
  root.version = 1;
  root.expires = tuf::Expiry::at(now + kRootLifetime);
  tuf::RoleKeys root_role;
  for (const auto& k : root_keys) {
    root.keys.insert_or_assign(k.id(), k);
    root_role.keyids.push_back(k.id());
  }
  root_role.threshold = 1;
  root.roles[std::string(tuf::kRootRole)] = root_role;
  for (const auto& [role, key] : {std::pair{tuf::kTargetsRole, &targets_key},
                                  std::pair{tuf::kSnapshotRole, &*snapshot_key},
                                  std::pair{tuf::kTimestampRole, &*timestamp_key}}) {
    root.keys.insert_or_assign(key->id(), *key);
    root.roles[std::string(role)] = tuf::RoleKeys{{key->id()}, 1};
  }
  VOUCH_ASSIGN_OR_RETURN(std::string root_bytes,
                         m.sign(tuf::to_json(root), root.keys, root_role, tuf::kRootRole));

  tuf::Targets targets;
  targets.version = 1;
  targets.expires = tuf::Expiry::at(now + kTargetsLifetime);
  VOUCH_ASSIGN_OR_RETURN(std::string targets_bytes,
                         m.sign(tuf::to_json(targets), root.keys, root.roles.at("targets"),
                                tuf::kTargetsRole));
  result.roles_signed_locally = {"root", "targets"};

  std::optional<std::string> snapshot_bytes;
  if (!options.server_managed_snapshot) {
    tuf::Snapshot snapshot;
    snapshot.version = 1;
    snapshot.expires = tuf::Expiry::at(now + kSnapshotLifetimeClient);
    snapshot.meta["root"] = tuf::FileMeta::of(as_bytes(root_bytes));
    snapshot.meta["targets"] = tuf::FileMeta::of(as_bytes(targets_bytes));
    VOUCH_ASSIGN_OR_RETURN(snapshot_bytes,
                           m.sign(tuf::to_json(snapshot), root.keys, root.roles.at("snapshot"),
                                  tuf::kSnapshotRole));
    result.roles_signed_locally.push_back("snapshot");
  }

  // A fresh start: whatever an earlier init of this GUN cached is replaced.
  VOUCH_RETURN_IF_ERROR(m.cache.remove_all());
  VOUCH_RETURN_IF_ERROR(m.cache.store(tuf::kRootRole, root_bytes));
  VOUCH_RETURN_IF_ERROR(m.cache.store(tuf::kTargetsRole, targets_bytes));
  if (snapshot_bytes) VOUCH_RETURN_IF_ERROR(m.cache.store(tuf::kSnapshotRole, *snapshot_bytes));
  return result;
}

// ---- reads -----------------------------------------------------------------------------------

namespace {

// Roles reachable from `start` (itself first), breadth-first in listed order, as Notary's
// WalkTargets visits them; roles not loaded are passed over.
std::vector<const tuf::TrustedTargets*> walk_roles(const tuf::TrustedSet& trusted,
                                                   std::string_view start) {
  std::vector<const tuf::TrustedTargets*> out;
  std::deque<std::string> queue{std::string(start)};
  std::set<std::string, std::less<>> seen;
  while (!queue.empty()) {
    std::string role = std::move(queue.front());
    queue.pop_front();
    if (!seen.insert(role).second) continue;
    const tuf::TrustedTargets* t = trusted.targets(role);
    if (t == nullptr) continue;
    out.push_back(t);
    for (const auto& edge : trusted.delegations_of(role)) queue.push_back(edge.role);
  }
  return out;
}

TargetInfo info_of(const std::string& name, const tuf::TrustedTargets& role,
                   const tuf::FileMeta& meta) {
  return TargetInfo{name, meta, role.role, role.signers};
}

}  // namespace

Result<std::vector<TargetInfo>> Repository::list_targets(std::span<const std::string> roles) {
  VOUCH_ASSIGN_OR_RETURN(tuf::TrustedSet trusted, impl_->update());
  std::vector<std::string> starts(roles.begin(), roles.end());
  if (starts.empty()) starts.emplace_back(tuf::kTargetsRole);
  std::map<std::string, TargetInfo, std::less<>> found;
  for (const auto& start : starts) {
    if (!tuf::is_valid_role_name(start) || start == tuf::kRootRole ||
        start == tuf::kSnapshotRole || start == tuf::kTimestampRole) {
      return make_error(Reason::kBadRole, "not a targets role: " + start);
    }
    for (const tuf::TrustedTargets* role : walk_roles(trusted, start)) {
      for (const auto& [name, meta] : role->metadata.content.targets) {
        if (!tuf::path_allowed(role->paths, name)) continue;
        if (found.find(name) != found.end()) continue;
        found.emplace(name, info_of(name, *role, meta));
      }
    }
  }
  std::vector<TargetInfo> out;
  out.reserve(found.size());
  for (auto& [name, info] : found) out.push_back(std::move(info));
  return out;
}

Result<TargetInfo> Repository::lookup(std::string_view name, std::span<const std::string> roles) {
  VOUCH_ASSIGN_OR_RETURN(tuf::TrustedSet trusted, impl_->update());
  std::optional<tuf::TargetMatch> match =
      roles.empty() ? trusted.find_target(name) : trusted.find_target(name, roles);
  if (!match) {
    return make_error(Reason::kNotFound,
                      "no trust data for " + std::string(name) + " in " + impl_->config.gun);
  }
  return TargetInfo{std::string(name), std::move(match->meta), std::move(match->role),
                    std::move(match->signers)};
}

// ---- publish ---------------------------------------------------------------------------------

namespace {

// The state a publish starts from.
struct Base {
  bool initial = false;
  tuf::Metadata<tuf::Root> root;
  std::string root_bytes;
  // The snapshot to edit, when the client signs snapshots (nullopt for an initial publish
  // without one, or when the server manages the snapshot).
  std::optional<tuf::Snapshot> snapshot;
  std::map<std::string, std::int64_t, std::less<>> versions;
  TargetsDraft draft{tuf::Targets{}, {}};
};

}  // namespace

struct PublishPlan {
  std::vector<RolePart> parts;
  std::size_t applied = 0;
  std::string last_change_file;
};

namespace {

Result<Base> base_from_server(const tuf::TrustedSet& trusted) {
  Base base;
  base.root = trusted.root();
  base.root_bytes = *trusted.root().bytes;
  if (trusted.snapshot() != nullptr) base.snapshot = trusted.snapshot()->content;
  base.versions = trusted.versions();
  VOUCH_ASSIGN_OR_RETURN(TargetsDraft draft, TargetsDraft::from_trusted_set(trusted));
  base.draft = std::move(draft);
  return base;
}

Result<Base> base_from_cache(tuf::MetadataCache& cache, const tuf::UpdateLimits& limits,
                             const std::string& gun) {
  auto root_bytes = cache.load(tuf::kRootRole, limits.max_root_bytes);
  if (!root_bytes.ok()) {
    if (root_bytes.error().reason == Reason::kNotFound) {
      return make_error(Code::kFailedPrecondition, Reason::kNotFound,
                        "repository " + gun +
                            " does not exist on the server and is not initialized here: run "
                            "`init` first");
    }
    return root_bytes.error().wrap("reading the cached root");
  }
  Base base;
  base.initial = true;
  base.root_bytes = std::move(*root_bytes);
  auto root = tuf::parse_root(base.root_bytes, limits.metadata);
  if (!root.ok()) return root.error().wrap("cached root of " + gun);
  VOUCH_RETURN_IF_ERROR(tuf::verify_root_self(*root));
  base.root = std::move(*root);

  VOUCH_ASSIGN_OR_RETURN(std::string targets_bytes,
                         cache.load(tuf::kTargetsRole, limits.max_targets_bytes));
  auto targets = tuf::parse_targets(targets_bytes, limits.metadata);
  if (!targets.ok()) return targets.error().wrap("cached targets of " + gun);
  VOUCH_RETURN_IF_ERROR(tuf::verify_signatures(*targets, base.root.content.keys,
                                               base.root.content.roles.at("targets"),
                                               tuf::kTargetsRole));
  base.versions["root"] = base.root.content.version;
  base.versions["targets"] = targets->content.version;
  auto snapshot_bytes = cache.load(tuf::kSnapshotRole, limits.max_snapshot_bytes);
  if (snapshot_bytes.ok()) {
    auto snapshot = tuf::parse_snapshot(*snapshot_bytes, limits.metadata);
    if (snapshot.ok()) base.snapshot = snapshot->content;
  }
  std::vector<keys::PublicKey> targets_keys;
  for (const auto& id : base.root.content.roles.at("targets").keyids) {
    auto it = base.root.content.keys.find(id);
    if (it != base.root.content.keys.end()) targets_keys.push_back(it->second);
  }
  base.draft = TargetsDraft(std::move(targets->content), std::move(targets_keys));
  return base;
}

// Whether the server refused an upload that carried no snapshot because it does not hold the
// snapshot key either (Notary's ErrBadHierarchy, "no snapshot was included in update and
// server does not hold current snapshot key"; vouch-server says the same). Transport and
// permission failures are not that, whatever their text.
bool refused_for_snapshot(const Error& error) {
  if (error.reason == Reason::kUnavailable || error.reason == Reason::kConflict ||
      error.code == Code::kUnavailable || error.code == Code::kUnauthenticated ||
      error.code == Code::kPermissionDenied || error.code == Code::kDeadlineExceeded) {
    return false;
  }
  return error.message.find("snapshot") != std::string::npos;
}

}  // namespace

std::optional<bool> Repository::holds_snapshot_key() {
  Impl& m = *impl_;
  auto bytes = m.cache.load(tuf::kRootRole, m.config.limits.max_root_bytes);
  if (!bytes.ok()) return std::nullopt;
  auto root = tuf::parse_root(*bytes, m.config.limits.metadata);
  if (!root.ok()) return std::nullopt;
  const auto role = root->content.roles.find(tuf::kSnapshotRole);
  if (role == root->content.roles.end()) return std::nullopt;
  return m.signing_keys(root->content.keys, role->second, tuf::kSnapshotRole).ok();
}

Result<PublishResult> Repository::publish(const ProgressFn& progress) {
  Impl& m = *impl_;
  VOUCH_RETURN_IF_ERROR(m.need_remote());
  auto report = [&](std::string_view phase, std::size_t done, std::size_t total) {
    if (progress) progress(phase, done, total);
  };

  PublishResult result;
  for (int attempt = 1;; ++attempt) {
    result.attempts = attempt;
    report("fetching trust data", 0, 0);
    Base base;
    auto trusted = m.update();
    if (trusted.ok()) {
      VOUCH_ASSIGN_OR_RETURN(base, base_from_server(*trusted));
    } else if (trusted.error().reason == Reason::kNotFound) {
      VOUCH_ASSIGN_OR_RETURN(base, base_from_cache(m.cache, m.config.limits, m.config.gun));
    } else {
      return trusted.error();
    }
    result.initial = base.initial;

    VOUCH_ASSIGN_OR_RETURN(ChangeListing listing, m.changelist.list());
    for (const auto& warning : listing.warnings) log::get("client")->warn("changelist: {}", warning);
    if (listing.changes.empty() && !base.initial) {
      result.changes_applied = 0;
      return result;
    }
    report("applying changes", 0, listing.changes.size());
    ApplyOptions apply_options;
    apply_options.can_sign = [&m](const keys::PublicKey& key) { return m.holds(key); };
    apply_options.limits = m.config.limits.metadata;
    auto applied = apply_changes(base.draft, listing.changes, apply_options);
    if (!applied.ok()) {
      return applied.error().wrap("applying the staged changes (`status` lists them, `reset` "
                                  "removes them)");
    }
    for (const auto& warning : applied->warnings) log::get("client")->warn("{}", warning);

    const TimePoint now = m.now();
    const tuf::Root& root = base.root.content;
    std::vector<RolePart> parts;
    std::map<std::string, std::string, std::less<>> signed_files;
    if (base.initial) {
      parts.push_back({std::string(tuf::kRootRole), base.root_bytes});
    }
    // Roles to sign: changed ones; on an initial publish always targets.
    std::vector<std::string> to_sign(base.draft.changed().begin(), base.draft.changed().end());
    if (base.initial && std::find(to_sign.begin(), to_sign.end(), "targets") == to_sign.end()) {
      to_sign.insert(to_sign.begin(), "targets");
    }
    std::size_t signed_count = 0;
    for (const auto& role : to_sign) {
      const tuf::Targets* draft_role = base.draft.find(role);
      if (draft_role == nullptr) {
        return make_error(Reason::kInternal, "changed role " + role + " has no metadata");
      }
      tuf::Targets content = *draft_role;
      auto old = base.versions.find(role);
      const bool existed = old != base.versions.end();
      // An initial publish keeps the cached targets' version; everything else moves on.
      content.version = base.initial && role == tuf::kTargetsRole && existed
                            ? old->second
                            : (existed ? old->second + 1 : std::max<std::int64_t>(content.version, 1));
      content.expires = tuf::Expiry::at(now + kTargetsLifetime);
      std::string bytes;
      if (role == tuf::kTargetsRole) {
        VOUCH_ASSIGN_OR_RETURN(bytes, m.sign(tuf::to_json(content), root.keys,
                                             root.roles.at("targets"), role));
      } else {
        const tuf::Targets* parent = base.draft.find(tuf::parent_role(role));
        const tuf::DelegatedRole* delegation =
            parent == nullptr ? nullptr : parent->delegations.find(role);
        if (delegation == nullptr) {
          return make_error(Reason::kBadRole, "cannot sign " + role + ": its parent does not "
                                              "delegate to it");
        }
        VOUCH_ASSIGN_OR_RETURN(
            bytes, m.sign(tuf::to_json(content), parent->delegations.keys,
                          tuf::RoleKeys{delegation->keyids, delegation->threshold}, role));
      }
      signed_files[role] = bytes;
      parts.push_back({role, std::move(bytes)});
      report("signing", ++signed_count, to_sign.size());
    }

    // The snapshot, when this client holds its keys.
    const tuf::RoleKeys& snapshot_role = root.roles.at("snapshot");
    const bool signs_snapshot = m.signing_keys(root.keys, snapshot_role, tuf::kSnapshotRole).ok();
    if (signs_snapshot) {
      tuf::Snapshot snapshot = base.snapshot.value_or(tuf::Snapshot{});
      for (const auto& removed : base.draft.deleted()) {
        for (auto it = snapshot.meta.begin(); it != snapshot.meta.end();) {
          const std::string& name = it->first;
          const bool below = name == removed ||
                             (name.size() > removed.size() && name.starts_with(removed) &&
                              name[removed.size()] == '/');
          it = below ? snapshot.meta.erase(it) : std::next(it);
        }
      }
      snapshot.meta["root"] = tuf::FileMeta::of(as_bytes(base.root_bytes));
      for (const auto& [role, bytes] : signed_files) {
        snapshot.meta[role] = tuf::FileMeta::of(as_bytes(bytes));
      }
      if (!snapshot.meta.contains("targets")) {
        return make_error(Reason::kInternal, "snapshot would not list targets");
      }
      auto old = base.versions.find(tuf::kSnapshotRole);
      snapshot.version = old != base.versions.end() ? old->second + 1
                                                    : (base.snapshot ? base.snapshot->version : 1);
      if (base.initial) snapshot.version = std::max<std::int64_t>(snapshot.version, 1);
      snapshot.expires = tuf::Expiry::at(now + kSnapshotLifetimeClient);
      VOUCH_ASSIGN_OR_RETURN(std::string bytes, m.sign(tuf::to_json(snapshot), root.keys,
                                                       snapshot_role, tuf::kSnapshotRole));
      parts.push_back({std::string(tuf::kSnapshotRole), std::move(bytes)});
    }

    report("uploading", 0, 0);
    Status uploaded = m.remote->publish(parts);
    if (!uploaded.ok()) {
      if (uploaded.error().reason == Reason::kConflict && attempt < 2) {
        log::get("client")->info("publish of {} conflicted with another publisher; retrying on the new state",
                  m.config.gun);
        continue;
      }
      if (!signs_snapshot && refused_for_snapshot(uploaded.error())) {
        log::get("client")->debug("the server's refusal: {}", uploaded.error().message);
        const std::string& gun = m.config.gun;
        return make_error(Code::kFailedPrecondition, Reason::kThresholdNotMet,
                          "cannot publish " + gun + ": its snapshot key is held by the "
                          "repository owner, not by the trust server, so only the owner can "
                          "publish; the owner can run `vouch key rotate " + gun +
                          " snapshot -r` once to let the server sign snapshots");
      }
      return uploaded.error().wrap("publishing " + m.config.gun);
    }
    // Published: the staged changes are done, and what we signed is trusted by construction.
    if (!listing.changes.empty()) {
      VOUCH_RETURN_IF_ERROR(m.changelist.clear_through(listing.changes.back().file_name));
    }
    for (const auto& part : parts) {
      if (part.role == tuf::kSnapshotRole) continue;  // the server's timestamp decides
      Status stored = m.cache.store(part.role, part.bytes);
      if (!stored.ok()) log::get("client")->warn("caching {}: {}", part.role, stored.error().message);
      result.uploaded.push_back(part.role);
    }
    for (const auto& part : parts) {
      if (part.role == tuf::kSnapshotRole) result.uploaded.push_back(part.role);
    }
    result.changes_applied = listing.changes.size();
    return result;
  }
}

// ---- key rotation ----------------------------------------------------------------------------

Result<std::vector<std::string>> Repository::rotate_key(std::string_view role, bool server_managed,
                                                        std::span<const std::string> key_ids) {
  Impl& m = *impl_;
  if (!tuf::is_base_role(role)) {
    return make_error(Reason::kBadRole, "key rotate works on root, targets, snapshot or "
                                        "timestamp, not " + std::string(role));
  }
  if (role == tuf::kTimestampRole && !server_managed) {
    return make_error(Reason::kBadRole,
                      "the timestamp key is always held by the server: use -r/--server-managed");
  }
  if (server_managed && (role == tuf::kRootRole || role == tuf::kTargetsRole)) {
    return make_error(Reason::kBadRole, "only snapshot and timestamp keys can be server-managed");
  }
  if (server_managed && !key_ids.empty()) {
    return make_error(Reason::kBadRole, "-k/--key cannot be used with -r/--server-managed");
  }
  VOUCH_ASSIGN_OR_RETURN(tuf::TrustedSet trusted, m.update());
  const tuf::Metadata<tuf::Root>& old_root = trusted.root();
  tuf::Root root = old_root.content;

  // The new keys.
  std::vector<keys::PublicKey> new_keys;
  if (server_managed) {
    auto key = m.remote->rotate_key(role);
    if (!key.ok()) return key.error().wrap("rotating the server's " + std::string(role) + " key");
    new_keys.push_back(std::move(*key));
  } else if (!key_ids.empty()) {
    for (const auto& id : key_ids) {
      if (role == tuf::kRootRole) {
        VOUCH_ASSIGN_OR_RETURN(auto key, m.root_certificate_key(id, {}));
        new_keys.push_back(std::move(key));
      } else {
        VOUCH_ASSIGN_OR_RETURN(auto key, m.signer->public_key(id));
        new_keys.push_back(std::move(key));
      }
    }
  } else {
    VOUCH_ASSIGN_OR_RETURN(keys::PublicKey key,
                           m.signer->create_key(role == tuf::kRootRole ? "" : m.config.gun, role,
                                                m.config.key_type));
    if (role == tuf::kRootRole) {
      VOUCH_ASSIGN_OR_RETURN(key, m.root_certificate_key(key.canonical_id(), {}));
    }
    new_keys.push_back(std::move(key));
  }

  // Replace the role's keys; drop keys no role uses any more.
  tuf::RoleKeys& role_keys = root.roles.at(std::string(role));
  role_keys.keyids.clear();
  for (const auto& k : new_keys) {
    root.keys.insert_or_assign(k.id(), k);
    role_keys.keyids.push_back(k.id());
  }
  role_keys.threshold = 1;
  for (auto it = root.keys.begin(); it != root.keys.end();) {
    bool used = false;
    for (const auto& [name, r] : root.roles) {
      used = used || std::find(r.keyids.begin(), r.keyids.end(), it->first) != r.keyids.end();
    }
    it = used ? std::next(it) : root.keys.erase(it);
  }
  root.version = old_root.content.version + 1;
  root.expires = tuf::Expiry::at(m.now() + kRootLifetime);

  // Signed by the old root keys (so clients that trust them follow) and, when they differ,
  // by the new ones (so the new root verifies on its own).
  VOUCH_ASSIGN_OR_RETURN(auto old_signers,
                         m.signing_keys(old_root.content.keys,
                                        old_root.content.roles.at("root"), tuf::kRootRole));
  std::vector<keys::PublicKey> signers = old_signers;
  VOUCH_ASSIGN_OR_RETURN(auto new_signers,
                         m.signing_keys(root.keys, root.roles.at("root"), tuf::kRootRole));
  for (const auto& k : new_signers) {
    bool dup = false;
    for (const auto& s : signers) dup = dup || s.id() == k.id();
    if (!dup) signers.push_back(k);
  }
  auto root_bytes = tuf::sign_metadata(tuf::to_json(root), signers, *m.signer);
  if (!root_bytes.ok()) return root_bytes.error().wrap("signing the new root");

  std::vector<RolePart> parts;
  parts.push_back({std::string(tuf::kRootRole), *root_bytes});
  std::map<std::string, std::string, std::less<>> signed_files;
  // A new targets key: re-sign targets with it, or clients could not verify the stored one.
  if (role == tuf::kTargetsRole) {
    const tuf::TrustedTargets* targets = trusted.targets();
    if (targets == nullptr) return make_error(Reason::kInternal, "targets not loaded");
    tuf::Targets content = targets->metadata.content;
    content.version += 1;
    content.expires = tuf::Expiry::at(m.now() + kTargetsLifetime);
    VOUCH_ASSIGN_OR_RETURN(std::string bytes, m.sign(tuf::to_json(content), root.keys,
                                                     root.roles.at("targets"), tuf::kTargetsRole));
    signed_files["targets"] = bytes;
    parts.push_back({std::string(tuf::kTargetsRole), std::move(bytes)});
  }
  // A client-managed snapshot must list the new root.
  if (m.signing_keys(root.keys, root.roles.at("snapshot"), tuf::kSnapshotRole).ok()) {
    tuf::Snapshot snapshot =
        trusted.snapshot() != nullptr ? trusted.snapshot()->content : tuf::Snapshot{};
    snapshot.meta["root"] = tuf::FileMeta::of(as_bytes(*root_bytes));
    for (const auto& [r, bytes] : signed_files) snapshot.meta[r] = tuf::FileMeta::of(as_bytes(bytes));
    snapshot.version += 1;
    snapshot.expires = tuf::Expiry::at(m.now() + kSnapshotLifetimeClient);
    VOUCH_ASSIGN_OR_RETURN(std::string bytes, m.sign(tuf::to_json(snapshot), root.keys,
                                                     root.roles.at("snapshot"), tuf::kSnapshotRole));
    parts.push_back({std::string(tuf::kSnapshotRole), std::move(bytes)});
  }
  Status uploaded = m.remote->publish(parts);
  if (!uploaded.ok()) return uploaded.error().wrap("publishing the rotated " + std::string(role) + " key");
  for (const auto& part : parts) {
    if (part.role == tuf::kSnapshotRole) continue;
    Status stored = m.cache.store(part.role, part.bytes);
    if (!stored.ok()) log::get("client")->warn("caching {}: {}", part.role, stored.error().message);
  }
  std::vector<std::string> ids;
  for (const auto& k : new_keys) ids.push_back(k.id());
  return ids;
}

// ---- delete ----------------------------------------------------------------------------------

Status Repository::delete_trust_data(bool remote) {
  Impl& m = *impl_;
  if (remote) {
    VOUCH_RETURN_IF_ERROR(m.need_remote());
    Status deleted = m.remote->delete_repository();
    if (!deleted.ok()) return deleted.error().wrap("deleting " + m.config.gun + " on the server");
  }
  VOUCH_RETURN_IF_ERROR(m.cache.remove_all());
  VOUCH_RETURN_IF_ERROR(m.changelist.clear());
  return {};
}

}  // namespace vouch::client
