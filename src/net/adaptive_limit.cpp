#include "net/adaptive_limit.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>

namespace net {
namespace {

constexpr double k_smoothing = 0.2; // weight of the newest latency in the smoothed value
constexpr int64_t k_default_hold_ms = 1000;
constexpr int k_probe_answers = 2; // answers of lone requests that end a probe

} // namespace

void AdaptiveLimit::set_ceiling(int ceiling) {
  const std::lock_guard lock(mutex_);
  ceiling_ = std::max(1, ceiling);
  limit_ = std::min(limit_, static_cast<double>(ceiling_));
  freed_.notify_all();
}

void AdaptiveLimit::acquire(util::Clock& clock) {
  std::unique_lock lock(mutex_);
  while (true) {
    const int64_t now = clock.now_ms();
    if (now < hold_until_ms_) {
      const int64_t wait = std::min<int64_t>(hold_until_ms_ - now, 100);
      lock.unlock();
      clock.sleep_ms(wait);
      lock.lock();
      continue;
    }
    if (in_flight_ < allowed()) {
      ++in_flight_;
      return;
    }
    // Bounded: a release notifies, and the hold is re-read at least every 50 ms.
    freed_.wait_for(lock, std::chrono::milliseconds(50));
  }
}

int AdaptiveLimit::allowed() const {
  return probing_ ? 1 : std::max(1, static_cast<int>(limit_));
}

void AdaptiveLimit::decrease(double factor, int64_t now_ms, double round_trip_ms) {
  // One cut per round trip: the requests that were in flight together report the same congestion.
  if (now_ms - last_decrease_ms_ < static_cast<int64_t>(round_trip_ms)) {
    return;
  }
  last_decrease_ms_ = now_ms;
  limit_ = std::max(1.0, limit_ * factor);
  ++decreases_;
}

void AdaptiveLimit::release(Signal signal, const std::string& route, int64_t latency_ms, int64_t now_ms,
                            int64_t retry_after_ms) {
  const std::lock_guard lock(mutex_);
  const bool was_using_limit = in_flight_ >= static_cast<int>(limit_); // app-limited otherwise
  in_flight_ = std::max(0, in_flight_ - 1);
  freed_.notify_one();
  auto& r = routes_[route];
  const auto latency = static_cast<double>(std::max<int64_t>(latency_ms, 0));
  switch (signal) {
  case Signal::overload:
    ++overloads_;
    decrease(0.5, now_ms, r.smoothed);
    hold_until_ms_ = std::max(
        hold_until_ms_, now_ms + std::min(retry_after_ms > 0 ? retry_after_ms : k_default_hold_ms, k_max_hold_ms));
    return;
  case Signal::timeout:
    decrease(0.5, now_ms, r.smoothed);
    return;
  case Signal::failed:
    return;
  case Signal::answered:
    break;
  }
  const bool alone = in_flight_ == 0; // nothing else was in flight when it ended
  if (r.samples++ == 0) {
    r.smoothed = latency;
    r.unloaded = latency;
  } else {
    r.smoothed = k_smoothing * latency + (1 - k_smoothing) * r.smoothed;
    r.unloaded = std::min(r.unloaded, r.smoothed);
  }
  if (probing_) {
    // The first lone answer may have queued behind the others that were draining; the next is clean.
    if (alone && ++probe_answers_ >= k_probe_answers) {
      r.unloaded = latency;
      r.smoothed = latency;
      probing_ = false;
      answers_since_probe_ = 0;
      freed_.notify_all();
    }
    return;
  }
  if (++answers_since_probe_ >= k_probe_every) {
    probing_ = true;
    probe_answers_ = 0;
    return;
  }
  // Grow only when this answer and the trend are both unloaded; shrink on the trend (one slow
  // answer is jitter, not congestion).
  const double bound = r.unloaded * k_tolerance + static_cast<double>(k_slack_ms);
  if (r.smoothed <= bound) {
    if (was_using_limit && latency <= bound) {
      limit_ = std::min(static_cast<double>(ceiling_), limit_ + 1.0 / limit_);
    }
  } else {
    decrease(0.9, now_ms, r.smoothed);
  }
}

AdaptiveLimit::Snapshot AdaptiveLimit::snapshot() {
  const std::lock_guard lock(mutex_);
  return Snapshot{limit_, allowed(), in_flight_, hold_until_ms_, decreases_, overloads_};
}

std::string AdaptiveLimit::route_of(const std::string& method, const std::string& target) {
  std::string route = method + " ";
  const auto path = target.substr(0, target.find('?'));
  size_t i = 0;
  while (i < path.size()) {
    if (std::isdigit(static_cast<unsigned char>(path[i])) != 0) {
      bool list = false;
      while (i < path.size() && (std::isdigit(static_cast<unsigned char>(path[i])) != 0 || path[i] == ',')) {
        list = list || path[i] == ',';
        ++i;
      }
      route += list ? "#," : "#";
    } else {
      route += path[i++];
    }
  }
  return route;
}

} // namespace net
