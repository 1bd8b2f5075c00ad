#include "worker/breaker.hpp"

#include "worker/backoff.hpp"

namespace worker {

const char* to_string(BreakerState::Phase phase) {
  switch (phase) {
  case BreakerState::Phase::closed:
    return "closed";
  case BreakerState::Phase::open:
    return "open";
  case BreakerState::Phase::half_open:
    return "half_open";
  }
  return "closed";
}

void CircuitBreaker::schedule_probe(int64_t now_ms, double u01) {
  // Probes back off like jobs do, from 1 s up to a minute.
  const BackoffPolicy probe_policy{1000, 60000, 60000};
  s_.next_probe_ms = now_ms + next_delay_ms(s_.probes, std::nullopt, u01, probe_policy);
}

bool CircuitBreaker::on_transient_failure(int64_t now_ms, double u01) {
  ++s_.consecutive_failures;
  if (s_.phase == BreakerState::Phase::half_open) {
    // The trial job failed: back to open.
    s_.phase = BreakerState::Phase::open;
    half_open_slot_ = false;
    schedule_probe(now_ms, u01);
    return false;
  }
  if (s_.phase == BreakerState::Phase::closed && s_.consecutive_failures >= threshold_) {
    s_.phase = BreakerState::Phase::open;
    s_.opened_at_ms = now_ms;
    s_.probes = 0;
    s_.jobs_affected = 0;
    schedule_probe(now_ms, u01);
    return true;
  }
  return false;
}

bool CircuitBreaker::on_success() {
  s_.consecutive_failures = 0;
  half_open_slot_ = false;
  if (s_.phase == BreakerState::Phase::closed) {
    return false;
  }
  s_.phase = BreakerState::Phase::closed;
  return true;
}

void CircuitBreaker::on_probe(bool ok, int64_t now_ms, double u01) {
  ++s_.probes;
  if (ok) {
    s_.phase = BreakerState::Phase::half_open;
    half_open_slot_ = true;
  } else {
    schedule_probe(now_ms, u01);
  }
}

} // namespace worker
