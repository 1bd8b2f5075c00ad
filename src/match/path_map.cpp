#include "match/path_map.hpp"

#include "util/strings.hpp"

namespace match {

util::Result<PathMap> PathMap::parse(const std::string& text) {
  PathMap map;
  for (const auto& raw : util::split(text, ';')) {
    const auto rule = util::trim(raw);
    if (rule.empty()) {
      continue;
    }
    const auto arrow = rule.find("=>");
    if (arrow == std::string::npos) {
      return util::fail("path_map: rule '" + rule +
                        "' has no '=>'; write STASH_PREFIX=>PLEX_PREFIX, e.g. "
                        "/data=>/media");
    }
    auto from = util::trim(rule.substr(0, arrow));
    auto to = util::trim(rule.substr(arrow + 2));
    if (from.empty()) {
      return util::fail("path_map: rule '" + rule + "' has an empty Stash prefix");
    }
    while (from.size() > 1 && (from.back() == '/' || from.back() == '\\')) {
      from.pop_back();
    }
    while (to.size() > 1 && (to.back() == '/' || to.back() == '\\')) {
      to.pop_back();
    }
    map.rules_.push_back({from, to});
  }
  return map;
}

std::string PathMap::apply(const std::string& stash_path) const {
  for (const auto& r : rules_) {
    if (stash_path.rfind(r.from, 0) != 0) {
      continue;
    }
    const auto rest = stash_path.substr(r.from.size());
    if (!rest.empty() && rest.front() != '/' && rest.front() != '\\' && r.from.back() != '/') {
      continue; // prefix ends mid-component
    }
    std::string out = r.to;
    if (r.from.back() == '/' && !rest.empty() && !out.empty() && out.back() != '/' && out.back() != '\\') {
      out += '/'; // "/=>/mnt": the separator was part of the prefix, so it must come back
    }
    out += rest;
    // A Windows Plex expects backslashes after the prefix.
    if (r.to.find('\\') != std::string::npos && r.to.find('/') == std::string::npos) {
      for (auto& c : out) {
        if (c == '/') {
          c = '\\';
        }
      }
    }
    return out;
  }
  return stash_path;
}

void check_path_map(config::LoadResult& loaded) {
  if (auto parsed = PathMap::parse(loaded.settings.path_map); !parsed) {
    loaded.problems.push_back(config::Problem{"path_map",
                                              parsed.error().message +
                                                  " (Settings > Plugins > PlexSync): nothing syncs until it is fixed; "
                                                  "hooks still queue every change",
                                              true});
  }
}

} // namespace match
