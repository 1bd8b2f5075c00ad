// Every plugin setting, declared once. Loading, validation, the manifest's settings: block and
// the settings reference all walk k_settings_table.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace config {

// Stash's Settings page shows a BOOLEAN never saved as unchecked and a NUMBER never saved as 0,
// and a plugin cannot declare defaults. So every BOOLEAN is off by default (what is on by default
// has a negative name) and a NUMBER of 0 means its default: all-false-and-zero is a fresh install.
struct Settings {
  std::string plex_url;
  std::string plex_token;
  std::string plex_library; // comma-separated section titles; empty = all movie sections
  bool pause_syncing = false;
  int connect_timeout = 5; // seconds
  int read_timeout = 30;   // seconds
  int max_retries = 8;
  bool accept_uncertain_matches = false;
  bool preserve_plex_edits = false;
  std::string path_map; // "STASH=>PLEX;..."
  bool skip_title = false;
  bool skip_summary = false;
  bool skip_studio = false;
  bool skip_date = false;
  bool skip_genres = false;
  bool skip_actors = false;
  std::string stash_url_for_plex; // Stash's address as Plex reaches it; empty = no actor photos
  bool skip_performer_photos = false;
  bool skip_rating = false;
  bool skip_poster = false;
  bool skip_collections = false;
  bool collection_parent_studio = false;
  bool collection_groups = false;
  std::string collection_prefix;
  std::string collections;              // collection rules (config/shelf_rules.hpp); empty = from the booleans above
  std::string genre_include;            // tag globs or parent:NAME, ';'-separated; empty = every tag
  std::string genre_exclude;            // the same; wins over genre_include
  bool skip_collection_posters = false; // else: collections PlexSync creates get their source's image
  std::string title_template;           // e.g. "{date} {title|filename}"; empty = the scene title as it is
  std::string sort_title_template;      // Plex's sort title; empty = Plex's own
  std::string tagline_source = "none";  // none | code | director | url
  std::string content_rating;           // e.g. XXX; empty = leave Plex's
  std::string tag_mode = "replace";     // replace | merge
  int max_tags = 50;
  int match_min_score = 75;    // percent; weaker matches are uncertain
  bool skip_plex_scan = false; // else: ask Plex to scan a scene's folder when it has no item for it
  bool skip_not_found = false; // Plex library is a deliberate subset: skip quietly instead
  bool debug_logging = false;
  bool obfuscate_paths = false;
  std::string delete_action = "none";      // what a scene deleted in Stash does in Plex: none | scan
  std::string poster_shape = "screenshot"; // screenshot | crop | letterbox (image/poster.hpp)
  bool poster_from_group = false;          // a scene in a group: the group's front cover as poster
  bool plex_skip_tls_verify = false;
  std::string plex_ca_file;
  std::string stash_api_key;
  std::string stash_url; // outside Stash only: where the worker and the CLI find it
  int worker_idle_seconds = 30;
  int retry_base_seconds = 2;       // first retry delay ceiling (full jitter below it)
  int retry_cap_seconds = 900;      // longest retry delay
  int breaker_threshold = 5;        // consecutive transient failures that open the breaker
  int plex_requests_per_second = 0; // a fixed ceiling on the request rate to Plex; 0 = none (adaptive)
  int plex_concurrency = 0;         // a ceiling on requests in flight to Plex; 0 = adaptive, up to 8
  int poll_interval_seconds = 60;   // late-update poll of Stash while the worker runs; -1 = off
  int reconcile_interval_hours = 0; // full reconciliation by the running worker; 0 = off
  // The metadata provider (pull mode, specs/plex-metadata-provider.md). Off unless enabled.
  bool provider_enabled = false;
  std::string provider_listen = "127.0.0.1:9787";
  std::string provider_public_url; // base URL PMS reaches PlexSync on; empty = each request's Host
  std::string provider_allow = "private";
  bool provider_skip_token = false; // serve without the secret path segment
  std::string provider_identifier_suffix;
  std::string provider_title = "PlexSync (Stash)";
  bool provider_skip_adult_flag = false;
  bool provider_skip_external_guids = false;
  int provider_stash_timeout = 5;    // seconds per Stash call made while answering PMS
  int provider_image_cache_mb = 256; // -1 = no cache
  bool provider_record_requests = false;
  bool skip_refresh_on_change = false;     // pull libraries: no refresh when a scene changes
  bool skip_bind_unmatched = false;        // pull libraries: items PMS left unmatched are not bound
  bool provider_skip_image_upload = false; // pull libraries: covers are not uploaded into PMS
  // Plex -> Stash (issue #27): plays, resume points and ratings made in Plex reach Stash.
  bool plex_to_stash = false;
  std::string plex_to_stash_accounts;  // other Plex accounts (home users) by name; the owner always counts
  int plex_history_poll_seconds = 300; // -1 = no polling (webhooks only)
  // Not settings: set by validation when `collections` or a genre filter does not parse. Until it
  // is fixed that list is left as Plex has it, neither written from the booleans nor emptied.
  bool hold_collections = false;
  bool hold_genres = false;
};

enum class SettingType { string, number, boolean };

struct SettingSpec {
  const char* key;
  const char* display_name;
  SettingType type;
  std::variant<std::string Settings::*, int Settings::*, bool Settings::*> member;
  int min = 0; // numbers only; 0 is always accepted and means the default
  int max = 0;
  bool required = false;
  bool secret = false;
  const char* description;
  const char* zero_means = nullptr; // numbers whose default is 0: what 0 does ("never" if unset)
};

std::span<const SettingSpec> settings_table();

// Keys PlexSync 0.1 read, whose unset state Stash showed wrongly; each names its replacement.
struct RetiredSetting {
  const char* key;
  const char* replacement;
};
std::span<const RetiredSetting> retired_settings();

// Why an address cannot be given to Plex for Stash's images ("" = it can): loopback and
// unspecified addresses resolve on Plex's own machine or container; a query or user name would
// hand Plex a credential.
std::string check_stash_url_for_plex(const std::string& value);

// provider_listen: an IP address (v6 may be bracketed) and a port 1-65535.
struct Listen {
  std::string host;
  uint16_t port = 0;
};
std::optional<Listen> parse_listen(const std::string& text);

// The settings that decide what is written to Plex (titles and their templates, which fields,
// collections, posters), as one text: when it differs from the one the last "Sync all scenes"
// recorded, that task queues every scene again, not only those changed in Stash (issue #28).
std::string shaping_fingerprint(const Settings& s);

struct Problem {
  std::string key;
  std::string message; // names the key, the value and the fix
  bool fatal = false;  // required setting missing or unusable: syncing stops, queueing goes on
};

struct LoadResult {
  Settings settings;
  std::vector<Problem> problems;
  [[nodiscard]] bool usable() const;
};

// plugin_map: the object Stash returns under configuration.plugins.PlexSync (may be null).
LoadResult load_settings(const nlohmann::json& plugin_map);

// Settings given outside Stash (service mode, the operator CLI): the JSON object in the file named
// by $PLEXSYNC_CONFIG, then PLEXSYNC_<KEY> environment variables (PLEXSYNC_PLEX_URL, ...), each
// over what came before. source says where each key came from ("Stash", "file ...", "env ...").
struct LocalOverlay {
  std::map<std::string, std::string> source;
  std::vector<Problem> problems; // an unreadable or malformed file (fatal: better stop than guess)
};
LocalOverlay overlay_local(const nlohmann::json& stash_map, nlohmann::json& merged);

// What every reader of settings uses: Stash's plugin settings with the local overlay applied;
// sources, when given, receives where each key came from.
LoadResult load_effective_settings(const nlohmann::json& stash_map,
                                   std::map<std::string, std::string>* sources = nullptr);

} // namespace config
