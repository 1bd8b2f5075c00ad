#include "queue/queue.hpp"

#include <algorithm>

namespace queue {

util::Result<void> Queue::enqueue(const std::string& scene_id, const std::string& event, int64_t now_ms,
                                  const std::string& payload) {
  // A pending job becomes due now (a user change deserves a prompt try); an in-flight one is
  // marked dirty so the worker runs it again with the newest metadata.
  TRY_ASSIGN(auto stmt, db_.prepare(R"sql(
INSERT INTO jobs(scene_id, event, next_attempt_ms, enqueued_ms, first_enqueued_ms, payload)
VALUES(?1, ?2, ?3, ?3, ?3, ?4)
ON CONFLICT(scene_id) DO UPDATE SET
  event = excluded.event,
  payload = excluded.payload,
  enqueued_ms = excluded.enqueued_ms,
  dirty = CASE WHEN state = 'in_flight' THEN 1 ELSE dirty END,
  next_attempt_ms = CASE WHEN state = 'pending' THEN min(next_attempt_ms, excluded.next_attempt_ms)
                         ELSE next_attempt_ms END)sql"));
  stmt.bind(1, scene_id).bind(2, event).bind(3, now_ms);
  if (payload.empty()) {
    stmt.bind_null(4);
  } else {
    stmt.bind(4, payload);
  }
  return stmt.run();
}

util::Result<void> Queue::enqueue_later(const std::string& scene_id, const std::string& event, int64_t now_ms,
                                        int64_t due_ms) {
  TRY_ASSIGN(auto stmt, db_.prepare(R"sql(
INSERT INTO jobs(scene_id, event, next_attempt_ms, enqueued_ms, first_enqueued_ms) VALUES(?1, ?2, ?3, ?4, ?4)
ON CONFLICT(scene_id) DO NOTHING)sql"));
  return stmt.bind(1, scene_id).bind(2, event).bind(3, std::max(now_ms, due_ms)).bind(4, now_ms).run();
}

util::Result<bool> Queue::drop(const std::string& scene_id) {
  TRY_ASSIGN(auto stmt, db_.prepare("DELETE FROM jobs WHERE scene_id = ?1"));
  TRY(stmt.bind(1, scene_id).run());
  return db_.changes() > 0;
}

util::Result<void> Queue::record_destroy(const std::string& scene_id, int64_t now_ms, const std::string& path) {
  // Always a job, whatever delete_action says: the worker reads the settings when it runs it
  // (issue #29: a hook acting on a stored copy missed a just-chosen delete_action=scan), and it
  // forgets the scene's sync record and the metadata provider's copy either way (issue #31).
  return enqueue(scene_id, "Scene.Destroy.Post", now_ms, path);
}

util::Result<int64_t> Queue::clock_stepped_back(int64_t ms, int64_t now_ms) {
  TRY_ASSIGN(auto txn, store::Txn::begin(db_));
  TRY_ASSIGN(auto pending, db_.prepare(R"sql(
UPDATE jobs SET next_attempt_ms = max(?2, next_attempt_ms - ?1) WHERE state = 'pending' AND next_attempt_ms > ?2)sql"));
  TRY(pending.bind(1, ms).bind(2, now_ms).run());
  const auto moved = db_.changes();
  TRY_ASSIGN(auto leased,
             db_.prepare("UPDATE jobs SET lease_until_ms = lease_until_ms - ?1 WHERE state = 'in_flight'"));
  TRY(leased.bind(1, ms).run());
  TRY(txn.commit());
  return moved;
}

util::Result<std::optional<Job>> Queue::claim(int64_t now_ms, int64_t lease_ms) {
  TRY_ASSIGN(auto stmt, db_.prepare(R"sql(
UPDATE jobs SET state = 'in_flight', lease_until_ms = ?2
WHERE id = (SELECT id FROM jobs
            WHERE (state = 'pending' AND next_attempt_ms <= ?1)
               OR (state = 'in_flight' AND lease_until_ms < ?1)
            ORDER BY next_attempt_ms, id LIMIT 1)
RETURNING id, scene_id, event, attempts, first_enqueued_ms, coalesce(payload, ''), enqueued_ms)sql"));
  stmt.bind(1, now_ms).bind(2, now_ms + lease_ms);
  TRY_ASSIGN(const bool row, stmt.step());
  if (!row) {
    return std::optional<Job>{};
  }
  Job job{stmt.int_at(0), stmt.text_at(1), stmt.text_at(2), stmt.int_at(3),
          stmt.int_at(4), stmt.text_at(5), stmt.int_at(6)};
  TRY(stmt.run());
  return std::optional<Job>{job};
}

util::Result<void> Queue::complete(const Job& job, int64_t now_ms) {
  TRY_ASSIGN(auto requeue, db_.prepare(R"sql(
UPDATE jobs SET state = 'pending', dirty = 0, attempts = 0, next_attempt_ms = ?2, last_error = NULL
WHERE id = ?1 AND dirty = 1)sql"));
  TRY(requeue.bind(1, job.id).bind(2, now_ms).run());
  if (db_.changes() > 0) {
    return {};
  }
  TRY_ASSIGN(auto del, db_.prepare("DELETE FROM jobs WHERE id = ?1"));
  return del.bind(1, job.id).run();
}

util::Result<void> Queue::retry_later(const Job& job, int64_t retry_at_ms, const std::string& error, bool count_attempt,
                                      const std::string& waiting_for) {
  TRY_ASSIGN(auto stmt, db_.prepare(R"sql(
UPDATE jobs SET state = 'pending', attempts = attempts + ?2, next_attempt_ms = ?3, last_error = ?4,
  lease_until_ms = 0, waiting_for = nullif(?5, '')
WHERE id = ?1)sql"));
  return stmt.bind(1, job.id)
      .bind(2, int64_t{count_attempt ? 1 : 0})
      .bind(3, retry_at_ms)
      .bind(4, error)
      .bind(5, waiting_for)
      .run();
}

util::Result<bool> Queue::any_waiting_for_plex() {
  TRY_ASSIGN(auto stmt, db_.prepare("SELECT 1 FROM jobs WHERE waiting_for IS NOT NULL AND state = 'pending' LIMIT 1"));
  return stmt.step();
}

util::Result<int64_t> Queue::wake_all_waiting(int64_t now_ms) {
  TRY_ASSIGN(auto stmt, db_.prepare(R"sql(
UPDATE jobs SET next_attempt_ms = ?1
WHERE waiting_for IS NOT NULL AND state = 'pending' AND next_attempt_ms > ?1)sql"));
  TRY(stmt.bind(1, now_ms).run());
  return db_.changes();
}

util::Result<int64_t> Queue::wake_retrying(int64_t now_ms) {
  TRY_ASSIGN(auto stmt, db_.prepare(R"sql(
UPDATE jobs SET next_attempt_ms = ?1
WHERE state = 'pending' AND attempts > 0 AND waiting_for IS NULL AND next_attempt_ms > ?1)sql"));
  TRY(stmt.bind(1, now_ms).run());
  return db_.changes();
}

util::Result<int64_t> Queue::wake_waiting_for(const std::set<std::string>& folders, int64_t now_ms) {
  if (folders.empty()) {
    return 0;
  }
  TRY_ASSIGN(auto txn, store::Txn::begin(db_));
  TRY_ASSIGN(auto stmt, db_.prepare(R"sql(
UPDATE jobs SET next_attempt_ms = ?2
WHERE waiting_for = ?1 AND state = 'pending' AND next_attempt_ms > ?2)sql"));
  int64_t woken = 0;
  for (const auto& folder : folders) {
    TRY(stmt.bind(1, folder).bind(2, now_ms).run());
    woken += db_.changes();
    stmt.reset();
  }
  TRY(txn.commit());
  return woken;
}

util::Result<void> Queue::dead_letter(const Job& job, const std::string& error_class, const std::string& message,
                                      int http_status, int64_t now_ms) {
  TRY_ASSIGN(auto txn, store::Txn::begin(db_));
  // One dead letter per scene (issue #29): hooks, polls and tasks may each have queued the scene
  // again since its last letter; the newest failure replaces it, keeping when the scene first failed.
  int64_t first_ms = job.first_enqueued_ms;
  {
    TRY_ASSIGN(auto earlier, db_.prepare("SELECT min(first_failure_ms) FROM dead_letters WHERE scene_id = ?1"));
    TRY_ASSIGN(const bool row, earlier.bind(1, job.scene_id).step());
    if (row && !earlier.is_null(0)) {
      first_ms = std::min(first_ms, earlier.int_at(0));
    }
  }
  TRY_ASSIGN(auto replace, db_.prepare("DELETE FROM dead_letters WHERE scene_id = ?1"));
  TRY(replace.bind(1, job.scene_id).run());
  TRY_ASSIGN(auto ins, db_.prepare(R"sql(
INSERT INTO dead_letters(scene_id, event, error_class, message, http_status, attempts, first_failure_ms,
                         last_failure_ms)
VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8))sql"));
  ins.bind(1, job.scene_id).bind(2, job.event).bind(3, error_class).bind(4, message);
  if (http_status > 0) {
    ins.bind(5, int64_t{http_status});
  } else {
    ins.bind_null(5);
  }
  TRY(ins.bind(6, job.attempts + 1).bind(7, first_ms).bind(8, now_ms).run());
  // A change that arrived while this job ran gets its own chance.
  TRY_ASSIGN(auto requeue, db_.prepare(R"sql(
UPDATE jobs SET state = 'pending', dirty = 0, attempts = 0, next_attempt_ms = ?2, last_error = NULL
WHERE id = ?1 AND dirty = 1)sql"));
  TRY(requeue.bind(1, job.id).bind(2, now_ms).run());
  if (db_.changes() == 0) {
    TRY_ASSIGN(auto del, db_.prepare("DELETE FROM jobs WHERE id = ?1"));
    TRY(del.bind(1, job.id).run());
  }
  return txn.commit();
}

util::Result<Counts> Queue::counts(int64_t now_ms) {
  TRY_ASSIGN(auto stmt, db_.prepare(R"sql(
SELECT
  (SELECT count(*) FROM jobs WHERE state = 'pending'),
  (SELECT count(*) FROM jobs WHERE state = 'pending' AND next_attempt_ms <= ?1),
  (SELECT count(*) FROM jobs WHERE state = 'in_flight'),
  (SELECT count(*) FROM dead_letters),
  (SELECT coalesce(min(next_attempt_ms), 0) FROM jobs WHERE state = 'pending'))sql"));
  stmt.bind(1, now_ms);
  TRY(stmt.step());
  return Counts{stmt.int_at(0), stmt.int_at(1), stmt.int_at(2), stmt.int_at(3), stmt.int_at(4)};
}

util::Result<std::vector<DeadLetter>> Queue::dead_letters() {
  TRY_ASSIGN(auto stmt, db_.prepare(R"sql(
SELECT id, scene_id, event, error_class, message, coalesce(http_status, 0), attempts, first_failure_ms,
       last_failure_ms FROM dead_letters ORDER BY id)sql"));
  std::vector<DeadLetter> out;
  while (true) {
    TRY_ASSIGN(const bool row, stmt.step());
    if (!row) {
      break;
    }
    out.push_back(DeadLetter{stmt.int_at(0), stmt.text_at(1), stmt.text_at(2), stmt.text_at(3), stmt.text_at(4),
                             stmt.int_at(5), stmt.int_at(6), stmt.int_at(7), stmt.int_at(8)});
  }
  return out;
}

util::Result<int64_t> Queue::clear_pending() {
  TRY(db_.exec("DELETE FROM jobs WHERE state = 'pending'"));
  return db_.changes();
}

util::Result<int64_t> Queue::clear_dead() {
  TRY(db_.exec("DELETE FROM dead_letters"));
  return db_.changes();
}

util::Result<int64_t> Queue::retry_dead(int64_t now_ms, const std::string& error_class) {
  TRY_ASSIGN(auto txn, store::Txn::begin(db_));
  TRY_ASSIGN(auto letters, dead_letters());
  int64_t moved = 0;
  for (const auto& letter : letters) {
    if (!error_class.empty() && letter.error_class != error_class) {
      continue;
    }
    TRY(enqueue(letter.scene_id, letter.event, now_ms));
    TRY_ASSIGN(auto d, db_.prepare("DELETE FROM dead_letters WHERE id = ?1"));
    TRY(d.bind(1, letter.id).run());
    ++moved;
  }
  TRY(txn.commit());
  return moved;
}

util::Result<int64_t> Queue::release_orphans(int64_t now_ms) {
  TRY_ASSIGN(auto stmt, db_.prepare(R"sql(
UPDATE jobs SET state = 'pending', dirty = 0, lease_until_ms = 0, next_attempt_ms = min(next_attempt_ms, ?1)
WHERE state = 'in_flight')sql"));
  TRY(stmt.bind(1, now_ms).run());
  return db_.changes();
}

util::Result<int64_t> Queue::purge_dead_older_than(int64_t cutoff_ms) {
  TRY_ASSIGN(auto stmt, db_.prepare("DELETE FROM dead_letters WHERE last_failure_ms < ?1"));
  TRY(stmt.bind(1, cutoff_ms).run());
  return db_.changes();
}

} // namespace queue
