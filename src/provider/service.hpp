// The provider's HTTP routes (spec 4.7): root document, match by file, metadata and images from
// the local catalog, image proxy. It reads the database and asks its Backend only for what the
// catalog lacks (a scene never stored, an image not cached, a Fix Match title search).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "config/settings.hpp"
#include "net/server.hpp"
#include "provider/access.hpp"
#include "provider/images.hpp"
#include "stash/client.hpp"
#include "stash/scene.hpp"
#include "store/db.hpp"
#include "util/expected.hpp"

namespace provider {

// What the process hosting the provider supplies (worker/provider_host.hpp in PlexSync; a test
// double in the tests).
class Backend {
public:
  virtual ~Backend() = default;
  [[nodiscard]] virtual config::Settings settings() = 0;
  // false until the catalog was built once: the provider answers 503 meanwhile.
  [[nodiscard]] virtual bool ready() = 0;
  // The scene from Stash (nullopt: Stash has no such scene); bounded by provider_stash_timeout.
  virtual util::Result<std::optional<stash::Scene>> fetch_scene(const std::string& id) = 0;
  // An image by its path on Stash (provider::stash_target); nullopt: only a placeholder.
  virtual util::Result<std::optional<stash::StashClient::Image>> fetch_image(const std::string& target) = 0;
  // Fix Match: Stash's own search for a title, best first, at most limit.
  virtual util::Result<std::vector<stash::Scene>> search_scenes(const std::string& text, int limit) = 0;
};

// The secret path segment and the image-signing key, kept beside the database (not in it, so a
// repaired database keeps the URL registered in Plex).
struct Secrets {
  std::string token;    // 32 lowercase hex characters (128 bits)
  std::string hmac_key; // 32 raw bytes
};
inline constexpr const char* k_secrets_file = "provider-secrets.json";
util::Result<Secrets> load_or_create_secrets(const std::string& data_dir);
// A new path secret (the image key stays): the old provider URL stops working.
util::Result<Secrets> rotate_token(const std::string& data_dir);

// The root URL to register in Plex for a base address ("http://127.0.0.1:9787").
std::string root_url(const std::string& base, const Secrets& secrets, bool with_token);
// The addresses Plex may reach the provider on, best first: provider_public_url, then the listen
// address (for a wildcard listen: 127.0.0.1 and this machine's host name).
// bound_port: the port actually listened on, when provider_listen asked for any (port 0).
std::vector<std::string> base_urls(const config::Settings& s, uint16_t bound_port = 0);
// The base `plexsync provider register` registered (kv), which image URLs hang below when there
// is no provider_public_url: never a request's Host header, which any client chooses (issue #31).
inline constexpr const char* k_registered_base_kv = "provider_registered_base";

// Counters for /metrics, process-wide (spec 4.7).
std::string metrics_text();
// What the worker's own pull-library work adds to them.
void count_refresh(const std::string& result); // asked | failed | skipped
void count_bind();
void count_repair(const std::string& field);
// The provider's health for /healthz: enabled but not listening, or Stash unreachable for more
// than 10 minutes. "" while healthy or while the provider is off.
void note_listening(bool listening);
void note_stash(bool answered, int64_t now_ms);
std::string health_problem(int64_t now_ms);

class Provider {
public:
  Provider(std::string data_dir, Secrets secrets, Backend& backend);
  net::ServerResponse handle(const net::ServerRequest& request);
  // The match route's answer for a body. What PMS asks queues follow-up work (the worker's job for
  // the matched scene, review entries for an ambiguous name); the CLI's `provider match` only looks.
  enum class FollowUp { queue, none };
  nlohmann::json match(const nlohmann::json& body, const std::string& base_url, FollowUp follow_up = FollowUp::queue);
  RateLimiter& rate_limit() { return rate_; }
  // The port the listener got (provider_listen may ask for port 0): image URLs name it.
  void set_bound_port(uint16_t port) { bound_port_ = port; }

private:
  struct Lease; // a database connection from the pool
  Lease db();
  net::ServerResponse route(const net::ServerRequest& request, const std::string& rest, const config::Settings& s,
                            const std::string& identifier, const std::string& base_url);
  net::ServerResponse metadata(const std::string& rating_key, const std::string& sub, const config::Settings& s,
                               const std::string& identifier, const std::string& base_url);
  net::ServerResponse image(const net::ServerRequest& request, const std::string& rest, const config::Settings& s);
  util::Result<std::optional<stash::Scene>> scene(store::Db& db, const std::string& id);
  void record(const net::ServerRequest& request, const net::ServerResponse& response);

  std::string data_dir_;
  Secrets secrets_;
  Backend& backend_;
  ImageSigner signer_;
  std::mutex pool_mutex_;
  std::vector<std::unique_ptr<store::Db>> pool_;
  int64_t pool_generation_ = 0; // store::heal_generation() the pooled connections belong to
  std::mutex flight_mutex_;
  std::map<std::string, std::shared_ptr<std::mutex>> flights_; // one Stash fetch per image at a time
  std::mutex record_mutex_;                                    // guards the recording's file and the three below
  int64_t record_second_ = 0;
  int record_lines_this_second_ = 0;
  int64_t record_skipped_ = 0;
  RateLimiter rate_;
  std::atomic<uint16_t> bound_port_{0};
};

// The provider's listener with the limits of spec section 6 (64 KiB bodies, 8 KiB headers, 10 s
// to receive a request, 64 connections) and the allow-list checked before anything is read.
// other: routes answered before the provider's (the worker's Plex webhooks); nullopt passes on,
// and with one given, bodies may be as large as activity::k_webhook_body_limit.
using OtherRoutes = std::function<std::optional<net::ServerResponse>(const net::ServerRequest&)>;
std::unique_ptr<net::HttpServer> serve(Provider& provider, const config::Listen& listen, const AllowList& allow,
                                       OtherRoutes other = {}, size_t other_body_limit = 0);

} // namespace provider
