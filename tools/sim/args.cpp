#include "sim/args.hpp"

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace sim {

std::string Args::get(const std::string& name, const std::string& fallback) const {
  for (size_t i = 0; i + 1 < items.size(); ++i) {
    if (items[i] == name) {
      return items[i + 1];
    }
  }
  return fallback;
}

std::vector<std::string> Args::all(const std::string& name) const {
  std::vector<std::string> out;
  for (size_t i = 0; i + 1 < items.size(); ++i) {
    if (items[i] == name) {
      out.push_back(items[i + 1]);
    }
  }
  return out;
}

bool Args::flag(const std::string& name) const {
  for (const auto& a : items) {
    if (a == name) {
      return true;
    }
  }
  return false;
}

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    a.items.emplace_back(argv[i]);
  }
  return a;
}

void write_port_file(const std::string& path, int port) {
  if (path.empty()) {
    return;
  }
  const auto tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << port << "\n";
  }
  std::filesystem::rename(tmp, path);
}

namespace {
sigset_t termination_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}
} // namespace

void block_termination_signals() {
  const auto set = termination_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void wait_for_signal() {
  block_termination_signals();
  const auto set = termination_signals();
  int sig = 0;
  sigwait(&set, &sig);
}

} // namespace sim
