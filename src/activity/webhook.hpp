// Plex's webhooks (Plex Pass, issue #27): PMS POSTs each event as multipart/form-data with the
// event's JSON in a part named "payload" (and sometimes a JPEG in "thumb", dropped here). The
// receiver answers on the worker's listener (the metadata provider's, or one of its own on
// provider_listen) at /webhook/<secret>: the secret is derived from the provider's key file, so
// it survives a database heal and never appears in a log line or an answer. An event is kept in
// the plex_inbox table before the answer, and the worker's Importer applies it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "config/settings.hpp"
#include "net/server.hpp"
#include "store/db.hpp"
#include "util/expected.hpp"

namespace activity {

inline constexpr const char* k_webhook_prefix = "/webhook/";
// A payload's JSON is a few KiB; PMS adds a poster thumbnail to some events.
inline constexpr size_t k_webhook_body_limit = size_t{256} * 1024U;
inline constexpr size_t k_webhook_payload_limit = size_t{64} * 1024U;

// The path secret for the data directory's provider key (created when missing).
util::Result<std::string> webhook_secret(const std::string& data_dir);
// The URL to paste into Plex (Settings > Webhooks) for each address Plex may reach PlexSync on.
util::Result<std::vector<std::string>> webhook_urls(const std::string& data_dir, const config::Settings& settings,
                                                    uint16_t bound_port = 0);

// Counts events kept since the process started: the worker compares it with what it last saw
// (no query while nothing arrives).
int64_t inbox_generation();

class WebhookReceiver {
public:
  static util::Result<std::unique_ptr<WebhookReceiver>> open(const std::string& data_dir);
  // nullopt: not a webhook path (the caller answers it); else the answer for Plex.
  std::optional<net::ServerResponse> handle(const net::ServerRequest& req);

private:
  WebhookReceiver(std::string data_dir, std::string secret)
      : data_dir_(std::move(data_dir)), secret_(std::move(secret)) {}
  util::Result<void> keep(const std::string& payload);

  std::string data_dir_;
  std::string secret_;
  std::mutex mutex_; // one database connection for every handler thread
  std::unique_ptr<store::Db> db_;
  int64_t db_generation_ = -1;
};

// The worker's listener when the metadata provider is off but webhooks are wanted: the same
// limits as the provider's, on provider_listen, the allow-list of provider_allow.
util::Result<std::unique_ptr<net::HttpServer>> serve_webhooks(WebhookReceiver& receiver,
                                                              const config::Settings& settings);

} // namespace activity
