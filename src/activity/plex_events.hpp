// What Plex tells about people's activity (issue #27), read from its answers: the play history
// (/status/sessions/history/all), the server's accounts (/accounts), items with their view state
// (/library/all filtered by lastViewedAt or lastRatedAt) and webhook deliveries (multipart POST
// with a JSON part named "payload"). Pure functions: every shape that is not what Plex sends is an
// error naming what was wrong, never an exception (the webhook reader is fuzzed).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "util/expected.hpp"

namespace activity {

// One entry of the play history: a view Plex counted (a scrobble, or "mark as played").
struct HistoryEntry {
  int64_t account_id = 0;
  std::string rating_key;
  int64_t viewed_at = 0; // Unix seconds
};
struct HistoryPage {
  std::vector<HistoryEntry> entries; // movies only; other types are skipped
  int64_t total = -1;                // totalSize when given
  size_t size = 0;                   // entries in the answer, of every type (for paging)
};
util::Result<HistoryPage> history_from_json(const nlohmann::json& container);

// Account id -> name. PMS's own id for the owner is 1 (webhooks carry plex.tv ids instead).
util::Result<std::map<int64_t, std::string>> accounts_from_json(const nlohmann::json& container);

// An item's state for the token's account (the owner): what it watched and rated.
struct ViewState {
  std::string rating_key;
  std::optional<double> user_rating; // 0-10; nullopt = not rated
  int64_t last_rated_at = 0;
  int64_t view_offset_ms = 0; // resume point; 0 = none
  int64_t view_count = 0;
  int64_t last_viewed_at = 0;
  int64_t duration_ms = 0;
};
util::Result<std::vector<ViewState>> view_states_from_json(const nlohmann::json& container);

// One webhook delivery.
struct WebhookEvent {
  std::string event;       // media.scrobble | media.stop | media.rate | ... (others are ignored)
  std::string account;     // Account.title
  bool owner_self = false; // the server owner's own activity (owner and user both true)
  std::string rating_key;
  std::string type; // Metadata.type
  ViewState state;  // what Metadata carries
  // media.rate: the new rating (the top-level "rating", else Metadata.userRating); nullopt when
  // neither is given or it is negative, which Plex sends when a rating is cleared.
  std::optional<double> rating;
};
util::Result<WebhookEvent> webhook_event_from_json(const nlohmann::json& payload);
// The same from the payload's text (the inbox keeps the text Plex sent).
util::Result<WebhookEvent> webhook_event_from_text(std::string_view payload);

// The part named `name` of a multipart/form-data body, given the request's Content-Type (which
// carries the boundary). Errors name what is missing; bounded work on any input.
util::Result<std::string> multipart_part(std::string_view content_type, std::string_view body, std::string_view name);

// Plex's 0-10 rating as Stash's rating100, and back (Plex shows half stars: 7.0 is 3.5 stars).
int to_rating100(double plex_rating);
double to_plex_rating(int rating100);

} // namespace activity
