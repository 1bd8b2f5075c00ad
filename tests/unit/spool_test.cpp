// The hook's spool: events written whole, queued oldest first, deleted only once queued, and a
// file that is not an event set aside instead of blocking the rest.
#include <algorithm>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "queue/queue.hpp"
#include "queue/spool.hpp"
#include "support/sandbox.hpp"

namespace {

namespace fs = std::filesystem;

class SpoolTest : public testing_support::DatabaseTest {
protected:
  std::vector<std::string> spool_files() {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir_ + "/spool", ec)) {
      out.push_back(e.path().filename().string());
    }
    std::sort(out.begin(), out.end());
    return out;
  }
};

TEST_F(SpoolTest, SpooledEventsReachTheQueueOldestFirstAndLeaveTheSpool) {
  ASSERT_TRUE(queue::spool_event(dir_, {"7", "Scene.Update.Post", 2000, ""}));
  ASSERT_TRUE(queue::spool_event(dir_, {"8", "Scene.Create.Post", 1000, ""}));
  ASSERT_TRUE(queue::spool_event(dir_, {"7", "Scene.Update.Post", 3000, ""}));
  EXPECT_EQ(queue::spooled_count(dir_), 3);
  const auto names = spool_files();
  ASSERT_EQ(names.size(), 3U);
  EXPECT_EQ(names[0].rfind("000000000001000-", 0), 0U) << "named by time, so they sort in order";

  const auto report = queue::ingest_spool(dir_, *db_);
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->queued, 3);
  EXPECT_EQ(report->bad, 0);
  EXPECT_EQ(queue::spooled_count(dir_), 0);
  queue::Queue q(*db_);
  EXPECT_EQ(q.counts(5000)->pending, 2) << "scene 7's two events coalesced";
  const auto first = *q.claim(5000, 60000);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->scene_id, "8") << "the older event is due first";
  EXPECT_EQ(first->first_enqueued_ms, 1000) << "queued at the time of the hook, not of the ingest";
}

TEST_F(SpoolTest, ADestroyReplacesTheSceneJobWithADeletionCarryingTheFile) {
  queue::Queue q(*db_);
  ASSERT_TRUE(q.enqueue("5", "Scene.Update.Post", 100));
  ASSERT_TRUE(queue::spool_event(dir_, {"5", "Scene.Destroy.Post", 200, "/media/adult/a.mp4"}));
  ASSERT_TRUE(queue::ingest_spool(dir_, *db_));
  EXPECT_EQ(q.counts(1000)->pending, 1) << "one job per scene";
  const auto job = *q.claim(1000, 60000);
  ASSERT_TRUE(job);
  EXPECT_EQ(job->event, "Scene.Destroy.Post") << "whatever delete_action says: the worker decides when it runs it";
  EXPECT_EQ(job->payload, "/media/adult/a.mp4") << "the deleted file, for a rescan";
}

TEST_F(SpoolTest, AFileThatIsNotAnEventIsSetAsideAndTheRestIsQueued) {
  ASSERT_TRUE(queue::spool_event(dir_, {"9", "Scene.Update.Post", 2000, ""}));
  std::ofstream(dir_ + "/spool/000000000001000-1-0.json") << "{\"scene_id\": ";     // cut short
  std::ofstream(dir_ + "/spool/000000000001500-1-0.json") << R"({"scene_id": ""})"; // no scene
  std::ofstream(dir_ + "/spool/000000000001700-1-0.tmp") << "being written";        // not finished
  const auto report = queue::ingest_spool(dir_, *db_);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->queued, 1);
  EXPECT_EQ(report->bad, 2);
  EXPECT_EQ(queue::Queue(*db_).counts(5000)->pending, 1);
  EXPECT_EQ(spool_files(), (std::vector<std::string>{"000000000001000-1-0.json.bad", "000000000001500-1-0.json.bad",
                                                     "000000000001700-1-0.tmp"}))
      << "a fresh .tmp may still be written";

  // A .tmp an hour old was left by a hook killed mid-write: it is removed.
  fs::last_write_time(dir_ + "/spool/000000000001700-1-0.tmp",
                      fs::file_time_type::clock::now() - std::chrono::hours(2));
  ASSERT_TRUE(queue::ingest_spool(dir_, *db_));
  EXPECT_EQ(spool_files(), (std::vector<std::string>{"000000000001000-1-0.json.bad", "000000000001500-1-0.json.bad"}));
}

TEST_F(SpoolTest, AnEventStaysSpooledWhileTheQueueCannotTakeIt) {
  ASSERT_TRUE(queue::spool_event(dir_, {"4", "Scene.Update.Post", 2000, ""}));
  auto other = store::Db::open(dir_, 50);
  ASSERT_TRUE(other);
  ASSERT_TRUE(other->exec("BEGIN IMMEDIATE")); // another process holds the write lock
  auto blocked = store::Db::open(dir_, 50);
  ASSERT_TRUE(blocked);
  EXPECT_FALSE(queue::ingest_spool(dir_, *blocked));
  EXPECT_EQ(queue::spooled_count(dir_), 1) << "nothing is deleted before the queue has it";
  ASSERT_TRUE(other->exec("ROLLBACK"));
  ASSERT_TRUE(queue::ingest_spool(dir_, *blocked));
  EXPECT_EQ(queue::spooled_count(dir_), 0);
  EXPECT_EQ(queue::Queue(*db_).counts(5000)->pending, 1);
}

TEST_F(SpoolTest, NoSpoolIsNothingToDo) {
  const auto report = queue::ingest_spool(dir_, *db_);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->queued, 0);
  EXPECT_EQ(queue::spooled_count(dir_), 0);
}

} // namespace
