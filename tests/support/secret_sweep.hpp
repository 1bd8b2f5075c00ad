// Looks for secrets everywhere a user or an attacker could read them after a run: process
// output, every file in a directory except the database (which must hold the settings), and the
// URLs the simulators received.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "sim/faults.hpp"

namespace testing_support {

class SecretSweep {
public:
  // name -> value, e.g. {"plex token", "SECRET-..."}.
  explicit SecretSweep(std::map<std::string, std::string> secrets);

  void text(const std::string& where, const std::string& text);
  // Every regular file under dir, except the SQLite database (with its WAL and shared-memory files)
  // and a service-mode settings file (plexsync.json), which hold the secrets by design.
  void directory(const std::string& dir);
  // Each request's path and decoded query values (header values are not recorded by the sims).
  void requests(const std::string& server, const std::vector<sim::RecordedRequest>& requests);

  // "plex token in <where>" for each place a secret was found.
  const std::vector<std::string>& leaks() const { return leaks_; }
  // How many texts were read: a sweep that read nothing proves nothing.
  size_t places() const { return places_; }

private:
  std::map<std::string, std::string> secrets_;
  std::vector<std::string> leaks_;
  size_t places_ = 0;
};

} // namespace testing_support
