#pragma once

// doctest assertions on Result<T>/Status, shared by the unit tests. Both print the error's
// reason and message when they fail; tests assert on Reason, never on message text.

#include <doctest/doctest.h>

#include <string>

#include "common/error.h"

// Checks that `expr` (a Result or Status) failed with Reason `want`.
#define CHECK_REASON(expr, want)                                        \
  do {                                                                  \
    const auto& check_reason_result_ = (expr);                          \
    REQUIRE_FALSE(check_reason_result_.ok());                           \
    CHECK_MESSAGE(check_reason_result_.error().reason == (want),        \
                  to_string(check_reason_result_.error().reason)        \
                      << ": " << check_reason_result_.error().message); \
  } while (false)

// Requires that `expr` (a Result or Status) succeeded.
#define REQUIRE_OK(expr)                                                                 \
  do {                                                                                   \
    const auto& require_ok_result_ = (expr);                                             \
    REQUIRE_MESSAGE(                                                                     \
        require_ok_result_.ok(),                                                         \
        (require_ok_result_.ok() ? std::string() : require_ok_result_.error().message)); \
  } while (false)
