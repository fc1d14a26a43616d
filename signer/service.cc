#include "signer/service.h"

#include <grpc/grpc.h>
#include <grpc/grpc_security_constants.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <exception>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "common/log.h"
#include "common/net/grpc_calls.h"
#include "keys/crypto.h"
#include "proto/signer.grpc.pb.h"
#include "proto/signer_admin.grpc.pb.h"
#include "signer/metrics.h"

namespace vouch::signer {

grpc::Status error_to_status(const Error& error) {
  switch (error.code) {
    case Code::kOk:
      return grpc::Status::OK;
    case Code::kNotFound:
      return {grpc::StatusCode::NOT_FOUND, "key not found"};
    case Code::kInvalidArgument:
      switch (error.reason) {
        case Reason::kUnsupportedAlgorithm:
          return {grpc::StatusCode::INVALID_ARGUMENT, "unsupported algorithm"};
        case Reason::kTooLarge:
          return {grpc::StatusCode::INVALID_ARGUMENT, "content too large"};
        default:
          return {grpc::StatusCode::INVALID_ARGUMENT, "invalid argument"};
      }
    case Code::kDeadlineExceeded:
      return {grpc::StatusCode::DEADLINE_EXCEEDED, "deadline exceeded"};
    case Code::kCancelled:
      return {grpc::StatusCode::CANCELLED, "cancelled"};
    case Code::kResourceExhausted:
      return {grpc::StatusCode::RESOURCE_EXHAUSTED, "resource exhausted"};
    case Code::kUnavailable:
      return {grpc::StatusCode::UNAVAILABLE, "unavailable"};
    default:
      return {grpc::StatusCode::INTERNAL, "internal error"};
  }
}

namespace {

using Clock = std::chrono::steady_clock;

// Log-safe rendering of peer-supplied text: printable ASCII except space, '"' and '\' is
// kept, everything else is %XX-escaped, and the result is bounded.
std::string sanitize(std::string_view s, std::size_t max = 256) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(std::min(s.size(), max));
  for (char ch : s) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    const auto c = static_cast<unsigned char>(ch);
    if (c > 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '%') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  if (out.empty()) out = "-";
  return out;
}

// The caller's identity from its client certificate: "cn=<CN> san=<SAN,SAN>".
std::string caller_identity(const grpc::CallbackServerContext& ctx) {
  std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
  std::string cn = "-";
  std::string san;
  if (auth) {
    for (const auto& v : auth->FindPropertyValues(GRPC_X509_CN_PROPERTY_NAME)) {
      cn = sanitize(std::string_view(v.data(), v.size()));
      break;
    }
    std::size_t n = 0;
    for (const auto& v : auth->FindPropertyValues(GRPC_X509_SAN_PROPERTY_NAME)) {
      if (++n > 8) break;
      if (!san.empty()) san += ',';
      san += sanitize(std::string_view(v.data(), v.size()), 128);
    }
  }
  if (san.empty()) san = "-";
  return "cn=" + cn + " san=" + san;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

bool deadline_passed(const grpc::CallbackServerContext& ctx) {
  return ctx.deadline() < std::chrono::system_clock::now();
}

// The key type a signature method belongs to (the RSA methods all to kRsa).
keys::KeyType key_type_of(keys::SigMethod method) {
  switch (method) {
    case keys::SigMethod::kEcdsa:
      return keys::KeyType::kEcdsa;
    case keys::SigMethod::kEddsa:
      return keys::KeyType::kEd25519;
    default:
      return keys::KeyType::kRsa;
  }
}

struct Shared {
  Shared(KeyStore& st, SignerMetrics& m, std::size_t max)
      : store(st), metrics(m), max_content_bytes(max) {}
  KeyStore& store;
  SignerMetrics& metrics;
  std::size_t max_content_bytes;
  std::shared_ptr<spdlog::logger> log = log::get("signer");
  std::shared_ptr<spdlog::logger> audit = log::get("signer.audit");
  // RPCs whose reactor has not reached OnDone (the answer may still be on its way).
  net::InflightCalls inflight;
};

// Runs `body` (which returns a grpc::Status) with the catch-all, metrics and a finished
// reactor.
template <typename Body>
grpc::ServerUnaryReactor* run(Shared& s, Method method, Body&& body) {
  const auto start = Clock::now();
  grpc::Status status;
  try {
    status = body(start);
  } catch (const std::exception& e) {
    s.log->error("rpc={} unexpected exception: {}", to_string(method), sanitize(e.what(), 512));
    status = {grpc::StatusCode::INTERNAL, "internal error"};
  } catch (...) {
    s.log->error("rpc={} unexpected exception", to_string(method));
    status = {grpc::StatusCode::INTERNAL, "internal error"};
  }
  s.metrics.observe(method, status.error_code(), seconds_since(start));
  auto* reactor = new net::CountedReactor(s.inflight);
  reactor->Finish(status);
  return reactor;
}

// Logs an RPC outcome at the boundary: code, reason and detail (local only).
void log_outcome(Shared& s, Method method, const std::string& fields, const Error* error,
                 const grpc::Status& status, Clock::time_point start) {
  const long long us = static_cast<long long>(seconds_since(start) * 1e6);
  if (error == nullptr) {
    s.log->info("rpc={} {} code=OK latency_us={}", to_string(method), fields, us);
  } else if (status.error_code() == grpc::StatusCode::INTERNAL) {
    s.log->error("rpc={} {} code={} reason={} latency_us={} detail={}", to_string(method), fields,
                 static_cast<int>(status.error_code()), to_string(error->reason), us,
                 sanitize(error->message, 1024));
  } else {
    s.log->info("rpc={} {} code={} reason={} latency_us={}", to_string(method), fields,
                static_cast<int>(status.error_code()), to_string(error->reason), us);
  }
}

class KeyManagementImpl final : public ::proto::KeyManagement::CallbackService {
 public:
  explicit KeyManagementImpl(Shared& s) : s_(s) {}

  grpc::ServerUnaryReactor* CreateKey(grpc::CallbackServerContext* ctx,
                                      const ::proto::CreateKeyRequest* req,
                                      ::proto::PublicKey* resp) override {
    return run(s_, Method::kCreateKey, [&](Clock::time_point start) {
      const std::string fields = "algorithm=" + sanitize(req->algorithm(), 32) +
                                 " role=" + sanitize(req->role()) + " gun=" + sanitize(req->gun()) +
                                 " " + caller_identity(*ctx);
      auto result = [&]() -> Result<keys::PublicKey> {
        if (deadline_passed(*ctx))
          return make_error(Code::kDeadlineExceeded, Reason::kNone, "deadline");
        auto type = keys::parse_key_type(req->algorithm());
        if (!type || keys::is_x509(*type)) {
          return make_error(Reason::kUnsupportedAlgorithm, "unsupported algorithm");
        }
        return s_.store.create_key(req->role(), req->gun(), *type);
      }();
      if (!result) {
        grpc::Status st = error_to_status(result.error());
        log_outcome(s_, Method::kCreateKey, fields, &result.error(), st, start);
        return st;
      }
      resp->mutable_keyinfo()->mutable_keyid()->set_id(result->id());
      resp->mutable_keyinfo()->mutable_algorithm()->set_algorithm(
          std::string(keys::to_string(result->type())));
      resp->set_publickey(
          std::string(result->public_bytes().begin(), result->public_bytes().end()));
      log_outcome(s_, Method::kCreateKey, fields + " key_id=" + result->id(), nullptr,
                  grpc::Status::OK, start);
      return grpc::Status::OK;
    });
  }

  grpc::ServerUnaryReactor* DeleteKey(grpc::CallbackServerContext* ctx, const ::proto::KeyID* req,
                                      ::proto::Void*) override {
    return run(s_, Method::kDeleteKey, [&](Clock::time_point start) {
      const std::string fields = "key_id=" + sanitize(req->id(), 80) + " " + caller_identity(*ctx);
      Status result = s_.store.delete_key(req->id());
      if (!result) {
        grpc::Status st = error_to_status(result.error());
        log_outcome(s_, Method::kDeleteKey, fields, &result.error(), st, start);
        return st;
      }
      log_outcome(s_, Method::kDeleteKey, fields, nullptr, grpc::Status::OK, start);
      return grpc::Status::OK;
    });
  }

  grpc::ServerUnaryReactor* GetKeyInfo(grpc::CallbackServerContext* /*ctx*/,
                                       const ::proto::KeyID* req,
                                       ::proto::GetKeyInfoResponse* resp) override {
    return run(s_, Method::kGetKeyInfo, [&](Clock::time_point start) {
      auto result = s_.store.key_info(req->id());
      if (!result) {
        grpc::Status st = error_to_status(result.error());
        log_outcome(s_, Method::kGetKeyInfo, "key_id=" + sanitize(req->id(), 80), &result.error(),
                    st, start);
        return st;
      }
      resp->mutable_keyinfo()->mutable_keyid()->set_id(result->key_id);
      resp->mutable_keyinfo()->mutable_algorithm()->set_algorithm(
          std::string(keys::to_string(result->type)));
      const Bytes& pub = result->public_key.public_bytes();
      resp->set_publickey(std::string(pub.begin(), pub.end()));
      resp->set_role(result->role);
      s_.log->debug("rpc=GetKeyInfo key_id={} code=OK", result->key_id);
      return grpc::Status::OK;
    });
  }

 private:
  Shared& s_;
};

class SignerImpl final : public ::proto::Signer::CallbackService {
 public:
  explicit SignerImpl(Shared& s) : s_(s) {}

  grpc::ServerUnaryReactor* Sign(grpc::CallbackServerContext* ctx,
                                 const ::proto::SignatureRequest* req,
                                 ::proto::Signature* resp) override {
    return run(s_, Method::kSign, [&](Clock::time_point start) {
      const std::string& key_id = req->keyid().id();
      const ByteSpan content = as_bytes(req->content());
      auto result = [&]() -> Result<keys::Signature> {
        if (content.size() > s_.max_content_bytes) {
          return make_error(Code::kInvalidArgument, Reason::kTooLarge, "content too large");
        }
        if (deadline_passed(*ctx))
          return make_error(Code::kDeadlineExceeded, Reason::kNone, "deadline");
        return s_.store.sign(key_id, content);
      }();
      grpc::Status st = result ? grpc::Status::OK : error_to_status(result.error());
      // One audit line per signature attempt: never the content, never a secret.
      const long long us = static_cast<long long>(seconds_since(start) * 1e6);
      const std::string digest =
          content.size() <= s_.max_content_bytes ? keys::sha256_hex(content) : std::string("-");
      if (result) {
        s_.audit->info("sign key_id={} method={} sha256={} bytes={} {} code=OK latency_us={}",
                       sanitize(key_id, 80), keys::to_string(result->method), digest,
                       content.size(), caller_identity(*ctx), us);
        resp->mutable_keyinfo()->mutable_keyid()->set_id(key_id);
        resp->mutable_keyinfo()->mutable_algorithm()->set_algorithm(
            std::string(keys::to_string(key_type_of(result->method))));
        resp->mutable_algorithm()->set_algorithm(std::string(keys::to_string(result->method)));
        resp->set_content(std::string(result->bytes.begin(), result->bytes.end()));
        s_.metrics.signature(key_type_of(result->method));
        return st;
      }
      const Error& e = result.error();
      if (st.error_code() == grpc::StatusCode::INTERNAL) {
        s_.log->error("rpc=Sign key_id={} detail={}", sanitize(key_id, 80),
                      sanitize(e.message, 1024));
      }
      s_.audit->warn("sign key_id={} sha256={} bytes={} {} code={} reason={} latency_us={}",
                     sanitize(key_id, 80), digest, content.size(), caller_identity(*ctx),
                     static_cast<int>(st.error_code()), to_string(e.reason), us);
      return st;
    });
  }

 private:
  Shared& s_;
};

class AdminImpl final : public ::vouch::signer::admin::v1::SignerAdmin::CallbackService {
 public:
  explicit AdminImpl(Shared& s) : s_(s) {}

  grpc::ServerUnaryReactor* RotatePassphrase(
      grpc::CallbackServerContext* /*ctx*/,
      const ::vouch::signer::admin::v1::RotatePassphraseRequest* req,
      ::vouch::signer::admin::v1::RotatePassphraseResponse* resp) override {
    auto* reactor = new net::CountedReactor(s_.inflight);
    grpc::Status status;
    const std::string alias = req->new_alias();
    try {
      if (!is_valid_alias(alias)) {
        status = {grpc::StatusCode::INVALID_ARGUMENT,
                  "alias must be 1-50 characters of [A-Za-z0-9_]"};
      } else {
        s_.log->info("admin: rotating keys to alias {}", alias);
        auto r = s_.store.rotate_alias(alias, req->make_default());
        if (r) {
          resp->set_keys_total(r->keys_total);
          resp->set_keys_rotated(r->keys_rotated);
        } else if (r.error().reason == Reason::kNoPassphrase) {
          status = {grpc::StatusCode::FAILED_PRECONDITION,
                    "the signer has no passphrase for alias " + alias +
                        " (set it in the signer's environment or passphrase directory)"};
        } else if (r.error().reason == Reason::kBadPassphrase) {
          status = {grpc::StatusCode::FAILED_PRECONDITION,
                    "the signer's passphrase for alias " + alias +
                        " does not match the one the alias was created with"};
        } else {
          s_.log->error("admin: rotation to {} failed: {}", alias, r.error().message);
          status = {grpc::StatusCode::INTERNAL, "rotation failed (see the signer's log)"};
        }
      }
    } catch (const std::exception& e) {
      s_.log->error("admin: unexpected exception: {}", sanitize(e.what(), 512));
      status = {grpc::StatusCode::INTERNAL, "internal error"};
    }
    reactor->Finish(status);
    return reactor;
  }

 private:
  Shared& s_;
};

}  // namespace

struct SignerServer::Impl {
  SignerServerOptions options;
  std::shared_ptr<prometheus::Registry> registry;
  std::unique_ptr<SignerMetrics> metrics;
  std::unique_ptr<Shared> shared;
  std::unique_ptr<KeyManagementImpl> km;
  std::unique_ptr<SignerImpl> signer;
  std::unique_ptr<AdminImpl> admin;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<grpc::Server> control;
  int port = 0;
  std::atomic<bool> serving{false};

  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::thread gauges;

  void run_gauges(KeyStore& store) {
    std::unique_lock lock(mu);
    while (!stopping) {
      const CacheStats st = store.cache_stats();
      metrics->set_cache(st.entries, st.misses);
      cv.wait_for(lock, std::chrono::seconds(1));
    }
  }
};

SignerServer::SignerServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SignerServer::~SignerServer() {
  shutdown(std::chrono::milliseconds(0));
  if (impl_->server) impl_->server->Wait();
  if (impl_->control) impl_->control->Wait();
}

Result<std::unique_ptr<SignerServer>> SignerServer::start(
    SignerServerOptions options, KeyStore& store, std::shared_ptr<prometheus::Registry> registry) {
  if (options.tls_cert_pem.empty() || options.tls_key_pem.empty()) {
    return make_error(Code::kInvalidArgument, Reason::kMalformed,
                      "a TLS certificate and key are required");
  }
  if (options.client_ca_pem.empty()) {
    return make_error(Code::kInvalidArgument, Reason::kMalformed,
                      "a client CA is required: mutual TLS is mandatory");
  }
  if (!registry) {
    return make_error(Code::kInvalidArgument, Reason::kInternal, "no metrics registry");
  }
  auto impl = std::make_unique<Impl>();
  impl->registry = std::move(registry);
  VOUCH_ASSIGN_OR_RETURN(impl->metrics, SignerMetrics::create(*impl->registry));
  impl->shared = std::make_unique<Shared>(store, *impl->metrics, options.max_content_bytes);
  impl->km = std::make_unique<KeyManagementImpl>(*impl->shared);
  impl->signer = std::make_unique<SignerImpl>(*impl->shared);

  std::size_t max_receive = options.max_receive_message_bytes;
  if (max_receive == 0) max_receive = 2 * options.max_content_bytes + 64 * 1024;
  if (max_receive > static_cast<std::size_t>(INT32_MAX)) max_receive = INT32_MAX;

  std::shared_ptr<grpc::ServerCredentials> creds =
      net::tls_server_credentials(options.tls_cert_pem, options.tls_key_pem.view(),
                                  options.client_ca_pem, net::ClientCertificates::kRequired);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, creds, &impl->port);
  builder.RegisterService(impl->km.get());
  builder.RegisterService(impl->signer.get());
  builder.SetMaxReceiveMessageSize(static_cast<int>(max_receive));
  builder.SetMaxSendMessageSize(static_cast<int>(max_receive));
  impl->server = builder.BuildAndStart();
  if (!impl->server || impl->port == 0) {
    return make_error(Reason::kUnavailable, "cannot listen on " + options.listen);
  }
  grpc::HealthCheckServiceInterface* health = impl->server->GetHealthCheckService();
  if (health != nullptr) {
    health->SetServingStatus(kHealthKeyManagement, true);
    health->SetServingStatus(kHealthSigner, true);
    health->SetServingStatus(true);
  }

  if (!options.control_socket.empty()) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path path(options.control_socket);
    const auto st = fs::symlink_status(path, ec);
    if (!ec && fs::exists(st)) {
      if (!fs::is_socket(st)) {
        return make_error(Reason::kUnavailable,
                          "control socket path exists and is not a socket: " + path.string());
      }
      fs::remove(path, ec);  // stale: the key database lock proves no other daemon uses it
    }
    impl->admin = std::make_unique<AdminImpl>(*impl->shared);
    grpc::ServerBuilder cb;
    cb.AddListeningPort("unix:" + path.string(), grpc::InsecureServerCredentials());
    cb.RegisterService(impl->admin.get());
    impl->control = cb.BuildAndStart();
    if (!impl->control) {
      return make_error(Reason::kUnavailable, "cannot listen on control socket " + path.string());
    }
    if (::chmod(path.c_str(), 0600) != 0) {
      return make_error(Reason::kIo, "cannot chmod control socket " + path.string());
    }
  }

  impl->options = std::move(options);
  impl->serving = true;
  Impl* raw = impl.get();
  impl->gauges = std::thread([raw, &store] { raw->run_gauges(store); });
  return std::unique_ptr<SignerServer>(new SignerServer(std::move(impl)));
}

std::uint16_t SignerServer::port() const { return static_cast<std::uint16_t>(impl_->port); }

bool SignerServer::serving() const { return impl_->serving.load(); }

void SignerServer::shutdown(std::chrono::milliseconds grace) {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopping) return;
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  impl_->serving = false;
  if (impl_->server) {
    if (auto* health = impl_->server->GetHealthCheckService()) {
      health->SetServingStatus(kHealthKeyManagement, false);
      health->SetServingStatus(kHealthSigner, false);
      health->SetServingStatus(false);
    }
  }
  net::shutdown_servers({impl_->server.get(), impl_->control.get()}, impl_->shared->inflight,
                        std::chrono::system_clock::now() + grace);
  if (impl_->gauges.joinable()) impl_->gauges.join();
  if (!impl_->options.control_socket.empty()) {
    std::error_code ec;
    std::filesystem::remove(impl_->options.control_socket, ec);
  }
}

}  // namespace vouch::signer
