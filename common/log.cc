#include "common/log.h"

#include <mutex>
#include <unordered_map>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace vouch::log {
namespace {

// The JSON pattern escapes nothing itself, so messages are written by our own code with
// no quotes or newlines from input; structured fields go in the message as key=value.
constexpr const char* kTextPattern = "%Y-%m-%dT%H:%M:%S.%fZ %^%l%$ [%n] %v";
constexpr const char* kJsonPattern =
    R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","component":"%n","msg":"%v"})";

struct Registry {
  std::mutex mu;
  std::shared_ptr<spdlog::sinks::stderr_sink_mt> sink =
      std::make_shared<spdlog::sinks::stderr_sink_mt>();
  std::unordered_map<std::string, std::shared_ptr<spdlog::logger>> loggers;
  Options options;
};

Registry& registry() {
  static Registry r;
  return r;
}

void apply(spdlog::logger& logger, const Options& options) {
  logger.set_pattern(options.format == Format::kJson ? kJsonPattern : kTextPattern,
                     spdlog::pattern_time_type::utc);
  logger.set_level(spdlog::level::from_str(options.level));
}

}  // namespace

void init(const Options& options) {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  r.options = options;
  for (auto& [name, logger] : r.loggers) apply(*logger, options);
}

std::shared_ptr<spdlog::logger> get(std::string_view component) {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  auto it = r.loggers.find(std::string(component));
  if (it != r.loggers.end()) return it->second;
  auto logger = std::make_shared<spdlog::logger>(std::string(component), r.sink);
  apply(*logger, r.options);
  r.loggers.emplace(std::string(component), logger);
  return logger;
}

}  // namespace vouch::log
