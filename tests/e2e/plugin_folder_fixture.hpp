// The plugin installed the way a user installs it (binary and manifest copied into a folder under
// Stash's plugins directory), with both simulators running. Every test of the end-to-end suite
// uses recognisable secrets and ends with a sweep: the Plex token, the Stash API key and the Stash
// session must not appear in any process output, any file other than the database, or any URL.
#pragma once

#include <csignal>
#include <filesystem>
#include <map>
#include <sstream>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/process.hpp"
#include "support/sandbox.hpp"
#include "support/secret_sweep.hpp"
#include "util/datadirlock.hpp"

namespace testing_support {

inline constexpr const char* k_e2e_plex_token = "SECRET-plex-token-e2e-5b9d41";
inline constexpr const char* k_e2e_stash_key = "SECRET-stash-apikey-e2e-c3a1f7";

class PluginFolderTest : public SimulatorsTest {
protected:
  void SetUp() override {
    SimulatorsTest::SetUp();
    set_background_output_dir(dir_);
    take_transcript(); // output of earlier tests belongs to their own sweep
    const auto bin = plexsync_bin();
    ASSERT_TRUE(std::filesystem::exists(bin)) << bin << " is missing: build the plugin_dir target";
    plugin_dir_ = dir_ + "/plugins/PlexSync";
    data_ = plugin_dir_ + "/data";
    bin_ = plugin_dir_ + "/plexsync";
    std::filesystem::create_directories(plugin_dir_);
    std::filesystem::copy_file(bin, bin_);
    std::filesystem::copy_file(std::filesystem::path(bin).parent_path() / "PlexSync.yml",
                               plugin_dir_ + "/PlexSync.yml");
    plex_.set_token(k_e2e_plex_token);
    stash_.set_auth(k_e2e_stash_key, false); // the key the settings below carry is Stash's own
    cookie_ = stash_.new_session();
  }

  void TearDown() override {
    // The detached worker exits once idle; one still waiting on retries is asked to stop
    // (SIGTERM), so it never outlives the servers.
    if (!wait_for([&] { return !util::DataDirLock::held_by_someone(data_); }, std::chrono::seconds(5))) {
      if (const int pid = util::DataDirLock::holder_pid(data_); pid > 0) {
        ::kill(pid, SIGTERM);
      }
      EXPECT_TRUE(wait_for([&] { return !util::DataDirLock::held_by_someone(data_); }, std::chrono::seconds(20)));
    }
    sweep_secrets();
    set_background_output_dir("");
    SimulatorsTest::TearDown();
  }

  // plexsim again, over HTTPS with the test CA's certificate (for 127.0.0.1 and localhost).
  void serve_plex_over_https() {
    plex_server_->stop();
    plex_server_ = net::start_server(
        "127.0.0.1", 0, [this](const net::ServerRequest& r) { return plex_.handle(r); },
        net::ServerTls{tls_file("server.pem"), tls_file("server.key")});
  }

  // Settings with the connection and the secrets every test uses, plus the test's own.
  nlohmann::json settings(const nlohmann::json& extra = nlohmann::json::object()) const {
    nlohmann::json s = {{"plex_url", plex_url()},
                        {"plex_token", k_e2e_plex_token},
                        {"stash_api_key", k_e2e_stash_key},
                        {"plex_library", "Adult"}};
    s.update(extra);
    return s;
  }

  // server_connection as a real Stash v0.30.1 writes it (tests/data/fixtures/stash/real-v0.30.1):
  // the session cookie's options are zero (pkg/session/plugin.go), Host is the listen address
  // (0.0.0.0 by default).
  std::string server_connection() const {
    return R"({"Scheme":"http","Host":"0.0.0.0","Port":)" + std::to_string(stash_port()) +
           R"(,"SessionCookie":{"Name":"session","Value":")" + cookie_ +
           R"(","Quoted":false,"Path":"","Domain":"","Expires":"0001-01-01T00:00:00Z","RawExpires":"","MaxAge":0,"Secure":false,"HttpOnly":false,"SameSite":0,"Partitioned":false,"Raw":"","Unparsed":null},"Dir":")" +
           dir_ + R"(","PluginDir":")" + plugin_dir_ + "\"}";
  }

  // A hook's args as a real Stash v0.30.1 sent them for that kind of hook, for this scene:
  // Scene.Update.Post carries the whole SceneUpdateInput (null for each field not sent) and
  // inputFields; Scene.Create.Post from a scan carries input null and no inputFields.
  static nlohmann::json real_hook_args(int scene_id, const std::string& type, const std::string& input_fields) {
    const std::string capture = type == "Scene.Create.Post"    ? "hook_scene_create_post_scan_id1"
                                : type == "Scene.Destroy.Post" ? "hook_scene_destroy_post_sceneDestroy"
                                                               : "hook_scene_update_post_sceneUpdate";
    auto args = nlohmann::json::parse(data_file("fixtures/stash/real-v0.30.1/" + capture + ".stdin.json")).at("args");
    auto& context = args.at("hookContext");
    context["id"] = scene_id;
    context["type"] = type;
    if (context.at("input").is_object() && context.at("input").contains("id")) {
      context["input"]["id"] = std::to_string(scene_id);
    }
    if (context.contains("inputFields")) {
      context["inputFields"] = nlohmann::json::parse(input_fields);
    }
    return args;
  }

  // The plugin run as Stash runs it. inherit_env=false starts it with only env (as `env -i`).
  ProcessResult run(const std::string& args_json, std::map<std::string, std::string> env = {},
                    bool inherit_env = true) {
    const auto stdin_text = "{\"server_connection\":" + server_connection() + ",\"args\":" + args_json + "}";
    if (inherit_env) {
      env.emplace("PLEXSYNC_DATA_DIR", ""); // the default location under PluginDir is what Stash users get
    }
    std::string path = inherit_env && std::getenv("PATH") != nullptr ? std::getenv("PATH") : "";
    if (const auto it = env.find("PATH"); it != env.end()) {
      path = it->second;
    }
    return run_process(stash_exec_command(path), stdin_text, env, std::chrono::seconds(60), inherit_env);
  }
  // The command Stash runs for the plugin, resolved from PlexSync.yml's exec the way Stash's
  // getExecCommand does (pkg/plugin/config.go, v0.25 to develop): exec[0] is looked up with Go's
  // exec.LookPath (a name with a slash is tried as is, relative to Stash's working directory;
  // a bare name is searched on PATH) and joined with the plugin's folder only when that fails.
  std::vector<std::string> stash_exec_command(const std::string& path_env) const {
    std::vector<std::string> exec;
    std::istringstream yml(read_file(plugin_dir_ + "/PlexSync.yml"));
    bool in_exec = false;
    for (std::string line; std::getline(yml, line);) {
      if (line == "exec:") {
        in_exec = true;
      } else if (in_exec && line.rfind("  - ", 0) == 0) {
        exec.push_back(line.substr(4));
      } else if (in_exec) {
        break;
      }
    }
    EXPECT_FALSE(exec.empty()) << "PlexSync.yml has no exec list";
    if (exec.empty()) {
      return {bin_, "plugin"};
    }
    const auto runnable = [](const std::filesystem::path& p) { return ::access(p.c_str(), X_OK) == 0; };
    if (exec[0].find('/') != std::string::npos) {
      if (!runnable(exec[0])) {
        exec[0] = (std::filesystem::path(plugin_dir_) / exec[0]).lexically_normal().string();
      }
      return exec;
    }
    std::istringstream dirs(path_env);
    for (std::string dir; std::getline(dirs, dir, ':');) {
      if (!dir.empty() && runnable(std::filesystem::path(dir) / exec[0])) {
        exec[0] = (std::filesystem::path(dir) / exec[0]).string();
        return exec;
      }
    }
    exec[0] = (std::filesystem::path(plugin_dir_) / exec[0]).string();
    return exec;
  }

  ProcessResult hook(int scene_id, const std::string& type = "Scene.Update.Post",
                     const std::string& input_fields = R"(["id","title"])") {
    return run(real_hook_args(scene_id, type, input_fields).dump());
  }

  static nlohmann::json result_of(const ProcessResult& r) { return nlohmann::json::parse(r.out); }

  void sweep_secrets() {
    SecretSweep sweep(
        {{"Plex token", k_e2e_plex_token}, {"Stash API key", k_e2e_stash_key}, {"Stash session", cookie_}});
    const auto transcript = take_transcript();
    for (size_t i = 0; i < transcript.size(); ++i) {
      sweep.text((i % 2 == 0 ? "stdout of run " : "stderr of run ") + std::to_string(i / 2 + 1), transcript[i]);
    }
    sweep.directory(dir_);
    sweep.requests("Plex", plex_.requests().snapshot());
    sweep.requests("Stash", stash_.requests().snapshot());
    EXPECT_GT(sweep.places(), 0U);
    for (const auto& leak : sweep.leaks()) {
      ADD_FAILURE() << "secret leaked: " << leak;
    }
  }

  std::string plugin_dir_;
  std::string data_;
  std::string bin_;
  std::string cookie_;
};

} // namespace testing_support
