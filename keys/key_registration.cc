#include "keys/key_registration.h"

#include <utility>

#include "common/encoding.h"

namespace vouch::keys {
namespace {

Status check_part(std::string_view value, std::size_t max, std::string_view what) {
  if (value.empty()) {
    return make_error(Code::kInvalidArgument, Reason::kMalformed,
                      "registration statement: empty " + std::string(what));
  }
  if (value.size() > max) {
    return make_error(Code::kInvalidArgument, Reason::kTooLarge,
                      "registration statement: " + std::string(what) + " too long");
  }
  for (const char c : value) {
    if (c < 0x20 || c > 0x7e) {
      return make_error(Code::kInvalidArgument, Reason::kMalformed,
                        "registration statement: " + std::string(what) +
                            " has a character that is not printable ASCII");
    }
  }
  return ok_status();
}

// A canonical JSON string: only '"' and '\\' are escaped (the parts hold printable ASCII).
void append_string(std::string& out, std::string_view s) {
  out += '"';
  for (const char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

void append_member(std::string& out, std::string_view name, std::string_view value) {
  if (out.size() > 1) out += ',';
  append_string(out, name);
  out += ':';
  append_string(out, value);
}

}  // namespace

Result<std::string> registration_statement_bytes(const KeyRegistrationStatement& statement) {
  VOUCH_RETURN_IF_ERROR(check_part(statement.service, kMaxRegistrationServiceBytes, "service"));
  VOUCH_RETURN_IF_ERROR(check_part(statement.account, kMaxRegistrationAccountBytes, "account"));
  if (statement.issued_at.time_since_epoch() % std::chrono::seconds(1) !=
      std::chrono::microseconds(0)) {
    return make_error(Code::kInvalidArgument, Reason::kMalformed,
                      "registration statement: issued_at must be whole seconds");
  }
  std::string out = "{";
  // Keys in sorted order (canonical JSON).
  append_member(out, "account", statement.account);
  append_member(out, "issued_at", format_rfc3339(statement.issued_at));
  append_member(out, "key_id", statement.key.id());
  append_member(out, "keytype", to_string(statement.key.type()));
  append_member(out, "public", base64_encode(statement.key.public_bytes()));
  append_member(out, "service", statement.service);
  append_member(out, "type", kKeyRegistrationType);
  out += '}';
  return out;
}

Result<Signature> sign_registration(Signer& signer, const KeyRegistrationStatement& statement) {
  VOUCH_ASSIGN_OR_RETURN(std::string bytes, registration_statement_bytes(statement));
  return signer.sign(statement.key, as_bytes(bytes));
}

Status verify_registration(const KeyRegistrationStatement& statement, const Signature& signature,
                           TimePoint now, std::chrono::seconds window) {
  VOUCH_ASSIGN_OR_RETURN(std::string bytes, registration_statement_bytes(statement));
  if (statement.issued_at < now - window || statement.issued_at > now + window) {
    return make_error(Code::kInvalidArgument, Reason::kExpired,
                      "registration statement issued at " + format_rfc3339(statement.issued_at) +
                          ", outside the accepted window around the server's time " +
                          format_rfc3339(now));
  }
  if (signature.bytes.size() > kMaxRegistrationSignatureBytes) {
    return make_error(Code::kInvalidArgument, Reason::kTooLarge,
                      "registration statement: signature too large");
  }
  return statement.key.verify(signature.method, as_bytes(bytes), signature.bytes);
}

}  // namespace vouch::keys
