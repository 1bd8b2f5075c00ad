// What PlexSync reads of a Stash scene (the SyncScene fragment of the protocol spec).
#pragma once

#include <cstdint>
#include <map>
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
  bool favorite = false;
};

// What a tag carries besides its name (collection rules and genre filters, issue #28).
struct TagLinks {
  std::vector<std::string> parents; // the tags directly above it
  std::string image_path;           // empty when Stash only has its placeholder
};

struct StashId {
  std::string endpoint; // the stash-box GraphQL URL, e.g. https://stashdb.org/graphql
  std::string stash_id;
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
  // The studios' images as Stash serves them ("" = placeholder or none): collection posters.
  std::string studio_image;
  std::string parent_studio_image;
  bool organized = false;
  std::string updated_at;
  std::vector<SceneFile> files;
  std::vector<Performer> performers;
  std::vector<std::string> tags;
  std::map<std::string, TagLinks> tag_links; // by tag name
  std::vector<std::string> groups;
  // Parallel to groups: each front cover as Stash serves it, "" when it has none (Stash's
  // placeholder, default=true, counts as none).
  std::vector<std::string> group_fronts;
  std::optional<int> group_index; // the scene's number in its first group, when Stash has one
  std::string screenshot;
  std::vector<StashId> stash_ids;
  std::string source; // the scene object exactly as Stash answered (the provider's snapshot)
};

util::Result<Scene> scene_from_json(const nlohmann::json& j);

// One page of findScenes { count scenes { id updated_at } } (the listings and the late-update
// poll). GraphQL IDs are strings, but a proxy or a plugin may hand numbers: both are read. Any
// other shape is an error naming what was wrong, never an exception.
struct SceneVersions {
  int64_t count = 0;
  std::vector<std::pair<std::string, std::string>> scenes; // (id, updated_at)
};
util::Result<SceneVersions> scene_versions_from_json(const nlohmann::json& data);

// Which field holds a scene's groups: Scene.groups from Stash v0.27, Scene.movies before.
enum class GroupField { groups, movies };

// Stash's version string ("v0.26.2", "v0.30.1-45-gabc1234"): its major, minor and patch, or
// nullopt when it is not one (a development build without a tag, an empty answer).
struct StashVersion {
  int major = 0;
  int minor = 0;
  int patch = 0;
  [[nodiscard]] bool before(int maj, int min) const { return major < maj || (major == maj && minor < min); }
};
std::optional<StashVersion> parse_version(const std::string& text);
// Unknown versions are taken as current Stash: groups.
GroupField group_field_for(const std::optional<StashVersion>& version);

// The GraphQL documents PlexSync sends; tests validate each against Stash's real schemas.
namespace queries {
std::string scene_fragment(GroupField groups);
std::string find_scene(GroupField groups);  // with the fragment
std::string find_scenes(GroupField groups); // with the fragment
extern const char* const k_plugin_settings;
extern const char* const k_job_queue;
// Ids and updated_at only: what the enqueue tasks and the late-update poll page through.
extern const char* const k_scene_versions;
extern const char* const k_version;
// Stash's API key, read with the session cookie; kept in memory only (it outlives the cookie).
extern const char* const k_api_key;
} // namespace queries

} // namespace stash
