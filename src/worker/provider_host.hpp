// Runs the metadata provider inside the worker process (spec 4.1, 4.10): its listener, its own
// database connections and Stash connection, the first full build of its catalog, and settings
// re-read every minute. The worker's jobs keep the catalog current (Worker::process).
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "config/settings.hpp"
#include "net/server.hpp"
#include "provider/service.hpp"
#include "stash/client.hpp"
#include "store/db.hpp"

namespace worker {

// The settings outside a job: Stash's plugin settings when Stash answers, with the local overlay
// ($PLEXSYNC_CONFIG, PLEXSYNC_*), else the overlay alone.
// stash_answered: set to whether Stash answered (the provider's health probe).
config::LoadResult load_settings_for(const std::string& data_dir, bool* stash_answered = nullptr);

class ProviderHost final : public provider::Backend {
public:
  // nullptr when provider_enabled is off; an error when it is on but cannot start (the message
  // names the setting or the port to fix).
  static util::Result<std::unique_ptr<ProviderHost>> start_if_enabled(const std::string& data_dir);
  // Without a listener or background work: for the CLI's `provider match`.
  static util::Result<std::unique_ptr<ProviderHost>> offline(const std::string& data_dir);
  provider::Provider& provider() { return *provider_; }
  ~ProviderHost() override;
  ProviderHost(const ProviderHost&) = delete;
  ProviderHost& operator=(const ProviderHost&) = delete;
  ProviderHost(ProviderHost&&) = delete;
  ProviderHost& operator=(ProviderHost&&) = delete;

  [[nodiscard]] uint16_t port() const { return server_ ? server_->port() : 0; }

  config::Settings settings() override;
  bool ready() override { return ready_; }
  util::Result<std::optional<stash::Scene>> fetch_scene(const std::string& id) override;
  util::Result<std::optional<stash::StashClient::Image>> fetch_image(const std::string& target) override;
  util::Result<std::vector<stash::Scene>> search_scenes(const std::string& text, int limit) override;

private:
  ProviderHost(std::string data_dir, config::Settings settings, provider::Secrets secrets);
  void background();
  // Stash, connected with the latest saved connection; callers hold stash_mutex_.
  util::Result<stash::StashClient*> stash();
  bool build_catalog_once();
  void catch_up(store::Db& db);

  std::string data_dir_;
  std::mutex settings_mutex_;
  config::Settings settings_;
  std::unique_ptr<provider::Provider> provider_;
  std::unique_ptr<net::HttpServer> server_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> stopping_{false};
  std::mutex wait_mutex_;
  std::condition_variable wake_;
  std::thread thread_;
  std::mutex stash_mutex_; // guards the three below
  std::unique_ptr<store::Db> db_;
  int64_t db_generation_ = 0; // store::heal_generation() db_ was opened in
  std::unique_ptr<stash::StashClient> stash_;
  std::string stash_cookie_; // the cookie stash_ was made with
};

} // namespace worker
