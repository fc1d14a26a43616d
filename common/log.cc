#include "common/log.h"

#include <mutex>
#include <unordered_map>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace vouch::log {
namespace {

// '*' is the message, escaped for the format (see EscapedMessage); never use %v.
constexpr const char* kTextPattern = "%Y-%m-%dT%H:%M:%S.%fZ %^%l%$ [%n] %*";
constexpr const char* kJsonPattern =
    R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","component":"%n","msg":"%*"})";

void append_hex_escape(unsigned char c, const char* prefix, spdlog::memory_buf_t& dest) {
  static constexpr char kHex[] = "0123456789abcdef";
  dest.append(std::string_view(prefix));
  dest.push_back(kHex[c >> 4]);
  dest.push_back(kHex[c & 15]);
}

// The message payload, escaped so that input inside it can neither end the line nor (JSON)
// the string it sits in.
class EscapedMessage final : public spdlog::custom_flag_formatter {
 public:
  explicit EscapedMessage(bool json) : json_(json) {}
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const auto* p = msg.payload.data();
    for (std::size_t i = 0; i < msg.payload.size(); ++i) {
      const auto c = static_cast<unsigned char>(p[i]);
      switch (c) {
        case '\n': dest.append(std::string_view("\\n")); continue;
        case '\r': dest.append(std::string_view("\\r")); continue;
        case '\t': dest.append(std::string_view("\\t")); continue;
        default: break;
      }
      if (json_ && (c == '"' || c == '\\')) {
        dest.push_back('\\');
        dest.push_back(static_cast<char>(c));
      } else if (c < 0x20 || c == 0x7f) {
        append_hex_escape(c, json_ ? "\\u00" : "\\x", dest);
      } else {
        dest.push_back(static_cast<char>(c));
      }
    }
  }
  std::unique_ptr<spdlog::custom_flag_formatter> clone() const override {
    return std::make_unique<EscapedMessage>(json_);
  }

 private:
  bool json_;
};

struct Registry {
  std::mutex mu;
  std::shared_ptr<spdlog::sinks::sink> sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  std::unordered_map<std::string, std::shared_ptr<spdlog::logger>> loggers;
  Options options;
};

Registry& registry() {
  static Registry r;
  return r;
}

void apply(spdlog::logger& logger, const Options& options) {
  const bool json = options.format == Format::kJson;
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  formatter->add_flag<EscapedMessage>('*', json).set_pattern(json ? kJsonPattern : kTextPattern);
  logger.set_formatter(std::move(formatter));
  logger.set_level(spdlog::level::from_str(options.level));
}

}  // namespace

void init(const Options& options) {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  r.options = options;
  // No sink: stderr again (a sink a caller passed earlier may be gone by now).
  r.sink = options.sink ? options.sink : std::make_shared<spdlog::sinks::stderr_sink_mt>();
  for (auto& [name, logger] : r.loggers) {
    logger->sinks().assign(1, r.sink);
    apply(*logger, options);
  }
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
