#pragma once

// Shared by the Repository tests: a simulator's files as the parts of one publish.
// Header-only.

#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/repo_simulator.h"
#include "tuf/update_validator.h"

namespace vouch::testing {

// The parts of a publish that uploads `roles` of `sim` (its current files).
inline std::vector<tuf::UploadPart> parts_of(const RepoSimulator& sim,
                                             std::initializer_list<const char*> roles) {
  std::vector<tuf::UploadPart> parts;
  for (const char* r : roles) {
    parts.push_back({r, std::make_shared<const std::string>(sim.files.at(r))});
  }
  return parts;
}

}  // namespace vouch::testing
