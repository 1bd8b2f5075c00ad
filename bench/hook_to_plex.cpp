// Time from a scene save in Stash to the Plex item holding the change, with a warm worker:
// the hook process is spawned as Stash spawns it, the already running worker picks the job up,
// reads the scene from Stash, reads and edits the Plex item. Both simulators run in this
// process on loopback; the item is polled every 0.2 ms. Edits are spaced like a person's
// (300-500 ms apart), with the user's default settings (no fixed rate: the adaptive limit; a
// third argument sets plex_requests_per_second). The hook wakes the idle worker (util/wake.hpp).
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "hook_process.hpp"
#include "net/server.hpp"
#include "plexsim.hpp"
#include "stashsim.hpp"
#include "util/datadirlock.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: hook_to_plex PATH/TO/plexsync [edits] [plex_requests_per_second]\n");
    return 2;
  }
  const std::string source_bin = argv[1];
  const int edits = argc > 2 ? std::atoi(argv[2]) : 100;
  const int rps = argc > 3 ? std::atoi(argv[3]) : 0;
  constexpr int k_scenes = 50;
  char templ[] = "/tmp/plexsync-latency-XXXXXX";
  const std::string dir = mkdtemp(templ);
  const std::string plugin_dir = dir + "/PlexSync";
  std::filesystem::create_directories(plugin_dir);
  std::filesystem::copy_file(source_bin, plugin_dir + "/plexsync");
  const std::string bin = plugin_dir + "/plexsync";

  plexsim::PlexSim plex;
  stashsim::StashSim stash;
  plex.generate(k_scenes);
  stash.generate(k_scenes);
  auto plex_server = net::start_server("127.0.0.1", 0, [&](const net::ServerRequest& r) { return plex.handle(r); });
  auto stash_server = net::start_server("127.0.0.1", 0, [&](const net::ServerRequest& r) { return stash.handle(r); });
  stash.set_plugin_settings("PlexSync", {{"plex_url", "http://127.0.0.1:" + std::to_string(plex_server->port())},
                                         {"plex_token", "plexsim-token"},
                                         {"plex_library", "Adult"},
                                         {"plex_requests_per_second", rps},
                                         {"worker_idle_seconds", 600}});
  const auto hook_input = [&](int scene) {
    return R"({"server_connection":{"Scheme":"http","Host":"127.0.0.1","Port":)" +
           std::to_string(stash_server->port()) + R"(,"SessionCookie":null,"PluginDir":")" + plugin_dir +
           R"("},"args":{"hookContext":{"id":)" + std::to_string(scene) +
           R"(,"type":"Scene.Update.Post","input":null,"inputFields":["id","title"]},"mode":"hook"}})";
  };
  // One edit: change the title in Stash, run the hook, wait until Plex has it.
  const auto edit = [&](int n, double* hook_ms) -> double {
    const int scene = 1 + n % k_scenes;
    const std::string title = "Latency edit " + std::to_string(n);
    stash.update_scene(std::to_string(scene), {{"title", title}});
    const auto start = Clock::now();
    const auto hook = bench::run_hook(bin, hook_input(scene));
    *hook_ms = hook.ms;
    if (!hook.ok) {
      std::fprintf(stderr, "hook failed: %s\n", hook.out.c_str());
      return -1;
    }
    const auto key = std::to_string(10000 + scene - 1);
    while (plex.item_json(key).value("title", "") != title) {
      if (ms_since(start) > 20000) {
        std::fprintf(stderr, "edit %d never reached Plex\n", n);
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return ms_since(start);
  };
  // Warm-up: the first hook starts the worker, which builds the library index.
  double hook_ms = 0;
  for (int n = 0; n < 3; ++n) {
    if (edit(1000 + n, &hook_ms) < 0) {
      return 1;
    }
  }
  std::mt19937 rng(42);
  std::vector<double> total;
  std::vector<double> hooks;
  for (int n = 0; n < edits; ++n) {
    // Random gaps, so the edits fall at every phase of the worker's idle poll.
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 200));
    const double ms = edit(n, &hook_ms);
    if (ms < 0) {
      return 1;
    }
    total.push_back(ms);
    hooks.push_back(hook_ms);
  }
  const auto t = bench::percentiles(total);
  const auto h = bench::percentiles(hooks);
  std::printf("edits: %d (warm worker, plex_requests_per_second=%d%s)\n", edits, rps, rps == 0 ? ": default" : "");
  std::printf("hook_to_plex_median_ms: %.1f\nhook_to_plex_p90_ms: %.1f\nhook_to_plex_p99_ms: %.1f\n"
              "hook_to_plex_max_ms: %.1f\nof_which_hook_median_ms: %.2f\n",
              t.median, t.p90, t.p99, t.max, h.median);
  if (const int pid = util::DataDirLock::holder_pid(plugin_dir + "/data"); pid > 0) {
    ::kill(pid, SIGTERM);
  }
  for (int i = 0; i < 200 && util::DataDirLock::held_by_someone(plugin_dir + "/data"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  plex_server->stop();
  stash_server->stop();
  std::filesystem::remove_all(dir);
  return 0;
}
