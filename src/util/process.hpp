// What PlexSync needs from the operating system's processes, one function per difference:
// process_posix.cpp (Linux; the branch a macOS port starts from) and process_win.cpp (Windows).
// Callers never see a pid_t, a HANDLE or a signal number.
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <vector>

namespace util {

// The program's own file (UTF-8), to start the background worker from; empty when the OS cannot
// say and argv0 (remembered by the caller) is not a path.
std::string own_executable_path(const std::string& argv0);

int current_pid();

// The command line as UTF-8 (on Windows read back as UTF-16 from the OS, so a non-ASCII argument
// survives whatever the code page is).
std::vector<std::string> utf8_arguments(int argc, char** argv);

// An environment variable as UTF-8; nullopt when unset.
std::optional<std::string> environment_variable(const char* name);

// Starts `exe args...` detached from the caller: a session (or process group) of its own, no
// console, and none of the caller's descriptors or handles (Stash reads a hook's stdout to the
// end, so a worker holding it would stall Stash for the worker's whole life). Its standard
// streams go to the null device, or to fallback_sink where there is none (a bare chroot).
bool spawn_detached(const std::string& exe, const std::vector<std::string>& args, const std::string& fallback_sink);

// True when stderr is an interactive console: not a pipe, a file, or missing altogether (a
// detached worker's, which Windows' C runtime reports as a device).
bool stderr_is_console();

// stdin and stdout carry bytes unchanged (Windows' text mode turns "\n" into "\r\n" and stops
// reading at 0x1A).
void use_binary_stdio();

// A write to a closed socket or pipe is an error code, never a signal that ends the process.
void ignore_broken_pipes();

// Sets *flag when the worker is asked to stop: SIGTERM or SIGINT on POSIX; Ctrl+C, console close,
// logoff or shutdown, or request_stop() on Windows (a named event per data directory).
void on_stop_request(std::atomic<bool>* flag, const std::string& data_dir);

// Asks the worker that holds data_dir's lock (pid, from DataDirLock::holder_pid) to stop as it
// would on Ctrl+C. Empty on success, else why not.
std::string request_stop(const std::string& data_dir, int pid);

} // namespace util
