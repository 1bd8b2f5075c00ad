// The durable job queue on top of store::Db: one job per scene, leases for in-flight work,
// backoff state kept with the job, dead letters for permanent failures.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "store/db.hpp"
#include "util/expected.hpp"

namespace queue {

struct Job {
  int64_t id = 0;
  std::string scene_id;
  std::string event;
  int64_t attempts = 0;
  int64_t first_enqueued_ms = 0;
  std::string payload;
  int64_t enqueued_ms = 0; // the newest event's time (first_enqueued_ms: the oldest still unsynced)
};

struct Counts {
  int64_t pending = 0; // due now or waiting on backoff
  int64_t due = 0;     // pending and due now
  int64_t in_flight = 0;
  int64_t dead = 0;
  int64_t next_due_ms = 0; // earliest next attempt among pending (0 when none)
};

struct DeadLetter {
  int64_t id = 0;
  std::string scene_id;
  std::string event;
  std::string error_class;
  std::string message;
  int64_t http_status = 0;
  int64_t attempts = 0;
  int64_t first_failure_ms = 0;
  int64_t last_failure_ms = 0;
};

class Queue {
public:
  explicit Queue(store::Db& db) : db_(db) {}

  // Adds or coalesces the scene's job in one short transaction.
  util::Result<void> enqueue(const std::string& scene_id, const std::string& event, int64_t now_ms,
                             const std::string& payload = "");
  // A job due at due_ms unless the scene has one already (which keeps its own time): follow-up
  // work, such as the provider's after PMS matched a file, never delays or duplicates a change.
  util::Result<void> enqueue_later(const std::string& scene_id, const std::string& event, int64_t now_ms,
                                   int64_t due_ms);
  // Drops the scene's job (the scene was destroyed). Returns whether one existed.
  util::Result<bool> drop(const std::string& scene_id);
  // Scene.Destroy.Post: the scene's job becomes a deletion job carrying the deleted file's path;
  // the worker decides under its current settings what that means (a rescan, the provider's copy).
  util::Result<void> record_destroy(const std::string& scene_id, int64_t now_ms, const std::string& path);
  // Leases the next due job (or one whose lease expired: its worker died).
  util::Result<std::optional<Job>> claim(int64_t now_ms, int64_t lease_ms);
  // The wall clock went back by ms: every wait still ahead (retries, leases) ends as much sooner,
  // as it would have without the step. Returns the jobs moved.
  util::Result<int64_t> clock_stepped_back(int64_t ms, int64_t now_ms);
  // Done: removes the job, or makes it due again when an event arrived meanwhile.
  util::Result<void> complete(const Job& job, int64_t now_ms);
  // Transient failure: back to pending, due at retry_at_ms; attempts counts retries burned.
  // waiting_for: the folder the job waits for Plex to scan ("" = none).
  util::Result<void> retry_later(const Job& job, int64_t retry_at_ms, const std::string& error, bool count_attempt,
                                 const std::string& waiting_for = "");
  // Jobs waiting for any of these folders are due now (an index refresh saw files there).
  util::Result<int64_t> wake_waiting_for(const std::set<std::string>& folders, int64_t now_ms);
  // Whether any job waits for Plex to list its file, and making all of them due now (Plex
  // reported a library change on its notification feed).
  util::Result<bool> any_waiting_for_plex();
  util::Result<int64_t> wake_all_waiting(int64_t now_ms);
  // Jobs retrying after a failure (not those waiting for Plex to list a file) are due now: a
  // probe found Plex answering again, so a Retry-After or a long backoff no longer holds.
  util::Result<int64_t> wake_retrying(int64_t now_ms);
  // Permanent failure: moves the job to dead letters.
  util::Result<void> dead_letter(const Job& job, const std::string& error_class, const std::string& message,
                                 int http_status, int64_t now_ms);
  util::Result<Counts> counts(int64_t now_ms);
  util::Result<std::vector<DeadLetter>> dead_letters();
  util::Result<int64_t> clear_pending();
  util::Result<int64_t> clear_dead();
  // error_class empty: every dead letter.
  util::Result<int64_t> retry_dead(int64_t now_ms, const std::string& error_class = "");
  // Only one worker holds the data-dir lock, so every in-flight job it finds was left by a
  // worker that died: make them due again.
  util::Result<int64_t> release_orphans(int64_t now_ms);
  util::Result<int64_t> purge_dead_older_than(int64_t cutoff_ms);

private:
  store::Db& db_;
};

} // namespace queue
