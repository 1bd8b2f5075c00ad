// Plex -> Stash (issue #27) against plexsim and stashsim over loopback: plays exactly once
// (history read again, a healed ledger, a webhook and a poll of one play), resume points, ratings
// both ways with the later change winning, and no echo.
#include <ctime>

#include <gtest/gtest.h>

#include "activity/importer.hpp"
#include "activity/webhook.hpp"
#include "config/settings.hpp"
#include "stash/activity.hpp"
#include "support/worker_fixture.hpp"

namespace {

using testing_support::WorkerFixture;

int64_t now_s() {
  return static_cast<int64_t>(std::time(nullptr));
}

class PlexToStash : public WorkerFixture {
protected:
  void SetUp() override {
    // Plex, Stash and PlexSync share one machine's time here (the simulators keep real time).
    clock_.step_wall(now_s() * 1000 - clock_.now_ms());
    WorkerFixture::SetUp();
    drain(); // every scene synced once: the items are PlexSync's
    enqueue({1, 2, 3, 4, 5, 6});
    drain();
    turn_on({});
    clock_.advance(6'000); // a running worker reads changed settings within 5 s
  }

  void turn_on(const nlohmann::json& extra) {
    nlohmann::json s = {{"plex_to_stash", true}, {"plex_history_poll_seconds", 60}};
    if (extra.is_object()) {
      s.update(extra);
    }
    configure(s);
    settings_ = config::load_settings(settings_json_).settings;
  }

  activity::ImportStats poll() {
    auto plex = worker::make_plex_client(settings_, *db_);
    auto stash = stash::connect(stash_url(), {"session", "", ""});
    EXPECT_TRUE(stash) << stash.error().message;
    activity::Importer importer(*db_, *plex, **stash, settings_, clock_.now_ms());
    auto got = importer.poll();
    EXPECT_TRUE(got) << got.error().message;
    wanted_ = importer.push_wanted();
    return got ? *got : activity::ImportStats{};
  }

  activity::ImportStats drain_inbox() {
    auto plex = worker::make_plex_client(settings_, *db_);
    auto stash = stash::connect(stash_url(), {"session", "", ""});
    activity::Importer importer(*db_, *plex, **stash, settings_, clock_.now_ms());
    auto got = importer.drain_inbox();
    EXPECT_TRUE(got) << got.error().message;
    return got ? *got : activity::ImportStats{};
  }

  std::vector<int64_t> plays_in_stash(int scene) {
    std::vector<int64_t> out;
    for (const auto& t : stash_.scene(std::to_string(scene))->value("plays", nlohmann::json::array())) {
      out.push_back(t.get<int64_t>());
    }
    return out;
  }

  config::Settings settings_;
  std::vector<std::string> wanted_;
};

TEST_F(PlexToStash, TheFirstPollOnlyRemembersWherePlexStands) {
  plex_.play("10000", 1, now_s() - 600);
  const auto first = poll();
  EXPECT_EQ(first.plays, 0) << "plays from before the feature was turned on are not imported";
  EXPECT_EQ(stash_.mutations(), 0);
  EXPECT_TRUE(plays_in_stash(1).empty());
}

TEST_F(PlexToStash, PlaysOfTheOwnerAndListedAccountsReachStashOnce) {
  (void)poll(); // the starting point
  const auto alice = plex_.add_account("Alice");
  const auto bob = plex_.add_account("Bob");
  turn_on({{"plex_to_stash_accounts", " alice , Carol"}});
  const int64_t t = now_s() + 5;
  plex_.play("10000", 1, t);
  plex_.play("10000", alice, t + 1);            // together on one sofa: two plays
  plex_.play("10001", bob, t + 2);              // not listed
  plex_.play("10002", 1, t + 3, false, 60'000); // not finished: no play
  const auto got = poll();
  EXPECT_EQ(got.plays, 2);
  EXPECT_EQ(plays_in_stash(1), (std::vector<int64_t>{t, t + 1}));
  EXPECT_TRUE(plays_in_stash(2).empty()) << "Bob is not listed";
  EXPECT_TRUE(plays_in_stash(3).empty());

  // The same history again, and again with the ledger lost (a healed database): nothing twice.
  ASSERT_TRUE(db_->put_kv("plex_history_cursor", std::to_string(t - 100)));
  EXPECT_EQ(poll().plays, 0);
  ASSERT_TRUE(db_->exec("DELETE FROM plex_plays"));
  ASSERT_TRUE(db_->put_kv("plex_history_cursor", std::to_string(t - 100)));
  const auto again = poll();
  EXPECT_EQ(again.plays, 0);
  EXPECT_EQ(again.plays_known, 2) << "found in Stash's own history and recorded";
  EXPECT_EQ(plays_in_stash(1).size(), 2U);
}

TEST_F(PlexToStash, AWebhookAndAPollOfOnePlayImportItOnce) {
  (void)poll();
  auto receiver = activity::WebhookReceiver::open(dir_);
  ASSERT_TRUE(receiver) << receiver.error().message;
  settings_.provider_listen = "127.0.0.1:0";
  auto server = activity::serve_webhooks(**receiver, settings_);
  ASSERT_TRUE(server) << server.error().message;
  const auto urls = activity::webhook_urls(dir_, settings_, (*server)->port());
  ASSERT_TRUE(urls && !urls->empty());
  plex_.set_webhook_url(urls->front());
  const int64_t t = now_s() + 5;
  plex_.play("10003", 1, t);
  EXPECT_EQ(plex_.webhooks_delivered(), 2); // media.stop, media.scrobble
  const auto hooked = drain_inbox();
  EXPECT_EQ(hooked.plays, 1);
  const auto polled = poll();
  EXPECT_EQ(polled.plays, 0);
  EXPECT_EQ(plays_in_stash(4), (std::vector<int64_t>{t}));
  // The secret path: anything else is 404 and kept nowhere.
  plex_.set_webhook_url(urls->front().substr(0, urls->front().size() - 4) + "0000");
  plex_.play("10003", 1, t + 600);
  EXPECT_EQ(plex_.webhooks_delivered(), 2);
  auto count = db_->prepare("SELECT count(*) FROM plex_inbox");
  ASSERT_TRUE(count && *count->step());
  EXPECT_EQ(count->int_at(0), 0);
}

TEST_F(PlexToStash, AResumePointComesBackAndAFinishedPlayClearsIt) {
  (void)poll();
  plex_.play("10004", 1, now_s() + 5, false, 125'000);
  EXPECT_EQ(poll().resume_points, 1);
  EXPECT_DOUBLE_EQ(stash_.scene("5")->value("resume_time", 0.0), 125.0);
  EXPECT_EQ(poll().resume_points, 0) << "nothing new";
  plex_.play("10004", 1, now_s() + 10, true);
  const auto finished = poll();
  EXPECT_EQ(finished.resume_points, 1);
  EXPECT_EQ(finished.plays, 1);
  EXPECT_DOUBLE_EQ(stash_.scene("5")->value("resume_time", -1.0), 0.0);
}

TEST_F(PlexToStash, ARatingChangedInPlexReachesStashAndItsHookWritesNothingBack) {
  (void)poll();
  const int edits = plex_.rating_edits();
  plex_.rate_as("10005", 1, 9.0, now_s() + 5);
  const auto got = poll();
  EXPECT_EQ(got.ratings, 1);
  EXPECT_EQ(stash_.scene("6")->value("rating100", 0), 90);
  // Stash fires Scene.Update.Post for that edit: the job it queues finds nothing to write.
  enqueue({6});
  drain();
  EXPECT_EQ(plex_.rating_edits(), edits) << "no write back to Plex";
  EXPECT_EQ(plex_.item_json("10005").value("userRating", 0.0), 9.0);
  EXPECT_EQ(activity::import_summary(*db_).echo_jobs, 1);
  EXPECT_EQ(poll().ratings, 0) << "and nothing comes back from Plex either";
}

TEST_F(PlexToStash, BothChangedTheLaterWins) {
  (void)poll();
  // Stash's change later than Plex's: the poll leaves Stash alone and asks for a push.
  plex_.rate_as("10000", 1, 4.0, now_s() + 1);
  for (int i = 0; i < 4; ++i) { // stashsim's clock moves a second per edit: now Stash's is later
    ASSERT_TRUE(stash_.update_scene("1", {{"rating100", 80}}));
  }
  const auto got = poll();
  EXPECT_EQ(got.conflicts, 1);
  EXPECT_EQ(got.ratings, 0);
  EXPECT_EQ(stash_.scene("1")->value("rating100", 0), 80);
  ASSERT_EQ(wanted_, (std::vector<std::string>{"1"}));
  enqueue({1});
  drain();
  EXPECT_EQ(plex_.item_json("10000").value("userRating", 0.0), 8.0);

  // Plex's change later than Stash's, met by the push job first: Plex's is kept and Stash takes it.
  ASSERT_TRUE(stash_.update_scene("2", {{"rating100", 30}}));
  plex_.rate_as("10001", 1, 7.0, now_s() + 3600);
  enqueue({2});
  drain();
  EXPECT_EQ(plex_.item_json("10001").value("userRating", 0.0), 7.0);
  EXPECT_EQ(stash_.scene("2")->value("rating100", 0), 70);
}

TEST_F(PlexToStash, OffByDefaultNothingIsWrittenToStash) {
  configure({}); // plex_to_stash unchecked
  plex_.play("10000", 1, now_s() + 5);
  plex_.rate_as("10000", 1, 9.0, now_s() + 5);
  enqueue({1});
  for (int i = 0; i < 3; ++i) {
    worker().run(worker::RunMode::drain);
    clock_.advance(10LL * 60 * 1000);
  }
  EXPECT_EQ(stash_.mutations(), 0);
  EXPECT_TRUE(db_->get_kv("plex_history_cursor")->value_or("").empty());
}

TEST_F(PlexToStash, TheWorkerPollsAtItsIntervalAndCountsWhatItImported) {
  worker().run(worker::RunMode::drain); // first poll: the starting point
  plex_.play("10002", 1, now_s() + 5);
  worker().run(worker::RunMode::drain);
  EXPECT_TRUE(plays_in_stash(3).empty()) << "not yet the interval";
  clock_.advance(61'000);
  worker().run(worker::RunMode::drain);
  EXPECT_EQ(plays_in_stash(3).size(), 1U);
  const auto summary = activity::import_summary(*db_);
  EXPECT_EQ(summary.plays, 1);
  EXPECT_EQ(summary.last_source, "poll");
  // Nothing new: one poll, three small requests, no write.
  const auto before = plex_.requests().snapshot().size();
  const int64_t mutations = stash_.mutations();
  clock_.advance(61'000);
  worker().run(worker::RunMode::drain);
  EXPECT_EQ(plex_.requests().snapshot().size() - before, 3U);
  EXPECT_EQ(stash_.mutations(), mutations);
}

} // namespace
