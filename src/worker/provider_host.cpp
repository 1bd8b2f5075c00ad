#include "worker/provider_host.hpp"

#include <nlohmann/json.hpp>

#include "match/path_map.hpp"
#include "provider/access.hpp"
#include "provider/catalog.hpp"
#include "store/db.hpp"
#include "store/heal.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include "worker/scan.hpp"
#include "worker/worker.hpp"

namespace worker {
namespace {

constexpr int64_t k_settings_reload_ms = 60'000;
constexpr int64_t k_catalog_retry_ms = 30'000;
constexpr int64_t k_catch_up_check_ms = 5'000;
// A full rebuild now and then catches what neither hooks nor the poll saw (files moved by a scan).
constexpr int64_t k_catalog_rebuild_ms = 6LL * 3600 * 1000;
// Stash calls the provider makes at once (answers, images, the catalog build): enough that one
// slow image does not hold the others, few enough not to load Stash.
constexpr int k_stash_clients = 4;

} // namespace

config::LoadResult load_settings_for(const std::string& data_dir, bool* stash_answered) {
  auto db = store::Db::open(data_dir);
  if (db) {
    auto conn = effective_connection(*db, read_local_stash());
    if (conn && *conn) {
      auto client = stash::connect((*conn)->base_url,
                                   {(*conn)->cookie_name, (*conn)->cookie_value, read_local_stash().api_key}, 5);
      if (client) {
        use_remembered_key(data_dir, **client);
        if (auto raw = (*client)->plugin_settings()) {
          if (stash_answered != nullptr) {
            *stash_answered = true;
          }
          return config::load_effective_settings(*raw);
        }
      }
    }
  }
  if (stash_answered != nullptr) {
    *stash_answered = false;
  }
  return config::load_effective_settings(nlohmann::json::object());
}

util::Result<std::unique_ptr<ProviderHost>> ProviderHost::start_if_enabled(const std::string& data_dir) {
  return start_if_enabled(data_dir, load_settings_for(data_dir));
}

util::Result<std::unique_ptr<ProviderHost>> ProviderHost::start_if_enabled(const std::string& data_dir,
                                                                           const config::LoadResult& loaded,
                                                                           provider::OtherRoutes other,
                                                                           size_t other_body_limit) {
  for (const auto& p : loaded.problems) {
    if (p.key.rfind("provider_", 0) == 0) {
      LOG_WARN(p.message);
    }
  }
  if (!loaded.settings.provider_enabled) {
    return std::unique_ptr<ProviderHost>();
  }
  const auto& s = loaded.settings;
  TRY_ASSIGN(auto allow, provider::AllowList::parse(s.provider_allow));
  const auto listen = config::parse_listen(s.provider_listen);
  if (!listen) {
    return util::fail("provider_listen \"" + s.provider_listen + "\" is not host:port");
  }
  TRY_ASSIGN(auto secrets, provider::load_or_create_secrets(data_dir));
  std::unique_ptr<ProviderHost> host(new ProviderHost(data_dir, s, std::move(secrets)));
  try {
    host->server_ = provider::serve(*host->provider_, *listen, allow, std::move(other), other_body_limit);
  } catch (const std::exception& e) {
    return util::fail(std::string("the metadata provider cannot listen: ") + e.what() +
                      " (set provider_listen to a free address and port)");
  }
  host->provider_->set_bound_port(host->port());
  provider::note_listening(true);
  host->thread_ = std::thread([h = host.get()] { h->background(); });
  LOG_INFO("metadata provider listening on " << listen->host << ":" << host->port()
                                             << " (plexsync provider url prints the address to register in Plex)");
  return host;
}

util::Result<std::unique_ptr<ProviderHost>> ProviderHost::offline(const std::string& data_dir) {
  auto loaded = load_settings_for(data_dir);
  TRY_ASSIGN(auto secrets, provider::load_or_create_secrets(data_dir));
  std::unique_ptr<ProviderHost> host(new ProviderHost(data_dir, loaded.settings, std::move(secrets)));
  host->ready_generation_ = store::heal_generation();
  host->ready_ = true;
  return host;
}

ProviderHost::ProviderHost(std::string data_dir, config::Settings settings, provider::Secrets secrets)
    : data_dir_(std::move(data_dir)), settings_(std::move(settings)) {
  provider_ = std::make_unique<provider::Provider>(data_dir_, std::move(secrets), *this);
}

ProviderHost::~ProviderHost() {
  stopping_ = true;
  abort_stash_ = true; // answers waiting on Stash end now, so the listener stops within seconds
  wake_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
  if (server_) {
    server_->stop();
  }
}

config::Settings ProviderHost::settings() {
  const std::lock_guard lock(settings_mutex_);
  return settings_;
}

util::Result<ProviderHost::StashLease> ProviderHost::lend_stash() {
  std::unique_lock lock(stash_mutex_);
  if (db_generation_ != store::heal_generation()) {
    db_.reset(); // healed since: reopen the fresh database
  }
  if (!db_) {
    TRY_ASSIGN(auto opened, store::Db::open(data_dir_));
    db_ = std::make_unique<store::Db>(std::move(opened));
    db_generation_ = store::heal_generation();
  }
  // The saved connection is read at each call: a hook may have brought a new session cookie.
  const auto local = read_local_stash();
  TRY_ASSIGN(auto conn, effective_connection(*db_, local));
  if (!conn) {
    return util::fail("no Stash connection known yet (run any PlexSync task, or set stash_url for service mode)");
  }
  const auto s = settings();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(std::max(1, s.provider_stash_timeout));
  for (;;) {
    std::erase_if(idle_stash_, [&](const auto& idle) { return idle.first != conn->cookie_value; });
    if (!idle_stash_.empty()) {
      auto client = std::move(idle_stash_.back().second);
      idle_stash_.pop_back();
      ++stash_lent_;
      return StashLease(this, std::move(client), conn->cookie_value);
    }
    if (stash_lent_ < k_stash_clients) {
      ++stash_lent_;
      lock.unlock();
      const auto key = !local.api_key.empty() ? local.api_key : s.stash_api_key;
      auto client = stash::connect(conn->base_url, {conn->cookie_name, conn->cookie_value, key},
                                   s.provider_stash_timeout, &abort_stash_);
      if (!client) {
        give_back(nullptr, "");
        return tl::unexpected(client.error());
      }
      use_remembered_key(data_dir_, **client);
      return StashLease(this, std::move(*client), conn->cookie_value);
    }
    if (abort_stash_ || stash_given_back_.wait_until(lock, deadline) == std::cv_status::timeout) {
      return util::fail("Stash is slow: " + std::to_string(k_stash_clients) + " calls already waited on it for up to " +
                        std::to_string(s.provider_stash_timeout) + " s (provider_stash_timeout)");
    }
  }
}

void ProviderHost::give_back(std::unique_ptr<stash::StashClient> client, const std::string& cookie) {
  {
    const std::lock_guard lock(stash_mutex_);
    --stash_lent_;
    if (client && !abort_stash_) {
      idle_stash_.emplace_back(cookie, std::move(client));
    }
  }
  stash_given_back_.notify_one();
}

util::Result<std::optional<stash::Scene>> ProviderHost::fetch_scene(const std::string& id) {
  TRY_ASSIGN(auto client, lend_stash());
  auto found = client->find_scene(id);
  provider::note_stash(found.has_value(), util::SystemClock().now_ms());
  return found;
}

util::Result<std::optional<stash::StashClient::Image>> ProviderHost::fetch_image(const std::string& target) {
  TRY_ASSIGN(auto client, lend_stash());
  auto image = client->fetch_image(target);
  provider::note_stash(image.has_value(), util::SystemClock().now_ms());
  return image;
}

util::Result<std::vector<stash::Scene>> ProviderHost::search_scenes(const std::string& text, int limit) {
  TRY_ASSIGN(auto client, lend_stash());
  TRY_ASSIGN(const auto facts, client->facts());
  const auto document = stash::queries::find_scenes(stash::group_field_for(stash::parse_version(facts.version)));
  TRY_ASSIGN(const auto data,
             client->query(document, {{"f", nlohmann::json::object()}, {"p", {{"q", text}, {"per_page", limit}}}}));
  std::vector<stash::Scene> out;
  if (data.contains("findScenes") && data.at("findScenes").is_object() && data.at("findScenes").contains("scenes") &&
      data.at("findScenes").at("scenes").is_array()) {
    for (const auto& j : data.at("findScenes").at("scenes")) {
      if (auto scene = stash::scene_from_json(j)) {
        out.push_back(std::move(*scene));
      }
    }
  }
  return out;
}

bool ProviderHost::build_catalog_once() {
  auto db = store::Db::open(data_dir_);
  if (!db) {
    LOG_WARN("metadata provider: " << db.error().message);
    return false;
  }
  const auto s = settings();
  auto map = match::PathMap::parse(s.path_map);
  if (!map) {
    LOG_WARN("metadata provider: " << map.error().message);
    return false;
  }
  auto client = lend_stash();
  if (!client) {
    LOG_WARN("metadata provider: cannot read Stash's files yet: " << client.error().message);
    return false;
  }
  util::SystemClock clock;
  auto report = provider::build_catalog(**client, *db, *map, clock.now_ms());
  provider::note_stash(report.has_value(), clock.now_ms());
  if (!report) {
    LOG_WARN("metadata provider: reading Stash's files failed: " << report.error().message << "; trying again soon");
    return false;
  }
  (void)db->put_kv("provider_catalog_path_map", s.path_map);
  LOG_INFO("metadata provider: " << report->scenes << " scenes and " << report->files << " files indexed"
                                 << ", " << report->removed << " gone");
  catch_up(*db);
  return true;
}

void ProviderHost::catch_up(store::Db& db) {
  // What PMS scanned while no provider answered, and items of scenes merged away (spec 5.2, 5.5).
  const auto s = settings();
  if (s.plex_url.empty()) {
    return;
  }
  (void)db.delete_kv(k_pull_catch_up_kv);
  auto done = catch_up_pull_items(db, s, util::SystemClock().now_ms());
  if (!done) {
    LOG_WARN("metadata provider: could not look for items Plex left unmatched: " << done.error().message);
  } else if (done->queued > 0 || done->rebound > 0) {
    LOG_INFO("metadata provider: " << done->queued << " scene(s) have an item Plex left unmatched (queued to bind "
                                   << "them); " << done->rebound << " item(s) moved to the scene that has their file");
  }
}

void ProviderHost::background() {
  util::SystemClock clock;
  // Timers on the steady clock: a wall clock set back must not postpone them (issue #31).
  int64_t next_settings = clock.steady_ms() + k_settings_reload_ms;
  int64_t next_build = 0;
  int64_t next_catch_up_check = 0;
  std::unique_ptr<store::Db> loop_db; // read every few seconds: opened once, reopened after a heal
  int64_t loop_generation = 0;
  {
    // A catalog built before (a restart) answers at once; the rebuild runs behind it.
    auto db = store::Db::open(data_dir_);
    if (db) {
      if (auto built = db->get_kv(provider::k_catalog_built_kv); built && *built) {
        ready_generation_ = store::heal_generation();
        ready_ = true;
      }
    }
  }
  int64_t built_generation = store::heal_generation();
  while (!stopping_) {
    const auto now = clock.steady_ms();
    if (built_generation != store::heal_generation()) {
      // The worker replaced a damaged database: the catalog went with it. Until it is rebuilt,
      // matches wait (503) and metadata comes from Stash, rather than "no match" for every file
      // (issue #31).
      built_generation = store::heal_generation();
      ready_ = false;
      next_build = now;
    }
    if (now >= next_build) {
      const auto generation = store::heal_generation();
      const bool ok = build_catalog_once();
      if (ok && generation == store::heal_generation()) {
        ready_generation_ = generation;
        ready_ = true;
      }
      next_build = clock.steady_ms() + (ok ? k_catalog_rebuild_ms : k_catalog_retry_ms);
    }
    if (now >= next_settings) {
      bool answered = false;
      auto loaded = load_settings_for(data_dir_, &answered);
      provider::note_stash(answered, clock.now_ms()); // also a health probe
      {
        const std::lock_guard lock(settings_mutex_);
        const bool remap = loaded.settings.path_map != settings_.path_map;
        settings_ = loaded.settings;
        if (remap) {
          if (auto db = store::Db::open(data_dir_)) {
            if (auto map = match::PathMap::parse(settings_.path_map)) {
              (void)provider::remap_files(*db, *map);
            }
          }
        }
      }
      next_settings = clock.steady_ms() + k_settings_reload_ms;
    }
    if (now >= next_catch_up_check) {
      // A job found a scene gone: its items may belong to another scene now.
      next_catch_up_check = now + k_catch_up_check_ms;
      if (loop_generation != store::heal_generation()) {
        loop_db.reset(); // healed since: reopen the fresh database
      }
      if (!loop_db) {
        if (auto opened = store::Db::open(data_dir_)) {
          loop_db = std::make_unique<store::Db>(std::move(*opened));
          loop_generation = store::heal_generation();
        }
      }
      if (loop_db) {
        if (auto asked = loop_db->get_kv(k_pull_catch_up_kv); asked && *asked) {
          catch_up(*loop_db);
        }
      }
    }
    std::unique_lock lock(wait_mutex_);
    wake_.wait_for(lock, std::chrono::milliseconds(500), [this] { return stopping_.load(); });
  }
}

} // namespace worker
