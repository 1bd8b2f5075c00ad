// Time and randomness as injectable dependencies, so retry and queue logic is testable.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace util {

class Clock {
public:
  virtual ~Clock() = default;
  // Wall-clock milliseconds since the Unix epoch (persisted in the database).
  [[nodiscard]] virtual int64_t now_ms() const = 0;
  // Milliseconds that only ever move forward (no epoch): what a clock step is measured against.
  [[nodiscard]] virtual int64_t steady_ms() const = 0;
  virtual void sleep_ms(int64_t ms) = 0;
};

class SystemClock final : public Clock {
public:
  [[nodiscard]] int64_t now_ms() const override;
  [[nodiscard]] int64_t steady_ms() const override;
  void sleep_ms(int64_t ms) override;
};

// Notices the wall clock being set back (NTP correcting a fast clock, a person fixing the time):
// how far, measured against the steady clock since the last look. Forward steps are not reported
// (waits then end early, which costs nothing).
class ClockStepWatch {
public:
  // The wall clock went back by this many ms since the last call (0 when not, or by under 2 s).
  int64_t stepped_back_ms(const Clock& clock);

private:
  int64_t last_wall_ = 0;
  int64_t last_steady_ = 0;
};

class Rng {
public:
  virtual ~Rng() = default;
  // Uniform in [0, 1).
  virtual double next_unit() = 0;
};

class SystemRng final : public Rng {
public:
  SystemRng();
  double next_unit() override;

private:
  std::mt19937_64 engine_;
};

} // namespace util
