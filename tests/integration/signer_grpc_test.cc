// gRPC integration tests of vouch-signer's service on loopback, in process, with real TLS
// certificates made by the test: the notary-signer API through RemoteSigner and through raw
// stubs, mutual TLS enforcement, TLS versions, the error table, metrics, retries.

#include <doctest/doctest.h>
#include <grpcpp/grpcpp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <rocksdb/db.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "proto/health.grpc.pb.h"
#include "proto/signer.grpc.pb.h"
#include "proto/signer_store.pb.h"
#include "signer/key_store.h"
#include "signer/remote_signer.h"
#include "signer/service.h"
#include "tests/integration/signer_test_util.h"

using namespace vouch;
using namespace vouch::signer;
using namespace vouch::signer_test;
using keys::KeyType;

namespace {

constexpr std::size_t kContentLimit = 1024;

// A signer in this process: key store + gRPC server on 127.0.0.1:0 with mutual TLS.
class Fixture {
 public:
  Fixture()
      : server_cert_(pki_.issue("vouch-signer", true)),
        client_cert_(pki_.issue("vouch-server", false)) {
    start();
  }

  void start() {
    KeyStoreOptions o;
    o.db_path = dir_ / "keys.db";
    o.default_alias = "testalias";
    o.passphrases = [](std::string_view) -> Result<keys::SecretString> {
      return keys::SecretString("test passphrase");
    };
    o.kdf = {64, 1, 1};
    o.rsa_bits = 2048;
    store_ = std::move(KeyStore::open(std::move(o))).value();
    registry_ = std::make_shared<prometheus::Registry>();
    SignerServerOptions so;
    so.listen = "127.0.0.1:0";
    so.tls_cert_pem = server_cert_.cert_pem;
    so.tls_key_pem = keys::SecretString(server_cert_.key_pem);
    so.client_ca_pem = pki_.ca_pem();
    so.max_content_bytes = kContentLimit;
    auto s = SignerServer::start(std::move(so), *store_, registry_);
    REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error().message));
    server_ = std::move(s).value();
  }
  void stop() {
    server_.reset();
    store_.reset();
  }

  std::string target() const { return "127.0.0.1:" + std::to_string(server_->port()); }

  RemoteSignerOptions remote_options() const {
    RemoteSignerOptions o;
    o.target = target();
    o.tls_ca_pem = pki_.ca_pem();
    o.tls_client_cert_pem = client_cert_.cert_pem;
    o.tls_client_key_pem = keys::SecretString(client_cert_.key_pem);
    o.timeout = std::chrono::seconds(20);
    return o;
  }
  std::unique_ptr<RemoteSigner> remote() const {
    auto r = RemoteSigner::create(remote_options());
    REQUIRE(r.ok());
    return std::move(r).value();
  }

  // A raw channel with the given client credentials (empty cert: no client certificate).
  std::shared_ptr<grpc::Channel> channel(const std::string& ca_pem, const Issued* client) const {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ca_pem;
    if (client != nullptr) {
      ssl.pem_cert_chain = client->cert_pem;
      ssl.pem_private_key = client->key_pem;
    }
    return grpc::CreateChannel(target(), grpc::SslCredentials(ssl));
  }
  std::shared_ptr<grpc::Channel> good_channel() const {
    return channel(pki_.ca_pem(), &client_cert_);
  }

  std::string metrics_text() const {
    prometheus::TextSerializer ser;
    return ser.Serialize(registry_->Collect());
  }

  TempDir dir_;
  Pki pki_;
  Issued server_cert_;
  Issued client_cert_;
  std::unique_ptr<KeyStore> store_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<SignerServer> server_;
};

std::unique_ptr<grpc::ClientContext> ctx(std::chrono::seconds s = std::chrono::seconds(20)) {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() + s);
  return c;
}

Bytes bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

}  // namespace

TEST_SUITE_BEGIN("integration");  // ctest label

TEST_CASE("RemoteSigner against vouch-signer: create, describe, sign, delete, health") {
  Fixture f;
  auto remote = f.remote();
  REQUIRE(remote->check_health().ok());
  for (KeyType t : {KeyType::kEcdsa, KeyType::kEd25519, KeyType::kRsa}) {
    CAPTURE(keys::to_string(t));
    auto pub = remote->create_key("example.com/app", "timestamp", t);
    REQUIRE_MESSAGE(pub.ok(), (pub.ok() ? "" : pub.error().message));
    CHECK(pub->type() == t);
    auto again = remote->public_key(pub->id());
    REQUIRE(again.ok());
    CHECK(*again == *pub);
    CHECK(*remote->key_role(pub->id()) == "timestamp");
    const Bytes msg = bytes(R"({"_type":"Timestamp","version":1})");
    auto sig = remote->sign(*pub, msg);  // RemoteSigner verifies it too
    REQUIRE_MESSAGE(sig.ok(), (sig.ok() ? "" : sig.error().message));
    CHECK(pub->verify(sig->method, msg, sig->bytes).ok());
    REQUIRE(remote->delete_key(pub->id()).ok());
    CHECK(remote->public_key(pub->id()).error().reason == Reason::kUnknownKey);
    CHECK(remote->sign(*pub, msg).error().reason == Reason::kUnknownKey);
    CHECK(remote->delete_key(pub->id()).ok());
  }
  CHECK(remote->create_key("g", "root", KeyType::kEcdsaX509).error().reason ==
        Reason::kUnsupportedAlgorithm);
}

TEST_CASE("the wire answers match notary-signer's (rpc_api.go)") {
  Fixture f;
  auto ch = f.good_channel();
  auto km = ::proto::KeyManagement::NewStub(ch);
  auto sg = ::proto::Signer::NewStub(ch);

  ::proto::CreateKeyRequest req;
  req.set_algorithm("ecdsa");
  req.set_gun("example.com/app");
  req.set_role("timestamp");
  ::proto::PublicKey created;
  REQUIRE(km->CreateKey(ctx().get(), req, &created).ok());
  CHECK(created.keyinfo().algorithm().algorithm() == "ecdsa");
  auto pub = keys::PublicKey::from_tuf(KeyType::kEcdsa, as_bytes(created.publickey()));
  REQUIRE(pub.ok());
  CHECK(pub->id() == created.keyinfo().keyid().id());

  ::proto::KeyID id;
  id.set_id(pub->id());
  ::proto::GetKeyInfoResponse info;
  REQUIRE(km->GetKeyInfo(ctx().get(), id, &info).ok());
  CHECK(info.role() == "timestamp");
  CHECK(info.keyinfo().keyid().id() == pub->id());
  CHECK(info.keyinfo().algorithm().algorithm() == "ecdsa");
  CHECK(info.publickey() == created.publickey());

  ::proto::SignatureRequest sreq;
  sreq.mutable_keyid()->set_id(pub->id());
  sreq.set_content("hello");
  ::proto::Signature sig;
  REQUIRE(sg->Sign(ctx().get(), sreq, &sig).ok());
  CHECK(sig.keyinfo().keyid().id() == pub->id());
  CHECK(sig.keyinfo().algorithm().algorithm() == "ecdsa");
  CHECK(sig.algorithm().algorithm() == "ecdsa");
  CHECK(sig.content().size() == 64);
  CHECK(
      pub->verify(keys::SigMethod::kEcdsa, as_bytes(std::string("hello")), as_bytes(sig.content()))
          .ok());

  req.set_algorithm("ed25519");
  REQUIRE(km->CreateKey(ctx().get(), req, &created).ok());
  CHECK(created.publickey().size() == 32);
  sreq.mutable_keyid()->set_id(created.keyinfo().keyid().id());
  REQUIRE(sg->Sign(ctx().get(), sreq, &sig).ok());
  CHECK(sig.algorithm().algorithm() == "eddsa");
  CHECK(sig.keyinfo().algorithm().algorithm() == "ed25519");

  // Health: Notary's two service names and the overall status.
  auto health = ::grpc::health::v1::Health::NewStub(ch);
  for (const char* name : {kHealthKeyManagement, kHealthSigner, ""}) {
    ::grpc::health::v1::HealthCheckRequest hreq;
    hreq.set_service(name);
    ::grpc::health::v1::HealthCheckResponse hresp;
    REQUIRE(health->Check(ctx().get(), hreq, &hresp).ok());
    CHECK(hresp.status() == ::grpc::health::v1::HealthCheckResponse::SERVING);
  }
  ::grpc::health::v1::HealthCheckRequest unknown;
  unknown.set_service("grpc.health.v1.Health.Nothing");
  ::grpc::health::v1::HealthCheckResponse hresp;
  CHECK(health->Check(ctx().get(), unknown, &hresp).error_code() == grpc::StatusCode::NOT_FOUND);
}

TEST_CASE("bad input maps to NOT_FOUND / INVALID_ARGUMENT with fixed messages") {
  Fixture f;
  auto ch = f.good_channel();
  auto km = ::proto::KeyManagement::NewStub(ch);
  auto sg = ::proto::Signer::NewStub(ch);

  ::proto::KeyID unknown;
  unknown.set_id(std::string(64, 'a'));
  ::proto::GetKeyInfoResponse info;
  grpc::Status s = km->GetKeyInfo(ctx().get(), unknown, &info);
  CHECK(s.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(s.error_message() == "key not found");

  ::proto::SignatureRequest sreq;
  sreq.mutable_keyid()->set_id("../not-a-key");
  sreq.set_content("x");
  ::proto::Signature sig;
  s = sg->Sign(ctx().get(), sreq, &sig);
  CHECK(s.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(s.error_message() == "key not found");

  for (const char* alg : {"dsa", "", "ecdsa-x509", "ECDSA", "rsa-x509"}) {
    CAPTURE(alg);
    ::proto::CreateKeyRequest req;
    req.set_algorithm(alg);
    req.set_role("timestamp");
    ::proto::PublicKey created;
    s = km->CreateKey(ctx().get(), req, &created);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(s.error_message() == "unsupported algorithm");
  }
  ::proto::CreateKeyRequest long_role;
  long_role.set_algorithm("ecdsa");
  long_role.set_role(std::string(300, 'r'));
  ::proto::PublicKey created;
  CHECK(km->CreateKey(ctx().get(), long_role, &created).error_code() ==
        grpc::StatusCode::INVALID_ARGUMENT);

  ::proto::CreateKeyRequest req;
  req.set_algorithm("ed25519");
  req.set_role("snapshot");
  REQUIRE(km->CreateKey(ctx().get(), req, &created).ok());
  sreq.mutable_keyid()->set_id(created.keyinfo().keyid().id());

  SUBCASE("content at the limit is signed") {
    sreq.set_content(std::string(kContentLimit, 'c'));
    CHECK(sg->Sign(ctx().get(), sreq, &sig).ok());
  }
  SUBCASE("content one byte over the limit is INVALID_ARGUMENT") {
    sreq.set_content(std::string(kContentLimit + 1, 'c'));
    s = sg->Sign(ctx().get(), sreq, &sig);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(s.error_message() == "content too large");
  }
  SUBCASE("a message beyond the transport bound is refused before it is read") {
    sreq.set_content(std::string(256 * 1024, 'c'));
    s = sg->Sign(ctx().get(), sreq, &sig);
    CHECK(s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  }
  SUBCASE("RemoteSigner reports oversized content as kTooLarge") {
    auto remote = f.remote();
    auto pub = remote->public_key(created.keyinfo().keyid().id());
    REQUIRE(pub.ok());
    auto r = remote->sign(*pub, Bytes(kContentLimit + 1, 'c'));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::kInvalidArgument);
    CHECK(r.error().reason == Reason::kTooLarge);
  }
  SUBCASE("an expired deadline") {
    sreq.set_content("x");
    grpc::ClientContext c;
    c.set_deadline(std::chrono::system_clock::now() - std::chrono::seconds(1));
    CHECK(sg->Sign(&c, sreq, &sig).error_code() == grpc::StatusCode::DEADLINE_EXCEEDED);
  }
}

TEST_CASE("internal error text never reaches the peer") {
  Fixture f;
  auto remote = f.remote();
  auto pub = remote->create_key("g", "timestamp", KeyType::kEcdsa);
  REQUIRE(pub.ok());
  // Corrupt the key's record behind the signer's back, then restart it.
  f.stop();
  {
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(rocksdb::Options(), f.dir_ / "keys.db", &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    std::string v;
    REQUIRE(db->Get(rocksdb::ReadOptions(), "k/" + pub->id(), &v).ok());
    store::v1::KeyRecord r;
    REQUIRE(r.ParseFromString(v));
    std::string c = r.ciphertext();
    c[0] = static_cast<char>(c[0] ^ 1);
    r.set_ciphertext(c);
    REQUIRE(db->Put(rocksdb::WriteOptions(), "k/" + pub->id(), r.SerializeAsString()).ok());
  }
  f.start();
  auto sg = ::proto::Signer::NewStub(f.good_channel());
  ::proto::SignatureRequest sreq;
  sreq.mutable_keyid()->set_id(pub->id());
  sreq.set_content("x");
  ::proto::Signature sig;
  grpc::Status s = sg->Sign(ctx().get(), sreq, &sig);
  CHECK(s.error_code() == grpc::StatusCode::INTERNAL);
  CHECK(s.error_message() == "internal error");
  CHECK(s.error_details().empty());
}

TEST_CASE("mutual TLS is mandatory") {
  Fixture f;
  auto try_health = [&](std::shared_ptr<grpc::Channel> ch) {
    auto health = ::grpc::health::v1::Health::NewStub(ch);
    ::grpc::health::v1::HealthCheckRequest req;
    ::grpc::health::v1::HealthCheckResponse resp;
    return health->Check(ctx(std::chrono::seconds(10)).get(), req, &resp);
  };
  SUBCASE("a client with a certificate from the right CA is served") {
    CHECK(try_health(f.good_channel()).ok());
  }
  SUBCASE("a client without a certificate is rejected") {
    const grpc::Status s = try_health(f.channel(f.pki_.ca_pem(), nullptr));
    CHECK(s.error_code() == grpc::StatusCode::UNAVAILABLE);
  }
  SUBCASE("a client whose certificate comes from another CA is rejected") {
    Pki other("another CA");
    const Issued stranger = other.issue("vouch-server", false);
    const grpc::Status s = try_health(f.channel(f.pki_.ca_pem(), &stranger));
    CHECK(s.error_code() == grpc::StatusCode::UNAVAILABLE);
  }
  SUBCASE("a client that does not trust the signer's CA gives up") {
    Pki other("another CA");
    const grpc::Status s = try_health(f.channel(other.ca_pem(), &f.client_cert_));
    CHECK(s.error_code() == grpc::StatusCode::UNAVAILABLE);
  }
  SUBCASE("RemoteSigner refuses to start without client credentials") {
    RemoteSignerOptions o = f.remote_options();
    o.tls_client_key_pem = keys::SecretString();
    CHECK(RemoteSigner::create(std::move(o)).error().code == Code::kInvalidArgument);
  }
  SUBCASE("the server refuses to start without a client CA") {
    SignerServerOptions so;
    so.tls_cert_pem = f.server_cert_.cert_pem;
    so.tls_key_pem = keys::SecretString(f.server_cert_.key_pem);
    auto s =
        SignerServer::start(std::move(so), *f.store_, std::make_shared<prometheus::Registry>());
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == Code::kInvalidArgument);
  }
}

namespace {

// A raw TLS handshake with OpenSSL, limited to `max_version`, optionally with a client cert.
bool handshake(int port, int max_version, const Issued* client, const std::string& ca_pem) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
  SSL_CTX_set_max_proto_version(ctx, max_version);
  SSL_CTX_set_security_level(ctx, 0);  // allow offering TLS 1.0/1.1 at all
  static const unsigned char alpn[] = {2, 'h', '2'};
  SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn);
  BIO* cab = BIO_new_mem_buf(ca_pem.data(), static_cast<int>(ca_pem.size()));
  X509* ca = PEM_read_bio_X509(cab, nullptr, nullptr, nullptr);
  X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca);
  X509_free(ca);
  BIO_free(cab);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (client != nullptr) {
    BIO* cb = BIO_new_mem_buf(client->cert_pem.data(), static_cast<int>(client->cert_pem.size()));
    X509* cert = PEM_read_bio_X509(cb, nullptr, nullptr, nullptr);
    BIO* kb = BIO_new_mem_buf(client->key_pem.data(), static_cast<int>(client->key_pem.size()));
    EVP_PKEY* key = PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr);
    SSL_CTX_use_certificate(ctx, cert);
    SSL_CTX_use_PrivateKey(ctx, key);
    X509_free(cert);
    EVP_PKEY_free(key);
    BIO_free(cb);
    BIO_free(kb);
  }
  const std::string addr = "127.0.0.1:" + std::to_string(port);
  BIO* bio = BIO_new_ssl_connect(ctx);
  BIO_set_conn_hostname(bio, addr.c_str());
  SSL* ssl = nullptr;
  BIO_get_ssl(bio, &ssl);
  SSL_set1_host(ssl, "127.0.0.1");
  bool ok = BIO_do_connect(bio) == 1 && BIO_do_handshake(bio) == 1;
  if (ok && SSL_version(ssl) >= TLS1_3_VERSION) {
    // TLS 1.3 sends the client certificate's verdict after the handshake: read once.
    char buf[1];
    BIO_write(bio, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
    ok = BIO_read(bio, buf, 1) > 0;
  }
  BIO_free_all(bio);
  SSL_CTX_free(ctx);
  ERR_clear_error();
  return ok;
}

}  // namespace

TEST_CASE("TLS 1.2 and 1.3 only") {
  Fixture f;
  const int port = f.server_->port();
  CHECK_FALSE(handshake(port, TLS1_VERSION, &f.client_cert_, f.pki_.ca_pem()));
  CHECK_FALSE(handshake(port, TLS1_1_VERSION, &f.client_cert_, f.pki_.ca_pem()));
  CHECK(handshake(port, TLS1_2_VERSION, &f.client_cert_, f.pki_.ca_pem()));
  CHECK(handshake(port, TLS1_3_VERSION, &f.client_cert_, f.pki_.ca_pem()));
  CHECK_FALSE(handshake(port, TLS1_2_VERSION, nullptr, f.pki_.ca_pem()));
}

TEST_CASE("metrics count RPCs by method and code") {
  Fixture f;
  auto remote = f.remote();
  auto pub = remote->create_key("g", "timestamp", KeyType::kEd25519);
  REQUIRE(pub.ok());
  for (int i = 0; i < 3; ++i) REQUIRE(remote->sign(*pub, bytes("m")).ok());
  CHECK_FALSE(remote->public_key(std::string(64, 'b')).ok());
  const std::string text = f.metrics_text();
  CHECK(text.find(R"(vouch_signer_rpcs_total{code="OK",method="Sign"} 3)") != std::string::npos);
  CHECK(text.find(R"(vouch_signer_rpcs_total{code="OK",method="CreateKey"} 1)") !=
        std::string::npos);
  CHECK(text.find(R"(vouch_signer_rpc_errors_total{code="NotFound",method="GetKeyInfo"} 1)") !=
        std::string::npos);
  CHECK(text.find(R"(vouch_signer_signatures_total{algorithm="ed25519"} 3)") != std::string::npos);
  CHECK(text.find(R"(vouch_signer_rpc_duration_seconds_count{method="Sign"} 3)") !=
        std::string::npos);
}

TEST_CASE("concurrent signing through gRPC") {
  Fixture f;
  auto remote = f.remote();
  std::vector<keys::PublicKey> pubs;
  for (int i = 0; i < 4; ++i) {
    pubs.push_back(*remote->create_key("g" + std::to_string(i), "timestamp",
                                       i % 2 ? KeyType::kEcdsa : KeyType::kEd25519));
  }
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        const auto& pub = pubs[static_cast<std::size_t>(t + i) % pubs.size()];
        const Bytes msg = bytes("msg " + std::to_string(t) + "/" + std::to_string(i));
        auto sig = remote->sign(pub, msg);
        if (!sig || !pub.verify(sig->method, msg, sig->bytes)) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(failures.load() == 0);
}

TEST_CASE("RemoteSigner retries UNAVAILABLE and gives up with kUnavailable") {
  Fixture f;
  RemoteSignerOptions o = f.remote_options();
  o.target = "127.0.0.1:" + std::to_string(free_port());  // nobody listens
  o.max_attempts = 3;
  o.initial_backoff = std::chrono::milliseconds(10);
  o.timeout = std::chrono::seconds(5);
  auto remote = std::move(RemoteSigner::create(std::move(o))).value();
  auto r = remote->public_key(std::string(64, 'a'));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason == Reason::kUnavailable);
  CHECK(remote->check_health().error().reason == Reason::kUnavailable);

  SUBCASE("a signer that comes up during the retries is reached") {
    auto pub = f.remote()->create_key("g", "timestamp", KeyType::kEcdsa);
    REQUIRE(pub.ok());
    // Stop the signer, start a call against its port, and bring the signer back there.
    RemoteSignerOptions ro = f.remote_options();
    const std::string target = ro.target;
    f.stop();
    ro.max_attempts = 50;
    ro.initial_backoff = std::chrono::milliseconds(50);
    ro.max_backoff = std::chrono::milliseconds(200);
    auto client = std::move(RemoteSigner::create(std::move(ro))).value();
    std::atomic<bool> done{false};
    Result<keys::Signature> sig = make_error(Reason::kInternal, "not run");
    std::thread caller([&] {
      sig = client->sign(*pub, bytes("late"));
      done = true;
    });
    // Bring the signer back on the same port.
    KeyStoreOptions so;
    so.db_path = f.dir_ / "keys.db";
    so.default_alias = "testalias";
    so.passphrases = [](std::string_view) -> Result<keys::SecretString> {
      return keys::SecretString("test passphrase");
    };
    auto store = std::move(KeyStore::open(std::move(so))).value();
    SignerServerOptions sopt;
    sopt.listen = target;
    sopt.tls_cert_pem = f.server_cert_.cert_pem;
    sopt.tls_key_pem = keys::SecretString(f.server_cert_.key_pem);
    sopt.client_ca_pem = f.pki_.ca_pem();
    auto server =
        SignerServer::start(std::move(sopt), *store, std::make_shared<prometheus::Registry>());
    REQUIRE(server.ok());
    caller.join();
    REQUIRE_MESSAGE(sig.ok(), (sig.ok() ? "" : sig.error().message));
    CHECK(pub->verify(sig->method, bytes("late"), sig->bytes).ok());
  }
}

TEST_CASE("shutdown marks the health services NOT_SERVING and refuses new calls") {
  Fixture f;
  auto remote = f.remote();
  REQUIRE(remote->check_health().ok());
  CHECK(f.server_->serving());
  f.server_->shutdown(std::chrono::seconds(5));
  CHECK_FALSE(f.server_->serving());
  RemoteSignerOptions o = f.remote_options();
  o.max_attempts = 1;
  auto after = std::move(RemoteSigner::create(std::move(o))).value();
  CHECK_FALSE(after->check_health().ok());
}

TEST_SUITE_END();
