#include "stash/scene.hpp"

#include <array>

#include <nlohmann/json.hpp>

#include "util/number.hpp"

namespace stash {

namespace queries {
// Only the fields PlexSync reads: every extra field widens the set of Stash releases a document
// fails on, and paths.stream would carry Stash's API key (fidelity findings rows 1 and 12).
// Checked against Stash's SDL at v0.25.1 ... develop by tests/fidelity/stash_schema.test.mjs.
namespace {
constexpr const char* k_fragment_head = R"gql(fragment SyncScene on Scene {
  id title code details director date rating100 organized urls updated_at
  files { path basename size duration }
  paths { screenshot }
  studio { name image_path parent_studio { name image_path } }
  performers { name image_path favorite }
  tags { name image_path parents { name } }
  stash_ids { endpoint stash_id }
)gql";
} // namespace
const char* const k_find_scene_op =
    R"gql(query PlexSyncFindScene($id: ID!) { findScene(id: $id) { ...SyncScene } })gql";
const char* const k_find_scenes_op =
    R"gql(query PlexSyncFindScenes($f: SceneFilterType, $p: FindFilterType) { findScenes(scene_filter: $f, filter: $p) { count scenes { ...SyncScene } } })gql";
// Settings saved by Stash v0.25 under the id "plexSync" survive its v0.26 upgrade there.
const char* const k_plugin_settings =
    R"gql(query PlexSyncSettings($ids: [ID!]) { configuration { plugins(include: $ids) } })gql";
const char* const k_scene_versions =
    R"gql(query PlexSyncSceneVersions($f: SceneFilterType, $p: FindFilterType) { findScenes(scene_filter: $f, filter: $p) { count scenes { id updated_at } } })gql";
const char* const k_job_queue = R"gql(query PlexSyncJobQueue { jobQueue { id status description progress } })gql";
const char* const k_version = R"gql(query PlexSyncVersion { version { version } })gql";
const char* const k_api_key = R"gql(query PlexSyncApiKey { configuration { general { apiKey } } })gql";

std::string scene_fragment(GroupField groups) {
  // Scene.groups exists from v0.27; before it the same list is Scene.movies (still served, deprecated).
  // Appended, not `std::string(...) + "..."`: GCC 12 at -O3 reports a false -Warray-bounds on that
  // temporary when this file shares a unity build unit with others.
  std::string fragment(k_fragment_head);
  fragment += groups == GroupField::groups ? "  groups { scene_index group { name front_image_path } }\n}"
                                           : "  movies { scene_index movie { name front_image_path } }\n}";
  return fragment;
}
std::string find_scene(GroupField groups) {
  return std::string(k_find_scene_op) + "\n" + scene_fragment(groups);
}
std::string find_scenes(GroupField groups) {
  return std::string(k_find_scenes_op) + "\n" + scene_fragment(groups);
}
} // namespace queries

namespace {

std::string str(const nlohmann::json& obj, const char* key) {
  if (obj.is_object() && obj.contains(key) && obj.at(key).is_string()) {
    return obj.at(key).get<std::string>();
  }
  return {};
}

// An image URL Stash built; "" for its placeholder (every image URL builder appends default=true
// when the object has no image of its own: internal/api/urlbuilders in Stash's source).
std::string image_of(const nlohmann::json& obj, const char* key) {
  auto url = str(obj, key);
  return url.find("default=true") == std::string::npos ? url : std::string();
}

// A GraphQL ID: a string, or a whole number some proxies and plugins send instead.
std::string id_of(const nlohmann::json& obj) {
  if (obj.is_object() && obj.contains("id") && obj.at("id").is_number_integer()) {
    return obj.at("id").dump();
  }
  return str(obj, "id");
}

int64_t int64_of(const nlohmann::json& v) {
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

} // namespace

util::Result<Scene> scene_from_json(const nlohmann::json& j) {
  if (!j.is_object()) {
    return util::fail("Stash returned a scene that is not an object");
  }
  Scene s;
  s.id = id_of(j);
  if (s.id.empty()) {
    return util::fail("Stash returned a scene without an id");
  }
  s.title = str(j, "title");
  s.code = str(j, "code");
  s.director = str(j, "director");
  s.details = str(j, "details");
  if (j.contains("urls") && j.at("urls").is_array()) {
    for (const auto& u : j.at("urls")) {
      if (u.is_string() && !u.get<std::string>().empty()) {
        s.urls.push_back(u.get<std::string>());
      }
    }
  }
  s.date = str(j, "date");
  if (j.contains("rating100") && j.at("rating100").is_number()) {
    const auto& r = j.at("rating100");
    const auto n = r.is_number_float() ? util::to_int64(r.get<double>()) : std::optional<int64_t>(r.get<int64_t>());
    if (n && *n >= INT32_MIN && *n <= INT32_MAX) {
      s.rating100 = static_cast<int>(*n); // out of 0..100 is reported by the schema check
    }
  }
  s.updated_at = str(j, "updated_at");
  s.organized = j.contains("organized") && j.at("organized").is_boolean() && j.at("organized").get<bool>();
  if (j.contains("studio") && j.at("studio").is_object()) {
    s.studio = str(j.at("studio"), "name");
    s.studio_image = image_of(j.at("studio"), "image_path");
    if (j.at("studio").contains("parent_studio") && j.at("studio").at("parent_studio").is_object()) {
      s.parent_studio = str(j.at("studio").at("parent_studio"), "name");
      s.parent_studio_image = image_of(j.at("studio").at("parent_studio"), "image_path");
    }
  }
  if (j.contains("files") && j.at("files").is_array()) {
    for (const auto& f : j.at("files")) {
      SceneFile file;
      file.path = str(f, "path");
      file.basename = str(f, "basename");
      if (f.contains("size")) {
        file.size = int64_of(f.at("size"));
      }
      if (f.contains("duration") && f.at("duration").is_number()) {
        file.duration = f.at("duration").get<double>();
      }
      if (!file.path.empty()) {
        s.files.push_back(std::move(file));
      }
    }
  }
  if (j.contains("performers") && j.at("performers").is_array()) {
    for (const auto& p : j.at("performers")) {
      Performer performer{str(p, "id"), str(p, "name"), image_of(p, "image_path"),
                          p.is_object() && p.contains("favorite") && p.at("favorite").is_boolean() &&
                              p.at("favorite").get<bool>()};
      if (!performer.name.empty()) {
        s.performers.push_back(std::move(performer));
      }
    }
  }
  if (j.contains("tags") && j.at("tags").is_array()) {
    for (const auto& t : j.at("tags")) {
      if (auto name = str(t, "name"); !name.empty()) {
        TagLinks links;
        links.image_path = image_of(t, "image_path");
        if (t.contains("parents") && t.at("parents").is_array()) {
          for (const auto& parent : t.at("parents")) {
            if (auto parent_name = str(parent, "name"); !parent_name.empty()) {
              links.parents.push_back(std::move(parent_name));
            }
          }
        }
        s.tag_links[name] = std::move(links);
        s.tags.push_back(std::move(name));
      }
    }
  }
  // groups { group { name front_image_path } } from v0.27 on, movies { movie { ... } } before.
  for (const auto& [list, member] : {std::pair{"groups", "group"}, std::pair{"movies", "movie"}}) {
    if (!j.contains(list) || !j.at(list).is_array()) {
      continue;
    }
    for (const auto& g : j.at(list)) {
      if (g.is_object() && g.contains(member)) {
        const auto front = image_of(g.at(member), "front_image_path");
        if (auto name = str(g.at(member), "name"); !name.empty()) {
          if (s.groups.empty() && g.contains("scene_index") && g.at("scene_index").is_number_integer()) {
            s.group_index = g.at("scene_index").get<int>();
          }
          s.groups.push_back(std::move(name));
          s.group_fronts.push_back(front);
        }
      }
    }
  }
  if (j.contains("paths") && j.at("paths").is_object()) {
    s.screenshot = str(j.at("paths"), "screenshot");
  }
  if (j.contains("stash_ids") && j.at("stash_ids").is_array()) {
    for (const auto& id : j.at("stash_ids")) {
      StashId sid{str(id, "endpoint"), str(id, "stash_id")};
      if (!sid.endpoint.empty() && !sid.stash_id.empty()) {
        s.stash_ids.push_back(std::move(sid));
      }
    }
  }
  s.source = j.dump();
  return s;
}

std::optional<StashVersion> parse_version(const std::string& text) {
  // "v0.26.2", "0.26.2", "v0.30.1-45-gabc1234": three dot-separated numbers after an optional v.
  size_t pos = !text.empty() && (text[0] == 'v' || text[0] == 'V') ? 1 : 0;
  std::array<int, 3> parts{};
  for (size_t i = 0; i < parts.size(); ++i) {
    const size_t begin = pos;
    int value = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9' && pos - begin < 6) {
      value = value * 10 + (text[pos] - '0');
      ++pos;
    }
    if (pos == begin) {
      return std::nullopt;
    }
    parts.at(i) = value;
    if (i < 2) {
      if (pos >= text.size() || text[pos] != '.') {
        return std::nullopt;
      }
      ++pos;
    }
  }
  return StashVersion{parts[0], parts[1], parts[2]};
}

GroupField group_field_for(const std::optional<StashVersion>& version) {
  return version && version->before(0, 27) ? GroupField::movies : GroupField::groups;
}

util::Result<SceneVersions> scene_versions_from_json(const nlohmann::json& data) {
  const auto shape = [](const std::string& what) {
    return util::fail("Stash answered findScenes with " + what +
                      " (a proxy or plugin between PlexSync and Stash changing answers?); retrying later");
  };
  if (!data.is_object() || !data.contains("findScenes") || !data.at("findScenes").is_object()) {
    return shape("no findScenes object");
  }
  const auto& found = data.at("findScenes");
  SceneVersions page;
  if (found.contains("count") && !found.at("count").is_null()) {
    if (!found.at("count").is_number()) {
      return shape("a count that is not a number");
    }
    page.count = int64_of(found.at("count"));
  }
  if (!found.contains("scenes") || !found.at("scenes").is_array()) {
    return shape("no list of scenes");
  }
  for (const auto& scene : found.at("scenes")) {
    auto id = id_of(scene);
    if (id.empty()) {
      return shape("a scene without a usable id");
    }
    page.scenes.emplace_back(std::move(id), str(scene, "updated_at"));
  }
  return page;
}

} // namespace stash
