// Times the hook process from spawn to exit, as Stash experiences it, over many runs:
// stdin JSON in, stdout read to EOF, wait for exit. Reports median, p90, p99 and peak RSS.
// A worker is simulated as already running (the data-dir lock is held here), which is the
// steady state during a bulk edit; the hook then only enqueues.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "hook_process.hpp"
#include "util/datadirlock.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: hook_latency PATH/TO/plexsync [runs]\n");
    return 2;
  }
  const std::string bin = argv[1];
  const int runs = argc > 2 ? std::atoi(argv[2]) : 300;
  char templ[] = "/tmp/plexsync-bench-XXXXXX";
  const std::string plugin_dir = mkdtemp(templ);
  std::filesystem::create_directories(plugin_dir + "/data");
  util::DataDirLock worker_lock(plugin_dir + "/data");
  if (!worker_lock.try_acquire()) {
    std::fprintf(stderr, "cannot hold the worker lock\n");
    return 1;
  }
  std::vector<double> ms;
  long max_rss_kb = 0;
  for (int i = 0; i < runs; ++i) {
    const std::string input =
        R"({"server_connection":{"Scheme":"http","Host":"0.0.0.0","Port":9999,"SessionCookie":{"Name":"session","Value":"bench-cookie-value"},"Dir":"/tmp","PluginDir":")" +
        plugin_dir + R"("},"args":{"hookContext":{"id":)" + std::to_string(1 + i % 500) +
        R"(,"type":"Scene.Update.Post","input":null,"inputFields":["id","title","tag_ids"]},"mode":"hook"}})";
    const auto r = bench::run_hook(bin, input);
    ms.push_back(r.ms);
    max_rss_kb = std::max(max_rss_kb, r.max_rss_kib);
    if (!r.ok || r.out.find("\"queued\":true") == std::string::npos) {
      std::fprintf(stderr, "run %d failed: %s\n", i, r.out.c_str());
      return 1;
    }
  }
  const auto p = bench::percentiles(ms);
  std::printf("hook runs: %d\nmedian_ms: %.2f\np90_ms: %.2f\np99_ms: %.2f\nmax_ms: %.2f\npeak_rss_kib: %ld\n", runs,
              p.median, p.p90, p.p99, p.max, max_rss_kb);
  std::filesystem::remove_all(plugin_dir);
  return 0;
}
