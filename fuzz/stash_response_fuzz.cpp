// GraphQL answers from Stash: the client's error handling and every reader of an answer: the
// scene, the settings, the listings and the late-update poll (findScenes { id updated_at }).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "config/settings.hpp"
#include "fake_http.hpp"
#include "stash/client.hpp"
#include "stash/scene.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  const int status = size > 0 && data[0] == '!' ? 500 : (size > 0 && data[0] == '?' ? 422 : 200);
  stash::StashClient client(std::make_unique<fuzzing::CannedHttp>(body, status, "application/json"),
                            {"session", "cookie", ""});
  (void)client.facts();
  (void)client.find_scene("1");
  if (auto settings = client.plugin_settings(); settings) {
    (void)config::load_effective_settings(*settings);
  }
  if (auto listing = client.query(stash::queries::k_scene_versions, nlohmann::json::object()); listing) {
    if (auto page = stash::scene_versions_from_json(*listing); page && page->scenes.size() > body.size()) {
      __builtin_trap(); // a scene out of nothing
    }
  }
  (void)client.fetch_image("http://stash:9999/scene/1/screenshot?t=1");
  return 0;
}
