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

struct Recovery {
  std::string moved_to; // the damaged database's new name
  std::string reason;   // what SQLite said
  int64_t at_ms = 0;
  std::string resync; // "pending" until the worker queued every scene again, then what it queued
};

// Opens <data_dir>/plexsync.db; when it is damaged (on opening, or by PRAGMA quick_check when
// verify is set), heals it as above. The Stash connection is carried over when the damaged file
// still yields it. Call only while holding the data
// directory's lock: nobody else may be using the file that is moved aside.
// busy_ms as for Db::open (a hook keeps its short budget).
util::Result<Db> open_healing(const std::string& data_dir, int64_t now_ms, bool verify,
                              int busy_ms = Db::k_default_busy_ms);

// PRAGMA quick_check: an error naming the damage, or nothing.
util::Result<void> check_integrity(Db& db);

// The recovery recorded in db, if any and not yet acknowledged.
std::optional<Recovery> recovery(Db& db);
util::Result<void> set_resync_done(Db& db, const std::string& what);
util::Result<void> acknowledge_recovery(Db& db);

} // namespace store
