#include <gtest/gtest.h>

#include "stash/client.hpp"
#include "stash/protocol.hpp"
#include "stash/scene.hpp"
#include "support/sandbox.hpp"
#include "util/number.hpp"

namespace {

std::string fixture(const std::string& name) {
  return testing_support::data_file("fixtures/stash/" + name);
}

TEST(PluginInput, UiEditHookMapsWildcardHostAndKeepsHookContext) {
  auto in = stash::parse_plugin_input(fixture("hook_scene_update_post_ui_edit.stdin.json"));
  ASSERT_TRUE(in) << in.error().message;
  EXPECT_EQ(in->server.host, "127.0.0.1");
  EXPECT_EQ(in->server.base_url(), "http://127.0.0.1:9999");
  EXPECT_FALSE(in->server.cookie_value.empty());
  EXPECT_EQ(in->mode, "hook");
  ASSERT_TRUE(in->hook);
  EXPECT_EQ(in->hook->type, "Scene.Update.Post");
  EXPECT_EQ(in->hook->scene_id, "1287");
  EXPECT_TRUE(in->hook->has_input_fields);
  // Go's \u0026 and \u003c escapes decoded.
  EXPECT_NE(in->hook->input.at("details").get<std::string>().find("Reisende & ein"), std::string::npos);
  EXPECT_NE(in->hook->input.at("details").get<std::string>().find("<neon>"), std::string::npos);
}

TEST(PluginInput, EveryStashFixtureParses) {
  for (const char* f : {"hook_scene_create_post_scan.stdin.json", "hook_scene_destroy_post_ui_delete.stdin.json",
                        "hook_scene_update_post_bulk_update.stdin.json", "hook_scene_update_post_identify.stdin.json",
                        "task_full_sync_mode_all.stdin.json"}) {
    auto in = stash::parse_plugin_input(fixture(f));
    EXPECT_TRUE(in) << f << ": " << (in ? "" : in.error().message);
  }
  auto task = stash::parse_plugin_input(fixture("task_full_sync_mode_all.stdin.json"));
  EXPECT_EQ(task->mode, "all");
  EXPECT_FALSE(task->hook);
  auto create = stash::parse_plugin_input(fixture("hook_scene_create_post_scan.stdin.json"));
  EXPECT_FALSE(create->hook->has_input_fields);
  EXPECT_TRUE(create->hook->input.is_null());
}

// What a real Stash v0.30.1 wrote on plugins' stdin (tests/data/fixtures/stash/real-v0.30.1/):
// every capture parses, and each hook's type and scene id are the ones its capture name records.
TEST(PluginInput, EveryCaptureOfARealStashParses) {
  const std::string dir = testing_support::data_path("fixtures/stash/real-v0.30.1");
  const auto index = nlohmann::json::parse(testing_support::data_file("fixtures/stash/real-v0.30.1/index.json"));
  int parsed = 0;
  for (const auto& [raw, name] : index.items()) {
    SCOPED_TRACE(name.get<std::string>());
    auto in = stash::parse_plugin_input(
        testing_support::data_file("fixtures/stash/real-v0.30.1/" + name.get<std::string>() + ".stdin.json"));
    ASSERT_TRUE(in) << in.error().message;
    ++parsed;
    EXPECT_EQ(in->server.host, "127.0.0.1");
    EXPECT_FALSE(in->server.cookie_value.empty()) << "real Stash always sends its session cookie";
    const std::string n = name.get<std::string>();
    if (n.rfind("hook_", 0) != 0) {
      EXPECT_FALSE(in->hook);
      continue;
    }
    ASSERT_TRUE(in->hook);
    EXPECT_FALSE(in->hook->scene_id.empty());
    const std::string type = n.rfind("hook_scene_update_post", 0) == 0   ? "Scene.Update.Post"
                             : n.rfind("hook_scene_create_post", 0) == 0 ? "Scene.Create.Post"
                                                                         : "Scene.Destroy.Post";
    EXPECT_EQ(in->hook->type, type);
  }
  EXPECT_GE(parsed, 20) << "captures listed in " << dir << "/index.json";
}

TEST(PluginInput, NullCookieAndIpv6WildcardAreFine) {
  auto in = stash::parse_plugin_input(
      R"({"server_connection":{"Scheme":"http","Host":"::","Port":9999,"SessionCookie":null},"args":{"mode":"queue_status"}})");
  ASSERT_TRUE(in);
  EXPECT_EQ(in->server.cookie_value, "");
  EXPECT_EQ(in->server.base_url(), "http://[::1]:9999");
}

TEST(PluginInput, MalformedInputGetsAClearError) {
  EXPECT_NE(stash::parse_plugin_input("").error().message.find("no input on stdin"), std::string::npos);
  EXPECT_NE(stash::parse_plugin_input("{\"args\":").error().message.find("stdin is not valid JSON"), std::string::npos);
  EXPECT_EQ(stash::parse_plugin_input("[1,2]").error().message,
            "stdin must be a JSON object with server_connection and args");
  EXPECT_EQ(stash::parse_plugin_input(R"({"server_connection":{"Port":70000}})").error().message,
            "server_connection.Port must be 1-65535, got 70000");
  EXPECT_EQ(stash::parse_plugin_input(R"({"args":"x"})").error().message, "args must be a JSON object");
}

TEST(Scene, FullFixtureMapsEveryField) {
  const auto doc = nlohmann::json::parse(fixture("gql_find_scene_full.response.json"));
  auto s = stash::scene_from_json(doc.at("data").at("findScene"));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->id, "1287");
  EXPECT_EQ(s->studio, "Nordlicht Studios");
  EXPECT_EQ(s->parent_studio, "Aurora Media Group");
  ASSERT_EQ(s->files.size(), 1U);
  EXPECT_EQ(s->files[0].size, 1734567890);
  ASSERT_EQ(s->performers.size(), 3U);
  EXPECT_EQ(s->performers[2].image_path, ""); // default=true placeholder dropped
  EXPECT_EQ(s->tags, (std::vector<std::string>{"Outdoor", "4K Remaster", "Été 2023"}));
  EXPECT_EQ(s->groups, (std::vector<std::string>{"Summer Series Vol. 2"}));
  EXPECT_EQ(s->rating100, 85);
}

TEST(Scene, OutOfRangeNumbersAreIgnoredNotCast) {
  // A float where an integer belongs must not be cast blindly (undefined behaviour; found by
  // plex_response_fuzz in the same code on Plex's side).
  auto j = nlohmann::json::parse(R"({"id":"7","rating100":1.7e96,"files":[{"path":"/a.mp4","size":-1e300}]})");
  const auto s = stash::scene_from_json(j);
  ASSERT_TRUE(s);
  ASSERT_EQ(s->files.size(), 1U);
  EXPECT_EQ(s->files[0].size, 0);
  EXPECT_EQ(s->rating100, std::nullopt);
  EXPECT_EQ(util::to_int64(1.7e96), std::nullopt);
  EXPECT_EQ(util::to_int64(std::nan("")), std::nullopt);
  EXPECT_EQ(util::to_int64(-9223372036854775808.0), INT64_MIN);
  EXPECT_EQ(util::to_int64(42.9), 42);
}

TEST(Scene, RejectsSceneWithoutId) {
  EXPECT_FALSE(stash::scene_from_json(nlohmann::json::object()));
  EXPECT_FALSE(stash::scene_from_json(nlohmann::json::array()));
}

} // namespace

namespace {

// Found by fuzz/plugin_input_fuzz: a number too large for a double threw out of the parser.
TEST(PluginInputRegression, HugeNumberIsAnErrorNotACrash) {
  const auto r = stash::parse_plugin_input("111111111111111111111e111111111111113");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("stdin is not valid JSON"), std::string::npos);
}

// Only the fields PlexSync uses (fidelity findings rows 1 and 12): paths.stream carries Stash's
// API key, and every extra field narrows the Stash releases a document works on.
TEST(StashQueries, TheSceneDocumentSelectsOnlyWhatPlexSyncUses) {
  for (const auto groups : {stash::GroupField::groups, stash::GroupField::movies}) {
    const auto doc = stash::queries::find_scene(groups);
    // (front_image_path of the scene's groups is used since issue #26: poster_from_group; every
    // supported release has it, on Group and on Movie.)
    // (organized, favorite, tag parents and the studio and tag images are used since issue #28:
    // collection rules, genre filters and collection posters.)
    for (const char* unused : {"stream", "preview", "webp", "fingerprints", "gender", "disambiguation",
                               "back_image_path", "created_at", "updated_at }"}) {
      EXPECT_EQ(doc.find(unused), std::string::npos) << unused;
    }
    // The metadata provider's external ids: only fields every supported release has (v0.1 also
    // asked for stash_ids.updated_at, which releases before v0.28 refuse).
    EXPECT_NE(doc.find("stash_ids { endpoint stash_id }"), std::string::npos);
  }
  // scene_index: the {group_index} of title templates (issue #28), on SceneGroup and SceneMovie alike.
  EXPECT_NE(stash::queries::find_scene(stash::GroupField::movies)
                .find("movies { scene_index movie { name front_image_path } }"),
            std::string::npos);
  EXPECT_NE(stash::queries::find_scene(stash::GroupField::groups)
                .find("groups { scene_index group { name front_image_path } }"),
            std::string::npos);
}

TEST(StashQueries, TheGroupFieldFollowsStashsVersion) {
  using stash::GroupField;
  EXPECT_EQ(stash::group_field_for(stash::parse_version("v0.25.1")), GroupField::movies);
  EXPECT_EQ(stash::group_field_for(stash::parse_version("v0.26.2")), GroupField::movies);
  EXPECT_EQ(stash::group_field_for(stash::parse_version("v0.27.0")), GroupField::groups);
  EXPECT_EQ(stash::group_field_for(stash::parse_version("v0.30.1-44-gcf3489efd")), GroupField::groups);
  EXPECT_EQ(stash::group_field_for(stash::parse_version("v1.2.0")), GroupField::groups);
  EXPECT_EQ(stash::group_field_for(stash::parse_version("")), GroupField::groups) << "unknown: today's Stash";
  EXPECT_EQ(stash::group_field_for(stash::parse_version("develop")), GroupField::groups);
  EXPECT_FALSE(stash::parse_version("v0.26"));
}

TEST(StashQueries, SettingsFromEveryIdAndKeySpellingAreMerged) {
  const auto merged = stash::merge_plugin_settings(nlohmann::json::parse(R"({
    "plexSync": {"plexUrl": "http://old:32400", "pathMap": "/a=>/b", "skipTitle": true},
    "PlexSync": {"plex_url": "http://new:32400", "plexToken": "t"}})"));
  EXPECT_EQ(merged.at("plex_url"), "http://new:32400");
  EXPECT_EQ(merged.at("path_map"), "/a=>/b");
  EXPECT_EQ(merged.at("skip_title"), true);
  EXPECT_EQ(merged.at("plex_token"), "t");
}

} // namespace
