// Pull mode end to end with the built binary (specs/plex-metadata-provider.md 7.4): the service
// worker serves the provider, `plexsync provider url` gives the address, PMS's calls are made as
// PMS makes them, an edit in Stash reaches the provider's answer, and the security cases hold.
#include <csignal>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "net/http.hpp"
#include "plugin_folder_fixture.hpp"
#include "support/process.hpp"
#include "support/provider_contract.hpp"

namespace {

using testing_support::run_process;
using testing_support::spawn_background;
using testing_support::wait_child;
using testing_support::wait_for;

class ProviderE2E : public testing_support::PluginFolderTest {
protected:
  void SetUp() override {
    PluginFolderTest::SetUp();
    plex_.generate(6);
    stash_.generate(6);
    stash_.set_plugin_settings("PlexSync", settings({{"retry_base_seconds", 1}}));
    // A free port for the provider.
    auto probe = net::start_server("127.0.0.1", 0, [](const net::ServerRequest&) { return net::ServerResponse{}; });
    port_ = probe->port();
    probe->stop();
    env_ = {{"PLEXSYNC_PROVIDER_ENABLED", "true"},
            {"PLEXSYNC_PROVIDER_LISTEN", "127.0.0.1:" + std::to_string(port_)},
            {"PLEXSYNC_STASH_URL", stash_url()},
            {"PLEXSYNC_STASH_API_KEY", testing_support::k_e2e_stash_key},
            {"PLEXSYNC_WORKER_AUTOSTART", "0"}};
  }

  net::Response call(const std::string& method, const std::string& url, const std::string& body = "") {
    auto parsed = net::Url::parse(url.substr(0, url.find('/', 8)));
    EXPECT_TRUE(parsed) << url;
    net::ClientOptions opts;
    opts.base = *parsed;
    auto res = net::make_http_client(opts)->send(net::Request{method, url.substr(url.find('/', 8)), {}, body});
    return res ? *res : net::Response{};
  }

  uint16_t port_ = 0;
  std::map<std::string, std::string> env_;
};

TEST_F(ProviderE2E, ServiceWorkerServesPlexAndFollowsStash) {
  const int pid = spawn_background({bin_, "worker", "--forever", "--data-dir", data_}, env_);
  ASSERT_GT(pid, 0);
  const auto url = run_process({bin_, "provider", "url", "--data-dir", data_}, "", env_);
  ASSERT_EQ(url.exit_code, 0) << url.err;
  const auto root = url.out.substr(0, url.out.find('\n'));
  ASSERT_EQ(root.rfind("http://127.0.0.1:" + std::to_string(port_) + "/p/", 0), 0U) << root;
  ASSERT_EQ(root.substr(root.size() - 6), "/movie");
  const auto base = root.substr(0, root.size() - 6);
  // Listening at once; 200 once Stash's files are indexed.
  ASSERT_TRUE(wait_for([&] { return call("GET", root).status == 200; }, std::chrono::seconds(30)));
  const auto doc = nlohmann::json::parse(call("GET", root).body);
  EXPECT_EQ(testing_support::contract_problems("root", doc), std::vector<std::string>{});
  const std::string identifier = doc.at("MediaProvider").at("identifier");
  // The scan PMS makes: match every file by its library-relative name, then the metadata and images.
  for (int scene = 1; scene <= 6; ++scene) {
    std::string path = stash_.scene(std::to_string(scene))->at("files").at(0).at("path");
    // Relative to its Plex library folder, with a leading '/' as one of PMS's examples shows.
    std::string rel = path;
    for (const std::string folder : {"/media/adult", "/mnt/nas2/Adult Archive"}) {
      if (path.rfind(folder + "/", 0) == 0) {
        rel = path.substr(folder.size());
      }
    }
    const auto match = call("POST", base + "/movie/library/metadata/matches",
                            nlohmann::json{{"type", 1}, {"title", "x"}, {"filename", rel}}.dump());
    ASSERT_EQ(match.status, 200) << match.body;
    const auto items = nlohmann::json::parse(match.body).at("MediaContainer").at("Metadata");
    ASSERT_EQ(items.size(), 1U) << rel;
    const std::string key = items.at(0).at("ratingKey");
    EXPECT_EQ(key, "scene-" + std::to_string(scene));
    const auto meta = nlohmann::json::parse(call("GET", base + "/movie/library/metadata/" + key).body);
    EXPECT_EQ(testing_support::contract_problems("metadata", meta), std::vector<std::string>{});
    EXPECT_EQ(testing_support::plexsync_problems(meta, identifier, base), std::vector<std::string>{});
    const auto& m = meta.at("MediaContainer").at("Metadata").at(0);
    EXPECT_EQ(m.at("title"), stash_.scene(std::to_string(scene))->at("title"));
    const auto image = call("GET", m.at("thumb"));
    EXPECT_EQ(image.status, 200);
    EXPECT_EQ(*image.header("Content-Type"), "image/png");
  }
  // An edit in Stash, announced by its hook, reaches the provider's answer.
  ASSERT_TRUE(stash_.update_scene("2", {{"title", "Edited for pull"}}));
  ASSERT_EQ(
      run(R"({"hookContext":{"id":2,"type":"Scene.Update.Post","input":null,"inputFields":["title"]},"mode":"hook"})",
          env_)
          .exit_code,
      0);
  EXPECT_TRUE(wait_for(
      [&] {
        const auto j =
            nlohmann::json::parse(call("GET", base + "/movie/library/metadata/scene-2").body, nullptr, false);
        return j.is_object() && j["MediaContainer"]["Metadata"][0].value("title", "") == "Edited for pull";
      },
      std::chrono::seconds(30)));
  // The security cases: another path, a tampered image, a body too large.
  EXPECT_EQ(call("GET", "http://127.0.0.1:" + std::to_string(port_) + "/movie").status, 404);
  const std::string thumb =
      nlohmann::json::parse(call("GET", base + "/movie/library/metadata/scene-1").body)["MediaContainer"]["Metadata"][0]
          .at("thumb");
  auto tampered = thumb;
  tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
  EXPECT_EQ(call("GET", tampered).status, 403);
  EXPECT_EQ(call("POST", base + "/movie/library/metadata/matches", std::string(200 * 1024, ' ')).status, 413);
  // The metrics count what PMS asked.
  const auto stop = run_process({bin_, "worker", "--stop", "--data-dir", data_}, "", env_);
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_EQ(wait_child(pid, std::chrono::seconds(30)), 0);
  const auto log = testing_support::read_file(data_ + "/plexsync.log");
  EXPECT_NE(log.find("metadata provider listening on 127.0.0.1:" + std::to_string(port_)), std::string::npos) << log;
  const auto token = base.substr(base.rfind('/') + 1);
  EXPECT_EQ(log.find(token), std::string::npos) << "the path secret is never logged";
}

TEST_F(ProviderE2E, OffByDefaultAndAWrongSettingSaysSo) {
  auto env = env_;
  env.erase("PLEXSYNC_PROVIDER_ENABLED");
  const int pid = spawn_background({bin_, "worker", "--forever", "--data-dir", data_}, env);
  ASSERT_TRUE(wait_for(
      [&] { return testing_support::read_file(data_ + "/plexsync.log").find("worker started") != std::string::npos; },
      std::chrono::seconds(20)));
  EXPECT_EQ(call("GET", "http://127.0.0.1:" + std::to_string(port_) + "/").status, 0) << "nothing listens";
  EXPECT_EQ(run_process({bin_, "worker", "--stop", "--data-dir", data_}, "", env).exit_code, 0);
  EXPECT_EQ(wait_child(pid, std::chrono::seconds(30)), 0);
  env["PLEXSYNC_PROVIDER_ENABLED"] = "true";
  env["PLEXSYNC_PROVIDER_LISTEN"] = "localhost:99999";
  const auto url = run_process({bin_, "config", "--data-dir", data_}, "", env);
  EXPECT_NE(url.out.find("provider_listen"), std::string::npos) << url.out;
}

} // namespace
