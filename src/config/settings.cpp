#include "config/settings.hpp"

#include <array>
#include <cmath>
#include <cstdlib>
#include <fstream>

#include <nlohmann/json.hpp>

#include "config/shelf_rules.hpp"
#include "config/title_template.hpp"
#include "net/http.hpp"
#include "util/log.hpp"
#include "util/path.hpp"
#include "util/process.hpp"
#include "util/strings.hpp"
#include "util/url_secrets.hpp"

namespace config {
namespace {

using S = Settings;

// Order is the order shown in Stash's settings form. A NUMBER's description ends with what 0
// means (render_manifest adds it); a BOOLEAN is off unless checked.
const std::array k_table{
    SettingSpec{"plex_url", "Plex URL", SettingType::string, &S::plex_url, 0, 0, true, false,
                "Address of Plex Media Server, e.g. http://192.168.1.20:32400 (https://192-168-1-20.<hash>.plex.direct"
                ":32400 and https://192.168.1.20:32400 work with Plex's own certificate)"},
    SettingSpec{"plex_token", "Plex token", SettingType::string, &S::plex_token, 0, 0, true, true,
                "X-Plex-Token of the server owner (sent only in a header, never logged)"},
    SettingSpec{"plex_library", "Plex libraries", SettingType::string, &S::plex_library, 0, 0, false, false,
                "Comma-separated Plex library titles to sync into; empty = every movie library"},
    SettingSpec{"pause_syncing", "Pause syncing", SettingType::boolean, &S::pause_syncing, 0, 0, false, false,
                "Checked: nothing reaches Plex and tasks do nothing; edits made meanwhile stay queued and are "
                "synced by the first hook after unchecking it"},
    SettingSpec{"connect_timeout", "Connect timeout (s)", SettingType::number, &S::connect_timeout, 1, 300, false,
                false, "Seconds to wait for a connection to Plex"},
    SettingSpec{"read_timeout", "Read timeout (s)", SettingType::number, &S::read_timeout, 1, 600, false, false,
                "Seconds Plex may stay silent while answering"},
    SettingSpec{"max_retries", "Max retries", SettingType::number, &S::max_retries, 1, 100, false, false,
                "Retries of a transient failure before a job goes to dead letters"},
    SettingSpec{"accept_uncertain_matches", "Accept uncertain matches", SettingType::boolean,
                &S::accept_uncertain_matches, 0, 0, false, false,
                "Checked: write to the best Plex match even when it is uncertain; unchecked: hold it for review"},
    SettingSpec{"preserve_plex_edits", "Preserve Plex edits", SettingType::boolean, &S::preserve_plex_edits, 0, 0,
                false, false, "Checked: only fill fields that are empty in Plex"},
    SettingSpec{"path_map", "Path mapping", SettingType::string, &S::path_map, 0, 0, false, false,
                "STASH_PREFIX=>PLEX_PREFIX rules separated by ';', e.g. /data=>/media"},
    SettingSpec{"skip_title", "Skip title", SettingType::boolean, &S::skip_title, 0, 0, false, false,
                "Checked: leave Plex's title alone"},
    SettingSpec{"skip_summary", "Skip details", SettingType::boolean, &S::skip_summary, 0, 0, false, false,
                "Checked: do not write the scene details as the Plex summary"},
    SettingSpec{"skip_studio", "Skip studio", SettingType::boolean, &S::skip_studio, 0, 0, false, false,
                "Checked: do not write the studio name"},
    SettingSpec{"skip_date", "Skip date", SettingType::boolean, &S::skip_date, 0, 0, false, false,
                "Checked: do not write the scene date as Plex's originally available date"},
    SettingSpec{"skip_genres", "Skip tags", SettingType::boolean, &S::skip_genres, 0, 0, false, false,
                "Checked: do not write Stash tags as Plex genres"},
    SettingSpec{"skip_actors", "Skip performers", SettingType::boolean, &S::skip_actors, 0, 0, false, false,
                "Checked: do not write Stash performers as Plex actors"},
    SettingSpec{"stash_url_for_plex", "Stash address for Plex", SettingType::string, &S::stash_url_for_plex, 0, 0,
                false, false,
                "Stash's address as the Plex server reaches it (e.g. http://192.168.1.10:9999), for performer photos; "
                "empty = no photos are sent (Plex cannot fetch from Stash's own loopback address)"},
    SettingSpec{"skip_performer_photos", "Skip performer photos", SettingType::boolean, &S::skip_performer_photos, 0, 0,
                false, false, "Checked: never give Plex actors the performer image, even with a Stash address"},
    SettingSpec{"skip_rating", "Skip rating", SettingType::boolean, &S::skip_rating, 0, 0, false, false,
                "Checked: do not write the Stash rating (0-100) as the Plex user rating (0-10)"},
    SettingSpec{"skip_poster", "Skip cover", SettingType::boolean, &S::skip_poster, 0, 0, false, false,
                "Checked: do not upload the scene cover as the Plex poster"},
    SettingSpec{"skip_collections", "Skip collections", SettingType::boolean, &S::skip_collections, 0, 0, false, false,
                "Checked: put items into no Plex collection (studio, parent studio, groups)"},
    SettingSpec{"collection_parent_studio", "Parent studio as collection", SettingType::boolean,
                &S::collection_parent_studio, 0, 0, false, false,
                "Checked: also add a collection for the parent studio"},
    SettingSpec{"collection_groups", "Groups as collections", SettingType::boolean, &S::collection_groups, 0, 0, false,
                false, "Checked: also add a collection for each Stash group (movie) the scene belongs to"},
    SettingSpec{"title_template", "Title template", SettingType::string, &S::title_template, 0, 0, false, false,
                "Plex title built from scene fields, e.g. '{date} {studio} - {title|filename}': {title} {code} "
                "{date} {year} {studio} {parent_studio} {performers} {group} {group_index} {filename}, '|' for a "
                "fallback; empty = the scene title"},
    SettingSpec{"sort_title_template", "Sort title template", SettingType::string, &S::sort_title_template, 0, 0, false,
                false, "Plex sort title from the same fields, e.g. '{studio} {date}'; empty = Plex's own"},
    SettingSpec{"collection_prefix", "Collection prefix", SettingType::string, &S::collection_prefix, 0, 0, false,
                false, "Text put before every collection name PlexSync writes, e.g. 'Studio: '"},
    SettingSpec{"collections", "Collection rules", SettingType::string, &S::collections, 0, 0, false, false,
                "Which Plex collections a scene joins, rules separated by ';', e.g. 'studio => Studio: {name}; "
                "tag:Series/*; performer:favorite => ★ {name}'. Sources: studio, parent_studio, group, tag:GLOB, "
                "tag_parent:NAME, performer:all, performer:favorite, organized:NAME; empty = the boxes above"},
    SettingSpec{"skip_collection_posters", "Skip collection posters", SettingType::boolean, &S::skip_collection_posters,
                0, 0, false, false,
                "Checked: collections PlexSync creates get no poster (else the studio, group, performer or tag image "
                "from Stash, uploaded once)"},
    SettingSpec{"genre_include", "Tags as genres", SettingType::string, &S::genre_include, 0, 0, false, false,
                "Only these Stash tags become Plex genres: names or globs separated by ';' (e.g. 'Series/*; "
                "parent:Positions' for a tag and the tags under it); empty = every tag"},
    SettingSpec{"genre_exclude", "Tags never genres", SettingType::string, &S::genre_exclude, 0, 0, false, false,
                "Stash tags that never become Plex genres, in the same form (e.g. 'parent:Technical; *fps'); wins "
                "over the include list"},
    SettingSpec{"tagline_source", "Tagline from", SettingType::string, &S::tagline_source, 0, 0, false, false,
                "none, code (studio code), director or url (first scene URL); empty = none"},
    SettingSpec{"content_rating", "Content rating", SettingType::string, &S::content_rating, 0, 0, false, false,
                "Content rating written on every synced item, e.g. XXX; empty = leave Plex's"},
    SettingSpec{"tag_mode", "Tag list mode", SettingType::string, &S::tag_mode, 0, 0, false, false,
                "replace (empty): Plex genres, actors and collections follow Stash exactly; merge: only add"},
    SettingSpec{"max_tags", "Max tags per list", SettingType::number, &S::max_tags, 1, 500, false, false,
                "Longest genre or actor list written; longer lists are cut with a warning"},
    SettingSpec{"match_min_score", "Minimum match score (%)", SettingType::number, &S::match_min_score, 1, 100, false,
                false,
                "Matches scoring below this are uncertain (100 = exact path, 90 = name and size, 60 = name only)"},
    SettingSpec{"skip_plex_scan", "Skip Plex scans", SettingType::boolean, &S::skip_plex_scan, 0, 0, false, false,
                "Checked: never ask Plex to scan a scene's folder when it has no item for the scene"},
    SettingSpec{"skip_not_found", "Skip scenes not in Plex", SettingType::boolean, &S::skip_not_found, 0, 0, false,
                false, "Checked: for Plex libraries that hold only part of Stash, skip scenes Plex lacks"},
    SettingSpec{"debug_logging", "Debug logging", SettingType::boolean, &S::debug_logging, 0, 0, false, false,
                "Checked: log each step at info level so Stash shows it"},
    SettingSpec{"obfuscate_paths", "Obfuscate paths in logs", SettingType::boolean, &S::obfuscate_paths, 0, 0, false,
                false, "Checked: show file paths in logs as stable stand-ins like <file:9c1e04aa.mp4>"},
    SettingSpec{"poster_shape", "Poster shape", SettingType::string, &S::poster_shape, 0, 0, false, false,
                "screenshot (empty): Stash's cover as it is; crop: its middle at 2:3, the portrait shape of Movies "
                "libraries; letterbox: the whole cover at 2:3 over a blurred copy of itself"},
    SettingSpec{"poster_from_group", "Poster from the group's cover", SettingType::boolean, &S::poster_from_group, 0, 0,
                false, false,
                "Checked: a scene in a Stash group gets the group's front cover (already portrait) as its Plex "
                "poster; scenes without one keep their own cover, shaped by poster_shape"},
    SettingSpec{"delete_action", "When a scene is deleted", SettingType::string, &S::delete_action, 0, 0, false, false,
                "none (empty): leave Plex alone; scan: ask Plex to rescan the deleted file's folder"},
    SettingSpec{"plex_skip_tls_verify", "Skip Plex certificate check", SettingType::boolean, &S::plex_skip_tls_verify,
                0, 0, false, false,
                "Checked: accept any certificate on https:// Plex URLs (only on a network you trust)"},
    SettingSpec{"plex_ca_file", "Plex CA file", SettingType::string, &S::plex_ca_file, 0, 0, false, false,
                "PEM file of the CA that signed the Plex certificate (default: system bundle)"},
    SettingSpec{"stash_api_key", "Stash API key", SettingType::string, &S::stash_api_key, 0, 0, false, true,
                "Rarely needed: PlexSync reads Stash's key with the session Stash gives it"},
    SettingSpec{"stash_url", "Stash URL (outside Stash)", SettingType::string, &S::stash_url, 0, 0, false, false,
                "For the worker and CLI run outside Stash (service mode); plugins leave it empty, Stash says where "
                "it is"},
    SettingSpec{"worker_idle_seconds", "Worker idle exit (s)", SettingType::number, &S::worker_idle_seconds, 1, 3600,
                false, false, "Seconds the background worker waits for new work before exiting"},
    SettingSpec{"retry_base_seconds", "Retry base delay (s)", SettingType::number, &S::retry_base_seconds, 1, 600,
                false, false, "First retry waits up to this long; each further retry doubles it (with jitter)"},
    SettingSpec{"retry_cap_seconds", "Retry max delay (s)", SettingType::number, &S::retry_cap_seconds, 1, 86400, false,
                false, "Longest wait between two retries of a job"},
    SettingSpec{"breaker_threshold", "Failures before pausing", SettingType::number, &S::breaker_threshold, 1, 100,
                false, false,
                "Consecutive failures reaching Plex after which PlexSync pauses and probes until Plex is back"},
    SettingSpec{"plex_requests_per_second", "Plex requests per second (max)", SettingType::number,
                &S::plex_requests_per_second, 1, 1000, false, false,
                "Optional ceiling on the request rate towards Plex; PlexSync already slows down when Plex does",
                "no fixed ceiling"},
    SettingSpec{"plex_concurrency", "Parallel Plex requests (max)", SettingType::number, &S::plex_concurrency, 1, 8,
                false, false,
                "Optional ceiling on requests in flight towards Plex; by default PlexSync learns what Plex sustains",
                "adaptive, up to 8"},
    SettingSpec{"poll_interval_seconds", "Late-update poll (s)", SettingType::number, &S::poll_interval_seconds, -1,
                86400, false, false,
                "How often the running worker asks Stash for scenes changed without a hook (merges, auto-tag); -1 = "
                "never"},
    SettingSpec{"reconcile_interval_hours", "Reconcile every (h)", SettingType::number, &S::reconcile_interval_hours, 1,
                8760, false, false,
                "How often a running worker compares all of Stash with Plex, as the Reconcile all task does"},
    SettingSpec{"provider_enabled", "Metadata provider (pull mode)", SettingType::boolean, &S::provider_enabled, 0, 0,
                false, false,
                "Checked: the running worker serves Plex a custom metadata provider (Plex Media Server 1.43+), so a "
                "library on the PlexSync agent pulls its metadata from Stash; see 'plexsync provider url'"},
    SettingSpec{"provider_listen", "Provider listens on", SettingType::string, &S::provider_listen, 0, 0, false, false,
                "host:port of the provider; empty = 127.0.0.1:9787 (this machine only); 0.0.0.0:9787 for Plex in "
                "another container or machine"},
    SettingSpec{"provider_public_url", "Provider address for Plex", SettingType::string, &S::provider_public_url, 0, 0,
                false, false,
                "The address Plex reaches PlexSync on, e.g. http://stash:9787; empty = the address Plex called"},
    SettingSpec{"provider_allow", "Provider allowed sources", SettingType::string, &S::provider_allow, 0, 0, false,
                false,
                "Addresses that may call the provider: IPs or CIDR ranges separated by commas, 'private' (empty: "
                "loopback and private networks) or 'any'"},
    SettingSpec{"provider_skip_token", "Provider without secret path", SettingType::boolean, &S::provider_skip_token, 0,
                0, false, false,
                "Checked: serve the provider without its secret path segment (anyone allowed above can read the "
                "library)"},
    SettingSpec{"provider_identifier_suffix", "Provider identifier suffix", SettingType::string,
                &S::provider_identifier_suffix, 0, 0, false, false,
                "Letters, digits and periods added to the provider identifier, for a second Stash on the same Plex"},
    SettingSpec{"provider_title", "Provider title", SettingType::string, &S::provider_title, 0, 0, false, false,
                "Name Plex shows for the provider; empty = PlexSync (Stash)"},
    SettingSpec{"provider_skip_adult_flag", "Provider: no adult flag", SettingType::boolean,
                &S::provider_skip_adult_flag, 0, 0, false, false, "Checked: do not mark items isAdult for Plex"},
    SettingSpec{"provider_skip_external_guids", "Provider: no stash-box ids", SettingType::boolean,
                &S::provider_skip_external_guids, 0, 0, false, false,
                "Checked: do not send StashDB and other stash-box ids as external ids"},
    SettingSpec{"provider_stash_timeout", "Provider Stash timeout (s)", SettingType::number, &S::provider_stash_timeout,
                1, 60, false, false,
                "Seconds a Stash call made while answering Plex may take (images, a scene not yet stored)"},
    SettingSpec{"provider_image_cache_mb", "Provider image cache (MiB)", SettingType::number,
                &S::provider_image_cache_mb, -1, 65536, false, false,
                "Disk space for images proxied from Stash to Plex; -1 = no cache", "256 MiB"},
    SettingSpec{"provider_record_requests", "Record Plex's provider requests", SettingType::boolean,
                &S::provider_record_requests, 0, 0, false, false,
                "Checked: append every request Plex sends the provider (secrets masked) to provider-requests.jsonl, "
                "for bug reports"},
    SettingSpec{"skip_refresh_on_change", "Pull: no refresh on change", SettingType::boolean,
                &S::skip_refresh_on_change, 0, 0, false, false,
                "Checked: in Plex libraries on the PlexSync agent, a changed scene is not refreshed in Plex (only "
                "collections and the rating are pushed)"},
    SettingSpec{"skip_bind_unmatched", "Pull: leave unmatched items alone", SettingType::boolean,
                &S::skip_bind_unmatched, 0, 0, false, false,
                "Checked: items Plex could not match in a PlexSync-agent library are not bound to their scene by "
                "PlexSync's own path matching (they wait for Fix Match in Plex)"},
    SettingSpec{"provider_skip_image_upload", "Pull: no poster uploads", SettingType::boolean,
                &S::provider_skip_image_upload, 0, 0, false, false,
                "Checked: in PlexSync-agent libraries the cover is not uploaded into Plex as poster and background; "
                "only for a provider address Plex's image proxy can reach (a public provider_public_url)"},
    SettingSpec{"plex_to_stash", "Plex -> Stash: plays, resume, ratings", SettingType::boolean, &S::plex_to_stash, 0, 0,
                false, false,
                "Checked: what you watch and rate in Plex comes back to Stash (play history, resume point, rating); "
                "the running worker polls Plex and takes Plex's webhooks ('plexsync webhook url')"},
    SettingSpec{"plex_to_stash_accounts", "Plex -> Stash: other accounts", SettingType::string,
                &S::plex_to_stash_accounts, 0, 0, false, false,
                "Plex account names (home users) whose plays and ratings also count, separated by commas; empty = "
                "the server owner only"},
    SettingSpec{"plex_history_poll_seconds", "Plex -> Stash: poll every (s)", SettingType::number,
                &S::plex_history_poll_seconds, -1, 86400, false, false,
                "How often the worker asks Plex for new plays and ratings; -1 = never (webhooks only)"},
};

const std::array k_retired{
    RetiredSetting{"enabled", "pause_syncing"},
    RetiredSetting{"strict_matching", "accept_uncertain_matches"},
    RetiredSetting{"sync_title", "skip_title"},
    RetiredSetting{"sync_summary", "skip_summary"},
    RetiredSetting{"sync_studio", "skip_studio"},
    RetiredSetting{"sync_date", "skip_date"},
    RetiredSetting{"sync_genres", "skip_genres"},
    RetiredSetting{"sync_actors", "skip_actors"},
    RetiredSetting{"sync_actor_photos", "stash_url_for_plex and skip_performer_photos"},
    RetiredSetting{"sync_rating", "skip_rating"},
    RetiredSetting{"sync_poster", "skip_poster"},
    RetiredSetting{"sync_collections", "skip_collections"},
    RetiredSetting{"trigger_plex_scan", "skip_plex_scan"},
    RetiredSetting{"plex_verify_tls", "plex_skip_tls_verify"},
};

std::string quoted(const nlohmann::json& value) {
  if (!value.is_string()) {
    return value.dump();
  }
  // Appended piecewise: GCC 12 -O3 misreports "literal" + std::string (-Wstringop-overflow).
  std::string out(1, '"');
  out += value.get_ref<const std::string&>();
  out += '"';
  return out;
}

// Stash stores NUMBER as integers and BOOLEAN as bools; older configs hold strings.
bool read_bool(const nlohmann::json& v, bool& out) {
  if (v.is_boolean()) {
    out = v.get<bool>();
    return true;
  }
  if (v.is_number_integer() && (v.get<int64_t>() == 0 || v.get<int64_t>() == 1)) {
    out = v.get<int64_t>() == 1;
    return true;
  }
  if (v.is_string()) {
    const auto s = util::to_lower(util::trim(v.get<std::string>()));
    if (s == "true" || s == "1" || s == "yes" || s == "on") {
      out = true;
      return true;
    }
    if (s == "false" || s == "0" || s == "no" || s == "off") {
      out = false;
      return true;
    }
  }
  return false;
}

bool read_int(const nlohmann::json& v, int64_t& out) {
  if (v.is_number_integer()) {
    out = v.get<int64_t>();
    return true;
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::floor(d) == d && std::abs(d) < 1e12) {
      out = static_cast<int64_t>(d);
      return true;
    }
    return false;
  }
  if (v.is_string()) {
    const auto s = util::trim(v.get<std::string>());
    if (s.empty() || s.size() > 12) {
      return false;
    }
    size_t used = 0;
    try {
      out = std::stoll(s, &used);
    } catch (...) {
      return false;
    }
    return used == s.size();
  }
  return false;
}

const char* type_name(SettingType t) {
  switch (t) {
  case SettingType::string:
    return "text";
  case SettingType::number:
    return "a whole number";
  case SettingType::boolean:
    return "true or false";
  }
  return "?";
}

// A closed set of words; anything else is reported and the first (default) word is used.
void one_of(LoadResult& result, const char* key, std::string& value, std::initializer_list<const char*> allowed) {
  const auto lowered = util::to_lower(value);
  if (lowered.empty()) {
    value = *allowed.begin(); // a cleared text field is the default
    return;
  }
  std::string list;
  for (const char* a : allowed) {
    if (lowered == a) {
      value = a;
      return;
    }
    list += list.empty() ? "" : ", ";
    list += a;
  }
  result.problems.push_back({key,
                             std::string(key) + ": " + quoted(nlohmann::json(value)) + " must be one of " + list +
                                 "; using " + *allowed.begin(),
                             false});
  value = *allowed.begin();
}

// The provider's settings: a wrong one turns the provider off (reported), never the sync.
void check_provider(LoadResult& result) {
  auto& s = result.settings;
  const Settings defaults;
  if (s.provider_listen.empty()) {
    s.provider_listen = defaults.provider_listen;
  }
  if (s.provider_title.empty()) {
    s.provider_title = defaults.provider_title;
  }
  if (s.provider_allow.empty()) {
    s.provider_allow = defaults.provider_allow;
  }
  const auto off = [&](const char* key, const std::string& why) {
    if (s.provider_enabled) {
      result.problems.push_back({key, why + "; the metadata provider stays off until it is fixed", false});
    }
    s.provider_enabled = false;
  };
  if (!parse_listen(s.provider_listen)) {
    off("provider_listen", "provider_listen: \"" + s.provider_listen +
                               "\" is not host:port with an IP address (e.g. 127.0.0.1:9787 or 0.0.0.0:9787)");
  }
  if (!s.provider_public_url.empty()) {
    if (auto url = net::Url::parse(s.provider_public_url); !url) {
      off("provider_public_url", "provider_public_url " + url.error().message);
    } else if (s.provider_public_url.find_first_of("?#@") != std::string::npos) {
      off("provider_public_url", "provider_public_url: give only scheme, host, port and path (no query or user)");
    }
  }
  if (s.provider_identifier_suffix.find_first_not_of(
          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.") != std::string::npos) {
    off("provider_identifier_suffix", "provider_identifier_suffix: \"" + s.provider_identifier_suffix +
                                          "\" may hold only ASCII letters, digits and periods");
  }
}

// Issue #28: a rule or filter that does not parse is reported and holds its list as Plex has it:
// neither half applied nor replaced by what the booleans alone would write.
void check_shelf_rules(LoadResult& result) {
  auto& s = result.settings;
  if (util::trim(s.collections).empty()) {
    s.collections.clear();
  } else if (auto rules = parse_collection_rules(s.collections); !rules) {
    result.problems.push_back({"collections",
                               "collections: " + rules.error().message +
                                   "; until it is fixed PlexSync leaves every item's collections as they are",
                               false});
    s.hold_collections = true;
  }
  for (auto [key, text] :
       {std::pair{"genre_include", &s.genre_include}, std::pair{"genre_exclude", &s.genre_exclude}}) {
    if (util::trim(*text).empty()) {
      text->clear();
    } else if (auto patterns = parse_tag_filter(*text); !patterns) {
      result.problems.push_back({key,
                                 std::string(key) + ": " + patterns.error().message +
                                     "; until it is fixed PlexSync leaves every item's genres as they are",
                                 false});
      s.hold_genres = true;
    }
  }
}

} // namespace

std::string shaping_fingerprint(const Settings& s) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& spec : settings_table()) {
    const std::string_view key = spec.key;
    const bool shapes = key.rfind("skip_", 0) == 0 || key.rfind("collection", 0) == 0 || key == "title_template" ||
                        key == "sort_title_template" || key == "tagline_source" || key == "content_rating" ||
                        key == "tag_mode" || key == "max_tags" || key == "poster_shape" || key == "poster_from_group" ||
                        key == "stash_url_for_plex" || key.rfind("genre_", 0) == 0;
    if (!shapes) {
      continue;
    }
    std::visit([&](auto member) { j[spec.key] = s.*member; }, spec.member);
  }
  return j.dump();
}

std::optional<Listen> parse_listen(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= text.size() || text.size() - colon > 6) {
    return std::nullopt;
  }
  auto host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const auto port_text = text.substr(colon + 1);
  if (port_text.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  const int port = std::stoi(port_text);
  const bool ip = host.find_first_not_of("0123456789.") == std::string::npos ||
                  host.find_first_not_of("0123456789abcdefABCDEF:.") == std::string::npos;
  if (port > 65535 || !ip || host.empty()) { // port 0: any free one (the log names it)
    return std::nullopt;
  }
  return Listen{host, static_cast<uint16_t>(port)};
}

std::string check_stash_url_for_plex(const std::string& value) {
  auto url = net::Url::parse(value);
  if (!url) {
    return "stash_url_for_plex " + url.error().message + "; no performer photos are sent";
  }
  const auto host = util::to_lower(url->host);
  if (host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1" || host == "0.0.0.0" || host == "::") {
    return "stash_url_for_plex: \"" + value +
           "\" is an address only the Stash machine itself can use; enter the address the Plex server reaches "
           "Stash on (its LAN IP or host name, e.g. http://192.168.1.10:9999); no performer photos are sent";
  }
  if (value.find('?') != std::string::npos || value.find('@') != std::string::npos) {
    return "stash_url_for_plex: give only scheme, host, port and path (no query, no user name: Plex must never "
           "receive a Stash credential); no performer photos are sent";
  }
  return {};
}

std::span<const SettingSpec> settings_table() {
  return k_table;
}

std::span<const RetiredSetting> retired_settings() {
  return k_retired;
}

bool LoadResult::usable() const {
  for (const auto& p : problems) {
    if (p.fatal) {
      return false;
    }
  }
  return true;
}

LoadResult load_settings(const nlohmann::json& plugin_map) {
  LoadResult result;
  auto& s = result.settings;
  for (const auto& spec : k_table) {
    if (!plugin_map.is_object() || !plugin_map.contains(spec.key) || plugin_map.at(spec.key).is_null()) {
      continue; // never saved: default applies
    }
    const auto& v = plugin_map.at(spec.key);
    bool ok = false;
    std::visit(
        [&](auto member) {
          using T = std::remove_reference_t<decltype(s.*member)>;
          if constexpr (std::is_same_v<T, std::string>) {
            if (v.is_string()) {
              // A prefix's trailing space is part of it ("Studio: "); everything else is trimmed.
              const bool keep_spaces = std::string_view(spec.key) == "collection_prefix";
              s.*member = keep_spaces ? v.get<std::string>() : util::trim(v.get<std::string>());
              // A token pasted into a URL setting is masked in every later log line and answer.
              for (auto& secret : util::secrets_in_urls(s.*member)) {
                util::log::add_secret(std::move(secret));
              }
              ok = true;
            } else if (v.is_number()) {
              s.*member = v.dump();
              ok = true;
            }
          } else if constexpr (std::is_same_v<T, bool>) {
            bool b = false;
            ok = read_bool(v, b);
            if (ok) {
              s.*member = b;
            }
          } else {
            int64_t n = 0;
            if (read_int(v, n)) {
              if (n == 0) {
                ok = true; // Stash shows a NUMBER never saved as 0, and saves a cleared field as 0
              } else if (n < spec.min || n > spec.max) {
                result.problems.push_back({spec.key,
                                           std::string(spec.key) + ": " + quoted(v) + " must be between " +
                                               std::to_string(spec.min) + " and " + std::to_string(spec.max) +
                                               " (0 = the default); using the default " + std::to_string(s.*member),
                                           false});
                ok = true; // reported; keep the default
              } else {
                s.*member = static_cast<int>(n);
                ok = true;
              }
            }
          }
        },
        spec.member);
    if (!ok) {
      result.problems.push_back({spec.key,
                                 std::string(spec.key) + ": " + (spec.secret ? "<hidden>" : quoted(v)) + " must be " +
                                     type_name(spec.type) + "; using the default",
                                 false});
    }
  }

  one_of(result, "delete_action", s.delete_action, {"none", "scan"});
  one_of(result, "tagline_source", s.tagline_source, {"none", "code", "director", "url"});
  one_of(result, "tag_mode", s.tag_mode, {"replace", "merge"});
  one_of(result, "poster_shape", s.poster_shape, {"screenshot", "crop", "letterbox"});
  if (s.content_rating.size() > 32) {
    result.problems.push_back({"content_rating",
                               "content_rating: \"" + s.content_rating + "\" is longer than 32 characters; not written",
                               false});
    s.content_rating.clear();
  }
  check_provider(result);
  // Issue #28: a template that does not parse is reported and not applied (never half of it).
  for (auto [key, text] :
       {std::pair{"title_template", &s.title_template}, std::pair{"sort_title_template", &s.sort_title_template}}) {
    if (util::trim(*text).empty()) {
      text->clear();
    } else if (auto parsed = parse_title_template(*text); !parsed) {
      result.problems.push_back({key,
                                 std::string(key) + ": " + parsed.error().message + "; until it is fixed " +
                                     (std::string_view(key) == "title_template" ? "the scene title is used as it is"
                                                                                : "Plex keeps its own sort title"),
                                 false});
      text->clear();
    }
  }
  check_shelf_rules(result);
  if (s.plex_url.empty()) {
    result.problems.push_back({"plex_url",
                               "plex_url is not set: enter your Plex address (e.g. http://192.168.1.20:32400) under "
                               "Settings > Plugins > PlexSync",
                               true});
  } else if (auto url = net::Url::parse(s.plex_url); !url) {
    result.problems.push_back({"plex_url", "plex_url " + url.error().message, true});
  }
  if (!s.stash_url.empty()) {
    if (auto url = net::Url::parse(s.stash_url); !url) {
      result.problems.push_back({"stash_url", "stash_url " + url.error().message, true});
    }
  }
  if (!s.stash_url_for_plex.empty()) {
    if (auto problem = check_stash_url_for_plex(s.stash_url_for_plex); !problem.empty()) {
      result.problems.push_back({"stash_url_for_plex", problem, false});
      s.stash_url_for_plex.clear();
    }
  }
  for (const auto& retired : k_retired) {
    if (plugin_map.is_object() && plugin_map.contains(retired.key) && !plugin_map.at(retired.key).is_null()) {
      result.problems.push_back({retired.key,
                                 std::string(retired.key) +
                                     " is a setting of PlexSync 0.1 and is no longer read (Stash showed it as off "
                                     "while it was on); set " +
                                     retired.replacement + " instead under Settings > Plugins > PlexSync",
                                 false});
    }
  }
  if (s.plex_token.empty()) {
    result.problems.push_back({"plex_token",
                               "plex_token is not set: copy the X-Plex-Token of the server owner into Settings > "
                               "Plugins > PlexSync",
                               true});
  } else if (s.plex_token.find_first_of(" \t\r\n") != std::string::npos) {
    result.problems.push_back({"plex_token", "plex_token contains white space: paste the token alone", true});
  }
  return result;
}

LocalOverlay overlay_local(const nlohmann::json& stash_map, nlohmann::json& merged) {
  LocalOverlay out;
  merged = stash_map.is_object() ? stash_map : nlohmann::json::object();
  for (const auto& [key, value] : merged.items()) {
    if (!value.is_null()) {
      out.source[key] = "Stash";
    }
  }
  if (const auto file_setting = util::environment_variable("PLEXSYNC_CONFIG"); file_setting && !file_setting->empty()) {
    const auto& file = *file_setting;
    std::ifstream in(util::fs_path(file));
    const auto parsed = in ? nlohmann::json::parse(in, nullptr, false) : nlohmann::json();
    if (!in) {
      out.problems.push_back({"PLEXSYNC_CONFIG",
                              "cannot read the settings file " + file + " (PLEXSYNC_CONFIG): create it or fix the path",
                              true});
    } else if (!parsed.is_object()) {
      out.problems.push_back({"PLEXSYNC_CONFIG",
                              "the settings file " + file +
                                  " is not a JSON object like {\"plex_url\": \"http://plex:32400\"}: fix its syntax",
                              true});
    } else {
      for (const auto& [key, value] : parsed.items()) {
        merged[key] = value;
        out.source[key] = "file " + file;
      }
    }
  }
  for (const auto& spec : k_table) {
    const std::string name = "PLEXSYNC_" + util::to_upper(spec.key);
    if (auto env = util::environment_variable(name.c_str())) {
      merged[spec.key] = *env; // typed like Stash's older string values; load_settings converts
      out.source[spec.key] = "env " + name;
    }
  }
  return out;
}

LoadResult load_effective_settings(const nlohmann::json& stash_map, std::map<std::string, std::string>* sources) {
  nlohmann::json merged;
  auto overlay = overlay_local(stash_map, merged);
  if (sources != nullptr) {
    *sources = overlay.source;
  }
  auto result = load_settings(merged);
  result.problems.insert(result.problems.begin(), overlay.problems.begin(), overlay.problems.end());
  return result;
}

} // namespace config
