#include "worker/worker.hpp"

#include <thread>

#include <nlohmann/json.hpp>

#include "match/path_map.hpp"
#include "net/paced_client.hpp"
#include "provider/catalog.hpp"
#include "queue/spool.hpp"
#include "store/heal.hpp"
#include "sync/plan.hpp"
#include "util/log.hpp"
#include "util/path.hpp"
#include "util/strings.hpp"
#include "worker/backoff.hpp"
#include "worker/scan.hpp"

namespace worker {
namespace {

constexpr int64_t k_lease_ms = 5LL * 60 * 1000;
// Settings are read where they are used (issue #29): before a job when the last read is older than
// this, and at every wake-up a hook sends (at most once a second: a bulk edit wakes the worker
// per scene, and each read is a line in Stash's log). One query, compared before anything is rebuilt.
constexpr int64_t k_settings_ttl_ms = 5LL * 1000;
constexpr int64_t k_settings_wake_floor_ms = 1000;
// A paused service worker (no hook wakes it) looks whether it was unpaused once a minute.
constexpr int64_t k_paused_settings_check_ms = 60LL * 1000;
constexpr int64_t k_auth_recheck_ms = 30LL * 1000;
constexpr int64_t k_max_idle_sleep_ms = 500;
constexpr int64_t k_stash_first_recheck_ms = 2000;
constexpr int64_t k_stash_last_recheck_ms = 60LL * 1000;
constexpr int64_t k_paused_sleep_ms = 1000; // no work at all while paused: the clock is looked at once a second
constexpr int64_t k_storage_recheck_ms = 5LL * 1000;
// A run that cannot reach its own queue this many times in a row (each after SQLite's busy
// timeout) ends and leaves the jobs for the next run; only the service worker keeps trying.
constexpr int k_max_queue_failures = 3;

// One lane per request that may be in flight: plex_concurrency when set, else the adaptive limit's
// ceiling (lanes beyond the current limit wait for a slot, with their Stash reads already done).
int lane_count(const config::Settings& s) {
  return s.plex_concurrency > 0 ? s.plex_concurrency : net::AdaptiveLimit::k_default_ceiling;
}

std::string uuid_v4(util::Rng& rng) {
  static const char* hexd = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 32; ++i) {
    int v = static_cast<int>(rng.next_unit() * 16) & 15;
    if (i == 12) {
      v = 4;
    } else if (i == 16) {
      v = (v & 3) | 8;
    }
    out.push_back(hexd[v]);
    if (i == 7 || i == 11 || i == 15 || i == 19) {
      out.push_back('-');
    }
  }
  return out;
}

} // namespace

util::Result<void> save_connection(store::Db& db, const StashConnection& conn) {
  const nlohmann::json j = {
      {"base_url", conn.base_url}, {"cookie_name", conn.cookie_name}, {"cookie_value", conn.cookie_value}};
  return db.put_kv("stash_connection", j.dump());
}

util::Result<std::optional<StashConnection>> load_connection(store::Db& db) {
  TRY_ASSIGN(auto text, db.get_kv("stash_connection"));
  if (!text) {
    return std::optional<StashConnection>{};
  }
  try {
    const auto j = nlohmann::json::parse(*text);
    return std::optional<StashConnection>{
        StashConnection{j.value("base_url", ""), j.value("cookie_name", "session"), j.value("cookie_value", "")}};
  } catch (const nlohmann::json::exception&) {
    return std::optional<StashConnection>{};
  }
}

std::string remembered_api_key(store::Db& db) {
  auto key = db.get_kv("stash_api_key_learned");
  if (!key || !*key) {
    return {};
  }
  util::log::add_secret(**key);
  return **key;
}

void remember_api_key(store::Db& db, const stash::StashFacts& facts) {
  if (!facts.api_key.empty() && facts.api_key != remembered_api_key(db)) {
    (void)db.put_kv("stash_api_key_learned", facts.api_key);
  }
}

void use_remembered_key(const std::string& data_dir, stash::StashClient& client) {
  client.set_key_source([data_dir] {
    auto db = store::Db::open(data_dir);
    return db ? remembered_api_key(*db) : std::string();
  });
}

LocalStash read_local_stash() {
  nlohmann::json local;
  (void)config::overlay_local(nlohmann::json::object(), local);
  LocalStash out;
  if (const auto url = local.value("stash_url", nlohmann::json()); url.is_string()) {
    out.url = url.get<std::string>();
  }
  if (const auto key = local.value("stash_api_key", nlohmann::json()); key.is_string()) {
    out.api_key = key.get<std::string>();
  }
  return out;
}

util::Result<std::optional<StashConnection>> effective_connection(store::Db& db, const LocalStash& local) {
  if (!local.url.empty()) {
    return std::optional<StashConnection>(StashConnection{local.url, "session", ""});
  }
  return load_connection(db);
}

util::Result<std::optional<StashConnection>> effective_connection(store::Db& db, std::string* api_key) {
  const auto local = read_local_stash();
  if (api_key != nullptr) {
    *api_key = local.api_key;
  }
  return effective_connection(db, local);
}

net::ClientOptions plex_client_options(const config::Settings& settings) {
  net::ClientOptions opts;
  opts.base = *net::Url::parse(settings.plex_url); // load_settings rejected unusable URLs
  opts.connect_timeout_ms = settings.connect_timeout * 1000;
  opts.read_timeout_ms = settings.read_timeout * 1000;
  opts.total_timeout_ms = std::max(opts.read_timeout_ms * 4, 60000);
  opts.verify_tls = !settings.plex_skip_tls_verify;
  opts.ca_file = settings.plex_ca_file;
  return opts;
}

std::unique_ptr<plex::PlexClient> make_plex_client(const config::Settings& settings, store::Db& db, util::Clock* clock,
                                                   net::Pacer* pacer, net::AdaptiveLimit* limit) {
  std::unique_ptr<net::HttpClient> http = net::make_http_client(plex_client_options(settings));
  if (clock != nullptr && pacer != nullptr) {
    http = std::make_unique<net::PacedClient>(std::move(http), *clock, *pacer, limit);
  }
  return std::make_unique<plex::PlexClient>(std::move(http), settings.plex_token,
                                            plex::ClientIdentity{client_identifier(db), PLEXSYNC_VERSION});
}

std::string client_identifier(store::Db& db) {
  if (auto existing = db.get_kv("plex_client_identifier"); existing && *existing) {
    return **existing;
  }
  util::SystemRng rng;
  auto id = uuid_v4(rng);
  (void)db.put_kv("plex_client_identifier", id);
  return id;
}

namespace {

nlohmann::json breaker_json(const BreakerState& b) {
  return {{"phase", to_string(b.phase)},
          {"consecutive_failures", b.consecutive_failures},
          {"opened_at_ms", b.opened_at_ms},
          {"next_probe_ms", b.next_probe_ms},
          {"probes", b.probes},
          {"jobs_affected", b.jobs_affected}};
}

BreakerState load_breaker(store::Db& db) {
  BreakerState b;
  auto text = db.get_kv("breaker");
  if (!text || !*text) {
    return b;
  }
  try {
    const auto j = nlohmann::json::parse(**text);
    const auto phase = j.value("phase", "closed");
    // A half-open trial that was cut short by a restart is re-proved by a probe.
    b.phase = phase == "closed" ? BreakerState::Phase::closed : BreakerState::Phase::open;
    b.consecutive_failures = j.value("consecutive_failures", int64_t{0});
    b.opened_at_ms = j.value("opened_at_ms", int64_t{0});
    b.next_probe_ms = phase == "half_open" ? 0 : j.value("next_probe_ms", int64_t{0});
    b.probes = j.value("probes", int64_t{0});
    b.jobs_affected = j.value("jobs_affected", int64_t{0});
  } catch (const nlohmann::json::exception&) {
  }
  return b;
}

} // namespace

Worker::Worker(store::Db& db, util::Clock& clock, util::Rng& rng, const std::atomic<bool>* stop, SharedState* shared)
    : db_(db), queue_(db), clock_(clock), rng_(rng), stop_(stop) {
  if (shared == nullptr) {
    own_shared_ = std::make_unique<SharedState>();
    shared = own_shared_.get();
    shared->breaker = CircuitBreaker(5, load_breaker(db_));
    if (auto paused = db_.get_kv("auth_paused"); paused && *paused) {
      shared->auth.problem = **paused;
    }
  }
  shared_ = shared;
}

BackoffPolicy Worker::retry_policy() const {
  if (!settings_) {
    return {};
  }
  // A Retry-After counts for at most 5 minutes: a day, or an HTTP-date far ahead, parked scenes
  // long after Plex was back (issue #31).
  return BackoffPolicy{int64_t{settings_->retry_base_seconds} * 1000, int64_t{settings_->retry_cap_seconds} * 1000,
                       5LL * 60 * 1000};
}

util::Result<void> Worker::refresh_context(bool force_settings) {
  const int64_t now = clock_.now_ms();
  const int64_t epoch = shared_->settings_epoch.load();
  const bool settings_due =
      force_settings || !settings_ || now - settings_loaded_ms_ > k_settings_ttl_ms || epoch != settings_epoch_seen_;
  if (settings_due || !local_) {
    local_ = read_local_stash();
  }
  const std::string& local_key = local_->api_key;
  // The saved connection is read per job: a hook may have brought a new session cookie.
  TRY_ASSIGN(auto conn, effective_connection(db_, *local_));
  if (!conn) {
    return util::fail("no Stash connection known yet: run any PlexSync task or save a scene in Stash (outside "
                      "Stash: set stash_url in the settings file or PLEXSYNC_STASH_URL)");
  }
  // An API key outlives Stash's session cookie; the one in Stash's settings is known once they are read.
  const auto wanted_key = [&] { return !local_key.empty() ? local_key : (settings_ ? settings_->stash_api_key : ""); };
  const auto connect_stash = [&]() -> util::Result<void> {
    const bool same = stash_ && conn_ && conn_->base_url == conn->base_url &&
                      conn_->cookie_value == conn->cookie_value && stash_key_ == wanted_key();
    if (!same) {
      if (stash_ && stash_->known_facts().known) {
        stash_facts_ = stash_->known_facts();
      }
      TRY_ASSIGN(stash_, stash::connect(conn->base_url, {conn->cookie_name, conn->cookie_value, wanted_key()}));
      if (stash_facts_.known && (!conn_ || conn_->base_url == conn->base_url)) {
        stash_->adopt(stash_facts_);
      }
      use_remembered_key(util::parent_dir(db_.path()), *stash_);
      conn_ = conn;
      stash_key_ = wanted_key();
    }
    return {};
  };
  TRY(connect_stash());
  if (!settings_due) {
    return {};
  }
  TRY_ASSIGN(auto raw, stash_->plugin_settings());
  auto raw_text = raw.dump();
  if (settings_ && raw_text == settings_raw_) {
    settings_loaded_ms_ = now; // unchanged: nothing to rebuild
    settings_epoch_seen_ = epoch;
    return {};
  }
  auto loaded = config::load_effective_settings(raw);
  match::check_path_map(loaded);
  for (const auto& p : loaded.problems) {
    if (p.fatal) {
      return util::fail(p.message);
    }
    if (!settings_) {
      LOG_WARN(p.message);
    }
  }
  TRY_ASSIGN(auto map, match::PathMap::parse(loaded.settings.path_map));
  const auto& n = loaded.settings;
  const bool had_settings = settings_.has_value();
  const bool plex_changed =
      !settings_ || settings_->plex_url != n.plex_url || settings_->plex_token != n.plex_token ||
      settings_->connect_timeout != n.connect_timeout || settings_->read_timeout != n.read_timeout ||
      settings_->plex_library != n.plex_library || settings_->plex_skip_tls_verify != n.plex_skip_tls_verify ||
      settings_->plex_ca_file != n.plex_ca_file || settings_->plex_requests_per_second != n.plex_requests_per_second;
  settings_ = n;
  // A change this lane found first is announced to the others; one they announced is now seen.
  // (Unchanged settings returned above, so reaching here means they changed.)
  settings_epoch_seen_ =
      had_settings && epoch == settings_epoch_seen_ ? shared_->settings_epoch.fetch_add(1) + 1 : epoch;
  settings_raw_ = std::move(raw_text);
  settings_loaded_ms_ = now;
  path_map_ = map;
  TRY(connect_stash());
  util::log::set_debug_visible(settings_->debug_logging);
  util::log::set_obfuscate_paths(settings_->obfuscate_paths);
  {
    const std::lock_guard lock(shared_->mutex);
    shared_->breaker.set_threshold(settings_->breaker_threshold);
    shared_->pacer.set_rate(settings_->plex_requests_per_second);
    shared_->limit.set_ceiling(lane_count(*settings_));
  }
  if (plex_changed) {
    plex_ = make_plex_client(*settings_, db_, &clock_, &shared_->pacer, &shared_->limit);
    notifications_.reset(); // the feed follows the Plex settings
    notifications_refused_ = false;
    const std::lock_guard lock(shared_->mutex);
    if (shared_->auth.problem && had_settings) {
      // New Plex settings: check the token again right away (not on a lane's first load: with
      // eight lanes that would be eight checks of a token already known to fail).
      shared_->auth.next_check_ms = 0;
    }
  }
  return {};
}

plex::Result<Worker::Outcome> Worker::rescan_deleted(const queue::Job& job) {
  if (auto forget = db_.prepare("DELETE FROM sync_records WHERE scene_id = ?1"); forget) {
    (void)forget->bind(1, job.scene_id).run();
  }
  if (settings_->delete_action != "scan" || job.payload.empty()) {
    return Outcome::skipped;
  }
  const auto folder = util::dirname(path_map_.apply(job.payload));
  auto all = plex_->sections();
  if (!all) {
    return tl::unexpected(all.error());
  }
  if (const auto* section = plex::section_holding(*all, folder); section != nullptr) {
    if (auto scanned = plex_->scan(section->key, folder); !scanned) {
      return tl::unexpected(scanned.error());
    }
    LOG_INFO("scene " << job.scene_id << " was deleted in Stash; asked Plex to rescan "
                      << util::log::display_path(folder));
    return Outcome::synced;
  }
  LOG_INFO("scene " << job.scene_id << " was deleted; no Plex library holds " << util::log::display_path(folder)
                    << ", nothing to rescan");
  return Outcome::skipped;
}

void Worker::forget_for_provider(const std::string& scene_id) {
  if (auto gone = provider::forget_scene(db_, scene_id); !gone) {
    LOG_WARN("scene " << scene_id << ": the metadata provider's copy was not removed: " << gone.error().message);
  }
  // Plex items bound to it are moved to the scene that has their file now (a merge), or left
  // to delete_action: the provider host's catch-up does it (worker/scan.hpp).
  (void)db_.put_kv(k_pull_catch_up_kv, std::to_string(clock_.now_ms()));
}

void Worker::follow_plex_notifications(int64_t now) {
  const auto waiting = queue_.any_waiting_for_plex();
  if (!settings_ || !plex_ || !waiting || !*waiting) {
    notifications_.reset(); // nothing waits on Plex: no connection held
    return;
  }
  if (!notifications_ && !notifications_refused_) {
    notifications_ = std::make_unique<plex::NotificationListener>(
        plex_client_options(*settings_), settings_->plex_token, client_identifier(db_),
        [count = plex_changes_](const std::vector<std::string>& /*sections*/) { ++*count; });
  }
  if (notifications_ && notifications_->state() == plex::NotificationListener::State::refused) {
    notifications_refused_ = true; // the retry schedule alone, until the Plex settings change
    notifications_.reset();
    return;
  }
  if (const int64_t seen = plex_changes_->load(); seen != plex_changes_seen_) {
    plex_changes_seen_ = seen;
    if (auto woken = queue_.wake_all_waiting(now); woken && *woken > 0) {
      {
        const std::lock_guard lock(shared_->mutex);
        shared_->index_refreshed_ms = 0; // the next match lists what Plex added
      }
      LOG_DEBUG("Plex reported a library change: " << *woken << " scene(s) waiting for Plex are due now");
    }
  }
}

void Worker::reconcile_everything(int64_t now) {
  auto scan = enqueue_changed(*stash_, db_, nlohmann::json::object(), "reconcile", now);
  if (!scan) {
    LOG_WARN("periodic reconciliation could not list Stash's scenes: " << scan.error().message);
    return;
  }
  const auto deleted = forget_deleted_scenes(db_, *scan);
  const auto plex_side = reconcile_plex_side(db_, *settings_, now);
  LOG_INFO("periodic reconciliation: " << scan->queued << " changed in Stash, "
                                       << (plex_side ? plex_side->first + plex_side->second : 0)
                                       << " to repair in Plex, " << (deleted ? *deleted : 0) << " deleted in Stash");
}

void Worker::resync_after_recovery(int64_t now) {
  const auto recovered = store::recovery(db_);
  if (!recovered || recovered->resync != "pending") {
    recovery_checked_ = true;
    return;
  }
  // The lost queue's jobs are unknown: every scene goes through the diff, which writes only what
  // differs between Stash and Plex.
  auto scan = enqueue_changed(*stash_, db_, nlohmann::json::object(), "recovery", now);
  if (!scan) {
    LOG_WARN("after replacing the damaged database, Stash's scenes could not be listed yet (" << scan.error().message
                                                                                              << "); trying again");
    return;
  }
  recovery_checked_ = true;
  (void)store::set_resync_done(db_, "queued " + std::to_string(scan->queued) + " of " + std::to_string(scan->seen) +
                                        " scenes");
  LOG_INFO("database recovery: queued all " << scan->queued << " scenes again to re-sync");
}

void Worker::follow_clock_step(int64_t now) {
  const std::lock_guard lock(shared_->mutex);
  const auto back = shared_->clock_watch.stepped_back_ms(clock_);
  if (back <= 0) {
    return;
  }
  // Issue #31: a clock set back kept the breaker open and every retry parked for as long.
  shared_->breaker.clock_stepped_back(back);
  save_breaker();
  const auto moved = queue_.clock_stepped_back(back, now);
  LOG_WARN("the system clock went back " << back / 1000 << " s; " << (moved ? *moved : 0)
                                         << " queued retries and the Plex probe keep the waits they had");
}

void Worker::save_breaker() {
  (void)db_.put_kv("breaker", breaker_json(shared_->breaker.state()).dump());
}

Worker::Gate Worker::breaker_gate(int64_t now) {
  const std::lock_guard lock(shared_->mutex);
  auto& b = shared_->breaker;
  if (b.state().phase == BreakerState::Phase::closed) {
    return Gate::admit;
  }
  if (b.state().phase == BreakerState::Phase::half_open && b.take_trial()) {
    holds_trial_ = true;
    return Gate::admit;
  }
  return b.claim_probe(now) ? Gate::probe : Gate::wait;
}

void Worker::on_plex_answered() {
  const std::lock_guard lock(shared_->mutex);
  holds_trial_ = false;
  auto& b = shared_->breaker;
  const bool was_open = b.state().phase != BreakerState::Phase::closed;
  const auto affected = b.state().jobs_affected;
  if (b.on_success() || was_open) {
    LOG_INFO("Plex is reachable again; resuming the queue");
    if (auto stmt = db_.prepare(
            "UPDATE outages SET ended_ms = ?1, jobs_affected = max(jobs_affected, ?2) WHERE ended_ms IS NULL");
        stmt) {
      (void)stmt->bind(1, clock_.now_ms()).bind(2, affected).run();
    }
  }
  save_breaker();
}

void Worker::on_plex_unreachable(const std::string& error) {
  const std::lock_guard lock(shared_->mutex);
  holds_trial_ = false;
  auto& b = shared_->breaker;
  if (b.on_transient_failure(clock_.now_ms(), rng_.next_unit())) {
    auto counts = queue_.counts(clock_.now_ms());
    const int64_t waiting = counts ? counts->pending + counts->in_flight : 0;
    for (int64_t i = 0; i < waiting; ++i) {
      b.note_job_waiting();
    }
    LOG_ERROR("Plex failed " << b.state().consecutive_failures << " times in a row (" << error
                             << "); pausing the queue and probing until it answers");
    if (auto stmt = db_.prepare("INSERT INTO outages(started_ms, jobs_affected, last_error) VALUES(?1, ?2, ?3)");
        stmt) {
      (void)stmt->bind(1, clock_.now_ms()).bind(2, waiting).bind(3, error).run();
    }
  }
  save_breaker();
}

void Worker::ingest_spool() {
  const auto data_dir = util::parent_dir(db_.path());
  auto report = queue::ingest_spool(data_dir, db_);
  if (!report) {
    LOG_DEBUG("spooled hook events wait: " << report.error().message);
    return;
  }
  if (report->queued > 0) {
    LOG_INFO("queued " << report->queued << " hook events from the spool");
  }
  if (report->bad > 0) {
    LOG_ERROR(report->bad << " spooled hook events could not be read; kept as *.bad in " << data_dir
                          << "/spool (a 'Sync recent' task catches the scenes up)");
  }
}

void Worker::probe_plex() {
  bool ok = false;
  std::string error = "Plex settings unusable";
  if (auto ctx = refresh_context(); ctx && plex_) {
    auto id = plex_->identity();
    ok = id.has_value();
    if (!ok) {
      error = id.error().message;
    }
  }
  const std::lock_guard lock(shared_->mutex);
  shared_->breaker.on_probe(ok, clock_.now_ms(), rng_.next_unit());
  if (ok) {
    LOG_INFO("Plex answers again; trying one job before resuming");
    // Jobs parked by a long Retry-After or backoff while Plex was away are due again (issue #31:
    // scenes waited up to an hour after Plex was back).
    (void)queue_.wake_retrying(clock_.now_ms());
  } else {
    LOG_DEBUG("probe of Plex failed: " << error);
    if (auto stmt = db_.prepare("UPDATE outages SET last_error = ?1 WHERE ended_ms IS NULL"); stmt) {
      (void)stmt->bind(1, error).run();
    }
  }
  save_breaker();
}

void Worker::pause_for_auth(const std::string& message) {
  const std::lock_guard lock(shared_->mutex);
  if (!shared_->auth.problem) {
    LOG_ERROR("pausing the queue: " << message);
  }
  shared_->auth.problem = message;
  shared_->auth.next_check_ms = clock_.now_ms() + k_auth_recheck_ms;
  (void)db_.put_kv("auth_paused", message);
}

bool Worker::try_resume_after_auth() {
  if (auto ctx = refresh_context(true); !ctx || !plex_) {
    return false;
  }
  if (auto sections = plex_->sections(); !sections) {
    return false;
  }
  const std::lock_guard lock(shared_->mutex);
  if (shared_->auth.problem) {
    LOG_INFO("Plex accepts the connection and the token again; resuming the queue");
  }
  shared_->auth.problem.reset();
  (void)db_.exec("DELETE FROM kv WHERE key = 'auth_paused'");
  return true;
}

void Worker::note_storage_faults() {
  const auto fault = store::take_storage_fault();
  if (fault.kind == store::StorageFault::none) {
    return;
  }
  const std::lock_guard lock(shared_->mutex);
  if (fault.kind == store::StorageFault::damaged) {
    if (!shared_->damage) {
      LOG_ERROR("the database is damaged (" << fault.message << "); stopping to replace it");
      shared_->damage = fault.message;
    }
    return;
  }
  if (!shared_->storage.problem) {
    LOG_ERROR("pausing the queue: the data directory cannot be written ("
              << fault.message << "); syncing resumes by itself once it can");
  }
  shared_->storage.problem = fault.message;
  shared_->storage.next_check_ms = clock_.now_ms() + k_storage_recheck_ms;
}

bool Worker::stash_paused() {
  const std::lock_guard lock(shared_->mutex);
  return shared_->stash.problem.has_value();
}

void Worker::pause_for_stash(const std::string& message) {
  const std::lock_guard lock(shared_->mutex);
  if (!shared_->stash.problem) {
    shared_->stash_recheck_ms = k_stash_first_recheck_ms;
    LOG_WARN("Stash does not answer (" << message
                                       << "); the queue waits and asks Stash again, one request at a time, every few "
                                          "seconds at first, then every minute. Nothing is lost");
  } else {
    shared_->stash_recheck_ms = std::min(shared_->stash_recheck_ms * 2, k_stash_last_recheck_ms);
  }
  shared_->stash.problem = message;
  shared_->stash.next_check_ms = clock_.now_ms() + shared_->stash_recheck_ms;
}

bool Worker::try_resume_after_stash() {
  std::string why;
  if (auto ctx = refresh_context(true); !ctx) {
    why = ctx.error().message;
  } else if (auto facts = stash_->facts(); !facts) {
    why = facts.error().message;
  }
  if (!why.empty()) {
    if (stash::is_outage(util::Error{why})) {
      pause_for_stash(why); // still away: the next probe comes later
      return false;
    }
  }
  const std::lock_guard lock(shared_->mutex);
  LOG_INFO("Stash answers again; resuming the queue");
  shared_->stash.problem.reset();
  return true;
}

bool Worker::try_resume_after_storage() {
  // A small real write: the same path a job's bookkeeping takes.
  if (auto wrote = db_.put_kv("storage_checked_ms", std::to_string(clock_.now_ms())); !wrote) {
    (void)store::take_storage_fault(); // the pause already names it
    return false;
  }
  {
    const std::lock_guard lock(shared_->mutex);
    if (shared_->storage.problem) {
      LOG_INFO("the data directory can be written again; resuming the queue");
    }
    shared_->storage.problem.reset();
  }
  return true;
}

Worker::PauseStep Worker::pause_step(SharedState::Pause SharedState::*which, int64_t interval, bool (Worker::*resume)(),
                                     int64_t now) {
  bool due = false;
  {
    const std::lock_guard lock(shared_->mutex);
    auto& pause = shared_->*which;
    if (!pause.problem) {
      return PauseStep::none;
    }
    if (now >= pause.next_check_ms) {
      due = true; // this lane checks; the others wait for its verdict
      pause.next_check_ms = now + interval;
    }
  }
  return due && (this->*resume)() ? PauseStep::resumed : PauseStep::waiting;
}

void Worker::strand(const queue::Job& job) {
  stranded_.push_back(job);
}

void Worker::restore_stranded() {
  std::vector<queue::Job> still;
  for (const auto& job : stranded_) {
    if (!queue_.retry_later(job, clock_.now_ms(), "its result could not be recorded (data directory unwritable)",
                            false)) {
      still.push_back(job);
    }
  }
  stranded_ = std::move(still);
}

void Worker::check_integrity_on_request() {
  const auto data_dir = util::parent_dir(db_.path());
  if (!store::take_integrity_check_request(data_dir)) {
    return;
  }
  // A connection of its own reads the file as the hook did; ours may answer from its page cache.
  auto fresh = store::Db::open(data_dir);
  auto checked = fresh ? store::check_integrity(*fresh) : util::Result<void>(tl::unexpected(fresh.error()));
  if (!checked && store::is_damage(checked.error())) {
    const std::lock_guard lock(shared_->mutex);
    LOG_ERROR("another PlexSync process found the database damaged and the worker agrees ("
              << checked.error().message << "); stopping to replace it");
    shared_->damage = checked.error().message;
  }
}

void Worker::process_guarded(const queue::Job& job) {
  try {
    process(job);
    if (stash_ && !stash_->known_facts().api_key.empty() && stash_->known_facts().api_key != key_kept_) {
      key_kept_ = stash_->known_facts().api_key;
      remember_api_key(db_, stash_->known_facts());
    }
  } catch (const std::exception& e) {
    // An answer whose shape no parser expected: a broken answer with its retries, not a crash
    // that the next hook would repeat.
    const std::string message = std::string("an answer PlexSync did not expect broke the sync (") + e.what() + ")";
    const int64_t max_retries = settings_ ? settings_->max_retries : 8;
    if (job.attempts >= max_retries) {
      LOG_ERROR("scene " << job.scene_id << ": " << message << "; giving up (see dead letters)");
      (void)queue_.dead_letter(job, "unexpected_answer", message, 0, clock_.now_ms());
      return;
    }
    const int64_t delay = next_delay_ms(job.attempts, std::nullopt, rng_.next_unit(), retry_policy());
    LOG_ERROR("scene " << job.scene_id << ": " << message << "; retrying in " << (delay + 999) / 1000 << " s");
    if (!queue_.retry_later(job, clock_.now_ms() + delay, message, true)) {
      strand(job);
    }
  }
}

void Worker::process(const queue::Job& job) {
  const int64_t started = clock_.now_ms();
  const Stats before_job = stats_;
  // Counters kept across runs for queue_status; one atomic add per counter that moved.
  struct StatsGuard {
    Worker& w;
    const Stats& before;
    int64_t started;
    ~StatsGuard() {
      const auto& a = w.stats_;
      (void)w.db_.add_stat("jobs", 1);
      (void)w.db_.add_stat("job_ms_total", w.clock_.now_ms() - started);
      for (const auto& [key, delta] :
           {std::pair{"synced", a.synced - before.synced}, std::pair{"unchanged", a.unchanged - before.unchanged},
            std::pair{"skipped", a.skipped - before.skipped}, std::pair{"retried", a.retried - before.retried},
            std::pair{"failed", a.dead - before.dead}, std::pair{"review", a.review - before.review}}) {
        if (delta != 0) {
          (void)w.db_.add_stat(key, delta);
        }
      }
    }
  } stats_guard{*this, before_job, started};
  ++stats_.processed;
  // A half-open trial that ends without asking Plex (scene deleted, Stash down) is handed back.
  struct TrialGuard {
    Worker& w;
    ~TrialGuard() {
      if (w.holds_trial_) {
        const std::lock_guard lock(w.shared_->mutex);
        w.shared_->breaker.return_trial();
        w.holds_trial_ = false;
      }
    }
  } trial_guard{*this};
  const int64_t now = clock_.now_ms();
  waiting_folder_.clear();
  const auto retry = [&](std::optional<int64_t> retry_after, const std::string& message, bool count,
                         const BackoffPolicy& policy, const std::string& waiting_for = "", int64_t floor_ms = 0) {
    const int64_t delay = std::max(floor_ms, next_delay_ms(job.attempts, retry_after, rng_.next_unit(), policy));
    LOG_WARN("scene " << job.scene_id << ": " << message << "; retrying in " << (delay + 999) / 1000 << " s");
    ++stats_.retried;
    // From the moment the failure is known, so a server's Retry-After is honoured exactly.
    if (auto r = queue_.retry_later(job, clock_.now_ms() + delay, message, count, waiting_for); !r) {
      LOG_ERROR("cannot reschedule scene " << job.scene_id << ": " << r.error().message);
      strand(job);
    }
  };
  // No confident Plex item yet (not scanned, or an uncertain match): Plex is up, so the breaker
  // is not involved; the job waits on the long schedule and the index is refreshed before the
  // next try, then dead-letters under error_class.
  const auto wait_for_library = [&](const char* error_class, const std::string& message, int status) {
    on_plex_answered();
    if (job.attempts >= k_not_found_max_attempts) {
      ++stats_.dead;
      (void)queue_.dead_letter(job, error_class, message, status, now);
      LOG_ERROR("scene " << job.scene_id << ": " << message << "; gave up");
      return;
    }
    // The index is refreshed when the job is next due (at most once per window for all jobs), and
    // sooner for every job waiting on this folder once a refresh lists files in it. Never due
    // before the window allows a refresh: a try that could not list Plex again would burn an
    // attempt and double the next wait for nothing (a 10 s jitter did exactly that).
    int64_t refreshable_in = 0;
    {
      const std::lock_guard lock(shared_->mutex);
      if (shared_->index_refreshed_ms != 0) {
        refreshable_in = shared_->index_refreshed_ms + k_index_min_age_ms - clock_.now_ms();
      }
    }
    retry(std::nullopt, message, true, k_not_found_policy, waiting_folder_, refreshable_in);
  };
  // An event queued after this lane last read the settings is run under settings read after it
  // (at most once a second): a lane that claimed a hook's job before the lane the hook woke had
  // read them synced an edit made after pausing (seen with two e2e tests side by side).
  const bool newer_event =
      job.enqueued_ms > settings_loaded_ms_ && clock_.now_ms() - settings_loaded_ms_ >= k_settings_wake_floor_ms;
  if (auto ctx = refresh_context(newer_event); !ctx) {
    if (stash::is_outage(ctx.error())) {
      pause_for_stash(ctx.error().message); // the whole queue waits, the job as it was
      (void)queue_.retry_later(job, clock_.now_ms(), ctx.error().message, false);
      return;
    }
    // Settings unusable: keep the job, burn no retries.
    retry(std::nullopt, ctx.error().message, false, BackoffPolicy{30000, 5LL * 60 * 1000, 60LL * 60 * 1000});
    return;
  }
  if (settings_->pause_syncing) {
    // Paused since this lane claimed the job (the settings were just read again): it goes back
    // as it was, due at once, and the lane sleeps at the top of its loop.
    if (!queue_.retry_later(job, clock_.now_ms(), "kept while syncing is paused", false)) {
      strand(job);
    }
    return;
  }
  plex::Result<Outcome> outcome = Outcome::skipped;
  const auto before = plex_->requests_sent();
  if (job.event == "Scene.Destroy.Post") {
    if (settings_->provider_enabled) {
      forget_for_provider(job.scene_id);
    }
    outcome = rescan_deleted(job);
  } else {
    auto scene = stash_->find_scene(job.scene_id);
    if (!scene) {
      // Counted either way (issue #31: a Stash failure never counted, so nothing ever ended). Stash
      // away as a whole also pauses the queue; one scene's own error backs off alone and ends as a
      // dead letter after max_retries.
      if (stash::is_outage(scene.error())) {
        pause_for_stash(scene.error().message);
      }
      const int64_t max_tries = settings_->max_retries;
      if (job.attempts >= max_tries) {
        ++stats_.dead;
        LOG_ERROR("scene " << job.scene_id << ": Stash could not give the scene: " << scene.error().message
                           << "; giving up after " << job.attempts + 1 << " attempts (see dead letters)");
        (void)queue_.dead_letter(job, "stash_error", scene.error().message, 0, now);
        return;
      }
      retry(std::nullopt, scene.error().message, true, BackoffPolicy{5000, 5LL * 60 * 1000, 60LL * 60 * 1000});
      return;
    }
    if (settings_->provider_enabled && !*scene) {
      forget_for_provider(job.scene_id);
    } else if (settings_->provider_enabled) {
      // The metadata provider answers PMS from this copy (provider/catalog.hpp).
      if (auto kept = provider::store_scene(db_, **scene, path_map_, clock_.now_ms()); !kept) {
        LOG_WARN("scene " << job.scene_id
                          << ": the metadata provider's copy was not updated: " << kept.error().message);
      } else {
        for (const auto& emptied : *kept) {
          // Its files are this scene's now (a merge): its own job finds it gone in Stash and
          // takes it out of the provider's copy within seconds, not at the next rebuild.
          (void)queue_.enqueue(emptied, "provider:files_moved", now);
        }
      }
    }
    if (!*scene) {
      LOG_INFO("scene " << job.scene_id << " no longer exists in Stash; nothing to sync");
      ++stats_.skipped;
      (void)queue_.complete(job, now);
      return;
    }
    outcome = sync_scene(**scene);
    if (outcome && *outcome == Outcome::unchanged && settings_->plex_to_stash) {
      note_echo((*scene)->id, (*scene)->rating100);
    }
  }
  stats_.plex_requests += plex_->requests_sent() - before;
  if (outcome && *outcome == Outcome::needs_review) {
    ++stats_.review; // nothing was written; sync_scene logged the candidates
    wait_for_library("uncertain_match", "uncertain Plex match (see the review list in queue_status)", 0);
    return;
  }
  if (outcome) {
    on_plex_answered();
    ++(*outcome == Outcome::synced ? stats_.synced
                                   : (*outcome == Outcome::skipped ? stats_.skipped : stats_.unchanged));
    if (auto r = queue_.complete(job, clock_.now_ms()); !r) {
      LOG_ERROR("cannot mark scene " << job.scene_id << " done: " << r.error().message);
      strand(job);
    }
    return;
  }
  const auto& err = outcome.error();
  const int64_t max_retries = settings_ ? settings_->max_retries : 8;
  switch (err.kind) {
  case plex::Failure::connect:
  case plex::Failure::timeout:
  case plex::Failure::transient_status:
  case plex::Failure::rate_limited:
  case plex::Failure::bad_response:
    on_plex_unreachable(err.message);
    if (job.attempts >= max_retries) {
      ++stats_.dead;
      LOG_ERROR("scene " << job.scene_id << ": " << err.message << "; giving up after " << job.attempts + 1
                         << " attempts (see dead letters)");
      (void)queue_.dead_letter(job, plex::to_string(err.kind), err.message, err.status, now);
    } else {
      retry(err.retry_after_s, err.message, true, retry_policy());
    }
    return;
  case plex::Failure::auth:
    pause_for_auth(err.message);
    retry(std::nullopt, err.message, false, BackoffPolicy{k_auth_recheck_ms, k_auth_recheck_ms, k_auth_recheck_ms});
    return;
  case plex::Failure::not_found: {
    if (err.status != 404) {
      wait_for_library("not_found", err.message, err.status); // a file Plex does not list yet
      return;
    }
    // Plex answered 404: a library deleted and re-created has a new key (issue #31: a running
    // worker kept asking the old one). Read the sections again, and when they changed, try the
    // scene again at once against the new ones instead of waiting on the not-found schedule.
    {
      const std::lock_guard lock(shared_->mutex);
      shared_->sections_for.clear();
    }
    if (auto fresh = library_sections(); fresh) {
      bool changed_lately = false;
      {
        // library_sections() notes a change of keys; another lane may have re-read them a moment
        // ago, after this job's request went out.
        const std::lock_guard lock(shared_->mutex);
        changed_lately = shared_->sections_changed_ms != 0 && clock_.now_ms() - shared_->sections_changed_ms < 10'000;
      }
      if (changed_lately) {
        LOG_INFO("Plex's libraries changed (a library re-created?); matching scene " << job.scene_id << " again");
        retry(std::nullopt, err.message, false, BackoffPolicy{1000, 5000, 5000});
        return;
      }
    }
    wait_for_library("not_found", err.message, err.status);
    return;
  }
  case plex::Failure::local:
    // Our own database was busy or full: neither Plex's fault nor the scene's; keep every try.
    retry(std::nullopt, err.message, false, BackoffPolicy{5000, 5LL * 60 * 1000, 60LL * 60 * 1000});
    return;
  case plex::Failure::permanent_status:
    on_plex_answered();
    ++stats_.dead;
    LOG_ERROR("scene " << job.scene_id << ": " << err.message << " (permanent; see dead letters)");
    (void)queue_.dead_letter(job, plex::to_string(err.kind), err.message, err.status, now);
    return;
  }
}

Stats Worker::run(RunMode mode, const std::function<void(int64_t, int64_t)>& progress) {
  {
    const std::lock_guard lock(shared_->mutex);
    if (!shared_->orphans_released) {
      shared_->orphans_released = true;
      if (auto released = queue_.release_orphans(clock_.now_ms()); released && *released > 0) {
        LOG_WARN("took up " << *released << " job(s) left in flight by a worker that stopped");
      }
    }
  }
  // While Stash is known to be away only the probe asks it anything: no extra lanes start.
  bool stash_away = stash_paused();
  if (!stash_away) {
    if (auto ctx = refresh_context(); !ctx && stash::is_outage(ctx.error())) {
      pause_for_stash(ctx.error().message);
      stash_away = true;
    }
  }
  const int lanes = own_shared_ && settings_ && !stash_away ? lane_count(*settings_) : 1;
  if (lanes <= 1) {
    auto stats = run_lane(mode, progress);
    if (const std::lock_guard lock(shared_->mutex); shared_->damage) {
      stats.damage = *shared_->damage;
    }
    return stats;
  }
  // Extra lanes: each with its own database connection, HTTP connections and RNG. They start
  // with what this lane learnt from Stash (its release, and the API key read while the session
  // cookie worked): a lane whose first job comes after the cookie expired could not learn it.
  const auto data_dir = util::parent_dir(db_.path());
  const auto facts = stash_ && stash_->known_facts().known ? stash_->known_facts() : stash_facts_;
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(lanes - 1));
  std::vector<Stats> lane_stats(static_cast<size_t>(lanes - 1));
  for (int i = 0; i < lanes - 1; ++i) {
    threads.emplace_back([&, i] {
      auto db = store::Db::open(data_dir);
      if (!db) {
        LOG_ERROR("lane " << i + 2 << " cannot open the queue: " << db.error().message);
        return;
      }
      util::SystemRng rng;
      Worker lane(*db, clock_, rng, stop_, shared_);
      lane.stash_facts_ = facts;
      lane_stats[static_cast<size_t>(i)] = lane.run_lane(mode, {});
    });
  }
  auto total = run_lane(mode, progress);
  for (auto& t : threads) {
    t.join();
  }
  if (const std::lock_guard lock(shared_->mutex); shared_->damage) {
    total.damage = *shared_->damage;
  }
  for (const auto& ls : lane_stats) {
    total.processed += ls.processed;
    total.synced += ls.synced;
    total.unchanged += ls.unchanged;
    total.retried += ls.retried;
    total.dead += ls.dead;
    total.skipped += ls.skipped;
    total.review += ls.review;
    total.plex_requests += ls.plex_requests;
  }
  return total;
}

Stats Worker::run_lane(RunMode mode, const std::function<void(int64_t, int64_t)>& progress) {
  if (!stash_paused()) {
    (void)refresh_context();
  }
  // Read at every use: worker_idle_seconds changed in Stash applies to a running worker.
  const auto idle_limit_ms = [&] { return int64_t{settings_ ? settings_->worker_idle_seconds : 30} * 1000; };
  int64_t idle_since = clock_.now_ms();
  int queue_failures = 0;
  bool pause_noted = false;
  const auto wait_a_little = [&](int64_t until_ms) {
    const auto ms = std::clamp<int64_t>(until_ms - clock_.now_ms(), 1, k_max_idle_sleep_ms);
    bool woken = false;
    if (wake_ != nullptr && own_shared_ && wake_->ready()) {
      woken = wake_->wait(ms); // a hook's wake-up ends the wait early
    } else {
      clock_.sleep_ms(ms);
    }
    if (woken && clock_.now_ms() - settings_loaded_ms_ >= k_settings_wake_floor_ms) {
      (void)refresh_context(true); // settings a person just changed apply to the job that woke us
    }
  };
  while (!stopping()) {
    const int64_t now = clock_.now_ms();
    follow_clock_step(now);
    if (own_shared_ && now - last_integrity_check_ms_ >= 1000) {
      // Before every pause and gate: damage another process met is replaced now (issue #31: a
      // worker paused or waiting on Plex kept it until its next start).
      last_integrity_check_ms_ = now;
      check_integrity_on_request();
    }
    note_storage_faults();
    if (const std::lock_guard lock(shared_->mutex); shared_->damage) {
      break;
    }
    // The storage pause first (nothing can be recorded), then authentication.
    auto paused = pause_step(&SharedState::storage, k_storage_recheck_ms, &Worker::try_resume_after_storage, now);
    if (paused == PauseStep::none) {
      if (!stranded_.empty()) {
        restore_stranded();
      }
      paused = pause_step(&SharedState::auth, k_auth_recheck_ms, &Worker::try_resume_after_auth, now);
    }
    if (paused == PauseStep::none) {
      int64_t interval = 0;
      {
        const std::lock_guard lock(shared_->mutex);
        interval = shared_->stash_recheck_ms;
      }
      paused = pause_step(&SharedState::stash, interval, &Worker::try_resume_after_stash, now);
    }
    if (paused != PauseStep::none) {
      if (paused == PauseStep::waiting) {
        if (mode == RunMode::drain) {
          break;
        }
        wait_a_little(now + k_max_idle_sleep_ms);
      }
      continue;
    }
    if (settings_ && settings_->pause_syncing) {
      // Paused in Stash's settings (issue #29): the jobs stay queued and the worker sleeps, with no
      // request and no log line, until a hook wakes it (the settings are then read again: the first
      // hook after unpausing syncs everything at once) or it has been idle for worker_idle_seconds.
      // A service worker also reads them once a minute; a task's drain returns at once.
      stats_.paused = true;
      if (mode == RunMode::drain) {
        LOG_INFO("syncing is paused (pause_syncing in Settings > Plugins > PlexSync); the queue is kept as it is");
        break;
      }
      if (!pause_noted) {
        pause_noted = true;
        LOG_INFO("syncing is paused (pause_syncing): events are kept in the queue and synced once it is "
                 "unpaused; the worker sleeps meanwhile");
      }
      if (mode == RunMode::until_idle && now - idle_since >= idle_limit_ms()) {
        break;
      }
      bool woken = false;
      if (wake_ != nullptr && own_shared_ && wake_->ready()) {
        woken = wake_->wait(k_paused_sleep_ms);
      } else {
        clock_.sleep_ms(k_paused_sleep_ms);
      }
      const int64_t since_read = clock_.now_ms() - settings_loaded_ms_;
      if ((woken && since_read >= k_settings_wake_floor_ms) ||
          (mode == RunMode::forever && since_read > k_paused_settings_check_ms)) {
        (void)refresh_context(true);
      }
      continue;
    }
    if (pause_noted) {
      pause_noted = false;
      stats_.paused = false;
      idle_since = now;
      LOG_INFO("syncing resumed (pause_syncing unchecked): the queue is synced now");
    }
    const auto gate = breaker_gate(now);
    if (gate != Gate::admit) {
      if (gate == Gate::probe) {
        probe_plex();
        continue;
      }
      if (mode == RunMode::drain) {
        break;
      }
      wait_a_little(now + k_max_idle_sleep_ms);
      continue;
    }
    // Hook events the queue could not take in time wait in the spool; once a second is prompt
    // enough for events that already waited out a hook's lock budget.
    if (own_shared_ && now - last_spool_check_ms_ >= 1000) {
      last_spool_check_ms_ = now;
      ingest_spool();
      guarded("following Plex's notifications", [&] { follow_plex_notifications(now); });
    }
    if (own_shared_ && stash_ && !recovery_checked_) {
      guarded("the re-sync after a recovery", [&] { resync_after_recovery(now); });
    }
    // The owning lane polls Stash for changes no hook announced.
    if (own_shared_ && settings_ && stash_ && settings_->poll_interval_seconds > 0 &&
        now - last_poll_ms_ >= int64_t{settings_->poll_interval_seconds} * 1000) {
      last_poll_ms_ = now;
      guarded("the late-update poll", [&] {
        if (auto polled = poll_late_updates(*stash_, db_, now); !polled) {
          LOG_DEBUG("late-update poll failed: " << polled.error().message);
        }
      });
    }
    if (own_shared_ && settings_ && stash_ && settings_->plex_to_stash) {
      guarded("bringing Plex's activity to Stash", [&] { import_from_plex(now); });
    }
    if (own_shared_ && settings_ && stash_ && settings_->reconcile_interval_hours > 0) {
      const auto last = db_.get_kv("last_reconcile_ms");
      const int64_t last_ms = last && *last ? std::atoll((*last)->c_str()) : 0;
      if (now - last_ms >= int64_t{settings_->reconcile_interval_hours} * 3600 * 1000) {
        (void)db_.put_kv("last_reconcile_ms", std::to_string(now));
        guarded("the periodic reconciliation", [&] { reconcile_everything(now); });
      }
    }
    auto job = queue_.claim(now, k_lease_ms);
    if (!job) {
      LOG_ERROR("queue unavailable: " << job.error().message);
      if (mode != RunMode::forever && ++queue_failures >= k_max_queue_failures) {
        LOG_ERROR("stopping this run after " << queue_failures
                                             << " failed attempts to read the queue; the jobs stay queued");
        break;
      }
      clock_.sleep_ms(1000);
      continue;
    }
    queue_failures = 0;
    if (*job) {
      process_guarded(**job);
      idle_since = clock_.now_ms();
      if (progress) {
        auto counts = queue_.counts(clock_.now_ms());
        progress(stats_.processed, counts ? counts->due + counts->in_flight : 0);
      }
      continue;
    }
    if (holds_trial_) { // admitted as the trial but found nothing to do
      const std::lock_guard lock(shared_->mutex);
      shared_->breaker.return_trial();
      holds_trial_ = false;
    }
    if (mode == RunMode::drain) {
      break;
    }
    // Nothing due. Jobs waiting on backoff keep a hook-started worker alive until they are done.
    auto counts = queue_.counts(now);
    const bool waiting = counts && counts->pending + counts->in_flight > 0;
    if (mode == RunMode::until_idle && !waiting && now - idle_since >= idle_limit_ms()) {
      break;
    }
    // With a wake-up a hook's job needs no poll; without one the queue is looked at every 100 ms.
    const int64_t poll_ms = wake_ != nullptr && own_shared_ && wake_->ready() ? k_max_idle_sleep_ms : 100;
    wait_a_little(waiting && counts->next_due_ms > 0 ? counts->next_due_ms : now + poll_ms);
  }
  return stats_;
}

} // namespace worker
