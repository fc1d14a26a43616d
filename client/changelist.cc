#include "client/changelist.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <set>
#include <utility>

#include "common/fs.h"
#include "common/utf8.h"
#include "keys/crypto.h"
#include "tuf/json.h"

namespace vouch::client {
namespace {

namespace json = tuf::json;
namespace fs = std::filesystem;

constexpr std::string_view kChangeSuffix = ".change";
// Temporary files of add(); never listed, never warned about.
constexpr std::string_view kTempPrefix = ".vouch-tmp-";

Error malformed(std::string message) { return make_error(Reason::kMalformed, std::move(message)); }

Error io_error(std::string what, int err) {
  return make_error(Reason::kIo, std::move(what) + ": " + std::strerror(err));
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// ---- Go's encoding/json, for the values a change holds ----------------------------------

// A string as Go's encodeState.string writes it with HTML escaping on (json.Marshal): '"'
// and '\' escaped, \n \r \t, other control bytes as \u00XX, '<' '>' '&' as \u003c \u003e
// \u0026, U+2028 and U+2029 as \u2028 \u2029. Go 1.19 (notary 0.7's toolchain) has no \b \f
// short forms. The input is valid UTF-8 (checked by callers or by the JSON parser).
void go_string(std::string_view s, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"': out.append("\\\""); continue;
      case '\\': out.append("\\\\"); continue;
      case '\n': out.append("\\n"); continue;
      case '\r': out.append("\\r"); continue;
      case '\t': out.append("\\t"); continue;
      default: break;
    }
    if (c < 0x20 || c == '<' || c == '>' || c == '&') {
      out.append("\\u00");
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
      continue;
    }
    // U+2028 / U+2029: E2 80 A8 / E2 80 A9.
    if (c == 0xE2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
        (static_cast<unsigned char>(s[i + 2]) == 0xA8 ||
         static_cast<unsigned char>(s[i + 2]) == 0xA9)) {
      out.append(static_cast<unsigned char>(s[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029");
      i += 2;
      continue;
    }
    out.push_back(static_cast<char>(c));
  }
  out.push_back('"');
}

// A JSON value compacted with Go's escaping (how Go re-emits a json.RawMessage). Object
// members come in the model's (bytewise) order.
void go_value(const json::Value& v, std::string& out) {
  switch (v.type()) {
    case json::Type::kNull: out.append("null"); return;
    case json::Type::kBool: out.append(v.as_bool() ? "true" : "false"); return;
    case json::Type::kInt: out.append(std::to_string(v.as_int())); return;
    case json::Type::kString: go_string(v.as_string(), out); return;
    case json::Type::kArray: {
      out.push_back('[');
      bool first = true;
      for (const auto& e : v.as_array()) {
        if (!first) out.push_back(',');
        first = false;
        go_value(e, out);
      }
      out.push_back(']');
      return;
    }
    case json::Type::kObject: {
      out.push_back('{');
      bool first = true;
      for (const auto& [k, e] : v.as_object()) {
        if (!first) out.push_back(',');
        first = false;
        go_string(k, out);
        out.push_back(':');
        go_value(e, out);
      }
      out.push_back('}');
      return;
    }
  }
}

// Checks every string of a value for UTF-8 (parsed values always pass; built ones may not).
bool value_utf8(const json::Value& v) {
  switch (v.type()) {
    case json::Type::kString: return valid_utf8(v.as_string());
    case json::Type::kArray:
      return std::all_of(v.as_array().begin(), v.as_array().end(), value_utf8);
    case json::Type::kObject:
      for (const auto& [k, e] : v.as_object()) {
        if (!valid_utf8(k) || !value_utf8(e)) return false;
      }
      return true;
    default: return true;
  }
}

Status check_utf8(std::string_view s, std::string_view what) {
  if (!valid_utf8(s)) {
    return make_error(Reason::kInvalidUtf8, std::string(what) + " is not valid UTF-8");
  }
  return {};
}

void go_string_array(const std::vector<std::string>& v, std::string& out) {
  out.push_back('[');
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i > 0) out.push_back(',');
    go_string(v[i], out);
  }
  out.push_back(']');
}

// ---- reading, as Go's Unmarshal does into a struct ----------------------------------------

// A string field: absent or null -> "" (Go leaves the zero value), else must be a string.
Result<std::string> string_member(const json::Object& obj, std::string_view name,
                                  std::string_view where) {
  const json::Value* v = obj.find(name);
  if (v == nullptr || v->is_null()) return std::string();
  if (!v->is_string()) {
    return malformed(std::string(where) + ": \"" + std::string(name) + "\" must be a string");
  }
  return v->as_string();
}

// A []string field: absent or null -> empty.
Result<std::vector<std::string>> string_list_member(const json::Object& obj,
                                                    std::string_view name,
                                                    std::string_view where) {
  std::vector<std::string> out;
  const json::Value* v = obj.find(name);
  if (v == nullptr || v->is_null()) return out;
  if (!v->is_array()) {
    return malformed(std::string(where) + ": \"" + std::string(name) + "\" must be an array");
  }
  for (const auto& e : v->as_array()) {
    if (!e.is_string()) {
      return malformed(std::string(where) + ": \"" + std::string(name) +
                       "\" must hold strings");
    }
    out.push_back(e.as_string());
  }
  return out;
}

Result<keys::PublicKey> parse_payload_key(const json::Value& v) {
  auto key = tuf::parse_key(v);
  if (!key) return std::move(key).error().wrap("delegation payload");
  return key;
}

json::ParseLimits payload_limits(std::size_t max_bytes) {
  json::ParseLimits limits;
  limits.max_bytes = max_bytes;
  limits.max_string_bytes = max_bytes;
  return limits;
}

// ---- staging ---------------------------------------------------------------------------

// Notary's addChange: targets changes go to "targets", a delegation, or a wildcard.
Status check_target_scope(std::string_view role) {
  if (role != tuf::kTargetsRole && !tuf::is_delegation_role(role) &&
      !is_wildcard_delegation(role)) {
    return make_error(Reason::kBadRole,
                      "cannot add targets to role \"" + std::string(role.substr(0, 256)) + "\"");
  }
  return {};
}

Status check_delegation_name(std::string_view role) {
  if (!tuf::is_delegation_role(role)) {
    return make_error(Reason::kBadRole,
                      "invalid delegation role name \"" + std::string(role.substr(0, 256)) + "\"");
  }
  return {};
}

Result<Change> delegation_change(std::string_view action, std::string_view role,
                                 const DelegationPayload& payload) {
  VOUCH_ASSIGN_OR_RETURN(Bytes data, encode_delegation_payload(payload));
  return Change{std::string(action), std::string(role), std::string(kTypeDelegation), "",
                std::move(data)};
}

// ---- files -----------------------------------------------------------------------------

// mkdir -p with mode 0700 for every directory created (Go's MkdirAll(dir, 0700)).
Status make_dirs(const fs::path& dir) {
  fs::path partial;
  for (const auto& part : dir) {
    partial /= part;
    if (part.empty() || part == partial.root_path()) continue;
    if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
      return io_error("cannot create " + partial.string(), errno);
    }
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return io_error("cannot stat " + dir.string(), errno);
  if (!S_ISDIR(st.st_mode)) {
    return make_error(Reason::kIo, dir.string() + " is not a directory");
  }
  return {};
}

// Reads a change file: a regular file (not followed through a symlink) of at most `max`
// bytes. nullopt with `why` set when the file is to be skipped; an Error when it is too big.
Result<std::optional<std::string>> read_change_file(const fs::path& path, std::size_t max,
                                                    std::string& why) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (fd.get() < 0) {
    why = errno == ELOOP ? "a symbolic link" : std::string(std::strerror(errno));
    return std::optional<std::string>();
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    why = std::strerror(errno);
    return std::optional<std::string>();
  }
  if (!S_ISREG(st.st_mode)) {
    why = "not a regular file";
    return std::optional<std::string>();
  }
  const auto too_large = [&] {
    return make_error(Reason::kTooLarge, "change file " + path.filename().string() +
                                             " is larger than " + std::to_string(max) +
                                             " bytes; remove it (reset) to continue");
  };
  if (st.st_size < 0 || static_cast<std::uint64_t>(st.st_size) > max) return too_large();
  std::string out;
  out.resize(max + 1);
  std::size_t got = 0;
  while (got < out.size()) {
    const ssize_t n = ::read(fd.get(), out.data() + got, out.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      why = std::strerror(errno);
      return std::optional<std::string>();
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  if (got > max) return too_large();  // grew while we read it
  out.resize(got);
  return std::optional<std::string>(std::move(out));
}

// A version 4 UUID, lowercase (docker/distribution uuid.Generate, which notary uses).
Result<std::string> uuid_v4() {
  std::array<std::uint8_t, 16> b{};
  VOUCH_RETURN_IF_ERROR(keys::random_bytes(b));
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0F) | 0x40);
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3F) | 0x80);
  const std::string h = hex_encode(b);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20);
}

// Nanoseconds for the next file name: the clock's, but strictly above any this process
// handed out before, so names sort in the order of add() calls even when the clock stands
// still (FixedClock, microsecond resolution) or steps back.
std::int64_t next_nanos(const Clock& clock) {
  static std::atomic<std::int64_t> last{0};
  const std::int64_t now = std::max<std::int64_t>(
      0, std::chrono::duration_cast<std::chrono::nanoseconds>(clock.now().time_since_epoch())
             .count());
  std::int64_t prev = last.load();
  std::int64_t next = 0;
  do {
    next = std::max(now, prev + 1);
  } while (!last.compare_exchange_weak(prev, next));
  return next;
}

}  // namespace

// ---- Change ----------------------------------------------------------------------------

Result<std::string> encode_change(const Change& change) {
  VOUCH_RETURN_IF_ERROR(check_utf8(change.action, "change action"));
  VOUCH_RETURN_IF_ERROR(check_utf8(change.role, "change role"));
  VOUCH_RETURN_IF_ERROR(check_utf8(change.type, "change type"));
  VOUCH_RETURN_IF_ERROR(check_utf8(change.path, "change path"));
  std::string out;
  out.append(R"({"action":)");
  go_string(change.action, out);
  out.append(R"(,"role":)");
  go_string(change.role, out);
  out.append(R"(,"type":)");
  go_string(change.type, out);
  out.append(R"(,"path":)");
  go_string(change.path, out);
  out.append(R"(,"data":)");
  if (change.data) {
    out.push_back('"');
    out.append(base64_encode(*change.data));
    out.push_back('"');
  } else {
    out.append("null");
  }
  out.push_back('}');
  return out;
}

Result<Change> parse_change(std::string_view text, std::size_t max_bytes) {
  if (text.size() > max_bytes) {
    return make_error(Reason::kTooLarge, "change is larger than " + std::to_string(max_bytes) +
                                             " bytes");
  }
  VOUCH_ASSIGN_OR_RETURN(json::Value doc, json::parse(text, payload_limits(max_bytes)));
  if (!doc.is_object()) return malformed("change: must be a JSON object");
  const auto& obj = doc.as_object();
  Change c;
  VOUCH_ASSIGN_OR_RETURN(c.action, string_member(obj, "action", "change"));
  VOUCH_ASSIGN_OR_RETURN(c.role, string_member(obj, "role", "change"));
  VOUCH_ASSIGN_OR_RETURN(c.type, string_member(obj, "type", "change"));
  VOUCH_ASSIGN_OR_RETURN(c.path, string_member(obj, "path", "change"));
  if (const json::Value* data = obj.find("data"); data != nullptr && !data->is_null()) {
    if (!data->is_string()) return malformed("change: \"data\" must be a base64 string");
    auto bytes = base64_decode(data->as_string());
    if (!bytes) return std::move(bytes).error().wrap("change: \"data\"");
    c.data = std::move(bytes).value();
  }
  return c;
}

// ---- payloads --------------------------------------------------------------------------

Result<Bytes> encode_target_payload(const tuf::FileMeta& meta) {
  if (meta.custom && !value_utf8(*meta.custom)) {
    return make_error(Reason::kInvalidUtf8, "target custom data is not valid UTF-8");
  }
  for (const auto& [name, digest] : meta.hashes) {
    VOUCH_RETURN_IF_ERROR(check_utf8(name, "hash algorithm name"));
  }
  std::string out;
  out.append(R"({"length":)");
  out.append(std::to_string(meta.length));
  out.append(R"(,"hashes":{)");
  bool first = true;
  for (const auto& [name, digest] : meta.hashes) {  // std::map: Go's sorted map keys
    if (!first) out.push_back(',');
    first = false;
    go_string(name, out);
    out.append(":\"");
    out.append(base64_encode(digest));
    out.push_back('"');
  }
  out.push_back('}');
  if (meta.custom) {
    out.append(R"(,"custom":)");
    go_value(*meta.custom, out);
  }
  out.push_back('}');
  return Bytes(out.begin(), out.end());
}

Result<tuf::FileMeta> parse_target_payload(ByteSpan data) {
  VOUCH_ASSIGN_OR_RETURN(json::Value doc,
                         json::parse(as_string_view(data), payload_limits(data.size())));
  VOUCH_ASSIGN_OR_RETURN(tuf::FileMeta meta, tuf::parse_file_meta(doc, "target payload"));
  // Stricter than Notary's Unmarshal, which would default them: a target without a hash is
  // one no client can verify.
  if (meta.hashes.empty()) {
    return malformed("target payload: \"hashes\" must be an object with at least one hash");
  }
  return meta;
}

Result<Bytes> encode_delegation_payload(const DelegationPayload& p) {
  VOUCH_RETURN_IF_ERROR(check_utf8(p.new_name, "new_name"));
  for (const auto* list : {&p.remove_keys, &p.add_paths, &p.remove_paths}) {
    for (const auto& s : *list) VOUCH_RETURN_IF_ERROR(check_utf8(s, "delegation payload entry"));
  }
  std::string out = "{";
  const auto field = [&](std::string_view name) {
    if (out.size() > 1) out.push_back(',');
    out.push_back('"');
    out.append(name);
    out.append("\":");
  };
  if (!p.new_name.empty()) {
    field("new_name");
    go_string(p.new_name, out);
  }
  if (p.threshold != 0) {
    field("threshold");
    out.append(std::to_string(p.threshold));
  }
  if (!p.add_keys.empty()) {
    field("add_keys");
    out.push_back('[');
    for (std::size_t i = 0; i < p.add_keys.size(); ++i) {
      if (i > 0) out.push_back(',');
      // Go marshals TUFKey {Type "keytype", Value {Public "public", Private "private"}}.
      out.append(R"({"keytype":)");
      go_string(keys::to_string(p.add_keys[i].type()), out);
      out.append(R"(,"keyval":{"public":")");
      out.append(base64_encode(p.add_keys[i].public_bytes()));
      out.append(R"(","private":null}})");
    }
    out.push_back(']');
  }
  if (!p.remove_keys.empty()) {
    field("remove_keys");
    go_string_array(p.remove_keys, out);
  }
  if (!p.add_paths.empty()) {
    field("add_paths");
    go_string_array(p.add_paths, out);
  }
  if (!p.remove_paths.empty()) {
    field("remove_paths");
    go_string_array(p.remove_paths, out);
  }
  if (p.clear_paths) {
    field("clear_paths");
    out.append("true");
  }
  out.push_back('}');
  return Bytes(out.begin(), out.end());
}

Result<DelegationPayload> parse_delegation_payload(ByteSpan data) {
  VOUCH_ASSIGN_OR_RETURN(json::Value doc,
                         json::parse(as_string_view(data), payload_limits(data.size())));
  if (!doc.is_object()) return malformed("delegation payload: must be a JSON object");
  const auto& obj = doc.as_object();
  constexpr std::string_view kWhere = "delegation payload";
  DelegationPayload p;
  VOUCH_ASSIGN_OR_RETURN(p.new_name, string_member(obj, "new_name", kWhere));
  if (const json::Value* t = obj.find("threshold"); t != nullptr && !t->is_null()) {
    if (!t->is_int()) return malformed("delegation payload: \"threshold\" must be an integer");
    p.threshold = t->as_int();
  }
  if (const json::Value* ks = obj.find("add_keys"); ks != nullptr && !ks->is_null()) {
    if (!ks->is_array()) return malformed("delegation payload: \"add_keys\" must be an array");
    for (const auto& k : ks->as_array()) {
      auto key = parse_payload_key(k);
      if (!key) return std::move(key).error().wrap("delegation payload: add_keys");
      p.add_keys.push_back(std::move(key).value());
    }
  }
  VOUCH_ASSIGN_OR_RETURN(p.remove_keys, string_list_member(obj, "remove_keys", kWhere));
  VOUCH_ASSIGN_OR_RETURN(p.add_paths, string_list_member(obj, "add_paths", kWhere));
  VOUCH_ASSIGN_OR_RETURN(p.remove_paths, string_list_member(obj, "remove_paths", kWhere));
  if (const json::Value* c = obj.find("clear_paths"); c != nullptr && !c->is_null()) {
    if (!c->is_bool()) return malformed("delegation payload: \"clear_paths\" must be a bool");
    p.clear_paths = c->as_bool();
  }
  return p;
}

// ---- staging ---------------------------------------------------------------------------

bool is_wildcard_delegation(std::string_view role) {
  // path.Clean(role) == role, Parent(role) is "targets" or a delegation, and it ends "/*".
  if (role.size() < 2 || role.substr(role.size() - 2) != "/*") return false;
  const std::string_view parent = role.substr(0, role.size() - 2);
  return parent == tuf::kTargetsRole || tuf::is_delegation_role(parent);
}

namespace {

bool has_control_byte(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20; });
}

// Every string of a JSON document, keys included (json::Value converts implicitly from a
// string, hence its own name).
bool json_has_control_byte(const json::Value& v) {
  if (v.is_string()) return has_control_byte(std::string_view(v.as_string()));
  if (v.is_array()) {
    return std::any_of(v.as_array().begin(), v.as_array().end(),
                       [](const json::Value& e) { return json_has_control_byte(e); });
  }
  if (v.is_object()) {
    for (const auto& [key, member] : v.as_object()) {
      if (has_control_byte(std::string_view(key)) || json_has_control_byte(member)) return true;
    }
  }
  return false;
}

// Metadata carries strings in Notary's canonical JSON, which writes every byte but '"' and
// '\' raw; a control byte (U+0000..U+001F) would make the uploaded file invalid JSON, which
// every server refuses (and notary 0.7 fails to marshal). Refused when staging, so that such
// a change never sits in the changelist blocking every later publish.
Status check_no_control_bytes(std::string_view what, bool found) {
  if (!found) return {};
  return malformed(std::string(what) + " contains a control character (U+0000..U+001F), "
                   "which Notary's metadata cannot carry");
}

}  // namespace

Result<Change> add_target_change(std::string_view role, std::string_view name,
                                 const tuf::FileMeta& meta) {
  if (meta.hashes.empty()) {
    return make_error(Reason::kMalformed,
                      "no hashes specified for target \"" + std::string(name) + "\"");
  }
  VOUCH_RETURN_IF_ERROR(check_no_control_bytes("the target name", has_control_byte(name)));
  VOUCH_RETURN_IF_ERROR(check_no_control_bytes(
      "the custom data of target \"" + std::string(name) + "\"",
      meta.custom.has_value() && json_has_control_byte(*meta.custom)));
  VOUCH_RETURN_IF_ERROR(check_target_scope(role));
  VOUCH_ASSIGN_OR_RETURN(Bytes data, encode_target_payload(meta));
  return Change{std::string(kActionCreate), std::string(role), std::string(kTypeTarget),
                std::string(name), std::move(data)};
}

Result<Change> remove_target_change(std::string_view role, std::string_view name) {
  VOUCH_RETURN_IF_ERROR(check_target_scope(role));
  return Change{std::string(kActionDelete), std::string(role), std::string(kTypeTarget),
                std::string(name), std::nullopt};
}

Change witness_change(std::string_view role) {
  return Change{std::string(kActionUpdate), std::string(role), std::string(kTypeWitness), "",
                std::nullopt};
}

Result<Change> add_delegation_keys_change(std::string_view role,
                                          std::vector<keys::PublicKey> keys) {
  VOUCH_RETURN_IF_ERROR(check_delegation_name(role));
  DelegationPayload p;
  p.threshold = 1;  // notary.MinThreshold: the CLI has no way to ask for more
  p.add_keys = std::move(keys);
  return delegation_change(kActionCreate, role, p);
}

Result<Change> add_delegation_paths_change(std::string_view role,
                                           std::vector<std::string> paths) {
  VOUCH_RETURN_IF_ERROR(check_delegation_name(role));
  for (const auto& path : paths) {
    VOUCH_RETURN_IF_ERROR(
        check_no_control_bytes("a delegation path", has_control_byte(std::string_view(path))));
  }
  DelegationPayload p;
  p.add_paths = std::move(paths);
  return delegation_change(kActionCreate, role, p);
}

Result<Change> remove_delegation_paths_change(std::string_view role,
                                              std::vector<std::string> paths) {
  VOUCH_RETURN_IF_ERROR(check_delegation_name(role));
  DelegationPayload p;
  p.remove_paths = std::move(paths);
  return delegation_change(kActionUpdate, role, p);
}

Result<Change> remove_delegation_keys_change(std::string_view role,
                                             std::vector<std::string> key_ids) {
  if (!tuf::is_delegation_role(role) && !is_wildcard_delegation(role)) {
    return make_error(Reason::kBadRole,
                      "invalid delegation role name \"" + std::string(role.substr(0, 256)) + "\"");
  }
  DelegationPayload p;
  p.remove_keys = std::move(key_ids);
  return delegation_change(kActionUpdate, role, p);
}

Result<Change> clear_delegation_paths_change(std::string_view role) {
  VOUCH_RETURN_IF_ERROR(check_delegation_name(role));
  DelegationPayload p;
  p.clear_paths = true;
  return delegation_change(kActionUpdate, role, p);
}

Result<Change> delete_delegation_change(std::string_view role) {
  VOUCH_RETURN_IF_ERROR(check_delegation_name(role));
  return Change{std::string(kActionDelete), std::string(role), std::string(kTypeDelegation), "",
                std::nullopt};
}

Result<Change> purge_delegation_keys_change(std::vector<std::string> key_ids) {
  return remove_delegation_keys_change("targets/*", std::move(key_ids));
}

// ---- FileChangelist --------------------------------------------------------------------

Result<FileChangelist> FileChangelist::open(fs::path dir, ChangelistLimits limits,
                                            const Clock& clock) {
  VOUCH_RETURN_IF_ERROR(make_dirs(dir));
  return FileChangelist(std::move(dir), limits, &clock);
}

Result<std::vector<std::string>> FileChangelist::change_file_names(
    std::vector<std::string>* skipped, bool bounded) const {
  std::vector<std::string> names;
  std::error_code ec;
  fs::directory_iterator it(dir_, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return names;
    return make_error(Reason::kIo, "cannot read " + dir_.string() + ": " + ec.message());
  }
  for (const fs::directory_iterator end; it != end; it.increment(ec)) {
    if (ec) break;
    const std::string name = it->path().filename().string();
    if (ends_with(name, kChangeSuffix)) {
      if (bounded && names.size() == limits_.max_changes) {
        return make_error(Reason::kTooLarge,
                          dir_.string() + " holds more than " +
                              std::to_string(limits_.max_changes) +
                              " changes; publish or reset them");
      }
      names.push_back(name);
    } else if (skipped != nullptr && name.rfind(kTempPrefix, 0) != 0) {
      std::error_code type_ec;
      if (!it->is_directory(type_ec)) skipped->push_back(name);  // Notary skips directories
    }
  }
  if (ec) return make_error(Reason::kIo, "cannot read " + dir_.string() + ": " + ec.message());
  std::sort(names.begin(), names.end());
  return names;
}

Result<ChangeListing> FileChangelist::list() const {
  ChangeListing listing;
  std::vector<std::string> others;
  VOUCH_ASSIGN_OR_RETURN(std::vector<std::string> names, change_file_names(&others, true));
  std::sort(others.begin(), others.end());
  for (const auto& name : others) {
    listing.warnings.push_back("skipping " + name + ": not a .change file");
  }
  for (auto& name : names) {
    std::string why;
    VOUCH_ASSIGN_OR_RETURN(auto text,
                           read_change_file(dir_ / name, limits_.max_change_bytes, why));
    if (!text) {
      listing.warnings.push_back("skipping " + name + ": " + why);
      continue;
    }
    auto change = parse_change(*text, limits_.max_change_bytes);
    if (!change) {
      listing.warnings.push_back("skipping " + name + ": " + change.error().message);
      continue;
    }
    listing.changes.push_back({std::move(name), std::move(change).value()});
  }
  return listing;
}

Result<std::string> FileChangelist::add(const Change& change) {
  VOUCH_ASSIGN_OR_RETURN(std::string text, encode_change(change));
  if (text.size() > limits_.max_change_bytes) {
    return make_error(Reason::kTooLarge, "change is larger than " +
                                             std::to_string(limits_.max_change_bytes) + " bytes");
  }
  VOUCH_ASSIGN_OR_RETURN(std::vector<std::string> existing, change_file_names(nullptr, false));
  if (existing.size() >= limits_.max_changes) {
    return make_error(Reason::kTooLarge, dir_.string() + " already holds " +
                                             std::to_string(existing.size()) +
                                             " changes; publish or reset them");
  }

  VOUCH_ASSIGN_OR_RETURN(const fs::path tmp, write_temp_file(dir_, kTempPrefix, text));

  // The name embeds a fresh random UUID, so a collision means a broken RNG or another
  // writer that reused a name; retry a few times rather than replace a change.
  for (int attempt = 0; attempt < 4; ++attempt) {
    auto uuid = uuid_v4();
    if (!uuid) {
      ::unlink(tmp.c_str());
      return std::move(uuid).error();
    }
    char stamp[32];
    std::snprintf(stamp, sizeof stamp, "%020" PRId64, next_nanos(*clock_));
    std::string name = std::string(stamp) + "_" + *uuid + std::string(kChangeSuffix);
    const fs::path final_path = dir_ / name;
    Status renamed = rename_file(tmp, final_path, Replace::kNo);
    if (renamed) {
      VOUCH_RETURN_IF_ERROR(sync_dir(dir_));
      return name;
    }
    if (renamed.error().reason != Reason::kConflict) {
      ::unlink(tmp.c_str());
      return std::move(renamed).error();
    }
  }
  ::unlink(tmp.c_str());
  return make_error(Reason::kConflict, "could not find a free change file name in " +
                                           dir_.string());
}

Status FileChangelist::remove_files(const std::vector<std::string>& names) {
  Status first;
  for (const auto& name : names) {
    const fs::path p = dir_ / name;
    if (::unlink(p.c_str()) != 0 && errno != ENOENT && first) {
      first = io_error("cannot remove " + p.string(), errno);
    }
  }
  if (!names.empty()) {
    Status synced = sync_dir(dir_);
    if (!synced && first) first = std::move(synced);
  }
  return first;
}

Status FileChangelist::clear() {
  // Unbounded: `reset --all` must be able to empty a directory that holds too many changes.
  VOUCH_ASSIGN_OR_RETURN(std::vector<std::string> names, change_file_names(nullptr, false));
  return remove_files(names);
}

Status FileChangelist::remove(std::span<const std::size_t> indices) {
  VOUCH_ASSIGN_OR_RETURN(ChangeListing listing, list());
  std::set<std::size_t> unique(indices.begin(), indices.end());
  std::vector<std::string> names;
  for (std::size_t i : unique) {
    if (i >= listing.changes.size()) {
      return make_error(Code::kOutOfRange, Reason::kNotFound,
                        "no change number " + std::to_string(i) + " (there are " +
                            std::to_string(listing.changes.size()) + ")");
    }
    names.push_back(listing.changes[i].file_name);
  }
  return remove_files(names);
}

Status FileChangelist::clear_through(std::string_view last_file_name) {
  if (!ends_with(last_file_name, kChangeSuffix) ||
      last_file_name.find('/') != std::string_view::npos) {
    return make_error(Code::kInvalidArgument, Reason::kMalformed,
                      "not a change file name: " + std::string(last_file_name.substr(0, 256)));
  }
  VOUCH_ASSIGN_OR_RETURN(std::vector<std::string> names, change_file_names(nullptr, false));
  std::vector<std::string> done;
  for (auto& n : names) {
    if (n <= last_file_name) done.push_back(std::move(n));
  }
  return remove_files(done);
}

}  // namespace vouch::client
