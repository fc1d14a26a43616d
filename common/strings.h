#pragma once

// Small text helpers shared by the command line and the daemons' messages.

#include <string>
#include <string_view>
#include <vector>

namespace vouch {

// The items with `separator` between them ("" for no items; no trailing separator).
//   join({"a", "b", "c"}, ", ") == "a, b, c"
// A separator is added only once the output is non-empty, so leading empty items vanish:
// join({"", "b"}, ", ") == "b" (the behaviour of the copies this replaced).
std::string join(const std::vector<std::string>& items, std::string_view separator);

// Text from a peer made safe for a one-line message: at most `max` bytes of it, control bytes
// (below 0x20, and 0x7f) replaced by '?', and "..." appended when it was cut.
//   printable("a\nb", 512) == "a?b";  printable("abcdef", 3) == "abc..."
std::string printable(std::string_view text, std::size_t max = 512);

}  // namespace vouch
