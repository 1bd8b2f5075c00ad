// Prints, as a JSON array, the GraphQL documents plexsync sends to a Stash that reports the given
// version (argv[1], e.g. "v0.26.2"; none or "" = a Stash whose version is unknown). The fidelity
// tests validate them against that release's schema, so the choice between Scene.movies and
// Scene.groups is checked exactly as the product makes it.
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "stash/activity.hpp"
#include "stash/scene.hpp"

int main(int argc, char** argv) {
  using namespace stash::queries;
  const std::string version = argc > 1 ? argv[1] : "";
  const auto groups = stash::group_field_for(stash::parse_version(version));
  nlohmann::json out = {
      {{"name", "findScene"}, {"query", find_scene(groups)}},
      {{"name", "findScenes"}, {"query", find_scenes(groups)}},
      {{"name", "pluginSettings"}, {"query", k_plugin_settings}},
      {{"name", "jobQueue"}, {"query", k_job_queue}},
      {{"name", "sceneVersions"}, {"query", k_scene_versions}},
      {{"name", "version"}, {"query", k_version}},
      {{"name", "apiKey"}, {"query", k_api_key}},
      // Plex -> Stash (issue #27): the same documents for every release.
      {{"name", "sceneActivity"}, {"query", k_scene_activity}},
      {{"name", "addPlay"}, {"query", k_add_play}},
      {{"name", "saveActivity"}, {"query", k_save_activity}},
      {{"name", "setRating"}, {"query", k_set_rating}},
  };
  std::cout << out.dump(2) << "\n";
  return 0;
}
