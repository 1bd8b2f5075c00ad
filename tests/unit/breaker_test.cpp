#include <gtest/gtest.h>

#include "worker/breaker.hpp"

namespace {

using worker::BreakerState;
using worker::CircuitBreaker;

TEST(Breaker, OpensAfterThresholdConsecutiveFailures) {
  CircuitBreaker b(3);
  EXPECT_FALSE(b.on_transient_failure(1000, 0.5));
  EXPECT_FALSE(b.on_transient_failure(1001, 0.5));
  EXPECT_TRUE(b.admits());
  EXPECT_TRUE(b.on_transient_failure(1002, 0.5)); // the outage starts here
  EXPECT_FALSE(b.admits());
  EXPECT_EQ(b.state().phase, BreakerState::Phase::open);
  EXPECT_EQ(b.state().opened_at_ms, 1002);
  EXPECT_GT(b.state().next_probe_ms, 1002);
}

TEST(Breaker, SuccessResetsTheCount) {
  CircuitBreaker b(3);
  b.on_transient_failure(1, 0.5);
  b.on_transient_failure(2, 0.5);
  EXPECT_FALSE(b.on_success()); // was closed: no outage ended
  b.on_transient_failure(3, 0.5);
  b.on_transient_failure(4, 0.5);
  EXPECT_TRUE(b.admits());
}

TEST(Breaker, ProbeThenOneTrialJobThenClosed) {
  CircuitBreaker b(1);
  ASSERT_TRUE(b.on_transient_failure(1000, 1.0));
  const auto probe_at = b.state().next_probe_ms;
  EXPECT_FALSE(b.probe_due(probe_at - 1));
  EXPECT_TRUE(b.probe_due(probe_at));
  b.on_probe(false, probe_at, 1.0);
  EXPECT_FALSE(b.admits());
  EXPECT_GT(b.state().next_probe_ms, probe_at); // probes back off too
  b.on_probe(true, b.state().next_probe_ms, 1.0);
  EXPECT_EQ(b.state().phase, BreakerState::Phase::half_open);
  EXPECT_TRUE(b.admits()); // exactly one trial job
  EXPECT_TRUE(b.on_success());
  EXPECT_EQ(b.state().phase, BreakerState::Phase::closed);
}

TEST(Breaker, FailedTrialReopens) {
  CircuitBreaker b(1);
  b.on_transient_failure(0, 0.5);
  b.on_probe(true, 10000, 0.5);
  EXPECT_FALSE(b.on_transient_failure(10001, 0.5)); // not a new outage
  EXPECT_EQ(b.state().phase, BreakerState::Phase::open);
  EXPECT_FALSE(b.admits());
  EXPECT_EQ(b.state().opened_at_ms, 0);
}

} // namespace

TEST(Breaker, AClockSetBackMovesTheProbeWithIt) {
  CircuitBreaker b(1);
  ASSERT_TRUE(b.on_transient_failure(100'000, 0.5));
  const auto wait = b.state().next_probe_ms - 100'000;
  b.clock_stepped_back(75'000);
  EXPECT_TRUE(b.probe_due(100'000 - 75'000 + wait)) << "the probe kept the wait it had";
  ASSERT_TRUE(b.claim_probe(100'000 - 75'000 + wait));
  b.clock_stepped_back(5'000);
  EXPECT_FALSE(b.probe_due(0)) << "a claimed probe stays claimed";
}
