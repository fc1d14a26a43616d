#include "cli/output.h"

#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <memory>
#include <mutex>

#include <spdlog/details/log_msg.h>
#include <spdlog/sinks/base_sink.h>

#include "common/log.h"

namespace vouch::cli {

// ---- Exit codes --------------------------------------------------------------------------------

int exit_code_for(const Error& error, bool from_server) {
  switch (error.reason) {
    case Reason::kBadPassphrase:
    case Reason::kNoPassphrase:
    case Reason::kInsecureFile:
    case Reason::kUnknownKey:
    // The accounts' refusals (the admin API, the token service): who is asking, or what they
    // may do; another login can help, retrying cannot.
    case Reason::kBadCredentials:
    case Reason::kNoCredentials:
    case Reason::kPermissionDenied:
      return kExitKey;
    case Reason::kThrottled:
      return kExitNetwork;  // too many failed logins from here: later
    default:
      break;
  }
  // An interrupted passphrase prompt.
  if (error.code == Code::kCancelled) return kExitKey;
  // Repository::publish and friends: the trust directory holds too few keys of a role to sign
  // it (a verification threshold failure has another code).
  if (error.reason == Reason::kThresholdNotMet && error.code == Code::kFailedPrecondition) {
    return kExitKey;
  }
  // Credentials missing or refused by the server (401; 403 is Code kPermissionDenied with
  // Reason kNone, client/remote.h): retrying with the same ones cannot help.
  if (error.code == Code::kUnauthenticated ||
      (error.code == Code::kPermissionDenied && error.reason == Reason::kNone)) {
    return kExitKey;
  }
  if (error.reason == Reason::kUnavailable || error.code == Code::kUnavailable ||
      error.code == Code::kDeadlineExceeded) {
    return kExitNetwork;
  }
  if (from_server) {
    // Other publishers went first even after the client re-applied its changes: a later
    // attempt starts from the new state.
    if (error.reason == Reason::kConflict) return kExitNetwork;
    // Everything else the server answered is about what was asked or sent: 404 (no trust
    // data), 400 (INVALID_UPDATE, INVALID_ROLE, ...), 413. The same request fails again.
    return kExitVerification;
  }
  switch (error.reason) {
    case Reason::kBadSignature:
    case Reason::kWrongMethod:
    case Reason::kThresholdNotMet:
    case Reason::kExpired:
    case Reason::kBadVersion:
    case Reason::kRollback:
    case Reason::kHashMismatch:
    case Reason::kLengthMismatch:
    case Reason::kBadCertificate:
      return kExitVerification;
    case Reason::kNotFound:
      // Code kNotFound: no trust data for a target or repository. Other codes (e.g.
      // kFailedPrecondition: "not initialized here, run init") are usage problems.
      return error.code == Code::kNotFound ? kExitVerification : kExitUsage;
    default:
      return kExitUsage;
  }
}

// ---- Tables --------------------------------------------------------------------------------------

std::size_t display_width(std::string_view text) {
  std::size_t n = 0;
  for (char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

std::string truncate_with_ellipsis(std::string_view text, std::size_t max_width, bool left) {
  if (text.size() <= max_width) return std::string(text);
  const std::size_t keep = max_width > 3 ? max_width - 3 : 0;
  if (left) return "..." + std::string(text.substr(text.size() - keep));
  return std::string(text.substr(0, keep)) + "...";
}

Table::Table(std::vector<std::string> header) {
  std::vector<std::string> dashes;
  dashes.reserve(header.size());
  for (const auto& h : header) dashes.emplace_back(h.size(), '-');
  rows_.push_back(std::move(header));
  rows_.push_back(std::move(dashes));
}

void Table::add_row(std::vector<std::string> cells) {
  assert(cells.size() == rows_.front().size());
  cells.resize(rows_.front().size());
  rows_.push_back(std::move(cells));
}

std::string Table::render() const {
  constexpr std::size_t kMinWidth = 4;
  constexpr std::size_t kPadding = 4;
  const std::size_t columns = rows_.front().size();
  std::vector<std::size_t> widths(columns, kMinWidth);
  for (const auto& row : rows_) {
    for (std::size_t c = 0; c + 1 < columns; ++c) {
      widths[c] = std::max(widths[c], display_width(row[c]) + kPadding);
    }
  }
  std::string out;
  for (const auto& row : rows_) {
    for (std::size_t c = 0; c < columns; ++c) {
      out += row[c];
      if (c + 1 < columns) out.append(widths[c] - display_width(row[c]), ' ');
    }
    out += '\n';
  }
  return out;
}

// ---- JSON --------------------------------------------------------------------------------------

Json& Json::set(std::string key, Json value) {
  auto* object = std::get_if<Object>(&v_);
  assert(object != nullptr);
  object->emplace_back(std::move(key), std::move(value));
  return *this;
}

Json& Json::push(Json value) {
  auto* array = std::get_if<Array>(&v_);
  assert(array != nullptr);
  array->push_back(std::move(value));
  return *this;
}

namespace {

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

void newline(std::string& out, std::string_view indent, std::size_t level) {
  out += '\n';
  for (std::size_t i = 0; i < level; ++i) out += indent;
}

// An array's or an object's members between `brackets` ("[]", "{}"), one per line at
// `level` + 1, the closing bracket on its own line; an empty one as `brackets` alone.
template <typename Members, typename DumpMember>
void dump_members(std::string& out, std::string_view indent, std::size_t level,
                  const Members& members, std::string_view brackets, DumpMember dump_member) {
  if (members.empty()) {
    out += brackets;
    return;
  }
  out += brackets[0];
  for (std::size_t k = 0; k < members.size(); ++k) {
    if (k > 0) out += ',';
    newline(out, indent, level + 1);
    dump_member(members[k]);
  }
  newline(out, indent, level);
  out += brackets[1];
}

}  // namespace

void Json::dump_to(std::string& out, std::string_view indent, std::size_t level) const {
  if (std::holds_alternative<std::nullptr_t>(v_)) {
    out += "null";
  } else if (const bool* b = std::get_if<bool>(&v_)) {
    out += *b ? "true" : "false";
  } else if (const std::int64_t* i = std::get_if<std::int64_t>(&v_)) {
    out += std::to_string(*i);
  } else if (const std::string* s = std::get_if<std::string>(&v_)) {
    append_json_string(out, *s);
  } else if (const Array* a = std::get_if<Array>(&v_)) {
    dump_members(out, indent, level, *a, "[]", [&](const Json& item) {
      item.dump_to(out, indent, level + 1);
    });
  } else if (const Object* o = std::get_if<Object>(&v_)) {
    dump_members(out, indent, level, *o, "{}", [&](const std::pair<std::string, Json>& member) {
      append_json_string(out, member.first);
      out += ": ";
      member.second.dump_to(out, indent, level + 1);
    });
  }
}

std::string Json::dump(std::string_view indent) const {
  std::string out;
  dump_to(out, indent, 0);
  out += '\n';
  return out;
}

Json to_output_json(const tuf::json::Value& value) {
  switch (value.type()) {
    case tuf::json::Type::kNull: return Json();
    case tuf::json::Type::kBool: return Json(value.as_bool());
    case tuf::json::Type::kInt: return Json(value.as_int());
    case tuf::json::Type::kString: return Json(value.as_string());
    case tuf::json::Type::kArray: {
      Json out = Json::array();
      for (const auto& e : value.as_array()) out.push(to_output_json(e));
      return out;
    }
    case tuf::json::Type::kObject: {
      Json out = Json::object();
      for (const auto& [k, v] : value.as_object()) out.set(k, to_output_json(v));
      return out;
    }
  }
  return Json();
}

bool write_stdout(std::string_view text) {
  if (text.empty()) return true;
  const std::size_t n = std::fwrite(text.data(), 1, text.size(), stdout);
  return n == text.size() && std::fflush(stdout) == 0;
}

void write_table_or(const Table& table, std::string_view empty_message) {
  write_stdout("\n");
  if (table.empty()) {
    write_stdout(empty_message);
  } else {
    write_stdout(table.render());
  }
  write_stdout("\n");
}

// ---- Progress ----------------------------------------------------------------------------------

void Progress::update(std::string_view phase, std::size_t done, std::size_t total) {
  if (terminal_) {
    constexpr std::size_t kBarWidth = 30;
    std::string line = "\r\033[K" + std::string(phase);
    if (total > 0) {
      const std::size_t filled = std::min(kBarWidth, done * kBarWidth / total);
      line += " [" + std::string(filled, '#') + std::string(kBarWidth - filled, ' ') + "] " +
              std::to_string(done) + "/" + std::to_string(total);
    } else {
      line += " ...";
    }
    std::fputs(line.c_str(), stderr);
    std::fflush(stderr);
    drawn_ = true;
    return;
  }
  if (!verbose_) return;
  if (phase != phase_) {
    phase_ = std::string(phase);
    std::fprintf(stderr, "%s\n", phase_.c_str());
  }
  if (total > 0 && done == total) {
    std::fprintf(stderr, "%s: %zu/%zu done\n", phase_.c_str(), done, total);
  }
}

void Progress::finish() {
  if (drawn_) {
    std::fputs("\r\033[K", stderr);
    std::fflush(stderr);
    drawn_ = false;
  }
}

// ---- Logging -------------------------------------------------------------------------------

namespace {

// One line per message on stderr; ignores the facade's pattern (which carries a timestamp, too
// noisy for a command line) but escapes the message just as the facade does.
class CliSink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string line;
    switch (msg.level) {
      case spdlog::level::trace: line = "TRACE"; break;
      case spdlog::level::debug: line = "DEBUG"; break;
      case spdlog::level::info: line = "INFO"; break;
      case spdlog::level::warn: line = "WARN"; break;
      case spdlog::level::err: line = "ERROR"; break;
      case spdlog::level::critical: line = "FATAL"; break;
      default: return;
    }
    line += " [";
    line.append(msg.logger_name.data(), msg.logger_name.size());
    line += "] ";
    static constexpr char kHex[] = "0123456789abcdef";
    for (std::size_t i = 0; i < msg.payload.size(); ++i) {
      const auto c = static_cast<unsigned char>(msg.payload.data()[i]);
      if (c == '\n') {
        line += "\\n";
      } else if (c == '\r') {
        line += "\\r";
      } else if (c == '\t') {
        line += "\\t";
      } else if (c < 0x20 || c == 0x7f) {
        line += "\\x";
        line += kHex[c >> 4];
        line += kHex[c & 15];
      } else {
        line += static_cast<char>(c);
      }
    }
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
  void flush_() override { std::fflush(stderr); }
};

}  // namespace

void init_logging(bool debug, bool verbose) {
  log::Options options;
  options.level = debug ? "debug" : (verbose ? "info" : "warn");
  options.sink = std::make_shared<CliSink>();
  log::init(options);
}

}  // namespace vouch::cli
