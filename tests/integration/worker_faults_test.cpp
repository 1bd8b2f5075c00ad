// The worker in-process against plexsim/stashsim over loopback, with virtual time for backoff:
// one test per fault, asserting the outcome and the number of attempts.
#include <iostream>

#include <gtest/gtest.h>

#include "cli/health.hpp"
#include "sim/library.hpp"
#include "support/worker_fixture.hpp"
#include "util/log.hpp"
#include "util/strings.hpp"
#include "worker/scan.hpp"

namespace {

class WorkerFaults : public testing_support::WorkerFixture {
protected:
  void transient_row(const sim::FaultRule& rule) {
    plex_.faults().add(rule);
    enqueue({1});
    drain();
    EXPECT_TRUE(synced(1));
    EXPECT_EQ(requests("PUT", "/library/sections/1/all"), 3) << "two failed tries, then success";
    EXPECT_EQ(counts().dead, 0);
    EXPECT_EQ(outages(false), 0) << "below the breaker threshold";
  }
};

sim::FaultRule put_fault(int status, int times = 2) {
  sim::FaultRule r;
  r.method = "PUT";
  r.path_prefix = "/library/sections/1/all";
  r.status = status;
  r.times = times;
  return r;
}

TEST_F(WorkerFaults, Status500IsRetried) {
  transient_row(put_fault(500));
}
TEST_F(WorkerFaults, Status502IsRetried) {
  transient_row(put_fault(502));
}
TEST_F(WorkerFaults, Status503IsRetried) {
  transient_row(put_fault(503));
}
TEST_F(WorkerFaults, Status504IsRetried) {
  transient_row(put_fault(504));
}

TEST_F(WorkerFaults, ConnectionResetIsRetried) {
  auto rule = put_fault(0);
  rule.reset = true;
  transient_row(rule);
}

TEST_F(WorkerFaults, TooManyRequestsHonoursRetryAfter) {
  auto rule = put_fault(429, 1);
  rule.retry_after = "7";
  plex_.faults().add(rule);
  enqueue({1});
  worker().run(worker::RunMode::drain);
  EXPECT_EQ(job(1).attempts, 1);
  EXPECT_EQ(job(1).next_attempt_ms - clock_.now_ms(), 7000) << "Retry-After wins over the jittered backoff";
  clock_.advance(6999);
  worker().run(worker::RunMode::drain);
  EXPECT_EQ(requests("PUT", "/library/sections/1/all"), 1) << "not before Retry-After";
  clock_.advance(1);
  worker().run(worker::RunMode::drain);
  EXPECT_TRUE(synced(1));
  EXPECT_EQ(requests("PUT", "/library/sections/1/all"), 2);
}

// Issue #31: a Retry-After of a day (or an HTTP-date far ahead) parked scenes for an hour.
TEST_F(WorkerFaults, ARetryAfterOfADayCountsForFiveMinutesAtMost) {
  auto rule = put_fault(503, 1);
  rule.retry_after = "86400";
  plex_.faults().add(rule);
  enqueue({1});
  worker().run(worker::RunMode::drain);
  EXPECT_EQ(job(1).attempts, 1);
  EXPECT_EQ(job(1).next_attempt_ms - clock_.now_ms(), 5 * 60 * 1000);
  clock_.advance(5 * 60 * 1000);
  worker().run(worker::RunMode::drain);
  EXPECT_TRUE(synced(1));
}

// Issue #31: with Stash answering 502 the worker sent 176 findScene requests a second, counted no
// attempt and never ended. Now Stash away as a whole pauses the queue: one probe at a time, at
// growing intervals, and the queue resumes by itself once Stash answers.
TEST_F(WorkerFaults, StashDownPausesTheQueueWithOneProbeAtATime) {
  enqueue({1, 2, 3, 4, 5, 6});
  drain(); // the settings are read while Stash works
  ASSERT_TRUE(synced(1));
  for (int id = 1; id <= 6; ++id) {
    ASSERT_TRUE(stash_.update_scene(std::to_string(id), {{"title", "Edited before Stash went away"}}));
  }
  enqueue({1, 2, 3, 4, 5, 6});
  stash_.faults().add(sim::fault_from_spec("path=/graphql,status=502"));
  const auto stash_requests = [&] { return stash_.requests().snapshot().size(); };
  const auto before = stash_requests();
  clock_.advance(6000); // past the settings read interval: the next job asks Stash
  worker().run(worker::RunMode::drain);
  EXPECT_LE(stash_requests() - before, 3U) << "one job found Stash away; the rest wait unclaimed";
  // Ten minutes of virtual time, the worker looking every half second: probes only, 2 s doubling to 60 s.
  const auto paused_from = stash_requests();
  for (int step = 0; step < 1200; ++step) {
    clock_.advance(500);
    worker().run(worker::RunMode::drain);
  }
  const auto probes = stash_requests() - paused_from;
  std::cout << "[ figures ] Stash down for 10 min: " << probes << " requests to Stash (one probe at a time)\n";
  EXPECT_GE(probes, 8U);
  EXPECT_LE(probes, 30U) << "at most one probe in flight, at growing intervals";
  EXPECT_EQ(counts().pending, 6) << "nothing lost, nothing dead";
  EXPECT_EQ(counts().dead, 0);
  stash_.faults().clear();
  clock_.advance(61'000);
  drain();
  for (int id = 1; id <= 6; ++id) {
    EXPECT_EQ(plex_.item_json(std::to_string(10000 + id - 1)).at("title"), "Edited before Stash went away") << id;
  }
}

// Issue #31: a Plex library deleted and re-created under a new key stopped a running worker for
// good (0 of 60 edits synced). The sections are read again on a 404.
TEST_F(WorkerFaults, ALibraryReCreatedUnderANewKeyIsFoundAgain) {
  enqueue({1, 2});
  drain();
  ASSERT_TRUE(synced(1));
  nlohmann::json lib = {
      {"sections", {{{"key", "7"}, {"title", "Adult"}, {"locations", {"/media/adult", "/mnt/nas2/Adult Archive"}}}}},
      {"items", nlohmann::json::array()}};
  for (int i = 0; i < 6; ++i) {
    const auto f = sim::generated_file(i);
    lib["items"].push_back({{"ratingKey", std::to_string(30000 + i)},
                            {"section", "7"},
                            {"title", "Scene " + std::to_string(f.name_no)},
                            {"addedAt", 1800000000 + i},
                            {"parts", {{{"file", f.path}, {"size", f.size}, {"duration", f.duration_ms}}}}});
  }
  plex_.load(lib); // the old library and its keys are gone
  ASSERT_TRUE(stash_.update_scene("1", {{"title", "Edited after the library was re-created"}}));
  ASSERT_TRUE(stash_.update_scene("2", {{"title", "Also edited after it"}}));
  enqueue({1, 2});
  const auto started = clock_.now_ms();
  for (int round = 0; round < 10 && counts().pending + counts().in_flight > 0; ++round) {
    worker().run(worker::RunMode::drain);
    clock_.advance(5000);
  }
  EXPECT_EQ(plex_.item_json("30000").at("title"), "Edited after the library was re-created");
  EXPECT_EQ(plex_.item_json("30001").at("title"), "Also edited after it");
  EXPECT_LE(clock_.now_ms() - started, 15'000) << "seconds, not the not-found schedule";
  EXPECT_EQ(counts().dead, 0);
}

TEST_F(WorkerFaults, StallPastTheReadTimeoutIsRetried) {
  sim::FaultRule rule;
  rule.method = "GET";
  rule.path_prefix = "/library/metadata/";
  rule.stall_after_head_ms = 1800;
  rule.times = 1;
  plex_.faults().add(rule);
  enqueue({2});
  worker().run(worker::RunMode::drain);
  EXPECT_EQ(job(2).attempts, 1);
  EXPECT_NE(job(2).last_error.find("no data for 1000 ms"), std::string::npos) << job(2).last_error;
  drain();
  EXPECT_TRUE(synced(2));
  EXPECT_EQ(requests("GET", "/library/metadata/"), 2);
}

TEST_F(WorkerFaults, RefusedConnectionOpensTheBreakerAndKeepsTheJob) {
  configure({{"plex_url", "http://127.0.0.1:1"}});
  enqueue({1});
  drain(10);
  EXPECT_EQ(counts().dead, 0) << "an unreachable Plex never sends jobs to dead letters";
  EXPECT_EQ(counts().pending, 1);
  EXPECT_EQ(job(1).attempts, 3) << "attempts stop once the breaker opens (threshold 3)";
  EXPECT_EQ(breaker().at("phase"), "open");
  EXPECT_GT(breaker().at("probes").get<int>(), 0);
  EXPECT_EQ(outages(true), 1);
}

TEST_F(WorkerFaults, DnsFailureOpensTheBreakerAndKeepsTheJob) {
  configure({{"plex_url", "http://no-such-host.invalid:32400"}});
  enqueue({1});
  drain(10);
  EXPECT_EQ(counts().dead, 0);
  EXPECT_EQ(job(1).attempts, 3);
  EXPECT_NE(job(1).last_error.find("cannot resolve host"), std::string::npos) << job(1).last_error;
  EXPECT_EQ(breaker().at("phase"), "open");
}

TEST_F(WorkerFaults, BadRequestGoesToDeadLettersAtOnce) {
  plex_.faults().add(put_fault(400, -1));
  enqueue({3});
  drain();
  EXPECT_EQ(counts().pending, 0);
  auto letters = *queue::Queue(*db_).dead_letters();
  ASSERT_EQ(letters.size(), 1U);
  EXPECT_EQ(letters[0].scene_id, "3");
  EXPECT_EQ(letters[0].error_class, "rejected");
  EXPECT_EQ(letters[0].http_status, 400);
  EXPECT_EQ(letters[0].attempts, 1);
  EXPECT_EQ(requests("PUT", "/library/sections/1/all"), 1);
}

TEST_F(WorkerFaults, UnauthorizedPausesTheQueueWithoutBurningRetries) {
  plex_.faults().add(sim::fault_from_spec("status=401"));
  enqueue({1, 2, 3});
  drain(3);
  EXPECT_EQ(counts().pending, 3);
  EXPECT_EQ(counts().dead, 0);
  for (int id : {1, 2, 3}) {
    EXPECT_EQ(job(id).attempts, 0) << id;
  }
  const auto paused = db_->get_kv("auth_paused");
  ASSERT_TRUE(paused && *paused);
  EXPECT_NE((*paused)->find("plex_token"), std::string::npos);
  EXPECT_LE(plex_.requests().count(), 6U) << "paused: no hammering with a bad token";
  plex_.faults().clear(); // the user fixes the token
  drain();
  EXPECT_TRUE(synced(1) && synced(2) && synced(3));
  EXPECT_FALSE(*db_->get_kv("auth_paused"));
}

TEST_F(WorkerFaults, NotFoundOnACachedItemLooksThePathUpAgain) {
  enqueue({1});
  drain();
  ASSERT_TRUE(synced(1));
  const auto new_key = plex_.rekey("10000"); // Plex re-added the file under a new ratingKey
  ASSERT_TRUE(stash_.update_scene("1", {{"title", "After the rescan"}}));
  enqueue({1});
  drain();
  EXPECT_EQ(plex_.item_json(new_key).at("title"), "After the rescan");
  EXPECT_EQ(counts().dead, 0);
  EXPECT_EQ(counts().pending, 0);
  EXPECT_EQ(requests("GET", "/library/metadata/10000", true), 2) << "the cached key was tried once more, got 404";
}

TEST_F(WorkerFaults, ClearMatchCacheMakesARunningWorkerReadPlexAfresh) {
  enqueue({1});
  drain();
  const auto new_key = plex_.rekey("10000");
  ASSERT_TRUE(worker::clear_match_cache(*db_, 1)); // what the clear_match_cache task runs
  ASSERT_TRUE(stash_.update_scene("1", {{"title", "After clearing"}}));
  enqueue({1});
  drain();
  EXPECT_EQ(plex_.item_json(new_key).at("title"), "After clearing");
  EXPECT_EQ(requests("GET", "/library/metadata/10000", true), 1) << "the stale key was not tried again";
}

TEST_F(WorkerFaults, PlexDownForAWhileThenBack) {
  plex_.faults().add(sim::fault_from_spec("reset"));
  enqueue({1, 2, 3, 4, 5, 6});
  drain(5);
  EXPECT_EQ(breaker().at("phase"), "open");
  EXPECT_EQ(outages(true), 1);
  EXPECT_EQ(counts().pending, 6);
  plex_.faults().clear(); // Plex is back
  drain();
  for (int id = 1; id <= 6; ++id) {
    EXPECT_TRUE(synced(id)) << id;
  }
  EXPECT_EQ(breaker().at("phase"), "closed");
  EXPECT_EQ(outages(false), 1);
  EXPECT_EQ(outages(true), 0);
  auto stmt = db_->prepare("SELECT jobs_affected, ended_ms > started_ms FROM outages");
  ASSERT_TRUE(*stmt->step());
  EXPECT_EQ(stmt->int_at(0), 6);
  EXPECT_EQ(stmt->int_at(1), 1);
  EXPECT_EQ(counts().dead, 0);
}

TEST_F(WorkerFaults, AClockSetBackKeepsTheWaitsItHad) {
  plex_.faults().add(sim::fault_from_spec("reset"));
  enqueue({1, 2, 3});
  drain(3);
  ASSERT_EQ(breaker().at("phase"), "open");
  plex_.faults().clear(); // Plex is back, and the system clock is set back 75 s (issue #31)
  clock_.step_wall(-75'000);
  clock_.advance(61'000); // longer than any wait the breaker or a retry had (caps: 60 s)
  worker().run(worker::RunMode::drain);
  for (int id = 1; id <= 3; ++id) {
    EXPECT_TRUE(synced(id)) << id << ": the clock step was added to the wait";
  }
  EXPECT_EQ(breaker().at("phase"), "closed");
}

TEST_F(WorkerFaults, HealthCheckSaysSoWhenNothingHasSyncedForLong) {
  // Issue #31: Health check answered ok while jobs sat due and nothing synced.
  stash::ServerConnection server;
  server.port = stash_port();
  const auto problems = [&] {
    const auto report = cli::health_check(server, *db_, "");
    return util::join(report.problems, " | ");
  };
  EXPECT_EQ(problems(), "");
  queue::Queue q(*db_);
  const auto now = util::SystemClock().now_ms();
  ASSERT_TRUE(q.enqueue("1", "Scene.Update.Post", now - 20 * 60 * 1000));
  EXPECT_NE(problems().find("have been due for 20 minutes and nothing has synced since"), std::string::npos)
      << problems();
  configure({{"pause_syncing", true}});
  EXPECT_NE(problems().find("syncing is paused"), std::string::npos) << problems();
}

// A lane that claims an event queued after its last look at the settings reads them first, even
// within their 5 s lifetime: with lanes, the one that claimed a hook's job could sync an edit made
// after pausing before the lane the hook woke had read the pause (two e2e tests side by side).
TEST_F(WorkerFaults, AnEventQueuedAfterTheLastSettingsReadRunsUnderSettingsReadAfterIt) {
  enqueue({1});
  worker().run(worker::RunMode::drain); // settings read, scene 1 synced
  ASSERT_TRUE(synced(1));
  configure({{"pause_syncing", true}});
  clock_.advance(2'000); // inside the 5 s a lane keeps its settings
  ASSERT_TRUE(stash_.update_scene("2", {{"title", "Edited after pausing"}}));
  enqueue({2});
  worker().run(worker::RunMode::drain);
  EXPECT_NE(plex_.item_json("10001").value("title", ""), "Edited after pausing") << "synced while paused";
  EXPECT_EQ(counts().pending, 1) << "kept for when syncing resumes";
  configure({{"pause_syncing", false}});
  clock_.advance(2'000);
  enqueue({3}); // the next hook after unpausing
  worker().run(worker::RunMode::drain);
  EXPECT_TRUE(synced(2));
  EXPECT_TRUE(synced(3));
}

TEST_F(WorkerFaults, PeriodicReconciliationRepairsPlexWithoutAnyEvent) {
  configure({{"reconcile_interval_hours", 1}});
  drain(); // the first reconciliation finds every scene unsynced
  for (int id = 1; id <= 6; ++id) {
    ASSERT_TRUE(synced(id)) << id;
  }
  net::ServerRequest clear;
  clear.method = "PUT";
  clear.path = "/library/metadata/10001";
  clear.query = "summary.value=";
  clear.headers = {{"X-Plex-Token", "plexsim-token"}};
  ASSERT_EQ(plex_.handle(clear).status, 200);
  clock_.advance(30LL * 60 * 1000);
  drain();
  EXPECT_EQ(plex_.item_json("10001").value("summary", ""), "") << "not yet an hour";
  clock_.advance(31LL * 60 * 1000);
  drain();
  EXPECT_EQ(plex_.item_json("10001").at("summary"), "Details of scene 2 & more.\nSecond line.");
}

TEST_F(WorkerFaults, ObfuscatedPathsStayOutOfErrors) {
  configure({{"obfuscate_paths", true}});
  stash_.add_scene({{"id", "51"}, {"title", "Private"}, {"files", {{{"path", "/media/adult/Private Name.mp4"}}}}});
  enqueue({51});
  worker().run(worker::RunMode::drain);
  EXPECT_EQ(job(51).last_error.find("Private Name"), std::string::npos) << job(51).last_error;
  EXPECT_NE(job(51).last_error.find("<file:"), std::string::npos) << job(51).last_error;
  util::log::set_obfuscate_paths(false);
}

TEST_F(WorkerFaults, SceneWithoutPlexItemWaitsWithoutTrippingTheBreaker) {
  stash_.add_scene(
      {{"id", "50"}, {"title", "Not in Plex yet"}, {"files", {{{"path", "/media/adult/new/unscanned.mp4"}}}}});
  enqueue({50});
  drain(4);
  EXPECT_EQ(counts().pending, 1);
  EXPECT_GE(job(50).attempts, 2) << "retried on the not-found schedule";
  EXPECT_NE(job(50).last_error.find("no Plex item has the file"), std::string::npos);
  EXPECT_EQ(breaker().value("phase", "closed"), "closed");
  EXPECT_EQ(outages(false), 0);
}

// A not-found retry that comes before the library index may be listed again finds nothing new
// and burns an attempt (a 10 s jitter then doubled the next wait to 81 s, with the file long in
// Plex): the retry is never due before the index can be refreshed.
TEST_F(WorkerFaults, ANotFoundRetryIsNeverDueBeforeTheIndexCanBeListedAgain) {
  const std::initializer_list<int> ids = {60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71};
  for (const int id : ids) {
    stash_.add_scene({{"id", std::to_string(id)},
                      {"title", "Not in Plex yet"},
                      {"files", {{{"path", "/media/adult/new/unscanned-" + std::to_string(id) + ".mp4"}}}}});
  }
  enqueue(ids);
  const int64_t missed_at = clock_.now_ms();
  worker().run(worker::RunMode::drain);
  for (const int id : ids) {
    EXPECT_EQ(job(id).attempts, 1);
    EXPECT_GE(job(id).next_attempt_ms - missed_at, worker::k_index_min_age_ms) << "scene " << id;
  }
}

// The worker's connection cannot write (here: a read it started before another connection
// committed, SQLite's stale-snapshot case; a lock another process keeps behaves alike): the run
// ends after a few tries instead of spinning, and every job is still queued for the next run.
TEST_F(WorkerFaults, AQueueThatCannotBeWrittenEndsTheRunAndKeepsTheJobs) {
  configure({{"plex_concurrency", 1}}); // one lane, on db_
  enqueue({1});
  {
    auto reading = db_->prepare("SELECT id FROM jobs");
    ASSERT_TRUE(*reading->step()); // db_ now holds a read snapshot
    auto other = store::Db::open(dir_);
    ASSERT_TRUE(other);
    ASSERT_TRUE(queue::Queue(*other).enqueue("2", "Scene.Update.Post", clock_.now_ms()));
    const auto stats = worker().run(worker::RunMode::drain);
    EXPECT_EQ(stats.processed, 0);
  }
  EXPECT_EQ(counts().pending, 2) << "nothing was lost";
  EXPECT_FALSE(synced(1));
  drain();
  EXPECT_TRUE(synced(1));
  EXPECT_TRUE(synced(2));
}

// Stash with a password: the worker starts with the session cookie a hook gave it, reads the
// API key from the plugin settings and uses it from then on, so a Stash restart (every session
// cookie gone) does not stop the sync.
TEST_F(WorkerFaults, StashApiKeyFromTheSettingsOutlivesTheSessionCookie) {
  stash_.set_auth("stash-api-key-for-the-worker", true);
  ASSERT_TRUE(worker::save_connection(*db_, {stash_url(), "session", stash_.new_session()}));
  configure({{"stash_api_key", "stash-api-key-for-the-worker"}});
  enqueue({1});
  drain();
  ASSERT_TRUE(synced(1));
  EXPECT_EQ(stash_.requests().snapshot().back().token_via, "apikey");

  stash_.end_sessions();
  ASSERT_TRUE(stash_.update_scene("1", {{"title", "Edited after Stash restarted"}}));
  enqueue({1});
  drain();
  EXPECT_TRUE(synced(1));
  EXPECT_EQ(counts().pending, 0);
}

// A wrong stash_api_key while the session cookie works: the sync goes on with the cookie and
// the log says which setting to correct.
TEST_F(WorkerFaults, AWrongStashApiKeyFallsBackToTheSessionCookie) {
  stash_.set_auth("the-right-key", true);
  ASSERT_TRUE(worker::save_connection(*db_, {stash_url(), "session", stash_.new_session()}));
  configure({{"stash_api_key", "a-wrong-key"}});
  std::vector<std::string> warnings;
  util::log::set_sink([&](util::log::Level level, std::string_view message) {
    if (level == util::log::Level::warning) {
      warnings.emplace_back(message);
    }
  });
  enqueue({1, 2});
  drain();
  util::log::set_sink(nullptr);
  EXPECT_TRUE(synced(1));
  EXPECT_TRUE(synced(2));
  bool named = false;
  for (const auto& w : warnings) {
    named = named || w.find("Stash refused stash_api_key (401); using the session cookie instead") == 0;
  }
  EXPECT_TRUE(named);
}

} // namespace
