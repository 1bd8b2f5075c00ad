// What PlexSync reads of a Stash scene (the SyncScene fragment of the protocol spec).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "util/expected.hpp"

namespace stash {

struct SceneFile {
  std::string path;
  std::string basename;
  int64_t size = 0;
  double duration = 0;
};

struct Performer {
  std::string id;
  std::string name;
  std::string image_path; // empty when Stash only has its placeholder
};

struct Scene {
  std::string id;
  std::string title;
  std::string code; // studio's own scene code
  std::string director;
  std::vector<std::string> urls;
  std::string details;
  std::string date; // YYYY-MM-DD or empty
  std::optional<int> rating100;
  std::string studio;
  std::string parent_studio;
  std::string created_at;
  std::string updated_at;
  std::vector<SceneFile> files;
  std::vector<Performer> performers;
  std::vector<std::string> tags;
  std::vector<std::string> groups;
  std::string screenshot;
};

util::Result<Scene> scene_from_json(const nlohmann::json& j);

// The GraphQL documents PlexSync sends; tests validate each against Stash's real schema.
namespace queries {
extern const char* const k_scene_fragment;
extern const char* const k_find_scene;
extern const char* const k_find_scenes;
extern const char* const k_plugin_settings;
extern const char* const k_job_queue;
// Ids and updated_at only: what the enqueue tasks and the late-update poll page through.
extern const char* const k_scene_versions;
} // namespace queries

} // namespace stash
