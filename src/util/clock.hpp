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
  virtual void sleep_ms(int64_t ms) = 0;
};

class SystemClock final : public Clock {
public:
  [[nodiscard]] int64_t now_ms() const override;
  void sleep_ms(int64_t ms) override;
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
