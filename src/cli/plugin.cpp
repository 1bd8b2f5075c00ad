#include "cli/plugin.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <thread>
#include <unordered_map>

#include "activity/importer.hpp"
#include "activity/webhook.hpp"
#include "cli/health.hpp"
#include "cli/metrics.hpp"
#include "config/manifest.hpp"
#include "config/settings.hpp"
#include "match/index.hpp"
#include "match/path_map.hpp"
#include "provider/service.hpp"
#include "queue/queue.hpp"
#include "queue/spool.hpp"
#include "stash/client.hpp"
#include "stash/protocol.hpp"
#include "store/db.hpp"
#include "store/heal.hpp"
#include "store/wal_check.hpp"
#include "util/clock.hpp"
#include "util/datadirlock.hpp"
#include "util/fatal.hpp"
#include "util/file.hpp"
#include "util/log.hpp"
#include "util/path.hpp"
#include "util/process.hpp"
#include "util/strings.hpp"
#include "util/utc_time.hpp"
#include "util/wake.hpp"
#include "worker/provider_host.hpp"
#include "worker/scan.hpp"
#include "worker/worker.hpp"

namespace cli {
namespace {

constexpr int64_t k_task_wait_ms = 30LL * 60 * 1000;

std::atomic<bool> g_stop{false}; // set on a stop request: the worker finishes its job, then returns

// Service mode: an operator runs 'plexsync worker --forever' and hooks must not start another.
std::string arg_string(const nlohmann::json& args, const char* key) {
  if (!args.contains(key)) {
    return {};
  }
  const auto& v = args.at(key);
  return v.is_string() ? v.get<std::string>() : (v.is_number() ? v.dump() : std::string());
}

std::string g_argv0;

std::string executable_path() {
  return util::own_executable_path(g_argv0);
}

// Update fields that cannot change anything PlexSync writes (play counts, O-counter, ...).
bool irrelevant_field(const std::string& f) {
  static const std::array<const char*, 10> k_irrelevant{"id",          "ids",           "clientMutationId", "o_counter",
                                                        "play_count",  "play_duration", "resume_time",      "organized",
                                                        "gallery_ids", "stash_ids"};
  return std::any_of(k_irrelevant.begin(), k_irrelevant.end(), [&](const char* k) { return f == k; });
}

struct Answer {
  nlohmann::json output;
  std::optional<std::string> error;
};

Answer fail(std::string message) {
  return Answer{nullptr, std::move(message)};
}

void file_log_sink(const std::string& data_dir) {
  const std::string path = data_dir + "/plexsync.log";
  std::error_code ec;
  // One generation of rotation, by the single worker only: on Windows a file another process has
  // open cannot be renamed.
  if (std::filesystem::file_size(util::fs_path(path), ec) > std::uintmax_t{5} * 1024U * 1024U) {
    (void)util::rename_file(path, path + ".1");
  }
  FILE* f = util::open_file(path, "ab");
  if (f == nullptr) {
    return;
  }
  util::log::set_sink([f](util::log::Level level, std::string_view message) {
    static const char* names[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR"};
    const auto stamp = util::format_utc(util::SystemClock().now_ms() / 1000, "%Y-%m-%dT%H:%M:%SZ");
    (void)std::fprintf(f, "%s %-5s [%d] %.*s\n", stamp.c_str(), names[static_cast<int>(level)], util::current_pid(),
                       static_cast<int>(message.size()), message.data());
    (void)std::fflush(f);
  });
}

} // namespace

nlohmann::json counts_json(const queue::Counts& c) {
  return {{"pending", c.pending}, {"due", c.due}, {"in_flight", c.in_flight}, {"dead", c.dead}};
}

// How long a hook waits for another process's database lock before it spools the event: Stash
// holds the user's save until the hook answers (issue #31: 1.5 s each made 20 hooks hold a save
// 30 s). The worker's own writes take milliseconds; the spool is as durable as the queue.
constexpr int k_hook_busy_ms = 100;

// Scene.Destroy.Post carries the deleted file's path (for delete_action=scan).
std::string deleted_path(const stash::HookContext& hook) {
  const bool has_path = hook.type == "Scene.Destroy.Post" && hook.input.is_object() && hook.input.contains("path") &&
                        hook.input.at("path").is_string();
  return has_path ? hook.input.at("path").get<std::string>() : std::string();
}

// The queue could not take the event in time: it goes to the spool, which the worker drains.
Answer spool_hook(const stash::HookContext& hook, const std::string& data_dir, int64_t now, const std::string& why) {
  if (store::is_damage(util::Error{why})) {
    store::request_integrity_check(data_dir); // a running worker heals the database promptly
  }
  if (auto spooled = queue::spool_event(data_dir, {hook.scene_id, hook.type, now, deleted_path(hook)}); !spooled) {
    return fail("cannot queue scene " + hook.scene_id + ": " + why + "; it could not be kept aside either (" +
                spooled.error().message +
                "). Once the data directory is writable, the late-update poll (poll_interval_seconds) or the "
                "'Sync recent' task picks the change up");
  }
  if (store::is_busy(util::Error{why}) && util::DataDirLock::held_by_someone(data_dir)) {
    // PlexSync's own worker was writing: routine, and it reads the spool within a second.
    LOG_INFO("scene " << hook.scene_id << ": the worker was writing; the change waits in the spool and is queued "
                      << "within a second");
  } else {
    LOG_WARN("scene " << hook.scene_id << ": the queue did not answer in time (" << why
                      << "); the change is kept in the spool and the worker queues it");
  }
  return Answer{{{"queued", true}, {"scene_id", hook.scene_id}, {"spooled", true}}, std::nullopt};
}

namespace {

// At most max bytes of text a hook sent, cut at a character boundary, for a message.
std::string clipped(const std::string& text, size_t max) {
  if (text.size() <= max) {
    return text;
  }
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0U) == 0x80U) {
    --end;
  }
  return text.substr(0, end) + "...";
}

// Why a hook cannot be queued, or nullopt. Ids are Stash's: positive whole numbers that fit in 63
// bits, written without a leading zero (so "7" and "007" are not two jobs for one scene).
std::optional<std::string> hook_problem(const stash::HookContext& hook) {
  if (hook.scene_id.empty()) {
    return "hook " + hook.type + " carried no scene id; nothing queued";
  }
  const bool digits = util::all_digits(hook.scene_id, 19) && hook.scene_id.front() != '0';
  if (!digits || (hook.scene_id.size() == 19 && hook.scene_id > "9223372036854775807")) {
    return "hook " + hook.type + " carried '" + clipped(hook.scene_id, 40) +
           "' as its scene id, which is no Stash scene id (a positive whole number); nothing queued";
  }
  return std::nullopt;
}

// Keeps the Stash connection a plugin run brought, for the worker. Not when the run brought none
// (issue #31: a hook without server_connection replaced the worker's with an empty one), and an
// empty cookie never replaces a saved cookie for the same Stash (a Stash without a password may
// send none; one with a password always sends one).
util::Result<void> remember_connection(store::Db& db, const stash::ServerConnection& server) {
  if (!server.given) {
    return {};
  }
  const worker::StashConnection conn{server.base_url(), server.cookie_name, server.cookie_value};
  if (conn.cookie_value.empty()) {
    TRY_ASSIGN(const auto saved, worker::load_connection(db));
    if (saved && saved->base_url == conn.base_url && !saved->cookie_value.empty()) {
      return {};
    }
  }
  return worker::save_connection(db, conn);
}

bool scene_hook(const std::string& type) {
  return type == "Scene.Create.Post" || type == "Scene.Update.Post" || type == "Scene.Destroy.Post";
}

} // namespace

Answer handle_hook(const stash::PluginInput& in, store::Db& db, const std::string& data_dir) {
  const auto& hook = *in.hook;
  if (!scene_hook(hook.type)) {
    // PlexSync.yml asks only for scene hooks; another kind (a hand-edited manifest) is no scene.
    LOG_INFO("ignored hook " << clipped(hook.type, 60) << ": PlexSync syncs scenes only");
    return Answer{{{"queued", false}, {"reason", "not a scene hook"}}, std::nullopt};
  }
  if (auto problem = hook_problem(hook)) {
    return fail(*problem);
  }
  queue::Queue q(db);
  const int64_t now = util::SystemClock().now_ms();
  // Hooks read no settings (issue #29: a stored copy written by whichever process last loaded
  // them made a hook act minutes late): every event is stored, and the worker it wakes or starts
  // decides under the settings it reads then (pause_syncing, delete_action).
  if (hook.type == "Scene.Update.Post" && hook.has_input_fields &&
      std::all_of(hook.input_fields.begin(), hook.input_fields.end(), irrelevant_field)) {
    return Answer{{{"queued", false}, {"scene_id", hook.scene_id}, {"reason", "no synced field changed"}},
                  std::nullopt};
  }
  // Enqueue and remember how to reach Stash in one short transaction.
  const bool destroyed = hook.type == "Scene.Destroy.Post";
  const auto queued = [&]() -> util::Result<void> {
    TRY_ASSIGN(auto txn, store::Txn::begin(db));
    TRY(destroyed ? q.record_destroy(hook.scene_id, now, deleted_path(hook))
                  : q.enqueue(hook.scene_id, hook.type, now));
    TRY(remember_connection(db, in.server));
    return txn.commit();
  }();
  if (!queued) {
    auto spooled = spool_hook(hook, data_dir, now, queued.error().message);
    util::wake_worker(data_dir); // it reads the spool within a second
    return spooled;
  }
  util::wake_worker(data_dir); // committed first: a running worker starts on it now
  nlohmann::json out = {{"queued", true}, {"scene_id", hook.scene_id}};
  if (destroyed) {
    out["reason"] = "scene deleted";
  }
  return Answer{std::move(out), std::nullopt};
}

Answer process_queue(store::Db& db, const std::string& data_dir) {
  queue::Queue q(db);
  util::SystemClock clock;
  util::DataDirLock lock(data_dir);
  if (lock.try_acquire()) {
    util::SystemRng rng;
    worker::Worker w(db, clock, rng);
    const auto stats = w.run(worker::RunMode::drain, [](int64_t done, int64_t remaining) {
      util::log::progress(static_cast<double>(done) / static_cast<double>(done + remaining));
    });
    util::log::progress(1.0);
    auto counts = q.counts(clock.now_ms());
    LOG_INFO("processed " << stats.processed << " jobs: " << stats.synced << " synced, " << stats.unchanged
                          << " unchanged, " << stats.retried << " to retry, " << stats.dead << " dead");
    return Answer{{{"processed", stats.processed},
                   {"synced", stats.synced},
                   {"unchanged", stats.unchanged},
                   {"skipped", stats.skipped},
                   {"retrying", stats.retried},
                   {"dead", stats.dead},
                   {"plex_requests", stats.plex_requests},
                   {"queue", counts ? counts_json(*counts) : nlohmann::json()}},
                  std::nullopt};
  }
  // A background worker is already draining: follow its progress instead of competing.
  LOG_INFO("a background worker is running; waiting for it to drain the queue");
  const int64_t start = clock.now_ms();
  auto first = q.counts(start);
  const double total = first ? static_cast<double>(first->due + first->in_flight) : 0.0;
  while (clock.now_ms() - start < k_task_wait_ms) {
    auto c = q.counts(clock.now_ms());
    if (!c) {
      return fail(c.error().message);
    }
    // Events a hook spooled while the worker was writing count too: it queues them within a second.
    if (c->due + c->in_flight == 0 && queue::spooled_count(data_dir) == 0) {
      util::log::progress(1.0);
      return Answer{{{"queue", counts_json(*c)}, {"drained_by", "background worker"}}, std::nullopt};
    }
    if (total > 0) {
      util::log::progress(1.0 - static_cast<double>(c->due + c->in_flight) / total);
    }
    if (!util::DataDirLock::held_by_someone(data_dir)) {
      return process_queue(db, data_dir); // it exited: take over
    }
    clock.sleep_ms(250);
  }
  return fail("the background worker did not drain the queue within 30 minutes; see plexsync.log in " + data_dir);
}

util::Result<nlohmann::json> queue_status(store::Db& db, const std::string& data_dir, int64_t now) {
  queue::Queue q(db);
  TRY_ASSIGN(auto c, q.counts(now));
  auto out = counts_json(c);
  out["spooled"] = queue::spooled_count(data_dir); // hook events not yet in the queue
  if (const auto recovered = store::recovery(db)) {
    out["database_recovered"] = {{"moved_to", recovered->moved_to},
                                 {"reason", recovered->reason},
                                 {"at_ms", recovered->at_ms},
                                 {"resync", recovered->resync}};
  }
  out["worker_running"] = util::DataDirLock::held_by_someone(data_dir);
  if (auto crashes = recent_worker_crashes(data_dir, now); !crashes.empty()) {
    out["worker_crashes"] = std::move(crashes); // the last 10 minutes
  }
  out["next_attempt_ms"] = c.next_due_ms;
  TRY_ASSIGN(auto breaker, db.get_kv("breaker"));
  out["breaker"] = breaker ? nlohmann::json::parse(*breaker, nullptr, false) : nlohmann::json{{"phase", "closed"}};
  TRY_ASSIGN(auto auth, db.get_kv("auth_paused"));
  out["paused_for_auth"] = auth ? nlohmann::json(*auth) : nlohmann::json();
  nlohmann::json by_class = nlohmann::json::object();
  TRY_ASSIGN(auto letters, q.dead_letters());
  for (const auto& l : letters) {
    by_class[l.error_class] = by_class.value(l.error_class, 0) + 1;
  }
  out["dead_by_class"] = by_class;
  nlohmann::json outages = nlohmann::json::array();
  TRY_ASSIGN(auto stmt, db.prepare("SELECT started_ms, ended_ms, jobs_affected, last_error FROM outages "
                                   "ORDER BY id DESC LIMIT 10"));
  while (true) {
    TRY_ASSIGN(const bool row, stmt.step());
    if (!row) {
      break;
    }
    outages.push_back({{"started_ms", stmt.int_at(0)},
                       {"ended_ms", stmt.is_null(1) ? nlohmann::json() : nlohmann::json(stmt.int_at(1))},
                       {"jobs_affected", stmt.int_at(2)},
                       {"last_error", stmt.text_at(3)}});
  }
  out["outages"] = outages;
  TRY_ASSIGN(auto synced, db.prepare("SELECT count(*), coalesce(max(synced_ms), 0) FROM sync_records"));
  TRY(synced.step());
  // Uncertain matches waiting for a person (or an index refresh): newest first, bounded.
  nlohmann::json review = nlohmann::json::array();
  TRY_ASSIGN(auto rv, db.prepare("SELECT scene_id, reason, candidates, first_ms FROM match_reviews "
                                 "ORDER BY last_ms DESC LIMIT 50"));
  while (true) {
    TRY_ASSIGN(const bool row, rv.step());
    if (!row) {
      break;
    }
    nlohmann::json candidates = nlohmann::json::parse(rv.text_at(2), nullptr, false);
    review.push_back({{"scene_id", rv.text_at(0)},
                      {"reason", rv.text_at(1)},
                      {"candidates", candidates.is_discarded() ? nlohmann::json::array() : candidates},
                      {"since_ms", rv.int_at(3)}});
  }
  TRY_ASSIGN(auto rc, db.prepare("SELECT count(*) FROM match_reviews"));
  TRY(rc.step());
  out["needs_review"] = rc.int_at(0);
  out["review"] = review;
  out["synced_scenes"] = synced.int_at(0);
  out["last_sync_ms"] = synced.int_at(1);
  nlohmann::json stats = nlohmann::json::object();
  TRY_ASSIGN(auto st, db.prepare("SELECT key, value FROM stats"));
  while (true) {
    TRY_ASSIGN(const bool row, st.step());
    if (!row) {
      break;
    }
    stats[st.text_at(0)] = st.int_at(1);
  }
  const auto jobs = stats.value("jobs", int64_t{0});
  stats["average_job_ms"] = jobs > 0 ? stats.value("job_ms_total", int64_t{0}) / jobs : 0;
  nlohmann::json confidence = nlohmann::json::object();
  TRY_ASSIGN(auto conf, db.prepare("SELECT CASE WHEN match_score >= 95 THEN 'high' WHEN match_score >= 70 THEN "
                                   "'medium' ELSE 'low' END, count(*) FROM sync_records GROUP BY 1"));
  while (true) {
    TRY_ASSIGN(const bool row, conf.step());
    if (!row) {
      break;
    }
    confidence[conf.text_at(0)] = conf.int_at(1);
  }
  stats["match_confidence"] = confidence;
  out["stats"] = stats;
  // Plex -> Stash (issue #27): what came back from Plex, counted since the database was made.
  const auto imported = activity::import_summary(db);
  out["plex_to_stash"] = {{"plays", imported.plays},
                          {"resume_points", imported.resume_points},
                          {"ratings", imported.ratings},
                          {"rating_conflicts", imported.conflicts},
                          {"echo_jobs", imported.echo_jobs},
                          {"webhook_events_waiting", imported.inbox},
                          {"last_import_ms", imported.last_import_ms},
                          {"last_import_source", imported.last_source}};
  return out;
}

namespace {

std::unique_ptr<stash::StashClient> stash_client_for(const stash::ServerConnection& server) {
  // parse_plugin_input already checked scheme, host and port, so the address parses.
  return std::move(*stash::connect(server.base_url(), {server.cookie_name, server.cookie_value, ""}));
}

// all / recent / reconcile_*: page through Stash and queue every scene changed since its last sync
// (scenes never synced, or without a Plex item yet, have no record and are always queued).
Answer enqueue_task(const stash::PluginInput& in, store::Db& db, const std::string& data_dir, int64_t now,
                    const std::optional<config::LoadResult>& settings) {
  const bool recent = in.mode == "recent" || in.mode == "reconcile_recent";
  nlohmann::json filter = nlohmann::json::object();
  if (recent) {
    // Stash compares timestamps as text in its own offset; a date two days back is a safe superset
    // of "the last 24 hours" whatever that offset is.
    const auto day = util::format_utc(now / 1000 - int64_t{2} * 24 * 3600, "%Y-%m-%d");
    filter = {{"updated_at", {{"value", day}, {"modifier", "GREATER_THAN"}}}};
  }
  // "Sync all scenes" after a change of what is written (a title template, collections, a skip_*
  // switch) queues every scene, not only those changed in Stash (issue #28).
  std::string shaping;
  bool reshaped = false;
  if (in.mode == "all" && settings && settings->usable()) {
    shaping = config::shaping_fingerprint(settings->settings);
    const auto last = db.get_kv("shaping_fingerprint");
    reshaped = !last || !*last || **last != shaping;
  }
  auto stash = stash_client_for(in.server);
  auto result = worker::enqueue_changed(
      *stash, db, filter, "task:" + in.mode, now,
      [](int64_t done, int64_t total) {
        util::log::progress(total > 0 ? static_cast<double>(done) / static_cast<double>(total) : 1.0);
      },
      {}, reshaped);
  if (!result) {
    return fail("cannot list scenes in Stash: " + result.error().message);
  }
  if (reshaped) {
    (void)db.put_kv("shaping_fingerprint", shaping);
  }
  nlohmann::json output = {{"scenes", result->seen}, {"queued", result->queued}, {"up_to_date", result->up_to_date}};
  if (in.mode.rfind("reconcile", 0) == 0) {
    if (!settings) {
      return fail("reconcile needs PlexSync's settings, which Stash did not give; run the Health check task");
    }
    if (!settings->usable()) {
      util::log::progress(1.0);
      return Answer{output, std::nullopt}; // the caller names the setting to fix
    }
    auto plex_side = worker::reconcile_plex_side(db, settings->settings, now);
    if (!plex_side) {
      return fail("cannot read the Plex library: " + plex_side.error().message);
    }
    if (!recent) {
      auto deleted = worker::forget_deleted_scenes(db, *result);
      if (!deleted) {
        return fail(deleted.error().message);
      }
      output["deleted_in_stash"] = *deleted;
    }
    output["gone_from_plex"] = plex_side->first;
    output["emptier_in_plex"] = plex_side->second;
    result->queued += plex_side->first + plex_side->second;
  }
  util::log::progress(1.0);
  LOG_INFO(in.mode << ": " << result->seen << " scenes looked at, " << result->queued << " queued, "
                   << result->up_to_date << " already up to date in Plex");
  if (result->queued > 0 && autostart_enabled() && !util::DataDirLock::held_by_someone(data_dir)) {
    spawn_worker(data_dir);
  } else if (result->queued > 0) {
    util::wake_worker(data_dir);
  }
  return Answer{output, std::nullopt};
}

Answer run_task(const stash::PluginInput& in, store::Db& db, const std::string& data_dir,
                std::optional<config::LoadResult>& settings) {
  if (auto saved = remember_connection(db, in.server); !saved) {
    return fail(saved.error().message);
  }
  queue::Queue q(db);
  const int64_t now = util::SystemClock().now_ms();
  const auto& mode = in.mode;
  auto wrap = [](util::Result<int64_t> n, const char* key) {
    return n ? Answer{{{key, *n}}, std::nullopt} : fail(n.error().message);
  };
  // Settings decide whether anything happens; queue maintenance and diagnostics always work.
  const bool maintenance = mode == "queue_status" || mode == "health_check" || mode == "clear_queue" ||
                           mode == "clear_dlq" || mode == "purge_dlq";
  auto stash = stash_client_for(in.server);
  // An old Stash is warned about by every task; Health check reports it as a problem of its own.
  const auto facts = mode == "health_check" ? util::Result<stash::StashFacts>(stash::StashFacts{}) : stash->facts();
  if (auto old = facts ? stash_release_problem(facts->version) : std::string(); !old.empty()) {
    LOG_WARN(old);
  }
  if (facts) {
    worker::remember_api_key(db, *facts); // read with a fresh cookie: the worker needs it once that expires
  }
  if (auto raw = stash->plugin_settings(); raw) {
    settings = config::load_effective_settings(*raw);
    match::check_path_map(*settings);
    const auto& loaded = *settings;
    util::log::set_debug_visible(loaded.settings.debug_logging);
    util::log::set_obfuscate_paths(loaded.settings.obfuscate_paths);
    for (const auto& p : loaded.problems) {
      LOG_WARN(p.message);
    }
    if (loaded.settings.pause_syncing && !maintenance) {
      return Answer{{{"disabled", true},
                     {"message", "syncing is paused (pause_syncing in Settings > Plugins > PlexSync); nothing done"}},
                    std::nullopt};
    }
  }
  if (mode == "all" || mode == "recent" || mode == "reconcile_all" || mode == "reconcile_recent") {
    return enqueue_task(in, db, data_dir, now, settings);
  }
  // Every other task also catches changes no hook announced (merges, auto-tag, scans).
  if (mode != "clear_queue" && mode != "clear_dlq" && mode != "purge_dlq") {
    if (auto polled = worker::poll_late_updates(*stash_client_for(in.server), db, now); !polled) {
      LOG_DEBUG("late-update poll failed: " << polled.error().message);
    }
  }
  if (mode == "process_queue") {
    return process_queue(db, data_dir);
  }
  if (mode == "queue_status") {
    auto status = queue_status(db, data_dir, now);
    return status ? Answer{*status, std::nullopt} : fail(status.error().message);
  }
  if (mode == "clear_match_cache") {
    auto cleared = worker::clear_match_cache(db, now);
    if (!cleared) {
      return fail("cannot clear the match cache: " + cleared.error().message);
    }
    return Answer{{{"cleared_matches", *cleared},
                   {"note", "the library index and the matches are read from Plex again on the next sync"}},
                  std::nullopt};
  }
  if (mode == "health_check") {
    auto report = health_check(in.server, db);
    auto status = queue_status(db, data_dir, now);
    report.details["queue"] = status ? *status : nlohmann::json();
    report.details["notes"] = report.notes;
    for (const auto& note : report.notes) {
      LOG_WARN(note);
    }
    if (report.problems.empty()) {
      LOG_INFO("health check: Stash and Plex answer, the token works, libraries found");
      return Answer{report.details, std::nullopt};
    }
    std::string message = "health check found problems: ";
    for (size_t i = 0; i < report.problems.size(); ++i) {
      message += (i == 0 ? "" : "; ") + report.problems[i];
    }
    return Answer{report.details, message};
  }
  if (mode == "clear_queue") {
    return wrap(q.clear_pending(), "cleared");
  }
  if (mode == "clear_dlq") {
    return wrap(q.clear_dead(), "cleared");
  }
  if (mode == "retry_dlq") {
    // args.error_class (optional): only dead letters of that class, e.g. "not_found".
    auto r = wrap(q.retry_dead(now, arg_string(in.args, "error_class")), "requeued");
    if (!r.error && autostart_enabled() && !util::DataDirLock::held_by_someone(data_dir)) {
      spawn_worker(data_dir);
    }
    return r;
  }
  if (mode == "purge_dlq") {
    // args.days (optional, default 30): drop dead letters whose last failure is older.
    const auto days_text = arg_string(in.args, "days");
    int64_t days = 30;
    if (!days_text.empty()) {
      // Digits only: "1e3" and "1.5" are refused, not read as 1 (issue #31).
      days = util::all_digits(days_text, 5) ? std::stoll(days_text) : -1;
      if (days < 0 || days > 36500) {
        return fail("purge_dlq: days must be a whole number of days (0-36500), got '" + days_text + "'");
      }
    }
    return wrap(q.purge_dead_older_than(now - days * 24 * 3600 * 1000), "purged");
  }
  for (const auto& t : config::task_table()) {
    if (mode == t.mode) {
      return fail("task mode '" + mode + "' (" + t.name + ") is not implemented yet in this version of PlexSync");
    }
  }
  std::string known;
  for (const auto& t : config::task_table()) {
    known += (known.empty() ? "" : ", ") + std::string(t.mode);
  }
  return fail("unknown task mode '" + mode + "'; known modes: " + known);
}

// One line at info level: Stash logs a task's output only at debug (task_plugin.go).
std::string task_summary(const std::string& mode, const nlohmann::json& out) {
  if (!out.is_object()) {
    return mode + ": done";
  }
  const auto num = [&](const char* key) { return std::to_string(out.value(key, int64_t{0})); };
  if (out.contains("disabled")) {
    return mode + ": " + out.value("message", "syncing is paused");
  }
  if (mode == "queue_status") {
    return "queue: " + num("pending") + " pending, " + num("in_flight") + " in flight, " + num("dead") +
           " dead letters, " + num("spooled") + " spooled, " + num("needs_review") + " matches to review";
  }
  if (out.contains("cleared")) {
    return mode + ": " + num("cleared") + (mode == "clear_dlq" ? " dead letters" : " jobs") + " cleared";
  }
  if (out.contains("requeued")) {
    return mode + ": " + num("requeued") + " dead letters back in the queue";
  }
  if (out.contains("purged")) {
    return mode + ": " + num("purged") + " old dead letters purged";
  }
  if (out.contains("cleared_matches")) {
    return mode + ": " + num("cleared_matches") + " stored matches forgotten";
  }
  return {}; // the task logged its own summary
}

// Tasks that end in Plex: with settings PlexSync cannot use they still queue (nothing is lost) but
// fail, so Stash shows the task as failed with the setting to fix.
bool needs_plex(const std::string& mode) {
  return mode == "all" || mode == "recent" || mode == "reconcile_all" || mode == "reconcile_recent" ||
         mode == "process_queue" || mode == "retry_dlq";
}

Answer handle_task(const stash::PluginInput& in, store::Db& db, const std::string& data_dir) {
  std::optional<config::LoadResult> settings;
  auto answer = run_task(in, db, data_dir, settings);
  if (!answer.error && settings && !settings->usable() && needs_plex(in.mode)) {
    std::string why;
    for (const auto& p : settings->problems) {
      if (p.fatal) {
        why += (why.empty() ? "" : "; ") + p.message;
      }
    }
    answer.error = "nothing reaches Plex until the settings are fixed: " + why +
                   ". What this task queued stays queued and is synced once they are";
  }
  if (!answer.error) {
    if (auto line = task_summary(in.mode, answer.output); !line.empty()) {
      LOG_INFO(line);
    }
  }
  return answer;
}

} // namespace

bool autostart_enabled() {
  const auto env = util::environment_variable("PLEXSYNC_WORKER_AUTOSTART");
  return !env || *env != "0";
}

void remember_argv0(const char* argv0) {
  g_argv0 = argv0 != nullptr ? argv0 : "";
}

std::string resolve_data_dir(const std::string& plugin_dir) {
  if (auto env = util::environment_variable("PLEXSYNC_DATA_DIR"); env && !env->empty()) {
    return *env;
  }
  if (!plugin_dir.empty()) {
    return plugin_dir + "/data";
  }
  const auto exe = executable_path();
  return exe.empty() ? std::string("data") : util::parent_dir(exe) + "/data";
}

namespace {

// A worker that dies of an unexpected error leaves its time and reason in worker.crashes (a file:
// the database may be what broke). After k_crash_limit of them within k_crash_window_ms, hooks
// stop starting workers blindly until the window passes; a person can still run Process queue.
constexpr size_t k_crash_limit = 3;
constexpr int64_t k_crash_window_ms = 10LL * 60 * 1000;

std::string crash_file(const std::string& data_dir) {
  return data_dir + "/worker.crashes";
}

nlohmann::json read_crashes(const std::string& data_dir) {
  std::ifstream in(util::fs_path(crash_file(data_dir)));
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto j = nlohmann::json::parse(text, nullptr, false);
  return j.is_array() ? j : nlohmann::json::array();
}

} // namespace

void record_worker_crash(const std::string& data_dir, int64_t now_ms, const std::string& message) {
  auto crashes = read_crashes(data_dir);
  crashes.push_back({{"at_ms", now_ms}, {"message", message}});
  while (crashes.size() > 5) {
    crashes.erase(crashes.begin());
  }
  (void)util::write_file_durably(crash_file(data_dir) + ".tmp" + std::to_string(util::current_pid()),
                                 crash_file(data_dir), crashes.dump() + "\n");
}

nlohmann::json recent_worker_crashes(const std::string& data_dir, int64_t now_ms) {
  nlohmann::json recent = nlohmann::json::array();
  for (const auto& c : read_crashes(data_dir)) {
    if (c.is_object() && c.contains("at_ms") && c.at("at_ms").is_number_integer() &&
        now_ms - c.at("at_ms").get<int64_t>() < k_crash_window_ms) {
      recent.push_back(c);
    }
  }
  return recent;
}

bool spawn_worker(const std::string& data_dir) {
  const auto exe = executable_path();
  if (const auto crashes = recent_worker_crashes(data_dir, util::SystemClock().now_ms());
      crashes.size() >= k_crash_limit) {
    LOG_ERROR("not starting a background worker: it stopped on an unexpected error "
              << crashes.size() << " times in the last 10 minutes (last: " << crashes.back().value("message", "")
              << "); see plexsync.log in " << data_dir
              << ". The queue is kept; the 'Process queue' task runs it in the foreground");
    return false;
  }
  return !exe.empty() && util::spawn_detached(exe, {"worker", "--data-dir", data_dir}, data_dir + "/plexsync.log");
}

namespace {

// The worker runs until idle (or stopped); a database found damaged mid-run is healed and the
// run goes on (store/heal.hpp).
int run_worker_loop(const std::string& data_dir, bool forever, util::Result<store::Db>& db, util::DataDirLock& lock) {
  util::SystemClock clock;
  util::SystemRng rng;
  util::WakeListener wake(data_dir);
  while (true) {
    worker::Worker w(*db, clock, rng, &g_stop);
    w.set_wake_listener(&wake);
    const auto stats = w.run(forever ? worker::RunMode::forever : worker::RunMode::until_idle);
    if (!stats.damage.empty() && !g_stop) {
      // SQLite met damage mid-run: close, move aside, start fresh and re-sync (store/heal.hpp).
      // The damaged file is not reopened, so the Stash connection is carried over from here.
      auto conn = worker::load_connection(*db);
      db = tl::unexpected(util::Error{"closed to be replaced"});
      db = store::open_healing(data_dir, clock.now_ms(), false, store::Db::k_default_busy_ms, stats.damage);
      if (!db) {
        LOG_ERROR(db.error().message);
        return 1;
      }
      if (conn && *conn) {
        (void)worker::save_connection(*db, **conn);
      }
      continue;
    }
    if (g_stop) {
      LOG_INFO("stopped on request after " << stats.processed << " jobs; the rest stays queued");
      break;
    }
    LOG_INFO("worker idle after " << stats.processed << " jobs (" << stats.synced << " synced, " << stats.unchanged
                                  << " unchanged)");
    // A hook that saw our lock held did not start a worker; its job is already committed, so
    // re-checking after the release closes that window.
    lock.release();
    auto counts = queue::Queue(*db).counts(clock.now_ms());
    // A worker that went idle while paused leaves the queue to the first hook after unpausing.
    if (forever || stats.paused || !counts || (counts->due == 0 && queue::spooled_count(data_dir) == 0) ||
        !lock.try_acquire()) {
      break;
    }
  }
  return 0;
}

} // namespace

int run_worker(const std::string& data_dir, bool forever, uint16_t metrics_port) {
  util::on_stop_request(&g_stop, data_dir);
  util::DataDirLock lock(data_dir);
  std::error_code ec;
  std::filesystem::create_directories(util::fs_path(data_dir), ec);
  if (!lock.try_acquire()) {
    if (lock.error() == "held by another process") {
      return 0; // another worker serves this data dir
    }
    (void)std::fprintf(stderr, "plexsync: error: %s\n", lock.error().c_str());
    return 1;
  }
  if (!util::stderr_is_console()) {
    file_log_sink(data_dir);
  } else {
    util::log::use_plain_stderr();
  }
  util::SystemClock clock;
  // The lock is held: a damaged database can be moved aside and replaced (store/heal.hpp).
  auto db = store::open_healing(data_dir, clock.now_ms(), true);
  if (!db) {
    LOG_ERROR(db.error().message);
    return 1;
  }
  std::unique_ptr<net::HttpServer> metrics;
  if (metrics_port != 0) {
    try {
      metrics = start_metrics_server(data_dir, metrics_port);
    } catch (const util::Fatal& e) {
      LOG_ERROR(e.what() << ": choose a free --metrics-port");
      return 1;
    }
    LOG_INFO("serving /metrics and /healthz on 127.0.0.1:" << metrics->port());
  }
  // The metadata provider (pull mode) lives as long as this worker; with it on, a worker started
  // by a hook stays up too, since PMS may scan or browse at any time (spec 4.10).
  // Plex -> Stash (issue #27) keeps the worker up too: it polls Plex and takes its webhooks, on
  // the provider's listener when there is one, else on a listener of its own.
  std::unique_ptr<activity::WebhookReceiver> webhooks;
  std::unique_ptr<net::HttpServer> webhook_server;
  // Read once here for both the provider and the webhooks (one Stash request at start).
  const auto loaded = worker::load_settings_for(data_dir);
  const auto& settings = loaded.settings;
  if (settings.plex_to_stash) {
    forever = true;
    if (auto receiver = activity::WebhookReceiver::open(data_dir); receiver) {
      webhooks = std::move(*receiver);
    } else {
      LOG_ERROR("Plex webhooks cannot be taken: " << receiver.error().message << "; polling still works");
    }
  }
  provider::OtherRoutes webhook_routes;
  if (webhooks) {
    webhook_routes = [w = webhooks.get()](const net::ServerRequest& r) { return w->handle(r); };
  }
  auto provider =
      worker::ProviderHost::start_if_enabled(data_dir, loaded, webhook_routes, activity::k_webhook_body_limit);
  if (!provider) {
    LOG_ERROR(provider.error().message);
    provider::note_listening(false); // /healthz says so
  } else if (*provider) {
    forever = true;
  }
  if (webhooks && (!provider || !*provider)) {
    if (auto server = activity::serve_webhooks(*webhooks, settings); server) {
      webhook_server = std::move(*server);
      LOG_INFO("taking Plex's webhooks on " << settings.provider_listen
                                            << " ('plexsync webhook url' prints the URL to paste into Plex)");
    } else {
      LOG_ERROR(server.error().message << "; Plex -> Stash goes on by polling");
    }
  }
  LOG_INFO("worker started (pid " << util::current_pid() << (forever ? ", service mode)" : ")"));
  try {
    if (const int code = run_worker_loop(data_dir, forever, db, lock); code != 0) {
      return code;
    }
  } catch (const std::exception& e) {
    LOG_ERROR("the worker stopped on an unexpected error: " << e.what()
                                                            << " (recorded; hooks stop restarting it after three)");
    record_worker_crash(data_dir, clock.now_ms(), e.what());
    return 70;
  }
  LOG_INFO("worker exiting (pid " << util::current_pid() << ")");
  return 0;
}

int stop_worker(const std::string& data_dir) {
  const int pid = util::DataDirLock::holder_pid(data_dir);
  if (pid == 0 && !util::DataDirLock::held_by_someone(data_dir)) {
    std::cout << "no worker runs for " << data_dir << "\n";
    return 0;
  }
  if (const auto why = util::request_stop(data_dir, pid); !why.empty()) {
    (void)std::fprintf(stderr, "plexsync: error: %s\n", why.c_str());
    return 1;
  }
  // The worker ends its current job first; each request in it is bounded by the read timeout.
  constexpr int64_t k_stop_wait_ms = 60'000;
  util::SystemClock clock;
  const auto deadline = clock.now_ms() + k_stop_wait_ms;
  while (clock.now_ms() < deadline) {
    if (!util::DataDirLock::held_by_someone(data_dir)) {
      std::cout << "stopped the worker (pid " << pid << ") of " << data_dir << "\n";
      return 0;
    }
    clock.sleep_ms(100);
  }
  (void)std::fprintf(stderr,
                     "plexsync: error: the worker (pid %d) was asked to stop but still runs after %lld s; its queue "
                     "is safe either way: end the process (kill / taskkill) if it hangs\n",
                     pid, static_cast<long long>(k_stop_wait_ms / 1000));
  return 1;
}

namespace {

// Stash closes a plugin's stderr once the process exits and drops what its reader had not read
// yet (about one line in 70 in a real v0.30.1: real-world-evidence.md). The line that matters is
// followed by a trace line and a short pause, so that what may be lost is that trace line.
void let_stash_read_the_log() {
  util::log::write(util::log::Level::trace, "end of output");
  (void)std::fflush(stderr);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

// After a hook queued something: a background worker, unless one runs or autostart is off.
void start_worker_if_idle(const std::string& data_dir) {
  if (autostart_enabled() && !util::DataDirLock::held_by_someone(data_dir) && !spawn_worker(data_dir)) {
    LOG_WARN("could not start the background worker; run the 'Process queue' task");
  }
}

// Opens the database for a hook or a task. Damage is healed here only when no worker uses the
// files; otherwise the caller spools a hook's event and the worker heals when it can.
util::Result<store::Db> open_for_plugin(const std::string& data_dir, int busy_ms) {
  // A log left by a worker that died is read before SQLite opens it (store/wal_check.hpp): this
  // process may be its first and last connection, which would drop damaged frames for good.
  std::string damage;
  std::error_code ec;
  const auto wal = data_dir + "/plexsync.db-wal";
  if (std::filesystem::file_size(util::fs_path(wal), ec) > 0 && !ec && !util::DataDirLock::held_by_someone(data_dir)) {
    damage = store::wal_damage(wal).value_or("");
  }
  auto db = damage.empty() ? store::Db::open(data_dir, busy_ms)
                           : util::Result<store::Db>(tl::unexpected(util::Error{damage}));
  if (db || (damage.empty() && !store::is_damage(db.error()))) {
    return db;
  }
  if (util::DataDirLock lock(data_dir); lock.try_acquire()) {
    return store::open_healing(data_dir, util::SystemClock().now_ms(), false, busy_ms, damage);
  }
  return damage.empty() ? std::move(db) : store::Db::open(data_dir, busy_ms); // a worker just took over
}

} // namespace

int run_plugin() {
  util::ignore_broken_pipes();
  util::use_binary_stdio();
  std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  auto input = stash::parse_plugin_input(text);
  if (!input) {
    LOG_ERROR(input.error().message);
    stash::write_result(nullptr, input.error().message);
    return 2;
  }
  util::log::add_secret(input->server.cookie_value);
  const auto data_dir = resolve_data_dir(input->server.plugin_dir);
  const int busy_ms = input->hook ? k_hook_busy_ms : store::Db::k_default_busy_ms;
  auto db = open_for_plugin(data_dir, busy_ms);
  if (!db && input->hook && scene_hook(input->hook->type) && !hook_problem(*input->hook)) {
    const auto answer = spool_hook(*input->hook, data_dir, util::SystemClock().now_ms(), db.error().message);
    if (answer.error) {
      LOG_ERROR(*answer.error);
    } else {
      start_worker_if_idle(data_dir);
    }
    stash::write_result(answer.output, answer.error);
    return answer.error ? 1 : 0;
  }
  if (!db) {
    // Nothing may be lost silently: say so loudly in Stash's log and the result.
    std::string message = "PlexSync cannot open its queue: " + db.error().message;
    if (store::is_damage(db.error())) {
      // A worker holds the files (else it was healed above): it replaces the database now rather
      // than at its next start (issue #31).
      store::request_integrity_check(data_dir);
      message += "; the running worker is replacing the damaged database now: run this again in a minute";
    }
    LOG_ERROR(message);
    let_stash_read_the_log();
    stash::write_result(nullptr, message);
    return 1;
  }
  Answer answer;
  try {
    if (input->hook) {
      answer = handle_hook(*input, *db, data_dir);
      if (!answer.error && answer.output.value("queued", false)) {
        start_worker_if_idle(data_dir);
      }
    } else if (input->mode.empty() || input->mode == "hook") {
      answer = fail("no task mode given: Stash passes args.mode from the task's defaultArgs");
    } else {
      answer = handle_task(*input, *db, data_dir);
    }
  } catch (const std::exception& e) {
    // Still one JSON answer for Stash, naming what broke; the queue is as it was.
    answer = fail(std::string("an answer PlexSync did not expect stopped this task (") + e.what() +
                  "); the queue is kept: try again later, and report it if it repeats");
  }
  if (answer.error && !input->hook) {
    // Stash ends a plugin task's job FINISHED whatever the plugin answers (runPluginTask, seen in
    // a real v0.30.1): its "Plugin returned error: ..." line and this one are all a person sees,
    // so they say what stays queued too.
    if (auto c = queue::Queue(*db).counts(util::SystemClock().now_ms()); c) {
      *answer.error += " (the queue keeps " + std::to_string(c->pending + c->in_flight) + " jobs and " +
                       std::to_string(c->dead) + " dead letters; nothing was dropped)";
    }
  }
  if (answer.error && store::is_damage(util::Error{*answer.error})) {
    store::request_integrity_check(data_dir); // a running worker heals it within a second
  }
  if (answer.error) {
    LOG_ERROR(*answer.error);
  }
  if (answer.error || !input->hook) {
    let_stash_read_the_log();
  }
  stash::write_result(answer.output, answer.error);
  return answer.error ? 1 : 0;
}

} // namespace cli
