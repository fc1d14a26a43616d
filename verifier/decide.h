#pragma once

// The verifier's one decision function (issue 6; DESIGN "Verifier: team policy"). The
// admission webhook, the gRPC/HTTP API and `vouch verify-image` all call decide(); they differ
// only in how they obtain its inputs and encode its output. Pure: no I/O, no clock (the
// decision's time is a parameter; by default the TrustedSet's reference time), no logging.
//
// Who signed a reference. For a tag, every loaded role that lists the tag within its
// effective paths (tuf::TrustedSet::find_all_targets: "targets" and every delegation whose
// chain from "targets" verified, paths intersected down the chain) "signed" it with each key
// whose valid signature over that role's metadata counted toward the role's threshold
// (TargetMatch::signers). For a reference with only a digest, every loaded role that lists
// some target name, within its effective paths, whose hash equals the digest. A role that
// failed to load (TrustedSet::failed_roles: expired, threshold not met) or was never loaded
// signs nothing, and neither do its descendants.
//
// Who counts. A signer key counts for the rule when
//   - its role counts: the rule lists no roles, or lists this role (a listed role that is
//     missing is never replaced by another role, "targets" included: Connaisseur PR #2151);
//   - its canonical key ID belongs to a member of a team the rule names (policy.h), and, when
//     that member's key is an X.509 certificate, the decision's time (`at` below, by default
//     the trust data's reference time) lies within the certificate's validity;
//   - the role's target has a sha256 hash (Notary and docker always write one).
// Members are counted, not keys: one member signing with two keys, or in two roles, is one
// signer. A member's key satisfies every rule team whose member entry lists that key.
//
// One digest. All roles with a counting signer must list the same digest (sha256) and length
// for the reference; otherwise the answer is a deny naming the roles (never a silent pick).
// A reference that carries a digest must equal it: sha256 against the targets' sha256 hash,
// sha512 against their sha512 hash; sha384 cannot be checked (Notary lists no sha384) and is
// denied. A reference with both a tag and a digest (name:tag@digest) must satisfy both: the
// tag's signed digest must be the given digest (containerd would pull the digest alone;
// vouch refuses a tag that claims another digest).
//
// Requirements. all-of: each listed team has at least one counting member; any-of: at least
// one listed team has; min-signers N: at least N distinct counting members (of the listed
// teams). All met -> allow.
//
// Fail closed. A rule that requires signatures denies whenever the trust data is missing: an
// error instead of a TrustedSet (server unreachable, slow, malformed, expired, not pinned),
// trust data of another GUN, or trust data without targets. Warn and audit mode change a
// deny into kWarn (admitted, with the deny's sentence), never the evaluation itself.
//
// References with only a digest are judged as the tags that carry the digest: see
// decide_image() below, which every interface calls.
//
// What the TrustedSet must hold: root, timestamp, snapshot and targets verified (tuf::refresh)
// and, for a tag, every delegation that may list it (tuf::load_delegations_for(set, tag, ...));
// for a reference with only a digest, every delegation (RefreshOptions::load_all_delegations).
// Roles that are not loaded cannot sign, so loading too little can only deny.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "tuf/trusted_set.h"
#include "verifier/image_ref.h"
#include "verifier/policy.h"

namespace vouch::verifier {

enum class Verdict {
  kAllow,
  kDeny,
  // Admitted although the evaluation denied, because the rule is in warn or audit mode
  // (Decision::mode says which: warn surfaces the message to the user, audit only records it).
  kWarn,
};
std::string_view to_string(Verdict verdict);

// The machine-readable reason of a decision (stable names for metrics and APIs: to_string).
enum class DecisionCode {
  kSigned,              // "signed": the rule's requirements are met
  kRuleAllows,          // "rule_allows": the rule admits the image without verification
  kRuleDenies,          // "rule_denies": the rule refuses the image outright
  kNoRule,              // "no_rule": no rule matches; the policy's `unmatched` answers
  kTrustUnavailable,    // "trust_unavailable": no verified trust data for the GUN
  kNotSigned,           // "not_signed": no role that counts lists the tag (or digest)
  kDigestConflict,      // "digest_conflict": roles that count sign different digests
  kDigestMismatch,      // "digest_mismatch": the reference's digest is not the signed one
  kUnsupportedDigest,   // "unsupported_digest": a digest algorithm targets do not list
  kRequirementsNotMet,  // "requirements_not_met": teams or min-signers not satisfied
};
std::string_view to_string(DecisionCode code);

// A key whose valid signature stands behind the reference in one role.
struct SignerInfo {
  std::string role;    // the role that lists the reference
  std::string key_id;  // canonical key ID
  std::string member;  // the member holding the key; empty if no member does
  // The rule's teams for which this signature counts (empty when it does not count).
  std::vector<std::string> teams;
  bool counted = false;
  // Why it does not count (empty when it does), e.g. "the key belongs to no member".
  std::string note;
};

// One requirement of the rule and how it fared.
struct RequirementStatus {
  std::string requirement;  // "team qa", "any of teams qa, sec", "at least 2 signers"
  bool met = false;
  std::vector<std::string> members;  // counting members that satisfy it (sorted)
};

// A role that could have mattered but did not sign: failed to load, not delegated, not
// loaded, or not covering the reference.
struct RoleIssue {
  std::string role;
  Reason reason = Reason::kNone;  // kExpired, kThresholdNotMet, kNotFound, kBadPath, ...
  std::string message;
};

struct Decision {
  Verdict verdict = Verdict::kDeny;
  DecisionCode code = DecisionCode::kNoRule;
  Mode mode = Mode::kEnforce;  // the rule's mode (enforce when no rule matched)
  std::string image;           // the normalized reference (ImageRef::str)
  // For a reference with only a digest, judged by decide_image(): the tag it was judged as
  // (the admitted one, or the one whose deny is reported); empty otherwise.
  std::string tag;
  std::string gun;
  std::string rule;     // the rule's name; empty when no rule matched
  std::string pattern;  // the rule's pattern; empty when no rule matched
  // The digest ("sha256:<hex>") and length that the counting roles sign for the reference,
  // when they agree (also on a deny, for diagnosis). An admission may pin the image to it
  // only when verdict != kDeny and code == kSigned.
  std::string digest;
  std::int64_t length = 0;
  std::vector<SignerInfo> signers;
  std::vector<RequirementStatus> requirements;
  std::vector<RoleIssue> role_issues;
  // For kTrustUnavailable: the error that stopped the fetch or verification.
  std::optional<Error> trust_error;
  // One sentence for humans: for a deny, what is missing and where (which rule, which team,
  // which role or key expired); for kWarn the same, marked as not enforced.
  std::string message;
  // Cache key parts: the policy's version and the trust data's timestamp version (0 when no
  // trust data was used).
  std::string policy_version;
  std::int64_t trust_version = 0;
  // When set, the decision holds only before this instant: a member certificate that was
  // looked at becomes valid or expires then (decision caches must not serve it later).
  std::optional<TimePoint> valid_until;

  bool admitted() const { return verdict != Verdict::kDeny; }
};

// Decides `image` under `policy`. `rule` is policy.match(image) (nullptr when nothing matches;
// the caller needs it first to know whether trust data must be fetched at all, and from which
// trust section). `trust` is the verified trust data of image.gun(), or the error that
// stopped obtaining it; it is not looked at for allow/deny rules or unmatched images. Never
// fails: every problem is a deny with its reason.
//
// `at` is the decision's time: member certificates count only when it lies within their
// validity. Default: the trust data's reference time (the fetch's); interfaces pass their
// clock's now, since trust data is reused for up to trust.max_age_ms.
Decision decide(const Policy& policy, const ImageRef& image, const Rule* rule,
                const Result<const tuf::TrustedSet*>& trust,
                std::optional<TimePoint> at = std::nullopt);

// At most this many tags carrying one digest are judged for a digest reference (the first in
// name order); a bound on the work one reference can cause.
inline constexpr std::size_t kMaxTagsPerDigest = 64;

// Whether deciding `image` needs the trust data of its GUN: its rule (policy.match) requires
// signatures, or it is a reference with only a digest whose name a rule with a tag glob
// matches and a trust section covers (which rule applies then depends on the tags that carry
// the digest). Interfaces fetch trust data only when this is true.
bool needs_trust(const Policy& policy, const ImageRef& image);

// Decides `image` under `policy`, the rule included: what every interface calls.
//
// A reference with a tag (also name:tag@digest) is decide(policy, image, policy.match(image),
// trust): the tag's rule applies, and a digest must equal the one signed for the tag.
//
// A reference with only a digest is judged as each tag that carries the digest: every target
// name that a loaded role lists, within its effective paths, with that digest (at most
// kMaxTagsPerDigest, in name order). Each tag T is decided as "name:T@digest" under the rule
// that T matches. The reference is admitted when one of them is (an allow before a warn, then
// name order), and the decision is that tag's, with `tag` set to T and `image` the reference
// as given; when none is admitted, the first tag's deny is reported, naming every tag judged.
// When no tag carries the digest, or when needs_trust() is false, the rule that matches the
// name without a tag (policy.match) decides as decide() does. When the trust data is missing
// and rules with tag globs could apply, the answer is a deny (kTrustUnavailable): the tags,
// and with them the rule, are unknown. `trust` needs every delegation loaded
// (RefreshOptions::load_all_delegations) for a reference with only a digest.
Decision decide_image(const Policy& policy, const ImageRef& image,
                      const Result<const tuf::TrustedSet*>& trust,
                      std::optional<TimePoint> at = std::nullopt);

}  // namespace vouch::verifier
