#include "verifier/verify_image.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>

#include "verifier/roster_teams.h"

namespace vouch::verifier {
namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// A directory removed with everything in it when this object goes.
class TempDir {
 public:
  static Result<TempDir> create() {
    std::error_code ec;
    std::filesystem::path base = std::filesystem::temp_directory_path(ec);
    if (ec) base = "/tmp";
    std::string tmpl = (base / "vouch-verify.XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      return make_error(Reason::kIo, "cannot create a temporary directory in " + base.string() +
                                         ": " + std::strerror(errno));
    }
    return TempDir(tmpl);
  }
  TempDir(TempDir&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  TempDir& operator=(TempDir&&) = delete;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    if (path_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  explicit TempDir(std::filesystem::path p) : path_(std::move(p)) {}
  std::filesystem::path path_;
};

}  // namespace

Result<Policy> load_policy_file(const std::filesystem::path& file, const DocumentLimits& limits) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return make_error(Reason::kIo, "cannot read policy file " + file.string());
  std::string text;
  char buf[8192];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(in.gcount()));
    if (text.size() > limits.max_bytes) {
      return make_error(Reason::kTooLarge, "policy file " + file.string() + " is larger than " +
                                               std::to_string(limits.max_bytes) + " bytes");
    }
  }
  if (in.bad()) return make_error(Reason::kIo, "cannot read policy file " + file.string());
  const std::string name = file.filename().string();
  PolicyFormat format = PolicyFormat::kYaml;
  if (ends_with(name, ".json")) {
    format = PolicyFormat::kJson;
  } else if (!ends_with(name, ".yaml") && !ends_with(name, ".yml")) {
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first != std::string::npos && text[first] == '{') format = PolicyFormat::kJson;
  }
  auto policy = Policy::parse(text, format, limits);
  if (!policy) return std::move(policy).error().wrap("policy file " + file.string());
  return policy;
}

Result<Decision> verify_image(const Policy& policy, std::string_view reference,
                              const SourceFactory& sources, const Clock& clock,
                              const VerifyImageOptions& options) {
  VOUCH_ASSIGN_OR_RETURN(ImageRef image, parse_image_ref(reference));
  if (!needs_trust(policy, image)) {
    return decide_image(policy, image, static_cast<const tuf::TrustedSet*>(nullptr));
  }
  const TrustSection* section = policy.trust_for(image.gun());
  if (section == nullptr) {
    return decide_image(policy, image,
                        make_error(Reason::kNotFound,
                                   "no trust section of the policy covers " + image.gun()));
  }
  TrustCacheOptions cache_options;
  cache_options.fetch_threads = 1;
  cache_options.max_queued_fetches = 1;
  cache_options.error_ttl = std::chrono::milliseconds(0);
  cache_options.limits = options.limits;
  TrustCache cache(sources, clock, cache_options);
  const Deadline deadline = std::chrono::steady_clock::now() + options.timeout;
  auto trust = cache.get(*section, image, deadline);
  if (!trust) return decide_image(policy, image, std::move(trust).error());
  // Teams from signed rosters (teams_from), verified like the image's trust data.
  RosterTeamsCache rosters;
  auto with_rosters = rosters.resolve(policy, rosters_needed(policy, image), cache, deadline);
  if (!with_rosters) return decide_image(policy, image, std::move(with_rosters).error());
  const Policy& deciding = *with_rosters ? **with_rosters : policy;
  // The fetch is done: the cache (and its worker) may go once the decision is made.
  return decide_image(deciding, image, &(*trust)->set, clock.now());
}

Result<Decision> verify_image_with_policy_file(std::string_view reference,
                                               const std::filesystem::path& policy_file,
                                               const VerifyImageOptions& options) {
  VOUCH_ASSIGN_OR_RETURN(Policy policy, load_policy_file(policy_file));
  VOUCH_ASSIGN_OR_RETURN(TempDir ca_dir, TempDir::create());
  NotarySourceOptions source_options;
  source_options.ca_dir = ca_dir.path();
  source_options.connect_timeout = options.connect_timeout;
  source_options.request_timeout = options.request_timeout;
  source_options.credentials = read_credentials;
  const SourceFactory sources = make_notary_source_factory(std::move(source_options));
  return verify_image(policy, reference, sources, SystemClock::instance(), options);
}

}  // namespace vouch::verifier
