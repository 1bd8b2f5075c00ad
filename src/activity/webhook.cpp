#include "activity/webhook.hpp"

#include <chrono>
#include <set>

#include <nlohmann/json.hpp>

#include "activity/plex_events.hpp"
#include "provider/access.hpp"
#include "provider/service.hpp"
#include "store/heal.hpp"
#include "util/digest.hpp"
#include "util/log.hpp"
#include "util/wake.hpp"

namespace activity {
namespace {

std::atomic<int64_t> g_inbox_generation{0};

std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (const unsigned char c : bytes) {
    out.push_back(digits[c >> 4U]);
    out.push_back(digits[c & 15U]);
  }
  return out;
}

net::ServerResponse plain(int status, const std::string& text) {
  net::ServerResponse r;
  r.status = status;
  r.headers.push_back({"Content-Type", "text/plain; charset=utf-8"});
  r.body = text + "\n";
  return r;
}

} // namespace

int64_t inbox_generation() {
  return g_inbox_generation.load();
}

util::Result<std::string> webhook_secret(const std::string& data_dir) {
  TRY_ASSIGN(const auto secrets, provider::load_or_create_secrets(data_dir));
  auto secret = hex(util::hmac_sha256(secrets.hmac_key, "plexsync plex webhook")).substr(0, 32);
  util::log::add_secret(secret);
  return secret;
}

util::Result<std::vector<std::string>> webhook_urls(const std::string& data_dir, const config::Settings& settings,
                                                    uint16_t bound_port) {
  TRY_ASSIGN(const auto secret, webhook_secret(data_dir));
  std::vector<std::string> out;
  for (auto base : provider::base_urls(settings, bound_port)) {
    while (!base.empty() && base.back() == '/') {
      base.pop_back();
    }
    base += k_webhook_prefix;
    base += secret;
    out.push_back(std::move(base));
  }
  return out;
}

util::Result<std::unique_ptr<WebhookReceiver>> WebhookReceiver::open(const std::string& data_dir) {
  TRY_ASSIGN(auto secret, webhook_secret(data_dir));
  return std::unique_ptr<WebhookReceiver>(new WebhookReceiver(data_dir, std::move(secret)));
}

util::Result<void> WebhookReceiver::keep(const std::string& payload) {
  const std::lock_guard lock(mutex_);
  if (!db_ || db_generation_ != store::heal_generation()) {
    db_.reset();
    TRY_ASSIGN(auto db, store::Db::open(data_dir_));
    db_ = std::make_unique<store::Db>(std::move(db));
    db_generation_ = store::heal_generation();
  }
  TRY_ASSIGN(auto stmt, db_->prepare("INSERT INTO plex_inbox(received_ms, payload) VALUES(?1, ?2)"));
  const auto now =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  return stmt.bind(1, static_cast<int64_t>(now)).bind(2, payload).run();
}

std::optional<net::ServerResponse> WebhookReceiver::handle(const net::ServerRequest& req) {
  if (req.path.rfind(k_webhook_prefix, 0) != 0) {
    return std::nullopt;
  }
  // A wrong secret is answered like any unknown path, and nothing of it is kept or logged.
  if (!util::constant_time_equal(req.path.substr(std::string_view(k_webhook_prefix).size()), secret_)) {
    return plain(404, "not found");
  }
  if (req.method != "POST") {
    auto r = plain(405, "Plex posts webhooks; nothing else is answered here");
    r.headers.push_back({"Allow", "POST"});
    return r;
  }
  if (req.body.size() > k_webhook_body_limit) {
    return plain(413, "a webhook body over 256 KiB is refused");
  }
  const auto* type = req.header("Content-Type");
  auto payload = multipart_part(type != nullptr ? *type : std::string(), req.body, "payload");
  if (!payload) {
    LOG_WARN("a Plex webhook could not be read: " << payload.error().message
                                                  << " (is the URL pasted into Plex's Settings > Webhooks?)");
    return plain(400, payload.error().message);
  }
  if (payload->size() > k_webhook_payload_limit) {
    return plain(413, "a webhook payload over 64 KiB is refused");
  }
  auto event = webhook_event_from_text(*payload);
  if (!event) {
    LOG_WARN("a Plex webhook could not be read: " << event.error().message);
    return plain(400, event.error().message);
  }
  static const std::set<std::string> k_wanted = {"media.scrobble", "media.stop", "media.rate"};
  if (k_wanted.count(event->event) == 0U) {
    return plain(200, "ignored"); // play, pause, resume, library.new, ...: nothing to bring back
  }
  if (auto kept = keep(*payload); !kept) {
    // Plex does not send it again: the poll picks the play up later, if polling is on.
    LOG_WARN("a Plex webhook (" << event->event << ") could not be kept: " << kept.error().message);
    return plain(503, "PlexSync could not store the event");
  }
  ++g_inbox_generation;
  util::wake_worker(data_dir_);
  return plain(200, "ok");
}

util::Result<std::unique_ptr<net::HttpServer>> serve_webhooks(WebhookReceiver& receiver,
                                                              const config::Settings& settings) {
  TRY_ASSIGN(auto allow, provider::AllowList::parse(settings.provider_allow));
  const auto listen = config::parse_listen(settings.provider_listen);
  if (!listen) {
    return util::fail("provider_listen \"" + settings.provider_listen + "\" is not host:port");
  }
  net::PooledLimits limits;
  limits.body_bytes = k_webhook_body_limit;
  limits.header_bytes = size_t{8} * 1024U;
  limits.receive_ms = 10'000;
  limits.admit = [allow](const std::string& peer) { return allow.allows(peer); };
  try {
    return net::start_pooled_server(
        listen->host, listen->port,
        [&receiver](const net::ServerRequest& r) {
          if (auto answer = receiver.handle(r)) {
            return std::move(*answer);
          }
          return plain(404, "not found");
        },
        limits);
  } catch (const std::exception& e) {
    return util::fail(std::string("the webhook listener cannot listen: ") + e.what() +
                      " (set provider_listen to a free address and port)");
  }
}

} // namespace activity
