// Finding scenes that need a sync without a hook: the "Sync all/recent" and "Reconcile" tasks,
// and the worker's poll for late updates (merges, auto-tag and scans change scenes silently).
// Pages through Stash (ids and updated_at only) and enqueues every scene whose updated_at differs
// from the one recorded at its last sync.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/settings.hpp"
#include "stash/client.hpp"
#include "store/db.hpp"

namespace worker {

struct ScanResult {
  std::vector<std::pair<std::string, std::string>> versions; // (id, updated_at) of every scene seen
  int64_t seen = 0;
  int64_t queued = 0;
  int64_t up_to_date = 0; // synced at this very updated_at: skipped
  std::string newest_updated_at;
};

// scene_filter: a SceneFilterType object (empty for every scene). progress gets (done, total).
// skip: (id, updated_at) pairs to leave alone (already handled by an earlier poll).
util::Result<ScanResult> enqueue_changed(stash::StashClient& stash, store::Db& db, const nlohmann::json& scene_filter,
                                         const std::string& event, int64_t now_ms,
                                         const std::function<void(int64_t, int64_t)>& progress = {},
                                         const std::function<bool(const std::string&, const std::string&)>& skip = {},
                                         bool even_up_to_date = false);

// RFC3339 timestamp moved by delta seconds, keeping its offset ("" when unreadable). Stash compares
// timestamps as strings in its own offset, so the poll cursor must stay in that format.
std::string shift_timestamp(const std::string& rfc3339, int64_t delta_s);

// The late-update poll: scenes updated since the stored cursor, overlapping by a few seconds
// (timestamps have 1-second precision) and de-duplicated by (id, updated_at) against what the
// previous poll saw in that overlap. The first call only records where "now" is; the "Sync all
// scenes" task covers the past.
util::Result<ScanResult> poll_late_updates(stash::StashClient& stash, store::Db& db, int64_t now_ms);

// Plex's side of scenes synced before: items gone from Plex (re-added under a new key, or
// removed) and items with empty fields (Plex agents or a user cleared them) are queued again;
// the worker's diff then writes only what Stash actually has. Returns (gone, emptier).
util::Result<std::pair<int64_t, int64_t>> reconcile_plex_side(store::Db& db, const config::Settings& settings,
                                                              int64_t now);

// Pull libraries' catch-up (spec 5.2, 5.5), for libraries on the PlexSync agent:
// - items PMS left unbound (the provider was down during a scan, Stash had not seen the file, an
//   ambiguous name) whose file is a Stash scene's: that scene gets a job, whose scored match by
//   the full path binds them;
// - items bound to a scene that is gone (merged away) whose file another scene has now: bound to
//   that scene at once (the same file, so nothing to score).
// Run after each full build of the provider's catalog and when a job found a scene gone.
struct CatchUp {
  int64_t queued = 0;
  int64_t rebound = 0;
};
util::Result<CatchUp> catch_up_pull_items(store::Db& db, const config::Settings& settings, int64_t now);
// kv key: a job found a scene gone; the provider host runs the catch-up soon.
inline constexpr const char* k_pull_catch_up_kv = "provider_catch_up_requested";

// Deletions no hook announced (merges delete their sources silently): sync records of scenes
// missing from a full scan are forgotten and their jobs dropped. Returns how many.
util::Result<int64_t> forget_deleted_scenes(store::Db& db, const ScanResult& full_scan);

// clear_match_cache: forgets every match, the review list and the library index (by moving to a
// new index epoch, so a running worker lists Plex afresh). Returns the matches forgotten.
util::Result<int64_t> clear_match_cache(store::Db& db, int64_t now);

} // namespace worker
