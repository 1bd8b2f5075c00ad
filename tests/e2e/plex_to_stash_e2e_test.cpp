// Issue #27 end to end: the built plugin, driven as Stash drives it, brings what people do in
// plexsim (plays of two accounts, a webhook, ratings) into stashsim once, survives a SIGKILL in
// the middle of an import, does not oscillate, and writes nothing to Stash unless turned on.
#include <arpa/inet.h>
#include <csignal>
#include <ctime>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "activity/webhook.hpp"
#include "config/settings.hpp"
#include "plugin_folder_fixture.hpp"

namespace {

int64_t now_s() {
  return static_cast<int64_t>(std::time(nullptr));
}

// A loopback port nobody listens on now (the worker's listener takes it).
uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  (void)::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  (void)::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

class PlexToStashE2E : public testing_support::PluginFolderTest {
protected:
  void SetUp() override {
    PluginFolderTest::SetUp();
    plex_.generate(6);
    stash_.generate(6);
    port_ = free_port();
    // Like Stash: PlexSync's own sceneUpdate fires its Scene.Update.Post hook before the answer.
    stash_.set_on_scene_update([this](const std::string& id) {
      ++hooks_fired_;
      (void)hook(std::stoi(id), "Scene.Update.Post", R"(["id","rating100"])");
    });
  }

  void TearDown() override {
    stash_.set_on_scene_update(nullptr);
    PluginFolderTest::TearDown();
  }

  nlohmann::json on(const nlohmann::json& extra = nlohmann::json::object()) {
    nlohmann::json s = settings({{"plex_to_stash", true},
                                 {"plex_history_poll_seconds", 1},
                                 {"plex_to_stash_accounts", "Alice"},
                                 {"provider_listen", "127.0.0.1:" + std::to_string(port_)}});
    s.update(extra);
    return s;
  }

  // Every scene synced once by the worker the task starts, and the importer's starting point set.
  void sync_everything_and_start_importing() {
    ASSERT_EQ(run(R"({"mode":"all"})").exit_code, 0);
    ASSERT_TRUE(
        testing_support::wait_for([&] { return plex_.item_json("10005").value("title", "") == "Stash Title 6 — Été"; },
                                  std::chrono::seconds(30)));
    ASSERT_TRUE(testing_support::wait_for([&] { return log().find("Plex -> Stash is on") != std::string::npos; },
                                          std::chrono::seconds(20)));
  }

  std::string log() { return testing_support::read_file(data_ + "/plexsync.log"); }

  size_t plays_in_stash(int scene) {
    return stash_.scene(std::to_string(scene))->value("plays", nlohmann::json::array()).size();
  }

  int64_t worker_pid() { return util::DataDirLock::holder_pid(data_); }

  uint16_t port_ = 0;
  std::atomic<int> hooks_fired_{0};
};

TEST_F(PlexToStashE2E, PlaysOfTwoAccountsReachStashOnceThroughAKillAndAReplay) {
  stash_.set_plugin_settings("PlexSync", on());
  sync_everything_and_start_importing();
  const auto alice = plex_.add_account("Alice");
  const auto bob = plex_.add_account("Bob");
  const int64_t t = now_s();
  // Stash applies each play at once but answers 3 s later: the worker is killed in between.
  stash_.set_mutation_delay_ms(3000);
  plex_.play("10000", 1, t);
  plex_.play("10001", alice, t + 1);
  plex_.play("10002", bob, t + 2); // not listed: never imported
  ASSERT_TRUE(
      testing_support::wait_for([&] { return plays_in_stash(1) + plays_in_stash(2) > 0; }, std::chrono::seconds(20)));
  const auto pid = worker_pid();
  ASSERT_GT(pid, 0);
  ASSERT_EQ(::kill(static_cast<pid_t>(pid), SIGKILL), 0);
  ASSERT_TRUE(
      testing_support::wait_for([&] { return !util::DataDirLock::held_by_someone(data_); }, std::chrono::seconds(10)));
  stash_.set_mutation_delay_ms(0);
  // Stash's next save starts a worker again; it reads the same history (the cursor never moved).
  ASSERT_EQ(hook(4).exit_code, 0);
  ASSERT_TRUE(testing_support::wait_for([&] { return plays_in_stash(1) == 1 && plays_in_stash(2) == 1; },
                                        std::chrono::seconds(20)));
  // The same history listed again by Plex (its paging, a client's late report) and a few more polls.
  std::this_thread::sleep_for(std::chrono::seconds(4));
  EXPECT_EQ(plays_in_stash(1), 1U);
  EXPECT_EQ(plays_in_stash(2), 1U);
  EXPECT_EQ(plays_in_stash(3), 0U) << "Bob is not listed in plex_to_stash_accounts";
  EXPECT_EQ(stash_.scene("1")->at("plays")[0].get<int64_t>(), t);
}

TEST_F(PlexToStashE2E, AWebhookAndAPollOfOnePlayImportItOnceAndNoSecretLeaks) {
  stash_.set_plugin_settings("PlexSync", on({{"plex_history_poll_seconds", 2}}));
  sync_everything_and_start_importing();
  // What a person pastes into Plex, from the CLI.
  const auto printed =
      testing_support::run_process({bin_, "webhook", "url", "--data-dir", data_}, "", {}, std::chrono::seconds(20));
  ASSERT_EQ(printed.exit_code, 0) << printed.err;
  const auto url = printed.out.substr(0, printed.out.find('\n'));
  ASSERT_NE(url.find("http://127.0.0.1:" + std::to_string(port_) + "/webhook/"), std::string::npos) << url;
  const auto secret = url.substr(url.rfind('/') + 1);
  (void)testing_support::take_transcript(); // it printed the secret on purpose; swept below otherwise
  plex_.set_webhook_url(url);
  const int64_t t = now_s();
  plex_.play("10003", 1, t);
  EXPECT_EQ(plex_.webhooks_delivered(), 2) << "both kept in the inbox before PlexSync answered";
  ASSERT_TRUE(testing_support::wait_for([&] { return plays_in_stash(4) == 1; }, std::chrono::seconds(10)));
  std::this_thread::sleep_for(std::chrono::seconds(5)); // two polls read the same play from the history
  EXPECT_EQ(plays_in_stash(4), 1U);
  // Whichever came first (the webhook or the 2 s poll), the other found the play in the ledger.
  // A rating by webhook too, and the status the CLI shows.
  plex_.rate_as("10003", 1, 6.0, now_s());
  ASSERT_TRUE(testing_support::wait_for([&] { return stash_.scene("4")->value("rating100", 0) == 60; },
                                        std::chrono::seconds(10)));
  // The counters are added once the round ends, just after Stash's answer.
  nlohmann::json counted;
  EXPECT_TRUE(testing_support::wait_for(
      [&] {
        const auto status = testing_support::run_process({bin_, "status", "--json", "--data-dir", data_}, "", {},
                                                         std::chrono::seconds(20));
        counted = nlohmann::json::parse(status.out).at("plex_to_stash");
        return counted.at("ratings") == 1;
      },
      std::chrono::seconds(10)));
  EXPECT_EQ(counted.at("plays"), 1);
  EXPECT_EQ(counted.at("ratings"), 1);
  // The webhook secret (and every other secret) in no log line, answer or output.
  testing_support::SecretSweep sweep({{"webhook secret", secret},
                                      {"Plex token", testing_support::k_e2e_plex_token},
                                      {"Stash API key", testing_support::k_e2e_stash_key}});
  const auto transcript = testing_support::take_transcript();
  for (size_t i = 0; i < transcript.size(); ++i) {
    sweep.text("output of run " + std::to_string(i / 2 + 1), transcript[i]);
  }
  sweep.text("plexsync.log", log());
  sweep.requests("Plex", plex_.requests().snapshot());
  sweep.requests("Stash", stash_.requests().snapshot());
  EXPECT_GT(sweep.places(), 3U);
  for (const auto& leak : sweep.leaks()) {
    ADD_FAILURE() << "secret leaked: " << leak;
  }
  // A wrong secret is refused and kept nowhere.
  plex_.set_webhook_url(url.substr(0, url.size() - 6) + "000000");
  plex_.play("10004", 1, now_s());
  EXPECT_EQ(plex_.webhooks_delivered(), 3) << "the three deliveries before (stop, scrobble, rate), none now";
}

TEST_F(PlexToStashE2E, RatingsGoBothWaysTheLaterWinsAndNothingOscillates) {
  stash_.set_plugin_settings("PlexSync", on());
  sync_everything_and_start_importing();
  // Plex -> Stash.
  plex_.rate_as("10000", 1, 9.0, now_s());
  ASSERT_TRUE(testing_support::wait_for([&] { return stash_.scene("1")->value("rating100", 0) == 90; },
                                        std::chrono::seconds(15)));
  // Stash -> Plex, as today.
  ASSERT_TRUE(stash_.update_scene("2", {{"rating100", 80}}));
  ASSERT_EQ(hook(2, "Scene.Update.Post", R"(["id","rating100"])").exit_code, 0);
  ASSERT_TRUE(testing_support::wait_for([&] { return plex_.item_json("10001").value("userRating", 0.0) == 8.0; },
                                        std::chrono::seconds(15)));
  // Both changed while syncing was paused: Stash first, Plex a minute later. Plex's wins.
  stash_.set_plugin_settings("PlexSync", on({{"pause_syncing", true}}));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100)); // a hook makes the worker read them (once a second)
  ASSERT_EQ(hook(5).exit_code, 0);
  ASSERT_TRUE(testing_support::wait_for([&] { return log().find("syncing is paused") != std::string::npos; },
                                        std::chrono::seconds(15)));
  ASSERT_TRUE(stash_.update_scene("3", {{"rating100", 30}}));
  plex_.rate_as("10002", 1, 7.0, now_s() + 60);
  stash_.set_plugin_settings("PlexSync", on());
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  ASSERT_EQ(hook(3, "Scene.Update.Post", R"(["id","rating100"])").exit_code, 0);
  ASSERT_TRUE(testing_support::wait_for([&] { return stash_.scene("3")->value("rating100", 0) == 70; },
                                        std::chrono::seconds(15)));
  EXPECT_EQ(plex_.item_json("10002").value("userRating", 0.0), 7.0);
  // A minute of quiet: no write on either side, whatever the polls and hooks see.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const auto stash_writes = stash_.mutations();
  const auto plex_writes = plex_.rating_edits();
  const auto hooks = hooks_fired_.load();
  std::this_thread::sleep_for(std::chrono::seconds(60));
  EXPECT_EQ(stash_.mutations(), stash_writes);
  EXPECT_EQ(plex_.rating_edits(), plex_writes);
  EXPECT_EQ(hooks_fired_.load(), hooks);
  EXPECT_EQ(stash_.scene("1")->value("rating100", 0), 90);
  EXPECT_EQ(plex_.item_json("10001").value("userRating", 0.0), 8.0);
  const auto status =
      testing_support::run_process({bin_, "status", "--json", "--data-dir", data_}, "", {}, std::chrono::seconds(20));
  const auto counted = nlohmann::json::parse(status.out).at("plex_to_stash");
  EXPECT_GE(counted.at("echo_jobs").get<int64_t>(), 1) << "PlexSync's own Stash edits fired hooks that wrote nothing";
  std::cout << "[ figures ] over 60 s after the last change: 0 writes to Stash, 0 to Plex; " << hooks
            << " hook(s) fired by PlexSync's own Stash edits, " << counted.at("echo_jobs") << " echo job(s)\n";
}

TEST_F(PlexToStashE2E, OffByDefaultAFreshInstallWritesNothingToStash) {
  stash_.set_plugin_settings("PlexSync", settings({{"worker_idle_seconds", 1}}));
  plex_.play("10000", 1, now_s());
  plex_.rate_as("10001", 1, 9.0, now_s());
  ASSERT_EQ(run(R"({"mode":"all"})").exit_code, 0);
  ASSERT_TRUE(testing_support::wait_for(
      [&] { return plex_.item_json("10005").value("title", "") == "Stash Title 6 — Été"; }, std::chrono::seconds(30)));
  plex_.play("10002", 1, now_s());
  ASSERT_TRUE(
      testing_support::wait_for([&] { return !util::DataDirLock::held_by_someone(data_); }, std::chrono::seconds(20)))
      << "without plex_to_stash the hook-started worker still exits when idle";
  EXPECT_EQ(stash_.mutations(), 0);
  for (const auto& r : plex_.requests().snapshot()) {
    EXPECT_EQ(r.path.find("/status/sessions/history"), std::string::npos) << "Plex's history is never read";
  }
}

} // namespace
