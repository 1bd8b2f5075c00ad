// Times the hook process from spawn to exit, as Stash experiences it, over many runs:
// stdin JSON in, stdout read to EOF, wait for exit. Reports median, p90, p99 and peak RSS.
// A worker is simulated as already running (the data-dir lock is held here), which is the
// steady state during a bulk edit; the hook then only enqueues.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <spawn.h>
#include <string>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "util/datadirlock.hpp"

extern char** environ;

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
    int in_pipe[2];
    int out_pipe[2];
    if (pipe(in_pipe) != 0 || pipe(out_pipe) != 0) {
      return 1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in_pipe[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addclose(&fa, in_pipe[1]);
    posix_spawn_file_actions_addclose(&fa, out_pipe[0]);
    std::string a0 = bin;
    std::string a1 = "plugin";
    char* args[] = {a0.data(), a1.data(), nullptr};
    const auto start = std::chrono::steady_clock::now();
    pid_t pid = 0;
    if (posix_spawn(&pid, bin.c_str(), &fa, nullptr, args, environ) != 0) {
      std::fprintf(stderr, "cannot start %s\n", bin.c_str());
      return 1;
    }
    posix_spawn_file_actions_destroy(&fa);
    close(in_pipe[0]);
    close(out_pipe[1]);
    (void)!write(in_pipe[1], input.data(), input.size());
    close(in_pipe[1]);
    std::string out;
    char buf[4096];
    ssize_t n = 0;
    while ((n = read(out_pipe[0], buf, sizeof buf)) > 0) {
      out.append(buf, static_cast<size_t>(n));
    }
    close(out_pipe[0]);
    int status = 0;
    rusage usage{};
    wait4(pid, &status, 0, &usage);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    max_rss_kb = std::max(max_rss_kb, usage.ru_maxrss);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || out.find("\"queued\":true") == std::string::npos) {
      std::fprintf(stderr, "run %d failed: %s\n", i, out.c_str());
      return 1;
    }
  }
  std::sort(ms.begin(), ms.end());
  const auto pct = [&](double p) { return ms[std::min(ms.size() - 1, static_cast<size_t>(p * ms.size()))]; };
  std::printf("hook runs: %d\nmedian_ms: %.2f\np90_ms: %.2f\np99_ms: %.2f\nmax_ms: %.2f\npeak_rss_kib: %ld\n", runs,
              pct(0.5), pct(0.9), pct(0.99), ms.back(), max_rss_kb);
  std::filesystem::remove_all(plugin_dir);
  return 0;
}
