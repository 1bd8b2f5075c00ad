// The metadata provider over real loopback HTTP, hosted as the worker hosts it, against stashsim
// (specs/plex-metadata-provider.md 7.4): every filename style, ambiguity, an edit reaching the
// answer, Stash down, Fix Match, and the security cases. Every wait is bounded.
#include <array>
#include <chrono>
#include <iostream>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/operator.hpp"
#include "cli/provider_cmd.hpp"
#include "match/path_map.hpp"
#include "net/http.hpp"
#include "provider/catalog.hpp"
#include "provider/identity.hpp"
#include "provider/render.hpp"
#include "provider/service.hpp"
#include "stash/client.hpp"
#include "store/heal.hpp"
#include "support/loopback.hpp"
#include "support/process.hpp"
#include "support/provider_contract.hpp"
#include "support/worker_fixture.hpp"
#include "util/clock.hpp"
#include "util/strings.hpp"
#include "worker/provider_host.hpp"

namespace {

using testing_support::contract_problems;
using testing_support::plexsync_problems;
using testing_support::wait_for;

class ProviderServe : public testing_support::WorkerFixture {
protected:
  void start(const nlohmann::json& extra = nlohmann::json::object()) {
    nlohmann::json s = {{"provider_enabled", true}, {"provider_listen", "127.0.0.1:0"}};
    s.update(extra);
    configure(s);
    auto host = worker::ProviderHost::start_if_enabled(dir_);
    ASSERT_TRUE(host) << host.error().message;
    ASSERT_TRUE(*host) << "the provider did not start";
    host_ = std::move(*host);
    auto secrets = provider::load_or_create_secrets(dir_);
    ASSERT_TRUE(secrets);
    token_ = secrets->token;
    base_ = "http://127.0.0.1:" + std::to_string(host_->port());
    ASSERT_TRUE(wait_for([&] { return host_->ready(); }, std::chrono::seconds(30))) << "catalog never built";
  }

  net::Response call(const std::string& method, const std::string& target, const std::string& body = "",
                     net::Headers headers = {}) {
    net::ClientOptions opts;
    opts.base = *net::Url::parse(base_);
    opts.read_timeout_ms = 20000;
    auto client = net::make_http_client(opts);
    net::Request req{method, target, std::move(headers), body};
    auto res = client->send(req);
    EXPECT_TRUE(res) << method << " " << target << ": " << (res ? "" : res.error().message);
    return res ? *res : net::Response{};
  }

  nlohmann::json match(const nlohmann::json& body) {
    const auto res = call("POST", "/p/" + token_ + "/movie/library/metadata/matches", body.dump(),
                          {{"Content-Type", "application/json"}});
    EXPECT_EQ(res.status, 200) << res.body;
    const auto j = nlohmann::json::parse(res.body, nullptr, false);
    EXPECT_EQ(contract_problems("match", j), std::vector<std::string>{}) << res.body;
    return j;
  }

  nlohmann::json metadata(const std::string& rating_key, const std::string& sub = "") {
    const auto res = call("GET", "/p/" + token_ + "/movie/library/metadata/" + rating_key + sub);
    EXPECT_EQ(res.status, 200) << rating_key << sub << ": " << res.body;
    return nlohmann::json::parse(res.body, nullptr, false);
  }

  // The path and file name of a generated scene, relative to its Plex library folder.
  std::string relative(int scene) {
    const auto path = stash_.scene(std::to_string(scene))->at("files").at(0).at("path").get<std::string>();
    for (const std::string root : {"/media/adult/", "/mnt/nas2/Adult Archive/"}) {
      if (path.rfind(root, 0) == 0) {
        return path.substr(root.size());
      }
    }
    return path;
  }

  const std::string identifier_ = provider::k_base_identifier;
  std::unique_ptr<worker::ProviderHost> host_;
  std::string token_;
  std::string base_;
};

TEST_F(ProviderServe, RootDocumentAndTheSecretPath) {
  start();
  const auto res = call("GET", "/p/" + token_ + "/movie");
  ASSERT_EQ(res.status, 200);
  EXPECT_EQ(*res.header("Content-Type"), "application/json; charset=utf-8");
  const auto root = nlohmann::json::parse(res.body);
  EXPECT_EQ(contract_problems("root", root), std::vector<std::string>{});
  EXPECT_EQ(root.at("MediaProvider").at("identifier"), identifier_);
  // Without the token, with a wrong one, or a prefix of it: nothing.
  EXPECT_EQ(call("GET", "/movie").status, 404);
  EXPECT_EQ(call("GET", "/p/" + std::string(32, 'a') + "/movie").status, 404);
  EXPECT_EQ(call("GET", "/p/" + token_.substr(0, 31) + "/movie").status, 404);
  EXPECT_EQ(call("GET", "/p/" + token_ + "x/movie").status, 404);
  EXPECT_EQ(call("GET", "/p/" + token_ + "/movie/unknown").status, 404);
  EXPECT_EQ(call("DELETE", "/p/" + token_ + "/movie").status, 405);
}

TEST_F(ProviderServe, EveryFilenameStyleMatchesAndEveryAnswerValidates) {
  start({{"content_rating", "XXX"}});
  for (int scene = 1; scene <= 6; ++scene) {
    const auto rel = relative(scene);
    const auto full = stash_.scene(std::to_string(scene))->at("files").at(0).at("path").get<std::string>();
    // The library folder's own name first: that of the folder holding this file.
    const std::string folder_name = full.rfind("/media/adult/", 0) == 0 ? "adult" : "Adult Archive";
    for (const auto& filename : {rel, "/" + rel, folder_name + "/" + rel, full}) {
      const auto answer = match({{"type", 1}, {"title", "whatever the scanner parsed"}, {"filename", filename}});
      const auto& items = answer.at("MediaContainer").at("Metadata");
      ASSERT_EQ(items.size(), 1U) << filename;
      EXPECT_EQ(items.at(0).at("ratingKey"), "scene-" + std::to_string(scene)) << filename;
      EXPECT_EQ(items.at(0).at("score"), 100);
      EXPECT_EQ(plexsync_problems(answer, identifier_, base_), std::vector<std::string>{});
    }
    const auto meta = metadata("scene-" + std::to_string(scene));
    EXPECT_EQ(contract_problems("metadata", meta), std::vector<std::string>{}) << meta.dump();
    EXPECT_EQ(plexsync_problems(meta, identifier_, base_), std::vector<std::string>{});
    const auto& m = meta.at("MediaContainer").at("Metadata").at(0);
    const auto stash_scene = *stash_.scene(std::to_string(scene));
    EXPECT_EQ(m.at("title"), stash_scene.at("title"));
    EXPECT_EQ(m.at("contentRating"), "XXX");
    const auto images = metadata("scene-" + std::to_string(scene), "/images");
    EXPECT_EQ(contract_problems("images", images), std::vector<std::string>{});
    EXPECT_EQ(plexsync_problems(images, identifier_, base_), std::vector<std::string>{});
    // Every image URL answers with an image, through the proxy.
    std::vector<std::string> urls;
    urls.push_back(m.at("thumb"));
    for (const auto& r : m.value("Role", nlohmann::json::array())) {
      if (r.contains("thumb")) {
        urls.push_back(r.at("thumb"));
      }
    }
    for (const auto& url : urls) {
      const auto img = call("GET", url.substr(base_.size()));
      EXPECT_EQ(img.status, 200) << url;
      EXPECT_EQ(*img.header("Content-Type"), "image/png");
      EXPECT_NE(img.header("ETag"), nullptr);
    }
  }
  // Not a movie, no match, not our key: the documented empty answers.
  EXPECT_TRUE(match({{"type", 4}, {"filename", relative(1)}}).at("MediaContainer").at("Metadata").empty());
  EXPECT_TRUE(match({{"type", 1}, {"filename", "Nope/none.mp4"}}).at("MediaContainer").at("Metadata").empty());
  EXPECT_EQ(call("GET", "/p/" + token_ + "/movie/library/metadata/scene-999999").status, 404);
  EXPECT_EQ(call("GET", "/p/" + token_ + "/movie/library/metadata/plex-1").status, 404);
  EXPECT_EQ(call("GET", "/p/" + token_ + "/movie/library/metadata/scene-1/children").status, 404);
  const auto extras = metadata("scene-1", "/extras");
  EXPECT_TRUE(extras.at("MediaContainer").at("Metadata").empty());
  EXPECT_EQ(call("POST", "/p/" + token_ + "/movie/library/metadata/matches", "{not json").status, 400);
}

TEST_F(ProviderServe, ImagesAreSignedVersionedAndCached) {
  start();
  const auto m = metadata("scene-2").at("MediaContainer").at("Metadata").at(0);
  const std::string thumb = m.at("thumb");
  const auto target = thumb.substr(base_.size());
  const auto stash_images = [&] {
    int n = 0;
    for (const auto& r : stash_.requests().snapshot()) {
      n += r.path.find("/screenshot") != std::string::npos ? 1 : 0;
    }
    return n;
  };
  const int before = stash_images();
  ASSERT_EQ(call("GET", target).status, 200);
  ASSERT_EQ(call("GET", target).status, 200);
  EXPECT_EQ(stash_images(), before + 1) << "the second request is served from the cache";
  const auto head = call("HEAD", target);
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
  const auto etag = *call("GET", target).header("ETag");
  EXPECT_EQ(call("GET", target, "", {{"If-None-Match", etag}}).status, 304);
  // A tampered signature, id or version is refused.
  auto tampered = target;
  tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
  EXPECT_EQ(call("GET", tampered).status, 403);
  auto other_id = target;
  other_id.replace(other_id.find("/scene/2/"), 9, "/scene/3/");
  EXPECT_EQ(call("GET", other_id).status, 403);
  // A changed cover gets a new URL.
  ASSERT_TRUE(stash_.update_scene("2", {{"cover_version", 1800000000}}));
  enqueue({2});
  drain();
  const std::string newer = metadata("scene-2").at("MediaContainer").at("Metadata").at(0).at("thumb");
  EXPECT_NE(newer, thumb);
  EXPECT_NE(newer.find("/1800000000/"), std::string::npos);
}

TEST_F(ProviderServe, AnImageUrlUnlocksOnlyItsImage) {
  // Image URLs are handed to Plex clients and Plex's image proxy (issue #26): whoever sees one may
  // fetch that image, and nothing else of the provider.
  start();
  std::vector<std::string> urls;
  const auto collect = [&](const nlohmann::json& doc) {
    for (const auto& m : doc.at("MediaContainer").value("Metadata", nlohmann::json::array())) {
      for (const char* field : {"thumb", "art"}) {
        if (m.contains(field)) {
          urls.push_back(m.at(field));
        }
      }
      for (const auto& r : m.value("Role", nlohmann::json::array())) {
        if (r.contains("thumb")) {
          urls.push_back(r.at("thumb"));
        }
      }
    }
    for (const auto& i : doc.at("MediaContainer").value("Image", nlohmann::json::array())) {
      urls.push_back(i.at("url"));
    }
  };
  for (int scene = 1; scene <= 3; ++scene) {
    const auto key = "scene-" + std::to_string(scene);
    collect(match({{"type", 1}, {"filename", relative(scene)}}));
    collect(match({{"type", 1}, {"title", stash_.scene(std::to_string(scene))->at("title")}, {"manual", 1}}));
    collect(metadata(key));
    collect(metadata(key, "/images"));
  }
  ASSERT_GE(urls.size(), 12U);
  for (const auto& url : urls) {
    ASSERT_EQ(url.rfind(base_ + "/img/v1/", 0), 0U) << url;
    EXPECT_EQ(url.find(token_), std::string::npos) << url;
    const auto target = url.substr(base_.size());
    EXPECT_EQ(call("GET", target).status, 200) << url;
    // Everything one could make of it: the provider's routes beside or below the image path.
    const auto prefix = target.substr(0, target.find("/img/"));
    for (const auto& derived :
         {prefix + "/movie", prefix + "/movie/library/metadata/scene-1", target + "/../../../../../../../movie",
          target.substr(0, target.rfind('/')) + "/movie/library/metadata/scene-1", std::string("/img/movie"),
          "/img" + target.substr(4, target.find("/v1/") - 4) + "/movie/library/metadata/scene-1"}) {
      EXPECT_EQ(call("GET", derived).status, 404) << derived;
    }
    EXPECT_EQ(call("POST", prefix + "/movie/library/metadata/matches", R"({"type":1,"title":"x","manual":1})").status,
              404);
  }
  // The image route takes GET and HEAD of a signed image, nothing else.
  EXPECT_EQ(call("POST", "/img/movie/library/metadata/matches", R"({"type":1,"title":"x","manual":1})").status, 405);
  // URLs PMS stored before images moved out of the secret path keep working until the token rotates.
  const auto old = "/p/" + token_ + urls.front().substr(base_.size());
  EXPECT_EQ(call("GET", old).status, 200);
}

TEST_F(ProviderServe, AnEditInStashReachesTheAnswerThroughTheWorkersJob) {
  start();
  EXPECT_EQ(metadata("scene-3").at("MediaContainer").at("Metadata").at(0).at("title"), stash_.scene("3")->at("title"));
  ASSERT_TRUE(stash_.update_scene("3", {{"title", "Renamed in Stash"}}));
  enqueue({3});
  drain();
  EXPECT_EQ(metadata("scene-3").at("MediaContainer").at("Metadata").at(0).at("title"), "Renamed in Stash");
  // A scene deleted in Stash is gone from the provider after its job.
  ASSERT_TRUE(stash_.delete_scene("4"));
  enqueue({4});
  drain();
  EXPECT_EQ(call("GET", "/p/" + token_ + "/movie/library/metadata/scene-4").status, 404);
  EXPECT_TRUE(match({{"type", 1}, {"filename", relative(5)}}).at("MediaContainer").at("Metadata").size() == 1);
}

TEST_F(ProviderServe, DuplicateRelativePathsAreNotGuessed) {
  // Scene 7 is a copy of scene 1's relative path under another library folder.
  auto copy = *stash_.scene("1");
  const auto rel = relative(1);
  copy["id"] = "7";
  copy["files"][0]["path"] = "/mnt/nas2/Adult Archive/" + rel;
  stash_.add_scene(copy);
  start();
  EXPECT_TRUE(match({{"type", 1}, {"filename", rel}}).at("MediaContainer").at("Metadata").empty());
  // Fix Match shows both, and a full path decides.
  EXPECT_EQ(match({{"type", 1}, {"filename", rel}, {"manual", 1}}).at("MediaContainer").at("Metadata").size(), 2U);
  const auto full = match({{"type", 1}, {"filename", "/mnt/nas2/Adult Archive/" + rel}});
  ASSERT_EQ(full.at("MediaContainer").at("Metadata").size(), 1U);
  EXPECT_EQ(full.at("MediaContainer").at("Metadata").at(0).at("ratingKey"), "scene-7");
}

// Issue #31: a file matched only by its base name (or the end of its path) was answered with
// score 100, so PMS bound it to a scene whose file merely had the same name elsewhere. Now it is
// uncertain: no automatic answer, the scene goes on the review list, Fix Match shows it below 100.
TEST_F(ProviderServe, AMatchByTheEndOfThePathAloneIsNeverCertain) {
  start();
  const auto rel = relative(2);
  const auto base = rel.substr(rel.rfind('/') + 1);
  EXPECT_TRUE(match({{"type", 1}, {"filename", base}}).at("MediaContainer").at("Metadata").empty());
  EXPECT_TRUE(
      match({{"type", 1}, {"filename", "/elsewhere/entirely/" + base}}).at("MediaContainer").at("Metadata").empty());
  auto review = db_->prepare("SELECT reason FROM match_reviews WHERE scene_id = '2'");
  ASSERT_TRUE(review);
  ASSERT_TRUE(*review->step()) << "the scene waits for a person or its full path";
  EXPECT_NE(review->text_at(0).find("only by the end of its path"), std::string::npos) << review->text_at(0);
  const auto manual = match({{"type", 1}, {"filename", base}, {"manual", 1}}).at("MediaContainer").at("Metadata");
  ASSERT_EQ(manual.size(), 1U);
  EXPECT_EQ(manual.at(0).at("ratingKey"), "scene-2");
  EXPECT_LT(manual.at(0).at("score").get<int>(), 100);
  // The exact path is certain.
  const auto exact = match({{"type", 1}, {"filename", rel}}).at("MediaContainer").at("Metadata");
  ASSERT_EQ(exact.size(), 1U);
  EXPECT_EQ(exact.at(0).at("score"), 100);
}

TEST_F(ProviderServe, FixMatchFindsByTitleIdUrlAndStashDbId) {
  ASSERT_TRUE(stash_.update_scene(
      "5", {{"stash_ids",
             {{{"endpoint", "https://stashdb.org/graphql"}, {"stash_id", "2f0c1b7e-5a1d-4c39-9d2b-0e6f5a8b9c11"}}}}}));
  start();
  const auto first_key = [&](const nlohmann::json& body) {
    const auto items = match(body).at("MediaContainer").at("Metadata");
    return items.empty() ? std::string() : items.at(0).at("ratingKey").get<std::string>();
  };
  EXPECT_EQ(first_key({{"type", 1}, {"manual", 1}, {"title", "stash 4"}}), "scene-4");
  EXPECT_EQ(first_key({{"type", 1}, {"manual", 1}, {"title", "scene-6"}}), "scene-6");
  EXPECT_EQ(first_key({{"type", 1}, {"manual", 1}, {"title", "http://stash.local:9999/scenes/3?t=1"}}), "scene-3");
  EXPECT_EQ(first_key({{"type", 1}, {"manual", 1}, {"title", "2f0c1b7e-5a1d-4c39-9d2b-0e6f5a8b9c11"}}), "scene-5");
  EXPECT_EQ(first_key({{"type", 1}, {"guid", "stashdb://2f0c1b7e-5a1d-4c39-9d2b-0e6f5a8b9c11"}}), "scene-5");
  const std::string title = stash_.scene("2")->at("title");
  EXPECT_EQ(first_key({{"type", 1}, {"manual", 1}, {"title", title}}), "scene-2");
  // Our own GUID as the hint decides before the file name.
  EXPECT_EQ(first_key({{"type", 1}, {"guid", identifier_ + "://movie/scene-6"}, {"filename", relative(1)}}), "scene-6");
  // The file's scene comes first in Fix Match, title candidates after it.
  const auto both = match({{"type", 1}, {"manual", 1}, {"filename", relative(1)}, {"title", title}});
  ASSERT_GE(both.at("MediaContainer").at("Metadata").size(), 2U);
  EXPECT_EQ(both.at("MediaContainer").at("Metadata").at(0).at("ratingKey"), "scene-1");
  EXPECT_EQ(both.at("MediaContainer").at("Metadata").at(0).at("score"), 100);
}

TEST_F(ProviderServe, StashDownMatchesAndMetadataStillAnswer) {
  start();
  const std::string thumb = metadata("scene-1").at("MediaContainer").at("Metadata").at(0).at("thumb");
  ASSERT_EQ(call("GET", thumb.substr(base_.size())).status, 200); // cached now
  const std::string other = metadata("scene-2").at("MediaContainer").at("Metadata").at(0).at("thumb");
  stash_server_->stop();
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(match({{"type", 1}, {"filename", relative(1)}}).at("MediaContainer").at("Metadata").size(), 1U);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2)) << "answered from the index";
  EXPECT_EQ(metadata("scene-2").at("MediaContainer").at("Metadata").at(0).at("title"), stash_.scene("2")->at("title"));
  EXPECT_EQ(call("GET", thumb.substr(base_.size())).status, 200);
  EXPECT_EQ(call("GET", other.substr(base_.size())).status, 502);
}

TEST_F(ProviderServe, SourcesOutsideTheAllowListAreRefusedBeforeReading) {
  start({{"provider_allow", "10.0.0.0/8"}});
  net::ClientOptions opts;
  opts.base = *net::Url::parse(base_);
  auto client = net::make_http_client(opts);
  auto res = client->send(net::Request{"GET", "/p/" + token_ + "/movie", {}, ""});
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ(res->status, 403);
}

TEST_F(ProviderServe, OversizedAndTricklingRequestsAreCut) {
  start();
  const auto big = call("POST", "/p/" + token_ + "/movie/library/metadata/matches", std::string(1024 * 1024, ' '));
  EXPECT_EQ(big.status, 413);
  // A client that sends its request one byte a second is disconnected within the 10 s limit.
  namespace asio = boost::asio;
  asio::io_context ioc;
  asio::ip::tcp::socket socket(ioc);
  socket.connect({asio::ip::make_address("127.0.0.1"), host_->port()});
  const std::string head = "GET /p/" + token_ + "/movie HTTP/1.1\r\nHost: x\r\n";
  const auto started = std::chrono::steady_clock::now();
  bool closed = false;
  for (size_t i = 0; i < head.size() && std::chrono::steady_clock::now() - started < std::chrono::seconds(20); ++i) {
    boost::system::error_code ec;
    asio::write(socket, asio::buffer(head.data() + i, 1), ec);
    if (ec) {
      closed = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  EXPECT_TRUE(closed) << "the connection outlived the receive limit";
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(16));
}

TEST_F(ProviderServe, HeldAndUnreadConnectionsLeavePmsAnswered) {
  start();
  // Issue #31: 0 of 120 PMS-like requests were answered while idle connections were held, and
  // clients that never read kept the slots; the server grew a thread per connection.
  boost::asio::io_context ioc;
  std::vector<std::unique_ptr<boost::asio::ip::tcp::socket>> held;
  for (int i = 0; i < 100; ++i) {
    held.push_back(testing_support::connect_from(ioc, "127.0.0." + std::to_string(2 + i / 10), host_->port()));
  }
  std::string pipelined;
  for (int i = 0; i < 50; ++i) {
    pipelined +=
        "GET /p/" + token_ + "/movie/library/metadata/" + provider::rating_key("1") + " HTTP/1.1\r\nHost: x\r\n\r\n";
  }
  for (int i = 0; i < 100; ++i) {
    held.push_back(testing_support::connect_from(ioc, "127.0.0." + std::to_string(20 + i / 10), host_->port()));
    boost::system::error_code ec;
    boost::asio::write(*held.back(), boost::asio::buffer(pipelined), ec); // and never read
  }
  int answered = 0;
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 120; ++i) {
    const auto res = i % 2 == 0 ? call("GET", "/p/" + token_ + "/movie")
                                : call("POST", "/p/" + token_ + "/movie/library/metadata/matches",
                                       nlohmann::json{{"type", 1}, {"filename", relative(1)}}.dump(),
                                       {{"Content-Type", "application/json"}});
    answered += res.status == 200 ? 1 : 0;
  }
  const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << "[figure] PMS-like requests answered while 100 idle and 100 unread connections were held: " << answered
            << " of 120 in " << seconds << " s\n";
  EXPECT_EQ(answered, 120);
}

// Stash's answers pass through; after the first page of scenes, a scene is deleted in Stash.
class DeleteAfterTheFirstPage final : public net::HttpClient {
public:
  DeleteAfterTheFirstPage(std::unique_ptr<net::HttpClient> inner, std::function<void()> on_page)
      : inner_(std::move(inner)), on_page_(std::move(on_page)) {}
  tl::expected<net::Response, net::TransportError> send(const net::Request& request) override {
    auto answer = inner_->send(request);
    if (request.body.find("\"page\":1,") != std::string::npos && !deleted_) {
      deleted_ = true;
      on_page_();
    }
    return answer;
  }

private:
  std::unique_ptr<net::HttpClient> inner_;
  std::function<void()> on_page_;
  bool deleted_ = false;
};

TEST_F(ProviderServe, ASceneDeletedWhileTheCatalogIsBuiltDropsNoOtherScene) {
  stash_.generate(250);
  net::ClientOptions opts;
  opts.base = *net::Url::parse(stash_url());
  const auto map = *match::PathMap::parse("");
  stash::StashClient plain(net::make_http_client(opts), {"session", "", ""});
  auto first = provider::build_catalog(plain, *db_, map, util::SystemClock().now_ms());
  ASSERT_TRUE(first) << first.error().message;
  // The rebuild reads page 2 after scene 50 went: scene 101 moved to page 1 and is never seen
  // there (issue #31 then dropped it from the catalog as gone).
  stash::StashClient deleting(std::make_unique<DeleteAfterTheFirstPage>(
                                  net::make_http_client(opts), [&] { ASSERT_TRUE(stash_.delete_scene("50")); }),
                              {"session", "", ""});
  auto second = provider::build_catalog(deleting, *db_, map, util::SystemClock().now_ms());
  ASSERT_TRUE(second) << second.error().message;
  const auto held = [&](const char* id) {
    auto stmt = db_->prepare("SELECT count(*) FROM scene_snapshots WHERE scene_id = ?1");
    stmt->bind(1, std::string(id));
    return stmt->step().value_or(false) ? stmt->int_at(0) : -1;
  };
  EXPECT_EQ(held("101"), 1) << "scene 101 was dropped although Stash has it";
  // Scene 50 was read before it went (its Destroy job forgets it); the next build does too.
  ASSERT_TRUE(provider::build_catalog(plain, *db_, map, util::SystemClock().now_ms()));
  EXPECT_EQ(held("50"), 0);
  EXPECT_EQ(held("101"), 1);
}

TEST_F(ProviderServe, ADeletedScenesPosterIsGoneNotAStashFailure) {
  start();
  const std::string thumb = metadata("scene-4").at("MediaContainer").at("Metadata").at(0).at("thumb");
  ASSERT_TRUE(stash_.delete_scene("4"));
  // Issue #31 answered 502 ("Stash failed") for a scene Stash no longer has.
  EXPECT_EQ(call("GET", thumb.substr(base_.size())).status, 404) << "before its Destroy job ran";
  const std::string other = metadata("scene-5").at("MediaContainer").at("Metadata").at(0).at("thumb");
  ASSERT_TRUE(provider::forget_scene(*db_, "5")); // what the Destroy job does for the provider
  EXPECT_EQ(call("GET", other.substr(base_.size())).status, 404) << "after it";
}

TEST_F(ProviderServe, AfterTheWorkerHealsTheDatabaseTheProviderReadsTheFreshOne) {
  start();
  EXPECT_EQ(metadata("scene-3").at("MediaContainer").at("Metadata").at(0).at("title"), stash_.scene("3")->at("title"));
  ASSERT_TRUE(stash_.update_scene("3", {{"title", "Changed while the database was damaged"}}));
  // The worker moves a damaged database aside (store/heal.hpp); the fresh one has no snapshot yet.
  auto healed = store::open_healing(dir_, 1, false, 2000, "test: damaged");
  ASSERT_TRUE(healed) << healed.error().message;
  // The next hook tells the fresh database how to reach Stash again.
  const auto connection = db_->get_kv("stash_connection");
  ASSERT_TRUE(connection && *connection);
  ASSERT_TRUE(healed->put_kv("stash_connection", **connection));
  // Issue #31: every match answered "none" until the re-sync reached its scene. Now matches and
  // metadata wait (503) while the catalog is rebuilt, then answer from the fresh database.
  std::string title;
  EXPECT_TRUE(wait_for(
      [&] {
        const auto res = call("GET", "/p/" + token_ + "/movie/library/metadata/scene-3");
        const auto j = nlohmann::json::parse(res.body, nullptr, false);
        title = res.status == 200 ? j.at("MediaContainer").at("Metadata").at(0).value("title", "") : "";
        return res.status == 200;
      },
      std::chrono::seconds(30)));
  EXPECT_EQ(title, "Changed while the database was damaged")
      << "a pooled connection to the moved-aside file would serve the old snapshot";
  const auto body = nlohmann::json{{"type", 1}, {"filename", relative(5)}}.dump();
  int none = 0;
  const bool found = wait_for(
      [&] {
        const auto res = call("POST", "/p/" + token_ + "/movie/library/metadata/matches", body,
                              {{"Content-Type", "application/json"}});
        if (res.status != 200) {
          return false;
        }
        const auto j = nlohmann::json::parse(res.body, nullptr, false);
        const bool hit = j.contains("MediaContainer") && j.at("MediaContainer").value("size", 0) > 0;
        none += hit ? 0 : 1;
        return hit;
      },
      std::chrono::seconds(30));
  EXPECT_TRUE(found);
  EXPECT_EQ(none, 0) << "a match answered \"none\" from the empty catalog";
}

TEST_F(ProviderServe, RecordedRequestsCarryNoSecret) {
  stash_.set_auth("stash-api-key-secret", false);
  start({{"provider_record_requests", true}, {"stash_api_key", "stash-api-key-secret"}});
  (void)match({{"type", 1}, {"filename", relative(1)}});
  const std::string thumb = metadata("scene-1").at("MediaContainer").at("Metadata").at(0).at("thumb");
  EXPECT_EQ(call("GET", thumb.substr(base_.size())).status, 200);
  ASSERT_TRUE(wait_for([&] { return !testing_support::read_file(dir_ + "/provider-requests.jsonl").empty(); },
                       std::chrono::seconds(5)));
  const auto recorded = testing_support::read_file(dir_ + "/provider-requests.jsonl");
  EXPECT_NE(recorded.find("/library/metadata/matches"), std::string::npos);
  EXPECT_EQ(recorded.find(token_), std::string::npos) << "the path secret is masked in the record";
  EXPECT_EQ(recorded.find("stash-api-key-secret"), std::string::npos);
  const auto log = testing_support::read_file(dir_ + "/plexsync.log");
  EXPECT_EQ(log.find(token_), std::string::npos);
}

// Issue #31: with recording on, requests with a wrong secret were recorded with their bodies
// (58 MiB in 1.4 s), and a client's Host header chose the host of the image URLs it was answered.
TEST_F(ProviderServe, RecordingIsBoundedAndAClientsHostChoosesNoImageUrl) {
  start({{"provider_record_requests", true}});
  const std::string junk(60 * 1024, 'x');
  for (int i = 0; i < 200; ++i) {
    EXPECT_EQ(call("POST", "/p/" + std::string(32, 'b') + "/movie/library/metadata/matches", junk).status, 404);
  }
  for (int i = 0; i < 100; ++i) {
    (void)call("GET", "/p/" + token_ + "/movie");
  }
  const auto path = dir_ + "/provider-requests.jsonl";
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  EXPECT_LT(size, 64U * 1024U) << "wrong-secret requests are never recorded; the rest at 20 lines a second";
  EXPECT_EQ(testing_support::read_file(path).find(std::string(100, 'x')), std::string::npos);

  const auto answer =
      call("GET", "/p/" + token_ + "/movie/library/metadata/scene-1", "", {{"Host", "attacker.example:80"}});
  ASSERT_EQ(answer.status, 200);
  EXPECT_EQ(answer.body.find("attacker.example"), std::string::npos) << answer.body;
  EXPECT_NE(answer.body.find("http://127.0.0.1:"), std::string::npos) << "the listen address, as no URL is set";
}

} // namespace

namespace {

// Pull mode with plexsim acting as PMS (spec 7.3, 7.4): register, a first scan that asks the
// provider, edits arriving as one refresh, locks kept, unmatched items bound by the worker.
class PullMode : public ProviderServe {
protected:
  // Scene 2 merged into scene 3 in Stash: scene 3 takes scene 2's file, scene 2 is gone.
  void merge_two_into_three() {
    auto survivor = *stash_.scene("3");
    survivor["files"].push_back(stash_.scene("2")->at("files").at(0));
    ASSERT_TRUE(stash_.delete_scene("2"));
    ASSERT_TRUE(stash_.update_scene("3", {{"files", survivor["files"]}}));
  }

  // extra: settings besides the provider's, for the provider and the worker alike.
  void start_pull(const plexsim::AgentOptions& options = {}, bool drop_scene_six = false,
                  const nlohmann::json& extra = nlohmann::json::object()) {
    plex_.set_agent_options(options);
    if (drop_scene_six) {
      ASSERT_TRUE(stash_.delete_scene("6"));
    }
    start(extra);
    // PMS must reach the provider at the address it registers: this test's loopback port.
    nlohmann::json settings = {
        {"provider_enabled", true}, {"provider_listen", "127.0.0.1:0"}, {"provider_public_url", base_}};
    settings.update(extra);
    configure(settings);
    ASSERT_EQ(cli::cmd_provider_register(cli::OperatorOptions{dir_, false}, {"Adult"}, true), 0);
    wait_idle();
  }

  void wait_idle() {
    ASSERT_TRUE(wait_for([&] { return plex_.agent_idle(); }, std::chrono::seconds(60))) << "plexsim never finished";
  }

  // PMS scanning a library folder: new files become items, matched through the provider.
  void scan(const std::string& section) {
    const auto res = plex_call("POST", "/library/sections/" + section + "/refresh");
    ASSERT_EQ(res.status, 200) << res.body;
  }

  // A request to plexsim as an admin makes it.
  net::Response plex_call(const std::string& method, const std::string& target) {
    net::ClientOptions opts;
    opts.base = *net::Url::parse(plex_url());
    auto res = net::make_http_client(opts)->send(
        net::Request{method, target, {{"X-Plex-Token", "plexsim-token"}, {"Accept", "application/json"}}, ""});
    return res ? *res : net::Response{};
  }

  std::string guid_of(int item) { return plex_.item_json(std::to_string(10000 + item)).value("guid", ""); }
  std::string title_of(int item) { return plex_.item_json(std::to_string(10000 + item)).value("title", ""); }

  int writes_to_plex() {
    int n = 0;
    for (const auto& r : plex_.requests().snapshot()) {
      n += r.method == "PUT" || r.method == "POST" ? 1 : 0;
    }
    return n;
  }
};

std::string style_name(const ::testing::TestParamInfo<plexsim::AgentOptions::FilenameStyle>& p) {
  static const std::array<const char*, 4> k_names{"rel", "rel_leading_slash", "rel_with_root_name", "absolute"};
  return k_names.at(static_cast<size_t>(p.param));
}

std::string rematch_name(const ::testing::TestParamInfo<plexsim::AgentOptions::Rematch>& p) {
  static const std::array<const char*, 3> k_names{"always", "never", "unmatched_only"};
  return k_names.at(static_cast<size_t>(p.param));
}

class PullFirstScan : public PullMode, public ::testing::WithParamInterface<plexsim::AgentOptions::FilenameStyle> {};

TEST_P(PullFirstScan, EveryItemIsBoundToItsSceneWithItsFieldsAndImages) {
  plexsim::AgentOptions options;
  options.filename_style = GetParam();
  options.score_threshold = 80; // a PMS that drops low scores still takes file matches (score 100)
  start_pull(options);
  ASSERT_EQ(plex_.providers().size(), 1U);
  EXPECT_EQ(plex_.providers().front().identifier, identifier_);
  ASSERT_EQ(plex_.agent_groups().size(), 1U);
  for (int i = 0; i < 6; ++i) {
    const auto scene = std::to_string(i + 1);
    EXPECT_EQ(guid_of(i), identifier_ + "://movie/scene-" + scene);
    EXPECT_EQ(title_of(i), stash_.scene(scene)->at("title"));
    // Nothing handed to Plex's apps points at the LAN-only provider or carries its secret.
    EXPECT_EQ(plex_.client_view_problems(std::to_string(10000 + i)), std::vector<std::string>{});
  }
  int images = 0;
  for (const auto& call : plex_.provider_calls()) {
    if (call.url.find("/img/v1/") != std::string::npos) {
      ++images;
      EXPECT_EQ(call.status, 200) << call.url;
      EXPECT_EQ(call.content_type, "image/png");
    }
    EXPECT_EQ(call.url.find("plexsim-token"), std::string::npos);
  }
  EXPECT_GE(images, 6);
  // Plex Local Media follows PlexSync in the agent, so local subtitles and trailers still show.
  const auto group = plex_.agent_groups().front();
  ASSERT_EQ(group.providers.size(), 2U);
  EXPECT_EQ(group.providers.at(0), plex_.providers().front().id);
  EXPECT_EQ(group.providers.at(1), 3) << "plexsim's Plex Local Media";
  // A second register changes nothing.
  const int before = writes_to_plex();
  ASSERT_EQ(cli::cmd_provider_register(cli::OperatorOptions{dir_, false}, {"Adult"}, true), 0);
  EXPECT_EQ(writes_to_plex(), before);
  EXPECT_EQ(plex_.providers().size(), 1U);
  EXPECT_EQ(plex_.agent_groups().size(), 1U);
}

INSTANTIATE_TEST_SUITE_P(FilenameStyles, PullFirstScan,
                         ::testing::Values(plexsim::AgentOptions::FilenameStyle::rel,
                                           plexsim::AgentOptions::FilenameStyle::rel_leading_slash,
                                           plexsim::AgentOptions::FilenameStyle::rel_with_root_name,
                                           plexsim::AgentOptions::FilenameStyle::absolute),
                         style_name);

class PullRematch : public PullMode, public ::testing::WithParamInterface<plexsim::AgentOptions::Rematch> {};

TEST_P(PullRematch, AnEditInStashIsOneRefreshAndAPersonsLockStays) {
  plexsim::AgentOptions options;
  options.rematch_on_refresh = GetParam();
  start_pull(options);
  enqueue({3});
  drain(); // the first pass pushes what providers cannot carry (the studio collection)
  wait_idle();
  ASSERT_TRUE(stash_.update_scene("3", {{"title", "Renamed for pull"}}));
  plex_.requests().clear();
  enqueue({3});
  drain();
  wait_idle();
  EXPECT_EQ(title_of(2), "Renamed for pull");
  EXPECT_EQ(requests("PUT", "/library/metadata/10002/refresh", true), 1);
  EXPECT_EQ(requests("PUT", "/library/sections/"), 0) << "no field is written in a pull library";
  int to_plex = 0;
  for (const auto& r : plex_.requests().snapshot()) {
    to_plex += r.path.rfind("/library/metadata/", 0) == 0 ? 1 : 0;
  }
  EXPECT_LE(to_plex, 2) << "one read and one refresh";
  // A title a person set in Plex survives the next refresh.
  plex_.edit_as_user("10002", "title", "Mine");
  ASSERT_TRUE(stash_.update_scene("3", {{"title", "Renamed again"}, {"details", "new details"}}));
  enqueue({3});
  drain();
  wait_idle();
  EXPECT_EQ(title_of(2), "Mine");
  EXPECT_EQ(plex_.item_json("10002").value("summary", ""), "new details");
  EXPECT_EQ(guid_of(2), identifier_ + "://movie/scene-3") << "a re-match never moves the item";
}

INSTANTIATE_TEST_SUITE_P(RematchOnRefresh, PullRematch,
                         ::testing::Values(plexsim::AgentOptions::Rematch::always,
                                           plexsim::AgentOptions::Rematch::never,
                                           plexsim::AgentOptions::Rematch::unmatched_only),
                         rematch_name);

// Which JSON type PMS gives provider and agent ids is unverified (issue #26): register takes a
// numeric string like a number (it once copied the quotes into the library's agent switch).
TEST_F(PullMode, ProviderAndAgentIdsAsStringsWorkLikeNumbers) {
  plexsim::AgentOptions options;
  options.string_ids = true;
  start_pull(options);
  ASSERT_EQ(plex_.agent_groups().size(), 1U);
  EXPECT_EQ(guid_of(0), identifier_ + "://movie/scene-1") << "the library's scan went through the provider";
  const int before = writes_to_plex();
  ASSERT_EQ(cli::cmd_provider_register(cli::OperatorOptions{dir_, false}, {"Adult"}, true), 0);
  EXPECT_EQ(writes_to_plex(), before) << "found by its string ids, nothing registered twice";
  EXPECT_EQ(plex_.providers().size(), 1U);
  EXPECT_EQ(plex_.agent_groups().size(), 1U);
}

TEST_F(PullMode, AnItemPmsCouldNotMatchIsBoundByTheWorker) {
  auto scene_six = *stash_.scene("6");
  start_pull({}, true);
  EXPECT_EQ(guid_of(5).rfind("local://", 0), 0U) << "Stash did not know the file during the scan";
  stash_.add_scene(scene_six);
  enqueue({6});
  drain();
  wait_idle();
  EXPECT_EQ(requests("PUT", "/library/metadata/10005/match"), 1);
  EXPECT_EQ(guid_of(5), identifier_ + "://movie/scene-6");
  EXPECT_EQ(title_of(5), scene_six.at("title"));
}

TEST_F(PullMode, FixMatchAsPlexWebSendsItResolvesToTheFilesScene) {
  // Plex Web's Fix Match is GET .../matches?manual=1 with no title; PMS POSTs the provider's match
  // feature with manual=1, the item's current title and the file's name (evidence O2, O3).
  auto scene_six = *stash_.scene("6");
  start_pull({}, true);
  ASSERT_EQ(guid_of(5).rfind("local://", 0), 0U);
  configure({{"provider_enabled", true},
             {"provider_listen", "127.0.0.1:0"},
             {"provider_public_url", base_},
             {"skip_bind_unmatched", true}});
  stash_.add_scene(scene_six);
  enqueue({6});
  drain(); // the catalog learns the file; the person, not the worker, binds it
  wait_idle();
  ASSERT_EQ(guid_of(5).rfind("local://", 0), 0U);
  const auto calls_before = plex_.provider_calls().size();
  const auto found = plex_call("GET", "/library/metadata/10005/matches?manual=1");
  ASSERT_EQ(found.status, 200) << found.body;
  const auto calls = plex_.provider_calls();
  ASSERT_GT(calls.size(), calls_before);
  const auto sent = nlohmann::json::parse(calls.at(calls_before).body);
  EXPECT_EQ(sent.value("manual", 0), 1);
  EXPECT_FALSE(sent.value("filename", "").empty()) << sent.dump();
  EXPECT_EQ(sent.value("title", ""), title_of(5)) << "the item's current title";
  const auto results = nlohmann::json::parse(found.body).at("MediaContainer").at("SearchResult");
  ASSERT_FALSE(results.empty());
  EXPECT_EQ(results.at(0).at("guid"), identifier_ + "://movie/scene-6");
  // The person picks it: PMS binds and fetches the metadata.
  ASSERT_EQ(plex_call("PUT", "/library/metadata/10005/match?guid=" +
                                 util::percent_encode(results.at(0).at("guid").get<std::string>()) + "&name=x")
                .status,
            200);
  wait_idle();
  EXPECT_EQ(guid_of(5), identifier_ + "://movie/scene-6");
  EXPECT_EQ(title_of(5), scene_six.at("title"));
}

} // namespace

namespace {

TEST_F(PullMode, MovingALibraryFromPushToPullReleasesOnlyPlexSyncsOwnLocks) {
  start();
  enqueue({1, 2});
  drain(); // push: fields written and locked
  ASSERT_TRUE(synced(1));
  const auto locked = [&](const std::string& rk, const std::string& field) {
    for (const auto& f : plex_.item_json(rk).value("Field", nlohmann::json::array())) {
      if (f.value("name", "") == field && f.value("locked", false)) {
        return true;
      }
    }
    return false;
  };
  ASSERT_TRUE(locked("10000", "title"));
  plex_.edit_as_user("10001", "title", "A person's title");
  configure({{"provider_enabled", true}, {"provider_listen", "127.0.0.1:0"}, {"provider_public_url", base_}});
  ASSERT_EQ(cli::cmd_provider_register(cli::OperatorOptions{dir_, false}, {"Adult"}, true), 0);
  wait_idle();
  EXPECT_FALSE(locked("10000", "title")) << "PlexSync's own lock is released";
  EXPECT_TRUE(locked("10001", "title")) << "a person's edit keeps its lock";
  EXPECT_EQ(title_of(1), "A person's title");
  // From now on a Stash edit arrives through the provider, also on the unlocked field.
  ASSERT_TRUE(stash_.update_scene("1", {{"title", "Pulled after the move"}}));
  enqueue({1});
  drain();
  wait_idle();
  EXPECT_EQ(title_of(0), "Pulled after the move");
  EXPECT_FALSE(locked("10000", "title")) << "the worker noticed the switch and wrote no field";
  EXPECT_EQ(requests("PUT", "/library/metadata/10000/refresh", true), 1);
}

} // namespace

namespace {

TEST_F(PullMode, ItemsScannedWhileTheProviderWasDownAreBoundByTheCatchUp) {
  start_pull();
  auto late = *stash_.scene("1");
  late["id"] = "7";
  late["title"] = "Scanned while the provider was down";
  late["files"][0]["id"] = "5099";
  late["files"][0]["path"] = "/media/adult/late/arrived.mp4";
  stash_.add_scene(late);
  const auto rk = plex_.add_file("1", "/media/adult/late/arrived.mp4", late["files"][0]["size"],
                                 static_cast<int64_t>(late["files"][0]["duration"].get<double>() * 1000));
  const auto port = host_->port();
  host_.reset(); // PlexSync is down while PMS scans
  scan("1");
  wait_idle();
  ASSERT_EQ(plex_.item_json(rk).value("guid", "").rfind("local://", 0), 0U) << "nobody answered PMS's match";
  // Back on the same address: its first catalog build finds the unbound item and queues its scene.
  start({{"provider_listen", "127.0.0.1:" + std::to_string(port)}, {"provider_public_url", base_}});
  // Scene 7's own job: the first scan's follow-up jobs for scenes 1-6 are pending already.
  const auto scene_seven_queued = [&] {
    auto st = db_->prepare("SELECT count(*) FROM jobs WHERE scene_id = '7'");
    return st && st->step().value_or(false) && st->int_at(0) > 0;
  };
  ASSERT_TRUE(wait_for(scene_seven_queued, std::chrono::seconds(30))) << "no catch-up job";
  drain();
  wait_idle();
  EXPECT_EQ(plex_.item_json(rk).value("guid", ""), identifier_ + "://movie/scene-7");
  EXPECT_EQ(plex_.item_json(rk).value("title", ""), "Scanned while the provider was down");
  EXPECT_NE(provider::metrics_text().find("plexsync_plex_binds_total "), std::string::npos);
}

TEST_F(PullMode, DuplicateNamesGoToReviewAndTheWorkerBindsEachByItsFullPath) {
  // Scene 7: scene 1's relative path under the library's other folder, and an item for it.
  auto copy = *stash_.scene("1");
  copy["id"] = "7";
  copy["title"] = "The copy in the archive";
  copy["files"][0]["id"] = "5077";
  copy["files"][0]["path"] = "/mnt/nas2/Adult Archive/" + relative(1);
  stash_.add_scene(copy);
  auto lib = plex_.dump();
  auto item = lib["items"][0];
  item["ratingKey"] = "10077";
  item["parts"][0]["file"] = copy["files"][0]["path"];
  lib["items"].push_back(item);
  plex_.load(lib);
  start_pull(); // filename_style rel: "the same name" for both items
  EXPECT_EQ(guid_of(0).rfind("local://", 0), 0U) << "an ambiguous name is not guessed";
  EXPECT_EQ(plex_.item_json("10077").value("guid", "").rfind("local://", 0), 0U);
  // Both scenes are on the review list with the reason, and have a job.
  auto reviews = db_->prepare("SELECT scene_id, reason FROM match_reviews ORDER BY scene_id");
  ASSERT_TRUE(reviews);
  std::vector<std::string> listed;
  while (reviews->step().value_or(false)) {
    listed.push_back(reviews->text_at(0));
    EXPECT_NE(reviews->text_at(1).find("fits 2 Stash scenes"), std::string::npos) << reviews->text_at(1);
  }
  EXPECT_EQ(listed, (std::vector<std::string>{"1", "7"}));
  drain();
  wait_idle();
  EXPECT_EQ(guid_of(0), identifier_ + "://movie/scene-1");
  EXPECT_EQ(plex_.item_json("10077").value("guid", ""), identifier_ + "://movie/scene-7");
  EXPECT_EQ(plex_.item_json("10077").value("title", ""), "The copy in the archive");
  auto left = db_->prepare("SELECT count(*) FROM match_reviews");
  ASSERT_TRUE(left && left->step().value_or(false));
  EXPECT_EQ(left->int_at(0), 0) << "binding cleared the review entries";
}

TEST_F(PullMode, AFollowUpJobAfterTheScanPushesCollectionsWithoutAnotherRefresh) {
  start_pull();
  plex_.requests().clear();
  enqueue({4}); // as the provider's follow-up job for scene 4 would run
  drain();
  wait_idle();
  EXPECT_EQ(requests("PUT", "/library/metadata/10003/refresh"), 0) << "PMS read this version in its scan";
  EXPECT_EQ(requests("PUT", "/library/metadata/10003/match"), 0);
  // The provider queued one follow-up job per matched scene, due after the scan.
  auto jobs = db_->prepare("SELECT count(*) FROM jobs WHERE event = 'provider_match'");
  ASSERT_TRUE(jobs && jobs->step().value_or(false));
  EXPECT_EQ(jobs->int_at(0), 0) << "drained with the rest";
}

TEST_F(PullMode, ASceneMergedAwayWithoutAHookLeavesTheProvidersCopyWithTheSurvivorsJob) {
  start_pull();
  merge_two_into_three(); // only scene 3 changed (its hook, or the late-update poll)
  enqueue({3});
  drain();
  // Issue #31: scene 2 was served from the copy for up to 6 hours (until the next rebuild).
  auto snap = db_->prepare("SELECT count(*) FROM scene_snapshots WHERE scene_id = '2'");
  ASSERT_TRUE(snap && snap->step().value_or(false));
  EXPECT_EQ(snap->int_at(0), 0) << "the merged-away scene is still in the provider's copy";
  const auto old = metadata("scene-2").at("MediaContainer").at("Metadata").at(0);
  EXPECT_EQ(old.at("title"), stash_.scene("3")->at("title")) << "its old key answers with the survivor";
}

TEST_F(PullMode, AMergedSceneIsAnsweredUnderItsOldKeyAndItsItemMovesToTheSurvivor) {
  start_pull();
  merge_two_into_three();
  enqueue({2, 3});
  drain();
  // PMS asking for the old key gets the survivor's metadata under the key it asked for.
  const auto old = metadata("scene-2").at("MediaContainer").at("Metadata").at(0);
  EXPECT_EQ(old.at("ratingKey"), "scene-2");
  EXPECT_EQ(old.at("guid"), identifier_ + "://movie/scene-2");
  EXPECT_EQ(old.at("title"), stash_.scene("3")->at("title"));
  // The host's catch-up binds the item to the survivor.
  ASSERT_TRUE(wait_for([&] { return guid_of(1) == identifier_ + "://movie/scene-3"; }, std::chrono::seconds(30)))
      << guid_of(1);
  wait_idle();
  EXPECT_EQ(title_of(1), stash_.scene("3")->at("title"));
}

TEST_F(PullMode, ProviderCheckNamesWhatIsMissingThenPasses) {
  start();
  configure({{"provider_enabled", true}, {"provider_listen", "127.0.0.1:0"}, {"provider_public_url", base_}});
  testing::internal::CaptureStdout();
  EXPECT_EQ(cli::cmd_provider_check(cli::OperatorOptions{dir_, false}), cli::k_exit_problems);
  auto out = testing::internal::GetCapturedStdout();
  EXPECT_NE(out.find("ok    listener"), std::string::npos) << out;
  EXPECT_NE(out.find("ok    path secret"), std::string::npos) << out;
  EXPECT_NE(out.find("FAIL  Plex lists the provider: not registered: run plexsync provider register"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("No library uses the PlexSync agent"), std::string::npos) << out;
  EXPECT_EQ(out.find(token_), std::string::npos) << "the path secret is not printed";
  ASSERT_EQ(cli::cmd_provider_register(cli::OperatorOptions{dir_, false}, {"Adult"}, true), 0);
  wait_idle();
  testing::internal::CaptureStdout();
  EXPECT_EQ(cli::cmd_provider_check(cli::OperatorOptions{dir_, false}), cli::k_exit_ok);
  out = testing::internal::GetCapturedStdout();
  EXPECT_NE(out.find("Adult: pull"), std::string::npos) << out;
  EXPECT_NE(out.find("ok    image through the proxy: served"), std::string::npos) << out;
  EXPECT_EQ(out.find("FAIL"), std::string::npos) << out;
  // A provider that stopped: the check says so and how to start it.
  host_.reset();
  testing::internal::CaptureStdout();
  EXPECT_EQ(cli::cmd_provider_check(cli::OperatorOptions{dir_, false}), cli::k_exit_problems);
  out = testing::internal::GetCapturedStdout();
  EXPECT_NE(out.find("FAIL  listener: nothing answers"), std::string::npos) << out;
}

TEST_F(PullMode, PullItemsGetTheirCoverUploadedOnceAndAgainOnlyWhenItChanges) {
  // A provider's image URL on a LAN address may never show on a remote client (issue #26): in pull
  // libraries the worker uploads the cover as push does, poster and background.
  start_pull();
  plex_.requests().clear();
  enqueue({1, 2, 3});
  drain();
  wait_idle();
  const auto uploads = [&](int scene, const char* list) {
    return requests("POST", "/library/metadata/" + std::to_string(10000 + scene - 1) + list, true);
  };
  const auto selected = [&](int scene, const char* list) {
    const auto res = plex_call("GET", "/library/metadata/" + std::to_string(10000 + scene - 1) + list);
    for (const auto& p :
         nlohmann::json::parse(res.body).at("MediaContainer").value("Metadata", nlohmann::json::array())) {
      if (p.value("selected", false)) {
        return p.value("ratingKey", "");
      }
    }
    return std::string();
  };
  for (int scene = 1; scene <= 3; ++scene) {
    EXPECT_EQ(uploads(scene, "/posters"), 1) << scene;
    EXPECT_EQ(uploads(scene, "/arts"), 1) << scene;
    EXPECT_EQ(selected(scene, "/posters").rfind("upload://", 0), 0U) << scene;
    EXPECT_EQ(selected(scene, "/arts").rfind("upload://", 0), 0U) << scene;
  }
  // Unchanged covers are not sent again, whatever else changed.
  plex_.requests().clear();
  ASSERT_TRUE(stash_.update_scene("1", {{"title", "Renamed in Stash"}}));
  enqueue({1, 2});
  drain();
  wait_idle();
  EXPECT_EQ(uploads(1, "/posters") + uploads(2, "/posters") + uploads(1, "/arts") + uploads(2, "/arts"), 0);
  EXPECT_EQ(title_of(0), "Renamed in Stash") << "the refresh still brought the title";
  // A new cover: uploaded once more, and the refresh does not take the selection back.
  ASSERT_TRUE(
      stash_.update_scene("2", {{"cover_version", 1800000000}, {"cover", std::string("\x89PNG\r\n\x1a\nnew")}}));
  const auto before = selected(2, "/posters");
  enqueue({2});
  drain();
  wait_idle();
  EXPECT_EQ(uploads(2, "/posters"), 1);
  EXPECT_EQ(uploads(2, "/arts"), 1);
  EXPECT_NE(selected(2, "/posters"), before);
  EXPECT_EQ(selected(2, "/posters").rfind("upload://", 0), 0U);
  // Turned off (a public provider address): no upload.
  configure({{"provider_enabled", true},
             {"provider_listen", "127.0.0.1:0"},
             {"provider_public_url", base_},
             {"provider_skip_image_upload", true}});
  ASSERT_TRUE(
      stash_.update_scene("3", {{"cover_version", 1800000001}, {"cover", std::string("\x89PNG\r\n\x1a\nthird")}}));
  clock_.advance(5'001); // past the worker's settings read interval
  plex_.requests().clear();
  enqueue({3});
  drain();
  wait_idle();
  EXPECT_EQ(uploads(3, "/posters"), 0);
}

TEST_F(PullMode, ATagRemovedInStashLeavesThePullItem) {
  // PMS keeps genres and actors a provider stops returning (plexsim's default, as PhoenixAdult
  // documents it): the worker removes those Stash dropped, and only those.
  start_pull();
  enqueue({2});
  drain();
  wait_idle();
  const auto genres = [&] {
    std::vector<std::string> names;
    for (const auto& g : plex_.item_json("10001").value("Genre", nlohmann::json::array())) {
      names.push_back(g.value("tag", ""));
    }
    return names;
  };
  auto tags = stash_.scene("2")->at("tags");
  ASSERT_GE(tags.size(), 2U);
  const std::string dropped = tags.at(0).at("name");
  const std::string kept = tags.at(1).at("name");
  ASSERT_NE(std::find(genres().begin(), genres().end(), dropped), genres().end());
  // A person's own genre in Plex was never served by the provider: it stays.
  ASSERT_EQ(plex_call("PUT", "/library/sections/1/all?type=1&id=10001&genre%5B0%5D.tag.tag=Watched%20on%20TV").status,
            200);
  tags.erase(0);
  ASSERT_TRUE(stash_.update_scene("2", {{"tags", tags}}));
  plex_.requests().clear();
  enqueue({2});
  drain();
  wait_idle();
  const auto now = genres();
  EXPECT_EQ(std::find(now.begin(), now.end(), dropped), now.end()) << "still in Plex: " << util::join(now, ", ");
  EXPECT_NE(std::find(now.begin(), now.end(), kept), now.end());
  EXPECT_NE(std::find(now.begin(), now.end(), "Watched on TV"), now.end());
  EXPECT_EQ(requests("PUT", "/library/sections/1/all"), 1) << "one edit, with the refresh";
  EXPECT_NE(provider::metrics_text().find("plexsync_provider_repairs_total{field=\"stale_genre\"}"), std::string::npos);
  // Nothing more to remove: the next sync sends no edit.
  plex_.requests().clear();
  ASSERT_TRUE(stash_.update_scene("2", {{"title", "Only the title changed"}}));
  enqueue({2});
  drain();
  wait_idle();
  EXPECT_EQ(requests("PUT", "/library/sections/1/all"), 0);
}

TEST_F(PullMode, APlexTooOldForProvidersIsNamedWithItsVersion) {
  plex_.set_version("1.41.6.9685-d301f511a");
  start();
  configure({{"provider_enabled", true}, {"provider_listen", "127.0.0.1:0"}, {"provider_public_url", base_}});
  testing::internal::CaptureStderr();
  EXPECT_EQ(cli::cmd_provider_register(cli::OperatorOptions{dir_, false}, {"Adult"}, true), cli::k_exit_problems);
  const auto err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("Plex Media Server 1.41.6.9685-d301f511a has no custom metadata providers"), std::string::npos)
      << err;
  EXPECT_NE(err.find("1.43.0"), std::string::npos) << err;
  testing::internal::CaptureStdout();
  EXPECT_EQ(cli::cmd_provider_check(cli::OperatorOptions{dir_, false}), cli::k_exit_problems);
  const auto out = testing::internal::GetCapturedStdout();
  EXPECT_NE(out.find("FAIL  Plex lists the provider: Plex Media Server 1.41.6"), std::string::npos) << out;
}

TEST_F(PullMode, LocalMediaJoinsTheAgentAfterPlexSyncUnlessLeftOut) {
  start();
  configure({{"provider_enabled", true}, {"provider_listen", "127.0.0.1:0"}, {"provider_public_url", base_}});
  ASSERT_EQ(cli::cmd_provider_register(cli::OperatorOptions{dir_, false}, {}, false, false), 0);
  ASSERT_EQ(plex_.agent_groups().size(), 1U);
  EXPECT_EQ(plex_.agent_groups().front().providers.size(), 1U) << "--no-local-media";
  testing::internal::CaptureStdout();
  ASSERT_EQ(cli::cmd_provider_register(cli::OperatorOptions{dir_, false}, {}, false), 0);
  const auto out = testing::internal::GetCapturedStdout();
  EXPECT_NE(out.find("added Plex Local Media to the agent after PlexSync"), std::string::npos) << out;
  const auto providers = plex_.agent_groups().front().providers;
  ASSERT_EQ(providers.size(), 2U);
  EXPECT_EQ(providers.at(1), 3);
  const int before = writes_to_plex();
  ASSERT_EQ(cli::cmd_provider_register(cli::OperatorOptions{dir_, false}, {}, false), 0);
  EXPECT_EQ(writes_to_plex(), before) << "already there: nothing to change";
}

TEST_F(PullMode, APmsRestartWhileTheProviderIsDownIsReportedWithItsFix) {
  // PMS loads custom providers when it starts; one it could not reach then stays offline and is
  // asked nothing (evidence O1), however healthy it is later.
  start_pull();
  const auto port = host_->port();
  host_.reset();
  plex_.restart_pms();
  ASSERT_FALSE(plex_.providers().front().online);
  configure({{"provider_enabled", true},
             {"provider_listen", "127.0.0.1:" + std::to_string(port)},
             {"provider_public_url", base_}});
  auto host = worker::ProviderHost::start_if_enabled(dir_);
  ASSERT_TRUE(host && *host) << "the provider did not start again on port " << port;
  host_ = std::move(*host);
  ASSERT_TRUE(wait_for([&] { return host_->ready(); }, std::chrono::seconds(30)));
  testing::internal::CaptureStdout();
  EXPECT_EQ(cli::cmd_provider_check(cli::OperatorOptions{dir_, false}), cli::k_exit_problems);
  auto out = testing::internal::GetCapturedStdout();
  EXPECT_NE(out.find("ok    listener"), std::string::npos) << out;
  EXPECT_NE(out.find("FAIL  Plex loaded the provider: offline"), std::string::npos) << out;
  EXPECT_NE(out.find("plexsync provider register"), std::string::npos) << out;
  // The fix the check names: register makes PMS load the provider again.
  testing::internal::CaptureStdout();
  ASSERT_EQ(cli::cmd_provider_register(cli::OperatorOptions{dir_, false}, {}, false), 0);
  out = testing::internal::GetCapturedStdout();
  EXPECT_NE(out.find("asked Plex to load it again"), std::string::npos) << out;
  EXPECT_TRUE(plex_.providers().front().online);
  testing::internal::CaptureStdout();
  EXPECT_EQ(cli::cmd_provider_check(cli::OperatorOptions{dir_, false}), cli::k_exit_ok);
  out = testing::internal::GetCapturedStdout();
  EXPECT_NE(out.find("ok    Plex loaded the provider: online"), std::string::npos) << out;
}

TEST_F(PullMode, GenresPmsCutToTheFirstAreRepairedOnceAndCounted) {
  ASSERT_TRUE(stash_.update_scene(
      "2", {{"tags",
             {{{"id", "1"}, {"name", "Alpha"}}, {{"id", "2"}, {"name", "Beta"}}, {{"id", "3"}, {"name", "Gamma"}}}}}));
  plexsim::AgentOptions options;
  options.genre_first_only = true;
  start_pull(options);
  const auto genres = [&] {
    std::vector<std::string> out;
    for (const auto& g : plex_.item_json("10001").value("Genre", nlohmann::json::array())) {
      out.push_back(g.value("tag", ""));
    }
    return out;
  };
  ASSERT_EQ(genres().size(), 1U) << "plexsim kept only the first genre";
  enqueue({2});
  drain();
  wait_idle();
  EXPECT_EQ(genres(), (std::vector<std::string>{"Alpha", "Beta", "Gamma"}));
  EXPECT_NE(provider::metrics_text().find("plexsync_provider_repairs_total{field=\"genre\"}"), std::string::npos);
  // Genres stay complete through the next refresh (PlexSync's edit locked them).
  ASSERT_TRUE(stash_.update_scene("2", {{"title", "Refreshed after the repair"}}));
  enqueue({2});
  drain();
  wait_idle();
  EXPECT_EQ(title_of(1), "Refreshed after the repair");
  EXPECT_EQ(genres(), (std::vector<std::string>{"Alpha", "Beta", "Gamma"}));
}

// Issue #28 in a pull library: the provider answers genres through the filters, the worker pushes
// the collections the rules give, and a collection it created gets its poster once.
TEST_F(PullMode, ShelfRulesShapeCollectionsAndGenresInAPullLibrary) {
  const auto tags =
      nlohmann::json::array({{{"id", "20"}, {"name", "Outdoor"}, {"parents", nlohmann::json::array({"Setting"})}},
                             {{"id", "21"}, {"name", "1080p"}, {"parents", nlohmann::json::array({"Technical"})}},
                             {{"id", "23"}, {"name", "Series/Coastline"}, {"has_image", true}}});
  ASSERT_TRUE(stash_.update_scene("2", {{"tags", tags}}));
  start_pull({}, false,
             {{"collections", "tag:series/* => Series: {name}; studio"}, {"genre_exclude", "parent:Technical"}});
  enqueue({2});
  drain();
  wait_idle();
  std::vector<std::string> genres;
  for (const auto& g : plex_.item_json("10001").value("Genre", nlohmann::json::array())) {
    genres.push_back(g.value("tag", ""));
  }
  std::sort(genres.begin(), genres.end());
  EXPECT_EQ(genres, (std::vector<std::string>{"Outdoor", "Series/Coastline"}));
  std::vector<std::string> collections;
  for (const auto& c : plex_.item_json("10001").value("Collection", nlohmann::json::array())) {
    collections.push_back(c.value("tag", ""));
  }
  const std::string studio = stash_.scene("2")->at("studio").at("name");
  EXPECT_EQ(collections, (std::vector<std::string>{"Series: Series/Coastline", studio}));
  const auto series = plex_.collection("1", "Series: Series/Coastline");
  ASSERT_TRUE(series);
  EXPECT_EQ(series->poster_uploads, 1) << "the tag's image";
  ASSERT_TRUE(stash_.update_scene("2", {{"title", "Refreshed"}}));
  enqueue({2});
  drain();
  wait_idle();
  EXPECT_EQ(title_of(1), "Refreshed");
  EXPECT_EQ(plex_.collection("1", "Series: Series/Coastline")->poster_uploads, 1) << "once";
}

TEST_F(PullMode, CollectionsAndTheRatingSurviveRefreshesThatReplaceLists) {
  plexsim::AgentOptions options;
  options.list_fields_replace_on_refresh = true;
  ASSERT_TRUE(stash_.update_scene("3", {{"rating100", 80}}));
  start_pull(options);
  enqueue({3});
  drain();
  wait_idle();
  const auto collections = [&] { return plex_.item_json("10002").value("Collection", nlohmann::json::array()); };
  ASSERT_FALSE(collections().empty()) << plex_.item_json("10002").dump();
  EXPECT_EQ(plex_.item_json("10002").value("userRating", 0.0), 8.0);
  ASSERT_TRUE(stash_.update_scene("3", {{"title", "Refreshed twice"}}));
  for (int i = 0; i < 2; ++i) {
    enqueue({3});
    drain();
    wait_idle();
  }
  EXPECT_EQ(title_of(2), "Refreshed twice");
  EXPECT_FALSE(collections().empty()) << "locked collections survive a refresh that replaces lists";
  EXPECT_EQ(plex_.item_json("10002").value("userRating", 0.0), 8.0);
}

} // namespace

namespace {

TEST_F(ProviderServe, ResponseCustomizationKeepsTheFieldsPlexNeeds) {
  start();
  // Spec 7.4 #15: PlexSync ignores includeFields/excludeFields (allowed); whatever PMS asks to
  // trim, the identity fields stay.
  for (const auto& extra :
       {nlohmann::json{{"includeFields", "title"}}, nlohmann::json{{"excludeFields", "ratingKey,key,guid,type"}},
        nlohmann::json{{"includeFields", nlohmann::json::array({"summary"})},
                       {"includeElements", "Image"},
                       {"excludeElements", "Role,Genre"}}}) {
    nlohmann::json body = {{"type", 1}, {"filename", relative(2)}};
    body.update(extra);
    const auto items = match(body).at("MediaContainer").at("Metadata");
    ASSERT_EQ(items.size(), 1U) << extra.dump();
    for (const char* field : {"ratingKey", "key", "guid", "type"}) {
      EXPECT_TRUE(items.at(0).contains(field)) << field << " with " << extra.dump();
    }
  }
}

TEST_F(ProviderServe, SlowStashDoesNotSlowAnswersAndHealthSaysSo) {
  start();
  const std::string cached = metadata("scene-1").at("MediaContainer").at("Metadata").at(0).at("thumb");
  ASSERT_EQ(call("GET", cached.substr(base_.size())).status, 200);
  const std::string uncached = metadata("scene-2").at("MediaContainer").at("Metadata").at(0).at("thumb");
  sim::FaultRule slow;
  slow.delay_ms = 10'000; // every Stash answer takes 10 s
  stash_.faults().add(slow);
  for (int scene = 3; scene <= 6; ++scene) {
    const auto started = std::chrono::steady_clock::now();
    EXPECT_EQ(match({{"type", 1}, {"filename", relative(scene)}}).at("MediaContainer").at("Metadata").size(), 1U);
    EXPECT_EQ(call("GET", "/p/" + token_ + "/movie/library/metadata/scene-" + std::to_string(scene)).status, 200);
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2)) << "answered from the index";
  }
  EXPECT_EQ(call("GET", cached.substr(base_.size())).status, 200);
  const auto timed_out = call("GET", uncached.substr(base_.size()));
  EXPECT_EQ(timed_out.status, 502) << "provider_stash_timeout bounds the fetch";
  const auto now = util::SystemClock().now_ms();
  EXPECT_EQ(provider::health_problem(now), "") << "one failure is not an outage";
  EXPECT_NE(provider::health_problem(now + 11 * 60 * 1000).find("has not reached Stash"), std::string::npos);
  provider::note_stash(true, now);
  EXPECT_EQ(provider::health_problem(now + 11 * 60 * 1000), "");
}

TEST_F(ProviderServe, StashCallsRunSideBySideAndAHungStashDoesNotHoldTheStop) {
  start({{"provider_stash_timeout", 30}});
  std::vector<std::string> thumbs; // every scene's poster, none fetched yet
  for (int scene = 1; scene <= 6; ++scene) {
    const auto res = call("GET", "/p/" + token_ + "/movie/library/metadata/scene-" + std::to_string(scene));
    const auto j = nlohmann::json::parse(res.body, nullptr, false);
    if (res.status == 200 && j.contains("MediaContainer")) {
      thumbs.push_back(j.at("MediaContainer").at("Metadata").at(0).at("thumb"));
    }
  }
  ASSERT_EQ(thumbs.size(), 6U);
  // Each request on a thread of its own; a body makes it a POST (Fix Match searches Stash).
  const auto send_all = [&](const std::vector<std::string>& targets, const std::string& body) {
    std::vector<std::thread> threads;
    threads.reserve(targets.size());
    for (const auto& t : targets) {
      threads.emplace_back([this, t, body] {
        net::ClientOptions opts;
        opts.base = *net::Url::parse(base_);
        opts.read_timeout_ms = 60000;
        (void)net::make_http_client(opts)->send(net::Request{body.empty() ? "GET" : "POST", t, {}, body});
      });
    }
    return threads;
  };
  sim::FaultRule slow;
  slow.delay_ms = 2000;
  stash_.faults().add(slow);
  // Issue #31: one Stash call at a time brought 20 posters back at 3, 6, ... 60 s.
  auto started = std::chrono::steady_clock::now();
  for (auto& t : thumbs) {
    t = t.substr(base_.size());
  }
  for (auto& t : send_all(thumbs, "")) {
    t.join();
  }
  const double posters_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << "[figure] 6 posters behind a Stash taking 2 s each: " << posters_s << " s (one at a time: 12 s)\n";
  EXPECT_LT(posters_s, 7.0);
  // Stash hangs (60 s an answer): stopping the worker's provider must not wait for it.
  stash_.faults().clear();
  sim::FaultRule hung;
  hung.delay_ms = 60'000;
  stash_.faults().add(hung);
  const std::vector<std::string> searches(4, "/p/" + token_ + "/movie/library/metadata/matches");
  const auto before = stash_.requests().snapshot().size();
  auto waiting = send_all(searches, nlohmann::json{{"type", 1}, {"title", "anything"}, {"manual", 1}}.dump());
  EXPECT_TRUE(wait_for([&] { return stash_.requests().snapshot().size() >= before + 4; }, std::chrono::seconds(5)))
      << "the searches never reached Stash";
  started = std::chrono::steady_clock::now();
  host_.reset();
  const double stop_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << "[figure] provider stop with 4 answers waiting on a hung Stash: " << stop_s << " s\n";
  EXPECT_LT(stop_s, 3.0) << "the stop waited for Stash (round two: 152 s)";
  for (auto& t : waiting) {
    t.join();
  }
  stash_.faults().clear();
}

} // namespace

namespace {

TEST_F(PullMode, ASecondProviderInTheAgentFillsOnlyWhatPlexSyncDoesNotSend) {
  // A poster-and-tagline provider, as people pair hosted poster providers with an agent (spec 2.10).
  const std::string other_id = "tv.plex.agents.custom.test.posters";
  std::unique_ptr<net::HttpServer> other;
  other = net::start_server("127.0.0.1", 0, [&](const net::ServerRequest& r) {
    const auto answer = [](const nlohmann::json& body) {
      net::ServerResponse res;
      res.headers.push_back({"Content-Type", "application/json"});
      res.body = body.dump();
      return res;
    };
    const std::string port = std::to_string(other->port());
    const nlohmann::json item = {{"ratingKey", "p1"},
                                 {"key", "/library/metadata/p1"},
                                 {"guid", other_id + "://movie/p1"},
                                 {"type", "movie"},
                                 {"title", "The poster provider's title"},
                                 {"tagline", "From the poster provider"},
                                 {"thumb", "http://127.0.0.1:" + port + "/posters/p1.png"},
                                 {"Genre", {{{"tag", "Poster genre"}}}}};
    if (r.path == "/posters/movie") {
      return answer(provider::root_document(other_id, "Posters"));
    }
    if (r.path == "/posters/movie/library/metadata/matches" || r.path == "/posters/movie/library/metadata/p1") {
      return answer(provider::container(other_id, "Metadata", nlohmann::json::array({item})));
    }
    net::ServerResponse none;
    none.status = 404;
    return none;
  });
  ASSERT_TRUE(stash_.update_scene("3", {{"tags", nlohmann::json::array()}}));
  start_pull();
  const auto other_uri = "http://127.0.0.1:" + std::to_string(other->port()) + "/posters/movie";
  ASSERT_EQ(plex_call("POST", "/media/providers/metadata?uri=" + util::percent_encode(other_uri)).status, 200);
  ASSERT_EQ(plex_.agent_groups().size(), 1U);
  int64_t other_pid = 0;
  for (const auto& p : plex_.providers()) {
    other_pid = p.identifier == other_id ? p.id : other_pid;
  }
  ASSERT_NE(other_pid, 0);
  ASSERT_EQ(plex_call("PUT", "/media/providers/metadata/group/" + std::to_string(plex_.agent_groups().front().id) +
                                 "/items/" + std::to_string(other_pid))
                .status,
            200);
  ASSERT_TRUE(stash_.update_scene("3", {{"title", "PlexSync's title"}}));
  enqueue({3});
  drain();
  wait_idle();
  const auto item = plex_.item_json("10002");
  EXPECT_EQ(item.value("guid", ""), identifier_ + "://movie/scene-3") << "the primary issues the GUID";
  EXPECT_EQ(item.value("title", ""), "PlexSync's title") << "what PlexSync sends wins";
  EXPECT_NE(item.value("providerThumb", "").find("/img/v1/"), std::string::npos) << "PlexSync's cover wins";
  EXPECT_EQ(item.value("tagline", ""), "From the poster provider") << "PlexSync sends no tagline here";
  ASSERT_EQ(item.value("Genre", nlohmann::json::array()).size(), 1U) << "the scene has no tags: the list comes whole";
  EXPECT_EQ(item.at("Genre").at(0).value("tag", ""), "Poster genre");
  // The next edit is still one refresh: the item stays PlexSync's.
  plex_.requests().clear();
  ASSERT_TRUE(stash_.update_scene("3", {{"title", "Still PlexSync's"}}));
  enqueue({3});
  drain();
  wait_idle();
  EXPECT_EQ(title_of(2), "Still PlexSync's");
  EXPECT_EQ(requests("PUT", "/library/metadata/10002/refresh", true), 1);
  other->stop();
}

} // namespace

namespace {

TEST_F(PullMode, AFileInAPushAndAPullLibraryReachesBoth) {
  // A user moving to pull sets up a library on the PlexSync agent over the same folders and keeps
  // the push library meanwhile: every file is an item in both.
  auto lib = plex_.dump();
  lib["sections"].push_back(
      {{"key", "3"}, {"title", "Adult (pull)"}, {"type", "movie"}, {"locations", lib["sections"][0]["locations"]}});
  const auto items = lib["items"];
  for (auto item : items) {
    if (item.value("section", "") == "1") {
      item["ratingKey"] = std::to_string(std::stoi(item["ratingKey"].get<std::string>()) + 20000);
      item["section"] = "3";
      lib["items"].push_back(item);
    }
  }
  plex_.load(lib);
  start({{"plex_library", "Adult,Adult (pull)"}});
  configure({{"provider_enabled", true},
             {"provider_listen", "127.0.0.1:0"},
             {"provider_public_url", base_},
             {"plex_library", "Adult,Adult (pull)"}});
  ASSERT_EQ(cli::cmd_provider_register(cli::OperatorOptions{dir_, false}, {"Adult (pull)"}, true), 0);
  wait_idle();
  ASSERT_EQ(plex_.item_json("30001").value("guid", ""), identifier_ + "://movie/scene-2");
  ASSERT_TRUE(stash_.update_scene("2", {{"title", "In both libraries"}}));
  plex_.requests().clear();
  enqueue({2});
  drain();
  wait_idle();
  EXPECT_EQ(title_of(1), "In both libraries") << "the push item is written";
  EXPECT_EQ(plex_.item_json("30001").value("title", ""), "In both libraries") << "the pull twin is refreshed";
  EXPECT_EQ(requests("PUT", "/library/metadata/30001/refresh", true), 1);
  for (const auto& r : plex_.requests().snapshot()) {
    if (r.method == "PUT" && r.path == "/library/sections/3/all") {
      for (const auto& [k, v] : r.query) {
        EXPECT_TRUE(k.rfind("collection", 0) == 0 || k.rfind("userRating", 0) == 0 || k == "type" || k == "id")
            << k << ": only collections and the rating are written in the pull library";
      }
    }
  }
}

} // namespace
