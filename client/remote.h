#pragma once

// NotaryRemote: Notary v1's HTTP API for ONE repository (GUN) on one server (REFERENCE §1.1;
// notary:storage/httpstore.go), over an HttpClient (client/http.h).
//
//   GET    <server>/v2/<gun>/_trust/tuf/<role>.json            fetch(role, nullopt)
//   GET    <server>/v2/<gun>/_trust/tuf/<N>.<role>.json        fetch(role, N)
//   GET    <server>/v2/<gun>/_trust/tuf/<role>.<sha256>.json   fetch_by_checksum(role, sha256)
//   POST   <server>/v2/<gun>/_trust/tuf/                       publish(files)  (multipart)
//   GET    <server>/v2/<gun>/_trust/tuf/<role>.key             get_key(role)
//   POST   <server>/v2/<gun>/_trust/tuf/<role>.key             rotate_key(role)
//   DELETE <server>/v2/<gun>/_trust/tuf/                       delete_repository()
//
// The GUN is checked with tuf::validate_gun and percent-encoded segment by segment ('/'
// stays a path separator, as in Notary's URLs; everything but unreserved characters, ':' and
// '@' is escaped). Role names are checked with tuf::is_valid_role_name before any URL is built
// (kBadRole); a delegation's '/' stays a separator ("targets/releases.json").
//
// HTTP results, as errors (the table Notary's translateStatusToError implies, made precise):
//   200..299      success
//   404           kNotFound ("no such role/version/repository"); but kBadGun (Code kNotFound)
//                 when the detail says the server does not serve the GUN at all
//                 ({"Reason":"GUN_NOT_SERVED","Msg":...}, vouch-server's gun_prefixes)
//   400           Notary's error JSON {"errors":[{"code","message","detail"}]}, by code:
//                   VERSION                        kConflict (Code kAborted): the server has
//                                                  a version at least as new; fetch, re-apply
//                                                  and publish again
//                   INVALID_UPDATE                 kMalformed, the message carries the
//                                                  server's detail ("ErrBadRoot: ...")
//                   INVALID_ROLE, NO_FILENAME      kBadRole
//                   INVALID_GUN                    kBadGun
//                   MALFORMED_JSON, MALFORMED_UPLOAD, INVALID_PARAMETERS, anything else
//                                                  kMalformed
//                 Every message names the server's code and message.
//   401           Code kUnauthenticated (Reason kNone): the message says to set NOTARY_AUTH
//                 (or that the server refused the credentials given)
//   403           Code kPermissionDenied (Reason kNone), same advice
//   413           kTooLarge
//   5xx, 3xx and other statuses, connection failures, TLS failures, timeouts
//                 kUnavailable (Code kUnavailable); the message names the server
// Error bodies are read up to HttpOptions::max_error_body bytes only.
//
// Not thread-safe (like the HttpClient it uses).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "client/http.h"
#include "common/result.h"
#include "keys/public_key.h"
#include "tuf/metadata_source.h"

namespace vouch::client {

// One file of a publish: the role and its complete signed bytes.
struct MetadataUpload {
  std::string role;
  std::string bytes;
};

struct RemoteLimits {
  // Largest key answer (Notary's MaxKeySize: 256 KiB).
  std::size_t max_key_bytes = 256 * 1024;
  // Largest answer to a publish or delete (Notary answers with an empty body).
  std::size_t max_ack_bytes = 64 * 1024;
};

class NotaryRemote : public tuf::MetadataSource {
 public:
  // `server_url` is the server's base URL ("https://notary.example.com:4443", optionally with a
  // path prefix; trailing '/' ignored; no query, fragment or user information: kMalformed).
  // kBadGun for an invalid GUN. `http` is borrowed and must outlive this object.
  static Result<NotaryRemote> create(std::string_view server_url, std::string_view gun,
                                     HttpClient& http, RemoteLimits limits = {});

  // tuf::MetadataSource, exactly per its contract (tuf/metadata_source.h). In addition:
  // version < 1 -> kBadVersion; sha256_hex not 64 lowercase hex digits -> kMalformed.
  Result<std::string> fetch(std::string_view role, std::optional<std::int64_t> version,
                            std::size_t max_length) override;
  Result<std::string> fetch_by_checksum(std::string_view role, std::string_view sha256_hex,
                                        std::size_t max_length) override;

  // Uploads `files` in one multipart request, one part per role, form name "files" and
  // filename = role name (Notary's NewMultiPartMetaRequest); the server applies all or none.
  // kMalformed if `files` is empty or names a role twice; kBadRole for an invalid role name.
  Status publish(std::span<const MetadataUpload> files);

  // The server-held public key of `role` (snapshot or timestamp on a Notary server), created
  // by the server if needed. The answer is parsed strictly as TUF key JSON:
  // {"keytype": "...", "keyval": {"private": null, "public": "<base64>"}} and nothing else
  // (kMalformed; a key with private material is refused), then keys::PublicKey::from_tuf.
  Result<keys::PublicKey> get_key(std::string_view role);
  // Asks the server for a new key for `role` (POST <role>.key); parsed as get_key.
  Result<keys::PublicKey> rotate_key(std::string_view role);

  // Deletes every metadata file of the GUN on the server (`notary delete --remote`).
  Status delete_repository();

  const std::string& gun() const { return gun_; }
  // The base URL without trailing '/', e.g. "https://127.0.0.1:4443".
  const std::string& server_url() const { return server_url_; }
  // "<server>/v2/<escaped gun>/_trust/tuf/"
  const std::string& tuf_url() const { return tuf_url_; }

 private:
  NotaryRemote(HttpClient& http, std::string server_url, std::string gun, std::string tuf_url,
               RemoteLimits limits)
      : http_(&http), server_url_(std::move(server_url)), gun_(std::move(gun)),
        tuf_url_(std::move(tuf_url)), limits_(limits) {}

  Result<std::string> get_file(std::string_view file, std::string_view what,
                               std::size_t max_length);
  Result<keys::PublicKey> key_request(std::string_view role, bool rotate);

  HttpClient* http_;
  std::string server_url_;
  std::string gun_;
  std::string tuf_url_;
  RemoteLimits limits_;
};

// Maps a non-2xx response from a Notary server to an error per the table above. `what` names
// the resource for messages ("root.json", "publish"); `server` is the server's base URL;
// `have_credentials` tells whether NOTARY_AUTH credentials were sent (for the 401/403 advice).
// Exposed for the verifier and for tests.
Error notary_http_error(const HttpResponse& response, std::string_view what,
                        std::string_view server, bool have_credentials = false);

// Parses a TUF public key JSON object strictly (see NotaryRemote::get_key).
Result<keys::PublicKey> parse_tuf_public_key(std::string_view json);

}  // namespace vouch::client
