#pragma once

#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

#include "common/error.h"

namespace vouch {

// Result<T> holds either a T or an Error, shaped like C++23 std::expected<T, Error> (GCC 12
// has no std::expected). Library functions that can fail return Result and never throw.
//
//   Result<Root> r = parse_root(bytes);
//   if (!r) return std::move(r).error().wrap("root.json");
//   use(*r);
//
// Accessing value() of an error, or error() of a value, is a programming error (asserted).
//
// BasicResult<T, E> is the same type over a richer error E derived from Error (e.g.
// tuf::UpdateResult over tuf::UpdateError). Such an E must be explicitly constructible from a
// plain Error: a BasicResult<T, E> then also converts implicitly from an Error through that
// constructor, so VOUCH_RETURN_IF_ERROR / VOUCH_ASSIGN_OR_RETURN propagate plain errors into it.
// E must also be default-constructible (BasicResult<void, E> holds one).
template <typename T, typename E = Error>
class [[nodiscard]] BasicResult {
  static_assert(std::is_base_of_v<Error, E>, "a result's error type is an Error");

 public:
  using value_type = T;
  using error_type = E;

  BasicResult(T value) : data_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit
  BasicResult(E error) : data_(std::in_place_index<1>, std::move(error)) {}  // NOLINT: implicit
  BasicResult(Error error)  // NOLINT: implicit
    requires(!std::is_same_v<E, Error>)
      : data_(std::in_place_index<1>, E(std::move(error))) {}

  bool ok() const { return data_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { assert(ok()); return std::get<0>(data_); }
  const T& value() const& { assert(ok()); return std::get<0>(data_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(data_)); }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  E& error() & { assert(!ok()); return std::get<1>(data_); }
  const E& error() const& { assert(!ok()); return std::get<1>(data_); }
  E&& error() && { assert(!ok()); return std::get<1>(std::move(data_)); }

  template <typename U>
  T value_or(U&& fallback) const& {
    return ok() ? value() : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  std::variant<T, E> data_;
};

// BasicResult<void, E>: success carries nothing.
template <typename E>
class [[nodiscard]] BasicResult<void, E> {
  static_assert(std::is_base_of_v<Error, E>, "a result's error type is an Error");

 public:
  using value_type = void;
  using error_type = E;

  BasicResult() = default;
  BasicResult(E error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit
  BasicResult(Error error)  // NOLINT: implicit
    requires(!std::is_same_v<E, Error>)
      : error_(E(std::move(error))), ok_(false) {}

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  void value() const { assert(ok_); }

  E& error() & { assert(!ok_); return error_; }
  const E& error() const& { assert(!ok_); return error_; }
  E&& error() && { assert(!ok_); return std::move(error_); }

 private:
  E error_;
  bool ok_ = true;
};

template <typename T>
using Result = BasicResult<T, Error>;

using Status = Result<void>;

inline Status ok_status() { return {}; }

}  // namespace vouch

#define VOUCH_CONCAT_INNER_(a, b) a##b
#define VOUCH_CONCAT_(a, b) VOUCH_CONCAT_INNER_(a, b)

// VOUCH_RETURN_IF_ERROR(expr): evaluates a Result-returning expr; on error returns that error
// from the enclosing function (whose return type must be constructible from Error).
#define VOUCH_RETURN_IF_ERROR(expr)                                   \
  do {                                                                \
    auto&& vouch_status_ = (expr);                                    \
    if (!vouch_status_.ok()) return std::move(vouch_status_).error(); \
  } while (false)

// VOUCH_ASSIGN_OR_RETURN(lhs, expr): `lhs = *expr` on success, else returns the error.
//   VOUCH_ASSIGN_OR_RETURN(auto root, parse_root(bytes));
#define VOUCH_ASSIGN_OR_RETURN(lhs, expr) \
  VOUCH_ASSIGN_OR_RETURN_IMPL_(VOUCH_CONCAT_(vouch_result_, __LINE__), lhs, expr)
#define VOUCH_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return std::move(tmp).error();      \
  lhs = std::move(tmp).value()
