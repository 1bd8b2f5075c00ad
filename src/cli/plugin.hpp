// The Stash plugin entry (hooks and tasks) and the worker launcher it shares with the CLI.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "store/db.hpp"
#include "util/expected.hpp"

namespace cli {

// The queue_status task's answer (also `plexsync status`): counts, dead letters by class,
// breaker, outages, last sync, review list, statistics.
util::Result<nlohmann::json> queue_status(store::Db& db, const std::string& data_dir, int64_t now);

// Reads Stash's JSON from stdin, answers with one JSON object on stdout. Returns the exit code.
int run_plugin();
// plexsync worker: one per data dir; exits quietly when another holds the lock. metrics_port:
// serve /metrics and /healthz on 127.0.0.1 (0: off).
int run_worker(const std::string& data_dir, bool forever, uint16_t metrics_port = 0);
// 'plexsync worker --stop': asks the worker holding data_dir's lock to stop and waits (bounded)
// until it has. 0 when it stopped or none ran.
int stop_worker(const std::string& data_dir);
// Data dir: $PLEXSYNC_DATA_DIR, else <plugin_dir>/data, else next to the executable.
std::string resolve_data_dir(const std::string& plugin_dir);
// False when PLEXSYNC_WORKER_AUTOSTART=0 (a service runs the worker): nothing starts one then.
bool autostart_enabled();
// argv[0], remembered for systems without /proc (an empty chroot) to find the executable.
void remember_argv0(const char* argv0);
// Starts a detached worker (new session, stdio on /dev/null) so Stash does not wait for it.
bool spawn_worker(const std::string& data_dir);
// A worker that died of an unexpected error (worker.crashes); hooks stop starting workers after
// three within ten minutes, and queue_status reports them.
void record_worker_crash(const std::string& data_dir, int64_t now_ms, const std::string& message);
nlohmann::json recent_worker_crashes(const std::string& data_dir, int64_t now_ms);

} // namespace cli
