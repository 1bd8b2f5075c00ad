// The metadata provider's pieces (specs/plex-metadata-provider.md 7.1, 7.2): identity, the
// allow-list, file names and matching, image signing, and the JSON it answers, checked against
// a structural reading of the protocol and Plex's own example payloads.
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "match/path_map.hpp"
#include "provider/access.hpp"
#include "provider/catalog.hpp"
#include "provider/identity.hpp"
#include "provider/images.hpp"
#include "provider/render.hpp"
#include "provider/service.hpp"
#include "support/provider_contract.hpp"
#include "support/sandbox.hpp"

namespace {

using testing_support::contract_problems;

TEST(ProviderIdentity, IdentifierFollowsPlexRules) {
  EXPECT_EQ(provider::identifier(""), "tv.plex.agents.custom.plexsync.stash");
  EXPECT_EQ(provider::identifier("home2"), "tv.plex.agents.custom.plexsync.stash.home2");
  EXPECT_FALSE(provider::identifier("bad-suffix"));
  EXPECT_FALSE(provider::identifier("a..b"));
  EXPECT_FALSE(provider::identifier("trailing."));
  EXPECT_TRUE(provider::valid_identifier("tv.plex.agents.custom.x1"));
  EXPECT_FALSE(provider::valid_identifier("tv.plex.agents.custom."));
  EXPECT_FALSE(provider::valid_identifier("tv.plex.agents.tmdb"));
}

TEST(ProviderIdentity, RatingKeysAndGuidsRoundTrip) {
  const auto id = *provider::identifier("");
  EXPECT_EQ(provider::rating_key("1042"), "scene-1042");
  EXPECT_EQ(provider::item_key("1042"), "/library/metadata/scene-1042");
  EXPECT_EQ(provider::guid(id, "1042"), id + "://movie/scene-1042");
  EXPECT_EQ(provider::scene_of_rating_key("scene-1042"), "1042");
  EXPECT_EQ(provider::scene_of_guid(id, id + "://movie/scene-7"), "7");
  for (const auto* bad : {"scene-", "scene-1a", "scene-1/2", "1042", "scene--1", "Scene-1"}) {
    EXPECT_FALSE(provider::scene_of_rating_key(bad)) << bad;
  }
  EXPECT_FALSE(provider::scene_of_guid(id, "plex://movie/scene-7"));
  EXPECT_FALSE(provider::scene_of_guid(id, id + "://show/scene-7"));
}

TEST(ProviderAccess, PrivateAnyAndRanges) {
  auto priv = provider::AllowList::parse("");
  ASSERT_TRUE(priv);
  for (const auto* ok : {"127.0.0.1", "10.1.2.3", "172.20.0.5", "192.168.1.9", "100.64.0.1", "::1", "fd00::1",
                         "fe80::1", "::ffff:192.168.1.9"}) {
    EXPECT_TRUE(priv->allows(ok)) << ok;
  }
  for (const auto* no : {"8.8.8.8", "172.32.0.1", "2001:db8::1", "::ffff:8.8.8.8", "", "nonsense"}) {
    EXPECT_FALSE(priv->allows(no)) << no;
  }
  auto one = provider::AllowList::parse("192.168.1.10, 2001:db8::/32");
  ASSERT_TRUE(one);
  EXPECT_TRUE(one->allows("192.168.1.10"));
  EXPECT_FALSE(one->allows("192.168.1.11"));
  EXPECT_FALSE(one->allows("127.0.0.1"));
  EXPECT_TRUE(one->allows("2001:db8:5::1"));
  EXPECT_TRUE(provider::AllowList::parse("any")->allows("8.8.8.8"));
  EXPECT_TRUE(provider::AllowList::parse("127.0.0.1/32")->allows("127.0.0.1"));
  EXPECT_FALSE(provider::AllowList::parse("127.0.0.1/32")->allows("127.0.0.2"));
  for (const auto* bad : {"10.0.0.0/33", "lan", "10.0.0.0/", "::1/129", "1.2.3"}) {
    EXPECT_FALSE(provider::AllowList::parse(bad)) << bad;
  }
}

TEST(ProviderAccess, RateLimitPerSourceWithBurstAndRefill) {
  provider::RateLimiter limit(250, 1000); // a token every 4 ms: exact in binary
  int admitted = 0;
  for (int i = 0; i < 1500; ++i) {
    admitted += limit.admit("192.168.1.5", 1000) ? 1 : 0;
  }
  EXPECT_EQ(admitted, 1000) << "a burst of 1000, then refused";
  EXPECT_TRUE(limit.admit("192.168.1.6", 1000)) << "another source has its own bucket";
  EXPECT_FALSE(limit.admit("192.168.1.5", 1002)) << "half a token refilled";
  EXPECT_TRUE(limit.admit("192.168.1.5", 1004)) << "a whole one";
  admitted = 0;
  for (int i = 0; i < 300; ++i) {
    admitted += limit.admit("192.168.1.5", 2004) ? 1 : 0;
  }
  EXPECT_EQ(admitted, 250) << "one second refills 250";
  EXPECT_FALSE(limit.admit("192.168.1.5", 1)) << "a clock going back refills nothing";
  EXPECT_FALSE(limit.admit("192.168.1.5", 2004)) << "nor does its return to where it was";
}

TEST(ProviderAccess, SprayingAddressesResetsNoLimitAndAV6NetworkIsOneSource) {
  provider::RateLimiter limit(250, 1000, 64);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(limit.admit("10.0.0.1", 1000));
  }
  EXPECT_FALSE(limit.admit("10.0.0.1", 1000));
  // Issue #31: touching more addresses than the table holds cleared it, the flooder's bucket too.
  for (int i = 0; i < 5000; ++i) {
    (void)limit.admit("10.1." + std::to_string(i / 250) + "." + std::to_string(i % 250), 1000 + i / 1000);
  }
  EXPECT_FALSE(limit.admit("10.0.0.1", 1001)) << "the flooder's own limit was reset";
  // The sources beyond the table share one bucket: 5000 requests from new addresses emptied it.
  EXPECT_FALSE(limit.admit("10.2.0.1", 1004));
  // A v6 host spraying its /64 is one source.
  provider::RateLimiter v6(250, 10);
  int admitted = 0;
  for (int i = 0; i < 100; ++i) {
    admitted += v6.admit("2001:db8:1:2::" + std::to_string(i + 1), 5000) ? 1 : 0;
  }
  EXPECT_EQ(admitted, 10);
  EXPECT_TRUE(v6.admit("2001:db8:1:3::1", 5000)) << "the next /64 is another source";
  EXPECT_EQ(provider::RateLimiter::source_of("192.168.1.5"), "192.168.1.5");
  EXPECT_EQ(provider::RateLimiter::source_of("2001:db8:1:2:aaaa::7"), "2001:db8:1:2::/64");
}

TEST(ProviderFilename, EveryFormNormalises) {
  EXPECT_EQ(provider::normalize_filename("Studio X/Scene.mp4"), "studio x/scene.mp4");
  EXPECT_EQ(provider::normalize_filename("/Studio X/Scene.mp4"), "studio x/scene.mp4");
  EXPECT_EQ(provider::normalize_filename("Studio X\\Scene.mp4"), "studio x/scene.mp4");
  EXPECT_EQ(provider::normalize_filename("//Studio X//Scene.mp4"), "studio x/scene.mp4");
  // NFD (macOS) and NFC fold alike.
  EXPECT_EQ(provider::normalize_filename("Cafe\xCC\x81/x.mp4"), provider::normalize_filename("Caf\xC3\xA9/x.mp4"));
  for (const auto* bad : {"", "/", "a/../b.mp4", "./b.mp4"}) {
    EXPECT_FALSE(provider::normalize_filename(bad)) << bad;
  }
}

stash::Scene scene_with(const std::string& id, const std::vector<std::string>& paths) {
  nlohmann::json j = {{"id", id}, {"title", "Scene " + id}, {"updated_at", "2026-01-01T00:00:00Z"}};
  for (const auto& p : paths) {
    j["files"].push_back({{"path", p}, {"basename", p.substr(p.rfind('/') + 1)}, {"size", 100}, {"duration", 61.5}});
  }
  return *stash::scene_from_json(j);
}

class ProviderCatalog : public testing_support::DatabaseTest {
protected:
  void add(const std::string& id, const std::vector<std::string>& paths, const std::string& map = "") {
    ASSERT_TRUE(provider::store_scene(*db_, scene_with(id, paths), *match::PathMap::parse(map), 1));
  }
  provider::FileMatch find(const std::string& filename, const std::vector<std::string>& locations = {}) {
    auto m = provider::match_file(*db_, filename, locations);
    EXPECT_TRUE(m) << m.error().message;
    return m ? *m : provider::FileMatch{};
  }
};

TEST_F(ProviderCatalog, EveryFilenameStyleFindsTheScene) {
  add("1", {"/data/stash/Studio X/2024-01-15 Pool.mp4"}, "/data/stash=>/media/Movies");
  add("2", {"/data/stash/Studio Y/Other.mp4"}, "/data/stash=>/media/Movies");
  const std::vector<std::string> locations{"/media/Movies"};
  for (const auto* style :
       {"Studio X/2024-01-15 Pool.mp4", "/Studio X/2024-01-15 Pool.mp4", "Movies/Studio X/2024-01-15 Pool.mp4",
        "/media/Movies/Studio X/2024-01-15 Pool.mp4", "studio x\\2024-01-15 POOL.mp4"}) {
    const auto m = find(style, locations);
    EXPECT_EQ(m.kind, provider::FileMatch::Kind::exact) << style;
    EXPECT_EQ(m.scenes, std::vector<std::string>{"1"}) << style;
    // Without the library folders (sections not read yet) the suffix still decides.
    const auto s = find(style);
    ASSERT_EQ(s.scenes.size(), 1U) << style;
    EXPECT_EQ(s.scenes.front(), "1") << style;
  }
  EXPECT_EQ(find("Studio X/Missing.mp4", locations).kind, provider::FileMatch::Kind::none);
  // A file name alone that several folders hold is not guessed at.
  EXPECT_EQ(find("Pool.mp4", locations).kind, provider::FileMatch::Kind::none);
}

TEST_F(ProviderCatalog, DuplicateRelativePathsAreAmbiguousUnlessTheFolderDecides) {
  add("1", {"/disk1/Studio/Same.mp4"});
  add("2", {"/disk2/Studio/Same.mp4"});
  const auto m = find("Studio/Same.mp4");
  EXPECT_EQ(m.kind, provider::FileMatch::Kind::ambiguous);
  EXPECT_EQ(m.scenes.size(), 2U);
  // PMS's library folder tells them apart.
  const auto exact = find("Studio/Same.mp4", {"/disk2"});
  EXPECT_EQ(exact.kind, provider::FileMatch::Kind::exact);
  EXPECT_EQ(exact.scenes, std::vector<std::string>{"2"});
  // The longer common suffix wins.
  add("3", {"/x/A/Long/Name.mp4"});
  add("4", {"/x/B/Long/Name.mp4"});
  const auto longest = find("A/Long/Name.mp4");
  EXPECT_EQ(longest.scenes, std::vector<std::string>{"3"});
}

TEST_F(ProviderCatalog, RemapAndForget) {
  add("1", {"/data/a/f.mp4"});
  EXPECT_EQ(find("f.mp4", {"/plex"}).kind, provider::FileMatch::Kind::suffix);
  EXPECT_EQ(find("sub/f.mp4", {"/plex"}).kind, provider::FileMatch::Kind::none);
  ASSERT_TRUE(provider::remap_files(*db_, *match::PathMap::parse("/data/a=>/plex/sub")));
  EXPECT_EQ(find("sub/f.mp4", {"/plex"}).kind, provider::FileMatch::Kind::exact);
  auto snap = provider::load_snapshot(*db_, "1");
  ASSERT_TRUE(snap && *snap);
  EXPECT_EQ((*snap)->scene.title, "Scene 1");
  ASSERT_TRUE(provider::forget_scene(*db_, "1"));
  EXPECT_EQ(find("f.mp4").kind, provider::FileMatch::Kind::none);
  EXPECT_FALSE(*provider::load_snapshot(*db_, "1"));
}

TEST(ProviderImages, SignedUrlsResistTampering) {
  provider::ImageSigner signer(std::string(32, 'k'));
  const auto ref = provider::image_ref_of_stash_url("http://stash:9999/scene/1042/screenshot?t=1705312342");
  ASSERT_TRUE(ref);
  EXPECT_EQ(ref->key(), "scene/1042/screenshot/1705312342");
  const auto path = provider::image_path(*ref, signer);
  ASSERT_EQ(path.rfind("img/", 0), 0U);
  const auto parsed = provider::parse_image_path(path.substr(4));
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(signer.verify(parsed->ref, parsed->signature));
  for (auto [field, value] : {std::pair{&provider::ImageRef::id, "1043"}, std::pair{&provider::ImageRef::version, "1"},
                              std::pair{&provider::ImageRef::kind, "performer"}}) {
    auto changed = parsed->ref;
    changed.*field = value;
    EXPECT_FALSE(signer.verify(changed, parsed->signature));
  }
  EXPECT_FALSE(provider::ImageSigner(std::string(32, 'x')).verify(parsed->ref, parsed->signature));
  auto sig = parsed->signature;
  sig[0] = sig[0] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(signer.verify(parsed->ref, sig));
  EXPECT_EQ(provider::stash_target(*ref), "/scene/1042/screenshot?t=1705312342");
  // Shapes the route refuses before any signature check.
  for (const auto* bad : {"v1/scene/1/screenshot/1", "v2/scene/1/screenshot/1/AAAAAAAAAAAAAAAAAAAAAA",
                          "v1/user/1/screenshot/1/AAAAAAAAAAAAAAAAAAAAAA",
                          "v1/scene/x/screenshot/1/AAAAAAAAAAAAAAAAAAAAAA", "v1/scene/1/screenshot/1/short"}) {
    EXPECT_FALSE(provider::parse_image_path(bad)) << bad;
  }
  EXPECT_FALSE(provider::image_ref_of_stash_url("http://stash/performer/3/image?t=1&default=true"));
  EXPECT_EQ(provider::image_ref_of_stash_url("http://h/prefix/group/5/frontimage?t=9")->key(), "group/5/front/9");
  EXPECT_EQ(provider::sniff_image_type("\x89PNG\r\n\x1A\n...."), "image/png");
  EXPECT_EQ(provider::sniff_image_type("<svg>"), "");
}

nlohmann::json plex_example(const std::string& name) {
  return nlohmann::json::parse(testing_support::data_file("fixtures/plex-provider/" + name));
}

TEST(ProviderContract, PlexsOwnExamplesPassTheChecker) {
  EXPECT_EQ(contract_problems("root", plex_example("provider_root.example.json")), std::vector<std::string>{});
  EXPECT_FALSE(contract_problems("root", plex_example("provider_root.repo-docs.example.json")).empty())
      << "the docs' example without the custom prefix must fail";
  for (const auto* name : {"metadata_movie.response.json", "metadata_show.response.json",
                           "metadata_episode.response.json", "metadata_season_with_children.response.json"}) {
    EXPECT_EQ(contract_problems("metadata", plex_example(name)), std::vector<std::string>{}) << name;
  }
  EXPECT_EQ(contract_problems("images", plex_example("images.response.json")), std::vector<std::string>{});
  EXPECT_EQ(contract_problems("match", plex_example("match_season.response.json")), std::vector<std::string>{});
}

TEST(ProviderContract, AScenesAnswerIsValidAndComplete) {
  auto j = nlohmann::json::parse(testing_support::data_file("fixtures/stash/gql_find_scene_full.response.json"),
                                 nullptr, false);
  stash::Scene scene;
  if (j.is_object() && j.contains("data")) {
    scene = *stash::scene_from_json(j.at("data").at("findScene"));
  } else {
    scene = scene_with("1042", {"/data/Studio/Pool.mp4"});
    scene.details = "Line one.\nLine two.";
    scene.studio = "Example Studio";
    scene.parent_studio = "Example Network";
    scene.date = "2024-01-15";
    scene.tags = {"Outdoors", "Pool"};
    scene.performers = {{"77", "Jane Example", "http://stash:9999/performer/77/image?t=1699999999"}};
    scene.screenshot = "http://stash:9999/scene/1042/screenshot?t=1705312342";
    scene.stash_ids = {{"https://stashdb.org/graphql", "2f0c1b7e-5a1d-4c39-9d2b-0e6f5a8b9c11"}};
  }
  config::Settings settings;
  settings.content_rating = "XXX";
  provider::ImageSigner signer(std::string(32, 'k'));
  const provider::RenderContext ctx{*provider::identifier(""), "http://127.0.0.1:9787", &signer, &settings};
  const auto m = provider::metadata_object(scene, ctx);
  const auto answer = provider::container(ctx.identifier, "Metadata", nlohmann::json::array({m}));
  EXPECT_EQ(contract_problems("metadata", answer), std::vector<std::string>{}) << answer.dump(1);
  EXPECT_EQ(m.at("contentRating"), "XXX");
  EXPECT_EQ(m.at("isAdult"), true);
  EXPECT_TRUE(m.at("duration").is_number_integer());
  EXPECT_EQ(m.at("thumb"), m.at("Image").at(0).at("url"));
  EXPECT_EQ(m.at("thumb").get<std::string>().rfind("http://127.0.0.1:9787/img/v1/scene/", 0), 0U);
  EXPECT_EQ(contract_problems("root", provider::root_document(ctx.identifier, "PlexSync (Stash)")),
            std::vector<std::string>{});
  // Title templates (issue #28) shape the provider's answer as they shape push.
  settings.title_template = "{date} {studio} - {title|filename}";
  settings.sort_title_template = "{parent_studio} {date}";
  const auto templated = provider::metadata_object(scene, ctx);
  EXPECT_EQ(templated.at("title"), scene.date + " " + scene.studio + " - " + scene.title);
  EXPECT_EQ(templated.at("titleSort"), scene.parent_studio + " " + scene.date);
  EXPECT_EQ(contract_problems("metadata",
                              provider::container(ctx.identifier, "Metadata", nlohmann::json::array({templated}))),
            std::vector<std::string>{});
  settings.title_template.clear();
  settings.sort_title_template.clear();
  // Switches leave fields out of the answer.
  settings.skip_genres = true;
  settings.provider_skip_adult_flag = true;
  settings.skip_poster = true;
  const auto trimmed = provider::metadata_object(scene, ctx);
  EXPECT_FALSE(trimmed.contains("Genre"));
  EXPECT_FALSE(trimmed.contains("isAdult"));
  EXPECT_FALSE(trimmed.contains("thumb"));
  EXPECT_EQ(
      contract_problems("metadata", provider::container(ctx.identifier, "Metadata", nlohmann::json::array({trimmed}))),
      std::vector<std::string>{});
}

TEST(ProviderContract, ActorPhotosOnlyWhereTheInternetReachesThem) {
  // Role.thumb goes to Plex's apps, which fetch it through Plex's image proxy (issue #26).
  stash::Scene scene;
  scene.id = "7";
  scene.title = "T";
  scene.files = {{"/media/a.mp4", "a.mp4", 1, 10.0}};
  scene.performers = {{"3", "Léa", "http://stash:9999/performer/3/image?t=1700000000"}};
  provider::ImageSigner signer(std::string(32, 'k'));
  const auto role_thumb = [&](const config::Settings& s) {
    const provider::RenderContext ctx{*provider::identifier(""),
                                      s.provider_public_url.empty() ? "http://10.0.0.2:9787" : s.provider_public_url,
                                      &signer, &s};
    return provider::metadata_object(scene, ctx).at("Role").at(0).value("thumb", "");
  };
  config::Settings s;
  EXPECT_EQ(role_thumb(s), "") << "a LAN provider and no stash_url_for_plex: none";
  s.provider_public_url = "http://192.168.1.10:9787";
  EXPECT_EQ(role_thumb(s), "");
  s.stash_url_for_plex = "http://192.168.1.10:9999";
  EXPECT_EQ(role_thumb(s), "http://192.168.1.10:9999/performer/3/image?t=1700000000") << "as push mode sends it";
  s.provider_public_url = "https://plexsync.example.net";
  EXPECT_EQ(role_thumb(s).rfind("https://plexsync.example.net/img/v1/performer/3/", 0), 0U) << role_thumb(s);
}

TEST(ProviderAccess, ReachableFromTheInternet) {
  for (const char* lan :
       {"http://127.0.0.1:9787", "http://192.168.1.10", "http://10.1.2.3", "http://172.20.0.5", "http://[::1]:9787",
        "http://[fe80::1]", "http://169.254.1.1", "http://localhost:9787", "http://stash:9787", "http://nas.local",
        "http://plex.lan", "http://box.home.arpa", "nonsense"}) {
    EXPECT_FALSE(provider::reachable_from_internet(lan)) << lan;
  }
  for (const char* pub :
       {"https://plexsync.example.net", "http://203.0.113.7:9787", "http://[2001:db8::1]", "http://172.32.0.1"}) {
    EXPECT_TRUE(provider::reachable_from_internet(pub)) << pub;
  }
}

TEST(ProviderContract, StashBoxSchemes) {
  EXPECT_EQ(provider::stash_box_scheme("https://stashdb.org/graphql"), "stashdb");
  EXPECT_EQ(provider::stash_box_scheme("https://theporndb.net/graphql"), "tpdb");
  EXPECT_EQ(provider::stash_box_scheme("https://fansdb.cc/graphql"), "fansdb");
  EXPECT_EQ(provider::stash_box_scheme("https://box.example.org/graphql"), "box");
}

} // namespace

namespace {

class ProviderSecrets : public testing_support::SandboxedTest {};

// The worker and `plexsync provider url` may both create the secrets on first use: they must
// agree, or the URL printed would not be the one served.
TEST_F(ProviderSecrets, ConcurrentFirstUseAgreesAndRotationReplacesOnlyTheToken) {
  for (int round = 0; round < 20; ++round) {
    const auto dir = dir_ + "/round" + std::to_string(round);
    std::filesystem::create_directories(dir);
    util::Result<provider::Secrets> a = util::fail("unset");
    util::Result<provider::Secrets> b = util::fail("unset");
    std::thread other([&] { b = provider::load_or_create_secrets(dir); });
    a = provider::load_or_create_secrets(dir);
    other.join();
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->token, b->token);
    EXPECT_EQ(a->hmac_key, b->hmac_key);
    EXPECT_EQ(a->token.size(), 32U);
    EXPECT_EQ(provider::load_or_create_secrets(dir)->token, a->token) << "stable across runs";
  }
  const auto first = *provider::load_or_create_secrets(dir_);
  const auto rotated = *provider::rotate_token(dir_);
  EXPECT_NE(rotated.token, first.token);
  EXPECT_EQ(rotated.hmac_key, first.hmac_key) << "image URLs PMS stored stay valid";
  EXPECT_EQ(provider::load_or_create_secrets(dir_)->token, rotated.token);
  EXPECT_EQ(provider::root_url("http://h:9787/", rotated, true), "http://h:9787/p/" + rotated.token + "/movie");
  EXPECT_EQ(provider::root_url("http://h:9787", rotated, false), "http://h:9787/movie");
}

} // namespace

namespace {

// A host whose catalog is still being built: no Stash call may be made either.
class BuildingBackend final : public provider::Backend {
public:
  config::Settings settings() override { return {}; }
  bool ready() override { return false; }
  util::Result<std::optional<stash::Scene>> fetch_scene(const std::string&) override { return util::fail("building"); }
  util::Result<std::optional<stash::StashClient::Image>> fetch_image(const std::string&) override {
    return util::fail("building");
  }
  util::Result<std::vector<stash::Scene>> search_scenes(const std::string&, int) override {
    return util::fail("building");
  }
};

class ProviderStartup : public testing_support::SandboxedTest {};

TEST_F(ProviderStartup, TheRootAnswersWhileTheCatalogIsBuiltAndOnlyMatchAndMetadataWait) {
  // PMS loads a provider's root when it starts and marks one that fails offline until it loads
  // providers again (issue #26): the root must not wait for the catalog.
  auto secrets = provider::load_or_create_secrets(dir_);
  ASSERT_TRUE(secrets);
  BuildingBackend backend;
  provider::Provider p(dir_, *secrets, backend);
  const auto ask = [&](const std::string& method, const std::string& path, const std::string& query = "") {
    net::ServerRequest r;
    r.method = method;
    r.path = "/p/" + secrets->token + path;
    r.query = query;
    r.peer = "127.0.0.1";
    r.body = method == "POST" ? R"({"type":1,"filename":"a.mp4"})" : "";
    return p.handle(r).status;
  };
  EXPECT_EQ(ask("GET", "/movie"), 200);
  EXPECT_EQ(ask("GET", "/movie", "includePreferences=1"), 200);
  EXPECT_EQ(ask("GET", "/movie/"), 200);
  EXPECT_EQ(ask("POST", "/movie/library/metadata/matches"), 503);
  EXPECT_EQ(ask("GET", "/movie/library/metadata/scene-1"), 503);
  EXPECT_EQ(ask("GET", "/movie/library/metadata/scene-1/images"), 503);
}

} // namespace
