#include "cli/health.hpp"

#include "config/settings.hpp"
#include "match/index.hpp"
#include "match/path_map.hpp"
#include "plex/client.hpp"
#include "provider/render.hpp"
#include "stash/client.hpp"
#include "store/heal.hpp"
#include "worker/worker.hpp"

namespace cli {

std::string stash_release_problem(const std::string& version) {
  const auto parsed = stash::parse_version(version);
  if (!parsed || !parsed->before(0, 26)) {
    return {};
  }
  return "Stash " + version +
         " cannot keep PlexSync's settings (a Stash bug with plugin ids that have capitals, stashapp/stash#4575: the "
         "Settings page neither shows nor keeps them): upgrade Stash to v0.26 or later, then enter the settings once "
         "more";
}

namespace {

// Plex fetches actor photos from Stash itself, without Stash's credentials.
void performer_photo_notes(const config::Settings& s, const std::string& stash_base, HealthReport& report) {
  auto& d = report.details;
  if (s.skip_actors || s.skip_performer_photos) {
    d["performer_photos"] = "off";
    return;
  }
  if (s.stash_url_for_plex.empty()) {
    // Pull libraries get the provider's own photo URLs only where the internet reaches it.
    const bool via_provider = s.provider_enabled && provider::serves_own_photos(s);
    d["performer_photos"] = via_provider ? "pull libraries only (provider_public_url)" : "not sent";
    std::string note = std::string("performer photos are not sent to Plex") +
                       (via_provider ? " in push libraries" : "") +
                       ": Plex fetches them from Stash itself and PlexSync does not know the address Plex reaches "
                       "Stash on; set stash_url_for_plex (e.g. http://192.168.1.10:9999) to send them";
    if (s.provider_enabled && !via_provider) {
      note += ". In pull libraries the provider hands out photo URLs of its own only when provider_public_url is an "
              "address the internet reaches (Plex's apps fetch photos through Plex's image proxy)";
    }
    report.notes.push_back(std::move(note));
    return;
  }
  d["performer_photos"] = s.stash_url_for_plex;
  // What an anonymous client such as Plex gets for an image (Stash redirects it to /login or
  // answers 401 when it has a username and password).
  auto url = net::Url::parse(stash_base);
  if (!url) {
    return;
  }
  net::ClientOptions opts;
  opts.base = *url;
  opts.verify_tls = false;
  opts.connect_timeout_ms = 3000;
  opts.read_timeout_ms = 5000;
  net::Request probe;
  probe.target = "/performer/0/image";
  if (auto res = net::make_http_client(opts)->send(probe); res && stash::refused_auth(*res)) {
    report.notes.push_back("Stash asks for a login before it serves images, so Plex cannot fetch performer photos "
                           "from " +
                           s.stash_url_for_plex +
                           " (PlexSync never hands Plex a Stash credential); serve Stash's /performer/ images "
                           "without a login through a reverse proxy, or check skip_performer_photos");
  }
}

} // namespace

HealthReport health_check(const stash::ServerConnection& server, store::Db& db, const std::string& api_key) {
  HealthReport report;
  auto& d = report.details;
  auto stash = stash::connect(server.base_url(), {server.cookie_name, server.cookie_value, api_key});
  auto raw = stash ? (*stash)->plugin_settings() : util::Result<nlohmann::json>(tl::unexpected(stash.error()));
  d["stash"] = {{"url", server.base_url()}, {"ok", raw.has_value()}};
  if (!raw) {
    report.problems.push_back(raw.error().message);
    d["stash"]["error"] = raw.error().message;
    return report;
  }
  if (auto facts = (*stash)->facts(); facts) {
    d["stash"]["version"] = facts->version;
    if (auto old = stash_release_problem(facts->version); !old.empty()) {
      report.problems.push_back(old);
    }
  }
  auto loaded = config::load_effective_settings(*raw);
  match::check_path_map(loaded);
  nlohmann::json problems = nlohmann::json::array();
  for (const auto& p : loaded.problems) {
    problems.push_back({{"key", p.key}, {"message", p.message}, {"fatal", p.fatal}});
    if (p.fatal) {
      report.problems.push_back(p.message);
    }
  }
  d["settings"] = {{"ok", loaded.usable()}, {"problems", problems}};
  if (const auto recovered = store::recovery(db)) {
    d["database_recovered"] = {
        {"moved_to", recovered->moved_to}, {"reason", recovered->reason}, {"resync", recovered->resync}};
    report.notes.push_back("PlexSync's database was damaged (" + recovered->reason + ") and replaced; " +
                           recovered->kept() + " and every scene was queued again (" + recovered->resync +
                           "); `plexsync status --ack-recovery` stops this note");
  }
  if (auto breaker = db.get_kv("breaker"); breaker && *breaker) {
    d["breaker"] = nlohmann::json::parse(**breaker, nullptr, false);
  } else {
    d["breaker"] = {{"phase", "closed"}};
  }
  if (auto paused = db.get_kv("auth_paused"); paused && *paused) {
    d["paused_for_auth"] = **paused;
  }
  if (!loaded.usable()) {
    return report;
  }
  const auto& s = loaded.settings;
  performer_photo_notes(s, server.base_url(), report);
  auto plex_client = worker::make_plex_client(s, db);
  auto& plex = *plex_client;
  auto identity = plex.identity();
  d["plex"] = {{"url", net::Url::parse(s.plex_url)->display()}, {"reachable", identity.has_value()}};
  if (!identity) {
    // A TLS failure already names its fix; "is Plex running" would send people the wrong way.
    const bool names_fix = identity.error().kind == plex::Failure::auth;
    report.problems.push_back(identity.error().message +
                              (names_fix ? "" : " (check plex_url and that Plex is running)"));
    d["plex"]["error"] = identity.error().message;
    return report;
  }
  d["plex"]["machine_identifier"] = *identity;
  auto sections = plex.sections();
  d["plex"]["token_accepted"] = sections.has_value();
  if (!sections) {
    report.problems.push_back(sections.error().message);
    d["plex"]["error"] = sections.error().message;
    return report;
  }
  auto chosen = match::select_sections(*sections, s.plex_library);
  nlohmann::json libs = nlohmann::json::array();
  if (chosen) {
    for (const auto& sec : *chosen) {
      libs.push_back({{"key", sec.key}, {"title", sec.title}, {"locations", sec.locations}});
    }
  } else {
    report.problems.push_back(chosen.error().message);
  }
  d["libraries"] = libs;
  return report;
}

} // namespace cli
