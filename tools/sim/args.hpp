// Tiny argument reader shared by the simulators' command lines (no CLI11 outside plexsync).
#pragma once

#include <string>
#include <vector>

namespace sim {

struct Args {
  std::vector<std::string> items;
  // Value of --name VALUE, or fallback.
  std::string get(const std::string& name, const std::string& fallback = "") const;
  std::vector<std::string> all(const std::string& name) const;
  bool flag(const std::string& name) const;
};

Args parse_args(int argc, char** argv);
// Writes the port to a file (atomically) so a parent process can find a port-0 server.
void write_port_file(const std::string& path, int port);
// Blocks SIGINT/SIGTERM in this thread (and threads started later) so wait_for_signal() gets them.
void block_termination_signals();
// Blocks until SIGINT/SIGTERM.
void wait_for_signal();

} // namespace sim
