// Plugin settings as Stash stores them (any JSON), and path_map rules.
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "config/settings.hpp"
#include "match/path_map.hpp"
#include "stash/client.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto doc = nlohmann::json::parse(text, nullptr, false);
  if (!doc.is_discarded()) {
    // As Stash v0.25 and its v0.26 migration hand them back too: ids and keys camelCased.
    (void)stash::merge_plugin_settings(doc);
    auto loaded = config::load_settings(doc);
    for (const auto& p : loaded.problems) {
      if (p.message.empty()) {
        __builtin_trap(); // every problem says what to fix
      }
    }
    const auto& s = loaded.settings;
    // Out-of-range numbers never get through (plex_concurrency and plex_requests_per_second are
    // optional ceilings: 0 means adaptive).
    if (s.max_tags < 1 || s.plex_concurrency < 0 || s.plex_concurrency > 8 || s.plex_requests_per_second < 0 ||
        s.plex_requests_per_second > 1000) {
      __builtin_trap();
    }
  }
  // The same bytes as a path_map setting, applied to a path built from them.
  if (auto map = match::PathMap::parse(text); map) {
    (void)map->apply("/data/" + text);
    (void)map->apply(text);
  }
  return 0;
}
