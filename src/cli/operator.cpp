#include "cli/operator.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/health.hpp"
#include "cli/plugin.hpp"
#include "config/settings.hpp"
#include "match/path_map.hpp"
#include "net/http.hpp"
#include "net/trust_store.hpp"
#include "queue/queue.hpp"
#include "stash/scene.hpp"
#include "store/heal.hpp"
#include "util/datadirlock.hpp"
#include "util/file.hpp"
#include "util/log.hpp"
#include "util/path.hpp"
#include "util/strings.hpp"
#include "util/utc_time.hpp"
#include "worker/worker.hpp"

namespace cli {
namespace {

std::string when(int64_t ms) {
  if (ms <= 0) {
    return "never";
  }
  return util::format_utc(ms / 1000, "%Y-%m-%d %H:%M:%S UTC");
}

int say_error(const OperatorOptions& o, const std::string& message, int code) {
  if (o.json) {
    std::cout << nlohmann::json{{"error", message}}.dump(2) << "\n";
  } else {
    std::cerr << "plexsync: " << util::log::redact(message) << "\n";
  }
  return code;
}

// The data directory must already hold PlexSync's database: the CLI never creates one where the
// plugin would not look.
util::Result<store::Db> open_data(const OperatorOptions& o) {
  if (!std::filesystem::exists(util::fs_path(o.data_dir + "/plexsync.db"))) {
    return util::fail("no PlexSync data in " + o.data_dir +
                      ": pass --data-dir (the plugin keeps it in <plugin folder>/data) or set PLEXSYNC_DATA_DIR");
  }
  return store::Db::open(o.data_dir);
}

// Stash's plugin settings (when Stash is reachable) with the settings file and environment on top.
struct Effective {
  config::LoadResult loaded;
  std::map<std::string, std::string> source;
  std::optional<worker::StashConnection> conn;
  std::string api_key;
  std::string stash_error; // why Stash's settings could not be read, if they could not
};

Effective effective_settings(store::Db& db) {
  Effective e;
  nlohmann::json stash_map = nlohmann::json::object();
  if (auto conn = worker::effective_connection(db, &e.api_key); conn && *conn) {
    e.conn = *conn;
    auto client = stash::connect(e.conn->base_url, {e.conn->cookie_name, e.conn->cookie_value, e.api_key});
    auto raw = client ? (*client)->plugin_settings() : util::Result<nlohmann::json>(tl::unexpected(client.error()));
    if (raw) {
      stash_map = *raw;
    } else {
      e.stash_error = raw.error().message;
    }
  } else {
    e.stash_error = "no Stash connection known: run any PlexSync task in Stash once, or set stash_url";
  }
  e.loaded = config::load_effective_settings(stash_map, &e.source);
  match::check_path_map(e.loaded);
  return e;
}

} // namespace

int cmd_status(const OperatorOptions& o, bool acknowledge_recovery) {
  auto db = open_data(o);
  if (!db) {
    return say_error(o, db.error().message, k_exit_unavailable);
  }
  if (acknowledge_recovery) {
    if (auto acked = store::acknowledge_recovery(*db); !acked) {
      return say_error(o, "cannot update the database: " + acked.error().message, k_exit_problems);
    }
  }
  auto status = queue_status(*db, o.data_dir, util::SystemClock().now_ms());
  if (!status) {
    return say_error(o, "cannot read the queue: " + status.error().message, k_exit_problems);
  }
  const auto& s = *status;
  const bool open = s.at("breaker").value("phase", "closed") != "closed";
  const bool paused = s.at("paused_for_auth").is_string();
  const bool trouble = s.value("dead", 0) > 0 || open || paused || s.contains("database_recovered");
  if (o.json) {
    std::cout << s.dump(2) << "\n";
    return trouble ? k_exit_problems : k_exit_ok;
  }
  std::cout << "queue: " << s.value("pending", 0) << " pending (" << s.value("due", 0) << " due now, "
            << s.value("in_flight", 0) << " in flight); worker "
            << (s.value("worker_running", false) ? "running" : "not running") << "\n";
  if (s.value("spooled", 0) > 0) {
    std::cout << "spooled: " << s.value("spooled", 0)
              << " hook event(s) waiting for the database; the worker queues them when it can\n";
  }
  std::cout << "dead letters: " << s.value("dead", 0);
  if (s.value("dead", 0) > 0) {
    std::cout << " (";
    bool first = true;
    for (const auto& [cls, n] : s.at("dead_by_class").items()) {
      std::cout << (first ? "" : ", ") << cls << ": " << n.get<int64_t>();
      first = false;
    }
    std::cout << "); see `plexsync dlq list`";
  }
  std::cout << "\nbreaker: " << s.at("breaker").value("phase", "closed") << "\n";
  if (paused) {
    std::cout << "PAUSED: " << s.at("paused_for_auth").get<std::string>() << "\n";
  }
  if (!s.at("outages").empty()) {
    const auto& last = s.at("outages")[0];
    std::cout << "last outage: from " << when(last.value("started_ms", int64_t{0})) << " to "
              << (last.at("ended_ms").is_null() ? std::string("now") : when(last.at("ended_ms").get<int64_t>())) << ", "
              << last.value("jobs_affected", 0) << " job(s) waited: " << last.value("last_error", "") << "\n";
  }
  if (s.contains("database_recovered")) {
    const auto& r = s.at("database_recovered");
    std::cout << "DATABASE REPLACED: " << when(r.value("at_ms", int64_t{0})) << " the database was damaged ("
              << r.value("reason", "") << "); "
              << (r.value("moved_to", "").empty() ? std::string("there was no damaged file to keep")
                                                  : "it was moved aside to " + r.value("moved_to", ""))
              << "; every scene re-synced (" << r.value("resync", "") << "); `plexsync status --ack-recovery` "
              << "stops this note\n";
  }
  std::cout << "synced scenes: " << s.value("synced_scenes", 0) << ", last sync "
            << when(s.value("last_sync_ms", int64_t{0})) << "\n";
  if (s.value("needs_review", 0) > 0) {
    std::cout << "needs review: " << s.value("needs_review", 0)
              << " uncertain match(es), nothing written; see `plexsync match <scene id>`\n";
  }
  if (const auto p2s = s.value("plex_to_stash", nlohmann::json::object());
      p2s.value("last_import_ms", int64_t{0}) > 0) {
    std::cout << "from Plex to Stash: " << p2s.value("plays", 0) << " play(s), " << p2s.value("resume_points", 0)
              << " resume point(s), " << p2s.value("ratings", 0) << " rating(s) (" << p2s.value("rating_conflicts", 0)
              << " changed on both sides); last import " << when(p2s.value("last_import_ms", int64_t{0})) << " by "
              << p2s.value("last_import_source", "") << "\n";
  }
  return trouble ? k_exit_problems : k_exit_ok;
}

int cmd_dlq(const OperatorOptions& o, const std::string& action, const std::string& error_class, int days) {
  auto db = open_data(o);
  if (!db) {
    return say_error(o, db.error().message, k_exit_unavailable);
  }
  queue::Queue q(*db);
  const int64_t now = util::SystemClock().now_ms();
  if (action == "list") {
    auto letters = q.dead_letters();
    if (!letters) {
      return say_error(o, "cannot read dead letters: " + letters.error().message, k_exit_problems);
    }
    nlohmann::json list = nlohmann::json::array();
    for (const auto& l : *letters) {
      if (!error_class.empty() && l.error_class != error_class) {
        continue;
      }
      list.push_back({{"id", l.id},
                      {"scene_id", l.scene_id},
                      {"error_class", l.error_class},
                      {"http_status", l.http_status},
                      {"attempts", l.attempts},
                      {"first_failure_ms", l.first_failure_ms},
                      {"last_failure_ms", l.last_failure_ms},
                      {"message", l.message}});
    }
    if (o.json) {
      std::cout << list.dump(2) << "\n";
    } else if (list.empty()) {
      std::cout << "no dead letters" << (error_class.empty() ? "" : " of class " + error_class) << "\n";
    } else {
      for (const auto& l : list) {
        std::cout << "scene " << l.at("scene_id").get<std::string>() << "  " << l.at("error_class").get<std::string>()
                  << "  " << l.at("attempts").get<int64_t>() << " attempt(s), last "
                  << when(l.at("last_failure_ms").get<int64_t>()) << "\n    " << l.at("message").get<std::string>()
                  << "\n";
      }
      std::cout << list.size() << " dead letter(s); `plexsync dlq retry` queues them again\n";
    }
    return k_exit_ok;
  }
  if (action == "retry") {
    auto n = q.retry_dead(now, error_class);
    if (!n) {
      return say_error(o, "cannot requeue dead letters: " + n.error().message, k_exit_problems);
    }
    const bool started =
        *n > 0 && autostart_enabled() && !util::DataDirLock::held_by_someone(o.data_dir) && spawn_worker(o.data_dir);
    if (o.json) {
      std::cout << nlohmann::json{{"requeued", *n}, {"worker_started", started}}.dump(2) << "\n";
    } else {
      std::cout << "requeued " << *n << " dead letter(s)" << (started ? "; a worker was started" : "") << "\n";
    }
    return k_exit_ok;
  }
  if (action == "purge") {
    auto n = q.purge_dead_older_than(now - int64_t{days} * 24 * 3600 * 1000);
    if (!n) {
      return say_error(o, "cannot purge dead letters: " + n.error().message, k_exit_problems);
    }
    if (o.json) {
      std::cout << nlohmann::json{{"purged", *n}}.dump(2) << "\n";
    } else {
      std::cout << "purged " << *n << " dead letter(s) older than " << days << " day(s)\n";
    }
    return k_exit_ok;
  }
  return say_error(o, "dlq: unknown action '" + action + "'; use list, retry or purge", k_exit_usage);
}

int cmd_config(const OperatorOptions& o) {
  auto db = open_data(o);
  if (!db) {
    return say_error(o, db.error().message, k_exit_unavailable);
  }
  const auto e = effective_settings(*db);
  // Print what load_settings made of every key, secrets masked, with where it came from.
  nlohmann::json values = nlohmann::json::object();
  const auto& s = e.loaded.settings;
  for (const auto& spec : config::settings_table()) {
    nlohmann::json v;
    std::visit([&](auto member) { v = s.*member; }, spec.member);
    if (spec.secret && v.is_string() && !v.get<std::string>().empty()) {
      v = "(set, " + std::to_string(v.get<std::string>().size()) + " characters)";
    }
    const auto src = e.source.find(spec.key);
    values[spec.key] = {{"value", v}, {"source", src == e.source.end() ? std::string("default") : src->second}};
  }
  nlohmann::json problems = nlohmann::json::array();
  for (const auto& p : e.loaded.problems) {
    problems.push_back({{"key", p.key}, {"message", p.message}, {"fatal", p.fatal}});
  }
  if (o.json) {
    std::cout << nlohmann::json{{"settings", values}, {"problems", problems}, {"stash_error", e.stash_error}}.dump(2)
              << "\n";
  } else {
    for (const auto& [key, entry] : values.items()) {
      const auto& v = entry.at("value");
      std::cout << key << " = " << (v.is_string() ? v.get<std::string>() : v.dump()) << "  ("
                << entry.at("source").get<std::string>() << ")\n";
    }
    if (!e.stash_error.empty()) {
      std::cout << "note: Stash's settings were not read: " << e.stash_error << "\n";
    }
    for (const auto& p : e.loaded.problems) {
      std::cout << (p.fatal ? "ERROR: " : "warning: ") << p.message << "\n";
    }
  }
  return e.loaded.usable() ? k_exit_ok : k_exit_problems;
}

int cmd_doctor(const OperatorOptions& o) {
  nlohmann::json checks = nlohmann::json::array();
  bool healthy = true;
  const auto check = [&](const std::string& name, bool ok, const std::string& detail) {
    checks.push_back({{"check", name}, {"ok", ok}, {"detail", detail}});
    healthy = healthy && ok;
  };
  const bool writable = util::can_create_files_in(o.data_dir);
  check("data directory", writable,
        writable ? o.data_dir + " is writable"
                 : o.data_dir + " is missing or not writable by this user: run the plugin once from Stash, or fix "
                                "its owner and permissions (chown the folder to the user Stash runs as)");
  if (writable) {
    // Room for the database to double (a checkpoint, a re-sync after a recovery), and never less
    // than 20 MiB: below that the worker soon pauses and hooks start to fail.
    std::error_code ec;
    const auto space = std::filesystem::space(util::fs_path(o.data_dir), ec);
    std::uintmax_t used = 0;
    for (const char* name : {"/plexsync.db", "/plexsync.db-wal"}) {
      std::error_code size_ec;
      const auto size = std::filesystem::file_size(util::fs_path(o.data_dir + name), size_ec);
      used += size_ec ? 0 : size;
    }
    const std::uintmax_t needed = std::max<std::uintmax_t>(20ULL << 20U, 2 * used);
    const auto mib = [](std::uintmax_t bytes) { return std::to_string(bytes >> 20U) + " MiB"; };
    if (!ec) {
      check("free space", space.available >= needed,
            mib(space.available) + " free on the disk holding the data directory" +
                (space.available >= needed
                     ? ""
                     : ", less than the " + mib(needed) +
                           " PlexSync wants: free some space (when the disk is full hooks fail and the worker "
                           "pauses until it can write again)"));
    }
  }
  const auto finish = [&](int code) {
    if (o.json) {
      std::cout << nlohmann::json{{"healthy", healthy}, {"checks", checks}}.dump(2) << "\n";
    } else {
      for (const auto& c : checks) {
        std::cout << (c.at("ok").get<bool>() ? "ok    " : "FAIL  ") << c.at("check").get<std::string>() << ": "
                  << c.at("detail").get<std::string>() << "\n";
      }
    }
    return code;
  };
  auto db = writable ? open_data(o) : util::Result<store::Db>(util::fail("skipped"));
  if (!db) {
    const bool damaged = writable && store::is_damage(db.error());
    if (damaged && util::DataDirLock::held_by_someone(o.data_dir)) {
      store::request_integrity_check(o.data_dir); // the running worker replaces it now
      check("database", false,
            db.error().message + ": the running worker is replacing the damaged file now (it is kept aside); "
                                 "nothing queued in Stash is lost, every scene is re-synced");
    } else if (writable) {
      check("database", false,
            db.error().message + (damaged ? ": the damaged file is moved aside and replaced the next time the "
                                            "worker starts (run the 'Process queue' task); nothing is lost"
                                          : ""));
    }
    // A damaged database is a problem found, like any failed check (issue #31: exit 3 read as
    // "doctor could not run"); 3 stays for a data directory that cannot be used at all.
    return finish(damaged ? k_exit_problems : k_exit_unavailable);
  }
  const auto integrity = store::check_integrity(*db);
  check("database", static_cast<bool>(integrity),
        integrity ? "plexsync.db passes SQLite's quick_check"
                  : integrity.error().message +
                        ": the worker moves it aside and starts a fresh one when it next starts (run the 'Process "
                        "queue' task); every scene is then re-synced, nothing is lost");
  if (const auto recovered = store::recovery(*db)) {
    check("database recovery", true,
          "the database was damaged on " + when(recovered->at_ms) + " and replaced; " + recovered->kept() + " (" +
              recovered->resync + "); `plexsync status --ack-recovery` stops this note");
  }
  std::string api_key;
  auto conn = worker::effective_connection(*db, &api_key);
  if (!conn || !*conn) {
    check("Stash connection", false,
          "PlexSync does not know where Stash is yet: run any PlexSync task in Stash once (Settings > Tasks), or "
          "set stash_url in the settings file or PLEXSYNC_STASH_URL");
  } else {
    auto url = net::Url::parse((*conn)->base_url);
    stash::ServerConnection server;
    if (url) {
      server.scheme = url->scheme;
      server.host = url->host;
      server.port = url->port;
    }
    server.cookie_name = (*conn)->cookie_name;
    server.cookie_value = (*conn)->cookie_value;
    auto report = health_check(server, *db, api_key);
    const auto& d = report.details;
    check("Stash", d.contains("stash") && d.at("stash").value("ok", false),
          d.contains("stash") ? d.at("stash").value("error", "Stash answers at " + (*conn)->base_url) : "");
    for (const auto& p : report.problems) {
      check("settings and Plex", false, p);
    }
    for (const auto& n : report.notes) {
      check("note", true, n);
    }
    if (report.problems.empty()) {
      check("Plex", true,
            "Plex answers at " + d.at("plex").value("url", "") + ", the token works, libraries: " +
                std::to_string(d.value("libraries", nlohmann::json::array()).size()));
    }
    const auto settings = effective_settings(*db).loaded.settings;
    if (report.problems.empty() && settings.plex_url.rfind("https://", 0) == 0 && !settings.plex_skip_tls_verify) {
      const auto bundle = settings.plex_ca_file.empty() ? net::default_trust_source() : settings.plex_ca_file;
      check("CA bundle", !bundle.empty(),
            bundle.empty() ? net::default_trust_hint() : "Plex's certificate is checked against " + bundle);
    }
    if (report.problems.empty()) {
      // Path mapping: do the most recently updated scenes find their Plex items?
      util::SystemClock clock;
      util::SystemRng rng;
      worker::Worker w(*db, clock, rng);
      auto stash = stash::connect((*conn)->base_url, {(*conn)->cookie_name, (*conn)->cookie_value, api_key});
      auto page = stash ? (*stash)->query(stash::queries::k_scene_versions,
                                          {{"f", nlohmann::json::object()},
                                           {"p", {{"per_page", 10}, {"sort", "updated_at"}, {"direction", "DESC"}}}})
                        : util::Result<nlohmann::json>(tl::unexpected(stash.error()));
      int sampled = 0;
      int exact = 0;
      int elsewhere = 0; // found by file name under another path: the mapping is off
      std::string example;
      if (page) {
        for (const auto& sc : page->at("findScenes").at("scenes")) {
          auto p = w.preview(sc.at("id").get<std::string>(), false);
          if (!p || !p->contains("scene") || p->at("plex_paths").empty()) {
            continue; // a scene without a file has no Plex item to find
          }
          ++sampled;
          const auto& candidates = p->at("candidates");
          // 95 and up: the mapped path itself is in Plex (up to case or Unicode form).
          const int best = candidates.empty() ? 0 : candidates[0].value("score", 0);
          exact += best >= 95 ? 1 : 0;
          elsewhere += best > 0 && best < 95 ? 1 : 0;
          if (best < 95 && (example.empty() || best > 0)) {
            example = "Stash's file maps to " + p->at("plex_paths")[0].get<std::string>() +
                      (best > 0 ? " but Plex has " + candidates[0].value("file", "") : ", which Plex does not have");
          }
        }
      }
      const auto of = [&](int n) { return std::to_string(n) + " of " + std::to_string(sampled); };
      const std::string fix = ". Set path_map so Stash's paths become the paths Plex shows (Plex: item > Get Info > "
                              "Files), e.g. /data=>/media";
      check("path mapping", elsewhere == 0 && (exact > 0 || sampled == 0),
            sampled == 0       ? std::string("no recent scene with a file to try")
            : elsewhere > 0    ? of(elsewhere) + " recent scenes are in Plex under another path: " + example + fix
            : exact == 0       ? "none of " + std::to_string(sampled) + " recent scenes is in Plex: " + example + fix
            : exact == sampled ? of(exact) + " recent scenes found in Plex at their mapped path"
                               : of(exact) +
                                     " recent scenes found at their mapped path; the others are not in Plex "
                                     "yet (not scanned, or outside its libraries): " +
                                     example);
    }
  }
  return finish(healthy ? k_exit_ok : k_exit_problems);
}

namespace {

// match and sync --dry-run: the worker's own matching and planning, nothing written.
int preview(const OperatorOptions& o, const std::string& scene_or_path, bool edit) {
  auto db = open_data(o);
  if (!db) {
    return say_error(o, db.error().message, k_exit_unavailable);
  }
  util::SystemClock clock;
  util::SystemRng rng;
  worker::Worker w(*db, clock, rng);
  auto p = w.preview(scene_or_path, edit);
  if (!p) {
    return say_error(o, p.error().message, k_exit_problems);
  }
  const bool found = p->value("verdict", "none") != "none";
  if (o.json) {
    std::cout << p->dump(2) << "\n";
    return found ? k_exit_ok : k_exit_problems;
  }
  if (p->contains("scene")) {
    std::cout << "scene " << p->at("scene").at("id").get<std::string>() << " \""
              << p->at("scene").at("title").get<std::string>() << "\"\n";
  }
  for (const auto& path : p->at("plex_paths")) {
    std::cout << "  file as Plex sees it (after path_map): " << path.get<std::string>() << "\n";
  }
  std::cout << "verdict: " << p->at("verdict").get<std::string>()
            << (p->at("why").get<std::string>().empty() ? "" : " (" + p->at("why").get<std::string>() + ")")
            << "; the minimum score is " << p->at("min_score").get<int>() << "\n";
  for (const auto& c : p->at("candidates")) {
    std::cout << "  " << c.at("score").get<int>() << "  Plex item " << c.at("rating_key").get<std::string>() << " \""
              << c.at("title").get<std::string>() << "\" (" << c.at("reason").get<std::string>() << ")\n      "
              << c.at("file").get<std::string>() << "\n";
  }
  if (p->contains("edit")) {
    const auto& e = p->at("edit");
    if (e.at("params").empty()) {
      std::cout << "Plex already matches Stash: nothing would be sent\n";
    } else {
      std::cout << "would send " << e.at("requests").get<int>() << " request(s): " << e.at("request").get<std::string>()
                << " changing " << util::join(e.at("changed").get<std::vector<std::string>>(), ", ") << "\n";
      for (const auto& kv : e.at("params")) {
        std::cout << "  " << kv[0].get<std::string>() << " = " << kv[1].get<std::string>() << "\n";
      }
    }
    for (const auto& k : e.at("kept")) {
      std::cout << "kept as edited in Plex (preserve_plex_edits): " << k.get<std::string>() << "\n";
    }
    for (const auto& d : e.at("dropped")) {
      std::cout << "dropped by the schema check: " << d.get<std::string>() << "\n";
    }
  }
  return found ? k_exit_ok : k_exit_problems;
}

} // namespace

int cmd_match(const OperatorOptions& o, const std::string& scene_or_path) {
  return preview(o, scene_or_path, false);
}

int cmd_sync(const OperatorOptions& o, const std::string& scene_id, bool dry_run) {
  if (scene_id.empty() || scene_id.find_first_not_of("0123456789") != std::string::npos) {
    return say_error(o, "sync takes a Stash scene id (a number), got '" + scene_id + "'", k_exit_usage);
  }
  if (dry_run) {
    return preview(o, scene_id, true);
  }
  auto db = open_data(o);
  if (!db) {
    return say_error(o, db.error().message, k_exit_unavailable);
  }
  if (auto queued = queue::Queue(*db).enqueue(scene_id, "cli:sync", util::SystemClock().now_ms()); !queued) {
    return say_error(o, "cannot queue scene " + scene_id + ": " + queued.error().message, k_exit_problems);
  }
  const auto handed_over = [&] { // a running worker takes the job
    if (o.json) {
      std::cout << nlohmann::json{{"queued", true}, {"worker_running", true}}.dump(2) << "\n";
    } else {
      std::cout << "queued scene " << scene_id << "; the running worker syncs it within seconds\n";
    }
    return k_exit_ok;
  };
  if (util::DataDirLock::held_by_someone(o.data_dir)) {
    return handed_over();
  }
  // No worker: drain in the foreground, as the Process queue task does, logging to the terminal.
  util::DataDirLock lock(o.data_dir);
  if (!lock.try_acquire()) {
    return handed_over();
  }
  util::SystemClock clock;
  util::SystemRng rng;
  worker::Worker w(*db, clock, rng);
  const auto stats = w.run(worker::RunMode::drain);
  const bool done = stats.synced + stats.unchanged + stats.skipped > 0 && stats.dead == 0 && stats.retried == 0;
  if (o.json) {
    std::cout << nlohmann::json{{"processed", stats.processed},
                                {"synced", stats.synced},
                                {"unchanged", stats.unchanged},
                                {"retrying", stats.retried},
                                {"dead", stats.dead}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << "processed " << stats.processed << " job(s): " << stats.synced << " synced, " << stats.unchanged
              << " already up to date, " << stats.retried << " to retry, " << stats.dead << " dead\n";
  }
  const int code = done ? 0 : 1;
  return code == 0 ? k_exit_ok : k_exit_problems;
}

} // namespace cli

namespace cli {

int cmd_review(const OperatorOptions& o) {
  auto db = open_data(o);
  if (!db) {
    return say_error(o, db.error().message, k_exit_unavailable);
  }
  auto stmt = db->prepare("SELECT scene_id, reason, candidates, last_ms FROM match_reviews ORDER BY last_ms DESC");
  if (!stmt) {
    return say_error(o, stmt.error().message, k_exit_problems);
  }
  auto list = nlohmann::json::array();
  while (true) {
    auto row = stmt->step();
    if (!row || !*row) {
      break;
    }
    list.push_back({{"scene_id", stmt->text_at(0)},
                    {"reason", stmt->text_at(1)},
                    {"candidates", nlohmann::json::parse(stmt->text_at(2), nullptr, false)},
                    {"last_ms", stmt->int_at(3)}});
  }
  if (o.json) {
    std::cout << nlohmann::json{{"reviews", list}}.dump(2) << "\n";
    return k_exit_ok;
  }
  if (list.empty()) {
    std::cout << "no uncertain matches wait for review\n";
    return k_exit_ok;
  }
  for (const auto& r : list) {
    std::cout << "scene " << r.at("scene_id").get<std::string>() << ": " << r.at("reason").get<std::string>() << "\n";
    for (const auto& c : r.at("candidates").is_array() ? r.at("candidates") : nlohmann::json::array()) {
      std::cout << "  plexsync review pick " << r.at("scene_id").get<std::string>() << " " << c.value("rating_key", "")
                << "   # score " << c.value("score", 0) << " (" << c.value("reason", "") << ") '"
                << c.value("title", "") << "' " << c.value("file", "") << "\n";
    }
  }
  return k_exit_ok;
}

int cmd_review_pick(const OperatorOptions& o, const std::string& scene_id, const std::string& rating_key) {
  if (scene_id.empty() || scene_id.find_first_not_of("0123456789") != std::string::npos) {
    return say_error(o, "review pick takes a Stash scene id (a number), got '" + scene_id + "'", k_exit_usage);
  }
  auto db = open_data(o);
  if (!db) {
    return say_error(o, db.error().message, k_exit_unavailable);
  }
  auto stmt = db->prepare("SELECT candidates FROM match_reviews WHERE scene_id = ?1");
  if (!stmt) {
    return say_error(o, stmt.error().message, k_exit_problems);
  }
  stmt->bind(1, scene_id);
  auto row = stmt->step();
  if (!row || !*row) {
    return say_error(o, "scene " + scene_id + " is not on the review list (plexsync review shows it)", k_exit_problems);
  }
  const auto candidates = nlohmann::json::parse(stmt->text_at(0), nullptr, false);
  stmt->reset();
  std::optional<nlohmann::json> picked;
  for (const auto& c : candidates.is_array() ? candidates : nlohmann::json::array()) {
    if (c.value("rating_key", "") == rating_key) {
      picked = c;
    }
  }
  if (!picked) {
    return say_error(
        o, "Plex item " + rating_key + " is not a candidate for scene " + scene_id + " (plexsync review lists them)",
        k_exit_usage);
  }
  // Issue #31: a choice of an item that has left Plex, or for a scene deleted since, was recorded
  // and announced as syncing. Ask both sides now: the scene must still exist and the item still be
  // among the Plex items holding its file.
  {
    util::SystemClock clock;
    util::SystemRng rng;
    worker::Worker w(*db, clock, rng);
    auto holds = w.item_still_holds(scene_id, rating_key, picked->value("file", std::string()));
    if (!holds) {
      const bool gone = holds.error().message.rfind("Stash has no scene", 0) == 0;
      return say_error(o,
                       gone ? "scene " + scene_id +
                                  " no longer exists in Stash; nothing was recorded (its review entry goes at the "
                                  "next sync)"
                            : "cannot check the choice against Stash and Plex: " + holds.error().message +
                                  "; nothing was recorded, try again once both answer",
                       k_exit_problems);
    }
    if (!*holds) {
      return say_error(
          o,
          "Plex item " + rating_key + " no longer holds scene " + scene_id +
              "'s candidate file (it left Plex or was scanned again); nothing was recorded. `plexsync match " +
              scene_id + "` shows the items that hold it now",
          k_exit_problems);
    }
  }
  // The person's choice becomes the remembered match, at the score it had: the next sync keeps it
  // as long as the item still holds that file.
  auto txn = store::Txn::begin(*db);
  auto pin = db->prepare(R"sql(
INSERT INTO sync_records(scene_id, rating_key, section_key, match_score, stash_updated_at, synced_ms, requests, wrote)
VALUES(?1, ?2, ?3, ?4, '', ?5, 0, 0)
ON CONFLICT(scene_id) DO UPDATE SET rating_key = excluded.rating_key, section_key = excluded.section_key,
  match_score = excluded.match_score, stash_updated_at = '', written = NULL)sql");
  auto clear = db->prepare("DELETE FROM match_reviews WHERE scene_id = ?1");
  // The item is this scene's now: another scene that had it (a stacked item) goes to review.
  auto release = db->prepare("DELETE FROM sync_records WHERE rating_key = ?1 AND scene_id != ?2");
  // A scene left uncertain past its retries became a dead letter; the choice settles it.
  auto settled = db->prepare("DELETE FROM dead_letters WHERE scene_id = ?1 AND error_class = 'uncertain_match'");
  if (!txn || !pin || !clear ||
      !pin->bind(1, scene_id)
           .bind(2, rating_key)
           .bind(3, picked->value("section_key", std::string()))
           .bind(4, static_cast<int64_t>(std::max(1, picked->value("score", 1))))
           .bind(5, util::SystemClock().now_ms())
           .run() ||
      !clear->bind(1, scene_id).run() || !release || !release->bind(1, rating_key).bind(2, scene_id).run() ||
      !settled || !settled->bind(1, scene_id).run() || !txn->commit()) {
    return say_error(o, "could not record the choice: " + db->error_message(), k_exit_problems);
  }
  if (!o.json) {
    std::cout << "scene " << scene_id << " -> Plex item " << rating_key << " chosen; syncing it\n";
  }
  return cmd_sync(o, scene_id, false);
}

} // namespace cli
