#include "tuf/trusted_set.h"

#include <algorithm>
#include <deque>
#include <utility>

#include "tuf/verify.h"

namespace vouch::tuf {
namespace {

// Concatenates message parts by appending. (GCC 12 at -O3 reports false -Wrestrict and
// -Wstringop-overread warnings on chains of std::string operator+.)
template <typename... Parts>
std::string cat(const Parts&... parts) {
  std::string out;
  (out.append(parts), ...);
  return out;
}

// Calls made in the wrong order are the caller's bug, not an attack: a distinct Code.
Error order_error(std::string message) {
  return make_error(Code::kFailedPrecondition, Reason::kBadRole, std::move(message));
}

Status check_size(std::string_view what, std::size_t size, std::size_t limit,
                  std::string_view limit_name) {
  if (size > limit) {
    return make_error(Reason::kTooLarge,
                      cat(std::string(what), " is ", std::to_string(size), " bytes, above ",
                          std::string(limit_name), " (", std::to_string(limit), ")"));
  }
  return {};
}

// Endless data and mix-and-match (TUF 5.5.1-5.5.2, 5.6.1-5.6.2): the bytes may not be longer
// than the parent lists (checked first, and before parsing), then length and hashes must match.
Status check_against_parent(std::string_view role, std::string_view parent, ByteSpan bytes,
                            const FileMeta& meta, std::size_t cap, std::string_view cap_name) {
  VOUCH_RETURN_IF_ERROR(check_size(role, bytes.size(), cap, cap_name));
  if (meta.length < 0 || bytes.size() > static_cast<std::size_t>(meta.length)) {
    return make_error(
        Reason::kTooLarge,
        cat(std::string(role), " is ", std::to_string(bytes.size()), " bytes, longer than ",
            std::to_string(meta.length), " as ", std::string(parent), " lists it"));
  }
  auto st = meta.check(bytes);
  if (!st) {
    return std::move(st).error().wrap(
        cat(std::string(role), " does not match what ", std::string(parent), " lists"));
  }
  return {};
}

Status check_version_floor(std::string_view role, std::int64_t version, std::int64_t floor) {
  if (version < floor) {
    return make_error(Reason::kRollback, cat(std::string(role), " version ",
                                             std::to_string(version), " is older than version ",
                                             std::to_string(floor), " trusted before (rollback)"));
  }
  return {};
}

// What timestamp and snapshot check alike once parsed: signed by `root`'s `role` role, a
// version not below `floor` nor below `trusted` (the one held so far, if any), not expired at
// `reference_time`.
template <typename T>
Status check_root_signed_role(const Metadata<T>& parsed, std::string_view role,
                              const Metadata<Root>& root, std::int64_t floor,
                              const std::optional<Metadata<T>>& trusted, TimePoint reference_time) {
  VOUCH_RETURN_IF_ERROR(verify_signatures(parsed, root.content.keys,
                                          root.content.roles.at(std::string(role)), role));
  VOUCH_RETURN_IF_ERROR(check_version_floor(role, parsed.content.version, floor));
  if (trusted) {
    VOUCH_RETURN_IF_ERROR(
        check_version_floor(role, parsed.content.version, trusted->content.version));
  }
  return check_not_expired(parsed.content.expires, reference_time, role);
}

Status check_role_keys(std::string_view where, std::string_view role, const RoleKeys& rk,
                       const KeyMap& keys) {
  if (rk.threshold < 1) {
    return make_error(Reason::kMalformed,
                      cat(std::string(where), ": threshold of ", std::string(role), " is below 1"));
  }
  for (const auto& id : rk.keyids) {
    if (keys.find(id) == keys.end()) {
      return make_error(Reason::kMalformed,
                        cat(std::string(where), ": ", std::string(role), " lists key ",
                            id.substr(0, 64), " that is not in its keys"));
    }
  }
  return {};
}

// Notary data/root.go isValidRootStructure.
Status check_root_structure(const Root& root) {
  if (root.version < 1) return make_error(Reason::kBadVersion, "root: version below 1");
  for (const auto& [name, rk] : root.roles) {
    VOUCH_RETURN_IF_ERROR(check_role_keys("root", name, rk, root.keys));
  }
  return {};
}

// Notary data/targets.go isValidTargetsStructure: delegations are direct children of the
// role that lists them, with sane thresholds and known keys.
Status check_targets_structure(std::string_view role, const Targets& t) {
  if (t.version < 1)
    return make_error(Reason::kBadVersion, cat(std::string(role), ": version below 1"));
  for (const auto& d : t.delegations.roles) {
    if (parent_role(d.name) != role) {
      return make_error(Reason::kBadRole,
                        cat(std::string(role), " delegates to \"", d.name.substr(0, 64),
                            "\", which is not its direct child"));
    }
    VOUCH_RETURN_IF_ERROR(
        check_role_keys(role, d.name, RoleKeys{d.keyids, d.threshold}, t.delegations.keys));
  }
  return {};
}

Status require_sha256(std::string_view where,
                      const std::map<std::string, FileMeta, std::less<>>& meta,
                      std::string_view role) {
  auto it = meta.find(role);
  if (it == meta.end() || it->second.hashes.find("sha256") == it->second.hashes.end()) {
    return make_error(Reason::kMalformed,
                      cat(std::string(where), ": no sha256 for \"", std::string(role), "\""));
  }
  return {};
}

// The root-role keys of `root` that may count for `gun` (Notary trustpinning/certs.go
// validRootLeafCerts + the trust pin checker): X.509 keys whose certificate passes Notary's
// checks for the GUN and satisfies the pinning. `at` == nullopt ignores validity periods
// (Notary does so for the previous root; TUF 5.3.6 lets intermediate roots be expired).
KeyMap countable_root_keys(const Root& root, std::string_view gun, const GunPinning& pin,
                           std::optional<TimePoint> at) {
  KeyMap out;
  auto role = root.roles.find(kRootRole);
  if (role == root.roles.end()) return out;
  for (const auto& id : role->second.keyids) {
    auto key = root.keys.find(id);
    if (key == root.keys.end()) continue;
    const keys::Certificate* cert = key->second.certificate();
    if (cert == nullptr) continue;  // Notary counts only certificates as root keys
    // check_root at the certificate's own not_after checks everything but the time window.
    if (!cert->check_root(gun, at.value_or(cert->not_after())).ok()) continue;
    if (!pin_accepts(pin, key->second, at)) continue;
    out.emplace(id, key->second);
  }
  return out;
}

// The root role's key IDs for messages; `with_canonical` adds each certificate's canonical ID
// ("<id> (canonical <id>)"), for pins that accept either.
std::string root_key_ids(const Root& root, bool with_canonical = false) {
  std::string out;
  auto role = root.roles.find(kRootRole);
  if (role == root.roles.end()) return "none";
  for (const auto& id : role->second.keyids) {
    if (!out.empty()) out += ", ";
    out += id;
    auto key = root.keys.find(id);
    if (with_canonical && key != root.keys.end() && key->second.canonical_id() != id) {
      out += " (canonical " + key->second.canonical_id() + ")";
    }
  }
  return out.empty() ? "none" : out;
}

// Verifies `root` with its own root keys as `pin` allows them.
Status verify_root_with_own_keys(const Metadata<Root>& root, std::string_view gun,
                                 const GunPinning& pin, std::optional<TimePoint> at) {
  const KeyMap keys = countable_root_keys(root.content, gun, pin, at);
  const std::string what = cat("root version ", std::to_string(root.content.version), " of ", gun);
  if (keys.empty()) {
    if (pin.mode == PinMode::kTofu) {
      return make_error(Reason::kBadCertificate,
                        cat(what,
                            " lists no usable root certificate (X.509 with CN = GUN, not "
                            "SHA-1, RSA >= 2048 bits",
                            std::string(at ? ", valid at the reference time" : ""),
                            "); root keys: ", root_key_ids(root.content)));
    }
    return make_error(Reason::kBadCertificate,
                      cat(what, " has no root certificate that satisfies the ", describe(pin),
                          "; its root keys are: ",
                          root_key_ids(root.content, pin.canonical_ids)));
  }
  auto st = verify_signatures(root.canonical_signed, root.signatures, keys,
                              root.content.roles.at(std::string(kRootRole)), VerifyOptions{what});
  if (!st) return std::move(st).error();
  return {};
}

// Every distinct key (by key material) among `keyids` whose signature verifies, as
// verify_signatures counts them, but without stopping at the threshold: the verifier needs
// every signer, not just enough of them.
std::vector<keys::PublicKey> collect_signers(const std::string& canonical_signed,
                                             const std::vector<SignatureEntry>& signatures,
                                             const KeyMap& keys,
                                             const std::vector<std::string>& keyids,
                                             std::size_t& invalid) {
  std::vector<keys::PublicKey> out;
  invalid = 0;
  for (const auto& sig : signatures) {
    if (std::find(keyids.begin(), keyids.end(), sig.keyid) == keyids.end()) continue;
    auto key = keys.find(sig.keyid);
    if (key == keys.end() || !sig.method) {
      ++invalid;
      continue;
    }
    const Bytes& spki = key->second.spki_der();
    if (std::any_of(out.begin(), out.end(),
                    [&](const keys::PublicKey& k) { return k.spki_der() == spki; })) {
      continue;
    }
    if (!key->second.verify(*sig.method, as_bytes(canonical_signed), sig.sig).ok()) {
      ++invalid;
      continue;
    }
    out.push_back(key->second);
  }
  return out;
}

bool is_ancestor_or_self(std::string_view role, std::string_view subtree) {
  if (subtree.empty() || role == subtree) return true;
  return role.size() > subtree.size() && role.substr(0, subtree.size()) == subtree &&
         role[subtree.size()] == '/';
}

}  // namespace

// ---- Root ----

Result<TrustedSet> TrustedSet::bootstrap(std::string gun, std::string_view root_bytes,
                                         RootOrigin origin, const TrustPinning& pinning,
                                         TimePoint reference_time, UpdateLimits limits) {
  VOUCH_RETURN_IF_ERROR(
      check_size("root", root_bytes.size(), limits.max_root_bytes, "max_root_bytes"));
  TrustedSet set;
  set.gun_ = std::move(gun);
  set.reference_time_ = reference_time;
  set.limits_ = std::move(limits);
  set.pinning_ = resolve_pinning(pinning, set.gun_);
  // Notary trustpin.go: without pinning, a root seen for the first time is trusted only if
  // TOFU is allowed. A root trusted before (cache, out of band) needs no TOFU.
  if (origin == RootOrigin::kFirstUse && set.pinning_.mode == PinMode::kTofu &&
      !set.pinning_.tofu_allowed) {
    return make_error(Code::kFailedPrecondition, Reason::kBadCertificate,
                      cat("no trust pinning (certificate IDs or CA) is configured for ", set.gun_,
                          " and trust on first use is disabled: add a trust_pinning entry for "
                          "it, or provide its root out of band"));
  }
  auto root = parse_root(root_bytes, set.limits_.metadata);
  if (!root) return std::move(root).error().wrap("root");
  VOUCH_RETURN_IF_ERROR(check_root_structure(root->content));
  // With anchor_only the pinning has done its work once a root is anchored: a root trusted
  // before was verified back to the pin, and later roots are trusted through the chain.
  if (pinning.anchor_only && origin == RootOrigin::kTrustedBefore) set.pinning_ = GunPinning{};
  // TUF 5.2: the trusted root's expiry does not matter yet (see check_final_root).
  VOUCH_RETURN_IF_ERROR(verify_root_with_own_keys(*root, set.gun_, set.pinning_, std::nullopt));
  if (pinning.anchor_only) set.pinning_ = GunPinning{};
  set.root_ = std::move(*root);
  return set;
}

Status TrustedSet::check_order_before_timestamp() const {
  if (timestamp_) {
    // TUF 5.3.11 would discard timestamp and snapshot after a key change; like python-tuf we
    // simply refuse to change the root once the timestamp is trusted.
    return order_error("the root cannot change after the timestamp is loaded");
  }
  return {};
}

Status TrustedSet::update_root(std::string_view bytes) {
  VOUCH_RETURN_IF_ERROR(check_order_before_timestamp());
  // TUF 5.3.3: up to W bytes.
  VOUCH_RETURN_IF_ERROR(check_size("root", bytes.size(), limits_.max_root_bytes, "max_root_bytes"));
  auto parsed = parse_root(bytes, limits_.metadata);
  if (!parsed) return std::move(parsed).error().wrap("root");
  Metadata<Root>& next = *parsed;
  VOUCH_RETURN_IF_ERROR(check_root_structure(next.content));
  const std::int64_t trusted_version = root_.content.version;
  const std::string next_name = cat("root version ", std::to_string(next.content.version));

  // TUF 5.3.4 (1): signed by a threshold of the trusted root's keys. Notary certs.go
  // ValidateRoot: the previous root's certificates for this GUN, expiry not checked, with
  // the previous threshold. This is the check that refuses an unexpected root change.
  {
    const GunPinning any{};  // the previous root was already accepted under the pinning
    const KeyMap old_keys = countable_root_keys(root_.content, gun_, any, std::nullopt);
    auto st =
        verify_signatures(next.canonical_signed, next.signatures, old_keys,
                          root_.content.roles.at(std::string(kRootRole)), VerifyOptions{next_name});
    if (!st) {
      return make_error(
          Reason::kThresholdNotMet,
          cat(next_name, " of ", gun_,
              " is not signed by the root keys trusted so far (root version ",
              std::to_string(trusted_version), ": ", st.error().message,
              "). Refusing to rotate trust to a root that is not cross-signed by the previous "
              "root keys. If the repository owner really replaced the root key without the "
              "old one, verify the new root certificate out of band, then pin it "
              "(trust_pinning.certs) or remove the cached trust data for this GUN."));
    }
  }
  // TUF 5.3.5: exactly N+1.
  if (next.content.version <= trusted_version) {
    return make_error(Reason::kRollback,
                      cat(next_name, " is not newer than the trusted root version ",
                          std::to_string(trusted_version), " (rollback)"));
  }
  if (next.content.version != trusted_version + 1) {
    return make_error(Reason::kBadVersion, cat(next_name, " skips versions: expected version ",
                                               std::to_string(trusted_version + 1)));
  }
  // TUF 5.3.4 (2): signed by a threshold of its own keys, restricted by the pinning (Notary
  // applies the trust pin checker to every new root, with TOFU only for the first).
  VOUCH_RETURN_IF_ERROR(verify_root_with_own_keys(next, gun_, pinning_, std::nullopt));
  // TUF 5.3.6: the expiry of an intermediate root does not matter. 5.3.7: trust it.
  root_ = std::move(next);
  ++root_rotations_;
  return {};
}

Status TrustedSet::check_final_root() const {
  // TUF 5.3.10: freeze attack.
  VOUCH_RETURN_IF_ERROR(check_not_expired(root_.content.expires, reference_time_, "root"));
  // Notary validates root certificates with checkExpiry for the root it uses: a threshold of
  // the root's signatures must come from certificates valid now.
  auto st = verify_root_with_own_keys(root_, gun_, pinning_, reference_time_);
  if (!st) {
    return make_error(Reason::kExpired,
                      cat("root version ", std::to_string(root_.content.version), " of ", gun_,
                          ": not enough root certificates are valid at the reference time (",
                          st.error().message, "); the repository owner must rotate the root key"));
  }
  return {};
}

// ---- Timestamp ----

Status TrustedSet::update_timestamp(std::string_view bytes) {
  if (snapshot_) return order_error("the timestamp cannot change after the snapshot is loaded");
  VOUCH_RETURN_IF_ERROR(check_final_root());
  // TUF 5.4.1: up to X bytes.
  VOUCH_RETURN_IF_ERROR(
      check_size("timestamp", bytes.size(), limits_.max_timestamp_bytes, "max_timestamp_bytes"));
  auto parsed = parse_timestamp(bytes, limits_.metadata);
  if (!parsed) return std::move(parsed).error().wrap("timestamp");
  const Timestamp& t = parsed->content;
  if (t.version < 1) return make_error(Reason::kBadVersion, "timestamp: version below 1");
  VOUCH_RETURN_IF_ERROR(require_sha256("timestamp", t.meta, kSnapshotRole));
  // TUF 5.4.2: signed by root's timestamp role; 5.4.3: rollback (Notary's snapshot meta
  // carries no version, so 5.4.3.2 becomes the snapshot's own floor, update_snapshot; equal
  // versions are accepted, Notary VerifyVersion); 5.4.4: freeze attack.
  VOUCH_RETURN_IF_ERROR(check_root_signed_role(*parsed, kTimestampRole, root_,
                                               floor_of(kTimestampRole), timestamp_,
                                               reference_time_));
  timestamp_ = std::move(*parsed);
  return {};
}

// ---- Snapshot ----

Status TrustedSet::update_snapshot(std::string_view bytes) {
  if (!timestamp_) return order_error("the snapshot needs a trusted timestamp first");
  if (!targets_.empty()) return order_error("the snapshot cannot change after targets is loaded");
  const FileMeta& listed = timestamp_->content.meta.at(std::string(kSnapshotRole));
  // TUF 5.5.1-5.5.2: at most the listed length, then hashes (mix-and-match).
  VOUCH_RETURN_IF_ERROR(check_against_parent(kSnapshotRole, kTimestampRole, as_bytes(bytes), listed,
                                             limits_.max_snapshot_bytes, "max_snapshot_bytes"));
  auto parsed = parse_snapshot(bytes, limits_.metadata);
  if (!parsed) return std::move(parsed).error().wrap("snapshot");
  const Snapshot& s = parsed->content;
  if (s.version < 1) return make_error(Reason::kBadVersion, "snapshot: version below 1");
  VOUCH_RETURN_IF_ERROR(require_sha256("snapshot", s.meta, kRootRole));
  VOUCH_RETURN_IF_ERROR(require_sha256("snapshot", s.meta, kTargetsRole));
  // TUF 5.5.3: signed by root's snapshot role; 5.5.4-5.5.5 in Notary's dialect: the
  // snapshot's own version must not go back; 5.5.6: freeze attack.
  VOUCH_RETURN_IF_ERROR(check_root_signed_role(*parsed, kSnapshotRole, root_,
                                               floor_of(kSnapshotRole), snapshot_,
                                               reference_time_));
  // Notary builder.go validateChecksumsFromSnapshot: the snapshot must list the root in use.
  // After walking the root chain to its end this fails only if the server withholds a newer
  // root (a freeze of the root) or published one during this update.
  if (auto st = s.meta.at(std::string(kRootRole)).check(as_bytes(*root_.bytes)); !st) {
    return make_error(Reason::kHashMismatch,
                      cat("snapshot version ", std::to_string(s.version),
                          " lists a root other than the trusted root version ",
                          std::to_string(root_.content.version),
                          ": the server did not serve the root the snapshot lists (a withheld "
                          "root update, or the repository changed during this update; retry)"));
  }
  snapshot_ = std::move(*parsed);
  return {};
}

// ---- Targets and delegations ----

Result<TrustedTargets> TrustedSet::verify_targets_role(std::string_view role,
                                                       std::string_view bytes, const KeyMap& keys,
                                                       const RoleKeys& role_keys,
                                                       std::vector<std::string> paths) const {
  auto listed = snapshot_->content.meta.find(role);
  if (listed == snapshot_->content.meta.end()) {
    return make_error(Reason::kNotFound, cat("the snapshot does not list ", std::string(role)));
  }
  // TUF 5.6.1-5.6.2.
  VOUCH_RETURN_IF_ERROR(check_against_parent(role, kSnapshotRole, as_bytes(bytes), listed->second,
                                             limits_.max_targets_bytes, "max_targets_bytes"));
  auto parsed = parse_targets(bytes, limits_.metadata);
  if (!parsed) return std::move(parsed).error().wrap(role);
  VOUCH_RETURN_IF_ERROR(check_targets_structure(role, parsed->content));
  // TUF 5.6.3: signed by a threshold of the keys the parent lists.
  if (role_keys.threshold < 1) {
    return make_error(Reason::kMalformed, cat(std::string(role), ": threshold below 1"));
  }
  std::size_t invalid = 0;
  auto signers = collect_signers(parsed->canonical_signed, parsed->signatures, keys,
                                 role_keys.keyids, invalid);
  if (signers.size() < static_cast<std::size_t>(role_keys.threshold)) {
    return make_error(
        Reason::kThresholdNotMet,
        cat(std::string(role), ": ", std::to_string(signers.size()),
            " valid signature(s) from distinct keys, ", std::to_string(role_keys.threshold),
            " required",
            (invalid ? cat(" (", std::to_string(invalid), " invalid)") : std::string())));
  }
  // TUF 5.6.4 in Notary's dialect (no versions in the snapshot): no rollback below what was
  // trusted before.
  VOUCH_RETURN_IF_ERROR(check_version_floor(role, parsed->content.version, floor_of(role)));
  // TUF 5.6.5: freeze attack.
  VOUCH_RETURN_IF_ERROR(check_not_expired(parsed->content.expires, reference_time_, role));
  TrustedTargets out;
  out.role = std::string(role);
  out.metadata = std::move(*parsed);
  out.keys = keys;
  out.role_keys = role_keys;
  out.paths = std::move(paths);
  out.signers = std::move(signers);
  return out;
}

Status TrustedSet::update_targets(std::string_view bytes) {
  if (!snapshot_) return order_error("targets needs a trusted snapshot first");
  if (targets_.count(kTargetsRole) != 0) return order_error("targets is already loaded");
  VOUCH_ASSIGN_OR_RETURN(
      TrustedTargets t,
      verify_targets_role(kTargetsRole, bytes, root_.content.keys,
                          root_.content.roles.at(std::string(kTargetsRole)), {""}));
  targets_.emplace(std::string(kTargetsRole), std::move(t));
  return {};
}

Result<const TrustedTargets*> TrustedSet::delegating_parent(
    std::string_view role, const DelegatedRole** delegation) const {
  // Hostile names ("targets/../root", "targets/a%2f", NUL, upper case...) stop here: they
  // never become a lookup key, a URL or a file name.
  if (!is_delegation_role(role)) {
    return make_error(Reason::kBadRole, cat("\"", std::string(role.substr(0, 64)),
                                            "\" is not a valid delegation role name"));
  }
  const std::string_view parent_name = parent_role(role);
  const TrustedTargets* parent = targets(parent_name);
  if (parent == nullptr) {
    return order_error(
        cat(std::string(role), " needs its parent ", std::string(parent_name), " loaded first"));
  }
  const DelegatedRole* d = parent->metadata.content.delegations.find(role);
  if (d == nullptr) {
    return make_error(Code::kFailedPrecondition, Reason::kBadRole,
                      cat(std::string(parent_name), " does not delegate to ", std::string(role)));
  }
  *delegation = d;
  return parent;
}

Status TrustedSet::update_delegated_targets(std::string_view role, std::string_view bytes) {
  auto result = [&]() -> Status {
    if (!snapshot_) return order_error("delegations need a trusted snapshot first");
    const DelegatedRole* d = nullptr;
    VOUCH_ASSIGN_OR_RETURN(const TrustedTargets* parent, delegating_parent(role, &d));
    if (targets_.count(role) != 0) return order_error(cat(std::string(role), " is already loaded"));
    if (targets_.size() - 1 >= limits_.max_delegated_roles) {
      return make_error(Reason::kTooLarge,
                        cat("more than ", std::to_string(limits_.max_delegated_roles),
                            " delegated roles (max_delegated_roles)"));
    }
    // Notary RestrictDelegationPathPrefixes: a delegation signs only within its parent's
    // paths, whatever it claims.
    VOUCH_ASSIGN_OR_RETURN(
        TrustedTargets t,
        verify_targets_role(role, bytes, parent->metadata.content.delegations.keys,
                            RoleKeys{d->keyids, d->threshold},
                            restrict_paths(parent->paths, d->paths)));
    targets_.emplace(std::string(role), std::move(t));
    failed_.erase(std::string(role));
    return {};
  }();
  // Only names that passed the check are remembered (they appear in messages and logs).
  if (!result && is_delegation_role(role))
    failed_.insert_or_assign(std::string(role), result.error());
  return result;
}

// ---- Rollback floors ----

Result<std::int64_t> TrustedSet::note_previous(std::string_view role, std::string_view bytes) {
  std::int64_t version = 0;
  if (role == kTimestampRole || role == kSnapshotRole) {
    const bool ts = role == kTimestampRole;
    VOUCH_RETURN_IF_ERROR(check_size(role, bytes.size(),
                                     ts ? limits_.max_timestamp_bytes : limits_.max_snapshot_bytes,
                                     "limit"));
    const RoleKeys& rk = root_.content.roles.at(std::string(role));
    if (ts) {
      VOUCH_ASSIGN_OR_RETURN(auto m, parse_timestamp(bytes, limits_.metadata));
      VOUCH_RETURN_IF_ERROR(verify_signatures(m, root_.content.keys, rk, role));
      version = m.content.version;
    } else {
      VOUCH_ASSIGN_OR_RETURN(auto m, parse_snapshot(bytes, limits_.metadata));
      VOUCH_RETURN_IF_ERROR(verify_signatures(m, root_.content.keys, rk, role));
      version = m.content.version;
    }
  } else if (role == kTargetsRole || is_delegation_role(role)) {
    VOUCH_RETURN_IF_ERROR(check_size(role, bytes.size(), limits_.max_targets_bytes, "limit"));
    const KeyMap* keys = &root_.content.keys;
    RoleKeys rk;
    if (role == kTargetsRole) {
      rk = root_.content.roles.at(std::string(kTargetsRole));
    } else {
      const DelegatedRole* d = nullptr;
      VOUCH_ASSIGN_OR_RETURN(const TrustedTargets* parent, delegating_parent(role, &d));
      keys = &parent->metadata.content.delegations.keys;
      rk = RoleKeys{d->keyids, d->threshold};
    }
    VOUCH_ASSIGN_OR_RETURN(auto m, parse_targets(bytes, limits_.metadata));
    VOUCH_RETURN_IF_ERROR(verify_signatures(m, *keys, rk, role));
    version = m.content.version;
  } else {
    return make_error(Reason::kBadRole,
                      cat("no rollback floor for \"", std::string(role.substr(0, 64)), "\""));
  }
  set_floor(role, version);
  return floor_of(role);
}

void TrustedSet::set_floor(std::string_view role, std::int64_t version) {
  auto it = floors_.find(role);
  if (it == floors_.end()) {
    floors_.emplace(std::string(role), version);
  } else {
    it->second = std::max(it->second, version);
  }
}

std::int64_t TrustedSet::floor_of(std::string_view role) const {
  auto it = floors_.find(role);
  return it == floors_.end() ? 0 : it->second;
}

// ---- State ----

const TrustedTargets* TrustedSet::targets(std::string_view role) const {
  auto it = targets_.find(role);
  return it == targets_.end() ? nullptr : &it->second;
}

std::map<std::string, std::int64_t, std::less<>> TrustedSet::versions() const {
  std::map<std::string, std::int64_t, std::less<>> out;
  out.emplace(std::string(kRootRole), root_.content.version);
  if (timestamp_) out.emplace(std::string(kTimestampRole), timestamp_->content.version);
  if (snapshot_) out.emplace(std::string(kSnapshotRole), snapshot_->content.version);
  for (const auto& [name, t] : targets_) out.emplace(name, t.metadata.content.version);
  return out;
}

const FileMeta* TrustedSet::expected_meta(std::string_view role) const {
  if (role == kSnapshotRole) {
    if (!timestamp_) return nullptr;
    auto it = timestamp_->content.meta.find(kSnapshotRole);
    return it == timestamp_->content.meta.end() ? nullptr : &it->second;
  }
  if (role == kRootRole || role == kTimestampRole || !snapshot_) return nullptr;
  auto it = snapshot_->content.meta.find(role);
  return it == snapshot_->content.meta.end() ? nullptr : &it->second;
}

std::vector<DelegationEdge> TrustedSet::delegations_of(std::string_view role) const {
  std::vector<DelegationEdge> out;
  const TrustedTargets* t = targets(role);
  if (t == nullptr) return out;
  for (const auto& d : t->metadata.content.delegations.roles) {
    out.push_back({d.name, restrict_paths(t->paths, d.paths)});
  }
  return out;
}

// ---- Lookups ----

template <typename Visit>
void TrustedSet::walk(std::string_view name, std::string_view subtree,
                      std::span<const std::string> skip, Visit&& visit) const {
  // Notary tuf.go WalkTargets: a queue from "targets"; role names form a tree (each role is
  // listed only by its parent), so every loaded role is reached at most once.
  std::deque<std::string_view> queue{kTargetsRole};
  auto push_children = [&](const TrustedTargets& t) {
    for (const auto& d : t.metadata.content.delegations.roles) queue.push_back(d.name);
  };
  while (!queue.empty()) {
    const std::string_view role = queue.front();
    queue.pop_front();
    const TrustedTargets* t = targets(role);
    if (t == nullptr) continue;  // not loaded (not published, failed, or not needed)
    // An ancestor of the requested subtree: descend without visiting.
    if (!subtree.empty() && subtree.size() > role.size() &&
        subtree.substr(0, role.size()) == role && subtree[role.size()] == '/') {
      push_children(*t);
      continue;
    }
    if (!path_allowed(t->paths, name) || !is_ancestor_or_self(role, subtree) ||
        std::find(skip.begin(), skip.end(), role) != skip.end()) {
      continue;
    }
    if (visit(*t)) return;
    push_children(*t);
  }
}

namespace {
std::optional<TargetMatch> match_in(const TrustedTargets& t, std::string_view name) {
  auto it = t.metadata.content.targets.find(name);
  if (it == t.metadata.content.targets.end()) return std::nullopt;
  return TargetMatch{t.role, it->second, t.paths, t.signers, t.role_keys.threshold};
}
}  // namespace

std::optional<TargetMatch> TrustedSet::find_target(std::string_view name) const {
  const std::string all[] = {std::string(kTargetsRole)};
  return find_target(name, all);
}

std::optional<TargetMatch> TrustedSet::find_target(std::string_view name,
                                                   std::span<const std::string> priority) const {
  for (const auto& role : priority) {
    std::vector<std::string> skip;
    for (const auto& other : priority) {
      if (other != role) skip.push_back(other);
    }
    std::optional<TargetMatch> found;
    walk(name, role, skip, [&](const TrustedTargets& t) {
      found = match_in(t, name);
      return found.has_value();
    });
    if (found) return found;
  }
  return std::nullopt;
}

std::vector<TargetMatch> TrustedSet::find_all_targets(std::string_view name) const {
  std::vector<TargetMatch> out;
  walk(name, "", {}, [&](const TrustedTargets& t) {
    if (auto m = match_in(t, name)) out.push_back(std::move(*m));
    return false;
  });
  return out;
}

}  // namespace vouch::tuf
