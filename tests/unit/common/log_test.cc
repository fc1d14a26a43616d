#include <doctest/doctest.h>

#include <spdlog/sinks/ostream_sink.h>

#include <sstream>

#include "common/log.h"

namespace vouch {
namespace {

std::string log_line(log::Format format, const std::string& message) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  log::init({format, "info", sink});
  log::get("test")->info("published {}", message);
  log::get("test")->flush();
  log::init({});  // back to stderr for other tests
  return out.str();
}

TEST_CASE("JSON log lines stay one valid object whatever the message holds") {
  const std::string line = log_line(log::Format::kJson, "a\"b\\c\nd\x01");
  CHECK(line.find(R"("component":"test","msg":"published a\"b\\c\nd\u0001"})") !=
        std::string::npos);
  // Exactly one line.
  CHECK(line.find('\n') == line.size() - 1);
}

TEST_CASE("text log lines cannot be split by input") {
  const std::string line = log_line(log::Format::kText, "x\nFAKE ERROR line\r\x7f");
  CHECK(line.find("published x\\nFAKE ERROR line\\r\\x7f") != std::string::npos);
  CHECK(line.find('\n') == line.size() - 1);
}

}  // namespace
}  // namespace vouch
