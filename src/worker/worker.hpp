// The background worker: drains the queue, reading each scene fresh from Stash, matching it to
// its Plex item and writing only what changed.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "config/settings.hpp"
#include "match/matcher.hpp"
#include "match/path_map.hpp"
#include "net/paced_client.hpp"
#include "plex/client.hpp"
#include "plex/notifications.hpp"
#include "queue/queue.hpp"
#include "stash/client.hpp"
#include "store/db.hpp"
#include "sync/plan.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include "util/wake.hpp"
#include "worker/backoff.hpp"
#include "worker/breaker.hpp"

namespace worker {

enum class RunMode {
  until_idle, // started by a hook: exit after worker_idle_seconds without work
  drain,      // process_queue task: return when nothing is due
  forever,    // service mode
};

// Plex may not have scanned a new file yet: retry "no Plex item" (and uncertain matches) for
// about two hours.
inline constexpr BackoffPolicy k_not_found_policy{60LL * 1000, 30LL * 60 * 1000, 60LL * 60 * 1000};
inline constexpr int64_t k_not_found_max_attempts = 8;
// A lookup miss refreshes the library index at most this often (however many jobs missed);
// a remembered item found gone, at most this often.
inline constexpr int64_t k_index_min_age_ms = 30LL * 1000;
inline constexpr int64_t k_index_forced_min_age_ms = 5LL * 1000;
// A folder Plex was asked to scan is not asked again within this window.
inline constexpr int64_t k_scan_window_ms = 10LL * 60 * 1000;
// A full listing (which also drops deleted items) at least this often, on a miss.
inline constexpr int64_t k_index_full_age_ms = 24LL * 3600 * 1000;

struct Stats {
  int64_t processed = 0;
  int64_t synced = 0;    // an edit was sent
  int64_t unchanged = 0; // Plex already matched
  int64_t retried = 0;
  int64_t dead = 0;
  int64_t skipped = 0; // scene gone from Stash, or not in Plex with skip_not_found
  int64_t review = 0;  // uncertain match: nothing written, waiting for a refresh or a person
  int64_t plex_requests = 0;
  bool paused = false; // the run ended while syncing was paused (pause_syncing): nothing to restart for
  // Set when the run stopped because SQLite found the database damaged: the caller closes it,
  // heals it (store/heal.hpp) and runs again.
  std::string damage;
};

// Stash connection the latest plugin run gave us (the worker outlives that run).
struct StashConnection {
  std::string base_url;
  std::string cookie_name = "session";
  std::string cookie_value;
};
util::Result<void> save_connection(store::Db& db, const StashConnection& conn);
util::Result<std::optional<StashConnection>> load_connection(store::Db& db);
// Stash's API key as read through a session cookie that worked, kept so that every later process
// (worker, task, provider) goes on with it once Stash refuses an expired cookie (issue #29: with a
// short max_session_age a worker started after the expiry could not learn it any more).
std::string remembered_api_key(store::Db& db);
// Keeps the key a client learnt, if any and new (one read, and a write only when it changed).
void remember_api_key(store::Db& db, const stash::StashFacts& facts);
// Lets a client fall back on the key remembered in data_dir's database (read only when Stash
// refuses the cookie and the client has learnt no key itself).
void use_remembered_key(const std::string& data_dir, stash::StashClient& client);
// stash_url (and stash_api_key) from the settings file or environment when given (service mode,
// CLI), else the connection the latest plugin run saved. api_key: the local stash_api_key, if any.
util::Result<std::optional<StashConnection>> effective_connection(store::Db& db, std::string* api_key = nullptr);
// stash_url and stash_api_key as the settings file and environment give them ("" = not given).
struct LocalStash {
  std::string url;
  std::string api_key;
};
LocalStash read_local_stash();
util::Result<std::optional<StashConnection>> effective_connection(store::Db& db, const LocalStash& local);

// What the lanes of one worker process share: the breaker, the authentication pause, the
// library sections and the request pacing towards Plex. One mutex guards it all; no network call
// is made while holding it, except refreshing the index (other lanes wait for it anyway). The
// index itself lives in the database.
struct SharedState {
  std::mutex mutex;
  util::ClockStepWatch clock_watch; // one lane notices a step and moves every wait once
  CircuitBreaker breaker;
  // A pause of the whole queue: while problem is set no job is claimed and no retry is spent; one
  // lane at a time tries to resume when next_check_ms comes.
  struct Pause {
    std::optional<std::string> problem;
    int64_t next_check_ms = 0;
  };
  Pause auth;    // 401/403 or TLS: Plex refuses the token or the connection
  Pause storage; // the data directory cannot be written (disk full, read-only): a small write resumes
  // Stash unreachable or failing as a whole: no job is claimed, one lane at a time asks Stash
  // again, at growing intervals (2 s doubling to 60 s; issue #31: 176 requests a second before).
  Pause stash;
  int64_t stash_recheck_ms = 0;
  std::optional<std::string> damage; // every lane stops; see Stats::damage
  // Bumped by the lane that finds the settings changed: every other lane reads them again before
  // its next job (the owning lane reads them at a hook's wake-up; issue #29).
  std::atomic<int64_t> settings_epoch{0};
  bool orphans_released = false;
  std::string sections_for; // plex_url + library the sections were resolved for
  std::vector<plex::Section> sections;
  int64_t index_refreshed_ms = 0;  // 0: refresh on the next miss
  int64_t sections_changed_ms = 0; // when a 404 led to sections with other keys (a re-created library)
  int64_t forced_refresh_ms = 0;   // the last refresh forced by a remembered item found gone
  net::Pacer pacer;
  net::AdaptiveLimit limit; // requests in flight towards Plex, learned (net/adaptive_limit.hpp)
  // Items of synced scenes read ahead for the jobs due next, in one multi-item request for up to
  // plex::PlexClient::k_max_items_per_read (Worker::read_item). Each is used once, within a few
  // seconds; an edit of an item removes it, also from a read still under way.
  struct ReadAhead {
    std::map<std::string, std::pair<plex::Item, int64_t>> ready; // rating key -> (item, read at ms)
    std::set<std::string> reading;
  } read_ahead;
  // Collections a lane's edit is creating right now ((section key, folded name) -> lanes): another
  // lane that lists the library before that edit is recorded sees the new collection and would
  // count it as a person's (no poster, never removed; seen with six scenes on four lanes).
  std::map<std::pair<std::string, std::string>, int> collections_in_creation;
};

// Only the holder of the data-dir lock may construct a Worker: it treats every in-flight job it
// finds at start as orphaned by a dead worker. It runs one lane per request that may be in flight
// towards Plex (plex_concurrency, else the adaptive limit's ceiling), each with its own database
// connection and HTTP connections, sharing a SharedState.
class Worker {
public:
  // stop: set (e.g. by SIGTERM) to finish the current jobs and return.
  Worker(store::Db& db, util::Clock& clock, util::Rng& rng, const std::atomic<bool>* stop = nullptr,
         SharedState* shared = nullptr);
  // progress: called after each job with (done, remaining due).
  Stats run(RunMode mode, const std::function<void(int64_t, int64_t)>& progress = {});
  // The operator CLI's `match` and `sync --dry-run`: how a scene (by Stash id) or a file path
  // (as Stash sees it) matches, every candidate with its score and reason, and for a scene with
  // edit=true the exact edit a sync would send. Writes nothing to Plex, the queue or the records.
  util::Result<nlohmann::json> preview(const std::string& scene_or_path, bool edit);
  // Whether the Plex item exists now and still holds file (as Plex names it), asked of both servers
  // (review pick). Fails "Stash has no scene N" for a deleted scene.
  util::Result<bool> item_still_holds(const std::string& scene_id, const std::string& rating_key,
                                      const std::string& file);
  // The worker process's wake-up (util/wake.hpp): the idle owning lane waits on it instead of
  // sleeping, so a hook's job starts at once. Without one the queue is polled.
  void set_wake_listener(util::WakeListener* wake) { wake_ = wake; }

private:
  enum class Outcome { synced, unchanged, skipped, needs_review };
  enum class Gate { admit, probe, wait };
  Stats run_lane(RunMode mode, const std::function<void(int64_t, int64_t)>& progress);
  util::Result<void> refresh_context(bool force_settings = false);
  void process(const queue::Job& job);
  // process(), with an exception from an unexpected answer turned into a counted retry.
  void process_guarded(const queue::Job& job);
  // Runs a periodic chore (poll, reconciliation); an unexpected answer is logged, never fatal.
  template <typename F> void guarded(const char* what, F&& chore) {
    try {
      chore();
    } catch (const std::exception& e) {
      LOG_WARN(what << " met an answer PlexSync did not expect (" << e.what() << "); trying again later");
    }
  }
  plex::Result<Outcome> sync_scene(const stash::Scene& scene);
  // A library whose agent is PlexSync's provider (spec 5): the identifier, else "".
  // item_guid: the item's GUID; one of our provider's while the library counts as push means the
  // library was switched since the sections were read (they are read again).
  std::string pull_identifier(const std::string& section_key, const std::string& item_guid);
  void forget_for_provider(const std::string& scene_id);
  // wanted: the genres the scene maps to (fieldsync::prepare's).
  bool pull_genres_pushed(const std::string& section_key, const stash::Scene& scene,
                          const std::optional<std::vector<std::string>>& wanted, const plex::Item& item,
                          const std::string& served_version);
  // The first removal of tags PMS kept after the provider stopped returning them, per library.
  void note_stale_tags_once(const std::string& section_key);
  // The scene's item in a pull library: bind it to the provider or ask PMS to refresh it; push
  // only collections and the rating.
  plex::Result<Outcome> sync_pulled(const stash::Scene& scene, const match::Candidate& chosen, const plex::Item& item,
                                    const fieldsync::Written& last, const std::string& identifier, bool record = true);
  // collections.cpp (issue #28). Before an edit: which collections it adds that Plex does not have
  // yet (so PlexSync's edit creates them). After it: posters for those, removal once emptied.
  struct NewCollection {
    std::string folded;
    std::string title;
    bool created = false; // not listed before the edit: PlexSync's edit makes it
  };
  // Names this job's edit creates stay in SharedState::collections_in_creation while `hold` lives
  // (until the edit is recorded or failed), so a lane that lists them meanwhile counts them as
  // PlexSync's too.
  struct NewCollections {
    std::vector<NewCollection> items;
    std::shared_ptr<void> hold;
  };
  plex::Result<NewCollections> note_new_collections(const std::string& section_key, const fieldsync::EditPlan& plan);
  void remember_new_collections(const std::string& section_key, const NewCollections& found);
  plex::Result<void> tend_collections(const std::string& section_key, const fieldsync::EditPlan& plan,
                                      const fieldsync::Desired& desired);
  // The scene's file in other libraries on the PlexSync agent: refreshed or bound as well.
  plex::Result<void> sync_pull_siblings(const stash::Scene& scene, const match::SceneFacts& facts,
                                        const match::Candidate& chosen);
  void save_record(const stash::Scene& scene, const match::Candidate& chosen, bool wrote,
                   const fieldsync::Written& written);
  // delete_action=scan: Plex rescans the deleted file's folder and drops the item itself.
  plex::Result<Outcome> rescan_deleted(const queue::Job& job);
  // reconcile_interval_hours: what the Reconcile all task does, from the running worker.
  void reconcile_everything(int64_t now);
  // plex_to_stash (worker/plex_import.cpp): the poll at its interval and webhook events as they
  // arrive, applied to Stash by activity::Importer.
  void import_from_plex(int64_t now);
  // A job that wrote nothing after PlexSync's own edit in Stash (the hook Stash fires for it):
  // counted as an echo, so the no-op cost is visible (activity::ImportSummary::echo_jobs).
  void note_echo(const std::string& scene_id, std::optional<int> rating100);
  // plex_to_stash: a rating changed in Plex since the last sync, later than Stash's change (or
  // with none in Stash), is not overwritten by the push: it goes to Stash instead.
  void keep_later_plex_rating(const stash::Scene& scene, const plex::Item& item, const fieldsync::Written& last,
                              fieldsync::Desired& desired);
  // Holds PMS's notification feed while jobs wait for Plex, and makes them due when it speaks.
  void follow_plex_notifications(int64_t now);
  // After a damaged database was replaced (store/heal.hpp): queue every scene again, once.
  void resync_after_recovery(int64_t now);
  // scene_sync.cpp: match, validate, diff, write, poster, record.
  plex::Result<std::vector<plex::Section>> library_sections();
  // The Plex item of a scene synced before: from the read-ahead, else read together with the
  // items of the jobs due next. forget_read_ahead after writing to an item.
  plex::Result<plex::Item> read_item(const std::string& rating_key);
  void forget_read_ahead(const std::string& rating_key);
  plex::Result<match::Decision> match_scene(const match::SceneFacts& facts, bool force_refresh);
  plex::Result<Outcome> scene_not_in_plex(const stash::Scene& scene);
  // The picture a scene's poster comes from: the group's front cover with poster_from_group, else
  // the cover ("" when posters are not synced).
  [[nodiscard]] std::string poster_source(const stash::Scene& scene, const std::string& cover_url) const;
  // true when a new image was uploaded (only when its bytes changed).
  plex::Result<bool> sync_image(plex::PlexClient::ImageSlot slot, const std::string& scene_id,
                                const std::string& rating_key, const std::string& url);
  void note_review(const std::string& scene_id, const match::Decision& decision);
  void clear_review(const std::string& scene_id);
  [[nodiscard]] match::SceneFacts facts_of(const stash::Scene& scene) const;
  [[nodiscard]] BackoffPolicy retry_policy() const;
  // Circuit breaker and outage history, persisted so a restart keeps them. Callers hold the lock.
  void save_breaker();
  // Moves every wait back with a wall clock that was set back (util::ClockStepWatch).
  void follow_clock_step(int64_t now);
  Gate breaker_gate(int64_t now);
  void on_plex_answered();
  void on_plex_unreachable(const std::string& error);
  void probe_plex();
  void ingest_spool();
  // 401/403: the whole queue waits for a working token; no retries are burned meanwhile.
  void pause_for_auth(const std::string& message);
  bool try_resume_after_auth();
  bool try_resume_after_stash();
  void pause_for_stash(const std::string& message);
  bool stash_paused();
  // Acts on what statements met (store::take_storage_fault): damage stops every lane, a disk that
  // cannot be written pauses the queue.
  void note_storage_faults();
  bool try_resume_after_storage();
  enum class PauseStep { none, resumed, waiting };
  // none when that pause is not set; else, once per interval for all lanes, tries resume.
  PauseStep pause_step(SharedState::Pause SharedState::*which, int64_t interval, bool (Worker::*resume)(), int64_t now);
  // A job whose outcome could not be recorded while the disk could not be written (it stays in
  // flight until then); put back to run again once writes work.
  void strand(const queue::Job& job);
  void restore_stranded();
  // Another process (a hook, a task) met damage while this worker ran
  // (store::request_integrity_check): quick_check now.
  void check_integrity_on_request();
  [[nodiscard]] bool stopping() const { return stop_ != nullptr && stop_->load(); }

  store::Db& db_;
  queue::Queue queue_;
  util::Clock& clock_;
  util::Rng& rng_;
  Stats stats_;
  const std::atomic<bool>* stop_;
  std::unique_ptr<SharedState> own_shared_;
  SharedState* shared_;
  bool holds_trial_ = false;
  int64_t last_poll_ms_ = 0;
  int64_t last_plex_poll_ms_ = 0;
  int64_t inbox_seen_ = -1;    // activity::inbox_generation() last drained; -1: look once at start
  int64_t inbox_retry_ms_ = 0; // a failed drain is tried again from then on
  int64_t last_spool_check_ms_ = 0;
  int64_t last_integrity_check_ms_ = 0;
  bool recovery_checked_ = false;
  util::WakeListener* wake_ = nullptr;
  std::vector<queue::Job> stranded_;
  std::string waiting_folder_; // the folder the current job's file was not found in (scene_not_in_plex)

  std::optional<StashConnection> conn_;
  std::string stash_key_; // the API key stash_ was connected with ("" = the session cookie alone)
  std::unique_ptr<stash::StashClient> stash_;
  stash::StashFacts stash_facts_;   // read once per worker, handed to each new client (memory only)
  std::optional<LocalStash> local_; // from the settings file and environment, re-read with settings_
  std::optional<config::Settings> settings_;
  // Plex's notification feed, held while scenes wait for Plex to list their files; the count of
  // changes it reported outlives the listener's thread.
  std::shared_ptr<std::atomic<int64_t>> plex_changes_ = std::make_shared<std::atomic<int64_t>>(0);
  int64_t plex_changes_seen_ = 0;
  std::unique_ptr<plex::NotificationListener> notifications_;
  bool notifications_refused_ = false;
  std::string key_kept_; // the API key last remembered in the database
  int64_t settings_epoch_seen_ = 0;
  std::string settings_raw_; // the plugin settings as Stash answered them, to skip rebuilding
  int64_t settings_loaded_ms_ = 0;
  std::unique_ptr<plex::PlexClient> plex_;
  match::PathMap path_map_;
  struct CollectionListing {
    int64_t read_ms = 0;
    std::set<std::string> folded; // titles of the library's collections, folded
  };
  std::map<std::string, CollectionListing> collection_listings_; // by section key
};

// The Plex client for these settings (timeouts, TLS, identity); paced when a pacer is given.
std::unique_ptr<plex::PlexClient> make_plex_client(const config::Settings& settings, store::Db& db,
                                                   util::Clock* clock = nullptr, net::Pacer* pacer = nullptr,
                                                   net::AdaptiveLimit* limit = nullptr);

// Stable X-Plex-Client-Identifier for this data dir (generated once).
std::string client_identifier(store::Db& db);

} // namespace worker
