#include "support/process.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <utility>

extern char** environ;

namespace testing_support {

namespace {

// argv and environment as the NULL-terminated char* arrays posix_spawn wants; env entries
// override the inherited ones of the same name.
struct SpawnStrings {
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::vector<char*> argv;
  std::vector<char*> envp;

  SpawnStrings(const std::vector<std::string>& a, const std::map<std::string, std::string>& overrides,
               bool inherit = true)
      : args(a) {
    for (char** e = inherit ? environ : nullptr; e != nullptr && *e != nullptr; ++e) {
      const std::string kv(*e);
      if (overrides.count(kv.substr(0, kv.find('='))) == 0U) {
        env.push_back(kv);
      }
    }
    for (const auto& [k, v] : overrides) {
      env.push_back(k + "=" + v);
    }
    for (auto& s : args) {
      argv.push_back(s.data());
    }
    argv.push_back(nullptr);
    for (auto& s : env) {
      envp.push_back(s.data());
    }
    envp.push_back(nullptr);
  }
};

std::mutex g_mutex;
std::vector<std::string> g_transcript;
std::string g_background_dir;

void remember(const ProcessResult& result) {
  const std::lock_guard lock(g_mutex);
  g_transcript.push_back(result.out);
  g_transcript.push_back(result.err);
}

} // namespace

std::vector<std::string> take_transcript() {
  const std::lock_guard lock(g_mutex);
  return std::exchange(g_transcript, {});
}

void set_background_output_dir(const std::string& dir) {
  const std::lock_guard lock(g_mutex);
  g_background_dir = dir;
}

ProcessResult run_process(const std::vector<std::string>& argv, const std::string& stdin_text,
                          const std::map<std::string, std::string>& env, std::chrono::milliseconds timeout,
                          bool inherit_env) {
  std::signal(SIGPIPE, SIG_IGN);
  int in_pipe[2];
  int out_pipe[2];
  int err_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    return {};
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  SpawnStrings strings(argv, env, inherit_env);
  const auto start = std::chrono::steady_clock::now();
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, strings.argv[0], &actions, nullptr, strings.argv.data(), strings.envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  ProcessResult result;
  if (rc != 0) {
    close(in_pipe[1]);
    close(out_pipe[0]);
    close(err_pipe[0]);
    result.err = std::string("spawn failed: ") + std::strerror(rc);
    return result;
  }
  // Stash writes stdin in one go and closes it.
  size_t written = 0;
  while (written < stdin_text.size()) {
    const auto n = write(in_pipe[1], stdin_text.data() + written, stdin_text.size() - written);
    if (n <= 0) {
      break;
    }
    written += static_cast<size_t>(n);
  }
  close(in_pipe[1]);
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  bool killed = false;
  while (open_fds > 0) {
    const auto elapsed = std::chrono::steady_clock::now() - start;
    if (elapsed > timeout) {
      kill(pid, SIGKILL);
      killed = true;
      break;
    }
    if (poll(fds, 2, 50) < 0 && errno != EINTR) {
      break;
    }
    for (auto& fd : fds) {
      if (fd.fd < 0 || (fd.revents & (POLLIN | POLLHUP)) == 0) {
        continue;
      }
      char buf[65536];
      const auto n = read(fd.fd, buf, sizeof buf);
      if (n <= 0) {
        close(fd.fd);
        fd.fd = -1;
        --open_fds;
      } else {
        (fd.fd == out_pipe[0] ? result.out : result.err).append(buf, static_cast<size_t>(n));
      }
    }
  }
  for (auto& fd : fds) {
    if (fd.fd >= 0) {
      close(fd.fd);
    }
  }
  int status = 0;
  waitpid(pid, &status, 0);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.exit_code = killed ? -1 : (WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  remember(result);
  return result;
}

int spawn_background(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env) {
  SpawnStrings strings(argv, env);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  static int counter = 0;
  std::string out = "/dev/null";
  {
    const std::lock_guard lock(g_mutex);
    if (!g_background_dir.empty()) {
      out = g_background_dir + "/background-" + std::to_string(getpid()) + "-" + std::to_string(++counter) + ".out";
    }
  }
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, strings.argv[0], &actions, nullptr, strings.argv.data(), strings.envp.data());
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : 0;
}

int wait_child(int pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

std::vector<std::pair<char, std::string>> parse_stash_log(const std::string& err) {
  std::vector<std::pair<char, std::string>> out;
  size_t start = 0;
  while (start < err.size()) {
    auto end = err.find('\n', start);
    if (end == std::string::npos) {
      end = err.size();
    }
    const auto line = err.substr(start, end - start);
    if (line.size() >= 4 && line[0] == '\x01' && line[2] == '\x02') {
      out.emplace_back(line[1], line.substr(3));
    } else if (!line.empty()) {
      out.emplace_back('?', line);
    }
    start = end + 1;
  }
  return out;
}

} // namespace testing_support
