#include "signer/remote_signer.h"

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/credentials.h>
#include <openssl/crypto.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>
#include <utility>

#include "common/fs.h"
#include "keys/secret_file.h"
#include "proto/health.grpc.pb.h"
#include "proto/signer.grpc.pb.h"

namespace vouch::signer {

namespace {

// The most read of a CA bundle or certificate file.
constexpr std::size_t kMaxPemFile = 1024 * 1024;

enum class Call { kSign, kCreateKey, kOther };

Error status_to_error(const grpc::Status& s, Call call, std::string_view what) {
  std::string msg = "remote signer: " + std::string(what) + ": gRPC code " +
                    std::to_string(static_cast<int>(s.error_code())) + ": " + s.error_message();
  switch (s.error_code()) {
    case grpc::StatusCode::NOT_FOUND:
      return make_error(Code::kNotFound, Reason::kUnknownKey, std::move(msg));
    case grpc::StatusCode::UNAVAILABLE:
      return make_error(Code::kUnavailable, Reason::kUnavailable, std::move(msg));
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return make_error(Code::kDeadlineExceeded, Reason::kUnavailable, std::move(msg));
    case grpc::StatusCode::INVALID_ARGUMENT:
      return make_error(Code::kInvalidArgument,
                        call == Call::kCreateKey ? Reason::kUnsupportedAlgorithm
                        : call == Call::kSign    ? Reason::kTooLarge
                                                 : Reason::kMalformed,
                        std::move(msg));
    case grpc::StatusCode::UNKNOWN:
      if (call == Call::kCreateKey) {
        return make_error(Code::kInvalidArgument, Reason::kUnsupportedAlgorithm, std::move(msg));
      }
      return make_error(Code::kInternal, Reason::kInternal, std::move(msg));
    default:
      return make_error(Code::kInternal, Reason::kInternal, std::move(msg));
  }
}

Result<keys::PublicKey> parse_public(std::string_view alg, const std::string& bytes,
                                     std::string_view want_id) {
  auto type = keys::parse_key_type(alg);
  if (!type) return make_error(Reason::kInternal, "remote signer: unknown key algorithm in answer");
  auto pub = keys::PublicKey::from_tuf(*type, as_bytes(bytes));
  if (!pub) {
    Error e = std::move(pub).error();
    e.code = Code::kInternal;
    return std::move(e).wrap("remote signer: public key in answer");
  }
  if (!want_id.empty() && pub->id() != want_id) {
    return make_error(Reason::kInternal, "remote signer: answered key ID " + std::string(want_id) +
                                             " does not match its public key " + pub->id());
  }
  return pub;
}

}  // namespace

Result<RemoteSignerOptions> remote_signer_options_from_files(std::string target,
                                                             const std::string& ca_file,
                                                             const std::string& cert_file,
                                                             const std::string& key_file) {
  RemoteSignerOptions o;
  o.target = std::move(target);
  // The common readers (issue 13): files bounded, the key straight into zeroizing memory.
  VOUCH_ASSIGN_OR_RETURN(o.tls_ca_pem, read_file_bounded(ca_file, kMaxPemFile));
  VOUCH_ASSIGN_OR_RETURN(o.tls_client_cert_pem, read_file_bounded(cert_file, kMaxPemFile));
  VOUCH_ASSIGN_OR_RETURN(o.tls_client_key_pem, keys::read_secret_file(key_file, kMaxPemFile));
  return o;
}

struct RemoteSigner::Impl {
  // One channel to the signer and its stubs.
  struct Connection {
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<::proto::KeyManagement::Stub> km;
    std::unique_ptr<::proto::Signer::Stub> signer;
    std::unique_ptr<::grpc::health::v1::Health::Stub> health;
  };

  RemoteSignerOptions options;
  std::shared_ptr<grpc::ChannelCredentials> creds;
  grpc::ChannelArguments args;
  std::mutex mu;
  std::shared_ptr<Connection> connection;  // guarded by mu; replaced, never changed
  std::atomic<bool> reachable{true};        // reachable()'s last decided answer

  void connect() {
    auto c = std::make_shared<Connection>();
    c->channel = grpc::CreateCustomChannel(options.target, creds, args);
    c->km = ::proto::KeyManagement::NewStub(c->channel);
    c->signer = ::proto::Signer::NewStub(c->channel);
    c->health = ::grpc::health::v1::Health::NewStub(c->channel);
    std::lock_guard lock(mu);
    connection = std::move(c);
  }
  std::shared_ptr<Connection> current() {
    std::lock_guard lock(mu);
    return connection;
  }
  // After an UNAVAILABLE: a channel in TRANSIENT_FAILURE waits out its reconnect backoff
  // (which grows while the signer is down) before it tries again, so a signer that is back
  // would go on failing calls for seconds. A new channel (with its own subchannels) connects
  // at once. Only the connection that failed is replaced, once.
  void reconnect_if_failed(const std::shared_ptr<Connection>& failed) {
    if (failed->channel->GetState(false) != GRPC_CHANNEL_TRANSIENT_FAILURE) return;
    {
      std::lock_guard lock(mu);
      if (connection != failed) return;
    }
    connect();
  }

  // Runs `fn(ctx, connection)` with a fresh context and deadline per attempt; retries
  // UNAVAILABLE, reconnecting on demand.
  template <typename Fn>
  grpc::Status call(Fn&& fn) {
    std::chrono::milliseconds backoff = options.initial_backoff;
    grpc::Status status;
    for (int attempt = 1;; ++attempt) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + options.timeout);
      std::shared_ptr<Connection> c = current();
      status = fn(ctx, *c);
      if (status.error_code() == grpc::StatusCode::UNAVAILABLE) reconnect_if_failed(c);
      if (status.error_code() != grpc::StatusCode::UNAVAILABLE || attempt >= options.max_attempts) {
        return status;
      }
      thread_local std::mt19937 rng{std::random_device{}()};
      std::uniform_real_distribution<double> jitter(0.8, 1.2);
      std::this_thread::sleep_for(
          std::chrono::duration_cast<std::chrono::milliseconds>(backoff * jitter(rng)));
      backoff = std::min(backoff * 2, options.max_backoff);
    }
  }
};

RemoteSigner::RemoteSigner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RemoteSigner::~RemoteSigner() = default;

Result<std::unique_ptr<RemoteSigner>> RemoteSigner::create(RemoteSignerOptions options) {
  if (options.target.empty()) {
    return make_error(Code::kInvalidArgument, Reason::kMalformed, "remote signer: no target");
  }
  if (options.tls_ca_pem.empty() || options.tls_client_cert_pem.empty() ||
      options.tls_client_key_pem.empty()) {
    return make_error(Code::kInvalidArgument, Reason::kMalformed,
                      "remote signer: mutual TLS needs a CA, a client certificate and its key");
  }
  options.max_attempts = std::max(options.max_attempts, 1);
  auto impl = std::make_unique<Impl>();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = options.tls_ca_pem;
  ssl.pem_cert_chain = options.tls_client_cert_pem;
  // gRPC keeps its own copy of the key; ours is wiped once the credentials exist.
  ssl.pem_private_key = std::string(options.tls_client_key_pem.view());
  impl->creds = grpc::SslCredentials(ssl);
  OPENSSL_cleanse(ssl.pem_private_key.data(), ssl.pem_private_key.size());

  grpc::ChannelArguments& args = impl->args;
  const int max_msg = static_cast<int>(std::min<std::size_t>(options.max_message_bytes, INT_MAX));
  args.SetMaxReceiveMessageSize(max_msg);
  args.SetMaxSendMessageSize(max_msg);
  if (!options.tls_server_name.empty()) args.SetSslTargetNameOverride(options.tls_server_name);
  // Reconnect quickly after a signer restart; the retry loop covers the gap.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  // Subchannels of our own: a replacement channel (reconnect_if_failed) must not inherit the
  // failed one's backoff from gRPC's global subchannel pool.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  impl->options = std::move(options);
  impl->connect();
  return std::unique_ptr<RemoteSigner>(new RemoteSigner(std::move(impl)));
}

Result<keys::Signature> RemoteSigner::sign(const keys::PublicKey& key, ByteSpan content) {
  ::proto::SignatureRequest req;
  req.mutable_keyid()->set_id(key.canonical_id());
  req.set_content(std::string(as_string_view(content)));
  ::proto::Signature resp;
  grpc::Status s = impl_->call([&](grpc::ClientContext& ctx, Impl::Connection& c) {
    resp.Clear();
    return c.signer->Sign(&ctx, req, &resp);
  });
  if (!s.ok()) return status_to_error(s, Call::kSign, "Sign");
  if (!resp.keyinfo().keyid().id().empty() && resp.keyinfo().keyid().id() != key.canonical_id()) {
    return make_error(Reason::kInternal, "remote signer: answered for another key ID");
  }
  auto method = keys::parse_sig_method(resp.algorithm().algorithm());
  if (!method) {
    return make_error(Reason::kInternal, "remote signer: unknown signature method in answer");
  }
  const keys::KeyType plain = keys::plain_key_type(key.type());
  const bool fits = (plain == keys::KeyType::kEcdsa && *method == keys::SigMethod::kEcdsa) ||
                    (plain == keys::KeyType::kEd25519 && *method == keys::SigMethod::kEddsa) ||
                    (plain == keys::KeyType::kRsa && *method == keys::SigMethod::kRsaPss);
  if (!fits) {
    return make_error(Code::kInternal, Reason::kWrongMethod,
                      "remote signer: answered method does not belong to the key");
  }
  keys::Signature sig{*method, Bytes(resp.content().begin(), resp.content().end())};
  if (impl_->options.verify_signatures) {
    if (auto v = key.verify(sig.method, content, sig.bytes); !v) {
      return make_error(Code::kInternal, Reason::kBadSignature,
                        "remote signer: returned signature does not verify with key " + key.id());
    }
  }
  return sig;
}

Result<keys::PublicKey> RemoteSigner::create_key(std::string_view gun, std::string_view role,
                                                 keys::KeyType type) {
  if (keys::is_x509(type)) {
    return make_error(Reason::kUnsupportedAlgorithm, "remote signer: cannot create x509 keys");
  }
  ::proto::CreateKeyRequest req;
  req.set_algorithm(std::string(keys::to_string(type)));
  req.set_gun(std::string(gun));
  req.set_role(std::string(role));
  ::proto::PublicKey resp;
  grpc::Status s = impl_->call([&](grpc::ClientContext& ctx, Impl::Connection& c) {
    resp.Clear();
    return c.km->CreateKey(&ctx, req, &resp);
  });
  if (!s.ok()) return status_to_error(s, Call::kCreateKey, "CreateKey");
  VOUCH_ASSIGN_OR_RETURN(keys::PublicKey pub,
                         parse_public(resp.keyinfo().algorithm().algorithm(), resp.publickey(),
                                      resp.keyinfo().keyid().id()));
  if (pub.type() != type) {
    return make_error(Reason::kInternal, "remote signer: created a key of another type");
  }
  return pub;
}

namespace {

// One GetKeyInfo call for `key_id`.
Result<::proto::GetKeyInfoResponse> get_key_info(RemoteSigner::Impl& impl,
                                                 std::string_view key_id) {
  ::proto::KeyID req;
  req.set_id(std::string(key_id));
  ::proto::GetKeyInfoResponse resp;
  grpc::Status s = impl.call([&](grpc::ClientContext& ctx, RemoteSigner::Impl::Connection& c) {
    resp.Clear();
    return c.km->GetKeyInfo(&ctx, req, &resp);
  });
  if (!s.ok()) return status_to_error(s, Call::kOther, "GetKeyInfo");
  return resp;
}

}  // namespace

Result<keys::PublicKey> RemoteSigner::public_key(std::string_view key_id) {
  VOUCH_ASSIGN_OR_RETURN(const ::proto::GetKeyInfoResponse resp, get_key_info(*impl_, key_id));
  if (resp.keyinfo().keyid().id() != key_id) {
    return make_error(Reason::kInternal, "remote signer: answered for another key ID");
  }
  return parse_public(resp.keyinfo().algorithm().algorithm(), resp.publickey(), key_id);
}

Result<std::string> RemoteSigner::key_role(std::string_view key_id) {
  VOUCH_ASSIGN_OR_RETURN(const ::proto::GetKeyInfoResponse resp, get_key_info(*impl_, key_id));
  return resp.role();
}

Status RemoteSigner::delete_key(std::string_view key_id) {
  ::proto::KeyID req;
  req.set_id(std::string(key_id));
  ::proto::Void resp;
  grpc::Status s =
      impl_->call([&](grpc::ClientContext& ctx, Impl::Connection& c) {
        return c.km->DeleteKey(&ctx, req, &resp);
      });
  if (!s.ok()) return status_to_error(s, Call::kOther, "DeleteKey");
  return ok_status();
}

bool RemoteSigner::reachable() {
  std::shared_ptr<Impl::Connection> c = impl_->current();
  switch (c->channel->GetState(/*try_to_connect=*/true)) {
    case GRPC_CHANNEL_READY:
    case GRPC_CHANNEL_IDLE:
      impl_->reachable = true;
      break;
    case GRPC_CHANNEL_TRANSIENT_FAILURE:
    case GRPC_CHANNEL_SHUTDOWN:
      impl_->reachable = false;
      break;
    case GRPC_CHANNEL_CONNECTING:
      break;  // undecided: the last answer stands
  }
  return impl_->reachable;
}

Status RemoteSigner::check_health() {
  for (const char* service :
       {"grpc.health.v1.Health.KeyManagement", "grpc.health.v1.Health.Signer"}) {
    ::grpc::health::v1::HealthCheckRequest req;
    req.set_service(service);
    ::grpc::health::v1::HealthCheckResponse resp;
    grpc::Status s = impl_->call([&](grpc::ClientContext& ctx, Impl::Connection& c) {
      resp.Clear();
      return c.health->Check(&ctx, req, &resp);
    });
    if (!s.ok()) {
      Error e = status_to_error(s, Call::kOther, std::string("health ") + service);
      e.code = Code::kUnavailable;
      e.reason = Reason::kUnavailable;
      return e;
    }
    if (resp.status() != ::grpc::health::v1::HealthCheckResponse::SERVING) {
      return make_error(Reason::kUnavailable,
                        std::string("remote signer: ") + service + " is not serving");
    }
  }
  return ok_status();
}

}  // namespace vouch::signer
