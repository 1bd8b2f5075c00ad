// Numbers from other programs' JSON: a float where an integer belongs (1.7e96, NaN) must not
// be cast blindly, which is undefined behaviour (found by plex_response_fuzz).
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>

namespace util {

// The value rounded toward zero, or nullopt when it is not finite or outside int64_t.
inline std::optional<int64_t> to_int64(double v) {
  // 2^63 is exactly representable; every double below it converts without overflow.
  constexpr double limit = 9223372036854775808.0;
  if (!std::isfinite(v) || v >= limit || v < -limit) {
    return std::nullopt;
  }
  return static_cast<int64_t>(v);
}

} // namespace util
