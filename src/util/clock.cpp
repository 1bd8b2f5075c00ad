#include "util/clock.hpp"

#include <thread>

namespace util {

int64_t SystemClock::steady_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t ClockStepWatch::stepped_back_ms(const Clock& clock) {
  constexpr int64_t k_tolerance_ms = 2000;
  const auto wall = clock.now_ms();
  const auto steady = clock.steady_ms();
  int64_t back = 0;
  if (last_steady_ != 0) {
    const auto lag = (steady - last_steady_) - (wall - last_wall_);
    back = lag > k_tolerance_ms ? lag : 0;
  }
  last_wall_ = wall;
  last_steady_ = steady;
  return back;
}

int64_t SystemClock::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void SystemClock::sleep_ms(int64_t ms) {
  if (ms > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  }
}

SystemRng::SystemRng() : engine_(std::random_device{}()) {}

double SystemRng::next_unit() {
  return std::uniform_real_distribution<double>(0.0, 1.0)(engine_);
}

} // namespace util
