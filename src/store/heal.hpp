// A damaged database costs repeated work, never a lost change. When plexsync.db cannot be used
// (SQLite says it is malformed or not a database, a directory or other non-file sits in its place,
// or PRAGMA quick_check finds damage), the damaged files are moved aside under a name that says
// so and when (never deleted), a fresh database is created, and the recovery is recorded in it:
// the worker then queues every scene again (the diff writes only what differs) and status, the
// queue_status task, Health check and doctor report it until acknowledged.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "store/db.hpp"

namespace store {

// True when the error means the file is not a usable SQLite database (as opposed to busy,
// locked, full or not permitted, which healing would not help).
bool is_damage(const util::Error& error);
// True when another connection held the database's lock past the wait (SQLITE_BUSY/LOCKED).
bool is_busy(const util::Error& error);

struct Recovery {
  std::string moved_to; // the damaged database's new name ("" when there was no file to keep)
  std::string reason;   // what SQLite said
  int64_t at_ms = 0;
  std::string resync; // "pending" until the worker queued every scene again, then what it queued
  // "the damaged file is kept as ..." or that there was none.
  [[nodiscard]] std::string kept() const;
};

// Opens <data_dir>/plexsync.db; when it is damaged (on opening, by its write-ahead log
// (store/wal_check.hpp) or PRAGMA quick_check when verify is set, or as known_damage says), heals
// it as above. The Stash connection is carried over when the damaged file still yields it.
// Call only while holding the data directory's lock: no worker may be using the files that are
// moved aside (a hook still writing to them is harmless: its scene is in the re-sync).
// busy_ms as for Db::open (a hook keeps its short budget).
util::Result<Db> open_healing(const std::string& data_dir, int64_t now_ms, bool verify,
                              int busy_ms = Db::k_default_busy_ms, const std::string& known_damage = "");

// Counts the heals this process made. Long-lived connections opened in it (the metadata
// provider's) compare it and reopen: after a heal they would still read the moved-aside file.
int64_t heal_generation();

// A hook that met damage while a worker holds the database asks that worker to check it, through
// a file beside the database (plexsync.db.check); the worker takes the request once a second.
void request_integrity_check(const std::string& data_dir);
bool take_integrity_check_request(const std::string& data_dir);

// PRAGMA quick_check: an error naming the damage, or nothing.
util::Result<void> check_integrity(Db& db);

// The recovery recorded in db, if any and not yet acknowledged.
std::optional<Recovery> recovery(Db& db);
util::Result<void> set_resync_done(Db& db, const std::string& what);
util::Result<void> acknowledge_recovery(Db& db);

} // namespace store
