// A Plex Media Server simulator that keeps state and speaks PMS's dialect (specs/plex-api.md):
// XML by default, JSON on Accept: application/json, token auth, paging, edits, images, scans.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "net/server.hpp"
#include "plex/client.hpp"
#include "sim/faults.hpp"

namespace plexsim {

struct Tag {
  int64_t id = 0;
  std::string tag;
  std::string role;  // actors: the character (tagging.text)
  std::string thumb; // actors: photo URL (tag.thumb)
};

struct Part {
  int64_t id = 0;
  std::string file;
  int64_t size = 0;
  int64_t duration = 0;
};

struct Image {
  std::string rating_key; // upload://posters/<sha1>
  bool selected = false;
  int width = 0; // of an upload PMS could decode (0: not a picture plexsim reads)
  int height = 0;
};

struct Item {
  std::string rating_key;
  std::string section_key;
  std::map<std::string, std::string> text; // title, summary, studio, originallyAvailableAt, ...
  std::optional<double> user_rating;
  int64_t year = 0;
  int64_t added_at = 0;
  int64_t updated_at = 0;
  int64_t thumb_epoch = 0;
  int64_t art_epoch = 0;
  int64_t duration = 0;
  int64_t media_id = 0;
  std::vector<Part> parts;
  std::map<std::string, std::vector<Tag>> tags; // genre, actor, collection, label, director, ...
  std::set<std::string> locked;
  std::vector<Image> posters;
  std::vector<Image> arts;
  // The owner's (the token's account) view state; other accounts' are in PlexSim::views_.
  int64_t last_rated_at = 0;
  int64_t view_offset = 0; // ms
  int64_t view_count = 0;
  int64_t last_viewed_at = 0;
  bool pending = false; // on disk but not scanned yet: invisible until a scan reaches it
  std::string guid;     // the agent's identity for it; "" = unmatched (rendered local://<ratingKey>)
};

// A server account (GET /accounts). PMS's own id for its owner is 1, while webhooks name every
// account by its plex.tv id (plexsim_activity.cpp).
struct Account {
  int64_t id = 0;
  std::string name;
  int64_t plex_tv_id = 0;
};
// One play in the server's history (GET /status/sessions/history/all).
struct HistoryRow {
  int64_t id = 0;
  std::string rating_key;
  int64_t account_id = 0;
  int64_t viewed_at = 0;
};
// Another account's view state of one item.
// A collection as PMS keeps it (plexsim_collections.cpp).
struct Collection {
  std::string rating_key;
  std::string section_key;
  std::string title;
  int64_t added_at = 0;
  std::string poster_sha1; // the last uploaded poster's bytes
  int poster_uploads = 0;
};

// What tests read of a collection.
struct CollectionView {
  std::string rating_key;
  int64_t child_count = 0;
  int poster_uploads = 0;
  std::string poster_sha1;
};

// PMS's HTML error page with its headers.
net::ServerResponse html_error(int status);

struct AccountView {
  std::optional<double> user_rating;
  int64_t last_rated_at = 0;
  int64_t view_offset = 0;
  int64_t view_count = 0;
  int64_t last_viewed_at = 0;
};

struct Section {
  std::string key;
  std::string title;
  std::string type = "movie";
  std::string uuid;
  std::vector<std::string> locations;
  int64_t refreshing_until_ms = 0;
  std::string agent = "tv.plex.agents.none"; // a custom agent: its primary provider's identifier
  int64_t agent_group = 0;                   // metadataAgentProviderGroupId
};

// PMS as a client of custom metadata providers (specs/plex-metadata-provider.md 7.3). Every
// behaviour no one has verified on a real PMS is a switch, so tests cover each possibility.
struct AgentOptions {
  // What `filename` PMS sends in a match: relative to the library folder, with a leading '/',
  // with the library folder's own name first, or the full path.
  enum class FilenameStyle { rel, rel_leading_slash, rel_with_root_name, absolute };
  FilenameStyle filename_style = FilenameStyle::rel;
  // Whether a refresh matches again: always, never, or only items without a GUID. A 1.43.4 server
  // was seen matching again on every refresh (evidence O8), so that is the default.
  enum class Rematch { always, never, unmatched_only };
  Rematch rematch_on_refresh = Rematch::always;
  int score_threshold = 0;                     // results scoring below it are dropped (a missing score is 0); 0 = off
  bool genre_first_only = false;               // the reported PMS bug: only the first Genre is kept
  bool probe_extras = true;                    // GET .../extras on refresh, as PMS 1.43.4 was seen to
  bool probe_images = true;                    // GET .../images after the metadata
  bool list_fields_replace_on_refresh = false; // unlocked collections cleared when the provider sends none
  // PMS keeps genres and actors a provider stops returning (PhoenixAdult's documentation): a
  // refresh adds what the provider sends to the unlocked lists and removes nothing. On by default,
  // the stricter behaviour; off: the lists are replaced.
  bool keep_stale_tags = true;
  int provider_timeout_ms = 90000;
  // Provider and agent ids as JSON strings ("3"): which JSON type PMS gives them is unverified, so
  // a client must take both; an id that is not digits is refused (400) where PMS takes one.
  bool string_ids = false;
};
struct MetadataProvider {
  int64_t id = 0;
  std::string identifier;
  std::string uri; // the root URL registered
  std::string title;
  nlohmann::json root; // the MediaProvider object it answered
  // PMS fetches a custom provider's root (?includePreferences=1) when it starts and when the
  // provider is registered or its URL changes (evidence O1); one that did not answer then is
  // offline, and PMS asks it nothing until the next load.
  bool online = true;
  bool builtin = false; // Plex Movie, Plex Personal Media, Plex Local Media: listed, never called
};
struct AgentGroup {
  int64_t id = 0;
  std::string title;
  std::string primary; // identifier
  std::vector<int64_t> providers;
};
// A request plexsim made to a provider, or an image it fetched from a provider's URL.
struct ProviderCall {
  std::string method;
  std::string url;
  std::string body;
  int status = 0; // 0: no answer (refused, timed out)
  std::string content_type;
};

struct Options {
  std::string token = "plexsim-token";
  // What /identity and / report. Custom metadata providers came with 1.43.0: an older version
  // answers 404 on /media/providers/metadata as an older PMS would.
  std::string version = "1.43.4.10389-plexsim";
  bool allow_no_auth = false;     // the "networks without auth" PMS setting
  bool auto_lock_on_edit = false; // lock a field edited without .locked
  int scan_delay_ms = 200;        // how long a requested scan takes to surface pending items
  // PMS's request-line limit is undocumented; the simulator refuses (414) anything longer than what
  // PlexSync assumes, so an edit that would rely on a more generous server fails a test.
  size_t max_url_bytes = plex::k_max_request_target_bytes;
  int listing_tag_limit = 3;
  // Unverified on a real PMS (fidelity findings row 13): whether it reports an `actor` lock in
  // Field[] and echoes an actor's thumb verbatim. This switch models the stricter answer: no
  // actor lock reported, and Role.thumb served as PMS's own photo-transcoder URL.
  bool opaque_actor_echo = false;
  // What listings say their total is: the truth, half of it, or nothing (servers and proxies
  // seen to do both; PlexSync must read to the end either way).
  enum class ListingTotal { exact, under, missing } listing_total = ListingTotal::exact;
  // Whether GET /library/metadata/k1,k2,... answers complete items is unverified (python-plexapi
  // treats such results as partial): by default each item's tag lists are cut at
  // listing_tag_limit, as listings cut them. Off: as complete as a single read.
  bool partial_batched_reads = true;
  // PMS's notification feed (GET /:/websockets/notifications upgraded to a WebSocket, the token
  // checked like any request). Off: answered 404 as by a PMS or a proxy that offers none.
  bool notifications = true;
};

// A server that can be overloaded, to measure PlexSync's pacing against (issue #15): capacity
// requests are served at once, the rest wait their turn in a queue (so latency climbs with the
// load), a busy server also serves each request more slowly (service_ms * in_system / capacity:
// threads and the database contend), and with max_queue requests already waiting PMS answers 503
// with Retry-After at once. capacity 0: no load model (only the fixed --latency-ms, if any).
struct LoadModel {
  int capacity = 0;
  int service_ms = 5;
  int max_queue = -1; // -1: as many as capacity
  int retry_after_s = 1;
};
// What the load model saw since it was last reset: answers served and overload 503s, and the
// latency the served requests had inside plexsim (p50, p99, max), for the bench.
struct LoadReport {
  int64_t served = 0;
  int64_t overloaded = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
  int max_in_flight = 0;
};

class PlexSim {
public:
  explicit PlexSim(Options options = {});

  // {"sections": [...], "items": [...]} (see tools/plex-sim/README.md).
  void load(const nlohmann::json& library);
  // A generated library: n items over nested folders with duplicate basenames, unicode, spaces.
  // Deterministic, and mirrored by StashSim::generate (scene i+1 has item 10000+i's file).
  // pull_library: every other file (items 20000+i for odd i) in a section "Adult (pull)" (key 3).
  void generate(int n, bool pull_library = false);

  net::ServerResponse handle(const net::ServerRequest& req);

  // A server with a shorter request-line limit than PlexSync assumes (PMS documents none).
  void set_max_url_bytes(size_t n) { options_.max_url_bytes = n; }
  void set_opaque_actor_echo(bool on) { options_.opaque_actor_echo = on; }
  void set_listing_total(Options::ListingTotal how) {
    std::lock_guard lock(mutex_);
    options_.listing_total = how;
  }
  void set_version(const std::string& version) {
    std::lock_guard lock(mutex_);
    options_.version = version;
  }
  void set_token(const std::string& token) {
    std::lock_guard lock(mutex_);
    options_.token = token;
  }
  // Plex forgets the item and finds its file again under a new ratingKey (file removed and
  // re-added). Returns the new key, or "" when rk is unknown.
  std::string rekey(const std::string& rating_key);
  // A file put into a library folder: an item invisible until a scan of its folder. Returns its key.
  std::string add_file(const std::string& section_key, const std::string& file, int64_t size, int64_t duration_ms);
  // A file PMS found by itself (its own scanner, a folder watch): listed at once, and announced
  // on the notification feed as PMS does (timeline entries "created" then "processed").
  std::string publish_file(const std::string& section_key, const std::string& file, int64_t size, int64_t duration_ms);
  void set_notifications(bool offered);
  int notification_listeners(); // WebSockets open now
  sim::FaultTable& faults() { return faults_; }
  void set_load_model(const LoadModel& model);
  LoadReport load_report();
  void reset_load_report();
  // Most requests that were being answered at the same moment since the last reset.
  int max_in_flight() const { return max_in_flight_; }
  void reset_in_flight() { max_in_flight_ = in_flight_.load(); }
  sim::RequestLog& requests() { return log_; }
  // The item as GET /library/metadata/{rk} would render it in JSON (null when unknown).
  nlohmann::json item_json(const std::string& rating_key);
  size_t item_count();
  std::vector<std::string> scanned_paths();
  // Full state as a seed file (round-trips through load()).
  nlohmann::json dump();
  ~PlexSim();
  PlexSim(const PlexSim&) = delete;
  PlexSim& operator=(const PlexSim&) = delete;
  PlexSim(PlexSim&&) = delete;
  PlexSim& operator=(PlexSim&&) = delete;

  // Custom metadata providers (plexsim_agents.cpp).
  void set_agent_options(const AgentOptions& options);
  std::vector<ProviderCall> provider_calls();
  std::vector<MetadataProvider> providers(); // the custom ones
  std::vector<AgentGroup> agent_groups();
  // PMS restarting: every custom provider's root fetched again, online only if it answered.
  void restart_pms();
  // Scans and refreshes on custom agents run in the background, as in PMS: true when none runs.
  bool agent_idle() const { return agent_jobs_ == 0; }
  // What Plex's apps would be handed for an item that they cannot use or must not see: an image URL
  // on a LAN-only host (Plex's cloud image proxy cannot reach it) or one carrying a secret (a
  // provider's /p/<token> path, a token or API key in the query). Empty when the item is clean.
  std::vector<std::string> client_view_problems(const std::string& rating_key);
  // The selected poster (posters) or background (arts) of an item; nullopt when none is.
  std::optional<Image> selected_image(const std::string& rating_key, bool poster);
  // A person's edit in Plex's UI: sets the field and locks it.
  void edit_as_user(const std::string& rating_key, const std::string& field, const std::string& value);

  // People's activity (plexsim_activity.cpp, issue #27). The owner is account 1, "owner".
  int64_t add_account(const std::string& name); // returns its id (also its plex.tv id)
  std::vector<Account> accounts();
  // A play by an account at viewed_at (Unix s): finished, a history entry and a scrobble (viewCount
  // up, resume point cleared); else only the resume point (offset_ms) and a stop. Delivers the
  // webhooks a real server would (media.stop, then media.scrobble), when a URL is set.
  void play(const std::string& rating_key, int64_t account_id, int64_t viewed_at, bool finished = true,
            int64_t offset_ms = 0);
  // A rating set (nullopt: cleared) by an account in a Plex app at `at`; delivers media.rate.
  void rate_as(const std::string& rating_key, int64_t account_id, std::optional<double> rating, int64_t at);
  std::vector<HistoryRow> history();
  // Plex's webhooks (Plex Pass): every event is POSTed to this URL, multipart as PMS sends it.
  void set_webhook_url(const std::string& url);
  int webhooks_delivered() const { return webhooks_delivered_; }
  // Ratings written to items by edits (PlexSync's push) since the start.
  int rating_edits() const { return rating_edits_; }

  // Collections (plexsim_collections.cpp, issue #28): one by title in a section, every title, and
  // one a person made in Plex (empty).
  std::optional<CollectionView> collection(const std::string& section_key, const std::string& title);
  std::vector<std::string> collection_titles(const std::string& section_key);
  void add_collection(const std::string& section_key, const std::string& title);

private:
  net::ServerResponse route(const net::ServerRequest& req, bool json);
  // /accounts, the play history and /library/all (with mutex_ held); nullopt: not one of them.
  std::optional<net::ServerResponse> activity_route(const net::ServerRequest& req, bool json);
  // The webhook payload for an event on an item by an account (with mutex_ held).
  nlohmann::json webhook_payload(const std::string& event, const Item& item, int64_t account_id) const;
  void deliver_webhooks(const std::vector<nlohmann::json>& payloads); // without mutex_
  AccountView view_of(const Item& item, int64_t account_id) const;
  // Provider and agent routes, scans and refreshes of custom-agent sections; nullopt: not one.
  std::optional<net::ServerResponse> agent_route(const net::ServerRequest& req, bool json);
  // Match (when asked or needed) and fetch one item from its section's provider; no lock held.
  void agent_refresh(const std::string& rating_key, bool force_match, const std::string& bind_guid = "");
  nlohmann::json call_provider(const MetadataProvider& provider, const std::string& method, const std::string& path,
                               const std::string& body, int* status);
  void fetch_image(const std::string& url);
  void run_agent_job(std::function<void()> job);
  std::optional<MetadataProvider> provider_for_section(const std::string& section_key);
  // The agent's providers after its primary, in order (none without an agent group).
  std::vector<MetadataProvider> contributors_for_section(const std::string& section_key);
  net::ServerResponse edit(const std::vector<std::pair<std::string, std::string>>& params,
                           const std::vector<Item*>& targets);
  // Collections, with mutex_ held: made for an item's new collection tags, listed for a section,
  // and their own routes (delete, poster upload; nullopt: not one of them).
  void note_collections(const Item& item);
  int64_t collection_size(const Collection& c) const;
  nlohmann::json collection_listing(const std::string& section_key);
  std::optional<net::ServerResponse> collection_route(const net::ServerRequest& req);
  nlohmann::json render_item(const Item& item, bool full) const;
  net::ServerResponse container(const nlohmann::json& mc, bool json, const char* item_element = "Video");
  void surface_scanned_items(int64_t now_ms);
  int64_t tag_id(const std::string& type, const std::string& name);
  Item* find_item(const std::string& rk);
  int64_t next_epoch();
  std::string current_token();
  // Queues a NotificationContainer for every open feed (call with or without mutex_).
  void notify(const nlohmann::json& container);
  void notify_item(const Item& item, int state, const char* metadata_state);
  net::ServerResponse notification_feed();

  struct Listener {
    std::mutex mutex;
    std::condition_variable ready;
    std::deque<std::string> messages;
  };
  std::mutex listeners_mutex_;
  std::vector<std::shared_ptr<Listener>> listeners_;

  Options options_;
  std::mutex mutex_;
  std::vector<Section> sections_;
  std::map<std::string, std::unique_ptr<Item>> items_; // by ratingKey
  std::map<std::string, int64_t> tag_ids_;             // "type\x1fname(lower)" -> id
  std::map<std::string, Collection> collections_;      // by ratingKey
  int64_t next_tag_id_ = 5000;
  int64_t next_rating_key_ = 100000;
  // Collections take keys of their own range (PMS shares one): tests count item requests by prefix.
  int64_t next_collection_key_ = 900000;
  int64_t last_epoch_ = 0;
  std::vector<std::pair<std::string, int64_t>> scans_; // (path, visible at ms)
  std::vector<std::string> scanned_paths_;
  sim::FaultTable faults_;
  sim::RequestLog log_;
  std::atomic<int> in_flight_{0};
  std::atomic<int> max_in_flight_{0};
  std::mutex load_mutex_; // guards the five below
  std::condition_variable slot_freed_;
  int serving_ = 0;
  int waiting_ = 0;
  LoadModel load_;
  std::vector<double> served_ms_;
  int64_t overloaded_ = 0;
  // Custom metadata providers: guarded by mutex_ (options, providers, groups) and calls_mutex_.
  AgentOptions agent_options_;
  std::vector<MetadataProvider> providers_ = builtin_providers();
  std::vector<AgentGroup> groups_;
  int64_t next_provider_id_ = 10;
  static std::vector<MetadataProvider> builtin_providers();
  // GET {uri}?includePreferences=1 as PMS loads a provider: the root, or an error text.
  std::string load_provider(MetadataProvider& p);
  std::mutex calls_mutex_;
  std::vector<ProviderCall> calls_;
  std::atomic<int> agent_jobs_{0};
  std::mutex jobs_mutex_;
  std::vector<std::thread> jobs_;
  // Activity: guarded by mutex_.
  std::vector<Account> accounts_ = {{1, "owner", 7000001}};
  std::vector<HistoryRow> history_;
  int64_t next_history_id_ = 1;
  std::map<std::pair<int64_t, std::string>, AccountView> views_; // (account, ratingKey), not the owner
  std::string webhook_url_;
  std::atomic<int> webhooks_delivered_{0};
  std::atomic<int> rating_edits_{0};
};

// An account's view state as Metadata fields (items, webhook payloads).
void add_view_fields(nlohmann::json& metadata, const AccountView& view);

// JSON MediaContainer -> PMS-style XML (attributes as strings, booleans 1/0).
std::string to_xml(const nlohmann::json& media_container, const std::string& item_element);

} // namespace plexsim
