// The worker as a real process: killed at random moments, stopped by SIGTERM, and started by
// a hundred concurrent hooks. Nothing may be lost.
#include <csignal>
#include <filesystem>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "plugin_folder_fixture.hpp"
#include "queue/queue.hpp"
#include "store/db.hpp"
#include "support/process.hpp"
#include "support/sandbox.hpp"
#include "util/datadirlock.hpp"
#include "worker/worker.hpp"

namespace {

namespace fs = std::filesystem;
using testing_support::run_process;
using testing_support::spawn_background;
using testing_support::wait_child;
using testing_support::wait_for;

class WorkerE2E : public testing_support::PluginFolderTest {
protected:
  void SetUp() override {
    PluginFolderTest::SetUp();
    stash_.set_plugin_settings("PlexSync", settings({{"worker_idle_seconds", 1},
                                                     {"retry_base_seconds", 1},
                                                     {"retry_cap_seconds", 2},
                                                     {"plex_requests_per_second", 1000}}));
  }

  void library(int scenes) {
    plex_.generate(scenes);
    stash_.generate(scenes);
  }

  void enqueue_directly(int scenes) {
    auto db = store::Db::open(data_);
    ASSERT_TRUE(db) << db.error().message;
    ASSERT_TRUE(worker::save_connection(*db, {stash_url(), "session", cookie_}));
    queue::Queue q(*db);
    for (int id = 1; id <= scenes; ++id) {
      ASSERT_TRUE(q.enqueue(std::to_string(id), "Scene.Update.Post", 0));
    }
  }

  queue::Counts counts() {
    auto db = store::Db::open(data_);
    return *queue::Queue(*db).counts(INT64_MAX / 2);
  }

  int unsynced(int scenes) {
    int missing = 0;
    for (int id = 1; id <= scenes; ++id) {
      const auto item = plex_.item_json(std::to_string(10000 + id - 1));
      missing += item.value("title", "") == stash_.scene(std::to_string(id))->at("title") ? 0 : 1;
    }
    return missing;
  }
};

TEST_F(WorkerE2E, SigkillAtRandomMomentsLosesNothing) {
  constexpr int k_scenes = 300;
  library(k_scenes);
  enqueue_directly(k_scenes);
  plex_.faults().set_latency_ms(5); // so that kills land mid-run, mostly mid-request
  std::mt19937 rng(20261124);
  const auto writes = [&] {
    int n = 0;
    for (const auto& r : plex_.requests().snapshot()) {
      n += r.method == "PUT" ? 1 : 0;
    }
    return n;
  };
  int killed_mid_run = 0;
  for (int round = 0; round < 10; ++round) {
    const int pid = spawn_background({bin_, "worker", "--data-dir", data_});
    ASSERT_GT(pid, 0);
    // Kill after a random amount of real progress (whatever the build's speed), often while
    // requests are in flight.
    const int target = writes() + 3 + static_cast<int>(rng() % 20);
    ASSERT_TRUE(wait_for([&] { return writes() >= target; }, std::chrono::seconds(60)));
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 8));
    ::kill(pid, SIGKILL);
    EXPECT_EQ(wait_child(pid, std::chrono::seconds(10)), 128 + SIGKILL);
    killed_mid_run += counts().pending > 0 ? 1 : 0;
  }
  EXPECT_EQ(killed_mid_run, 10) << "every kill interrupted real work";
  const int left = unsynced(k_scenes);
  EXPECT_GT(left, 0);
  EXPECT_LT(left, k_scenes) << "the killed workers made progress";
  // A restart finishes the job; jobs left in flight by the killed workers are taken up again.
  const int pid = spawn_background({bin_, "worker", "--data-dir", data_});
  EXPECT_EQ(wait_child(pid, std::chrono::seconds(120)), 0);
  const auto c = counts();
  EXPECT_EQ(c.pending, 0);
  EXPECT_EQ(c.in_flight, 0);
  EXPECT_EQ(c.dead, 0);
  EXPECT_EQ(unsynced(k_scenes), 0);
  const auto log = testing_support::read_file(data_ + "/plexsync.log");
  EXPECT_NE(log.find("left in flight by a worker that stopped"), std::string::npos)
      << "at least one kill hit a job in flight, and it was taken up again";
}

TEST_F(WorkerE2E, SigtermFinishesTheCurrentJobAndKeepsTheRest) {
  library(20);
  enqueue_directly(20);
  plex_.faults().set_latency_ms(150);
  const int pid = spawn_background({bin_, "worker", "--forever", "--data-dir", data_});
  ASSERT_TRUE(wait_for(
      [&] {
        for (const auto& r : plex_.requests().snapshot()) {
          if (r.method == "PUT") {
            return true;
          }
        }
        return false;
      },
      std::chrono::seconds(30)));
  ::kill(pid, SIGTERM);
  EXPECT_EQ(wait_child(pid, std::chrono::seconds(10)), 0);
  const auto c = counts();
  EXPECT_EQ(c.in_flight, 0) << "the current job finished or was released";
  EXPECT_GT(c.pending, 0) << "the rest stays queued";
  EXPECT_EQ(unsynced(20), c.pending) << "every job that left the queue reached Plex";
  const auto log = testing_support::read_file(data_ + "/plexsync.log");
  EXPECT_NE(log.find("stopped on request"), std::string::npos);
}

// 'plexsync worker --stop' (the way Windows, service wrappers and people stop a service worker):
// the worker finishes its current job, keeps the rest, and --stop returns once it has exited.
TEST_F(WorkerE2E, WorkerStopEndsTheServiceWorkerAfterItsCurrentJob) {
  const auto none = testing_support::run_process({bin_, "worker", "--stop", "--data-dir", data_}, "");
  EXPECT_EQ(none.exit_code, 0);
  EXPECT_NE(none.out.find("no worker runs"), std::string::npos) << none.out;
  library(20);
  enqueue_directly(20);
  plex_.faults().set_latency_ms(150);
  const int pid = spawn_background({bin_, "worker", "--forever", "--data-dir", data_});
  ASSERT_TRUE(wait_for([&] { return plex_.requests().snapshot().size() > 2; }, std::chrono::seconds(30)));
  const auto stop = testing_support::run_process({bin_, "worker", "--stop", "--data-dir", data_}, "");
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_NE(stop.out.find("stopped the worker (pid " + std::to_string(pid) + ")"), std::string::npos) << stop.out;
  EXPECT_EQ(wait_child(pid, std::chrono::seconds(10)), 0) << "--stop returned before the worker exited";
  const auto c = counts();
  EXPECT_EQ(c.in_flight, 0);
  EXPECT_GT(c.pending, 0) << "the rest stays queued";
  EXPECT_NE(testing_support::read_file(data_ + "/plexsync.log").find("stopped on request"), std::string::npos);
}

TEST_F(WorkerE2E, HundredHooksAtOnceAllQueueAndOneWorkerRuns) {
  constexpr int k_hooks = 100;
  library(k_hooks);
  std::vector<testing_support::ProcessResult> results(k_hooks);
  std::vector<std::thread> threads;
  for (int i = 0; i < k_hooks; ++i) {
    threads.emplace_back([&, i] {
      const auto input = R"({"server_connection":{"Scheme":"http","Host":"0.0.0.0","Port":)" +
                         std::to_string(stash_port()) + R"(,"SessionCookie":{"Name":"session","Value":")" + cookie_ +
                         R"("},"PluginDir":")" + dir_ + R"(/plugins/PlexSync"},"args":{"hookContext":{"id":)" +
                         std::to_string(i + 1) +
                         R"(,"type":"Scene.Update.Post","input":null,"inputFields":["id","title"]},"mode":"hook"}})";
      results[static_cast<size_t>(i)] =
          run_process({bin_, "plugin"}, input, {{"PLEXSYNC_DATA_DIR", ""}}, std::chrono::seconds(60));
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  for (int i = 0; i < k_hooks; ++i) {
    const auto& r = results[static_cast<size_t>(i)];
    ASSERT_EQ(r.exit_code, 0) << "hook " << i + 1 << ": " << r.out << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out).at("output").at("queued"), true);
    for (const auto& [level, message] : testing_support::parse_stash_log(r.err)) {
      EXPECT_NE(level, 'e') << message;
    }
  }
  ASSERT_TRUE(wait_for([&] { return unsynced(k_hooks) == 0; }, std::chrono::seconds(90)));
  ASSERT_TRUE(wait_for([&] { return !util::DataDirLock::held_by_someone(data_); }, std::chrono::seconds(20)));
  // Worker sessions in the log never overlap: exactly one worker at a time.
  const auto log = testing_support::read_file(data_ + "/plexsync.log");
  int open_sessions = 0;
  int sessions = 0;
  size_t pos = 0;
  while ((pos = log.find("worker ", pos)) != std::string::npos) {
    if (log.compare(pos, 15, "worker started ") == 0) {
      ++open_sessions;
      ++sessions;
      EXPECT_EQ(open_sessions, 1) << "two workers ran at once";
    } else if (log.compare(pos, 15, "worker exiting ") == 0) {
      --open_sessions;
    }
    ++pos;
  }
  EXPECT_GE(sessions, 1);
  EXPECT_EQ(counts().pending, 0);
  EXPECT_EQ(counts().dead, 0);
}

} // namespace

namespace {

TEST_F(WorkerE2E, ParallelLanesStayWithinTheConfiguredBound) {
  constexpr int k_scenes = 60;
  library(k_scenes);
  enqueue_directly(k_scenes);
  stash_.set_plugin_settings(
      "PlexSync", settings({{"worker_idle_seconds", 1}, {"plex_concurrency", 3}, {"plex_requests_per_second", 1000}}));
  plex_.faults().set_latency_ms(20);
  const int pid = spawn_background({bin_, "worker", "--data-dir", data_});
  EXPECT_EQ(wait_child(pid, std::chrono::seconds(120)), 0);
  EXPECT_EQ(unsynced(k_scenes), 0);
  EXPECT_EQ(counts().pending, 0);
  EXPECT_EQ(counts().dead, 0);
  EXPECT_LE(plex_.max_in_flight(), 3) << "never more requests in flight than plex_concurrency";
  EXPECT_GE(plex_.max_in_flight(), 2) << "the lanes did run in parallel";
  // Each scene was written exactly once: lanes never process the same job twice.
  int puts = 0;
  for (const auto& r : plex_.requests().snapshot()) {
    puts += r.method == "PUT" ? 1 : 0;
  }
  EXPECT_EQ(puts, k_scenes);
}

} // namespace
