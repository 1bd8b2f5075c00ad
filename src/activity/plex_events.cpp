#include "activity/plex_events.hpp"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "util/strings.hpp"

namespace activity {
namespace {

// Plex's JSON gives numbers as numbers, but keys and counts have been seen as strings through
// proxies and in XML-to-JSON conversions: both are read, anything else is "absent".
std::optional<int64_t> integer(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end()) {
    return std::nullopt;
  }
  if (it->is_number_integer()) {
    return it->get<int64_t>();
  }
  if (it->is_number_float()) {
    const double d = it->get<double>();
    if (std::isfinite(d) && std::fabs(d) < 9e15) {
      return static_cast<int64_t>(d);
    }
    return std::nullopt;
  }
  if (it->is_string()) {
    const auto& s = it->get_ref<const std::string&>();
    if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos) {
      return std::nullopt;
    }
    return std::stoll(s);
  }
  return std::nullopt;
}

std::optional<double> number(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end()) {
    return std::nullopt;
  }
  if (it->is_number()) {
    const double d = it->get<double>();
    return std::isfinite(d) ? std::optional<double>(d) : std::nullopt;
  }
  if (it->is_string()) {
    const auto& s = it->get_ref<const std::string&>();
    if (s.empty() || s.size() > 24 || s.find_first_not_of("0123456789.-") != std::string::npos) {
      return std::nullopt;
    }
    char* end = nullptr;
    const double d = std::strtod(s.c_str(), &end);
    return end != nullptr && *end == '\0' && std::isfinite(d) ? std::optional<double>(d) : std::nullopt;
  }
  return std::nullopt;
}

std::string text(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end()) {
    return {};
  }
  if (it->is_string()) {
    return it->get<std::string>();
  }
  if (it->is_number_integer()) {
    return std::to_string(it->get<int64_t>());
  }
  return {};
}

bool digits(const std::string& s) {
  return !s.empty() && s.size() <= 18 && s.find_first_not_of("0123456789") == std::string::npos;
}

// A MediaContainer's list under key (absent = empty); anything but an array of objects is an error.
util::Result<std::vector<const nlohmann::json*>> list_of(const nlohmann::json& container, const char* key,
                                                         const char* what) {
  std::vector<const nlohmann::json*> out;
  if (!container.is_object()) {
    return util::fail(std::string(what) + ": Plex's answer is not a MediaContainer object");
  }
  const auto it = container.find(key);
  if (it == container.end() || it->is_null()) {
    return out;
  }
  if (!it->is_array()) {
    return util::fail(std::string(what) + ": " + key + " is not a list");
  }
  for (const auto& e : *it) {
    if (!e.is_object()) {
      return util::fail(std::string(what) + ": an entry of " + key + " is not an object");
    }
    out.push_back(&e);
  }
  return out;
}

ViewState view_state_of(const nlohmann::json& m) {
  ViewState v;
  v.rating_key = text(m, "ratingKey");
  if (auto r = number(m, "userRating"); r && *r >= 0 && *r <= 10) {
    v.user_rating = *r;
  }
  v.last_rated_at = integer(m, "lastRatedAt").value_or(0);
  v.view_offset_ms = std::max<int64_t>(0, integer(m, "viewOffset").value_or(0));
  v.view_count = std::max<int64_t>(0, integer(m, "viewCount").value_or(0));
  v.last_viewed_at = integer(m, "lastViewedAt").value_or(0);
  v.duration_ms = std::max<int64_t>(0, integer(m, "duration").value_or(0));
  return v;
}

// name="x" as a parameter of its own, not the tail of filename="x".
bool has_parameter(const std::string& headers, const std::string& wanted) {
  for (size_t at = headers.find(wanted); at != std::string::npos; at = headers.find(wanted, at + 1)) {
    if (at > 0 && (headers[at - 1] == ';' || headers[at - 1] == ' ' || headers[at - 1] == '\t')) {
      return true;
    }
  }
  return false;
}

} // namespace

util::Result<HistoryPage> history_from_json(const nlohmann::json& container) {
  TRY_ASSIGN(const auto entries, list_of(container, "Metadata", "Plex's play history"));
  HistoryPage page;
  page.size = entries.size();
  if (auto total = integer(container, "totalSize")) {
    page.total = *total;
  }
  for (const auto* e : entries) {
    const auto type = text(*e, "type");
    if (!type.empty() && type != "movie") {
      continue; // episodes, tracks: not from a library PlexSync writes
    }
    HistoryEntry h;
    h.rating_key = text(*e, "ratingKey");
    h.viewed_at = integer(*e, "viewedAt").value_or(0);
    h.account_id = integer(*e, "accountID").value_or(-1);
    if (!digits(h.rating_key) || h.viewed_at <= 0 || h.account_id < 0) {
      continue; // an item since deleted has no ratingKey; nothing to import for it
    }
    page.entries.push_back(std::move(h));
  }
  return page;
}

util::Result<std::map<int64_t, std::string>> accounts_from_json(const nlohmann::json& container) {
  TRY_ASSIGN(const auto entries, list_of(container, "Account", "Plex's accounts"));
  std::map<int64_t, std::string> out;
  for (const auto* e : entries) {
    const auto id = integer(*e, "id");
    const auto name = text(*e, "name");
    if (id && *id > 0 && !name.empty()) {
      out[*id] = name;
    }
  }
  return out;
}

util::Result<std::vector<ViewState>> view_states_from_json(const nlohmann::json& container) {
  TRY_ASSIGN(const auto entries, list_of(container, "Metadata", "Plex's items"));
  std::vector<ViewState> out;
  for (const auto* e : entries) {
    auto v = view_state_of(*e);
    if (digits(v.rating_key)) {
      out.push_back(std::move(v));
    }
  }
  return out;
}

util::Result<WebhookEvent> webhook_event_from_json(const nlohmann::json& payload) {
  if (!payload.is_object()) {
    return util::fail("the webhook payload is not a JSON object");
  }
  WebhookEvent e;
  e.event = text(payload, "event");
  if (e.event.empty()) {
    return util::fail("the webhook payload has no event");
  }
  const auto flag = [&](const char* key) {
    const auto it = payload.find(key);
    return it != payload.end() && it->is_boolean() && it->get<bool>();
  };
  e.owner_self = flag("owner") && flag("user");
  if (const auto a = payload.find("Account"); a != payload.end() && a->is_object()) {
    e.account = text(*a, "title");
  }
  if (const auto m = payload.find("Metadata"); m != payload.end() && m->is_object()) {
    e.state = view_state_of(*m);
    e.rating_key = e.state.rating_key;
    e.type = text(*m, "type");
  }
  if (e.event == "media.rate") {
    auto r = number(payload, "rating");
    if (!r) {
      r = e.state.user_rating;
    }
    if (r && *r >= 0 && *r <= 10) {
      e.rating = *r;
    }
  }
  return e;
}

util::Result<WebhookEvent> webhook_event_from_text(std::string_view payload) {
  auto j = nlohmann::json::parse(payload, nullptr, false);
  if (j.is_discarded()) {
    return util::fail("the webhook payload is not JSON");
  }
  return webhook_event_from_json(j);
}

util::Result<std::string> multipart_part(std::string_view content_type, std::string_view body, std::string_view name) {
  // boundary=... (maybe quoted) from the Content-Type; RFC 2046 limits it to 70 characters.
  const auto lower = util::to_lower(std::string(content_type));
  if (lower.rfind("multipart/form-data", 0) != 0) {
    return util::fail(
        "the webhook is not multipart/form-data (Content-Type: " + std::string(content_type.substr(0, 60)) + ")");
  }
  const auto at = lower.find("boundary=");
  if (at == std::string::npos) {
    return util::fail("the webhook's Content-Type has no boundary");
  }
  std::string boundary(content_type.substr(at + 9));
  if (const auto semi = boundary.find(';'); semi != std::string::npos) {
    boundary.resize(semi);
  }
  if (boundary.size() >= 2 && boundary.front() == '"' && boundary.back() == '"') {
    boundary = boundary.substr(1, boundary.size() - 2);
  }
  if (boundary.empty() || boundary.size() > 70) {
    return util::fail("the webhook's multipart boundary is empty or longer than 70 characters");
  }
  const std::string delimiter = "--" + boundary;
  size_t pos = body.find(delimiter);
  while (pos != std::string_view::npos) {
    size_t start = pos + delimiter.size();
    if (body.substr(start, 2) == "--") {
      break; // the closing delimiter
    }
    const size_t headers_end = body.find("\r\n\r\n", start);
    if (headers_end == std::string_view::npos) {
      break;
    }
    const auto headers = util::to_lower(std::string(body.substr(start, headers_end - start)));
    const size_t content = headers_end + 4;
    const size_t next = body.find("\r\n" + delimiter, content);
    if (next == std::string_view::npos) {
      return util::fail("the webhook's multipart body ends inside a part");
    }
    const std::string wanted = "name=\"" + util::to_lower(std::string(name)) + "\"";
    if (headers.find("content-disposition") != std::string::npos && has_parameter(headers, wanted)) {
      return std::string(body.substr(content, next - content));
    }
    pos = next + 2;
  }
  return util::fail("the webhook has no \"" + std::string(name) + "\" part");
}

int to_rating100(double plex_rating) {
  return static_cast<int>(std::lround(std::clamp(plex_rating, 0.0, 10.0) * 10.0));
}

double to_plex_rating(int rating100) {
  return std::clamp(rating100, 0, 100) / 10.0;
}

} // namespace activity
