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
    stash_.set_plugin_settings("PlexSync", {{"plex_url", "http://127.0.0.1:32400"}, {"max_retries", 5}});
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

// gqlgen validates a document before running it and answers HTTP 422 with the error.
TEST_F(StashSimTest, UnknownFieldIsAGraphQLErrorWithStatus422) {
  const auto r = raw_post(R"({"query": "query { findScene(id: 1) { id colour } }"})");
  EXPECT_EQ(r.status, 422);
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
  auto settings = client()->plugin_settings();
  ASSERT_TRUE(settings);
  EXPECT_EQ(settings->at("max_retries"), 5);
}

// Settings Stash v0.26 migrated from v0.25 sit under "plexSync" with camelCase keys.
TEST_F(StashSimTest, SettingsMigratedFromStashV025AreFound) {
  stash_.set_plugin_settings("plexSync",
                             {{"plexUrl", "http://plex.lan:32400"}, {"maxRetries", 3}, {"pathMap", "/a=>/b"}});
  auto settings = client()->plugin_settings();
  ASSERT_TRUE(settings) << settings.error().message;
  EXPECT_EQ(settings->at("path_map"), "/a=>/b");                 // only the migrated copy has it
  EXPECT_EQ(settings->at("plex_url"), "http://127.0.0.1:32400"); // the exact id wins
  EXPECT_EQ(settings->at("max_retries"), 5);
}

// A running simulator of one Stash release, for the tests below.
class ReleaseSim {
public:
  explicit ReleaseSim(stashsim::Options options) : sim_(std::move(options)) {
    sim_.generate(3);
    server_ = net::start_server("127.0.0.1", 0, [this](const net::ServerRequest& r) { return sim_.handle(r); });
  }
  ~ReleaseSim() { server_->stop(); }
  ReleaseSim(const ReleaseSim&) = delete;
  ReleaseSim& operator=(const ReleaseSim&) = delete;
  std::unique_ptr<stash::StashClient> client(stash::StashAuth auth = {}) const {
    net::ClientOptions o;
    o.base = *net::Url::parse("http://127.0.0.1:" + std::to_string(server_->port()));
    return std::make_unique<stash::StashClient>(net::make_http_client(o), std::move(auth));
  }
  stashsim::StashSim& sim() { return sim_; }

private:
  stashsim::StashSim sim_;
  std::unique_ptr<net::HttpServer> server_;
};

stashsim::Options release(const std::string& tag) {
  stashsim::Options o;
  o.release = tag;
  o.schema_dir = testing_support::data_path("stash-schema");
  return o;
}

// Stash v0.25 keeps plugin settings snake_cased and hands ids and keys back camelCased
// (stashapp/stash#4575): PlexSync still finds plex_url.
TEST(StashReleaseTest, V025SettingsComeBackCamelCasedAndAreStillRead) {
  ReleaseSim stash(release("v0.25.1"));
  stash.sim().set_plugin_settings("PlexSync", {{"plex_url", "http://plex.lan:32400"}, {"max_retries", 4}});
  auto raw = stash.client()->query("{ configuration { plugins } }", {});
  ASSERT_TRUE(raw) << raw.error().message;
  EXPECT_EQ(raw->at("configuration").at("plugins").at("plexSync").at("plexUrl"), "http://plex.lan:32400");
  auto settings = stash.client()->plugin_settings();
  ASSERT_TRUE(settings) << settings.error().message;
  EXPECT_EQ(settings->value("plex_url", ""), "http://plex.lan:32400");
  EXPECT_EQ(settings->value("max_retries", 0), 4);
}

// gqlgen refuses a document naming a field its release lacks, with HTTP 422.
TEST(StashReleaseTest, UnknownFieldsAreRefusedWith422AndTheClientAsksForWhatTheReleaseHas) {
  for (const char* tag : {"v0.25.1", "v0.26.2"}) {
    ReleaseSim stash(release(tag));
    auto groups = stash.client()->query(stash::queries::find_scene(stash::GroupField::groups), {{"id", "1"}});
    ASSERT_FALSE(groups) << tag;
    EXPECT_NE(groups.error().message.find("Cannot query field \"groups\" on type \"Scene\""), std::string::npos)
        << groups.error().message;
    auto scene = stash.client()->find_scene("1");
    ASSERT_TRUE(scene) << tag << ": " << scene.error().message;
    ASSERT_TRUE(*scene);
  }
  for (const char* tag : {"v0.27.2", "v0.30.1", "develop"}) {
    ReleaseSim stash(release(tag));
    auto scene = stash.client()->find_scene("1");
    ASSERT_TRUE(scene) << tag << ": " << scene.error().message;
  }
  ReleaseSim v027(release("v0.27.2"));
  // StashID.updated_at arrived in v0.28: the old fragment's second field fails on v0.27.
  auto old = v027.client()->query("{ findScene(id: 1) { stash_ids { endpoint stash_id updated_at } } }", {});
  ASSERT_FALSE(old);
  EXPECT_NE(old.error().message.find("updated_at"), std::string::npos);
}

TEST(StashReleaseTest, GroupsOfAScenePreV027AreReadFromMovies) {
  ReleaseSim stash(release("v0.26.2"));
  stash.sim().update_scene("2", {{"groups", {{{"id", "7"}, {"name", "Summer Series"}, {"scene_index", 2}}}}});
  auto scene = stash.client()->find_scene("2");
  ASSERT_TRUE(scene) << scene.error().message;
  ASSERT_TRUE(*scene);
  EXPECT_EQ((*scene)->groups, std::vector<std::string>{"Summer Series"});
}

TEST_F(StashSimTest, AuthRulesWithCredentials) {
  stashsim::StashSim locked(stashsim::Options{"the-api-key", true, "+01:00", "", "", ""});
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

// Stash sends pages and images without a valid session to its login page (302), not 401.
TEST(StashReleaseTest, AnImageRequestRedirectedToLoginIsAnAuthenticationFailure) {
  stashsim::Options o = release("develop");
  o.api_key = "the-api-key";
  o.credentials = true;
  ReleaseSim stash(o);
  auto image = stash.client({"session", "expired-cookie", ""})->fetch_image("http://127.0.0.1/scene/1/screenshot?t=1");
  ASSERT_FALSE(image);
  EXPECT_NE(image.error().message.find("login page"), std::string::npos) << image.error().message;
  EXPECT_NE(image.error().message.find("stash_api_key"), std::string::npos) << image.error().message;
}

// The worker reads Stash's API key through the session cookie and goes on with it once the cookie
// has expired (Stash's max_session_age).
TEST(StashReleaseTest, AnExpiredCookieIsReplacedByTheApiKeyReadThroughIt) {
  stashsim::Options o = release("v0.26.2");
  o.api_key = "the-api-key";
  o.credentials = true;
  ReleaseSim stash(o);
  auto c = stash.client({"session", stash.sim().new_session(), ""});
  auto facts = c->facts();
  ASSERT_TRUE(facts) << facts.error().message;
  EXPECT_EQ(facts->version, "v0.26.2");
  EXPECT_EQ(facts->api_key, "the-api-key");
  stash.sim().end_sessions();
  EXPECT_TRUE(c->find_scene("1")) << "after the cookie expired";
  EXPECT_TRUE(c->fetch_image("http://127.0.0.1:1/scene/1/screenshot?t=1"));
  // A new client (the next hook's cookie) is handed the facts instead of asking again.
  auto next = stash.client({"session", "long-gone", ""});
  next->adopt(*facts);
  EXPECT_TRUE(next->find_scene("2"));
}

// With external_host "https://example.org/stash", Stash's URLs carry a prefix only the reverse
// proxy serves; the cover is fetched from Stash's root on the plugin's own connection.
TEST(StashReleaseTest, CoverUrlsWithAnExternalHostPrefixStillWork) {
  stashsim::Options o = release("develop");
  o.external_host = "https://proxy.example.org/stash";
  ReleaseSim stash(o);
  auto scene = stash.client()->find_scene("1");
  ASSERT_TRUE(scene && *scene);
  EXPECT_EQ((*scene)->screenshot.rfind("https://proxy.example.org/stash/scene/1/screenshot", 0), 0U);
  auto image = stash.client()->fetch_image((*scene)->screenshot);
  ASSERT_TRUE(image) << image.error().message;
  EXPECT_TRUE(*image);
  EXPECT_EQ(stash::image_target("http://h/stash/scene/9/screenshot?t=1"), "/scene/9/screenshot?t=1");
  EXPECT_EQ(stash::image_target("http://h:9999/performer/3/image"), "/performer/3/image");
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
      nlohmann::json::parse(testing_support::data_file("fixtures/stash/gql_job_queue_scan_running.response.json"))
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
