// The operator CLI as a person runs it from a shell beside an installed plugin: status, dlq,
// config, doctor, match, sync --dry-run; and service mode, where settings come from a file and
// the environment instead of Stash.
#include <fstream>

#include <gtest/gtest.h>

#include "plugin_folder_fixture.hpp"

namespace {

using testing_support::run_process;

class OperatorE2E : public testing_support::PluginFolderTest {
protected:
  void SetUp() override {
    PluginFolderTest::SetUp();
    plex_.generate(12);
    stash_.generate(12);
    stash_.set_plugin_settings("PlexSync", settings({{"worker_idle_seconds", 1}, {"plex_requests_per_second", 1000}}));
    // A first save in Stash: the plugin creates its data and learns where Stash is.
    ASSERT_EQ(hook(1).exit_code, 0);
    ASSERT_TRUE(testing_support::wait_for(
        [&] { return plex_.item_json("10000").value("title", "") == stash_.scene("1")->at("title"); },
        std::chrono::seconds(30)));
    ASSERT_TRUE(testing_support::wait_for([&] { return !util::DataDirLock::held_by_someone(data_); },
                                          std::chrono::seconds(20)));
  }

  testing_support::ProcessResult hook(int scene) {
    return run(R"({"hookContext":{"id":)" + std::to_string(scene) +
               R"(,"type":"Scene.Update.Post","input":null,"inputFields":["title"]},"mode":"hook"})");
  }

  // plexsync <args...> --json, from a shell: no stdin, the data dir found beside the binary.
  std::pair<int, nlohmann::json> cli(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
    args.insert(args.begin(), bin_);
    args.emplace_back("--json");
    env.emplace("PLEXSYNC_DATA_DIR", "");
    env.emplace("PLEXSYNC_WORKER_AUTOSTART", "0");
    const auto r = run_process(args, "", env, std::chrono::seconds(60));
    auto doc = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_FALSE(doc.is_discarded()) << r.out << r.err;
    return {r.exit_code, doc};
  }

  // The doctor's checks that failed, as "check: detail" lines.
  static std::string failures(const nlohmann::json& doctor) {
    std::string out;
    for (const auto& c : doctor.at("checks")) {
      if (!c.at("ok").get<bool>()) {
        out += c.at("check").get<std::string>() + ": " + c.at("detail").get<std::string>() + "\n";
      }
    }
    return out;
  }
};

TEST_F(OperatorE2E, StatusAndConfigReadWhatThePluginKeeps) {
  auto [code, status] = cli({"status"});
  EXPECT_EQ(code, 0) << status.dump();
  EXPECT_EQ(status.at("pending"), 0);
  EXPECT_GE(status.at("synced_scenes").get<int>(), 1);
  auto [ccode, config] = cli({"config"}, {{"PLEXSYNC_MAX_TAGS", "7"}});
  EXPECT_EQ(ccode, 0) << config.dump();
  const auto& s = config.at("settings");
  EXPECT_EQ(s.at("plex_token").at("source"), "Stash");
  EXPECT_EQ(s.at("plex_token").at("value").get<std::string>().find("SECRET"), std::string::npos) << "masked";
  EXPECT_EQ(s.at("max_tags").at("value"), 7);
  EXPECT_EQ(s.at("max_tags").at("source"), "env PLEXSYNC_MAX_TAGS");
  EXPECT_EQ(s.at("skip_title").at("source"), "default");
}

TEST_F(OperatorE2E, DoctorPassesAHealthyInstall) {
  auto [code, doctor] = cli({"doctor"});
  EXPECT_EQ(code, 0) << failures(doctor);
  EXPECT_EQ(doctor.at("healthy"), true);
  EXPECT_NE(doctor.dump().find("recent scenes found in Plex at their mapped path"), std::string::npos)
      << doctor.dump(2);
}

TEST_F(OperatorE2E, DoctorNamesTheFixForEachCommonMistake) {
  const auto diagnose = [&](const nlohmann::json& patch) {
    stash_.set_plugin_settings("PlexSync", settings(patch));
    auto [code, doctor] = cli({"doctor"});
    EXPECT_EQ(code, 1) << doctor.dump(2);
    return failures(doctor);
  };
  EXPECT_NE(diagnose({{"plex_token", "wrong-token"}}).find("set plex_token to the server owner's token"),
            std::string::npos);
  EXPECT_NE(diagnose({{"plex_url", "http://127.0.0.1:1"}}).find("check plex_url and that Plex is running"),
            std::string::npos);
  EXPECT_NE(diagnose({{"plex_library", "Nope"}}).find("no Plex library is called 'Nope'"), std::string::npos);
  const auto path = diagnose({{"path_map", "/media=>/nowhere"}});
  EXPECT_NE(path.find("are in Plex under another path"), std::string::npos) << path;
  EXPECT_NE(path.find("maps to /nowhere/"), std::string::npos) << path;
  EXPECT_NE(path.find("Set path_map"), std::string::npos) << path;
}

TEST_F(OperatorE2E, MatchAndDryRunSendNothing) {
  plex_.requests().clear();
  auto [mcode, match] = cli({"match", "2"});
  EXPECT_EQ(mcode, 0) << match.dump(2);
  EXPECT_EQ(match.at("verdict"), "confident");
  EXPECT_EQ(match.at("candidates")[0].at("rating_key"), "10001");
  EXPECT_EQ(match.at("candidates")[0].at("score"), 100);
  EXPECT_EQ(match.at("candidates")[0].at("reason"), "exact path");
  auto [dcode, dry] = cli({"sync", "2", "--dry-run"});
  EXPECT_EQ(dcode, 0) << dry.dump(2);
  const auto& edit = dry.at("edit");
  EXPECT_EQ(edit.at("requests"), 1);
  bool title_in_edit = false;
  for (const auto& kv : edit.at("params")) {
    title_in_edit = title_in_edit || (kv[0] == "title.value" && kv[1] == stash_.scene("2")->at("title"));
  }
  EXPECT_TRUE(title_in_edit) << edit.dump(2);
  for (const auto& r : plex_.requests().snapshot()) {
    EXPECT_EQ(r.method, "GET") << r.method << " " << r.path << ": a dry run writes nothing";
  }
  auto [pcode, by_path] = cli({"match", stash_.scene("3")->at("files")[0].at("path").get<std::string>()});
  EXPECT_EQ(pcode, 0);
  EXPECT_EQ(by_path.at("candidates")[0].at("rating_key"), "10002");
}

TEST_F(OperatorE2E, DeadLettersCanBeListedRetriedAndPurged) {
  plex_.faults().add(sim::fault_from_spec("method=PUT,status=400,times=1"));
  ASSERT_EQ(hook(5).exit_code, 0);
  ASSERT_TRUE(testing_support::wait_for([&] { return cli({"status"}).second.value("dead", 0) == 1; },
                                        std::chrono::seconds(30)));
  auto [lcode, list] = cli({"dlq", "list"});
  EXPECT_EQ(lcode, 0);
  ASSERT_EQ(list.size(), 1U) << list.dump(2);
  EXPECT_EQ(list[0].at("scene_id"), "5");
  EXPECT_EQ(list[0].at("error_class"), "rejected");
  EXPECT_EQ(cli({"status"}).first, 1) << "dead letters are a problem status reports";
  EXPECT_EQ(cli({"dlq", "list", "--class", "not_found"}).second.size(), 0U);
  auto [rcode, retried] = cli({"dlq", "retry"});
  EXPECT_EQ(rcode, 0);
  EXPECT_EQ(retried.at("requeued"), 1);
  EXPECT_EQ(cli({"dlq", "purge", "--days", "0"}).second.at("purged"), 0) << "nothing is dead any more";
  EXPECT_EQ(retried.at("worker_started"), false) << "PLEXSYNC_WORKER_AUTOSTART=0 is respected";
  // The worker the hook started exits once idle; then `sync` runs the scene in the foreground.
  ASSERT_TRUE(
      testing_support::wait_for([&] { return !util::DataDirLock::held_by_someone(data_); }, std::chrono::seconds(20)));
  auto [scode, synced] = cli({"sync", "5"});
  EXPECT_EQ(scode, 0) << synced.dump();
  // Synced now, or already by the hook's worker before it left (then Plex is up to date).
  EXPECT_EQ(synced.value("synced", 0) + synced.value("unchanged", 0), 1) << synced.dump();
  EXPECT_EQ(plex_.item_json("10004").value("title", ""), stash_.scene("5")->at("title"));
}

TEST_F(OperatorE2E, DoctorCallsADamagedDatabaseAProblemFoundWithItsFix) {
  {
    // The header overwritten: SQLite no longer knows the file as a database.
    std::fstream f(data_ + "/plexsync.db", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(0);
    f << std::string(100, 'X');
  }
  auto [code, doctor] = cli({"doctor"});
  EXPECT_EQ(code, 1) << "a problem found, not 3 (unavailable): " << doctor.dump(2);
  EXPECT_NE(failures(doctor).find("moved aside and replaced"), std::string::npos) << failures(doctor);
}

TEST_F(OperatorE2E, UnknownDataDirAndBadUsageHaveTheirExitCodes) {
  const auto none = run_process({bin_, "status", "--json", "--data-dir", dir_ + "/nothing-here"}, "");
  EXPECT_EQ(none.exit_code, 3);
  EXPECT_NE(none.out.find("no PlexSync data in"), std::string::npos) << none.out;
  EXPECT_EQ(run_process({bin_, "dlq", "sideways"}, "").exit_code, 2);
  EXPECT_EQ(run_process({bin_, "sync", "abc", "--data-dir", data_}, "").exit_code, 2);
}

TEST_F(OperatorE2E, ServiceModeTakesSettingsFromAFileAndTheEnvironment) {
  // No Stash plugin settings at all: everything comes from the file and one variable.
  stash_.set_plugin_settings("PlexSync", nlohmann::json::object());
  const auto service_data = dir_ + "/service-data";
  const auto file = dir_ + "/plexsync.json";
  const nlohmann::json service_settings = {{"stash_url", stash_url()},
                                           {"plex_token", testing_support::k_e2e_plex_token},
                                           {"plex_library", "Adult"},
                                           {"plex_requests_per_second", 1000},
                                           {"worker_idle_seconds", 1}};
  std::ofstream(file) << service_settings.dump();
  const std::map<std::string, std::string> env = {
      {"PLEXSYNC_CONFIG", file}, {"PLEXSYNC_PLEX_URL", plex_url()}, {"PLEXSYNC_WORKER_AUTOSTART", "0"}};
  // The worker creates its data directory; sync then runs one scene in the foreground.
  EXPECT_EQ(run_process({bin_, "worker", "--data-dir", service_data}, "", env, std::chrono::seconds(60)).exit_code, 0);
  const auto synced =
      run_process({bin_, "sync", "6", "--data-dir", service_data, "--json"}, "", env, std::chrono::seconds(60));
  EXPECT_EQ(synced.exit_code, 0) << synced.out << synced.err;
  EXPECT_EQ(plex_.item_json("10005").value("title", ""), stash_.scene("6")->at("title"))
      << testing_support::read_file(service_data + "/plexsync.log");
  const auto config =
      run_process({bin_, "config", "--data-dir", service_data, "--json"}, "", env, std::chrono::seconds(60));
  const auto doc = nlohmann::json::parse(config.out);
  EXPECT_EQ(doc.at("settings").at("plex_url").at("source"), "env PLEXSYNC_PLEX_URL");
  EXPECT_EQ(doc.at("settings").at("plex_library").at("source"), "file " + file);
  // A broken file stops everything with the reason, instead of running on half the settings.
  std::ofstream(file) << "{ not json";
  const auto broken =
      run_process({bin_, "config", "--data-dir", service_data, "--json"}, "", env, std::chrono::seconds(60));
  EXPECT_EQ(broken.exit_code, 1);
  EXPECT_NE(broken.out.find("is not a JSON object"), std::string::npos) << broken.out;
}

TEST_F(OperatorE2E, ServiceModeServesMetricsAndHealthOnLoopback) {
  // A free port: bind one, note it, let it go.
  uint16_t port = 0;
  {
    auto probe = net::start_server("127.0.0.1", 0, [](const net::ServerRequest&) { return net::ServerResponse{}; });
    port = probe->port();
    probe->stop();
  }
  const int pid = testing_support::spawn_background(
      {bin_, "worker", "--forever", "--data-dir", data_, "--metrics-port", std::to_string(port)});
  ASSERT_GT(pid, 0);
  net::ClientOptions opts;
  opts.base = *net::Url::parse("http://127.0.0.1:" + std::to_string(port));
  opts.read_timeout_ms = 5000;
  const auto get = [&](const std::string& path) {
    net::Request r;
    r.target = path;
    auto res = net::make_http_client(opts)->send(r);
    return res ? std::make_pair(res->status, res->body) : std::make_pair(0, res.error().message);
  };
  ASSERT_TRUE(testing_support::wait_for([&] { return get("/healthz").first == 200; }, std::chrono::seconds(20)));
  EXPECT_EQ(get("/healthz").second, "ok\n");
  const auto metrics = get("/metrics");
  EXPECT_EQ(metrics.first, 200);
  EXPECT_NE(metrics.second.find("# TYPE plexsync_queue_pending gauge\nplexsync_queue_pending 0\n"), std::string::npos)
      << metrics.second;
  EXPECT_NE(metrics.second.find("plexsync_jobs_total{result=\"synced\"} 1\n"), std::string::npos) << metrics.second;
  EXPECT_NE(metrics.second.find("plexsync_spooled_events 0\n"), std::string::npos) << metrics.second;
  EXPECT_EQ(get("/other").first, 404);
  // A token Plex refuses pauses the queue; health says so.
  stash_.set_plugin_settings("PlexSync", settings({{"plex_token", "revoked"}, {"poll_interval_seconds", 1}}));
  plex_.set_token("the-new-one");
  ASSERT_EQ(hook(7).exit_code, 0);
  EXPECT_TRUE(testing_support::wait_for([&] { return get("/healthz").first == 503; }, std::chrono::seconds(30)));
  EXPECT_NE(get("/healthz").second.find("paused"), std::string::npos);
  EXPECT_NE(get("/metrics").second.find("plexsync_paused 1\n"), std::string::npos);
  ::kill(pid, SIGTERM);
  EXPECT_EQ(testing_support::wait_child(pid, std::chrono::seconds(20)), 0);
}

} // namespace
