// Results inside the program: tl::expected with a small error type, plus TRY helpers.
#pragma once

#include <string>
#include <utility>

#include <tl/expected.hpp>

namespace util {

struct Error {
  std::string message;
};

template <typename T> using Result = tl::expected<T, Error>;

inline tl::unexpected<Error> fail(std::string message) {
  return tl::unexpected<Error>(Error{std::move(message)});
}

} // namespace util

// Propagate the error of an expected-returning expression.
#define PLEXSYNC_CONCAT_(a, b) a##b
#define PLEXSYNC_CONCAT(a, b) PLEXSYNC_CONCAT_(a, b)
#define TRY(expr)                                                                                                      \
  do {                                                                                                                 \
    auto&& try_result_ = (expr);                                                                                       \
    if (!try_result_) {                                                                                                \
      return tl::unexpected(std::move(try_result_).error());                                                           \
    }                                                                                                                  \
  } while (false)
// tmp is a generated name and var a declaration ("auto x"): neither can take parentheses.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define TRY_ASSIGN(var, expr) TRY_ASSIGN_IMPL_(PLEXSYNC_CONCAT(try_tmp_, __LINE__), var, expr)
#define TRY_ASSIGN_IMPL_(tmp, var, expr)                                                                               \
  auto tmp = (expr);                                                                                                   \
  if (!tmp) {                                                                                                          \
    return tl::unexpected(std::move(tmp).error());                                                                     \
  }                                                                                                                    \
  var = std::move(*tmp)
// NOLINTEND(bugprone-macro-parentheses)
