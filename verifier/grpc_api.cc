#include "verifier/grpc_api.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "common/log.h"
#include "common/net/grpc_calls.h"
#include "proto/verifier.grpc.pb.h"

namespace vouch::verifier {
namespace {

namespace pb = ::vouch::verifier::v1;

std::shared_ptr<spdlog::logger> logger() { return log::get("verifier.grpc"); }

constexpr const char* kServiceName = "vouch.verifier.v1.Verifier";

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void fill(const Decision& d, pb::VerifyResponse& out) {
  out.set_image(d.image);
  out.set_tag(d.tag);
  out.set_allowed(d.admitted());
  out.set_verdict(std::string(to_string(d.verdict)));
  out.set_code(std::string(to_string(d.code)));
  out.set_mode(std::string(to_string(d.mode)));
  out.set_rule(d.rule);
  out.set_pattern(d.pattern);
  out.set_gun(d.gun);
  out.set_digest(d.digest);
  out.set_length(d.length);
  out.set_message(d.message);
  out.set_policy_version(d.policy_version);
  out.set_trust_version(d.trust_version);
  for (const auto& s : d.signers) {
    pb::Signer* p = out.add_signers();
    p->set_role(s.role);
    p->set_key_id(s.key_id);
    p->set_member(s.member);
    for (const auto& t : s.teams) p->add_teams(t);
    p->set_counted(s.counted);
    p->set_note(s.note);
  }
  for (const auto& r : d.requirements) {
    pb::Requirement* p = out.add_requirements();
    p->set_requirement(r.requirement);
    p->set_met(r.met);
    for (const auto& m : r.members) p->add_members(m);
  }
  for (const auto& i : d.role_issues) {
    pb::RoleIssue* p = out.add_role_issues();
    p->set_role(i.role);
    p->set_reason(std::string(to_string(i.reason)));
    p->set_message(i.message);
  }
  if (d.trust_error) out.set_trust_error_reason(std::string(to_string(d.trust_error->reason)));
}

struct Shared {
  Verifier* verifier = nullptr;
  WorkQueue* workers = nullptr;
  VerifierMetrics* metrics = nullptr;
  net::InflightCalls inflight;
};

class Service final : public pb::Verifier::CallbackService {
 public:
  explicit Service(Shared& s) : s_(s) {}

  grpc::ServerUnaryReactor* Verify(grpc::CallbackServerContext* ctx, const pb::VerifyRequest* req,
                                   pb::VerifyResponse* resp) override {
    auto* reactor = new net::CountedReactor(s_.inflight);
    const auto arrived = std::chrono::steady_clock::now();
    // The call's own deadline, if earlier than ours (system clock -> steady clock).
    Deadline deadline = arrived + s_.verifier->options().deadline;
    const auto remaining = ctx->deadline() - std::chrono::system_clock::now();
    if (remaining < deadline - arrived) {
      deadline = arrived + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                               std::max(remaining, std::chrono::system_clock::duration::zero()));
    }
    Shared& s = s_;
    const bool queued = s_.workers->post([&s, reactor, req, resp, deadline, arrived] {
      grpc::Status status;
      try {
        RequestContext context;
        context.source = "grpc";
        context.namespace_name = req->namespace_();
        auto decision = s.verifier->verify(req->image(), context, deadline);
        if (decision) {
          fill(*decision, *resp);
        } else if (decision.error().code == Code::kFailedPrecondition) {
          status = {grpc::StatusCode::FAILED_PRECONDITION, "no policy is loaded yet"};
        } else {
          status = {grpc::StatusCode::INVALID_ARGUMENT, decision.error().message};
        }
      } catch (const std::exception& e) {
        logger()->error("Verify: unexpected exception: {}", e.what());
        status = {grpc::StatusCode::INTERNAL, "internal error"};
      } catch (...) {
        logger()->error("Verify: unexpected exception");
        status = {grpc::StatusCode::INTERNAL, "internal error"};
      }
      if (s.metrics != nullptr) {
        s.metrics->request("grpc_verify", static_cast<unsigned>(status.error_code()),
                           seconds_since(arrived));
      }
      reactor->Finish(status);
    });
    if (!queued) {
      if (s_.metrics != nullptr) {
        s_.metrics->request("grpc_verify",
                            static_cast<unsigned>(grpc::StatusCode::RESOURCE_EXHAUSTED), 0);
      }
      reactor->Finish({grpc::StatusCode::RESOURCE_EXHAUSTED, "the verifier is busy"});
    }
    return reactor;
  }

 private:
  Shared& s_;
};

}  // namespace

struct GrpcApi::Impl {
  Shared shared;
  std::unique_ptr<Service> service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  std::mutex mu;
  bool stopped = false;
};

GrpcApi::GrpcApi(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

GrpcApi::~GrpcApi() {
  shutdown(std::chrono::milliseconds(0));
  if (impl_->server) impl_->server->Wait();
}

Result<std::unique_ptr<GrpcApi>> GrpcApi::start(GrpcApiOptions options, Verifier& verifier,
                                                WorkQueue& workers, VerifierMetrics* metrics) {
  if (options.tls_cert_pem.empty() != options.tls_key_pem.empty()) {
    return make_error(Code::kInvalidArgument, Reason::kMalformed,
                      "gRPC TLS needs both a certificate and a key");
  }
  if (!options.client_ca_pem.empty() && options.tls_cert_pem.empty()) {
    return make_error(Code::kInvalidArgument, Reason::kMalformed,
                      "gRPC mutual TLS needs a server certificate and key too");
  }
  auto impl = std::make_unique<Impl>();
  impl->shared.verifier = &verifier;
  impl->shared.workers = &workers;
  impl->shared.metrics = metrics;
  impl->service = std::make_unique<Service>(impl->shared);

  std::shared_ptr<grpc::ServerCredentials> creds;
  if (options.tls_cert_pem.empty()) {
    creds = grpc::InsecureServerCredentials();
  } else {
    creds = net::tls_server_credentials(options.tls_cert_pem, options.tls_key_pem.view(),
                                        options.client_ca_pem,
                                        options.client_ca_pem.empty()
                                            ? net::ClientCertificates::kNotRequested
                                            : net::ClientCertificates::kRequired);
  }
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, creds, &impl->port);
  builder.RegisterService(impl->service.get());
  builder.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  impl->server = builder.BuildAndStart();
  if (!impl->server || impl->port == 0) {
    return make_error(Reason::kUnavailable, "cannot listen on " + options.listen);
  }
  std::unique_ptr<GrpcApi> api(new GrpcApi(std::move(impl)));
  api->set_ready(verifier.ready());
  return api;
}

std::uint16_t GrpcApi::port() const { return static_cast<std::uint16_t>(impl_->port); }

void GrpcApi::set_ready(bool ready) {
  if (!impl_->server) return;
  if (auto* health = impl_->server->GetHealthCheckService()) {
    health->SetServingStatus(kServiceName, ready);
    health->SetServingStatus(ready);
  }
}

void GrpcApi::shutdown(std::chrono::milliseconds grace) {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopped) return;
    impl_->stopped = true;
  }
  if (!impl_->server) return;
  set_ready(false);
  net::shutdown_servers({impl_->server.get()}, impl_->shared.inflight,
                        std::chrono::system_clock::now() + grace);
}

}  // namespace vouch::verifier
