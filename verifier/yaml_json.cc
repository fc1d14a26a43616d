#include "verifier/yaml_json.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <charconv>
#include <cstdint>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "common/utf8.h"

namespace vouch::verifier {
namespace {

namespace json = tuf::json;

constexpr std::string_view kStrTag = "tag:yaml.org,2002:str";
constexpr std::string_view kMapTag = "tag:yaml.org,2002:map";
constexpr std::string_view kSeqTag = "tag:yaml.org,2002:seq";

std::string where(const YAML::Mark& mark) {
  if (mark.is_null()) return "YAML";
  return "YAML line " + std::to_string(mark.line + 1) + ", column " +
         std::to_string(mark.column + 1);
}

// A plain scalar under the YAML 1.2 core schema (nulls arrive as OnNull from yaml-cpp).
json::Value plain_scalar(const std::string& text) {
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  // [-+]?[0-9]+: one sign at most ("+-5" stays a string).
  std::string_view digits = text;
  const bool plus = !digits.empty() && digits.front() == '+';
  if (plus) digits.remove_prefix(1);
  const bool negative = !plus && !digits.empty() && digits.front() == '-';
  const std::string_view unsigned_part = negative ? digits.substr(1) : digits;
  if (!unsigned_part.empty() &&
      unsigned_part.find_first_not_of("0123456789") == std::string_view::npos) {
    std::int64_t value = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec == std::errc() && end == digits.data() + digits.size()) return value;
  }
  return text;
}

// Thrown by the handler to stop the parser at the first problem; never leaves this file.
struct Abort {
  Error error;
};

class Builder final : public YAML::EventHandler {
 public:
  explicit Builder(const DocumentLimits& limits) : limits_(limits) {}

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (documents_++ != 0) fail(Reason::kMalformed, mark, "more than one YAML document");
  }
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    add(mark, json::Value(), anchor, std::nullopt);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) fail(Reason::kMalformed, mark, "unknown alias");
    // The expansion counts again: the resulting document really holds that many values.
    count(mark, it->second.second - 1);
    add(mark, it->second.first, YAML::NullAnchor, std::nullopt);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    if (!valid_utf8(value)) fail(Reason::kInvalidUtf8, mark, "a scalar is not valid UTF-8");
    json::Value v;
    if (tag == "!" || tag == kStrTag) {
      v = value;
    } else if (tag == "?") {
      v = plain_scalar(value);
    } else {
      fail(Reason::kMalformed, mark, "unsupported YAML tag \"" + tag + "\"");
    }
    add(mark, std::move(v), anchor, value);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value /*style*/) override {
    check_container_tag(mark, tag, kSeqTag);
    push(mark, anchor, false);
  }
  void OnSequenceEnd() override { pop(); }

  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value /*style*/) override {
    check_container_tag(mark, tag, kMapTag);
    push(mark, anchor, true);
  }
  void OnMapEnd() override { pop(); }

  std::size_t documents() const { return documents_; }
  std::optional<json::Value>& result() { return result_; }

 private:
  struct Frame {
    bool is_map = false;
    YAML::Mark mark;
    YAML::anchor_t anchor = YAML::NullAnchor;
    std::size_t first_value = 0;  // values_ when the container started
    json::Array items;
    std::vector<json::Member> members;
    std::optional<std::string> key;  // a mapping's key waiting for its value
  };

  [[noreturn]] void fail(Reason reason, const YAML::Mark& mark, const std::string& what) {
    throw Abort{make_error(reason, where(mark) + ": " + what)};
  }

  void check_container_tag(const YAML::Mark& mark, const std::string& tag,
                           std::string_view allowed) {
    if (tag != "?" && tag != allowed) {
      fail(Reason::kMalformed, mark, "unsupported YAML tag \"" + tag + "\"");
    }
  }

  void count(const YAML::Mark& mark, std::size_t n) {
    values_ += n;
    if (values_ > limits_.max_values) {
      fail(Reason::kTooLarge, mark,
           "the document holds more than " + std::to_string(limits_.max_values) +
               " values (aliases counted as expanded)");
    }
  }

  void push(const YAML::Mark& mark, YAML::anchor_t anchor, bool is_map) {
    if (!stack_.empty() && stack_.back().is_map && !stack_.back().key) {
      fail(Reason::kMalformed, mark, "mapping keys must be scalars");
    }
    if (stack_.size() >= limits_.max_depth) {
      fail(Reason::kTooDeep, mark,
           "nested deeper than " + std::to_string(limits_.max_depth) + " levels");
    }
    count(mark, 1);
    Frame f;
    f.is_map = is_map;
    f.mark = mark;
    f.anchor = anchor;
    f.first_value = values_ - 1;
    stack_.push_back(std::move(f));
  }

  void pop() {
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    json::Value v;
    if (f.is_map) {
      json::Object obj;
      // Duplicate keys were refused as they arrived; assign_unsorted only sorts.
      obj.assign_unsorted(std::move(f.members));
      v = std::move(obj);
    } else {
      v = std::move(f.items);
    }
    const std::size_t size = values_ - f.first_value;
    if (f.anchor != YAML::NullAnchor) anchors_[f.anchor] = {v, size};
    place(std::move(v));
  }

  // A complete scalar, null or alias value.
  void add(const YAML::Mark& mark, json::Value v, YAML::anchor_t anchor,
           std::optional<std::string> scalar_text) {
    if (!stack_.empty() && stack_.back().is_map && !stack_.back().key) {
      // This value is a key.
      if (!scalar_text) fail(Reason::kMalformed, mark, "mapping keys must be non-empty scalars");
      if (anchor != YAML::NullAnchor) anchors_[anchor] = {std::move(v), 1};
      Frame& top = stack_.back();
      for (const auto& m : top.members) {
        if (m.first == *scalar_text) {
          fail(Reason::kDuplicateKey, mark, "repeated key \"" + *scalar_text + "\"");
        }
      }
      top.key = std::move(*scalar_text);
      return;
    }
    count(mark, 1);
    if (anchor != YAML::NullAnchor) anchors_[anchor] = {v, 1};
    place(std::move(v));
  }

  // Appends a complete value to the enclosing container (or makes it the document).
  void place(json::Value v) {
    if (stack_.empty()) {
      result_ = std::move(v);
      return;
    }
    Frame& top = stack_.back();
    if (top.is_map) {
      top.members.emplace_back(std::move(*top.key), std::move(v));
      top.key.reset();
    } else {
      top.items.push_back(std::move(v));
    }
  }

  const DocumentLimits& limits_;
  std::vector<Frame> stack_;
  // Anchor -> (value, number of values it holds).
  std::map<YAML::anchor_t, std::pair<json::Value, std::size_t>> anchors_;
  std::optional<json::Value> result_;
  std::size_t values_ = 0;
  std::size_t documents_ = 0;
};

}  // namespace

Result<json::Value> yaml_to_json(std::string_view text, const DocumentLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return make_error(Reason::kTooLarge, "YAML document of " + std::to_string(text.size()) +
                                             " bytes (at most " + std::to_string(limits.max_bytes) +
                                             ")");
  }
  Builder builder(limits);
  try {
    std::istringstream in{std::string(text)};
    YAML::Parser parser(in);
    if (!parser.HandleNextDocument(builder) || !builder.result()) {
      return make_error(Reason::kMalformed, "empty YAML document");
    }
    // A second document is refused by the handler as soon as it starts.
    (void)parser.HandleNextDocument(builder);
  } catch (Abort& abort) {
    return std::move(abort.error);
  } catch (const YAML::Exception& e) {
    return make_error(Reason::kMalformed, where(e.mark) + ": " + e.msg);
  } catch (const std::exception& e) {
    return make_error(Reason::kMalformed, std::string("YAML: ") + e.what());
  } catch (...) {
    return make_error(Reason::kInternal, "YAML: the parser failed");
  }
  return std::move(*builder.result());
}

}  // namespace vouch::verifier
