#include "client/member_keys.h"

#include <boost/json.hpp>
#include <utility>

#include "client/http.h"
#include "common/encoding.h"
#include "keys/key_registration.h"
#include "keys/pem.h"
#include "keys/x509.h"

namespace vouch::client {
namespace {

namespace bj = boost::json;

Error bad_answer(std::string_view what) {
  return make_error(Reason::kMalformed, "the server's answer has no valid " + std::string(what));
}

const bj::value* field(const bj::value& v, std::string_view key) {
  const bj::object* o = v.if_object();
  return o == nullptr ? nullptr : o->if_contains(key);
}

Result<std::string> member(const bj::value& v, std::string_view key, bool required = true) {
  const bj::value* f = field(v, key);
  if (f == nullptr || f->is_null()) {
    if (required) return bad_answer(key);
    return std::string();
  }
  if (!f->is_string()) return bad_answer(key);
  return std::string(f->get_string());
}

Result<RegisteredKey> key_of(const bj::value& v) {
  RegisteredKey k;
  VOUCH_ASSIGN_OR_RETURN(k.key_id, member(v, "key_id"));
  VOUCH_ASSIGN_OR_RETURN(k.canonical_id, member(v, "canonical_id"));
  VOUCH_ASSIGN_OR_RETURN(k.keytype, member(v, "keytype"));
  VOUCH_ASSIGN_OR_RETURN(k.public_key, member(v, "public_key"));
  VOUCH_ASSIGN_OR_RETURN(k.owner, member(v, "owner"));
  VOUCH_ASSIGN_OR_RETURN(k.kind, member(v, "kind"));
  VOUCH_ASSIGN_OR_RETURN(k.expires, member(v, "expires", false));
  if (const bj::value* teams = field(v, "teams"); teams != nullptr && !teams->is_null()) {
    if (!teams->is_array()) return bad_answer("teams");
    for (const auto& t : teams->get_array()) {
      if (!t.is_string()) return bad_answer("teams");
      k.teams.emplace_back(t.get_string());
    }
  }
  return k;
}

Result<std::vector<RegisteredKey>> keys_of(const bj::value& answer) {
  const bj::value* list = field(answer, "keys");
  if (list == nullptr || !list->is_array()) return bad_answer("keys");
  std::vector<RegisteredKey> out;
  for (const auto& item : list->get_array()) {
    VOUCH_ASSIGN_OR_RETURN(RegisteredKey k, key_of(item));
    out.push_back(std::move(k));
  }
  return out;
}

}  // namespace

Result<RegisteredKey> register_key(AdminClient& admin, keys::Signer& signer,
                                   const keys::PublicKey& key, TimePoint now) {
  VOUCH_ASSIGN_OR_RETURN(bj::value me, admin.me());
  VOUCH_ASSIGN_OR_RETURN(std::string account, member(me, "name"));
  VOUCH_ASSIGN_OR_RETURN(std::string service, member(me, "service"));
  const TimePoint issued_at = std::chrono::floor<std::chrono::seconds>(now);
  VOUCH_ASSIGN_OR_RETURN(keys::Signature sig,
                         keys::sign_registration(signer, {service, account, key, issued_at}));
  const std::string pem = key.certificate() != nullptr
                              ? key.certificate()->pem()
                              : keys::pem_encode("PUBLIC KEY", {}, key.spki_der());
  bj::object body{{"public_key", pem},
                  {"issued_at", format_rfc3339(issued_at)},
                  {"signature", bj::object{{"method", keys::to_string(sig.method)},
                                           {"sig", base64_encode(sig.bytes)}}}};
  VOUCH_ASSIGN_OR_RETURN(bj::value answer, admin.call("POST", "/keys", bj::serialize(body)));
  return key_of(answer);
}

Result<std::vector<RegisteredKey>> list_registered_keys(AdminClient& admin,
                                                        std::string_view owner) {
  const std::string path =
      owner.empty() ? std::string("/keys") : "/keys?owner=" + escape_path(owner, false);
  VOUCH_ASSIGN_OR_RETURN(bj::value answer, admin.call("GET", path, ""));
  return keys_of(answer);
}

Result<std::vector<RegisteredKey>> lookup_key_owners(AdminClient& admin,
                                                     const std::vector<std::string>& key_ids) {
  std::vector<RegisteredKey> out;
  for (std::size_t i = 0; i < key_ids.size(); i += kMaxKeyLookupBatch) {
    bj::array ids;
    for (std::size_t j = i; j < key_ids.size() && j < i + kMaxKeyLookupBatch; ++j) {
      ids.emplace_back(key_ids[j]);
    }
    bj::object body{{"key_ids", std::move(ids)}};
    VOUCH_ASSIGN_OR_RETURN(bj::value answer,
                           admin.call("POST", "/keys/lookup", bj::serialize(body)));
    VOUCH_ASSIGN_OR_RETURN(auto found, keys_of(answer));
    for (auto& k : found) out.push_back(std::move(k));
  }
  return out;
}

Status unregister_key(AdminClient& admin, std::string_view key_id) {
  VOUCH_RETURN_IF_ERROR(admin.call("DELETE", "/keys/" + escape_path(key_id, false), ""));
  return ok_status();
}

std::string describe_owner(const RegisteredKey& key) {
  std::string out = key.owner;
  if (key.teams.empty()) return out;
  out += " (";
  for (std::size_t i = 0; i < key.teams.size(); ++i) {
    if (i != 0) out += ", ";
    out += key.teams[i];
  }
  out += ")";
  return out;
}

}  // namespace vouch::client
