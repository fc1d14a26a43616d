#include "tuf/update_validator.h"

#include <algorithm>
#include <set>
#include <utility>

#include "common/enum_names.h"
#include "keys/x509.h"
#include "tuf/verify.h"

namespace vouch::tuf {
namespace {

// ---------------------------------------------------------------------------------------------
// Errors: each rule classifies its failure where it knows the class, once.

UpdateError tag(UpdateErrorClass cls, Error e, std::string_view missing = {}) {
  return UpdateError(cls, std::move(e), std::string(missing));
}

UpdateError tagged(UpdateErrorClass cls, Reason reason, std::string message,
                   std::string_view missing = {}) {
  return tag(cls, make_error(reason, std::move(message)), missing);
}

UpdateError internal(Error e, std::string_view context) {
  return tag(UpdateErrorClass::kInternal, std::move(e.wrap(context)));
}

// Names from the network are printed bounded and with control bytes escaped, so that a message
// (which may reach logs and the client) never carries raw input.
std::string quote(std::string_view name) {
  constexpr std::size_t kMax = 80;
  std::string out = "\"";
  for (std::size_t i = 0; i < name.size() && i < kMax; ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (name.size() > kMax) out += "...";
  out += '"';
  return out;
}

// The class of a failure that concerns the content of `role`'s file.
UpdateErrorClass class_of_role(std::string_view role) {
  if (role == kRootRole) return UpdateErrorClass::kBadRoot;
  if (role == kSnapshotRole) return UpdateErrorClass::kBadSnapshot;
  return UpdateErrorClass::kBadTargets;
}

// Parse failures: broken JSON is MALFORMED_JSON (Notary's handler fails to decode it); a file
// that is JSON but not valid metadata of its role fails that role's validation, as in Notary's
// builder.
UpdateErrorClass class_of_parse_error(Reason reason, std::string_view role) {
  switch (reason) {
    case Reason::kMalformed:
    case Reason::kDuplicateKey:
    case Reason::kInvalidUtf8:
    case Reason::kNotInteger:
    case Reason::kTrailingData:
    case Reason::kTooDeep:
      return UpdateErrorClass::kMalformedJson;
    case Reason::kTooLarge:
      return UpdateErrorClass::kTooLarge;
    default:
      return class_of_role(role);
  }
}

// Depth of a targets role: "targets" 0, "targets/a" 1, ...
std::size_t depth(std::string_view role) {
  return static_cast<std::size_t>(std::count(role.begin(), role.end(), '/'));
}

// Shallower first, then by name (Notary's RoleList order, made total).
bool shallower(const std::string& a, const std::string& b) {
  const auto da = depth(a);
  const auto db = depth(b);
  return da != db ? da < db : a < b;
}

// Checks a listed FileMeta against the meta of the actual bytes (both hashes computed once).
// Same rule as FileMeta::check: length equal, every supported hash listed must match, and a
// sha256 must be listed (Notary requires sha256 in snapshot entries).
Status check_meta(const FileMeta& listed, const FileMeta& actual) {
  if (listed.length != actual.length) {
    return make_error(Reason::kLengthMismatch, "length " + std::to_string(listed.length) +
                                                   " listed, " + std::to_string(actual.length) +
                                                   " actual");
  }
  if (listed.hashes.find("sha256") == listed.hashes.end()) {
    return make_error(Reason::kHashMismatch, "no sha256 listed");
  }
  for (const char* algo : {"sha256", "sha512"}) {
    auto l = listed.hashes.find(algo);
    if (l == listed.hashes.end()) continue;
    auto a = actual.hashes.find(algo);
    if (a == actual.hashes.end() || a->second != l->second) {
      return make_error(Reason::kHashMismatch, std::string(algo) + " does not match");
    }
  }
  return {};
}

// threshold >= kMinThreshold and every key ID defined, for a role as root or a parent lists it
// (Notary's isValidRootRoleStructure).
Status check_role_keys(std::string_view role, const RoleKeys& rk, const KeyMap& keys) {
  if (rk.threshold < kMinThreshold) {
    return make_error(Reason::kMalformed, "invalid threshold " + std::to_string(rk.threshold) +
                                              " for role " + quote(role));
  }
  for (const auto& id : rk.keyids) {
    if (keys.find(id) == keys.end()) {
      return make_error(Reason::kUnknownKey, "key ID " + quote(id) + " listed for " +
                                                 quote(role) + " without a corresponding key");
    }
  }
  return {};
}

bool same_role_keys(const RoleKeys& a, const RoleKeys& b) {
  if (a.threshold != b.threshold) return false;
  std::set<std::string> sa(a.keyids.begin(), a.keyids.end());
  std::set<std::string> sb(b.keyids.begin(), b.keyids.end());
  return sa == sb;  // a key ID is the hash of its key, so equal IDs are equal keys
}

// Notary's ValidateRoot (trustpinning/certs.go) with no trust pinning, plus RootFromSigned's
// structure checks and the expiry check of the builder. Stricter than Notary in one way:
// Notary skips root keys whose certificate is invalid and counts only the valid ones; here a
// root whose root role lists an invalid certificate is rejected, so that the mistake is
// reported instead of silently weakening the root role.
Status validate_root(const Metadata<Root>& root, const Metadata<Root>* previous,
                     std::string_view gun, TimePoint now) {
  const Root& r = root.content;
  if (r.version < 1) return make_error(Reason::kBadVersion, "version cannot be less than 1");
  for (const auto& [name, rk] : r.roles) VOUCH_RETURN_IF_ERROR(check_role_keys(name, rk, r.keys));
  const RoleKeys& root_role = r.roles.at(std::string(kRootRole));  // parse_root requires it
  for (const auto& id : root_role.keyids) {
    const keys::PublicKey& key = r.keys.at(id);
    const keys::Certificate* cert = key.certificate();
    if (!keys::is_x509(key.type()) || cert == nullptr) {
      return make_error(Reason::kBadCertificate,
                        "root key " + id + " is not an X.509 certificate (ecdsa-x509, rsa-x509)");
    }
    auto checked = cert->check_root(gun, now);
    if (!checked) return std::move(checked).error().wrap("root key " + id);
  }
  // TUF 5.3.4 / Notary: a new root must be signed by a threshold of the previous root's keys
  // AND by a threshold of its own.
  if (previous != nullptr) {
    auto prev_role = previous->content.roles.find(kRootRole);
    if (prev_role == previous->content.roles.end()) {
      return make_error(Reason::kInternal, "previous root has no root role");
    }
    auto by_previous =
        verify_signatures(root, previous->content.keys, prev_role->second, "root");
    if (!by_previous) {
      return std::move(by_previous).error().wrap(
          "failed to validate data with current trusted certificates");
    }
  }
  auto by_self = verify_signatures(root, r.keys, root_role, "root");
  if (!by_self) return std::move(by_self).error().wrap("failed to validate integrity of roots");
  // Notary checks expiry last: every other rule must hold first.
  return check_not_expired(r.expires, now, kRootRole);
}

// Structure of a targets file that Notary's isValidTargetsStructure checks.
Status check_targets_structure(std::string_view role, const Targets& t) {
  if (t.version < 1) return make_error(Reason::kBadVersion, "version cannot be less than one");
  for (const auto& d : t.delegations.roles) {
    if (parent_role(d.name) != role) {
      return make_error(Reason::kBadRole,
                        "delegation role " + quote(d.name) + " invalid: not a child of " +
                            quote(role));
    }
    VOUCH_RETURN_IF_ERROR(check_role_keys(d.name, {d.keyids, d.threshold}, t.delegations.keys));
  }
  return {};
}

// ---------------------------------------------------------------------------------------------

class Validator {
 public:
  Validator(const RepoState& state, std::span<const UploadPart> parts,
            const ValidationOptions& options)
      : state_(state), parts_(parts), opt_(options) {}

  UpdateResult<ValidatedUpdate> run() {
    VOUCH_RETURN_IF_ERROR(read_parts());
    VOUCH_RETURN_IF_ERROR(validate_root_step());
    VOUCH_RETURN_IF_ERROR(validate_targets_step());
    VOUCH_RETURN_IF_ERROR(validate_snapshot_step());
    VOUCH_RETURN_IF_ERROR(timestamp_step());
    return std::move(out_);
  }

 private:
  // A targets role known to this validation: uploaded and validated, or a stored parent of an
  // uploaded delegation (signatures verified against its parent chain).
  struct Node {
    std::shared_ptr<const Metadata<Targets>> meta;
    // The paths in force for the role: its own intersected with all ancestors'. nullopt for
    // "targets", which is not restricted.
    std::optional<std::vector<std::string>> paths;
  };

  // Keys, threshold and paths with which a role's parent delegates to it.
  struct Authority {
    const KeyMap* keys = nullptr;
    RoleKeys role;
    std::optional<std::vector<std::string>> paths;
  };

  // ---- state lookups (cached: each role is read at most once)
  UpdateResult<const std::optional<StoredRole>*> stored(std::string_view role) {
    auto it = stored_.find(role);
    if (it == stored_.end()) {
      auto r = state_.current(role);
      if (!r) return internal(std::move(r).error(), "reading stored " + std::string(role));
      if (*r && !(*r)->bytes) {
        return tag(UpdateErrorClass::kInternal,
                   make_error(Reason::kInternal, "stored " + std::string(role) + " has no bytes"));
      }
      it = stored_.emplace(std::string(role), std::move(*r)).first;
    }
    return &it->second;
  }

  // ---- step 1: the parts
  UpdateStatus read_parts() {
    if (parts_.size() > opt_.limits.max_parts) {
      return tagged(UpdateErrorClass::kTooLarge, Reason::kTooLarge,
                    "upload has " + std::to_string(parts_.size()) + " parts, at most " +
                        std::to_string(opt_.limits.max_parts) + " allowed");
    }
    std::set<std::string_view> seen;
    for (const auto& part : parts_) {
      if (part.role == kTimestampRole) {
        return tagged(UpdateErrorClass::kInvalidRole, Reason::kBadRole,
                      "timestamp is generated by the server and cannot be uploaded");
      }
      if (!is_valid_role_name(part.role)) {
        return tagged(UpdateErrorClass::kInvalidRole, Reason::kBadRole,
                      "invalid role name " + quote(part.role));
      }
      if (!part.bytes) {
        return tagged(UpdateErrorClass::kMalformedUpload, Reason::kMalformed,
                      "part " + quote(part.role) + " has no content");
      }
      if (!seen.insert(part.role).second) {
        return tagged(UpdateErrorClass::kMalformedUpload, Reason::kMalformed,
                      "role " + quote(part.role) + " appears more than once");
      }
    }
    // Parse every part before validating any, as Notary's handler decodes all parts first.
    for (const auto& part : parts_) {
      const std::string_view bytes = *part.bytes;
      auto fail = [&](Error e) {
        const auto cls = class_of_parse_error(e.reason, part.role);
        return tag(cls, std::move(e.wrap(part.role)));
      };
      if (part.role == kRootRole) {
        auto m = parse_root(bytes, opt_.limits.metadata);
        if (!m) return fail(std::move(m).error());
        up_root_.emplace(std::move(*m));
        root_part_ = &part;
      } else if (part.role == kSnapshotRole) {
        auto m = parse_snapshot(bytes, opt_.limits.metadata);
        if (!m) return fail(std::move(m).error());
        up_snapshot_.emplace(std::move(*m));
        snapshot_part_ = &part;
      } else {
        auto m = parse_targets(bytes, opt_.limits.metadata);
        if (!m) return fail(std::move(m).error());
        up_targets_.emplace(part.role, UploadedTargets{
                                           std::make_shared<const Metadata<Targets>>(std::move(*m)),
                                           &part});
      }
    }
    return {};
  }

  // ---- step 2: root
  UpdateStatus validate_root_step() {
    VOUCH_ASSIGN_OR_RETURN(const std::optional<StoredRole>* stored_root, stored(kRootRole));
    std::shared_ptr<const Metadata<Root>> previous;
    if (*stored_root) {
      const auto& hint = opt_.parsed_root_hint;
      if (hint && hint->bytes && *hint->bytes == *(*stored_root)->bytes) {
        previous = hint;
      } else {
        auto m = parse_root(*(*stored_root)->bytes, opt_.limits.metadata);
        if (!m) return internal(std::move(m).error(), "stored root");
        previous = std::make_shared<const Metadata<Root>>(std::move(*m));
      }
    }
    if (!up_root_) {
      if (!previous) {
        return tag(UpdateErrorClass::kValidation,
                   make_error(Code::kFailedPrecondition, Reason::kNotFound,
                              "no pre-existing root and no root provided in update."));
      }
      root_ = std::move(previous);
      out_.root = root_;
      return {};
    }

    // Notary: the version must be the current one or the next (1 stands for "none").
    const std::int64_t current = previous ? previous->content.version : 1;
    const std::int64_t version = up_root_->content.version;
    if (version != current && version != current + 1) {
      return tagged(UpdateErrorClass::kBadRoot, Reason::kBadVersion,
                    "Root modifications must increment the version. Current " +
                        std::to_string(current) + ", new " + std::to_string(version));
    }
    auto valid = validate_root(*up_root_, previous.get(), opt_.gun, opt_.now);
    if (!valid) return tag(UpdateErrorClass::kBadRoot, std::move(valid).error());
    // The store accepts only new versions; say so now rather than after signing.
    if (*stored_root && version <= (*stored_root)->version) {
      return tagged(UpdateErrorClass::kOldVersion, Reason::kRollback,
                    "root version " + std::to_string(version) +
                        " is not newer than the stored version " +
                        std::to_string((*stored_root)->version));
    }
    root_ = std::make_shared<const Metadata<Root>>(std::move(*up_root_));
    up_root_.reset();
    out_.root = root_;
    out_.files.push_back(file_of(kRootRole, root_->content.version, root_->content.expires,
                                 root_part_->bytes));

    // Hardening: a new root that changes the targets keys leaves the stored targets
    // unverifiable unless targets is re-signed and uploaded with it (Notary's client does).
    if (previous && up_targets_.find(kTargetsRole) == up_targets_.end()) {
      const auto& before = previous->content.roles.at(std::string(kTargetsRole));
      const auto& after = root_->content.roles.at(std::string(kTargetsRole));
      if (!same_role_keys(before, after)) {
        VOUCH_ASSIGN_OR_RETURN(const std::optional<StoredRole>* st, stored(kTargetsRole));
        if (*st) {
          auto m = parse_targets(*(*st)->bytes, opt_.limits.metadata);
          if (!m) return internal(std::move(m).error(), "stored targets");
          auto ok = verify_signatures(*m, root_->content.keys, after, kTargetsRole);
          if (!ok) {
            return tag(UpdateErrorClass::kBadHierarchy,
                       std::move(ok.error().wrap(
                           "the new root changes the targets keys, but the stored targets is "
                           "not signed with them; upload targets signed with the new keys")),
                       kTargetsRole);
          }
          nodes_.emplace(std::string(kTargetsRole),
                         Node{std::make_shared<const Metadata<Targets>>(std::move(*m)),
                              std::nullopt});
        }
      }
    }
    return {};
  }

  // ---- step 3: targets and delegations
  UpdateStatus validate_targets_step() {
    std::vector<std::string> order;
    order.reserve(up_targets_.size());
    for (const auto& [name, _] : up_targets_) order.push_back(name);
    std::sort(order.begin(), order.end(), shallower);

    for (const auto& name : order) {
      const UploadedTargets& up = up_targets_.at(name);
      const Metadata<Targets>& m = *up.meta;
      VOUCH_ASSIGN_OR_RETURN(Authority auth, authority(name));

      auto structure = check_targets_structure(name, m.content);
      if (!structure) {
        return tag(UpdateErrorClass::kBadTargets, std::move(structure.error().wrap(name)));
      }
      auto sigs = verify_signatures(m, *auth.keys, auth.role, name);
      if (!sigs) return tag(UpdateErrorClass::kBadTargets, std::move(sigs).error());
      auto fresh = check_not_expired(m.content.expires, opt_.now, name);
      if (!fresh) return tag(UpdateErrorClass::kBadTargets, std::move(fresh).error());
      if (auth.paths) {
        for (const auto& [target, _] : m.content.targets) {
          if (!path_allowed(*auth.paths, target)) {
            return tagged(UpdateErrorClass::kBadTargets, Reason::kBadPath,
                          name + ": target " + quote(target) +
                              " is outside the paths delegated to the role");
          }
        }
      }
      VOUCH_RETURN_IF_ERROR(check_newer(name, m.content.version));

      nodes_.insert_or_assign(name, Node{up.meta, std::move(auth.paths)});
      out_.files.push_back(file_of(name, m.content.version, m.content.expires, up.part->bytes));
    }

    if (up_targets_.find(kTargetsRole) == up_targets_.end() &&
        nodes_.find(kTargetsRole) == nodes_.end()) {
      VOUCH_ASSIGN_OR_RETURN(const std::optional<StoredRole>* st, stored(kTargetsRole));
      if (!*st) {
        return tagged(UpdateErrorClass::kBadHierarchy, Reason::kNotFound,
                      "no targets metadata was included in update and none is stored",
                      kTargetsRole);
      }
    }
    return {};
  }

  // How `role`'s parent delegates to it. For a delegation, loads the parent (and, through
  // node(), the chain above it) and checks the parent delegates to the role.
  UpdateResult<Authority> authority(const std::string& role) {
    if (role == kTargetsRole) {
      return Authority{&root_->content.keys, root_->content.roles.at(std::string(kTargetsRole)),
                       std::nullopt};
    }
    const std::string parent(parent_role(role));
    VOUCH_ASSIGN_OR_RETURN(const Node* p, node(parent, role));
    const Delegations& dels = p->meta->content.delegations;
    const DelegatedRole* d = dels.find(role);
    if (d == nullptr) {
      return tagged(UpdateErrorClass::kBadTargets, Reason::kBadRole,
                    role + ": delegation does not exist (" + parent + " does not delegate to it)");
    }
    // Notary's GetDelegationRole: delegation certificates must be well-formed and not SHA-1
    // signed; their expiry is not checked once delegated (the role's expiry counts instead).
    for (const auto& id : d->keyids) {
      auto key = dels.keys.find(id);
      if (key == dels.keys.end()) continue;  // check_role_keys rejects this at upload
      if (const keys::Certificate* cert = key->second.certificate()) {
        if (cert->is_sha1_signed() || cert->not_before() > cert->not_after()) {
          return tagged(UpdateErrorClass::kBadTargets, Reason::kBadCertificate,
                        role + ": delegation key " + id +
                            " has an invalid certificate (SHA-1 signed or inverted validity)");
        }
      }
    }
    Authority a;
    a.keys = &dels.keys;
    a.role = RoleKeys{d->keyids, d->threshold};
    a.paths = p->paths ? restrict_paths(*p->paths, d->paths) : d->paths;
    return a;
  }

  // The parsed, verified targets role `role` (an ancestor of `child`): from the upload (already
  // validated, as shallower roles go first) or from the state.
  UpdateResult<const Node*> node(const std::string& role, const std::string& child) {
    if (auto it = nodes_.find(role); it != nodes_.end()) return &it->second;
    VOUCH_ASSIGN_OR_RETURN(const std::optional<StoredRole>* st, stored(role));
    if (!*st) {
      return tagged(UpdateErrorClass::kBadTargets, Reason::kNotFound,
                    child + ": parent role " + role + " does not exist");
    }
    auto m = parse_targets(*(*st)->bytes, opt_.limits.metadata);
    if (!m) return internal(std::move(m).error(), "stored " + role);
    VOUCH_ASSIGN_OR_RETURN(Authority auth, authority(role));
    // Stored parents are verified (their keys may have changed since) but may be expired,
    // as Notary loads them with allowExpired.
    auto sigs = verify_signatures(*m, *auth.keys, auth.role, role);
    if (!sigs) {
      return tag(UpdateErrorClass::kBadTargets,
                 std::move(sigs.error().wrap(child + ": stored parent role does not verify")));
    }
    auto it = nodes_
                  .emplace(role, Node{std::make_shared<const Metadata<Targets>>(std::move(*m)),
                                      std::move(auth.paths)})
                  .first;
    return &it->second;
  }

  // The store requires versions newer than the stored ones; report an old one as VERSION.
  UpdateStatus check_newer(const std::string& role, std::int64_t version) {
    VOUCH_ASSIGN_OR_RETURN(const std::optional<StoredRole>* st, stored(role));
    if (*st && version <= (*st)->version) {
      return tagged(UpdateErrorClass::kOldVersion, Reason::kRollback,
                    role + " version " + std::to_string(version) +
                        " is not newer than the stored version " +
                        std::to_string((*st)->version));
    }
    return {};
  }

  // ---- step 4: snapshot
  UpdateStatus validate_snapshot_step() {
    VOUCH_ASSIGN_OR_RETURN(const std::optional<StoredRole>* st, stored(kSnapshotRole));
    if (*st) {
      auto m = parse_snapshot(*(*st)->bytes, opt_.limits.metadata);
      if (!m) return internal(std::move(m).error(), "stored snapshot");
      out_.previous_snapshot = std::make_shared<const Metadata<Snapshot>>(std::move(*m));
    }
    return up_snapshot_ ? check_uploaded_snapshot() : plan_generated_snapshot();
  }

  UpdateStatus check_uploaded_snapshot() {
    const Metadata<Snapshot>& m = *up_snapshot_;
    const Snapshot& s = m.content;
    auto bad = [](Error e) { return tag(UpdateErrorClass::kBadSnapshot, std::move(e)); };

    auto sigs = verify_signatures(m, root_->content.keys,
                                  root_->content.roles.at(std::string(kSnapshotRole)),
                                  kSnapshotRole);
    if (!sigs) return bad(std::move(sigs).error());
    if (s.version < 1) {
      return bad(make_error(Reason::kBadVersion, "snapshot: version cannot be less than one"));
    }
    auto fresh = check_not_expired(s.expires, opt_.now, kSnapshotRole);
    if (!fresh) return bad(std::move(fresh).error());

    // The uploaded files by role, with their (already computed) meta.
    std::map<std::string_view, const FileMeta*> uploaded;
    for (const auto& f : out_.files) uploaded.emplace(f.role, &f.meta);

    const Snapshot* prev = out_.previous_snapshot ? &out_.previous_snapshot->content : nullptr;
    // REFERENCE §9: every entry must describe the bytes that role has after this update.
    for (const auto& [name, listed] : s.meta) {
      if (name != kRootRole && name != kTargetsRole && !is_delegation_role(name)) {
        return bad(make_error(Reason::kBadRole, "snapshot lists " + quote(name) +
                                                    ", which is not root, targets or a "
                                                    "delegation"));
      }
      Status ok;
      if (auto u = uploaded.find(name); u != uploaded.end()) {
        ok = check_meta(listed, *u->second);
      } else {
        if (opt_.trust_stored_snapshot && prev != nullptr) {
          auto p = prev->meta.find(name);
          if (p != prev->meta.end() && p->second == listed) continue;  // unchanged
        }
        VOUCH_ASSIGN_OR_RETURN(const std::optional<StoredRole>* sr, stored(name));
        if (!*sr) {
          return bad(make_error(Reason::kNotFound,
                                "snapshot lists " + name + ", which does not exist"));
        }
        ok = check_meta(listed, FileMeta::of(as_bytes(*(*sr)->bytes)));
      }
      if (!ok) return bad(std::move(ok.error().wrap("snapshot entry for " + name)));
    }

    // ... and every role that exists must be listed.
    auto require = [&](std::string_view name, std::string_view why) -> UpdateStatus {
      if (s.meta.find(name) != s.meta.end()) return {};
      return bad(make_error(Reason::kHashMismatch, "snapshot does not list " +
                                                       std::string(name) + std::string(why)));
    };
    VOUCH_RETURN_IF_ERROR(require(kRootRole, ""));
    VOUCH_RETURN_IF_ERROR(require(kTargetsRole, ""));
    for (const auto& f : out_.files) {
      VOUCH_RETURN_IF_ERROR(require(f.role, ", which this update uploads"));
    }
    if (prev != nullptr) {
      for (const auto& [name, _] : prev->meta) {
        if (s.meta.find(name) != s.meta.end() || !is_delegation_role(name)) continue;
        VOUCH_ASSIGN_OR_RETURN(bool delegated, still_delegated(name));
        if (delegated) VOUCH_RETURN_IF_ERROR(require(name, ", which is still delegated"));
      }
    }

    VOUCH_RETURN_IF_ERROR(check_newer(std::string(kSnapshotRole), s.version));
    out_.files.push_back(file_of(kSnapshotRole, s.version, s.expires, snapshot_part_->bytes));
    return {};
  }

  // Whether every link from "targets" down to `role` still delegates (after this update). Only
  // asked about roles an uploaded snapshot leaves out; reads the ancestors that are not
  // uploaded from the state, unverified: the question is whether the snapshot may forget the
  // role, and a role its parents name must stay listed.
  UpdateResult<bool> still_delegated(const std::string& role) {
    std::string child = role;
    while (child != kTargetsRole) {
      const std::string parent(parent_role(child));
      VOUCH_ASSIGN_OR_RETURN(const Targets* p, peek(parent));
      if (p == nullptr || p->delegations.find(child) == nullptr) return false;
      child = parent;
    }
    return true;
  }

  UpdateResult<const Targets*> peek(const std::string& role) {
    if (auto it = nodes_.find(role); it != nodes_.end()) return &it->second.meta->content;
    if (auto it = peeked_.find(role); it != peeked_.end()) return it->second.get();
    VOUCH_ASSIGN_OR_RETURN(const std::optional<StoredRole>* st, stored(role));
    std::shared_ptr<const Targets> t;
    if (*st) {
      auto m = parse_targets(*(*st)->bytes, opt_.limits.metadata);
      if (!m) return internal(std::move(m).error(), "stored " + role);
      t = std::make_shared<const Targets>(std::move(m->content));
    }
    return peeked_.emplace(role, std::move(t)).first->second.get();
  }

  // The keys the server signs `role` with. Holding too few of them (kThresholdNotMet) is
  // `missing`, the upload's fault; any other failure is internal.
  UpdateResult<std::vector<keys::PublicKey>> server_keys(std::string_view role,
                                                         UpdateError missing) {
    auto keys = server_signing_keys(root_->content, role, opt_.server_holds_key);
    if (keys) return std::move(*keys);
    if (keys.error().reason != Reason::kThresholdNotMet) {
      return internal(std::move(keys).error(), std::string(role) + " keys");
    }
    return missing;
  }

  UpdateStatus plan_generated_snapshot() {
    VOUCH_ASSIGN_OR_RETURN(
        out_.snapshot_keys,
        server_keys(kSnapshotRole,
                    tag(UpdateErrorClass::kBadHierarchy,
                        make_error(Reason::kUnknownKey,
                                   "no snapshot was included in update and server does not hold "
                                   "current snapshot key for repository"),
                        kSnapshotRole)));
    out_.needs_snapshot = true;

    const Snapshot* prev = out_.previous_snapshot ? &out_.previous_snapshot->content : nullptr;
    SnapshotChanges& changes = out_.snapshot_changes;
    for (const auto& f : out_.files) changes.set.insert_or_assign(f.role, f.meta);
    // Root and targets must be listed; take them from the stored bytes when neither the
    // previous snapshot nor the upload has them (Notary's InitSnapshot).
    for (std::string_view base : {kRootRole, kTargetsRole}) {
      if (changes.set.find(base) != changes.set.end()) continue;
      if (prev != nullptr && prev->meta.find(base) != prev->meta.end()) continue;
      VOUCH_ASSIGN_OR_RETURN(const std::optional<StoredRole>* sr, stored(base));
      if (!*sr) {  // validate_targets_step guarantees targets exists, root_ guarantees root
        return tag(UpdateErrorClass::kInternal,
                   make_error(Reason::kInternal, "stored " + std::string(base) + " vanished"));
      }
      changes.set.emplace(std::string(base), FileMeta::of(as_bytes(*(*sr)->bytes)));
    }
    // Delegations that an uploaded parent no longer delegates leave the snapshot, with all
    // entries below them.
    if (prev != nullptr) {
      for (const auto& [name, up] : up_targets_) {
        const std::string prefix = name + "/";
        for (auto it = prev->meta.lower_bound(prefix);
             it != prev->meta.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
          if (parent_role(it->first) != name) continue;
          if (up.meta->content.delegations.find(it->first) != nullptr) continue;
          const std::string gone_prefix = it->first + "/";
          changes.removed.push_back(it->first);
          for (auto below = prev->meta.lower_bound(gone_prefix);
               below != prev->meta.end() &&
               below->first.compare(0, gone_prefix.size(), gone_prefix) == 0;
               ++below) {
            changes.removed.push_back(below->first);
          }
        }
      }
      std::sort(changes.removed.begin(), changes.removed.end());
      changes.removed.erase(std::unique(changes.removed.begin(), changes.removed.end()),
                            changes.removed.end());
    }
    VOUCH_ASSIGN_OR_RETURN(const std::optional<StoredRole>* st, stored(kSnapshotRole));
    out_.next_snapshot_version = *st ? (*st)->version + 1 : 1;
    return {};
  }

  // ---- step 5: timestamp
  UpdateStatus timestamp_step() {
    VOUCH_ASSIGN_OR_RETURN(
        out_.timestamp_keys,
        server_keys(kTimestampRole,
                    tag(UpdateErrorClass::kBadRoot,
                        make_error(Reason::kUnknownKey, "no timestamp keys exist on the server"))));
    VOUCH_ASSIGN_OR_RETURN(const std::optional<StoredRole>* st, stored(kTimestampRole));
    out_.next_timestamp_version = *st ? (*st)->version + 1 : 1;
    return {};
  }

  static RoleFile file_of(std::string_view role, std::int64_t version, const Expiry& expires,
                          const std::shared_ptr<const std::string>& bytes) {
    return RoleFile{std::string(role), version, expires, bytes, FileMeta::of(as_bytes(*bytes))};
  }

  struct UploadedTargets {
    std::shared_ptr<const Metadata<Targets>> meta;
    const UploadPart* part;
  };

  const RepoState& state_;
  std::span<const UploadPart> parts_;
  const ValidationOptions& opt_;

  std::map<std::string, std::optional<StoredRole>, std::less<>> stored_;
  std::optional<Metadata<Root>> up_root_;
  const UploadPart* root_part_ = nullptr;
  std::optional<Metadata<Snapshot>> up_snapshot_;
  const UploadPart* snapshot_part_ = nullptr;
  std::map<std::string, UploadedTargets, std::less<>> up_targets_;

  std::shared_ptr<const Metadata<Root>> root_;
  std::map<std::string, Node, std::less<>> nodes_;
  std::map<std::string, std::shared_ptr<const Targets>, std::less<>> peeked_;
  ValidatedUpdate out_;
};

}  // namespace

UpdateResult<ValidatedUpdate> validate_update(const RepoState& state,
                                              std::span<const UploadPart> parts,
                                              const ValidationOptions& options) {
  return Validator(state, parts, options).run();
}

Result<std::vector<keys::PublicKey>> server_signing_keys(const Root& root, std::string_view role,
                                                         const KeyHolder& holds) {
  auto it = root.roles.find(role);
  if (it == root.roles.end()) {
    return make_error(Reason::kBadRole, "root defines no role " + quote(role));
  }
  const RoleKeys& rk = it->second;
  if (rk.threshold < kMinThreshold) {
    return make_error(Reason::kMalformed, "invalid threshold for " + std::string(role));
  }
  const auto needed = static_cast<std::size_t>(rk.threshold);
  std::vector<keys::PublicKey> out;
  std::set<Bytes> seen;
  if (holds) {
    for (const auto& id : rk.keyids) {
      auto key = root.keys.find(id);
      if (key == root.keys.end() || seen.count(key->second.spki_der()) != 0) continue;
      VOUCH_ASSIGN_OR_RETURN(bool held, holds(key->second));
      if (!held) continue;
      seen.insert(key->second.spki_der());
      out.push_back(key->second);
      if (out.size() == needed) return out;
    }
  }
  return make_error(Reason::kThresholdNotMet,
                    "the server holds " + std::to_string(out.size()) + " of the " +
                        std::to_string(needed) + " " + std::string(role) + " keys needed");
}

Result<RoleFile> make_snapshot(const Snapshot* previous, const SnapshotChanges& changes,
                               std::int64_t version, const Expiry& expires,
                               std::span<const keys::PublicKey> keys, keys::Signer& signer) {
  if (version < 1) return make_error(Reason::kMalformed, "snapshot version must be >= 1");
  if (keys.empty()) return make_error(Reason::kThresholdNotMet, "no key to sign the snapshot");
  Snapshot s;
  if (previous != nullptr) s.meta = previous->meta;
  for (const auto& name : changes.removed) {
    if (auto it = s.meta.find(name); it != s.meta.end()) s.meta.erase(it);
  }
  for (const auto& [name, meta] : changes.set) s.meta.insert_or_assign(name, meta);
  if (s.meta.find(kRootRole) == s.meta.end() || s.meta.find(kTargetsRole) == s.meta.end()) {
    return make_error(Reason::kMalformed, "a snapshot must list root and targets");
  }
  s.version = version;
  s.expires = expires;
  VOUCH_ASSIGN_OR_RETURN(std::string bytes, sign_metadata(to_json(s), keys, signer));
  auto shared = std::make_shared<const std::string>(std::move(bytes));
  FileMeta meta = FileMeta::of(as_bytes(*shared));
  return RoleFile{std::string(kSnapshotRole), version, expires, std::move(shared),
                  std::move(meta)};
}

Result<RoleFile> make_timestamp(std::string_view snapshot_bytes, std::int64_t version,
                                const Expiry& expires, std::span<const keys::PublicKey> keys,
                                keys::Signer& signer) {
  if (version < 1) return make_error(Reason::kMalformed, "timestamp version must be >= 1");
  if (keys.empty()) return make_error(Reason::kThresholdNotMet, "no key to sign the timestamp");
  Timestamp t;
  t.version = version;
  t.expires = expires;
  t.meta.emplace(std::string(kSnapshotRole), FileMeta::of(as_bytes(snapshot_bytes)));
  VOUCH_ASSIGN_OR_RETURN(std::string bytes, sign_metadata(to_json(t), keys, signer));
  auto shared = std::make_shared<const std::string>(std::move(bytes));
  FileMeta meta = FileMeta::of(as_bytes(*shared));
  return RoleFile{std::string(kTimestampRole), version, expires, std::move(shared),
                  std::move(meta)};
}

UpdateResult<std::vector<RoleFile>> complete_update(const ValidatedUpdate& update,
                                                    keys::Signer& signer, TimePoint now,
                                                    std::chrono::microseconds snapshot_lifetime,
                                                    std::chrono::microseconds timestamp_lifetime) {
  std::vector<RoleFile> files = update.files;
  std::shared_ptr<const std::string> snapshot;
  if (update.needs_snapshot) {
    const Snapshot* prev =
        update.previous_snapshot ? &update.previous_snapshot->content : nullptr;
    auto made = make_snapshot(prev, update.snapshot_changes, update.next_snapshot_version,
                              Expiry::at(now + snapshot_lifetime), update.snapshot_keys, signer);
    if (!made) return internal(std::move(made).error(), "generating the snapshot");
    snapshot = made->bytes;
    files.push_back(std::move(*made));
  } else {
    for (const auto& f : files) {
      if (f.role == kSnapshotRole) snapshot = f.bytes;
    }
    if (!snapshot) {
      return tag(UpdateErrorClass::kInternal,
                 make_error(Reason::kInternal, "validated update has no snapshot"));
    }
  }
  auto ts = make_timestamp(*snapshot, update.next_timestamp_version,
                           Expiry::at(now + timestamp_lifetime), update.timestamp_keys, signer);
  if (!ts) return internal(std::move(ts).error(), "generating the timestamp");
  files.push_back(std::move(*ts));
  return files;
}

constexpr EnumName<UpdateErrorClass> kClassNames[] = {
    {UpdateErrorClass::kMalformedUpload, "MALFORMED_UPLOAD"},
    {UpdateErrorClass::kTooLarge, "TOO_LARGE"},
    {UpdateErrorClass::kMalformedJson, "MALFORMED_JSON"},
    {UpdateErrorClass::kInvalidRole, "INVALID_ROLE"}, {UpdateErrorClass::kOldVersion, "VERSION"},
    {UpdateErrorClass::kBadRoot, "ErrBadRoot"}, {UpdateErrorClass::kBadTargets, "ErrBadTargets"},
    {UpdateErrorClass::kBadSnapshot, "ErrBadSnapshot"},
    {UpdateErrorClass::kBadHierarchy, "ErrBadHierarchy"},
    {UpdateErrorClass::kValidation, "ErrValidation"}, {UpdateErrorClass::kInternal, "INTERNAL"}};
static_assert(lists_every_value(kClassNames, UpdateErrorClass::kInternal));

std::string_view to_string(UpdateErrorClass error_class) {
  return name_of(kClassNames, error_class, "INTERNAL");
}

UpdateError UpdateError::unclassified(Error error) {
  switch (error.reason) {
    case Reason::kRollback: return UpdateError(UpdateErrorClass::kOldVersion, std::move(error));
    case Reason::kTooLarge: return UpdateError(UpdateErrorClass::kTooLarge, std::move(error));
    default: return UpdateError(UpdateErrorClass::kInternal, std::move(error));
  }
}

}  // namespace vouch::tuf
