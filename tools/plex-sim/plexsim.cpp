#include "plexsim.hpp"

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

#include "image/codec.hpp"
#include "sim/library.hpp"
#include "util/digest.hpp"
#include "util/strings.hpp"

namespace plexsim {
namespace {

constexpr const char* k_machine_id = "5e1f0c9a7b3d42e8a6c4f19d08b2e7a3c6d5f401";
// Built on first use rather than before main(), where a throw could not be caught.
const std::set<std::string>& text_fields() {
  static const std::set<std::string> fields = {"title",       "titleSort", "originalTitle", "summary",
                                               "tagline",     "studio",    "contentRating", "originallyAvailableAt",
                                               "editionTitle"};
  return fields;
}
// The numeric fields real clients edit: userRating (python-plexapi editUserRating, Kometa) and
// addedAt (python-plexapi editAddedAt). `year` is deliberately absent: PMS documents no such edit
// field, no real client sends it, and Plexopedia documents 400 for an invalid field name. Whether a
// real PMS ignores or refuses it is unknown; the stricter answer is modelled (fidelity row 4).
const std::set<std::string>& numeric_fields() {
  static const std::set<std::string> fields = {"userRating", "addedAt"};
  return fields;
}
// Fields that can only be locked (python-plexapi lockPoster/lockArt/lockTheme).
const std::set<std::string>& lock_only_fields() {
  static const std::set<std::string> fields = {"thumb", "art", "theme"};
  return fields;
}
const std::vector<std::pair<std::string, std::string>>& tag_types() {
  static const std::vector<std::pair<std::string, std::string>> types = {
      {"genre", "Genre"},     {"director", "Director"},     {"writer", "Writer"}, {"producer", "Producer"},
      {"country", "Country"}, {"collection", "Collection"}, {"label", "Label"},   {"actor", "Role"}};
  return types;
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string xml_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    switch (c) {
    case '&':
      out += "&amp;";
      break;
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '"':
      out += "&quot;";
      break;
    case '\n':
      out += "&#10;";
      break;
    default:
      out.push_back(c);
    }
  }
  return out;
}

std::string xml_value(const nlohmann::json& v) {
  if (v.is_boolean()) {
    return v.get<bool>() ? "1" : "0";
  }
  if (v.is_string()) {
    return v.get<std::string>();
  }
  if (v.is_number_float()) {
    std::string s = v.dump();
    return s;
  }
  return v.dump();
}

void xml_element(std::string& out, const std::string& name, const nlohmann::json& obj,
                 const std::string& item_element) {
  out += "<" + name;
  for (const auto& [k, v] : obj.items()) {
    if (!v.is_array() && !v.is_object() && !v.is_null()) {
      out += " " + k + "=\"" + xml_escape(xml_value(v)) + "\"";
    }
  }
  bool children = false;
  for (const auto& [k, v] : obj.items()) {
    if (!v.is_array()) {
      continue;
    }
    for (const auto& child : v) {
      if (!children) {
        out += ">\n";
        children = true;
      }
      std::string child_name = k;
      if (k == "Metadata") {
        child_name = item_element;
        if (child.contains("type") && child.at("type") == "collection") {
          child_name = "Directory";
        }
      }
      xml_element(out, child_name, child, item_element);
    }
  }
  out += children ? "</" + name + ">\n" : " />\n";
}

std::string page_401() {
  return "<html><head><title>Unauthorized</title></head><body><h1>401 Unauthorized</h1></body></html>";
}

bool valid_date(const std::string& d) {
  if (d.size() != 10 || d[4] != '-' || d[7] != '-') {
    return false;
  }
  for (size_t i : {0U, 1U, 2U, 3U, 5U, 6U, 8U, 9U}) {
    if (d[i] < '0' || d[i] > '9') {
      return false;
    }
  }
  return true;
}

// "genre[0].tag.tag" -> ("genre", "0", "tag.tag"); "genre[].tag.tag-" -> ("genre", "", "tag.tag-").
bool split_tag_key(const std::string& key, std::string& type, std::string& index, std::string& rest) {
  const auto open = key.find('[');
  const auto close = key.find(']');
  if (open == std::string::npos || close == std::string::npos || close < open || close + 1 >= key.size() ||
      key[close + 1] != '.') {
    return false;
  }
  type = key.substr(0, open);
  index = key.substr(open + 1, close - open - 1);
  rest = key.substr(close + 2);
  return true;
}

} // namespace

net::ServerResponse html_error(int status) {
  auto r = sim::text_response(status, "text/html",
                              status == 401 ? page_401()
                                            : "<html><head><title>" + std::string(net::status_reason(status)) +
                                                  "</title></head><body><h1>" + std::to_string(status) + " " +
                                                  net::status_reason(status) + "</h1></body></html>");
  r.headers.push_back({"X-Plex-Protocol", "1.0"});
  r.headers.push_back({"Cache-Control", "no-cache"});
  return r;
}

std::string to_xml(const nlohmann::json& media_container, const std::string& item_element) {
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  xml_element(out, "MediaContainer", media_container, item_element);
  return out;
}

PlexSim::PlexSim(Options options) : options_(std::move(options)) {}

int64_t PlexSim::next_epoch() {
  const int64_t now = now_ms() / 1000;
  last_epoch_ = std::max(now, last_epoch_ + 1);
  return last_epoch_;
}

int64_t PlexSim::tag_id(const std::string& type, const std::string& name) {
  const auto key = type + "\x1f" + util::to_lower(name);
  auto it = tag_ids_.find(key);
  if (it != tag_ids_.end()) {
    return it->second;
  }
  tag_ids_[key] = ++next_tag_id_;
  return next_tag_id_;
}

Item* PlexSim::find_item(const std::string& rk) {
  auto it = items_.find(rk);
  return it == items_.end() || it->second->pending ? nullptr : it->second.get();
}

void PlexSim::load(const nlohmann::json& library) {
  std::lock_guard lock(mutex_);
  sections_.clear();
  items_.clear();
  collections_.clear();
  int section_no = 0;
  for (const auto& s : library.value("sections", nlohmann::json::array())) {
    Section sec;
    sec.key = s.value("key", std::to_string(++section_no));
    sec.title = s.value("title", "Movies");
    sec.type = s.value("type", "movie");
    sec.uuid = s.value("uuid", "00000000-0000-4000-8000-00000000000" + sec.key.substr(0, 1));
    for (const auto& l : s.value("locations", nlohmann::json::array())) {
      sec.locations.push_back(l.get<std::string>());
    }
    sections_.push_back(std::move(sec));
  }
  int64_t part_id = 3000;
  for (const auto& j : library.value("items", nlohmann::json::array())) {
    auto item = std::make_unique<Item>();
    item->rating_key =
        j.contains("ratingKey") ? j.at("ratingKey").get<std::string>() : std::to_string(++next_rating_key_);
    item->section_key = j.value("section", sections_.empty() ? "1" : sections_.front().key);
    for (const auto& f : text_fields()) {
      if (j.contains(f) && j.at(f).is_string()) {
        item->text[f] = j.at(f).get<std::string>();
      }
    }
    if (j.contains("userRating") && j.at("userRating").is_number()) {
      item->user_rating = j.at("userRating").get<double>();
    }
    item->year = j.value("year", int64_t{0});
    item->added_at = j.value("addedAt", int64_t{1709900000});
    item->updated_at = j.value("updatedAt", item->added_at);
    item->thumb_epoch = item->updated_at;
    item->art_epoch = item->updated_at;
    item->media_id = 2000 + static_cast<int64_t>(items_.size());
    for (const auto& p : j.value("parts", nlohmann::json::array())) {
      item->parts.push_back(
          Part{++part_id, p.value("file", ""), p.value("size", int64_t{0}), p.value("duration", int64_t{0})});
      item->duration += item->parts.back().duration;
    }
    for (const auto& [type, element] : tag_types()) {
      const auto plural = type == "actor" ? std::string("actors") : type + "s";
      for (const auto& t : j.value(plural, nlohmann::json::array())) {
        Tag tag;
        if (t.is_string()) {
          tag.tag = t.get<std::string>();
        } else {
          tag.tag = t.value("tag", "");
          tag.role = t.value("role", "");
          tag.thumb = t.value("thumb", "");
        }
        tag.id = tag_id(type, tag.tag);
        item->tags[type].push_back(tag);
      }
    }
    for (const auto& l : j.value("locked", nlohmann::json::array())) {
      item->locked.insert(l.get<std::string>());
    }
    item->pending = j.value("pending", false);
    try {
      next_rating_key_ = std::max<int64_t>(next_rating_key_, std::stoll(item->rating_key));
    } catch (...) {
    }
    items_[item->rating_key] = std::move(item);
  }
}

nlohmann::json PlexSim::dump() {
  std::lock_guard lock(mutex_);
  nlohmann::json out = {{"sections", nlohmann::json::array()}, {"items", nlohmann::json::array()}};
  for (const auto& s : sections_) {
    out["sections"].push_back({{"key", s.key}, {"title", s.title}, {"type", s.type}, {"locations", s.locations}});
  }
  for (const auto& [rk, item] : items_) {
    nlohmann::json j = {{"ratingKey", rk},
                        {"section", item->section_key},
                        {"addedAt", item->added_at},
                        {"updatedAt", item->updated_at},
                        {"pending", item->pending}};
    for (const auto& [k, v] : item->text) {
      j[k] = v;
    }
    if (item->year != 0) {
      j["year"] = item->year;
    }
    if (item->user_rating) {
      j["userRating"] = *item->user_rating;
    }
    for (const auto& p : item->parts) {
      j["parts"].push_back({{"file", p.file}, {"size", p.size}, {"duration", p.duration}});
    }
    for (const auto& [type, tags] : item->tags) {
      auto& arr = j[type == "actor" ? std::string("actors") : type + "s"];
      for (const auto& t : tags) {
        arr.push_back({{"tag", t.tag}, {"role", t.role}, {"thumb", t.thumb}});
      }
    }
    j["locked"] = item->locked;
    out["items"].push_back(j);
  }
  return out;
}

void PlexSim::generate(int n, bool pull_library) {
  nlohmann::json lib = {
      {"sections",
       {{{"key", "1"}, {"title", "Adult"}, {"locations", {"/media/adult", "/mnt/nas2/Adult Archive"}}},
        {{"key", "2"}, {"title", "Home Videos"}, {"locations", {"/media/home videos"}}}}},
      {"items", nlohmann::json::array()}};
  for (int i = 0; i < n; ++i) {
    const auto f = sim::generated_file(i);
    lib["items"].push_back({{"ratingKey", std::to_string(10000 + i)},
                            {"section", "1"},
                            {"title", "Scene " + std::to_string(f.name_no)},
                            {"studio", f.studio},
                            {"addedAt", 1700000000 + i},
                            {"parts", {{{"file", f.path}, {"size", f.size}, {"duration", f.duration_ms}}}}});
  }
  if (pull_library) {
    // A second movie library over the same folders holding every other file (scenes 2, 4, ...),
    // for a pull library beside the push one (the demo): each file is in exactly one library.
    lib["sections"].push_back(
        {{"key", "3"}, {"title", "Adult (pull)"}, {"locations", {"/media/adult", "/mnt/nas2/Adult Archive"}}});
    for (auto& item : lib["items"]) {
      const int i = std::stoi(item["ratingKey"].get<std::string>()) - 10000;
      if (i % 2 == 1) {
        item["section"] = "3";
        item["ratingKey"] = std::to_string(20000 + i);
      }
    }
  }
  load(lib);
}

std::string PlexSim::rekey(const std::string& rating_key) {
  std::lock_guard lock(mutex_);
  auto it = items_.find(rating_key);
  if (it == items_.end()) {
    return {};
  }
  auto item = std::move(it->second);
  items_.erase(it);
  item->rating_key = std::to_string(++next_rating_key_);
  item->added_at = next_epoch();
  item->updated_at = item->added_at;
  auto key = item->rating_key;
  items_[key] = std::move(item);
  return key;
}

std::string PlexSim::add_file(const std::string& section_key, const std::string& file, int64_t size,
                              int64_t duration_ms) {
  std::lock_guard lock(mutex_);
  auto item = std::make_unique<Item>();
  item->rating_key = std::to_string(++next_rating_key_);
  item->section_key = section_key;
  item->media_id = 2000 + static_cast<int64_t>(items_.size());
  item->parts.push_back(Part{4000 + static_cast<int64_t>(items_.size()), file, size, duration_ms});
  item->duration = duration_ms;
  item->text["title"] = util::basename(file);
  item->pending = true;
  auto key = item->rating_key;
  items_[key] = std::move(item);
  return key;
}

std::string PlexSim::publish_file(const std::string& section_key, const std::string& file, int64_t size,
                                  int64_t duration_ms) {
  auto key = add_file(section_key, file, size, duration_ms);
  std::lock_guard lock(mutex_);
  auto& item = *items_.at(key);
  item.pending = false;
  item.added_at = next_epoch();
  item.updated_at = item.added_at;
  notify_item(item, 0, "created");
  notify_item(item, 5, "processed");
  return key;
}

void PlexSim::set_notifications(bool offered) {
  std::lock_guard lock(mutex_);
  options_.notifications = offered;
}

int PlexSim::notification_listeners() {
  std::lock_guard lock(listeners_mutex_);
  return static_cast<int>(listeners_.size());
}

void PlexSim::notify(const nlohmann::json& container) {
  const auto text = nlohmann::json{{"NotificationContainer", container}}.dump();
  std::lock_guard lock(listeners_mutex_);
  for (const auto& l : listeners_) {
    {
      std::lock_guard one(l->mutex);
      l->messages.push_back(text);
    }
    l->ready.notify_one();
  }
}

void PlexSim::notify_item(const Item& item, int state, const char* metadata_state) {
  // The shape python-plexapi's AlertListener documents for library items; ids as strings.
  notify({{"type", "timeline"},
          {"size", 1},
          {"TimelineEntry",
           {{{"identifier", "com.plexapp.plugins.library"},
             {"sectionID", item.section_key},
             {"itemID", item.rating_key},
             {"type", 1},
             {"title", item.text.count("title") != 0U ? item.text.at("title") : ""},
             {"state", state},
             {"metadataState", metadata_state},
             {"updatedAt", item.updated_at}}}}});
}

net::ServerResponse PlexSim::notification_feed() {
  net::ServerResponse res;
  res.status = 400; // a plain GET without the upgrade
  res.websocket = [this](const std::function<bool(const std::string&)>& send, const std::function<bool()>& stopping) {
    auto me = std::make_shared<Listener>();
    {
      std::lock_guard lock(listeners_mutex_);
      listeners_.push_back(me);
    }
    bool open = true;
    while (open && !stopping()) {
      std::deque<std::string> batch;
      {
        std::unique_lock lock(me->mutex);
        me->ready.wait_for(lock, std::chrono::milliseconds(100), [&] { return !me->messages.empty(); });
        batch.swap(me->messages);
      }
      for (const auto& m : batch) {
        open = open && send(m);
      }
    }
    std::lock_guard lock(listeners_mutex_);
    listeners_.erase(std::remove(listeners_.begin(), listeners_.end(), me), listeners_.end());
  };
  return res;
}

size_t PlexSim::item_count() {
  std::lock_guard lock(mutex_);
  return items_.size();
}

std::vector<std::string> PlexSim::scanned_paths() {
  std::lock_guard lock(mutex_);
  return scanned_paths_;
}

nlohmann::json PlexSim::item_json(const std::string& rating_key) {
  std::lock_guard lock(mutex_);
  const auto* item = find_item(rating_key);
  return item == nullptr ? nlohmann::json() : render_item(*item, true);
}

nlohmann::json PlexSim::render_item(const Item& item, bool full) const {
  nlohmann::json m = {{"ratingKey", item.rating_key},
                      {"key", "/library/metadata/" + item.rating_key},
                      {"guid", item.guid.empty() ? "local://" + item.rating_key : item.guid},
                      {"type", "movie"}};
  for (const auto& [k, v] : item.text) {
    if (!v.empty()) {
      m[k] = v;
    }
  }
  if (!m.contains("title")) {
    m["title"] = "";
  }
  add_view_fields(m, view_of(item, 1)); // the token's account: the owner
  if (item.year != 0) {
    m["year"] = item.year;
  }
  m["thumb"] = "/library/metadata/" + item.rating_key + "/thumb/" + std::to_string(item.thumb_epoch);
  m["art"] = "/library/metadata/" + item.rating_key + "/art/" + std::to_string(item.art_epoch);
  m["duration"] = item.duration;
  m["addedAt"] = item.added_at;
  m["updatedAt"] = item.updated_at;
  if (full) {
    const auto* section = [&]() -> const Section* {
      for (const auto& s : sections_) {
        if (s.key == item.section_key) {
          return &s;
        }
      }
      return nullptr;
    }();
    m["librarySectionID"] = std::stoll(item.section_key);
    m["librarySectionKey"] = "/library/sections/" + item.section_key;
    m["librarySectionTitle"] = section != nullptr ? section->title : "";
  }
  nlohmann::json parts = nlohmann::json::array();
  for (const auto& p : item.parts) {
    const auto ext = p.file.substr(p.file.find_last_of('.') + 1);
    parts.push_back(
        {{"id", p.id},
         {"key", "/library/parts/" + std::to_string(p.id) + "/" + std::to_string(item.added_at) + "/file." + ext},
         {"duration", p.duration},
         {"file", p.file},
         {"size", p.size},
         {"container", ext}});
  }
  m["Media"] = {{{"id", item.media_id}, {"duration", item.duration}, {"videoResolution", "1080"}, {"Part", parts}}};
  for (const auto& [type, element] : tag_types()) {
    auto it = item.tags.find(type);
    if (it == item.tags.end() || it->second.empty()) {
      continue;
    }
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& t : it->second) {
      if (!full && static_cast<int>(arr.size()) >= options_.listing_tag_limit) {
        break; // listings carry truncated tag lists, like PMS
      }
      nlohmann::json tag = {{"id", t.id}, {"filter", type + "=" + std::to_string(t.id)}, {"tag", t.tag}};
      if (!t.role.empty()) {
        tag["role"] = t.role;
      }
      if (!t.thumb.empty()) {
        tag["thumb"] = options_.opaque_actor_echo && type == "actor"
                           ? "/photo/:/transcode?width=300&height=300&url=" + util::percent_encode(t.thumb)
                           : t.thumb;
      }
      arr.push_back(tag);
    }
    m[element] = arr;
  }
  if (full && !item.locked.empty()) {
    nlohmann::json fields = nlohmann::json::array();
    for (const auto& f : item.locked) {
      if (!(options_.opaque_actor_echo && f == "actor")) {
        fields.push_back({{"locked", true}, {"name", f}});
      }
    }
    m["Field"] = fields;
  }
  return m;
}

net::ServerResponse PlexSim::container(const nlohmann::json& mc, bool json, const char* item_element) {
  if (json) {
    return sim::json_response({{"MediaContainer", mc}});
  }
  return sim::text_response(200, "text/xml;charset=utf-8", to_xml(mc, item_element));
}

void PlexSim::surface_scanned_items(int64_t now) {
  for (auto it = scans_.begin(); it != scans_.end();) {
    if (it->second > now) {
      ++it;
      continue;
    }
    std::set<std::string> sections;
    for (auto& [rk, item] : items_) {
      if (!item->pending) {
        continue;
      }
      for (const auto& p : item->parts) {
        if (p.file.rfind(it->first, 0) == 0 && item->pending) {
          item->pending = false;
          item->added_at = next_epoch();
          item->updated_at = item->added_at;
          notify_item(*item, 0, "created");
          sections.insert(item->section_key);
        }
      }
    }
    for (const auto& section : sections) {
      // The scan's end, as PMS reports an activity (python-plexapi's Activity objects).
      notify({{"type", "activity"},
              {"size", 1},
              {"ActivityNotification",
               {{{"event", "ended"},
                 {"uuid", "scan-" + section},
                 {"Activity",
                  {{"uuid", "scan-" + section},
                   {"type", "library.update.section"},
                   {"cancellable", false},
                   {"userID", 1},
                   {"title", "Scanning"},
                   {"progress", 100},
                   {"Context", {{"accessible", true}, {"exists", true}, {"librarySectionID", section}}}}}}}}});
    }
    it = scans_.erase(it);
  }
}

std::string PlexSim::current_token() {
  std::lock_guard lock(mutex_);
  return options_.token;
}

void PlexSim::set_load_model(const LoadModel& model) {
  const std::lock_guard lock(load_mutex_);
  load_ = model;
}

LoadReport PlexSim::load_report() {
  const std::lock_guard lock(load_mutex_);
  LoadReport r;
  r.served = static_cast<int64_t>(served_ms_.size());
  r.overloaded = overloaded_;
  r.max_in_flight = max_in_flight_;
  if (!served_ms_.empty()) {
    auto sorted = served_ms_;
    std::sort(sorted.begin(), sorted.end());
    const auto at = [&](double q) { return sorted[static_cast<size_t>(q * static_cast<double>(sorted.size() - 1))]; };
    r.p50_ms = at(0.5);
    r.p99_ms = at(0.99);
    r.max_ms = sorted.back();
  }
  return r;
}

void PlexSim::reset_load_report() {
  const std::lock_guard lock(load_mutex_);
  served_ms_.clear();
  overloaded_ = 0;
  max_in_flight_ = in_flight_.load();
}

net::ServerResponse PlexSim::handle(const net::ServerRequest& req) {
  if (req.path == "/__sim/load") {
    // POST {"capacity", "service_ms", "max_queue", "retry_after_s"} sets the model; GET reports;
    // DELETE resets the report.
    if (req.method == "POST") {
      const auto body = nlohmann::json::parse(req.body, nullptr, false);
      if (!body.is_object()) {
        return sim::json_response({{"error", "body must be a JSON object"}}, 400);
      }
      set_load_model(LoadModel{body.value("capacity", 0), body.value("service_ms", 5), body.value("max_queue", -1),
                               body.value("retry_after_s", 1)});
    } else if (req.method == "DELETE") {
      reset_load_report();
    }
    const auto r = load_report();
    return sim::json_response({{"served", r.served},
                               {"overloaded", r.overloaded},
                               {"p50_ms", r.p50_ms},
                               {"p99_ms", r.p99_ms},
                               {"max_ms", r.max_ms},
                               {"max_in_flight", r.max_in_flight}});
  }
  if (req.path.rfind("/__sim/posters/", 0) == 0 && req.method == "GET") {
    // The selected poster and background of an item as PMS stored them (the demo shows them).
    const auto rk = req.path.substr(std::string("/__sim/posters/").size());
    nlohmann::json out = nlohmann::json::object();
    for (const bool poster : {true, false}) {
      if (const auto img = selected_image(rk, poster)) {
        out[poster ? "poster" : "background"] = {
            {"key", img->rating_key}, {"width", img->width}, {"height", img->height}};
      }
    }
    return sim::json_response(out);
  }
  if (auto control = sim::handle_control(req, faults_, log_); control) {
    return *control;
  }
  auto rec = sim::RecordedRequest::of(req);
  std::string token;
  if (const auto* t = req.header("X-Plex-Token"); t != nullptr) {
    token = *t;
    rec.token_via = "header";
  } else {
    for (const auto& [k, v] : rec.query) {
      if (k == "X-Plex-Token") {
        token = v;
        rec.token_via = "query";
      }
    }
  }
  log_.record(rec);
  struct InFlight {
    std::atomic<int>& now;
    InFlight(std::atomic<int>& n, std::atomic<int>& max) : now(n) {
      const int current = ++now;
      int seen = max.load();
      while (current > seen && !max.compare_exchange_weak(seen, current)) {
      }
    }
    ~InFlight() { --now; }
  } in_flight(in_flight_, max_in_flight_);
  const auto started = std::chrono::steady_clock::now();
  LoadModel model;
  {
    const std::lock_guard lock(load_mutex_);
    model = load_;
  }
  struct Slot {
    PlexSim* sim = nullptr;
    ~Slot() {
      if (sim != nullptr) {
        const std::lock_guard lock(sim->load_mutex_);
        --sim->serving_;
        sim->slot_freed_.notify_one();
      }
    }
  } slot;
  if (model.capacity > 0) {
    const int queue = model.max_queue < 0 ? model.capacity : model.max_queue;
    double share = 1.0;
    {
      std::unique_lock lock(load_mutex_);
      if (serving_ >= model.capacity && waiting_ >= queue) {
        ++overloaded_;
        lock.unlock();
        auto busy = html_error(503);
        busy.headers.push_back({"Retry-After", std::to_string(model.retry_after_s)});
        return busy;
      }
      ++waiting_;
      slot_freed_.wait(lock, [&] { return serving_ < model.capacity; });
      --waiting_;
      ++serving_;
      slot.sim = this;
      share = std::max(1.0, static_cast<double>(serving_ + waiting_) / model.capacity);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(static_cast<int64_t>(model.service_ms * share * 1000)));
  }
  if (const int latency = faults_.latency_ms(); latency > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(latency));
  }
  struct Served {
    PlexSim& sim;
    std::chrono::steady_clock::time_point started;
    ~Served() {
      const std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - started;
      const std::lock_guard lock(sim.load_mutex_);
      sim.served_ms_.push_back(took.count());
    }
  } served{*this, started};
  const auto* accept = req.header("Accept");
  const bool json = accept != nullptr && accept->find("application/json") != std::string::npos;
  const auto fault = faults_.match(req.method, req.path);
  net::ServerResponse res;
  if (req.target.size() > options_.max_url_bytes) {
    res = html_error(414);
  } else if (req.path != "/identity" && !options_.allow_no_auth && token != current_token()) {
    res = html_error(401);
  } else if (fault && (fault->status != 0 || fault->reset)) {
    // A request answered by an injected error or reset never reached PMS: no side effects.
  } else if (auto agent = agent_route(req, json); agent) {
    res = std::move(*agent); // takes the lock itself: providers are called without it
  } else {
    std::lock_guard lock(mutex_);
    surface_scanned_items(now_ms());
    res = route(req, json);
  }
  faults_.apply(fault, res, json);
  return res;
}

net::ServerResponse PlexSim::route(const net::ServerRequest& req, bool json) {
  const auto query = util::parse_query(req.query);
  const auto param = [&](const std::string& key) -> std::optional<std::string> {
    for (const auto& [k, v] : query) {
      if (k == key) {
        return v;
      }
    }
    return std::nullopt;
  };
  const auto parts = util::split(req.path, '/'); // "", "library", ...
  const auto& m = req.method;

  if (auto activity = activity_route(req, json); activity) {
    return std::move(*activity);
  }
  if (auto collection = collection_route(req); collection) {
    return std::move(*collection);
  }
  if (req.path == "/:/websockets/notifications" && m == "GET") {
    return options_.notifications ? notification_feed() : html_error(404);
  }
  if (req.path == "/identity" && m == "GET") {
    return container(
        {{"size", 0}, {"claimed", true}, {"machineIdentifier", k_machine_id}, {"version", options_.version}}, json);
  }
  if (req.path == "/" && m == "GET") {
    // The server root as PMS 1.41 described itself (clients such as python-plexapi parse it all),
    // with the simulated version.
    static const auto captured = nlohmann::json::parse(
        R"json({"size":23,"allowCameraUpload":false,"allowChannelAccess":true,"allowMediaDeletion":true,"allowSharing":true,"allowSync":true,"allowTuners":true,"backgroundProcessing":true,"certificate":true,"companionProxy":true,"countryCode":"usa","diagnostics":"logs,databases,streaminglogs","eventStream":true,"friendlyName":"plexsim","hubSearch":true,"itemClusters":true,"livetv":7,"machineIdentifier":"5e1f0c9a7b3d42e8a6c4f19d08b2e7a3c6d5f401","mediaProviders":true,"multiuser":true,"musicAnalysis":2,"myPlex":true,"myPlexMappingState":"mapped","myPlexSigninState":"ok","myPlexSubscription":true,"myPlexUsername":"owner@plexsim.invalid","offlineTranscode":1,"ownerFeatures":"camera_upload,collections,content_filter,hardware_transcoding,home,pass,sync,webhooks","platform":"Linux","platformVersion":"6.1.0-18-amd64","pluginHost":true,"pushNotifications":false,"readOnlyLibraries":false,"streamingBrainABRVersion":3,"streamingBrainVersion":2,"sync":true,"transcoderActiveVideoSessions":0,"transcoderAudio":true,"transcoderLyrics":true,"transcoderPhoto":true,"transcoderSubtitles":true,"transcoderVideo":true,"transcoderVideoBitrates":"64,96,208,320,720,1500,2000,3000,4000,8000,10000,12000,20000","transcoderVideoQualities":"0,1,2,3,4,5,6,7,8,9,10,11,12","transcoderVideoResolutions":"128,128,160,240,320,480,768,720,720,1080,1080,1080,1080","updatedAt":1731000123,"updater":true,"version":"1.41.6.9685-d301f511a","voiceSearch":true,"Directory":[{"count":1,"key":"activities","title":"activities"},{"count":1,"key":"butler","title":"butler"},{"count":1,"key":"channels","title":"channels"},{"count":1,"key":"clients","title":"clients"},{"count":1,"key":"diagnostics","title":"diagnostics"},{"count":1,"key":"hubs","title":"hubs"},{"count":1,"key":"library","title":"library"},{"count":1,"key":"livetv","title":"livetv"},{"count":1,"key":"media","title":"media"},{"count":1,"key":"metadata","title":"metadata"},{"count":1,"key":"music","title":"music"},{"count":1,"key":"playQueues","title":"playQueues"},{"count":1,"key":"player","title":"player"},{"count":1,"key":"playlists","title":"playlists"},{"count":1,"key":"resources","title":"resources"},{"count":1,"key":"search","title":"search"},{"count":1,"key":"server","title":"server"},{"count":1,"key":"servers","title":"servers"},{"count":1,"key":"statistics","title":"statistics"},{"count":1,"key":"system","title":"system"},{"count":1,"key":"transcode","title":"transcode"},{"count":1,"key":"updater","title":"updater"},{"count":1,"key":"user","title":"user"}]})json");
    auto root = captured;
    root["version"] = options_.version;
    return container(root, json);
  }
  if (req.path == "/library" && m == "GET") {
    return container({{"size", 1},
                      {"title1", "Plex Library"},
                      {"Directory", {{{"key", "sections"}, {"title", "Library Sections"}}}}},
                     json);
  }
  if ((req.path == "/library/sections" || req.path == "/library/sections/all") && m == "GET") {
    nlohmann::json dirs = nlohmann::json::array();
    const int64_t now = now_ms();
    for (const auto& s : sections_) {
      nlohmann::json locs = nlohmann::json::array();
      for (size_t i = 0; i < s.locations.size(); ++i) {
        locs.push_back({{"id", static_cast<int64_t>(i + 1)}, {"path", s.locations[i]}});
      }
      dirs.push_back({{"allowSync", true},
                      {"key", s.key},
                      {"type", s.type},
                      {"title", s.title},
                      {"agent", s.agent},
                      {"scanner", "Plex Video Files Scanner"},
                      {"language", "xn"},
                      {"uuid", s.uuid},
                      {"refreshing", s.refreshing_until_ms > now},
                      {"updatedAt", 1731000050},
                      {"createdAt", 1700000100},
                      {"scannedAt", 1731000400},
                      {"content", true},
                      {"directory", true},
                      {"hidden", 0},
                      {"Location", locs}});
    }
    return container({{"size", dirs.size()}, {"allowSync", false}, {"title1", "Plex Library"}, {"Directory", dirs}},
                     json);
  }
  // /library/sections/{key}/...
  if (parts.size() >= 5 && parts[1] == "library" && parts[2] == "sections") {
    const auto& key = parts[3];
    const auto sec = std::find_if(sections_.begin(), sections_.end(), [&](const Section& s) { return s.key == key; });
    if (sec == sections_.end()) {
      return html_error(404);
    }
    const auto& action = parts[4];
    if (action == "refresh" && parts.size() == 5 && (m == "GET" || m == "POST")) {
      const auto path = param("path").value_or("");
      scanned_paths_.push_back(path);
      const int64_t visible = now_ms() + options_.scan_delay_ms;
      scans_.emplace_back(path.empty() ? std::string("/") : path, visible);
      sec->refreshing_until_ms = visible;
      net::ServerResponse r;
      return r;
    }
    if (action == "all" && parts.size() == 5 && m == "PUT") {
      std::vector<Item*> targets;
      const auto ids = param("id");
      for (auto& [rk, item] : items_) {
        if (item->section_key != key || item->pending) {
          continue;
        }
        if (!ids) {
          targets.push_back(item.get()); // PMS edits the whole section without an id
        }
      }
      if (ids) {
        for (const auto& id : util::split(*ids, ',')) {
          auto* item = find_item(id);
          if (item == nullptr || item->section_key != key) {
            return html_error(404);
          }
          targets.push_back(item);
        }
      }
      return edit(query, targets);
    }
    if ((action == "all" || action == "collections") && parts.size() == 5 && m == "GET") {
      const bool collections = action == "collections" || param("type") == std::optional<std::string>("18");
      std::vector<const Item*> matches;
      nlohmann::json coll_items = nlohmann::json::array();
      if (collections) {
        coll_items = collection_listing(key);
      } else {
        for (const auto& [rk, item] : items_) {
          if (item->section_key != key || item->pending) {
            continue;
          }
          bool keep = true;
          for (const auto& [k, v] : query) {
            const auto title = item->text.count("title") != 0U ? item->text.at("title") : std::string();
            if (k == "title" && !v.empty() && v.front() == '=') { // "title==x": exact
              keep = keep && util::iequals(title, v.substr(1));
            } else if (k == "title") { // contains, case-insensitive
              keep = keep && util::to_lower(title).find(util::to_lower(v)) != std::string::npos;
            } else if (k == "file") {
              const std::string& needle = v; // clang 14 cannot capture a structured binding
              keep = keep && std::any_of(item->parts.begin(), item->parts.end(),
                                         [&](const Part& p) { return p.file.find(needle) != std::string::npos; });
            } else if (k == "addedAt>>") {
              keep = keep && item->added_at > std::stoll(v);
            } else if (k == "updatedAt>>") {
              keep = keep && item->updated_at > std::stoll(v);
            }
          }
          if (keep) {
            matches.push_back(item.get());
          }
        }
        const auto sort = param("sort").value_or("");
        if (sort.rfind("addedAt", 0) == 0) {
          std::stable_sort(matches.begin(), matches.end(),
                           [](const Item* a, const Item* b) { return a->added_at < b->added_at; });
        } else if (sort.rfind("updatedAt", 0) == 0) {
          std::stable_sort(matches.begin(), matches.end(),
                           [](const Item* a, const Item* b) { return a->updated_at < b->updated_at; });
        } else if (sort.rfind("titleSort", 0) == 0 || sort.rfind("title", 0) == 0) {
          std::stable_sort(matches.begin(), matches.end(), [](const Item* a, const Item* b) {
            return util::to_lower(a->text.count("title") ? a->text.at("title") : "") <
                   util::to_lower(b->text.count("title") ? b->text.at("title") : "");
          });
        }
        if (sort.find(":desc") != std::string::npos) {
          std::reverse(matches.begin(), matches.end());
        }
      }
      // Paging: header or query, header wins as in python-plexapi's fetchItems.
      const auto paging = [&](const char* name) -> std::optional<int64_t> {
        if (const auto* h = req.header(name); h != nullptr) {
          return std::stoll(*h);
        }
        if (auto q = param(name); q) {
          return std::stoll(*q);
        }
        return std::nullopt;
      };
      const int64_t total =
          collections ? static_cast<int64_t>(coll_items.size()) : static_cast<int64_t>(matches.size());
      const int64_t start = std::max<int64_t>(0, paging("X-Plex-Container-Start").value_or(0));
      int64_t size = paging("X-Plex-Container-Size").value_or(total);
      if (auto limit = param("limit"); limit) {
        size = std::min<int64_t>(size, std::stoll(*limit));
      }
      nlohmann::json metadata = nlohmann::json::array();
      for (int64_t i = start; i < std::min(total, start + std::max<int64_t>(0, size)); ++i) {
        metadata.push_back(collections ? coll_items.at(static_cast<size_t>(i))
                                       : render_item(*matches[static_cast<size_t>(i)], false));
      }
      nlohmann::json mc = {{"size", metadata.size()},
                           {"totalSize", total},
                           {"offset", start},
                           {"allowSync", true},
                           {"identifier", "com.plexapp.plugins.library"},
                           {"librarySectionID", std::stoll(key)},
                           {"librarySectionTitle", sec->title},
                           {"librarySectionUUID", sec->uuid},
                           {"title1", sec->title},
                           {"title2", "All Movies"},
                           {"viewGroup", "movie"}};
      if (options_.listing_total == Options::ListingTotal::under) {
        mc["totalSize"] = total / 2;
      } else if (options_.listing_total == Options::ListingTotal::missing) {
        mc.erase("totalSize");
      }
      if (!metadata.empty()) {
        mc["Metadata"] = metadata;
      }
      auto r = container(mc, json);
      r.headers.push_back({"X-Plex-Container-Start", std::to_string(start)});
      r.headers.push_back({"X-Plex-Container-Total-Size", std::to_string(total)});
      return r;
    }
    return html_error(m == "GET" || m == "PUT" ? 404 : 405);
  }
  // /library/metadata/{ids}[/posters|/arts|/poster|/art]
  if (parts.size() >= 4 && parts[1] == "library" && parts[2] == "metadata") {
    const auto& ids = parts[3];
    if (parts.size() == 4 && m == "GET") {
      nlohmann::json metadata = nlohmann::json::array();
      std::string section_key;
      // Several keys: the order PMS answers in is not documented, so plexsim does not keep the
      // request's (keys sorted as text), and keys it does not know are left out.
      auto keys = util::split(ids, ',');
      std::sort(keys.begin(), keys.end());
      const bool partial = keys.size() > 1 && options_.partial_batched_reads;
      for (const auto& id : keys) {
        if (const auto* item = find_item(id); item != nullptr) {
          metadata.push_back(render_item(*item, true));
          if (partial) {
            for (const auto& [type, element] : tag_types()) {
              auto& list = metadata.back()[element];
              if (list.is_array() && list.size() > static_cast<size_t>(options_.listing_tag_limit)) {
                list.erase(list.begin() + options_.listing_tag_limit, list.end());
              }
              if (list.is_null()) {
                metadata.back().erase(element);
              }
            }
          }
          section_key = item->section_key;
        }
      }
      if (metadata.empty()) {
        return html_error(404);
      }
      nlohmann::json mc = {{"size", metadata.size()},
                           {"allowSync", true},
                           {"identifier", "com.plexapp.plugins.library"},
                           {"librarySectionID", std::stoll(section_key)},
                           {"Metadata", metadata}};
      return container(mc, json);
    }
    auto* item = find_item(ids);
    if (item == nullptr) {
      return html_error(404);
    }
    if (parts.size() == 4 && m == "PUT") {
      return edit(query, {item});
    }
    if (parts.size() == 5) {
      const auto& what = parts[4];
      const bool poster = what == "posters" || what == "poster";
      auto& images = poster ? item->posters : item->arts;
      if ((what == "posters" || what == "arts") && m == "POST") {
        std::string key;
        if (auto url = param("url"); url) {
          key = *url;
        } else {
          if (req.body.empty()) {
            return html_error(400);
          }
          key = std::string("upload://") + (poster ? "posters/" : "arts/") + util::sha1_hex(req.body);
        }
        for (auto& img : images) {
          img.selected = false;
        }
        auto it = std::find_if(images.begin(), images.end(), [&](const Image& i) { return i.rating_key == key; });
        if (it == images.end()) {
          Image added{key, true};
          if (const auto pixels = image::decode(req.body)) {
            added.width = pixels->width;
            added.height = pixels->height;
          }
          images.push_back(added);
        } else {
          it->selected = true;
        }
        (poster ? item->thumb_epoch : item->art_epoch) = next_epoch();
        item->locked.insert(poster ? "thumb" : "art");
        return net::ServerResponse{};
      }
      if ((what == "posters" || what == "arts") && m == "GET") {
        nlohmann::json metadata = nlohmann::json::array();
        for (const auto& img : images) {
          metadata.push_back(
              {{"key", "/library/metadata/" + item->rating_key + "/file?url=" + util::percent_encode(img.rating_key)},
               {"ratingKey", img.rating_key},
               {"selected", img.selected},
               {"thumb", "/photo/:/transcode?url=" + util::percent_encode(img.rating_key)},
               {"type", "photo"}});
        }
        nlohmann::json mc = {{"size", metadata.size()},
                             {"identifier", "com.plexapp.plugins.library"},
                             {"mediaTagPrefix", "/system/bundle/media/flags/"}};
        if (!metadata.empty()) {
          mc["Metadata"] = metadata;
        }
        return container(mc, json, "Photo");
      }
      if ((what == "poster" || what == "art") && m == "PUT") {
        const auto url = param("url");
        auto it =
            std::find_if(images.begin(), images.end(), [&](const Image& i) { return url && i.rating_key == *url; });
        if (it == images.end()) {
          return html_error(404);
        }
        for (auto& img : images) {
          img.selected = &img == &*it;
        }
        (poster ? item->thumb_epoch : item->art_epoch) = next_epoch();
        return net::ServerResponse{};
      }
    }
    return html_error(405);
  }
  return html_error(404);
}

net::ServerResponse PlexSim::edit(const std::vector<std::pair<std::string, std::string>>& params,
                                  const std::vector<Item*>& targets) {
  // Validate everything first: PMS rejects an edit with a bad field before touching anything.
  for (const auto& [k, v] : params) {
    // Every "<field>.value" and "<field>.locked" must name a documented field or tag type.
    const auto last_dot = k.rfind('.');
    if (last_dot != std::string::npos && k.find('[') == std::string::npos &&
        (k.substr(last_dot) == ".value" || k.substr(last_dot) == ".locked")) {
      const auto field = k.substr(0, last_dot);
      const bool tag_type =
          std::any_of(tag_types().begin(), tag_types().end(), [&](const auto& t) { return t.first == field; });
      const bool known = text_fields().count(field) != 0U || numeric_fields().count(field) != 0U ||
                         (k.substr(last_dot) == ".locked" && (tag_type || lock_only_fields().count(field) != 0U));
      if (!known) {
        return html_error(400);
      }
    }
    const auto dot = k.rfind(".value");
    if (dot != std::string::npos && dot + 6 == k.size() && k.find('[') == std::string::npos) {
      const auto field = k.substr(0, dot);
      if (field == "originallyAvailableAt" && !v.empty() && !valid_date(v)) {
        return html_error(400);
      }
      if (numeric_fields().count(field) != 0U && !v.empty()) {
        try {
          const double d = std::stod(v);
          if (field == "userRating" && (d < 0 || d > 10)) {
            return html_error(400);
          }
        } catch (...) {
          return html_error(400);
        }
      }
    }
  }
  for (auto* item : targets) {
    // Tag edits in PMS's order: clear, removals, indexed additions, per-entry data, then locks.
    std::map<std::string, std::map<std::string, std::map<std::string, std::string>>>
        indexed; // type -> idx -> attr -> value
    for (const auto& [k, v] : params) {
      std::string type;
      std::string index;
      std::string rest;
      if (!split_tag_key(k, type, index, rest)) {
        continue;
      }
      if (index.empty() && rest == "tag" && v.empty()) {
        item->tags[type].clear();
      }
    }
    for (const auto& [k, v] : params) {
      std::string type;
      std::string index;
      std::string rest;
      if (split_tag_key(k, type, index, rest) && index.empty() && rest == "tag.tag-") {
        for (const auto& piece : util::split(v, ',')) {
          const auto name = util::percent_decode(piece, false);
          auto& list = item->tags[type];
          list.erase(std::remove_if(list.begin(), list.end(), [&](const Tag& t) { return util::iequals(t.tag, name); }),
                     list.end());
        }
      } else if (split_tag_key(k, type, index, rest) && !index.empty()) {
        indexed[type][index][rest] = v;
      }
    }
    for (const auto& [type, entries] : indexed) {
      auto& list = item->tags[type];
      std::vector<std::pair<int, const std::map<std::string, std::string>*>> ordered;
      for (const auto& [idx, attrs] : entries) {
        ordered.emplace_back(std::atoi(idx.c_str()), &attrs);
      }
      std::sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      for (const auto& [idx, attrs] : ordered) {
        auto name_it = attrs->find("tag.tag");
        if (name_it == attrs->end() || name_it->second.empty()) {
          continue;
        }
        auto it =
            std::find_if(list.begin(), list.end(), [&](const Tag& t) { return util::iequals(t.tag, name_it->second); });
        if (it == list.end()) {
          list.push_back(Tag{tag_id(type, name_it->second), name_it->second, "", ""});
          it = list.end() - 1;
        }
        if (auto t = attrs->find("tagging.text"); t != attrs->end()) {
          it->role = t->second;
        }
        if (auto t = attrs->find("tag.thumb"); t != attrs->end()) {
          it->thumb = t->second;
        }
      }
    }
    std::set<std::string> explicitly_locked;
    for (const auto& [k, v] : params) {
      const auto dot = k.rfind('.');
      if (dot == std::string::npos || k.find('[') != std::string::npos) {
        continue;
      }
      const auto field = k.substr(0, dot);
      const auto attr = k.substr(dot + 1);
      if (attr == "value") {
        if (field == "userRating") {
          item->user_rating = v.empty() ? std::nullopt : std::optional<double>(std::stod(v));
          // Whether an edit moves lastRatedAt is unverified: plexsim says it does, so PlexSync's
          // own rating writes look like changes made in Plex (the stricter case for echoes).
          item->last_rated_at = next_epoch();
          ++rating_edits_;
        } else if (field == "addedAt") {
          item->added_at = v.empty() ? item->added_at : std::stoll(v);
        } else if (text_fields().count(field) != 0U) {
          item->text[field] = v;
        }
        if (options_.auto_lock_on_edit) {
          item->locked.insert(field);
        }
      } else if (attr == "locked") {
        explicitly_locked.insert(field);
        if (v == "1") {
          item->locked.insert(field);
        } else {
          item->locked.erase(field);
        }
      }
    }
    item->updated_at = next_epoch();
    note_collections(*item); // a new collection name makes a collection, as in PMS
  }
  return net::ServerResponse{}; // 200, empty body, as PMS answers edits
}

} // namespace plexsim
