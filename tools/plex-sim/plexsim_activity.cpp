// People's activity on the simulated server (issue #27): accounts, the play history, per-item
// view state and Plex Pass webhooks. Forms checked against python-plexapi (PlexServer.history:
// sort=viewedAt:desc, "viewedAt>" as the lower bound, X-Plex-Container paging;
// systemAccounts: GET /accounts, Account id/name) and payloads users posted from real servers
// (media.rate carries a top-level "rating" besides Metadata.userRating/lastRatedAt).
#include <algorithm>

#include "net/http.hpp"
#include "plexsim.hpp"
#include "util/strings.hpp"

namespace plexsim {
namespace {

constexpr int64_t k_history_page_cap = 100; // unknown on a real PMS: plexsim pages, so clients must

std::optional<int64_t> number_param(const std::vector<std::pair<std::string, std::string>>& query,
                                    const std::string& key) {
  for (const auto& [k, v] : query) {
    if (k == key && !v.empty() && v.size() < 19 && v.find_first_not_of("0123456789-") == std::string::npos) {
      return std::stoll(v);
    }
  }
  return std::nullopt;
}

} // namespace

void add_view_fields(nlohmann::json& metadata, const AccountView& view) {
  if (view.user_rating) {
    metadata["userRating"] = *view.user_rating;
  }
  for (const auto& [key, value] :
       {std::pair{"lastRatedAt", view.last_rated_at}, std::pair{"viewOffset", view.view_offset},
        std::pair{"viewCount", view.view_count}, std::pair{"lastViewedAt", view.last_viewed_at}}) {
    if (value != 0) {
      metadata[key] = value; // PMS leaves out what an account never did
    }
  }
}

AccountView PlexSim::view_of(const Item& item, int64_t account_id) const {
  if (account_id == 1) {
    return {item.user_rating, item.last_rated_at, item.view_offset, item.view_count, item.last_viewed_at};
  }
  const auto it = views_.find({account_id, item.rating_key});
  return it == views_.end() ? AccountView{} : it->second;
}

std::optional<net::ServerResponse> PlexSim::activity_route(const net::ServerRequest& req, bool json) {
  if (req.method != "GET") {
    return std::nullopt;
  }
  const auto query = util::parse_query(req.query);
  const auto paging = [&](const char* name) -> std::optional<int64_t> {
    if (const auto* h = req.header(name);
        h != nullptr && !h->empty() && h->find_first_not_of("0123456789") == std::string::npos && h->size() < 12) {
      return std::stoll(*h);
    }
    return number_param(query, name);
  };
  if (req.path == "/accounts") {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& a : accounts_) {
      list.push_back({{"id", a.id}, {"key", "/accounts/" + std::to_string(a.id)}, {"name", a.name}});
    }
    return container({{"size", list.size()}, {"identifier", "com.plexapp.system.accounts"}, {"Account", list}}, json);
  }
  if (req.path == "/status/sessions/history/all") {
    std::vector<const HistoryRow*> rows;
    const auto after = number_param(query, "viewedAt>");
    const auto account = number_param(query, "accountID");
    for (const auto& h : history_) {
      if ((after && h.viewed_at <= *after) || (account && h.account_id != *account)) {
        continue;
      }
      rows.push_back(&h);
    }
    std::string sort = "viewedAt:desc";
    for (const auto& [k, v] : query) {
      if (k == "sort") {
        sort = v;
      }
    }
    std::stable_sort(rows.begin(), rows.end(), [&](const HistoryRow* a, const HistoryRow* b) {
      return sort == "viewedAt:asc" || sort == "viewedAt" ? a->viewed_at < b->viewed_at : a->viewed_at > b->viewed_at;
    });
    const auto total = static_cast<int64_t>(rows.size());
    const int64_t start = std::max<int64_t>(0, paging("X-Plex-Container-Start").value_or(0));
    const int64_t size =
        std::min(k_history_page_cap, std::max<int64_t>(0, paging("X-Plex-Container-Size").value_or(total)));
    nlohmann::json metadata = nlohmann::json::array();
    for (int64_t i = start; i < std::min(total, start + size); ++i) {
      const auto& h = *rows[static_cast<size_t>(i)];
      nlohmann::json m = {{"historyKey", "/status/sessions/history/" + std::to_string(h.id)},
                          {"key", "/library/metadata/" + h.rating_key},
                          {"ratingKey", h.rating_key},
                          {"type", "movie"},
                          {"viewedAt", h.viewed_at},
                          {"accountID", h.account_id},
                          {"deviceID", 3}};
      if (const auto* item = find_item(h.rating_key); item != nullptr) {
        m["librarySectionID"] = item->section_key; // a string here, unlike in library listings
        m["title"] = item->text.count("title") != 0U ? item->text.at("title") : "";
      }
      metadata.push_back(std::move(m));
    }
    nlohmann::json mc = {{"size", metadata.size()}, {"totalSize", total}, {"offset", start}};
    if (!metadata.empty()) {
      mc["Metadata"] = metadata;
    }
    return container(mc, json);
  }
  if (req.path == "/library/all") {
    // Items of every section, filtered by the owner's lastViewedAt / lastRatedAt ("x>>=" is "after").
    const auto viewed = number_param(query, "lastViewedAt>>");
    const auto rated = number_param(query, "lastRatedAt>>");
    std::vector<const Item*> matches;
    for (const auto& [rk, item] : items_) {
      if (item->pending || (viewed && item->last_viewed_at <= *viewed) || (rated && item->last_rated_at <= *rated)) {
        continue;
      }
      matches.push_back(item.get());
    }
    const auto total = static_cast<int64_t>(matches.size());
    const int64_t start = std::max<int64_t>(0, paging("X-Plex-Container-Start").value_or(0));
    const int64_t size = std::max<int64_t>(0, paging("X-Plex-Container-Size").value_or(total));
    nlohmann::json metadata = nlohmann::json::array();
    for (int64_t i = start; i < std::min(total, start + size); ++i) {
      metadata.push_back(render_item(*matches[static_cast<size_t>(i)], false));
    }
    nlohmann::json mc = {{"size", metadata.size()}, {"totalSize", total}, {"offset", start}};
    if (!metadata.empty()) {
      mc["Metadata"] = metadata;
    }
    return container(mc, json);
  }
  return std::nullopt;
}

int64_t PlexSim::add_account(const std::string& name) {
  std::lock_guard lock(mutex_);
  const int64_t id = 8000000 + static_cast<int64_t>(accounts_.size());
  accounts_.push_back({id, name, id});
  return id;
}

std::vector<Account> PlexSim::accounts() {
  std::lock_guard lock(mutex_);
  return accounts_;
}

std::vector<HistoryRow> PlexSim::history() {
  std::lock_guard lock(mutex_);
  return history_;
}

void PlexSim::set_webhook_url(const std::string& url) {
  std::lock_guard lock(mutex_);
  webhook_url_ = url;
}

nlohmann::json PlexSim::webhook_payload(const std::string& event, const Item& item, int64_t account_id) const {
  const auto account =
      std::find_if(accounts_.begin(), accounts_.end(), [&](const Account& a) { return a.id == account_id; });
  const auto view = view_of(item, account_id);
  nlohmann::json meta = {{"librarySectionType", "movie"},
                         {"ratingKey", item.rating_key},
                         {"key", "/library/metadata/" + item.rating_key},
                         {"guid", item.guid.empty() ? "local://" + item.rating_key : item.guid},
                         {"type", "movie"},
                         {"title", item.text.count("title") != 0U ? item.text.at("title") : ""},
                         {"librarySectionID", std::stoll(item.section_key)},
                         {"duration", item.duration},
                         {"addedAt", item.added_at},
                         {"updatedAt", item.updated_at}};
  add_view_fields(meta, view);
  // The webhook belongs to the owner's plex.tv account: "owner" says the server is theirs, "user"
  // whether the event is their own; Account.id is a plex.tv id (the owner's is not 1 here).
  return {{"event", event},
          {"user", account_id == 1},
          {"owner", true},
          {"Account",
           {{"id", account == accounts_.end() ? account_id : account->plex_tv_id},
            {"thumb", "https://plex.tv/users/0a1b2c3d/avatar"},
            {"title", account == accounts_.end() ? "" : account->name}}},
          {"Server", {{"title", "plexsim"}, {"uuid", "5e1f0c9a7b3d42e8a6c4f19d08b2e7a3c6d5f401"}}},
          {"Player",
           {{"local", true}, {"publicAddress", "203.0.113.7"}, {"title", "Living Room TV"}, {"uuid", "plexsim-tv-1"}}},
          {"Metadata", meta}};
}

void PlexSim::play(const std::string& rating_key, int64_t account_id, int64_t viewed_at, bool finished,
                   int64_t offset_ms) {
  std::vector<nlohmann::json> payloads;
  {
    std::lock_guard lock(mutex_);
    auto* item = find_item(rating_key);
    if (item == nullptr) {
      return;
    }
    AccountView view = view_of(*item, account_id);
    view.last_viewed_at = viewed_at;
    if (finished) {
      ++view.view_count;
      view.view_offset = 0;
      history_.push_back({next_history_id_++, rating_key, account_id, viewed_at});
    } else {
      view.view_offset = offset_ms;
    }
    if (account_id == 1) {
      item->view_count = view.view_count;
      item->view_offset = view.view_offset;
      item->last_viewed_at = view.last_viewed_at;
    } else {
      views_[{account_id, rating_key}] = view;
    }
    if (!webhook_url_.empty()) {
      payloads.push_back(webhook_payload("media.stop", *item, account_id));
      if (finished) {
        payloads.push_back(webhook_payload("media.scrobble", *item, account_id));
      }
    }
  }
  deliver_webhooks(payloads);
}

void PlexSim::rate_as(const std::string& rating_key, int64_t account_id, std::optional<double> rating, int64_t at) {
  std::vector<nlohmann::json> payloads;
  {
    std::lock_guard lock(mutex_);
    auto* item = find_item(rating_key);
    if (item == nullptr) {
      return;
    }
    if (account_id == 1) {
      item->user_rating = rating;
      item->last_rated_at = at;
    } else {
      auto& view = views_[{account_id, rating_key}];
      view.user_rating = rating;
      view.last_rated_at = at;
    }
    if (!webhook_url_.empty()) {
      auto payload = webhook_payload("media.rate", *item, account_id);
      payload["rating"] = rating ? *rating : -1.0; // a cleared rating arrives as -1
      payloads.push_back(std::move(payload));
    }
  }
  deliver_webhooks(payloads);
}

void PlexSim::deliver_webhooks(const std::vector<nlohmann::json>& payloads) {
  std::string url;
  {
    std::lock_guard lock(mutex_);
    url = webhook_url_;
  }
  const auto slash = url.find('/', url.find("://") + 3);
  auto base = net::Url::parse(url.substr(0, slash));
  if (!base || slash == std::string::npos) {
    return;
  }
  for (const auto& payload : payloads) {
    // As PMS posts them: multipart/form-data, the JSON in a part named "payload" (and, for some
    // events, a JPEG in "thumb", which receivers must skip).
    const std::string boundary = "------------------------plexsim5e1f0c9a";
    std::string body =
        "--" + boundary +
        "\r\nContent-Disposition: form-data; name=\"payload\"\r\nContent-Type: application/json\r\n\r\n" +
        payload.dump() + "\r\n";
    if (payload.value("event", "") == "media.scrobble") {
      body += "--" + boundary +
              "\r\nContent-Disposition: form-data; name=\"thumb\"; filename=\"payload\"\r\nContent-Type: "
              "image/jpeg\r\n\r\n" +
              std::string(2048, '\xff') + "\r\n";
    }
    body += "--" + boundary + "--\r\n";
    net::ClientOptions opts;
    opts.base = *base;
    opts.connect_timeout_ms = 2000;
    opts.read_timeout_ms = 5000;
    opts.total_timeout_ms = 5000;
    net::Request req{"POST",
                     url.substr(slash),
                     {{"Content-Type", "multipart/form-data; boundary=" + boundary},
                      {"User-Agent", "PlexMediaServer/1.43.4.10389-plexsim"}},
                     body};
    // Fire and forget, as PMS: no retry when the receiver is down.
    if (auto res = net::make_http_client(opts)->send(req); res && res->status / 100 == 2) {
      ++webhooks_delivered_;
    }
  }
}

} // namespace plexsim
