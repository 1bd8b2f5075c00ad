#include "stash/scene.hpp"

#include <nlohmann/json.hpp>

#include "util/number.hpp"

namespace stash {

namespace queries {
const char* const k_scene_fragment = R"gql(fragment SyncScene on Scene {
  id title code details director date rating100 organized urls created_at updated_at
  files { id path basename size duration width height video_codec audio_codec frame_rate bit_rate mod_time fingerprints { type value } }
  paths { screenshot preview stream webp }
  studio { id name image_path parent_studio { id name image_path } }
  performers { id name disambiguation gender image_path }
  tags { id name }
  groups { scene_index group { id name front_image_path } }
  stash_ids { endpoint stash_id updated_at }
})gql";
const char* const k_find_scene = R"gql(query PlexSyncFindScene($id: ID!) { findScene(id: $id) { ...SyncScene } })gql";
const char* const k_find_scenes =
    R"gql(query PlexSyncFindScenes($f: SceneFilterType, $p: FindFilterType) { findScenes(scene_filter: $f, filter: $p) { count scenes { ...SyncScene } } })gql";
const char* const k_plugin_settings =
    R"gql(query PlexSyncSettings($ids: [ID!]) { configuration { plugins(include: $ids) } })gql";
const char* const k_scene_versions =
    R"gql(query PlexSyncSceneVersions($f: SceneFilterType, $p: FindFilterType) { findScenes(scene_filter: $f, filter: $p) { count scenes { id updated_at } } })gql";
const char* const k_job_queue = R"gql(query PlexSyncJobQueue { jobQueue { id status description progress } })gql";
} // namespace queries

namespace {

std::string str(const nlohmann::json& obj, const char* key) {
  if (obj.is_object() && obj.contains(key) && obj.at(key).is_string()) {
    return obj.at(key).get<std::string>();
  }
  return {};
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
  s.id = str(j, "id");
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
  s.created_at = str(j, "created_at");
  s.updated_at = str(j, "updated_at");
  if (j.contains("studio") && j.at("studio").is_object()) {
    s.studio = str(j.at("studio"), "name");
    if (j.at("studio").contains("parent_studio") && j.at("studio").at("parent_studio").is_object()) {
      s.parent_studio = str(j.at("studio").at("parent_studio"), "name");
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
      Performer performer{str(p, "id"), str(p, "name"), str(p, "image_path")};
      if (performer.image_path.find("default=true") != std::string::npos) {
        performer.image_path.clear(); // Stash's placeholder silhouette
      }
      if (!performer.name.empty()) {
        s.performers.push_back(std::move(performer));
      }
    }
  }
  if (j.contains("tags") && j.at("tags").is_array()) {
    for (const auto& t : j.at("tags")) {
      if (auto name = str(t, "name"); !name.empty()) {
        s.tags.push_back(std::move(name));
      }
    }
  }
  if (j.contains("groups") && j.at("groups").is_array()) {
    for (const auto& g : j.at("groups")) {
      if (g.is_object() && g.contains("group")) {
        if (auto name = str(g.at("group"), "name"); !name.empty()) {
          s.groups.push_back(std::move(name));
        }
      }
    }
  }
  if (j.contains("paths") && j.at("paths").is_object()) {
    s.screenshot = str(j.at("paths"), "screenshot");
  }
  return s;
}

} // namespace stash
