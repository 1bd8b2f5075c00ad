// The hook's fallback when the queue cannot take an event in time (the database locked by
// another process past the hook's budget, or unreadable): each event becomes one small file in
// <data_dir>/spool/, written whole and renamed into place, so a crash never leaves half of one.
// The worker moves spooled events into the queue before it claims jobs.
#pragma once

#include <cstdint>
#include <string>

#include "queue/queue.hpp"
#include "util/expected.hpp"

namespace queue {

struct SpooledEvent {
  std::string scene_id;
  std::string event; // the hook type, e.g. "Scene.Update.Post"
  int64_t at_ms = 0;
  std::string path; // Scene.Destroy.Post: the deleted file, for delete_action=scan
};

// Writes the event to the spool (fsynced). Holds no secret: the Stash connection is not kept.
util::Result<void> spool_event(const std::string& data_dir, const SpooledEvent& event);

// Queues every spooled event, oldest first, and deletes each file once the queue holds it. A file
// that cannot be read as an event is renamed to *.bad and reported, never deleted.
struct IngestReport {
  int queued = 0; // events queued or applied (a destroy drops the scene's job)
  int bad = 0;
};
util::Result<IngestReport> ingest_spool(const std::string& data_dir, store::Db& db);

// Events waiting in the spool (for queue_status).
int spooled_count(const std::string& data_dir);

} // namespace queue
