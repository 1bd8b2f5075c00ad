#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "worker/backoff.hpp"

namespace {

using worker::BackoffPolicy;
using worker::next_delay_ms;

TEST(Backoff, FullJitterTable) {
  const BackoffPolicy p{1000, 60000, 3600000};
  EXPECT_EQ(next_delay_ms(0, std::nullopt, 1.0, p), 1000);
  EXPECT_EQ(next_delay_ms(3, std::nullopt, 1.0, p), 8000);
  EXPECT_EQ(next_delay_ms(3, std::nullopt, 0.5, p), 4000);
  EXPECT_EQ(next_delay_ms(20, std::nullopt, 1.0, p), 60000); // capped
  EXPECT_EQ(next_delay_ms(3, std::nullopt, 0.0, p), 100);    // floor: never an immediate retry
  EXPECT_EQ(next_delay_ms(1000, std::nullopt, 1.0, p), 60000);
}

TEST(Backoff, RetryAfterWinsAndIsCapped) {
  const BackoffPolicy p{1000, 60000, 3600000};
  EXPECT_EQ(next_delay_ms(0, 120, 0.3, p), 120000);
  EXPECT_EQ(next_delay_ms(5, 999999, 0.3, p), 3600000);
  EXPECT_EQ(next_delay_ms(5, 0, 0.3, p), 100);
}

RC_GTEST_PROP(BackoffProperty, WithinJitterBoundsAndCap, (int attempt, double u)) {
  const BackoffPolicy p{2000, 900000, 3600000};
  const int64_t a = std::abs(attempt % 64);
  const double u01 = std::abs(std::fmod(u, 1.0));
  const auto d = next_delay_ms(a, std::nullopt, u01, p);
  const double ceiling = std::min(900000.0, std::ldexp(2000.0, static_cast<int>(a)));
  RC_ASSERT(d >= 200);
  RC_ASSERT(static_cast<double>(d) <= std::max(200.0, ceiling));
}

RC_GTEST_PROP(BackoffProperty, MonotoneCeilingInAttempt, (int attempt)) {
  const int64_t a = std::abs(attempt % 40);
  RC_ASSERT(next_delay_ms(a, std::nullopt, 1.0) <= next_delay_ms(a + 1, std::nullopt, 1.0));
}

} // namespace
