#include <gtest/gtest.h>

#include "net/paced_client.hpp"

namespace {

TEST(Pacer, AQuietPastAllowsAShortBurstThenTheRateHolds) {
  net::Pacer pacer;
  pacer.set_rate(10); // one start per 100 ms on average
  EXPECT_EQ(pacer.reserve(1000), 0);
  EXPECT_EQ(pacer.reserve(1000), 0);
  EXPECT_EQ(pacer.reserve(1000), 0); // three back to back (k_burst)
  EXPECT_EQ(pacer.reserve(1000), 100);
  EXPECT_EQ(pacer.reserve(1000), 200);
}

TEST(Pacer, TheLongRunRateIsTheConfiguredOne) {
  net::Pacer pacer;
  pacer.set_rate(10);
  // 100 requests asked for at once start over 9.7 s: the burst of 3, then 100 ms apart.
  int64_t last_start = 0;
  for (int i = 0; i < 100; ++i) {
    last_start = 5000 + pacer.reserve(5000);
  }
  EXPECT_EQ(last_start, 5000 + (100 - net::Pacer::k_burst) * 100);
}

TEST(Pacer, ABurstIsEarnedBackOnlyByWaiting) {
  net::Pacer pacer;
  pacer.set_rate(10);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(pacer.reserve(0), 0);
  }
  EXPECT_EQ(pacer.reserve(100), 0);   // one interval later, one slot is earned back...
  EXPECT_EQ(pacer.reserve(100), 100); // ...and only one
  EXPECT_EQ(pacer.reserve(1000), 0);  // after a quiet second the full burst is back
  EXPECT_EQ(pacer.reserve(1000), 0);
  EXPECT_EQ(pacer.reserve(1000), 0);
  EXPECT_EQ(pacer.reserve(1000), 100);
}

TEST(Pacer, ZeroMeansUnpaced) {
  net::Pacer pacer;
  pacer.set_rate(0);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(pacer.reserve(7), 0);
  }
}

} // namespace
