#include <filesystem>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "queue/queue.hpp"
#include "store/db.hpp"
#include "support/sandbox.hpp"

namespace {

class QueueTest : public testing_support::DatabaseTest {
protected:
  void SetUp() override {
    DatabaseTest::SetUp();
    q_.emplace(*db_);
  }
  queue::Counts counts(int64_t now = 1000) { return *q_->counts(now); }
  std::optional<queue::Queue> q_;
};

TEST_F(QueueTest, NewerEventsCoalesceIntoOnePendingJob) {
  ASSERT_TRUE(q_->enqueue("7", "Scene.Create.Post", 100));
  ASSERT_TRUE(q_->enqueue("7", "Scene.Update.Post", 200));
  ASSERT_TRUE(q_->enqueue("8", "Scene.Update.Post", 300));
  EXPECT_EQ(counts().pending, 2);
  auto job = *q_->claim(1000, 60000);
  ASSERT_TRUE(job);
  EXPECT_EQ(job->scene_id, "7");
  EXPECT_EQ(job->event, "Scene.Update.Post");
  EXPECT_EQ(job->first_enqueued_ms, 100);
}

TEST_F(QueueTest, EventDuringFlightRunsTheSceneAgain) {
  ASSERT_TRUE(q_->enqueue("7", "Scene.Update.Post", 100));
  auto job = **q_->claim(1000, 60000);
  ASSERT_TRUE(q_->enqueue("7", "Scene.Update.Post", 1100));
  EXPECT_EQ(counts(1100).in_flight, 1);
  ASSERT_TRUE(q_->complete(job, 1200));
  EXPECT_EQ(counts(1200).pending, 1); // not lost
  auto again = *q_->claim(1200, 60000);
  ASSERT_TRUE(again);
  ASSERT_TRUE(q_->complete(*again, 1300));
  EXPECT_EQ(counts(1300).pending, 0);
}

TEST_F(QueueTest, ExpiredLeaseIsTakenUpAgain) {
  ASSERT_TRUE(q_->enqueue("7", "Scene.Update.Post", 100));
  ASSERT_TRUE(*q_->claim(1000, 500));
  EXPECT_FALSE(*q_->claim(1400, 500)); // still leased
  auto retaken = *q_->claim(1501, 500);
  ASSERT_TRUE(retaken);
  EXPECT_EQ(retaken->scene_id, "7");
}

TEST_F(QueueTest, BackoffStateSurvivesReopening) {
  ASSERT_TRUE(q_->enqueue("7", "Scene.Update.Post", 100));
  auto job = **q_->claim(1000, 60000);
  ASSERT_TRUE(q_->retry_later(job, 5000, "Plex answered HTTP 503", true));
  q_.reset();
  db_.reset();
  auto reopened = store::Db::open(dir_);
  ASSERT_TRUE(reopened);
  queue::Queue q(*reopened);
  EXPECT_FALSE(*q.claim(4999, 60000));
  auto due = *q.claim(5000, 60000);
  ASSERT_TRUE(due);
  EXPECT_EQ(due->attempts, 1);
  const auto c = *q.counts(5000);
  EXPECT_EQ(c.in_flight, 1);
}

TEST_F(QueueTest, DeadLettersKeepTheStory) {
  ASSERT_TRUE(q_->enqueue("9", "Scene.Update.Post", 100));
  auto job = **q_->claim(1000, 60000);
  ASSERT_TRUE(q_->dead_letter(job, "rejected", "Plex answered HTTP 400", 400, 2000));
  EXPECT_EQ(counts(2000).dead, 1);
  EXPECT_EQ(counts(2000).pending, 0);
  auto letters = *q_->dead_letters();
  ASSERT_EQ(letters.size(), 1U);
  EXPECT_EQ(letters[0].error_class, "rejected");
  EXPECT_EQ(letters[0].http_status, 400);
  EXPECT_EQ(letters[0].attempts, 1);
  EXPECT_EQ(letters[0].first_failure_ms, 100);
  EXPECT_EQ(letters[0].last_failure_ms, 2000);
  EXPECT_EQ(*q_->retry_dead(3000), 1);
  EXPECT_EQ(counts(3000).dead, 0);
  EXPECT_EQ(counts(3000).due, 1);
}

TEST_F(QueueTest, AFailingSceneHasOneDeadLetterHoweverOftenItWasQueued) {
  // Hooks of a bulk edit, the late-update poll and tasks each queue the scene again (issue #29).
  for (int round = 0; round < 4; ++round) {
    ASSERT_TRUE(q_->enqueue("9", round % 2 == 0 ? "Scene.Update.Post" : "poll", 100 + round * 1000));
    auto job = **q_->claim(200 + round * 1000, 60000);
    ASSERT_TRUE(
        q_->dead_letter(job, "rejected", "Plex answered HTTP 400 #" + std::to_string(round), 400, 500 + round * 1000));
  }
  ASSERT_TRUE(q_->enqueue("10", "Scene.Update.Post", 100));
  auto other = **q_->claim(5000, 60000);
  ASSERT_TRUE(q_->dead_letter(other, "rejected", "another scene", 400, 5000));
  const auto letters = *q_->dead_letters();
  ASSERT_EQ(letters.size(), 2U);
  EXPECT_EQ(counts(6000).dead, 2);
  EXPECT_EQ(letters[0].scene_id, "9");
  EXPECT_EQ(letters[0].message, "Plex answered HTTP 400 #3") << "the newest failure";
  EXPECT_EQ(letters[0].first_failure_ms, 100) << "when the scene first failed";
  EXPECT_EQ(letters[0].last_failure_ms, 3500);
}

TEST_F(QueueTest, PurgeDropsOnlyOldDeadLetters) {
  for (const char* id : {"1", "2"}) {
    ASSERT_TRUE(q_->enqueue(id, "Scene.Update.Post", 100));
  }
  auto a = **q_->claim(1000, 60000);
  ASSERT_TRUE(q_->dead_letter(a, "rejected", "x", 400, 1000));
  auto b = **q_->claim(1000, 60000);
  ASSERT_TRUE(q_->dead_letter(b, "rejected", "y", 400, 9000));
  EXPECT_EQ(*q_->purge_dead_older_than(5000), 1);
  EXPECT_EQ(counts().dead, 1);
}

TEST_F(QueueTest, DatabaseFromANewerVersionIsRefusedWithAFix) {
  ASSERT_TRUE(db_->exec("PRAGMA user_version=99"));
  auto again = store::Db::open(dir_);
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message.find("install the newer plexsync"), std::string::npos);
}

// Any interleaving of enqueue/claim/complete keeps at most one job row per scene and never
// loses a scene that was enqueued after its last completion.
RC_GTEST_PROP(QueueProperty, CoalescingKeepsOneJobPerScene, ()) {
  std::string templ = (std::filesystem::temp_directory_path() / "plexsync-prop-XXXXXX").string();
  const std::string dir = mkdtemp(templ.data());
  {
    auto db = store::Db::open(dir);
    RC_ASSERT(db.has_value());
    queue::Queue q(*db);
    std::map<std::string, queue::Job> in_flight;
    std::set<std::string> owed; // scenes with an event not yet covered by a completed run
    int64_t now = 1;
    const auto ops = *rc::gen::container<std::vector<std::pair<int, int>>>(
        rc::gen::pair(rc::gen::inRange(0, 3), rc::gen::inRange(0, 4)));
    for (const auto& [op, scene_no] : ops) {
      const auto scene = std::to_string(scene_no);
      ++now;
      if (op == 0) {
        RC_ASSERT(q.enqueue(scene, "Scene.Update.Post", now).has_value());
        owed.insert(scene);
      } else if (op == 1) {
        auto job = q.claim(now, 1000000);
        RC_ASSERT(job.has_value());
        if (*job) {
          RC_ASSERT(in_flight.count((*job)->scene_id) == 0U);
          in_flight[(*job)->scene_id] = **job;
          owed.erase((*job)->scene_id); // this run reads the newest metadata
        }
      } else if (!in_flight.empty()) {
        auto it = in_flight.begin();
        RC_ASSERT(q.complete(it->second, now).has_value());
        in_flight.erase(it);
      }
      auto rows = db->prepare("SELECT count(*), count(DISTINCT scene_id) FROM jobs");
      RC_ASSERT(rows.has_value());
      RC_ASSERT(*rows->step());
      RC_ASSERT(rows->int_at(0) == rows->int_at(1));
    }
    // Everything owed is still queued.
    for (const auto& scene : owed) {
      auto row = db->prepare("SELECT count(*) FROM jobs WHERE scene_id = ?1");
      RC_ASSERT(row.has_value());
      row->bind(1, scene);
      RC_ASSERT(*row->step());
      RC_ASSERT(row->int_at(0) == 1);
    }
  }
  std::filesystem::remove_all(dir);
}

} // namespace
