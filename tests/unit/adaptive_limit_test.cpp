// The adaptive in-flight limit towards Plex (net/adaptive_limit.hpp): it grows while answers keep
// their usual latency, halves and holds on 429/503, shrinks as latency climbs, and in a closed loop
// against a server with a knee it settles near the knee without reaching overload.
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "net/adaptive_limit.hpp"
#include "support/fake_clock.hpp"

namespace {

using Signal = net::AdaptiveLimit::Signal;

// n requests at once, each answered after latency_ms; the clock moves by that much.
void round_of(net::AdaptiveLimit& limit, testing_support::FakeClock& clock, int n, int64_t latency_ms,
              const std::string& route = "GET /library/metadata/#") {
  std::vector<bool> alone;
  for (int i = 0; i < n; ++i) {
    alone.push_back(limit.acquire(clock));
  }
  clock.advance(latency_ms);
  for (int i = 0; i < n; ++i) {
    limit.release(alone[static_cast<size_t>(i)], Signal::answered, route, static_cast<double>(latency_ms),
                  clock.now_ms());
  }
}

TEST(AdaptiveLimit, GrowsOneRequestPerRoundTripWhileLatencyHolds) {
  testing_support::FakeClock clock;
  net::AdaptiveLimit limit;
  EXPECT_DOUBLE_EQ(limit.snapshot().limit, net::AdaptiveLimit::k_initial);
  for (int round = 0; round < 40; ++round) {
    round_of(limit, clock, limit.snapshot().allowed, 5);
  }
  EXPECT_DOUBLE_EQ(limit.snapshot().limit, net::AdaptiveLimit::k_default_ceiling) << "capped by the ceiling";
  EXPECT_EQ(limit.snapshot().in_flight, 0);
  EXPECT_EQ(limit.snapshot().decreases, 0);
}

TEST(AdaptiveLimit, DoesNotGrowWhenTheLimitIsNotInUse) {
  testing_support::FakeClock clock;
  net::AdaptiveLimit limit;
  for (int round = 0; round < 50; ++round) {
    round_of(limit, clock, 1, 5); // a trickle: one request at a time
  }
  EXPECT_DOUBLE_EQ(limit.snapshot().limit, net::AdaptiveLimit::k_initial);
}

TEST(AdaptiveLimit, AnOverloadHalvesTheLimitAndHoldsEveryoneForRetryAfter) {
  testing_support::FakeClock clock;
  net::AdaptiveLimit limit;
  for (int round = 0; round < 40; ++round) {
    round_of(limit, clock, limit.snapshot().allowed, 5);
  }
  (void)limit.acquire(clock);
  const int64_t at = clock.now_ms();
  limit.release(false, Signal::overload, "PUT /library/sections/#/all", 5, at, 3000);
  EXPECT_DOUBLE_EQ(limit.snapshot().limit, 4.0);
  EXPECT_EQ(limit.snapshot().overloads, 1);
  (void)limit.acquire(clock); // waits out the hold on the (fake) clock
  EXPECT_GE(clock.now_ms(), at + 3000);
  limit.release(false, Signal::answered, "GET /library/metadata/#", 5, clock.now_ms());
  // A long Retry-After holds at most k_max_hold_ms; the job's own retry honours the rest.
  (void)limit.acquire(clock);
  limit.release(false, Signal::overload, "GET /library/metadata/#", 5, clock.now_ms(), 3'600'000);
  EXPECT_EQ(limit.snapshot().hold_until_ms, clock.now_ms() + net::AdaptiveLimit::k_max_hold_ms);
}

// After a 503 at five in flight the limit grows back, but not to five again for a long while,
// however good latency looks (a server with a short queue overloads before latency climbs).
TEST(AdaptiveLimit, AnOverloadIsRememberedAsACeiling) {
  testing_support::FakeClock clock;
  net::AdaptiveLimit limit;
  for (int round = 0; round < 40; ++round) {
    round_of(limit, clock, limit.snapshot().allowed, 5);
  }
  std::vector<bool> alone;
  for (int i = 0; i < 5; ++i) {
    alone.push_back(limit.acquire(clock));
  }
  limit.release(alone[0], Signal::overload, "GET /library/metadata/#", 5, clock.now_ms(), 1);
  for (int i = 1; i < 5; ++i) {
    limit.release(alone[static_cast<size_t>(i)], Signal::answered, "GET /library/metadata/#", 5, clock.now_ms());
  }
  for (int round = 0; round < 200; ++round) {
    round_of(limit, clock, limit.snapshot().allowed, 5);
  }
  EXPECT_DOUBLE_EQ(limit.snapshot().limit, 4.0) << "grew back to just below the overload";
}

TEST(AdaptiveLimit, RequestsFailingTogetherCutTheLimitOncePerRoundTrip) {
  testing_support::FakeClock clock;
  net::AdaptiveLimit limit;
  for (int round = 0; round < 40; ++round) {
    round_of(limit, clock, limit.snapshot().allowed, 20);
  }
  for (int i = 0; i < 8; ++i) {
    (void)limit.acquire(clock);
  }
  for (int i = 0; i < 8; ++i) {
    limit.release(false, Signal::timeout, "GET /library/metadata/#", 30000, clock.now_ms());
  }
  EXPECT_DOUBLE_EQ(limit.snapshot().limit, 4.0) << "eight timeouts of one round are one congestion event";
  EXPECT_EQ(limit.snapshot().decreases, 1);
}

TEST(AdaptiveLimit, RefusedConnectionsAreTheBreakersBusiness) {
  testing_support::FakeClock clock;
  net::AdaptiveLimit limit;
  (void)limit.acquire(clock);
  limit.release(false, Signal::failed, "GET /identity", 1, clock.now_ms());
  EXPECT_DOUBLE_EQ(limit.snapshot().limit, net::AdaptiveLimit::k_initial);
  EXPECT_EQ(limit.snapshot().in_flight, 0);
}

TEST(AdaptiveLimit, ACeilingBelowTheLimitLowersIt) {
  testing_support::FakeClock clock;
  net::AdaptiveLimit limit;
  for (int round = 0; round < 40; ++round) {
    round_of(limit, clock, limit.snapshot().allowed, 5);
  }
  limit.set_ceiling(3);
  EXPECT_DOUBLE_EQ(limit.snapshot().limit, 3.0);
}

// A server with `capacity` workers: beyond it requests queue, so latency grows with the load, and
// past twice the capacity it answers 503. The limit must settle at or above the knee and never
// reach the overload, for fast and slow servers alike.
TEST(AdaptiveLimit, SettlesNearTheKneeOfALoadedServerWithoutOverloadingIt) {
  for (const int64_t service_ms : {5, 20, 80}) {
    for (const int capacity : {1, 2, 3}) {
      testing_support::FakeClock clock;
      net::AdaptiveLimit limit;
      int most = 0;
      double sum = 0;
      constexpr int k_rounds = 400;
      for (int round = 0; round < k_rounds; ++round) {
        const int n = limit.snapshot().allowed;
        most = std::max(most, n);
        const auto latency = static_cast<int64_t>(
            std::llround(static_cast<double>(service_ms) * std::max(1.0, static_cast<double>(n) / capacity)));
        round_of(limit, clock, n, latency);
        if (round >= k_rounds / 2) {
          sum += n;
        }
      }
      const double settled = sum / (k_rounds / 2);
      SCOPED_TRACE("service " + std::to_string(service_ms) + " ms, capacity " + std::to_string(capacity));
      EXPECT_LE(most, 2 * capacity) << "reached the overload point";
      EXPECT_GE(settled, capacity) << "stayed below the knee";
      EXPECT_LE(settled, 1.75 * capacity + 1);
    }
  }
}

// A kind of request first seen under load (an edit after many reads) says nothing about Plex's
// unloaded latency: one request goes alone to measure it before its latency steers the limit.
TEST(AdaptiveLimit, ARouteFirstSeenUnderLoadIsMeasuredAloneFirst) {
  testing_support::FakeClock clock;
  net::AdaptiveLimit limit;
  for (int round = 0; round < 40; ++round) {
    round_of(limit, clock, limit.snapshot().allowed, 5);
  }
  ASSERT_EQ(limit.snapshot().allowed, 8);
  round_of(limit, clock, 8, 40, "PUT /library/sections/#/all"); // slow because loaded: no baseline
  EXPECT_EQ(limit.snapshot().allowed, 1) << "a probe";
  round_of(limit, clock, 1, 10, "PUT /library/sections/#/all");
  round_of(limit, clock, 1, 10, "PUT /library/sections/#/all");
  EXPECT_EQ(limit.snapshot().allowed, 8) << "the probe ended and kept the limit";
  round_of(limit, clock, 8, 40, "PUT /library/sections/#/all"); // four times the unloaded: shrink
  EXPECT_LT(limit.snapshot().limit, 8.0);
}

TEST(AdaptiveLimit, RoutesIgnoreIdsAndLists) {
  EXPECT_EQ(net::AdaptiveLimit::route_of("GET", "/library/metadata/123?includeGuids=1"), "GET /library/metadata/#");
  EXPECT_EQ(net::AdaptiveLimit::route_of("GET", "/library/metadata/1,22,333"), "GET /library/metadata/#,");
  EXPECT_EQ(net::AdaptiveLimit::route_of("PUT", "/library/sections/3/all?type=1&id=9"), "PUT /library/sections/#/all");
}

} // namespace
