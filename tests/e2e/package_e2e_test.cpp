// The package users install from Stash's "Available Plugins": index.yml must name the zip with
// its real sha256 (Stash aborts on a mismatch), and the zip, extracted the way Stash extracts it
// (its root becomes the plugin folder, file modes kept, a `manifest` file written beside), must be
// a working plugin: the manifest loads and a hook syncs a scene.
#include <filesystem>
#include <fstream>
#include <regex>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include "plugin_folder_fixture.hpp"
#include "support/build_paths.hpp"

namespace {

namespace fs = std::filesystem;

std::string index_field(const std::string& index, const std::string& key) {
  std::smatch m;
  const std::regex re("\n\\s*" + key + ":\\s*\"?([^\"\n]*)\"?");
  return std::regex_search(index, m, re) ? m[1].str() : "";
}

class PackageE2E : public testing_support::PluginFolderTest {
protected:
  void SetUp() override {
    PluginFolderTest::SetUp();
    // Replace the folder the fixture copied with what the package installs.
    fs::remove_all(plugin_dir_);
    fs::create_directories(plugin_dir_);
    const auto unzip = testing_support::run_process(
        {"/usr/bin/unzip", "-q", testing_support::package_dir() + "/PlexSync.zip", "-d", plugin_dir_}, "");
    ASSERT_EQ(unzip.exit_code, 0) << unzip.err;
    // Stash's record of what it installed (used to update and uninstall).
    std::ofstream(plugin_dir_ + "/manifest")
        << "id: PlexSync\nname: PlexSync\nfiles:\n- plexsync\n- PlexSync.yml\n- README.md\n";
    plex_.generate(5);
    stash_.generate(5);
    stash_.set_plugin_settings("PlexSync", settings({{"worker_idle_seconds", 1}, {"plex_requests_per_second", 1000}}));
  }
};

TEST_F(PackageE2E, IndexNamesTheZipWithItsSha256) {
  const auto index = testing_support::read_file(testing_support::package_dir() + "/index.yml");
  ASSERT_EQ(index.rfind("- id: PlexSync\n", 0), 0U) << index;
  EXPECT_EQ(index_field(index, "name"), "PlexSync");
  EXPECT_EQ(index_field(index, "path"), "PlexSync.zip");
  EXPECT_TRUE(std::regex_match(index_field(index, "date"), std::regex(R"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)")))
      << "Stash compares dates in this form to find updates";
  EXPECT_FALSE(index_field(index, "version").empty());
  const auto sum =
      testing_support::run_process({"/usr/bin/sha256sum", testing_support::package_dir() + "/PlexSync.zip"}, "");
  ASSERT_EQ(sum.exit_code, 0);
  EXPECT_EQ(index_field(index, "sha256"), sum.out.substr(0, 64));
}

TEST_F(PackageE2E, TheExtractedZipIsAWorkingPlugin) {
  struct stat st {};
  ASSERT_EQ(::stat(bin_.c_str(), &st), 0);
  EXPECT_NE(st.st_mode & S_IXUSR, 0U) << "the binary keeps its executable bit through the zip";
  const auto manifest = testing_support::read_file(plugin_dir_ + "/PlexSync.yml");
  // Stash runs exec[0] from the plugin folder when a file of that name is there.
  EXPECT_NE(manifest.find("exec:\n  - ./plexsync\n  - plugin\n"), std::string::npos) << manifest;
  EXPECT_TRUE(fs::exists(plugin_dir_ + "/README.md"));
  const auto hooked =
      run(R"({"hookContext":{"id":4,"type":"Scene.Update.Post","input":null,"inputFields":["title"]},"mode":"hook"})");
  ASSERT_EQ(hooked.exit_code, 0) << hooked.err;
  const auto title = stash_.scene("4")->at("title").get<std::string>();
  EXPECT_TRUE(testing_support::wait_for([&] { return plex_.item_json("10003").value("title", "") == title; },
                                        std::chrono::seconds(30)))
      << testing_support::read_file(data_ + "/plexsync.log");
}

} // namespace
