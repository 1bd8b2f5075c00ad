#include "plex/notifications.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "util/log.hpp"

namespace plex {
namespace {

constexpr size_t k_max_message_bytes = size_t{1} << 20; // PMS's messages are a few KiB
constexpr auto k_first_pause = std::chrono::milliseconds(1000);
constexpr auto k_longest_pause = std::chrono::milliseconds(60'000);

std::string id_text(const nlohmann::json& v) {
  if (v.is_string()) {
    return v.get<std::string>();
  }
  if (v.is_number_integer()) {
    return std::to_string(v.get<int64_t>());
  }
  return {};
}

void add_section(std::vector<std::string>& out, const std::string& id) {
  if (!id.empty() && std::find(out.begin(), out.end(), id) == out.end()) {
    out.push_back(id);
  }
}

} // namespace

std::vector<std::string> changed_sections(const std::string& message) {
  std::vector<std::string> out;
  const auto doc = nlohmann::json::parse(message, nullptr, false);
  if (!doc.is_object() || !doc.contains("NotificationContainer") || !doc.at("NotificationContainer").is_object()) {
    return out;
  }
  const auto& c = doc.at("NotificationContainer");
  const auto type = c.value("type", nlohmann::json()).is_string() ? c.at("type").get<std::string>() : "";
  if (type == "timeline" && c.contains("TimelineEntry") && c.at("TimelineEntry").is_array()) {
    for (const auto& e : c.at("TimelineEntry")) {
      // Items of the media library only (not playlists or the play queue); every state counts:
      // created (0) lists the file, processed (5) has its metadata, deleted (9) frees a match.
      if (e.is_object() && e.value("identifier", nlohmann::json()) == "com.plexapp.plugins.library") {
        add_section(out, id_text(e.value("sectionID", nlohmann::json())));
      }
    }
  } else if (type == "activity" && c.contains("ActivityNotification") && c.at("ActivityNotification").is_array()) {
    for (const auto& n : c.at("ActivityNotification")) {
      if (!n.is_object() || n.value("event", nlohmann::json()) != "ended" || !n.contains("Activity") ||
          !n.at("Activity").is_object()) {
        continue;
      }
      const auto& a = n.at("Activity");
      const auto kind = a.value("type", nlohmann::json()).is_string() ? a.at("type").get<std::string>() : "";
      if (kind.rfind("library.update", 0) == 0 || kind.rfind("library.refresh", 0) == 0) {
        const auto context = a.value("Context", nlohmann::json::object());
        add_section(out, context.is_object() ? id_text(context.value("librarySectionID", nlohmann::json())) : "");
      }
    }
  }
  return out;
}

NotificationListener::NotificationListener(net::ClientOptions options, std::string token, std::string client_id,
                                           std::function<void(const std::vector<std::string>&)> on_change)
    : options_(std::move(options)), token_(std::move(token)), client_id_(std::move(client_id)),
      on_change_(std::move(on_change)) {
  thread_ = std::thread([this] { run(); });
}

NotificationListener::~NotificationListener() {
  {
    const std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

bool NotificationListener::pause(std::chrono::milliseconds ms) {
  std::unique_lock lock(mutex_);
  return !wake_.wait_for(lock, ms, [this] { return stop_.load(); });
}

void NotificationListener::run() {
  auto next_pause = k_first_pause;
  while (!stop_) {
    state_ = State::connecting;
    auto http = net::make_http_client(options_);
    net::Request upgrade;
    upgrade.target = "/:/websockets/notifications";
    upgrade.headers = {
        {"X-Plex-Token", token_}, {"X-Plex-Client-Identifier", client_id_}, {"X-Plex-Product", "PlexSync"}};
    const auto on_message = [this, &next_pause](const std::string& text) {
      next_pause = k_first_pause; // a feed that delivers is healthy again
      if (auto sections = changed_sections(text); !sections.empty()) {
        on_change_(sections);
      }
    };
    const auto on_open = [this] {
      state_ = State::listening;
      ++connections_;
    };
    auto ended = http->listen(upgrade, k_max_message_bytes, on_open, on_message, [this] { return !stop_; });
    if (stop_) {
      break;
    }
    if (!ended && ended.error().http_status != 0) {
      // PMS (or a proxy in front of it) answered the upgrade with a plain HTTP status: it will
      // not change while this worker runs. Said once, at info: nothing is lost by it.
      state_ = State::refused;
      LOG_INFO("Plex does not offer its notification feed here (HTTP "
               << ended.error().http_status << "); new files in Plex are looked for on the retry schedule instead");
      return;
    }
    LOG_DEBUG("Plex's notification feed ended (" << (ended ? std::string("closed by Plex") : ended.error().message)
                                                 << "); reconnecting in " << next_pause.count() / 1000 << " s");
    if (!pause(next_pause)) {
      break;
    }
    next_pause = std::min(next_pause * 2, k_longest_pause);
  }
  state_ = State::stopped;
}

} // namespace plex
