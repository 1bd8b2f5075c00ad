// POSIX processes (Linux; macOS would differ only in own_executable_path: _NSGetExecutablePath).
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>

#include "util/path.hpp"
#include "util/process.hpp"

extern char** environ;

namespace util {
namespace {

std::atomic<bool>* g_stop_flag = nullptr;
extern "C" void on_terminate(int /*signal*/) {
  if (g_stop_flag != nullptr) {
    g_stop_flag->store(true); // the worker finishes its current job, then returns
  }
}

} // namespace

std::string own_executable_path(const std::string& argv0) {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    return utf8_path(p);
  }
  // No /proc (a bare chroot): argv[0] as Stash gave it, made absolute. Stash runs the plugin by
  // path, so it contains a '/'; a bare name would need a PATH search we do not attempt.
  if (argv0.find('/') == std::string::npos) {
    return {};
  }
  auto abs = std::filesystem::absolute(fs_path(argv0), ec);
  return ec ? std::string() : utf8_path(abs.lexically_normal());
}

int current_pid() {
  return static_cast<int>(::getpid());
}

std::vector<std::string> utf8_arguments(int argc, char** argv) {
  return {argv, argv + argc};
}

std::optional<std::string> environment_variable(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? std::optional<std::string>(value) : std::nullopt;
}

bool spawn_detached(const std::string& exe, const std::vector<std::string>& args, const std::string& fallback_sink) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  // Without /dev/null (a bare chroot) the streams go to fallback_sink: never closed, because
  // SQLite refuses to put a database on descriptors 0-2 and would need /dev/null to fill them.
  const bool have_null = ::access("/dev/null", R_OK | W_OK) == 0;
  const std::string sink = have_null ? std::string("/dev/null") : fallback_sink;
  posix_spawn_file_actions_addopen(&actions, 1, sink.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, sink.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0600);
  posix_spawn_file_actions_addopen(&actions, 0, sink.c_str(), O_RDONLY, 0); // exists now
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  std::vector<std::string> owned{exe};
  owned.insert(owned.end(), args.begin(), args.end());
  std::vector<char*> argv;
  argv.reserve(owned.size() + 1);
  for (auto& a : owned) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, exe.c_str(), &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  return rc == 0;
}

bool stderr_is_console() {
  return ::isatty(2) != 0;
}

void use_binary_stdio() {} // POSIX streams are bytes already

void ignore_broken_pipes() {
  (void)std::signal(SIGPIPE, SIG_IGN);
}

void on_stop_request(std::atomic<bool>* flag, const std::string& /*data_dir*/) {
  g_stop_flag = flag;
  ignore_broken_pipes();
  (void)std::signal(SIGTERM, on_terminate);
  (void)std::signal(SIGINT, on_terminate);
}

std::string request_stop(const std::string& /*data_dir*/, int pid) {
  if (pid <= 0) {
    return "no worker holds the data directory's lock";
  }
  if (::kill(static_cast<pid_t>(pid), SIGTERM) != 0) {
    return "cannot signal worker pid " + std::to_string(pid) + ": " + std::strerror(errno) +
           (errno == EPERM ? " (it runs as another user: run this as that user)" : "");
  }
  return {};
}

} // namespace util
