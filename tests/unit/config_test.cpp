#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "config/manifest.hpp"
#include "config/settings.hpp"
#include "support/build_paths.hpp"
#include "support/sandbox.hpp"

namespace {

config::LoadResult load(const char* json) {
  return config::load_settings(nlohmann::json::parse(json));
}

TEST(Settings, DefaultsWhenNothingWasSaved) {
  const auto r = config::load_settings(nlohmann::json());
  const auto& s = r.settings;
  EXPECT_EQ(s.plex_url, "");
  EXPECT_EQ(s.plex_library, "");
  EXPECT_FALSE(s.pause_syncing);
  EXPECT_EQ(s.connect_timeout, 5);
  EXPECT_EQ(s.read_timeout, 30);
  EXPECT_EQ(s.max_retries, 8);
  EXPECT_FALSE(s.accept_uncertain_matches);
  EXPECT_FALSE(s.preserve_plex_edits);
  EXPECT_EQ(s.path_map, "");
  EXPECT_FALSE(s.skip_title || s.skip_summary || s.skip_studio || s.skip_date || s.skip_genres || s.skip_actors);
  EXPECT_EQ(s.stash_url_for_plex, ""); // no performer photos until Plex's way to Stash is known
  EXPECT_FALSE(s.debug_logging);
  EXPECT_FALSE(s.plex_skip_tls_verify);
  EXPECT_EQ(s.worker_idle_seconds, 30);
  EXPECT_EQ(s.retry_base_seconds, 2);
  EXPECT_EQ(s.retry_cap_seconds, 900);
  EXPECT_EQ(s.breaker_threshold, 5);
  EXPECT_EQ(s.plex_requests_per_second, 0); // no fixed ceiling: the adaptive limit decides
  EXPECT_EQ(s.plex_concurrency, 0);
  EXPECT_EQ(s.poll_interval_seconds, 60);
  EXPECT_FALSE(s.obfuscate_paths);
  EXPECT_EQ(s.delete_action, "none");
  EXPECT_FALSE(r.usable()); // plex_url and plex_token are required
}

TEST(Settings, MissingRequiredSettingsSayWhatToDo) {
  const auto r = config::load_settings(nlohmann::json::object());
  ASSERT_EQ(r.problems.size(), 2U);
  EXPECT_EQ(r.problems[0].message,
            "plex_url is not set: enter your Plex address (e.g. http://192.168.1.20:32400) under Settings > "
            "Plugins > PlexSync");
  EXPECT_TRUE(r.problems[0].fatal);
  EXPECT_EQ(r.problems[1].key, "plex_token");
}

TEST(Settings, PlexUrlWithoutSchemeNamesTheValue) {
  const auto r = load(R"({"plex_url": "plex:32400", "plex_token": "abcd"})");
  ASSERT_EQ(r.problems.size(), 1U);
  EXPECT_EQ(r.problems[0].message, "plex_url must start with http:// or https://, got 'plex:32400'");
  EXPECT_FALSE(r.usable());
}

TEST(Settings, StashTypesAndOldStringForms) {
  const auto r = load(R"({"plex_url": "http://h:32400", "plex_token": "abcd", "pause_syncing": "true",
                          "connect_timeout": "7", "read_timeout": 45, "accept_uncertain_matches": 1,
                          "max_retries": 3.0})");
  EXPECT_TRUE(r.usable());
  EXPECT_TRUE(r.problems.empty());
  EXPECT_TRUE(r.settings.pause_syncing);
  EXPECT_EQ(r.settings.connect_timeout, 7);
  EXPECT_EQ(r.settings.read_timeout, 45);
  EXPECT_TRUE(r.settings.accept_uncertain_matches);
  EXPECT_EQ(r.settings.max_retries, 3);
}

TEST(Settings, BadOptionalValueFallsBackWithAWarning) {
  const auto r = load(R"({"plex_url": "http://h:32400", "plex_token": "abcd", "connect_timeout": 900,
                          "skip_title": "maybe"})");
  EXPECT_TRUE(r.usable());
  ASSERT_EQ(r.problems.size(), 2U);
  EXPECT_EQ(r.problems[0].message,
            "connect_timeout: 900 must be between 1 and 300 (0 = the default); using the default 5");
  EXPECT_EQ(r.problems[1].message, "skip_title: \"maybe\" must be true or false; using the default");
  EXPECT_EQ(r.settings.connect_timeout, 5);
  EXPECT_FALSE(r.settings.skip_title);
}

// What the Settings page shows is what runs: Stash shows a BOOLEAN never saved as unchecked and a
// NUMBER never saved as 0 (fidelity findings row 5).
TEST(Settings, EveryBooleanIsOffByDefault) {
  const config::Settings defaults;
  for (const auto& spec : config::settings_table()) {
    if (const auto* member = std::get_if<bool config::Settings::*>(&spec.member); member != nullptr) {
      EXPECT_FALSE(defaults.**member) << spec.key << " is on by default; give it a negative name";
    }
  }
}

TEST(Settings, EveryBooleanFalseAndEveryNumberZeroIsAFreshInstall) {
  nlohmann::json page = {{"plex_url", "http://h:32400"}, {"plex_token", "abcd"}};
  const auto fresh = config::load_settings(page);
  for (const auto& spec : config::settings_table()) {
    if (spec.type == config::SettingType::boolean) {
      page[spec.key] = false;
    } else if (spec.type == config::SettingType::number) {
      page[spec.key] = 0;
    } else if (!spec.required) {
      page[spec.key] = ""; // a cleared text field
    }
  }
  const auto zeroed = config::load_settings(page);
  EXPECT_TRUE(zeroed.problems.empty()) << zeroed.problems.front().message;
  for (const auto& spec : config::settings_table()) {
    std::visit([&](auto member) { EXPECT_EQ(zeroed.settings.*member, fresh.settings.*member) << spec.key; },
               spec.member);
  }
}

TEST(Settings, NumberDescriptionsSayWhatZeroMeans) {
  const auto yml = config::render_manifest();
  EXPECT_NE(yml.find("Seconds to wait for a connection to Plex (0 = default, 5)"), std::string::npos) << yml;
  EXPECT_NE(yml.find("(0 = default, never)"), std::string::npos);
}

TEST(Settings, SettingsOfPlexSync01AreReportedWithTheirReplacement) {
  const auto r = load(R"({"plex_url": "http://h:32400", "plex_token": "abcd", "sync_title": false})");
  ASSERT_EQ(r.problems.size(), 1U);
  EXPECT_EQ(r.problems[0].message, "sync_title is a setting of PlexSync 0.1 and is no longer read (Stash showed it as "
                                   "off while it was on); set skip_title instead under Settings > Plugins > PlexSync");
  EXPECT_FALSE(r.settings.skip_title);
}

// Plex fetches performer photos itself: an address only the Stash machine reaches is refused.
TEST(Settings, StashAddressForPlexMustBeReachableFromPlex) {
  for (const char* bad :
       {"http://127.0.0.1:9999", "http://localhost:9999", "http://0.0.0.0:9999", "http://[::1]:9999"}) {
    const auto r =
        config::load_settings({{"plex_url", "http://h:32400"}, {"plex_token", "abcd"}, {"stash_url_for_plex", bad}});
    ASSERT_EQ(r.problems.size(), 1U) << bad;
    EXPECT_NE(r.problems[0].message.find("only the Stash machine itself can use"), std::string::npos) << bad;
    EXPECT_EQ(r.settings.stash_url_for_plex, "") << bad;
  }
  const auto ok = load(R"({"plex_url": "http://h:32400", "plex_token": "abcd",
                           "stash_url_for_plex": "http://192.168.1.10:9999"})");
  EXPECT_TRUE(ok.problems.empty());
  EXPECT_EQ(ok.settings.stash_url_for_plex, "http://192.168.1.10:9999");
}

TEST(Settings, DeleteActionIsOneOfItsValues) {
  const auto r = load(R"({"plex_url": "http://h:32400", "plex_token": "abcd", "delete_action": "purge"})");
  ASSERT_EQ(r.problems.size(), 1U);
  EXPECT_EQ(r.problems[0].message, "delete_action: \"purge\" must be one of none, scan; using none");
  EXPECT_EQ(r.settings.delete_action, "none");
  EXPECT_EQ(
      load(R"({"plex_url": "http://h:32400", "plex_token": "abcd", "delete_action": "scan"})").settings.delete_action,
      "scan");
}

TEST(Settings, SecretsAreNeverQuotedInProblems) {
  const auto r = load(R"({"plex_url": "http://h:32400", "plex_token": "abcd", "stash_api_key": ["s3cr3t-key"]})");
  ASSERT_EQ(r.problems.size(), 1U);
  EXPECT_EQ(r.problems[0].message, "stash_api_key: <hidden> must be text; using the default");
}

TEST(Manifest, DeclaresEverySettingAndTask) {
  const auto yml = config::render_manifest();
  for (const auto& s : config::settings_table()) {
    EXPECT_NE(yml.find(std::string("  ") + s.key + ":\n"), std::string::npos) << s.key;
  }
  for (const auto& t : config::task_table()) {
    EXPECT_NE(yml.find(std::string("mode: ") + t.mode + "\n"), std::string::npos) << t.mode;
  }
  EXPECT_NE(yml.find("interface: raw\n"), std::string::npos);
  EXPECT_NE(yml.find("- Scene.Update.Post"), std::string::npos);
  EXPECT_NE(yml.find("- Scene.Create.Post"), std::string::npos);
}

TEST(Manifest, UsesOnlyTopLevelKeysStashAccepts) {
  // Stash's YAML decoder is strict: an unknown top-level key fails the whole plugin.
  const std::set<std::string> allowed = {"name",   "description", "version", "url",      "exec", "interface",
                                         "errLog", "tasks",       "hooks",   "settings", "ui"};
  std::istringstream in(config::render_manifest());
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == ' ' || line[0] == '#' || line[0] == '-') {
      continue;
    }
    EXPECT_TRUE(allowed.count(line.substr(0, line.find(':'))) == 1U) << line;
  }
}

TEST(Manifest, SettingsReferenceInDocsIsGeneratedFromTheTable) {
  std::string path = testing_support::source_dir(); // appended: GCC 12 -O3 flags `string(...) + "..."` (unity)
  path += "/docs/settings.md";
  EXPECT_EQ(testing_support::read_file(path), config::render_settings_doc())
      << "regenerate with: plexsync settings-doc > docs/settings.md";
}

TEST(Manifest, SettingKeysAreSnakeCaseAndRequiredOnesExist) {
  std::set<std::string> keys;
  for (const auto& s : config::settings_table()) {
    keys.insert(s.key);
    for (const char c : std::string(s.key)) {
      EXPECT_TRUE((c >= 'a' && c <= 'z') || c == '_') << s.key;
    }
  }
  for (const char* k : {"plex_url", "plex_token", "plex_library", "connect_timeout", "read_timeout", "max_retries",
                        "preserve_plex_edits", "path_map"}) {
    EXPECT_EQ(keys.count(k), 1U) << k;
  }
}

} // namespace
