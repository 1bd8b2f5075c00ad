// Pull mode end to end with the built binary (specs/plex-metadata-provider.md 7.4): the service
// worker serves the provider, `plexsync provider url` gives the address, PMS's calls are made as
// PMS makes them, an edit in Stash reaches the provider's answer, and the security cases hold.
#include <array>
#include <csignal>
#include <sstream>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
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

  net::Response call(const std::string& method, const std::string& url, const std::string& body = "",
                     net::Headers headers = {}) {
    auto parsed = net::Url::parse(url.substr(0, url.find('/', 8)));
    EXPECT_TRUE(parsed) << url;
    net::ClientOptions opts;
    opts.base = *parsed;
    auto res =
        net::make_http_client(opts)->send(net::Request{method, url.substr(url.find('/', 8)), std::move(headers), body});
    return res ? *res : net::Response{};
  }

  // The catalog is built once match answers (503 until then; the root answers from the start).
  bool catalog_ready(const std::string& root) {
    return call("POST", root + "/library/metadata/matches", R"({"type":1})", {{"Content-Type", "application/json"}})
               .status == 200;
  }

  uint16_t port_ = 0;
  std::map<std::string, std::string> env_;
};

TEST_F(ProviderE2E, ServiceWorkerServesPlexAndFollowsStash) {
  env_["PLEXSYNC_PROVIDER_ALLOW"] = "127.0.0.1/32"; // PMS's address only
  const int pid = spawn_background({bin_, "worker", "--forever", "--data-dir", data_}, env_);
  ASSERT_GT(pid, 0);
  const auto url = run_process({bin_, "provider", "url", "--data-dir", data_}, "", env_);
  ASSERT_EQ(url.exit_code, 0) << url.err;
  const auto root = url.out.substr(0, url.out.find('\n'));
  ASSERT_EQ(root.rfind("http://127.0.0.1:" + std::to_string(port_) + "/p/", 0), 0U) << root;
  ASSERT_EQ(root.substr(root.size() - 6), "/movie");
  const auto base = root.substr(0, root.size() - 6);
  // The root answers at once; matches answer 200 once Stash's files are indexed (503 before).
  ASSERT_TRUE(wait_for([&] { return call("GET", root).status == 200; }, std::chrono::seconds(30)));
  ASSERT_TRUE(wait_for([&] { return catalog_ready(root); }, std::chrono::seconds(30)));
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
    EXPECT_EQ(testing_support::plexsync_problems(meta, identifier, "http://127.0.0.1:" + std::to_string(port_)),
              std::vector<std::string>{});
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
  // Another local address (not on the allow-list) is refused before anything is read.
  {
    namespace asio = boost::asio;
    asio::io_context ioc;
    asio::ip::tcp::socket socket(ioc);
    socket.open(asio::ip::tcp::v4());
    socket.bind({asio::ip::make_address("127.0.0.2"), 0});
    socket.connect({asio::ip::make_address("127.0.0.1"), port_});
    const std::string request = "GET " + root.substr(root.find("/p/")) + " HTTP/1.1\r\nHost: x\r\n\r\n";
    asio::write(socket, asio::buffer(request));
    boost::system::error_code ec;
    std::string answer;
    asio::read(socket, asio::dynamic_buffer(answer), asio::transfer_at_least(12), ec);
    EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 403") << answer;
  }
  // A request trickled a byte at a time is cut within the 10 s receive limit.
  {
    namespace asio = boost::asio;
    asio::io_context ioc;
    asio::ip::tcp::socket socket(ioc);
    socket.connect({asio::ip::make_address("127.0.0.1"), port_});
    const std::string head = "GET " + root.substr(root.find("/p/")) + " HTTP/1.1\r\nHost: x\r\n";
    const auto started = std::chrono::steady_clock::now();
    bool closed = false;
    for (size_t i = 0; !closed && std::chrono::steady_clock::now() - started < std::chrono::seconds(15); ++i) {
      boost::system::error_code ec;
      asio::write(socket, asio::buffer(head.data() + (i % head.size()), 1), ec);
      closed = static_cast<bool>(ec);
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    EXPECT_TRUE(closed) << "the connection outlived the receive limit";
  }
  // The metrics count what PMS asked.
  const auto stop = run_process({bin_, "worker", "--stop", "--data-dir", data_}, "", env_);
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_EQ(wait_child(pid, std::chrono::seconds(30)), 0);
  const auto log = testing_support::read_file(data_ + "/plexsync.log");
  EXPECT_NE(log.find("metadata provider listening on 127.0.0.1:" + std::to_string(port_)), std::string::npos) << log;
  const auto token = base.substr(base.rfind('/') + 1);
  EXPECT_EQ(log.find(token), std::string::npos) << "the path secret is never logged";
}

// Spec 7.4 scenarios 1, 2, 4 and 6 with the built binary: `plexsync provider register --switch`
// against plexsim acting as PMS, PMS's first scan under each filename style, an edit in Stash
// reaching Plex as one refresh, and a file PMS scanned before Stash knew it.
class ProviderE2EScan : public ProviderE2E, public ::testing::WithParamInterface<plexsim::AgentOptions::FilenameStyle> {
protected:
  std::string guid(int item) { return plex_.item_json(std::to_string(10000 + item)).value("guid", ""); }
  std::string title(int item) { return plex_.item_json(std::to_string(10000 + item)).value("title", ""); }
  bool idle() { return plex_.agent_idle(); }
  int count(const std::string& method, const std::string& path) {
    int n = 0;
    for (const auto& r : plex_.requests().snapshot()) {
      n += r.method == method && r.path == path ? 1 : 0;
    }
    return n;
  }
};

std::string style_name(const ::testing::TestParamInfo<plexsim::AgentOptions::FilenameStyle>& p) {
  static const std::array<const char*, 4> k_names{"rel", "rel_leading_slash", "rel_with_root_name", "absolute"};
  return k_names.at(static_cast<size_t>(p.param));
}

TEST_P(ProviderE2EScan, RegisterScanEditAndBindThroughTheBinary) {
  plexsim::AgentOptions options;
  options.filename_style = GetParam();
  plex_.set_agent_options(options);
  const int pid = spawn_background({bin_, "worker", "--forever", "--data-dir", data_}, env_);
  ASSERT_GT(pid, 0);
  const auto url = run_process({bin_, "provider", "url", "--data-dir", data_}, "", env_);
  ASSERT_EQ(url.exit_code, 0) << url.err;
  const auto root = url.out.substr(0, url.out.find('\n'));
  ASSERT_TRUE(wait_for([&] { return catalog_ready(root); }, std::chrono::seconds(30)));
  const std::string identifier = nlohmann::json::parse(call("GET", root).body)["MediaProvider"]["identifier"];
  // 1: register, switch the library; PMS scans it through the provider.
  const auto reg =
      run_process({bin_, "provider", "register", "--library", "Adult", "--switch", "--data-dir", data_}, "", env_);
  ASSERT_EQ(reg.exit_code, 0) << reg.out << reg.err;
  ASSERT_EQ(plex_.providers().size(), 1U);
  ASSERT_EQ(plex_.agent_groups().size(), 1U);
  // 2: every item bound to its scene, with its title, and its images fetched through the proxy.
  ASSERT_TRUE(wait_for(
      [&] {
        for (int i = 0; i < 6; ++i) {
          if (guid(i) != identifier + "://movie/scene-" + std::to_string(i + 1)) {
            return false;
          }
        }
        return idle();
      },
      std::chrono::seconds(60)))
      << guid(0);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(title(i), stash_.scene(std::to_string(i + 1))->at("title"));
  }
  int images = 0;
  for (const auto& c : plex_.provider_calls()) {
    if (c.url.find("/img/v1/") != std::string::npos) {
      ++images;
      EXPECT_EQ(c.status, 200) << c.url;
      EXPECT_EQ(c.content_type, "image/png");
    }
    for (const std::string secret : {testing_support::k_e2e_stash_key, testing_support::k_e2e_plex_token}) {
      EXPECT_EQ(c.url.find(secret), std::string::npos);
      EXPECT_EQ(c.body.find(secret), std::string::npos);
    }
  }
  EXPECT_GE(images, 6);
  // The scan's follow-up jobs (due ~30 s after it) may run meanwhile: they ask no refresh for a
  // version PMS has read.
  // 4: an edit in Stash, announced by its hook, reaches Plex as one refresh and no field write.
  ASSERT_TRUE(stash_.update_scene("2", {{"title", "Edited in Stash for pull"}}));
  plex_.requests().clear();
  ASSERT_EQ(
      run(R"({"hookContext":{"id":2,"type":"Scene.Update.Post","input":null,"inputFields":["title"]},"mode":"hook"})",
          env_)
          .exit_code,
      0);
  ASSERT_TRUE(wait_for([&] { return title(1) == "Edited in Stash for pull" && idle(); }, std::chrono::seconds(30)))
      << title(1);
  EXPECT_EQ(count("PUT", "/library/metadata/10001/refresh"), 1);
  // 6: a file PMS scans before Stash knows it stays unmatched; once Stash has its scene, the
  // worker binds it and PMS fetches the metadata.
  auto late = *stash_.scene("1");
  late["id"] = "7";
  late["title"] = "Scanned before Stash knew it";
  late["files"][0]["id"] = "5077";
  late["files"][0]["path"] = "/media/adult/new/arrived late.mp4";
  const auto rk = plex_.add_file("1", late["files"][0]["path"], late["files"][0]["size"],
                                 static_cast<int64_t>(late["files"][0]["duration"].get<double>() * 1000));
  const auto scan = call("POST", plex_url() + "/library/sections/1/refresh", "",
                         {{"X-Plex-Token", testing_support::k_e2e_plex_token}});
  ASSERT_EQ(scan.status, 200);
  ASSERT_TRUE(wait_for([&] { return plex_.item_json(rk).is_object() && idle(); }, std::chrono::seconds(30)));
  EXPECT_EQ(plex_.item_json(rk).value("guid", "").rfind("local://", 0), 0U);
  stash_.add_scene(late);
  ASSERT_EQ(
      run(R"({"hookContext":{"id":7,"type":"Scene.Create.Post","input":null,"inputFields":[]},"mode":"hook"})", env_)
          .exit_code,
      0);
  EXPECT_TRUE(wait_for([&] { return plex_.item_json(rk).value("title", "") == "Scanned before Stash knew it"; },
                       std::chrono::seconds(60)))
      << plex_.item_json(rk).dump();
  EXPECT_EQ(plex_.item_json(rk).value("guid", ""), identifier + "://movie/scene-7");
  EXPECT_EQ(run_process({bin_, "worker", "--stop", "--data-dir", data_}, "", env_).exit_code, 0);
  EXPECT_EQ(wait_child(pid, std::chrono::seconds(30)), 0);
  // No secret in the log or in anything PMS was handed.
  const auto log = testing_support::read_file(data_ + "/plexsync.log");
  const auto token = root.substr(root.find("/p/") + 3, 32);
  EXPECT_EQ(log.find(token), std::string::npos);
  EXPECT_EQ(log.find(testing_support::k_e2e_stash_key), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(FilenameStyles, ProviderE2EScan,
                         ::testing::Values(plexsim::AgentOptions::FilenameStyle::rel,
                                           plexsim::AgentOptions::FilenameStyle::rel_leading_slash,
                                           plexsim::AgentOptions::FilenameStyle::rel_with_root_name,
                                           plexsim::AgentOptions::FilenameStyle::absolute),
                         style_name);

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
