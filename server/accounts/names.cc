#include "server/accounts/names.h"

#include <vector>

namespace vouch::server::accounts {
namespace {

bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// The grammar without the length bound.
bool matches_component_grammar(std::string_view s) {
  if (s.empty() || !is_alnum(s.front()) || !is_alnum(s.back())) return false;
  std::size_t i = 0;
  while (i < s.size()) {
    if (is_alnum(s[i])) {
      ++i;
      continue;
    }
    // A separator run between two alphanumeric runs: ".", "_", "__" or "-"+.
    std::size_t j = i;
    while (j < s.size() && !is_alnum(s[j])) ++j;
    std::string_view sep = s.substr(i, j - i);
    bool ok = sep == "." || sep == "_" || sep == "__" ||
              sep.find_first_not_of('-') == std::string_view::npos;
    if (!ok) return false;
    i = j;
  }
  return true;
}

std::vector<std::string_view> split(std::string_view s) {
  std::vector<std::string_view> out;
  for (;;) {
    std::size_t slash = s.find('/');
    out.push_back(s.substr(0, slash));
    if (slash == std::string_view::npos) return out;
    s.remove_prefix(slash + 1);
  }
}

}  // namespace

Status validate_name(std::string_view name, std::string_view what) {
  if (name.size() < kMinNameBytes || name.size() > kMaxNameBytes) {
    return make_error(Code::kInvalidArgument, Reason::kMalformed,
                      std::string(what) + " must be 2 to 64 bytes long");
  }
  if (!matches_component_grammar(name)) {
    return make_error(Code::kInvalidArgument, Reason::kMalformed,
                      std::string(what) + " '" + std::string(name) +
                          "' must be lower-case letters and digits, joined by '.', '_', '__' "
                          "or '-'");
  }
  return ok_status();
}

Result<ServiceAccountName> parse_service_account_name(std::string_view full) {
  std::size_t slash = full.find('/');
  if (slash == std::string_view::npos) {
    return make_error(Code::kInvalidArgument, Reason::kMalformed,
                      "service account name must be <owner>/<name>");
  }
  ServiceAccountName out{std::string(full.substr(0, slash)), std::string(full.substr(slash + 1))};
  VOUCH_RETURN_IF_ERROR(validate_name(out.owner, "service account owner"));
  VOUCH_RETURN_IF_ERROR(validate_name(out.name, "service account name"));
  return out;
}

bool looks_like_host(std::string_view component) {
  return component == "localhost" || component.find_first_of(".:") != std::string_view::npos;
}

std::optional<std::string> gun_namespace(std::string_view gun, std::string_view repository_host) {
  std::vector<std::string_view> parts = split(gun);
  std::size_t ns = 0;
  if (!repository_host.empty()) {
    if (gun.size() <= repository_host.size() ||
        gun.substr(0, repository_host.size()) != repository_host ||
        gun[repository_host.size()] != '/') {
      return std::nullopt;
    }
    // The host may itself contain '/' only if configured so; count its components.
    ns = split(repository_host).size();
  } else if (looks_like_host(parts.front())) {
    ns = 1;
  }
  // The namespace and at least one non-empty component after it.
  if (parts.size() < ns + 2) return std::nullopt;
  for (std::size_t i = ns + 1; i < parts.size(); ++i) {
    if (parts[i].empty()) return std::nullopt;
  }
  if (!validate_name(parts[ns]).ok()) return std::nullopt;
  return std::string(parts[ns]);
}

std::optional<std::string> roster_organization(std::string_view gun,
                                               std::string_view repository_host) {
  constexpr std::string_view kMiddle = "/_roster/";
  const std::size_t middle = gun.rfind(kMiddle);
  if (middle == std::string_view::npos || middle == 0) return std::nullopt;
  const std::string_view host = gun.substr(0, middle);
  const std::string_view org = gun.substr(middle + kMiddle.size());
  if (repository_host.empty() ? host.find('/') != std::string_view::npos
                              : host != repository_host) {
    return std::nullopt;
  }
  if (!validate_name(org).ok()) return std::nullopt;
  return std::string(org);
}

std::string namespace_target(std::string_view ns) { return std::string(ns) + "/*"; }

}  // namespace vouch::server::accounts
