#include "cli/metrics.hpp"

#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/plugin.hpp"
#include "provider/service.hpp"
#include "util/clock.hpp"

namespace cli {
namespace {

void metric(std::ostringstream& out, const char* name, const char* type, const char* help, double value) {
  out << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n" << name << " " << value << "\n";
}

// Why the service is unhealthy, or "" when it is healthy.
std::string unhealthy(const nlohmann::json& status, int64_t now_ms) {
  if (status.at("paused_for_auth").is_string()) {
    return "paused: " + status.at("paused_for_auth").get<std::string>();
  }
  if (status.at("breaker").value("phase", "closed") == "open") {
    return "Plex is unreachable; the circuit breaker is open";
  }
  return provider::health_problem(now_ms);
}

} // namespace

std::string render_metrics(store::Db& db, const std::string& data_dir, int64_t now_ms) {
  auto status = queue_status(db, data_dir, now_ms);
  std::ostringstream out;
  metric(out, "plexsync_up", "gauge", "1 when the queue could be read", status ? 1 : 0);
  if (!status) {
    return out.str();
  }
  const auto& s = *status;
  metric(out, "plexsync_queue_pending", "gauge", "Scenes waiting to be synced", s.value("pending", 0));
  metric(out, "plexsync_queue_due", "gauge", "Scenes whose next attempt is due now", s.value("due", 0));
  metric(out, "plexsync_queue_in_flight", "gauge", "Scenes being synced", s.value("in_flight", 0));
  metric(out, "plexsync_spooled_events", "gauge", "Hook events waiting in the spool for the database",
         s.value("spooled", 0));
  metric(out, "plexsync_dead_letters", "gauge", "Scenes that failed permanently (plexsync dlq list)",
         s.value("dead", 0));
  metric(out, "plexsync_needs_review", "gauge", "Uncertain matches waiting for a person", s.value("needs_review", 0));
  metric(out, "plexsync_breaker_open", "gauge", "1 while Plex is considered down",
         s.at("breaker").value("phase", "closed") == "open" ? 1 : 0);
  metric(out, "plexsync_paused", "gauge", "1 while the queue waits for a working token or trusted certificate",
         s.at("paused_for_auth").is_string() ? 1 : 0);
  metric(out, "plexsync_synced_scenes", "gauge", "Scenes with a Plex item on record", s.value("synced_scenes", 0));
  metric(out, "plexsync_last_sync_timestamp_seconds", "gauge", "When a scene was last synced (Unix time)",
         static_cast<double>(s.value("last_sync_ms", int64_t{0})) / 1000.0);
  out << "# HELP plexsync_jobs_total Jobs run, by result\n# TYPE plexsync_jobs_total counter\n";
  const auto stats = s.value("stats", nlohmann::json::object());
  for (const char* result : {"synced", "unchanged", "skipped", "retried", "failed", "review"}) {
    out << "plexsync_jobs_total{result=\"" << result << "\"} " << stats.value(result, int64_t{0}) << "\n";
  }
  const auto imported = s.value("plex_to_stash", nlohmann::json::object());
  out << "# HELP plexsync_plex_to_stash_total What came back from Plex to Stash, by kind\n"
         "# TYPE plexsync_plex_to_stash_total counter\n";
  for (const char* kind : {"plays", "resume_points", "ratings", "rating_conflicts", "echo_jobs"}) {
    out << "plexsync_plex_to_stash_total{kind=\"" << kind << "\"} " << imported.value(kind, int64_t{0}) << "\n";
  }
  metric(out, "plexsync_plex_webhook_events_waiting", "gauge", "Plex webhook events not yet applied to Stash",
         imported.value("webhook_events_waiting", 0));
  out << provider::metrics_text();
  return out.str();
}

std::unique_ptr<net::HttpServer> start_metrics_server(const std::string& data_dir, uint16_t port) {
  return net::start_server("127.0.0.1", port, [data_dir](const net::ServerRequest& req) {
    net::ServerResponse res;
    res.headers.push_back({"Content-Type", "text/plain; version=0.0.4; charset=utf-8"});
    if (req.method != "GET" || (req.path != "/metrics" && req.path != "/healthz")) {
      res.status = 404;
      res.body = "PlexSync serves /metrics and /healthz\n";
      return res;
    }
    auto db = store::Db::open(data_dir);
    const int64_t now = util::SystemClock().now_ms();
    if (req.path == "/metrics") {
      res.body = db ? render_metrics(*db, data_dir, now) : "plexsync_up 0\n";
      return res;
    }
    auto status = db ? queue_status(*db, data_dir, now) : util::Result<nlohmann::json>(tl::unexpected(db.error()));
    const auto problem = status ? unhealthy(*status, now) : "cannot read the queue: " + status.error().message;
    res.status = problem.empty() ? 200 : 503;
    res.body = problem.empty() ? "ok\n" : problem + "\n";
    return res;
  });
}

} // namespace cli
