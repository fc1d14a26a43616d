// `vouch verify-image <ref> --policy <file>`: the admission decision for one image, for CI
// gates and for debugging a policy. It calls the verifier's own entry point
// (verifier/verify_image.h), so the answer is the one the admission webhook would give.
//
// Exit codes (cli/output.h): 0 admitted (allowed, or a warn/audit rule), 2 denied,
// 3 denied because the trust server could not be reached or answered badly, 1 for a policy
// that does not load or a reference that does not parse.

#include <string>

#include "cli/commands.h"
#include "cli/output.h"
#include "verifier/http_api.h"
#include "verifier/verify_image.h"

namespace vouch::cli {

namespace {

std::string_view verdict_name(verifier::Verdict verdict) {
  switch (verdict) {
    case verifier::Verdict::kAllow:
      return "allow";
    case verifier::Verdict::kWarn:
      return "warn";
    case verifier::Verdict::kDeny:
      break;
  }
  return "deny";
}

std::string decision_text(const verifier::Decision& d) {
  std::string out;
  out += "IMAGE      " + d.image + "\n";
  out += "DECISION   " + std::string(verdict_name(d.verdict)) + " (" +
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
      "admission webhook would (exit 0 admitted, 2 denied, 3 trust server unreachable)");
  cmd->add_option("reference", args->reference, "Image reference (name[:tag][@digest])")
      ->required();
  cmd->add_option("--policy", args->policy, "Policy file (YAML or JSON)")->required();
  cmd->add_option("--timeout", args->timeout_seconds,
                  "Longest wait for the trust data, in seconds")
      ->check(CLI::Range(1, 600))
      ->capture_default_str();
  add_output_option(cmd, &args->output);
  on_run(cmd, ctx, result, [args]() -> Status {
    verifier::VerifyImageOptions options;
    options.timeout = std::chrono::seconds(args->timeout_seconds);
    VOUCH_ASSIGN_OR_RETURN(verifier::Decision decision,
                           verifier::verify_image_with_policy_file(args->reference,
                                                                   args->policy, options));
    write_stdout(args->output == "json" ? verifier::decision_json(decision) + "\n"
                                        : decision_text(decision));
    if (decision.admitted()) return {};
    if (decision.code == verifier::DecisionCode::kTrustUnavailable) {
      return make_error(Reason::kUnavailable, "denied: " + decision.message);
    }
    return make_error(Reason::kThresholdNotMet, "denied: " + decision.message);
  });
}

}  // namespace vouch::cli
