#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <spdlog/logger.h>
#include <spdlog/sinks/sink.h>

namespace vouch::log {

// Logging facade over spdlog: one logger per component ("server", "signer", "tuf", ...),
// all writing to stderr through one shared sink so that journald or a container runtime
// captures them. Never pass a secret to a logger: secret types have no formatter, so the
// compiler refuses.

enum class Format { kText, kJson };

struct Options {
  Format format = Format::kText;
  // One of spdlog's level names: trace, debug, info, warn, error, critical, off.
  std::string level = "info";
  // Where lines go; nullptr = stderr. Tests pass their own sink.
  std::shared_ptr<spdlog::sinks::sink> sink;
};

// Messages may carry input (GUNs, role names, peer names), so both formats escape them: in
// JSON, '"', '\' and control characters are escaped as JSON requires; in text, control
// characters are written as \n, \r, \t or \xHH. A message can therefore never forge a
// second log line or break the JSON object it sits in.

// Configures every logger, present and future. Call once from main(); safe to call again.
void init(const Options& options);

// Returns the logger for a component, creating it on first use. Thread-safe.
std::shared_ptr<spdlog::logger> get(std::string_view component);

}  // namespace vouch::log
