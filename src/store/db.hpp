// SQLite RAII: a connection in WAL mode with a busy timeout, prepared statements, transactions,
// and the versioned schema (PRAGMA user_version) every PlexSync database carries.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/expected.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace store {

class Stmt;

// A kind of failure no retry of the same statement fixes, noted by every statement of this
// process so that the worker can act on it once (store/heal.hpp; the disk-full pause).
enum class StorageFault {
  none,
  damaged,    // SQLite: malformed, not a database
  unwritable, // disk full, read-only, permission, I/O error
};
struct FaultReport {
  StorageFault kind = StorageFault::none;
  std::string message;
};
// Beside plexsync.db once a database exists there: one missing or empty later was lost (a restored
// backup, a tool truncating it) with its queue, not never created.
inline constexpr const char* k_created_marker = "plexsync.db.created";
// Written before a damaged database is moved aside and removed once the fresh one records the
// recovery (store/heal.hpp): a repair cut short by a kill or a power cut is finished by the next
// open instead of leaving a fresh database that does not know it must re-sync everything.
inline constexpr const char* k_repair_marker = "plexsync.db.repairing";

// The most serious fault met since the last call (damaged outranks unwritable), then forgets it.
FaultReport take_storage_fault();
// For damage found other than by a statement's result code (PRAGMA quick_check's rows).
void note_storage_fault(StorageFault kind, const std::string& message);
// Under 256 KiB free on the disk holding dir: what makes a failed write "the disk is full".
bool disk_nearly_full(const std::string& dir);

class Db {
public:
  // Opens (creating if needed) <data_dir>/plexsync.db and migrates it to the current schema.
  // busy_ms: how long a statement waits for another process's lock before failing.
  static constexpr int k_default_busy_ms = 10000;
  // While k_repair_marker is present the database counts as damaged (an unfinished repair).
  static util::Result<Db> open(const std::string& data_dir, int busy_ms = k_default_busy_ms);
  // For the repair itself (store/heal.cpp): opens while k_repair_marker is present.
  static util::Result<Db> open_during_repair(const std::string& data_dir, int busy_ms);
  Db(Db&& other) noexcept;
  Db& operator=(Db&& other) noexcept;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  ~Db();

  util::Result<void> exec(std::string_view sql);
  util::Result<Stmt> prepare(std::string_view sql);
  [[nodiscard]] int64_t changes() const;
  [[nodiscard]] std::string error_message() const;
  [[nodiscard]] const std::string& path() const { return path_; }

  // Key-value state (connection info, cursors, breaker state).
  util::Result<void> put_kv(std::string_view key, std::string_view value);
  util::Result<std::optional<std::string>> get_kv(std::string_view key);
  util::Result<void> delete_kv(std::string_view key);
  // Adds to a statistics counter.
  util::Result<void> add_stat(std::string_view key, int64_t delta);

private:
  static util::Result<Db> open_impl(const std::string& data_dir, int busy_ms, bool repairing);
  Db(sqlite3* handle, std::string path) : handle_(handle), path_(std::move(path)) {}
  util::Result<void> setup();
  util::Result<void> migrate();
  sqlite3* handle_ = nullptr;
  std::string path_;
};

class Stmt {
public:
  Stmt(Stmt&& other) noexcept;
  Stmt& operator=(Stmt&&) = delete;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt();

  Stmt& bind(int index, std::string_view value);
  Stmt& bind(int index, int64_t value);
  Stmt& bind_null(int index);
  // Returns true while a row is available; an error ends iteration and is kept in error().
  util::Result<bool> step();
  util::Result<void> run(); // step to completion
  void reset();             // ready to bind and run again
  [[nodiscard]] int64_t int_at(int col) const;
  [[nodiscard]] std::string text_at(int col) const;
  [[nodiscard]] bool is_null(int col) const;

private:
  friend class Db;
  Stmt(sqlite3_stmt* stmt, sqlite3* db) : stmt_(stmt), db_(db) {}
  sqlite3_stmt* stmt_ = nullptr;
  sqlite3* db_ = nullptr;
};

// BEGIN IMMEDIATE ... COMMIT; rolls back when destroyed uncommitted.
class Txn {
public:
  static util::Result<Txn> begin(Db& db);
  Txn(Txn&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  Txn& operator=(Txn&&) = delete;
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  ~Txn();
  util::Result<void> commit();

private:
  explicit Txn(Db* db) : db_(db) {}
  Db* db_;
};

} // namespace store
