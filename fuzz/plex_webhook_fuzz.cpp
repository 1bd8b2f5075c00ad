// Plex's webhooks as anyone allowed to reach the worker's listener may send them (issue #27): the
// input's first line is the Content-Type, the rest the body, POSTed to the right secret path.
// The receiver never crashes and answers only 200, 400, 413 or 503; every reader of Plex's
// activity answers (history, accounts, view state) takes the same bytes as JSON without throwing.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "activity/plex_events.hpp"
#include "activity/webhook.hpp"
#include "fuzz_check.hpp"

namespace {

using fuzz::check;

struct World {
  std::string dir;
  std::unique_ptr<activity::WebhookReceiver> receiver;
  std::string path;
  World() {
    char tmpl[] = "/tmp/plexsync-fuzz-XXXXXX";
    dir = ::mkdtemp(tmpl);
    receiver = std::move(*activity::WebhookReceiver::open(dir));
    path = activity::k_webhook_prefix + *activity::webhook_secret(dir);
  }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World world;
  const std::string input(reinterpret_cast<const char*>(data), size);
  const auto eol = input.find('\n');
  net::ServerRequest req;
  req.method = "POST";
  req.path = world.path;
  req.target = world.path;
  req.peer = "127.0.0.1";
  req.headers.push_back({"Content-Type", eol == std::string::npos ? input : input.substr(0, eol)});
  req.body = eol == std::string::npos ? std::string() : input.substr(eol + 1);
  const auto answer = world.receiver->handle(req);
  check(answer.has_value());
  check(answer->status == 200 || answer->status == 400 || answer->status == 413 || answer->status == 503);

  const auto json = nlohmann::json::parse(req.body, nullptr, false);
  (void)activity::webhook_event_from_text(req.body);
  (void)activity::history_from_json(json);
  (void)activity::accounts_from_json(json);
  (void)activity::view_states_from_json(json);
  if (auto part = activity::multipart_part(req.headers.front().value, req.body, "payload"); part) {
    check(part->size() <= req.body.size());
  }
  return 0;
}
