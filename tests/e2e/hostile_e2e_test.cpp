// Hostile answers and careless settings through the built plugin (issue #19): a Stash that
// answers ids as JSON numbers, and a Plex token pasted into plex_url.
#include <gtest/gtest.h>

#include "plugin_folder_fixture.hpp"
#include "support/process.hpp"
#include "support/secret_sweep.hpp"

namespace {

using testing_support::wait_for;

class HostileE2E : public testing_support::PluginFolderTest {
protected:
  bool plex_title_is(int scene_id, const std::string& title) {
    const auto item = plex_.item_json(std::to_string(10000 + scene_id - 1));
    return item.is_object() && item.value("title", "") == title;
  }
  std::string log() const { return testing_support::read_file(data_ + "/plexsync.log"); }
};

TEST_F(HostileE2E, StashAnsweringNumericIdsSyncsWithoutAWorkerCrash) {
  plex_.generate(10);
  stash_.generate(10);
  stash_.set_plugin_settings("PlexSync", settings({{"worker_idle_seconds", 3}, {"poll_interval_seconds", 1}}));
  stash_.set_numeric_ids(true); // every scene, studio, tag and performer id a number from now on
  ASSERT_TRUE(stash_.update_scene("2", {{"title", "Announced by a hook"}}));
  const auto hooked = hook(2);
  ASSERT_EQ(hooked.exit_code, 0) << hooked.out << hooked.err;
  ASSERT_TRUE(wait_for([&] { return plex_title_is(2, "Announced by a hook"); }, std::chrono::seconds(30))) << log();
  // Found by the late-update poll, whose listing carries the numeric ids too.
  ASSERT_TRUE(stash_.update_scene("5", {{"title", "Found by the poll"}}));
  ASSERT_TRUE(wait_for([&] { return plex_title_is(5, "Found by the poll"); }, std::chrono::seconds(30))) << log();

  const auto status = run(R"({"mode":"queue_status"})");
  ASSERT_EQ(status.exit_code, 0) << status.out << status.err;
  const auto out = result_of(status).at("output");
  EXPECT_EQ(out.value("dead", -1), 0) << out.dump();
  EXPECT_FALSE(out.contains("worker_crashes")) << out.dump();
  EXPECT_EQ(log().find("unexpected error"), std::string::npos) << log();
}

TEST_F(HostileE2E, ATokenPastedIntoPlexUrlAppearsNowhere) {
  // Plex's web app shows such an address; the token field is left empty.
  const std::string pasted = "SECRET-pasted-into-url-e2e-91f3c2";
  plex_.generate(5);
  stash_.generate(5);
  stash_.set_plugin_settings(
      "PlexSync", settings({{"plex_url", plex_url() + "/web/index.html#!/settings/web/general?X-Plex-Token=" + pasted},
                            {"plex_token", ""},
                            {"worker_idle_seconds", 2}}));
  const auto hooked = hook(1);
  EXPECT_EQ(hooked.exit_code, 0) << hooked.out;
  const auto health = run(R"({"mode":"health_check"})");
  EXPECT_NE(health.exit_code, 0);
  EXPECT_NE(health.out.find("a token goes in its own setting"), std::string::npos) << health.out;
  for (const char* mode : {"queue_status", "all", "process_queue"}) {
    (void)run(std::string(R"({"mode":")") + mode + "\"}");
  }
  for (const char* command : {"config", "doctor", "status"}) {
    const auto r = testing_support::run_process({bin_, command, "--data-dir", data_}, "",
                                                {{"PLEXSYNC_WORKER_AUTOSTART", "0"}}, std::chrono::seconds(60));
    if (std::string(command) != "status") { // status shows no settings
      EXPECT_NE(r.out.find("<redacted>"), std::string::npos) << command << " shows where the token was: " << r.out;
    }
  }
  const auto config_json = testing_support::run_process({bin_, "config", "--data-dir", data_, "--json"}, "",
                                                        {{"PLEXSYNC_WORKER_AUTOSTART", "0"}}, std::chrono::seconds(60));
  EXPECT_NE(config_json.out.find("X-Plex-Token=<redacted>"), std::string::npos) << config_json.out;
  (void)wait_for([&] { return !util::DataDirLock::held_by_someone(data_); }, std::chrono::seconds(10));

  testing_support::SecretSweep sweep({{"token pasted into plex_url", pasted}});
  const auto transcript = testing_support::take_transcript();
  for (size_t i = 0; i < transcript.size(); ++i) {
    sweep.text("output " + std::to_string(i), transcript[i]);
  }
  sweep.directory(dir_);
  sweep.requests("Plex", plex_.requests().snapshot());
  sweep.requests("Stash", stash_.requests().snapshot());
  EXPECT_GT(sweep.places(), 10U);
  EXPECT_TRUE(sweep.leaks().empty()) << ::testing::PrintToString(sweep.leaks());
}

// Issue #31: hook input was taken as it came. Ids that are no Stash scene id are refused with a
// reason and queue nothing; hooks of other kinds are ignored with a line; a hook without a usable
// server_connection leaves the worker's saved Stash connection alone.
TEST_F(HostileE2E, HookInputThatIsNoSceneIsRefusedAndQueuesNothing) {
  plex_.generate(3);
  stash_.generate(3);
  const auto hook_with_id = [&](const std::string& id_json, const std::string& type = "Scene.Update.Post") {
    return run(R"({"hookContext":{"id":)" + id_json + R"(,"type":")" + type +
                   R"(","input":null,"inputFields":["title"]},"mode":"hook"})",
               {{"PLEXSYNC_WORKER_AUTOSTART", "0"}});
  };
  for (const std::string id : {R"("abc")", R"("../../etc")", "-3", "0", R"("007")", "9223372036854775808",
                               "18446744073709551615", R"("9223372036854775808")", "1.5"}) {
    const auto r = hook_with_id(id);
    EXPECT_NE(r.exit_code, 0) << id << ": " << r.out;
    EXPECT_FALSE(result_of(r).at("error").is_null()) << id;
  }
  const auto huge = hook_with_id(nlohmann::json(std::string(10U * 1024U * 1024U, '7')).dump());
  EXPECT_NE(huge.exit_code, 0);
  EXPECT_LT(huge.out.size() + huge.err.size(), 4096U) << "the answer does not echo 10 MB back";
  const auto performer = hook_with_id("2", "Performer.Update.Post");
  EXPECT_EQ(performer.exit_code, 0) << performer.out << performer.err;
  EXPECT_EQ(result_of(performer).at("output").at("queued"), false);
  const auto status = result_of(run(R"({"mode":"queue_status"})", {{"PLEXSYNC_WORKER_AUTOSTART", "0"}}));
  EXPECT_EQ(status.at("output").at("pending"), 0) << status.dump();
  EXPECT_EQ(status.at("output").at("dead"), 0);

  // A valid id, but no server_connection: queued, and the worker it starts uses the connection the
  // task above saved (Stash's address and cookie), not an empty one.
  stash_.set_plugin_settings("PlexSync", settings({{"worker_idle_seconds", 1}}));
  ASSERT_TRUE(stash_.update_scene("2", {{"title", "Synced with the kept connection"}}));
  const auto bare = testing_support::run_process(
      stash_exec_command(std::getenv("PATH") != nullptr ? std::getenv("PATH") : ""),
      R"({"args":{"hookContext":{"id":2,"type":"Scene.Update.Post","input":null},"mode":"hook"}})",
      {{"PLEXSYNC_DATA_DIR", ""}}, std::chrono::seconds(30));
  EXPECT_EQ(bare.exit_code, 0) << bare.out << bare.err;
  EXPECT_TRUE(wait_for([&] { return plex_title_is(2, "Synced with the kept connection"); }, std::chrono::seconds(30)))
      << log();
}

} // namespace
