// Storms on Plex (issue #18): PlexSync's load on Plex grows with the distinct things it needs
// (folders to scan, index refreshes), not with the number of jobs. Each test counts the requests
// plexsim received and prints them (docs/BENCHMARKS.md has the before and after).
#include <cstdio>
#include <thread>

#include <gtest/gtest.h>

#include "support/worker_fixture.hpp"

namespace {

class PlexStorms : public testing_support::WorkerFixture {
protected:
  // existing items synced long ago under /media/adult/old, and `fresh` new files in one new folder
  // that Plex has not scanned yet (they surface once that folder is scanned). Stash has a scene
  // for every file: ids 101.. for the old ones, 1001.. for the new ones.
  void library(int existing, int fresh) {
    nlohmann::json items = nlohmann::json::array();
    for (int i = 0; i < existing; ++i) {
      const std::string file = "/media/adult/old/Old scene " + std::to_string(i) + ".mp4";
      items.push_back({{"ratingKey", std::to_string(20000 + i)},
                       {"section", "1"},
                       {"title", "Old " + std::to_string(i)},
                       {"addedAt", 1700000000 + i},
                       {"parts", {{{"file", file}, {"size", 1000 + i}, {"duration", 60000}}}}});
      stash_.add_scene({{"id", std::to_string(101 + i)},
                        {"title", "Old scene " + std::to_string(i)},
                        {"files", {{{"path", file}, {"size", 1000 + i}, {"duration", 60.0}}}}});
    }
    for (int i = 0; i < fresh; ++i) {
      const std::string file = std::string(k_new_folder) + "/New scene " + std::to_string(i) + ".mp4";
      items.push_back({{"ratingKey", std::to_string(30000 + i)},
                       {"section", "1"},
                       {"title", "raw file name " + std::to_string(i)},
                       {"addedAt", 1800000000 + i},
                       {"pending", true},
                       {"parts", {{{"file", file}, {"size", 5000 + i}, {"duration", 60000}}}}});
      stash_.add_scene({{"id", std::to_string(1001 + i)},
                        {"title", "New scene " + std::to_string(i)},
                        {"files", {{{"path", file}, {"size", 5000 + i}, {"duration", 60.0}}}}});
    }
    plex_.load({{"sections", {{{"key", "1"}, {"title", "Adult"}, {"locations", {"/media/adult"}}}}}, {"items", items}});
  }
  int scans_of(const std::string& folder) {
    int n = 0;
    for (const auto& r : plex_.requests().snapshot()) {
      if (r.path == "/library/sections/1/refresh") {
        for (const auto& [k, v] : r.query) {
          n += k == "path" && v == folder ? 1 : 0;
        }
      }
    }
    return n;
  }
  int listings() { return index_listings(); }
  bool has_title(int scene, const std::string& title) {
    const auto s = stash_.scene(std::to_string(scene));
    (void)s;
    const auto rk = scene >= 1001 ? 30000 + scene - 1001 : 20000 + scene - 101;
    return plex_.item_json(std::to_string(rk)).value("title", "") == title;
  }
  static constexpr const char* k_new_folder = "/media/adult/new folder";
};

TEST_F(PlexStorms, ThreeHundredNewScenesInOneFolderCostOneScan) {
  library(20, 300);
  configure({{"plex_concurrency", 1}});
  queue::Queue q(*db_);
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(q.enqueue(std::to_string(1001 + i), "Scene.Create.Post", clock_.now_ms()));
  }
  worker().run(worker::RunMode::drain); // every job misses: Plex has not scanned the folder
  const int scans = scans_of(k_new_folder);
  const int listings_before_scan = listings();
  std::this_thread::sleep_for(std::chrono::milliseconds(400)); // plexsim surfaces the scanned files
  int64_t virtual_ms = 0;
  for (int round = 0; round < 40 && (counts().pending > 0 || counts().in_flight > 0); ++round) {
    clock_.advance(10'000);
    virtual_ms += 10'000;
    worker().run(worker::RunMode::drain);
  }
  int synced = 0;
  for (int i = 0; i < 300; ++i) {
    synced += has_title(1001 + i, "New scene " + std::to_string(i)) ? 1 : 0;
  }
  std::printf("storm 1: %d scans of the new folder, %d listings before the scan surfaced, %d listings in all, "
              "%d of 300 synced %lld s (virtual) after Plex had the files\n",
              scans, listings_before_scan, listings(), synced, static_cast<long long>(virtual_ms / 1000));
  EXPECT_EQ(scans, 1);
  EXPECT_LE(listings(), 6);
  EXPECT_EQ(synced, 300);
  EXPECT_LE(virtual_ms, 60'000) << "jobs waiting on a folder are due once the index has its files";
}

TEST_F(PlexStorms, SixHundredMissingFilesCostOneListingPerRefreshWindow) {
  library(20, 600); // the new folder is never scanned: skip_plex_scan, and Plex never finds them
  configure({{"plex_concurrency", 1}, {"skip_plex_scan", true}});
  queue::Queue q(*db_);
  for (int i = 0; i < 600; ++i) {
    ASSERT_TRUE(q.enqueue(std::to_string(1001 + i), "Scene.Create.Post", clock_.now_ms()));
  }
  // Two minutes of virtual time, the worker running whatever is due every second.
  for (int second = 0; second < 120; ++second) {
    worker().run(worker::RunMode::drain);
    clock_.advance(1000);
  }
  std::printf("storm 2: %d listings in 2 minutes (virtual) with 600 jobs waiting on files Plex lacks; %d scans\n",
              listings(), requests("GET", "/library/sections/1/refresh"));
  EXPECT_LE(listings(), 120 / 30 + 2) << "at most one index refresh per 30 s window, however many jobs missed";
  EXPECT_EQ(requests("GET", "/library/sections/1/refresh"), 0);
  EXPECT_EQ(counts().pending, 600) << "nothing lost, nothing dead-lettered yet";
}

class ListingTotals : public PlexStorms, public ::testing::WithParamInterface<plexsim::Options::ListingTotal> {};

TEST_P(ListingTotals, ListingsAreReadToTheEndWhateverTotalSizeSays) {
  // 700 items in the listing, every seventh one edited (from the first item to the last page):
  // what is tested is that the listing is read to its end, not how many jobs run.
  library(700, 0);
  plex_.set_listing_total(GetParam());
  configure({{"plex_concurrency", 1}});
  queue::Queue q(*db_);
  constexpr int k_step = 7;
  int edited = 0;
  for (int i = 0; i < 700; i += k_step, ++edited) {
    ASSERT_TRUE(stash_.update_scene(std::to_string(101 + i), {{"title", "Edited " + std::to_string(i)}}));
    ASSERT_TRUE(q.enqueue(std::to_string(101 + i), "Scene.Update.Post", clock_.now_ms()));
  }
  ASSERT_TRUE(stash_.update_scene("800", {{"title", "Edited 699"}})); // the very last item too
  ASSERT_TRUE(q.enqueue("800", "Scene.Update.Post", clock_.now_ms()));
  ++edited;
  drain(10);
  int synced = 0;
  for (int i = 0; i < 700; ++i) {
    synced += has_title(101 + i, "Edited " + std::to_string(i)) ? 1 : 0;
  }
  std::printf("storm 3 (%s totalSize): %d of %d edited scenes synced, %d listings\n",
              GetParam() == plexsim::Options::ListingTotal::under ? "understated" : "missing", synced, edited,
              listings());
  EXPECT_EQ(synced, edited);
  EXPECT_EQ(counts().dead, 0);
}

INSTANTIATE_TEST_SUITE_P(Totals, ListingTotals,
                         ::testing::Values(plexsim::Options::ListingTotal::under,
                                           plexsim::Options::ListingTotal::missing),
                         [](const auto& p) {
                           return p.param == plexsim::Options::ListingTotal::under ? std::string("understated")
                                                                                   : std::string("missing");
                         });

} // namespace
