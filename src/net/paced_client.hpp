// Paces requests through another HttpClient: at most `per_second` request starts per second.
// Used in front of Plex, which answers overload with slow replies rather than 429.
#pragma once

#include <algorithm>
#include <memory>

#include "net/http.hpp"
#include "util/clock.hpp"

namespace net {

class PacedClient final : public HttpClient {
public:
  PacedClient(std::unique_ptr<HttpClient> inner, util::Clock& clock, int per_second)
      : inner_(std::move(inner)), clock_(clock), interval_ms_(per_second > 0 ? 1000 / per_second : 0) {}

  tl::expected<Response, TransportError> send(const Request& request) override {
    const int64_t now = clock_.now_ms();
    if (next_start_ms_ > now) {
      clock_.sleep_ms(next_start_ms_ - now);
    }
    next_start_ms_ = std::max(now, next_start_ms_) + interval_ms_;
    return inner_->send(request);
  }

private:
  std::unique_ptr<HttpClient> inner_;
  util::Clock& clock_;
  int64_t interval_ms_;
  int64_t next_start_ms_ = 0;
};

} // namespace net
