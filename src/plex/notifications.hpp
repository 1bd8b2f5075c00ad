// Plex Media Server's notification feed (GET /:/websockets/notifications upgraded to a WebSocket),
// which Plex's own apps use to learn of new items at once; python-plexapi's AlertListener reads
// the same feed (it puts the token in the URL; PlexSync sends it as the X-Plex-Token header, as
// it does for every request). A worker holds one feed while scenes wait for Plex to list their
// files, and retries them the moment Plex reports a library change (issue #29: with only the
// retry schedule, new files synced up to five minutes late).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "net/http.hpp"

namespace plex {

// The library sections a notification message says changed: a timeline entry of the library
// (an item created, processed or deleted) or a library scan or refresh that ended. Empty for
// every other message (playback, transcoder, server status) and for text that is not JSON.
// Section ids come as strings or numbers depending on the PMS release; both are read.
std::vector<std::string> changed_sections(const std::string& message);

class NotificationListener {
public:
  enum class State { connecting, listening, refused, stopped };

  // Starts a thread that holds the feed: reconnects with a growing pause (1 s doubling to 60 s)
  // when it drops, and gives up for good when PMS refuses the upgrade with an HTTP status (an old
  // PMS, or a proxy that passes no WebSockets): the retry schedule then does the job alone.
  // on_change runs on that thread for each message naming changed sections.
  NotificationListener(net::ClientOptions options, std::string token, std::string client_id,
                       std::function<void(const std::vector<std::string>&)> on_change);
  ~NotificationListener(); // stops within about a second
  NotificationListener(const NotificationListener&) = delete;
  NotificationListener& operator=(const NotificationListener&) = delete;

  [[nodiscard]] State state() const { return state_.load(); }
  [[nodiscard]] int64_t connections() const { return connections_.load(); } // feeds opened so far

private:
  void run();
  bool pause(std::chrono::milliseconds ms); // false when stopping

  net::ClientOptions options_;
  std::string token_;
  std::string client_id_;
  std::function<void(const std::vector<std::string>&)> on_change_;
  std::atomic<State> state_{State::connecting};
  std::atomic<int64_t> connections_{0};
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::thread thread_;
};

} // namespace plex
