// Prints the GraphQL documents plexsync sends to Stash as a JSON array (fidelity tests).
#include <iostream>

#include <nlohmann/json.hpp>

#include "stash/scene.hpp"

int main() {
  using namespace stash::queries;
  const std::string fragment = k_scene_fragment;
  nlohmann::json out = {
      {{"name", "findScene"}, {"query", std::string(k_find_scene) + "\n" + fragment}},
      {{"name", "findScenes"}, {"query", std::string(k_find_scenes) + "\n" + fragment}},
      {{"name", "pluginSettings"}, {"query", k_plugin_settings}},
      {{"name", "jobQueue"}, {"query", k_job_queue}},
      {{"name", "sceneVersions"}, {"query", k_scene_versions}},
  };
  std::cout << out.dump(2) << "\n";
  return 0;
}
