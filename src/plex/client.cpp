#include "plex/client.hpp"

#include <algorithm>
#include <ctime>

#include <nlohmann/json.hpp>

#include "util/log.hpp"
#include "util/number.hpp"
#include "util/strings.hpp"
#include "util/url_secrets.hpp"
#include "util/utc_time.hpp"

namespace plex {

const char* to_string(Failure f) {
  switch (f) {
  case Failure::connect:
    return "connect";
  case Failure::timeout:
    return "timeout";
  case Failure::transient_status:
    return "server_error";
  case Failure::rate_limited:
    return "rate_limited";
  case Failure::auth:
    return "auth";
  case Failure::not_found:
    return "not_found";
  case Failure::permanent_status:
    return "rejected";
  case Failure::bad_response:
    return "bad_response";
  case Failure::local:
    return "local_storage";
  }
  return "unknown";
}

std::optional<int64_t> parse_retry_after(const std::string& value, int64_t now_epoch_s) {
  const auto v = util::trim(value);
  if (v.empty()) {
    return std::nullopt;
  }
  if (v.find_first_not_of("0123456789") == std::string::npos) {
    if (v.size() > 9) {
      return std::nullopt;
    }
    return std::stoll(v);
  }
  const auto when = util::parse_http_date(v);
  if (!when) {
    return std::nullopt;
  }
  return std::max<int64_t>(0, *when - now_epoch_s);
}

std::optional<Error> classify(const net::Response& response, int64_t now_epoch_s) {
  const int s = response.status;
  if (s >= 200 && s < 300) {
    return std::nullopt;
  }
  Error e{Failure::permanent_status, s, std::nullopt, "Plex answered HTTP " + std::to_string(s)};
  if (s == 401 || s == 403) {
    e.kind = Failure::auth;
    e.message += s == 401 ? ": the token is missing, wrong or revoked; set plex_token to the server owner's token"
                          : ": the token may not edit this library; use the server owner's token";
  } else if (s == 404) {
    e.kind = Failure::not_found;
  } else if (s == 429) {
    e.kind = Failure::rate_limited;
  } else if (s == 408 || s >= 500) {
    e.kind = Failure::transient_status;
  } else if (s == 301 || s == 302 || s == 307 || s == 308) {
    // Plex with "Secure connections: Required" sends plain http elsewhere; redirects are never
    // followed (the token would travel on). Settings, like the token: the queue pauses.
    e.kind = Failure::auth;
    const auto* location = response.header("Location");
    // Scheme, host and port only: the rest (a path, a query with a token) is not plex_url.
    const auto scheme_end = location != nullptr ? location->find("://") : std::string::npos;
    const auto target = scheme_end != std::string::npos
                            ? net::Url::parse(location->substr(0, location->find_first_of("/?#", scheme_end + 3)))
                            : util::Result<net::Url>(util::fail("no Location"));
    if (target && target->scheme == "https") {
      e.message += " redirecting to https: Plex requires secure connections; set plex_url to " + target->scheme +
                   "://" + target->host + ":" + std::to_string(target->port);
    } else {
      e.message += " redirecting elsewhere";
      if (location != nullptr) {
        e.message += " (";
        e.message += util::mask_url_secrets(*location);
        e.message += ")";
      }
      e.message += ": set plex_url to the address Plex itself answers on";
    }
  }
  if (const auto* ra = response.header("Retry-After"); ra != nullptr) {
    e.retry_after_s = parse_retry_after(*ra, now_epoch_s);
  }
  return e;
}

Error classify(const net::TransportError& error) {
  switch (error.kind) {
  case net::TransportFailure::connect_timeout:
  case net::TransportFailure::read_timeout:
  case net::TransportFailure::deadline:
    return Error{Failure::timeout, 0, std::nullopt, "Plex " + error.message};
  case net::TransportFailure::tls:
    // Trust is configuration, like the token: pause the queue until it is fixed, lose nothing.
    return Error{Failure::auth, 0, std::nullopt, "Plex " + error.message};
  case net::TransportFailure::too_large:
  case net::TransportFailure::protocol:
    return Error{Failure::bad_response, 0, std::nullopt, "Plex " + error.message};
  default:
    return Error{Failure::connect, 0, std::nullopt, "Plex " + error.message};
  }
}

std::string build_query(const Params& params) {
  std::string q;
  for (const auto& [k, v] : params) {
    if (!q.empty()) {
      q += '&';
    }
    q += k + "=" + util::percent_encode(v);
  }
  return q;
}

PlexClient::PlexClient(std::unique_ptr<net::HttpClient> http, std::string token, ClientIdentity identity)
    : http_(std::move(http)), token_(std::move(token)), identity_(std::move(identity)) {
  util::log::add_secret(token_);
}

Result<net::Response> PlexClient::send(const std::string& method, const std::string& target, std::string body,
                                       const std::string& content_type) {
  net::Request req;
  req.method = method;
  req.target = target;
  req.body = std::move(body);
  req.headers = {{"Accept", "application/json"},
                 {"X-Plex-Token", token_},
                 {"X-Plex-Client-Identifier", identity_.client_id},
                 {"X-Plex-Product", "PlexSync"},
                 {"X-Plex-Version", identity_.version},
                 {"X-Plex-Platform", "Linux"},
                 {"X-Plex-Device", "PlexSync"},
                 {"X-Plex-Device-Name", "PlexSync"}};
  if (!content_type.empty()) {
    req.headers.push_back({"Content-Type", content_type});
  }
  ++requests_;
  auto res = http_->send(req);
  if (!res) {
    return tl::unexpected(classify(res.error()));
  }
  if (auto err = classify(*res, std::time(nullptr)); err) {
    const auto q = target.find('?');
    err->message += " for " + method + " " + target.substr(0, q);
    return tl::unexpected(*err);
  }
  return std::move(*res);
}

namespace {

Error bad(const std::string& what) {
  return Error{Failure::bad_response, 200, std::nullopt, "Plex sent an unusable answer: " + what};
}

Result<nlohmann::json> container(const net::Response& res) {
  try {
    auto doc = nlohmann::json::parse(res.body);
    if (!doc.is_object() || !doc.contains("MediaContainer") || !doc.at("MediaContainer").is_object()) {
      return tl::unexpected(bad("no MediaContainer object"));
    }
    return doc.at("MediaContainer");
  } catch (const nlohmann::json::exception&) {
    return tl::unexpected(bad("body is not JSON"));
  }
}

// Plex types ids as numbers but older servers and XML-derived answers send strings.
std::string as_string(const nlohmann::json& obj, const char* key) {
  if (!obj.is_object() || !obj.contains(key)) {
    return {};
  }
  const auto& v = obj.at(key);
  if (v.is_string()) {
    return v.get<std::string>();
  }
  if (v.is_number_integer()) {
    return std::to_string(v.get<int64_t>());
  }
  return {};
}

int64_t as_int(const nlohmann::json& obj, const char* key) {
  if (!obj.is_object() || !obj.contains(key)) {
    return 0;
  }
  const auto& v = obj.at(key);
  if (v.is_number_integer()) {
    return v.get<int64_t>();
  }
  if (v.is_number_float()) {
    return util::to_int64(v.get<double>()).value_or(0);
  }
  if (v.is_string()) {
    try {
      return std::stoll(v.get<std::string>());
    } catch (...) {
      return 0;
    }
  }
  return 0;
}

std::vector<PartRef> parts_of(const nlohmann::json& item) {
  std::vector<PartRef> out;
  if (!item.contains("Media") || !item.at("Media").is_array()) {
    return out;
  }
  for (const auto& media : item.at("Media")) {
    if (!media.is_object() || !media.contains("Part") || !media.at("Part").is_array()) {
      continue;
    }
    for (const auto& part : media.at("Part")) {
      PartRef p{as_string(part, "file"), as_int(part, "size"), as_int(part, "duration")};
      if (!p.file.empty()) {
        out.push_back(std::move(p));
      }
    }
  }
  return out;
}

std::vector<std::string> tag_names(const nlohmann::json& item, const char* key) {
  std::vector<std::string> out;
  if (item.contains(key) && item.at(key).is_array()) {
    for (const auto& t : item.at(key)) {
      if (auto name = as_string(t, "tag"); !name.empty()) {
        out.push_back(std::move(name));
      }
    }
  }
  return out;
}

bool looks_like_xml(const std::string& body) {
  const auto first = body.find_first_not_of(" \t\r\n");
  return first != std::string::npos && body[first] == '<';
}

// A web page rather than Plex's XML (issue #31: a login portal's page was called XML).
bool looks_like_html(const net::Response& res) {
  if (const auto* type = res.header("Content-Type"); type != nullptr && util::to_lower(*type).find("text/html") == 0) {
    return true;
  }
  const auto head = util::to_lower(res.body.substr(0, 512));
  return head.find("<!doctype html") != std::string::npos || head.find("<html") != std::string::npos;
}

} // namespace

Result<nlohmann::json> PlexClient::read(const std::string& target) {
  // XML instead of the JSON asked for: a proxy that dropped the Accept header for one answer, or
  // a server that ignores it. One more read tells them apart before it counts as a failure.
  for (int attempt = 0;; ++attempt) {
    auto res = send("GET", target);
    if (!res) {
      return tl::unexpected(res.error());
    }
    if (!looks_like_xml(res->body)) {
      return container(*res);
    }
    if (looks_like_html(*res)) {
      return tl::unexpected(bad("a web page (HTML) instead of Plex's answer (HTTP " + std::to_string(res->status) +
                                "): plex_url reaches something other than Plex, such as a login page or a proxy's "
                                "page; point plex_url at Plex itself (http://<host>:32400)"));
    }
    if (attempt == 1) {
      return tl::unexpected(bad("XML instead of the JSON asked for (Accept: application/json), twice: a proxy in front "
                                "of Plex may drop the Accept header; point plex_url at Plex itself"));
    }
  }
}

Result<nlohmann::json> PlexClient::get(const std::string& target) {
  return read(target);
}

Result<std::string> PlexClient::identity() {
  TRY_ASSIGN(auto mc, read("/identity"));
  return as_string(mc, "machineIdentifier");
}

Result<std::vector<Section>> PlexClient::sections() {
  TRY_ASSIGN(const auto listing, read("/library/sections"));
  const auto* mc = &listing;
  std::vector<Section> out;
  if (mc->contains("Directory") && mc->at("Directory").is_array()) {
    for (const auto& d : mc->at("Directory")) {
      Section s{as_string(d, "key"), as_string(d, "title"), as_string(d, "type"), {}, as_string(d, "agent")};
      if (d.contains("Location") && d.at("Location").is_array()) {
        for (const auto& loc : d.at("Location")) {
          s.locations.push_back(as_string(loc, "path"));
        }
      }
      out.push_back(std::move(s));
    }
  }
  return out;
}

Result<Page> PlexClient::list_section(const std::string& section_key, int64_t start, int64_t size,
                                      int64_t updated_since) {
  // Sorted so that items added between pages do not shift what we already read.
  std::string filter;
  if (updated_since > 0) {
    filter = "&updatedAt%3E%3E=" + std::to_string(updated_since - 1); // ">>" is strictly after
  }
  TRY_ASSIGN(const auto listing, read("/library/sections/" + util::percent_encode(section_key) +
                                      "/all?type=1&sort=addedAt" + filter + "&X-Plex-Container-Start=" +
                                      std::to_string(start) + "&X-Plex-Container-Size=" + std::to_string(size)));
  const auto* mc = &listing;
  Page page;
  page.offset = as_int(*mc, "offset");
  page.total = mc->contains("totalSize") ? as_int(*mc, "totalSize") : as_int(*mc, "size");
  if (mc->contains("Metadata") && mc->at("Metadata").is_array()) {
    for (const auto& m : mc->at("Metadata")) {
      page.items.push_back(ItemSummary{as_string(m, "ratingKey"), as_string(m, "title"), as_int(m, "updatedAt"),
                                       as_int(m, "addedAt"), parts_of(m), as_string(m, "summary"),
                                       as_string(m, "studio"), as_string(m, "originallyAvailableAt"),
                                       as_string(m, "guid")});
    }
  }
  return page;
}

namespace {

Item item_of(const nlohmann::json& m, const nlohmann::json& mc) {
  Item item;
  item.rating_key = as_string(m, "ratingKey");
  item.section_id = as_string(m, "librarySectionID");
  if (item.section_id.empty()) {
    item.section_id = as_string(mc, "librarySectionID");
  }
  item.guid = as_string(m, "guid");
  item.title = as_string(m, "title");
  item.title_sort = as_string(m, "titleSort");
  item.summary = as_string(m, "summary");
  item.studio = as_string(m, "studio");
  item.originally_available_at = as_string(m, "originallyAvailableAt");
  item.tagline = as_string(m, "tagline");
  item.content_rating = as_string(m, "contentRating");
  item.year = as_int(m, "year");
  if (m.contains("userRating") && m.at("userRating").is_number()) {
    item.user_rating = m.at("userRating").get<double>();
  }
  item.last_rated_at = as_int(m, "lastRatedAt");
  item.genres = tag_names(m, "Genre");
  item.collections = tag_names(m, "Collection");
  if (m.contains("Role") && m.at("Role").is_array()) {
    for (const auto& r : m.at("Role")) {
      if (auto name = as_string(r, "tag"); !name.empty()) {
        item.actors.push_back(std::move(name));
        item.actor_photos.push_back(as_string(r, "thumb"));
      }
    }
  }
  item.parts = parts_of(m);
  if (m.contains("Field") && m.at("Field").is_array()) {
    for (const auto& f : m.at("Field")) {
      if (f.is_object() && f.contains("locked") && (f.at("locked") == true || f.at("locked") == 1)) {
        item.locked.insert(as_string(f, "name"));
      }
    }
  }
  return item;
}

} // namespace

Result<Item> PlexClient::item(const std::string& rating_key) {
  TRY_ASSIGN(const auto found, read("/library/metadata/" + util::percent_encode(rating_key)));
  if (!found.contains("Metadata") || !found.at("Metadata").is_array() || found.at("Metadata").empty()) {
    return tl::unexpected(Error{Failure::not_found, 200, std::nullopt, "Plex item " + rating_key + " is gone"});
  }
  return item_of(found.at("Metadata").at(0), found);
}

Result<std::vector<Item>> PlexClient::items(const std::vector<std::string>& rating_keys) {
  std::vector<Item> out;
  if (rating_keys.empty()) {
    return out;
  }
  std::string list;
  for (const auto& key : rating_keys) {
    if (key.empty() || key.find_first_not_of("0123456789") != std::string::npos) {
      return tl::unexpected(Error{Failure::permanent_status, 0, std::nullopt,
                                  "refusing a multi-item read with a rating key that is not a number"});
    }
    list += list.empty() ? "" : ",";
    list += key;
  }
  auto found = read("/library/metadata/" + list);
  if (!found && found.error().kind == Failure::not_found) {
    return out; // none of them exists any more: each job finds that out by itself
  }
  if (!found) {
    return tl::unexpected(found.error());
  }
  if (found->contains("Metadata") && found->at("Metadata").is_array()) {
    for (const auto& m : found->at("Metadata")) {
      if (m.is_object()) {
        out.push_back(item_of(m, *found));
        out.back().batched = true;
      }
    }
  }
  return out;
}

Result<void> PlexClient::edit(const std::string& section_key, const std::string& rating_key, const Params& params) {
  // Without id Plex applies the edit to every item of the section.
  if (rating_key.empty() || section_key.empty()) {
    return tl::unexpected(Error{Failure::permanent_status, 0, std::nullopt, "refusing a Plex edit without an item id"});
  }
  Params all = {{"type", "1"}, {"id", rating_key}};
  all.insert(all.end(), params.begin(), params.end());
  auto res = send("PUT", "/library/sections/" + util::percent_encode(section_key) + "/all?" + build_query(all));
  if (!res) {
    return tl::unexpected(res.error());
  }
  return {};
}

Result<void> PlexClient::edit_all(const std::string& section_key, const std::string& rating_key,
                                  const std::vector<Params>& batches) {
  for (const auto& batch : batches) {
    if (auto done = edit(section_key, rating_key, batch); !done) {
      return done;
    }
  }
  return {};
}

Result<void> PlexClient::upload_image(const std::string& rating_key, ImageSlot slot, const std::string& bytes,
                                      const std::string& content_type) {
  const char* list = slot == ImageSlot::poster ? "/posters" : "/arts";
  auto res = send("POST", "/library/metadata/" + util::percent_encode(rating_key) + list, bytes, content_type);
  if (!res) {
    return tl::unexpected(res.error());
  }
  return {};
}

const Section* section_holding(const std::vector<Section>& sections, const std::string& folder) {
  for (const auto& section : sections) {
    for (const auto& location : section.locations) {
      if (!location.empty() && folder.rfind(location, 0) == 0 &&
          (folder.size() == location.size() || folder[location.size()] == '/' || folder[location.size()] == '\\')) {
        return &section;
      }
    }
  }
  return nullptr;
}

std::vector<Params> split_edit(const Params& params, size_t max_query_bytes) {
  // Group by field: "genre[3].tag.tag" and "genre.locked" belong to "genre".
  std::vector<std::pair<std::string, Params>> groups;
  for (const auto& p : params) {
    const auto name = p.first.substr(0, p.first.find_first_of(".["));
    auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == name; });
    if (it == groups.end()) {
      groups.push_back({name, {}});
      it = groups.end() - 1;
    }
    it->second.push_back(p);
  }
  const auto cost = [](const Params& ps) { return ps.empty() ? 0 : build_query(ps).size() + 1; };
  std::vector<Params> out;
  Params current;
  for (const auto& [name, group] : groups) {
    if (cost(current) + cost(group) <= max_query_bytes) {
      current.insert(current.end(), group.begin(), group.end());
      continue;
    }
    if (!current.empty()) {
      out.push_back(std::move(current));
      current.clear();
    }
    if (cost(group) <= max_query_bytes) {
      current = group;
      continue;
    }
    // One list alone is too long: its entries spread over several requests, an entry's [idx]
    // parameters always together (PMS links them within one request: OAS updateItems), and the
    // removals and the lock in the last one. Indexed tags append, so the pieces add up.
    std::vector<Params> entries;
    Params tail;
    std::string last_index;
    for (const auto& p : group) {
      const auto open = p.first.find('[');
      const auto close = p.first.find(']');
      const bool indexed = open != std::string::npos && close != std::string::npos && close > open + 1; // not "[]"
      if (!indexed) {
        tail.push_back(p);
        continue;
      }
      const auto index = p.first.substr(0, close + 1);
      if (entries.empty() || index != last_index) {
        entries.emplace_back();
        last_index = index;
      }
      entries.back().push_back(p);
    }
    entries.push_back(std::move(tail));
    for (auto& entry : entries) {
      if (!current.empty() && cost(current) + cost(entry) > max_query_bytes) {
        out.push_back(std::move(current));
        current.clear();
      }
      current.insert(current.end(), entry.begin(), entry.end());
    }
  }
  if (!current.empty()) {
    out.push_back(std::move(current));
  }
  return out;
}

Result<std::vector<CollectionSummary>> PlexClient::collections(const std::string& section_key) {
  // python-plexapi's LibrarySection.collections(): a search of type 18 (collection), paged.
  std::vector<CollectionSummary> out;
  constexpr int64_t k_page = 200;
  constexpr int64_t k_max_pages = 100; // 20,000 collections: a bound against a PMS that pages forever
  int64_t seen = 0;
  for (int64_t start = 0; start < k_page * k_max_pages; start += k_page) {
    TRY_ASSIGN(const auto mc, read("/library/sections/" + util::percent_encode(section_key) +
                                   "/all?type=18&X-Plex-Container-Start=" + std::to_string(start) +
                                   "&X-Plex-Container-Size=" + std::to_string(k_page)));
    // JSON answers carry collections as Metadata; python-plexapi reads the XML's Directory
    // elements. Either is taken.
    size_t got = 0;
    for (const char* element : {"Metadata", "Directory"}) {
      if (!mc.contains(element) || !mc.at(element).is_array()) {
        continue;
      }
      for (const auto& m : mc.at(element)) {
        if (auto rk = as_string(m, "ratingKey"); !rk.empty()) {
          out.push_back({std::move(rk), as_string(m, "title"), as_int(m, "childCount"), as_int(m, "smart") != 0});
        }
        ++got;
      }
    }
    seen += static_cast<int64_t>(got);
    const auto total = mc.contains("totalSize") ? as_int(mc, "totalSize") : seen;
    if (got == 0 || seen >= total) {
      break;
    }
  }
  return out;
}

Result<void> PlexClient::delete_collection(const std::string& rating_key) {
  auto res = send("DELETE", "/library/collections/" + util::percent_encode(rating_key));
  if (!res) {
    return tl::unexpected(res.error());
  }
  return {};
}

Result<void> PlexClient::scan(const std::string& section_key, const std::string& folder) {
  auto res = send("GET", "/library/sections/" + util::percent_encode(section_key) +
                             "/refresh?path=" + util::percent_encode(folder));
  if (!res) {
    return tl::unexpected(res.error());
  }
  return {};
}

Result<nlohmann::json> PlexClient::call(const std::string& method, const std::string& target) {
  if (method == "GET") {
    return read(target);
  }
  auto res = send(method, target);
  if (!res) {
    return tl::unexpected(res.error());
  }
  if (util::trim(res->body).empty()) {
    return nlohmann::json::object();
  }
  return container(*res);
}

Result<void> PlexClient::refresh_item(const std::string& rating_key) {
  auto res = send("PUT", "/library/metadata/" + util::percent_encode(rating_key) + "/refresh");
  if (!res) {
    return tl::unexpected(res.error());
  }
  return {};
}

Result<void> PlexClient::bind_item(const std::string& rating_key, const std::string& guid, const std::string& name) {
  auto res = send("PUT", "/library/metadata/" + util::percent_encode(rating_key) +
                             "/match?guid=" + util::percent_encode(guid) + "&name=" + util::percent_encode(name));
  if (!res) {
    return tl::unexpected(res.error());
  }
  return {};
}

} // namespace plex
