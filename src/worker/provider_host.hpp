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
#include <utility>
#include <vector>

#include "config/settings.hpp"
#include "net/server.hpp"
#include "provider/service.hpp"
#include "stash/client.hpp"
#include "store/db.hpp"
#include "store/heal.hpp"

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
  // With the settings the worker already read at its start. other: routes its listener answers
  // besides the provider's (the Plex webhooks).
  static util::Result<std::unique_ptr<ProviderHost>> start_if_enabled(const std::string& data_dir,
                                                                      const config::LoadResult& loaded,
                                                                      provider::OtherRoutes other = {},
                                                                      size_t other_body_limit = 0);
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
  // A catalog is built, in the database as it is now (a heal replaces it with an empty one).
  bool ready() override { return ready_ && ready_generation_ == store::heal_generation(); }
  util::Result<std::optional<stash::Scene>> fetch_scene(const std::string& id) override;
  util::Result<std::optional<stash::StashClient::Image>> fetch_image(const std::string& target) override;
  util::Result<std::vector<stash::Scene>> search_scenes(const std::string& text, int limit) override;

private:
  ProviderHost(std::string data_dir, config::Settings settings, provider::Secrets secrets);
  // A Stash client lent to one call (issue #31: the provider made one Stash call at a time, so 20
  // posters behind a 3 s Stash came back at 3, 6, ... 60 s). Given back when it goes.
  class StashLease {
  public:
    StashLease(ProviderHost* host, std::unique_ptr<stash::StashClient> client, std::string cookie)
        : host_(host), client_(std::move(client)), cookie_(std::move(cookie)) {}
    StashLease(StashLease&& other) noexcept = default;
    StashLease& operator=(StashLease&&) = delete;
    StashLease(const StashLease&) = delete;
    StashLease& operator=(const StashLease&) = delete;
    ~StashLease() {
      if (host_ != nullptr && client_) {
        host_->give_back(std::move(client_), cookie_);
      }
    }
    stash::StashClient* operator->() const { return client_.get(); }
    stash::StashClient& operator*() const { return *client_; }

  private:
    ProviderHost* host_;
    std::unique_ptr<stash::StashClient> client_;
    std::string cookie_;
  };

  void background();
  // A client for the latest saved connection: an idle one, a new one while fewer than
  // k_stash_clients are lent, else the first given back within provider_stash_timeout.
  util::Result<StashLease> lend_stash();
  void give_back(std::unique_ptr<stash::StashClient> client, const std::string& cookie);
  bool build_catalog_once();
  void catch_up(store::Db& db);

  std::string data_dir_;
  std::mutex settings_mutex_;
  config::Settings settings_;
  std::unique_ptr<provider::Provider> provider_;
  std::unique_ptr<net::HttpServer> server_;
  std::atomic<bool> ready_{false};
  std::atomic<int64_t> ready_generation_{0}; // store::heal_generation() the catalog was built in
  std::atomic<bool> stopping_{false};
  std::mutex wait_mutex_;
  std::condition_variable wake_;
  std::thread thread_;
  std::atomic<bool> abort_stash_{false}; // set when stopping: calls in flight end at once
  std::mutex stash_mutex_;               // guards the five below
  std::condition_variable stash_given_back_;
  std::unique_ptr<store::Db> db_;
  int64_t db_generation_ = 0; // store::heal_generation() db_ was opened in
  std::vector<std::pair<std::string, std::unique_ptr<stash::StashClient>>> idle_stash_; // cookie, client
  int stash_lent_ = 0;
};

} // namespace worker
