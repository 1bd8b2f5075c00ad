#include "store/db.hpp"

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <thread>

#include <sqlite3.h>

#include "util/file.hpp"
#include "util/path.hpp"
#include "util/process.hpp"

namespace store {
namespace {

// Ordered migrations; index + 1 is the user_version after applying it. Never edit a shipped one.
const std::array<const char*, 11> k_migrations{R"sql(
CREATE TABLE jobs (
  id INTEGER PRIMARY KEY,
  scene_id TEXT NOT NULL UNIQUE,      -- one job per scene: newer events coalesce into it
  event TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending','in_flight')),
  dirty INTEGER NOT NULL DEFAULT 0,   -- an event arrived while in flight: run again afterwards
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms INTEGER NOT NULL,
  lease_until_ms INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  enqueued_ms INTEGER NOT NULL,
  first_enqueued_ms INTEGER NOT NULL
);
CREATE INDEX jobs_due ON jobs(state, next_attempt_ms);
CREATE TABLE dead_letters (
  id INTEGER PRIMARY KEY,
  scene_id TEXT NOT NULL,
  event TEXT NOT NULL,
  error_class TEXT NOT NULL,
  message TEXT NOT NULL,
  http_status INTEGER,
  attempts INTEGER NOT NULL,
  first_failure_ms INTEGER NOT NULL,
  last_failure_ms INTEGER NOT NULL
);
CREATE TABLE sync_records (
  scene_id TEXT PRIMARY KEY,
  rating_key TEXT NOT NULL,
  section_key TEXT NOT NULL,
  match_score REAL NOT NULL,
  stash_updated_at TEXT NOT NULL,
  synced_ms INTEGER NOT NULL,
  requests INTEGER NOT NULL,
  wrote INTEGER NOT NULL
);
CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
)sql",
                                               R"sql(
CREATE TABLE outages (
  id INTEGER PRIMARY KEY,
  started_ms INTEGER NOT NULL,
  ended_ms INTEGER,            -- NULL while Plex is still unreachable
  jobs_affected INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL
);
CREATE INDEX dead_letters_class ON dead_letters(error_class);
)sql",
                                               R"sql(
-- Sync statistics kept across runs (counters only, so concurrent lanes add atomically).
CREATE TABLE stats (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
)sql",
                                               R"sql(
-- What a job needs beyond the scene id (a destroyed scene's file path, which Stash no longer has).
ALTER TABLE jobs ADD COLUMN payload TEXT;
)sql",
                                               R"sql(
-- The Plex library index, kept so a restarted worker starts warm and refreshes incrementally.
CREATE TABLE plex_items (
  rating_key TEXT PRIMARY KEY,
  section_key TEXT NOT NULL,
  title TEXT NOT NULL,
  title_fold TEXT NOT NULL,   -- NFC + case folded, for the title fallback
  added_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  seen INTEGER NOT NULL       -- generation of the last full listing that contained it
);
CREATE INDEX plex_items_section ON plex_items(section_key, updated_at);
CREATE TABLE plex_parts (
  rating_key TEXT NOT NULL,
  file TEXT NOT NULL,         -- exactly as Plex reports it
  path_fold TEXT NOT NULL,    -- NFC, case folded, '/' separators
  base_fold TEXT NOT NULL,    -- file name of path_fold
  size INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL
);
CREATE INDEX plex_parts_item ON plex_parts(rating_key);
CREATE INDEX plex_parts_file ON plex_parts(file);
CREATE INDEX plex_parts_path ON plex_parts(path_fold);
CREATE INDEX plex_parts_base ON plex_parts(base_fold);
-- Scenes whose Plex match is uncertain: nothing is written until a person or a refresh decides.
CREATE TABLE match_reviews (
  scene_id TEXT PRIMARY KEY,
  reason TEXT NOT NULL,
  candidates TEXT NOT NULL,   -- JSON list of {rating_key, title, file, score, reason}
  first_ms INTEGER NOT NULL,
  last_ms INTEGER NOT NULL
);
ALTER TABLE sync_records ADD COLUMN written TEXT; -- JSON: what PlexSync last wrote (fieldsync::Written)
-- Posters belong to the Plex item, not to the match: clearing matches does not re-upload them.
CREATE TABLE posters (
  rating_key TEXT PRIMARY KEY,
  stash_url TEXT NOT NULL,    -- Stash screenshot URL last looked at (it carries a version)
  sha1 TEXT NOT NULL,         -- of the bytes last uploaded ('' when Stash had only a placeholder)
  uploaded_ms INTEGER NOT NULL
);
)sql",
                                               R"sql(
-- The folder a job waits for Plex to scan (NULL: not waiting on Plex's library): the jobs
-- waiting on one folder are made due together once an index refresh sees files there.
ALTER TABLE jobs ADD COLUMN waiting_for TEXT;
CREATE INDEX jobs_waiting ON jobs(waiting_for) WHERE waiting_for IS NOT NULL;
)sql",
                                               R"sql(
-- The metadata provider's local data (specs/plex-metadata-provider.md 4.6): every Stash file
-- with its scene, and the scene as last read, so PMS's scans never wait on Stash.
CREATE TABLE stash_files (
  scene_id TEXT NOT NULL,
  path TEXT NOT NULL,         -- as Stash reports it
  path_fold TEXT NOT NULL,    -- NFC, case folded, '/' separators
  plex_fold TEXT NOT NULL,    -- path_fold after path_map (the path as Plex sees the file)
  base_fold TEXT NOT NULL,    -- file name of path_fold
  size INTEGER NOT NULL
);
CREATE INDEX stash_files_scene ON stash_files(scene_id);
CREATE INDEX stash_files_base ON stash_files(base_fold);
CREATE INDEX stash_files_plex ON stash_files(plex_fold);
CREATE TABLE scene_snapshots (
  scene_id TEXT PRIMARY KEY,
  updated_at TEXT NOT NULL,
  fetched_ms INTEGER NOT NULL,
  scene TEXT NOT NULL         -- the SyncScene fragment as Stash answered it
);
-- Images proxied from Stash for PMS, one file each under cache/img.
CREATE TABLE image_cache (
  key TEXT PRIMARY KEY,       -- kind/id/variant/version
  content_type TEXT NOT NULL,
  size INTEGER NOT NULL,
  last_used_ms INTEGER NOT NULL
);
)sql",
                                               R"sql(
-- Every ratingKey the provider served (spec 4.2): the scene, the files it covered as Plex sees
-- them, and which version of the scene PMS last read. An old key whose scene is gone (merged
-- away) is answered with the scene that now owns its file; the worker skips a refresh when PMS
-- already read the scene's current version.
CREATE TABLE provider_keys (
  rating_key TEXT PRIMARY KEY,
  scene_id TEXT NOT NULL,
  plex_folds TEXT NOT NULL,   -- JSON list of stash_files.plex_fold
  served_updated_at TEXT NOT NULL,
  served_ms INTEGER NOT NULL
);
)sql",
                                               R"sql(
-- The background uploaded to a pull library's item, as posters holds its poster (issue #26):
-- PMS may not fetch the provider's image URLs for remote clients, so the worker uploads both.
CREATE TABLE backgrounds (
  rating_key TEXT PRIMARY KEY,
  stash_url TEXT NOT NULL,
  sha1 TEXT NOT NULL,
  uploaded_ms INTEGER NOT NULL
);
)sql",
                                               R"sql(
-- Plex -> Stash (issue #27). The ledger of plays imported: a play is one account's view of one
-- item at one time; a webhook and the history may give the same play a few seconds apart, so
-- the importer also treats plays of the same account and item close in time as one.
CREATE TABLE plex_plays (
  account TEXT NOT NULL,      -- Plex account name, folded
  rating_key TEXT NOT NULL,
  viewed_at INTEGER NOT NULL, -- Unix seconds
  scene_id TEXT NOT NULL,
  source TEXT NOT NULL,       -- history | webhook | stash (already in Stash's history)
  imported_ms INTEGER NOT NULL,
  PRIMARY KEY (account, rating_key, viewed_at)
);
-- Webhook events Plex delivered, kept until the importer has applied them.
CREATE TABLE plex_inbox (
  id INTEGER PRIMARY KEY,
  received_ms INTEGER NOT NULL,
  payload TEXT NOT NULL       -- the webhook's JSON part, as Plex sent it
);
)sql",
                                               R"sql(
-- Plex collections by who made them (issue #28): PlexSync removes only collections its own edits
-- created, once they are empty, and gives only those a poster (once per image).
CREATE TABLE plex_collections (
  section_key TEXT NOT NULL,
  folded TEXT NOT NULL,                  -- the title folded as Plex compares tag names
  title TEXT NOT NULL,
  created INTEGER NOT NULL,              -- 1: a PlexSync edit made it; 0: it was in Plex before
  rating_key TEXT NOT NULL DEFAULT '',
  poster_source TEXT NOT NULL DEFAULT '', -- the Stash image last uploaded as its poster
  check_empty INTEGER NOT NULL DEFAULT 0, -- an item left it: delete it if nothing is left
  PRIMARY KEY (section_key, folded)
);
)sql"};

std::mutex g_fault_mutex;
FaultReport g_fault;

bool disk_is_full(sqlite3* db) {
  if (sqlite3_system_errno(db) == ENOSPC) {
    return true;
  }
  const char* file = sqlite3_db_filename(db, "main");
  return file != nullptr && *file != '\0' && disk_nearly_full(util::parent_dir(file));
}

util::Result<void> check(int rc, sqlite3* db, std::string_view what) {
  if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW) {
    return {};
  }
  std::string message = std::string(what) + ": " + (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  int primary = rc & 0xff;
  // A full disk often reaches SQLite as a failed write, "disk I/O error" (issue #31): the OS error
  // or the free space tells it apart from a failing disk.
  if (primary == SQLITE_IOERR && db != nullptr && disk_is_full(db)) {
    message = std::string(what) + ": no space left on the disk (" + sqlite3_errmsg(db) + ")";
    primary = SQLITE_FULL;
  }
  if (primary == SQLITE_FULL) {
    message += " (the disk holding the data directory is full: free some space)";
  } else if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
    message += " (the database stayed locked by another PlexSync process for too long)";
  } else if (primary == SQLITE_READONLY || primary == SQLITE_CANTOPEN || primary == SQLITE_PERM) {
    message += " (check that the data directory is writable by Stash's user)";
  } else if (primary == SQLITE_IOERR) {
    message += " (the disk holding the data directory failed a read or write: check that it is mounted "
               "read-write and healthy)";
  }
  if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) {
    note_storage_fault(StorageFault::damaged, message);
  } else if (primary == SQLITE_FULL || primary == SQLITE_READONLY || primary == SQLITE_CANTOPEN ||
             primary == SQLITE_PERM || primary == SQLITE_IOERR) {
    note_storage_fault(StorageFault::unwritable, message);
  }
  return util::fail(message);
}

} // namespace

bool disk_nearly_full(const std::string& dir) {
  constexpr std::uintmax_t k_nearly_full = std::uintmax_t{256} * 1024U;
  std::error_code ec;
  const auto space = std::filesystem::space(util::fs_path(dir), ec);
  return !ec && space.available < k_nearly_full;
}

util::Result<Db> Db::open(const std::string& data_dir, int busy_ms) {
  return open_impl(data_dir, busy_ms, false);
}

util::Result<Db> Db::open_during_repair(const std::string& data_dir, int busy_ms) {
  return open_impl(data_dir, busy_ms, true);
}

util::Result<Db> Db::open_impl(const std::string& data_dir, int busy_ms, bool repairing) {
  std::error_code ec;
  std::filesystem::create_directories(util::fs_path(data_dir), ec);
  if (ec) {
    return util::fail("cannot create data directory " + data_dir + ": " + ec.message());
  }
  const std::string path = data_dir + "/plexsync.db";
  // A directory (or anything but a file) where the database belongs: damage, not a permission.
  const auto status = std::filesystem::status(util::fs_path(path), ec);
  const bool present = std::filesystem::exists(status);       // path: a file_status
  if (present && !std::filesystem::is_regular_file(status)) { // path: a file_status
    return util::fail("cannot open " + path + ": " + path + " is not a regular file");
  }
  if (!repairing && std::filesystem::exists(util::fs_path(data_dir + "/" + k_repair_marker), ec)) {
    return util::fail("cannot open " + path + ": a repair of the damaged database was interrupted (" + k_repair_marker +
                      " is present)");
  }
  // Missing or empty although k_created_marker says a database existed: its queue was lost.
  const std::string marker = data_dir + "/" + k_created_marker;
  const bool marked = std::filesystem::exists(util::fs_path(marker), ec);
  if (marked && (!present || std::filesystem::file_size(util::fs_path(path), ec) == 0)) {
    return util::fail("cannot open " + path + ": it " + (present ? "is empty (0 bytes)" : "is missing") +
                      ", although PlexSync created it before: the database was lost");
  }
  // The database holds the Stash session cookie and API key: this user's only (issue #29).
  for (const char* name : {"plexsync.db", "plexsync.db-wal", "plexsync.db-shm", "plexsync.log"}) {
    util::keep_private(data_dir + "/" + name);
  }
  sqlite3* handle = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = "cannot open " + path + ": " + (handle != nullptr ? sqlite3_errmsg(handle) : "");
    sqlite3_close(handle);
    return util::fail(message);
  }
  Db db(handle, path);
  // Many hook processes write at once: wait for the lock instead of failing.
  sqlite3_busy_timeout(handle, busy_ms);
  // Switching to WAL (first open), WAL recovery and schema checks can answer SQLITE_BUSY without
  // consulting the busy handler, so a burst of hooks on a new database retries the whole setup
  // (each step is idempotent), within a bound.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(busy_ms + busy_ms / 2);
  while (true) {
    auto ready = db.setup();
    if (ready) {
      break;
    }
    const auto& m = ready.error().message;
    const bool busy = m.find("locked") != std::string::npos || m.find("busy") != std::string::npos;
    if (!busy || std::chrono::steady_clock::now() > deadline) {
      return tl::unexpected(ready.error());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2 + std::rand() % 10));
  }
  if (!marked) { // the first open only

    (void)util::write_file_durably(marker + ".tmp" + std::to_string(util::current_pid()), marker,
                                   "PlexSync keeps its queue in plexsync.db\n");
  }
  return db;
}

void note_storage_fault(StorageFault kind, const std::string& message) {
  const std::lock_guard lock(g_fault_mutex);
  if (kind > g_fault.kind) {
    g_fault = {kind, message};
  }
}

FaultReport take_storage_fault() {
  const std::lock_guard lock(g_fault_mutex);
  return std::exchange(g_fault, FaultReport{});
}

Db::Db(Db&& other) noexcept : handle_(other.handle_), path_(std::move(other.path_)) {
  other.handle_ = nullptr;
}

Db& Db::operator=(Db&& other) noexcept {
  if (this != &other) {
    sqlite3_close(handle_);
    handle_ = other.handle_;
    path_ = std::move(other.path_);
    other.handle_ = nullptr;
  }
  return *this;
}

Db::~Db() {
  sqlite3_close(handle_);
}

util::Result<void> Db::exec(std::string_view sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(handle_, std::string(sql).c_str(), nullptr, nullptr, &err);
  sqlite3_free(err);
  return check(rc, handle_, "database error");
}

util::Result<Stmt> Db::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v2(handle_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  TRY(check(rc, handle_, "database error"));
  return Stmt(stmt, handle_);
}

int64_t Db::changes() const {
  return sqlite3_changes64(handle_);
}

std::string Db::error_message() const {
  return sqlite3_errmsg(handle_);
}

util::Result<void> Db::setup() {
  // Statements are scoped so that no read stays open while we write (an open read pins a
  // snapshot and turns a later write into SQLITE_BUSY without waiting).
  bool wal = false;
  {
    TRY_ASSIGN(auto mode_stmt, prepare("PRAGMA journal_mode"));
    TRY(mode_stmt.step());
    wal = mode_stmt.text_at(0) == "wal";
  }
  if (!wal) {
    TRY(exec("PRAGMA journal_mode=WAL"));
  }
  // FULL: a committed enqueue survives power loss, not only a crash.
  TRY(exec("PRAGMA synchronous=FULL"));
  TRY(exec("PRAGMA foreign_keys=ON"));
  return migrate();
}

util::Result<void> Db::migrate() {
  int64_t version = 0;
  {
    TRY_ASSIGN(auto version_stmt, prepare("PRAGMA user_version"));
    TRY(version_stmt.step());
    version = version_stmt.int_at(0);
  }
  const auto latest = static_cast<int64_t>(k_migrations.size());
  if (version > latest) {
    return util::fail(path_ + " was written by a newer PlexSync (schema " + std::to_string(version) +
                      ", this build knows " + std::to_string(latest) + "): install the newer plexsync");
  }
  for (int64_t v = version; v < latest; ++v) {
    TRY(exec("BEGIN IMMEDIATE"));
    // Another process may have migrated while we waited for the lock.
    int64_t now_at = 0;
    {
      auto again = prepare("PRAGMA user_version");
      auto stepped = again ? again->step() : util::Result<bool>(tl::unexpected(again.error()));
      if (!stepped) {
        (void)exec("ROLLBACK");
        return tl::unexpected(stepped.error());
      }
      now_at = again->int_at(0);
    }
    if (now_at > v) {
      TRY(exec("COMMIT"));
      continue;
    }
    auto applied = exec(k_migrations.at(static_cast<size_t>(v)));
    if (!applied) {
      (void)exec("ROLLBACK");
      return applied;
    }
    TRY(exec("PRAGMA user_version=" + std::to_string(v + 1)));
    TRY(exec("COMMIT"));
  }
  return {};
}

util::Result<void> Db::put_kv(std::string_view key, std::string_view value) {
  TRY_ASSIGN(auto stmt, prepare("INSERT INTO kv(key, value) VALUES(?1, ?2) "
                                "ON CONFLICT(key) DO UPDATE SET value = excluded.value"));
  return stmt.bind(1, key).bind(2, value).run();
}

util::Result<void> Db::delete_kv(std::string_view key) {
  TRY_ASSIGN(auto stmt, prepare("DELETE FROM kv WHERE key = ?1"));
  return stmt.bind(1, key).run();
}

util::Result<std::optional<std::string>> Db::get_kv(std::string_view key) {
  TRY_ASSIGN(auto stmt, prepare("SELECT value FROM kv WHERE key = ?1"));
  stmt.bind(1, key);
  TRY_ASSIGN(const bool row, stmt.step());
  if (!row) {
    return std::optional<std::string>{};
  }
  return std::optional<std::string>{stmt.text_at(0)};
}

util::Result<void> Db::add_stat(std::string_view key, int64_t delta) {
  TRY_ASSIGN(auto stmt, prepare("INSERT INTO stats(key, value) VALUES(?1, ?2) "
                                "ON CONFLICT(key) DO UPDATE SET value = value + excluded.value"));
  return stmt.bind(1, key).bind(2, delta).run();
}

Stmt::Stmt(Stmt&& other) noexcept : stmt_(other.stmt_), db_(other.db_) {
  other.stmt_ = nullptr;
}

Stmt::~Stmt() {
  sqlite3_finalize(stmt_);
}

Stmt& Stmt::bind(int index, std::string_view value) {
  sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  return *this;
}

Stmt& Stmt::bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

Stmt& Stmt::bind_null(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

util::Result<bool> Stmt::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) {
    return true;
  }
  TRY(check(rc, db_, "database error"));
  return false;
}

void Stmt::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

util::Result<void> Stmt::run() {
  while (true) {
    TRY_ASSIGN(const bool row, step());
    if (!row) {
      return {};
    }
  }
}

int64_t Stmt::int_at(int col) const {
  return sqlite3_column_int64(stmt_, col);
}

std::string Stmt::text_at(int col) const {
  const auto* text = sqlite3_column_text(stmt_, col);
  return text == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(text));
}

bool Stmt::is_null(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}

util::Result<Txn> Txn::begin(Db& db) {
  TRY(db.exec("BEGIN IMMEDIATE"));
  return Txn(&db);
}

Txn::~Txn() {
  if (db_ != nullptr) {
    (void)db_->exec("ROLLBACK");
  }
}

util::Result<void> Txn::commit() {
  auto r = db_->exec("COMMIT");
  if (r) {
    db_ = nullptr;
  }
  return r;
}

} // namespace store
