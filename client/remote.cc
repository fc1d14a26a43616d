#include "client/remote.h"

#include <set>
#include <utility>
#include <vector>

#include "common/encoding.h"
#include "common/strings.h"
#include "tuf/gun.h"
#include "tuf/json.h"
#include "tuf/metadata.h"

namespace vouch::client {
namespace {

namespace json = tuf::json;

Status check_role(std::string_view role) {
  if (!tuf::is_valid_role_name(role)) {
    return make_error(Reason::kBadRole,
                      "invalid role name \"" + std::string(role.substr(0, 256)) + "\"");
  }
  return ok_status();
}

bool is_sha256_hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}


const std::string* string_member(const json::Value& v, std::string_view name) {
  const json::Value* m = v.find(name);
  return m != nullptr && m->is_string() ? &m->as_string() : nullptr;
}

// Notary's 400 body: {"errors":[{"code":"...","message":"...","detail":...}]} where an
// INVALID_UPDATE detail is a validation.SerializableError {"Name":"ErrBadRoot","Error":{"Msg":..}}.
struct ServerError {
  std::string code;
  std::string message;
  std::string detail;  // "ErrBadRoot: <Msg>" when present
  // The detail's "Reason" (vouch-server's 404 for a GUN it does not serve: "GUN_NOT_SERVED").
  std::string detail_reason;
};

std::optional<ServerError> parse_server_error(std::string_view body) {
  json::ParseLimits limits;
  limits.max_bytes = 1u << 20;
  limits.max_depth = 16;
  auto doc = json::parse(body, limits);
  if (!doc || !doc->is_object()) return std::nullopt;
  const json::Value* errors = doc->find("errors");
  if (errors == nullptr || !errors->is_array() || errors->as_array().empty()) return std::nullopt;
  const json::Value& first = errors->as_array().front();
  ServerError out;
  if (const auto* code = string_member(first, "code")) out.code = *code;
  if (const auto* message = string_member(first, "message")) out.message = *message;
  if (const json::Value* detail = first.find("detail"); detail != nullptr) {
    if (detail->is_string()) {
      out.detail = detail->as_string();
    } else if (detail->is_object()) {
      if (const auto* reason = string_member(*detail, "Reason")) out.detail_reason = *reason;
      const std::string* name = string_member(*detail, "Name");
      const json::Value* err = detail->find("Error");
      const std::string* msg =
          err != nullptr ? string_member(*err, "Msg") : string_member(*detail, "Msg");
      if (name != nullptr) out.detail = *name;
      if (msg != nullptr) out.detail += (out.detail.empty() ? "" : ": ") + *msg;
    }
  }
  if (out.code.empty()) return std::nullopt;
  return out;
}

}  // namespace

Error notary_http_error(const HttpResponse& response, std::string_view what,
                        std::string_view server, bool have_credentials) {
  const std::string w(what);
  const std::string s(server);
  const std::string status = std::to_string(response.status);
  const std::string advice =
      have_credentials
          ? "check the credentials in NOTARY_AUTH"
          : "set NOTARY_AUTH to the base64 of <username>:<password>";
  switch (response.status) {
    case 404: {
      // vouch-server says when the GUN itself is outside its repositories.gun_prefixes:
      // nothing under it will ever be found there.
      const auto parsed = parse_server_error(response.body);
      if (parsed && parsed->detail_reason == "GUN_NOT_SERVED") {
        return make_error(Code::kNotFound, Reason::kBadGun,
                          s + " does not serve this repository: " +
                              printable(parsed->detail, 2048) + " (asked for " + w + ")");
      }
      return make_error(Reason::kNotFound, w + " not found on " + s);
    }
    case 401:
      return make_error(Code::kUnauthenticated, Reason::kNone,
                        s + " requires authentication for " + w + ": " + advice);
    case 403:
      return make_error(Code::kPermissionDenied, Reason::kNone,
                        s + " denied access to " + w + ": " + advice);
    case 413:
      return make_error(Reason::kTooLarge, s + " refused " + w + " as too large (HTTP 413)");
    case 400: {
      const auto parsed = parse_server_error(response.body);
      if (!parsed) {
        return make_error(Reason::kMalformed, s + " rejected " + w + " (HTTP 400)");
      }
      std::string text = s + " rejected " + w + ": " + printable(parsed->code);
      if (!parsed->message.empty()) text += ": " + printable(parsed->message);
      if (!parsed->detail.empty()) text += " (" + printable(parsed->detail, 2048) + ")";
      const std::string& code = parsed->code;
      if (code == "VERSION") return make_error(Code::kAborted, Reason::kConflict, std::move(text));
      if (code == "INVALID_ROLE" || code == "NO_FILENAME") {
        return make_error(Reason::kBadRole, std::move(text));
      }
      if (code == "INVALID_GUN") return make_error(Reason::kBadGun, std::move(text));
      return make_error(Reason::kMalformed, std::move(text));
    }
    default:
      break;
  }
  if (response.status >= 500) {
    return make_error(Code::kUnavailable, Reason::kUnavailable,
                      "trust server " + s + " is unavailable (HTTP " + status + ") for " + w);
  }
  return make_error(Code::kUnavailable, Reason::kUnavailable,
                    "unexpected HTTP " + status + " from trust server " + s + " for " + w);
}

Result<keys::PublicKey> parse_tuf_public_key(std::string_view text) {
  json::ParseLimits limits;
  limits.max_bytes = 1u << 20;
  limits.max_depth = 4;
  VOUCH_ASSIGN_OR_RETURN(json::Value doc, json::parse(text, limits));
  auto malformed = [](std::string m) { return make_error(Reason::kMalformed, "key: " + m); };
  if (!doc.is_object()) return malformed("must be a JSON object");
  const json::Object& obj = doc.as_object();
  for (const auto& [name, value] : obj) {
    if (name != "keytype" && name != "keyval") return malformed("unexpected member \"" + printable(name, 64) + "\"");
  }
  const std::string* keytype = string_member(doc, "keytype");
  if (keytype == nullptr) return malformed("\"keytype\" must be a string");
  const json::Value* keyval = doc.find("keyval");
  if (keyval == nullptr || !keyval->is_object()) return malformed("\"keyval\" must be an object");
  for (const auto& [name, value] : keyval->as_object()) {
    if (name != "public" && name != "private") {
      return malformed("unexpected member \"keyval." + printable(name, 64) + "\"");
    }
  }
  if (const json::Value* priv = keyval->find("private"); priv != nullptr && !priv->is_null()) {
    return malformed("\"keyval.private\" must be null");
  }
  const std::string* pub = string_member(*keyval, "public");
  if (pub == nullptr) return malformed("\"keyval.public\" must be a string");
  VOUCH_ASSIGN_OR_RETURN(keys::KeyType type, keys::parse_key_type(*keytype));
  auto material = base64_decode(*pub);
  if (!material) return malformed("\"keyval.public\" is not base64");
  return keys::PublicKey::from_tuf(type, *material);
}

Result<NotaryRemote> NotaryRemote::create(std::string_view server_url, std::string_view gun,
                                          HttpClient& http, RemoteLimits limits) {
  std::string base(server_url);
  while (!base.empty() && base.back() == '/') base.pop_back();
  if (base.find_first_of("?#") != std::string::npos) {
    return make_error(Reason::kMalformed, "trust server URL must not have a query or fragment");
  }
  VOUCH_RETURN_IF_ERROR(url_origin(base));
  VOUCH_RETURN_IF_ERROR(tuf::validate_gun(gun));
  // Notary: serverURL + "/v2/" + gun + "/_trust/tuf/"; the GUN's '/' are path separators.
  std::string tuf_url = base + "/v2/" + escape_path(gun, true) + "/_trust/tuf/";
  return NotaryRemote(http, std::move(base), std::string(gun), std::move(tuf_url), limits);
}

Result<std::string> NotaryRemote::get_file(std::string_view file, std::string_view what,
                                           std::size_t max_length) {
  auto resp = http_->get(tuf_url_ + std::string(file), max_length);
  if (!resp) return std::move(resp).error().wrap(gun_ + " " + std::string(what));
  if (resp->status < 200 || resp->status >= 300) {
    return notary_http_error(*resp, gun_ + " " + std::string(what), server_url_,
                             http_->has_credentials());
  }
  return std::move(resp->body);
}

Result<std::string> NotaryRemote::fetch(std::string_view role, std::optional<std::int64_t> version,
                                        std::size_t max_length) {
  VOUCH_RETURN_IF_ERROR(check_role(role));
  std::string file;
  if (version) {
    if (*version < 1) {
      return make_error(Reason::kBadVersion,
                        "version " + std::to_string(*version) + " of " + std::string(role));
    }
    file = std::to_string(*version) + ".";
  }
  file += std::string(role) + ".json";
  return get_file(file, file, max_length);
}

Result<std::string> NotaryRemote::fetch_by_checksum(std::string_view role,
                                                    std::string_view sha256_hex,
                                                    std::size_t max_length) {
  VOUCH_RETURN_IF_ERROR(check_role(role));
  if (!is_sha256_hex(sha256_hex)) {
    return make_error(Reason::kMalformed, "checksum must be 64 lowercase hex digits");
  }
  const std::string file = std::string(role) + "." + std::string(sha256_hex) + ".json";
  return get_file(file, file, max_length);
}

Status NotaryRemote::publish(std::span<const MetadataUpload> files) {
  if (files.empty()) return make_error(Reason::kMalformed, "nothing to publish");
  std::set<std::string_view> seen;
  std::vector<FormFile> parts;
  parts.reserve(files.size());
  for (const auto& f : files) {
    VOUCH_RETURN_IF_ERROR(check_role(f.role));
    if (!seen.insert(f.role).second) {
      return make_error(Reason::kMalformed, "role " + f.role + " twice in one publish");
    }
    // Notary's NewMultiPartMetaRequest: CreateFormFile("files", role).
    parts.push_back(FormFile{"files", f.role, f.bytes});
  }
  auto resp = http_->post_multipart(tuf_url_, parts, limits_.max_ack_bytes);
  if (!resp) return std::move(resp).error().wrap("publish " + gun_);
  if (resp->status < 200 || resp->status >= 300) {
    return notary_http_error(*resp, "publish of " + gun_, server_url_, http_->has_credentials());
  }
  return ok_status();
}

Result<keys::PublicKey> NotaryRemote::key_request(std::string_view role, bool rotate) {
  VOUCH_RETURN_IF_ERROR(check_role(role));
  const std::string url = tuf_url_ + std::string(role) + ".key";
  const std::string what = gun_ + " " + std::string(role) + " key";
  auto resp = rotate ? http_->post_empty(url, limits_.max_key_bytes)
                     : http_->get(url, limits_.max_key_bytes);
  if (!resp) return std::move(resp).error().wrap(what);
  if (resp->status < 200 || resp->status >= 300) {
    return notary_http_error(*resp, what, server_url_, http_->has_credentials());
  }
  auto key = parse_tuf_public_key(resp->body);
  if (!key) return std::move(key).error().wrap(what + " from " + server_url_);
  return key;
}

Result<keys::PublicKey> NotaryRemote::get_key(std::string_view role) {
  return key_request(role, false);
}

Result<keys::PublicKey> NotaryRemote::rotate_key(std::string_view role) {
  return key_request(role, true);
}

Status NotaryRemote::delete_repository() {
  auto resp = http_->del(tuf_url_, limits_.max_ack_bytes);
  if (!resp) return std::move(resp).error().wrap("delete " + gun_);
  if (resp->status < 200 || resp->status >= 300) {
    return notary_http_error(*resp, "delete of " + gun_, server_url_, http_->has_credentials());
  }
  return ok_status();
}

}  // namespace vouch::client
