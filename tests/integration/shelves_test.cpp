// Issue #28 against plexsim: collections from rules entering, leaving and emptying (only those
// PlexSync created are ever deleted or given a poster, once), and tag filters for genres.
#include <algorithm>

#include <gtest/gtest.h>

#include "sim/faults.hpp"
#include "support/worker_fixture.hpp"
#include "util/strings.hpp"

namespace {

class Shelves : public testing_support::WorkerFixture {
protected:
  std::vector<std::string> collections_of(int scene) {
    std::vector<std::string> out;
    for (const auto& c :
         plex_.item_json(std::to_string(10000 + scene - 1)).value("Collection", nlohmann::json::array())) {
      out.push_back(c.at("tag"));
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  std::vector<std::string> genres_of(int scene) {
    std::vector<std::string> out;
    for (const auto& g : plex_.item_json(std::to_string(10000 + scene - 1)).value("Genre", nlohmann::json::array())) {
      out.push_back(g.at("tag"));
    }
    return out;
  }

  bool has_collection(const std::string& title) {
    const auto titles = plex_.collection_titles("1");
    return std::find(titles.begin(), titles.end(), title) != titles.end();
  }

  // The settings a running worker reads again once they are 5 s old.
  void reconfigure(const nlohmann::json& overrides) {
    configure(overrides);
    clock_.advance(6'000);
  }

  void sync(std::initializer_list<int> scenes) {
    enqueue(scenes);
    drain();
  }

  std::string studio_of(int scene) { return stash_.scene(std::to_string(scene))->at("studio").at("name"); }
};

TEST_F(Shelves, RulesMakeCollectionsEachPosteredOnceNotPerScene) {
  // Scenes 1 and 5 share a studio (four studios over six scenes); Léa Dubois is a favourite.
  auto performers = stash_.scene("1")->at("performers");
  performers[0]["favorite"] = true;
  ASSERT_TRUE(stash_.update_scene("1", {{"performers", performers}, {"organized", true}}));
  configure({{"collections", "studio => Studio: {name}; performer:favorite => ★ {name}; organized:Organized"}});
  sync({1, 2, 3, 4, 5, 6});
  const auto studio1 = "Studio: " + studio_of(1);
  ASSERT_EQ(studio_of(5), studio_of(1));
  EXPECT_EQ(collections_of(1),
            (std::vector<std::string>{"Organized", studio1, "★ " + performers[0]["name"].get<std::string>()}));
  EXPECT_EQ(collections_of(2), (std::vector<std::string>{"Studio: " + studio_of(2)}));
  const auto shelf = plex_.collection("1", studio1);
  ASSERT_TRUE(shelf);
  EXPECT_EQ(shelf->child_count, 2);
  EXPECT_EQ(shelf->poster_uploads, 1) << "one upload for the collection, not one per scene";
  EXPECT_EQ(plex_.collection("1", "Organized")->poster_uploads, 0) << "organized has no image to give";
  const auto star = plex_.collection("1", "★ " + performers[0]["name"].get<std::string>());
  ASSERT_TRUE(star);
  EXPECT_EQ(star->poster_uploads, 1);

  // Later edits in Stash upload no collection poster again.
  for (int id = 1; id <= 6; ++id) {
    ASSERT_TRUE(stash_.update_scene(std::to_string(id), {{"title", "Edited " + std::to_string(id)}}));
  }
  plex_.requests().clear();
  sync({1, 2, 3, 4, 5, 6});
  EXPECT_EQ(plex_.collection("1", studio1)->poster_uploads, 1);
  EXPECT_EQ(section_listings(true), 0) << "no collection listing while every one is known";
  EXPECT_LE(static_cast<int>(plex_.requests().count()), 12) << "at most 2 Plex requests per changed scene";

  // skip_collection_posters: a collection made from now on gets none.
  ASSERT_TRUE(stash_.update_scene("2", {{"studio", {{"id", "77"}, {"name", "Brand New Studio"}}}}));
  reconfigure({{"collections", "studio => Studio: {name}"}, {"skip_collection_posters", true}});
  sync({2});
  ASSERT_TRUE(plex_.collection("1", "Studio: Brand New Studio"));
  EXPECT_EQ(plex_.collection("1", "Studio: Brand New Studio")->poster_uploads, 0);
}

TEST_F(Shelves, AnEmptiedCollectionIsRemovedOnlyWhenPlexSyncCreatedIt) {
  // A person's own collection, made in Plex before PlexSync wrote to it, and one PlexSync makes.
  plex_.add_collection("1", "Night Shelf");
  auto tags = stash_.scene("3")->at("tags");
  tags.push_back({{"id", "90"}, {"name", "Night Out"}});
  ASSERT_TRUE(stash_.update_scene("3", {{"tags", tags}, {"studio", {{"id", "70"}, {"name", "Solo Studio"}}}}));
  configure({{"collections", "studio; tag:night* => Night Shelf"}});
  sync({3});
  EXPECT_EQ(collections_of(3), (std::vector<std::string>{"Night Shelf", "Solo Studio"}));
  ASSERT_TRUE(has_collection("Solo Studio"));
  EXPECT_EQ(plex_.collection("1", "Night Shelf")->poster_uploads, 0) << "a person's collection is never given a poster";

  // The scene leaves both: PlexSync's own is deleted, the person's stays (empty).
  tags.erase(tags.end() - 1);
  ASSERT_TRUE(stash_.update_scene("3", {{"tags", tags}, {"studio", {{"id", "14"}, {"name", "Harbor Light Studio"}}}}));
  plex_.requests().clear();
  sync({3});
  EXPECT_EQ(collections_of(3), (std::vector<std::string>{"Harbor Light Studio"}));
  EXPECT_FALSE(has_collection("Solo Studio")) << "emptied and made by PlexSync: removed";
  EXPECT_EQ(requests("DELETE", "/library/collections/"), 1);
  ASSERT_TRUE(has_collection("Night Shelf")) << "a person's collection is never deleted";
  EXPECT_EQ(plex_.collection("1", "Night Shelf")->child_count, 0);
}

TEST_F(Shelves, ARemovalThatFailedIsDoneByTheNextJob) {
  configure({{"collections", "studio"}});
  ASSERT_TRUE(stash_.update_scene("4", {{"studio", {{"id", "71"}, {"name", "Short Lived"}}}}));
  sync({4});
  ASSERT_TRUE(has_collection("Short Lived"));
  ASSERT_TRUE(stash_.update_scene("4", {{"studio", {{"id", "14"}, {"name", "Harbor Light Studio"}}}}));
  // PMS fails the deletion for a while: the edit lands, the job is retried.
  plex_.faults().add(sim::fault_from_spec("method=DELETE,path=/library/collections/,status=503"));
  enqueue({4});
  worker().run(worker::RunMode::drain);
  EXPECT_EQ(collections_of(4), (std::vector<std::string>{"Harbor Light Studio"}));
  EXPECT_TRUE(has_collection("Short Lived"));
  EXPECT_EQ(job(4).attempts, 1) << job(4).last_error;
  plex_.faults().clear();
  clock_.advance(61'000);
  drain();
  EXPECT_FALSE(has_collection("Short Lived")) << "the job retried finds it empty and removes it";
}

// An edit that failed made nothing: its collection is not recorded as PlexSync's, so one a person
// makes of that name before the retry is never deleted.
TEST_F(Shelves, ACollectionWhoseEditFailedIsNotCountedAsPlexSyncs) {
  configure({{"collections", "studio"}});
  ASSERT_TRUE(stash_.update_scene("4", {{"studio", {{"id", "72"}, {"name", "Maybe Mine"}}}}));
  plex_.faults().add(sim::fault_from_spec("method=PUT,path=/library/sections/1/all,status=503,times=1"));
  enqueue({4});
  worker().run(worker::RunMode::drain);
  ASSERT_FALSE(has_collection("Maybe Mine"));
  plex_.add_collection("1", "Maybe Mine"); // meanwhile, in Plex
  clock_.advance(61'000);
  drain();
  ASSERT_EQ(collections_of(4), (std::vector<std::string>{"Maybe Mine"}));
  ASSERT_TRUE(stash_.update_scene("4", {{"studio", {{"id", "14"}, {"name", "Harbor Light Studio"}}}}));
  sync({4});
  EXPECT_EQ(collections_of(4), (std::vector<std::string>{"Harbor Light Studio"}));
  EXPECT_TRUE(has_collection("Maybe Mine")) << "a person's collection, emptied, stays";
  EXPECT_EQ(requests("DELETE", "/library/collections/"), 0);
}

TEST_F(Shelves, ChangedRulesMoveEveryItemOnTheNextSync) {
  sync({1, 2, 3});
  const auto studio1 = studio_of(1);
  ASSERT_EQ(collections_of(1), (std::vector<std::string>{studio1}));
  reconfigure({{"collections", "performer:all => With {name}"}});
  sync({1, 2, 3});
  for (int id = 1; id <= 3; ++id) {
    const auto now = collections_of(id);
    ASSERT_FALSE(now.empty());
    for (const auto& c : now) {
      EXPECT_EQ(c.rfind("With ", 0), 0U) << c;
    }
  }
  EXPECT_FALSE(has_collection(studio1)) << "the studio shelves PlexSync made are gone with their last item";
}

TEST_F(Shelves, GenreFiltersChooseWhichTagsBecomeGenres) {
  auto tags =
      nlohmann::json::array({{{"id", "20"}, {"name", "Outdoor"}, {"parents", nlohmann::json::array({"Setting"})}},
                             {{"id", "21"}, {"name", "1080p"}, {"parents", nlohmann::json::array({"Technical"})}},
                             {{"id", "22"}, {"name", "60fps"}},
                             {{"id", "23"}, {"name", "Series/Coastline"}}});
  ASSERT_TRUE(stash_.update_scene("1", {{"tags", tags}}));
  configure({{"genre_exclude", "parent:Technical; *FPS"}});
  sync({1});
  EXPECT_EQ(genres_of(1), (std::vector<std::string>{"Outdoor", "Series/Coastline"}));
  reconfigure({{"genre_include", "series/*"}});
  sync({1});
  EXPECT_EQ(genres_of(1), (std::vector<std::string>{"Series/Coastline"}));
  // A filter that does not parse holds the genres as they are.
  reconfigure({{"genre_include", "parent:"}});
  ASSERT_TRUE(stash_.update_scene("1", {{"title", "Still synced"}}));
  sync({1});
  EXPECT_TRUE(synced(1));
  EXPECT_EQ(genres_of(1), (std::vector<std::string>{"Series/Coastline"}));
}

} // namespace
