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

bool AdaptiveLimit::acquire(util::Clock& clock) {
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
      return probing_; // while probing only one request is out: this one goes alone
    }
    // Bounded: a release notifies, and the hold is re-read at least every 50 ms.
    freed_.wait_for(lock, std::chrono::milliseconds(50));
  }
}

void AdaptiveLimit::start_probe() {
  if (!probing_) {
    probing_ = true;
    probe_answers_ = 0;
    ++probes_;
  }
}

int AdaptiveLimit::allowed() const {
  return probing_ ? 1 : std::max(1, static_cast<int>(limit_));
}

void AdaptiveLimit::decrease(double factor) {
  // One cut per round trip: the requests that were in flight with this one report the same
  // congestion, so the next cut waits until they have all answered (counted, not timed, so that
  // the worker's virtual clock in tests does not matter).
  // A stronger cut (an overload after a latency cut) is not held back by a weaker one.
  if (answers_before_next_cut_ > 0 && factor >= last_cut_factor_) {
    return;
  }
  last_cut_factor_ = factor;
  answers_before_next_cut_ = in_flight_ + 1; // this release already counted itself
  limit_ = std::max(1.0, limit_ * factor);
  ++decreases_;
}

void AdaptiveLimit::release(bool alone, Signal signal, const std::string& route, double latency_ms, int64_t now_ms,
                            int64_t retry_after_ms) {
  const std::lock_guard lock(mutex_);
  const bool was_using_limit = in_flight_ >= static_cast<int>(limit_); // app-limited otherwise
  in_flight_ = std::max(0, in_flight_ - 1);
  answers_before_next_cut_ = std::max(0, answers_before_next_cut_ - 1);
  freed_.notify_one();
  auto& r = routes_[route];
  const double latency = std::max(latency_ms, 0.0);
  switch (signal) {
  case Signal::overload:
    ++overloads_;
    // Plex said how many at once is too many: stay below that for a while, whatever latency says
    // (latency alone let a server with a short queue be overloaded again and again).
    overload_cap_ = std::max(1, in_flight_); // in flight besides this one
    cap_answers_left_ = k_overload_memory;
    decrease(0.5);
    hold_until_ms_ = std::max(
        hold_until_ms_, now_ms + std::min(retry_after_ms > 0 ? retry_after_ms : k_default_hold_ms, k_max_hold_ms));
    return;
  case Signal::timeout:
    decrease(0.5);
    return;
  case Signal::failed:
    return;
  case Signal::answered:
    break;
  }
  cap_answers_left_ = std::max(0, cap_answers_left_ - 1);
  if (r.samples++ == 0) {
    r.smoothed = latency;
  } else {
    r.smoothed = k_smoothing * latency + (1 - k_smoothing) * r.smoothed;
  }
  if (alone) {
    // What an unloaded Plex answers in, for this route: the lowest lone answer of this probe.
    r.unloaded = r.probed_in == probes_ ? std::min(r.unloaded, latency) : latency;
    r.probed_in = probes_;
    r.smoothed = latency;
    if (++probe_answers_ >= k_probe_answers) {
      probing_ = false;
      answers_since_probe_ = 0;
      freed_.notify_all();
    }
    return;
  }
  if (r.probed_in < 0) {
    // A kind of request never seen alone: its latency under load says nothing yet. Probe.
    start_probe();
    return;
  }
  r.unloaded = std::min(r.unloaded, r.smoothed);
  if (probing_) {
    return; // started before the probe: it shared Plex with others
  }
  if (++answers_since_probe_ >= k_probe_every) {
    start_probe();
    return;
  }
  // Grow only when this answer and the trend are both unloaded; shrink on the trend (one slow
  // answer is jitter, not congestion).
  const auto slack = static_cast<double>(k_slack_ms);
  const double grow_bound = r.unloaded * k_grow_below + slack;
  if (r.smoothed <= grow_bound && latency <= grow_bound) {
    if (was_using_limit) {
      const int cap = cap_answers_left_ > 0 ? std::min(ceiling_, overload_cap_) : ceiling_;
      limit_ = std::min(static_cast<double>(cap), limit_ + 1.0 / limit_);
    }
  } else if (r.smoothed > r.unloaded * k_shrink_above + slack) {
    decrease(0.8);
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
