#include "store/heal.hpp"

#include <array>
#include <atomic>
#include <filesystem>
#include <vector>

#include "store/wal_check.hpp"
#include "util/file.hpp"
#include "util/log.hpp"
#include "util/path.hpp"
#include "util/process.hpp"
#include "util/utc_time.hpp"

namespace store {
namespace {

// How to reach Stash: without it a worker started after the heal could not re-sync anything.
constexpr std::array<const char*, 1> k_carried_keys{"stash_connection"};

std::atomic<int64_t> g_heal_generation{0};

// The main file first: once it is aside, a half-done move leaves no mix of old and new.
util::Result<std::string> move_aside(const std::string& data_dir, int64_t now_ms) {
  ++g_heal_generation; // from here, connections opened before point at the wrong file
  const std::string db_path = data_dir + "/plexsync.db";
  const std::string target = db_path + ".damaged-" + util::format_utc(now_ms / 1000, "%Y%m%dT%H%M%SZ");
  std::string moved = target;
  for (int n = 2;
       std::filesystem::exists(util::fs_path(moved)) || std::filesystem::exists(util::fs_path(moved + "-wal")); ++n) {
    moved = target + "-" + std::to_string(n);
  }
  std::error_code ec;
  const bool main_present = std::filesystem::exists(util::fs_path(db_path), ec);
  if (main_present && !util::rename_file(db_path, moved)) {
    return util::fail("cannot move the damaged " + db_path + " aside to " + moved +
                      ": check that the data directory is writable by Stash's user");
  }
  bool kept_any = main_present;
  for (const char* suffix : {"-wal", "-shm", "-journal"}) {
    if (std::filesystem::exists(util::fs_path(db_path + suffix), ec)) {
      kept_any = util::rename_file(db_path + suffix, moved + suffix) || kept_any;
    }
  }
  return kept_any ? moved : std::string();
}

// What the fresh database should keep from the damaged one, read best effort.
std::vector<std::pair<std::string, std::string>> salvage(Db* damaged) {
  std::vector<std::pair<std::string, std::string>> kept;
  if (damaged == nullptr) {
    return kept;
  }
  for (const char* key : k_carried_keys) {
    if (auto value = damaged->get_kv(key); value && *value) {
      kept.emplace_back(key, **value);
    }
  }
  return kept;
}

} // namespace

void request_integrity_check(const std::string& data_dir) {
  const auto path = data_dir + "/plexsync.db.check";
  (void)util::write_file_durably(path + ".tmp" + std::to_string(util::current_pid()), path, "quick_check\n");
}

bool take_integrity_check_request(const std::string& data_dir) {
  std::error_code ec;
  return std::filesystem::remove(util::fs_path(data_dir + "/plexsync.db.check"), ec);
}

util::Result<void> check_integrity(Db& db) {
  TRY_ASSIGN(auto stmt, db.prepare("PRAGMA quick_check(1)"));
  TRY_ASSIGN(const bool row, stmt.step());
  const auto verdict = row ? stmt.text_at(0) : std::string("no answer");
  if (verdict != "ok") {
    const auto message = "database disk image is malformed (quick_check: " + verdict + ")";
    note_storage_fault(StorageFault::damaged, message);
    return util::fail(message);
  }
  return {};
}

bool is_damage(const util::Error& error) {
  const auto& m = error.message;
  return m.find("malformed") != std::string::npos || m.find("not a database") != std::string::npos ||
         m.find("is not a regular file") != std::string::npos || m.find("the database was lost") != std::string::npos ||
         m.find("repair of the damaged database was interrupted") != std::string::npos;
}

bool is_busy(const util::Error& error) {
  const auto& m = error.message;
  return m.find("database is locked") != std::string::npos || m.find("stayed locked") != std::string::npos;
}

std::string Recovery::kept() const {
  return moved_to.empty() ? std::string("there was no damaged file to keep")
                          : "the damaged file is kept as " + moved_to;
}

int64_t heal_generation() {
  return g_heal_generation.load();
}

util::Result<Db> open_healing(const std::string& data_dir, int64_t now_ms, bool verify, int busy_ms,
                              const std::string& known_damage) {
  std::string reason = known_damage;
  // The log is read before SQLite opens the database: its first connection would skip the damaged
  // frames, and the last one to close would checkpoint the rest and delete the log. For the same
  // reason a database known to be damaged is not opened to salvage from.
  if (verify && reason.empty()) {
    reason = wal_damage(data_dir + "/plexsync.db-wal").value_or("");
  }
  std::optional<Db> damaged;
  if (reason.empty()) {
    auto db = Db::open(data_dir, busy_ms);
    if (!db) {
      if (!is_damage(db.error())) {
        return db;
      }
      reason = db.error().message;
    } else {
      auto checked = verify ? check_integrity(*db) : util::Result<void>{};
      if (checked) {
        return db;
      }
      reason = checked.error().message;
      damaged.emplace(std::move(*db));
    }
  }
  const auto kept = salvage(damaged ? &*damaged : nullptr);
  damaged.reset(); // closed before its files move
  // From here until the fresh database holds the recovery record, a kill leaves the marker, and
  // the next open repairs again rather than trusting a fresh database that does not know it must
  // re-sync everything.
  const auto marker = data_dir + "/" + k_repair_marker;
  if (auto written =
          util::write_file_durably(marker + ".tmp" + std::to_string(util::current_pid()), marker, reason + "\n");
      !written) {
    // The cause first (issue #31: "no space left" was dropped here and the advice was wrong).
    const bool full = disk_nearly_full(data_dir);
    return util::fail("cannot repair the damaged database (" + reason + "): writing " + marker +
                      " failed: " + written.error().message +
                      (full ? "; the disk holding the data directory is full: free some space"
                            : "; check that the data directory is writable by Stash's user"));
  }
  TRY_ASSIGN(const auto moved, move_aside(data_dir, now_ms));
  std::error_code ec;
  std::filesystem::remove(util::fs_path(data_dir + "/" + k_created_marker), ec); // a new one is created now
  TRY_ASSIGN(auto fresh, Db::open_during_repair(data_dir, busy_ms));
  {
    TRY_ASSIGN(auto txn, Txn::begin(fresh));
    for (const auto& [key, value] : kept) {
      TRY(fresh.put_kv(key, value));
    }
    TRY(fresh.put_kv("recovery_moved_to", moved));
    TRY(fresh.put_kv("recovery_reason", reason));
    TRY(fresh.put_kv("recovery_at_ms", std::to_string(now_ms)));
    TRY(fresh.put_kv("recovery_resync", "pending"));
    TRY(txn.commit());
  }
  std::filesystem::remove(util::fs_path(marker), ec);
  LOG_ERROR("PlexSync's database was damaged ("
            << reason << "): " << (moved.empty() ? "nothing was left to move aside" : "moved it aside to " + moved)
            << "; started a fresh one; spooled hook events are queued and every "
               "scene is queued again to re-sync (only differences are written)");
  (void)take_storage_fault(); // what the damaged files made statements report is handled here
  return fresh;
}

std::optional<Recovery> recovery(Db& db) {
  auto at = db.get_kv("recovery_at_ms");
  if (!at || !*at) {
    return std::nullopt;
  }
  Recovery r;
  const auto text = [&](const char* key) {
    auto v = db.get_kv(key);
    return v && *v ? **v : std::string();
  };
  r.moved_to = text("recovery_moved_to");
  r.reason = text("recovery_reason");
  r.at_ms = std::atoll(text("recovery_at_ms").c_str());
  r.resync = text("recovery_resync");
  return r;
}

util::Result<void> set_resync_done(Db& db, const std::string& what) {
  return db.put_kv("recovery_resync", what);
}

util::Result<void> acknowledge_recovery(Db& db) {
  for (const char* key : {"recovery_moved_to", "recovery_reason", "recovery_at_ms", "recovery_resync"}) {
    TRY(db.delete_kv(key));
  }
  return {};
}

} // namespace store
