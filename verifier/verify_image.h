#pragma once

// One decision outside the daemon, for `vouch verify-image <ref> --policy <file>` (the CLI
// calls this; it never reimplements the decision): the same policy, the same trust data
// workflow (TrustCache: pinning from the trust section, delegations for the tag or all for a
// digest) and the same decide() as the admission webhook, with a one-shot trust fetch and no
// cache beyond the call.

#include <chrono>
#include <filesystem>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"
#include "verifier/decide.h"
#include "verifier/notary_source.h"
#include "verifier/policy.h"
#include "verifier/trust_cache.h"

namespace vouch::verifier {

// Reads and validates a policy file: YAML when the name ends in ".yaml" or ".yml", JSON when
// it ends in ".json", else JSON if the first non-blank character is '{' and YAML otherwise.
// Errors: kIo (cannot read, naming the file), kTooLarge (beyond limits.max_bytes), and
// Policy::parse's, wrapped with the file name.
Result<Policy> load_policy_file(const std::filesystem::path& file,
                                const DocumentLimits& limits = {});

struct VerifyImageOptions {
  // Longest wait for the trust data. Default 30 s.
  std::chrono::milliseconds timeout{30'000};
  // Per HTTP request to the trust server. Defaults 10 s to connect, 30 s per request.
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds request_timeout{30'000};
  tuf::UpdateLimits limits;
};

// Decides `reference` under `policy`, fetching trust data once through `sources` (only when
// the matching rule requires signatures). Errors: only a reference that does not parse;
// every other problem is a deny in the Decision (as decide.h).
Result<Decision> verify_image(const Policy& policy, std::string_view reference,
                              const SourceFactory& sources, const Clock& clock,
                              const VerifyImageOptions& options = {});

// The CLI's entry point: load_policy_file(policy_file), then verify_image with Notary sources
// (make_notary_source_factory; credentials through read_credentials, i.e. the files and
// environment variables the policy names; CA bundles in a private temporary directory that is
// removed before returning) and the system clock. Errors: the policy file's (a policy that
// does not load), a reference that does not parse, kIo if the temporary directory cannot be
// made. A deny is not an error: check Decision::admitted().
Result<Decision> verify_image_with_policy_file(std::string_view reference,
                                               const std::filesystem::path& policy_file,
                                               const VerifyImageOptions& options = {});

}  // namespace vouch::verifier
