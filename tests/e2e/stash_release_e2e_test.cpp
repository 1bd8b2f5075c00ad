// The built plugin against the Stash releases users run: stashsim answers as that release (its
// GraphQL schema, refused fields with HTTP 422 as gqlgen does, v0.25's settings storage), and the
// plugin is driven as Stash drives it: a hook, Sync all, Process queue and Health check.
#include <gtest/gtest.h>

#include "config/settings.hpp"
#include "plugin_folder_fixture.hpp"
#include "support/process.hpp"

namespace {

class StashReleaseE2E : public testing_support::PluginFolderTest, public ::testing::WithParamInterface<const char*> {
protected:
  void SetUp() override {
    PluginFolderTest::SetUp();
    stash_.set_release(GetParam());
    plex_.generate(12);
    stash_.generate(12);
    // Scene 2 belongs to a group: Scene.movies before v0.27, Scene.groups from it.
    ASSERT_TRUE(stash_.update_scene("2", {{"groups", {{{"id", "7"}, {"name", "Summer Series"}, {"scene_index", 1}}}}}));
    stash_.set_plugin_settings("PlexSync", settings({{"worker_idle_seconds", 1}, {"collection_groups", true}}));
  }

  nlohmann::json item(int scene) { return plex_.item_json(std::to_string(10000 + scene - 1)); }
  bool synced(int scene) {
    const auto it = item(scene);
    return it.is_object() && it.value("title", "") == stash_.scene(std::to_string(scene))->at("title");
  }
  static bool has_info_line(const testing_support::ProcessResult& r) {
    for (const auto& [level, message] : testing_support::parse_stash_log(r.err)) {
      if (level == 'i') {
        return true;
      }
    }
    return false;
  }
};

TEST_P(StashReleaseE2E, HookSyncAllProcessQueueAndHealthCheckWork) {
  const auto health = run(R"({"mode":"health_check"})");
  ASSERT_EQ(health.exit_code, 0) << health.out << health.err;
  const auto report = result_of(health).at("output");
  EXPECT_EQ(report.at("stash").at("version").get<std::string>().rfind(
                std::string(GetParam()) == "develop" ? "v0.30.1-" : GetParam(), 0),
            0U)
      << report.dump();

  const auto hooked = hook(1);
  ASSERT_EQ(hooked.exit_code, 0) << hooked.err;
  EXPECT_TRUE(testing_support::wait_for([&] { return synced(1); }, std::chrono::seconds(20)))
      << "the background worker syncs a hooked scene on " << GetParam();

  const auto all = run(R"({"mode":"all"})", {{"PLEXSYNC_WORKER_AUTOSTART", "0"}});
  ASSERT_EQ(all.exit_code, 0) << all.out << all.err;
  EXPECT_GE(result_of(all).at("output").at("queued").get<int>(), 11);
  EXPECT_TRUE(has_info_line(all)) << "a task's summary is logged at info level";
  const auto drained = run(R"({"mode":"process_queue"})");
  ASSERT_EQ(drained.exit_code, 0) << drained.out << drained.err;
  const auto out = result_of(drained).at("output"); // drained here, or by the hook's worker
  EXPECT_EQ(out.contains("queue") ? out.at("queue").at("dead") : out.at("dead"), 0) << drained.out;
  for (int scene = 1; scene <= 12; ++scene) {
    EXPECT_TRUE(synced(scene)) << "scene " << scene << " on " << GetParam();
  }
  bool group_collection = false;
  for (const auto& c : item(2).value("Collection", nlohmann::json::array())) {
    group_collection = group_collection || c.at("tag") == "Summer Series";
  }
  EXPECT_TRUE(group_collection) << "the scene's group is read as " << GetParam() << " names it: " << item(2).dump();
}

INSTANTIATE_TEST_SUITE_P(Releases, StashReleaseE2E, ::testing::Values("v0.26.2", "v0.27.2", "v0.30.1", "develop"),
                         [](const auto& param_info) {
                           std::string name = param_info.param;
                           for (auto& c : name) {
                             c = c == '.' ? '_' : c;
                           }
                           return name;
                         });

class OldStashE2E : public testing_support::PluginFolderTest {
protected:
  void SetUp() override {
    PluginFolderTest::SetUp();
    plex_.generate(4);
    stash_.generate(4);
  }
};

// Stash v0.25 cannot keep the settings of a plugin whose id has capitals (stashapp/stash#4575) and
// hands keys back camelCased: Health check and every task say to upgrade, and what it does keep
// is still read.
TEST_F(OldStashE2E, StashV025IsToldToUpgradeAndItsCamelCasedSettingsAreStillRead) {
  stash_.set_release("v0.25.1");
  stash_.set_plugin_settings("PlexSync", settings({{"worker_idle_seconds", 1}}));
  const auto health = run(R"({"mode":"health_check"})");
  EXPECT_NE(health.exit_code, 0);
  EXPECT_NE(result_of(health).at("error").get<std::string>().find("upgrade Stash to v0.26 or later"), std::string::npos)
      << health.out;
  const auto status = run(R"({"mode":"queue_status"})");
  bool warned = false;
  for (const auto& [level, message] : testing_support::parse_stash_log(status.err)) {
    warned = warned || (level == 'w' && message.find("stashapp/stash#4575") != std::string::npos);
  }
  EXPECT_TRUE(warned) << status.err;
  ASSERT_EQ(run(R"({"mode":"all"})", {{"PLEXSYNC_WORKER_AUTOSTART", "0"}}).exit_code, 0);
  const auto drained = run(R"({"mode":"process_queue"})");
  ASSERT_EQ(drained.exit_code, 0) << drained.out << drained.err;
  EXPECT_EQ(plex_.item_json("10000").value("title", ""), stash_.scene("1")->at("title"));
}

// Stash v0.26's upgrade moved v0.25's settings to the id "plexSync" with camelCase keys.
TEST_F(OldStashE2E, SettingsMigratedByStashV026AreFound) {
  stash_.set_release("v0.26.2");
  nlohmann::json migrated = nlohmann::json::object();
  const auto page = settings({{"worker_idle_seconds", 1}});
  for (const auto& [key, value] : page.items()) {
    std::string camel;
    bool up = false;
    for (const char c : key) {
      if (c == '_') {
        up = true;
      } else {
        camel.push_back(up ? static_cast<char>(c - 'a' + 'A') : c);
        up = false;
      }
    }
    migrated[camel] = value;
  }
  stash_.set_plugin_settings("plexSync", migrated);
  ASSERT_EQ(run(R"({"mode":"all"})", {{"PLEXSYNC_WORKER_AUTOSTART", "0"}}).exit_code, 0);
  const auto drained = run(R"({"mode":"process_queue"})");
  ASSERT_EQ(drained.exit_code, 0) << drained.out << drained.err;
  EXPECT_EQ(plex_.item_json("10003").value("title", ""), stash_.scene("4")->at("title"));
}

// Stash shows a BOOLEAN never saved as unchecked and a NUMBER never saved as 0: a user who
// unchecks every box and enters 0 everywhere gets exactly what a fresh install does.
TEST_F(OldStashE2E, EveryBooleanOffAndEveryNumberZeroSyncsLikeAFreshInstall) {
  const auto sync_all = [&](const nlohmann::json& page) {
    stash_.set_plugin_settings("PlexSync", page);
    EXPECT_EQ(run(R"({"mode":"all"})", {{"PLEXSYNC_WORKER_AUTOSTART", "0"}}).exit_code, 0);
    const auto drained = run(R"({"mode":"process_queue"})");
    EXPECT_EQ(drained.exit_code, 0) << drained.out << drained.err;
    nlohmann::json items = nlohmann::json::array();
    for (int i = 0; i < 4; ++i) {
      auto it = plex_.item_json(std::to_string(10000 + i));
      for (const char* volatile_key : {"updatedAt", "lastRatedAt", "thumb", "Image"}) {
        it.erase(volatile_key); // moves with every write
      }
      items.push_back(it);
    }
    return items;
  };
  const auto fresh = sync_all(settings());
  nlohmann::json zeroed = settings();
  for (const auto& spec : config::settings_table()) {
    if (spec.type == config::SettingType::boolean) {
      zeroed[spec.key] = false;
    } else if (spec.type == config::SettingType::number) {
      zeroed[spec.key] = 0;
    }
  }
  // The same library again, from scratch: a new Plex and a new data directory.
  plex_.generate(4);
  std::filesystem::remove_all(data_);
  const auto zero = sync_all(zeroed);
  EXPECT_EQ(zero, fresh);
  EXPECT_EQ(fresh[0].value("title", ""), stash_.scene("1")->at("title"));
}

} // namespace
