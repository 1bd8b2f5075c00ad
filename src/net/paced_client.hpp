// Paces requests towards a server: at most `per_second` request starts per second (when set),
// shared by every client that holds the same Pacer (the worker's lanes), and at most as many in
// flight as the adaptive limit allows.
#pragma once

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>

#include "net/adaptive_limit.hpp"
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

// Every request towards Plex passes here: the optional fixed rate (plex_requests_per_second)
// first, then the adaptive in-flight limit (net/adaptive_limit.hpp), which learns from the answer.
class PacedClient final : public HttpClient {
public:
  PacedClient(std::unique_ptr<HttpClient> inner, util::Clock& clock, Pacer& pacer, AdaptiveLimit* limit = nullptr)
      : inner_(std::move(inner)), clock_(clock), pacer_(pacer), limit_(limit) {}

  tl::expected<Response, TransportError> send(const Request& request) override {
    if (const int64_t wait = pacer_.reserve(clock_.now_ms()); wait > 0) {
      clock_.sleep_ms(wait);
    }
    if (limit_ == nullptr) {
      return inner_->send(request);
    }
    const bool alone = limit_->acquire(clock_);
    const auto started = std::chrono::steady_clock::now(); // latency is real time, even under a test clock
    auto answer = inner_->send(request);
    const std::chrono::duration<double, std::milli> latency_ms = std::chrono::steady_clock::now() - started;
    const double latency = latency_ms.count();
    const int64_t now = clock_.now_ms();
    const auto route = AdaptiveLimit::route_of(request.method, request.target);
    if (!answer) {
      const auto kind = answer.error().kind;
      const bool slow = kind == TransportFailure::read_timeout || kind == TransportFailure::deadline ||
                        kind == TransportFailure::connect_timeout;
      limit_->release(alone, slow ? AdaptiveLimit::Signal::timeout : AdaptiveLimit::Signal::failed, route, latency,
                      now);
    } else if (answer->status == 429 || answer->status == 503) {
      limit_->release(alone, AdaptiveLimit::Signal::overload, route, latency, now, retry_after_ms(*answer));
    } else {
      limit_->release(alone, AdaptiveLimit::Signal::answered, route, latency, now);
    }
    return answer;
  }

private:
  // Delta seconds only; an HTTP-date (rare from PMS) gets the limiter's default hold. The job's own
  // retry reads both forms (plex::parse_retry_after).
  static int64_t retry_after_ms(const Response& response) {
    const auto* value = response.header("Retry-After");
    if (value == nullptr || value->empty() || value->size() > 6 ||
        value->find_first_not_of("0123456789") != std::string::npos) {
      return 0;
    }
    return std::stoll(*value) * 1000;
  }
  std::unique_ptr<HttpClient> inner_;
  util::Clock& clock_;
  Pacer& pacer_;
  AdaptiveLimit* limit_;
};

} // namespace net
