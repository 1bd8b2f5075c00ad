// Runs a child process the way Stash does: stdin written then closed, stdout and stderr read to
// EOF, with a hard timeout so no test can hang.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace testing_support {

struct ProcessResult {
  int exit_code = -1; // -1: killed on timeout
  std::string out;
  std::string err;
  double seconds = 0;
};

ProcessResult run_process(const std::vector<std::string>& argv, const std::string& stdin_text,
                          const std::map<std::string, std::string>& env = {},
                          std::chrono::milliseconds timeout = std::chrono::seconds(60));

// Starts a process with stdio on /dev/null and returns its pid without waiting (0 on failure).
int spawn_background(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {});
// Waits for a child started by spawn_background; SIGKILLs it after the timeout. Returns the exit
// code, 128+signal when killed by a signal, or -1 on timeout.
int wait_child(int pid, std::chrono::milliseconds timeout);

// Polls pred every 20 ms until it holds or the timeout passes. Returns whether it held.
bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds timeout);

// Stash's leveled stderr lines: (level char, message).
std::vector<std::pair<char, std::string>> parse_stash_log(const std::string& err);

} // namespace testing_support
