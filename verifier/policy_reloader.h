#pragma once

// Loads the daemon's policy file into a Verifier and reloads it on demand (SIGHUP) or when the
// file changes (polled by main.cc; a Kubernetes ConfigMap volume replaces the file through a
// symlink swap, which changes what stat() sees). A reload parses and validates the whole new
// file first and swaps it in atomically only when it is valid: requests never see a missing
// or half-read policy, and a bad file is logged and the policy in force is kept.
//
// Not thread-safe: call from one thread at a time (main.cc serializes the signal watcher and
// the poller with a mutex).

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"
#include "verifier/metrics.h"
#include "verifier/policy.h"
#include "verifier/service.h"

namespace vouch::verifier {

class PolicyReloader {
 public:
  // `verifier`, `clock` and `metrics` (optional) must outlive the reloader.
  PolicyReloader(std::filesystem::path file, Verifier& verifier, const Clock& clock,
                 VerifierMetrics* metrics = nullptr, DocumentLimits limits = {});

  // Reads and validates the file and, if valid, makes it the verifier's policy. On error the
  // verifier keeps the policy it has (none at startup), the error is logged (as a reload
  // failure) and returned. `why` says what triggered it ("startup", "SIGHUP", "file changed").
  Status reload(std::string_view why);

  // Reloads when the file's identity (device, inode, size, modification time) differs from
  // the one last read; true if it changed (whether or not the new file was valid). A file
  // that cannot be stat()ed counts as changed once (the error is logged, the policy kept).
  bool reload_if_changed();

  // The version of the policy last loaded from the file, "" if none.
  const std::string& version() const { return version_; }

 private:
  struct Identity {
    std::uint64_t device = 0, inode = 0, size = 0;
    std::int64_t mtime_ns = 0;
    bool ok = false;
    friend bool operator==(const Identity&, const Identity&) = default;
  };
  Identity identity() const;

  std::filesystem::path file_;
  Verifier& verifier_;
  const Clock& clock_;
  VerifierMetrics* metrics_;
  DocumentLimits limits_;
  Identity seen_;
  std::string version_;
};

}  // namespace vouch::verifier
