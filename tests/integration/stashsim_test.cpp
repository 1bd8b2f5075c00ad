// stashsim over real loopback HTTP through the project's Stash client.
#include <gtest/gtest.h>

#include "stash/client.hpp"
#include "support/sandbox.hpp"

namespace {

class StashSimTest : public testing_support::SimulatorsTest {
protected:
  void SetUp() override {
    SimulatorsTest::SetUp();
    stash_.generate(30);
    stash_.set_plugin_settings("PlexSync",
                               {{"plex_url", "http://127.0.0.1:32400"}, {"enabled", true}, {"max_retries", 5}});
  }
  std::unique_ptr<stash::StashClient> client(stash::StashAuth auth = {}) {
    net::ClientOptions o;
    o.base = *net::Url::parse(stash_url());
    return std::make_unique<stash::StashClient>(net::make_http_client(o), std::move(auth));
  }
  net::Response raw_post(const std::string& body, net::Headers headers = {{"Content-Type", "application/json"}}) {
    net::ClientOptions o;
    o.base = *net::Url::parse(stash_url());
    net::Request r;
    r.method = "POST";
    r.target = "/graphql";
    r.headers = std::move(headers);
    r.body = body;
    return *net::make_http_client(o)->send(r);
  }
};

TEST_F(StashSimTest, FindSceneReturnsTheFragmentFields) {
  auto scene = client()->find_scene("3");
  ASSERT_TRUE(scene) << scene.error().message;
  ASSERT_TRUE(*scene);
  EXPECT_EQ((*scene)->id, "3");
  EXPECT_EQ((*scene)->title, "Stash Title 3 — Été");
  ASSERT_EQ((*scene)->files.size(), 1U);
  EXPECT_EQ((*scene)->files[0].size, 100000002);
  EXPECT_FALSE((*scene)->tags.empty());
  auto missing = client()->find_scene("9999");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(*missing);
}

TEST_F(StashSimTest, OnlySelectedFieldsAndAliasesComeBack) {
  const auto r = raw_post(R"({"query": "query { s: findScene(id: 1) { id name: title studio { name } } }"})");
  const auto doc = nlohmann::json::parse(r.body);
  EXPECT_EQ(
      doc.at("data").at("s"),
      nlohmann::json::parse(R"({"id":"1","name":"Stash Title 1 — Été","studio":{"name":"Harbor Light Studio"}})"));
}

TEST_F(StashSimTest, UnknownFieldIsAGraphQLErrorWithStatus200) {
  const auto r = raw_post(R"({"query": "query { findScene(id: 1) { id colour } }"})");
  EXPECT_EQ(r.status, 200);
  const auto doc = nlohmann::json::parse(r.body);
  EXPECT_EQ(doc.at("errors")[0].at("message"), "Cannot query field \"colour\" on type \"Scene\".");
  auto err = client()->query("query { findScene(id: 1) { colour } }", nlohmann::json::object());
  ASSERT_FALSE(err);
  EXPECT_NE(err.error().message.find("colour"), std::string::npos);
}

TEST_F(StashSimTest, FindScenesPagesSortsAndFiltersOnUpdatedAt) {
  auto c = client();
  auto page = c->query("query($p: FindFilterType) { findScenes(filter: $p) { count scenes { id } } }",
                       {{"p", {{"page", 2}, {"per_page", 10}, {"sort", "id"}, {"direction", "DESC"}}}});
  ASSERT_TRUE(page) << page.error().message;
  EXPECT_EQ(page->at("findScenes").at("count"), 30);
  EXPECT_EQ(page->at("findScenes").at("scenes")[0].at("id"), "20");
  auto all = c->query("query { findScenes(filter: {per_page: -1, sort: \"id\"}) { scenes { id updated_at } } }", {});
  ASSERT_EQ(all->at("findScenes").at("scenes").size(), 30U);
  const auto cutoff = all->at("findScenes").at("scenes")[29].at("updated_at").get<std::string>();
  ASSERT_TRUE(stash_.update_scene("5", {{"title", "Edited"}}));
  auto since = c->query("query($f: SceneFilterType) { findScenes(scene_filter: $f, filter: {sort: \"updated_at\", "
                        "per_page: -1}) { count scenes { id title } } }",
                        {{"f", {{"updated_at", {{"value", cutoff}, {"modifier", "GREATER_THAN"}}}}}});
  ASSERT_TRUE(since) << since.error().message;
  EXPECT_EQ(since->at("findScenes").at("count"), 1);
  EXPECT_EQ(since->at("findScenes").at("scenes")[0].at("title"), "Edited");
  auto bad = c->query("query { findScenes(filter: {sort: \"colour\"}) { count } }", {});
  EXPECT_FALSE(bad);
}

TEST_F(StashSimTest, PluginSettingsComeBackAsAnOpaqueMap) {
  auto settings = client()->plugin_settings("PlexSync");
  ASSERT_TRUE(settings);
  EXPECT_EQ(settings->at("max_retries"), 5);
  auto other = client()->plugin_settings("SomethingElse");
  ASSERT_TRUE(other);
  EXPECT_TRUE(other->empty());
}

TEST_F(StashSimTest, AuthRulesWithCredentials) {
  stashsim::StashSim locked({"the-api-key", true, "+01:00"});
  locked.generate(2);
  auto server = net::start_server("127.0.0.1", 0, [&](const net::ServerRequest& r) { return locked.handle(r); });
  net::ClientOptions o;
  o.base = *net::Url::parse("http://127.0.0.1:" + std::to_string(server->port()));
  const auto query = [&](stash::StashAuth auth) {
    stash::StashClient c(net::make_http_client(o), std::move(auth));
    return c.find_scene("1");
  };
  auto none = query({});
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("401"), std::string::npos);
  EXPECT_TRUE(query({"session", locked.new_session(), ""}));
  EXPECT_TRUE(query({"session", "", "the-api-key"}));
  // Stash refuses a wrong key even next to a valid cookie...
  net::Request raw;
  raw.method = "POST";
  raw.target = "/graphql";
  raw.headers = {
      {"Content-Type", "application/json"}, {"Cookie", "session=" + locked.new_session()}, {"ApiKey", "wrong-key"}};
  raw.body = R"({"query":"{ version { version } }"})";
  const auto refused = net::make_http_client(o)->send(raw);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 401);
  // ...so the client goes on with the cookie alone.
  EXPECT_TRUE(query({"session", locked.new_session(), "wrong-key"}));
  server->stop();
}

TEST_F(StashSimTest, ScreenshotIsRealImageBytes) {
  net::ClientOptions o;
  o.base = *net::Url::parse(stash_url());
  net::Request r;
  r.target = "/scene/1/screenshot?t=1";
  auto res = net::make_http_client(o)->send(r);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(*res->header("Content-Type"), "image/png");
  EXPECT_EQ(res->body.substr(1, 3), "PNG");
}

TEST_F(StashSimTest, JobQueueIsNullWhenIdle) {
  auto q = client()->query(stash::queries::k_job_queue, {});
  ASSERT_TRUE(q);
  EXPECT_TRUE(q->at("jobQueue").is_null());
  stash_.set_job_queue(
      nlohmann::json::parse(testing_support::read_file(testing_support::shared_dir() +
                                                       "/fixtures/stash/gql_job_queue_scan_running.response.json"))
          .at("data")
          .at("jobQueue"));
  q = client()->query(stash::queries::k_job_queue, {});
  EXPECT_EQ(q->at("jobQueue")[0].at("description"), "Scanning...");
}

TEST_F(StashSimTest, FaultsApplyToGraphQL) {
  stash_.faults().add(sim::fault_from_spec("status=503,times=1"));
  auto r = client()->find_scene("1");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("503"), std::string::npos);
  EXPECT_TRUE(client()->find_scene("1"));
}

TEST_F(StashSimTest, ContentTypeIsRequired) {
  EXPECT_EQ(raw_post(R"({"query":"{ version { version } }"})", {}).status, 415);
}

} // namespace
