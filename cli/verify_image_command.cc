// `vouch verify-image <ref> --policy <file>`: the admission decision for one image, for CI
// gates and for debugging a policy. It calls the verifier's own entry point
// (verifier/verify_image.h), so the answer is the one the admission webhook would give.
//
// Exit codes (cli/output.h): 0 admitted (allowed, or a warn/audit rule); 2 denied, including
// trust data that does not verify or does not exist; 3 denied because the trust server could
// not be reached or answered with an error of its own (retry); 4 denied because the trust
// server's credentials are missing or refused; 1 for a policy that does not load (every
// problem listed) or a reference that does not parse. The decision, with its reason, is
// printed once, on stdout.

#include <string>

#include "cli/commands.h"
#include "cli/output.h"
#include "verifier/http_api.h"
#include "verifier/verify_image.h"

namespace vouch::cli {

namespace {

std::string decision_text(const verifier::Decision& d) {
  std::string out;
  out += "IMAGE      " + d.image + "\n";
  out += "DECISION   " + std::string(verifier::to_string(d.verdict)) + " (" +
         std::string(verifier::to_string(d.code)) + ")\n";
  if (!d.rule.empty() || !d.pattern.empty()) {
    out += "RULE       " + (d.rule.empty() ? d.pattern : d.rule + " (" + d.pattern + ")") + "\n";
  }
  if (!d.digest.empty()) out += "DIGEST     " + d.digest + "\n";
  for (const auto& signer : d.signers) {
    out += "SIGNER     " + signer.role + " " + signer.key_id.substr(0, 12) +
           (signer.member.empty() ? "" : " " + signer.member) +
           (signer.counted ? "" : " (not counted: " + signer.note + ")") + "\n";
  }
  out += "REASON     " + d.message + "\n";
  return out;
}

// 0 for an admitted image. A deny for want of trust data takes the code of what stopped the
// fetch when retrying or fixing the credentials can help (3, 4); every other deny is 2.
int deny_exit_code(const verifier::Decision& d) {
  if (d.admitted()) return kExitOk;
  if (d.code != verifier::DecisionCode::kTrustUnavailable || !d.trust_error) {
    return kExitVerification;
  }
  const Error& e = *d.trust_error;
  // Credentials the policy names but this machine lacks (verifier/notary_source.h), or that
  // the server refuses (401, 403).
  if (e.reason == Reason::kNoPassphrase || e.code == Code::kUnauthenticated ||
      (e.code == Code::kPermissionDenied && e.reason == Reason::kNone)) {
    return kExitKey;
  }
  const int code = exit_code_for(e, /*from_server=*/false);
  return code == kExitNetwork ? kExitNetwork : kExitVerification;
}

}  // namespace

void add_verify_image_command(CLI::App& app, Context& ctx, Status& result) {
  struct Args {
    std::string reference;
    std::string policy;
    std::string output = "table";
    int timeout_seconds = 30;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "verify-image",
      "Decides whether an image may run under a vouch-verifier policy, exactly as the "
      "admission webhook would (exit 0 admitted, 1 policy or reference error, 2 denied, "
      "3 trust server unreachable, 4 trust server credentials missing or refused)");
  cmd->add_option("reference", args->reference, "Image reference (name[:tag][@digest])")
      ->required();
  cmd->add_option("--policy", args->policy, "Policy file (YAML or JSON)")->required();
  cmd->add_option("--timeout", args->timeout_seconds,
                  "Longest wait for the trust data, in seconds")
      ->check(CLI::Range(1, 600))
      ->capture_default_str();
  add_output_option(cmd, &args->output);
  on_run(cmd, ctx, result, [args, &ctx]() -> Status {
    verifier::VerifyImageOptions options;
    options.timeout = std::chrono::seconds(args->timeout_seconds);
    auto decided =
        verifier::verify_image_with_policy_file(args->reference, args->policy, options);
    // Whatever stops a decision is in the policy file, the reference, or this machine
    // (verify_image.h): a usage or configuration error, never a deny.
    if (!decided.ok()) return usage_error(std::move(decided).error().message);
    const verifier::Decision& decision = *decided;
    write_stdout(args->output == "json" ? verifier::decision_json(decision) + "\n"
                                        : decision_text(decision));
    ctx.set_quiet_exit_code(deny_exit_code(decision));
    return {};
  });
}

}  // namespace vouch::cli
