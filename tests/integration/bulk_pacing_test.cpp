// Bulk sync at the speed Plex can take (issue #15): a scene synced before costs one edit and a
// fraction of a read (its item comes from one multi-item read for the jobs due next), and the
// adaptive limit keeps a Plex with a load model (plexsim's capacity and queue) out of overload
// while the default settings run eight lanes.
#include <cstdio>

#include <gtest/gtest.h>

#include "support/worker_fixture.hpp"

namespace {

class BulkPacing : public testing_support::WorkerFixture {
protected:
  void library(int n) {
    plex_.generate(n);
    stash_.generate(n);
  }
  void enqueue_all(int n) {
    queue::Queue q(*db_);
    for (int id = 1; id <= n; ++id) {
      ASSERT_TRUE(q.enqueue(std::to_string(id), "Scene.Update.Post", clock_.now_ms()));
    }
  }
  int item_reads() { return requests("GET", "/library/metadata/"); }
  int edits() { return requests("PUT", "/library/sections/"); }
  int all_synced(int n) {
    int ok = 0;
    for (int id = 1; id <= n; ++id) {
      ok += synced(id) ? 1 : 0;
    }
    return ok;
  }
};

TEST_F(BulkPacing, AnEditedSceneCostsOneEditAndAFractionOfARead) {
  constexpr int k_scenes = 120;
  library(k_scenes);
  enqueue_all(k_scenes);
  drain();
  ASSERT_EQ(all_synced(k_scenes), k_scenes);
  for (int id = 1; id <= k_scenes; ++id) {
    ASSERT_TRUE(stash_.update_scene(std::to_string(id), {{"title", "Edited " + std::to_string(id)}}));
  }
  plex_.requests().clear();
  enqueue_all(k_scenes);
  drain();
  EXPECT_EQ(all_synced(k_scenes), k_scenes);
  const int total = static_cast<int>(plex_.requests().snapshot().size());
  std::printf("edited pass: %d scenes, %d Plex requests (%d item reads, %d edits) = %.2f per scene\n", k_scenes, total,
              item_reads(), edits(), static_cast<double>(total) / k_scenes);
  EXPECT_EQ(edits(), k_scenes);
  // Twenty at a time is 6 reads; lanes claiming jobs at the same moment read overlapping sets
  // (20-22 alone, 25 once under the sanitizer suite's CPU contention).
  EXPECT_LE(item_reads(), k_scenes / 4) << "items are read twenty at a time, give or take the lanes' overlap";
  EXPECT_LE(total, k_scenes * 5 / 4) << "at most 1.25 Plex requests per changed scene";
}

// Plex forgets an item between two syncs: the multi-item read leaves it out, the job asks for it
// alone, learns it is gone and matches the scene again.
TEST_F(BulkPacing, AnItemLeftOutOfAMultiItemReadIsMatchedAgain) {
  constexpr int k_scenes = 30;
  library(k_scenes);
  enqueue_all(k_scenes);
  drain();
  const auto new_key = plex_.rekey("10004"); // scene 5's item
  ASSERT_FALSE(new_key.empty());
  for (int id = 1; id <= k_scenes; ++id) {
    ASSERT_TRUE(stash_.update_scene(std::to_string(id), {{"title", "Again " + std::to_string(id)}}));
  }
  enqueue_all(k_scenes);
  drain();
  EXPECT_EQ(plex_.item_json(new_key).value("title", ""), "Again 5");
  EXPECT_EQ(counts().dead, 0);
}

// A Plex that serves two requests at once and queues two more, and answers 503 beyond that: the
// default settings (eight lanes, adaptive limit) sync everything without provoking one overload.
TEST_F(BulkPacing, TheAdaptiveLimitKeepsALoadedPlexOutOfOverload) {
  constexpr int k_scenes = 150;
  library(k_scenes);
  configure({{"plex_requests_per_second", 0}});
  plex_.set_load_model({2, 10, 2, 1});
  plex_.reset_load_report();
  enqueue_all(k_scenes);
  drain();
  const auto report = plex_.load_report();
  std::printf("load model (capacity 2, queue 2, 10 ms): %lld served, %lld overloaded, p50 %.1f ms, p99 %.1f ms, most "
              "in flight %d\n",
              static_cast<long long>(report.served), static_cast<long long>(report.overloaded), report.p50_ms,
              report.p99_ms, report.max_in_flight);
  EXPECT_EQ(all_synced(k_scenes), k_scenes);
  // On a quiet machine this is zero (bench/bulk_pacing.sh, docs/BENCHMARKS.md); beside the rest of
  // the suite on two cores PlexSync's own CPU time blurs the latency signal now and then, so the
  // test allows one overload in fifty requests, and the one 503 a retry absorbs.
  EXPECT_LE(report.overloaded * 50, report.served);
  EXPECT_LE(report.max_in_flight, 5);
  EXPECT_EQ(counts().dead, 0);
}

} // namespace
