// Circuit breaker in front of Plex: after `threshold` consecutive transient failures it opens,
// jobs wait, and only an /identity probe (on its own backoff) may close it again via half-open,
// where a single job is admitted. Pure logic on an injected clock; the caller persists state().
#pragma once

#include <cstdint>
#include <limits>
#include <string>

namespace worker {

struct BreakerState {
  enum class Phase { closed, open, half_open } phase = Phase::closed;
  int64_t consecutive_failures = 0;
  int64_t opened_at_ms = 0;
  int64_t next_probe_ms = 0;
  int64_t probes = 0;
  int64_t jobs_affected = 0; // jobs that had to wait during the current outage
};

const char* to_string(BreakerState::Phase phase);

class CircuitBreaker {
public:
  explicit CircuitBreaker(int64_t threshold = 5, BreakerState state = {}) : threshold_(threshold), s_(state) {}

  void set_threshold(int64_t threshold) { threshold_ = threshold; }
  // May a job talk to Plex now? In half-open only one job passes until it reports back.
  [[nodiscard]] bool admits() const { return s_.phase == BreakerState::Phase::closed || half_open_slot_; }
  // Half-open: takes the single trial slot (true for the one job that may try).
  bool take_trial() {
    const bool had = half_open_slot_;
    half_open_slot_ = false;
    return had;
  }
  // The trial job ended without asking Plex anything (e.g. the scene was deleted): let another try.
  void return_trial() {
    if (s_.phase == BreakerState::Phase::half_open) {
      half_open_slot_ = true;
    }
  }
  // Claims a due probe so that only one lane sends it.
  bool claim_probe(int64_t now_ms) {
    if (!probe_due(now_ms)) {
      return false;
    }
    s_.next_probe_ms = std::numeric_limits<int64_t>::max();
    return true;
  }
  // Is it time to probe /identity (open and the probe backoff has passed)?
  [[nodiscard]] bool probe_due(int64_t now_ms) const {
    return s_.phase == BreakerState::Phase::open && now_ms >= s_.next_probe_ms;
  }
  // Returns true when this failure opened the breaker (an outage starts).
  bool on_transient_failure(int64_t now_ms, double u01);
  // Returns true when this success closed the breaker (an outage ends).
  bool on_success();
  void on_probe(bool ok, int64_t now_ms, double u01);
  void note_job_waiting() { ++s_.jobs_affected; }
  // The wall clock went back by ms: a probe scheduled before keeps its distance (issue #31: the
  // breaker stayed open for as long as the clock went back, with Plex healthy).
  void clock_stepped_back(int64_t ms) {
    if (s_.next_probe_ms != std::numeric_limits<int64_t>::max()) {
      s_.next_probe_ms -= ms;
    }
    s_.opened_at_ms -= ms;
  }
  [[nodiscard]] const BreakerState& state() const { return s_; }

private:
  void schedule_probe(int64_t now_ms, double u01);
  int64_t threshold_;
  BreakerState s_;
  bool half_open_slot_ = false;
};

} // namespace worker
