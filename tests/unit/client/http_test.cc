// HttpClient and NotaryRemote against a real HTTPS server (common/net/http_server.h) on
// 127.0.0.1 port 0, with a test PKI made in the test (tests/unit/net/net_test_util.h).

#include "client/http.h"

#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <mutex>
#include <thread>

#include "client/remote.h"
#include "common/encoding.h"
#include "common/net/http_server.h"
#include "common/net/multipart.h"
#include "keys/crypto.h"
#include "keys/public_key.h"
#include "tests/unit/client/http_test_server.h"
#include "tests/unit/net/net_test_util.h"

namespace vouch::client {
namespace {

using net::Request;
using net::Responder;
using net::Response;
using net::testing::Pki;
using testing::make_client;
using testing::parse_query;
using testing::Seen;
using testing::TestServer;
using testing::text;

constexpr std::string_view kGun = "example.com/app";

NotaryRemote make_remote(const TestServer& server, HttpClient& http,
                         std::string_view gun = kGun) {
  auto r = NotaryRemote::create(server.base(), gun, http);
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  return std::move(r).value();
}

BasicCredentials creds(std::string user, std::string_view password) {
  return BasicCredentials{std::move(user), keys::SecretString(password)};
}

std::string notary_error(std::string_view code, std::string_view message,
                         std::string_view detail = "") {
  std::string body = R"({"errors":[{"code":")" + std::string(code) + R"(","message":")" +
                     std::string(message) + "\"";
  if (!detail.empty()) body += ",\"detail\":" + std::string(detail);
  return body + "}]}";
}

// A fresh ECDSA P-256 public key as Notary's key JSON, and its key ID.
std::pair<std::string, std::string> ecdsa_key_json() {
  std::unique_ptr<EVP_PKEY, net::testing::PkeyFree> key(EVP_EC_gen("P-256"));
  REQUIRE(key);
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(key.get(), &der);
  REQUIRE(len > 0);
  Bytes spki(der, der + len);
  OPENSSL_free(der);
  auto pub = keys::PublicKey::from_tuf(keys::KeyType::kEcdsa, spki);
  REQUIRE(pub.ok());
  return {R"({"keytype":"ecdsa","keyval":{"private":null,"public":")" + base64_encode(spki) +
              "\"}}",
          pub->id()};
}

// ---------------------------------------------------------------------------------------------

TEST_CASE("remote: the URL of every operation, GUN escaping, user agent, connection reuse") {
  Pki pki;
  const auto [key_json, key_id] = ecdsa_key_json();
  TestServer server(&pki, [&, kj = key_json](const Request& req, Responder& r) {
    const std::string_view path = req.path();
    if (path.size() > 4 && path.substr(path.size() - 4) == ".key") {
      r.respond(text(200, kj));
    } else {
      r.respond(text(200, req.method + " ok"));
    }
  });
  auto http = make_client(pki);
  // ' ' and non-ASCII are escaped; ':' and '/' are kept.
  const std::string gun = "localhost:5000/my app/\xc3\xbc";
  auto remote = make_remote(server, http, gun);
  const std::string prefix = "/v2/localhost:5000/my%20app/%C3%BC/_trust/tuf/";
  CHECK(remote.tuf_url() == server.base() + prefix);
  CHECK(remote.gun() == gun);

  const std::string sum(64, 'a');
  CHECK(*remote.fetch("root", std::nullopt, 1000) == "GET ok");
  CHECK(*remote.fetch("root", 3, 1000) == "GET ok");
  CHECK(*remote.fetch("targets/releases", std::nullopt, 1000) == "GET ok");
  CHECK(*remote.fetch_by_checksum("snapshot", sum, 1000) == "GET ok");
  auto key = remote.get_key("timestamp");
  REQUIRE_MESSAGE(key.ok(), key.error().message);
  CHECK(key->id() == key_id);
  auto rotated = remote.rotate_key("snapshot");
  REQUIRE(rotated.ok());
  CHECK(rotated->id() == key_id);
  REQUIRE(remote.delete_repository().ok());
  const std::vector<MetadataUpload> files = {{"root", "{}"}};
  REQUIRE(remote.publish(files).ok());

  const auto seen = server.seen();
  REQUIRE(seen.size() == 8);
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"GET", prefix + "root.json"},
      {"GET", prefix + "3.root.json"},
      {"GET", prefix + "targets/releases.json"},
      {"GET", prefix + "snapshot." + sum + ".json"},
      {"GET", prefix + "timestamp.key"},
      {"POST", prefix + "snapshot.key"},
      {"DELETE", prefix},
      {"POST", prefix},
  };
  for (std::size_t i = 0; i < expected.size(); ++i) {
    CAPTURE(i);
    CHECK(seen[i].method == expected[i].first);
    CHECK(seen[i].target == expected[i].second);
    // The server decodes the GUN back exactly.
    CHECK(seen[i].path.find("/v2/" + gun + "/_trust/tuf/") == 0);
    CHECK(seen[i].headers.get("User-Agent") == default_user_agent());
    CHECK_FALSE(seen[i].headers.contains("Authorization"));
    CHECK_FALSE(seen[i].headers.contains("Expect"));
    // One connection for the whole session.
    CHECK(seen[i].port == seen[0].port);
  }
  CHECK(default_user_agent().rfind("vouch/", 0) == 0);
  CHECK(seen[5].body.empty());
  CHECK(seen[5].headers.get("Content-Length") == "0");
}

TEST_CASE("remote: bad role names, checksums, versions and GUNs make no request") {
  Pki pki;
  TestServer server(&pki, [](const Request&, Responder& r) { r.respond(text(200, "x")); });
  auto http = make_client(pki);
  auto remote = make_remote(server, http);
  for (std::string_view role : {"", "Root", "../root", "targets/../../x", "root.json", "foo",
                                "targets/", "targets/a b", "targets/%2e%2e"}) {
    CAPTURE(role);
    CHECK(remote.fetch(role, std::nullopt, 10).error().reason == Reason::kBadRole);
    CHECK(remote.fetch_by_checksum(role, std::string(64, 'a'), 10).error().reason ==
          Reason::kBadRole);
    CHECK(remote.get_key(role).error().reason == Reason::kBadRole);
    const std::vector<MetadataUpload> files = {{std::string(role), "{}"}};
    CHECK(remote.publish(files).error().reason == Reason::kBadRole);
  }
  CHECK(remote.fetch("root", 0, 10).error().reason == Reason::kBadVersion);
  CHECK(remote.fetch("root", -1, 10).error().reason == Reason::kBadVersion);
  for (std::string_view sum : {"", "abc", "../../../../etc/passwd", "0123"}) {
    CHECK(remote.fetch_by_checksum("root", sum, 10).error().reason == Reason::kMalformed);
  }
  CHECK(remote.fetch_by_checksum("root", std::string(64, 'A'), 10).error().reason ==
        Reason::kMalformed);
  CHECK(remote.publish({}).error().reason == Reason::kMalformed);
  const std::vector<MetadataUpload> twice = {{"root", "a"}, {"root", "b"}};
  CHECK(remote.publish(twice).error().reason == Reason::kMalformed);
  CHECK(server.seen().empty());

  for (std::string_view gun : {"", "/abs", "a/../b", "a//b", "a/", "a*", "..", "a\nb"}) {
    CAPTURE(gun);
    CHECK(NotaryRemote::create(server.base(), gun, http).error().reason == Reason::kBadGun);
  }
  for (std::string_view url : {"ftp://127.0.0.1", "127.0.0.1:4443", "https://", "https://h/?q=1",
                               "https://h/#f", "https://h /x"}) {
    CAPTURE(url);
    CHECK(NotaryRemote::create(url, kGun, http).error().reason == Reason::kMalformed);
  }
  auto with_user = NotaryRemote::create("https://alice:hunter2@127.0.0.1:1", kGun, http);
  REQUIRE_FALSE(with_user.ok());
  CHECK(with_user.error().reason == Reason::kMalformed);
  CHECK(with_user.error().message.find("hunter2") == std::string::npos);
  // A trailing '/' and a path prefix are kept as Notary keeps them.
  auto prefixed = NotaryRemote::create(server.base() + "/notary/", kGun, http);
  REQUIRE(prefixed.ok());
  CHECK(prefixed->tuf_url() == server.base() + "/notary/v2/example.com/app/_trust/tuf/");
}

TEST_CASE("http: a 2xx body longer than max_length is refused") {
  Pki pki;
  auto big = std::make_shared<const std::string>(2u << 20, 'x');
  TestServer server(&pki, [&](const Request&, Responder& r) {
    r.respond(Response::shared(200, big, "application/json"));
  });
  auto http = make_client(pki);
  const std::string url = server.base() + "/big";
  CHECK(http.get(url, big->size() - 1).error().reason == Reason::kTooLarge);
  CHECK(http.get(url, 1000).error().reason == Reason::kTooLarge);
  CHECK(http.get(url, 0).error().reason == Reason::kTooLarge);
  auto exact = http.get(url, big->size());
  REQUIRE(exact.ok());
  CHECK(exact->body == *big);
  auto remote = make_remote(server, http);
  CHECK(remote.fetch("timestamp", std::nullopt, 1 << 20).error().reason == Reason::kTooLarge);
  // The client is still usable after an aborted transfer.
  CHECK(http.get(url, big->size()).ok());
}

// A raw HTTP server that answers one request with an endless 200 body (no Content-Length:
// either until the connection closes, or chunked), for endless-data protection.
class EndlessServer {
 public:
  static constexpr std::uint64_t kCap = 512u << 20;

  explicit EndlessServer(bool chunked) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    REQUIRE(::listen(fd_, 4) == 0);
    socklen_t len = sizeof(addr);
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this, chunked] { serve(chunked); });
  }
  ~EndlessServer() {
    ::shutdown(fd_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/endless"; }
  void join() { thread_.join(); }
  std::uint64_t sent() const { return sent_; }

 private:
  void serve(bool chunked) {
    const int c = ::accept(fd_, nullptr, nullptr);
    if (c < 0) return;
    timeval tv{20, 0};  // a guard against hanging, not a measurement
    ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    std::string head;
    char buf[4096];
    while (head.find("\r\n\r\n") == std::string::npos) {
      const ssize_t n = ::recv(c, buf, sizeof(buf), 0);
      if (n <= 0) break;
      head.append(buf, static_cast<std::size_t>(n));
    }
    std::string out = chunked ? "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                              : "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";
    const std::string data(64 * 1024, 'x');
    while (sent_ < kCap) {
      out += chunked ? "10000\r\n" + data + "\r\n" : data;
      const ssize_t n = ::send(c, out.data(), out.size(), MSG_NOSIGNAL);
      if (n <= 0) break;
      sent_ += static_cast<std::uint64_t>(n);
      out.erase(0, static_cast<std::size_t>(n));
    }
    ::close(c);
  }

  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<std::uint64_t> sent_{0};
};

TEST_CASE("http: an endless body is cut off at max_length + 1 bytes") {
  for (bool chunked : {false, true}) {
    CAPTURE(chunked);
    EndlessServer server(chunked);
    auto http = HttpClient::create({});
    REQUIRE(http.ok());
    auto r = http->get(server.url(), 1 << 20);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().reason == Reason::kTooLarge);
    server.join();
    // The server stopped because the client went away, long before the cap.
    CHECK(server.sent() < EndlessServer::kCap);
  }
}

TEST_CASE("remote: HTTP statuses map to errors") {
  Pki pki;
  struct Answer {
    unsigned status;
    std::string body;
    std::string header;
  };
  std::map<std::string, Answer> answers;
  const std::string huge_error = notary_error("VERSION", std::string(200'000, 'v'));
  answers["404"] = {404, notary_error("METADATA_NOT_FOUND", "nope"), ""};
  answers["500"] = {500, notary_error("UNKNOWN", "boom"), ""};
  answers["503"] = {503, "", ""};
  answers["401"] = {401, notary_error("UNAUTHORIZED", "authentication required"), ""};
  answers["403"] = {403, notary_error("DENIED", "denied"), ""};
  answers["413"] = {413, "", ""};
  answers["302"] = {302, "", "Location: https://elsewhere/"};
  answers["418"] = {418, "", ""};
  answers["version"] = {400, notary_error("VERSION", "A newer version of metadata is already available."), ""};
  answers["invalid_update"] = {400, notary_error("INVALID_UPDATE", "Update sent by the client is invalid.",
                                                 R"({"Name":"ErrBadRoot","Error":{"Msg":"root not signed"}})"), ""};
  answers["invalid_role"] = {400, notary_error("INVALID_ROLE", "bad role"), ""};
  answers["invalid_gun"] = {400, notary_error("INVALID_GUN", "bad gun"), ""};
  answers["malformed"] = {400, notary_error("MALFORMED_UPLOAD", "bad body"), ""};
  answers["junk"] = {400, "<html>nope</html>", ""};
  answers["huge"] = {400, huge_error, ""};
  TestServer server(&pki, [&](const Request& req, Responder& r) {
    // The GUN's last segment selects the answer.
    const std::string path = net::percent_decode_path(req.path()).value_or("");
    const auto start = std::string("/v2/example.com/").size();
    const std::string key = path.substr(start, path.find('/', start) - start);
    const auto it = answers.find(key);
    if (it == answers.end()) {
      r.respond(text(200, "ok"));
      return;
    }
    Response resp = text(it->second.status, it->second.body);
    if (!it->second.header.empty()) {
      const auto colon = it->second.header.find(':');
      resp.headers.set(it->second.header.substr(0, colon), it->second.header.substr(colon + 2));
    }
    r.respond(std::move(resp));
  });
  auto http = make_client(pki);
  auto fetch_error = [&](const std::string& which) {
    auto remote = make_remote(server, http, "example.com/" + which);
    auto r = remote.fetch("root", std::nullopt, 1 << 20);
    REQUIRE_FALSE(r.ok());
    return r.error();
  };
  auto publish_error = [&](const std::string& which) {
    auto remote = make_remote(server, http, "example.com/" + which);
    const std::vector<MetadataUpload> files = {{"targets", "{}"}};
    auto st = remote.publish(files);
    REQUIRE_FALSE(st.ok());
    return st.error();
  };

  CHECK(fetch_error("404").reason == Reason::kNotFound);
  CHECK(fetch_error("404").code == Code::kNotFound);
  for (const char* which : {"500", "503", "302", "418"}) {
    CAPTURE(which);
    const Error e = fetch_error(which);
    CHECK(e.reason == Reason::kUnavailable);
    CHECK(e.code == Code::kUnavailable);
    CHECK(e.message.find(server.base()) != std::string::npos);  // names the server
  }
  CHECK(fetch_error("401").code == Code::kUnauthenticated);
  CHECK(fetch_error("401").message.find("NOTARY_AUTH") != std::string::npos);
  CHECK(fetch_error("403").code == Code::kPermissionDenied);
  CHECK(fetch_error("403").message.find("NOTARY_AUTH") != std::string::npos);
  CHECK(fetch_error("413").reason == Reason::kTooLarge);
  CHECK(publish_error("version").reason == Reason::kConflict);
  const Error invalid = publish_error("invalid_update");
  CHECK(invalid.reason == Reason::kMalformed);
  CHECK(invalid.message.find("INVALID_UPDATE") != std::string::npos);  // the server's code
  CHECK(invalid.message.find("root not signed") != std::string::npos);  // and its detail
  CHECK(publish_error("invalid_role").reason == Reason::kBadRole);
  CHECK(publish_error("invalid_gun").reason == Reason::kBadGun);
  CHECK(publish_error("malformed").reason == Reason::kMalformed);
  CHECK(publish_error("junk").reason == Reason::kMalformed);
  // An error body is read only up to max_error_body: the cut JSON no longer parses, and the
  // status still decides (no kTooLarge for a long error page).
  CHECK(publish_error("huge").reason == Reason::kMalformed);
  auto raw = http.get(server.base() + "/v2/example.com/huge/_trust/tuf/root.json", 10);
  REQUIRE(raw.ok());
  CHECK(raw->status == 400);
  CHECK(raw->body_truncated);
  CHECK(raw->body.size() == http.options().max_error_body);
  CHECK(raw->body == huge_error.substr(0, raw->body.size()));

  // Statuses for the other operations.
  auto remote = make_remote(server, http, "example.com/404");
  CHECK(remote.get_key("timestamp").error().reason == Reason::kNotFound);
  CHECK(make_remote(server, http, "example.com/503").delete_repository().error().reason ==
        Reason::kUnavailable);
  CHECK(make_remote(server, http, "example.com/403").rotate_key("snapshot").error().code ==
        Code::kPermissionDenied);
}

TEST_CASE("remote: key answers are parsed strictly") {
  Pki pki;
  std::string answer;
  TestServer server(&pki, [&](const Request&, Responder& r) { r.respond(text(200, answer)); });
  auto http = make_client(pki);
  auto remote = make_remote(server, http);
  const auto [good, id] = ecdsa_key_json();
  answer = good;
  REQUIRE(remote.get_key("timestamp").ok());
  auto pub = good.substr(good.find("\"public\":\"") + 10);
  pub = pub.substr(0, pub.find('"'));
  const std::vector<std::string> bad = {
      "",
      "[]",
      R"({"keytype":"ecdsa"})",
      R"({"keytype":"ecdsa","keyval":{"private":null}})",
      R"({"keytype":"ecdsa","keyval":{"private":"c2VjcmV0","public":")" + pub + "\"}}",
      R"({"keytype":"ecdsa","keyval":{"private":null,"public":")" + pub + R"("},"extra":1})",
      R"({"keytype":"ecdsa","keyval":{"private":null,"public":")" + pub + R"(","x":1}})",
      R"({"keytype":"ecdsa","keyval":{"private":null,"public":"not base64!"}})",
      R"({"keytype":"ecdsa","keyval":{"private":null,"public":"AAAA"}})",
      R"({"keytype":"ed25519","keyval":{"private":null,"public":")" + pub + "\"}}",
      good + " {}",
  };
  for (const auto& b : bad) {
    CAPTURE(b);
    answer = b;
    CHECK_FALSE(remote.get_key("timestamp").ok());
  }
  answer = R"({"keytype":"dsa","keyval":{"private":null,"public":")" + pub + "\"}}";
  CHECK(remote.get_key("timestamp").error().reason == Reason::kUnsupportedAlgorithm);
}

TEST_CASE("remote: publish sends Notary's multipart body, accepted by our parser") {
  Pki pki;
  std::vector<net::MultipartPart> parts;
  std::string body_copy;
  std::string content_type;
  TestServer server(&pki, [&](const Request& req, Responder& r) {
    body_copy = req.body;
    content_type = std::string(req.headers.get_or("Content-Type", ""));
    auto parsed = net::parse_multipart_form(content_type, body_copy);
    if (!parsed) {
      r.respond(text(400, notary_error("MALFORMED_UPLOAD", "bad")));
      return;
    }
    parts = std::move(*parsed);
    r.respond(text(200, ""));
  });
  auto http = make_client(pki);
  auto remote = make_remote(server, http);
  const std::vector<MetadataUpload> files = {
      {"root", R"({"signed":{"_type":"Root"},"signatures":[]})"},
      {"targets", "{\"signed\":{}}\r\n--not-a-boundary\r\n\r\n--"},
      {"targets/releases", std::string("binary\0bytes\xff", 13)},
      {"snapshot", ""},
  };
  REQUIRE(remote.publish(files).ok());
  REQUIRE(parts.size() == files.size());
  for (std::size_t i = 0; i < files.size(); ++i) {
    CAPTURE(i);
    CHECK(parts[i].name == "files");
    CHECK(parts[i].has_filename);
    CHECK(parts[i].filename == files[i].role);
    CHECK(parts[i].body == files[i].bytes);
    CHECK(parts[i].headers.get("Content-Type") == "application/octet-stream");
  }
  // Go's boundary shape: 60 hex digits.
  auto boundary = net::multipart_boundary(content_type);
  REQUIRE(boundary.ok());
  CHECK(boundary->size() == 60);
  CHECK(hex_decode(*boundary).ok());
}

TEST_CASE("http: encode_multipart equals Go's mime/multipart output byte for byte") {
  // tests/unit/net/data/notary_publish.body was written by Go's Writer (make_multipart_vectors.go)
  const std::string dir = std::string(VOUCH_TEST_DATA) + "/../unit/net/data/";
  auto read = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  const std::string expected = read(dir + "notary_publish.body");
  const std::string content_type = read(dir + "notary_publish.content_type");
  const std::string boundary = content_type.substr(content_type.find("boundary=") + 9);
  const std::string odd_data("binary\0bytes\xff", 13);
  const std::vector<FormFile> files = {
      {"files", "root", R"({"signed":{"_type":"Root","version":2},"signatures":[]})"},
      {"files", "targets", "{\"signed\":{\"_type\":\"Targets\"},\r\n\"signatures\":[]}\r\n--not-a-boundary\r\n"},
      {"files", "targets/releases", R"({"signed":{"_type":"Targets","version":1},"signatures":[]})"},
      {"files", "snapshot", ""},
      {"files", "odd\"name\\x", odd_data},
  };
  CHECK(encode_multipart(files, boundary) == expected);
}

// A token server and a metadata API that demands its tokens, on one test server. Tokens carry
// the scope they were issued for; GETs need "pull", POSTs "push".
struct TokenWorld {
  std::mutex mu;
  std::string realm;
  std::string expected_basic;  // "Basic ..." the token endpoint accepts; empty = anonymous ok
  std::map<std::string, std::string> valid;  // token -> scope it grants
  int issued = 0;
  int token_requests = 0;
  int unauthorized = 0;
  std::vector<std::string> token_queries;
  std::vector<std::string> token_auth_headers;
  std::string answer_extra;  // more members of the token answer, e.g. R"(,"x":1)"

  void handle(const Request& req, Responder& r) {
    std::lock_guard lock(mu);
    const std::string auth(req.headers.get_or("Authorization", ""));
    if (req.path() == "/token") {
      ++token_requests;
      token_queries.emplace_back(req.query());
      token_auth_headers.push_back(auth);
      if (!expected_basic.empty() && auth != expected_basic) {
        r.respond(text(401, R"({"details":"bad credentials"})"));
        return;
      }
      const std::string token = "tok-" + std::to_string(++issued);
      valid[token] = parse_query(req.query())["scope"];
      r.respond(text(200, R"({"token":")" + token + R"(","expires_in":60)" + answer_extra + "}"));
      return;
    }
    const bool push = req.method == "POST";
    const std::string scope = push ? "repository:example.com/app:push,pull"
                                   : "repository:example.com/app:pull";
    if (auth.rfind("Bearer ", 0) == 0) {
      const auto it = valid.find(auth.substr(7));
      if (it != valid.end()) {
        const std::string actions = it->second.substr(it->second.rfind(':') + 1);
        if (actions.find(push ? "push" : "pull") != std::string::npos) {
          r.respond(text(200, "data for " + req.method));
          return;
        }
      }
    }
    ++unauthorized;
    Response resp = text(401, notary_error("UNAUTHORIZED", "authentication required"));
    resp.headers.set("WWW-Authenticate",
                     "Bearer realm=\"" + realm + "\",service=\"vouch-test\",scope=\"" + scope + "\"");
    r.respond(std::move(resp));
  }
};

TEST_CASE("http: the bearer token dance, with NOTARY_AUTH credentials") {
  Pki pki;
  TokenWorld world;
  TestServer server(&pki, [&](const Request& req, Responder& r) { world.handle(req, r); });
  world.realm = server.base() + "/token";
  const std::string password = "s3cret pass:word";
  world.expected_basic = "Basic " + base64_encode(as_bytes("alice:" + password));

  auto http = make_client(pki, creds("alice", password));
  auto remote = make_remote(server, http);
  auto root = remote.fetch("root", std::nullopt, 1000);
  REQUIRE_MESSAGE(root.ok(), root.error().message);
  CHECK(*root == "data for GET");
  CHECK(remote.fetch("targets", std::nullopt, 1000).ok());
  CHECK(remote.fetch("snapshot", 2, 1000).ok());
  {
    std::lock_guard lock(world.mu);
    // One token for the session; only the first request was refused.
    CHECK(world.token_requests == 1);
    CHECK(world.unauthorized == 1);
    const auto q = parse_query(world.token_queries.at(0));
    CHECK(q.at("service") == "vouch-test");
    CHECK(q.at("scope") == "repository:example.com/app:pull");
    CHECK(q.at("account") == "alice");
    CHECK(world.token_auth_headers.at(0) == world.expected_basic);
  }
  // The token goes only to the server; the Basic credentials only to the realm.
  for (const auto& s : server.seen()) {
    const std::string auth(s.headers.get_or("Authorization", ""));
    if (s.path == "/token") {
      CHECK(auth.rfind("Basic ", 0) == 0);
    } else {
      CHECK(auth.rfind("Basic ", 0) != 0);
    }
  }

  // Another scope (push) needs another token.
  const std::vector<MetadataUpload> files = {{"targets", "{}"}};
  REQUIRE(remote.publish(files).ok());
  {
    std::lock_guard lock(world.mu);
    CHECK(world.token_requests == 2);
    CHECK(parse_query(world.token_queries.at(1)).at("scope") ==
          "repository:example.com/app:push,pull");
  }

  // Tokens the server stops accepting (revoked, expired) are replaced.
  {
    std::lock_guard lock(world.mu);
    world.valid.clear();
  }
  CHECK(remote.fetch("root", std::nullopt, 1000).ok());
  CHECK(remote.fetch("targets", std::nullopt, 1000).ok());
  {
    std::lock_guard lock(world.mu);
    CHECK(world.token_requests == 3);
    CHECK(parse_query(world.token_queries.at(2)).at("scope") == "repository:example.com/app:pull");
  }
}

TEST_CASE("http: token service refusals are kUnauthenticated and never show the secret") {
  Pki pki;
  TokenWorld world;
  TestServer server(&pki, [&](const Request& req, Responder& r) { world.handle(req, r); });
  world.realm = server.base() + "/token";
  world.expected_basic = "Basic " + base64_encode(as_bytes("alice:right"));

  const std::string wrong = "wr0ng-Passw0rd";
  auto http = make_client(pki, creds("alice", wrong));
  auto remote = make_remote(server, http);
  auto r = remote.fetch("root", std::nullopt, 1000);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Code::kUnauthenticated);
  CHECK(r.error().message.find(wrong) == std::string::npos);
  CHECK(r.error().message.find(base64_encode(as_bytes("alice:" + wrong))) == std::string::npos);
  CHECK(r.error().message.find("NOTARY_AUTH") != std::string::npos);

  // Without credentials the token request is anonymous, and refused here.
  auto anonymous = make_client(pki);
  auto remote2 = make_remote(server, anonymous);
  auto r2 = remote2.fetch("root", std::nullopt, 1000);
  REQUIRE_FALSE(r2.ok());
  CHECK(r2.error().code == Code::kUnauthenticated);
  std::lock_guard lock(world.mu);
  CHECK(world.token_auth_headers.back().empty());
  CHECK(parse_query(world.token_queries.back()).count("account") == 0);
}

TEST_CASE("http: without NOTARY_AUTH, the credentials prompt is asked once, when anonymous fails") {
  Pki pki;
  TokenWorld world;
  TestServer server(&pki, [&](const Request& req, Responder& r) { world.handle(req, r); });
  world.realm = server.base() + "/token";
  const std::string password = "typed pass:word";
  world.expected_basic = "Basic " + base64_encode(as_bytes("alice:" + password));

  std::vector<std::string> asked;
  auto http = make_client(pki);
  http.set_credentials_prompt([&](std::string_view origin) -> Result<BasicCredentials> {
    asked.emplace_back(origin);
    return creds("alice", password);
  });
  auto remote = make_remote(server, http);
  auto root = remote.fetch("root", std::nullopt, 1000);
  REQUIRE_MESSAGE(root.ok(), root.error().message);
  CHECK(remote.fetch("targets", std::nullopt, 1000).ok());
  const std::vector<MetadataUpload> files = {{"targets", "{}"}};
  CHECK(remote.publish(files).ok());
  REQUIRE(asked.size() == 1);  // once, for the token service that refused anonymous
  CHECK(asked[0] == url_origin(world.realm).value());
  CHECK(http.has_credentials());
  {
    std::lock_guard lock(world.mu);
    CHECK(world.token_auth_headers.at(0).empty());  // anonymous first
    CHECK(world.token_auth_headers.at(1) == world.expected_basic);
    CHECK(parse_query(world.token_queries.at(1)).at("account") == "alice");
  }

  SUBCASE("a prompt with nothing to give leaves the NOTARY_AUTH hint, and is not asked again") {
    int calls = 0;
    auto quiet = make_client(pki);
    quiet.set_credentials_prompt([&](std::string_view) -> Result<BasicCredentials> {
      ++calls;
      return make_error(Reason::kNoPassphrase, "no terminal");
    });
    auto remote2 = make_remote(server, quiet);
    auto r = remote2.fetch("root", std::nullopt, 1000);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::kUnauthenticated);
    CHECK(r.error().message.find("NOTARY_AUTH") != std::string::npos);
    CHECK_FALSE(remote2.fetch("root", std::nullopt, 1000).ok());
    CHECK(calls == 1);
  }
  SUBCASE("credentials from NOTARY_AUTH: the prompt is never asked") {
    int calls = 0;
    auto given = make_client(pki, creds("alice", password));
    given.set_credentials_prompt([&](std::string_view) -> Result<BasicCredentials> {
      ++calls;
      return creds("mallory", "x");
    });
    auto remote3 = make_remote(server, given);
    CHECK(remote3.fetch("root", std::nullopt, 1000).ok());
    CHECK(calls == 0);
  }
  SUBCASE("an interrupted prompt fails the request") {
    auto cancelled = make_client(pki);
    cancelled.set_credentials_prompt([&](std::string_view) -> Result<BasicCredentials> {
      return make_error(Code::kCancelled, Reason::kNoPassphrase, "interrupted");
    });
    auto remote4 = make_remote(server, cancelled);
    auto r = remote4.fetch("root", std::nullopt, 1000);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::kCancelled);
  }
}

TEST_CASE("http: an anonymous token service works without credentials") {
  Pki pki;
  TokenWorld world;
  TestServer server(&pki, [&](const Request& req, Responder& r) { world.handle(req, r); });
  world.realm = server.base() + "/token";
  auto http = make_client(pki);
  auto remote = make_remote(server, http);
  CHECK(remote.fetch("root", std::nullopt, 1000).ok());
  std::lock_guard lock(world.mu);
  CHECK(world.token_requests == 1);
}

TEST_CASE("http: a token answer is any JSON object the docker client takes, fractions included") {
  // Read with Boost.JSON, the API stack (issue 13, item 7); the strict TUF parser it used
  // before refused a number with a fraction anywhere in the answer.
  Pki pki;
  TokenWorld world;
  world.answer_extra = R"(,"issued_at":"2026-01-01T00:00:00Z","lifetime":59.5)";
  TestServer server(&pki, [&](const Request& req, Responder& r) { world.handle(req, r); });
  world.realm = server.base() + "/token";
  auto http = make_client(pki);
  auto remote = make_remote(server, http);
  auto fetched = remote.fetch("root", std::nullopt, 1000);
  CHECK_MESSAGE(fetched.ok(), (fetched.ok() ? "" : fetched.error().message));
  std::lock_guard lock(world.mu);
  CHECK(world.token_requests == 1);
}

TEST_CASE("http: Basic challenges, and no credentials over plain HTTP") {
  Pki pki;
  const std::string expected = "Basic " + base64_encode(as_bytes("bob:pw"));
  auto route = [&](const Request& req, Responder& r) {
    if (req.headers.get_or("Authorization", "") == expected) {
      r.respond(text(200, "ok"));
      return;
    }
    Response resp = text(401, "");
    resp.headers.set("WWW-Authenticate", "Basic realm=\"vouch\", charset=\"UTF-8\"");
    r.respond(std::move(resp));
  };
  TestServer server(&pki, route);
  auto http = make_client(pki, creds("bob", "pw"));
  auto remote = make_remote(server, http);
  CHECK(remote.fetch("root", std::nullopt, 1000).ok());
  CHECK(remote.fetch("targets", std::nullopt, 1000).ok());
  auto seen = server.seen();
  REQUIRE(seen.size() == 3);  // refused once, then the credentials are sent at once
  CHECK_FALSE(seen[0].headers.contains("Authorization"));
  CHECK(seen[2].headers.get("Authorization") == expected);

  auto no_creds = make_client(pki);
  auto remote2 = make_remote(server, no_creds);
  CHECK(remote2.fetch("root", std::nullopt, 1000).error().code == Code::kUnauthenticated);

  // Over plain HTTP the password is never sent.
  TestServer plain(nullptr, route);
  auto http_plain = HttpClient::create({}, creds("bob", "pw"));
  REQUIRE(http_plain.ok());
  auto remote3 = make_remote(plain, *http_plain);
  CHECK(remote3.fetch("root", std::nullopt, 1000).error().code == Code::kUnauthenticated);
  for (const auto& s : plain.seen()) CHECK_FALSE(s.headers.contains("Authorization"));
}

TEST_CASE("http: timeouts and unreachable servers are kUnavailable") {
  Pki pki;
  std::mutex mu;
  std::vector<Responder> held;
  net::HttpServerOptions options;
  TestServer server(&pki, [&](const Request&, Responder& r) {
    std::lock_guard lock(mu);
    held.push_back(std::move(r));  // never answered in time
  }, options);
  HttpOptions opts;
  opts.request_timeout = std::chrono::milliseconds(300);
  auto http = make_client(pki, std::nullopt, opts);
  auto remote = make_remote(server, http);
  auto r = remote.fetch("timestamp", std::nullopt, 1000);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason == Reason::kUnavailable);
  CHECK(r.error().code == Code::kUnavailable);
  CHECK(r.error().message.find("127.0.0.1") != std::string::npos);
  {
    std::lock_guard lock(mu);
    for (auto& h : held) h.respond(text(200, "late"));
  }

  // A port nobody listens on.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  socklen_t len = sizeof(addr);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  const auto port = ntohs(addr.sin_port);
  ::close(fd);  // bound, never listened: connections are refused
  auto closed = NotaryRemote::create("https://127.0.0.1:" + std::to_string(port), kGun, http);
  REQUIRE(closed.ok());
  auto refused = closed->fetch("root", std::nullopt, 1000);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().reason == Reason::kUnavailable);
  CHECK(refused.error().message.find("127.0.0.1:" + std::to_string(port)) != std::string::npos);
}

TEST_CASE("http: TLS trust is exclusive to the configured CA; mTLS; skip-verify") {
  Pki pki;
  net::HttpServerOptions mtls;
  mtls.tls.client_ca_file = pki.ca1_file;
  mtls.tls.require_client_cert = true;
  TestServer server(&pki, [](const Request& req, Responder& r) {
    r.respond(text(200, req.peer_certificate ? req.peer_certificate->common_name : "anonymous"));
  }, mtls);
  const std::string url = server.base() + "/x";

  HttpOptions o;
  o.cert_file = pki.client1_files.first;
  o.key_file = pki.client1_files.second;
  auto good = make_client(pki, std::nullopt, o);
  auto r = good.get(url, 100);
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  CHECK(r->body == "client-one");

  // No client certificate: the handshake fails.
  auto anon = make_client(pki);
  CHECK(anon.get(url, 100).error().reason == Reason::kUnavailable);

  // Another CA only: the server's certificate is not trusted (the system store is not added).
  HttpOptions other = o;
  other.ca_file = pki.ca2_file;
  auto wrong_ca = HttpClient::create(other);
  REQUIRE(wrong_ca.ok());
  CHECK(wrong_ca->get(url, 100).error().reason == Reason::kUnavailable);
  // The system store does not know the test CA either.
  HttpOptions system = o;
  system.ca_file.clear();
  auto sys = HttpClient::create(system);
  REQUIRE(sys.ok());
  CHECK(sys->get(url, 100).error().reason == Reason::kUnavailable);
  // skipTLSVerify accepts it.
  system.insecure_skip_verify = true;
  auto skip = HttpClient::create(system);
  REQUIRE(skip.ok());
  CHECK(skip->get(url, 100).ok());

  // Option errors.
  HttpOptions half;
  half.cert_file = pki.client1_files.first;
  CHECK(HttpClient::create(half).error().code == Code::kInvalidArgument);
  HttpOptions missing;
  missing.ca_file = pki.dir.file("missing.pem");
  auto m = HttpClient::create(missing);
  CHECK(m.error().reason == Reason::kIo);
  CHECK(m.error().message.find("missing.pem") != std::string::npos);
  HttpOptions junk;
  junk.ca_file = pki.dir.file("junk.pem");
  net::testing::write_file(junk.ca_file, "not a certificate\n");
  auto j = HttpClient::create(junk);
  REQUIRE(j.ok());
  CHECK(j->get(url, 100).error().code == Code::kFailedPrecondition);
}

TEST_CASE("http: parse_notary_auth follows the notary CLI") {
  auto ok = parse_notary_auth(base64_encode(as_bytes("alice:  pass word \n")));
  REQUIRE(ok.ok());
  CHECK(ok->username == "alice");
  CHECK(ok->password.view() == "pass word");
  auto colon = parse_notary_auth(base64_encode(as_bytes("u:p:q")));
  REQUIRE(colon.ok());
  CHECK(colon->password.view() == "p:q");
  CHECK(parse_notary_auth(base64_encode(as_bytes(":pw"))).error().reason == Reason::kMalformed);
  CHECK(parse_notary_auth(base64_encode(as_bytes("nocolon"))).error().reason == Reason::kMalformed);
  auto bad = parse_notary_auth("not base64 s3cret");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().reason == Reason::kMalformed);
  CHECK(bad.error().message.find("s3cret") == std::string::npos);
}

TEST_CASE("http: url_origin and escape_path") {
  CHECK(*url_origin("https://Example.com/x") == "https://example.com:443");
  CHECK(*url_origin("http://127.0.0.1:8080/a?b") == "http://127.0.0.1:8080");
  CHECK(*url_origin("https://[::1]:4443/") == "https://[::1]:4443");
  for (std::string_view bad : {"", "/relative", "ftp://h/", "https://u:p@h/", "https://u@h/",
                               "https://h/a b", "https:///x"}) {
    CAPTURE(bad);
    auto r = url_origin(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().reason == Reason::kMalformed);
  }
  CHECK(escape_path("a/b c:d@e~f_g-h.i%j?k#l", true) == "a/b%20c:d@e~f_g-h.i%25j%3Fk%23l");
  CHECK(escape_path("a/b", false) == "a%2Fb");
}

}  // namespace
}  // namespace vouch::client
