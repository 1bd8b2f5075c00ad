// One hook as Stash runs it: spawn `plexsync plugin`, write stdin, read stdout to EOF, wait for
// exit. Shared by the benchmarks that time hooks.
#pragma once

#include <algorithm>
#include <chrono>
#include <fcntl.h>
#include <spawn.h>
#include <string>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace bench {

struct HookRun {
  bool ok = false; // exited 0
  std::string out;
  double ms = 0;
  long max_rss_kib = 0;
};

inline HookRun run_hook(const std::string& bin, const std::string& input) {
  HookRun r;
  int in_pipe[2];
  int out_pipe[2];
  // Close-on-exec, as Go (Stash) makes them: a worker the hook starts must not hold our pipe open.
  if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0) {
    return r;
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
  const int rc = posix_spawn(&pid, bin.c_str(), &fa, nullptr, args, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(in_pipe[0]);
  close(out_pipe[1]);
  if (rc != 0) {
    close(in_pipe[1]);
    close(out_pipe[0]);
    return r;
  }
  (void)!write(in_pipe[1], input.data(), input.size());
  close(in_pipe[1]);
  char buf[4096];
  ssize_t n = 0;
  while ((n = read(out_pipe[0], buf, sizeof buf)) > 0) {
    r.out.append(buf, static_cast<size_t>(n));
  }
  close(out_pipe[0]);
  int status = 0;
  rusage usage{};
  wait4(pid, &status, 0, &usage);
  r.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  r.max_rss_kib = usage.ru_maxrss;
  r.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  return r;
}

// Median and tail of a sample (sorted in place); v must not be empty.
struct Percentiles {
  double median, p90, p99, max;
};
inline Percentiles percentiles(std::vector<double>& v) {
  std::sort(v.begin(), v.end());
  const auto at = [&](double p) {
    return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
  };
  return {at(0.5), at(0.9), at(0.99), v.back()};
}

} // namespace bench
