#include "util/clock.hpp"

#include <thread>

namespace util {

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
