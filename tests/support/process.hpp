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

// env overrides the inherited environment; with inherit_env=false it is the whole environment.
ProcessResult run_process(const std::vector<std::string>& argv, const std::string& stdin_text,
                          const std::map<std::string, std::string>& env = {},
                          std::chrono::milliseconds timeout = std::chrono::seconds(60), bool inherit_env = true);

// Every run_process result (stdout and stderr) since the last take_transcript(), so a test can
// sweep all a process ever said (the e2e secrets sweep).
std::vector<std::string> take_transcript();
// Where spawn_background sends the stdout and stderr of the processes it starts ("" = /dev/null):
// a file per process in that directory, so the secrets sweep reads them too.
void set_background_output_dir(const std::string& dir);

// Starts a process with stdin on /dev/null and returns its pid without waiting (0 on failure).
int spawn_background(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {});
// Waits for a child started by spawn_background; SIGKILLs it after the timeout. Returns the exit
// code, 128+signal when killed by a signal, or -1 on timeout.
int wait_child(int pid, std::chrono::milliseconds timeout);

// Polls pred every 20 ms until it holds or the timeout passes. Returns whether it held.
bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds timeout);

// Stash's leveled stderr lines: (level char, message).
std::vector<std::pair<char, std::string>> parse_stash_log(const std::string& err);

} // namespace testing_support
