#include "cli/health.hpp"

#include "activity/importer.hpp"
#include "config/settings.hpp"
#include "match/fold.hpp"
#include "match/index.hpp"
#include "match/path_map.hpp"
#include "plex/client.hpp"
#include "provider/render.hpp"
#include "stash/client.hpp"
#include "store/heal.hpp"
#include "util/clock.hpp"
#include "util/strings.hpp"
#include "util/utc_time.hpp"
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

// Issue #31: Health check said ok while nothing synced. Jobs that have been due for a while with
// no sync since are a problem, with whatever explains them.
void nothing_syncing(const config::Settings& s, store::Db& db, HealthReport& report) {
  constexpr int64_t k_stuck_ms = 10LL * 60 * 1000;
  const auto now = util::SystemClock().now_ms();
  auto due = db.prepare("SELECT count(*), coalesce(min(next_attempt_ms), 0) FROM jobs WHERE state = 'pending' AND "
                        "next_attempt_ms <= ?1");
  auto last = db.prepare("SELECT coalesce(max(synced_ms), 0) FROM sync_records");
  if (!due || !last || !due->bind(1, now).step().value_or(false) || !last->step().value_or(false)) {
    return;
  }
  const auto waiting = due->int_at(0);
  const auto oldest = due->int_at(1);
  const auto synced = last->int_at(0);
  report.details["queue"] = {{"due", waiting}, {"oldest_due_ms", oldest}, {"last_sync_ms", synced}};
  if (s.pause_syncing) {
    report.problems.push_back("syncing is paused (pause_syncing is checked in Settings > Plugins > PlexSync): " +
                              std::to_string(waiting) + " job(s) wait; uncheck it to sync them");
    return;
  }
  if (waiting == 0 || now - oldest < k_stuck_ms || now - synced < k_stuck_ms) {
    return;
  }
  const auto minutes = std::to_string((now - oldest) / 60000);
  report.problems.push_back(
      std::to_string(waiting) + " job(s) have been due for " + minutes + " minutes and nothing has synced since " +
      (synced == 0 ? std::string("PlexSync was installed") : util::format_utc(synced / 1000, "%Y-%m-%d %H:%M UTC")) +
      ": run the 'Process queue' task and read its log line, or `plexsync status` and "
      "plexsync.log in the plugin's data folder");
}

// Issue #27: what comes back from Plex, from which accounts, and names Plex does not know.
void plex_to_stash_report(const config::Settings& s, plex::PlexClient& plex, store::Db& db, HealthReport& report) {
  const auto summary = activity::import_summary(db);
  nlohmann::json d = {{"enabled", s.plex_to_stash},
                      {"poll_seconds", s.plex_history_poll_seconds},
                      {"plays", summary.plays},
                      {"resume_points", summary.resume_points},
                      {"ratings", summary.ratings},
                      {"webhook_events_waiting", summary.inbox},
                      {"last_import_ms", summary.last_import_ms}};
  if (!s.plex_to_stash) {
    report.details["plex_to_stash"] = d;
    return;
  }
  std::vector<std::string> counted;
  auto accounts = plex.get("/accounts");
  if (!accounts) {
    report.problems.push_back("Plex -> Stash cannot read Plex's accounts: " + accounts.error().message);
  } else if (auto names = activity::accounts_from_json(*accounts); names) {
    std::set<std::string> known;
    for (const auto& [id, name] : *names) {
      known.insert(match::fold_text(name));
      if (id == 1) {
        counted.push_back(name + " (owner)");
      }
    }
    for (const auto& wanted : activity::counted_accounts(s.plex_to_stash_accounts)) {
      if (known.count(wanted) == 0U) {
        std::string list;
        for (const auto& [id, name] : *names) {
          list += list.empty() ? "" : ", ";
          list += name;
        }
        std::string problem = "plex_to_stash_accounts lists \"" + wanted;
        problem += "\", an account this Plex server does not have (it has: ";
        problem += list;
        problem += "); correct the name in Settings > Plugins > PlexSync";
        report.problems.push_back(std::move(problem));
      } else {
        counted.push_back(wanted);
      }
    }
  }
  d["accounts"] = counted;
  report.details["plex_to_stash"] = d;
  report.notes.push_back(
      "Plex -> Stash is on: plays, resume points and ratings of " + util::join(counted, ", ") +
      " come back to Stash (" +
      (s.plex_history_poll_seconds < 0 ? std::string("webhooks only")
                                       : "polled every " + std::to_string(s.plex_history_poll_seconds) + " s") +
      "); " + std::to_string(summary.plays) + " play(s), " + std::to_string(summary.resume_points) +
      " resume point(s) and " + std::to_string(summary.ratings) + " rating(s) so far" +
      (summary.inbox > 0 ? "; " + std::to_string(summary.inbox) + " webhook event(s) waiting for Stash" : ""));
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
    report.problems.push_back("the queue is paused because Plex refused PlexSync: " + **paused);
  }
  nothing_syncing(loaded.settings, db, report);
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
  plex_to_stash_report(s, plex, db, report);
  return report;
}

} // namespace cli
