#include "tuf/metadata.h"

#include <algorithm>
#include <set>
#include <utility>

#include "common/enum_names.h"
#include "keys/crypto.h"

namespace vouch::tuf {
namespace {

Error malformed(std::string message) { return make_error(Reason::kMalformed, std::move(message)); }

Result<const json::Value*> field(const json::Object& obj, std::string_view name, json::Type type,
                                 std::string_view where) {
  const json::Value* v = obj.find(name);
  if (v == nullptr) {
    return malformed(std::string(where) + ": missing \"" + std::string(name) + "\"");
  }
  if (v->type() != type) {
    return make_error(Reason::kMalformed, std::string(where) + ": \"" + std::string(name) +
                                              "\" must be " + std::string(json::to_string(type)) +
                                              ", not " + std::string(json::to_string(v->type())));
  }
  return v;
}

Result<const json::Object*> object_field(const json::Object& obj, std::string_view name,
                                         std::string_view where) {
  VOUCH_ASSIGN_OR_RETURN(const json::Value* v, field(obj, name, json::Type::kObject, where));
  return &v->as_object();
}

Result<std::int64_t> version_field(const json::Object& obj) {
  VOUCH_ASSIGN_OR_RETURN(const json::Value* v, field(obj, "version", json::Type::kInt, "signed"));
  if (v->as_int() < 0) {
    return make_error(Reason::kBadVersion, "signed: \"version\" must not be negative");
  }
  return v->as_int();
}

Result<Expiry> expires_field(const json::Object& obj) {
  VOUCH_ASSIGN_OR_RETURN(const json::Value* v,
                         field(obj, "expires", json::Type::kString, "signed"));
  VOUCH_ASSIGN_OR_RETURN(TimePoint t, parse_rfc3339(v->as_string()));
  return Expiry{t, v->as_string()};
}

Result<std::int64_t> threshold_field(const json::Object& obj, std::string_view where) {
  VOUCH_ASSIGN_OR_RETURN(const json::Value* v, field(obj, "threshold", json::Type::kInt, where));
  return v->as_int();
}

Result<std::vector<std::string>> string_array(const json::Value& v, std::string_view where,
                                              std::size_t max) {
  if (!v.is_array()) return malformed(std::string(where) + " must be an array");
  const auto& arr = v.as_array();
  if (arr.size() > max) {
    return make_error(Reason::kTooLarge, std::string(where) + ": too many entries");
  }
  std::vector<std::string> out;
  out.reserve(arr.size());
  for (const auto& e : arr) {
    if (!e.is_string()) return malformed(std::string(where) + " must hold strings");
    out.push_back(e.as_string());
  }
  return out;
}

}  // namespace

Result<keys::PublicKey> parse_key(const json::Value& v) {
  if (!v.is_object()) return malformed("key must be an object");
  const auto& obj = v.as_object();
  VOUCH_ASSIGN_OR_RETURN(const json::Value* keytype, field(obj, "keytype", json::Type::kString, "key"));
  VOUCH_ASSIGN_OR_RETURN(const json::Object* keyval, object_field(obj, "keyval", "key"));
  VOUCH_ASSIGN_OR_RETURN(const json::Value* pub,
                         field(*keyval, "public", json::Type::kString, "keyval"));
  if (const json::Value* priv = keyval->find("private"); priv != nullptr && !priv->is_null()) {
    return malformed("keyval: \"private\" must be null in public metadata");
  }
  VOUCH_ASSIGN_OR_RETURN(keys::KeyType type, keys::parse_key_type(keytype->as_string()));
  VOUCH_ASSIGN_OR_RETURN(Bytes public_bytes, base64_decode(pub->as_string()));
  return keys::PublicKey::from_tuf(type, public_bytes);
}

namespace {

Result<KeyMap> parse_keys(const json::Object& obj, std::size_t max) {
  if (obj.size() > max) return make_error(Reason::kTooLarge, "too many keys");
  KeyMap out;
  for (const auto& [id, value] : obj) {
    auto key = parse_key(value);
    if (!key) return std::move(key).error().wrap("key " + id.substr(0, 64));
    // One key, one ID: an ID that is not the key's own would let one key count twice.
    if (key->id() != id) {
      return malformed("key ID " + id.substr(0, 64) + " does not match its key (" + key->id() +
                       ")");
    }
    out.emplace(id, std::move(*key));
  }
  return out;
}

}  // namespace

static Result<Hashes> parse_hashes(const json::Object& obj) {
  Hashes out;
  for (const auto& [name, value] : obj) {
    if (!value.is_string()) return malformed("hashes: values must be base64 strings");
    VOUCH_ASSIGN_OR_RETURN(Bytes digest, base64_decode(value.as_string()));
    out.emplace(name, std::move(digest));
  }
  return out;
}

Result<FileMeta> parse_file_meta(const json::Value& v, std::string_view where) {
  if (!v.is_object()) return malformed(std::string(where) + " must be an object");
  const auto& obj = v.as_object();
  FileMeta meta;
  VOUCH_ASSIGN_OR_RETURN(const json::Value* length, field(obj, "length", json::Type::kInt, where));
  if (length->as_int() < 0) return malformed(std::string(where) + ": negative length");
  meta.length = length->as_int();
  VOUCH_ASSIGN_OR_RETURN(const json::Object* hashes, object_field(obj, "hashes", where));
  VOUCH_ASSIGN_OR_RETURN(meta.hashes, parse_hashes(*hashes));
  if (const json::Value* custom = obj.find("custom"); custom != nullptr && !custom->is_null()) {
    meta.custom = *custom;
  }
  return meta;
}

namespace {

Result<std::map<std::string, FileMeta, std::less<>>> parse_meta_map(const json::Object& obj,
                                                                     std::string_view where,
                                                                     std::size_t max) {
  if (obj.size() > max) {
    return make_error(Reason::kTooLarge, std::string(where) + ": too many entries");
  }
  std::map<std::string, FileMeta, std::less<>> out;
  for (const auto& [name, value] : obj) {
    auto meta = parse_file_meta(value, where);
    if (!meta) return std::move(meta).error().wrap(name.substr(0, 256));
    out.emplace_hint(out.end(), name, std::move(*meta));
  }
  return out;
}

struct Envelope {
  json::Value root;  // the whole document
  const json::Value* signed_value = nullptr;  // points into root
  const json::Object* signed_obj = nullptr;
  std::vector<SignatureEntry> signatures;
};

Result<Envelope> parse_envelope(std::string_view bytes, RoleType expected,
                                const MetadataLimits& limits) {
  Envelope env;
  VOUCH_ASSIGN_OR_RETURN(env.root, json::parse(bytes, limits.json));
  if (!env.root.is_object()) return malformed("metadata must be a JSON object");
  const auto& top = env.root.as_object();
  VOUCH_ASSIGN_OR_RETURN(env.signed_value, field(top, "signed", json::Type::kObject, "metadata"));
  env.signed_obj = &env.signed_value->as_object();
  VOUCH_ASSIGN_OR_RETURN(const json::Value* sigs,
                         field(top, "signatures", json::Type::kArray, "metadata"));
  if (sigs->as_array().size() > limits.max_signatures) {
    return make_error(Reason::kTooLarge, "too many signatures");
  }
  for (const auto& s : sigs->as_array()) {
    if (!s.is_object()) return malformed("signature must be an object");
    const auto& so = s.as_object();
    SignatureEntry entry;
    VOUCH_ASSIGN_OR_RETURN(const json::Value* keyid,
                           field(so, "keyid", json::Type::kString, "signature"));
    VOUCH_ASSIGN_OR_RETURN(const json::Value* method,
                           field(so, "method", json::Type::kString, "signature"));
    VOUCH_ASSIGN_OR_RETURN(const json::Value* sig,
                           field(so, "sig", json::Type::kString, "signature"));
    entry.keyid = keyid->as_string();
    entry.method_text = method->as_string();
    if (auto m = keys::parse_sig_method(entry.method_text)) entry.method = *m;
    VOUCH_ASSIGN_OR_RETURN(entry.sig, base64_decode(sig->as_string()));
    env.signatures.push_back(std::move(entry));
  }
  VOUCH_ASSIGN_OR_RETURN(const json::Value* type,
                         field(*env.signed_obj, "_type", json::Type::kString, "signed"));
  if (type->as_string() != type_name(expected)) {
    return make_error(Reason::kWrongType, "expected _type \"" + std::string(type_name(expected)) +
                                              "\", found \"" + type->as_string().substr(0, 32) +
                                              "\"");
  }
  return env;
}

Result<Root> root_from(const json::Object& s, const MetadataLimits& limits) {
  Root r;
  VOUCH_ASSIGN_OR_RETURN(r.version, version_field(s));
  VOUCH_ASSIGN_OR_RETURN(r.expires, expires_field(s));
  VOUCH_ASSIGN_OR_RETURN(const json::Value* cs,
                         field(s, "consistent_snapshot", json::Type::kBool, "root"));
  r.consistent_snapshot = cs->as_bool();
  VOUCH_ASSIGN_OR_RETURN(const json::Object* keys, object_field(s, "keys", "root"));
  VOUCH_ASSIGN_OR_RETURN(r.keys, parse_keys(*keys, limits.max_keys));
  VOUCH_ASSIGN_OR_RETURN(const json::Object* roles, object_field(s, "roles", "root"));
  for (const auto& [name, value] : *roles) {
    if (!is_base_role(name)) {
      return make_error(Reason::kBadRole, "root: unknown role \"" + name.substr(0, 64) + "\"");
    }
    if (!value.is_object()) return malformed("root: role must be an object");
    RoleKeys rk;
    const auto* keyids = value.as_object().find("keyids");
    if (keyids == nullptr) return malformed("root: role " + name + " has no keyids");
    VOUCH_ASSIGN_OR_RETURN(rk.keyids, string_array(*keyids, "keyids", limits.max_keys));
    VOUCH_ASSIGN_OR_RETURN(rk.threshold, threshold_field(value.as_object(), "root role"));
    r.roles.emplace(name, std::move(rk));
  }
  for (RoleType t : {RoleType::kRoot, RoleType::kTargets, RoleType::kSnapshot,
                     RoleType::kTimestamp}) {
    if (r.roles.find(role_name(t)) == r.roles.end()) {
      return make_error(Reason::kBadRole,
                        "root: missing role \"" + std::string(role_name(t)) + "\"");
    }
  }
  return r;
}

Result<Targets> targets_from(const json::Object& s, const MetadataLimits& limits) {
  Targets t;
  VOUCH_ASSIGN_OR_RETURN(t.version, version_field(s));
  VOUCH_ASSIGN_OR_RETURN(t.expires, expires_field(s));
  VOUCH_ASSIGN_OR_RETURN(const json::Object* targets, object_field(s, "targets", "targets"));
  VOUCH_ASSIGN_OR_RETURN(t.targets, parse_meta_map(*targets, "target", limits.max_targets));
  // Notary always writes "delegations"; older or foreign writers may omit it.
  if (const json::Value* d = s.find("delegations"); d != nullptr && !d->is_null()) {
    if (!d->is_object()) return malformed("targets: \"delegations\" must be an object");
    const auto& dobj = d->as_object();
    VOUCH_ASSIGN_OR_RETURN(const json::Object* keys, object_field(dobj, "keys", "delegations"));
    VOUCH_ASSIGN_OR_RETURN(t.delegations.keys, parse_keys(*keys, limits.max_keys));
    // Notary (Go) writes a nil slice as null: "roles": null and "keyids": null mean none.
    const json::Value* roles = dobj.find("roles");
    if (roles != nullptr && roles->is_null()) return t;
    VOUCH_ASSIGN_OR_RETURN(roles, field(dobj, "roles", json::Type::kArray, "delegations"));
    if (roles->as_array().size() > limits.max_delegations) {
      return make_error(Reason::kTooLarge, "delegations: too many roles");
    }
    std::set<std::string, std::less<>> seen;
    for (const auto& rv : roles->as_array()) {
      if (!rv.is_object()) return malformed("delegations: role must be an object");
      const auto& ro = rv.as_object();
      DelegatedRole role;
      VOUCH_ASSIGN_OR_RETURN(const json::Value* name,
                             field(ro, "name", json::Type::kString, "delegation"));
      role.name = name->as_string();
      if (!is_delegation_role(role.name)) {
        return make_error(Reason::kBadRole,
                          "delegations: invalid role name \"" + role.name.substr(0, 64) + "\"");
      }
      if (!seen.insert(role.name).second) {
        return make_error(Reason::kBadRole, "delegations: role \"" + role.name + "\" repeated");
      }
      const json::Value* keyids = ro.find("keyids");
      if (keyids == nullptr) return malformed("delegation " + role.name + ": missing keyids");
      // null: notary 0.7 writes it once `delegation remove` took the role's last key.
      if (!keyids->is_null()) {
        VOUCH_ASSIGN_OR_RETURN(role.keyids, string_array(*keyids, "keyids", limits.max_keys));
      }
      VOUCH_ASSIGN_OR_RETURN(role.threshold, threshold_field(ro, "delegation"));
      if (const json::Value* paths = ro.find("paths"); paths != nullptr && !paths->is_null()) {
        VOUCH_ASSIGN_OR_RETURN(role.paths, string_array(*paths, "paths", limits.max_paths));
      }
      t.delegations.roles.push_back(std::move(role));
    }
  }
  return t;
}

template <typename T>
Result<T> meta_role_from(const json::Object& s, const MetadataLimits& limits,
                         std::string_view where) {
  T out;
  VOUCH_ASSIGN_OR_RETURN(out.version, version_field(s));
  VOUCH_ASSIGN_OR_RETURN(out.expires, expires_field(s));
  VOUCH_ASSIGN_OR_RETURN(const json::Object* meta, object_field(s, "meta", where));
  VOUCH_ASSIGN_OR_RETURN(out.meta, parse_meta_map(*meta, "meta", limits.max_delegations + 4));
  return out;
}

template <typename T, typename F>
Result<Metadata<T>> parse_typed(std::string_view bytes, const MetadataLimits& limits, F&& from) {
  VOUCH_ASSIGN_OR_RETURN(Envelope env, parse_envelope(bytes, T::kType, limits));
  VOUCH_ASSIGN_OR_RETURN(T content, from(*env.signed_obj, limits));
  Metadata<T> m;
  m.content = std::move(content);
  m.signatures = std::move(env.signatures);
  m.canonical_signed.reserve(bytes.size());
  json::canonical_append(*env.signed_value, m.canonical_signed);
  m.bytes = std::make_shared<const std::string>(bytes);
  return m;
}

json::Value keys_to_json(const KeyMap& keys) {
  json::Object obj;
  std::vector<json::Member> members;
  members.reserve(keys.size());
  for (const auto& [id, key] : keys) members.emplace_back(id, to_json(key));
  obj.assign_unsorted(std::move(members));
  return obj;
}

json::Value strings_to_json(const std::vector<std::string>& v) {
  json::Array arr;
  arr.reserve(v.size());
  for (const auto& s : v) arr.emplace_back(s);
  return arr;
}

template <typename Map>
json::Value meta_map_to_json(const Map& m) {
  std::vector<json::Member> members;
  members.reserve(m.size());
  for (const auto& [name, meta] : m) members.emplace_back(name, to_json(meta));
  json::Object obj;
  obj.assign_unsorted(std::move(members));
  return obj;
}

}  // namespace

constexpr EnumName<RoleType> kTypeNames[] = {
    {RoleType::kRoot, "Root"}, {RoleType::kTargets, "Targets"}, {RoleType::kSnapshot, "Snapshot"},
    {RoleType::kTimestamp, "Timestamp"}};
static_assert(lists_every_value(kTypeNames, RoleType::kTimestamp));

std::string_view type_name(RoleType type) { return name_of(kTypeNames, type, ""); }

constexpr EnumName<RoleType> kRoleNames[] = {
    {RoleType::kRoot, kRootRole}, {RoleType::kTargets, kTargetsRole},
    {RoleType::kSnapshot, kSnapshotRole}, {RoleType::kTimestamp, kTimestampRole}};
static_assert(lists_every_value(kRoleNames, RoleType::kTimestamp));

std::string_view role_name(RoleType type) { return name_of(kRoleNames, type, ""); }

FileMeta FileMeta::of(ByteSpan bytes) {
  FileMeta m;
  m.length = static_cast<std::int64_t>(bytes.size());
  const auto s256 = keys::sha256(bytes);
  const auto s512 = keys::sha512(bytes);
  m.hashes.emplace("sha256", Bytes(s256.begin(), s256.end()));
  m.hashes.emplace("sha512", Bytes(s512.begin(), s512.end()));
  return m;
}

Status FileMeta::check(ByteSpan bytes) const {
  if (length != static_cast<std::int64_t>(bytes.size())) {
    return make_error(Reason::kLengthMismatch, "expected " + std::to_string(length) +
                                                   " bytes, got " + std::to_string(bytes.size()));
  }
  bool checked = false;
  if (auto it = hashes.find("sha256"); it != hashes.end()) {
    const auto d = keys::sha256(bytes);
    if (!constant_time_equal(it->second, d)) {
      return make_error(Reason::kHashMismatch, "sha256 does not match");
    }
    checked = true;
  }
  if (auto it = hashes.find("sha512"); it != hashes.end()) {
    const auto d = keys::sha512(bytes);
    if (!constant_time_equal(it->second, d)) {
      return make_error(Reason::kHashMismatch, "sha512 does not match");
    }
    checked = true;
  }
  if (!checked) return make_error(Reason::kHashMismatch, "no supported hash (sha256, sha512)");
  return {};
}

const DelegatedRole* Delegations::find(std::string_view name) const {
  for (const auto& r : roles) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

Result<Metadata<Root>> parse_root(std::string_view bytes, const MetadataLimits& limits) {
  return parse_typed<Root>(bytes, limits, root_from);
}

Result<Metadata<Targets>> parse_targets(std::string_view bytes, const MetadataLimits& limits) {
  return parse_typed<Targets>(bytes, limits, targets_from);
}

Result<Metadata<Snapshot>> parse_snapshot(std::string_view bytes, const MetadataLimits& limits) {
  return parse_typed<Snapshot>(bytes, limits, [](const json::Object& s, const MetadataLimits& l) {
    return meta_role_from<Snapshot>(s, l, "snapshot");
  });
}

Result<Metadata<Timestamp>> parse_timestamp(std::string_view bytes,
                                            const MetadataLimits& limits) {
  return parse_typed<Timestamp>(
      bytes, limits, [](const json::Object& s, const MetadataLimits& l) -> Result<Timestamp> {
        VOUCH_ASSIGN_OR_RETURN(Timestamp t, meta_role_from<Timestamp>(s, l, "timestamp"));
        if (t.meta.size() != 1 || t.meta.find(kSnapshotRole) == t.meta.end()) {
          return malformed("timestamp: \"meta\" must list exactly \"snapshot\"");
        }
        return t;
      });
}

Result<Header> parse_header(std::string_view bytes, const json::ParseLimits& limits) {
  VOUCH_ASSIGN_OR_RETURN(json::Value doc, json::parse(bytes, limits));
  if (!doc.is_object()) return malformed("metadata must be a JSON object");
  VOUCH_ASSIGN_OR_RETURN(const json::Object* s, object_field(doc.as_object(), "signed", "metadata"));
  VOUCH_ASSIGN_OR_RETURN(const json::Value* type, field(*s, "_type", json::Type::kString, "signed"));
  Header h{};
  const auto& t = type->as_string();
  if (t == "Root") h.type = RoleType::kRoot;
  else if (t == "Targets") h.type = RoleType::kTargets;
  else if (t == "Snapshot") h.type = RoleType::kSnapshot;
  else if (t == "Timestamp") h.type = RoleType::kTimestamp;
  else return make_error(Reason::kWrongType, "unknown _type \"" + t.substr(0, 32) + "\"");
  VOUCH_ASSIGN_OR_RETURN(h.version, version_field(*s));
  return h;
}

json::Value to_json(const keys::PublicKey& key) {
  json::Object keyval;
  keyval.set("private", nullptr);
  keyval.set("public", base64_encode(key.public_bytes()));
  json::Object obj;
  obj.set("keytype", std::string(keys::to_string(key.type())));
  obj.set("keyval", std::move(keyval));
  return obj;
}

json::Value to_json(const FileMeta& meta) {
  json::Object hashes;
  for (const auto& [name, digest] : meta.hashes) hashes.set(name, base64_encode(digest));
  json::Object obj;
  if (meta.custom) obj.set("custom", *meta.custom);
  obj.set("hashes", std::move(hashes));
  obj.set("length", meta.length);
  return obj;
}

json::Value to_json(const Root& root) {
  json::Object roles;
  for (const auto& [name, rk] : root.roles) {
    json::Object r;
    r.set("keyids", strings_to_json(rk.keyids));
    r.set("threshold", rk.threshold);
    roles.set(name, std::move(r));
  }
  json::Object obj;
  obj.set("_type", "Root");
  obj.set("consistent_snapshot", root.consistent_snapshot);
  obj.set("expires", root.expires.text);
  obj.set("keys", keys_to_json(root.keys));
  obj.set("roles", std::move(roles));
  obj.set("version", root.version);
  return obj;
}

json::Value to_json(const Targets& targets) {
  json::Array roles;
  roles.reserve(targets.delegations.roles.size());
  for (const auto& d : targets.delegations.roles) {
    json::Object r;
    r.set("keyids", strings_to_json(d.keyids));
    r.set("name", d.name);
    r.set("paths", strings_to_json(d.paths));
    r.set("threshold", d.threshold);
    roles.emplace_back(std::move(r));
  }
  json::Object delegations;
  delegations.set("keys", keys_to_json(targets.delegations.keys));
  delegations.set("roles", std::move(roles));
  json::Object obj;
  obj.set("_type", "Targets");
  obj.set("delegations", std::move(delegations));
  obj.set("expires", targets.expires.text);
  obj.set("targets", meta_map_to_json(targets.targets));
  obj.set("version", targets.version);
  return obj;
}

namespace {

// Snapshot and Timestamp have the same shape: a "meta" map of files.
template <typename Role>
json::Value meta_role_to_json(const Role& role) {
  json::Object obj;
  obj.set("_type", std::string(type_name(Role::kType)));
  obj.set("expires", role.expires.text);
  obj.set("meta", meta_map_to_json(role.meta));
  obj.set("version", role.version);
  return obj;
}

}  // namespace

json::Value to_json(const Snapshot& snapshot) { return meta_role_to_json(snapshot); }

json::Value to_json(const Timestamp& timestamp) { return meta_role_to_json(timestamp); }

std::string serialize_envelope(const json::Value& signed_value,
                               const std::vector<SignatureEntry>& signatures) {
  json::Array sigs;
  sigs.reserve(signatures.size());
  for (const auto& s : signatures) {
    json::Object o;
    o.set("keyid", s.keyid);
    o.set("method", s.method_text);
    o.set("sig", base64_encode(s.sig));
    sigs.emplace_back(std::move(o));
  }
  std::string out;
  out.append(R"({"signed":)");
  json::canonical_append(signed_value, out);
  out.append(R"(,"signatures":)");
  json::canonical_append(json::Value(std::move(sigs)), out);
  out.push_back('}');
  return out;
}

bool is_base_role(std::string_view name) {
  return name == kRootRole || name == kTargetsRole || name == kSnapshotRole ||
         name == kTimestampRole;
}

bool is_delegation_role(std::string_view name) {
  constexpr std::string_view kPrefix = "targets/";
  if (name.size() >= 256 || name.size() <= kPrefix.size() || name.substr(0, kPrefix.size()) != kPrefix) {
    return false;
  }
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                    c == '/';
    if (!ok) return false;
  }
  // path.Clean(name) == name: no empty, "." or ".." segments and no trailing slash.
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t end = name.find('/', start);
    if (end == std::string_view::npos) end = name.size();
    const std::string_view seg = name.substr(start, end - start);
    if (seg.empty() || seg == "." || seg == "..") return false;
    start = end + 1;
  }
  return true;
}

bool is_valid_role_name(std::string_view name) {
  return is_base_role(name) || is_delegation_role(name);
}

std::string_view parent_role(std::string_view name) {
  if (!is_delegation_role(name)) return {};
  return name.substr(0, name.rfind('/'));
}

bool path_allowed(const std::vector<std::string>& paths, std::string_view target) {
  return std::any_of(paths.begin(), paths.end(), [&](const std::string& p) {
    return target.substr(0, p.size()) == p;
  });
}

std::vector<std::string> restrict_paths(const std::vector<std::string>& parent,
                                        const std::vector<std::string>& child) {
  std::vector<std::string> out;
  for (const auto& c : child) {
    if (path_allowed(parent, c)) out.push_back(c);
  }
  return out;
}

}  // namespace vouch::tuf
