// Paces requests towards a server: at most `per_second` request starts per second, shared by
// every client that holds the same Pacer (the worker's lanes). Plex answers overload with slow
// replies rather than 429, so we do not wait to be told.
#pragma once

#include <algorithm>
#include <memory>
#include <mutex>

#include "net/http.hpp"
#include "util/clock.hpp"

namespace net {

// A generic cell rate algorithm: the long-run rate is per_second, and up to k_burst requests may
// start back to back when the recent past was quiet, so one edit (read, then write) is not held
// back a whole interval while a bulk sync is still spread out evenly.
class Pacer {
public:
  static constexpr int64_t k_burst = 3;

  void set_rate(int per_second) {
    const std::lock_guard lock(mutex_);
    interval_ms_ = per_second > 0 ? 1000 / per_second : 0;
  }
  // Reserves the next start slot; returns how long the caller must wait for it.
  int64_t reserve(int64_t now_ms) {
    const std::lock_guard lock(mutex_);
    const int64_t theoretical = std::max(now_ms, next_start_ms_); // where the steady rate would put it
    const int64_t start = std::max(now_ms, theoretical - (k_burst - 1) * interval_ms_);
    next_start_ms_ = theoretical + interval_ms_;
    return start - now_ms;
  }

private:
  std::mutex mutex_;
  int64_t interval_ms_ = 100;
  int64_t next_start_ms_ = 0;
};

class PacedClient final : public HttpClient {
public:
  PacedClient(std::unique_ptr<HttpClient> inner, util::Clock& clock, Pacer& pacer)
      : inner_(std::move(inner)), clock_(clock), pacer_(pacer) {}

  tl::expected<Response, TransportError> send(const Request& request) override {
    if (const int64_t wait = pacer_.reserve(clock_.now_ms()); wait > 0) {
      clock_.sleep_ms(wait);
    }
    return inner_->send(request);
  }

private:
  std::unique_ptr<HttpClient> inner_;
  util::Clock& clock_;
  Pacer& pacer_;
};

} // namespace net
