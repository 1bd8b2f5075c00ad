// What PlexSync writes to Stash (issue #27: Plex -> Stash), and the scene fields it reads first.
// Checked against Stash's Go source (internal/api/resolver_mutation_scene.go, pkg/sqlite/scene.go):
// sceneAddPlay and sceneSaveActivity fire no plugin hook and leave updated_at alone; the play
// times are stored as given; sceneSaveActivity sets resume_time and ADDS playDuration to the
// scene's total. sceneUpdate (the rating) fires Scene.Update.Post like any edit.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "stash/client.hpp"
#include "util/expected.hpp"

namespace stash {

struct SceneActivity {
  std::string id;
  std::optional<int> rating100;
  std::string updated_at;
  std::vector<int64_t> play_history; // Unix seconds
  double resume_time = 0;            // seconds
  double play_duration = 0;          // seconds
};

namespace queries {
extern const char* const k_scene_activity; // findScenes(ids) { id rating100 updated_at play_history ... }
extern const char* const k_add_play;       // sceneAddPlay(id, times)
extern const char* const k_save_activity;  // sceneSaveActivity(id, resume_time, playDuration)
extern const char* const k_set_rating;     // sceneUpdate(input: {id, rating100})
} // namespace queries

// The scenes among ids that exist (at most 100 per call, as Stash pages).
util::Result<std::vector<SceneActivity>> scene_activity(StashClient& stash, const std::vector<std::string>& ids);
util::Result<SceneActivity> scene_activity_from_json(const nlohmann::json& scene);
// Plays at the given times (Unix seconds), added to the scene's history in one call.
util::Result<void> add_plays(StashClient& stash, const std::string& id, const std::vector<int64_t>& times);
// resume_s: the new resume point (0 clears it); add_duration_s: time watched, added to the total.
util::Result<void> save_activity(StashClient& stash, const std::string& id, std::optional<double> resume_s,
                                 std::optional<double> add_duration_s);
// rating100 nullopt clears the rating. Returns the scene's updated_at after the edit.
util::Result<std::string> set_rating(StashClient& stash, const std::string& id, std::optional<int> rating100);

} // namespace stash
