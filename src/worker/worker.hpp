// The background worker: drains the queue, reading each scene fresh from Stash, matching it to
// its Plex item and writing only what changed.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "config/settings.hpp"
#include "match/index.hpp"
#include "match/path_map.hpp"
#include "plex/client.hpp"
#include "queue/queue.hpp"
#include "stash/client.hpp"
#include "store/db.hpp"
#include "util/clock.hpp"

namespace worker {

enum class RunMode {
  until_idle, // started by a hook: exit after worker_idle_seconds without work
  drain,      // process_queue task: return when nothing is due
  forever,    // service mode
};

struct Stats {
  int64_t processed = 0;
  int64_t synced = 0;    // an edit was sent
  int64_t unchanged = 0; // Plex already matched
  int64_t retried = 0;
  int64_t dead = 0;
  int64_t skipped = 0; // scene gone from Stash
  int64_t plex_requests = 0;
};

// Stash connection the latest plugin run gave us (the worker outlives that run).
struct StashConnection {
  std::string base_url;
  std::string cookie_name = "session";
  std::string cookie_value;
};
util::Result<void> save_connection(store::Db& db, const StashConnection& conn);
util::Result<std::optional<StashConnection>> load_connection(store::Db& db);

class Worker {
public:
  Worker(store::Db& db, util::Clock& clock, util::Rng& rng);
  // progress: called after each job with (done, remaining due).
  Stats run(RunMode mode, const std::function<void(int64_t, int64_t)>& progress = {});
  void request_stop() { stop_ = true; }

private:
  enum class Outcome { synced, unchanged, skipped };
  util::Result<void> refresh_context();
  void process(const queue::Job& job);
  plex::Result<Outcome> sync_scene(const stash::Scene& scene);

  store::Db& db_;
  queue::Queue queue_;
  util::Clock& clock_;
  util::Rng& rng_;
  Stats stats_;
  bool stop_ = false;

  std::optional<StashConnection> conn_;
  std::unique_ptr<stash::StashClient> stash_;
  std::optional<config::Settings> settings_;
  int64_t settings_loaded_ms_ = 0;
  std::unique_ptr<plex::PlexClient> plex_;
  std::vector<plex::Section> sections_;
  match::PathMap path_map_;
  match::LibraryIndex index_;
  int64_t index_built_ms_ = 0;
};

// Stable X-Plex-Client-Identifier for this data dir (generated once).
std::string client_identifier(store::Db& db);

} // namespace worker
