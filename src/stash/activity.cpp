#include "stash/activity.hpp"

#include <cmath>

#include <nlohmann/json.hpp>

#include "util/utc_time.hpp"

namespace stash {

namespace queries {
// Every field here exists in Stash v0.25.1 and later (../shared/stash-schema/versions).
const char* const k_scene_activity = R"gql(query PlexSyncSceneActivity($ids: [ID!]) {
  findScenes(ids: $ids, filter: {per_page: -1}) {
    scenes { id rating100 updated_at play_history resume_time play_duration }
  }
})gql";
const char* const k_add_play = R"gql(mutation PlexSyncAddPlay($id: ID!, $times: [Timestamp!]) {
  sceneAddPlay(id: $id, times: $times) { count }
})gql";
const char* const k_save_activity = R"gql(mutation PlexSyncSaveActivity($id: ID!, $resume: Float, $duration: Float) {
  sceneSaveActivity(id: $id, resume_time: $resume, playDuration: $duration)
})gql";
const char* const k_set_rating = R"gql(mutation PlexSyncSetRating($id: ID!, $rating: Int) {
  sceneUpdate(input: {id: $id, rating100: $rating}) { id updated_at }
})gql";
} // namespace queries

namespace {

std::string id_text(const nlohmann::json& j) {
  if (j.is_string()) {
    return j.get<std::string>();
  }
  if (j.is_number_integer()) {
    return std::to_string(j.get<int64_t>());
  }
  return {};
}

double seconds(const nlohmann::json& scene, const char* key) {
  const auto it = scene.find(key);
  if (it == scene.end() || !it->is_number()) {
    return 0;
  }
  const double d = it->get<double>();
  return std::isfinite(d) && d > 0 ? d : 0;
}

} // namespace

util::Result<SceneActivity> scene_activity_from_json(const nlohmann::json& scene) {
  if (!scene.is_object()) {
    return util::fail("Stash answered a scene that is not an object");
  }
  SceneActivity a;
  a.id = id_text(scene.value("id", nlohmann::json()));
  if (a.id.empty()) {
    return util::fail("Stash answered a scene without an id");
  }
  if (const auto r = scene.find("rating100"); r != scene.end() && r->is_number_integer()) {
    a.rating100 = r->get<int>();
  }
  if (const auto u = scene.find("updated_at"); u != scene.end() && u->is_string()) {
    a.updated_at = u->get<std::string>();
  }
  if (const auto h = scene.find("play_history"); h != scene.end() && h->is_array()) {
    for (const auto& t : *h) {
      if (t.is_string()) {
        if (auto at = util::parse_rfc3339(t.get<std::string>())) {
          a.play_history.push_back(*at);
        }
      }
    }
  }
  a.resume_time = seconds(scene, "resume_time");
  a.play_duration = seconds(scene, "play_duration");
  return a;
}

util::Result<std::vector<SceneActivity>> scene_activity(StashClient& stash, const std::vector<std::string>& ids) {
  std::vector<SceneActivity> out;
  constexpr size_t k_page = 100;
  for (size_t at = 0; at < ids.size(); at += k_page) {
    nlohmann::json page = nlohmann::json::array();
    for (size_t i = at; i < ids.size() && i < at + k_page; ++i) {
      page.push_back(ids[i]);
    }
    TRY_ASSIGN(const auto data, stash.query(queries::k_scene_activity, {{"ids", page}}));
    const auto found = data.find("findScenes");
    if (found == data.end() || !found->is_object() || !found->contains("scenes") || !found->at("scenes").is_array()) {
      return util::fail("Stash's answer to findScenes has no scenes list");
    }
    for (const auto& s : found->at("scenes")) {
      TRY_ASSIGN(auto a, scene_activity_from_json(s));
      out.push_back(std::move(a));
    }
  }
  return out;
}

util::Result<void> add_plays(StashClient& stash, const std::string& id, const std::vector<int64_t>& times) {
  if (times.empty()) {
    return {};
  }
  nlohmann::json list = nlohmann::json::array();
  for (const auto t : times) {
    list.push_back(util::format_utc(t, "%Y-%m-%dT%H:%M:%SZ"));
  }
  TRY(stash.query(queries::k_add_play, {{"id", id}, {"times", list}}));
  return {};
}

util::Result<void> save_activity(StashClient& stash, const std::string& id, std::optional<double> resume_s,
                                 std::optional<double> add_duration_s) {
  nlohmann::json vars = {{"id", id}};
  vars["resume"] = resume_s ? nlohmann::json(*resume_s) : nlohmann::json();
  vars["duration"] = add_duration_s ? nlohmann::json(*add_duration_s) : nlohmann::json();
  TRY(stash.query(queries::k_save_activity, vars));
  return {};
}

util::Result<std::string> set_rating(StashClient& stash, const std::string& id, std::optional<int> rating100) {
  TRY_ASSIGN(const auto data,
             stash.query(queries::k_set_rating,
                         {{"id", id}, {"rating", rating100 ? nlohmann::json(*rating100) : nlohmann::json()}}));
  const auto updated = data.find("sceneUpdate");
  if (updated == data.end() || !updated->is_object()) {
    return util::fail("Stash's answer to sceneUpdate has no scene (was scene " + id + " deleted?)");
  }
  return updated->value("updated_at", std::string());
}

} // namespace stash
