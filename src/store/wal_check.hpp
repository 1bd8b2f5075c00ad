// SQLite reads its write-ahead log (plexsync.db-wal) up to the first frame that fails its
// checksum and silently ignores the rest, so damage there would drop committed enqueues without
// an error. This reads the log the way SQLite documents it (sqlite.org/fileformat2.html, "WAL
// file format"; the salt rule checked against walRestartLog in SQLite's wal.c, which adds one to
// salt-1 and draws a new salt-2 each time the log restarts) and tells damage apart from what a
// crash leaves behind: frames of an earlier log generation, and one torn frame at the end of the
// current one.
#pragma once

#include <optional>
#include <string>

namespace store {

// What is wrong with the log at wal_path, or nothing when it is absent, empty or consistent.
std::optional<std::string> wal_damage(const std::string& wal_path);

} // namespace store
