#include "verifier/policy_reloader.h"

#include <sys/stat.h>

#include <chrono>
#include <memory>
#include <utility>

#include "common/log.h"
#include "verifier/verify_image.h"

namespace vouch::verifier {
namespace {

std::shared_ptr<spdlog::logger> logger() { return log::get("verifier"); }

}  // namespace

PolicyReloader::PolicyReloader(std::filesystem::path file, Verifier& verifier, const Clock& clock,
                               VerifierMetrics* metrics, DocumentLimits limits)
    : file_(std::move(file)),
      verifier_(verifier),
      clock_(clock),
      metrics_(metrics),
      limits_(limits) {}

PolicyReloader::Identity PolicyReloader::identity() const {
  Identity id;
  struct stat st {};
  if (::stat(file_.c_str(), &st) != 0) return id;
  id.ok = true;
  id.device = static_cast<std::uint64_t>(st.st_dev);
  id.inode = static_cast<std::uint64_t>(st.st_ino);
  id.size = static_cast<std::uint64_t>(st.st_size);
  id.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  return id;
}

Status PolicyReloader::reload(std::string_view why) {
  // The identity before reading: a change during the read is seen by the next poll.
  seen_ = identity();
  const double now = std::chrono::duration<double>(clock_.now().time_since_epoch()).count();
  auto policy = load_policy_file(file_, limits_);
  if (!policy) {
    logger()->error("policy not loaded ({}), keeping the {}: {}", why,
                    verifier_.ready() ? "policy in force (version " + version_ + ")" : "verifier not ready",
                    policy.error().message);
    if (metrics_ != nullptr) metrics_->policy_reload(false, now);
    return std::move(policy).error();
  }
  const std::string version = policy->version();
  const std::size_t rules = policy->rules().size();
  const std::size_t teams = policy->teams().size();
  verifier_.set_policy(std::make_shared<const Policy>(std::move(*policy)));
  if (metrics_ != nullptr) metrics_->policy_reload(true, now);
  if (version == version_) {
    logger()->info("policy reloaded ({}), unchanged: version {}", why, version);
  } else {
    logger()->info("policy loaded ({}): {} version {} ({} rules, {} teams)", why, file_.string(),
                   version, rules, teams);
  }
  version_ = version;
  return {};
}

bool PolicyReloader::reload_if_changed() {
  const Identity now = identity();
  if (now == seen_) return false;
  if (!now.ok) {
    seen_ = now;
    logger()->error("policy file {} cannot be read; keeping the policy in force",
                    file_.string());
    return true;
  }
  (void)reload("file changed");
  return true;
}

}  // namespace vouch::verifier
