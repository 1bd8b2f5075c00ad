// Deterministic time and randomness for worker tests: sleeping advances virtual time.
#pragma once

#include <atomic>

#include "util/clock.hpp"

namespace testing_support {

class FakeClock final : public util::Clock {
public:
  explicit FakeClock(int64_t start_ms = 1'800'000'000'000) : now_(start_ms) {}
  [[nodiscard]] int64_t now_ms() const override { return now_; }
  [[nodiscard]] int64_t steady_ms() const override { return steady_; }
  void sleep_ms(int64_t ms) override { advance(ms > 0 ? ms : 0); }
  void advance(int64_t ms) {
    now_ += ms;
    steady_ += ms > 0 ? ms : 0;
  }
  // The wall clock alone is set (back, when negative), as NTP or a person does.
  void step_wall(int64_t ms) { now_ += ms; }

private:
  std::atomic<int64_t> now_;
  std::atomic<int64_t> steady_{1};
};

class FixedRng final : public util::Rng {
public:
  explicit FixedRng(double value = 0.5) : value_(value) {}
  double next_unit() override { return value_; }

private:
  double value_;
};

} // namespace testing_support
