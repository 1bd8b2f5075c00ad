// Retry delays as a pure function: the caller draws u01, so tests are deterministic.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>

namespace worker {

struct BackoffPolicy {
  int64_t base_ms = 2000;
  int64_t cap_ms = 15LL * 60 * 1000;
  int64_t retry_after_cap_ms = 60LL * 60 * 1000;
};

// Full jitter: uniform in [0, min(cap, base * 2^attempt)], never below 1/10 of the base so a
// retry is not immediate. A server's Retry-After wins (capped) when it is given.
inline int64_t next_delay_ms(int64_t attempt, std::optional<int64_t> retry_after_s, double u01,
                             const BackoffPolicy& policy = {}) {
  if (retry_after_s) {
    return std::clamp<int64_t>(*retry_after_s * 1000, policy.base_ms / 10, policy.retry_after_cap_ms);
  }
  const double exp = std::ldexp(static_cast<double>(policy.base_ms), static_cast<int>(std::min<int64_t>(attempt, 40)));
  const double ceiling = std::min(static_cast<double>(policy.cap_ms), exp);
  const double u = std::clamp(u01, 0.0, 1.0);
  return std::max<int64_t>(policy.base_ms / 10, static_cast<int64_t>(u * ceiling));
}

} // namespace worker
