#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace vouch {

// The one home for an enum's names: a constant table of {value, name} rows gives both
// directions, so that `to_string(E)` and the parser of the same names cannot drift apart.
//
//   constexpr EnumName<Mode> kModeNames[] = {
//       {Mode::kEnforce, "enforce"}, {Mode::kWarn, "warn"}, {Mode::kAudit, "audit"}};
//   static_assert(lists_every_value(kModeNames, Mode::kAudit));
//   std::string_view to_string(Mode m) { return name_of(kModeNames, m); }
//   std::optional<Mode> m = value_of(kModeNames, "warn");
//
// Everything here is constexpr, allocates nothing and is safe from any thread (the tables
// are constants). A linear scan: the tables are a handful of rows.

// One row of a name table.
template <typename E>
struct EnumName {
  E value;
  std::string_view name;
};

// The name of value in table (the first row that has it), or fallback when no row has it
// (a value cast from an integer outside the enum; lists_every_value rules out a forgotten row).
template <typename E, std::size_t N>
constexpr std::string_view name_of(const EnumName<E> (&table)[N], E value,
                                   std::string_view fallback = "unknown") {
  for (const EnumName<E>& row : table) {
    if (row.value == value) return row.name;
  }
  return fallback;
}

// The value whose name is exactly name (case-sensitive, no trimming; the first row that has
// it), or nullopt.
template <typename E, std::size_t N>
constexpr std::optional<E> value_of(const EnumName<E> (&table)[N], std::string_view name) {
  for (const EnumName<E>& row : table) {
    if (row.name == name) return row.value;
  }
  return std::nullopt;
}

// True if the rows list the values 0, 1, ..., last in that order, each once: for an enum whose
// enumerators are dense from 0, `static_assert(lists_every_value(table, E::kLastEnumerator))`
// turns a forgotten or misplaced row into a compile error, as a switch's -Wswitch would.
// (An enumerator appended after `last` still needs `last` updated: name it beside the enum.)
template <typename E, std::size_t N>
constexpr bool lists_every_value(const EnumName<E> (&table)[N], E last) {
  for (std::size_t i = 0; i < N; ++i) {
    if (static_cast<std::size_t>(table[i].value) != i) return false;
  }
  return static_cast<std::size_t>(last) + 1 == N;
}

}  // namespace vouch
