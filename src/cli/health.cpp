#include "cli/health.hpp"

#include "config/settings.hpp"
#include "match/index.hpp"
#include "plex/client.hpp"
#include "stash/client.hpp"
#include "worker/worker.hpp"

namespace cli {

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
  const auto loaded = config::load_effective_settings(*raw);
  nlohmann::json problems = nlohmann::json::array();
  for (const auto& p : loaded.problems) {
    problems.push_back({{"key", p.key}, {"message", p.message}, {"fatal", p.fatal}});
    if (p.fatal) {
      report.problems.push_back(p.message);
    }
  }
  d["settings"] = {{"ok", loaded.usable()}, {"problems", problems}};
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
