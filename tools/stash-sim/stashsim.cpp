#include "stashsim.hpp"

#include <algorithm>
#include <ctime>
#include <random>
#include <thread>

#include "graphql.hpp"
#include "image/codec.hpp"
#include "sim/library.hpp"
#include "util/strings.hpp"
#include "util/utc_time.hpp"

namespace stashsim {
namespace {

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Stash's performer image URL; without an image Stash serves a default one.
std::string performer_image(const std::string& base, const std::string& id, bool has_image) {
  std::string url = base;
  url += "/performer/";
  url += id;
  url += "/image?t=1731096345";
  if (!has_image) {
    url += "&default=true";
  }
  return url;
}

// A real 1x1 PNG: Stash serves actual image bytes for covers.
// A 16:9 JPEG as Stash's generated screenshots are: a left-to-right fade of one colour per scene.
std::string wide_cover(int64_t scene) {
  image::Pixels p;
  p.width = 320;
  p.height = 180;
  p.rgb.resize(static_cast<size_t>(p.width) * static_cast<size_t>(p.height) * 3U);
  const auto channel = static_cast<size_t>(scene % 3);
  for (int y = 0; y < p.height; ++y) {
    for (int x = 0; x < p.width; ++x) {
      auto* px = &p.rgb[(static_cast<size_t>(y) * static_cast<size_t>(p.width) + static_cast<size_t>(x)) * 3U];
      px[channel] = static_cast<unsigned char>(40 + x * 200 / p.width);
      px[(channel + 1) % 3] = static_cast<unsigned char>(y * 120 / p.height);
    }
  }
  return image::encode_jpeg(p, 85);
}

// A 2:3 front cover, as groups' covers are.
std::string portrait_cover() {
  image::Pixels p;
  p.width = 200;
  p.height = 300;
  p.rgb.assign(static_cast<size_t>(p.width) * static_cast<size_t>(p.height) * 3U, 90);
  return image::encode_jpeg(p, 85);
}

const unsigned char k_png[] = {0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
                               0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00,
                               0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78,
                               0xda, 0x63, 0x64, 0x60, 0xf8, 0x5f, 0x0f, 0x00, 0x02, 0x87, 0x01, 0x80, 0xeb, 0x47,
                               0xba, 0x92, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};
const char* k_placeholder_svg =
    "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 10 10\"><rect width=\"10\" height=\"10\"/></svg>";

nlohmann::json gql_error(const std::string& message) {
  return {{"errors", {{{"message", message}}}}, {"data", nullptr}};
}

std::string cookie_value(const net::ServerRequest& req, const std::string& name) {
  const auto* cookie = req.header("Cookie");
  if (cookie == nullptr) {
    return {};
  }
  for (const auto& piece : util::split(*cookie, ';')) {
    const auto kv = util::trim(piece);
    if (kv.rfind(name + "=", 0) == 0) {
      return kv.substr(name.size() + 1);
    }
  }
  return {};
}

} // namespace

StashSim::StashSim(Options options) : options_(std::move(options)) {
  if (options_.schema_dir.empty()) {
    options_.schema_dir = default_schema_dir();
  }
  set_release(options_.release);
}

void StashSim::set_release(const std::string& release) {
  const bool develop = release.empty() || release == "develop";
  const std::string dir = develop ? options_.schema_dir : options_.schema_dir + "/versions/" + release;
  auto schema = gql::Schema::load(dir);
  if (!schema) {
    // Never answer unvalidated: a simulator kinder than Stash would hide a query Stash refuses.
    throw std::runtime_error("stashsim: Stash's schema for " + (develop ? std::string("develop") : release) + ": " +
                             schema.error().message + " (--schema-dir names the folder holding it)");
  }
  std::lock_guard lock(mutex_);
  options_.release = release;
  schema_ = std::move(*schema);
}

bool StashSim::v025() const {
  return options_.release.rfind("v0.25", 0) == 0;
}

namespace {

// Stash v0.25 (internal/manager/config/map.go): plugin ids and setting keys are stored snake_cased
// and handed back camelCased.
std::string to_snake(const std::string& v) {
  std::string out;
  bool underscored = false;
  for (size_t i = 0; i < v.size(); ++i) {
    const char c = v[i];
    const bool upper = c >= 'A' && c <= 'Z';
    if (!underscored && upper && i > 0) {
      out.push_back('_');
      underscored = true;
    } else {
      underscored = false;
    }
    out.push_back(upper ? static_cast<char>(c - 'A' + 'a') : c);
  }
  return out;
}

std::string from_snake(const std::string& v) {
  std::string out;
  bool leading = true;
  bool cap = false;
  for (size_t i = 0; i < v.size(); ++i) {
    const char c = v[i];
    if (c == '_' && !leading && i > 0) {
      cap = true;
    } else if (c == '_' && leading) {
      out.push_back(c);
    } else if (cap) {
      out.push_back(c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c);
      cap = false;
    } else {
      leading = false;
      out.push_back(c);
    }
  }
  return out;
}

nlohmann::json keys_from_snake(const nlohmann::json& map) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [k, v] : map.items()) {
    out[from_snake(k)] = v;
  }
  return out;
}

} // namespace

nlohmann::json StashSim::plugin_configuration(const nlohmann::json& include) const {
  const bool all = !include.is_array() || include.empty();
  nlohmann::json out = nlohmann::json::object();
  if (v025()) {
    // Stored under the snake_cased id; listed under its camelCase form, or under the id asked for.
    if (all) {
      for (const auto& [id, map] : plugins_.items()) {
        out[from_snake(id)] = keys_from_snake(map);
      }
    } else {
      for (const auto& id : include) {
        const auto key = to_snake(id.get<std::string>());
        if (plugins_.contains(key) && !plugins_.at(key).empty()) {
          out[id.get<std::string>()] = keys_from_snake(plugins_.at(key));
        }
      }
    }
    return out;
  }
  if (all) {
    return plugins_;
  }
  for (const auto& id : include) {
    if (plugins_.contains(id.get<std::string>()) && !plugins_.at(id.get<std::string>()).empty()) {
      out[id.get<std::string>()] = plugins_.at(id.get<std::string>());
    }
  }
  return out;
}

std::string StashSim::timestamp(int64_t epoch_s) const {
  // Server local time at a fixed offset, RFC3339 with 1-second precision, as Stash stores it.
  int offset_s = 0;
  if (options_.utc_offset.size() == 6) {
    offset_s = (std::stoi(options_.utc_offset.substr(1, 2)) * 3600 + std::stoi(options_.utc_offset.substr(4, 2)) * 60) *
               (options_.utc_offset[0] == '-' ? -1 : 1);
  }
  const std::time_t t = epoch_s + offset_s;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  (void)std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return std::string(buf) + (offset_s == 0 ? "Z" : options_.utc_offset);
}

int64_t StashSim::next_tick() {
  const auto now = static_cast<int64_t>(std::time(nullptr));
  clock_s_ = std::max(clock_s_ + 1, now);
  return clock_s_;
}

void StashSim::load(const nlohmann::json& seed) {
  std::lock_guard lock(mutex_);
  scenes_.clear();
  for (const auto& s : seed.value("scenes", nlohmann::json::array())) {
    auto scene = s;
    const auto id = std::stoll(scene.at("id").is_string() ? scene.at("id").get<std::string>() : scene.at("id").dump());
    scene["id"] = std::to_string(id);
    if (!scene.contains("updated_at")) {
      scene["updated_at"] = timestamp(next_tick());
    }
    if (!scene.contains("created_at")) {
      scene["created_at"] = scene["updated_at"];
    }
    scenes_[id] = scene;
  }
  if (seed.contains("plugins")) {
    plugins_ = seed.at("plugins");
  }
}

void StashSim::generate(int n, const std::string& path_prefix) {
  // Mirrors PlexSim::generate so that every scene has a Plex item with the same file.
  const std::vector<std::string> tag_pool = {"Outdoor",  "Interview",   "Q&A, Extended",
                                             "Été 2023", "4K Remaster", "Night"};
  const std::vector<std::string> people = {"Léa Dubois", "Анна Коваль", "Mika Tanaka (田中 美香)", "Jonas Lindqvist",
                                           "Alex Doe"};
  nlohmann::json seed = {{"scenes", nlohmann::json::array()}};
  for (int i = 0; i < n; ++i) {
    const auto f = sim::generated_file(i, path_prefix);
    nlohmann::json tags = nlohmann::json::array();
    for (size_t t = 0; t < 1 + static_cast<size_t>(i) % 3; ++t) {
      tags.push_back(
          {{"id", std::to_string(10 + (i + t) % tag_pool.size())}, {"name", tag_pool[(i + t) % tag_pool.size()]}});
    }
    nlohmann::json performers = nlohmann::json::array();
    for (size_t p = 0; p < 1 + static_cast<size_t>(i) % 2; ++p) {
      performers.push_back({{"id", std::to_string(80 + (i + p) % people.size())},
                            {"name", people[(i + p) % people.size()]},
                            {"disambiguation", nullptr},
                            {"gender", "FEMALE"}});
    }
    seed["scenes"].push_back({{"id", std::to_string(i + 1)},
                              {"title", "Stash Title " + std::to_string(i + 1) + " — Été"},
                              {"details", "Details of scene " + std::to_string(i + 1) + " & more.\nSecond line."},
                              {"date", "2024-0" + std::to_string(1 + i % 9) + "-1" + std::to_string(i % 10)},
                              {"rating100", 20 + (i % 80)},
                              {"studio", {{"id", std::to_string(14 + i % 4)}, {"name", f.studio}}},
                              {"performers", performers},
                              {"tags", tags},
                              {"files",
                               {{{"id", std::to_string(5000 + i)},
                                 {"path", f.path},
                                 {"size", f.size},
                                 {"duration", static_cast<double>(f.duration_ms) / 1000.0}}}}});
  }
  load(seed);
}

nlohmann::json StashSim::full_scene(const nlohmann::json& s, const std::string& host) const {
  // Every field of the SyncScene fragment, with Stash's null/[] conventions.
  const auto id = s.at("id").get<std::string>();
  const std::string base = options_.external_host.empty() ? "http://" + host : options_.external_host;
  nlohmann::json out = {{"id", id},
                        {"title", s.value("title", nlohmann::json())},
                        {"code", s.value("code", nlohmann::json())},
                        {"details", s.value("details", nlohmann::json())},
                        {"director", s.value("director", nlohmann::json())},
                        {"date", s.value("date", nlohmann::json())},
                        {"rating100", s.value("rating100", nlohmann::json())},
                        {"organized", s.value("organized", false)},
                        {"urls", s.value("urls", nlohmann::json::array())},
                        {"created_at", s.at("created_at")},
                        {"updated_at", s.at("updated_at")}};
  nlohmann::json files = nlohmann::json::array();
  for (const auto& f : s.value("files", nlohmann::json::array())) {
    const auto path = f.value("path", "");
    files.push_back(
        {{"id", f.value("id", "1")},
         {"path", path},
         {"basename", util::basename(path)},
         {"size", f.value("size", int64_t{0})},
         {"duration", f.value("duration", 0.0)},
         {"width", f.value("width", 1920)},
         {"height", f.value("height", 1080)},
         {"video_codec", f.value("video_codec", "h264")},
         {"audio_codec", f.value("audio_codec", "aac")},
         {"frame_rate", f.value("frame_rate", 29.97)},
         {"bit_rate", f.value("bit_rate", 7527104)},
         {"mod_time", f.value("mod_time", "2023-07-20T11:03:27+02:00")},
         {"fingerprints",
          f.value("fingerprints", nlohmann::json::array({{{"type", "oshash"}, {"value", "a3f1c2d4e5b6978f"}}}))}});
  }
  out["files"] = files;
  // Like Stash, the cover URL carries a version that moves when the cover changes.
  out["paths"] = {{"screenshot", base + "/scene/" + id +
                                     "/screenshot?t=" + std::to_string(s.value("cover_version", int64_t{1763622942}))},
                  {"preview", base + "/scene/" + id + "/preview"},
                  {"stream", base + "/scene/" + id + "/stream"},
                  {"webp", base + "/scene/" + id + "/webp"}};
  if (s.contains("studio") && s.at("studio").is_object()) {
    const auto& st = s.at("studio");
    out["studio"] = {{"id", st.value("id", "1")},
                     {"name", st.value("name", "")},
                     {"image_path", base + "/studio/" + st.value("id", "1") + "/image?t=1699996399" +
                                        (st.value("has_image", true) ? "" : "&default=true")},
                     {"parent_studio", st.value("parent_studio", nlohmann::json())}};
    if (out["studio"]["parent_studio"].is_object()) {
      auto& ps = out["studio"]["parent_studio"];
      ps["image_path"] = base + "/studio/" + ps.value("id", "1") + "/image?t=1&default=true";
      if (!ps.contains("id")) {
        ps["id"] = "1";
      }
    }
  } else {
    out["studio"] = nullptr;
  }
  nlohmann::json performers = nlohmann::json::array();
  for (const auto& p : s.value("performers", nlohmann::json::array())) {
    const auto pid = p.value("id", "1");
    performers.push_back({{"id", pid},
                          {"name", p.value("name", "")},
                          {"disambiguation", p.value("disambiguation", nlohmann::json())},
                          {"gender", p.value("gender", nlohmann::json())},
                          {"favorite", p.value("favorite", false)},
                          {"image_path", performer_image(base, pid, p.value("has_image", true))}});
  }
  out["performers"] = performers;
  nlohmann::json tags = nlohmann::json::array();
  for (const auto& t : s.value("tags", nlohmann::json::array())) {
    // A seeded tag may name its parents ("parents": ["Series"]) and whether it has an image.
    const auto tid = t.value("id", "1");
    nlohmann::json parents = nlohmann::json::array();
    for (const auto& parent : t.value("parents", nlohmann::json::array())) {
      // Appended rather than "p" + string: GCC 12 at -O3 warns on that form (stringop-overflow).
      std::string parent_id = "p";
      parent_id += parent.get<std::string>();
      parents.push_back({{"id", parent_id}, {"name", parent}});
    }
    std::string image = base;
    image += "/tag/" + tid + "/image?t=1";
    if (!t.value("has_image", false)) {
      image += "&default=true";
    }
    tags.push_back({{"id", tid}, {"name", t.value("name", "")}, {"image_path", image}, {"parents", parents}});
  }
  out["tags"] = tags;
  nlohmann::json groups = nlohmann::json::array();
  for (const auto& g : s.value("groups", nlohmann::json::array())) {
    groups.push_back({{"scene_index", g.value("scene_index", nlohmann::json())},
                      {"group",
                       {{"id", g.value("id", "1")},
                        {"name", g.value("name", "")},
                        // Stash appends default=true when the group has no front cover of its own.
                        {"front_image_path", base + "/group/" + g.value("id", "1") + "/frontimage?t=1" +
                                                 (g.value("has_front", true) ? "" : "&default=true")}}}});
  }
  out["groups"] = groups;
  // Before v0.27 the same list is Scene.movies (served, deprecated, after it).
  nlohmann::json movies = nlohmann::json::array();
  for (const auto& g : groups) {
    movies.push_back({{"scene_index", g.at("scene_index")},
                      {"movie",
                       {{"id", g.at("group").at("id")},
                        {"name", g.at("group").at("name")},
                        {"front_image_path", g.at("group").at("front_image_path")}}}});
  }
  out["movies"] = movies;
  out["stash_ids"] = s.value("stash_ids", nlohmann::json::array());
  // Play activity: times in the server's local offset, as Stash converts them (SceneAddPlay).
  nlohmann::json history = nlohmann::json::array();
  int64_t last_played = 0;
  for (const auto& t : s.value("plays", nlohmann::json::array())) {
    history.push_back(timestamp(t.get<int64_t>()));
    last_played = std::max(last_played, t.get<int64_t>());
  }
  out["play_history"] = history;
  out["play_count"] = history.size();
  out["last_played_at"] = last_played > 0 ? nlohmann::json(timestamp(last_played)) : nlohmann::json();
  out["resume_time"] = s.value("resume_time", 0.0);
  out["play_duration"] = s.value("play_duration", 0.0);
  return out;
}

nlohmann::json StashSim::find_scenes(const nlohmann::json& args, const std::string& host) {
  std::vector<const nlohmann::json*> matches;
  std::set<std::string> ids;
  if (args.contains("ids") && args.at("ids").is_array()) {
    for (const auto& id : args.at("ids")) {
      ids.insert(id.is_string() ? id.get<std::string>() : id.dump());
    }
  }
  const auto filter = args.value("scene_filter", nlohmann::json::object());
  for (const auto& [id, s] : scenes_) {
    if (!ids.empty() && ids.count(s.at("id").get<std::string>()) == 0U) {
      continue;
    }
    bool keep = true;
    for (const char* field : {"updated_at", "created_at"}) {
      if (!filter.is_object() || !filter.contains(field) || !filter.at(field).is_object()) {
        continue;
      }
      const auto& crit = filter.at(field);
      const auto value = crit.value("value", "");
      const auto modifier = crit.value("modifier", "EQUALS");
      const auto have = s.at(field).get<std::string>();
      // Stash compares these timestamps as plain strings.
      if (modifier == "GREATER_THAN") {
        keep = keep && have > value;
      } else if (modifier == "LESS_THAN") {
        keep = keep && have < value;
      } else if (modifier == "EQUALS") {
        keep = keep && have == value;
      } else if (modifier == "NOT_EQUALS") {
        keep = keep && have != value;
      } else if (modifier == "BETWEEN") {
        keep = keep && have >= value && have <= crit.value("value2", "9999");
      }
    }
    if (keep) {
      matches.push_back(&s);
    }
  }
  const auto find_filter = args.value("filter", nlohmann::json::object());
  // FindFilterType.q: Stash searches title, details, code and file paths, case-insensitively.
  if (find_filter.is_object() && find_filter.contains("q") && find_filter.at("q").is_string() &&
      !find_filter.at("q").get<std::string>().empty()) {
    const auto lower = [](std::string t) {
      std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      return t;
    };
    const auto q = lower(find_filter.at("q").get<std::string>());
    std::erase_if(matches, [&](const nlohmann::json* sc) {
      // Appended piecewise: GCC 12 -O3 misreports "literal" + std::string (-Wstringop-overflow).
      std::string text;
      for (const char* field : {"title", "details", "code"}) {
        text += sc->value(field, "");
        text += '\n';
      }
      for (const auto& f : sc->value("files", nlohmann::json::array())) {
        text += f.value("path", "");
        text += '\n';
      }
      return lower(text).find(q) == std::string::npos;
    });
  }
  const auto sort = find_filter.is_object() ? find_filter.value("sort", "") : std::string();
  const auto desc = find_filter.is_object() && find_filter.value("direction", "ASC") == "DESC";
  static const std::set<std::string> k_sorts = {"",      "id",   "created_at", "updated_at",
                                                "title", "date", "path",       "rating"};
  if (k_sorts.count(sort) == 0U && sort.rfind("random", 0) != 0) {
    throw std::runtime_error("invalid sort: " + sort);
  }
  const auto key = [&](const nlohmann::json* s) -> std::string {
    if (sort == "id" || sort.empty()) {
      return "";
    }
    if (sort == "path") {
      return s->value("files", nlohmann::json::array()).empty() ? "" : s->at("files").at(0).value("path", "");
    }
    const auto& v = s->value(sort, nlohmann::json());
    return v.is_string() ? v.get<std::string>() : v.dump();
  };
  std::stable_sort(matches.begin(), matches.end(), [&](const nlohmann::json* a, const nlohmann::json* b) {
    const auto ka = key(a);
    const auto kb = key(b);
    if (ka != kb) {
      return desc ? ka > kb : ka < kb;
    }
    const auto ia = std::stoll(a->at("id").get<std::string>());
    const auto ib = std::stoll(b->at("id").get<std::string>());
    return desc && (sort == "id") ? ia > ib : ia < ib;
  });
  const int64_t per_page = find_filter.is_object() ? find_filter.value("per_page", int64_t{25}) : 25;
  const int64_t page = std::max<int64_t>(1, find_filter.is_object() ? find_filter.value("page", int64_t{1}) : 1);
  nlohmann::json scenes = nlohmann::json::array();
  double duration = 0;
  int64_t filesize = 0;
  for (const auto* s : matches) {
    for (const auto& f : s->value("files", nlohmann::json::array())) {
      duration += f.value("duration", 0.0);
      filesize += f.value("size", int64_t{0});
    }
  }
  const auto total = static_cast<int64_t>(matches.size());
  const int64_t begin = per_page < 0 ? 0 : (page - 1) * per_page;
  const int64_t end = per_page < 0 ? total : std::min(total, begin + per_page);
  for (int64_t i = begin; i < end; ++i) {
    scenes.push_back(full_scene(*matches[static_cast<size_t>(i)], host));
  }
  return {{"count", total}, {"duration", duration}, {"filesize", filesize}, {"scenes", scenes}};
}

std::pair<int, nlohmann::json> StashSim::execute(const std::string& query, const nlohmann::json& variables,
                                                 const std::string& host) {
  // gqlgen answers a document that does not parse or validate with HTTP 422
  // (99designs/gqlgen graphql/handler/transport/http_post.go) and the error under "errors".
  const auto refused = [](const std::string& message) {
    auto body = gql_error(message);
    body["errors"][0]["extensions"] = {{"code", "GRAPHQL_VALIDATION_FAILED"}};
    return std::pair<int, nlohmann::json>{422, body};
  };
  auto doc = gql::parse(query, variables);
  if (!doc) {
    return refused(doc.error().message);
  }
  if (schema_) {
    if (auto valid = schema_->validate(*doc); !valid) {
      return refused(valid.error().message);
    }
  }
  const auto& op = doc->operations.front();
  if (op.type == "mutation") {
    return mutate(*doc, host);
  }
  if (op.type != "query") {
    return {200, gql_error("the simulator answers queries and mutations only")};
  }
  nlohmann::json data = nlohmann::json::object();
  std::lock_guard lock(mutex_);
  for (const auto& sel : op.selections) {
    nlohmann::json resolved;
    std::string type;
    try {
      if (sel.name == "findScene") {
        const auto& id = sel.arguments.value("id", nlohmann::json());
        const auto key = id.is_string() ? std::stoll(id.get<std::string>()) : (id.is_number() ? id.get<int64_t>() : -1);
        auto it = scenes_.find(key);
        resolved = it == scenes_.end() ? nlohmann::json() : full_scene(it->second, host);
        type = "Scene";
      } else if (sel.name == "findScenes") {
        resolved = find_scenes(sel.arguments, host);
        type = "FindScenesResultType";
      } else if (sel.name == "configuration") {
        nlohmann::json plugins = plugin_configuration(nlohmann::json());
        for (const auto& child : sel.selections) {
          if (child.name == "plugins") {
            plugins = plugin_configuration(child.arguments.value("include", nlohmann::json()));
          }
        }
        resolved = {{"plugins", plugins}, {"general", {{"apiKey", options_.api_key}}}};
        type = "ConfigResult";
      } else if (sel.name == "jobQueue") {
        resolved = job_queue_;
        type = "Job";
      } else if (sel.name == "version") {
        // develop as `git describe` names it: the schema in shared/ is develop at cf3489efdc45.
        const bool develop = options_.release.empty() || options_.release == "develop";
        resolved = {{"version", develop ? "v0.30.1-44-gcf3489efd" : options_.release},
                    {"hash", "cf3489efdc45"},
                    {"build_time", "2026-01-14"}};
        type = "Version";
      } else {
        return refused("Cannot query field \"" + sel.name + "\" on type \"Query\".");
      }
    } catch (const std::exception& e) {
      return {200, gql_error(std::string(e.what()))};
    }
    if (resolved.is_null()) {
      data[sel.alias] = nullptr;
      continue;
    }
    if (sel.selections.empty()) {
      data[sel.alias] = resolved;
      continue;
    }
    if (resolved.is_array()) {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& e : resolved) {
        auto p = gql::project(e, sel.selections, *doc, type);
        if (!p) {
          return refused(p.error().message);
        }
        arr.push_back(*p);
      }
      data[sel.alias] = arr;
      continue;
    }
    auto projected = gql::project(resolved, sel.selections, *doc, type);
    if (!projected) {
      return refused(projected.error().message);
    }
    data[sel.alias] = *projected;
  }
  return {200, {{"data", data}}};
}

namespace {

// Every "id" made of digits becomes a JSON number, the way a proxy or a plugin that rewrites
// answers might send it (GraphQL's ID type is a string).
void numbers_for_ids(nlohmann::json& j) {
  if (j.is_object()) {
    for (auto& [key, value] : j.items()) {
      if (key == "id" && value.is_string() && !value.get<std::string>().empty() &&
          value.get<std::string>().find_first_not_of("0123456789") == std::string::npos) {
        value = std::stoll(value.get<std::string>());
      } else {
        numbers_for_ids(value);
      }
    }
  } else if (j.is_array()) {
    for (auto& v : j) {
      numbers_for_ids(v);
    }
  }
}

} // namespace

std::pair<int, nlohmann::json> StashSim::mutate(const gql::Document& doc, const std::string& host) {
  // The mutations PlexSync sends (stash/activity.hpp), as Stash's resolvers do them: plays and
  // activity leave updated_at alone and fire no hook; sceneUpdate bumps updated_at and fires
  // Scene.Update.Post once the answer is ready (Stash runs post hooks after the commit).
  nlohmann::json data = nlohmann::json::object();
  std::vector<std::string> updated;
  {
    std::lock_guard lock(mutex_);
    for (const auto& sel : doc.operations.front().selections) {
      const auto id_of = [&](const nlohmann::json& v) -> int64_t {
        const auto text = v.is_string() ? v.get<std::string>() : v.dump();
        if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos || text.size() > 18) {
          throw std::runtime_error("converting id: strconv.Atoi: parsing \"" + text + "\": invalid syntax");
        }
        return std::stoll(text);
      };
      try {
        nlohmann::json resolved;
        std::string type;
        if (sel.name == "sceneAddPlay" || sel.name == "sceneSaveActivity") {
          const auto id = id_of(sel.arguments.value("id", nlohmann::json()));
          auto it = scenes_.find(id);
          if (it == scenes_.end()) {
            throw std::runtime_error("scene with id " + std::to_string(id) + " not found");
          }
          auto& scene = it->second;
          if (sel.name == "sceneAddPlay") {
            auto plays = scene.value("plays", nlohmann::json::array());
            const auto times = sel.arguments.value("times", nlohmann::json());
            if (times.is_array() && !times.empty()) {
              for (const auto& t : times) {
                const auto at = t.is_string() ? util::parse_rfc3339(t.get<std::string>()) : std::nullopt;
                if (!at) {
                  throw std::runtime_error("Timestamp: invalid time " + t.dump());
                }
                plays.push_back(*at);
              }
            } else {
              plays.push_back(static_cast<int64_t>(std::time(nullptr)));
            }
            std::vector<int64_t> sorted = plays.get<std::vector<int64_t>>();
            std::sort(sorted.begin(), sorted.end());
            scene["plays"] = sorted;
            nlohmann::json history = nlohmann::json::array();
            for (const auto t : sorted) {
              history.push_back(timestamp(t));
            }
            resolved = {{"count", sorted.size()}, {"history", history}};
            type = "HistoryMutationResult";
          } else {
            if (const auto r = sel.arguments.value("resume_time", nlohmann::json()); r.is_number()) {
              scene["resume_time"] = r.get<double>();
            }
            if (const auto d = sel.arguments.value("playDuration", nlohmann::json()); d.is_number()) {
              scene["play_duration"] = scene.value("play_duration", 0.0) + d.get<double>();
            }
            data[sel.alias] = true;
            continue;
          }
        } else if (sel.name == "sceneUpdate") {
          const auto input = sel.arguments.value("input", nlohmann::json::object());
          const auto id = id_of(input.value("id", nlohmann::json()));
          auto it = scenes_.find(id);
          if (it == scenes_.end()) {
            throw std::runtime_error("scene with id " + std::to_string(id) + " not found");
          }
          for (const auto& [k, v] : input.items()) {
            if (k != "id") {
              it->second[k] = v;
            }
          }
          it->second["updated_at"] = timestamp(next_tick());
          updated.push_back(std::to_string(id));
          resolved = full_scene(it->second, host);
          type = "Scene";
        } else {
          return {422, gql_error("the simulator does not implement mutation " + sel.name)};
        }
        auto projected = gql::project(resolved, sel.selections, doc, type);
        if (!projected) {
          return {422, gql_error(projected.error().message)};
        }
        data[sel.alias] = *projected;
      } catch (const std::exception& e) {
        auto body = gql_error(e.what());
        body["data"] = nullptr;
        return {200, body};
      }
    }
    ++mutations_;
  }
  if (on_scene_update_) {
    for (const auto& id : updated) {
      on_scene_update_(id);
    }
  }
  if (const int delay = mutation_delay_ms_.load(); delay > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(delay));
  }
  return {200, {{"data", data}}};
}

void StashSim::set_on_scene_update(std::function<void(const std::string&)> hook) {
  on_scene_update_ = std::move(hook);
}

int64_t StashSim::mutations() {
  std::lock_guard lock(mutex_);
  return mutations_;
}

void StashSim::set_utc_offset(const std::string& offset) {
  std::lock_guard lock(mutex_);
  options_.utc_offset = offset;
}

void StashSim::set_numeric_ids(bool on) {
  numeric_ids_ = on;
}

net::ServerResponse StashSim::handle(const net::ServerRequest& req) {
  auto rec = sim::RecordedRequest::of(req);
  if (req.path.rfind("/__sim/", 0) == 0) {
    if (auto control = sim::handle_control(req, faults_, log_); control) {
      return *control;
    }
    try {
      if (req.path == "/__sim/session" && req.method == "POST") {
        return sim::json_response({{"cookie", new_session()}});
      }
      if (req.path.rfind("/__sim/scenes/", 0) == 0 && req.method == "POST") {
        const bool ok = update_scene(req.path.substr(14), nlohmann::json::parse(req.body));
        return sim::json_response({{"ok", ok}}, ok ? 200 : 404);
      }
      if (req.path == "/__sim/settings" && req.method == "POST") {
        const auto body = nlohmann::json::parse(req.body);
        set_plugin_settings(body.value("plugin", "PlexSync"), body.at("settings"));
        return sim::json_response({{"ok", true}});
      }
    } catch (const nlohmann::json::exception& e) {
      return sim::json_response({{"error", e.what()}}, 400);
    }
    return sim::text_response(404, "text/plain", "404 page not found\n");
  }
  // Auth in Stash's order: an ApiKey header (or apikey query) must be right; else the cookie.
  const auto* key_header = req.header("ApiKey");
  std::string key = key_header != nullptr ? *key_header : "";
  for (const auto& [k, v] : rec.query) {
    if (k == "apikey") {
      key = v;
    }
  }
  const auto cookie = cookie_value(req, "session");
  bool authed = !options_.credentials;
  bool valid_cookie = false;
  int64_t cookie_left_s = 3600;
  {
    std::lock_guard lock(mutex_);
    if (const auto it = sessions_.find(cookie); it != sessions_.end()) {
      const int64_t age = steady_ms() - it->second;
      valid_cookie = options_.session_max_age_ms <= 0 || age < options_.session_max_age_ms;
      if (options_.session_max_age_ms > 0) {
        cookie_left_s = std::max<int64_t>(0, (options_.session_max_age_ms - age) / 1000);
      }
    }
  }
  if (!key.empty()) {
    if (options_.api_key.empty() || key != options_.api_key) {
      log_.record(rec);
      auto r = sim::text_response(401, "text/plain", "");
      r.headers.push_back({"WWW-Authenticate", "FormBased"});
      return r;
    }
    authed = true;
  } else if (valid_cookie) {
    authed = true;
  }
  rec.token_via = !key.empty() ? "apikey" : (valid_cookie ? "cookie" : "");
  log_.record(rec);
  if (const int latency = faults_.latency_ms(); latency > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(latency));
  }
  const auto fault = faults_.match(req.method, req.path);
  net::ServerResponse res;
  const auto dot = req.path.rfind('.');
  const bool page = req.path != "/graphql" &&
                    (dot == std::string::npos || dot < req.path.rfind('/') || req.path.substr(dot) == ".html");
  if (!authed && page) {
    // Stash redirects pages and extension-less paths such as /scene/1/screenshot to its login page
    // (internal/api/authentication.go); only /graphql and files get 401.
    res = sim::text_response(302, "text/html", "<a href=\"/login\">Found</a>.\n");
    res.headers.push_back({"Location", "/login?returnURL=" + util::percent_encode(req.target)});
  } else if (!authed) {
    res = sim::text_response(401, "text/plain", "");
    res.headers.push_back({"WWW-Authenticate", "FormBased"});
  } else if (fault && (fault->status != 0 || fault->reset)) {
    // Answered by the injected fault alone.
  } else if (req.path == "/graphql" && req.method == "POST") {
    const auto* ct = req.header("Content-Type");
    if (ct == nullptr || ct->find("application/json") == std::string::npos) {
      res = sim::text_response(415, "text/plain", "Unsupported Media Type");
    } else {
      try {
        const auto body = nlohmann::json::parse(req.body);
        const auto query = body.value("query", "");
        {
          std::lock_guard lock(mutex_);
          queries_.push_back(query);
        }
        const auto* host = req.header("Host");
        auto [status, answer] =
            execute(query, body.value("variables", nlohmann::json::object()), host ? *host : "127.0.0.1");
        if (numeric_ids_) {
          numbers_for_ids(answer);
        }
        res = sim::json_response(answer, status);
      } catch (const nlohmann::json::exception&) {
        res = sim::json_response(gql_error("json body could not be decoded"), 400);
      }
    }
    if (valid_cookie) {
      res.headers.push_back(
          {"Set-Cookie", "session=" + cookie + "; Path=/; Max-Age=" + std::to_string(cookie_left_s) + "; HttpOnly"});
    }
  } else if (req.method == "GET" && req.path.rfind("/scene/", 0) == 0 &&
             req.path.find("/screenshot") != std::string::npos) {
    const auto id = req.path.substr(7, req.path.find('/', 7) - 7);
    std::lock_guard lock(mutex_);
    auto it = scenes_.find(std::atoll(id.c_str()));
    if (it == scenes_.end()) {
      res = sim::text_response(404, "text/plain", "404 page not found\n");
    } else if (it->second.contains("cover")) {
      res = sim::text_response(200, "image/png", it->second.at("cover").get<std::string>()); // a test's own bytes
    } else if (it->second.value("has_cover", true) && options_.wide_covers) {
      res = sim::text_response(200, "image/jpeg", wide_cover(it->first));
    } else if (it->second.value("has_cover", true)) {
      res = sim::text_response(200, "image/png", std::string(reinterpret_cast<const char*>(k_png), sizeof k_png));
    } else {
      res = sim::text_response(200, "image/svg+xml", k_placeholder_svg);
    }
  } else if (req.method == "GET" && req.path.rfind("/group/", 0) == 0 && options_.wide_covers) {
    res = sim::text_response(200, "image/jpeg", portrait_cover()); // a DVD-like front cover
  } else if (req.method == "GET" && (req.path.rfind("/performer/", 0) == 0 || req.path.rfind("/studio/", 0) == 0 ||
                                     req.path.rfind("/group/", 0) == 0 || req.path.rfind("/tag/", 0) == 0)) {
    const bool placeholder =
        std::any_of(rec.query.begin(), rec.query.end(), [](const auto& kv) { return kv.first == "default"; });
    res = placeholder
              ? sim::text_response(200, "image/svg+xml", k_placeholder_svg)
              : sim::text_response(200, "image/png", std::string(reinterpret_cast<const char*>(k_png), sizeof k_png));
  } else {
    res = sim::text_response(404, "text/plain", "404 page not found\n");
  }
  faults_.apply(fault, res, true);
  return res;
}

std::string StashSim::new_session() {
  static std::mt19937_64 rng(std::random_device{}());
  std::string value = "MTc2" + std::to_string(rng()) + "simsession" + std::to_string(rng());
  std::lock_guard lock(mutex_);
  sessions_[value] = steady_ms();
  return value;
}

void StashSim::end_sessions() {
  std::lock_guard lock(mutex_);
  sessions_.clear();
}

void StashSim::set_session_max_age_ms(int64_t ms) {
  std::lock_guard lock(mutex_);
  options_.session_max_age_ms = ms;
}

void StashSim::set_auth(const std::string& api_key, bool credentials) {
  options_.api_key = api_key;
  options_.credentials = credentials;
}

bool StashSim::update_scene(const std::string& id, const nlohmann::json& patch) {
  std::lock_guard lock(mutex_);
  auto it = scenes_.find(std::atoll(id.c_str()));
  if (it == scenes_.end()) {
    return false;
  }
  for (const auto& [k, v] : patch.items()) {
    it->second[k] = v;
  }
  it->second["updated_at"] = timestamp(next_tick());
  return true;
}

void StashSim::add_scene(const nlohmann::json& scene) {
  nlohmann::json s = scene;
  std::lock_guard lock(mutex_);
  const auto id = std::stoll(s.at("id").get<std::string>());
  s["created_at"] = timestamp(next_tick());
  s["updated_at"] = s["created_at"];
  scenes_[id] = s;
}

bool StashSim::delete_scene(const std::string& id) {
  std::lock_guard lock(mutex_);
  return scenes_.erase(std::atoll(id.c_str())) > 0;
}

void StashSim::set_plugin_settings(const std::string& plugin_id, const nlohmann::json& settings) {
  std::lock_guard lock(mutex_);
  if (v025()) {
    // ConfigurePlugin replaces the whole map, stored under snake_cased id and keys.
    nlohmann::json stored = nlohmann::json::object();
    for (const auto& [k, v] : settings.items()) {
      stored[to_snake(k)] = v;
    }
    plugins_[to_snake(plugin_id)] = stored;
    return;
  }
  plugins_[plugin_id] = settings;
}

void StashSim::set_job_queue(const nlohmann::json& jobs) {
  std::lock_guard lock(mutex_);
  job_queue_ = jobs;
}

std::optional<nlohmann::json> StashSim::scene(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto it = scenes_.find(std::atoll(id.c_str()));
  if (it == scenes_.end()) {
    return std::nullopt;
  }
  return it->second;
}

std::vector<std::string> StashSim::received_queries() {
  std::lock_guard lock(mutex_);
  return queries_;
}

} // namespace stashsim
