// path_map: "STASH_PREFIX=>PLEX_PREFIX;..." rules, first match wins, applied on path-component
// boundaries so /data/stash does not rewrite /data/stash2.
#pragma once

#include <string>
#include <vector>

#include "config/settings.hpp"
#include "util/expected.hpp"

namespace match {

struct PathRule {
  std::string from;
  std::string to;
};

class PathMap {
public:
  static util::Result<PathMap> parse(const std::string& text);
  [[nodiscard]] std::string apply(const std::string& stash_path) const;
  [[nodiscard]] const std::vector<PathRule>& rules() const { return rules_; }

private:
  std::vector<PathRule> rules_;
};

// Adds a fatal settings problem when path_map does not parse, so every task, Health check and the
// worker report it with the other settings (issue #31: an invalid path_map was reported nowhere
// and its jobs retried forever).
void check_path_map(config::LoadResult& loaded);

} // namespace match
