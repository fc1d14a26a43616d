#include "client/apply.h"

#include <algorithm>
#include <deque>
#include <optional>
#include <utility>

namespace vouch::client {
namespace {

// A role as Notary's WalkTargets carries it: its name and its effective paths (its own,
// restricted by every ancestor's; {""} for "targets").
struct Node {
  std::string name;
  std::vector<std::string> paths;
};

enum class Visit { kStop, kContinue };

// Notary tuf.go isAncestorRole(child, ancestor): equal, or child lies below ancestor.
bool is_self_or_below(std::string_view child, std::string_view ancestor) {
  return child == ancestor || (child.size() > ancestor.size() &&
                               child.substr(0, ancestor.size()) == ancestor &&
                               child[ancestor.size()] == '/');
}

// Go's mergeStrSlices (tuf/data/roles.go): `orig` in order, then each new entry not there
// yet. vouch: duplicates within `add` are dropped too (Go keeps them).
void merge_into(std::vector<std::string>& orig, const std::vector<std::string>& add) {
  for (const auto& a : add) {
    if (std::find(orig.begin(), orig.end(), a) == orig.end()) orig.push_back(a);
  }
}

// Go's subtractStrSlices.
void subtract_from(std::vector<std::string>& orig, const std::vector<std::string>& remove) {
  std::erase_if(orig, [&](const std::string& s) {
    return std::find(remove.begin(), remove.end(), s) != remove.end();
  });
}

// Notary utils.RemoveUnusedKeys: drop delegation keys that no delegated role lists.
void remove_unused_keys(tuf::Delegations& d) {
  std::erase_if(d.keys, [&](const auto& entry) {
    return std::none_of(d.roles.begin(), d.roles.end(), [&](const tuf::DelegatedRole& r) {
      return std::find(r.keyids.begin(), r.keyids.end(), entry.first) != r.keyids.end();
    });
  });
}

Error bad_role(std::string_view role, std::string_view why) {
  return make_error(Reason::kBadRole,
                    "role \"" + std::string(role.substr(0, 256)) + "\": " + std::string(why));
}

std::string describe(const Change& c) {
  std::string s = c.action + " " + c.role + " " + c.type;
  if (!c.path.empty()) s += " " + c.path;
  return s.substr(0, 512);
}

}  // namespace

// The operations, over one draft, with the options and warnings of one apply call.
class DraftEditor {
 public:
  DraftEditor(TargetsDraft& draft, const ApplyOptions& options, std::vector<std::string>& warnings)
      : d_(draft), options_(options), warnings_(warnings) {}

  // A delegation as Notary's GetDelegationRole finds it: listed by its parent, which must be
  // loaded and reachable from "targets" through loaded roles.
  struct Located {
    std::vector<std::string> parent_paths;  // the parent's effective paths
    tuf::DelegatedRole role;                // as the parent lists it (own paths, unrestricted)
    std::vector<keys::PublicKey> keys;      // its keys, one per distinct key ID
  };

  // ---- Notary's WalkTargets -------------------------------------------------------------
  // Breadth-first from "targets" over roles whose metadata is loaded. A role on the way to
  // `role_path` is passed through; a role at or below `role_path` whose effective paths cover
  // `target` (any role when `target` is nullopt) is visited, and the walk goes on into its
  // children only if the visitor says kContinue. Children are computed after the visit, from
  // the (possibly edited) metadata. Other roles end their branch.
  template <typename Visitor>
  Status walk(std::optional<std::string_view> target, std::string_view role_path,
              Visitor&& visit) {
    std::deque<Node> queue;
    queue.push_back({std::string(tuf::kTargetsRole), {""}});
    while (!queue.empty()) {
      Node node = std::move(queue.front());
      queue.pop_front();
      tuf::Targets* t = d_.find_mutable(node.name);
      if (t == nullptr) continue;  // no metadata: nothing below it can be reached either
      if (role_path.size() > node.name.size() && is_self_or_below(role_path, node.name)) {
        for (auto& child : valid_children(*t, node)) queue.push_back(std::move(child));
        continue;
      }
      if ((!target || tuf::path_allowed(node.paths, *target)) &&
          is_self_or_below(node.name, role_path)) {
        VOUCH_ASSIGN_OR_RETURN(Visit v, visit(*t, node));
        if (v == Visit::kStop) return {};
        for (auto& child : valid_children(*t, node)) queue.push_back(std::move(child));
      }
    }
    return {};
  }

  // Notary SignedTargets.GetValidDelegations: the direct children `t` delegates to whose
  // keys it all lists, with paths restricted to the parent's.
  static std::vector<Node> valid_children(const tuf::Targets& t, const Node& parent) {
    std::vector<Node> out;
    for (const auto& r : t.delegations.roles) {
      if (tuf::parent_role(r.name) != parent.name) continue;  // IsParentOf
      const bool keys_known = std::all_of(r.keyids.begin(), r.keyids.end(), [&](const auto& id) {
        return t.delegations.keys.find(id) != t.delegations.keys.end();
      });
      if (!keys_known) continue;  // BuildDelegationRole fails: not a valid delegation
      out.push_back({r.name, tuf::restrict_paths(parent.paths, r.paths)});
    }
    return out;
  }

  // Notary GetDelegationRole. kBadRole: not a delegation name, not delegated by a reachable
  // loaded parent, or listing a key its parent does not hold.
  Result<Located> locate(std::string_view name) {
    if (!tuf::is_delegation_role(name)) return bad_role(name, "not a valid delegation name");
    const std::string_view parent = tuf::parent_role(name);
    std::optional<Located> found;
    // The first role visited is the parent itself (its descendants are queued only after it);
    // Notary also searches the parent's descendants, which cannot list `name` in metadata that
    // passed Notary's structure checks.
    VOUCH_RETURN_IF_ERROR(walk(std::nullopt, parent, [&](tuf::Targets& t, const Node& node)
                                                         -> Result<Visit> {
      for (const auto& r : t.delegations.roles) {
        if (r.name != name) continue;
        Located loc{node.paths, r, {}};
        for (const auto& id : r.keyids) {
          auto key = t.delegations.keys.find(id);
          if (key == t.delegations.keys.end()) {
            return bad_role(name, "lists unknown key " + id.substr(0, 64) + " as a signing key");
          }
          if (std::none_of(loc.keys.begin(), loc.keys.end(),
                           [&](const keys::PublicKey& k) { return k.id() == id; })) {
            loc.keys.push_back(key->second);
          }
        }
        found = std::move(loc);
        return Visit::kStop;
      }
      return Visit::kStop;
    }));
    if (!found) return bad_role(name, "delegation does not exist");
    return std::move(*found);
  }

  // The effective paths of "targets" ({""}) or of a delegation (own ∩ ancestors').
  Result<std::vector<std::string>> effective_paths(std::string_view role) {
    if (role == tuf::kTargetsRole) return std::vector<std::string>{""};
    VOUCH_ASSIGN_OR_RETURN(Located loc, locate(role));
    return tuf::restrict_paths(loc.parent_paths, loc.role.paths);
  }

  // Notary VerifyCanSign: the role exists (kBadRole) and one of its keys can sign
  // (kUnknownKey, Code kFailedPrecondition).
  Status verify_can_sign(std::string_view role) {
    std::vector<keys::PublicKey> role_keys;
    if (role == tuf::kTargetsRole) {
      role_keys = d_.targets_keys_;
    } else if (tuf::is_delegation_role(role)) {
      VOUCH_ASSIGN_OR_RETURN(Located loc, locate(role));
      role_keys = std::move(loc.keys);
    } else {
      return bad_role(role, "does not exist");
    }
    if (!options_.can_sign) return {};
    std::string ids;
    for (const auto& k : role_keys) {
      if (options_.can_sign(k)) return {};
      ids += (ids.empty() ? "" : ", ") + k.canonical_id();
    }
    return make_error(Code::kFailedPrecondition, Reason::kUnknownKey,
                      "no signing key for role \"" + std::string(role) + "\" (key IDs: " +
                          (ids.empty() ? "none" : ids) + ")");
  }

  // Notary InitTargets for a role about to be written: empty, version 0, no expiry text.
  tuf::Targets& create_role(const std::string& role) {
    tuf::Targets fresh;
    fresh.version = 0;
    auto& t = d_.delegated_[role] = std::move(fresh);
    d_.deleted_.erase(role);
    return t;
  }

  // ---- targets (Notary changeTargetMeta -> AddTargets / RemoveTargets) -------------------

  // Notary AddTargets: the role must exist (kBadRole) and `name` lie within its effective
  // paths (kBadPath; Notary: "Could not add all targets"). A target already listed with equal
  // meta is a success that changes nothing and needs no key; otherwise a signing key is
  // needed (kUnknownKey). A delegation without metadata gets new metadata.
  Status add_target(const std::string& role, const std::string& name, tuf::FileMeta meta) {
    Status can = verify_can_sign(role);
    if (!can && can.error().reason != Reason::kUnknownKey) return can;
    VOUCH_ASSIGN_OR_RETURN(std::vector<std::string> paths, effective_paths(role));
    if (!tuf::path_allowed(paths, name)) {
      return make_error(Reason::kBadPath, "target \"" + name.substr(0, 256) +
                                              "\" is outside the paths of role \"" + role + "\"");
    }
    tuf::Targets* t = d_.find_mutable(role);
    if (t != nullptr) {
      auto it = t->targets.find(name);
      if (it != t->targets.end() && it->second == meta) return {};
      if (it == t->targets.end() && t->targets.size() >= options_.limits.max_targets) {
        return make_error(Reason::kTooLarge, "role \"" + role + "\" would list more than " +
                                                 std::to_string(options_.limits.max_targets) +
                                                 " targets");
      }
    }
    if (!can) return can;
    // vouch: the metadata is created only now that nothing can fail (Notary creates it first).
    if (t == nullptr) t = &create_role(role);
    t->targets.insert_or_assign(name, std::move(meta));
    d_.changed_.insert(role);
    return {};
  }

  // Notary RemoveTargets: the role must exist (kBadRole). Paths are NOT checked (Notary: a
  // role may hold a target outside its paths after its paths changed, and removing it must
  // stay possible). No metadata, or no such target: success, nothing changes, no key needed.
  Status remove_target(const std::string& role, const std::string& name) {
    Status can = verify_can_sign(role);
    if (!can && can.error().reason != Reason::kUnknownKey) return can;
    tuf::Targets* t = d_.find_mutable(role);
    if (t == nullptr) return {};
    auto it = t->targets.find(name);
    if (it == t->targets.end()) return {};
    if (!can) return can;
    t->targets.erase(it);
    d_.changed_.insert(role);
    return {};
  }

  // ---- delegations (Notary changeTargetsDelegation) --------------------------------------

  // create: Notary UpdateDelegationKeys(name, add_keys, {}, threshold) then
  //   UpdateDelegationPaths(name, add_paths, {}, false): the payload's remove_keys,
  //   remove_paths and clear_paths are ignored, as Notary ignores them.
  // update: the role must exist (GetDelegationRole); remove_keys are canonical key IDs,
  //   translated to the IDs the parent lists the role's keys under (IDs not among the role's
  //   keys are ignored); then keys: remove, add; paths: remove, clear, add.
  // Both: the name must be a delegation (kBadRole); the parent must exist and be signable
  //   (VerifyCanSign(parent)); added paths must lie within the parent's effective paths
  //   (kBadPath); a new role needs threshold >= 1 (Notary NewRole) and, vouch, at least one
  //   key and no more threshold than keys (kBadRole); an existing role keeps its threshold
  //   (Notary never changes it). The role's keys are added to the parent's delegations.keys,
  //   keys no role of the parent lists any more are dropped (Notary RemoveUnusedKeys), and
  //   the parent is marked changed. A role left with fewer keys than its threshold gets a
  //   warning (Notary: "it will not be usable until keys are added to it").
  Status update_delegation(const std::string& name, const DelegationPayload& p, bool is_update) {
    if (!tuf::is_delegation_role(name)) return bad_role(name, "not a valid delegated role");
    std::vector<std::string> remove_ids;
    std::vector<std::string> remove_paths;
    bool clear_paths = false;
    if (is_update) {
      VOUCH_ASSIGN_OR_RETURN(Located loc, locate(name));
      for (const auto& canonical : p.remove_keys) {
        for (const auto& k : loc.keys) {
          if (k.canonical_id() == canonical) remove_ids.push_back(k.id());
        }
      }
      remove_paths = p.remove_paths;
      clear_paths = p.clear_paths;
    }
    const std::string parent(tuf::parent_role(name));
    VOUCH_RETURN_IF_ERROR(verify_can_sign(parent));
    VOUCH_ASSIGN_OR_RETURN(std::vector<std::string> parent_paths, effective_paths(parent));
    // Notary delegationUpdateVisitor: len(addPaths) == len(Restrict(parentPaths, addPaths)).
    for (const auto& path : p.add_paths) {
      if (!tuf::path_allowed(parent_paths, path)) {
        return make_error(Reason::kBadPath, "path \"" + path.substr(0, 256) +
                                                "\" is outside the paths of \"" + parent +
                                                "\", so it cannot be delegated to \"" + name +
                                                "\"");
      }
    }

    tuf::Targets* pt = d_.find_mutable(parent);
    tuf::Delegations next = pt != nullptr ? pt->delegations : tuf::Delegations{};
    auto existing = std::find_if(next.roles.begin(), next.roles.end(),
                                 [&](const tuf::DelegatedRole& r) { return r.name == name; });
    std::vector<std::string> add_ids;
    for (const auto& k : p.add_keys) add_ids.push_back(k.id());

    tuf::DelegatedRole role;
    if (existing != next.roles.end()) {
      role = *existing;
      subtract_from(role.keyids, remove_ids);
      merge_into(role.keyids, add_ids);
      subtract_from(role.paths, remove_paths);
      if (clear_paths) role.paths.clear();
      merge_into(role.paths, p.add_paths);
    } else {
      role.name = name;
      role.threshold = p.threshold;
      merge_into(role.keyids, add_ids);
      merge_into(role.paths, p.add_paths);
      if (role.threshold < 1) return bad_role(name, "a new delegation needs a threshold >= 1");
      // vouch: Notary only warns; a delegation that can never be satisfied is refused.
      if (role.keyids.empty()) return bad_role(name, "a new delegation needs at least one key");
      if (static_cast<std::size_t>(role.threshold) > role.keyids.size()) {
        return bad_role(name, "threshold " + std::to_string(role.threshold) + " exceeds its " +
                                  std::to_string(role.keyids.size()) + " keys");
      }
    }
    if (role.keyids.size() > options_.limits.max_keys ||
        role.paths.size() > options_.limits.max_paths) {
      return make_error(Reason::kTooLarge,
                        "delegation \"" + name + "\" would have too many keys or paths");
    }
    if (static_cast<std::int64_t>(role.keyids.size()) < role.threshold) {
      warnings_.push_back("role " + name + " has fewer keys than its threshold of " +
                          std::to_string(role.threshold) +
                          "; it will not be usable until keys are added to it");
    }
    for (const auto& k : p.add_keys) next.keys.insert_or_assign(k.id(), k);
    if (existing != next.roles.end()) {
      *existing = std::move(role);
    } else {
      if (next.roles.size() >= options_.limits.max_delegations) {
        return make_error(Reason::kTooLarge, "\"" + parent + "\" would delegate to more than " +
                                                 std::to_string(options_.limits.max_delegations) +
                                                 " roles");
      }
      next.roles.push_back(std::move(role));
    }
    remove_unused_keys(next);
    if (next.keys.size() > options_.limits.max_keys) {
      return make_error(Reason::kTooLarge, "\"" + parent + "\" would list too many keys");
    }
    // Commit. Notary creates the parent's metadata (InitTargets) when it has none yet: the
    // parent is a delegation that exists but has never been published.
    if (pt == nullptr) pt = &create_role(parent);
    pt->delegations = std::move(next);
    d_.changed_.insert(parent);
    return {};
  }

  // Notary DeleteDelegation: the name must be a delegation and the parent signable. Drops
  // the role's metadata (and any invalid copy), and removes the role from its parent (then
  // unused keys, and marks the parent changed). A role that does not exist is a success.
  Status delete_delegation(const std::string& name) {
    if (!tuf::is_delegation_role(name)) return bad_role(name, "not a valid delegated role");
    const std::string parent(tuf::parent_role(name));
    VOUCH_RETURN_IF_ERROR(verify_can_sign(parent));
    bool existed = d_.delegated_.erase(name) > 0;
    existed = d_.invalid_.erase(name) > 0 || existed;
    d_.changed_.erase(name);
    if (tuf::Targets* pt = d_.find_mutable(parent)) {
      auto& roles = pt->delegations.roles;
      auto it = std::find_if(roles.begin(), roles.end(),
                             [&](const tuf::DelegatedRole& r) { return r.name == name; });
      if (it != roles.end()) {
        roles.erase(it);
        remove_unused_keys(pt->delegations);
        d_.changed_.insert(parent);
        existed = true;
      }
    }
    if (existed) d_.deleted_.insert(name);
    return {};
  }

  // ---- witness (Notary witnessTargets) ---------------------------------------------------

  // A loaded role is marked changed. A delegation that exists but whose metadata did not
  // verify (set_invalid) is moved back into the draft and marked changed, unless its
  // threshold exceeds its keys (kThresholdNotMet: nothing could bring it back). Anything
  // else is kBadRole ("this role is not known").
  Status witness(const std::string& role) {
    if (d_.find(role) != nullptr) {
      d_.changed_.insert(role);
      return {};
    }
    if (tuf::is_delegation_role(role)) {
      if (auto loc = locate(role)) {
        if (static_cast<std::size_t>(std::max<std::int64_t>(loc->role.threshold, 0)) >
            loc->keys.size()) {
          return make_error(Code::kFailedPrecondition, Reason::kThresholdNotMet,
                            "role \"" + role +
                                "\" does not specify enough valid signing keys to meet its "
                                "required threshold");
        }
        if (auto it = d_.invalid_.find(role); it != d_.invalid_.end()) {
          d_.delegated_[role] = std::move(it->second);
          d_.invalid_.erase(it);
          d_.deleted_.erase(role);
          d_.changed_.insert(role);
          return {};
        }
      }
    }
    return bad_role(role, "this role is not known");
  }

  // ---- purge (Notary PurgeDelegationKeys) ------------------------------------------------

  Status purge(std::string_view wildcard, std::span<const std::string> key_ids) {
    if (!is_wildcard_delegation(wildcard)) {
      return bad_role(wildcard, "only wildcard roles can be used in a purge");
    }
    const std::string_view start = wildcard.substr(0, wildcard.size() - 2);
    return walk(std::nullopt, start, [&](tuf::Targets& t, const Node& node) -> Result<Visit> {
      std::vector<std::string> doomed;
      for (const auto& [id, key] : t.delegations.keys) {
        if (std::find(key_ids.begin(), key_ids.end(), key.canonical_id()) != key_ids.end()) {
          doomed.push_back(id);
        }
      }
      if (doomed.empty()) return Visit::kContinue;
      if (Status can = verify_can_sign(node.name); !can) {
        warnings_.push_back("role " + node.name +
                            " contains keys being purged but no key to sign it is available; "
                            "keys will not be purged from " +
                            node.name + " or its immediate children");
        return Visit::kContinue;
      }
      for (const auto& id : doomed) t.delegations.keys.erase(id);
      for (auto& r : t.delegations.roles) {
        subtract_from(r.keyids, doomed);
        if (static_cast<std::int64_t>(r.keyids.size()) < r.threshold) {
          warnings_.push_back("role " + r.name + " has fewer keys than its threshold of " +
                              std::to_string(r.threshold) +
                              "; it will not be usable until keys are added to it");
        }
      }
      d_.changed_.insert(node.name);
      return Visit::kContinue;
    });
  }

  // ---- one change (Notary applyChangelist's loop body) -----------------------------------

  Status apply(const Change& c) {
    const bool targets_scope = c.role == tuf::kTargetsRole || tuf::is_delegation_role(c.role) ||
                               is_wildcard_delegation(c.role);
    if (!targets_scope) {
      if (c.role == kScopeRoot) {
        return make_error(Code::kUnimplemented, Reason::kBadRole,
                          "root changes are not applied from a changelist (key rotation "
                          "applies them directly)");
      }
      return bad_role(c.role, "scope not supported");
    }
    if (c.type == kTypeTarget) {
      if (c.action == kActionCreate) {
        if (!c.data) return make_error(Reason::kMalformed, "target change without a payload");
        VOUCH_ASSIGN_OR_RETURN(tuf::FileMeta meta, parse_target_payload(*c.data));
        return add_target(c.role, c.path, std::move(meta));
      }
      if (c.action == kActionDelete) return remove_target(c.role, c.path);
      return unsupported_action(c);
    }
    if (c.type == kTypeDelegation) {
      if (c.action == kActionCreate || c.action == kActionUpdate) {
        const Bytes empty;
        VOUCH_ASSIGN_OR_RETURN(DelegationPayload p,
                               parse_delegation_payload(c.data ? *c.data : empty));
        if (c.action == kActionUpdate && is_wildcard_delegation(c.role)) {
          return purge(c.role, p.remove_keys);
        }
        return update_delegation(c.role, p, c.action == kActionUpdate);
      }
      if (c.action == kActionDelete) return delete_delegation(c.role);
      return unsupported_action(c);
    }
    if (c.type == kTypeWitness) return witness(c.role);
    return make_error(Code::kInvalidArgument, Reason::kMalformed,
                      "only target meta and delegations changes supported (type \"" +
                          c.type.substr(0, 64) + "\")");
  }

 private:
  static Error unsupported_action(const Change& c) {
    return make_error(Code::kInvalidArgument, Reason::kMalformed,
                      "unsupported action \"" + c.action.substr(0, 64) + "\" for a " + c.type +
                          " change");
  }

  TargetsDraft& d_;
  const ApplyOptions& options_;
  std::vector<std::string>& warnings_;
};

// ---- TargetsDraft ------------------------------------------------------------------------

TargetsDraft::TargetsDraft(tuf::Targets targets, std::vector<keys::PublicKey> targets_keys)
    : targets_(std::move(targets)), targets_keys_(std::move(targets_keys)) {}

Result<TargetsDraft> TargetsDraft::from_trusted_set(const tuf::TrustedSet& set) {
  const tuf::TrustedTargets* top = set.targets();
  if (top == nullptr) {
    return make_error(Code::kFailedPrecondition, Reason::kNotFound,
                      "the targets role of " + set.gun() + " is not loaded");
  }
  std::vector<keys::PublicKey> keys;
  for (const auto& id : top->role_keys.keyids) {
    auto it = top->keys.find(id);
    if (it == top->keys.end()) continue;
    if (std::none_of(keys.begin(), keys.end(),
                     [&](const keys::PublicKey& k) { return k.id() == id; })) {
      keys.push_back(it->second);
    }
  }
  TargetsDraft draft(top->metadata.content, std::move(keys));
  for (const auto& [role, version] : set.versions()) {
    if (!tuf::is_delegation_role(role)) continue;
    if (const tuf::TrustedTargets* t = set.targets(role)) {
      draft.delegated_.insert_or_assign(role, t->metadata.content);
    }
  }
  return draft;
}

Status TargetsDraft::set_delegated(std::string role, tuf::Targets targets) {
  if (!tuf::is_delegation_role(role)) return bad_role(role, "not a delegation");
  delegated_.insert_or_assign(std::move(role), std::move(targets));
  return {};
}

Status TargetsDraft::set_invalid(std::string role, tuf::Targets targets) {
  if (!tuf::is_delegation_role(role)) return bad_role(role, "not a delegation");
  invalid_.insert_or_assign(std::move(role), std::move(targets));
  return {};
}

const tuf::Targets* TargetsDraft::find(std::string_view role) const {
  if (role == tuf::kTargetsRole) return &targets_;
  auto it = delegated_.find(role);
  return it == delegated_.end() ? nullptr : &it->second;
}

tuf::Targets* TargetsDraft::find_mutable(std::string_view role) {
  return const_cast<tuf::Targets*>(std::as_const(*this).find(role));
}

// ---- entry points --------------------------------------------------------------------------

Status apply_change(TargetsDraft& draft, const Change& change, const ApplyOptions& options,
                    std::vector<std::string>* warnings) {
  std::vector<std::string> local;
  DraftEditor editor(draft, options, local);
  VOUCH_RETURN_IF_ERROR(editor.apply(change));
  if (warnings != nullptr) warnings->insert(warnings->end(), local.begin(), local.end());
  return {};
}

namespace {

template <typename Get>
Result<ApplyReport> apply_all(TargetsDraft& draft, std::size_t n, Get&& get,
                              const ApplyOptions& options) {
  ApplyReport report;
  for (std::size_t i = 0; i < n; ++i) {
    const Change& c = get(i);
    Status st = apply_change(draft, c, options, &report.warnings);
    if (!st) {
      return std::move(st).error().wrap("change #" + std::to_string(i) + " (" + describe(c) +
                                        ")");
    }
    ++report.applied;
  }
  return report;
}

}  // namespace

Result<ApplyReport> apply_changes(TargetsDraft& draft, std::span<const Change> changes,
                                  const ApplyOptions& options) {
  return apply_all(
      draft, changes.size(), [&](std::size_t i) -> const Change& { return changes[i]; }, options);
}

Result<ApplyReport> apply_changes(TargetsDraft& draft, std::span<const ListedChange> changes,
                                  const ApplyOptions& options) {
  return apply_all(
      draft, changes.size(), [&](std::size_t i) -> const Change& { return changes[i].change; },
      options);
}

Status purge_keys(TargetsDraft& draft, std::string_view wildcard,
                  std::span<const std::string> key_ids, const ApplyOptions& options,
                  std::vector<std::string>* warnings) {
  std::vector<std::string> local;
  DraftEditor editor(draft, options, local);
  VOUCH_RETURN_IF_ERROR(editor.purge(wildcard, key_ids));
  if (warnings != nullptr) warnings->insert(warnings->end(), local.begin(), local.end());
  return {};
}

}  // namespace vouch::client
