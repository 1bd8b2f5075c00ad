// The end-to-end harness speaks as a real Stash v0.30.1 did (tests/data/fixtures/stash/
// real-v0.30.1, captured from a Stash built from its release tag): the same server_connection and
// hook shapes, and the built plugin queues what each real hook capture asks for.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "plugin_folder_fixture.hpp"

namespace {

// A JSON value's shape: object keys with their shapes, an array's first element, a scalar's type.
nlohmann::json shape(const nlohmann::json& v) {
  if (v.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [k, child] : v.items()) {
      out[k] = shape(child);
    }
    return out;
  }
  if (v.is_array()) {
    return nlohmann::json::array({v.empty() ? nlohmann::json() : shape(v.at(0))});
  }
  return v.type_name();
}

class StashConformance : public testing_support::PluginFolderTest {
protected:
  static nlohmann::json capture(const std::string& name) {
    return nlohmann::json::parse(testing_support::data_file("fixtures/stash/real-v0.30.1/" + name + ".stdin.json"));
  }
  static std::vector<std::string> captures() {
    std::vector<std::string> names;
    const auto index = nlohmann::json::parse(testing_support::data_file("fixtures/stash/real-v0.30.1/index.json"));
    for (const auto& [raw, name] : index.items()) {
      names.push_back(name.get<std::string>());
    }
    return names;
  }
};

TEST_F(StashConformance, TheHarnessSendsServerConnectionAsRealStashDoes) {
  const auto ours = shape(nlohmann::json::parse(server_connection()));
  const auto names = captures();
  ASSERT_GE(names.size(), 20U);
  for (const auto& name : names) {
    EXPECT_EQ(ours, shape(capture(name).at("server_connection"))) << name;
  }
}

TEST_F(StashConformance, TheHarnessSendsEachHookKindAsRealStashDoes) {
  const std::vector<std::pair<std::string, std::string>> kinds = {
      {"hook_scene_update_post_sceneUpdate", "Scene.Update.Post"},
      {"hook_scene_create_post_scan_id2", "Scene.Create.Post"},
      {"hook_scene_destroy_post_sceneDestroy", "Scene.Destroy.Post"}};
  for (const auto& [name, type] : kinds) {
    EXPECT_EQ(shape(real_hook_args(5, type, R"(["id","title"])")), shape(capture(name).at("args"))) << name;
  }
}

// Each real hook capture's args, sent by the built plugin's own process with this test's Stash
// connection: every one is answered and queues the scene the capture names (bulk edits: the scene
// of that hook process, not the bulk input's first id).
TEST_F(StashConformance, EveryRealHookCaptureIsQueuedForItsScene) {
  stash_.generate(40);
  int hooks = 0;
  for (const auto& name : captures()) {
    if (name.rfind("hook_", 0) != 0) {
      continue;
    }
    const auto args = capture(name).at("args");
    const auto r = run(args.dump(), {{"PLEXSYNC_WORKER_AUTOSTART", "0"}});
    ASSERT_EQ(r.exit_code, 0) << name << ": " << r.out << r.err;
    const auto answer = result_of(r);
    EXPECT_TRUE(answer.at("error").is_null()) << name;
    EXPECT_EQ(answer.at("output").at("scene_id"), std::to_string(args.at("hookContext").at("id").get<int>())) << name;
    ++hooks;
  }
  EXPECT_GE(hooks, 15);
  const auto status = result_of(run(R"({"mode":"queue_status"})", {{"PLEXSYNC_WORKER_AUTOSTART", "0"}}));
  EXPECT_GE(status.at("output").at("pending").get<int>(), 1);
}

} // namespace
