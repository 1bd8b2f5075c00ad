// plexsim over real loopback HTTP, driven by the project's own HTTP client.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "net/http.hpp"
#include "plex/notifications.hpp"
#include "support/process.hpp"
#include "support/sandbox.hpp"

namespace {

class PlexSimTest : public testing_support::SimulatorsTest {
protected:
  void SetUp() override {
    SimulatorsTest::SetUp();
    plex_.load(nlohmann::json::parse(R"({
      "sections": [{"key": "1", "title": "Adult", "locations": ["/media/adult"]},
                   {"key": "2", "title": "Home Videos", "locations": ["/media/home videos"]}],
      "items": [
        {"ratingKey": "1001", "section": "1", "title": "Sunset Session", "summary": "old",
         "addedAt": 1709900000,
         "parts": [{"file": "/media/adult/Sunset Session.mp4", "size": 1862340112, "duration": 1834500}],
         "genres": ["Outdoor", "Sunset", "Romance", "Interview"],
         "actors": [{"tag": "Alex Doe", "role": "Herself"}, "Jamie Roe", "Sam Lee", "Chris Poe"],
         "locked": ["title", "summary", "genre", "actor"]},
        {"ratingKey": "1002", "section": "1", "title": "Été à Paris", "addedAt": 1709950000,
         "parts": [{"file": "/media/adult/Été à Paris.mkv", "size": 9876543210, "duration": 2711000}]},
        {"ratingKey": "1003", "section": "1", "title": "Tom & Jerry's #1 Fan", "addedAt": 1710000000,
         "parts": [{"file": "/media/adult/pt1.mp4", "size": 1, "duration": 1}, {"file": "/media/adult/pt2.mp4", "size": 2, "duration": 2}]},
        {"ratingKey": "1004", "section": "1", "title": "Fourth", "addedAt": 1710000001, "parts": [{"file": "/media/adult/4.mp4"}]},
        {"ratingKey": "1005", "section": "1", "title": "Fifth", "addedAt": 1710000002, "parts": [{"file": "/media/adult/5.mp4"}]},
        {"ratingKey": "1006", "section": "1", "title": "New File", "addedAt": 1710000003, "pending": true,
         "parts": [{"file": "/media/adult/new/New File.mp4"}]}
      ]})"));
    client_ = make_client();
  }

  std::unique_ptr<net::HttpClient> make_client(int read_timeout_ms = 5000) {
    net::ClientOptions o;
    o.base = *net::Url::parse(plex_url());
    o.read_timeout_ms = read_timeout_ms;
    o.connect_timeout_ms = 2000;
    o.total_timeout_ms = 10000;
    return net::make_http_client(o);
  }

  net::Response get(const std::string& target, bool json = true, net::Headers extra = {}) {
    net::Request r;
    r.target = target;
    r.headers = {{"X-Plex-Token", "plexsim-token"}};
    if (json) {
      r.headers.push_back({"Accept", "application/json"});
    }
    r.headers.insert(r.headers.end(), extra.begin(), extra.end());
    auto res = client_->send(r);
    EXPECT_TRUE(res) << (res ? "" : res.error().message);
    return res ? *res : net::Response{};
  }

  nlohmann::json get_json(const std::string& target, net::Headers extra = {}) {
    const auto r = get(target, true, std::move(extra));
    EXPECT_EQ(r.status, 200) << target;
    return nlohmann::json::parse(r.body).at("MediaContainer");
  }

  std::unique_ptr<net::HttpClient> client_;
};

TEST_F(PlexSimTest, TokenRequiredExceptForIdentity) {
  net::Request r;
  r.target = "/library/sections";
  r.headers = {{"Accept", "application/json"}};
  auto res = client_->send(r);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  EXPECT_EQ(*res->header("Content-Type"), "text/html"); // HTML even when JSON was asked for
  const auto fixture = testing_support::data_file("fixtures/plex/error_401_unauthorized.http");
  EXPECT_EQ(res->body, fixture.substr(fixture.find("<html>")));
  r.target = "/identity";
  res = client_->send(r);
  EXPECT_EQ(res->status, 200);
  r.target = "/library/sections?X-Plex-Token=plexsim-token";
  EXPECT_EQ(client_->send(r)->status, 200);
  EXPECT_EQ(plex_.requests().snapshot().back().token_via, "query");
}

TEST_F(PlexSimTest, JsonAndXmlCarryTheSameSections) {
  const auto mc = get_json("/library/sections");
  ASSERT_EQ(mc.at("Directory").size(), 2U);
  EXPECT_EQ(mc.at("Directory")[0].at("key"), "1");
  EXPECT_EQ(mc.at("Directory")[0].at("Location")[0].at("path"), "/media/adult");
  EXPECT_EQ(mc.at("Directory")[0].at("refreshing"), false);
  const auto xml = get("/library/sections", false);
  EXPECT_EQ(*xml.header("Content-Type"), "text/xml;charset=utf-8");
  EXPECT_NE(xml.body.find("<Directory "), std::string::npos);
  EXPECT_NE(xml.body.find("title=\"Home Videos\""), std::string::npos);
  EXPECT_NE(xml.body.find("<Location id=\"1\" path=\"/media/adult\" />"), std::string::npos);
  EXPECT_NE(xml.body.find("refreshing=\"0\""), std::string::npos);
}

TEST_F(PlexSimTest, PagingByHeaderOrQueryWithTotals) {
  auto page = get_json("/library/sections/1/all?type=1&sort=addedAt",
                       {{"X-Plex-Container-Start", "0"}, {"X-Plex-Container-Size", "3"}});
  EXPECT_EQ(page.at("size"), 3);
  EXPECT_EQ(page.at("totalSize"), 5); // the pending item is not visible
  EXPECT_EQ(page.at("offset"), 0);
  EXPECT_EQ(page.at("Metadata")[0].at("ratingKey"), "1001");
  EXPECT_FALSE(page.at("Metadata")[0].contains("librarySectionID"));
  EXPECT_EQ(page.at("Metadata")[0].at("Genre").size(), 3U); // listings truncate tag lists
  EXPECT_FALSE(page.at("Metadata")[0].contains("Field"));
  auto second =
      get_json("/library/sections/1/all?type=1&sort=addedAt&X-Plex-Container-Start=3&X-Plex-Container-Size=3");
  EXPECT_EQ(second.at("size"), 2);
  EXPECT_EQ(second.at("offset"), 3);
  auto past = get_json("/library/sections/1/all?type=1&X-Plex-Container-Start=50&X-Plex-Container-Size=3");
  EXPECT_EQ(past.at("size"), 0);
  EXPECT_FALSE(past.contains("Metadata"));
  auto count_only = get("/library/sections/1/all?type=1&X-Plex-Container-Size=0");
  EXPECT_EQ(*count_only.header("X-Plex-Container-Total-Size"), "5");
  EXPECT_EQ(nlohmann::json::parse(count_only.body).at("MediaContainer").at("size"), 0);
}

TEST_F(PlexSimTest, TitleAndFileFilters) {
  EXPECT_EQ(get_json("/library/sections/1/all?type=1&title=sunset").at("totalSize"), 1);
  EXPECT_EQ(get_json("/library/sections/1/all?type=1&title=%3DSunset").at("totalSize"), 0);
  EXPECT_EQ(get_json("/library/sections/1/all?type=1&title==Sunset%20Session").at("totalSize"), 1);
  EXPECT_EQ(get_json("/library/sections/1/all?type=1&title=No%20Such%20Scene%20%26%20Co").at("totalSize"), 0);
  EXPECT_EQ(get_json("/library/sections/1/all?type=1&file=pt2.mp4").at("Metadata")[0].at("ratingKey"), "1003");
  EXPECT_EQ(get_json("/library/sections/1/all?type=1&addedAt%3E%3E=1710000000").at("totalSize"), 2);
}

TEST_F(PlexSimTest, FixtureEditIsAppliedAndReadBack) {
  const auto request = testing_support::data_file("fixtures/plex/put_section_1_all_edit_1001.request.txt");
  const auto line_start = request.find("PUT /library/sections/1/all?");
  const auto target = request.substr(line_start + 4, request.find(" HTTP/1.1", line_start) - line_start - 4);
  net::Request put;
  put.method = "PUT";
  put.target = target;
  put.headers = {{"X-Plex-Token", "plexsim-token"}, {"Accept", "application/json"}};
  auto res = client_->send(put);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_TRUE(res->body.empty());
  const auto item = get_json("/library/metadata/1001").at("Metadata")[0];
  EXPECT_EQ(item.at("title"), "Sunset Session: Été Edition");
  EXPECT_EQ(item.at("summary"), "Two friends film a slow evening on the pier & rate sunsets #1 to #10.\nShot in one "
                                "take + no edits (100% real).");
  std::vector<std::string> genres;
  for (const auto& g : item.at("Genre")) {
    genres.push_back(g.at("tag"));
  }
  EXPECT_EQ(genres, (std::vector<std::string>{"Outdoor", "Sunset", "Golden Hour", "Q&A, Extended"}));
  std::vector<std::string> actors;
  for (const auto& a : item.at("Role")) {
    actors.push_back(a.at("tag"));
  }
  EXPECT_EQ(actors, (std::vector<std::string>{"Alex Doe", "Jamie Roe", "Sam Lee", "Zoë Ångström"}));
  EXPECT_EQ(item.at("Role")[0].at("role"), "Herself");
  EXPECT_EQ(item.at("Role")[3].at("thumb"), "https://images.example.org/performers/zoe-angstrom.jpg");
  EXPECT_GT(item.at("updatedAt").get<int64_t>(), 1709900000);
}

TEST_F(PlexSimTest, EditErrors) {
  auto send = [&](const std::string& method, const std::string& target) {
    net::Request r;
    r.method = method;
    r.target = target;
    r.headers = {{"X-Plex-Token", "plexsim-token"}};
    auto res = client_->send(r);
    return res ? res->status : -1;
  };
  EXPECT_EQ(send("PUT", "/library/sections/1/all?type=1&id=1001&bogus.value=x"), 400);
  EXPECT_EQ(send("PUT", "/library/sections/1/all?type=1&id=1001&originallyAvailableAt.value=2024-3-1"), 400);
  EXPECT_EQ(send("PUT", "/library/sections/1/all?type=1&id=999999&title.value=x"), 404);
  EXPECT_EQ(send("GET", "/library/metadata/999999"), 404);
  EXPECT_EQ(send("PUT", "/library/sections/1/all?type=1&id=1001&summary.value=" + std::string(20000, 'a')), 414);
  EXPECT_EQ(send("PUT", "/library/metadata/1002?title.value=Direct&title.locked=1"), 200);
  EXPECT_EQ(plex_.item_json("1002").at("title"), "Direct");
}

TEST_F(PlexSimTest, PosterUploadKeepsTheHash) {
  net::Request r;
  r.method = "POST";
  r.target = "/library/metadata/1001/posters";
  r.headers = {{"X-Plex-Token", "plexsim-token"}};
  r.body = "fake image bytes";
  ASSERT_EQ(client_->send(r)->status, 200);
  const auto posters = get_json("/library/metadata/1001/posters");
  // sha1("fake image bytes")
  EXPECT_EQ(posters.at("Metadata")[0].at("ratingKey"), "upload://posters/d09dd099df7870fd8417a0adb3f1cfb419342a22");
  EXPECT_EQ(posters.at("Metadata")[0].at("selected"), true);
  const auto xml = get("/library/metadata/1001/posters", false).body;
  EXPECT_NE(xml.find("<Photo "), std::string::npos);
}

TEST_F(PlexSimTest, ScanRevealsAPendingItem) {
  EXPECT_EQ(get("/library/metadata/1006").status, 404);
  get("/library/sections/1/refresh?path=%2Fmedia%2Fadult%2Fnew");
  EXPECT_EQ(plex_.scanned_paths(), std::vector<std::string>{"/media/adult/new"});
  ASSERT_TRUE(
      testing_support::wait_for([&] { return get("/library/metadata/1006").status == 200; }, std::chrono::seconds(5)));
}

TEST_F(PlexSimTest, StatusFaultWithRetryAfter) {
  plex_.faults().add(
      sim::FaultRule{.method = "GET", .path_prefix = "/library", .status = 503, .retry_after = "2", .times = 1});
  auto r = get("/library/sections");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(*r.header("Retry-After"), "2");
  EXPECT_EQ(get("/library/sections").status, 200); // times=1
  plex_.faults().add(sim::fault_from_spec("status=429,retry_after=5,times=1"));
  EXPECT_EQ(get("/identity").status, 429);
}

TEST_F(PlexSimTest, ConnectionResetIsATransportFailure) {
  plex_.faults().add(sim::fault_from_spec("reset,times=1"));
  net::Request r;
  r.target = "/identity";
  auto res = make_client()->send(r);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().kind, net::TransportFailure::reset);
}

TEST_F(PlexSimTest, StallPastTheReadTimeout) {
  plex_.faults().add(sim::fault_from_spec("stall_after_head_ms=1500,times=1"));
  net::Request r;
  r.target = "/identity";
  auto res = make_client(300)->send(r);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().kind, net::TransportFailure::read_timeout);
  plex_.faults().add(sim::fault_from_spec("stall_mid_body_ms=1500,times=1"));
  res = make_client(300)->send(r);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().kind, net::TransportFailure::read_timeout);
}

TEST_F(PlexSimTest, SlowButSteadyAnswerWithinTheReadTimeout) {
  plex_.faults().add(sim::fault_from_spec("delay_ms=200,times=1"));
  net::Request r;
  r.target = "/identity";
  EXPECT_TRUE(make_client(1000)->send(r));
}

TEST_F(PlexSimTest, MalformedAndTruncatedBodies) {
  plex_.faults().add(sim::fault_from_spec("malformed,times=1"));
  const auto r = get("/library/sections");
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(nlohmann::json::accept(r.body));
  plex_.faults().add(sim::fault_from_spec("truncate,times=1"));
  net::Request req;
  req.target = "/identity";
  auto res = make_client()->send(req);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().kind, net::TransportFailure::reset);
}

TEST_F(PlexSimTest, RefusedConnectionAndUnknownHost) {
  net::ClientOptions o;
  o.base = *net::Url::parse("http://127.0.0.1:1");
  net::Request r;
  r.target = "/identity";
  auto res = net::make_http_client(o)->send(r);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().kind, net::TransportFailure::connect_refused);
  o.base = *net::Url::parse("http://no-such-host.invalid:32400");
  res = net::make_http_client(o)->send(r);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().kind, net::TransportFailure::dns);
}

TEST_F(PlexSimTest, RequestLogRecordsHeaderNamesNotTokenValues) {
  get("/library/sections");
  const auto log = plex_.requests().snapshot();
  ASSERT_FALSE(log.empty());
  const auto dumped = log.back().to_json().dump();
  EXPECT_EQ(dumped.find("plexsim-token"), std::string::npos);
  EXPECT_NE(dumped.find("X-Plex-Token"), std::string::npos);
  EXPECT_EQ(log.back().token_via, "header");
}

TEST_F(PlexSimTest, GeneratedLibraryOfOneHundredThousandStaysResponsive) {
  plex_.generate(100000);
  auto page =
      get_json("/library/sections/1/all?type=1&sort=addedAt&X-Plex-Container-Start=99900&X-Plex-Container-Size=100");
  EXPECT_EQ(page.at("totalSize"), 100000);
  EXPECT_EQ(page.at("size"), 100);
  // How fast is measured in bench/; here only that a deep page answers correctly.
}

// PMS's notification feed as PlexSync holds it: the token in a header, a file PMS found by itself
// announced at once, and a PMS (or proxy) without the feed refused for good, not retried.
TEST_F(PlexSimTest, TheNotificationFeedAnnouncesNewFilesAndARefusalIsFinal) {
  net::ClientOptions o;
  o.base = *net::Url::parse(plex_url());
  std::mutex mutex;
  std::vector<std::string> changed;
  plex::NotificationListener listener(o, "plexsim-token", "test-client", [&](const std::vector<std::string>& s) {
    const std::lock_guard lock(mutex);
    changed.insert(changed.end(), s.begin(), s.end());
  });
  ASSERT_TRUE(testing_support::wait_for(
      [&] { return listener.state() == plex::NotificationListener::State::listening; }, std::chrono::seconds(10)));
  EXPECT_EQ(plex_.notification_listeners(), 1);
  (void)plex_.publish_file("2", "/media/home videos/found by plex.mp4", 10, 1000);
  ASSERT_TRUE(testing_support::wait_for(
      [&] {
        const std::lock_guard lock(mutex);
        return !changed.empty();
      },
      std::chrono::seconds(10)));
  {
    const std::lock_guard lock(mutex);
    EXPECT_EQ(changed.front(), "2");
  }
  bool token_in_url = false;
  for (const auto& r : plex_.requests().snapshot()) {
    token_in_url = token_in_url || r.token_via == "query";
  }
  EXPECT_FALSE(token_in_url);

  plex_.set_notifications(false);
  plex::NotificationListener refused(o, "plexsim-token", "test-client", [](const std::vector<std::string>&) {});
  EXPECT_TRUE(testing_support::wait_for([&] { return refused.state() == plex::NotificationListener::State::refused; },
                                        std::chrono::seconds(10)));
  EXPECT_EQ(refused.connections(), 0);
  plex::NotificationListener wrong_token(o, "not-the-token", "test-client", [](const std::vector<std::string>&) {});
  EXPECT_TRUE(testing_support::wait_for(
      [&] { return wrong_token.state() == plex::NotificationListener::State::refused; }, std::chrono::seconds(10)));
}

} // namespace
