// How many requests may be in flight towards Plex at once, learned from Plex's own answers and
// shared by every lane of the worker (net::PacedClient asks it before each request).
//
// The controller is AIMD (additive increase, multiplicative decrease, as TCP congestion control)
// with a delay signal in the manner of TCP Vegas. Why AIMD rather than a gradient limiter: Plex
// gives two kinds of signal, rare explicit ones (429/503, often with Retry-After; timeouts) and a
// latency that climbs once its transcoder/database threads are busy. AIMD answers the explicit ones
// at once (halve), probes upwards slowly (one more request in flight per round trip), and its
// fairness and convergence are well understood; a gradient limiter reacts to the latency ratio
// alone and needs smoothing that is hard to tune across a 5 ms LAN and a 200 ms remote server.
// The delay signal: each kind of request (route) keeps a smoothed latency and the latency it has
// when Plex is not loaded; while the smoothed value stays below k_grow_below times that the limit
// may grow, above k_shrink_above times it shrinks (x0.8, at most once per round trip), and in
// between it holds. Under a sustained bulk sync no request ever sees an unloaded Plex, and a minimum taken over recent
// answers would creep up to the loaded latency and let the limit climb into overload; so every k_probe_every answers
// one request goes alone (as TCP BBR's ProbeRTT does) and its latency is the new baseline.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "util/clock.hpp"

namespace net {

class AdaptiveLimit {
public:
  enum class Signal {
    answered, // any answer but overload: its latency counts
    overload, // 429 or 503: Plex says it is too busy
    timeout,  // no answer in time
    failed,   // refused, reset, TLS: the breaker's business, not the limit's
  };
  static constexpr double k_initial = 2.0;
  // Latency / unloaded latency: below k_grow_below the limit may grow, above k_shrink_above it
  // shrinks, in between it holds (TCP Vegas's alpha and beta).
  static constexpr double k_grow_below = 1.25;
  static constexpr double k_shrink_above = 1.5;
  static constexpr int64_t k_slack_ms = 2;        // jitter allowance for very fast servers
  static constexpr int64_t k_max_hold_ms = 10000; // the longest everyone waits after an overload
  static constexpr int k_default_ceiling = 8;
  static constexpr int k_probe_every = 400;
  static constexpr int k_overload_memory = 2000; // answers during which growth stops below an overload

  // ceiling: at most this many in flight (plex_concurrency when set).
  void set_ceiling(int ceiling);
  // Blocks until a request may start: a slot below the limit and no overload hold. True when the
  // request goes alone (a probe); hand that to release.
  bool acquire(util::Clock& clock);
  // latency_ms: real time, whatever clock the caller runs on; now_ms: the caller's clock, for the
  // hold. retry_after_ms: what Plex asked for with an overload (0 = not said).
  void release(bool alone, Signal signal, const std::string& route, double latency_ms, int64_t now_ms,
               int64_t retry_after_ms = 0);

  struct Snapshot {
    double limit = 0;
    int allowed = 0; // in flight at once right now: the limit, or 1 while probing
    int in_flight = 0;
    int64_t hold_until_ms = 0;
    int64_t decreases = 0;
    int64_t overloads = 0;
  };
  Snapshot snapshot();

  // "GET /library/metadata/#": numbers (and lists of them) in the path do not make a new route.
  static std::string route_of(const std::string& method, const std::string& target);

private:
  struct Route {
    double smoothed = 0;
    double unloaded = 0; // the lowest lone answer of the last probe, or lower smoothed values since
    int samples = 0;
    int64_t probed_in = -1; // the probe that measured unloaded; -1: never seen alone
  };
  void start_probe();
  void decrease(double factor);
  [[nodiscard]] int allowed() const;

  std::mutex mutex_;
  std::condition_variable freed_;
  double limit_ = k_initial;
  int ceiling_ = k_default_ceiling;
  int in_flight_ = 0;
  int64_t hold_until_ms_ = 0;
  int answers_before_next_cut_ = 0;
  double last_cut_factor_ = 1.0;
  int overload_cap_ = 0; // in flight at the last overload, minus that request: growth stops there
  int cap_answers_left_ = 0;
  int64_t decreases_ = 0;
  int64_t overloads_ = 0;
  int answers_since_probe_ = 0;
  bool probing_ = true;   // the first requests go alone: they tell what an unloaded Plex answers in
  int probe_answers_ = 0; // answers of requests that went alone during this probe
  int64_t probes_ = 0;
  std::map<std::string, Route> routes_;
};

} // namespace net
